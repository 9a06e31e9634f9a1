"""llama2.c models through SQL: llm_import of the pretrained stories260K
checkpoint and its tokenizer (../shared/data/llama2c), greedy generation
against the reference implementation's token ids (tests/data/llama2c_ref.json,
recorded from karpathy/llama2.c's run.c; its "source" says how), export and
re-import, fine-tuning with llm_train, the other functions on the imported
model, and malformed files."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(os.path.dirname(HERE), "data", "llama2c_ref.json")


def files(ctx):
    d = os.path.join(ctx.shared, "llama2c")
    ckpt, tok = os.path.join(d, "stories260K.bin"), os.path.join(d, "tok512.bin")
    for p in (ckpt, tok):
        assert os.path.exists(p), f"{p} is missing: the tests need ../shared/data/llama2c"
    return ckpt, tok


def imported(ctx, name="s"):
    ckpt, tok = files(ctx)
    summary = json.loads(ctx.one("SELECT llm_import(?, 'llama2c', ?, ?)", (name, ckpt, tok)))
    return summary


def gen_ids(ctx, prompt, max_tokens, model="s"):
    rows = ctx.db.execute(
        "SELECT token_id, finish FROM llm_generate_tokens(?, ?, json_object('temperature', 0, 'max_tokens', ?)) "
        "ORDER BY i", (model, prompt, max_tokens)).fetchall()
    assert rows and rows[-1][1] is not None, rows
    return [r[0] for r in rows[:-1]], rows[-1]


def test_import_summary_and_config(ctx):
    s = imported(ctx)
    c = s["config"]
    assert s["n_params"] == 260032 and s["n_vocab"] == 512 and s["version"] == 0
    assert (c["arch"], c["n_layer"], c["n_head"], c["n_kv_head"], c["n_embd"], c["n_hidden"], c["block_size"],
            c["vocab_size"], c["tied_head"]) == ("llama", 5, 8, 4, 64, 172, 512, 512, True)
    assert ctx.one("SELECT n_params FROM llm_models WHERE name = 's'") == 260032
    assert ctx.one("SELECT count(*) FROM llm_weights WHERE model = 's' AND role = 'param'") == 8
    assert ctx.one("SELECT n_vocab FROM llm_tokenizers WHERE name = 's'") == 512


def test_greedy_generation_matches_the_reference(ctx):
    ref = json.load(open(REF))
    imported(ctx)
    checked = 0
    for case in ref["cases"]:
        prompt_ids = case["prompt_ids"]
        assert prompt_ids[0] == 1
        assert json.loads(ctx.one("SELECT llm_tokenize('s', ?)", (case["prompt"],))) == prompt_ids[1:]
        max_tokens = case["steps"] - (len(prompt_ids) - 1)  # the reference's steps include the prompt
        if max_tokens < 1:
            continue  # the reference then cuts the prompt short: nothing to compare
        ids, last = gen_ids(ctx, case["prompt"], max_tokens)
        assert ids == case["generated_ids"], (case["prompt"], case["steps"], ids[:20], case["generated_ids"][:20])
        if case["stopped"] == "bos":
            assert last[1] == "eos" and last[0] == 1, last  # the start token sampled ends it, as there
        else:
            assert last[1] == "length" and len(ids) == max_tokens, last
        checked += 1
    assert checked >= 10


def test_generated_text_matches_the_reference(ctx):
    ref = json.load(open(REF))
    imported(ctx)
    for case in ref["cases"]:
        if "text" not in case or not case["prompt"]:
            continue
        max_tokens = case["steps"] - (len(case["prompt_ids"]) - 1)
        text = ctx.one("SELECT llm_generate('s', ?, json_object('temperature', 0, 'max_tokens', ?))",
                       (case["prompt"], max_tokens))
        # the reference prints the prompt, then the continuation
        assert case["text"] == case["prompt"] + text, (case["text"], text)
    # an empty prompt generates from the start token: the first piece loses its space
    case = next(c for c in ref["cases"] if c["prompt"] == "" and c["steps"] == 64)
    assert ctx.one("SELECT llm_generate('s', '', '{\"temperature\": 0, \"max_tokens\": 64}')") == case["text"]


def test_export_then_import_is_lossless(ctx):
    ckpt, tok = files(ctx)
    imported(ctx)
    out = os.path.join(ctx.tmp, "out.bin")
    n = ctx.one("SELECT llm_export('s', 'llama2c', ?)", (out,))
    assert n == os.path.getsize(out) == os.path.getsize(ckpt)
    # the same bytes up to the legacy RoPE tables (which readers skip)
    a, b = open(out, "rb").read(), open(ckpt, "rb").read()
    dim, hidden, layers, heads, kv, vocab, seq = struct.unpack("<7i", b[:28])
    rope_bytes = 2 * seq * (dim // heads) // 2 * 4
    assert a[:len(a) - rope_bytes] == b[:len(b) - rope_bytes]
    ctx.one("SELECT llm_import('t', 'llama2c', ?, ?)", (out, tok))
    diff = ctx.one("""SELECT count(*) FROM llm_weights a JOIN llm_weights b ON a.name = b.name AND a.role = b.role
                      WHERE a.model = 's' AND b.model = 't' AND a.data IS NOT b.data""")
    same = ctx.one("""SELECT count(*) FROM llm_weights a JOIN llm_weights b ON a.name = b.name AND a.role = b.role
                      WHERE a.model = 's' AND b.model = 't' AND a.data = b.data""")
    assert diff == 0 and same == 8
    assert gen_ids(ctx, "Once upon a time", 30, "t") == gen_ids(ctx, "Once upon a time", 30, "s")


def legacy_to_version1(data):
    """The same checkpoint in llama2.c's version-1 layout (its export.py
    writes the arrays in another order, after a 256-byte header)."""
    dim, hidden, L, nh, nkv, vocab, seq = struct.unpack("<7i", data[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    hs, at = dim // nh, 28
    kv = hs * nkv
    arrays = {}
    for name, n in [("emb", vocab * dim), ("att_norm", L * dim), ("wq", L * dim * dim), ("wk", L * kv * dim),
                    ("wv", L * kv * dim), ("wo", L * dim * dim), ("ffn_norm", L * dim), ("w1", L * hidden * dim),
                    ("w2", L * dim * hidden), ("w3", L * hidden * dim), ("norm", dim), ("rope", seq * hs),
                    ("cls", 0 if shared else vocab * dim)]:
        arrays[name] = data[at:at + 4 * n]
        at += 4 * n
    assert at == len(data)
    head = struct.pack("<Ii7iB", 0x616B3432, 1, dim, hidden, L, nh, nkv, vocab, seq, int(shared))
    order = ["att_norm", "ffn_norm", "norm", "emb", "wq", "wk", "wv", "wo", "w1", "w2", "w3", "cls"]
    return head + b"\0" * (256 - len(head)) + b"".join(arrays[k] for k in order)


def read_tokenizer_file(path):
    data = open(path, "rb").read()
    (max_len,), at, out = struct.unpack("<i", data[:4]), 4, []
    while at < len(data):
        score, n = struct.unpack("<fi", data[at:at + 8])
        out.append((score, data[at + 8:at + 8 + n]))
        at += 8 + n
    return max_len, out


def test_export_with_the_tokenizer(ctx):
    ckpt, tok = files(ctx)
    imported(ctx)
    out, out_tok = os.path.join(ctx.tmp, "m.bin"), os.path.join(ctx.tmp, "tok.bin")
    n = ctx.one("SELECT llm_export('s', 'llama2c', ?, ?)", (out, out_tok))
    assert n == os.path.getsize(out) + os.path.getsize(out_tok)
    # the same file (scores compare equal: a stored -0.0 comes back as 0.0)
    assert read_tokenizer_file(out_tok) == read_tokenizer_file(tok)
    assert os.path.getsize(out_tok) == os.path.getsize(tok)
    ctx.one("SELECT llm_import('t', 'llama2c', ?, ?)", (out, out_tok))
    assert ctx.one("""SELECT count(*) FROM llm_vocab a JOIN llm_vocab b ON a.id = b.id
                      WHERE a.tokenizer = 's' AND b.tokenizer = 't' AND a.piece = b.piece AND a.score = b.score
                        AND a.kind = b.kind""") == 512
    # a BPE tokenizer cannot be written in llama2.c's format; nothing is written then
    ctx.db.execute("SELECT llm_tokenizer_train('b', ?, 258, '{\"min_frequency\": 1}')", ("SELECT 'abcabcabc'",))
    ctx.db.execute("SELECT llm_model_create('b', ?)",
                   ('{"arch": "llama", "n_layer": 1, "n_head": 2, "n_embd": 8, "block_size": 4}',))
    p = os.path.join(ctx.tmp, "b.bin")
    ctx.error("SELECT llm_export('b', 'llama2c', ?, ?)", (p, p + ".tok"), "llm_export:", "BPE")
    assert not os.path.exists(p) and not os.path.exists(p + ".tok")
    assert ctx.one("SELECT llm_export('b', 'llama2c', ?)", (p,)) == os.path.getsize(p)


def test_version1_checkpoints(ctx):
    ckpt, tok = files(ctx)
    imported(ctx)
    p = os.path.join(ctx.tmp, "v1.bin")
    open(p, "wb").write(legacy_to_version1(open(ckpt, "rb").read()))
    assert json.loads(ctx.one("SELECT llm_import('v', 'llama2c', ?, ?)", (p, tok)))["version"] == 1
    assert ctx.one("""SELECT count(*) FROM llm_weights a JOIN llm_weights b ON a.name = b.name AND a.role = b.role
                      WHERE a.model = 's' AND b.model = 'v' AND a.data = b.data""") == 8
    assert gen_ids(ctx, "Sam", 40, "v") == gen_ids(ctx, "Sam", 40, "s")


def test_other_functions_and_fine_tuning(ctx):
    imported(ctx)
    story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
    ppl = ctx.one("SELECT llm_perplexity('s', ?)", (story,))
    shuffled = " ".join(reversed(story.split()))
    assert 1 < ppl < ctx.one("SELECT llm_perplexity('s', ?)", (shuffled,))
    assert ctx.one("SELECT length(llm_embed('s', ?))", (story,)) == 64 * 4
    seen = story + " 3 Tom came too."
    before = ctx.one("SELECT llm_perplexity('s', ?)", (seen,))
    ctx.db.execute("CREATE TABLE stories(body TEXT)")
    ctx.db.executemany("INSERT INTO stories VALUES (?)", [(story + " " + str(i) + " Tom came too.",) for i in range(200)])
    rows = ctx.db.execute("SELECT step, loss FROM llm_train('s', 'SELECT body FROM stories', "
                          "'{\"steps\": 30, \"batch_size\": 4, \"lr\": 1e-3, \"warmup_steps\": 2, "
                          "\"log_every\": 10, \"eval_every\": 0}')").fetchall()
    assert [r[0] for r in rows] == [10, 20, 30]
    assert rows[-1][1] < rows[0][1]
    # the fine-tuned model is what the functions now use, and it still exports
    assert ctx.one("SELECT step FROM llm_models WHERE name = 's'") == 30
    assert ctx.one("SELECT llm_perplexity('s', ?)", (seen,)) < before
    out = os.path.join(ctx.tmp, "tuned.bin")
    assert ctx.one("SELECT llm_export('s', 'llama2c', ?)", (out,)) > 0


def test_malformed_files_are_rejected(ctx):
    ckpt, tok = files(ctx)
    data = open(ckpt, "rb").read()
    cases = {
        "truncated.bin": data[: len(data) - 100],
        "short.bin": data[:20],
        "huge_dim.bin": struct.pack("<7i", 1 << 30, 172, 5, 8, 4, 512, 512) + data[28:],
        "zero_layers.bin": struct.pack("<7i", 64, 172, 0, 8, 4, 512, 512) + data[28:],
        "bad_heads.bin": struct.pack("<7i", 64, 172, 5, 7, 4, 512, 512) + data[28:],
        "vocab_513.bin": struct.pack("<7i", 64, 172, 5, 8, 4, 513, 512) + data[28:],
        "version9.bin": struct.pack("<Ii", 0x616B3432, 9) + b"\0" * 300,
    }
    expect = {
        "truncated.bin": "needs", "short.bin": "truncated", "huge_dim.bin": "dim",
        "zero_layers.bin": "n_layers", "bad_heads.bin": "divisible", "vocab_513.bin": "needs",
        "version9.bin": "version 9",
    }
    for fname, blob in cases.items():
        p = os.path.join(ctx.tmp, fname)
        open(p, "wb").write(blob)
        ctx.error("SELECT llm_import('x', 'llama2c', ?, ?)", (p, tok), "llm_import:", expect[fname])
    nan = bytearray(data)
    nan[28:32] = struct.pack("<f", float("nan"))
    p = os.path.join(ctx.tmp, "nan.bin")
    open(p, "wb").write(bytes(nan))
    ctx.error("SELECT llm_import('x', 'llama2c', ?, ?)", (p, tok), "llm_import:", "non-finite")
    # a tokenizer of the wrong size for the model
    t = os.path.join(ctx.tmp, "tok_short.bin")
    open(t, "wb").write(open(tok, "rb").read()[:-40])
    ctx.error("SELECT llm_import('x', 'llama2c', ?, ?)", (ckpt, t), "llm_import:")
    ctx.error("SELECT llm_import('x', 'llama2c', ?, ?)", (os.path.join(ctx.tmp, "missing.bin"), tok),
              "llm_import:", "cannot open")
    ctx.error("SELECT llm_import('x', 'onnx', ?, ?)", (ckpt, tok), "llm_import:", "llama2c", "gguf")
    ctx.error("SELECT llm_import('x', 'gguf', ?, ?)", (ckpt, tok), "llm_import:", "path only")
    ctx.error("SELECT llm_import('x', 'gguf', ?)", (ckpt,), "llm_import:", "GGUF")
    ctx.error("SELECT llm_import('x', 'llama2c', NULL, ?)", (tok,), "llm_import:", "path")
    # nothing of the failed imports was stored
    assert ctx.db.execute("SELECT name FROM sqlite_master WHERE name = 'llm_models'").fetchone() is None or \
        ctx.one("SELECT count(*) FROM llm_models") == 0
    # names in use, a GPT model cannot be exported as llama2c, unwritable path
    imported(ctx)
    ctx.error("SELECT llm_import('s', 'llama2c', ?, ?)", (ckpt, tok), "llm_import:", "already exists")
    ctx.db.execute("SELECT llm_tokenizer_train('g', 'SELECT ''abcabcabc''', 258, '{\"min_frequency\": 1}')")
    ctx.db.execute("SELECT llm_model_create('g', '{\"n_layer\": 1, \"n_head\": 1, \"n_embd\": 8, \"block_size\": 4}')")
    ctx.error("SELECT llm_export('g', 'llama2c', ?)", (os.path.join(ctx.tmp, "g.bin"),), "llm_export:", "Llama")
    ctx.error("SELECT llm_export('s', 'llama2c', '/nonexistent/dir/x.bin')", (), "llm_export:", "cannot create")
    assert not os.path.exists(os.path.join(ctx.tmp, "g.bin"))
