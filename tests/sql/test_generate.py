"""Generation in SQL: llm_generate and llm_generate_tokens (options,
determinism, stop strings, the context window), the default model
(llm_use), the per-connection model cache, bad input and interrupts.

Every test starts from the small model of model_fixture.py (trained once
per process, copied into the test's database). Embeddings, distances and
llm_chunks are in test_embed.py; llm_perplexity and llm_logprob in
test_score.py.
"""
import codecs
import json
import os
import random
import sqlite3

from model_fixture import (BLOCK, DOCS, GREEDY, error_starts, gen, gen_bytes, gen_tokens, joined, setup,
                           train_more, embed, STEPS)

PATH = "test.db"


def _opts(**kw):
    return json.dumps(kw)


def _check_rows(rows, max_tokens):
    """The shape of llm_generate_tokens' rows; returns (token rows, finish)."""
    assert [r[0] for r in rows] == list(range(len(rows))), rows
    *tokens, last = rows
    assert all(r[5] is None for r in tokens), rows
    assert last[2] is None and last[3] is None, last  # the final row has no piece
    assert last[5] in ("eos", "stop", "length"), last
    assert len(tokens) <= max_tokens, (len(tokens), max_tokens)
    if last[5] == "length":
        assert len(tokens) == max_tokens, (len(tokens), max_tokens)
        assert last[1] is None and last[4] is None, last
    for r in tokens:
        assert isinstance(r[1], int) and r[2] == r[3] and r[4] <= 0, r
    return tokens, last[5]


# ---- llm_generate -------------------------------------------------------------

def test_greedy_generation_continues_the_prompt(ctx):
    db = setup(ctx)
    out = gen(db, "The quick", GREEDY)
    # the continuation the model learnt, without the prompt
    assert isinstance(out, str) and out.startswith(" brown fox "), out
    assert gen(db, "The quick", GREEDY) == out
    assert db.execute("SELECT llm_generate('m', CAST('The quick' AS BLOB), ?)", (GREEDY,)).fetchone()[0] == out
    # an empty prompt generates from the start token
    start = gen(db, "", GREEDY)
    assert start and start != out, start
    # the temperature is what makes it greedy: seeds do not matter at 0
    assert {gen(db, "The quick", _opts(temperature=0, max_tokens=40, seed=s)) for s in range(4)} == {out}


def test_default_options(ctx):
    db = setup(ctx)
    plain = gen(db, "The old")
    assert plain == gen(db, "The old", "{}")
    assert plain == gen(db, "The old", _opts(max_tokens=128, temperature=1, seed=0))
    assert plain == db.execute("SELECT llm_generate('m', 'The old', NULL)").fetchone()[0]
    assert plain != gen(db, "The old", _opts(seed=1)) or plain != gen(db, "The old", _opts(seed=2))
    assert gen_tokens(db, "The old", "{}") == gen_tokens(db, "The old", _opts(max_tokens=128, temperature=1, seed=0))
    _check_rows(gen_tokens(db, "The old", "{}"), 128)


def test_same_seed_same_text_whatever_came_before(ctx):
    db = setup(ctx)
    prompts = ["The quick", "A lazy", "My little", "", "The old cat sings", DOCS[5]]
    target = _opts(temperature=1, max_tokens=30, seed=5)
    others = [_opts(temperature=1, max_tokens=30, seed=6), GREEDY,
              _opts(temperature=0.8, top_k=5, top_p=0.9, max_tokens=12, seed=9)]
    db.execute("CREATE TABLE p(id INTEGER PRIMARY KEY, prompt TEXT)")
    db.executemany("INSERT INTO p VALUES (?, ?)", list(enumerate(prompts)))
    fwd = dict(db.execute("SELECT id, llm_generate('m', prompt, ?) FROM p ORDER BY id", (target,)))
    bwd = dict(db.execute("SELECT id, llm_generate('m', prompt, ?) FROM p ORDER BY id DESC", (target,)))
    assert fwd == bwd and len(fwd) == len(prompts), (fwd, bwd)
    assert len(set(fwd.values())) == len(prompts), fwd
    for i, p in enumerate(prompts):
        assert gen(db, p, target) == fwd[i], (p, fwd[i])
    # interleaved with other prompts and options, in two shuffled orders
    items = [(i, p, o) for i, p in enumerate(prompts) for o in [target] + others]
    random.Random(3).shuffle(items)
    db.execute("CREATE TABLE q(k INTEGER PRIMARY KEY, id, prompt, opts)")
    db.executemany("INSERT INTO q(id, prompt, opts) VALUES (?, ?, ?)", items)
    results = []
    for order in ("ASC", "DESC"):
        got = db.execute(f"SELECT id, opts, llm_generate('m', prompt, opts) FROM q ORDER BY k {order}").fetchall()
        results.append({(i, o): t for i, o, t in got})
        for i, o, t in got:
            if o == target:
                assert t == fwd[i], (i, t, fwd[i])
    assert results[0] == results[1]
    # while a llm_generate_tokens is half read, and after embeddings and scores
    cur = db.execute("SELECT piece FROM llm_generate_tokens('m', 'The tall', ?)", (target,))
    cur.fetchone()
    db.execute("SELECT llm_embed('m', 'a fox'), llm_perplexity('m', 'the barn')").fetchone()
    assert gen(db, prompts[0], target) == fwd[0]
    cur.fetchall()
    # and on another connection
    db2 = ctx.connect(os.path.join(ctx.tmp, PATH))
    assert dict(db2.execute("SELECT id, llm_generate('m', prompt, ?) FROM p", (target,))) == fwd
    db2.close()


