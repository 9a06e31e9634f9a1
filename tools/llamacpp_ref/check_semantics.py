"""check_semantics.py MODELS_DIR RECORDS_DIR: recomputes the recorded llama.cpp
outputs of the tiny models (tests/data/llamacpp/tiny-*.json) with an
independent float64 numpy forward pass written from the facts listed below,
and fails when they disagree. It is the executable form of what an importer
must do to match llama.cpp on each architecture (all read in llama.cpp's
src/models/*.cpp, src/llama-graph.cpp, src/llama-hparams.cpp and ggml-cpu):

- RMSNorm x / sqrt(mean(x^2) + eps) * w; LayerNorm with weight and bias.
- RoPE on pairs (2i, 2i+1) for llama ("NORM"), on pairs (i, i + d/2) for
  qwen2, qwen3, gemma3, nomic-bert ("NEOX"); angle pos * base^(-2i/d), divided
  by rope_freqs[i] when the file has rope_freqs.weight (llama).
- Attention scale 1/sqrt(head_dim); GQA: query head h uses kv head
  h / (n_head / n_head_kv).
- qwen3, gemma3: RMSNorm of each q and k head (weights of head_dim) before RoPE.
- gemma3: input embeddings times sqrt(n_embd) (in float); layers with
  il % 6 < 5 are local (sliding window: key p0 visible from p1 iff
  p1 - p0 < window; rope.freq_base_swa), the others global (rope.freq_base);
  post-attention and post-FFN RMSNorms before each residual add; FFN
  gelu(gate) * up; norm weights used as stored (the GGUF holds 1 + w).
- bert: token + token_types[0] + position embeddings, LayerNorm, then per
  layer post-LN: LN(x + attn), LN(h + ffn), FFN gelu(up x + b); mean pooling.
- nomic-bert: fused attn_qkv (rows q, k, v), NEOX RoPE, post-LN, FFN
  silu(gate x) * (up x), no biases; mean pooling; no normalisation.
- GELU as ggml's CPU kernel computes it: the tanh form, tabulated in half
  precision (the input rounded to fp16, the result stored as fp16; x <= -10
  gives 0, x >= 10 gives x). That rounding is why gemma3 and bert agree to
  ~1e-3 and ~1e-5 rather than ~1e-6.

Needs numpy and gguf-py (not run in CI):
  PYTHONPATH=/work/llamacpp/gguf-py /usr/bin/python3 \\
      tools/llamacpp_ref/check_semantics.py build/models tests/data/llamacpp
"""
import json
import os
import sys

import numpy as np
from gguf import GGUFReader

# largest |difference| accepted, per model: logprob and logit-margin units
# for decoders, embedding units for encoders (see the GELU note above)
TOLERANCE = {"llama": 1e-4, "qwen2": 1e-4, "qwen3": 1e-4, "gemma3": 5e-3,
             "bert": 1e-3, "nomic-bert": 1e-4}


def load(path):
    r = GGUFReader(path)
    kv = {}
    for key, field in r.fields.items():
        if not key.startswith("GGUF."):
            kv[key] = field.contents()
    tensors = {t.name: np.array(t.data, dtype=np.float64) for t in r.tensors}
    return kv, tensors


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def layer_norm(x, w, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def gelu_ggml(x):
    h = x.astype(np.float32).astype(np.float16).astype(np.float64)
    y = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * h * (1 + 0.044715 * h * h)))
    y = y.astype(np.float16).astype(np.float64)
    return np.where(x <= -10, 0.0, np.where(x >= 10, x, y))


def silu(x):
    return x / (1 + np.exp(-x))


