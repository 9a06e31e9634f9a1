"""tiny_models.py: the definitions of the tiny random-weight GGUF models, one
per architecture sqlite-llm imports (llama, qwen2, qwen3, gemma3, bert,
nomic-bert), shared by tests/models/make_models.py (which writes them with
tests/sql/gguf_writer.py) and tools/llamacpp_ref/make_models_ggufpy.py (which
writes them with llama.cpp's gguf-py, to check the bytes are the same).

models() returns a list of Model(file, arch, kvs, tensors): kvs are
gguf_writer's (key, type, value) triples in file order, the first being
general.architecture; tensors are (name, dims, data): dims in GGUF order
(ne0, the contiguous one, first) and data the little-endian F32 bytes.

Everything is computed with integer and IEEE arithmetic only (+ - * / and
sqrt, which are correctly rounded everywhere; no log, exp or cos), so the
bytes are the same on every machine: weights come from SplitMix64, each
normal-ish value being the sum of four 16-bit uniforms, rescaled.
"""
import math
import re
import struct
from collections import namedtuple

Model = namedtuple("Model", "file arch kvs tensors")

MASK64 = (1 << 64) - 1
SQRT3 = math.sqrt(3.0)
SPACE = "\u2581"  # SentencePiece's visible space
# token types of tokenizer.ggml.token_type
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6

# The text the synthetic vocabularies are learned from (written for this
# script): the prompts and texts of tests/data/llamacpp tokenize mostly into
# pieces of it.
TRAIN_TEXT = """
Once upon a time there was a little girl who lived in a small house near the
river. Every morning she walked to the old mill with her brother, and they
watched the water turn the great wheel. One day the wheel stopped. The miller
was sad, because without the wheel there was no flour and no bread for the
town. The girl looked at the river and saw a big branch stuck between the
stones. She and her brother pulled and pulled until the branch came free. The
water ran again, the wheel began to turn, and the miller laughed. That night
the whole town ate warm bread, and everyone said the children were very brave.
The little girl smiled and went to sleep, dreaming of the river and the
turning wheel. The quick brown fox jumps over the lazy dog. We think that it
is good to read books, to learn new things, and to help other people when they
need it. What is the time? It is ten past three. A cat sat on the mat and
looked at the birds in the garden. The boy found a kite and ran up the hill,
where the wind was strong. His sister laughed and said: "Look, it can fly!"
"""
PUNCTUATION = ".,!?;:'\"-()"


