"""llamacpp_bench.py LLAMA_BENCH [--work DIR] [--rounds N]: this extension and
llama.cpp side by side on the same GGUF files, for the shapes and types of
issue 15: a 110M Llama (dim 768, 12 layers, 12 heads, hidden 2048, vocab
32000) in F32, Q8_0, Q4_0, Q4_K_M, Q5_K_M and BF16 (the last two beyond
the issue's list), and TinyLlama-1.1B's shape
(dim 2048, 22 layers, 32 heads, 4 KV heads, hidden 5632) in Q4_K_M and
Q8_0, random weights.

Nothing comes from outside but llama-bench itself (its path is the first
argument; build llama.cpp from source, see bench/README.md): the files are
made here, in DIR (default /tmp/llm-bench-models, kept for the next run):
bench/make_random_model.py writes each shape in float16, then llm_quantize
and llm_export('gguf') make the other types (their tensors are byte for byte
what llama-quantize makes: tests/sql/test_quantize.py).

Each round runs, alternating, ours (a fresh process per file: import done
once beforehand; decode = llm_generate_tokens of 128 tokens after a
one-token prompt; prompt = llm_generate(m, text, '{"max_tokens": 1,
"temperature": 0}') with a text of exactly 128 tokens (the start token
included): a prefill of 128 tokens and the logits of the last one only, as
llama-bench's -p 128 computes them (the time includes tokenizing the text
and picking the one token, both well under 1%); both cores) and
llama-bench -p 128 -n 128 -t 2 -r 1, after a measure of the read
bandwidth (bench_infer_bench mem). Prints medians of the rates; the ratios
as the median, lowest and highest of each round's ratio (a round's two
runs are seconds apart, and on a shared machine the bandwidth left to us
drifts by half over minutes: the pairs cancel that drift, the medians of
each engine's rates alone do not); decode's GB/s (tokens/s x the file's
bytes) against the read bandwidth of the same round, as a median; prompt's
GFLOP/s (2 x parameters per token) against the fp32 FMA peak
(bench_train_step_bench peak); and the peak resident memory of each
engine's process (ours: VmHWM of the process that imported nothing, loaded
the model and ran; llama-bench's: its rusage).
Run from the repository root after `make build/bench_infer_bench
build/bench_train_step_bench`, with Debian's /usr/bin/python3.
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = [("110m", "f32"), ("110m", "q8_0"), ("110m", "q4_0"), ("110m", "q4_k_m"), ("110m", "q5_k_m"),
         ("110m", "bf16"), ("tinyllama", "q4_k_m"), ("tinyllama", "q8_0")]

# One measurement of ours, in its own process: prints JSON.
OURS = r"""
import json, sqlite3, sys, time
db = sqlite3.connect(sys.argv[2], isolation_level=None)
db.enable_load_extension(True)
db.load_extension(sys.argv[1])
text = sys.argv[3]
db.execute("SELECT llm_logprob('m', 'a b')").fetchone()   # load the weights
t = time.perf_counter()
n = db.execute("SELECT count(token_id) FROM llm_generate_tokens('m', 'a', "
               "'{\"max_tokens\": 128, \"temperature\": 0}')").fetchone()[0]
decode = n / (time.perf_counter() - t)
t = time.perf_counter()
db.execute("SELECT llm_generate('m', ?, '{\"max_tokens\": 1, \"temperature\": 0}')", (text,)).fetchone()
prompt = int(sys.argv[4]) / (time.perf_counter() - t)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"decode": decode, "prompt": prompt, "n": n, "rss_mb": int(hwm) / 1024}))
"""


def connect(path):
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(os.path.join(ROOT, "llm"))
    return db


def make_files(work):
    """The GGUF files (made once) and a database with each imported."""
    os.makedirs(work, exist_ok=True)
    dbpath = os.path.join(work, "bench.db")
    db = connect(dbpath)
    have = {r[0] for r in db.execute("SELECT name FROM llm_models")} if db.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'llm_models'").fetchone()[0] else set()
    out = {}
    for shape, ty in FILES:
        name = "%s_%s" % (shape, ty)
        path = os.path.join(work, name + ".gguf")
        src = os.path.join(work, shape + "_f16.gguf")
        if not os.path.exists(src):
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "make_random_model.py"), src, shape],
                           check=True)
        if shape + "_f16" not in have:
            db.execute("SELECT llm_import(?, 'gguf', ?)", (shape + "_f16", src))
            have.add(shape + "_f16")
        if not os.path.exists(path):
            db.execute("SELECT llm_model_drop(?)", (name,))
            db.execute("SELECT llm_quantize(?, ?, ?)", (shape + "_f16", name, ty))
            db.execute("SELECT llm_export(?, 'gguf', ?)", (name, path))
        out[name] = path
    db.close()
    return out


def prompt_of(db, want=127):
    k = want
    for _ in range(4):
        n = db.execute("SELECT llm_token_count('m', ?)", ("the " * k,)).fetchone()[0]
        if n == want:
            break
        k = max(1, k * want // n)
    text = "the " * k
    return text, db.execute("SELECT llm_token_count('m', ?)", (text,)).fetchone()[0] + 1


def llama_bench(exe, path):
    """llama-bench's tg128 and pp128, and its own peak resident memory."""
    with open(os.devnull, "w") as null:
        p = subprocess.Popen([exe, "-m", path, "-p", "128", "-n", "128", "-t", "2", "-r", "1", "-o", "json"],
                             stdout=subprocess.PIPE, stderr=null, text=True)
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
    if status:
        print("  (llama-bench failed on %s)" % os.path.basename(path))
        return None
    res = {("pp" if r["n_prompt"] else "tg"): r["avg_ts"] for r in json.loads(out)}
    return {"decode": res["tg"], "prompt": res["pp"], "rss_mb": usage.ru_maxrss / 1024}


