"""Bad input to every SQL function of the extension: each call must fail with
an sqlite3.Error whose message starts with the function's name ("llm_tokenize:
...") and names the problem, and must leave the database as it was: the
user's tables intact, PRAGMA integrity_check clean, and no tokenizer half
written (every llm_vocab row belongs to a tokenizer of llm_tokenizers, which
has exactly n_vocab rows).

Each test collects all the cases that misbehave and reports them together.

Run: /usr/bin/python3 tests/sql/harness.py ./llm.so tests/sql/test_bad_input.py
"""
import json
import os
import sqlite3

EOT = "<|endoftext|>"


# ---------------------------------------------------------------- helpers


class Cases:
    """Runs error cases, collecting the ones that do not fail as they should."""

    def __init__(self, ctx, db=None, cleanup=None):
        self.ctx = ctx
        self.db = db or ctx.db
        self.cleanup = cleanup  # SQL run after a call that wrongly succeeded
        self.problems = []
        self.count = 0

    def error(self, sql, params, fn, *fragments):
        """sql must fail with a message starting with 'fn:' and containing
        every fragment (any of them when a fragment is a tuple)."""
        self.count += 1
        try:
            rows = self.db.execute(sql, params).fetchall()
        except sqlite3.Error as e:
            msg = str(e)
            if fn and not msg.startswith(fn + ":"):
                self.problems.append(f"{sql} {params!r}: message {msg!r} does not start with {fn + ':'!r}")
            for f in fragments:
                alts = f if isinstance(f, tuple) else (f,)
                if not any(a in msg for a in alts):
                    self.problems.append(f"{sql} {_short(params)}: message {msg!r} lacks {f!r}")
            return msg
        self.problems.append(f"{sql} {_short(params)}: expected an error, got {rows!r}")
        if self.cleanup:  # so that the following cases still test something
            self.db.execute(self.cleanup).fetchall()
        return None

    def check(self, cond, what):
        if not cond:
            self.problems.append(what)

    def done(self):
        assert self.count > 0 or self.problems
        assert not self.problems, f"{len(self.problems)} problem(s):\n  " + "\n  ".join(self.problems)


def _short(params):
    r = repr(params)
    return r if len(r) < 200 else r[:200] + "..."


def shared_file(ctx, *parts):
    path = os.path.join(ctx.shared, *parts)
    assert os.path.isfile(path), f"missing shared data file {path}"
    return path


def setup(ctx, gpt2=True):
    """A user table t with rows, a trained tokenizer 't' and GPT-2 as 'g'."""
    db = ctx.db
    db.execute("CREATE TABLE t(x TEXT)")
    db.executemany("INSERT INTO t VALUES (?)", [("the quick brown fox jumps over the lazy dog %d" % i,) for i in range(50)])
    db.execute("SELECT llm_tokenizer_train('t', 'SELECT x FROM t', 300)").fetchone()
    if gpt2:
        enc = shared_file(ctx, "gpt2", "encoder.json")
        bpe = shared_file(ctx, "gpt2", "vocab.bpe")
        db.execute("SELECT llm_tokenizer_import('g', 'gpt2', ?, ?)", (enc, bpe)).fetchone()


def user_state(db):
    return (db.execute("SELECT count(*), group_concat(x, '|') FROM t").fetchone(),
            db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall(),
            db.execute("PRAGMA journal_mode").fetchone()[0],
            db.execute("PRAGMA writable_schema").fetchone()[0],
            [r[1] for r in db.execute("PRAGMA database_list")])


def stored_state(db):
    return (db.execute("SELECT name, n_vocab, uid FROM llm_tokenizers ORDER BY name").fetchall(),
            db.execute("SELECT tokenizer, count(*) FROM llm_vocab GROUP BY tokenizer ORDER BY tokenizer").fetchall())