def test_seeds_and_sampling_options(ctx):
    db = setup(ctx)
    greedy = gen(db, "The quick", GREEDY)
    sampled = {gen(db, "The quick", _opts(temperature=1, max_tokens=40, seed=s)) for s in range(6)}
    assert len(sampled) > 1, sampled
    assert any(s != greedy for s in sampled)
    # filters that leave only the most likely token are greedy, whatever the seed
    for extra in ({"top_k": 1}, {"top_p": 1e-6}, {"min_p": 1.0}):
        got = {gen(db, "The quick", _opts(temperature=1, max_tokens=40, seed=s, **extra)) for s in range(3)}
        assert got == {greedy}, (extra, got, greedy)
    # a high temperature differs from a low one for the same seed
    hot = {gen(db, "The quick", _opts(temperature=2.0, max_tokens=40, seed=s)) for s in range(3)}
    cold = {gen(db, "The quick", _opts(temperature=0.3, max_tokens=40, seed=s)) for s in range(3)}
    assert hot != cold and greedy not in hot, (hot, cold)
    # the greedy text repeats sentences; a strong repetition penalty changes it
    assert gen(db, "The quick", _opts(temperature=0, max_tokens=40, repetition_penalty=3.0)) != greedy


def test_greedy_generation_equals_generate_tokens(ctx):
    db = setup(ctx)
    lengths = 0
    for prompt in ["The quick", "A young", "", DOCS[7]]:
        for k in (1, 7, 40):
            opts = _opts(temperature=0, max_tokens=k)
            rows = gen_tokens(db, prompt, opts)
            tokens, finish = _check_rows(rows, k)
            lengths += finish == "length"
            text = gen_bytes(db, prompt, opts)
            assert joined(rows) == text, (prompt, k, rows, text)
            # each token's piece is its vocabulary entry
            for r in tokens:
                piece = db.execute("SELECT CAST(llm_detokenize('m', ?) AS BLOB)", (f"[{r[1]}]",)).fetchone()[0]
                assert piece == r[3], (r, piece)
            assert db.execute("SELECT llm_token_count('m', ?)", (text,)).fetchone()[0] <= k
    assert lengths == 12  # greedy runs on sentence after sentence here: no eos within 40 tokens


def _per_byte_replace(err):
    # llm_generate's rule: each byte that is not part of valid UTF-8 is one U+FFFD
    return ("\ufffd" * (err.end - err.start), err.end)


codecs.register_error("llm_per_byte", _per_byte_replace)


def test_sampled_generation_equals_generate_tokens(ctx):
    """The same seed gives llm_generate's text token by token: the exact
    bytes, which llm_generate returns with U+FFFD for each byte that is not
    valid UTF-8."""
    db = setup(ctx)
    invalid_seen = 0
    for seed in range(8):
        opts = _opts(temperature=1, max_tokens=40, seed=seed)
        rows = gen_tokens(db, "The quick", opts)
        _check_rows(rows, 40)
        raw = joined(rows)
        want = raw.decode("utf-8", errors="llm_per_byte").encode("utf-8")
        assert want == gen_bytes(db, "The quick", opts), (seed, raw, gen_bytes(db, "The quick", opts))
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            invalid_seen += 1
    # an untrained-enough model at temperature 1 emits stray bytes now and then
    # (so the replacement rule above is exercised, not only the identity)
    assert invalid_seen > 0


