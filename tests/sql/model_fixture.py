"""A small trained model shared by the inference tests (test_generate.py,
test_embed.py, test_score.py).

The database is built once per test process, in a temporary directory, and
copied into each test's own database with SQLite's backup API, so every
test starts from the same weights in a file of its own (ctx.tmp/test.db,
the file ctx.db is connected to).

The corpus: 48 different short sentences (table docs), from six subjects,
verbs and objects, so that a 2-layer model with a 32-token context learns
them in 300 steps (final validation loss about 0.55, near the 0.45 nats a token
that the random choice of words leaves). The tokenizer learns
its merges from the sentences (about 45 with min_frequency 2). The model
is trained on four rows of 12 sentences each, so the end-of-text token
follows only every twelfth sentence: greedy generation goes on sentence
after sentence (it does not stop at eos within 100 tokens), while sampling
at temperature 1 sometimes ends with eos.
"""
import atexit
import math
import os
import random
import shutil
import sqlite3
import struct
import tempfile

SUBJ = ["The quick brown fox", "A lazy dog", "The old cat", "My little bird", "The tall man", "A young girl"]
VERB = ["jumps over", "runs past", "sleeps near", "looks at", "walks to", "sings for"]
OBJ = ["the red barn.", "the green field.", "the lazy dog.", "a small house.", "the river bank.", "the big tree."]
DOCS = [f"{s} {v} {o}" for s, v, o in random.Random(4).sample(
    [(s, v, o) for s in SUBJ for v in VERB for o in OBJ], 48)]  # 48 different sentences

MODEL = '{"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 32}'
N_EMBD = 32
BLOCK = 32
CORPUS_SQL = "SELECT group_concat(body, ' ') FROM docs GROUP BY id % 4"
TRAIN = ('{"steps": %d, "batch_size": 8, "log_every": 100, "lr": 3e-3, "warmup_steps": 20, '
         '"eval_every": 300, "eval_batches": 4, "checkpoint_every": 100, "threads": 1}')
STEPS = 300

GREEDY = '{"temperature": 0, "max_tokens": 40}'

_built = {}


def _build(ext):
    d = tempfile.mkdtemp(prefix="llm-infer-fixture-")
    atexit.register(shutil.rmtree, d, True)
    path = os.path.join(d, "fixture.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(ext)
    db.execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO docs(body) VALUES (?)", [(s,) for s in DOCS])
    db.execute("SELECT llm_tokenizer_train('m', 'SELECT body FROM docs', 300, '{\"min_frequency\": 2}')").fetchone()
    db.execute("SELECT llm_model_create('m', ?)", (MODEL,)).fetchone()
    rows = db.execute("SELECT step, loss, val_loss FROM llm_train('m', ?, ?)",
                      (CORPUS_SQL, TRAIN % STEPS)).fetchall()
    assert [r[0] for r in rows] == [100, 200, 300], rows
    assert rows[-1][2] is not None and rows[-1][2] < 1.0, rows  # it learnt the sentences (entropy about 0.45)
    db.execute("PRAGMA journal_mode=DELETE").fetchone()
    db.close()
    return path


def setup(ctx, db=None):
    """Copies the trained model into db (default ctx.db) and returns db."""
    if "path" not in _built:
        _built["path"] = _build(ctx.ext)
    db = db or ctx.db
    src = sqlite3.connect(_built["path"])
    try:
        src.backup(db)
    finally:
        src.close()
    return db


def train_more(db, steps):
    """Continues training model 'm' to `steps` in total."""
    return db.execute("SELECT step FROM llm_train('m', ?, ?)", (CORPUS_SQL, TRAIN % steps)).fetchall()


# ---- helpers --------------------------------------------------------------

def gen(db, prompt, opts=None, model="m"):
    if opts is None:
        return db.execute("SELECT llm_generate(?, ?)", (model, prompt)).fetchone()[0]
    return db.execute("SELECT llm_generate(?, ?, ?)", (model, prompt, opts)).fetchone()[0]


def gen_bytes(db, prompt, opts, model="m"):
    return db.execute("SELECT CAST(llm_generate(?, ?, ?) AS BLOB)", (model, prompt, opts)).fetchone()[0]


def gen_tokens(db, prompt, opts, model="m"):
    """The rows of llm_generate_tokens, in order of i:
    (i, token_id, piece, bytes, logprob, finish)."""
    return db.execute("SELECT i, token_id, CAST(piece AS BLOB), bytes, logprob, finish "
                      "FROM llm_generate_tokens(?, ?, ?) ORDER BY i", (model, prompt, opts)).fetchall()


def joined(rows):
    """The concatenated bytes of the token rows (all but the final one)."""
    assert rows and rows[-1][5] is not None, rows
    return b"".join(r[3] for r in rows[:-1])


def decode(blob):
    assert isinstance(blob, bytes) and len(blob) % 4 == 0, blob
    return struct.unpack(f"<{len(blob) // 4}f", blob)


def embed(db, text, opts=None, model="m"):
    if opts is None:
        return db.execute("SELECT llm_embed(?, ?)", (model, text)).fetchone()[0]
    return db.execute("SELECT llm_embed(?, ?, ?)", (model, text, opts)).fetchone()[0]


def norm(v):
    return math.sqrt(math.fsum(x * x for x in v))


def max_diff(a, b):
    assert len(a) == len(b), (len(a), len(b))
    return max(abs(x - y) for x, y in zip(a, b))


def error_starts(ctx, name, sql, params=(), *fragments, db=None):
    """Asserts that sql fails with a message that starts with `name:` and
    contains every fragment; returns the message."""
    msg = ctx.error(sql, params, *fragments, db=db)
    assert msg.startswith(name + ":"), f"error {msg!r} does not start with {name + ':'!r} (sql: {sql}, {params})"
    return msg