def final_checks(ctx, expected_names):
    db = ctx.db
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    names = [r[0] for r in db.execute("SELECT name FROM llm_tokenizers ORDER BY name")]
    assert names == sorted(expected_names), names
    orphans = db.execute(
        "SELECT DISTINCT tokenizer FROM llm_vocab WHERE tokenizer NOT IN (SELECT name FROM llm_tokenizers)").fetchall()
    assert orphans == [], f"llm_vocab has rows of tokenizers that do not exist: {orphans}"
    short = db.execute(
        "SELECT name, n_vocab, (SELECT count(*) FROM llm_vocab v WHERE v.tokenizer = k.name) FROM llm_tokenizers k "
        "WHERE n_vocab IS NOT (SELECT count(*) FROM llm_vocab v WHERE v.tokenizer = k.name)").fetchall()
    assert short == [], f"tokenizers whose llm_vocab rows do not match n_vocab: {short}"
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 50
    # and what is stored still works
    for n in expected_names:
        ids = json.loads(db.execute("SELECT llm_tokenize(?, 'the lazy dog')", (n,)).fetchone()[0])
        assert db.execute("SELECT llm_detokenize(?, ?)", (n, json.dumps(ids))).fetchone()[0] == "the lazy dog"


BAD_NAMES = [
    (None, "NULL"),
    (1, "integer"),
    (1.5, "real"),
    (b"t", "blob"),
    ("", "empty"),
]


# ---------------------------------------------------------------- names


def test_bad_names_for_every_function(ctx):
    setup(ctx)
    c = Cases(ctx)
    before = stored_state(ctx.db)
    enc = shared_file(ctx, "gpt2", "encoder.json")
    bpe = shared_file(ctx, "gpt2", "vocab.bpe")
    calls = [
        ("llm_tokenizer_train", "SELECT llm_tokenizer_train(?, 'SELECT x FROM t', 300)", ()),
        ("llm_tokenizer_train", "SELECT llm_tokenizer_train(?, 'SELECT x FROM t', 300, '{}')", ()),
        ("llm_tokenizer_import", "SELECT llm_tokenizer_import(?, 'gpt2', ?, ?)", (enc, bpe)),
        ("llm_tokenizer_drop", "SELECT llm_tokenizer_drop(?)", ()),
        ("llm_tokenize", "SELECT llm_tokenize(?, 'hello')", ()),
        ("llm_tokenize", "SELECT llm_tokenize(?, 'hello', '{}')", ()),
        ("llm_token_count", "SELECT llm_token_count(?, 'hello')", ()),
        ("llm_token_count", "SELECT llm_token_count(?, 'hello', '{}')", ()),
        ("llm_detokenize", "SELECT llm_detokenize(?, '[1]')", ()),
        ("llm_tokens", "SELECT * FROM llm_tokens(?, 'hello')", ()),
        ("llm_tokens", "SELECT * FROM llm_tokens(?, 'hello', '{}')", ()),
        ("llm_tokens", "SELECT * FROM llm_tokens WHERE name = ? AND text = 'hello'", ()),
    ]
    for fn, sql, rest in calls:
        for value, what in BAD_NAMES:
            if fn == "llm_tokens":
                # the table-valued function says "non-empty text" for all
                c.error(sql, (value,) + rest, fn, "name", ("non-empty text", what))
            else:
                c.error(sql, (value,) + rest, fn, "name", what)
    c.check(stored_state(ctx.db) == before, "a call with a bad name changed the stored tokenizers")
    c.done()
    final_checks(ctx, ["g", "t"])


def test_unknown_tokenizer_lists_stored_names(ctx):
    setup(ctx)
    c = Cases(ctx)
    for fn, sql in [
        ("llm_tokenize", "SELECT llm_tokenize('zz', 'hello')"),
        ("llm_tokenize", "SELECT llm_tokenize('zz', 'hello', '{\"allow_special\": true}')"),
        ("llm_token_count", "SELECT llm_token_count('zz', 'hello')"),
        ("llm_detokenize", "SELECT llm_detokenize('zz', '[1]')"),
        ("llm_tokens", "SELECT * FROM llm_tokens('zz', 'hello')"),
    ]:
        c.error(sql, (), fn, "no tokenizer named 'zz'", "'g'", "'t'")
    # with no tokenizer stored at all (and no llm_* table)
    other = ctx.connect(os.path.join(ctx.tmp, "empty.db"))
    try:
        c2 = Cases(ctx, other)
        c2.error("SELECT llm_tokenize('zz', 'x')", (), "llm_tokenize", "no tokenizer named 'zz'", "none")
        c2.error("SELECT llm_detokenize('zz', '[]')", (), "llm_detokenize", "no tokenizer named 'zz'")
        c2.error("SELECT * FROM llm_tokens('zz', 'x')", (), "llm_tokens", "no tokenizer named 'zz'")
        c2.done()
        assert other.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    finally:
        other.close()
    c.done()
    final_checks(ctx, ["g", "t"])


