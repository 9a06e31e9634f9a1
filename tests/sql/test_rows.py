"""llm_generate_rows and llm_embed_rows: a model over the rows of a query,
batched. Each row's result must be exactly (bitwise) what llm_generate /
llm_embed give for it alone, whatever the batch size, the order of output
and the rows around it."""
import json
import os
import sqlite3
import subprocess
import sys
import threading

TYPES = ("F32", "Q8_0", "Q4_K_M")


def shakespeare(ctx, kind):
    return os.path.join(ctx.shared, "gguf", "shakespeare-4L-%s.gguf" % kind)


def prompts_table(ctx, n=24):
    """Prompts of 1 to ~60 tokens cut from the held-out text, each row with
    its own options: sampled with its own seed or greedy, max_tokens from 0
    to 150 (past the model's context of 128: the window slides), some with
    a stop string."""
    text = open(os.path.join(ctx.shared, "tinyshakespeare.txt"), encoding="utf-8").read()[-6000:]
    ctx.db.execute("CREATE TABLE p(id INTEGER PRIMARY KEY, prompt TEXT, opts TEXT)")
    for i in range(n):
        start = (i * 397) % 5000
        prompt = text[start:start + 1 + (i * 37) % 200]
        opts = {"max_tokens": [0, 1, 7, 40, 150][i % 5], "seed": 1000 + i}
        if i % 3 == 0:
            opts["temperature"] = 0
        if i % 4 == 1:
            opts["stop"] = ["\n\n", "the"]
        ctx.db.execute("INSERT INTO p VALUES (?, ?, ?)", (i, prompt, json.dumps(opts)))


def alone(ctx, model):
    return {r[0]: r[1] for r in ctx.db.execute(
        "SELECT id, llm_generate(?, prompt, opts) FROM p ORDER BY id", (model,))}


def test_generate_rows_is_generate_alone(ctx):
    prompts_table(ctx)
    for kind in TYPES:
        ctx.db.execute("SELECT llm_import(?, 'gguf', ?)", (kind, shakespeare(ctx, kind)))
        want = alone(ctx, kind)
        assert len(set(want.values())) > 15, want  # the rows differ
        for batch in (1, 3, 16, None):  # None: the default (F32: 64, all the rows at once)
            for ordered in (True, False):
                opts = dict({"ordered": ordered}, **({"batch": batch} if batch else {}))
                rows = ctx.db.execute(
                    "SELECT key, text, finish, n_prompt_tokens, n_tokens FROM llm_generate_rows(?, "
                    "'SELECT id, prompt, opts FROM p', ?)", (kind, json.dumps(opts))).fetchall()
                assert len(rows) == len(want), (kind, batch, len(rows))
                if ordered:
                    assert [r[0] for r in rows] == sorted(want), (kind, batch)
                got = {r[0]: r[1] for r in rows}
                bad = [k for k in want if got.get(k) != want[k]]
                assert not bad, (kind, batch, ordered, bad[:3], [(want[k], got.get(k)) for k in bad[:2]])
                for key, text, finish, n_prompt, n_tokens in rows:
                    opts = json.loads(ctx.one("SELECT opts FROM p WHERE id = ?", (key,)))
                    assert finish in ("eos", "stop", "length"), finish
                    assert n_tokens <= opts["max_tokens"] and (finish != "length" or n_tokens == opts["max_tokens"])
                    assert n_prompt == len(json.loads(ctx.one(
                        "SELECT llm_tokenize(?, prompt, '{\"add_special\": true}') FROM p WHERE id = ?",
                        (kind, key))))


