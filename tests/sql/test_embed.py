"""Embeddings, vector distances and chunking in SQL: llm_embed,
llm_cosine_distance, llm_l2_distance and llm_chunks, on the small model of
model_fixture.py. Vectors are decoded with struct and the reference math
is pure Python in double precision."""
import math
import os
import struct

from model_fixture import DOCS, N_EMBD, decode, embed, error_starts, max_diff, norm, setup

DIM_BYTES = N_EMBD * 4


def _unit(v):
    n = norm(v)
    return [x / n for x in v]


# ---- llm_embed ------------------------------------------------------------------

def test_embedding_is_a_unit_float32_vector(ctx):
    db = setup(ctx)
    e = embed(db, DOCS[0])
    assert isinstance(e, bytes) and len(e) == DIM_BYTES, e
    assert db.execute("SELECT subtype(llm_embed('m', ?))", (DOCS[0],)).fetchone()[0] == 223
    assert db.execute("SELECT subtype(llm_embed('m', ?, '{\"normalize\": false}'))", (DOCS[0],)).fetchone()[0] == 223
    v = decode(e)
    assert all(math.isfinite(x) for x in v)
    assert abs(norm(v) - 1) < 1e-5, norm(v)
    # the same bytes every time, as a BLOB too, and on another connection
    assert embed(db, DOCS[0]) == e
    assert db.execute("SELECT llm_embed('m', CAST(? AS BLOB))", (DOCS[0],)).fetchone()[0] == e
    db.execute("SELECT llm_generate('m', 'The', '{\"max_tokens\": 20}')").fetchone()
    assert embed(db, DOCS[0]) == e
    db2 = ctx.connect(os.path.join(ctx.tmp, "test.db"))
    assert embed(db2, DOCS[0]) == e
    db2.close()
    # every text its own vector
    vecs = {t: decode(embed(db, t)) for t in DOCS[:8] + ["a fox", "A fox"]}
    texts = list(vecs)
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            if a != b:
                assert max_diff(vecs[a], vecs[b]) > 1e-4, (a, b)


def test_embedding_options(ctx):
    db = setup(ctx)
    mean = decode(embed(db, DOCS[2]))
    assert decode(embed(db, DOCS[2], '{"pooling": "mean", "normalize": true}')) == mean
    assert decode(embed(db, DOCS[2], "{}")) == mean
    assert decode(embed(db, DOCS[2], None)) == mean
    raw = decode(embed(db, DOCS[2], '{"normalize": false}'))
    assert len(raw) == N_EMBD and abs(norm(raw) - 1) > 1e-3, norm(raw)
    assert max_diff(_unit(raw), mean) < 1e-6
    last = decode(embed(db, DOCS[2], '{"pooling": "last"}'))
    assert abs(norm(last) - 1) < 1e-5 and max_diff(last, mean) > 1e-3
    raw_last = decode(embed(db, DOCS[2], '{"pooling": "last", "normalize": false}'))
    assert max_diff(_unit(raw_last), last) < 1e-6 and max_diff(raw_last, raw) > 1e-3
    # one token: its mean is its last
    assert db.execute("SELECT llm_token_count('m', 'A')").fetchone()[0] == 1
    assert max_diff(decode(embed(db, "A")), decode(embed(db, "A", '{"pooling": "last"}'))) < 1e-6


def test_embedding_of_long_empty_and_null_texts(ctx):
    db = setup(ctx)
    long = " ".join(DOCS)
    assert db.execute("SELECT llm_token_count('m', ?)", (long,)).fetchone()[0] > 10 * 32
    for opts in (None, '{"pooling": "last"}'):
        v = decode(embed(db, long, opts))
        assert len(v) == N_EMBD and all(math.isfinite(x) for x in v) and abs(norm(v) - 1) < 1e-5
        assert embed(db, long, opts) == embed(db, long, opts)
        assert max_diff(v, decode(embed(db, DOCS[0], opts))) > 1e-4
    # the last token's state sees only the context window before it
    assert decode(embed(db, long)) != decode(embed(db, long, '{"pooling": "last"}'))
    assert db.execute("SELECT llm_embed('m', NULL), llm_embed('m', NULL, '{}'), llm_embed(NULL)").fetchone() == (
        None, None, None)
    empty = embed(db, "")
    assert isinstance(empty, bytes) and len(empty) == DIM_BYTES
    assert abs(norm(decode(empty)) - 1) < 1e-5
    assert max_diff(decode(empty), decode(embed(db, "", '{"pooling": "last"}'))) < 1e-6
    assert empty != embed(db, "A")


# ---- distances ----------------------------------------------------------------------

def _py_cosine(a, b):
    dot = math.fsum(x * y for x, y in zip(a, b))
    return 1.0 - dot / (norm(a) * norm(b))


def _py_l2(a, b):
    return math.sqrt(math.fsum((x - y) ** 2 for x, y in zip(a, b)))


def _f32(*v):
    return struct.pack(f"<{len(v)}f", *v)


