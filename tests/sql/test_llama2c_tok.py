"""SQL-level tests of llama2.c tokenizers: llm_tokenizer_import(name,
'llama2c', path), how they are stored in llm_tokenizers / llm_vocab, and
llm_tokenize, llm_detokenize, llm_token_count, llm_tokens and llm_chunks on
them.

The file is ../shared/data/llama2c/tok512.bin (llama2.c's 512-token
TinyStories tokenizer). Expected ids come from llama2.c's own encoder (run.c,
driven as described in tests/engine/test_llama2c_tok.c, which holds the full
set); llm_tokenize does not add the BOS (1) that run.c puts first.

Run: /usr/bin/python3 tests/sql/harness.py ./llm.so tests/sql/test_llama2c_tok.py
"""
import json
import os
import random
import sqlite3
import struct

from test_tokenizer import tokenize

# Text -> run.c's ids for it (encode(text, bos=1, eos=0)), BOS removed.
REFERENCE = {
    b"": [],
    b" ": [410, 410],
    b"Hello world": [346, 306, 414, 263, 304, 341],
    b"Once upon a time, there was a little girl named Lily.":
        [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426],
    b"   leading spaces": [410, 410, 410, 278, 411, 380, 299, 262, 427, 412, 331, 419],
    "caf\u00e9 na\u00efve se\u00f1or \u00e2ge".encode():
        [280, 412, 431, 485, 297, 412, 198, 178, 360, 262, 411, 493, 304, 410, 502, 428, 411],
    "emoji \U0001F600\U0001F680 and \u2764\ufe0f".encode():
        [344, 423, 414, 449, 417, 410, 243, 162, 155, 131, 243, 162, 157, 131, 269, 410, 229, 160, 167, 242, 187,
         146],
    b"<s> and </s> and <unk> and <0x41>":
        [410, 504, 419, 505, 269, 410, 504, 492, 419, 505, 269, 410, 504, 379, 433, 505, 269, 410, 504, 477, 444,
         484, 475, 505],
    b"a\x80b": [410, 100, 131, 430],
    b"\xc3\xa9\x80\x80\x80\x80 long run": [410, 198, 172, 131, 131, 131, 131, 278, 289, 428, 352, 379],
}


def tok_path(ctx):
    path = os.path.join(ctx.shared, "llama2c", "tok512.bin")
    assert os.path.isfile(path), f"missing shared data file {path}"
    return path


def read_records(path):
    """The file's (piece bytes, score) records, as llama2.c writes them."""
    with open(path, "rb") as f:
        data = f.read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    off, out = 4, []
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        assert 0 <= n <= max_len
        out.append((data[off + 8:off + 8 + n], score))
        off += 8 + n
    return data, out


def import_tok(ctx, name="t", db=None):
    db = db or ctx.db
    row = db.execute("SELECT llm_tokenizer_import(?, 'llama2c', ?)", (name, tok_path(ctx))).fetchone()
    return json.loads(row[0])


def detok(db, name, ids):
    row = db.execute("SELECT CAST(llm_detokenize(?, ?) AS BLOB)", (name, json.dumps(ids))).fetchone()
    return bytes(row[0]) if row[0] is not None else b""


