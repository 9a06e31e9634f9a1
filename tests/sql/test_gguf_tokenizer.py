"""SQL-level tests of tokenizers imported from GGUF files:
llm_tokenizer_import(name, 'gguf', path), how they are stored, and that they
encode exactly as llama.cpp does.

The reference is llama.cpp's own test data beside each vocabulary file in
../shared/data/gguf/vocab/ (see SOURCE.txt there): ggml-vocab-NAME.gguf.inp
holds test strings, each followed by a line "__ggml_vocab_test__", and
ggml-vocab-NAME.gguf.out the ids llama.cpp's tokenizer gives each of them
(test-tokenizer-0: no BOS/EOS added, special tokens not parsed).

Run: /usr/bin/python3 tests/sql/harness.py ./llm.so tests/sql/test_gguf_tokenizer.py
"""
import json
import os
import sqlite3

from gguf_writer import write_gguf

SEPARATOR = "\n__ggml_vocab_test__\n"
# Every vocabulary file llama.cpp ships test vectors for.
WITH_VECTORS = ["bert-bge", "deepseek-coder", "deepseek-llm", "falcon", "gpt-2", "llama-spm",
                "mpt", "phi-3", "refact", "starcoder"]
KINDS = {"bert-bge": "wordpiece", "llama-spm": "spm", "phi-3": "spm", "baichuan": "spm"}


def vocab_path(ctx, name):
    path = os.path.join(ctx.shared, "gguf", "vocab", f"ggml-vocab-{name}.gguf")
    assert os.path.isfile(path), f"missing shared data file {path}"
    return path


