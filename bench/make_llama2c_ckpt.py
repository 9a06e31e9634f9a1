#!/usr/bin/python3
"""Write a random-weight checkpoint in the legacy llama2.c format (version 0,
the format of stories15M.bin / stories260K.bin), and optionally a synthetic
llama2.c tokenizer file of the same vocabulary size.

Only the standard library (no numpy): weights are uniform in [-a, a] with
a = std * sqrt(3) (so their standard deviation is --std, 0.02 by default),
drawn from random.Random(seed).randbytes as 16-bit integers; the RMSNorm
weights are 1. The same arguments always give the same bytes.

Checkpoint layout (all little-endian):
  header: 7 int32  dim, hidden_dim, n_layers, n_heads, n_kv_heads,
                   vocab_size (positive = classifier shared with the token
                   embedding; negative = a separate classifier at the end),
                   seq_len
  float32, in this order:
    token_embedding  vocab * dim
    rms_att          n_layers * dim
    wq               n_layers * dim * dim              (rows = outputs)
    wk, wv           n_layers * kv_dim * dim each      (kv_dim = dim * n_kv_heads / n_heads)
    wo               n_layers * dim * dim
    rms_ffn          n_layers * dim
    w1               n_layers * hidden_dim * dim
    w2               n_layers * dim * hidden_dim
    w3               n_layers * hidden_dim * dim
    rms_final        dim
    freq_cis_real    seq_len * head_size / 2   cos(pos * 10000^(-2i/head_size))
    freq_cis_imag    seq_len * head_size / 2   sin(...); both unused by run.c
    wcls             vocab * dim               (only with --unshared)

Tokenizer layout (what run.c's build_tokenizer reads; it reads exactly
vocab_size entries, so the file must have at least as many as the model):
  int32 max_token_length, then per token: float32 score, int32 length,
  bytes. Synthetic pieces: 0 '<unk>', 1 '\\n<s>\\n', 2 '\\n</s>\\n',
  3..258 '<0x00>'..'<0xFF>', then the 95 printable ASCII characters
  (' ' among them: the encoder looks up ' ' for its dummy prefix and must
  find it), then distinct lower-case words with and without a leading
  space, and their capitalised forms, until vocab_size; scores -i.

Default shape: stories15M (dim 288, hidden 768, 6 layers, 6 heads, 6 kv
heads, vocab 32000, seq_len 256): 15.2 M parameters, 60.8 MB.

    /usr/bin/python3 bench/make_llama2c_ckpt.py OUT.bin [--tokenizer TOK.bin]
        [--dim 288 --hidden-dim 768 --n-layers 6 --n-heads 6 --n-kv-heads 6
         --vocab 32000 --seq-len 256] [--unshared] [--seed 1] [--std 0.02]
"""

import argparse
import math
import random
import struct
import sys
import time
from array import array

CHUNK = 1 << 20  # floats per chunk


def write_random(f, rng, n, scale):
    """n float32 uniform in [-32768, 32767] * scale."""
    while n > 0:
        k = min(n, CHUNK)
        ints = array('h')
        ints.frombytes(rng.randbytes(2 * k))
        out = array('f', map(scale.__mul__, ints))
        if sys.byteorder != 'little':
            out.byteswap()
        f.write(out.tobytes())
        n -= k


def write_const(f, n, value):
    out = array('f', [value]) * n
    if sys.byteorder != 'little':
        out.byteswap()
    f.write(out.tobytes())


def write_floats(f, values):
    out = array('f', values)
    if sys.byteorder != 'little':
        out.byteswap()
    f.write(out.tobytes())


