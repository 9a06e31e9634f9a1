"""embed_bench.py EXTENSION: llm_embed and llm_generate through SQL against
PyTorch, in one script.

    /usr/bin/python3 bench/embed_bench.py ./llm.so [--rows N] [--reps N]
        [--prompts N] [--max-tokens N]

In a temporary database it trains a byte-level BPE tokenizer of 2,000 tokens
(sql/demo.sql's size, GPT-2 pre-tokenization) on Tiny Shakespeare, creates
sql/demo.sql's model (L=4, NH=4, C=128, T=64, V=2001; GPT-2's random
initialisation) and a table of --rows (1,000) texts: lines and pairs of
lines of Tiny Shakespeare of 5-40 tokens, evenly spread over the file.

Embeddings. `UPDATE texts SET emb = llm_embed('m', body)`, after a warm-up
call that loads the model: the median of --reps (5) runs, as rows/s and
tokens/s (the texts' tokens, without the start token). Also the same without
the writes (`SELECT sum(length(llm_embed('m', body))) FROM texts`).
PyTorch: the model class of bench/torch_ref.py with the same weights (read
from llm_weights: zstd through ctypes and libzstd), one text per forward
under torch.no_grad(), the start token (<|endoftext|>, id n_vocab - 1) put
before the ids of llm_tokenize, the final LayerNorm's output mean-pooled
over the text's tokens (not the start token, as llm_embed) and
L2-normalised; tokenization is not timed for PyTorch (it is part of
llm_embed's time). With 2 torch threads and with 1. The vectors are checked
against the extension's (minimum cosine similarity).

Generation. `SELECT llm_generate('m', prompt, '{"max_tokens":64,
"temperature":0}')` for --prompts (20) prompts (the first line of texts of
at most 12 tokens): decode tokens/s through SQL (generated tokens / the
whole time, prompts' prefill included; the median of --reps runs). The
extension decodes with a KV cache. PyTorch has none here: it recomputes the
whole window (the last block_size tokens) at every step and takes the
argmax of the last position's logits, as nanoGPT's generate() does, so the
ratio compares a KV-cache decoder with a windowed recompute, not two equal
algorithms. When the context fills the two also differ by design (the
extension restarts on the last block_size / 2 tokens, nanoGPT slides the
window), so only the tokens generated before that are compared.

PyTorch runs as train_bench.py runs it: OMP_WAIT_POLICY=passive and
OpenBLAS's kernels for this CPU, chosen as ext/blas.c chooses them
(OPENBLAS_CORETYPE=SkylakeX with AVX-512, Haswell with AVX2 + FMA; or
LLM_BENCH_CORETYPE, or OPENBLAS_CORETYPE when set), set before the libraries
load: torch and the extension then run the same kernels. The extension and torch
share the one OpenBLAS of the process: the extension keeps it at 1 thread
(it has its own pool); for torch at K threads it is set to K, and back to 1
after. "others" is the CPU (in cores) that other processes used during a
measurement, from /proc/stat minus this process's CPU time. The
measurements run in interleaved rounds (each round runs every variant once),
so that a change in the machine's load hits all of them alike; PyTorch runs
--torch-reps (3) times for embeddings and --torch-gen-reps (1) for
generation, to keep the script near two minutes.
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import sqlite3
import statistics
import struct
import sys
import tempfile
import time



sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_kernels import kernels_for_cpu  # noqa: E402

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
if "OPENBLAS_CORETYPE" not in os.environ:
    _k = os.environ.get("LLM_BENCH_CORETYPE") or kernels_for_cpu()
    if _k:
        os.environ["OPENBLAS_CORETYPE"] = _k

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "tinyshakespeare.txt")
sys.path.insert(0, os.path.join(ROOT, "bench"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch_ref import GPT  # noqa: E402

MODEL = dict(n_layer=4, n_head=4, n_embd=128, block_size=64)
MIN_TOK, MAX_TOK = 5, 40


# ---- load measurement ------------------------------------------------------

def cpu_busy():
    """(busy seconds of the whole machine, this process's CPU seconds)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    busy = (sum(v[:8]) - v[3] - v[4]) / hz  # all but idle and iowait
    t = os.times()
    return busy, t.user + t.system


class Load:
    """with Load() as l: ...; l.others = cores used by other processes."""
    def __enter__(self):
        self.b0, self.s0 = cpu_busy()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *a):
        b1, s1 = cpu_busy()
        wall = time.perf_counter() - self.t0
        self.others = max(0.0, ((b1 - self.b0) - (s1 - self.s0)) / wall) if wall > 0 else 0.0


# ---- OpenBLAS and zstd through ctypes ---------------------------------------

