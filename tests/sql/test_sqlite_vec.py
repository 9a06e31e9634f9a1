"""Our embeddings in the real sqlite-vec (https://github.com/asg017/sqlite-vec).

sqlite-vec's prebuilt vec0 extension comes from npm (the `sqlite-vec`
package, pinned in tests/oracle/package.json; `make test` runs `npm ci`
there, which installs the platform's `sqlite-vec-<os>-<cpu>/vec0.so`). It is
loaded next to llm.so into Debian's /usr/bin/python3 sqlite3 module (SQLite
3.40.1): vec0 works there, but its KNN queries must say `k = N`, because
the `... ORDER BY distance LIMIT N` form needs SQLite 3.41 or newer.

Without vec0.so these tests fail (they never skip). The reference distances
are computed here in pure Python, in double precision, from the BLOBs
decoded with struct.
"""
import json
import math
import os
import platform
import sqlite3
import struct

DIM = 32
DOCS = [
    "The quick brown fox jumps over the lazy dog.",
    "The lazy dog sleeps; the quick fox runs away.",
    "A fox, a dog, and the long summer afternoon.",
    "Stock markets fell sharply as interest rates rose again.",
    "The central bank raised interest rates by half a point.",
    "Bond yields climbed while shares slid on Wall Street.",
    "Whisk the eggs with sugar, then fold in the flour.",
    "Bake the bread for forty minutes in a hot oven.",
    "Add salt, pepper and a spoonful of olive oil to the pan.",
    "The striker scored twice in the second half of the match.",
    "Our goalkeeper saved a penalty in extra time.",
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
    "SELECT id, body FROM docs WHERE id > 3 ORDER BY id;",
    "Ils sont partis tôt le matin pour éviter la pluie.",
]
MODEL = '{"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "seed": 11}'
# 300 steps (well under a second): after only ~30 the model has learnt little
# more than the byte frequencies, and every text's mean hidden state points
# the same way (cosine distances of 1e-6 to 1e-5, too close to rank); by 300
# the nearest other text is over 1e-3 away and neighbours are 1e-4 apart.
RUN = ('{"steps": 300, "batch_size": 4, "log_every": 100, "eval_every": 300, "eval_batches": 2,'
       ' "checkpoint_every": 300, "warmup_steps": 10, "lr": 3e-3, "threads": 2}')
APART = 5e-4  # every text's nearest other text is at least this far (cosine distance)
TIE = 1e-5  # distances closer than this may come in either order


# ---- loading vec0 --------------------------------------------------------

def _vec0_path(ctx):
    cpu = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine())
    pkg = f"sqlite-vec-{platform.system().lower()}-{cpu}"
    return os.path.join(ctx.root, "tests", "oracle", "node_modules", pkg, "vec0.so")


def _pinned_version(ctx):
    with open(os.path.join(ctx.root, "tests", "oracle", "package.json"), encoding="utf-8") as f:
        return json.load(f)["dependencies"]["sqlite-vec"]


def _load_vec0(ctx, db=None):
    db = db or ctx.db
    path = _vec0_path(ctx)
    assert os.path.isfile(path), (
        f"sqlite-vec's extension is missing ({path}): run `make test`, which installs it "
        f"with `npm ci` in tests/oracle")
    db.enable_load_extension(True)
    db.load_extension(path)
    version = db.execute("SELECT vec_version()").fetchone()[0]
    assert version == "v" + _pinned_version(ctx), (version, _pinned_version(ctx))
    return db


# ---- reference math, in double precision -----------------------------------

def _decode(blob):
    assert isinstance(blob, bytes) and len(blob) % 4 == 0, blob
    return struct.unpack(f"<{len(blob) // 4}f", blob)


def _dot(a, b):
    return math.fsum(x * y for x, y in zip(a, b))


def _norm(a):
    return math.sqrt(_dot(a, a))


def _l2(a, b):
    return math.sqrt(math.fsum((x - y) ** 2 for x, y in zip(a, b)))


def _cosine_distance(a, b):
    return 1.0 - _dot(a, b) / (_norm(a) * _norm(b))