def test_options_of_the_call_and_of_rows(ctx):
    """The call's options apply to every row, a row's own override them."""
    ctx.db.execute("SELECT llm_import('m', 'gguf', ?)", (shakespeare(ctx, "Q8_0"),))
    ctx.db.execute("CREATE TABLE t(k, prompt TEXT, opts TEXT)")
    ctx.db.executemany("INSERT INTO t VALUES (?, ?, ?)", [
        (1, "ROMEO:", None), (2, "JULIET:", '{"max_tokens": 3}'), (3, "KING:", '{"temperature": 0.7, "seed": 5}')])
    call = {"max_tokens": 9, "temperature": 0}
    rows = dict(ctx.db.execute("SELECT key, text FROM llm_generate_rows('m', 'SELECT k, prompt, opts FROM t', ?)",
                               (json.dumps(call),)).fetchall())
    for k, prompt, opts in ctx.db.execute("SELECT * FROM t").fetchall():
        merged = dict(call, **json.loads(opts or "{}"))
        assert rows[k] == ctx.one("SELECT llm_generate('m', ?, ?)", (prompt, json.dumps(merged))), (k, merged)


def test_kv_cache_f16(ctx):
    """"kv_cache": "f16" (a KV cache of halves) on every generating function:
    rows with it are llm_generate's with it, bitwise, for the call's option
    and a row's own; llm_generate_tokens gives llm_generate's text (llm_chat
    reads llm_generate's options: the errors below); the halves change some sampled texts but leave greedy ones
    mostly as they were; a generation in halves leaves the scores that
    follow it on the same model as they were; a bad value is an error
    naming the option."""
    prompts_table(ctx)
    ctx.db.execute("SELECT llm_import('m', 'gguf', ?)", (shakespeare(ctx, "F32"),))
    ctx.db.execute("UPDATE p SET opts = json_set(opts, '$.kv_cache', 'f16')")
    want = alone(ctx, "m")
    rows = dict(ctx.db.execute("SELECT key, text FROM llm_generate_rows('m', 'SELECT id, prompt, opts FROM p', "
                               "'{\"batch\": 5}')").fetchall())
    assert rows == want, [k for k in want if rows.get(k) != want[k]]
    call = "SELECT id, prompt, json_remove(opts, '$.kv_cache') FROM p"
    rows = dict(ctx.db.execute("SELECT key, text FROM llm_generate_rows('m', ?, '{\"batch\": 5, \"kv_cache\": \"f16\"}')",
                               (call,)).fetchall())
    assert rows == want, [k for k in want if rows.get(k) != want[k]]
    ctx.db.execute("UPDATE p SET opts = json_set(opts, '$.kv_cache', 'f32')")
    floats = alone(ctx, "m")
    assert floats != want  # sampled texts: some tokens come out otherwise
    greedy = [k for k, o in ctx.db.execute("SELECT id, opts FROM p") if json.loads(o).get("temperature") == 0]
    assert sum(floats[k] == want[k] for k in greedy) >= len(greedy) * 3 // 4, (greedy, floats, want)
    opts = '{"max_tokens": 40, "seed": 3, "kv_cache": "f16"}'
    text = ctx.one("SELECT llm_generate('m', 'ROMEO:', ?)", (opts,))
    assert "".join(r[0] or "" for r in ctx.db.execute(
        "SELECT piece FROM llm_generate_tokens('m', 'ROMEO:', ?)", (opts,))) == text
    score = ctx.one("SELECT llm_perplexity('m', 'ROMEO: what light')")
    ctx.one("SELECT llm_generate('m', 'ROMEO:', ?)", (opts,))
    assert ctx.one("SELECT llm_perplexity('m', 'ROMEO: what light')") == score
    ctx.db.execute("CREATE TABLE bad(k, prompt TEXT, opts TEXT)")
    for v in ('"f8"', "16", '"F16"'):
        o = '{"kv_cache": %s}' % v
        ctx.error("SELECT llm_generate('m', 'x', ?)", (o,), "llm_generate", "kv_cache")
        ctx.error("SELECT * FROM llm_generate_tokens('m', 'x', ?)", (o,), "kv_cache")
        ctx.error("SELECT llm_chat('m', '[]', ?)", (o,), "kv_cache")
        ctx.error("SELECT * FROM llm_generate_rows('m', 'SELECT 1, ''x''', ?)", (o,), "kv_cache")
        ctx.db.execute("DELETE FROM bad")
        ctx.db.execute("INSERT INTO bad VALUES ('row-k', 'x', ?)", (o,))
        ctx.error("SELECT * FROM llm_generate_rows('m', 'SELECT k, prompt, opts FROM bad')", (), "row-k", "kv_cache")