def openblas_lib():
    with open("/proc/self/maps") as f:
        paths = sorted({l.split()[-1] for l in f if "libopenblas" in l})
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_set_num_threads
            return lib
        except (OSError, AttributeError):
            pass
    return None


def set_threads(k):
    torch.set_num_threads(k)
    lib = openblas_lib()
    if lib is not None:
        lib.openblas_set_num_threads(k)


_zstd = None


def unzstd(blob):
    global _zstd
    if _zstd is None:
        _zstd = ctypes.CDLL(ctypes.util.find_library("zstd") or "libzstd.so.1")
        _zstd.ZSTD_getFrameContentSize.restype = ctypes.c_ulonglong
        _zstd.ZSTD_getFrameContentSize.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        _zstd.ZSTD_decompress.restype = ctypes.c_size_t
        _zstd.ZSTD_decompress.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
        _zstd.ZSTD_isError.argtypes = [ctypes.c_size_t]
    n = _zstd.ZSTD_getFrameContentSize(blob, len(blob))
    if n >= 2 ** 63:
        raise ValueError("zstd: unknown or invalid frame size")
    out = ctypes.create_string_buffer(n)
    r = _zstd.ZSTD_decompress(out, n, blob, len(blob))
    if _zstd.ZSTD_isError(r) or r != n:
        raise ValueError("zstd: decompression failed")
    return out.raw


def load_weights(db, model, name):
    """Copies the stored parameters of model `name` into the torch GPT."""
    names = {"ln1.weight": "ln1.weight", "ln1.bias": "ln1.bias", "ln2.weight": "ln2.weight",
             "ln2.bias": "ln2.bias", "attn.qkv.weight": "qkv.weight", "attn.qkv.bias": "qkv.bias",
             "attn.proj.weight": "attn_proj.weight", "attn.proj.bias": "attn_proj.bias",
             "mlp.fc.weight": "fc.weight", "mlp.fc.bias": "fc.bias",
             "mlp.proj.weight": "mlp_proj.weight", "mlp.proj.bias": "mlp_proj.bias"}
    sd = model.state_dict()
    done = set()
    for tname, shape, dtype, data in db.execute(
            "SELECT name, shape, dtype, data FROM llm_weights WHERE model = ? AND role = 'param'", (name,)):
        assert dtype == "f32", dtype
        shape = json.loads(shape)
        t = torch.frombuffer(bytearray(unzstd(data)), dtype=torch.float32).reshape(shape)
        if tname.startswith("blocks."):
            sub = names[tname[len("blocks."):]]
            for l in range(shape[0]):
                key = f"blocks.{l}.{sub}"
                sd[key].copy_(t[l])
                done.add(key)
        else:
            key = {"wte": "wte.weight", "wpe": "wpe.weight"}.get(tname, tname)
            sd[key].copy_(t)
            done.add(key)
    missing = set(sd) - done
    if missing:
        raise SystemExit(f"embed_bench: no stored weights for {sorted(missing)}")


# ---- the torch side ----------------------------------------------------------

def hidden(model, idx):
    """The final LayerNorm's output, [B, T, C]."""
    t = idx.size(1)
    x = model.wte(idx) + model.wpe(torch.arange(t))
    for blk in model.blocks:
        x = blk(x)
    return model.lnf(x)


def torch_embed(model, seqs):
    out = []
    with torch.no_grad():
        for s in seqs:
            h = hidden(model, torch.tensor([s]))[0]
            out.append(F.normalize(h[1:].mean(0) if len(s) > 1 else h[0], dim=0))
    return out


def torch_generate(model, seqs, max_tokens, block, eos):
    """Greedy, recomputing the last `block` tokens at every step (nanoGPT)."""
    outs = []
    with torch.no_grad():
        for s in seqs:
            idx = torch.tensor([s])
            gen = []
            for _ in range(max_tokens):
                h = hidden(model, idx[:, -block:])
                logits = F.linear(h[:, -1, :], model.wte.weight)
                t = int(logits.argmax(-1))
                if t == eos:
                    break
                gen.append(t)
                idx = torch.cat([idx, torch.tensor([[t]])], dim=1)
            outs.append(gen)
    return outs


# ---- main ------------------------------------------------------------------------

