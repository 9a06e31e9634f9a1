"""rows_bench.py [--llama LLAMA_BATCHED_BENCH] [--work DIR] [--rows N] [--batch B]:
issue 16's measurement of llm_generate_rows and llm_embed_rows (a model over
many rows at once, continuous batching) against the same rows one at a time
through the scalar functions, and beside llama.cpp's llama-batched-bench.

Models: random-weight Llama shapes, stories15M (dim 288, 6 layers) in F32
and the 110M shape (dim 768, 12 layers, vocab 32000) in F32, Q8_0 and Q4_K_M
(files made in DIR, default /tmp/llm-bench-models, by make_random_model.py,
llm_quantize and llm_export; see llamacpp_bench.py). Rows: N (256) prompts
of 16 to 64 tokens (random words of the synthetic vocabulary), 64 new
tokens each (greedy; a random model rarely ends early).

- batched: SELECT key, text FROM llm_generate_rows('m', 'SELECT id, prompt
  FROM p', '{"max_tokens": 64, "temperature": 0, "batch": B}') with B as
  given, else the function's default for the model (64 for float
  matrices, 16 for quantized ones; printed): generated
  tokens (the sum of n_tokens) / the statement's time, prompts included;
- one by one: SELECT llm_generate('m', prompt, ...) FROM p over the first
  N / 8 rows (the same texts: llm_generate_rows gives llm_generate's text),
  tokens / time;
- llama.cpp: llama-batched-bench -npp 40 -ntg 64 -npl B -t 2 (40 = the
  prompts' mean length): its generation tokens/s S_TG (decode only) and
  its total S (prompt and generation); beside it ours on the same work: B
  rows of 40-token prompts through llm_generate_rows (batch B), timed with
  max_tokens 64 (T64) and 1 (T1, the prompts and a first token), medians
  of 3 alternated: TG = B * 63 / (T64 - T1), S = B * (40 + 64) / T64;
- embeddings: N texts of 64 tokens through llm_embed_rows (batch B if
  given, else its default) against
  SELECT llm_embed(...) FROM t (N / 4 rows), rows/s.
Run from the repository root after `make`, with Debian's /usr/bin/python3.
"""
import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import llamacpp_bench  # noqa: E402

MODELS = [("stories15m", "f32"), ("110m", "f32"), ("110m", "q8_0"), ("110m", "q4_k_m")]


def connect(path):
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(os.path.join(ROOT, "llm"))
    return db


def model_file(work, shape, ty):
    """The GGUF file of a shape and type (made once)."""
    if shape == "110m":
        return llamacpp_bench.make_files(work)["%s_%s" % (shape, ty)]
    path = os.path.join(work, "%s_%s.gguf" % (shape, ty))
    if not os.path.exists(path):
        src = os.path.join(work, shape + "_f16.gguf")
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "make_random_model.py"), src, shape], check=True)
        db = connect(":memory:")
        db.execute("SELECT llm_import('src', 'gguf', ?)", (src,))
        db.execute("SELECT llm_quantize('src', 'out', ?)", (ty,))
        db.execute("SELECT llm_export('out', 'gguf', ?)", (path,))
        db.close()
    return path


def words(rng, db, lo, hi):
    """A text of between lo and hi tokens of the synthetic vocabulary."""
    want = rng.randint(lo, hi)
    text = " ".join("w%d" % rng.randint(1, 2000) for _ in range(want))
    while db.execute("SELECT llm_token_count('m', ?)", (text,)).fetchone()[0] > want:
        text = text.rsplit(" ", 1)[0]
    return text


def timed(db, sql, params=()):
    t = time.perf_counter()
    rows = db.execute(sql, params).fetchall()
    return rows, time.perf_counter() - t


def batched_bench(exe, path, batch):
    """llama-batched-bench's S_TG and S for 40-token prompts, 64 new tokens."""
    if not exe:
        return None
    n_kv = batch * (40 + 64) + 64
    with open(os.devnull, "w") as null:
        out = subprocess.run([exe, "-m", path, "-c", str(n_kv), "-b", "2048", "-ub", "512", "-npp", "40", "-ntg", "64",
                              "-npl", str(batch), "-t", "2", "--output-format", "jsonl"],
                             stdout=subprocess.PIPE, stderr=null, text=True).stdout
    rec = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return (rec[-1]["speed_tg"], rec[-1]["speed"]) if rec else None