def test_keys_nulls_and_errors(ctx):
    ctx.db.execute("SELECT llm_import('m', 'gguf', ?)", (shakespeare(ctx, "Q8_0"),))
    ctx.db.execute("CREATE TABLE t(k, prompt TEXT)")
    keys = [7, "seven", b"\x00\x07", 7.5, None]
    ctx.db.executemany("INSERT INTO t VALUES (?, ?)", [(k, "ROMEO:") for k in keys] + [("none", None)])
    rows = ctx.db.execute("SELECT key, text, finish, n_tokens FROM llm_generate_rows('m', 'SELECT k, prompt FROM t', "
                          "'{\"max_tokens\": 4, \"temperature\": 0, \"batch\": 2}')").fetchall()
    assert [r[0] for r in rows] == keys + ["none"], rows  # any type, as given, in order
    assert rows[-1][1:] == (None, None, 0), rows[-1]  # a NULL prompt: a NULL text
    assert all(r[1] and r[2] == "length" and r[3] == 4 for r in rows[:-1]), rows
    # a row's bad options: an error that names the row's key
    ctx.db.execute("CREATE TABLE bad(k, prompt TEXT, opts TEXT)")
    ctx.db.executemany("INSERT INTO bad VALUES (?, ?, ?)", [(1, "a", None), ("row-two", "b", '{"top_p": 7}')])
    ctx.error("SELECT * FROM llm_generate_rows('m', 'SELECT k, prompt, opts FROM bad')", (),
              "llm_generate_rows", "row-two", "top_p")
    ctx.db.execute("UPDATE bad SET opts = '{\"nope\": 1}' WHERE k = 'row-two'")
    ctx.error("SELECT * FROM llm_generate_rows('m', 'SELECT k, prompt, opts FROM bad')", (), "row-two", "nope")
    # the query itself
    ctx.error("SELECT * FROM llm_generate_rows('m', 'DELETE FROM t')", (), "rows_sql", "SELECT")
    ctx.error("SELECT * FROM llm_generate_rows('m', 'SELECT k FROM t')", (), "rows_sql", "(key, text)")
    ctx.error("SELECT * FROM llm_generate_rows('m', 'SELECT k, prompt FROM nowhere')", (), "rows_sql", "nowhere")
    ctx.error("SELECT * FROM llm_generate_rows('m', 42)", (), "rows_sql must be the text")
    ctx.error("SELECT * FROM llm_generate_rows('m', 'SELECT k, prompt FROM t', '{\"batch\": 0}')", (), "batch")
    ctx.error("SELECT * FROM llm_generate_rows('nope', 'SELECT k, prompt FROM t')", (), "nope")
    ctx.error("SELECT * FROM llm_embed_rows('m', 'SELECT k, prompt FROM t', '{\"pooling\": \"max\"}')", (),
              "pooling")
    assert ctx.one("SELECT count(*) FROM t") == 6  # nothing changed


def test_insert_select_on_the_same_connection(ctx):
    ctx.db.execute("SELECT llm_import('m', 'gguf', ?)", (shakespeare(ctx, "Q4_K_M"),))
    ctx.db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)")
    ctx.db.executemany("INSERT INTO t(body) VALUES (?)", [("Line %d:" % i,) for i in range(10)])
    ctx.db.execute("CREATE TABLE results(id INTEGER, text TEXT)")
    ctx.db.execute("INSERT INTO results SELECT key, text FROM llm_generate_rows('m', 'SELECT id, body FROM t', "
                   "'{\"max_tokens\": 5, \"temperature\": 0, \"batch\": 4}')")
    assert ctx.one("SELECT count(*) FROM results") == 10
    for i, text in ctx.db.execute("SELECT id, text FROM results"):
        assert text == ctx.one("SELECT llm_generate('m', body, '{\"max_tokens\": 5, \"temperature\": 0}') FROM t "
                               "WHERE id = ?", (i,))
    # embeddings into a table of vectors the same way
    ctx.db.execute("CREATE TABLE vecs(id INTEGER, v BLOB)")
    ctx.db.execute("INSERT INTO vecs SELECT key, embedding FROM llm_embed_rows('m', 'SELECT id, body FROM t')")
    assert ctx.one("SELECT count(*) FROM vecs WHERE v = (SELECT llm_embed('m', body) FROM t WHERE t.id = vecs.id)") == 10