def _assert_ranking(got, ref, what):
    """got: [(id, distance)] in the order a query returned them; ref: {id:
    reference distance}. The ids must be exactly ref's, each distance must
    match its reference, and the order must be ref's ascending order, where
    only distances within TIE of each other may come in either order."""
    ids = [i for i, _ in got]
    assert sorted(ids) == sorted(ref), f"{what}: ids {ids} are not {sorted(ref)}"
    for i, d in got:
        assert abs(d - ref[i]) < TIE, f"{what}: id {i} at distance {d}, reference {ref[i]}"
    expected = sorted(ref, key=lambda i: ref[i])
    for pos, (i, j) in enumerate(zip(ids, expected)):
        assert i == j or abs(ref[i] - ref[j]) < TIE, (
            f"{what}: position {pos} holds id {i} ({ref[i]}), expected id {j} ({ref[j]}); "
            f"order {ids}, expected {expected}")


# ---- (a) vec0 itself, on hand-made vectors --------------------------------

HAND = {
    1: [1, 0, 0, 0, 0, 0, 0, 0],
    2: [0.9, 0.1, 0, 0, 0, 0, 0, 0],
    3: [0, 1, 0, 0, 0, 0, 0, 0],
    4: [0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0],
    5: [-1, 0, 0, 0, 0, 0, 0, 0],
    6: [0, 0, 0, 0, 1, 1, 1, 1],
    7: [0.7, -0.2, 0.1, 0, 0.3, 0, 0, 0.1],
    8: [2, 0.5, 0, 0, 0, 0, 0, -0.5],
    9: [0.25, 0.25, -0.75, 0.5, -0.5, 0.25, 0.125, 0],
    10: [3, 3, 3, 3, 3, 3, 3, 3],
}
QUERY = [0.8, 0.3, 0.05, 0.1, 0.0, -0.1, 0.0, 0.0]


def _f32(v):
    return struct.pack("<8f", *v)


def test_vec0_knn_over_hand_made_vectors(ctx):
    db = _load_vec0(ctx)
    # vec0 and our extension live in one connection
    assert json.loads(ctx.one("SELECT llm_version()"))
    db.execute("CREATE VIRTUAL TABLE v USING vec0(embedding float[8])")
    db.execute("CREATE VIRTUAL TABLE c USING vec0(embedding float[8] distance_metric=cosine)")
    for i, vec in HAND.items():
        db.execute("INSERT INTO v(rowid, embedding) VALUES (?, ?)", (i, _f32(vec)))
        db.execute("INSERT INTO c(rowid, embedding) VALUES (?, ?)", (i, _f32(vec)))
    assert ctx.one("SELECT count(*) FROM v") == len(HAND)
    # the reference works on the float32 values actually stored
    stored = {i: _decode(_f32(v)) for i, v in HAND.items()}
    q = _decode(_f32(QUERY))

    l2 = {i: _l2(q, v) for i, v in stored.items()}
    nearest = sorted(l2, key=lambda i: l2[i])
    assert nearest[:3] == [2, 1, 7], nearest  # worked out by hand as well
    got = db.execute("SELECT rowid, distance FROM v WHERE embedding MATCH ? AND k = 3 "
                     "ORDER BY distance", (_f32(QUERY),)).fetchall()
    assert [i for i, _ in got] == nearest[:3], (got, nearest)
    for i, d in got:
        assert abs(d - l2[i]) < 1e-5, (i, d, l2[i])
    # all of them, in order
    _assert_ranking(db.execute("SELECT rowid, distance FROM v WHERE embedding MATCH ? AND k = ?",
                               (_f32(QUERY), len(HAND))).fetchall(), l2, "vec0 L2")

    cos = {i: _cosine_distance(q, v) for i, v in stored.items()}
    got = db.execute("SELECT rowid, distance FROM c WHERE embedding MATCH ? AND k = ?",
                     (_f32(QUERY), len(HAND))).fetchall()
    _assert_ranking(got, cos, "vec0 cosine")
    # by direction only: 2 (cos 0.955) just ahead of 8 (0.951), then 1; 5 points away
    assert [i for i, _ in got[:3]] == [2, 8, 1] and got[-1][0] == 5, got

    # the query vector as sqlite-vec's JSON text gives the same answer
    as_json = json.dumps(QUERY)
    assert db.execute("SELECT rowid FROM v WHERE embedding MATCH ? AND k = 3",
                      (as_json,)).fetchall() == [(i,) for i in nearest[:3]]
    # a wrong dimension is refused
    ctx.error("SELECT rowid FROM v WHERE embedding MATCH ? AND k = 3", (struct.pack("<4f", 1, 2, 3, 4),),
              "dimension")
    # Debian's SQLite predates the LIMIT form (3.41): note it, so that a newer
    # SQLite is noticed rather than silently assumed
    if sqlite3.sqlite_version_info < (3, 41, 0):
        ctx.error("SELECT rowid FROM v WHERE embedding MATCH ? ORDER BY distance LIMIT 3",
                  (_f32(QUERY),), "k = ?")
    else:
        assert db.execute("SELECT rowid FROM v WHERE embedding MATCH ? ORDER BY distance LIMIT 3",
                          (_f32(QUERY),)).fetchall() == [(i,) for i in nearest[:3]]