# ---------------------------------------------------------------- llm_tokenizer_train


def test_train_bad_vocab_size(ctx):
    setup(ctx, gpt2=False)
    c = Cases(ctx, cleanup="SELECT llm_tokenizer_drop('new')")
    sql = "SELECT llm_tokenizer_train('new', 'SELECT x FROM t', ?)"
    for v in (255, 0, -1, 2**31, 2**62, -(2**63), 2**22 + 10):
        c.error(sql, (v,), "llm_tokenizer_train", "vocab_size", "out of range", str(v))
    for v in ("512", 512.5, None, b"512", "abc"):
        c.error(sql, (v,), "llm_tokenizer_train", "vocab_size", "integer")
    c.done()
    final_checks(ctx, ["t"])


def test_train_bad_corpus_sql(ctx):
    setup(ctx, gpt2=False)
    db = ctx.db
    c = Cases(ctx, cleanup="SELECT llm_tokenizer_drop('new')")
    before_user = user_state(db)
    before_store = stored_state(db)
    sql = "SELECT llm_tokenizer_train('new', ?, 300)"
    cases = [
        (None, ("corpus_sql", "query")),
        (42, ("corpus_sql", "query")),
        (b"SELECT x FROM t", ("corpus_sql", "query")),
        ("", ("corpus_sql", "empty")),
        ("   \n\t ", ("corpus_sql", "empty")),
        ("-- only a comment", ("corpus_sql", "empty")),
        ("/* only a comment */", ("corpus_sql", "empty")),
        ("SELEC x FROM t", ("corpus_sql",)),
        ("SELECT x FROM", ("corpus_sql", "compile")),
        ("SELECT x FROM missing_table", ("corpus_sql", "missing_table")),
        ("SELECT nope FROM t", ("corpus_sql", "nope")),
        ("SELECT 1; SELECT 2", ("corpus_sql", "one statement")),
        ("SELECT x FROM t; DROP TABLE t", ("corpus_sql", "one statement")),
        ("SELECT x, x FROM t", ("corpus_sql", "1 column", "2")),
        ("SELECT * FROM t, t AS u", ("corpus_sql", "1 column")),
    ]
    writes = [
        "DELETE FROM t",
        "INSERT INTO t VALUES ('x')",
        "UPDATE t SET x = 'gone'",
        "DROP TABLE t",
        "CREATE TABLE evil(x)",
        "PRAGMA journal_mode=delete",
        "PRAGMA journal_mode=wal",
        "PRAGMA writable_schema=1",
        f"ATTACH '{os.path.join(ctx.tmp, 'other.db')}' AS other",
        "VACUUM",
        "BEGIN",
        "COMMIT",
        "SAVEPOINT s",
        "REINDEX",
        "ANALYZE",
        "WITH x AS (SELECT 1) DELETE FROM t",
        "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "WITH x AS (SELECT 1) UPDATE t SET x = 'gone'",
        "  /* hidden */ DELETE FROM t",
        "-- c\nDELETE FROM t",
        "SELECT 1; DROP TABLE t",
        "SELECT x FROM t;DELETE FROM t",
        "VALUES (1); DELETE FROM t",
    ]
    for q, frags in cases:
        c.error(sql, (q,), "llm_tokenizer_train", *frags)
    for q in writes:
        c.error(sql, (q,), "llm_tokenizer_train", "corpus_sql",
                ("SELECT, WITH or VALUES", "read-only", "one statement"))
        c.check(user_state(db) == before_user, f"after {q!r} the user's tables or settings changed: {user_state(db)}")
    # queries that return no text at all
    for q in ("SELECT NULL FROM t", "SELECT '' FROM t", "SELECT x FROM t WHERE 0",
              "SELECT NULL UNION ALL SELECT ''", "VALUES (NULL), ('')", "SELECT x'' FROM t"):
        c.error(sql, (q,), "llm_tokenizer_train", "no text")
    # corpus queries that try to reach the writing functions
    enc = shared_file(ctx, "gpt2", "encoder.json")
    bpe = shared_file(ctx, "gpt2", "vocab.bpe")
    for q in ("SELECT llm_tokenizer_drop('t')",
              "SELECT x || llm_tokenizer_drop('t') FROM t",
              "SELECT llm_tokenizer_train('zz', 'SELECT x FROM t', 300)",
              f"SELECT llm_tokenizer_import('zz', 'gpt2', '{enc}', '{bpe}')",
              "WITH a AS (SELECT llm_tokenizer_drop('t') AS d) SELECT x || d FROM t, a"):
        c.error(sql, (q,), "llm_tokenizer_train", "corpus query")
    c.check(user_state(db) == before_user, "the user's tables changed")
    c.check(stored_state(db) == before_store, f"the stored tokenizers changed: {stored_state(db)}")
    c.done()
    final_checks(ctx, ["t"])
    # a corpus query that still works after all this
    db.execute("SELECT llm_tokenizer_train('new', 'SELECT x FROM t -- trailing comment', 300)").fetchone()
    final_checks(ctx, ["new", "t"])


