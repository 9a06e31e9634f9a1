"""test_quantize.py: llm_quantize(source, target, type [, options]).

The Shakespeare model of ../shared/data/gguf, quantized by llama.cpp's
llama-quantize into every type (recorded as tensor hashes), must come out
of llm_quantize byte for byte the same (so with the same quality: the
perplexity is compared too, with the shared quantized files); the results
run, export, quantize again and dequantize."""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import read_gguf  # noqa: E402

# our type name -> the shared file of it (made by llama.cpp's tools)
SHARED_FILES = {"q8_0": "Q8_0", "f16": "F16", "q4_0": "Q4_0", "q4_k_m": "Q4_K_M", "q6_k": "Q6_K"}
PURE = ("q2_k", "q3_k", "q4_k", "q5_k")  # recorded from llama-quantize --pure


def shakespeare(ctx, kind):
    return os.path.join(ctx.shared, "gguf", "shakespeare-4L-%s.gguf" % kind)


def held_out(ctx):
    return open(os.path.join(ctx.shared, "tinyshakespeare.txt"), encoding="utf-8").read()[-2000:-500]


def test_types_equal_llama_quantize(ctx):
    """Every type, tensor for tensor (type and sha256 of the bytes), as
    llama-quantize made it (tests/data/llamacpp/quantize.json, recorded by
    tools/llamacpp_ref/record_quantize.py)."""
    with open(os.path.join(ctx.root, "tests", "data", "llamacpp", "quantize.json"), encoding="utf-8") as f:
        recorded = json.load(f)["types"]
    assert len(recorded) == 14
    ctx.db.execute("SELECT llm_import('f32', 'gguf', ?)", (shakespeare(ctx, "F32"),))
    for ours, rec in recorded.items():
        opts = '{"pure": true}' if ours in PURE else '{}'
        summary = json.loads(ctx.one("SELECT llm_quantize('f32', ?, ?, ?)", (ours, ours, opts)))
        assert summary["source"] == "f32" and summary["bytes"] > 0, summary
        path = os.path.join(ctx.tmp, ours + ".gguf")
        ctx.db.execute("SELECT llm_export(?, 'gguf', ?)", (ours, path))
        mine = {n: [ty, hashlib.sha256(d).hexdigest()] for n, (_, ty, d) in read_gguf(path)[1].items()}
        assert mine == rec["tensors"], (ours, [n for n in rec["tensors"] if mine.get(n) != rec["tensors"][n]][:4])


def test_perplexity_equals_llama_quantize_files(ctx):
    """And so the quality: our quantization's perplexity on held-out text
    against that of the file llama.cpp quantized (no worse than 0.5%)."""
    ctx.db.execute("SELECT llm_import('f32', 'gguf', ?)", (shakespeare(ctx, "F32"),))
    text = held_out(ctx)
    for ours, theirs in SHARED_FILES.items():
        ctx.db.execute("SELECT llm_quantize('f32', ?, ?)", (ours, ours))
        ctx.db.execute("SELECT llm_import(?, 'gguf', ?)", ("ref_" + ours, shakespeare(ctx, theirs)))
        p, r = (ctx.one("SELECT llm_perplexity(?, ?)", (m, text)) for m in (ours, "ref_" + ours))
        assert p <= r * 1.005, (ours, p, r)


def test_every_type_scores_as_llama_cpp(ctx):
    """Each type llm_quantize makes runs as llama.cpp runs the same file
    (llama-quantize's bytes, test above): on the 9 held-out windows of
    shakespeare-TYPE.json, the sum of our teacher-forced log-probabilities
    is within 0.01 nats per token of llama.cpp's
    (tests/data/llamacpp/quantize-scores.json; a mean absolute difference
    per token of 0.01 allows no more). Covers the types that no shared
    file has: q4_1, q5_0, q5_1, the k-quants alone, q5_k_m, bf16."""
    with open(os.path.join(ctx.root, "tests", "data", "llamacpp", "quantize-scores.json"), encoding="utf-8") as f:
        recorded = json.load(f)["types"]
    assert len(recorded) == 14
    text = open(os.path.join(ctx.shared, "tinyshakespeare.txt"), "rb").read()
    ctx.db.execute("SELECT llm_import('f32', 'gguf', ?)", (shakespeare(ctx, "F32"),))
    worst = {}
    for ours, windows in recorded.items():
        opts = '{"pure": true}' if ours in PURE else '{}'
        ctx.db.execute("SELECT llm_quantize('f32', ?, ?, ?)", (ours, ours, opts))
        for w in windows:
            piece = text[w["byte_offset"]:w["byte_offset"] + w["byte_length"]].decode("utf-8")
            mine = ctx.one("SELECT llm_logprob(?, ?)", (ours, piece))
            per_token = abs(mine - w["sum_logprob"]) / (w["n_tokens"] - 1)
            worst[ours] = max(worst.get(ours, 0), per_token)
    assert all(v <= 0.01 for v in worst.values()), worst


