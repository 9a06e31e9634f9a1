"""SQL-level tests of the tokenizer functions: llm_version, llm_tokenizer_train,
llm_tokenizer_import, llm_tokenizer_drop, llm_tokenize, llm_token_count,
llm_detokenize and the llm_tokens table-valued function.

Expected values come from public facts (GPT-2's ids for "Hello world") or from
reference computations in Python in this file: a naive BPE trainer, OpenAI's
GPT-2 encoder algorithm run on encoder.json / vocab.bpe, and GPT-2's
pre-tokenization pattern, which Python's `re` reproduces exactly on ASCII
text (the test corpora are checked to be ASCII).

Run: /usr/bin/python3 tests/sql/harness.py ./llm.so tests/sql/test_tokenizer.py
"""
import collections
import hashlib
import json
import os
import random
import re
import sqlite3

EOT = "<|endoftext|>"

# GPT-2's pattern. With re.ASCII, on ASCII input, \s, [A-Za-z] and [0-9] are
# exactly the Unicode White_Space, \p{L} and \p{N} classes of the original.
GPT2_PAT = re.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""", re.ASCII
)


# ---------------------------------------------------------------- helpers


def shared_file(ctx, *parts):
    path = os.path.join(ctx.shared, *parts)
    assert os.path.isfile(path), f"missing shared data file {path}"
    return path


def shakespeare(ctx):
    with open(shared_file(ctx, "tinyshakespeare.txt"), encoding="utf-8") as f:
        text = f.read()
    assert len(text) > 1_000_000, "tinyshakespeare.txt looks truncated"
    return text


def is_ascii_corpus(lines):
    return all(all(32 <= ord(ch) < 127 for ch in line) for line in lines)


def make_corpus(db, lines, table="corpus"):
    db.execute(f"CREATE TABLE {table}(line TEXT)")
    db.execute("BEGIN")
    db.executemany(f"INSERT INTO {table}(line) VALUES (?)", [(l,) for l in lines])
    db.execute("COMMIT")


def train(db, name, sql, vocab_size, options=None):
    if options is None:
        row = db.execute("SELECT llm_tokenizer_train(?, ?, ?)", (name, sql, vocab_size)).fetchone()
    else:
        opts = options if isinstance(options, str) else json.dumps(options)
        row = db.execute("SELECT llm_tokenizer_train(?, ?, ?, ?)", (name, sql, vocab_size, opts)).fetchone()
    return json.loads(row[0])


def tokenize(db, name, text, options=None):
    if options is None:
        return json.loads(db.execute("SELECT llm_tokenize(?, ?)", (name, text)).fetchone()[0])
    return json.loads(db.execute("SELECT llm_tokenize(?, ?, ?)", (name, text, options)).fetchone()[0])


def detok_bytes(db, name, ids):
    row = db.execute(
        "SELECT typeof(d), CAST(d AS BLOB) FROM (SELECT llm_detokenize(?, ?) AS d)", (name, json.dumps(ids))
    ).fetchone()
    assert row[0] == "text", f"llm_detokenize returned {row[0]}, not text"
    return bytes(row[1])


def tables(db):
    return sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


def schema(db):
    return sorted(db.execute("SELECT type, name, sql FROM sqlite_master").fetchall())


def vocab_rows(db, name):
    return db.execute(
        "SELECT id, kind, piece, rank, left_id, right_id FROM llm_vocab WHERE tokenizer = ? ORDER BY id", (name,)
    ).fetchall()


def expect_error(db, sql, params, *fragments):
    try:
        rows = db.execute(sql, params).fetchall()
    except sqlite3.Error as e:
        for f in fragments:
            assert f in str(e), f"error {str(e)!r} lacks {f!r} (sql: {sql})"
        return str(e)
    raise AssertionError(f"expected an error from {sql!r}, got {rows!r}")


def ref_train(piece_counts, n_merges, min_frequency):
    """Naive byte-level BPE: recount every pair at every step; the best pair
    has the highest count, ties going to the smallest (left, right); stop
    when the best count is below min_frequency. piece_counts: bytes -> n."""
    words = {}
    for p, c in piece_counts.items():
        if len(p) >= 2:
            words[tuple(p)] = words.get(tuple(p), 0) + c
    merges = []
    for k in range(n_merges):
        counts = collections.Counter()
        for w, c in words.items():
            for pair in zip(w, w[1:]):
                counts[pair] += c
        if not counts:
            break
        best = min(counts, key=lambda pr: (-counts[pr], pr))
        if counts[best] < min_frequency:
            break
        new = 256 + k
        merges.append((best, counts[best]))
        nxt = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(new)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            if len(out) >= 2:
                nxt[tuple(out)] = nxt.get(tuple(out), 0) + c
        words = nxt
    return merges


def gpt2_pieces(text):
    pieces = GPT2_PAT.findall(text)
    assert "".join(pieces) == text
    return pieces


def gpt2_byte_encoder():
    """OpenAI's bytes_to_unicode()."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(
        range(ord("\xae"), ord("\xff") + 1)
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Gpt2Reference:
    """OpenAI's GPT-2 encoder (encoder.py), on its own files."""

    def __init__(self, ctx):
        with open(shared_file(ctx, "gpt2", "encoder.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(shared_file(ctx, "gpt2", "vocab.bpe"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        assert lines[0].startswith("#version"), lines[0]
        self.merges = [tuple(l.split(" ")) for l in lines[1:] if l]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.byte_enc = gpt2_byte_encoder()
        self.byte_dec = {v: k for k, v in self.byte_enc.items()}
        self.cache = {}

    def token_bytes(self, tok):
        return bytes(self.byte_dec[ch] for ch in tok)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        self.cache[token] = word
        return word

    def encode_ascii(self, text):
        ids = []
        for piece in gpt2_pieces(text):
            enc = "".join(self.byte_enc[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(enc))
        return ids


def import_gpt2(ctx, db=None, name="g"):
    db = db or ctx.db
    enc = shared_file(ctx, "gpt2", "encoder.json")
    bpe = shared_file(ctx, "gpt2", "vocab.bpe")
    return json.loads(db.execute("SELECT llm_tokenizer_import(?, 'gpt2', ?, ?)", (name, enc, bpe)).fetchone()[0])


def random_unicode(rng, n):
    ranges = [
        (0x20, 0x7E), (0x09, 0x0D), (0xA0, 0xFF), (0x100, 0x17F), (0x370, 0x3FF), (0x400, 0x4FF),
        (0x300, 0x36F), (0x600, 0x6FF), (0x900, 0x97F), (0x3000, 0x303F), (0x4E00, 0x9FFF),
        (0xAC00, 0xD7A3), (0x1F300, 0x1F64F), (0x2000, 0x206F), (0xFF00, 0xFFEF), (0x10000, 0x1007F),
        (0x1D400, 0x1D7FF), (0xE000, 0xE0FF), (0x00, 0x1F),
    ]
    out = []
    for _ in range(n):
        lo, hi = rng.choice(ranges)
        out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


# ---------------------------------------------------------------- version, loading


def test_version_is_json_with_build_facts(ctx):
    v = json.loads(ctx.one("SELECT llm_version()"))
    for key in ("version", "sqlite", "openblas", "zstd", "simd"):
        assert key in v, f"llm_version() lacks {key!r}: {v}"
        assert isinstance(v[key], str) and v[key], f"{key} is {v[key]!r}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", v["version"]), v["version"]
    assert v["sqlite"] == sqlite3.sqlite_version, (v["sqlite"], sqlite3.sqlite_version)
    assert re.fullmatch(r"\d+\.\d+\.\d+", v["zstd"]), v["zstd"]
    assert ctx.one("SELECT json_valid(llm_version())") == 1


def test_loading_creates_no_table(ctx):
    db = ctx.db
    db.execute("CREATE TABLE mine(x)")
    before = schema(db)
    ctx.one("SELECT llm_version()")
    ctx.error("SELECT llm_tokenize('nope', 'hello')", (), "llm_tokenize:", "nope")
    ctx.error("SELECT llm_detokenize('nope', '[1]')", (), "llm_detokenize:", "nope")
    ctx.error("SELECT * FROM llm_tokens('nope', 'hello')", (), "llm_tokens:", "nope")
    assert schema(db) == before, (before, schema(db))
    # and a second connection that merely loads the extension sees the same
    other = ctx.connect(os.path.join(ctx.tmp, "test.db"))
    try:
        assert schema(other) == before
    finally:
        other.close()


def test_drop_of_missing_tokenizer_writes_nothing(ctx):
    # Dropping a tokenizer that does not exist changes nothing: it must not
    # create the llm_* tables, and works on a read-only database.
    db = ctx.db
    db.execute("CREATE TABLE mine(x)")
    before = schema(db)
    assert ctx.one("SELECT llm_tokenizer_drop('nope')") == 0
    assert schema(db) == before, f"llm_tokenizer_drop('nope') changed the schema: {schema(db)}"
    path = os.path.join(ctx.tmp, "ro.db")
    plain = sqlite3.connect(path)
    plain.execute("CREATE TABLE mine(x)")
    plain.commit()
    plain.close()
    ro = ctx.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert ro.execute("SELECT llm_tokenizer_drop('nope')").fetchone()[0] == 0
    finally:
        ro.close()


def test_readonly_database_stays_byte_identical(ctx):
    path = os.path.join(ctx.tmp, "ro.db")
    rw = ctx.connect(path)
    make_corpus(rw, ["to be or not to be", "that is the question"] * 20)
    train(rw, "t", "SELECT line FROM corpus", 300)
    expected_ids = tokenize(rw, "t", "to be or not")
    rw.close()
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    files = sorted(os.listdir(ctx.tmp))

    ro = ctx.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert json.loads(ro.execute("SELECT llm_version()").fetchone()[0])["version"]
        assert tokenize(ro, "t", "to be or not") == expected_ids
        assert ro.execute("SELECT llm_token_count('t', 'to be or not')").fetchone()[0] == len(expected_ids)
        assert detok_bytes(ro, "t", expected_ids) == b"to be or not"
        rows = ro.execute("SELECT id FROM llm_tokens('t', 'to be or not')").fetchall()
        assert [r[0] for r in rows] == expected_ids
        expect_error(ro, "SELECT llm_tokenize('nope', 'x')", (), "llm_tokenize:", "no tokenizer named 'nope'")
        # writes are refused with an error, not half-done
        expect_error(ro, "SELECT llm_tokenizer_train('t2', 'SELECT line FROM corpus', 300)", (),
                     "llm_tokenizer_train:")
        expect_error(ro, "SELECT llm_tokenizer_drop('t')", (), "llm_tokenizer_drop:")
        assert tokenize(ro, "t", "to be or not") == expected_ids
    finally:
        ro.close()
    with open(path, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == digest, "the read-only database changed"
    assert sorted(os.listdir(ctx.tmp)) == files, (files, os.listdir(ctx.tmp))

    # the same for a read-only database that never had any llm_* table
    path2 = os.path.join(ctx.tmp, "plain.db")
    plain = sqlite3.connect(path2)
    plain.execute("CREATE TABLE t(x)")
    plain.execute("INSERT INTO t VALUES ('hello')")
    plain.commit()
    plain.close()
    with open(path2, "rb") as f:
        digest2 = hashlib.sha256(f.read()).hexdigest()
    ro = ctx.connect(f"file:{path2}?mode=ro", uri=True)
    try:
        ro.execute("SELECT llm_version()").fetchone()
        expect_error(ro, "SELECT llm_tokenize('t', x) FROM t", (), "llm_tokenize:", "no tokenizer named 't'")
        expect_error(ro, "SELECT llm_detokenize('t', '[1]')", (), "llm_detokenize:")
        expect_error(ro, "SELECT * FROM llm_tokens('t', 'x')", (), "llm_tokens:")
        expect_error(ro, "SELECT llm_tokenizer_train('t', 'SELECT x FROM t', 256)", (), "llm_tokenizer_train:")
        assert tables(ro) == ["t"]
    finally:
        ro.close()
    with open(path2, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == digest2


# ---------------------------------------------------------------- training on tinyshakespeare


def check_trained_tables(db, name, summary, vocab_size, n_special_names):
    n_merges = summary["merges"]
    n_vocab = summary["n_vocab"]
    assert n_vocab == 256 + n_merges + len(n_special_names)
    rows = vocab_rows(db, name)
    assert len(rows) == n_vocab, (len(rows), n_vocab)
    assert [r[0] for r in rows] == list(range(n_vocab))
    pieces = {}
    for id_, kind, piece, rank, left, right in rows:
        assert isinstance(piece, bytes), f"piece of id {id_} is {type(piece)}, not a BLOB"
        pieces[id_] = piece
        if id_ < 256:
            assert (kind, piece, rank, left, right) == ("byte", bytes([id_]), None, None, None), rows[id_]
        elif id_ < 256 + n_merges:
            assert kind == "merge", rows[id_]
            assert rank == id_ - 256, f"id {id_} has rank {rank}"
            assert 0 <= left < id_ and 0 <= right < id_, rows[id_]
            assert piece == pieces[left] + pieces[right], rows[id_]
        else:
            assert kind == "special" and rank is None and left is None and right is None, rows[id_]
            assert piece == n_special_names[id_ - 256 - n_merges].encode(), rows[id_]
    # the same facts in SQL, through a self-join
    bad = db.execute(
        "SELECT count(*) FROM llm_vocab m JOIN llm_vocab l ON l.tokenizer = m.tokenizer AND l.id = m.left_id "
        "JOIN llm_vocab r ON r.tokenizer = m.tokenizer AND r.id = m.right_id "
        "WHERE m.tokenizer = ? AND m.kind = 'merge' AND m.piece IS NOT CAST(l.piece || r.piece AS BLOB)", (name,)
    ).fetchone()[0]
    assert bad == 0
    ranks = [r[0] for r in db.execute(
        "SELECT rank FROM llm_vocab WHERE tokenizer = ? AND kind = 'merge' ORDER BY rank", (name,))]
    assert ranks == list(range(n_merges))
    # merged pieces are all distinct (a merge never re-creates a token)
    merged = [pieces[i] for i in range(256, 256 + n_merges)]
    assert len(set(merged)) == len(merged)
    return pieces


def test_train_tinyshakespeare_summary_and_tables(ctx):
    db = ctx.db
    text = shakespeare(ctx)
    lines = text.split("\n")
    make_corpus(db, lines)
    nonempty = [l for l in lines if l]
    assert is_ascii_corpus(nonempty)
    distinct = len(set(p for l in nonempty for p in gpt2_pieces(l)))
    for vocab in (512, 1024):
        name = f"t{vocab}"
        s = train(db, name, "SELECT line FROM corpus", vocab)
        assert s["name"] == name
        assert s["merges"] == vocab - 256, s
        assert s["special_tokens"] == 1
        assert s["n_vocab"] == vocab + 1
        assert isinstance(s["seconds"], (int, float)) and s["seconds"] >= 0
        c = s["config"]
        assert c["pretokenize"] == "gpt2"
        assert c["vocab_size"] == vocab
        assert c["requested_vocab_size"] == vocab
        assert c["min_frequency"] == 2
        assert c["special"] == [EOT]
        assert c["corpus_rows"] == len(nonempty), (c["corpus_rows"], len(nonempty))
        assert c["corpus_bytes"] == sum(len(l.encode()) for l in nonempty)
        assert c["distinct_pieces"] == distinct, (c["distinct_pieces"], distinct)

        row = db.execute(
            "SELECT kind, source, pretokenize, n_vocab, eot_id, config, typeof(uid), created_at "
            "FROM llm_tokenizers WHERE name = ?", (name,)).fetchone()
        kind, source, pretok, n_vocab, eot_id, config, uid_type, created = row
        assert (kind, source, pretok, n_vocab) == ("bpe", "trained", "gpt2", vocab + 1), row
        assert eot_id == vocab, f"eot_id {eot_id}, expected the last id {vocab}"
        assert json.loads(config) == c
        assert uid_type == "integer"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", created), created

        pieces = check_trained_tables(db, name, s, vocab, [EOT])
        assert pieces[vocab] == EOT.encode()
    # the two trainings share their first 256 merges (same corpus, same rule)
    a = vocab_rows(db, "t512")[256:512]
    b = vocab_rows(db, "t1024")[256:512]
    assert a == b
    assert db.execute("SELECT count(*) FROM llm_tokenizers").fetchone()[0] == 2


def test_round_trip_and_counts_on_corpus(ctx):
    db = ctx.db
    text = shakespeare(ctx)
    lines = text.split("\n")
    make_corpus(db, lines)
    train(db, "t512", "SELECT line FROM corpus", 512)
    train(db, "t1024", "SELECT line FROM corpus", 1024)
    for name in ("t512", "t1024"):
        bad = db.execute(
            "SELECT count(*) FROM corpus WHERE llm_detokenize(?1, llm_tokenize(?1, line)) IS NOT line", (name,)
        ).fetchone()[0]
        assert bad == 0, f"{bad} lines of the corpus do not round-trip with {name}"
        bad = db.execute(
            "SELECT count(*) FROM corpus WHERE llm_token_count(?1, line) IS NOT json_array_length(llm_tokenize(?1, line))",
            (name,),
        ).fetchone()[0]
        assert bad == 0
        # the whole text at once, newlines included
        ids = tokenize(db, name, text)
        assert detok_bytes(db, name, ids) == text.encode()
        assert ctx.one("SELECT llm_token_count(?, ?)", (name, text)) == len(ids)
    n512, n1024, nbytes = db.execute(
        "SELECT sum(llm_token_count('t512', line)), sum(llm_token_count('t1024', line)), "
        "sum(length(CAST(line AS BLOB))) FROM corpus").fetchone()
    assert n1024 < n512 < nbytes, (n1024, n512, nbytes)
    # the byte tokenizer gives exactly one token per byte
    train(db, "b", "SELECT line FROM corpus", 256)
    assert ctx.one("SELECT sum(llm_token_count('b', line)) FROM corpus") == nbytes


def test_round_trip_random_unicode(ctx):
    db = ctx.db
    rng = random.Random(1234)
    corpus = [random_unicode(rng, rng.randint(1, 60)) for _ in range(300)]
    make_corpus(db, corpus)
    train(db, "t", "SELECT line FROM corpus", 600)
    train(db, "n", "SELECT line FROM corpus", 600, {"pretokenize": "none"})
    import_gpt2(ctx)
    samples = [random_unicode(rng, rng.randint(0, 80)) for _ in range(300)]
    samples += ["", " ", "  \n\n ", "\u3000\u00a0x", "a\x00b", EOT, "x" * 5000, "\U0001F600" * 50]
    for name in ("t", "n", "g"):
        for s in samples:
            ids = tokenize(db, name, s)
            assert detok_bytes(db, name, ids) == s.encode("utf-8"), (name, s)
            assert ctx.one("SELECT llm_token_count(?, ?)", (name, s)) == len(ids)
            back = ctx.one("SELECT llm_detokenize(?, llm_tokenize(?, ?))", (name, name, s))
            assert back == s, (name, s, back)


# ---------------------------------------------------------------- reference trainer


def corpus_prefix(ctx, max_bytes):
    out, total = [], 0
    for line in shakespeare(ctx).split("\n"):
        if total >= max_bytes:
            break
        out.append(line)
        total += len(line) + 1
    assert is_ascii_corpus(out)
    return out


def stored_merges(db, name):
    return [(r[0], r[1]) for r in db.execute(
        "SELECT left_id, right_id FROM llm_vocab WHERE tokenizer = ? AND kind = 'merge' ORDER BY rank", (name,))]


def test_trainer_matches_python_reference_gpt2_pretokenized(ctx):
    db = ctx.db
    lines = corpus_prefix(ctx, 20000)
    make_corpus(db, lines)
    counts = collections.Counter(p.encode() for l in lines if l for p in gpt2_pieces(l))
    n = 400
    ref = ref_train(counts, n, 2)
    s = train(db, "t", "SELECT line FROM corpus", 256 + n)
    got = stored_merges(db, "t")
    assert s["merges"] == len(got) == len(ref), (s["merges"], len(got), len(ref))
    for k, ((pair, cnt), g) in enumerate(zip(ref, got)):
        assert pair == g, f"merge {k}: reference {pair} (count {cnt}), extension {g}"
    # and a different min_frequency, which stops training early
    ref5 = ref_train(counts, 5000, 5)
    assert len(ref5) < 5000 and ref5[-1][1] >= 5
    s5 = train(db, "t5", "SELECT line FROM corpus", 256 + 5000, {"min_frequency": 5})
    assert s5["merges"] == len(ref5), (s5["merges"], len(ref5))
    assert s5["config"]["vocab_size"] == 256 + len(ref5)
    assert s5["config"]["requested_vocab_size"] == 256 + 5000
    assert stored_merges(db, "t5") == [p for p, _ in ref5]
    # encoding a line equals applying the merges by rank within each piece
    ranks = {pair: (k, 256 + k) for k, (pair, _) in enumerate(ref)}
    for line in lines[:300]:
        want = []
        for piece in gpt2_pieces(line):
            syms = list(piece.encode())
            while len(syms) > 1:
                cands = [(ranks[(a, b)][0], i) for i, (a, b) in enumerate(zip(syms, syms[1:])) if (a, b) in ranks]
                if not cands:
                    break
                r, i = min(cands)
                syms[i:i + 2] = [256 + r]
            want.extend(syms)
        assert tokenize(db, "t", line) == want, line


def test_trainer_matches_python_reference_no_pretokenization(ctx):
    db = ctx.db
    lines = corpus_prefix(ctx, 8000)
    make_corpus(db, lines)
    counts = collections.Counter(l.encode() for l in lines if l)
    n = 300
    ref = ref_train(counts, n, 2)
    s = train(db, "t", "SELECT line FROM corpus", 256 + n, {"pretokenize": "none"})
    assert s["config"]["pretokenize"] == "none"
    assert ctx.one("SELECT pretokenize FROM llm_tokenizers WHERE name = 't'") == "none"
    got = stored_merges(db, "t")
    assert len(got) == len(ref), (len(got), len(ref))
    for k, ((pair, cnt), g) in enumerate(zip(ref, got)):
        assert pair == g, f"merge {k}: reference {pair} (count {cnt}), extension {g}"


# ---------------------------------------------------------------- options


def test_vocab_256_is_a_byte_tokenizer(ctx):
    db = ctx.db
    make_corpus(db, ["abcabcabc", "hello hello hello"] * 10)
    s = train(db, "b", "SELECT line FROM corpus", 256)
    assert s["merges"] == 0 and s["n_vocab"] == 257, s
    assert tokenize(db, "b", "abc") == [97, 98, 99]
    assert tokenize(db, "b", "h\u00e9\u20ac") == list("h\u00e9\u20ac".encode())
    assert tokenize(db, "b", EOT) == list(EOT.encode())
    assert tokenize(db, "b", EOT, '{"allow_special": true}') == [256]
    rows = vocab_rows(db, "b")
    assert len(rows) == 257
    assert rows[256][:3] == (256, "special", EOT.encode())
    assert ctx.one("SELECT eot_id FROM llm_tokenizers WHERE name = 'b'") == 256
    assert ctx.one("SELECT n_vocab FROM llm_tokenizers WHERE name = 'b'") == 257


def test_pretokenize_none_merges_across_spaces(ctx):
    db = ctx.db
    make_corpus(db, ["of the king and of the queen", "of the realm, of the crown"] * 50)
    train(db, "none", "SELECT line FROM corpus", 320, {"pretokenize": "none"})
    train(db, "gpt2", "SELECT line FROM corpus", 320)
    word_space_word = re.compile(rb"[a-z] [a-z]")
    none_pieces = [r[0] for r in db.execute("SELECT piece FROM llm_vocab WHERE tokenizer = 'none' AND kind = 'merge'")]
    gpt2_pieces_ = [r[0] for r in db.execute("SELECT piece FROM llm_vocab WHERE tokenizer = 'gpt2' AND kind = 'merge'")]
    assert any(word_space_word.search(p) for p in none_pieces), none_pieces
    assert not any(word_space_word.search(p) for p in gpt2_pieces_), gpt2_pieces_
    # without pre-tokenization a whole frequent phrase becomes few tokens
    assert len(tokenize(db, "none", "of the king")) < len(tokenize(db, "gpt2", "of the king"))
    assert detok_bytes(db, "none", tokenize(db, "none", "of the king, of the realm")) == b"of the king, of the realm"


def test_special_option(ctx):
    db = ctx.db
    make_corpus(db, ["to be or not to be"] * 30)
    s = train(db, "t", "SELECT line FROM corpus", 270, {"special": ["<|a|>", "<|b|>"]})
    m = s["merges"]
    assert s["special_tokens"] == 2 and s["n_vocab"] == 256 + m + 2, s
    assert s["config"]["special"] == ["<|a|>", "<|b|>"]
    rows = vocab_rows(db, "t")
    assert rows[256 + m][:3] == (256 + m, "special", b"<|a|>")
    assert rows[256 + m + 1][:3] == (256 + m + 1, "special", b"<|b|>")
    assert ctx.one("SELECT eot_id FROM llm_tokenizers WHERE name = 't'") is None
    assert ctx.one("SELECT count(*) FROM llm_vocab WHERE tokenizer = 't' AND kind = 'special'") == 2
    ids = tokenize(db, "t", "x<|a|>y<|b|><|endoftext|>", '{"allow_special": true}')
    assert ids[0] == ord("x") and ids[1] == 256 + m and ids[2] == ord("y") and ids[3] == 256 + m + 1, ids
    assert detok_bytes(db, "t", ids) == b"x<|a|>y<|b|><|endoftext|>"
    plain = tokenize(db, "t", "x<|a|>y")
    assert 256 + m not in plain and detok_bytes(db, "t", plain) == b"x<|a|>y"
    # an empty list is allowed: no special token at all
    s2 = train(db, "t2", "SELECT line FROM corpus", 270, {"special": []})
    assert s2["special_tokens"] == 0 and s2["n_vocab"] == 256 + s2["merges"], s2
    assert ctx.one("SELECT eot_id FROM llm_tokenizers WHERE name = 't2'") is None
    assert ctx.one("SELECT count(*) FROM llm_vocab WHERE tokenizer = 't2' AND kind = 'special'") == 0


def test_min_frequency_huge_means_no_merges(ctx):
    db = ctx.db
    make_corpus(db, ["aaaa bbbb aaaa bbbb"] * 40)
    s = train(db, "t", "SELECT line FROM corpus", 1000, {"min_frequency": 10**15})
    assert s["merges"] == 0 and s["n_vocab"] == 257, s
    assert s["config"]["min_frequency"] == 10**15
    assert tokenize(db, "t", "aaaa") == [97] * 4
    # the pair "aa" occurs 40 * 2 * 3 = 240 times: min_frequency 240 keeps it, 241 does not
    s = train(db, "t240", "SELECT line FROM corpus", 257, {"min_frequency": 240})
    assert s["merges"] == 1
    s = train(db, "t241", "SELECT line FROM corpus", 257, {"min_frequency": 241})
    assert s["merges"] == 0


def test_allow_special(ctx):
    db = ctx.db
    make_corpus(db, ["hello world, hello there"] * 30)
    train(db, "t", "SELECT line FROM corpus", 300)
    eot = ctx.one("SELECT eot_id FROM llm_tokenizers WHERE name = 't'")
    assert eot == ctx.one("SELECT n_vocab - 1 FROM llm_tokenizers WHERE name = 't'")
    text = "x<|endoftext|>y"
    for name, eot_id in (("t", eot), ("g", 50256)):
        if name == "g":
            import_gpt2(ctx)
        plain = tokenize(db, name, text)
        assert eot_id not in plain, plain
        assert detok_bytes(db, name, plain) == text.encode()
        assert tokenize(db, name, text, '{"allow_special": false}') == plain
        special = tokenize(db, name, text, '{"allow_special": true}')
        assert special.count(eot_id) == 1, special
        assert detok_bytes(db, name, special) == text.encode()
        assert len(special) < len(plain)
        assert ctx.one("SELECT llm_token_count(?, ?)", (name, text)) == len(plain)
        assert ctx.one("SELECT llm_token_count(?, ?, '{\"allow_special\": true}')", (name, text)) == len(special)
        rows = [r[0] for r in db.execute("SELECT id FROM llm_tokens(?, ?)", (name, text))]
        assert rows == plain
        rows = [r[0] for r in db.execute("SELECT id FROM llm_tokens(?, ?, '{\"allow_special\": true}')", (name, text))]
        assert rows == special
        # NULL options are the defaults
        assert json.loads(ctx.one("SELECT llm_tokenize(?, ?, NULL)", (name, text))) == plain


# ---------------------------------------------------------------- GPT-2


def test_gpt2_import_summary_and_known_ids(ctx):
    db = ctx.db
    s = import_gpt2(ctx)
    assert s == {"name": "g", "n_vocab": 50257, "merges": 50000, "special_tokens": 1}, s
    row = db.execute(
        "SELECT kind, source, pretokenize, n_vocab, eot_id FROM llm_tokenizers WHERE name = 'g'").fetchone()
    assert row == ("bpe", "gpt2", "gpt2", 50257, 50256), row
    assert tokenize(db, "g", "Hello world") == [15496, 995]
    assert ctx.one("SELECT llm_token_count('g', 'Hello world')") == 2
    assert detok_bytes(db, "g", [15496, 995]) == b"Hello world"
    plain = tokenize(db, "g", EOT)
    assert plain != [50256] and 50256 not in plain, plain
    assert tokenize(db, "g", EOT, '{"allow_special": true}') == [50256]
    assert ctx.one("SELECT count(*) FROM llm_vocab WHERE tokenizer = 'g'") == 50257


def test_gpt2_tables_match_the_files(ctx):
    db = ctx.db
    import_gpt2(ctx)
    ref = Gpt2Reference(ctx)
    rows = vocab_rows(db, "g")
    assert len(rows) == len(ref.encoder) == 50257
    by_id = {v: k for k, v in ref.encoder.items()}
    kinds = collections.Counter()
    for id_, kind, piece, rank, left, right in rows:
        assert piece == ref.token_bytes(by_id[id_]), id_
        kinds[kind] += 1
    assert kinds == {"byte": 256, "merge": 50000, "special": 1}, kinds
    for r, (a, b) in enumerate(ref.merges):
        id_ = ref.encoder[a + b]
        _, kind, _, rank, left, right = rows[id_]
        assert (kind, rank, left, right) == ("merge", r, ref.encoder[a], ref.encoder[b]), (r, a, b, rows[id_])


def test_gpt2_encoding_matches_openai_algorithm(ctx):
    db = ctx.db
    import_gpt2(ctx)
    ref = Gpt2Reference(ctx)
    lines = shakespeare(ctx).split("\n")[:3000]
    assert is_ascii_corpus(lines)
    lines += ["Hello world", "It's 2023: they'll say 'hi'   and\tgo!!", "  leading and trailing  ",
              "numbers 1234567 and words", "a\n\nb\n"]
    for line in lines:
        assert tokenize(db, "g", line) == ref.encode_ascii(line), line
    chunk = "\n".join(lines[:500])
    assert tokenize(db, "g", chunk) == ref.encode_ascii(chunk)


def test_gpt2_bytes_and_invalid_utf8(ctx):
    db = ctx.db
    import_gpt2(ctx)
    make_corpus(db, ["abc def ghi", "\u00e9t\u00e9 \u20ac 100"] * 20)
    train(db, "t", "SELECT line FROM corpus", 300)
    rng = random.Random(99)
    samples = [bytes(rng.randrange(256) for _ in range(rng.randint(0, 64))) for _ in range(300)]
    samples += [b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x00\xff\x00"]
    for name in ("g", "t"):
        for raw in samples:
            ids = json.loads(db.execute("SELECT llm_tokenize(?, ?)", (name, raw)).fetchone()[0])
            typ, back = db.execute(
                "SELECT typeof(d), CAST(d AS BLOB) FROM (SELECT llm_detokenize(?, ?) AS d)", (name, json.dumps(ids))
            ).fetchone()
            assert typ == "text", typ
            assert bytes(back or b"") == raw, (name, raw, ids)
            assert db.execute("SELECT llm_token_count(?, ?)", (name, raw)).fetchone()[0] == len(ids)
            got = b"".join(r[0] for r in db.execute("SELECT bytes FROM llm_tokens(?, ?)", (name, raw)))
            assert got == raw
    # invalid UTF-8 text made in SQL
    ok = ctx.one(
        "SELECT CAST(llm_detokenize('g', llm_tokenize('g', CAST(x'ff41c3' AS TEXT))) AS BLOB) = x'ff41c3'")
    assert ok == 1
    assert ctx.one("SELECT hex(llm_detokenize('g', llm_tokenize('g', CAST(x'ff41c3' AS TEXT))))") == "FF41C3"
    # a single id that is half of a multi-byte character gives that raw byte
    c3 = ctx.one("SELECT id FROM llm_vocab WHERE tokenizer = 'g' AND piece = x'c3'")
    assert c3 is not None
    assert detok_bytes(db, "g", [c3]) == b"\xc3"
    assert detok_bytes(db, "g", [c3, c3]) == b"\xc3\xc3"
    assert ctx.one("SELECT typeof(llm_detokenize('g', ?))", (json.dumps([c3]),)) == "text"
    # a character split over several tokens: each token alone is raw bytes
    text = "\u9f98\U0001F9EC\u2e80"
    toks = db.execute("SELECT id, bytes FROM llm_tokens('g', ?)", (text,)).fetchall()
    assert len(toks) > 3, toks
    pieces = [detok_bytes(db, "g", [i]) for i, _ in toks]
    assert pieces == [bytes(b) for _, b in toks]
    assert b"".join(pieces) == text.encode()
    assert any(not _valid_utf8(p) for p in pieces), pieces
    assert detok_bytes(db, "g", []) == b""


def _valid_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# ---------------------------------------------------------------- llm_tokens


def test_llm_tokens_columns_and_offsets(ctx):
    db = ctx.db
    import_gpt2(ctx)
    cur = db.execute("SELECT * FROM llm_tokens('g', 'Hello world')")
    assert [d[0] for d in cur.description] == ["position", "id", "piece", "bytes", "start", "end"]
    rows = cur.fetchall()
    assert rows == [(0, 15496, "Hello", b"Hello", 0, 5), (1, 995, " world", b" world", 5, 11)], rows
    rng = random.Random(7)
    texts = ["", "a", "The quick brown fox, jumped!  \n\n over 12345 lazy dogs' backs.",
             "\u00e9t\u00e9 \u4e2d\u6587 \U0001F600\U0001F600 caf\u00e9"]
    texts += [random_unicode(rng, rng.randint(1, 50)) for _ in range(50)]
    for text in texts:
        raw = text.encode()
        rows = db.execute(
            'SELECT position, id, CAST(piece AS BLOB), bytes, start, "end", typeof(piece), typeof(bytes) FROM llm_tokens(?, ?)',
            ("g", text),
        ).fetchall()
        assert [r[1] for r in rows] == tokenize(db, "g", text)
        assert [r[0] for r in rows] == list(range(len(rows)))
        assert b"".join(r[3] for r in rows) == raw
        pos = 0
        for position, id_, piece, bts, start, end, tp, tb in rows:
            assert (tp, tb) == ("text", "blob")
            assert piece == bts
            assert start == pos and end == start + len(bts), (text, rows)
            assert raw[start:end] == bts
            pos = end
        assert pos == len(raw)
        # substr(CAST(text AS BLOB), start + 1, end - start) is the piece
        bad = db.execute(
            'SELECT count(*) FROM llm_tokens(?1, ?2) WHERE substr(CAST(?2 AS BLOB), start + 1, "end" - start) '
            "IS NOT bytes OR CAST(piece AS BLOB) IS NOT bytes",
            ("g", text),
        ).fetchone()[0]
        assert bad == 0
    assert db.execute("SELECT * FROM llm_tokens('g', NULL)").fetchall() == []
    assert db.execute("SELECT count(*) FROM llm_tokens('g', '')").fetchone()[0] == 0
    named = db.execute("SELECT * FROM llm_tokens WHERE name = 'g' AND text = 'hi'").fetchall()
    assert [r[1] for r in named] == tokenize(db, "g", "hi") and len(named) >= 1
    assert db.execute("SELECT id FROM llm_tokens WHERE name = 'g' AND text = 'Hello world' "
                      "AND options = '{\"allow_special\": false}'").fetchall() == [(15496,), (995,)]
    # as a join over a table: one set of rows per row
    make_corpus(db, ["alpha beta", None, "", "gamma delta epsilon", "alpha beta"])
    got = db.execute("SELECT c.rowid, t.id FROM corpus c, llm_tokens('g', c.line) t ORDER BY c.rowid, t.position").fetchall()
    want = []
    for rowid, line in db.execute("SELECT rowid, line FROM corpus ORDER BY rowid").fetchall():
        if line:
            want.extend((rowid, i) for i in tokenize(db, "g", line))
    assert got == want
    assert ctx.one("SELECT count(*) FROM corpus c, llm_tokens('g', c.line)") == ctx.one(
        "SELECT sum(llm_token_count('g', line)) FROM corpus")


# ---------------------------------------------------------------- cache and transactions


def test_cache_sees_changes_from_another_connection(ctx):
    a = ctx.db
    make_corpus(a, ["the cat sat on the mat with the hat"] * 20 + ["a quick brown fox jumps"] * 20)
    train(a, "t", "SELECT line FROM corpus", 270)
    text = "the cat sat on the mat with the hat"
    first = tokenize(a, "t", text)
    n1 = a.execute("SELECT n_vocab FROM llm_tokenizers WHERE name = 't'").fetchone()[0]
    b = ctx.connect(os.path.join(ctx.tmp, "test.db"))
    try:
        assert tokenize(b, "t", text) == first
        assert b.execute("SELECT llm_tokenizer_drop('t')").fetchone()[0] == 1
        # A sees the drop
        expect_error(a, "SELECT llm_tokenize('t', ?)", (text,), "llm_tokenize:", "no tokenizer named 't'")
        train(b, "t", "SELECT line FROM corpus", 256, {"special": ["<|x|>", "<|y|>"]})
        second_b = tokenize(b, "t", text)
    finally:
        b.close()
    assert second_b == list(text.encode())
    assert tokenize(a, "t", text) == second_b
    assert tokenize(a, "t", "<|y|>", '{"allow_special": true}') == [257]
    assert detok_bytes(a, "t", [257]) == b"<|y|>"
    assert [r[0] for r in a.execute("SELECT id FROM llm_tokens('t', ?)", (text,))] == second_b
    # B replaces it again, with a bigger vocabulary, without A reading in between
    b = ctx.connect(os.path.join(ctx.tmp, "test.db"))
    try:
        b.execute("SELECT llm_tokenizer_drop('t')").fetchone()
        train(b, "t", "SELECT line FROM corpus", 290)
        third = tokenize(b, "t", text)
        n3 = b.execute("SELECT n_vocab FROM llm_tokenizers WHERE name = 't'").fetchone()[0]
    finally:
        b.close()
    assert n3 != n1
    assert tokenize(a, "t", text) == third
    assert detok_bytes(a, "t", [n3 - 1]) == EOT.encode()
    # A drops and re-creates in its own connection
    assert a.execute("SELECT llm_tokenizer_drop('t')").fetchone()[0] == 1
    expect_error(a, "SELECT llm_tokenize('t', 'x')", (), "llm_tokenize:", "no tokenizer named 't'")
    train(a, "t", "SELECT line FROM corpus", 256)
    assert tokenize(a, "t", text) == list(text.encode())
    expect_error(a, "SELECT llm_detokenize('t', ?)", (json.dumps([n3 - 1]),), "llm_detokenize:")
    a.execute("SELECT llm_tokenizer_drop('t')")
    train(a, "t", "SELECT line FROM corpus", 270)
    assert tokenize(a, "t", text) == first


def test_transactions(ctx):
    db = ctx.db
    make_corpus(db, ["one two three four"] * 20)
    db.execute("BEGIN")
    train(db, "t", "SELECT line FROM corpus", 270)
    db.execute("ROLLBACK")
    expect_error(db, "SELECT llm_tokenize('t', 'one')", (), "llm_tokenize:", "no tokenizer named 't'")
    assert "llm_tokenizers" not in tables(db) and "llm_vocab" not in tables(db), tables(db)
    db.execute("BEGIN")
    train(db, "t", "SELECT line FROM corpus", 270)
    db.execute("COMMIT")
    ids = tokenize(db, "t", "one two")
    other = ctx.connect(os.path.join(ctx.tmp, "test.db"))
    try:
        assert tokenize(other, "t", "one two") == ids
    finally:
        other.close()
    # inside a savepoint, rolled back: the first tokenizer is untouched
    db.execute("SAVEPOINT sp")
    train(db, "u", "SELECT line FROM corpus", 260)
    assert db.execute("SELECT llm_tokenizer_drop('t')").fetchone()[0] == 1
    db.execute("ROLLBACK TO sp")
    db.execute("RELEASE sp")
    assert ctx.one("SELECT group_concat(name) FROM llm_tokenizers") == "t"
    assert ctx.one("SELECT count(DISTINCT tokenizer) FROM llm_vocab") == 1
    expect_error(db, "SELECT llm_tokenize('u', 'one')", (), "llm_tokenize:", "no tokenizer named 'u'")


def test_rollback_forgets_a_tokenizer_already_used(ctx):
    # The tokenizer is loaded into the connection's cache inside the
    # transaction; after ROLLBACK it must be gone all the same.
    db = ctx.db
    make_corpus(db, ["one two three four"] * 20)
    train(db, "keep", "SELECT line FROM corpus", 256)
    db.execute("BEGIN")
    train(db, "t", "SELECT line FROM corpus", 270)
    assert tokenize(db, "t", "one two")
    db.execute("ROLLBACK")
    assert ctx.one("SELECT count(*) FROM llm_tokenizers WHERE name = 't'") == 0
    expect_error(db, "SELECT llm_tokenize('t', 'one two')", (), "llm_tokenize:", "no tokenizer named 't'")
    # and a drop rolled back brings the old one back, usable
    before = tokenize(db, "keep", "one two")
    db.execute("BEGIN")
    db.execute("SELECT llm_tokenizer_drop('keep')").fetchone()
    expect_error(db, "SELECT llm_tokenize('keep', 'x')", (), "llm_tokenize:")
    db.execute("ROLLBACK")
    assert tokenize(db, "keep", "one two") == before


def test_failed_corpus_query_stores_nothing(ctx):
    db = ctx.db
    make_corpus(db, ["line number %d of the corpus" % i for i in range(300)])
    before = schema(db)
    failing = [
        "SELECT CASE WHEN rowid > 150 THEN abs(-9223372036854775808) ELSE line END FROM corpus",
        "SELECT CASE WHEN rowid > 150 THEN json('{') ELSE line END FROM corpus",
    ]
    for sql in failing:
        expect_error(db, "SELECT llm_tokenizer_train('t', ?, 300)", (sql,), "llm_tokenizer_train:")
        assert schema(db) == before, f"{sql}: the schema changed to {schema(db)}"
    # with the tables present: nothing changes either
    train(db, "ok", "SELECT line FROM corpus", 280)
    snapshot = (db.execute("SELECT * FROM llm_tokenizers ORDER BY name").fetchall(),
                db.execute("SELECT * FROM llm_vocab ORDER BY tokenizer, id").fetchall())
    for sql in failing:
        expect_error(db, "SELECT llm_tokenizer_train('t', ?, 300)", (sql,), "llm_tokenizer_train:")
        now = (db.execute("SELECT * FROM llm_tokenizers ORDER BY name").fetchall(),
               db.execute("SELECT * FROM llm_vocab ORDER BY tokenizer, id").fetchall())
        assert now == snapshot
    expect_error(db, "SELECT llm_tokenize('t', 'x')", (), "no tokenizer named 't'")
    # the name is still free
    train(db, "t", "SELECT line FROM corpus", 280)
    assert vocab_rows(db, "t") == vocab_rows(db, "ok")


def test_drop(ctx):
    db = ctx.db
    make_corpus(db, ["alpha beta gamma"] * 20)
    train(db, "t", "SELECT line FROM corpus", 270)
    train(db, "u", "SELECT line FROM corpus", 260)
    nu = ctx.one("SELECT count(*) FROM llm_vocab WHERE tokenizer = 'u'")
    assert ctx.one("SELECT count(*) FROM llm_vocab WHERE tokenizer = 't'") > 0
    assert ctx.one("SELECT llm_tokenizer_drop('t')") == 1
    assert ctx.one("SELECT count(*) FROM llm_vocab WHERE tokenizer = 't'") == 0
    assert ctx.one("SELECT count(*) FROM llm_tokenizers WHERE name = 't'") == 0
    assert ctx.one("SELECT llm_tokenizer_drop('t')") == 0
    assert ctx.one("SELECT count(*) FROM llm_vocab WHERE tokenizer = 'u'") == nu
    assert tokenize(db, "u", "alpha")
    expect_error(db, "SELECT llm_tokenize('t', 'alpha')", (), "llm_tokenize:", "no tokenizer named 't'", "'u'")
    assert ctx.one("SELECT llm_tokenizer_drop('u')") == 1
    assert ctx.one("SELECT count(*) FROM llm_vocab") == 0