def as_arg(b):
    """Valid UTF-8 as TEXT, anything else as a BLOB (both are accepted)."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


# ---------------------------------------------------------------- import


def test_import_and_tables(ctx):
    db = ctx.db
    s = import_tok(ctx)
    assert s == {"name": "t", "kind": "sentencepiece", "n_vocab": 512, "byte_tokens": 256, "special_tokens": 3}, s
    row = db.execute("SELECT kind, source, pretokenize, n_vocab, eot_id, config FROM llm_tokenizers").fetchone()
    assert row[:5] == ("sentencepiece", "llama2c", "none", 512, 2), row
    config = json.loads(row[5])
    assert config["format"] == "llama2c" and config["tokenizer"] == tok_path(ctx), config
    data, recs = read_records(tok_path(ctx))
    assert config["file_bytes"] == len(data)
    rows = db.execute(
        "SELECT id, kind, piece, score, rank, left_id, right_id FROM llm_vocab WHERE tokenizer = 't' ORDER BY id"
    ).fetchall()
    assert len(rows) == len(recs) == 512
    for (id_, kind, piece, score, rank, left, right), (fpiece, fscore) in zip(rows, recs):
        want_kind = "special" if id_ < 3 else "byte" if id_ < 259 else "normal"
        assert kind == want_kind, (id_, kind)
        # llama2.c's export writes <s> and </s> as "\n<s>\n" and "\n</s>\n"
        want_piece = fpiece.strip(b"\n") if id_ in (1, 2) else fpiece
        assert bytes(piece) == want_piece, (id_, piece, fpiece)
        assert score == fscore, (id_, score, fscore)
        assert (rank, left, right) == (None, None, None)
    assert rows[3 + 0x41][2] == b"<0x41>"
    assert [bytes(r[2]) for r in rows[:3]] == [b"<unk>", b"<s>", b"</s>"]


def test_reference_ids(ctx):
    db = ctx.db
    import_tok(ctx)
    for text, want in REFERENCE.items():
        assert tokenize(db, "t", as_arg(text)) == want, (text, tokenize(db, "t", as_arg(text)))
        assert ctx.one("SELECT llm_token_count('t', ?)", (as_arg(text),)) == len(want)
        assert detok(db, "t", want) == text, text


def test_round_trips(ctx):
    db = ctx.db
    import_tok(ctx)
    rng = random.Random(5)
    pieces = [bytes(r[0]) for r in db.execute("SELECT piece FROM llm_vocab WHERE kind = 'normal'")]
    pieces += [b" ", b"  ", b"\xff", b"\x80", b"\xe2\x80", "\u201c".encode(), "\U0001F600".encode(), b"<s>",
               b"</s>", b"\x00"]
    samples = [b"", b" ", b"  x", b"x  ", b"\n", b"\t\t", b"<s>", b"<s> x</s>y<unk>", b"\xc0\xaf", b"\xed\xa0\x80"]
    for _ in range(300):
        samples.append(b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))))
    for s in samples:
        for opts in (None, '{"allow_special": true}'):
            ids = tokenize(db, "t", as_arg(s), opts)
            assert detok(db, "t", ids) == s, (s, opts, ids)
    # special tokens: plain text unless allowed
    assert tokenize(db, "t", "<s>Hi</s>x", '{"allow_special": true}') == [1, 320, 417, 2, 444]
    plain = tokenize(db, "t", "<s>Hi</s>x")
    assert not {0, 1, 2} & set(plain), plain
    assert detok(db, "t", [1, 346, 306, 414, 263, 304, 341]) == b"<s>Hello world"
    assert detok(db, "t", [346, 346]) == b"He He"  # " He" loses its space only at the start


def test_tokens_offsets(ctx):
    db = ctx.db
    import_tok(ctx)
    for text in (b"Hi \xf0\x9f\x98\x80!", b"  two spaces", b"Once upon a time", b"a\x80b", b"x"):
        rows = db.execute(
            "SELECT position, id, piece, bytes, start, \"end\", substr(CAST(? AS BLOB), start + 1, \"end\" - start) "
            "FROM llm_tokens('t', ?)", (as_arg(text), as_arg(text))
        ).fetchall()
        ids = [r[1] for r in rows]
        assert ids == tokenize(db, "t", as_arg(text))
        at = 0
        for pos, id_, piece, bts, start, end, sub in rows:
            assert start == at and end >= start, rows
            assert bytes(bts) == bytes(sub), rows
            at = end
        assert at == len(text), rows
        assert b"".join(bytes(r[3]) for r in rows) == text
    rows = db.execute("SELECT piece, bytes, start, \"end\" FROM llm_tokens('t', 'Hi \U0001F600!')").fetchall()
    assert rows[0] == (" H", b"H", 0, 1), rows  # the dummy prefix is not in the text
    assert rows[3] == ("<0xF0>", b"\xf0", 3, 4), rows
    # chunks cut the text at the same offsets
    text = "Once upon a time there was a little girl named Lily. She loved to play."
    chunks = db.execute("SELECT text, start, \"end\" FROM llm_chunks('t', ?, 5, 1)", (text,)).fetchall()
    assert chunks[0][1] == 0 and chunks[-1][2] == len(text), chunks
    for t, start, end in chunks:
        assert t == text[start:end], (t, start, end)


def test_persists_across_connections(ctx):
    path = os.path.join(ctx.tmp, "p.db")
    db1 = ctx.connect(path)
    import_tok(ctx, "p", db=db1)
    want = tokenize(db1, "p", "Lily and Timmy \u201cplayed\u201d")
    db1.close()
    db2 = ctx.connect(path)
    assert tokenize(db2, "p", "Lily and Timmy \u201cplayed\u201d") == want
    assert detok(db2, "p", want) == "Lily and Timmy \u201cplayed\u201d".encode()
    assert db2.execute("SELECT llm_tokenizer_drop('p')").fetchone()[0] == 1
    assert db2.execute("SELECT count(*) FROM llm_vocab WHERE tokenizer = 'p'").fetchone()[0] == 0
    db2.close()


def test_corrupt_rows_are_reported(ctx):
    db = ctx.db
    import_tok(ctx)
    db.execute("UPDATE llm_vocab SET piece = CAST('<0x4a>' AS BLOB) WHERE tokenizer = 't' AND id = 3 + 0x41")
    ctx.error("SELECT llm_tokenize('t', 'x')", (), "llm_tokenize:", "corrupt", "<0x41>")
    db.execute("UPDATE llm_vocab SET piece = CAST('<0x41>' AS BLOB) WHERE tokenizer = 't' AND id = 3 + 0x41")
    assert tokenize(db, "t", "Hello world") == REFERENCE[b"Hello world"]
    # the cache reloads when the uid changes (as any replacement changes it)
    db.execute("UPDATE llm_vocab SET score = NULL WHERE tokenizer = 't' AND id = 300")
    db.execute("UPDATE llm_tokenizers SET uid = uid + 1 WHERE name = 't'")
    ctx.error("SELECT llm_tokenize('t', 'x')", (), "llm_tokenize:", "corrupt", "token 300 has no score")
    db.execute("UPDATE llm_vocab SET score = -41.0 WHERE tokenizer = 't' AND id = 300")
    db.execute("UPDATE llm_tokenizers SET kind = 'unigram', uid = uid + 1 WHERE name = 't'")
    ctx.error("SELECT llm_tokenize('t', 'x')", (), "llm_tokenize:", "corrupt", "unigram")


# ---------------------------------------------------------------- bad files


def write(ctx, name, data):
    path = os.path.join(ctx.tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def test_bad_files(ctx):
    db = ctx.db
    data, recs = read_records(tok_path(ctx))
    bad = {
        "empty.bin": (b"", "too short for the header"),
        "trunc.bin": (data[:-3], "truncated: token 511"),
        "trailing.bin": (data + b"\x01\x02", "truncated: token 512"),
        "absurd.bin": (struct.pack("<i", 1 << 30) + data[4:], "max_token_length is 1073741824"),
        "neglen.bin": (data[:4] + data[4:8] + struct.pack("<i", -5) + data[12:], "token 0 at byte 4 has length -5"),
        "nan.bin": (data[:4] + struct.pack("<f", float("nan")) + data[8:], "must be finite"),
        "few.bin": (data[:4 + sum(8 + len(p) for p, _ in recs[:100])], "100 tokens; at least 259"),
        "bytename.bin": (data.replace(b"<0x41>", b"<0x4A>", 1), "must be the byte-fallback token \"<0x41>\""),
    }
    for fname, (content, fragment) in bad.items():
        path = write(ctx, fname, content)
        msg = ctx.error("SELECT llm_tokenizer_import('b', 'llama2c', ?)", (path,),
                        "llm_tokenizer_import:", "llama2.c tokenizer", fragment)
        assert path in msg, msg
    ctx.error("SELECT llm_tokenizer_import('b', 'llama2c', ?)", (os.path.join(ctx.tmp, "nope.bin"),),
              "llm_tokenizer_import:", "cannot open")
    ctx.error("SELECT llm_tokenizer_import('b', 'llama2c', NULL)", (), "llm_tokenizer_import:", "tokenizer_path")
    ctx.error("SELECT llm_tokenizer_import('b', 'llama2c', 'a', 'b')", (), "llm_tokenizer_import:",
              "format 'llama2c' takes one file")
    ctx.error("SELECT llm_tokenizer_import('b', 'gpt2', 'a')", (), "llm_tokenizer_import:",
              "format 'gpt2' takes two files")
    ctx.error("SELECT llm_tokenizer_import('b', 'sentencepiece', 'a')", (), "llm_tokenizer_import:",
              "unknown format 'sentencepiece'", "'llama2c'")
    # nothing was stored by any of them
    try:
        n = db.execute("SELECT count(*) FROM llm_tokenizers").fetchone()[0]
    except sqlite3.OperationalError:
        n = 0
    assert n == 0
    # the name is still free, and a second import under it is refused
    import_tok(ctx, "b")
    ctx.error("SELECT llm_tokenizer_import('b', 'llama2c', ?)", (tok_path(ctx),), "llm_tokenizer_import:",
              "already exists")