class SplitMix64:
    """Vigna's SplitMix64, and roughly normal values from it."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def normals(self, n, std, mean=0.0):
        """n values of mean `mean` and standard deviation `std`: each the sum
        of four uniforms (k + 0.5) / 65536 (Irwin-Hall: mean 2, variance 1/3),
        centred and scaled to unit variance."""
        out = [0.0] * n
        nxt = self.next
        for i in range(n):
            z = nxt()
            s = (z & 0xFFFF) + ((z >> 16) & 0xFFFF) + ((z >> 32) & 0xFFFF) + (z >> 48)
            out[i] = mean + std * (((s + 2) / 65536.0 - 2.0) * SQRT3)
        return out


# --- vocabularies ---------------------------------------------------------

def _runs(text, lowercase):
    """The text's words, each split into runs of letters/digits and single
    other characters; the first run of a word starts with the visible space."""
    if lowercase:
        text = text.lower()
    out = []
    for word in text.split():
        for k, run in enumerate(re.findall(r"[A-Za-z0-9]+|.", word)):
            out.append((SPACE if k == 0 else "") + run)
    return out


def learn_pieces(text, count, lowercase, known):
    """`count` multi-character pieces not in `known`, in the order a byte-pair
    learner on the text's runs finds them (the most frequent adjacent pair
    first, ties to the smaller pair), each a concatenation of two earlier
    symbols."""
    freq = {}
    for run in _runs(text, lowercase):
        if len(run) > 1:
            freq[run] = freq.get(run, 0) + 1
    words = [[list(w), n] for w, n in sorted(freq.items())]
    pieces, seen = [], set(known)
    while len(pieces) < count:
        pairs = {}
        for symbols, n in words:
            for a, b in zip(symbols, symbols[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            raise ValueError("the training text has too few pairs for %d pieces" % count)
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merged = best[0] + best[1]
        for entry in words:
            symbols, out, i = entry[0], [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            entry[0] = out
        if merged not in seen:
            seen.add(merged)
            pieces.append(merged)
    return pieces


def spm_vocab(size=512):
    """A llama.cpp 'llama' (SentencePiece) vocabulary: <unk>, <s>, </s>, the
    256 byte tokens, single characters, then learned pieces with decreasing
    scores (the higher score merges first)."""
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    types = [UNKNOWN, CONTROL, CONTROL] + [BYTE] * 256
    chars = ([SPACE] + [chr(c) for c in range(ord("a"), ord("z") + 1)] +
             [chr(c) for c in range(ord("A"), ord("Z") + 1)] +
             [str(d) for d in range(10)] + list(PUNCTUATION))
    pieces = chars + learn_pieces(TRAIN_TEXT, size - len(tokens) - len(chars), False, chars)
    scores = [0.0] * len(tokens) + [-float(i) for i in range(len(pieces))]
    return tokens + pieces, types + [NORMAL] * len(pieces), scores


def wpm_vocab(size=320):
    """A llama.cpp 'bert' (WordPiece) vocabulary in GGUF form: word-initial
    pieces carry the visible space ("\u2581the"), continuations are bare
    (Hugging Face's "##he" is "he"). Ids: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3,
    [MASK] 4; lowercase only (llama.cpp lowercases the text by default)."""
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    types = [CONTROL, UNKNOWN, CONTROL, CONTROL, CONTROL]
    alnum = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    base = [SPACE + c for c in alnum] + alnum + [SPACE + p for p in PUNCTUATION]
    pieces = base + learn_pieces(TRAIN_TEXT, size - len(tokens) - len(base), True, base)
    return tokens + pieces, types + [NORMAL] * len(pieces)


# --- models ---------------------------------------------------------------

class Builder:
    """Collects one model's metadata and tensors, drawing weights in the
    order the tensors are added."""

    def __init__(self, arch, seed):
        self.arch = arch
        self.rng = SplitMix64(seed)
        self.kvs = [("general.architecture", "str", arch)]
        self.tensors = []

    def kv(self, key, type_, value):
        """key: a full key, or one starting with '.' under the arch's prefix."""
        self.kvs.append((self.arch + key if key.startswith(".") else key, type_, value))

    def tensor(self, name, dims, values):
        self.tensors.append((name, list(dims), struct.pack("<%df" % len(values), *values)))

    def matrix(self, name, n_in, n_out, gain=1.0):
        """A weight applied as y = W x, x of n_in: std gain / sqrt(n_in)."""
        self.tensor(name, (n_in, n_out), self.rng.normals(n_in * n_out, gain / math.sqrt(n_in)))

    def norm(self, name, n, mean=1.0):
        self.tensor(name, (n,), self.rng.normals(n, 0.1, mean))

    def bias(self, name, n):
        self.tensor(name, (n,), self.rng.normals(n, 0.05))

    def embedding(self, name, n_embd, rows, std):
        self.tensor(name, (n_embd, rows), self.rng.normals(n_embd * rows, std))

    def model(self):
        return Model("tiny-%s.gguf" % self.arch, self.arch, self.kvs, self.tensors)


def _general(b):
    b.kv("general.name", "str", "tiny-" + b.arch)
    b.kv("general.file_type", "u32", 0)  # all F32


def _spm_tokenizer(b):
    tokens, types, scores = spm_vocab()
    b.kv("tokenizer.ggml.model", "str", "llama")
    b.kv("tokenizer.ggml.pre", "str", "default")
    b.kv("tokenizer.ggml.tokens", ("arr", "str"), tokens)
    b.kv("tokenizer.ggml.scores", ("arr", "f32"), scores)
    b.kv("tokenizer.ggml.token_type", ("arr", "i32"), types)
    b.kv("tokenizer.ggml.bos_token_id", "u32", 1)
    b.kv("tokenizer.ggml.eos_token_id", "u32", 2)
    b.kv("tokenizer.ggml.unknown_token_id", "u32", 0)
    b.kv("tokenizer.ggml.add_bos_token", "bool", True)
    b.kv("tokenizer.ggml.add_eos_token", "bool", False)
    return len(tokens)


def _wpm_tokenizer(b):
    tokens, types = wpm_vocab()
    b.kv("tokenizer.ggml.token_type_count", "u32", 2)
    b.kv("tokenizer.ggml.model", "str", "bert")
    b.kv("tokenizer.ggml.pre", "str", "default")
    b.kv("tokenizer.ggml.tokens", ("arr", "str"), tokens)
    b.kv("tokenizer.ggml.token_type", ("arr", "i32"), types)
    # llama.cpp starts a WordPiece text with the BOS id and ends it with the
    # separator id, whatever add_bos_token says. It reads no cls id, and
    # gguf-py (as of this llama.cpp) has no writer for one: like current
    # converted BERT files, this one has [CLS] only as the BOS.
    b.kv("tokenizer.ggml.bos_token_id", "u32", 2)
    b.kv("tokenizer.ggml.unknown_token_id", "u32", 1)
    b.kv("tokenizer.ggml.seperator_token_id", "u32", 3)  # sic, llama.cpp's key
    b.kv("tokenizer.ggml.padding_token_id", "u32", 0)
    b.kv("tokenizer.ggml.mask_token_id", "u32", 4)
    return len(tokens)


def _decoder_hparams(b, n_ctx, n_embd, n_layer, n_ff, n_head, n_head_kv, rope_base, rms_eps):
    b.kv(".context_length", "u32", n_ctx)
    b.kv(".embedding_length", "u32", n_embd)
    b.kv(".block_count", "u32", n_layer)
    b.kv(".feed_forward_length", "u32", n_ff)
    b.kv(".attention.head_count", "u32", n_head)
    b.kv(".attention.head_count_kv", "u32", n_head_kv)
    b.kv(".rope.freq_base", "f32", rope_base)
    b.kv(".attention.layer_norm_rms_epsilon", "f32", rms_eps)


def _gated_ffn(b, i, n_embd, n_ff):
    """down(act(gate x) * up x): SiLU for llama/qwen/nomic, GELU for gemma3."""
    b.matrix("blk.%d.ffn_gate.weight" % i, n_embd, n_ff)
    b.matrix("blk.%d.ffn_up.weight" % i, n_embd, n_ff)
    b.matrix("blk.%d.ffn_down.weight" % i, n_ff, n_embd)


def llama3_rope_factors(n):
    """Llama 3 style frequency factors for the n = n_rot / 2 rotary pairs:
    1 for the fastest quarter, 8 for the slowest quarter, a linear ramp
    between (llama.cpp divides pair i's angle by factor i)."""
    lo, hi = n // 4, n - n // 4
    return [1.0 if i < lo else 8.0 if i >= hi else 1.0 + 7.0 * (i - lo + 1) / (hi - lo + 1)
            for i in range(n)]


# Seeds and scales below were chosen so that the greedy runs recorded in
# tests/data/llamacpp vary (no one-token loops) and their top-1/top-2 logit
# margins stay well above float rounding (min margin >= 0.05, logits' std ~3).

def tiny_llama():
    E, L, F, H, HKV, D = 64, 3, 192, 4, 2, 16
    b = Builder("llama", 2)
    _general(b)
    _decoder_hparams(b, 256, E, L, F, H, HKV, 10000.0, 1e-5)
    b.kv(".rope.dimension_count", "u32", D)
    V = _spm_tokenizer(b)
    b.embedding("token_embd.weight", E, V, 1.0)
    b.tensor("rope_freqs.weight", (D // 2,), llama3_rope_factors(D // 2))
    for i in range(L):
        b.norm("blk.%d.attn_norm.weight" % i, E)
        b.matrix("blk.%d.attn_q.weight" % i, E, H * D)
        b.matrix("blk.%d.attn_k.weight" % i, E, HKV * D)
        b.matrix("blk.%d.attn_v.weight" % i, E, HKV * D)
        b.matrix("blk.%d.attn_output.weight" % i, H * D, E)
        b.norm("blk.%d.ffn_norm.weight" % i, E)
        _gated_ffn(b, i, E, F)
    b.norm("output_norm.weight", E)
    b.matrix("output.weight", E, V, 3.0)
    return b.model()


def tiny_qwen2():
    E, L, F, H, HKV = 64, 2, 128, 4, 2
    D = E // H  # llama.cpp's qwen2 has no key_length: head size is n_embd / n_head
    b = Builder("qwen2", 16)
    _general(b)
    _decoder_hparams(b, 256, E, L, F, H, HKV, 1000000.0, 1e-6)
    V = _spm_tokenizer(b)
    # also the output head (tied): small, so that a token's own embedding
    # does not dominate the last hidden state (greedy runs would loop on one
    # token); the final norm's gain spreads the logits (std ~3) instead
    b.embedding("token_embd.weight", E, V, 0.1)
    for i in range(L):
        b.norm("blk.%d.attn_norm.weight" % i, E)
        b.matrix("blk.%d.attn_q.weight" % i, E, H * D)
        b.bias("blk.%d.attn_q.bias" % i, H * D)
        b.matrix("blk.%d.attn_k.weight" % i, E, HKV * D)
        b.bias("blk.%d.attn_k.bias" % i, HKV * D)
        b.matrix("blk.%d.attn_v.weight" % i, E, HKV * D)
        b.bias("blk.%d.attn_v.bias" % i, HKV * D)
        b.matrix("blk.%d.attn_output.weight" % i, H * D, E)
        b.norm("blk.%d.ffn_norm.weight" % i, E)
        _gated_ffn(b, i, E, F)
    b.norm("output_norm.weight", E, 3.0)
    return b.model()


def tiny_qwen3():
    E, L, F, H, HKV, D = 64, 2, 160, 4, 2, 32
    b = Builder("qwen3", 4)
    _general(b)
    _decoder_hparams(b, 256, E, L, F, H, HKV, 1000000.0, 1e-6)
    b.kv(".attention.key_length", "u32", D)
    b.kv(".attention.value_length", "u32", D)
    V = _spm_tokenizer(b)
    b.embedding("token_embd.weight", E, V, 1.0)
    for i in range(L):
        b.norm("blk.%d.attn_norm.weight" % i, E)
        b.matrix("blk.%d.attn_q.weight" % i, E, H * D)
        b.matrix("blk.%d.attn_k.weight" % i, E, HKV * D)
        b.matrix("blk.%d.attn_v.weight" % i, E, HKV * D)
        b.norm("blk.%d.attn_q_norm.weight" % i, D)
        b.norm("blk.%d.attn_k_norm.weight" % i, D)
        b.matrix("blk.%d.attn_output.weight" % i, H * D, E)
        b.norm("blk.%d.ffn_norm.weight" % i, E)
        _gated_ffn(b, i, E, F)
    b.norm("output_norm.weight", E)
    b.matrix("output.weight", E, V, 3.0)
    return b.model()


def tiny_gemma3():
    E, L, F, H, HKV, D, WINDOW = 64, 6, 128, 4, 2, 32, 8
    b = Builder("gemma3", 11)
    _general(b)
    _decoder_hparams(b, 256, E, L, F, H, HKV, 1000000.0, 1e-6)
    b.kv(".attention.key_length", "u32", D)
    b.kv(".attention.value_length", "u32", D)
    # no sliding_window_pattern key: llama.cpp's default period 6 makes
    # layers 0-4 local (window, rope.freq_base_swa) and layer 5 global
    b.kv(".attention.sliding_window", "u32", WINDOW)
    b.kv(".rope.freq_base_swa", "f32", 10000.0)
    V = _spm_tokenizer(b)
    # tied and small, as in tiny_qwen2 (the input is scaled by sqrt(E) = 8)
    b.embedding("token_embd.weight", E, V, 0.05)
    for i in range(L):
        # norm weights as in Gemma GGUF files: the full multiplier (1 + w)
        b.norm("blk.%d.attn_norm.weight" % i, E)
        b.matrix("blk.%d.attn_q.weight" % i, E, H * D)
        b.matrix("blk.%d.attn_k.weight" % i, E, HKV * D)
        b.matrix("blk.%d.attn_v.weight" % i, E, HKV * D)
        b.norm("blk.%d.attn_q_norm.weight" % i, D)
        b.norm("blk.%d.attn_k_norm.weight" % i, D)
        b.matrix("blk.%d.attn_output.weight" % i, H * D, E)
        b.norm("blk.%d.post_attention_norm.weight" % i, E)
        b.norm("blk.%d.ffn_norm.weight" % i, E)
        _gated_ffn(b, i, E, F)
        b.norm("blk.%d.post_ffw_norm.weight" % i, E)
    b.norm("output_norm.weight", E, 6.0)
    return b.model()


def _encoder_hparams(b, n_ctx, n_embd, n_layer, n_ff, n_head):
    b.kv(".context_length", "u32", n_ctx)
    b.kv(".embedding_length", "u32", n_embd)
    b.kv(".block_count", "u32", n_layer)
    b.kv(".feed_forward_length", "u32", n_ff)
    b.kv(".attention.head_count", "u32", n_head)
    b.kv(".attention.layer_norm_epsilon", "f32", 1e-12)
    b.kv(".attention.causal", "bool", False)
    b.kv(".pooling_type", "u32", 1)  # mean


def _layer_norm(b, name, n):
    b.norm(name + ".weight", n)
    b.bias(name + ".bias", n)


def tiny_bert():
    E, L, F, H, CTX = 64, 2, 128, 4, 128
    b = Builder("bert", 5)
    _general(b)
    _encoder_hparams(b, CTX, E, L, F, H)
    V = _wpm_tokenizer(b)
    b.embedding("token_embd.weight", E, V, 1.0)
    b.embedding("token_types.weight", E, 2, 0.5)
    b.embedding("position_embd.weight", E, CTX, 0.5)
    _layer_norm(b, "token_embd_norm", E)
    for i in range(L):
        for part in ("q", "k", "v"):
            b.matrix("blk.%d.attn_%s.weight" % (i, part), E, E)
            b.bias("blk.%d.attn_%s.bias" % (i, part), E)
        b.matrix("blk.%d.attn_output.weight" % i, E, E)
        b.bias("blk.%d.attn_output.bias" % i, E)
        _layer_norm(b, "blk.%d.attn_output_norm" % i, E)
        b.matrix("blk.%d.ffn_up.weight" % i, E, F)
        b.bias("blk.%d.ffn_up.bias" % i, F)
        b.matrix("blk.%d.ffn_down.weight" % i, F, E)
        b.bias("blk.%d.ffn_down.bias" % i, E)
        _layer_norm(b, "blk.%d.layer_output_norm" % i, E)
    return b.model()


def tiny_nomic_bert():
    E, L, F, H, CTX = 64, 2, 128, 4, 128
    b = Builder("nomic-bert", 6)
    _general(b)
    _encoder_hparams(b, CTX, E, L, F, H)
    b.kv(".rope.freq_base", "f32", 1000.0)
    V = _wpm_tokenizer(b)
    b.embedding("token_embd.weight", E, V, 1.0)
    b.embedding("token_types.weight", E, 2, 0.5)
    _layer_norm(b, "token_embd_norm", E)
    for i in range(L):
        b.matrix("blk.%d.attn_qkv.weight" % i, E, 3 * E)  # rows: q, then k, then v
        b.matrix("blk.%d.attn_output.weight" % i, E, E)
        _layer_norm(b, "blk.%d.attn_output_norm" % i, E)
        _gated_ffn(b, i, E, F)
        _layer_norm(b, "blk.%d.layer_output_norm" % i, E)
    return b.model()


def models():
    return [tiny_llama(), tiny_qwen2(), tiny_qwen3(), tiny_gemma3(), tiny_bert(), tiny_nomic_bert()]
