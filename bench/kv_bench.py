"""kv_bench.py [--work DIR] [--rounds N] [--decode D]: decode speed and memory
with the KV cache in float32 and in float16 (the "kv_cache" option), on the
110M Llama shape (dim 768, 12 layers, 12 heads, hidden 2048, vocab 32000;
random float16 weights from bench/make_random_model.py with a context of
4096, imported once into DIR, default /tmp/llm-bench-kv).

At each context length T (128, 1024, 4096) a fresh process generates D
(default 32) tokens after a prompt of T - D tokens (the start token
included: a text of letters, each a byte token), through llm_generate_tokens (temperature 1, seed 1: a random
model's near-uniform distribution, so no end-of-text cuts it short), and
times its rows: decode tokens/s = (D - 1) / (time of the last token - time
of the first), i.e. each decode step attends to T - D .. T - 1 positions.
Memory: the process's peak resident set (VmHWM) after the generation, less
the same after a one-token generation that loaded the weights (the cache
then is 64 positions), and the cache's own size, 2 L T KW bytes x 4 or 2.
Each round runs every (T, type) pair, the two types in alternating order;
prints medians over rounds and the ratio f16 / f32.
Run from the repository root after `make`, with Debian's /usr/bin/python3.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from llamacpp_bench import connect  # noqa: E402

CONTEXTS = (128, 1024, 4096)
L, KW = 12, 768

# One measurement, in a fresh process: argv = db, context, decode, type.
ONE = r"""
import json, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.enable_load_extension(True)
db.load_extension(sys.argv[2])
T, D, kv = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
opts = json.dumps({"max_tokens": D, "temperature": 1, "seed": 1, "kv_cache": kv})
db.execute("SELECT llm_generate('m', 'w3', ?)", (json.dumps({"max_tokens": 1, "kv_cache": kv}),)).fetchone()
base = hwm()
k = T - D  # the synthetic vocabulary spells ASCII letters as byte tokens
for _ in range(4):
    text = "".join(chr(97 + i * 7 % 26) for i in range(k))
    n = db.execute("SELECT llm_token_count('m', ?)", (text,)).fetchone()[0]
    k += T - D - n
assert n == T - D, (n, T - D)
times = []
for tok, in db.execute("SELECT token_id FROM llm_generate_tokens('m', ?, ?)", (text, opts)):
    if tok is not None:
        times.append(time.perf_counter())
assert len(times) == D, len(times)
print(json.dumps({"tok_s": (D - 1) / (times[-1] - times[0]), "rss": hwm() - base}))
"""


def make_db(work):
    os.makedirs(work, exist_ok=True)
    src, dbpath = os.path.join(work, "110m_f16_ctx4096.gguf"), os.path.join(work, "kv.db")
    if not os.path.exists(src):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "make_random_model.py"), src, "110m", "4096"],
                       check=True)
    db = connect(dbpath)
    if not db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'llm_models'").fetchone()[0] or \
            not db.execute("SELECT count(*) FROM llm_models WHERE name = 'm'").fetchone()[0]:
        db.execute("SELECT llm_import('m', 'gguf', ?)", (src,))
    db.close()
    return dbpath


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/llm-bench-kv")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--decode", type=int, default=32)
    a = ap.parse_args()
    dbpath = make_db(a.work)
    res = {(T, kv): [] for T in CONTEXTS for kv in ("f32", "f16")}
    for r in range(a.rounds):
        for T in CONTEXTS:
            for kv in (("f32", "f16") if r % 2 == 0 else ("f16", "f32")):
                out = subprocess.run([sys.executable, "-c", ONE, dbpath, os.path.join(ROOT, "llm"), str(T),
                                      str(a.decode), kv], check=True, capture_output=True, text=True).stdout
                res[(T, kv)].append(json.loads(out))
                print("round %d T=%d %s: %s" % (r, T, kv, out.strip()), file=sys.stderr)
    print("%6s | %9s %9s %6s | %8s %8s | %8s %8s" % (
        "T", "f32 tok/s", "f16 tok/s", "ratio", "f32 +MB", "f16 +MB", "cache32", "cache16"))
    for T in CONTEXTS:
        med = {kv: (statistics.median(x["tok_s"] for x in res[(T, kv)]),
                    statistics.median(x["rss"] for x in res[(T, kv)])) for kv in ("f32", "f16")}
        cache = 2 * L * T * KW / 1e6
        print("%6d | %9.1f %9.1f %6.2f | %8.0f %8.0f | %8.0f %8.0f" % (
            T, med["f32"][0], med["f16"][0], med["f16"][0] / med["f32"][0], med["f32"][1], med["f16"][1],
            4 * cache, 2 * cache))


if __name__ == "__main__":
    main()