def test_eos_ends_generation(ctx):
    db = setup(ctx)
    eot = db.execute("SELECT eot_id FROM llm_tokenizers WHERE name = 'm'").fetchone()[0]
    assert isinstance(eot, int)
    seen = 0
    for seed in range(30):
        rows = gen_tokens(db, "The quick", _opts(temperature=1, max_tokens=200, seed=seed))
        tokens, finish = _check_rows(rows, 200)
        if finish == "eos":
            seen += 1
            assert rows[-1][1] == eot and rows[-1][4] <= 0, rows[-1]
            assert len(tokens) < 200
            assert all(r[1] != eot for r in tokens)
    assert seen > 0


def test_stop_strings(ctx):
    db = setup(ctx)
    full = gen(db, "The quick", _opts(temperature=0, max_tokens=60))
    assert len(full) > 80, full
    mid = len(full) // 2
    stops = [full[mid:mid + 4], full[20:23], ". ", ". The", full[:3], full[-5:]]
    for stop in stops:
        idx = full.find(stop)
        assert idx >= 0, stop
        for form in (stop, [stop]):
            opts = _opts(temperature=0, max_tokens=60, stop=form)
            got = gen(db, "The quick", opts)
            assert got == full[:idx], (stop, got, full[:idx])
            rows = gen_tokens(db, "The quick", opts)
            _check_rows(rows, 60)
            assert rows[-1][5] == "stop", (stop, rows[-1])
            assert joined(rows) == got.encode(), (stop, joined(rows), got)
    # with several stops the earliest occurrence wins, whatever the order
    a, b = full[mid:mid + 4], full[20:23]
    first = min(full.find(a), full.find(b))
    for form in ([a, b], [b, a], [a, "zzzz", b]):
        assert gen(db, "The quick", _opts(temperature=0, max_tokens=60, stop=form)) == full[:first], form
    # a stop that never comes changes nothing
    opts = _opts(temperature=0, max_tokens=60, stop=["zzzz", "qqq"])
    assert gen(db, "The quick", opts) == full
    assert gen_tokens(db, "The quick", opts)[-1][5] == "length"


def test_max_tokens_zero_gives_empty_text(ctx):
    db = setup(ctx)
    assert gen(db, "The quick", _opts(max_tokens=0)) == ""
    assert gen_tokens(db, "The quick", _opts(max_tokens=0)) == [(0, None, None, None, None, "length")]


def test_long_prompts_and_generation_past_the_context(ctx):
    db = setup(ctx)
    prompt = " ".join(DOCS[:15])
    assert db.execute("SELECT llm_token_count('m', ?)", (prompt,)).fetchone()[0] > 4 * BLOCK
    opts = _opts(temperature=0, max_tokens=30)
    out = gen(db, prompt, opts)
    assert out and joined(gen_tokens(db, prompt, opts)) == out.encode()
    # the context ends with a full sentence: the model starts the next one
    assert out.startswith(" ") and out[1:2].isupper(), out
    assert gen(db, prompt, _opts(temperature=1, max_tokens=30, seed=4))
    for k in (100, 300):
        rows = gen_tokens(db, "The quick", _opts(temperature=0, max_tokens=k))
        tokens, finish = _check_rows(rows, k)
        assert finish == "length" and len(tokens) == k, (finish, len(tokens))
        # past the context the window slides and the model stays confident
        tail = [r[4] for r in tokens[-50:]]
        assert sum(tail) / len(tail) > -0.5, tail
        assert gen_bytes(db, "The quick", _opts(temperature=0, max_tokens=k)) == joined(rows)


def test_null_prompt_gives_null(ctx):
    db = setup(ctx)
    assert db.execute("SELECT llm_generate('m', NULL), llm_generate('m', NULL, ?), llm_generate(NULL)",
                      (GREEDY,)).fetchone() == (None, None, None)
    assert db.execute("SELECT * FROM llm_generate_tokens('m', NULL, ?)", (GREEDY,)).fetchall() == []


# ---- the default model --------------------------------------------------------