def pick_texts(db, n):
    """n texts of MIN_TOK..MAX_TOK tokens, lines and pairs of lines in turn,
    evenly spread over the file."""
    with open(DATA, encoding="utf-8") as f:
        lines = [l for l in f.read().split("\n") if l.strip()]
    cands = [lines[i] if i % 2 == 0 else lines[i] + "\n" + lines[i + 1] for i in range(len(lines) - 1)]
    db.execute("CREATE TEMP TABLE cand(i INTEGER PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO cand(body) VALUES (?)", ((c,) for c in cands))
    ok = [r[0] for r in db.execute("SELECT body FROM cand WHERE llm_token_count('m', body) BETWEEN ? AND ? "
                                   "ORDER BY i", (MIN_TOK, MAX_TOK))]
    db.execute("DROP TABLE cand")
    if len(ok) < n:
        raise SystemExit(f"embed_bench: only {len(ok)} texts of {MIN_TOK}-{MAX_TOK} tokens")
    return [ok[i * len(ok) // n] for i in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ext")
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--torch-reps", type=int, default=3, help="runs of PyTorch's embeddings (median)")
    ap.add_argument("--torch-gen-reps", type=int, default=1, help="runs of PyTorch's generation (median)")
    ap.add_argument("--torch-threads", default="2,1")
    args = ap.parse_args()
    if not os.path.exists(DATA):
        sys.exit(f"embed_bench: {DATA} is missing")
    torch.manual_seed(0)

    tmp = tempfile.TemporaryDirectory()
    db = sqlite3.connect(os.path.join(tmp.name, "bench.db"), isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(os.path.abspath(args.ext))
    ver = json.loads(db.execute("SELECT llm_version()").fetchone()[0])

    # tokenizer, model, texts
    with open(DATA, encoding="utf-8") as f:
        lines = f.read().split("\n")
    db.execute("CREATE TABLE corpus(body TEXT)")
    db.executemany("INSERT INTO corpus VALUES (?)",
                   (("\n".join(lines[i:i + 50]),) for i in range(0, len(lines), 50)))
    tk = json.loads(db.execute("SELECT llm_tokenizer_train('m', 'SELECT body FROM corpus', 2000)").fetchone()[0])
    n_params = db.execute("SELECT llm_model_create('m', ?)", (json.dumps(MODEL),)).fetchone()[0]
    (eot,) = db.execute("SELECT id FROM llm_vocab WHERE tokenizer = 'm' AND kind = 'special' "
                        "AND piece = CAST('<|endoftext|>' AS BLOB)").fetchone()
    n_vocab = tk["n_vocab"]
    assert eot == n_vocab - 1, (eot, n_vocab)
    texts = pick_texts(db, args.rows)
    db.execute("CREATE TABLE texts(id INTEGER PRIMARY KEY, body TEXT, emb BLOB)")
    db.executemany("INSERT INTO texts(body) VALUES (?)", ((t,) for t in texts))
    ids = [[eot] + json.loads(r[0]) for r in db.execute("SELECT llm_tokenize('m', body) FROM texts ORDER BY id")]
    n_tok = sum(len(s) - 1 for s in ids)
    lens = [len(s) - 1 for s in ids]
    print(f"extension {ver.get('version')} (SQLite {ver.get('sqlite')}, simd {ver.get('simd')}); "
          f"torch {torch.__version__}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; {os.cpu_count()} CPUs; "
          f"openblas {ver.get('openblas')}")
    print(f"tokenizer: n_vocab {n_vocab}, <|endoftext|> = {eot}; model L={MODEL['n_layer']} "
          f"NH={MODEL['n_head']} C={MODEL['n_embd']} T={MODEL['block_size']}, {n_params:,} parameters")
    print(f"texts: {len(texts)}, {n_tok:,} tokens, mean {n_tok / len(texts):.1f} "
          f"(min {min(lens)}, max {max(lens)}) + the start token", flush=True)


    # ---- prompts, the reference outputs, the torch model
    prompts = [t.split("\n")[0] for t in texts]
    prompts = [p for p in prompts if db.execute("SELECT llm_token_count('m', ?)", (p,)).fetchone()[0] <= 12]
    prompts = prompts[:: max(1, len(prompts) // args.prompts)][:args.prompts]
    db.execute("CREATE TABLE prompts(id INTEGER PRIMARY KEY, prompt TEXT)")
    db.executemany("INSERT INTO prompts(prompt) VALUES (?)", ((p,) for p in prompts))
    pids = [[eot] + json.loads(db.execute("SELECT llm_tokenize('m', ?)", (p,)).fetchone()[0]) for p in prompts]
    gopts = json.dumps({"max_tokens": args.max_tokens, "temperature": 0})
    db.execute("SELECT llm_embed('m', 'warm up')").fetchone()  # loads the model
    ours_gen = [[r[0] for r in db.execute("SELECT token_id FROM llm_generate_tokens('m', ?, ?) WHERE finish IS NULL "
                                          "ORDER BY i", (p, gopts))] for p in prompts]
    n_gen = sum(len(g) for g in ours_gen)
    T = MODEL["block_size"]
    model = GPT(MODEL["n_layer"], MODEL["n_head"], MODEL["n_embd"], MODEL["block_size"], vocab=n_vocab)
    load_weights(db, model, "m")
    model.eval()
    threads = [int(x) for x in args.torch_threads.split(",") if x]
    torch_gen = {}

    # ---- the measurements, in interleaved rounds so that all see the same load
    def ours(fn):
        def run():
            set_threads(1)  # the extension's own setting (its pool owns the cores)
            fn()
        return run

    def th(k, fn):
        def run():
            set_threads(k)
            fn()
            set_threads(1)
        return run

    emb = {"upd": ours(lambda: db.execute("UPDATE texts SET emb = llm_embed('m', body)")),
           "sel": ours(lambda: db.execute("SELECT sum(length(llm_embed('m', body))) FROM texts").fetchone())}
    for k in threads:
        emb[k] = th(k, lambda: torch_embed(model, ids))
    gen = {"ours": ours(lambda: db.execute("SELECT llm_generate('m', prompt, ?) FROM prompts", (gopts,)).fetchall())}
    for k in threads:
        gen[k] = th(k, lambda k=k: torch_gen.__setitem__(k, torch_generate(model, pids, args.max_tokens, T, eot)))
    for k in threads:  # warm-up
        th(k, lambda: torch_embed(model, ids[:20]))()
    res = {}

    def rounds(fns, n_ours, n_torch):
        for r in range(max(n_ours, n_torch)):
            for key, fn in fns.items():
                if r < (n_torch if isinstance(key, int) else n_ours):
                    with Load() as l:
                        t0 = time.perf_counter()
                        fn()
                        dt = time.perf_counter() - t0
                    res.setdefault(key, []).append((dt, l.others))

    def med(key):
        return statistics.median(d for d, _ in res[key]), statistics.median(o for _, o in res[key])

    rounds(emb, args.reps, args.torch_reps)
    ours_emb = [struct.unpack(f"<{MODEL['n_embd']}f", r[0]) for r in db.execute("SELECT emb FROM texts ORDER BY id")]
    upd, upd_o = med("upd")
    sel, sel_o = med("sel")
    rows = [("llm_embed, UPDATE (SQL)", "2 (pool)", len(texts) / upd, n_tok / upd, upd_o, None),
            ("llm_embed, SELECT (SQL)", "2 (pool)", len(texts) / sel, n_tok / sel, sel_o, sel / upd)]
    for k in threads:
        te, te_o = med(k)
        rows.append(("PyTorch, one text per forward", str(k), len(texts) / te, n_tok / te, te_o, te / upd))
    vecs = torch_embed(model, ids)
    cos_min = min(float(torch.dot(v, torch.tensor(o))) for v, o in zip(vecs, ours_emb))

    res.clear()
    rounds(gen, args.reps, args.torch_gen_reps)
    g, g_o = med("ours")
    grows = [("llm_generate (SQL, KV cache)", "2 (pool)", n_gen / g, g_o, None)]
    for k in threads:
        tg, tg_o = med(k)
        tn = sum(len(x) for x in torch_gen[k])
        grows.append(("PyTorch, window recomputed per token", str(k), tn / tg, tg_o, (n_gen / g) / (tn / tg)))
    # compare only the tokens generated before the context fills
    agree = [sum(a[:T - len(p)] == b[:T - len(p)] for p, a, b in zip(pids, ours_gen, torch_gen[threads[0]])),
             len(pids)]

    print()
    print(f"embeddings, {len(texts)} texts (median of {args.reps} runs; PyTorch {args.torch_reps}; "
          f"interleaved); ours/this = the UPDATE's rows/s / this row's")
    print(f"  {'':38} {'threads':>8} {'rows/s':>9} {'tokens/s':>9} {'others':>6} {'ours/this':>9}")
    for name, t_, rps, tps, oth, ratio in rows:
        print(f"  {name:38} {t_:>8} {rps:9,.0f} {tps:9,.0f} {oth:6.2f} {'' if ratio is None else f'{ratio:9.2f}'}")
    print(f"  vectors: min cosine(ours, PyTorch) over {len(texts)} texts = {cos_min:.6f}")
    print()
    print(f"greedy generation, {len(prompts)} prompts x up to {args.max_tokens} tokens "
          f"({n_gen} generated by the extension; median of {args.reps} runs, PyTorch {args.torch_gen_reps})")
    print(f"  {'':38} {'threads':>8} {'tokens/s':>9} {'others':>6} {'ours/this':>9}")
    for name, t_, tps, oth, ratio in grows:
        print(f"  {name:38} {t_:>8} {tps:9,.0f} {oth:6.2f} {'' if ratio is None else f'{ratio:9.2f}'}")
    print(f"  same greedy tokens as PyTorch until the context fills: {agree[0]} of {agree[1]} prompts")
    db.close()
    tmp.cleanup()
    if cos_min < 0.999 or agree[0] < agree[1] // 2:
        sys.exit("embed_bench: the extension and PyTorch disagree")


if __name__ == "__main__":
    main()