# ---- (b) llm_embed vectors in vec0 ------------------------------------------

def _trained(ctx):
    db = ctx.db
    db.execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT, emb BLOB)")
    db.executemany("INSERT INTO docs(id, body) VALUES (?, ?)", list(enumerate(DOCS, 1)))
    db.execute("SELECT llm_tokenizer_train('m', 'SELECT body FROM docs', 256)").fetchone()
    db.execute("SELECT llm_model_create('m', ?)", (MODEL,)).fetchone()
    rows = db.execute("SELECT step, loss FROM llm_train('m', 'SELECT body FROM docs', ?)", (RUN,)).fetchall()
    assert [s for s, _ in rows] == [100, 200, 300], rows
    db.execute("UPDATE docs SET emb = llm_embed('m', body)")
    return {i: e for i, e in db.execute("SELECT id, emb FROM docs ORDER BY id")}


def test_llm_embed_vectors_knn_in_vec0(ctx):
    db = _load_vec0(ctx)
    blobs = _trained(ctx)
    vecs = {i: _decode(b) for i, b in blobs.items()}
    for i, v in vecs.items():
        assert len(blobs[i]) == 4 * DIM and len(v) == DIM, (i, len(blobs[i]))
        assert abs(_norm(v) - 1) < 1e-5, (i, _norm(v))
    # the texts differ, so must their vectors: otherwise the ranking means nothing
    closest = min((_cosine_distance(vecs[i], vecs[j]), i, j) for i in vecs for j in vecs if i < j)
    assert closest[0] > APART, f"embeddings nearly collinear: documents {closest[1:]} at {closest[0]}"

    db.execute(f"CREATE VIRTUAL TABLE vc USING vec0(embedding float[{DIM}] distance_metric=cosine)")
    db.execute(f"CREATE VIRTUAL TABLE vl USING vec0(embedding float[{DIM}])")
    db.execute("INSERT INTO vc(rowid, embedding) SELECT id, emb FROM docs")
    # straight from the function too (its result carries sqlite-vec's float32 subtype)
    db.execute("INSERT INTO vl(rowid, embedding) SELECT id, llm_embed('m', body) FROM docs")
    assert ctx.one("SELECT count(*) FROM vc") == len(DOCS) == ctx.one("SELECT count(*) FROM vl")

    n = len(DOCS)
    for qid in vecs:
        q = blobs[qid]
        ref = {i: _cosine_distance(vecs[qid], v) for i, v in vecs.items()}
        knn = db.execute("SELECT rowid, distance FROM vc WHERE embedding MATCH ? AND k = ? "
                         "ORDER BY distance", (q, n)).fetchall()
        _assert_ranking(knn, ref, f"vec0 cosine, query {qid}")
        assert knn[0][0] == qid and abs(knn[0][1]) < 1e-5, knn[:2]
        assert knn[1][1] > APART, f"query {qid}: another document at distance {knn[1][1]}"
        # k = 3 gives the first three of those
        top3 = db.execute("SELECT rowid FROM vc WHERE embedding MATCH ? AND k = 3", (q,)).fetchall()
        assert [i for i, in top3] == [i for i, _ in knn[:3]], (top3, knn[:3])

        ours = db.execute("SELECT id, llm_cosine_distance(emb, ?) AS d FROM docs ORDER BY d, id",
                          (q,)).fetchall()
        _assert_ranking(ours, ref, f"llm_cosine_distance, query {qid}")
        assert ours[0][0] == qid and abs(ours[0][1]) < 1e-5, ours[:2]
        for (i, d), (j, e) in zip(sorted(knn), sorted(ours)):
            assert i == j and abs(d - e) < 1e-5, (i, d, e)

        # L2 on unit vectors orders like cosine: |a - b|^2 = 2 (1 - cos)
        l2ref = {i: _l2(vecs[qid], v) for i, v in vecs.items()}
        knn_l2 = db.execute("SELECT rowid, distance FROM vl WHERE embedding MATCH ? AND k = ?",
                            (q, n)).fetchall()
        _assert_ranking(knn_l2, l2ref, f"vec0 L2, query {qid}")
        assert [i for i, _ in knn_l2][0] == qid
        for i, d in knn_l2:
            assert abs(d * d / 2 - ref[i]) < 1e-5, (i, d, ref[i])
        ours_l2 = db.execute("SELECT id, llm_l2_distance(emb, ?) AS d FROM docs ORDER BY d, id",
                             (q,)).fetchall()
        _assert_ranking(ours_l2, l2ref, f"llm_l2_distance, query {qid}")

    # a KNN result joined back to the documents
    top = db.execute("WITH knn AS (SELECT rowid, distance FROM vc WHERE embedding MATCH "
                     "(SELECT emb FROM docs WHERE id = 4) AND k = 2) "
                     "SELECT docs.id, docs.body FROM knn JOIN docs ON docs.id = knn.rowid "
                     "ORDER BY knn.distance").fetchall()
    assert top[0] == (4, DOCS[3]) and len(top) == 2, top