def test_dequantize_and_fine_tune(ctx):
    ctx.db.execute("SELECT llm_import('q', 'gguf', ?)", (shakespeare(ctx, "Q4_K_M"),))
    summary = json.loads(ctx.one("SELECT llm_quantize('q', 'back', 'f32')"))
    assert summary["types"] == {"f32": 39}, summary
    text = held_out(ctx)[:300]
    a, b = (ctx.one("SELECT llm_logprob(?, ?)", (m, text)) for m in ("q", "back"))
    assert abs(a - b) < 0.02 * abs(a), (a, b)  # (q4_k's products round activations; float ones don't)
    ctx.db.execute("CREATE TABLE docs(body TEXT)")
    ctx.db.execute("INSERT INTO docs VALUES (?)",
                   (open(os.path.join(ctx.shared, "tinyshakespeare.txt"), encoding="utf-8").read()[:20000],))
    ctx.error("SELECT * FROM llm_train('q', 'SELECT body FROM docs', '{\"steps\": 1}')", (),
              "quantized weights")
    rows = ctx.db.execute("SELECT step FROM llm_train('back', 'SELECT body FROM docs', "
                          "'{\"steps\": 2, \"batch_size\": 2, \"log_every\": 1}')").fetchall()
    assert [r[0] for r in rows] == [1, 2], rows


def test_mix_and_pure(ctx):
    ctx.db.execute("SELECT llm_import('f32', 'gguf', ?)", (shakespeare(ctx, "F32"),))
    mixed = json.loads(ctx.one("SELECT llm_quantize('f32', 'm', 'q8_0')"))["types"]
    assert mixed == {"f32": 9, "q8_0": 30}, mixed
    pure = json.loads(ctx.one("SELECT llm_quantize('f32', 'p', 'f16', '{\"pure\": true}')"))["types"]
    assert pure == {"f32": 9, "f16": 30}, pure
    # a quantized model quantized again, and exported: it runs
    ctx.db.execute("SELECT llm_quantize('m', 'm16', 'bf16')")
    assert ctx.db.execute("SELECT DISTINCT dtype FROM llm_weights WHERE model = 'm16' ORDER BY 1").fetchall() == \
        [("bf16",), ("f32",)]
    assert len(ctx.one("SELECT llm_generate('m16', 'ROMEO:', '{\"max_tokens\": 8}')")) > 0


def test_bad_calls(ctx):
    ctx.db.execute("SELECT llm_import('f32', 'gguf', ?)", (shakespeare(ctx, "F32"),))
    ctx.error("SELECT llm_quantize('f32', 'x', 'q3_k_xl')", (), "llm_quantize:", "q3_k_xl", "q4_k_m")
    ctx.error("SELECT llm_quantize('f32', 'x', 'iq2_xxs')", (), "llm_quantize:", "iq2_xxs")
    ctx.error("SELECT llm_quantize('nope', 'x', 'q8_0')", (), "llm_quantize:", "nope")
    ctx.error("SELECT llm_quantize('f32', 'f32', 'q8_0')", (), "llm_quantize:", "already exists")
    ctx.error("SELECT llm_quantize('f32', 'x', 'q8_0', '{\"bits\": 3}')", (), "llm_quantize:", "bits")
    assert ctx.one("SELECT count(*) FROM llm_models") == 1


def test_a_trained_gpt_quantized(ctx):
    """A model made here keeps its tokenizer's start token when quantized
    (<|endoftext|> before the text), so its quantized copy scores the same
    tokens; the fallbacks for rows of 64 (not whole blocks of 256) apply."""
    gpt2 = os.path.join(ctx.shared, "gpt2")
    ctx.db.execute("SELECT llm_tokenizer_import('g2', 'gpt2', ?, ?)",
                   (os.path.join(gpt2, "encoder.json"), os.path.join(gpt2, "vocab.bpe")))
    ctx.db.execute("SELECT llm_model_create('g', '{\"tokenizer\": \"g2\", \"n_layer\": 2, \"n_head\": 4, "
                   "\"n_embd\": 64, \"block_size\": 64, \"seed\": 7}')")
    types = json.loads(ctx.one("SELECT llm_quantize('g', 'gk', 'q4_k_m')"))["types"]
    # q4_k -> q5_0, the fused qkv's q5_k -> q5_1, the tied embedding's q6_k -> q8_0
    assert types == {"f32": 19, "q5_0": 4, "q5_1": 2, "q8_0": 1, "q4_k": 1, "q6_k": 1}, types
    ctx.db.execute("SELECT llm_quantize('g', 'gq', 'q8_0')")
    text = "The quick brown fox jumps over the lazy dog"
    a, b = (ctx.one("SELECT llm_logprob(?, ?)", (m, text)) for m in ("g", "gq"))
    assert abs(a - b) < 0.01 * abs(a), (a, b)