def test_interrupt_stops_cleanly(ctx):
    ctx.db.execute("SELECT llm_import('m', 'gguf', ?)", (shakespeare(ctx, "F32"),))
    ctx.db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)")
    ctx.db.executemany("INSERT INTO t(body) VALUES (?)", [("ROMEO:",)] * 400)
    timer = threading.Timer(0.5, ctx.db.interrupt)
    timer.start()
    try:
        ctx.db.execute("SELECT count(*) FROM llm_generate_rows('m', 'SELECT id, body FROM t', "
                       "'{\"max_tokens\": 200}')").fetchall()
        raise AssertionError("not interrupted")
    except sqlite3.OperationalError as e:
        assert "interrupt" in str(e), e
    timer.join()
    # and the connection goes on
    assert ctx.one("SELECT count(*) FROM llm_generate_rows('m', 'SELECT id, body FROM t LIMIT 2', "
                   "'{\"max_tokens\": 2}')") == 2


def test_embed_rows_is_embed_alone(ctx):
    text = open(os.path.join(ctx.shared, "tinyshakespeare.txt"), encoding="utf-8").read()[-3000:]
    ctx.db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)")
    # lengths from 1 to ~900 tokens: past the context of 128, mean pooling runs windows (alone)
    ctx.db.executemany("INSERT INTO t(body) VALUES (?)", [(text[:n],) for n in (1, 5, 40, 300, 80, 2900, 0)] +
                       [(None,)])
    for kind in ("F32", "Q4_K_M"):
        ctx.db.execute("SELECT llm_import(?, 'gguf', ?)", (kind, shakespeare(ctx, kind)))
        for opts in ('{}', '{"pooling": "last"}', '{"pooling": "cls", "normalize": false}'):
            want = [r[0] for r in ctx.db.execute("SELECT llm_embed(?, body, ?) FROM t ORDER BY id", (kind, opts))]
            for batch in (1, 3, 16):
                o = dict(json.loads(opts), batch=batch)
                got = [r[0] for r in ctx.db.execute("SELECT embedding FROM llm_embed_rows(?, 'SELECT id, body FROM t "
                                                    "ORDER BY id', ?)", (kind, json.dumps(o)))]
                assert got == want, (kind, opts, batch, [i for i, (a, b) in enumerate(zip(got, want)) if a != b])
        assert want[-1] is None


def test_encoders(ctx):
    models = os.path.join(ctx.tmp, "models")
    subprocess.run([sys.executable, os.path.join(ctx.root, "tests", "models", "make_models.py"), models],
                   check=True, stdout=subprocess.DEVNULL)
    ctx.db.execute("SELECT llm_import('enc', 'gguf', ?)", (os.path.join(models, "tiny-nomic-bert.gguf"),))
    ctx.db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)")
    ctx.db.executemany("INSERT INTO t(body) VALUES (?)",
                       [("The cat sat on the mat.",), ("A quick brown fox",), ("Once",), ("",)])
    want = [r[0] for r in ctx.db.execute("SELECT llm_embed('enc', body) FROM t ORDER BY id")]
    got = [r[0] for r in ctx.db.execute("SELECT embedding FROM llm_embed_rows('enc', 'SELECT id, body FROM t')")]
    assert got == want
    ctx.error("SELECT * FROM llm_generate_rows('enc', 'SELECT id, body FROM t')", (), "encoder", "llm_embed_rows")