def test_train_bad_options(ctx):
    setup(ctx, gpt2=False)
    db = ctx.db
    c = Cases(ctx, cleanup="SELECT llm_tokenizer_drop('new')")
    before = stored_state(db)
    sql = "SELECT llm_tokenizer_train('new', 'SELECT x FROM t', 300, ?)"
    F = "llm_tokenizer_train"
    c.error(sql, ("{",), F, "options", "JSON")
    c.error(sql, ("not json",), F, "options", "JSON")
    c.error(sql, ("",), F, "options", "JSON")
    c.error(sql, ('{"pretokenize": "none"} x',), F, "options", "JSON")
    c.error(sql, ("[]",), F, "options", "object", "array")
    c.error(sql, ('["pretokenize", "none"]',), F, "options", "object", "array")
    c.error(sql, ('"none"',), F, "options", "object", "string")
    c.error(sql, ("42",), F, "options", "object", "number")
    c.error(sql, ("null",), F, "options", "object", "null")
    c.error(sql, (42,), F, "options", "integer")
    c.error(sql, (b"{}",), F, "options", "blob")
    c.error(sql, ('{"vocab": 3}',), F, "unknown option", '"vocab"', "pretokenize", "special", "min_frequency")
    c.error(sql, ('{"pretokenize": "none", "Special": []}',), F, "unknown option", "Special", "special")
    for v in (1, None, True, ["gpt2"], {"a": 1}):
        c.error(sql, (json.dumps({"pretokenize": v}),), F, '"pretokenize"', "string")
    for v in ("bogus", "GPT2", "", "gpt2 "):
        c.error(sql, (json.dumps({"pretokenize": v}),), F, '"pretokenize"', '"gpt2" or "none"')
    for v in ("2", 2.5, True, None, [2]):
        c.error(sql, (json.dumps({"min_frequency": v}),), F, '"min_frequency"', "integer")
    for v in (0, -1, -(2**63)):
        c.error(sql, (json.dumps({"min_frequency": v}),), F, '"min_frequency"', str(v))
    c.error(sql, ('{"min_frequency": 99999999999999999999999}',), F, '"min_frequency"')
    for v in ("<|endoftext|>", 1, None, {"a": "b"}, True):
        c.error(sql, (json.dumps({"special": v}),), F, '"special"', "array")
    for v in ([""], [1], [None], [["<|a|>"]], ["<|a|>", 2], ["x" * 5000]):
        c.error(sql, (json.dumps({"special": v}),), F, '"special"', "entry")
    for v in (["<|a|>", "<|a|>"], [EOT, "<|b|>", EOT]):
        c.error(sql, (json.dumps({"special": v}),), F, '"special"', "twice")
    c.error(sql, (json.dumps({"special": ["<|s%d|>" % i for i in range(2000)]}),), F, '"special"', "1024")
    # an existing name
    c.error("SELECT llm_tokenizer_train('t', 'SELECT x FROM t', 300)", (), F, "'t'", "already exists")
    c.error("SELECT llm_tokenizer_train('t', 'SELECT x FROM t', 300, '{\"pretokenize\": \"none\"}')", (), F,
            "already exists")
    c.check(stored_state(db) == before, f"the stored tokenizers changed: {stored_state(db)}")
    c.done()
    final_checks(ctx, ["t"])


