"""gguf_bench.py [--llama-bench PATH] [--runs N] FILE.gguf ...: GGUF models
imported with llm_import(..., 'gguf') and run through SQL, beside llama.cpp's
llama-bench on the same files when its path is given (built from source
outside this repository; nothing is built or downloaded here).

For each file, in a fresh database: the import (seconds, MB/s of file), then
N runs (alternating with llama-bench's when given) of
  decode: llm_generate_tokens of 64 tokens after a one-token prompt,
          tokens/s (the model loaded beforehand, not timed);
  prompt: llm_logprob of a text of about 128 tokens (one forward of its
          rows), tokens/s;
and llama-bench's tg64 and pp128 (-t 2, -r 1 per round). Prints medians and
the ratio ours / llama.cpp's. Run with Debian's /usr/bin/python3 from the
repository root after `make`:

  /usr/bin/python3 bench/gguf_bench.py --llama-bench ~/llama.cpp/build/bin/llama-bench \\
      ../shared/data/gguf/shakespeare-4L-*.gguf
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def connect(path):
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(os.path.join(ROOT, "llm"))
    return db


def ours(db, prompt_text, prompt_tokens):
    t = time.perf_counter()
    n = db.execute("SELECT count(token_id) FROM llm_generate_tokens('m', 'a', "
                   "'{\"max_tokens\": 64, \"temperature\": 0}')").fetchone()[0]
    decode = n / (time.perf_counter() - t)
    t = time.perf_counter()
    db.execute("SELECT llm_logprob('m', ?)", (prompt_text,)).fetchone()
    prompt = prompt_tokens / (time.perf_counter() - t)
    return decode, prompt


def prompt_of(db, want=127):
    """A text of about `want` tokens (with the start token: 128)."""
    k = want
    for _ in range(4):
        n = db.execute("SELECT llm_token_count('m', ?)", ("the " * k,)).fetchone()[0]
        if n == want:
            break
        k = max(1, k * want // n)
    text = "the " * k
    return text, db.execute("SELECT llm_token_count('m', ?)", (text,)).fetchone()[0] + 1


def llama_bench(path, model):
    run = subprocess.run([path, "-m", model, "-p", "128", "-n", "64", "-t", "2", "-r", "1", "-o", "json"],
                         capture_output=True, text=True)
    if run.returncode:
        print("  (llama-bench failed on %s with status %d)" % (os.path.basename(model), run.returncode))
        return float("nan"), float("nan")
    res = {("pp" if r["n_prompt"] else "tg"): r["avg_ts"] for r in json.loads(run.stdout)}
    return res["tg"], res["pp"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-bench")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    print("%-28s %8s %8s | %9s %9s %6s | %9s %9s %6s" % ("file", "import_s", "MB/s", "decode", "llama.cpp", "ratio",
                                                         "prompt", "llama.cpp", "ratio"))
    for f in a.files:
        with tempfile.TemporaryDirectory() as tmp:
            db = connect(os.path.join(tmp, "b.db"))
            t = time.perf_counter()
            db.execute("SELECT llm_import('m', 'gguf', ?)", (f,))
            imp = time.perf_counter() - t
            text, n_tokens = prompt_of(db)
            db.execute("SELECT llm_logprob('m', 'a b')").fetchone()  # load the weights
            o, r = [], []
            for _ in range(a.runs):
                o.append(ours(db, text, n_tokens))
                if a.llama_bench:
                    r.append(llama_bench(a.llama_bench, f))
            od, op = statistics.median(x[0] for x in o), statistics.median(x[1] for x in o)
            rd = statistics.median(x[0] for x in r) if r else float("nan")
            rp = statistics.median(x[1] for x in r) if r else float("nan")
            print("%-28s %8.2f %8.0f | %9.1f %9.1f %6.2f | %9.1f %9.1f %6.2f" % (
                os.path.basename(f)[:28], imp, os.path.getsize(f) / 1e6 / imp, od, rd, od / rd, op, rp, op / rp))


if __name__ == "__main__":
    main()
