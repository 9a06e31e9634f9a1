"""test_gguf_model.py: llm_import(name, 'gguf', path): GGUF models in the
database, run through SQL, against llama.cpp's recorded outputs
(tests/data/llamacpp/, see SOURCE.md there), their storage, and bad files.

The tiny random-weight models of each architecture are written into the
test's directory by tests/models/make_models.py (which checks that they are
byte for byte the files the references were recorded with)."""
import json
import math
import os
import sqlite3
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_writer import gguf_bytes, write_gguf  # noqa: E402

RECORDS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "llamacpp")


def record(name):
    with open(os.path.join(RECORDS, name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def tiny_models(ctx):
    out = os.path.join(ctx.tmp, "models")
    subprocess.run([sys.executable, os.path.join(ctx.root, "tests", "models", "make_models.py"), out],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def greedy_ids(ctx, model, prompt, n):
    rows = ctx.db.execute("SELECT token_id FROM llm_generate_tokens(?, ?, ?) WHERE token_id IS NOT NULL",
                          (model, prompt, json.dumps({"max_tokens": n, "temperature": 0}))).fetchall()
    return [r[0] for r in rows]


def check_decoder(ctx, name, path, rec, tol):
    ctx.db.execute("SELECT llm_import(?, 'gguf', ?)", (name, path))
    g = rec["greedy"]
    got = json.loads(ctx.one("SELECT llm_tokenize(?, ?, '{\"add_special\": true}')", (name, g["prompt"])))
    assert got == g["prompt_ids"], (name, got, g["prompt_ids"])
    ids = greedy_ids(ctx, name, g["prompt"], g["n"])
    assert ids == g["ids"][:len(ids)] and len(ids) == g["n"], (name, ids, g["ids"])
    s = rec["score"]
    text = open(os.path.join(ctx.root, rec["score_text"]), "rb").read()
    if "byte_offset" in s:
        text = text[s["byte_offset"]:s["byte_offset"] + s["byte_length"]]
    # llm_logprob scores the text's tokens after the start token, as llama.cpp did
    ours = ctx.one("SELECT llm_logprob(?, ?)", (name, text.decode("utf-8")))
    assert abs(ours - s["sum_logprob"]) <= tol * len(s["logprobs"]), (name, ours, s["sum_logprob"])


def test_stories260k_matches_llama_cpp(ctx):
    check_decoder(ctx, "s", os.path.join(ctx.shared, "gguf", "stories260K-f32.gguf"), record("stories260K-f32"), 1e-4)
    # the tokenizer came in with the model, under the same name
    assert ctx.one("SELECT kind FROM llm_tokenizers WHERE name = 's'") == "spm"


def test_tiny_decoders_match_llama_cpp(ctx):
    models = tiny_models(ctx)
    for arch in ("llama", "qwen2", "qwen3", "gemma3"):
        rec = record("tiny-" + arch)
        check_decoder(ctx, arch, os.path.join(models, rec["model"]), rec, 1e-3)
        assert ctx.one("SELECT arch FROM llm_models WHERE name = ?", (arch,)) == arch


def test_tiny_encoders_match_llama_cpp(ctx):
    models = tiny_models(ctx)
    for arch in ("bert", "nomic-bert"):
        rec = record("tiny-" + arch)
        ctx.db.execute("SELECT llm_import(?, 'gguf', ?)", (arch, os.path.join(models, rec["model"])))
        for e in rec["embed"]:
            blob = ctx.one("SELECT llm_embed(?, ?, '{\"normalize\": false}')", (arch, e["text"]))
            ours = struct.unpack("<%df" % (len(blob) // 4), blob)
            want = e["embedding"]
            dot = sum(a * b for a, b in zip(ours, want))
            cos = dot / math.sqrt(sum(a * a for a in ours) * sum(b * b for b in want))
            assert len(ours) == len(want) and cos >= 0.9999, (arch, e["text"], cos)
        # the file's pooling (mean) is the default; normalised by default
        n = ctx.one("SELECT llm_embed(?, 'The cat sat on the mat.')", (arch,))
        v = struct.unpack("<%df" % (len(n) // 4), n)
        assert abs(sum(x * x for x in v) - 1) < 1e-5
        ctx.error("SELECT llm_logprob(?, 'some text')", (arch,), "encoder")
        ctx.error("SELECT llm_generate(?, 'some text')", (arch,), "encoder", "llm_embed")
        ctx.error("SELECT * FROM llm_generate_tokens(?, 'some text')", (arch,), "encoder")


def test_quantized_types_are_stored_as_they_are(ctx):
    gguf = os.path.join(ctx.shared, "gguf")
    types = {}
    for q in ("F32", "F16", "Q8_0", "Q4_0", "Q4_K_M", "Q6_K"):
        summary = json.loads(ctx.one("SELECT llm_import(?, 'gguf', ?)",
                                     (q, os.path.join(gguf, "shakespeare-4L-%s.gguf" % q))))
        types[q] = summary["types"]
        stored = dict(ctx.db.execute("SELECT dtype, count(*) FROM llm_weights WHERE model = ? GROUP BY 1", (q,)))
        assert stored == summary["types"], (q, stored, summary["types"])
    assert set(types["Q4_K_M"]) == {"f32", "q4_k", "q6_k"}, types["Q4_K_M"]
    assert set(types["Q8_0"]) == {"f32", "q8_0"} and set(types["F16"]) == {"f32", "f16"}
    # every type runs, and the quantized ones stay close to float32
    text = open(os.path.join(ctx.shared, "tinyshakespeare.txt"), encoding="utf-8").read()[-2000:-500]
    ppl = {q: ctx.one("SELECT llm_perplexity(?, ?)", (q, text)) for q in types}
    for q, p in ppl.items():
        assert abs(p / ppl["F32"] - 1) < 0.02, ppl


def test_big_tensors_are_split_into_pieces(ctx):
    path = os.path.join(ctx.shared, "gguf", "stories260K-f32.gguf")
    ctx.db.execute("SELECT llm_import('whole', 'gguf', ?)", (path,))
    db = ctx.connect(os.path.join(ctx.tmp, "small.db"))
    db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 50000)  # 25 kB pieces
    db.execute("SELECT llm_import('split', 'gguf', ?)", (path,))
    parts = db.execute("SELECT count(*) FROM llm_weight_parts WHERE model = 'split'").fetchone()[0]
    biggest = db.execute("SELECT max(part) FROM llm_weight_parts WHERE name = 'token_embd.weight'").fetchone()[0]
    assert parts > 0 and biggest == 5, (parts, biggest)  # 512 x 64 floats = 128 kB in 6 pieces
    a = ctx.db.execute("SELECT llm_generate('whole', 'Once upon', '{\"max_tokens\": 30, \"temperature\": 0}')").fetchone()
    b = db.execute("SELECT llm_generate('split', 'Once upon', '{\"max_tokens\": 30, \"temperature\": 0}')").fetchone()
    assert a == b, (a, b)
    db.execute("SELECT llm_model_drop('split')")
    assert db.execute("SELECT count(*) FROM llm_weight_parts").fetchone()[0] == 0


def small_model(arch="llama", nan=False, qtype=0, extra=()):
    """A tiny valid-shaped llama GGUF (2 x 32 vocab, one layer)."""
    C, V, H = 32, 8, 64
    toks = ["<unk>", "<s>", "</s>", "a", "b", "c", "d", "e"]
    kvs = [("general.architecture", "str", arch), (arch + ".context_length", "u32", 16),
           (arch + ".embedding_length", "u32", C), (arch + ".block_count", "u32", 1),
           (arch + ".feed_forward_length", "u32", H), (arch + ".attention.head_count", "u32", 2),
           (arch + ".attention.layer_norm_rms_epsilon", "f32", 1e-5),
           ("tokenizer.ggml.model", "str", "llama"), ("tokenizer.ggml.tokens", ("arr", "str"), toks),
           ("tokenizer.ggml.scores", ("arr", "f32"), [0.0] * V),
           ("tokenizer.ggml.token_type", ("arr", "i32"), [2, 3, 3, 1, 1, 1, 1, 1])] + list(extra)

    def f32(n, v=0.01):
        vals = [v] * n
        if nan:
            vals[n // 2] = float("nan")
        return struct.pack("<%df" % n, *vals)

    t = [("token_embd.weight", [C, V], 0, f32(C * V)), ("output_norm.weight", [C], 0, struct.pack("<%df" % C, *[1.0] * C)),
         ("blk.0.attn_norm.weight", [C], 0, struct.pack("<%df" % C, *[1.0] * C)),
         ("blk.0.ffn_norm.weight", [C], 0, struct.pack("<%df" % C, *[1.0] * C))]
    for name, rows, cols in (("attn_q", C, C), ("attn_k", C, C), ("attn_v", C, C), ("attn_output", C, C),
                             ("ffn_gate", H, C), ("ffn_up", H, C), ("ffn_down", C, H)):
        if qtype and name == "ffn_up":
            t.append(("blk.0.%s.weight" % name, [cols, rows], qtype, bytes(rows * cols // 256 * 66)))
        else:
            t.append(("blk.0.%s.weight" % name, [cols, rows], 0, f32(rows * cols)))
    return kvs, t


def test_bad_files_store_nothing(ctx):
    good = write_gguf(os.path.join(ctx.tmp, "good.gguf"), *small_model())
    assert json.loads(ctx.one("SELECT llm_import('ok', 'gguf', ?)", (good,)))["arch"] == "llama"
    ctx.db.execute("SELECT llm_model_drop('ok')")
    ctx.db.execute("SELECT llm_tokenizer_drop('ok')")
    data = open(good, "rb").read()

    def bad(name, content, *fragments):
        path = os.path.join(ctx.tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        ctx.error("SELECT llm_import('x', 'gguf', ?)", (path,), "llm_import:", *fragments)

    bad("magic.gguf", b"GGUX" + data[4:], "magic")
    bad("version.gguf", data[:4] + struct.pack("<I", 9) + data[8:], "version")
    bad("truncated.gguf", data[:len(data) - 100], "")
    bad("arch.gguf", gguf_bytes(*small_model("mamba")), "mamba", "llama, qwen2, qwen3, gemma3, gpt2, bert, nomic-bert")
    bad("nan.gguf", gguf_bytes(*small_model(nan=True)), "NaN", "token_embd.weight")
    bad("iq.gguf", gguf_bytes(*small_model(qtype=16)), "iq2_xxs", "blk.0.ffn_up.weight")
    bad("yarn.gguf", gguf_bytes(*small_model(extra=[("llama.rope.scaling.type", "str", "yarn")])), "yarn")
    bad("split.gguf", gguf_bytes(*small_model(extra=[("split.count", "u16", 2)])), "split over 2 files", "--merge")
    kvs, t = small_model()
    t = [x for x in t if x[0] != "blk.0.ffn_down.weight"]
    bad("missing.gguf", gguf_bytes(kvs, t), "blk.0.ffn_down.weight")
    kvs, t = small_model()
    t = [(n, [8, 4] if n == "blk.0.attn_q.weight" else d, ty, b[:128] if n == "blk.0.attn_q.weight" else b)
         for n, d, ty, b in t]
    bad("shape.gguf", gguf_bytes(kvs, t), "blk.0.attn_q.weight", "dimensions")
    ctx.error("SELECT llm_import('x', 'gguf', ?)", (os.path.join(ctx.tmp, "none.gguf"),), "cannot open")
    for table in ("llm_models", "llm_weights", "llm_weight_parts", "llm_tokenizers", "llm_vocab"):
        n = ctx.db.execute("SELECT count(*) FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        assert n == 0 or ctx.one("SELECT count(*) FROM %s" % table) == 0, table
    # names already taken
    ctx.db.execute("SELECT llm_import('ok', 'gguf', ?)", (good,))
    ctx.error("SELECT llm_import('ok', 'gguf', ?)", (good,), "already exists")


# Run in a fresh process, so that memory freed by earlier tests (which the
# allocator reuses without growing the resident set) does not hide a load.
SHARE_SCRIPT = """
import json, os, sqlite3, sys
def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
ext, dbfile, text = sys.argv[1:4]
conns = []
for _ in range(5):
    db = sqlite3.connect(dbfile, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(ext)
    conns.append(db)
before = resident()
first = conns[0].execute("SELECT llm_perplexity('m', ?)", (text,)).fetchone()[0]
loaded = resident()
same = all(db.execute("SELECT llm_perplexity('m', ?)", (text,)).fetchone()[0] == first for db in conns[1:])
print(json.dumps({"first": loaded - before, "rest": resident() - loaded, "same": same}))
"""


def test_connections_share_one_copy_of_the_weights(ctx):
    path = os.path.join(ctx.shared, "gguf", "shakespeare-4L-F32.gguf")
    ctx.db.execute("SELECT llm_import('m', 'gguf', ?)", (path,))
    size = os.path.getsize(path)
    text = "ROMEO: What light through yonder window breaks?"
    # (under AddressSanitizer, its quarantine keeps every freed block
    # resident; the measurement is of what stays allocated)
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":quarantine_size_mb=0"
    out = subprocess.run([sys.executable, "-c", SHARE_SCRIPT, ctx.ext, os.path.join(ctx.tmp, "test.db"), text],
                         check=True, capture_output=True, text=True, env=env).stdout
    r = json.loads(out)
    # the first connection's load brings the weights in; four more add only
    # their caches and scratch (about 1 MB each here); not sharing: 4 x size
    assert r["same"], r
    assert r["first"] > 0.8 * size, (r, size)
    assert r["rest"] < size, (r, size)
    # a new checkpoint (here: the model replaced) is loaded afresh, not confused with the old
    db = ctx.connect(os.path.join(ctx.tmp, "test.db"))
    first = db.execute("SELECT llm_perplexity('m', ?)", (text,)).fetchone()[0]
    ctx.db.execute("SELECT llm_model_drop('m')")
    ctx.db.execute("SELECT llm_tokenizer_drop('m')")
    ctx.db.execute("SELECT llm_import('m', 'gguf', ?)", (os.path.join(ctx.shared, "gguf", "shakespeare-4L-Q8_0.gguf"),))
    q8 = db.execute("SELECT llm_perplexity('m', ?)", (text,)).fetchone()[0]
    assert q8 != first and abs(q8 / first - 1) < 0.05, (q8, first)
    db.close()


def test_fine_tuning_a_float_llama_import(ctx):
    gguf = os.path.join(ctx.shared, "gguf")
    ctx.db.execute("SELECT llm_import('m', 'gguf', ?)", (os.path.join(gguf, "shakespeare-4L-F16.gguf"),))
    text = "ROMEO: What light through yonder window breaks?"
    before = ctx.one("SELECT llm_logprob('m', ?)", (text,))
    # the corpus: rows of a query
    ctx.db.execute("CREATE TABLE docs(body TEXT)")
    ctx.db.execute("INSERT INTO docs VALUES (?)",
                   (open(os.path.join(ctx.shared, "tinyshakespeare.txt"), encoding="utf-8").read()[:30000],))
    rows = ctx.db.execute("SELECT step, loss FROM llm_train('m', 'SELECT body FROM docs', "
                          "'{\"steps\": 20, \"batch_size\": 4, \"log_every\": 10, \"lr\": 1e-4}')").fetchall()
    assert [r[0] for r in rows] == [10, 20] and all(math.isfinite(r[1]) and r[1] < 3.5 for r in rows), rows
    # now stored in this engine's float32 training layout, trained, and still the same model
    cfg = json.loads(ctx.one("SELECT config FROM llm_models WHERE name = 'm'"))
    assert "layout" not in cfg and cfg["arch"] == "llama", cfg
    assert ctx.db.execute("SELECT DISTINCT dtype FROM llm_weights WHERE model = 'm'").fetchall() == [("f32",)]
    assert ctx.one("SELECT step FROM llm_models WHERE name = 'm'") == 20
    after = ctx.one("SELECT llm_logprob('m', ?)", (text,))
    assert after != before and abs(after - before) < 0.2 * abs(before), (before, after)
    # and it exports to GGUF again
    assert ctx.one("SELECT llm_export('m', 'gguf', ?)", (os.path.join(ctx.tmp, "m.gguf"),)) > 0
    # quantized weights and other architectures: errors that say what to do
    ctx.db.execute("SELECT llm_import('q', 'gguf', ?)", (os.path.join(gguf, "shakespeare-4L-Q4_0.gguf"),))
    ctx.error("SELECT * FROM llm_train('q', 'SELECT body FROM docs', '{\"steps\": 1}')", (),
              "quantized weights (q4_0)", "llm_quantize('q', 'copy_name', 'f32')")
    models = tiny_models(ctx)
    ctx.db.execute("SELECT llm_import('enc', 'gguf', ?)", (os.path.join(models, "tiny-bert.gguf"),))
    ctx.error("SELECT * FROM llm_train('enc', 'SELECT body FROM docs', '{\"steps\": 1}')", (),
              "is an encoder", "decoders")
    # nothing of the refused ones changed
    assert json.loads(ctx.one("SELECT config FROM llm_models WHERE name = 'q'"))["layout"] == "gguf"
    assert json.loads(ctx.one("SELECT config FROM llm_models WHERE name = 'enc'"))["layout"] == "gguf"


def test_fine_tuning_each_decoder_architecture(ctx):
    """The tiny float models of each decoder architecture (Llama with Llama
    3's rotary factors, Qwen2's biases, Qwen3's per-head norms and wide
    heads, Gemma 3's sliding windows, sandwich norms, GeGLU, scaled
    embeddings) convert to the training layout computing what they did,
    train, and export to a GGUF file that imports to the same model."""
    models = tiny_models(ctx)
    ctx.db.execute("CREATE TABLE docs(body TEXT)")
    ctx.db.execute("INSERT INTO docs VALUES (?)",
                   (open(os.path.join(ctx.shared, "tinyshakespeare.txt"), encoding="utf-8").read()[:4000],))
    text = open(os.path.join(ctx.root, "tests", "models", "score_text.txt"), encoding="utf-8").read()
    for arch in ("llama", "qwen2", "qwen3", "gemma3"):
        ctx.db.execute("SELECT llm_import(?, 'gguf', ?)", (arch, os.path.join(models, "tiny-%s.gguf" % arch)))
        before = ctx.one("SELECT llm_logprob(?, ?)", (arch, text))
        # lr 0: the conversion alone, weights as they were
        ctx.db.execute("SELECT * FROM llm_train(?, 'SELECT body FROM docs', "
                       "'{\"steps\": 1, \"batch_size\": 2, \"seq_len\": 32, \"lr\": 0, \"weight_decay\": 0}')",
                       (arch,)).fetchall()
        cfg = json.loads(ctx.one("SELECT config FROM llm_models WHERE name = ?", (arch,)))
        assert "layout" not in cfg and cfg["arch"] == arch, cfg
        converted = ctx.one("SELECT llm_logprob(?, ?)", (arch, text))
        assert abs(converted - before) < 1e-4 * abs(before), (arch, before, converted)
        rows = ctx.db.execute("SELECT step, loss FROM llm_train(?, 'SELECT body FROM docs', "
                              "'{\"steps\": 6, \"batch_size\": 2, \"seq_len\": 32, \"lr\": 3e-3, "
                              "\"log_every\": 5}')", (arch,)).fetchall()
        assert rows and all(math.isfinite(r[1]) for r in rows), (arch, rows)
        trained = ctx.one("SELECT llm_logprob(?, ?)", (arch, text))
        assert trained != converted, arch
        path = os.path.join(ctx.tmp, arch + "-tuned.gguf")
        assert ctx.one("SELECT llm_export(?, 'gguf', ?)", (arch, path)) > 0
        ctx.db.execute("SELECT llm_import(?, 'gguf', ?)", (arch + "_back", path))
        back = ctx.one("SELECT llm_logprob(?, ?)", (arch + "_back", text))
        assert abs(back - trained) < 1e-4 * abs(trained), (arch, trained, back)
        if arch == "llama":  # the frequency factors are constants: exported as imported
            kv = ctx.db.execute("SELECT count(*) FROM llm_weights WHERE model = ? AND name = 'rope_freqs.weight'",
                                (arch + "_back",)).fetchone()[0]
            assert kv == 1
    ctx.error("SELECT * FROM llm_train('llama', 'SELECT body FROM docs', '{\"seq_len\": 100000}')", (),
              "seq_len", "longer than")


def test_bf16_weights(ctx):
    """stories260K with its matrices rounded to bfloat16 (written here: no
    shared file has them) runs close to the float32 original."""
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gguf_reader import read_gguf
    src = os.path.join(ctx.shared, "gguf", "stories260K-f32.gguf")
    kvs, tensors = read_gguf(src)
    out = []
    for name, (dims, ty, data) in tensors.items():
        n = 1
        for d in dims:
            n *= d
        vals = struct.unpack("<%dI" % n, data[:4 * n])
        if len(dims) == 2:  # round to nearest even, keep the top 16 bits
            data = struct.pack("<%dH" % n, *[((v + 0x7FFF + ((v >> 16) & 1)) >> 16) & 0xFFFF for v in vals])
            ty = 30  # BF16
        else:
            data = data[:4 * n]
        out.append((name, dims, ty, data))
    types = {"tokenizer.ggml.tokens": ("arr", "str"), "tokenizer.ggml.scores": ("arr", "f32"),
             "tokenizer.ggml.token_type": ("arr", "i32")}
    kv_list = [(k, types.get(k, "str" if isinstance(v, str) else "f32" if isinstance(v, float) else "u32"), v)
               for k, v in kvs.items()]
    path = write_gguf(os.path.join(ctx.tmp, "bf16.gguf"), kv_list, out)
    ctx.db.execute("SELECT llm_import('f32', 'gguf', ?)", (src,))
    summary = json.loads(ctx.one("SELECT llm_import('bf16', 'gguf', ?)", (path,)))
    assert summary["types"] == {"bf16": 37, "f32": 11}, summary["types"]  # 2 + 5 x 7 matrices, 1 + 5 x 2 norms
    text = "Once upon a time, there was a little girl named Lily."
    a, b = (ctx.one("SELECT llm_logprob(?, ?)", (m, text)) for m in ("f32", "bf16"))
    assert a != b and abs(a - b) < 0.01 * abs(a), (a, b)


def test_a_file_aligned_to_one_byte(ctx):
    """GGUF allows any power of two as general.alignment (llama.cpp reads
    such files): tensors at odd offsets are aligned again when loaded."""
    kvs, tensors = small_model()
    data = gguf_bytes(kvs + [("general.alignment", "u32", 1)], tensors, align=1)
    path = os.path.join(ctx.tmp, "align1.gguf")
    with open(path, "wb") as f:
        f.write(data)
    ctx.db.execute("SELECT llm_import('a', 'gguf', ?)", (path,))
    assert len(ctx.one("SELECT llm_generate('a', 'ab', '{\"max_tokens\": 5, \"temperature\": 0}')")) > 0
    assert math.isfinite(ctx.one("SELECT llm_logprob('a', 'abc')"))


SIMD_LEVELS = ["sse2", "avx2+fma", "avx512", "avx512+bf16"]

# One process under LLM_SIMD: prints its llm_version() level, kernels and
# the log-probabilities of the texts in argv[4:] under model 'q'.
UNDER_LEVEL = r"""
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[2])
db.enable_load_extension(True)
db.load_extension(sys.argv[1])
v = json.loads(db.execute("SELECT llm_version()").fetchone()[0])
print(json.dumps([v["simd"], v["quant_kernels"]] + [db.execute("SELECT llm_logprob('q', ?)", (t,)).fetchone()[0]
                                                   for t in sys.argv[3:]]))
"""


def test_every_simd_level_scores_as_llama_cpp(ctx):
    """LLM_SIMD caps the kernels' level, so that one machine runs the paths
    of others: under each level this CPU has, a fresh process reports it in
    llm_version() and scores the Shakespeare Q4_K_M file's first three
    recorded windows within 0.01 nats per token of llama.cpp (packed
    AVX-512 products, the GGUF layout's AVX2 ones, the portable ones). A
    misspelt level fails the load and names the variable; an empty one is
    no cap."""
    ctx.db.execute("SELECT llm_import('q', 'gguf', ?)",
                   (os.path.join(ctx.shared, "gguf", "shakespeare-4L-Q4_K_M.gguf"),))
    windows = record("shakespeare-Q4_K_M")["scores"][:3]
    text = open(os.path.join(ctx.shared, "tinyshakespeare.txt"), "rb").read()
    pieces = [text[w["byte_offset"]:w["byte_offset"] + w["byte_length"]].decode("utf-8") for w in windows]
    db = os.path.join(ctx.tmp, "test.db")

    def run(level):
        return subprocess.run([sys.executable, "-c", UNDER_LEVEL, ctx.ext, db] + pieces, capture_output=True,
                              text=True, env=dict(os.environ, LLM_SIMD=level))

    best = json.loads(ctx.one("SELECT llm_version()"))["simd"]
    levels = SIMD_LEVELS[:SIMD_LEVELS.index(best) + 1] if best in SIMD_LEVELS else []
    kernels = {"sse2": ["portable"], "avx2+fma": ["avx2"], "avx512": ["avx512-vnni", "avx2"],
               "avx512+bf16": ["avx512-vnni"]}
    seen = set()
    for level in levels:
        p = run(level)
        assert p.returncode == 0, (level, p.stderr)
        got = json.loads(p.stdout)
        assert got[0] == level and got[1] in kernels[level], (level, got[:2])
        seen.add(got[1])
        for w, mine in zip(windows, got[2:]):
            assert abs(mine - w["sum_logprob"]) / (w["n_tokens"] - 1) <= 0.01, (level, mine, w["sum_logprob"])
    assert not levels or len(seen) >= min(len(levels), 2), seen
    p = run("")
    assert p.returncode == 0 and json.loads(p.stdout)[0] == best, (p.stdout, p.stderr)
    p = run("avx3")
    assert p.returncode != 0 and "LLM_SIMD" in p.stderr and "'avx3'" in p.stderr, p.stderr