def test_default_model_with_one_model(ctx):
    db = setup(ctx)
    one = lambda sql, p=(): db.execute(sql, p).fetchone()[0]
    assert one("SELECT llm_use()") == "m"
    assert one("SELECT llm_generate('The quick')") == gen(db, "The quick")
    assert one("SELECT llm_generate(NULL, 'The quick', ?)", (GREEDY,)) == gen(db, "The quick", GREEDY)
    assert one("SELECT llm_embed('a fox')") == embed(db, "a fox")
    assert one("SELECT llm_embed(NULL, 'a fox', '{\"pooling\": \"last\"}')") == embed(db, "a fox", '{"pooling": "last"}')
    assert one("SELECT llm_perplexity('the red barn')") == one("SELECT llm_perplexity('m', 'the red barn')")
    assert one("SELECT llm_logprob('the red barn')") == one("SELECT llm_logprob('m', 'the red barn')")
    assert one("SELECT llm_logprob(NULL, ' barn', 'the red')") == one("SELECT llm_logprob('m', ' barn', 'the red')")
    assert gen_tokens(db, "A lazy", GREEDY, model=None) == gen_tokens(db, "A lazy", GREEDY)
    assert (db.execute("SELECT * FROM llm_chunks(NULL, ?, 5)", (DOCS[0],)).fetchall()
            == db.execute("SELECT * FROM llm_chunks('m', ?, 5)", (DOCS[0],)).fetchall())


SMALL2 = '{"tokenizer": "m", "n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16, "seed": 5}'
ONE_ARG = [("llm_generate", "SELECT llm_generate('The quick')"),
           ("llm_generate", "SELECT llm_generate(NULL, 'The quick', '{\"max_tokens\": 3}')"),
           ("llm_embed", "SELECT llm_embed('a fox')"),
           ("llm_perplexity", "SELECT llm_perplexity('a fox')"),
           ("llm_logprob", "SELECT llm_logprob('a fox')"),
           ("llm_generate_tokens", "SELECT * FROM llm_generate_tokens(NULL, 'The quick')"),
           ("llm_chunks", "SELECT * FROM llm_chunks(NULL, 'The quick', 4)"),
           ("llm_use", "SELECT llm_use()")]


def test_default_model_with_two_models(ctx):
    db = setup(ctx)
    one = lambda sql, p=(): db.execute(sql, p).fetchone()[0]
    db.execute("SELECT llm_model_create('m2', ?)", (SMALL2,)).fetchone()
    for name, sql in ONE_ARG:
        error_starts(ctx, name, sql, (), "'m'", "'m2'", "llm_use")
    assert one("SELECT llm_use('m2')") == "m2"
    assert one("SELECT llm_use()") == "m2"
    assert one("SELECT llm_generate('The quick')") == gen(db, "The quick", model="m2")
    assert one("SELECT llm_generate(NULL, 'The quick', ?)", (GREEDY,)) == gen(db, "The quick", GREEDY, model="m2")
    e = one("SELECT llm_embed('a fox')")
    assert len(e) == 16 * 4 and e == embed(db, "a fox", model="m2")
    assert one("SELECT llm_perplexity('a fox')") == one("SELECT llm_perplexity('m2', 'a fox')")
    assert one("SELECT llm_perplexity('a fox')") != one("SELECT llm_perplexity('m', 'a fox')")
    assert one("SELECT llm_logprob('a fox')") == one("SELECT llm_logprob('m2', 'a fox')")
    assert gen_tokens(db, "A lazy", GREEDY, model=None) == gen_tokens(db, "A lazy", GREEDY, model="m2")
    # an unknown name is refused and leaves the default as it was
    error_starts(ctx, "llm_use", "SELECT llm_use('nope')", (), "'nope'")
    assert one("SELECT llm_use()") == "m2"
    assert one("SELECT llm_use('m')") == "m"
    assert one("SELECT llm_embed('a fox')") == embed(db, "a fox")
    # the default belongs to the connection
    db2 = ctx.connect(os.path.join(ctx.tmp, PATH))
    error_starts(ctx, "llm_embed", "SELECT llm_embed('a fox')", (), "llm_use", db=db2)
    db2.close()
    # NULL goes back to the automatic choice: none with two models
    assert one("SELECT llm_use(NULL)") is None
    for name, sql in ONE_ARG:
        error_starts(ctx, name, sql, (), "'m'", "'m2'", "llm_use")
    # a chosen default that is dropped is an unknown model
    one("SELECT llm_use('m2')")
    assert one("SELECT llm_model_drop('m2')") == 1
    error_starts(ctx, "llm_generate", "SELECT llm_generate('The quick')", (), "no model named 'm2'")
    one("SELECT llm_use(NULL)")
    assert one("SELECT llm_use()") == "m"
    assert one("SELECT llm_generate('The quick')") == gen(db, "The quick")


