"""make_fuzz_seeds.py [OUT_DIR]: writes the seeds of fuzz/fuzz_gguf_model.c,
small valid GGUF models (a few KB to ~30 KB each), into OUT_DIR (default
fuzz/seeds/fuzz_gguf_model).

One or two per architecture the engine imports, each with a tiny
vocabulary (8-16 tokens, with a matching tokenizer in the metadata), n_embd
16-32 (256 for the k-quant one, whose rows must be whole 256-element
blocks), 1-2 layers, and tensors of several ggml types:
  llama-gqa-f32      GQA (4 heads, 2 KV heads), rope dimension count,
                     rope_freqs, untied output, an explicit general.alignment
                     (32, as the writer aligns: a key for the fuzzer to
                     mutate); all F32
  llama-q8_0         1 KV head for 4, linear rope scaling; matrices Q8_0
  llama-q4_k         n_embd 256, head size 8 (key_length); Q4_K where
                     rows are 256 wide, F16 elsewhere
  qwen2-bias-f16     q/k/v biases, tied output; matrices F16
  qwen3-qknorm       q/k norms, head size 16 while n_embd / n_head = 8
  gemma3-swa         sliding window 4 with period 2, freq_base_swa,
                     post-norms; attention Q8_0, MLP F16
  bert               position and token type embeddings, biases, CLS
                     pooling; MLP F16
  nomic-bert         fused attn_qkv (Q8_0), gated MLP, rope
Weights come from tests/models/tiny_models.py's SplitMix64 and the files
are written by tests/sql/gguf_writer.py, so the bytes are the same on every
machine. The quantized types are encoded here (round to nearest in each
block; layouts as engine/kernels/quant_k.c and qtypes.h describe them).

Run: python3 tools/make_fuzz_seeds.py
"""
import math
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
sys.path.insert(0, os.path.join(ROOT, "tests", "sql"))

from gguf_writer import gguf_bytes  # noqa: E402
from tiny_models import SplitMix64, NORMAL, UNKNOWN, CONTROL  # noqa: E402

F32, F16, Q8_0, Q4_K = 0, 1, 8, 12  # ggml type ids


# --- encoders of the ggml types ------------------------------------------

def _half(x):
    return struct.pack("<e", x)


def _round_half(x):
    return struct.unpack("<e", _half(x))[0]


def encode_q8_0(values):
    """Blocks of 32: a half scale d = max |x| / 127, then 32 int8 x / d."""
    out = bytearray()
    for i in range(0, len(values), 32):
        block = values[i:i + 32]
        d = _round_half(max(abs(x) for x in block) / 127.0)
        out += _half(d)
        out += bytes((max(-127, min(127, round(x / d))) if d else 0) & 0xFF for x in block)
    return bytes(out)


def _pack_k4_scales(scales, mins):
    """The 12 bytes of 8 six-bit scales and mins: sub-block s < 4 in the low
    6 bits of bytes s and s + 4; s >= 4 in the nibbles of byte s + 4, with
    their top 2 bits in the top of bytes s - 4 and s."""
    b = [0] * 12
    for s in range(8):
        sc, m = scales[s], mins[s]
        if s < 4:
            b[s] |= sc
            b[s + 4] |= m
        else:
            b[s + 4] |= (sc & 15) | (m & 15) << 4
            b[s - 4] |= (sc >> 4) << 6
            b[s] |= (m >> 4) << 6
    return bytes(b)