def vectors(ctx, name):
    """The (text, ids) pairs of llama.cpp's test data for one vocabulary."""
    path = vocab_path(ctx, name)
    with open(path + ".inp", encoding="utf-8", newline="") as f:
        texts = f.read().split(SEPARATOR)
    assert texts[-1] == "", "the .inp file ends with a separator"
    texts = texts[:-1]
    with open(path + ".out", encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert len(lines) >= len(texts)
    return [(t, [int(x) for x in lines[i].split()]) for i, t in enumerate(texts)]


def import_vocab(ctx, name, db=None):
    db = db or ctx.db
    return json.loads(db.execute("SELECT llm_tokenizer_import(?, 'gguf', ?)",
                                 (name, vocab_path(ctx, name))).fetchone()[0])


def tokenize(db, name, text, options=None):
    row = db.execute("SELECT llm_tokenize(?, ?, ?)", (name, text, options)).fetchone()
    return json.loads(row[0])


def test_llama_cpp_vectors(ctx):
    total = 0
    for name in WITH_VECTORS:
        import_vocab(ctx, name)
        pairs = vectors(ctx, name)
        assert len(pairs) >= 30, (name, len(pairs))
        bad = [(t, want, tokenize(ctx.db, name, t)) for t, want in pairs
               if tokenize(ctx.db, name, t) != want]
        assert not bad, f"{name}: {len(bad)} of {len(pairs)} differ, first: {bad[0]!r}"
        total += len(pairs)
    assert total > 400


def test_import_summary_and_tables(ctx):
    s = import_vocab(ctx, "gpt-2")
    assert s["kind"] == "bpe" and s["model"] == "gpt2" and s["pre"] == "gpt-2", s
    assert s["n_vocab"] == 50257 and s["merges"] == 50000 and s["special_tokens"] == 1, s
    row = ctx.db.execute("SELECT kind, source, pretokenize, n_vocab, config FROM llm_tokenizers "
                         "WHERE name = 'gpt-2'").fetchone()
    assert row[:4] == ("bpe", "gguf", "gpt-2", 50257), row
    config = json.loads(row[4])
    assert config["format"] == "gguf" and len(config["patterns"]) == 1, config
    assert config["roles"] == {"bos": 50256, "eos": 50256}, config["roles"]
    assert ctx.one("SELECT count(*) FROM llm_vocab WHERE tokenizer = 'gpt-2'") == 50257
    assert ctx.one("SELECT count(*) FROM llm_merges WHERE tokenizer = 'gpt-2'") == 50000
    # pieces as the file spells them; the first merge is "Ġ t"
    assert ctx.one("SELECT CAST(piece AS TEXT) FROM llm_vocab WHERE tokenizer = 'gpt-2' AND id = 50256") \
        == "<|endoftext|>"
    left, right = ctx.db.execute("SELECT left_id, right_id FROM llm_merges WHERE tokenizer = 'gpt-2' "
                                 "AND rank = 0").fetchone()
    assert ctx.one("SELECT CAST(piece AS TEXT) FROM llm_vocab WHERE tokenizer = 'gpt-2' AND id = ?",
                   (left,)) == "\u0120"
    assert ctx.one("SELECT kind FROM llm_vocab WHERE tokenizer = 'gpt-2' AND id = 50256") == "special"

    s = import_vocab(ctx, "phi-3")
    assert s["kind"] == "spm" and s["byte_tokens"] == 256 and s["chat_template"] is True, s
    config = json.loads(ctx.one("SELECT config FROM llm_tokenizers WHERE name = 'phi-3'"))
    assert "<|assistant|>" in config["chat_template"]
    assert config["flags"]["add_bos"] is True and config["flags"]["add_space_prefix"] is True
    assert ctx.one("SELECT kind FROM llm_vocab WHERE tokenizer = 'phi-3' AND id = 3") == "byte"
    assert ctx.one("SELECT CAST(piece AS TEXT) FROM llm_vocab WHERE tokenizer = 'phi-3' AND id = 3") == "<0x00>"

    s = import_vocab(ctx, "deepseek-coder")
    assert s["user_tokens"] == 254, s
    s = import_vocab(ctx, "bert-bge")
    assert s["kind"] == "wordpiece" and s["n_vocab"] == 30522, s
    info = json.loads(ctx.one("SELECT llm_tokenizer_info('gpt-2')"))
    assert info["kind"] == "bpe" and info["n_vocab"] == 50257 and info["merges"] == 50000, info
    # its pieces (over 300 KB), merges index and per-token tables, but not more than a few MB
    assert 1_000_000 < info["memory_bytes"] < 20_000_000, info["memory_bytes"]
    assert info["roles"] == {"bos": 50256, "eos": 50256} and info["flags"]["add_bos"] is False, info


def test_every_vocab_file_imports(ctx):
    folder = os.path.join(ctx.shared, "gguf", "vocab")
    names = sorted(f[len("ggml-vocab-"):-len(".gguf")] for f in os.listdir(folder) if f.endswith(".gguf"))
    assert len(names) >= 12, names
    for name in names:
        s = import_vocab(ctx, name)
        assert s["kind"] == KINDS.get(name, "bpe"), (name, s)
        # every text of a small sample encodes and decodes without error
        ids = tokenize(ctx.db, name, "Hello, world! 123 \u00e9\u00e8 \u4e2d\u6587")
        assert ids and all(0 <= i < s["n_vocab"] for i in ids), (name, ids)


def test_reload_from_tables(ctx):
    """A second connection builds the tokenizer from the tables alone: same ids."""
    for name in ["llama-spm", "deepseek-llm", "bert-bge"]:
        import_vocab(ctx, name)
    db2 = ctx.connect(os.path.join(ctx.tmp, "test.db"))
    for name in ["llama-spm", "deepseek-llm", "bert-bge"]:
        for text, want in vectors(ctx, name):
            assert tokenize(db2, name, text) == want, (name, text)


def test_round_trips(ctx):
    """Lossless kinds decode back to the text; WordPiece gives lower-cased words."""
    texts = ["Hello world", " leading space", "tabs\tand\nnewlines\n\n", "caf\u00e9 \U0001F600 \u4e2d\u6587",
             "   ", "x" * 300, "<s> not special </s>"]
    for name in ["llama-spm", "phi-3", "gpt-2", "deepseek-coder", "falcon", "starcoder", "mpt"]:
        import_vocab(ctx, name)
        for t in texts:
            back = ctx.one("SELECT llm_detokenize(?, llm_tokenize(?, ?))", (name, name, t))
            assert back == t, (name, t, back)
    import_vocab(ctx, "bert-bge")
    assert ctx.one("SELECT llm_detokenize('bert-bge', llm_tokenize('bert-bge', 'Hello World'))") \
        == "hello world"


def test_add_special_and_allow_special(ctx):
    import_vocab(ctx, "llama-spm")
    plain = tokenize(ctx.db, "llama-spm", "Hello")
    assert tokenize(ctx.db, "llama-spm", "Hello", '{"add_special": true}') == [1] + plain
    # control tokens are text unless allowed
    assert 1 not in tokenize(ctx.db, "llama-spm", "<s>Hello")
    assert tokenize(ctx.db, "llama-spm", "<s>Hello", '{"allow_special": true}')[0] == 1
    import_vocab(ctx, "bert-bge")
    ids = tokenize(ctx.db, "bert-bge", "hello", '{"add_special": true}')
    assert ids[0] == 101 and ids[-1] == 102 and len(ids) == 3, ids
    # user-defined tokens are always parsed: deepseek-coder's byte tokens 32000..
    import_vocab(ctx, "deepseek-coder")
    assert tokenize(ctx.db, "deepseek-coder", "\u00f5") == [32000]


def base_kvs(tokens, model="gpt2"):
    return [("general.architecture", "str", "llama"),
            ("tokenizer.ggml.model", "str", model),
            ("tokenizer.ggml.tokens", ("arr", "str"), tokens)]


def test_bad_files(ctx):
    def bad(kvs, *fragments, raw=None):
        path = os.path.join(ctx.tmp, "bad.gguf")
        if raw is not None:
            with open(path, "wb") as f:
                f.write(raw)
        else:
            write_gguf(path, kvs)
        ctx.error("SELECT llm_tokenizer_import('x', 'gguf', ?)", (path,), "bad.gguf", *fragments)
        assert ctx.one("SELECT count(*) FROM sqlite_master WHERE name = 'llm_tokenizers'") == 0 or \
            ctx.one("SELECT count(*) FROM llm_tokenizers WHERE name = 'x'") == 0

    toks = ["a", "b", "ab", "\u0120"]
    bad(None, "not a GGUF file", raw=b"not a gguf file at all, just text")
    bad(None, "tokenizer.ggml.tokens", "are left", raw=open(vocab_path(ctx, "gpt-2"), "rb").read()[:5000])
    bad([("general.architecture", "str", "llama")], "no tokenizer")
    bad(base_kvs(toks, "t5"), "'t5'", "not supported", "'llama'", "'gpt2'", "'bert'")
    bad(base_kvs(toks) + [("tokenizer.ggml.merges", ("arr", "str"), ["a b"]),
                          ("tokenizer.ggml.pre", "str", "no-such-pre")],
        "no-such-pre", "unknown pre-tokenizer", "llama-bpe")
    bad(base_kvs(toks) + [("tokenizer.ggml.merges", ("arr", "str"), ["a c"])], "merge 0", "\"c\"",
        "not a token")
    bad(base_kvs(toks) + [("tokenizer.ggml.merges", ("arr", "str"), ["ab"])], "merge 0",
        "separated by a space")
    bad(base_kvs(toks) + [("tokenizer.ggml.merges", ("arr", "str"), ["a b"]),
                          ("tokenizer.ggml.scores", ("arr", "f32"), [0.0, 1.0])],
        "tokenizer.ggml.scores has 2 entries")
    bad(base_kvs(["a", "b", "a"]) + [("tokenizer.ggml.merges", ("arr", "str"), [])], "same text")
    # an id outside the vocabulary (0xFFFFFFFF is how files say "none")
    # leaves the role unset, as llama.cpp does
    for eos in (99, 0xFFFFFFFF):
        path = write_gguf(os.path.join(ctx.tmp, "eos.gguf"),
                          base_kvs(toks) + [("tokenizer.ggml.merges", ("arr", "str"), ["a b"]),
                                            ("tokenizer.ggml.eos_token_id", "u32", eos)])
        ctx.db.execute("SELECT llm_tokenizer_drop('e')")
        ctx.db.execute("SELECT llm_tokenizer_import('e', 'gguf', ?)", (path,))
        info = json.loads(ctx.one("SELECT llm_tokenizer_info('e')"))
        assert "eos" not in info.get("roles", {}), info
    bad(base_kvs(toks) + [("tokenizer.ggml.merges", ("arr", "str"), ["a b"]),
                          ("tokenizer.ggml.bos_token_id", "str", "1")], "bos_token_id")
    bad(base_kvs(toks), "tokenizer.ggml.merges")
    ctx.error("SELECT llm_tokenizer_import('x', 'gguf', ?)", (os.path.join(ctx.tmp, "none.gguf"),),
              "cannot open", "none.gguf")
    ctx.error("SELECT llm_tokenizer_import('x', 'gguf')", (), "wrong number of arguments")
    ctx.error("SELECT llm_tokenizer_import('x', 'gguf', 'a', 'b')", (), "wrong number of arguments")
    # a good small file then imports, and its name is taken
    path = write_gguf(os.path.join(ctx.tmp, "ok.gguf"),
                      base_kvs(toks) + [("tokenizer.ggml.merges", ("arr", "str"), ["a b"])])
    assert json.loads(ctx.one("SELECT llm_tokenizer_import('x', 'gguf', ?)", (path,)))["merges"] == 1
    ctx.error("SELECT llm_tokenizer_import('x', 'gguf', ?)", (path,), "already exists")


def test_token_offsets(ctx):
    """llm_tokens' start and end point into the original text also when the
    tokenizer rewrites it: SentencePiece's '▁' for spaces and prefix, and
    WordPiece's lower case and accents."""
    import_vocab(ctx, "bert-bge")
    text = "Hello WORLD, F\u00fchrer!"
    rows = ctx.db.execute("SELECT CAST(piece AS TEXT), start, \"end\", CAST(bytes AS TEXT) FROM "
                          "llm_tokens('bert-bge', ?)", (text,)).fetchall()
    assert [r[3] for r in rows] == ["Hello", "WORLD", ",", "F\u00fc", "hrer", "!"], rows
    assert [r[0] for r in rows] == ["\u2581hello", "\u2581world", "\u2581,", "\u2581fu", "hrer", "\u2581!"], rows
    b = text.encode("utf-8")
    assert all(b[r[1]:r[2]].decode("utf-8") == r[3] for r in rows)
    import_vocab(ctx, "llama-spm")
    for text in ["Hello world", "  two  spaces", "caf\u00e9 \U0001F600!"]:
        rows = ctx.db.execute("SELECT start, \"end\", bytes FROM llm_tokens('llama-spm', ?)", (text,)).fetchall()
        assert b"".join(bytes(r[2]) for r in rows) == text.encode("utf-8"), (text, rows)
        assert all(rows[i][1] == rows[i + 1][0] for i in range(len(rows) - 1)), rows