# ---- the model cache ------------------------------------------------------------

def _state(db):
    """What a retrained model changes: an embedding, the log-probabilities
    of a greedy generation, a perplexity."""
    return (embed(db, DOCS[3]),
            [r[4] for r in gen_tokens(db, "The quick", GREEDY)],
            db.execute("SELECT llm_perplexity('m', ?)", (DOCS[3],)).fetchone()[0])


def test_cache_reloads_after_training_on_the_same_connection(ctx):
    db = setup(ctx)
    before = _state(db)
    assert _state(db) == before
    assert [r[0] for r in train_more(db, STEPS + 20)] == [STEPS + 20]
    assert db.execute("SELECT step FROM llm_models WHERE name = 'm'").fetchone()[0] == STEPS + 20
    after = _state(db)
    for b, a, what in zip(before, after, ("embedding", "logprobs", "perplexity")):
        assert b != a, what
    # and it is what a fresh connection computes from the stored weights
    db2 = ctx.connect(os.path.join(ctx.tmp, PATH))
    assert _state(db2) == after
    db2.close()


def test_cache_notices_other_connections(ctx):
    db = setup(ctx)
    path = os.path.join(ctx.tmp, PATH)
    before = _state(db)
    db2 = ctx.connect(path)
    train_more(db2, STEPS + 20)
    trained = _state(db)
    assert trained != before and trained == _state(db2)
    # re-created with fresh weights by the other connection
    db2.execute("SELECT llm_model_drop('m')").fetchone()
    db2.execute("SELECT llm_model_create('m', ?)", (SMALL2.replace('"tokenizer": "m", ', ''),)).fetchone()
    fresh = db.execute("SELECT llm_perplexity('m', ?)", (DOCS[3],)).fetchone()[0]
    assert fresh == db2.execute("SELECT llm_perplexity('m', ?)", (DOCS[3],)).fetchone()[0]
    assert fresh > 10 * before[2], (fresh, before[2])
    assert len(embed(db, DOCS[3])) == 16 * 4
    # dropped by the other connection
    db2.execute("SELECT llm_model_drop('m')").fetchone()
    db2.close()
    _assert_no_model(ctx, db)


def _assert_no_model(ctx, db):
    for name, sql in [("llm_generate", "SELECT llm_generate('m', 'The quick', '{\"max_tokens\": 3}')"),
                      ("llm_generate_tokens", "SELECT * FROM llm_generate_tokens('m', 'The quick')"),
                      ("llm_embed", "SELECT llm_embed('m', 'a fox')"),
                      ("llm_perplexity", "SELECT llm_perplexity('m', 'a fox')"),
                      ("llm_logprob", "SELECT llm_logprob('m', 'a fox', 'the')")]:
        error_starts(ctx, name, sql, (), "no model named 'm'", db=db)


def test_dropped_model_fails_then_recreated_works(ctx):
    db = setup(ctx)
    before = _state(db)
    assert db.execute("SELECT llm_model_drop('m')").fetchone()[0] == 1
    _assert_no_model(ctx, db)
    db.execute("SELECT llm_model_create('m', ?)", (SMALL2.replace('"tokenizer": "m", ', ''),)).fetchone()
    assert len(embed(db, "a fox")) == 16 * 4
    assert db.execute("SELECT llm_perplexity('m', ?)", (DOCS[3],)).fetchone()[0] > 10 * before[2]


# ---- bad input ------------------------------------------------------------------

BAD_OPTIONS = ['{"max_tokens": -1}', '{"max_tokens": 2000000}', '{"max_tokens": "x"}', '{"max_tokens": 1.5}',
               '{"temperature": -1}', '{"temperature": "hot"}', '{"top_p": 0}', '{"top_p": 1.5}',
               '{"min_p": -0.1}', '{"min_p": 1.5}', '{"top_k": -1}', '{"repetition_penalty": 0}',
               '{"repetition_penalty": -1}', '{"seed": "x"}', '{"colour": 1}', '{"max_token": 5}', 'not json',
               '{"max_tokens": 5', '[1, 2]', '5', '"x"', '{"stop": [1]}', '{"stop": 5}', '{"stop": ""}',
               '{"stop": [""]}', '{"stop": ["a", 2]}', '{"stop": {"a": 1}}', '{"stop": null}',
               '{"stop": ' + json.dumps(["s%d" % i for i in range(100)]) + '}']


