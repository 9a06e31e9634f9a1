"""make_random_model.py OUT.gguf SHAPE [CONTEXT]: a Llama-architecture GGUF file of
float16 random weights (N(0, 0.02); norms 1) in one of the benchmark shapes,
for speed and memory measurements (quantize it with llama.cpp's
llama-quantize for the other types). The vocabulary is synthetic:
<unk>, <s>, </s>, the 256 byte tokens, then "▁w<i>" pieces.

Shapes: stories15m (dim 288, 6 layers, 6 heads, hidden 768, vocab 32000),
110m (dim 768, 12 layers, 12 heads, hidden 2048, vocab 32000) and
tinyllama (dim 2048, 22 layers, 32 heads, 4 KV heads, hidden 5632, vocab
32000); the context (llama.context_length) is CONTEXT tokens, by default
2048. Needs numpy (/usr/bin/python3 has it from Debian's python3-numpy).
Writes the file piece by piece: a 1.1B model never sits in memory twice.
"""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "sql"))
from gguf_writer import gguf_bytes  # noqa: E402

SHAPES = {"stories15m": dict(C=288, L=6, NH=6, NKV=6, H=768, V=32000),
          "110m": dict(C=768, L=12, NH=12, NKV=12, H=2048, V=32000),
          "tinyllama": dict(C=2048, L=22, NH=32, NKV=4, H=5632, V=32000)}
F32, F16 = 0, 1


def tensor_list(s):
    C, H, V, KV = s["C"], s["H"], s["V"], s["C"] // s["NH"] * s["NKV"]
    t = [("token_embd.weight", [C, V], F16), ("output_norm.weight", [C], F32), ("output.weight", [C, V], F16)]
    for i in range(s["L"]):
        t += [("blk.%d.attn_norm.weight" % i, [C], F32), ("blk.%d.attn_q.weight" % i, [C, C], F16),
              ("blk.%d.attn_k.weight" % i, [C, KV], F16), ("blk.%d.attn_v.weight" % i, [C, KV], F16),
              ("blk.%d.attn_output.weight" % i, [C, C], F16), ("blk.%d.ffn_norm.weight" % i, [C], F32),
              ("blk.%d.ffn_gate.weight" % i, [C, H], F16), ("blk.%d.ffn_up.weight" % i, [C, H], F16),
              ("blk.%d.ffn_down.weight" % i, [H, C], F16)]
    return t


def main(out, shape, context=2048):
    s = SHAPES[shape]
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    tokens += ["\u2581w%d" % i for i in range(s["V"] - len(tokens))]
    kvs = [("general.architecture", "str", "llama"), ("general.name", "str", "random-" + shape),
           ("llama.context_length", "u32", context), ("llama.embedding_length", "u32", s["C"]),
           ("llama.block_count", "u32", s["L"]), ("llama.feed_forward_length", "u32", s["H"]),
           ("llama.attention.head_count", "u32", s["NH"]), ("llama.attention.head_count_kv", "u32", s["NKV"]),
           ("llama.attention.layer_norm_rms_epsilon", "f32", 1e-5), ("llama.rope.freq_base", "f32", 10000.0),
           ("general.file_type", "u32", 1),
           ("tokenizer.ggml.model", "str", "llama"), ("tokenizer.ggml.tokens", ("arr", "str"), tokens),
           ("tokenizer.ggml.scores", ("arr", "f32"), [0.0] * 259 + [-float(i) for i in range(len(tokens) - 259)]),
           ("tokenizer.ggml.token_type", ("arr", "i32"), [2, 3, 3] + [6] * 256 + [1] * (len(tokens) - 259)),
           ("tokenizer.ggml.bos_token_id", "u32", 1), ("tokenizer.ggml.eos_token_id", "u32", 2)]
    tl = tensor_list(s)
    sizes = [int(np.prod(d)) * (4 if ty == F32 else 2) for _, d, ty in tl]
    head = gguf_bytes(kvs, [(n, d, ty, _Sized(sz)) for (n, d, ty), sz in zip(tl, sizes)], header_only=True)
    rng = np.random.default_rng(1)
    with open(out, "wb") as f:
        f.write(head)
        for (name, d, ty), sz in zip(tl, sizes):
            n = int(np.prod(d))
            if ty == F32:
                data = np.ones(n, dtype=np.float32).tobytes()
            else:
                data = (rng.standard_normal(n, dtype=np.float32) * 0.02).astype(np.float16).tobytes()
            f.write(data + b"\0" * (-len(data) % 32))


class _Sized(bytes):
    """Stands for data of a given length (only len() is used for the header)."""
    def __new__(cls, n):
        obj = super().__new__(cls)
        obj.n = n
        return obj

    def __len__(self):
        return self.n


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *[int(a) for a in sys.argv[3:4]])