def rope(x, base, neox, factors=None):
    """x: (tokens, heads, head_dim), token t at position t."""
    n, _, d = x.shape
    freq = base ** (-2.0 * np.arange(d // 2) / d)
    if factors is not None:
        freq = freq / factors
    angle = np.arange(n)[:, None] * freq[None, :]
    c, s = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    out = x.copy()
    lo, hi = (slice(0, d // 2), slice(d // 2, d)) if neox else (slice(0, d, 2), slice(1, d, 2))
    out[..., lo] = x[..., lo] * c - x[..., hi] * s
    out[..., hi] = x[..., lo] * s + x[..., hi] * c
    return out


def attention(q, k, v, causal, window=None):
    n, heads, d = q.shape
    group = heads // k.shape[1]
    p1, p0 = np.arange(n)[:, None], np.arange(n)[None, :]
    masked = np.zeros((n, n), bool)
    if causal:
        masked |= p0 > p1
    if window is not None:
        masked |= p1 - p0 >= window
    out = np.zeros((n, heads, v.shape[2]))
    for h in range(heads):
        s = np.where(masked, -np.inf, q[:, h] @ k[:, h // group].T / np.sqrt(d))
        e = np.exp(s - s.max(1, keepdims=True))
        out[:, h] = (e / e.sum(1, keepdims=True)) @ v[:, h // group]
    return out.reshape(n, -1)


def decoder_logits(kv, w, ids):
    arch = kv["general.architecture"]
    hp = lambda key, default=None: kv.get(arch + "." + key, default)  # noqa: E731
    n_embd, n_head, n_head_kv = hp("embedding_length"), hp("attention.head_count"), hp("attention.head_count_kv")
    head = hp("attention.key_length", n_embd // n_head)
    eps = hp("attention.layer_norm_rms_epsilon")
    n = len(ids)
    x = w["token_embd.weight"][ids]
    if arch == "gemma3":
        x = x * float(np.sqrt(np.float32(n_embd)))
    for il in range(hp("block_count")):
        p = "blk.%d." % il
        h = rms_norm(x, w[p + "attn_norm.weight"], eps)
        q, k, v = (h @ w[p + "attn_%s.weight" % t].T + w.get(p + "attn_%s.bias" % t, 0) for t in "qkv")
        q, k, v = q.reshape(n, n_head, head), k.reshape(n, n_head_kv, head), v.reshape(n, n_head_kv, head)
        if p + "attn_q_norm.weight" in w:
            q = rms_norm(q, w[p + "attn_q_norm.weight"], eps)
            k = rms_norm(k, w[p + "attn_k_norm.weight"], eps)
        base, window = hp("rope.freq_base", 10000.0), None
        if arch == "gemma3" and hp("attention.sliding_window") and il % 6 < 5:
            base, window = hp("rope.freq_base_swa", 10000.0), hp("attention.sliding_window")
        neox = arch != "llama"
        q = rope(q, base, neox, w.get("rope_freqs.weight"))
        k = rope(k, base, neox, w.get("rope_freqs.weight"))
        a = attention(q, k, v, True, window) @ w[p + "attn_output.weight"].T
        if arch == "gemma3":
            a = rms_norm(a, w[p + "post_attention_norm.weight"], eps)
        x = x + a
        h = rms_norm(x, w[p + "ffn_norm.weight"], eps)
        gate = h @ w[p + "ffn_gate.weight"].T
        act = gelu_ggml(gate) if arch == "gemma3" else silu(gate)
        f = (act * (h @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
        if arch == "gemma3":
            f = rms_norm(f, w[p + "post_ffw_norm.weight"], eps)
        x = x + f
    x = rms_norm(x, w["output_norm.weight"], eps)
    return x @ w.get("output.weight", w["token_embd.weight"]).T


def encoder_embedding(kv, w, ids):
    arch = kv["general.architecture"]
    hp = lambda key, default=None: kv.get(arch + "." + key, default)  # noqa: E731
    n_embd, n_head, eps = hp("embedding_length"), hp("attention.head_count"), hp("attention.layer_norm_epsilon")
    head, n = n_embd // n_head, len(ids)
    x = w["token_embd.weight"][ids] + w["token_types.weight"][0]
    if "position_embd.weight" in w:
        x = x + w["position_embd.weight"][:n]
    x = layer_norm(x, w["token_embd_norm.weight"], w["token_embd_norm.bias"], eps)
    for il in range(hp("block_count")):
        p = "blk.%d." % il
        if p + "attn_qkv.weight" in w:
            q, k, v = np.split(x @ w[p + "attn_qkv.weight"].T, 3, axis=1)
        else:
            q, k, v = (x @ w[p + "attn_%s.weight" % t].T + w[p + "attn_%s.bias" % t] for t in "qkv")
        q, k, v = (t.reshape(n, n_head, head) for t in (q, k, v))
        if arch == "nomic-bert":
            q, k = rope(q, hp("rope.freq_base"), True), rope(k, hp("rope.freq_base"), True)
        a = attention(q, k, v, False) @ w[p + "attn_output.weight"].T + w.get(p + "attn_output.bias", 0)
        x = layer_norm(x + a, w[p + "attn_output_norm.weight"], w[p + "attn_output_norm.bias"], eps)
        if p + "ffn_gate.weight" in w:
            f = (silu(x @ w[p + "ffn_gate.weight"].T) * (x @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
        else:
            f = gelu_ggml(x @ w[p + "ffn_up.weight"].T + w[p + "ffn_up.bias"]) @ w[p + "ffn_down.weight"].T
            f = f + w[p + "ffn_down.bias"]
        x = layer_norm(x + f, w[p + "layer_output_norm.weight"], w[p + "layer_output_norm.bias"], eps)
    return x.mean(0)


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def check_decoder(kv, w, rec):
    """The worst |difference| of the score's logprobs and the greedy run's
    margins, and whether every greedy choice is numpy's argmax too."""
    ids = rec["score"]["ids"]
    lp = log_softmax(decoder_logits(kv, w, ids))
    mine = np.array([lp[t - 1, ids[t]] for t in range(1, len(ids))])
    worst = np.abs(mine - np.array(rec["score"]["logprobs"])).max()
    g = rec["greedy"]
    seq = g["prompt_ids"] + g["ids"]
    logits = decoder_logits(kv, w, seq)[len(g["prompt_ids"]) - 1:len(seq) - 1]
    top2 = np.sort(logits, axis=1)[:, -2:]
    same_choice = bool(np.all(np.argmax(logits, axis=1) == np.array(g["ids"])))
    worst = max(worst, np.abs(top2[:, 1] - top2[:, 0] - np.array(g["margins"])).max())
    return worst, same_choice


def main(argv):
    if len(argv) != 3:
        print("usage: check_semantics.py MODELS_DIR RECORDS_DIR", file=sys.stderr)
        return 2
    failed = False
    for arch, tol in TOLERANCE.items():
        kv, w = load(os.path.join(argv[1], "tiny-%s.gguf" % arch))
        with open(os.path.join(argv[2], "tiny-%s.json" % arch), encoding="utf-8") as f:
            rec = json.load(f)
        if "embed" in rec:
            worst = max(np.abs(encoder_embedding(kv, w, e["ids"]) - np.array(e["embedding"])).max()
                        for e in rec["embed"])
            same_choice = True
        else:
            worst, same_choice = check_decoder(kv, w, rec)
        ok = worst <= tol and same_choice
        failed = failed or not ok
        print("%-4s tiny-%-11s max |numpy - llama.cpp| %.2g (tolerance %g)%s" % (
            "ok" if ok else "FAIL", arch, worst, tol, "" if same_choice else ", greedy choices differ"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