def same_work(db, rng, batch):
    """llama-batched-bench's work for ours: batch rows of 40-token prompts, 64
    new tokens each: (generation tokens/s, all tokens/s), as described above."""
    db.execute("CREATE TEMP TABLE q(id INTEGER PRIMARY KEY, prompt TEXT)")
    db.executemany("INSERT INTO q(prompt) VALUES (?)", [(words(rng, db, 40, 40),) for _ in range(batch)])
    n_prompt = db.execute("SELECT sum(llm_token_count('m', prompt)) FROM q").fetchone()[0]
    sql = "SELECT sum(n_tokens) FROM llm_generate_rows('m', 'SELECT id, prompt FROM q', ?)"
    times = {1: [], 64: []}
    for _ in range(3):
        for n in (1, 64):
            got, t = timed(db, sql, ('{"max_tokens": %d, "temperature": 0, "batch": %d}' % (n, batch),))
            if got[0][0] != n * batch:
                sys.exit("the same-work rows ended early: %s tokens of %d" % (got[0][0], n * batch))
            times[n].append(t)
    db.execute("DROP TABLE q")
    t1, t64 = sorted(times[1])[1], sorted(times[64])[1]
    return batch * 63 / (t64 - t1), (n_prompt + 64 * batch) / t64


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama", help="path of llama.cpp's llama-batched-bench")
    ap.add_argument("--work", default="/tmp/llm-bench-models")
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--batch", type=int, default=0, help="sequences in flight (default: the function's)")
    a = ap.parse_args()
    gen = '{"max_tokens": 64, "temperature": 0}'
    print("%-16s | %5s | %9s %9s %6s | %8s %8s %5s | %8s %8s %5s | %9s %9s %6s" % (
        "model", "batch", "rows tok/s", "1-by-1", "ratio", "TG", "llama", "ratio", "S", "llama", "ratio",
        "emb rows/s", "1-by-1", "ratio"))
    for shape, ty in MODELS:
        path = model_file(a.work, shape, ty)
        batch = a.batch or (64 if ty in ("f32", "f16", "bf16") else 16)  # llm_generate_rows' default
        db = connect(":memory:")
        db.execute("SELECT llm_import('m', 'gguf', ?)", (path,))
        rng = random.Random(7)
        db.execute("CREATE TABLE p(id INTEGER PRIMARY KEY, prompt TEXT)")
        db.executemany("INSERT INTO p(prompt) VALUES (?)", [(words(rng, db, 16, 64),) for _ in range(a.rows)])
        db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)")
        db.executemany("INSERT INTO t(body) VALUES (?)", [(words(rng, db, 64, 64),) for _ in range(a.rows)])
        db.execute("SELECT llm_generate('m', 'w1', '{\"max_tokens\": 1}')").fetchone()  # load the weights
        rows, t_rows = timed(db, "SELECT key, n_tokens FROM llm_generate_rows('m', 'SELECT id, prompt FROM p', ?)",
                             (json.dumps(dict(json.loads(gen), batch=batch)),))
        n_tok = {k: n for k, n in rows}
        few = max(1, a.rows // 8)
        _, t_one = timed(db, "SELECT llm_generate('m', prompt, ?) FROM p WHERE id <= ?", (gen, few))
        one_tps = sum(n_tok[k] for k in range(1, few + 1)) / t_one
        rows_tps = sum(n_tok.values()) / t_rows
        emb, t_emb = timed(db, "SELECT key FROM llm_embed_rows('m', 'SELECT id, body FROM t', ?)",
                           (json.dumps({"batch": a.batch} if a.batch else {}),))
        _, t_emb1 = timed(db, "SELECT llm_embed('m', body) FROM t WHERE id <= ?", (a.rows // 4,))
        emb_rps, emb1_rps = len(emb) / t_emb, (a.rows // 4) / t_emb1
        tg, total = same_work(db, rng, batch)
        llama = batched_bench(a.llama, path, batch)
        print("%-16s | %5d | %9.1f %9.1f %5.1fx | %8.1f %8s %5s | %8.1f %8s %5s | %9.1f %9.1f %5.1fx" % (
            "%s %s" % (shape, ty), batch, rows_tps, one_tps, rows_tps / one_tps,
            tg, "%.1f" % llama[0] if llama else "-", "%.2f" % (tg / llama[0]) if llama else "-",
            total, "%.1f" % llama[1] if llama else "-", "%.2f" % (total / llama[1]) if llama else "-",
            emb_rps, emb1_rps, emb_rps / emb1_rps), flush=True)
        db.close()


if __name__ == "__main__":
    main()