def encode_q4_k(values):
    """Super-blocks of 256 in 8 sub-blocks of 32, x ~ d * scale_s * q -
    dmin * min_s with q in [0, 15] and six-bit scale_s, min_s: half d,
    dmin, the 12 scale bytes, then qs[128] (sub-block s in the low (s even)
    or high nibbles of qs[s / 2 * 32 + l])."""
    out = bytearray()
    for i in range(0, len(values), 256):
        subs = [values[i + 32 * s:i + 32 * s + 32] for s in range(8)]
        lows = [min(0.0, min(x)) for x in subs]
        steps = [(max(x) - lo) / 15.0 for x, lo in zip(subs, lows)]
        d = _round_half(max(steps) / 63.0)
        dmin = _round_half(max(-lo for lo in lows) / 63.0)
        scales = [min(63, round(st / d)) if d else 0 for st in steps]
        mins = [min(63, round(-lo / dmin)) if dmin else 0 for lo in lows]
        qs = [0] * 128
        for s in range(8):
            step = d * scales[s]
            for l, x in enumerate(subs[s]):
                q = max(0, min(15, round((x + dmin * mins[s]) / step))) if step else 0
                qs[s // 2 * 32 + l] |= q << (s % 2 * 4)
        out += _half(d) + _half(dmin) + _pack_k4_scales(scales, mins) + bytes(qs)
    return bytes(out)


ENCODERS = {
    F32: lambda v: struct.pack("<%df" % len(v), *v),
    F16: lambda v: b"".join(_half(x) for x in v),
    Q8_0: encode_q8_0,
    Q4_K: encode_q4_k,
}
BLOCK = {F32: 1, F16: 1, Q8_0: 32, Q4_K: 256}


# --- models ----------------------------------------------------------------

class Seed:
    """One model's metadata and tensors (gguf_writer's forms)."""

    def __init__(self, file, arch, seed):
        self.file, self.arch = file, arch
        self.rng = SplitMix64(seed)
        self.kvs = [("general.architecture", "str", arch), ("general.name", "str", file)]
        self.tensors = []

    def kv(self, key, type_, value):
        """key: a full key, or one starting with '.' under the arch's prefix."""
        self.kvs.append((self.arch + key if key.startswith(".") else key, type_, value))

    def tensor(self, name, dims, values, ggml_type=F32):
        if dims[0] % BLOCK[ggml_type]:
            raise ValueError("%s: rows of %d are not whole blocks" % (name, dims[0]))
        self.tensors.append((name, list(dims), ggml_type, ENCODERS[ggml_type](values)))

    def matrix(self, name, n_in, n_out, ggml_type=F32, gain=1.0):
        self.tensor(name, (n_in, n_out), self.rng.normals(n_in * n_out, gain / math.sqrt(n_in)), ggml_type)

    def vector(self, name, n, mean=1.0, std=0.1):
        self.tensor(name, (n,), self.rng.normals(n, std, mean))

    def bytes(self):
        return gguf_bytes(self.kvs, self.tensors)


def spm_tokenizer(m, n_vocab):
    """<unk>, <s>, </s> and single characters: a 'llama' vocabulary."""
    pieces = ["\u2581"] + [chr(ord("a") + i) for i in range(n_vocab - 4)]
    m.kv("tokenizer.ggml.model", "str", "llama")
    m.kv("tokenizer.ggml.tokens", ("arr", "str"), ["<unk>", "<s>", "</s>"] + pieces)
    m.kv("tokenizer.ggml.scores", ("arr", "f32"), [0.0] * 3 + [-float(i) for i in range(len(pieces))])
    m.kv("tokenizer.ggml.token_type", ("arr", "i32"), [UNKNOWN, CONTROL, CONTROL] + [NORMAL] * len(pieces))
    m.kv("tokenizer.ggml.bos_token_id", "u32", 1)
    m.kv("tokenizer.ggml.eos_token_id", "u32", 2)
    m.kv("tokenizer.ggml.unknown_token_id", "u32", 0)


def wpm_tokenizer(m, n_vocab):
    """[PAD] [UNK] [CLS] [SEP] [MASK] and word-initial letters: a 'bert'
    vocabulary in llama.cpp's form."""
    pieces = ["\u2581" + chr(ord("a") + i) for i in range(n_vocab - 5)]
    m.kv("tokenizer.ggml.model", "str", "bert")
    m.kv("tokenizer.ggml.tokens", ("arr", "str"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + pieces)
    m.kv("tokenizer.ggml.token_type", ("arr", "i32"), [CONTROL, UNKNOWN, CONTROL, CONTROL, CONTROL] +
         [NORMAL] * len(pieces))
    m.kv("tokenizer.ggml.bos_token_id", "u32", 2)
    m.kv("tokenizer.ggml.unknown_token_id", "u32", 1)
    m.kv("tokenizer.ggml.seperator_token_id", "u32", 3)  # sic, llama.cpp's key


def hparams(m, ctx, n_embd, n_layer, n_ff, n_head, n_head_kv=None, head_dim=None):
    m.kv(".context_length", "u32", ctx)
    m.kv(".embedding_length", "u32", n_embd)
    m.kv(".block_count", "u32", n_layer)
    m.kv(".feed_forward_length", "u32", n_ff)
    m.kv(".attention.head_count", "u32", n_head)
    if n_head_kv:
        m.kv(".attention.head_count_kv", "u32", n_head_kv)
    if head_dim:
        m.kv(".attention.key_length", "u32", head_dim)
        m.kv(".attention.value_length", "u32", head_dim)


def decoder(file, arch, seed, E, L, F, H, HKV, D, V, types, extra_kvs=(), untied=True,
            biases=False, qk_norm=False, sandwich=False, rope_freqs=False):
    """A llama-like decoder; types maps 'embd', 'attn', 'o', 'ffn', 'down',
    'out' to ggml types."""
    m = Seed(file, arch, seed)
    hparams(m, 64, E, L, F, H, HKV, D if D != E // H else None)
    m.kv(".attention.layer_norm_rms_epsilon", "f32", 1e-6)
    m.kv(".rope.freq_base", "f32", 10000.0)
    for key, type_, value in extra_kvs:
        m.kv(key, type_, value)
    spm_tokenizer(m, V)
    m.tensor("token_embd.weight", (E, V), m.rng.normals(E * V, 1.0 if untied else 0.1), types["embd"])
    if rope_freqs:
        m.tensor("rope_freqs.weight", (D // 2,), [1.0 + i for i in range(D // 2)])
    for i in range(L):
        blk = "blk.%d." % i
        m.vector(blk + "attn_norm.weight", E)
        for part, rows in (("q", H * D), ("k", HKV * D), ("v", HKV * D)):
            m.matrix(blk + "attn_%s.weight" % part, E, rows, types["attn"])
            if biases:
                m.vector(blk + "attn_%s.bias" % part, rows, 0.0, 0.05)
        if qk_norm:
            m.vector(blk + "attn_q_norm.weight", D)
            m.vector(blk + "attn_k_norm.weight", D)
        m.matrix(blk + "attn_output.weight", H * D, E, types["o"])
        if sandwich:
            m.vector(blk + "post_attention_norm.weight", E)
        m.vector(blk + "ffn_norm.weight", E)
        m.matrix(blk + "ffn_gate.weight", E, F, types["ffn"])
        m.matrix(blk + "ffn_up.weight", E, F, types["ffn"])
        m.matrix(blk + "ffn_down.weight", F, E, types["down"])
        if sandwich:
            m.vector(blk + "post_ffw_norm.weight", E)
    m.vector("output_norm.weight", E)
    if untied:
        m.matrix("output.weight", E, V, types["out"], 3.0)
    return m


def same(t):
    return {k: t for k in ("embd", "attn", "o", "ffn", "down", "out")}


def encoder(file, arch, seed, E, L, F, H, V, ctx, types, pooling):
    """bert (learned positions, q/k/v with biases, GELU MLP) or nomic-bert
    (rope, fused qkv, gated MLP, no biases); types maps 'attn', 'o', 'ffn',
    'down' to ggml types."""
    nomic = arch == "nomic-bert"
    m = Seed(file, arch, seed)
    hparams(m, ctx, E, L, F, H)
    m.kv(".attention.layer_norm_epsilon", "f32", 1e-12)
    m.kv(".attention.causal", "bool", False)
    m.kv(".pooling_type", "u32", pooling)
    if nomic:
        m.kv(".rope.freq_base", "f32", 1000.0)
    m.kv("tokenizer.ggml.token_type_count", "u32", 2)
    wpm_tokenizer(m, V)
    m.tensor("token_embd.weight", (E, V), m.rng.normals(E * V, 1.0))
    m.tensor("token_types.weight", (E, 2), m.rng.normals(E * 2, 0.5))
    if not nomic:
        m.tensor("position_embd.weight", (E, ctx), m.rng.normals(E * ctx, 0.5))
    m.vector("token_embd_norm.weight", E)
    m.vector("token_embd_norm.bias", E, 0.0, 0.05)
    for i in range(L):
        blk = "blk.%d." % i
        if nomic:
            m.matrix(blk + "attn_qkv.weight", E, 3 * E, types["attn"])
        else:
            for part in "qkv":
                m.matrix(blk + "attn_%s.weight" % part, E, E, types["attn"])
                m.vector(blk + "attn_%s.bias" % part, E, 0.0, 0.05)
        m.matrix(blk + "attn_output.weight", E, E, types["o"])
        if not nomic:
            m.vector(blk + "attn_output.bias", E, 0.0, 0.05)
        m.vector(blk + "attn_output_norm.weight", E)
        m.vector(blk + "attn_output_norm.bias", E, 0.0, 0.05)
        if nomic:
            m.matrix(blk + "ffn_gate.weight", E, F, types["ffn"])
        m.matrix(blk + "ffn_up.weight", E, F, types["ffn"])
        m.matrix(blk + "ffn_down.weight", F, E, types["down"])
        if not nomic:
            m.vector(blk + "ffn_up.bias", F, 0.0, 0.05)
            m.vector(blk + "ffn_down.bias", E, 0.0, 0.05)
        m.vector(blk + "layer_output_norm.weight", E)
        m.vector(blk + "layer_output_norm.bias", E, 0.0, 0.05)
    return m


def seeds():
    mixed_q4k = {"embd": Q4_K, "attn": Q4_K, "o": F16, "ffn": Q4_K, "down": F16, "out": Q4_K}
    return [
        decoder("llama-gqa-f32.gguf", "llama", 1, 16, 2, 32, 4, 2, 4, 12, same(F32),
                [(".rope.dimension_count", "u32", 4), ("general.alignment", "u32", 32)], rope_freqs=True),
        decoder("llama-q8_0.gguf", "llama", 2, 32, 1, 64, 4, 1, 8, 16, same(Q8_0),
                [(".rope.scaling.type", "str", "linear"), (".rope.scaling.factor", "f32", 2.0)]),
        decoder("llama-q4_k.gguf", "llama", 3, 256, 1, 16, 1, 1, 8, 8, mixed_q4k),
        decoder("qwen2-bias-f16.gguf", "qwen2", 4, 16, 2, 32, 4, 2, 4, 12, same(F16),
                untied=False, biases=True),
        decoder("qwen3-qknorm.gguf", "qwen3", 5, 16, 1, 32, 2, 1, 16, 10,
                {"embd": F32, "attn": F32, "o": F16, "ffn": F16, "down": F16, "out": F32}, qk_norm=True),
        decoder("gemma3-swa.gguf", "gemma3", 6, 32, 2, 64, 2, 1, 16, 14,
                {"embd": F32, "attn": Q8_0, "o": Q8_0, "ffn": F16, "down": F16},
                [(".attention.sliding_window", "u32", 4), (".attention.sliding_window_pattern", "u32", 2),
                 (".rope.freq_base_swa", "f32", 100.0)],
                untied=False, qk_norm=True, sandwich=True),
        encoder("bert.gguf", "bert", 7, 16, 1, 32, 2, 10, 16,
                {"attn": F32, "o": F32, "ffn": F16, "down": F16}, 2),
        encoder("nomic-bert.gguf", "nomic-bert", 8, 32, 1, 64, 4, 12, 32,
                {"attn": Q8_0, "o": F16, "ffn": Q8_0, "down": Q8_0}, 1),
    ]


def main(argv):
    out_dir = argv[1] if len(argv) > 1 else os.path.join(ROOT, "fuzz", "seeds", "fuzz_gguf_model")
    os.makedirs(out_dir, exist_ok=True)
    for m in seeds():
        data = m.bytes()
        with open(os.path.join(out_dir, m.file), "wb") as f:
            f.write(data)
        print("%-22s %6d bytes" % (m.file, len(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
