"""Models and training in SQL: llm_model_create / llm_model_drop, the
llm_train table-valued function, checkpoints, exact resumption, crash safety
with real processes, and bad input."""
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import zlib

CORPUS_LINES = 400


def _setup(ctx, db=None, vocab=256):
    db = db or ctx.db
    with open(os.path.join(ctx.shared, "tinyshakespeare.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")[: CORPUS_LINES * 4]
    db.execute("CREATE TABLE IF NOT EXISTS docs(body TEXT)")
    db.executemany("INSERT INTO docs VALUES (?)", [(l,) for l in lines if l])
    db.execute("SELECT llm_tokenizer_train('m', 'SELECT body FROM docs', ?)", (vocab,)).fetchone()


SMALL = '{"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 32, "seed": 7}'
RUN = '{"steps": %d, "batch_size": 4, "log_every": 5, "eval_every": 10, "eval_batches": 2, "checkpoint_every": 5, "threads": 1, "warmup_steps": 5, "lr": 3e-3}'


def _weights(db, model, role="param"):
    return {n: d for n, d in db.execute(
        "SELECT name, data FROM llm_weights WHERE model = ? AND role = ? ORDER BY name", (model, role))}


def test_create_counts_parameters_and_stores_them(ctx):
    _setup(ctx)
    n = ctx.one("SELECT llm_model_create('m', ?)", (SMALL,))
    C, L, V, T, H = 32, 2, 257, 32, 128
    per_layer = 2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + H * C + H + C * H + C
    assert n == V * C + T * C + L * per_layer + 2 * C, n
    row = ctx.db.execute("SELECT tokenizer, arch, n_params, step FROM llm_models WHERE name = 'm'").fetchone()
    assert row == ("m", "gpt", n, 0), row
    cfg = json.loads(ctx.one("SELECT config FROM llm_models WHERE name = 'm'"))
    assert cfg["vocab_size"] == V and cfg["n_hidden"] == H and cfg["n_layer"] == 2
    shapes = dict(ctx.db.execute("SELECT name, shape FROM llm_weights WHERE model = 'm' AND role = 'param'"))
    assert json.loads(shapes["wte"]) == [V, C]
    assert json.loads(shapes["blocks.attn.qkv.weight"]) == [L, 3 * C, C]
    # the tokenizer functions accept the model's name
    assert ctx.one("SELECT llm_tokenize('m', 'ab')") == ctx.one("SELECT llm_tokenize('m', 'ab')")
    assert ctx.one("SELECT llm_token_count('m', 'hello')") == 5


def test_train_yields_rows_logs_and_resumes(ctx):
    _setup(ctx)
    ctx.db.execute("SELECT llm_model_create('m', ?)", (SMALL,))
    rows = ctx.db.execute("SELECT step, loss, val_loss, lr, tokens_per_s, elapsed_s FROM llm_train('m', "
                          "'SELECT body FROM docs', ?)", (RUN % 20,)).fetchall()
    assert [r[0] for r in rows] == [5, 10, 15, 20], rows
    assert rows[0][2] is None and rows[1][2] is not None and rows[3][2] is not None
    assert all(r[1] > 0 and r[4] > 0 for r in rows)
    assert rows[0][1] < math.log(257) + 0.3
    # tokens_per_s and elapsed_s time the same thing, the training steps (a
    # checkpoint every 5 steps and the evaluations fall outside both), so each
    # row's tokens (5 steps of 4 x 32) are its rate times its share of elapsed_s
    prev = 0.0
    for r in rows:
        assert r[5] > prev
        assert abs(r[4] * (r[5] - prev) - 5 * 4 * 32) < 1e-6 * 5 * 4 * 32, (r, prev)
        prev = r[5]
    log = ctx.db.execute("SELECT step, loss FROM llm_train_log WHERE model = 'm' ORDER BY step").fetchall()
    assert [s for s, _ in log] == [5, 10, 15, 20]
    assert ctx.one("SELECT step FROM llm_models WHERE name = 'm'") == 20
    assert ctx.one("SELECT step FROM llm_train_state WHERE model = 'm'") == 20
    # the same call again: the run is complete, no rows
    assert ctx.db.execute("SELECT * FROM llm_train('m', 'SELECT body FROM docs', ?)", (RUN % 20,)).fetchall() == []
    # a larger total continues it
    more = ctx.db.execute("SELECT step FROM llm_train('m', 'SELECT body FROM docs', ?)", (RUN % 30,)).fetchall()
    assert [r[0] for r in more] == [25, 30], more


def test_other_connections_write_while_the_corpus_is_read(ctx):
    """Another connection commits while llm_train reads its corpus (WAL):
    the tokenized corpus and the checkpoints still get written (they go
    through the trainer's own writer, not the connection whose statement
    began before that commit)."""
    _setup(ctx)
    ctx.db.execute("SELECT llm_model_create('m', ?)", (SMALL,))
    ctx.db.execute("PRAGMA journal_mode=WAL")
    ctx.db.execute("CREATE TABLE other(x)")
    ctx.db.commit()
    other = ctx.connect(os.path.join(ctx.tmp, "test.db"))
    pokes = []

    def poke():
        other.execute("INSERT INTO other VALUES (1)")
        other.commit()
        pokes.append(1)
        return 1

    ctx.db.create_function("poke", 0, poke)
    rows = ctx.db.execute("SELECT step FROM llm_train('m', 'SELECT body FROM docs WHERE poke()', ?)",
                          (RUN % 10,)).fetchall()
    assert [r[0] for r in rows] == [5, 10] and len(pokes) > 10, (rows, len(pokes))
    assert ctx.one("SELECT count(*) FROM other") == len(pokes)
    assert ctx.one("SELECT step FROM llm_models WHERE name = 'm'") == 10


def test_interrupt_then_resume_matches_uninterrupted(ctx):
    """sqlite3_interrupt() (what Ctrl-C in the shell calls) during training
    stops the run after writing a checkpoint; the same call then finishes
    the run with bitwise the same weights and optimizer state as one
    uninterrupted call."""
    path = os.path.join(ctx.tmp, "test.db")
    ctx.db.execute("PRAGMA journal_mode=WAL")
    _setup(ctx)
    for name in ("a", "b"):
        ctx.db.execute("SELECT llm_model_create(?, ?)", (name, SMALL.replace('"seed"', '"tokenizer": "m", "seed"')))
    run = RUN % 300
    ctx.db.execute("SELECT * FROM llm_train('a', 'SELECT body FROM docs', ?)", (run,)).fetchall()

    trainer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    trainer.enable_load_extension(True)
    trainer.load_extension(ctx.ext)
    outcome = {}

    def train():
        try:
            trainer.execute("SELECT * FROM llm_train('b', 'SELECT body FROM docs', ?)", (run,)).fetchall()
        except sqlite3.Error as e:
            outcome["error"] = str(e)

    th = threading.Thread(target=train)
    th.start()
    watcher = sqlite3.connect(path)
    # wait for the run to pass its second checkpoint, then interrupt it
    while th.is_alive():
        row = watcher.execute("SELECT step FROM llm_train_state WHERE model = 'b'").fetchone()
        if row and row[0] >= 10:
            trainer.interrupt()
            break
        time.sleep(0.005)
    th.join()
    watcher.close()
    trainer.close()
    # the interrupt is noticed either inside a step (our message) or by
    # SQLite between two rows (its own); the state is saved in both cases
    assert "interrupted" in outcome.get("error", ""), outcome
    stopped_at = ctx.one("SELECT step FROM llm_models WHERE name = 'b'")
    assert 10 <= stopped_at < 300, stopped_at
    assert ctx.one("SELECT step FROM llm_train_state WHERE model = 'b'") == stopped_at
    if "checkpoint written" in outcome["error"]:
        assert f"at step {stopped_at}" in outcome["error"], outcome
    ctx.db.execute("SELECT * FROM llm_train('b', 'SELECT body FROM docs', ?)", (run,)).fetchall()
    assert ctx.one("SELECT step FROM llm_models WHERE name = 'b'") == 300
    for role in ("param", "adam_m", "adam_v"):
        wa, wb = _weights(ctx.db, "a", role), _weights(ctx.db, "b", role)
        assert len(wa) == 16 and wa.keys() == wb.keys()
        differ = sorted(n for n in wa if wa[n] != wb[n])
        assert not differ, f"{role}: differing tensors {differ}"


CHILD = textwrap.dedent("""
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[2], isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(sys.argv[1])
    cur = db.execute("SELECT step FROM llm_train('m', 'SELECT body FROM docs', ?)", (sys.argv[3],))
    for (step,) in cur:
        print(step, flush=True)
""")


def test_kill_9_keeps_the_last_checkpoint_and_resumes(ctx):
    path = os.path.join(ctx.tmp, "test.db")
    ctx.db.execute("PRAGMA journal_mode=WAL")
    _setup(ctx)
    ctx.db.execute("SELECT llm_model_create('m', ?)", (SMALL,))
    run = RUN % 400
    child = subprocess.Popen([sys.executable, "-c", CHILD, ctx.ext, path, run], stdout=subprocess.PIPE, text=True)
    seen = []
    for line in child.stdout:
        seen.append(int(line))
        if len(seen) == 1:
            # another connection reads the model while training runs (WAL)
            other = sqlite3.connect(path)
            assert other.execute("SELECT count(*) FROM llm_weights WHERE model = 'm'").fetchone()[0] >= 16
            other.close()
        if len(seen) == 3:
            child.send_signal(signal.SIGKILL)
            break
    child.wait()
    assert child.returncode == -signal.SIGKILL
    db = ctx.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    step = db.execute("SELECT step FROM llm_models WHERE name = 'm'").fetchone()[0]
    assert step >= 15 and step % 5 == 0, step
    assert db.execute("SELECT step FROM llm_train_state WHERE model = 'm'").fetchone()[0] == step
    rows = db.execute("SELECT step FROM llm_train('m', 'SELECT body FROM docs', ?)",
                      (run.replace('"steps": 400', '"steps": %d' % (step + 10)),)).fetchall()
    assert [r[0] for r in rows] == [step + 5, step + 10], rows


def test_a_retrained_model_is_reloaded_among_others(ctx):
    """A connection that has run two models and then retrains the one it
    loaded last runs that model's new weights (a stale cache entry ahead of
    another one in the connection's list once gave the other model)."""
    _setup(ctx)
    for name, seed in (("a", 7), ("b", 8)):
        ctx.db.execute("SELECT llm_model_create(?, ?)", (name, json.dumps(dict(json.loads(SMALL), seed=seed, tokenizer="m"))))
    text = "To be, or not to be"
    lp = lambda m: ctx.one("SELECT llm_logprob(?, ?)", (m, text))
    first_a, first_b = lp("a"), lp("b")
    assert first_a != first_b
    ctx.db.execute("SELECT * FROM llm_train('b', 'SELECT body FROM docs', ?)", (RUN % 5,)).fetchall()
    other = sqlite3.connect(os.path.join(ctx.tmp, "test.db"))
    other.enable_load_extension(True)
    other.load_extension(ctx.ext)
    for m in ("b", "a"):
        fresh = other.execute("SELECT llm_logprob(?, ?)", (m, text)).fetchone()[0]
        assert lp(m) == fresh, m
    assert lp("b") != first_b and lp("a") == first_a
    other.close()


def test_train_bad_input(ctx):
    _setup(ctx)
    ctx.db.execute("SELECT llm_model_create('m', ?)", (SMALL,))
    q = "SELECT * FROM llm_train(?, ?, ?)"
    ctx.error(q, ("nope", "SELECT body FROM docs", None), "llm_train:", "no model named 'nope'")
    ctx.error(q, ("m", "SELECT body FROM docs", '{"stepz": 3}'), "llm_train:", 'unknown option "stepz"')
    ctx.error(q, ("m", "SELECT body FROM docs", '{"steps": "3"}'), "llm_train:", '"steps" must be an integer')
    ctx.error(q, ("m", "SELECT body FROM docs", '{"lr": -1}'), "llm_train:", "lr")
    ctx.error(q, ("m", "SELECT body FROM docs", 'nope'), "llm_train:", "not valid JSON")
    ctx.error(q, ("m", "DELETE FROM docs", None), "llm_train:", "corpus_sql")
    ctx.error(q, ("m", "SELECT 'ab'", None), "llm_train:", "too few")
    ctx.error(q, ("m", "SELECT body FROM docs", '{"max_memory_mb": 1, "batch_size": 64}'), "llm_train:",
              "max_memory_mb")
    assert ctx.one("SELECT count(*) FROM docs") > 0
    # corrupt and mismatched weights are reported, not crashed on
    ctx.db.execute("UPDATE llm_weights SET data = x'28b52ffd0000' WHERE model = 'm' AND name = 'wte'")
    ctx.error(q, ("m", "SELECT body FROM docs", RUN % 5), "llm_train:", "wte")
    ctx.db.execute("SELECT llm_model_drop('m')")
    ctx.db.execute("SELECT llm_model_create('m', ?)", (SMALL,))
    ctx.db.execute("UPDATE llm_weights SET shape = '[3, 3]' WHERE model = 'm' AND name = 'wpe'")
    ctx.error(q, ("m", "SELECT body FROM docs", RUN % 5), "llm_train:", "wpe", "shape")
    ctx.db.execute("SELECT llm_model_drop('m')")
    ctx.db.execute("SELECT llm_model_create('m', ?)", (SMALL,))
    blob = ctx.one("SELECT data FROM llm_weights WHERE model = 'm' AND name = 'wpe'")
    ctx.db.execute("UPDATE llm_weights SET data = ? WHERE model = 'm' AND name = 'wpe'", (blob[: len(blob) // 2],))
    ctx.error(q, ("m", "SELECT body FROM docs", RUN % 5), "llm_train:", "wpe")


def test_model_create_and_drop_bad_input(ctx):
    _setup(ctx)
    e = "SELECT llm_model_create(?, ?)"
    ctx.error(e, ("x", '{"tokenizer": "none"}'), "llm_model_create:", "no tokenizer named 'none'")
    ctx.error(e, ("m", '{"n_embd": 30, "n_head": 4}'), "llm_model_create:", "n_head")
    ctx.error(e, ("m", '{"n_layer": 0}'), "llm_model_create:", "n_layer")
    ctx.error(e, ("m", '{"n_layer": 200, "n_embd": 16000, "n_head": 16}'), "llm_model_create:", "max_memory_mb")
    ctx.error(e, ("m", '{"arch": "rnn"}'), "llm_model_create:", "arch")
    ctx.error(e, ("m", '{"colour": 1}'), "llm_model_create:", 'unknown option "colour"')
    ctx.error(e, ("m", '[1]'), "llm_model_create:", "JSON object")
    ctx.error(e, (None, None), "llm_model_create:", "name")
    ctx.db.execute(e, ("m", SMALL))
    ctx.error(e, ("m", SMALL), "llm_model_create:", "already exists")
    assert ctx.one("SELECT llm_model_drop('m')") == 1
    assert ctx.one("SELECT llm_model_drop('m')") == 0
    for t in ("llm_models", "llm_weights", "llm_train_state", "llm_train_log", "llm_corpus"):
        col = "name" if t == "llm_models" else "model"
        assert ctx.one(f"SELECT count(*) FROM {t} WHERE {col} = 'm'") == 0, t
    assert ctx.one("SELECT count(*) FROM llm_tokenizers WHERE name = 'm'") == 1


def test_a_batch_too_big_for_one_block_is_a_clear_error(ctx):
    """SQLite's allocator gives at most 2 GB in one block: a batch whose
    activations need more fails with a message saying so, not a bare
    'out of memory', and the model is untouched."""
    _setup(ctx)
    ctx.db.execute("SELECT llm_model_create('big', json_object('tokenizer', 'm', 'n_layer', 1, 'n_head', 4, "
                   "'n_embd', 32, 'block_size', 256))")
    before = _weights(ctx.db, "big")
    ctx.error("SELECT * FROM llm_train('big', 'SELECT body FROM docs', '{\"steps\": 1, \"batch_size\": 2048}')", (),
              "llm_train:", "MB of activations", "2 GB", "batch_size")
    assert _weights(ctx.db, "big") == before
    assert ctx.one("SELECT step FROM llm_models WHERE name = 'big'") == 0