# ---------------------------------------------------------------- tokenize, count, tokens


def test_encode_bad_text_and_options(ctx):
    setup(ctx)
    c = Cases(ctx)
    for fn, sql in [
        ("llm_tokenize", "SELECT llm_tokenize('g', ?)"),
        ("llm_token_count", "SELECT llm_token_count('g', ?)"),
        ("llm_tokens", "SELECT * FROM llm_tokens('g', ?)"),
    ]:
        c.error(sql, (42,), fn, "text", "integer" if fn != "llm_tokens" else "text or a blob")
        c.error(sql, (4.5,), fn, "text", "real" if fn != "llm_tokens" else "text or a blob")
    for fn, sql in [
        ("llm_tokenize", "SELECT llm_tokenize('g', 'hi', ?)"),
        ("llm_token_count", "SELECT llm_token_count('g', 'hi', ?)"),
        ("llm_tokens", "SELECT * FROM llm_tokens('g', 'hi', ?)"),
        ("llm_tokens", "SELECT * FROM llm_tokens WHERE name = 'g' AND text = 'hi' AND options = ?"),
    ]:
        c.error(sql, ("{",), fn, "options", "JSON")
        c.error(sql, ("[]",), fn, "options", "object", "array")
        c.error(sql, ('"x"',), fn, "options", "object", "string")
        c.error(sql, (7,), fn, "options", "integer")
        c.error(sql, ('{"allow_specials": true}',), fn, "unknown option", "allow_specials", "allow_special")
        c.error(sql, ('{"pretokenize": "none"}',), fn, "unknown option", "allow_special")
        for v in (1, "true", None, [True]):
            c.error(sql, (json.dumps({"allow_special": v}),), fn, '"allow_special"', "true or false")
    c.done()
    final_checks(ctx, ["g", "t"])


# ---------------------------------------------------------------- llm_detokenize


def test_detokenize_bad_ids(ctx):
    setup(ctx)
    c = Cases(ctx)
    F = "llm_detokenize"
    sql = "SELECT llm_detokenize('g', ?)"
    for ids, frags in [
        ("not json", ("array",)),
        ("", ("empty",)),
        ("   ", ("array",)),
        ("[1,", ("element 1",)),
        ("[1,]", ("trailing comma",)),
        ("[1 2]", ("','",)),
        ("[", ("element 0",)),
        ("1", ("array",)),
        ('{"a":1}', ("array",)),
        ("[1.5]", ("element 0", "not an integer")),
        ("[-1]", ("element 0", "range")),
        ("[50257]", ("element 0", "50257", "0..50256")),
        ("[15496, 99999]", ("element 1", "99999")),
        ('["1"]', ("element 0", "integer")),
        ("[null]", ("element 0", "integer")),
        ("[true]", ("element 0", "integer")),
        ("[[1]]", ("element 0", "integer")),
        ("[99999999999999999999999999]", ("element 0", "range")),
        ("[9223372036854775808]", ("element 0", "range")),
        ("[-9223372036854775809]", ("element 0", "range")),
        ("[1e400]", ("element 0",)),
        ("[4294967296]", ("element 0", "range")),
        ("[1] x", ("after the JSON array",)),
        ("[1][2]", ("after the JSON array",)),
    ]:
        c.error(sql, (ids,), F, *frags)
    c.error(sql, (15496,), F, "ids", "JSON array")
    c.error(sql, (1.0,), F, "ids", "JSON array")
    c.error(sql, (b"[15496]",), F, "ids", "JSON array")
    # the range is the tokenizer's own
    n = ctx.one("SELECT n_vocab FROM llm_tokenizers WHERE name = 't'")
    c.error("SELECT llm_detokenize('t', ?)", (json.dumps([n]),), F, "element 0", f"0..{n - 1}")
    c.done()
    # NULL ids give NULL, not an error; [] gives ''
    assert ctx.one("SELECT llm_detokenize('g', NULL)") is None
    assert ctx.one("SELECT llm_detokenize('g', '[]')") == ""
    assert ctx.one("SELECT llm_detokenize('g', ' [ 15496 , 995 ] ')") == "Hello world"
    final_checks(ctx, ["g", "t"])