def write_checkpoint(path, dim, hidden, n_layers, n_heads, n_kv_heads, vocab,
                     seq_len, shared, seed, std):
    if dim % n_heads or n_heads % n_kv_heads or (dim // n_heads) % 2:
        raise SystemExit('dim must divide into n_heads heads of even size, '
                         'and n_heads into n_kv_heads groups')
    head = dim // n_heads
    kv_dim = dim * n_kv_heads // n_heads
    rng = random.Random(seed)
    scale = std * math.sqrt(3.0) / 32768.0
    L = n_layers
    n_params = 0
    with open(path, 'wb') as f:
        f.write(struct.pack('<7i', dim, hidden, n_layers, n_heads, n_kv_heads,
                            vocab if shared else -vocab, seq_len))
        sections = [
            ('emb', vocab * dim), ('rms_att', L * dim), ('wq', L * dim * dim),
            ('wk', L * kv_dim * dim), ('wv', L * kv_dim * dim),
            ('wo', L * dim * dim), ('rms_ffn', L * dim),
            ('w1', L * hidden * dim), ('w2', L * dim * hidden),
            ('w3', L * hidden * dim), ('rms_final', dim),
        ]
        for name, n in sections:
            if name.startswith('rms'):
                write_const(f, n, 1.0)
            else:
                write_random(f, rng, n, scale)
            n_params += n
        freqs = [1.0 / (10000.0 ** (2 * i / head)) for i in range(head // 2)]
        write_floats(f, (math.cos(p * fr) for p in range(seq_len) for fr in freqs))
        write_floats(f, (math.sin(p * fr) for p in range(seq_len) for fr in freqs))
        if not shared:
            write_random(f, rng, vocab * dim, scale)
            n_params += vocab * dim
        size = f.tell()
    return n_params, size


def synthetic_pieces(vocab):
    pieces = [b'<unk>', b'\n<s>\n', b'\n</s>\n']
    pieces += [b'<0x%02X>' % i for i in range(256)]
    pieces += [bytes([c]) for c in range(0x20, 0x7f)]
    seen = set(pieces)
    letters = b'etaoinshrdlucmfwypvbgkjqxz'
    n = 0
    while len(pieces) < vocab:
        # the n-th word over the alphabet, shortest first: e, t, ..., ee, et, ...
        k, word = n, b''
        while True:
            word = letters[k % 26:k % 26 + 1] + word
            k = k // 26 - 1
            if k < 0:
                break
        n += 1
        for p in (b' ' + word, word, b' ' + word.capitalize(), word.capitalize()):
            if p not in seen and len(pieces) < vocab:
                seen.add(p)
                pieces.append(p)
    return pieces[:vocab]


def write_tokenizer(path, vocab):
    if vocab < 3 + 256 + 95:
        raise SystemExit('a synthetic tokenizer needs vocab >= 354')
    pieces = synthetic_pieces(vocab)
    with open(path, 'wb') as f:
        f.write(struct.pack('<i', max(len(p) for p in pieces)))
        for i, p in enumerate(pieces):
            score = 0.0 if i < 3 + 256 else -float(i)
            f.write(struct.pack('<fi', score, len(p)))
            f.write(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('out')
    ap.add_argument('--tokenizer', metavar='PATH',
                    help='also write a synthetic tokenizer of --vocab pieces')
    ap.add_argument('--dim', type=int, default=288)
    ap.add_argument('--hidden-dim', type=int, default=768)
    ap.add_argument('--n-layers', type=int, default=6)
    ap.add_argument('--n-heads', type=int, default=6)
    ap.add_argument('--n-kv-heads', type=int, default=None,
                    help='default: --n-heads')
    ap.add_argument('--vocab', type=int, default=32000)
    ap.add_argument('--seq-len', type=int, default=256)
    ap.add_argument('--unshared', action='store_true',
                    help='separate classifier (negative vocab_size in the header)')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--std', type=float, default=0.02)
    a = ap.parse_args()
    t0 = time.time()
    n_params, size = write_checkpoint(
        a.out, a.dim, a.hidden_dim, a.n_layers, a.n_heads,
        a.n_kv_heads or a.n_heads, a.vocab, a.seq_len, not a.unshared,
        a.seed, a.std)
    print(f'wrote {a.out}: {n_params / 1e6:.2f} M parameters, {size} bytes, '
          f'{time.time() - t0:.1f} s', file=sys.stderr)
    if a.tokenizer:
        write_tokenizer(a.tokenizer, a.vocab)
        print(f'wrote {a.tokenizer}: {a.vocab} pieces', file=sys.stderr)


if __name__ == '__main__':
    main()