def test_sqlite_vec_reads_our_blobs(ctx):
    db = _load_vec0(ctx)
    blobs = _trained(ctx)
    assert db.execute("SELECT count(*) FROM docs WHERE vec_length(emb) = ?", (DIM,)).fetchone()[0] == len(DOCS)
    assert ctx.one("SELECT vec_length(llm_embed('m', 'a new text'))") == DIM
    # sqlite-vec's float32 subtype, as on its own vectors
    assert ctx.one("SELECT subtype(llm_embed('m', 'a new text'))") == 223
    assert ctx.one("SELECT subtype(vec_f32('[1, 2]'))") == 223
    # sqlite-vec's JSON of our vector is our floats
    for i, b in blobs.items():
        as_json = json.loads(ctx.one("SELECT vec_to_json(emb) FROM docs WHERE id = ?", (i,)))
        assert len(as_json) == DIM and all(abs(x - y) < 1e-6 for x, y in zip(as_json, _decode(b))), i

    pairs = db.execute("SELECT a.id, b.id, vec_distance_cosine(a.emb, b.emb), llm_cosine_distance(a.emb, b.emb), "
                       "vec_distance_l2(a.emb, b.emb), llm_l2_distance(a.emb, b.emb) "
                       "FROM docs a, docs b").fetchall()
    assert len(pairs) == len(DOCS) ** 2
    for i, j, vc, lc, vl, ll in pairs:
        assert abs(vc - lc) < 1e-5, (i, j, vc, lc)
        assert abs(vl - ll) < 1e-5, (i, j, vl, ll)
        ref = _cosine_distance(_decode(blobs[i]), _decode(blobs[j]))
        assert abs(lc - ref) < 1e-5, (i, j, lc, ref)
    # and ours reads sqlite-vec's vectors
    a, b = [0.6, 0.8, 0, 0], [1, 0, 0, 0]
    got = ctx.one("SELECT llm_cosine_distance(vec_f32(?), vec_f32(?))", (json.dumps(a), json.dumps(b)))
    assert abs(got - 0.4) < 1e-6, got
    got = ctx.one("SELECT llm_l2_distance(vec_f32(?), vec_f32(?))", (json.dumps(a), json.dumps(b)))
    assert abs(got - math.sqrt(0.16 + 0.64)) < 1e-6, got