# ---------------------------------------------------------------- llm_tokenizer_import


def _byte_encoder():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(
        range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _enc(bts):
    m = _byte_encoder()
    return "".join(m[b] for b in bts)


def small_gpt2_files(ctx):
    """A valid GPT-2 style pair of files: 256 bytes, 3 merges, 1 special."""
    vocab = {_enc(bytes([i])): i for i in range(256)}
    vocab[_enc(b" t")] = 256
    vocab[_enc(b"he")] = 257
    vocab[_enc(b" the")] = 258
    vocab[EOT] = 259
    merges = ["#version: 0.2", _enc(b" ") + " " + _enc(b"t"), _enc(b"h") + " " + _enc(b"e"),
              _enc(b" t") + " " + _enc(b"he")]
    return vocab, merges


def write(ctx, name, text):
    path = os.path.join(ctx.tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def test_import_bad_arguments_and_files(ctx):
    setup(ctx, gpt2=False)
    db = ctx.db
    c = Cases(ctx, cleanup="SELECT llm_tokenizer_drop('new')")
    F = "llm_tokenizer_import"
    before = stored_state(db)
    vocab, merges = small_gpt2_files(ctx)
    good_enc = write(ctx, "encoder.json", json.dumps(vocab))
    good_bpe = write(ctx, "vocab.bpe", "\n".join(merges) + "\n")
    sql = "SELECT llm_tokenizer_import('new', ?, ?, ?)"
    # the files themselves are fine
    s = json.loads(db.execute(sql, ("gpt2", good_enc, good_bpe)).fetchone()[0])
    assert (s["n_vocab"], s["merges"], s["special_tokens"]) == (260, 3, 1), s
    assert json.loads(ctx.one("SELECT llm_tokenize('new', ' the the')")) == [258, 258]
    assert ctx.one("SELECT llm_tokenizer_drop('new')") == 1

    for fmt in ("gpt3", "GPT2", "", "sentencepiece", None, 2, b"gpt2"):
        c.error(sql, (fmt, good_enc, good_bpe), F, "format", "gpt2")
    for bad, what in ((None, "NULL"), ("", "empty"), (5, "integer"), (b"/x", "blob")):
        c.error(sql, ("gpt2", bad, good_bpe), F, "encoder_json_path")
        c.error(sql, ("gpt2", good_enc, bad), F, "vocab_bpe_path")
    missing = os.path.join(ctx.tmp, "no", "such", "encoder.json")
    c.error(sql, ("gpt2", missing, good_bpe), F, missing)
    c.error(sql, ("gpt2", good_enc, missing + ".bpe"), F, missing + ".bpe")
    c.error(sql, ("gpt2", ctx.tmp, good_bpe), F, ctx.tmp)
    c.error(sql, ("gpt2", good_enc, ctx.tmp), F, ctx.tmp)

    text = json.dumps(vocab)
    bad_encoders = {
        "truncated": (text[: len(text) // 2], ("encoder.json",)),
        "truncated_end": (text[:-1], ("encoder.json",)),
        "array": ("[" + ", ".join(str(i) for i in range(260)) + "]", ("encoder.json", "object")),
        "string": ('"hello"', ("encoder.json", "object")),
        "empty_object": ("{}", ("encoder.json", "empty")),
        "duplicate_ids": (json.dumps({**vocab, _enc(b"zz"): 5}), ("encoder.json", "id 5", "unique")),
        "gap_in_ids": (json.dumps({**{k: v for k, v in vocab.items() if v != 259}, EOT: 300}),
                       ("encoder.json", "300", "gaps")),
        "negative_id": (json.dumps({**{k: v for k, v in vocab.items() if v != 259}, EOT: -1}),
                        ("encoder.json", "-1")),
        "string_id": (json.dumps({**{k: v for k, v in vocab.items() if v != 259}, EOT: "259"}),
                      ("encoder.json", "integer")),
        "fractional_id": (json.dumps({**{k: v for k, v in vocab.items() if v != 259}, EOT: 259.5}),
                          ("encoder.json", "integer")),
        "duplicate_key": (text[:-1] + ', "!": 260}', ("encoder.json", "duplicate")),
        "missing_byte": (json.dumps({k: v for k, v in vocab.items() if v < 255}), ("encoder.json", "0xFF")),
        "space_in_token": (json.dumps({**vocab, "a b": 260}), ("encoder.json", "U+0020")),
        "unmapped_char": (json.dumps({**vocab, "\u4e2d": 260}), ("encoder.json", "U+4E2D")),
        "empty_token": (json.dumps({**vocab, "": 260}), ("encoder.json", "empty")),
        "empty_file": ("", ("encoder.json", "empty")),
    }
    for label, (content, frags) in bad_encoders.items():
        path = write(ctx, f"bad_{label}.json", content)
        c.error(sql, ("gpt2", path, good_bpe), F, *frags)
    m = merges
    bad_bpe = {
        "unknown_token": ("\n".join(m + [_enc(b"q") + " " + _enc(b"zz")]) + "\n", ("vocab.bpe", "line 5", "not in encoder.json")),
        "merged_not_in_encoder": ("\n".join(m + [_enc(b"q") + " " + _enc(b"z")]) + "\n", ("vocab.bpe", "line 5", "not in encoder.json")),
        "no_space": ("\n".join(m + [_enc(b"qz")]) + "\n", ("vocab.bpe", "line 5", "space")),
        "two_spaces": ("\n".join(m + [_enc(b"q") + "  " + _enc(b"z")]) + "\n", ("vocab.bpe", "line 5")),
        "three_tokens": ("\n".join(m + ["a b c"]) + "\n", ("vocab.bpe", "line 5")),
        "bad_version": ("#version: 0.3\n" + "\n".join(m[1:]) + "\n", ("vocab.bpe", "line 1", "version")),
        "blank_in_middle": ("\n".join(m[:2] + [""] + m[2:]) + "\n", ("vocab.bpe", "blank")),
        "twice": ("\n".join(m + [m[1]]) + "\n", ("vocab.bpe", "both make")),
        "uses_special": ("\n".join(m + [_enc(b" the") + " " + EOT]) + "\n", ("vocab.bpe",)),
        "empty_file": ("", ("vocab.bpe",)),
    }
    for label, (content, frags) in bad_bpe.items():
        path = write(ctx, f"bad_{label}.bpe", content)
        c.error(sql, ("gpt2", good_enc, path), F, *frags)
    # the real encoder.json with an empty vocab.bpe is not GPT-2 either
    real_enc = shared_file(ctx, "gpt2", "encoder.json")
    c.error(sql, ("gpt2", real_enc, write(ctx, "empty.bpe", "")), F, "vocab.bpe")
    # swapped files
    real_bpe = shared_file(ctx, "gpt2", "vocab.bpe")
    c.error(sql, ("gpt2", real_bpe, real_enc), F, "encoder.json")
    # an existing name
    c.error("SELECT llm_tokenizer_import('t', 'gpt2', ?, ?)", (good_enc, good_bpe), F, "'t'", "already exists")
    c.check(stored_state(db) == before, f"the stored tokenizers changed: {stored_state(db)}")
    c.done()
    final_checks(ctx, ["t"])


# ---------------------------------------------------------------- arity


def test_wrong_number_of_arguments(ctx):
    setup(ctx, gpt2=False)
    c = Cases(ctx)
    for fn, args in [
        ("llm_version", "1"),
        ("llm_tokenizer_train", "'a'"),
        ("llm_tokenizer_train", "'a', 'SELECT x FROM t'"),
        ("llm_tokenizer_train", "'a', 'SELECT x FROM t', 300, '{}', 1"),
        ("llm_tokenizer_import", "'a', 'gpt2', 'e'"),
        ("llm_tokenizer_import", "'a', 'gpt2', 'e', 'b', 'c'"),
        ("llm_tokenizer_drop", ""),
        ("llm_tokenizer_drop", "'t', 't'"),
        ("llm_tokenize", ""),
        ("llm_tokenize", "'t'"),
        ("llm_tokenize", "'t', 'x', '{}', 1"),
        ("llm_token_count", "'t'"),
        ("llm_token_count", "'t', 'x', '{}', 1"),
        ("llm_detokenize", "'t'"),
        ("llm_detokenize", "'t', '[1]', '{}'"),
    ]:
        c.error(f"SELECT {fn}({args})", (), None, "wrong number of arguments", fn)
    c.error("SELECT * FROM llm_tokens()", (), "llm_tokens", "name", "text")
    c.error("SELECT * FROM llm_tokens('t')", (), "llm_tokens", "name", "text")
    c.error("SELECT * FROM llm_tokens WHERE name = 't'", (), "llm_tokens", "name", "text")
    c.error("SELECT * FROM llm_tokens WHERE text = 'x'", (), "llm_tokens", "name", "text")
    c.error("SELECT * FROM llm_tokens('t', 'x', '{}', 4)", (), None, "llm_tokens")
    c.done()
    final_checks(ctx, ["t"])


def test_bad_calls_leave_nothing_half_written(ctx):
    # A long sequence of failing writes on one connection, in and out of a
    # transaction; the database ends as it began.
    setup(ctx)
    db = ctx.db
    before = stored_state(db), user_state(db)
    enc = shared_file(ctx, "gpt2", "encoder.json")
    bad_bpe = write(ctx, "bad.bpe", "#version: 0.2\nĠ t\nq zz\n")
    c = Cases(ctx)
    for in_txn in (False, True):
        if in_txn:
            db.execute("BEGIN")
        c.error("SELECT llm_tokenizer_import('new', 'gpt2', ?, ?)", (enc, bad_bpe), "llm_tokenizer_import", "vocab.bpe")
        c.error("SELECT llm_tokenizer_train('new', 'SELECT CASE WHEN rowid > 25 THEN json(''{'') ELSE x END FROM t', 300)",
                (), "llm_tokenizer_train", "corpus query")
        c.error("SELECT llm_tokenizer_train('new', 'SELECT x FROM t', 300, '{\"special\": [\"a\", \"a\"]}')", (),
                "llm_tokenizer_train", "twice")
        c.error("SELECT llm_tokenizer_train('t', 'SELECT x FROM t', 300)", (), "llm_tokenizer_train", "already exists")
        c.error("SELECT llm_tokenizer_import('g', 'gpt2', ?, ?)", (enc, bad_bpe), "llm_tokenizer_import")
        c.error("SELECT llm_tokenizer_drop('t') FROM t WHERE llm_tokenize('t', NULL) IS NULL AND llm_detokenize('t', '[1.5]')",
                (), "llm_detokenize", "not an integer")
        if in_txn:
            c.check(stored_state(db) == before[0], "inside the transaction the stored tokenizers changed")
            db.execute("COMMIT")
    c.check((stored_state(db), user_state(db)) == before, "the database changed")
    c.done()
    final_checks(ctx, ["g", "t"])
