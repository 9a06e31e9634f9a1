"""Scoring texts in SQL: llm_perplexity and llm_logprob (with and without a
prefix, short, long and empty texts), on the small model of
model_fixture.py."""
import json
import math
import os

from model_fixture import BLOCK, DOCS, error_starts, setup

GARBAGE = "zq9 #xv!! kkqp 0w JJx~ qqv ;;; 77"


def _one(db, sql, params=()):
    return db.execute(sql, params).fetchone()[0]


def _lp(db, text, prefix=None):
    if prefix is None:
        return _one(db, "SELECT llm_logprob('m', ?)", (text,))
    return _one(db, "SELECT llm_logprob('m', ?, ?)", (text, prefix))


def _ppl(db, text):
    return _one(db, "SELECT llm_perplexity('m', ?)", (text,))


def _count(db, text):
    return _one(db, "SELECT llm_token_count('m', ?)", (text,))


def test_perplexity_is_exp_of_mean_logprob(ctx):
    db = setup(ctx)
    for text in [DOCS[0], DOCS[10], GARBAGE, "A", " ".join(DOCS[:3]), "héllo 日本語", "\x00\x01"]:
        lp, ppl, n = _lp(db, text), _ppl(db, text), _count(db, text)
        assert n >= 1 and lp < 0 and ppl > 1, (text, lp, ppl, n)
        assert abs(ppl - math.exp(-lp / n)) <= 1e-9 * ppl, (text, ppl, math.exp(-lp / n))
        assert _lp(db, text) == lp and _ppl(db, text) == ppl
        assert _one(db, "SELECT llm_logprob('m', CAST(? AS BLOB))", (text,)) == lp
        assert _one(db, "SELECT llm_perplexity('m', CAST(? AS BLOB))", (text,)) == ppl
    # the model learnt its sentences, not noise
    trained, noise = _ppl(db, DOCS[0]), _ppl(db, GARBAGE)
    assert trained < 2 and noise > 10 * trained, (trained, noise)
    assert _ppl(db, "The quick brown fox runs past the lazy dog.") < _ppl(db, "The dog brown quick fox lazy past runs.")
    # the same on another connection
    db2 = ctx.connect(os.path.join(ctx.tmp, "test.db"))
    assert _one(db2, "SELECT llm_perplexity('m', ?)", (DOCS[0],)) == trained
    db2.close()


def _ids(db, text):
    return json.loads(_one(db, "SELECT llm_tokenize('m', ?)", (text,)))


def test_logprob_with_a_prefix_is_conditional(ctx):
    db = setup(ctx)
    pairs = [("The quick", " brown fox"), ("The lazy", " dog sleeps"), (DOCS[0], " " + DOCS[1]),
             ("A young girl", " sings for the big tree."), ("My", " little bird")]
    for prefix, text in pairs:
        # the tokenization splits at the boundary (the GPT-2 split keeps " word" together)
        assert _ids(db, prefix + text) == _ids(db, prefix) + _ids(db, text), (prefix, text)
        cond = _lp(db, text, prefix)
        joint = _lp(db, prefix + text) - _lp(db, prefix)
        assert abs(cond - joint) < 1e-3, (prefix, text, cond, joint)
        assert cond < 0 and cond != _lp(db, text), (prefix, text)
    # the context helps: " brown fox" is what follows "The quick"
    assert _lp(db, " brown fox", "The quick") > _lp(db, " brown fox")
    # an empty or NULL prefix is no prefix
    for text in (" brown fox", DOCS[4]):
        assert _lp(db, text, "") == _lp(db, text)
        assert _one(db, "SELECT llm_logprob('m', ?, NULL)", (text,)) == _lp(db, text)
    assert _lp(db, "", "The quick") == 0.0
    assert _one(db, "SELECT llm_logprob('m', NULL, 'The quick')") is None


def test_long_texts_score_in_windows(ctx):
    db = setup(ctx)
    long = " ".join(DOCS * 3)
    n = _count(db, long)
    assert n > 30 * BLOCK, n
    lp, ppl = _lp(db, long), _ppl(db, long)
    assert math.isfinite(lp) and lp < 0 and math.isfinite(ppl), (lp, ppl)
    assert abs(ppl - math.exp(-lp / n)) <= 1e-9 * ppl
    # every window keeps context: the per-token perplexity stays near a sentence's
    assert ppl < 3, ppl
    assert _ppl(db, long) == ppl
    noise = GARBAGE * 40
    assert _count(db, noise) > 10 * BLOCK
    assert math.isfinite(_lp(db, noise)) and _ppl(db, noise) > 10 * ppl
    # a long prefix works too
    cond = _lp(db, " " + DOCS[0], long)
    assert math.isfinite(cond) and cond < 0


def test_empty_and_null_texts(ctx):
    db = setup(ctx)
    assert _ppl(db, "") is None
    lp = _lp(db, "")
    assert lp == 0.0 and isinstance(lp, float), lp
    assert db.execute("SELECT llm_perplexity('m', NULL), llm_logprob('m', NULL), llm_perplexity(NULL), "
                      "llm_logprob(NULL)").fetchone() == (None, None, None, None)


def test_score_bad_input(ctx):
    db = setup(ctx)
    for fn in ("llm_perplexity", "llm_logprob"):
        error_starts(ctx, fn, f"SELECT {fn}('nope', 'a fox')", (), "no model named 'nope'", "'m'")
        error_starts(ctx, fn, f"SELECT {fn}('m', 5)", (), "text")
        error_starts(ctx, fn, f"SELECT {fn}('m', 2.5)", (), "text")
        error_starts(ctx, fn, f"SELECT {fn}(5, 'a fox')", (), "model")
    error_starts(ctx, "llm_logprob", "SELECT llm_logprob('m', 'a fox', 5)", (), "prefix")
    assert _ppl(db, DOCS[0]) < 2
