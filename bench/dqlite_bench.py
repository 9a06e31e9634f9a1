"""dqlite_bench.py [EXTENSION] [--trials N]: sqlite-llm in a 3-node dqlite
cluster on loopback against the same work on a plain database file, in the
same run (bench/README.md, "dqlite_bench.py").

Measures, each on the cluster (through the Go client, each statement in a
transaction of its own, as tests/dqlite does) and on the file (Python's
sqlite3, the extension loaded):
  - import time of llm_import for three model files (llama2.c and GGUF),
    the best of 3;
  - training steps/s (a new model, and stories260K fine-tuned), the file
    in one uninterrupted run, the cluster in statements of CHUNK_S seconds,
    each ending with a checkpoint that Raft commits on a majority;
  - failover: from SIGKILL of the leader to the remaining nodes agreeing on
    a new one, and to the first llm_generate it answers (the client retrying
    on whichever node leads), over N trials, the killed node restarted and
    caught up between them.
Needs build/dqlite/node and build/dqlite/client (`make test` builds them).
Prints tables; the cluster's import times are less the client's start and
a trivial statement (printed), its training times include them.
"""
import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "dqlite"))
from cluster import Cluster, poll  # noqa: E402

DATA = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
IMPORTS = [
    ("stories260K (llama2c, f32)", "llama2c", ["llama2c/stories260K.bin", "llama2c/tok512.bin"]),
    ("shakespeare-4L Q8_0 (gguf)", "gguf", ["gguf/shakespeare-4L-Q8_0.gguf"]),
    ("shakespeare-4L F32 (gguf)", "gguf", ["gguf/shakespeare-4L-F32.gguf"]),
]
MODEL = '{"tokenizer": "bpe", "n_layer": 2, "n_head": 2, "n_embd": 64, "block_size": 32, "seed": 7}'
COMMON = {"threads": 1, "log_every": 100, "checkpoint_every": 100, "eval_every": 0, "seed": 5}
TRAINS = [  # (what, model, options): the file checkpoints every 100 steps
    ("new model, 2 layers x 64, batch 8 x 32 tokens", "small", dict(COMMON, steps=600, batch_size=8, seq_len=32)),
    ("stories260K fine-tuned, batch 4 x 64 tokens", "m0", dict(COMMON, steps=200, batch_size=4, seq_len=64)),
]
CHUNK_S = 0.5


def q(s):
    return "'" + s.replace("'", "''") + "'"


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def weights(run, model):
    return run(f"SELECT group_concat(hex(data)) FROM (SELECT data FROM llm_weights WHERE model = '{model}' "
               "ORDER BY role, name)")


def train_case(c, ref, label, model, opts):
    """Steps/s of the same training on the file (one run) and on the
    cluster (statements of CHUNK_S seconds, each committing a checkpoint)."""
    steps = opts["steps"]
    train = f"SELECT step FROM llm_train('{model}', 'SELECT body FROM docs', {q(json.dumps(opts))})"
    tf = timed(lambda: ref.execute(train).fetchall())
    chunk = f"SELECT step FROM llm_train('{model}', 'SELECT body FROM docs', " \
            f"{q(json.dumps(dict(opts, time_limit_s=CHUNK_S)))})"
    n = 0
    t0 = time.perf_counter()
    while True:
        rows = c.tx(chunk)  # its last row is the step it stopped at
        n += 1
        if not rows or rows[-1][0] >= steps:
            break
    tc = time.perf_counter() - t0
    same = weights(lambda s: ref.execute(s).fetchone()[0], model) == weights(lambda s: c.tx(s)[0][0], model)
    print(f"\ntraining {steps} steps, {label}, 1 thread:")
    print(f"  file, one run:                {steps / tf:7.1f} steps/s")
    print(f"  cluster, {n:2} statements of {CHUNK_S} s: {steps / tc:7.1f} steps/s ({tc / tf:.2f}x the time; "
          f"final weights bitwise the file's: {same})")


def caught_up(c, i):
    """Node i's copy holds the leader's llm_models."""
    rows = c.tx("SELECT name, uid FROM llm_models ORDER BY name")
    db = c.dump(i)
    try:
        return [list(r) for r in db.execute("SELECT name, uid FROM llm_models ORDER BY name")] == rows
    finally:
        db.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ext", nargs="?", default=os.path.join(ROOT, "llm.so"))
    ap.add_argument("--trials", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ref = sqlite3.connect(os.path.join(tmp, "file.db"), isolation_level=None)
        ref.enable_load_extension(True)
        ref.load_extension(os.path.abspath(a.ext))
        c = Cluster(a.ext, tmp)
        try:
            run(a, c, ref)
        finally:
            c.stop(clean=False)


def run(a, c, ref):
    base = min(timed(lambda: c.tx("SELECT 1")) for _ in range(5))
    print(f"client start and a trivial statement: {base * 1000:.0f} ms (subtracted: 'cluster s')")
    print(f"\n{'import':32} {'MB':>6} {'file s':>8} {'cluster s':>10} {'ratio':>6}")
    for i, (label, fmt, files) in enumerate(IMPORTS):
        paths = ", ".join(q(os.path.join(DATA, f)) for f in files)
        mb = sum(os.path.getsize(os.path.join(DATA, f)) for f in files) / 1e6
        tf = tc = float("inf")
        for k in range(3):  # the best of 3, each under a new name (m0 is kept)
            sql = f"SELECT llm_import('m{i}{'_' + str(k) if k else ''}', '{fmt}', {paths})"
            tf = min(tf, timed(lambda: ref.execute(sql).fetchall()))
            tc = min(tc, timed(lambda: c.tx(sql)) - base)
        print(f"{label:32} {mb:6.1f} {tf:8.3f} {tc:10.3f} {tc / tf:6.1f}")

    with open(os.path.join(DATA, "tinyshakespeare.txt"), encoding="utf-8") as f:
        paras = [p.strip() for p in f.read(6000).split("\n\n") if p.strip()]
    setup = ["CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)",
             "INSERT INTO docs(body) VALUES " + ", ".join(f"({q(p)})" for p in paras)]
    c.exec(*setup)
    for s in setup:
        ref.execute(s)
    for sql in ("SELECT llm_tokenizer_train('bpe', 'SELECT body FROM docs', 320)",
                f"SELECT llm_model_create('small', {q(MODEL)})"):
        ref.execute(sql)
        c.tx(sql)
    for label, model, opts in TRAINS:
        train_case(c, ref, label, model, opts)

    print(f"\nfailover ({a.trials} trials): SIGKILL of the leader to llm_generate answered by the new leader")
    gen = "SELECT llm_generate('small', 'First', '{\"temperature\": 0, \"max_tokens\": 16}')"
    times = []
    for _ in range(a.trials):
        old = c.wait_leader()
        t0 = time.perf_counter()
        c.kill(old)
        c.wait_leader()
        t1 = time.perf_counter()
        c.client(["-retry", "tx", gen], timeout=60)
        times.append((t1 - t0, time.perf_counter() - t0))
        c.start(old)
        poll(f"node {old} has caught up", lambda: caught_up(c, old), 60)
    for i, what in enumerate(("a new leader known", "llm_generate answered")):
        ts = sorted(t[i] for t in times)
        print(f"  {what:22}: " + ", ".join(f"{t[i]:.2f}" for t in times) + f" s (median {ts[len(ts) // 2]:.2f})")
    print("  (dqlite 1.11's Raft election timeout: 3 s, randomized to 3-6 s)")


if __name__ == "__main__":
    main()