def test_distances_match_python(ctx):
    db = setup(ctx)
    blobs = [embed(db, t) for t in DOCS[:4]] + [embed(db, DOCS[0], '{"normalize": false}')]
    hand = [_f32(1, 0, 0, 0), _f32(0.9, 0.1, 0, 0), _f32(-1, 2, 0.5, 3), _f32(1e-3, -2e-3, 7, 1), _f32(3, 3, 3, 3)]
    for group in (blobs, hand):
        for a in group:
            for b in group:
                cos, l2 = db.execute("SELECT llm_cosine_distance(?, ?), llm_l2_distance(?, ?)", (a, b, a, b)).fetchone()
                va, vb = decode(a), decode(b)
                assert abs(cos - _py_cosine(va, vb)) < 1e-6, (cos, _py_cosine(va, vb))
                assert abs(l2 - _py_l2(va, vb)) < 1e-6, (l2, _py_l2(va, vb))
                if a == b:
                    assert abs(cos) < 1e-12 and l2 == 0.0, (cos, l2)
    assert abs(db.execute("SELECT llm_cosine_distance(?, ?)", (hand[0], hand[2])).fetchone()[0]
               - (1 - (-1) / math.sqrt(1 + 4 + 0.25 + 9))) < 1e-7
    assert db.execute("SELECT llm_l2_distance(?, ?)", (_f32(0, 0), _f32(3, 4))).fetchone()[0] == 5.0
    # the nearest text to a text is itself
    db.execute("CREATE TABLE e(id INTEGER PRIMARY KEY, body TEXT, v BLOB)")
    db.executemany("INSERT INTO e(id, body) VALUES (?, ?)", list(enumerate(DOCS[:10])))
    db.execute("UPDATE e SET v = llm_embed('m', body)")
    for i in (0, 3, 9):
        assert db.execute("SELECT id FROM e ORDER BY llm_cosine_distance(v, llm_embed('m', ?)) LIMIT 1",
                          (DOCS[i],)).fetchone()[0] == i
        assert db.execute("SELECT id FROM e ORDER BY llm_l2_distance(v, (SELECT v FROM e WHERE id = ?)) LIMIT 1",
                          (i,)).fetchone()[0] == i


def test_distance_null_and_errors(ctx):
    db = setup(ctx)
    a = embed(db, DOCS[0])
    for fn in ("llm_cosine_distance", "llm_l2_distance"):
        sql = f"SELECT {fn}(?, ?)"
        for args in ((None, a), (a, None), (None, None), (None, "x")):
            assert db.execute(sql, args).fetchone()[0] is None, (fn, args)
        error_starts(ctx, fn, sql, ("abc", a), "argument 1")
        error_starts(ctx, fn, sql, (a, 5), "argument 2")
        error_starts(ctx, fn, sql, (1.5, a), "argument 1")
        error_starts(ctx, fn, sql, (b"\0" * 5, b"\0" * 5), "5 bytes")
        error_starts(ctx, fn, sql, (a, a + b"\0"))
        error_starts(ctx, fn, sql, (b"", b""))
        error_starts(ctx, fn, sql, (b"", a))
        error_starts(ctx, fn, sql, (a, b""))
        error_starts(ctx, fn, sql, (a, a[:16]), "differ")
        error_starts(ctx, fn, sql, (_f32(1, 2), _f32(1, 2, 3)), "2 and 3")
        error_starts(ctx, fn, sql, (_f32(float("inf"), 1), _f32(1, 1)), "finite")
    error_starts(ctx, "llm_cosine_distance", "SELECT llm_cosine_distance(?, ?)", (bytes(DIM_BYTES), a), "zero")
    error_starts(ctx, "llm_cosine_distance", "SELECT llm_cosine_distance(?, ?)", (a, bytes(DIM_BYTES)), "zero")
    error_starts(ctx, "llm_cosine_distance", "SELECT llm_cosine_distance(zeroblob(8), zeroblob(8))", (), "zero")
    # the L2 distance to the zero vector is the norm
    assert abs(db.execute("SELECT llm_l2_distance(?, ?)", (bytes(DIM_BYTES), a)).fetchone()[0] - 1) < 1e-5
    # a NaN is a non-finite value, not a zero vector
    for fn in ("llm_l2_distance", "llm_cosine_distance"):
        for nan in (_f32(float("nan"), 1), _f32(1, float("nan"))):
            error_starts(ctx, fn, f"SELECT {fn}(?, ?)", (nan, _f32(1, 1)), "finite")
            error_starts(ctx, fn, f"SELECT {fn}(?, ?)", (_f32(1, 1), nan), "finite")


# ---- llm_chunks -----------------------------------------------------------------------

def _chunks(db, text, max_tokens, overlap=None, model="m"):
    args = (model, text, max_tokens) + (() if overlap is None else (overlap,))
    q = ", ".join("?" * len(args))
    return db.execute(f'SELECT chunk, CAST(text AS BLOB), start, "end", token_start, token_end, n_tokens '
                      f"FROM llm_chunks({q})", args).fetchall()