def probe(args, key):
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
    return float(out[out.index(key) + 1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("llama_bench")
    ap.add_argument("--work", default="/tmp/llm-bench-models")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", action="append", help="run only the files whose name contains this (repeatable)")
    a = ap.parse_args()
    # (in a process of its own: the peak memory of making the files would
    # otherwise be inherited by every child's ru_maxrss)
    out = subprocess.run([sys.executable, "-c", "import json, sys; sys.path.insert(0, %r); import llamacpp_bench as b; "
                          "print(json.dumps(b.make_files(%r)))" % (os.path.join(ROOT, "bench"), a.work)],
                         check=True, capture_output=True, text=True).stdout
    files = json.loads(out.splitlines()[-1])
    mem_gbs = lambda: probe([os.path.join(ROOT, "build", "bench_infer_bench"), "mem"], "mem_gbs")  # noqa: E731
    peak = probe([os.path.join(ROOT, "build", "bench_train_step_bench"), "peak"], "peak_gflops")
    print("fp32 FMA peak %.0f GFLOP/s (2 threads); %%bw: of the read bandwidth of each round (2 threads)" % peak)
    print("%-18s %5s | %7s %7s %-16s %5s | %7s %7s %-16s %6s | %6s %6s" % (
        "file", "MB", "decode", "llama", "ratio [lo-hi]", "%bw", "prompt", "llama", "ratio [lo-hi]", "%peak",
        "rss MB", "llama"))
    bws = []
    for name, path in files.items():
        if a.only and not any(o in name for o in a.only):
            continue
        db = connect(os.path.join(a.work, "m_%s.db" % name))
        if not db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'llm_models'").fetchone()[0]:
            db.execute("SELECT llm_import('m', 'gguf', ?)", (path,))
        text, n_tokens = prompt_of(db)
        params = db.execute("SELECT n_params FROM llm_models WHERE name = 'm'").fetchone()[0]
        db.close()
        ours, theirs, mems = [], [], []
        for _ in range(a.rounds):
            mem = mem_gbs()
            out = subprocess.run([sys.executable, "-c", OURS, os.path.join(ROOT, "llm"),
                                  os.path.join(a.work, "m_%s.db" % name), text, str(n_tokens)],
                                 capture_output=True, text=True, check=True).stdout
            r = llama_bench(a.llama_bench, path)
            if r:  # (a round counts only with both engines' figures)
                ours.append(json.loads(out))
                theirs.append(r)
                mems.append(mem)
        if not ours:
            continue
        med = lambda rows, k: statistics.median(x[k] for x in rows)  # noqa: E731
        size = os.path.getsize(path)
        bws += mems

        def ratio(k):
            r = [o[k] / t[k] for o, t in zip(ours, theirs)]
            return "%.2f [%.2f-%.2f]" % (statistics.median(r), min(r), max(r))
        bw = statistics.median(100 * o["decode"] * size / 1e9 / m for o, m in zip(ours, mems))
        print("%-18s %5.0f | %7.1f %7.1f %-16s %4.0f%% | %7.1f %7.1f %-16s %5.1f%% | %6.0f %6.0f" % (
            name, size / 1e6, med(ours, "decode"), med(theirs, "decode"), ratio("decode"), bw, med(ours, "prompt"),
            med(theirs, "prompt"), ratio("prompt"), 100 * med(ours, "prompt") * 2 * params / 1e9 / peak,
            med(ours, "rss_mb"), med(theirs, "rss_mb")))
    if bws:
        print("read bandwidth over the rounds: median %.1f GB/s, lowest %.1f, highest %.1f" % (
            statistics.median(bws), min(bws), max(bws)))


if __name__ == "__main__":
    main()