def test_bad_input_is_a_clear_error(ctx):
    db = setup(ctx)
    for name, sql in [("llm_generate", "SELECT llm_generate(?, ?, ?)"),
                      ("llm_generate_tokens", "SELECT * FROM llm_generate_tokens(?, ?, ?)")]:
        error_starts(ctx, name, sql, ("nope", "x", "{}"), "no model named 'nope'", "'m'")
        error_starts(ctx, name, sql, (5, "x", "{}"), "model")
        error_starts(ctx, name, sql, ("", "x", "{}"), "model")
        error_starts(ctx, name, sql, ("m", 5, "{}"), "prompt")
        error_starts(ctx, name, sql, ("m", 1.5, "{}"), "prompt")
        for bad in BAD_OPTIONS:
            error_starts(ctx, name, sql, ("m", "The quick", bad))
    for key in ("max_tokens", "temperature", "top_p", "min_p", "top_k", "repetition_penalty", "seed"):
        error_starts(ctx, "llm_generate", "SELECT llm_generate('m', 'x', ?)", (json.dumps({key: "x"}),), key)
    error_starts(ctx, "llm_generate", "SELECT llm_generate('m', 'x', ?)", ('{"colour": 1}',), "colour")
    error_starts(ctx, "llm_generate", "SELECT llm_generate('m', 'x', 5)")
    error_starts(ctx, "llm_generate", "SELECT llm_generate(5)", (), "prompt")
    for bad in ['{"pooling": "max"}', '{"pooling": 1}', '{"normalize": "yes"}', '{"normalize": 1}',
                '{"colour": 1}', 'not json', '[1]']:
        error_starts(ctx, "llm_embed", "SELECT llm_embed('m', 'a fox', ?)", (bad,))
    error_starts(ctx, "llm_embed", "SELECT llm_embed('m', 5)", (), "text")
    error_starts(ctx, "llm_embed", "SELECT llm_embed(5, 'a fox')", (), "model")
    error_starts(ctx, "llm_perplexity", "SELECT llm_perplexity('m', 5)", (), "text")
    error_starts(ctx, "llm_perplexity", "SELECT llm_perplexity('nope', 'a fox')", (), "'nope'")
    error_starts(ctx, "llm_logprob", "SELECT llm_logprob('m', 'a', 5)", (), "prefix")
    error_starts(ctx, "llm_logprob", "SELECT llm_logprob(x'00', 'a')", (), "model")
    error_starts(ctx, "llm_use", "SELECT llm_use(5)", (), "model")
    # none of it hurt the connection
    db2 = ctx.connect(os.path.join(ctx.tmp, PATH))
    assert gen(db, "The quick", GREEDY) == gen(db2, "The quick", GREEDY)
    db2.close()


# ---- interrupts -------------------------------------------------------------------

def _stop_after(db, n_calls):
    state = {"calls": 0}

    def handler():
        state["calls"] += 1
        return 1 if state["calls"] > n_calls else 0

    db.set_progress_handler(handler, 1)
    return state


def test_interrupt_stops_a_long_generation(ctx):
    db = setup(ctx)
    # greedy: it never reaches eos here, so only the interrupt can end it
    long = _opts(temperature=0, max_tokens=100000)
    # a stop string whose start comes often: tokens are held back, no row comes
    held = _opts(temperature=0, max_tokens=100000, stop="the qz")
    for sql, params in [("SELECT llm_generate('m', 'The quick', ?)", (long,)),
                        ("SELECT llm_generate('m', ?, ?)", (" ".join(DOCS), long)),
                        ("SELECT count(*) FROM llm_generate_tokens('m', 'The quick', ?)", (long,)),
                        ("SELECT count(*) FROM llm_generate_tokens('m', 'The quick', ?)", (held,)),
                        ("SELECT llm_generate('m', 'The quick', ?)", (held,))]:
        state = _stop_after(db, 200)
        try:
            db.execute(sql, params).fetchall()
            raise AssertionError(f"{sql} was not interrupted")
        except sqlite3.OperationalError as e:
            assert "interrupt" in str(e), e
        finally:
            db.set_progress_handler(None, 0)
        assert 200 < state["calls"] < 210, state  # it stopped soon after the handler said so
        # the connection works afterwards
        assert gen(db, "The quick", GREEDY).startswith(" brown fox")
        assert db.execute("SELECT count(*) FROM llm_generate_tokens('m', 'A', ?)",
                          (GREEDY,)).fetchone()[0] == 41