def _check_chunks(rows, data, n_tokens, max_tokens, overlap, exact=True):
    """rows of llm_chunks over data (bytes) of n_tokens tokens."""
    assert [r[0] for r in rows] == list(range(len(rows))), rows
    assert rows[0][2] == 0 and rows[0][4] == 0, rows[0]
    assert rows[-1][3] == len(data) and rows[-1][5] == n_tokens, (rows[-1], len(data), n_tokens)
    for chunk, text, start, end, t0, t1, n in rows:
        assert text == data[start:end], (chunk, text, data[start:end])
        assert n == t1 - t0 and 1 <= n <= max_tokens, (chunk, n, t0, t1, max_tokens)
    for cur, nxt in zip(rows, rows[1:]):
        assert nxt[2] <= cur[3] and nxt[2] >= cur[2], (cur, nxt)  # covered, moving forward
        if exact:
            assert nxt[4] == cur[5] - overlap, (cur, nxt, overlap)
        else:
            assert cur[4] < nxt[4] <= cur[5], (cur, nxt)


def test_chunks_cover_the_text(ctx):
    db = setup(ctx)
    text = " ".join(DOCS[:12])
    data = text.encode()
    n = db.execute("SELECT llm_token_count('m', ?)", (text,)).fetchone()[0]
    toks = db.execute('SELECT start, "end" FROM llm_tokens(\'m\', ?) ORDER BY position', (text,)).fetchall()
    assert len(toks) == n and n > 100
    for max_tokens, overlap in [(8, None), (8, 0), (8, 2), (5, 4), (1, 0), (32, 7), (1000, 0), (n, 3)]:
        ov = overlap or 0
        rows = _chunks(db, text, max_tokens, overlap)
        _check_chunks(rows, data, n, max_tokens, ov)
        for chunk, _, start, end, t0, t1, k in rows:
            assert start == toks[t0][0] and end == toks[t1 - 1][1], (chunk, start, end, toks[t0], toks[t1 - 1])
            assert k == max_tokens or chunk == len(rows) - 1, (chunk, k)  # ASCII: every window full
        expected = 1 if n <= max_tokens else 1 + math.ceil((n - max_tokens) / (max_tokens - ov))
        assert len(rows) == expected, (max_tokens, overlap, len(rows), expected)
        if ov == 0:
            assert b"".join(r[1] for r in rows) == data
        assert _chunks(db, data, max_tokens, overlap) == rows  # a BLOB gives the same
    assert _chunks(db, "fox", 8) == [(0, b"fox", 0, 3, 0, db.execute("SELECT llm_token_count('m', 'fox')").fetchone()[0],
                                      db.execute("SELECT llm_token_count('m', 'fox')").fetchone()[0])]
    assert _chunks(db, None, 8) == [] and _chunks(db, None, 8, 2) == []
    assert _chunks(db, "", 8) == []
    # one row per document, joined
    db.execute("CREATE TABLE d(id INTEGER PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO d(body) VALUES (?)", [(t,) for t in DOCS[:5]])
    got = db.execute("SELECT d.id, c.chunk, c.text FROM d, llm_chunks('m', d.body, 4) c ORDER BY d.id, c.chunk").fetchall()
    for i, t in enumerate(DOCS[:5], 1):
        assert "".join(x for j, _, x in got if j == i) == t


def test_chunks_of_multibyte_text_are_valid_utf8(ctx):
    db = setup(ctx)
    text = "héllo wörld 日本語 " * 10
    data = text.encode()
    n = db.execute("SELECT llm_token_count('m', ?)", (text,)).fetchone()[0]
    for max_tokens, overlap in [(3, 0), (4, 1), (5, 2), (4, 3), (7, 3), (16, 4), (6, 0)]:
        rows = _chunks(db, text, max_tokens, overlap)
        _check_chunks(rows, data, n, max_tokens, overlap, exact=False)
        for r in rows:
            r[1].decode("utf-8")  # raises on a cut character
        if overlap == 0:
            assert b"".join(r[1] for r in rows) == data


def test_chunks_bad_arguments(ctx):
    db = setup(ctx)
    for bad in (0, -1, "x", 1e7, 10000000, 2.5, None, b"8"):
        error_starts(ctx, "llm_chunks", "SELECT * FROM llm_chunks('m', 'the lazy dog', ?)", (bad,), "max_tokens")
    for bad in (8, 9, -1, "x", 1.5, None):
        error_starts(ctx, "llm_chunks", "SELECT * FROM llm_chunks('m', 'the lazy dog', 8, ?)", (bad,), "overlap")
    error_starts(ctx, "llm_chunks", "SELECT * FROM llm_chunks('nope', 'the lazy dog', 8)", (), "'nope'")
    error_starts(ctx, "llm_chunks", "SELECT * FROM llm_chunks('m', 5, 8)", (), "text")
    error_starts(ctx, "llm_chunks", "SELECT * FROM llm_chunks('m', 'the lazy dog')")
    assert len(_chunks(db, "the lazy dog", 2)) > 1
