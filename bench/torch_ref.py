"""torch_ref.py: a PyTorch reference of our GPT model and training recipe.

    /usr/bin/python3 bench/torch_ref.py [--config recipe|large] [--steps N]
        [--batch B] [--threads K] [--seed S] [--eval-every N]
        [--eval-iters N] [--timing-warmup N] [--json]

Run from the repository root; needs Debian's PyTorch (apt-get install
python3-torch) and reads ../shared/data/tinyshakespeare.txt. It exists to
benchmark the extension's training against PyTorch on the same CPU and to
check that both reach the same loss; it is not used by the extension.

The model is the one engine/nn/model.h describes for LLM_ARCH_GPT (GPT-2):
token + learned position embeddings, added; per block a pre-norm LayerNorm
(eps 1e-5, with bias), causal multi-head self-attention with a fused qkv
Linear(C, 3C) and an output Linear(C, C), residual; a LayerNorm, Linear(C,
4C), tanh-GELU, Linear(4C, C), residual; a final LayerNorm and the output
head tied to the token embedding. Every Linear has a bias; no dropout.
Initialisation as GPT-2: weights and embeddings N(0, 0.02), the two residual
projections per block N(0, 0.02 / sqrt(2 n_layer)), biases 0, norm gains 1.

Training follows nanoGPT's recipe and engine/nn/optim.h, engine/nn/train.h:
AdamW (betas (0.9, beta2), eps 1e-8, bias correction, weight decay only on
parameters of two or more dimensions), the global gradient norm clipped to
1.0, the learning rate warmed up linearly (lr * (step + 1) / warmup) and then
decayed along a cosine to min_lr at the last step. Text is encoded as bytes
(256-token vocabulary, token id = byte value, as the extension's byte
tokenizer does); the first 90% trains, the last 10% validates. A batch is B
windows of block_size + 1 consecutive tokens at uniformly random starts. The
loss estimates are the mean over --eval-iters (20) random batches of a split,
at the end and every --eval-every steps.

Timing: each optimizer step (batch sampling, forward, backward, clipping,
AdamW) is timed alone; ms_per_step is the median of the steps after the first
--timing-warmup (10); evaluations are not timed. tokens_per_s = B * T / that
median; wall_s is the whole training loop, evaluations included.
"""
import argparse
import ctypes
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "tinyshakespeare.txt")

CONFIGS = {
    # nanoGPT's small CPU run of Shakespeare (its README quotes val ~1.88).
    "recipe": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch=12,
                   lr=1e-3, min_lr=1e-4, warmup=100, steps=2000,
                   weight_decay=0.1, beta2=0.99),
    # A larger model for speed only (a few steps: still in the warm-up).
    "large": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch=16,
                  lr=1e-3, min_lr=1e-4, warmup=100, steps=30,
                  weight_decay=0.1, beta2=0.99),
}
VOCAB = 256


class Block(nn.Module):
    def __init__(self, c, n_head, eps):
        super().__init__()
        self.n_head = n_head
        self.ln1 = nn.LayerNorm(c, eps=eps)
        self.qkv = nn.Linear(c, 3 * c)
        self.attn_proj = nn.Linear(c, c)
        self.ln2 = nn.LayerNorm(c, eps=eps)
        self.fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def attention(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        # [B, T, C] -> [B, NH, T, HS]
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        if hasattr(F, "scaled_dot_product_attention"):  # PyTorch >= 2.0
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
            att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            y = att @ v
        return self.attn_proj(y.transpose(1, 2).reshape(b, t, c))

    def forward(self, x):
        x = x + self.attention(self.ln1(x))
        return x + self.mlp_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, n_layer, n_head, n_embd, block_size, vocab=VOCAB, eps=1e-5):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, eps) for _ in range(n_layer))
        self.lnf = nn.LayerNorm(n_embd, eps=eps)
        std_res = 0.02 / math.sqrt(2 * n_layer)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif name.startswith("blocks.") and ".ln" in name:
                nn.init.ones_(p)
            elif name == "lnf.weight":
                nn.init.ones_(p)
            elif name.endswith("attn_proj.weight") or name.endswith("mlp_proj.weight"):
                nn.init.normal_(p, 0.0, std_res)
            else:  # wte, wpe, qkv.weight, fc.weight
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx, targets):
        t = idx.size(1)
        x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))
        for blk in self.blocks:
            x = blk(x)
        logits = F.linear(self.lnf(x), self.wte.weight)  # the tied head
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def lr_at(step, warmup, total, lr, min_lr):
    """engine/nn/optim.h's llm_lr_schedule (step is 0-based)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= total:
        return min_lr
    ratio = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def blas_info():
    """What torch was built with, and which BLAS library the process loaded
    (Debian's torch calls libblas.so.3, an alternative: OpenBLAS when the
    libopenblas packages are installed) with OpenBLAS's kernel choice."""
    cfg = torch.__config__.show()
    build = {}
    for key in ("BLAS_INFO", "LAPACK_INFO", "USE_MKL", "USE_MKLDNN", "USE_OPENMP"):
        i = cfg.find(key + "=")
        if i >= 0:
            build[key] = cfg[i + len(key) + 1:].split(",")[0].strip()
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                base = os.path.basename(path)
                if any(s in base for s in ("blas", "lapack", "mkl", "dnnl", "gomp", "omp")):
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    info = {"build": build, "loaded": sorted(libs),
            "mkldnn_available": torch.backends.mkldnn.is_available()}
    if hasattr(torch.backends, "cpu") and hasattr(torch.backends.cpu, "get_cpu_capability"):
        info["aten_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    for path in info["loaded"]:
        if "openblas" in os.path.basename(path):
            try:
                lib = ctypes.CDLL(path)
                for fn in ("openblas_get_corename", "openblas_get_config"):
                    f = getattr(lib, fn)
                    f.restype = ctypes.c_char_p
                    info[fn] = f().decode()
                info["openblas_get_num_threads"] = lib.openblas_get_num_threads()
            except (OSError, AttributeError):
                pass
    return info


def openblas_set_threads(k):
    """OpenBLAS (Debian's pthread build) keeps its own thread pool, sized to
    the CPUs, which torch.set_num_threads does not touch: size it to k too,
    unless OPENBLAS_NUM_THREADS says otherwise. Returns whether it did."""
    if os.environ.get("OPENBLAS_NUM_THREADS"):
        return False
    with open("/proc/self/maps") as f:
        paths = {l.split()[-1] for l in f if "libopenblas" in l}
    for path in paths:
        try:
            ctypes.CDLL(path).openblas_set_num_threads(k)
            return True
        except (OSError, AttributeError):
            pass
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="recipe")
    ap.add_argument("--steps", type=int, help="optimizer steps (also the end of the LR schedule)")
    ap.add_argument("--batch", type=int, help="batch size B")
    ap.add_argument("--threads", type=int,
                    help="torch.set_num_threads, and OpenBLAS's threads unless OPENBLAS_NUM_THREADS "
                         "is set (default: the libraries' own choices)")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--eval-every", type=int, default=0, help="also estimate the losses every N steps")
    ap.add_argument("--eval-iters", type=int, default=20,
                    help="batches per loss estimate (0: no estimate, for speed runs)")
    ap.add_argument("--timing-warmup", type=int, default=10,
                    help="first steps left out of the median step time")
    ap.add_argument("--json", action="store_true", help="print one JSON line of results at the end")
    args = ap.parse_args()
    cfg = dict(CONFIGS[args.config])
    if args.steps is not None:
        cfg["steps"] = args.steps
    if args.batch is not None:
        cfg["batch"] = args.batch
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        openblas_set_threads(args.threads)
    torch.manual_seed(args.seed)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else \
        (lambda *a: print(*a, flush=True))

    with open(DATA, "rb") as f:
        data = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).long()
    n_train = int(0.9 * len(data))
    splits = {"train": data[:n_train], "val": data[n_train:]}
    B, T, steps = cfg["batch"], cfg["block_size"], cfg["steps"]
    gen = torch.Generator().manual_seed(args.seed + 1)
    offsets = torch.arange(T + 1)

    def batch(split):
        d = splits[split]
        starts = torch.randint(len(d) - T, (B,), generator=gen)
        w = d[starts[:, None] + offsets]  # [B, T + 1]
        return w[:, :-1], w[:, 1:]

    @torch.no_grad()
    def estimate():
        out = {}
        for split in ("train", "val"):
            out[split] = sum(model(*batch(split)).item() for _ in range(args.eval_iters)) / args.eval_iters
        return out

    model = GPT(cfg["n_layer"], cfg["n_head"], cfg["n_embd"], T)
    L, C = cfg["n_layer"], cfg["n_embd"]
    n_params = sum(p.numel() for p in model.parameters())
    n_embed = model.wte.weight.numel() + model.wpe.weight.numel()
    n_nonemb = n_params - n_embed
    # Training FLOPs per token: 6 N (forward 2 N: a multiply-add per weight; backward 4 N)
    # over the N non-embedding parameters, plus causal attention: per layer
    # QK^T and AV cost 2 T C each forward over the full T x T square, so
    # about half that (2 T C) under the causal mask, times 3 with the
    # backward: 6 L T C. The tied head's matmul (6 V C) is not included in
    # "gflops" (it is in "gflops_with_head").
    #   GFLOP/s = (6 N_nonembedding + 6 L T C) * tokens_per_s / 1e9
    flops_tok = 6 * n_nonemb + 6 * L * T * C
    flops_tok_head = flops_tok + 6 * VOCAB * C

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg["lr"], betas=(0.9, cfg["beta2"]), eps=1e-8)

    binfo = blas_info()
    log(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    log(f"blas: {json.dumps(binfo)}")
    log(torch.__config__.parallel_info().strip())
    log(f"config {args.config}: L={L} NH={cfg['n_head']} C={C} T={T} B={B} steps={steps}; "
        f"{n_params:,} parameters ({n_nonemb:,} non-embedding); "
        f"{len(splits['train']):,} train / {len(splits['val']):,} val tokens")

    times, losses, evals = [], [], []
    t_start = time.perf_counter()
    for step in range(steps):
        lr = lr_at(step, cfg["warmup"], steps, cfg["lr"], cfg["min_lr"])
        for g in opt.param_groups:
            g["lr"] = lr
        t0 = time.perf_counter()
        x, y = batch("train")
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        lv = loss.item()
        times.append(time.perf_counter() - t0)
        losses.append(lv)
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step:5d} loss {lv:.4f} lr {lr:.2e} norm {norm.item():.3f} "
                f"{times[-1] * 1e3:7.1f} ms")
        if args.eval_iters and args.eval_every and step > 0 and step % args.eval_every == 0 and step != steps - 1:
            e = estimate()
            evals.append({"step": step, **e})
            log(f"eval step {step}: train {e['train']:.4f} val {e['val']:.4f}")
    wall = time.perf_counter() - t_start
    final = {"train": None, "val": None}
    if args.eval_iters:
        final = estimate()
        evals.append({"step": steps, **final})
        log(f"final: train {final['train']:.4f} val {final['val']:.4f}")

    timed = times[args.timing_warmup:] if len(times) > args.timing_warmup else times[-1:]
    ms = statistics.median(timed) * 1e3
    tps = B * T / (ms / 1e3)
    res = {
        "config": args.config, "steps": steps, "batch": B, "block_size": T,
        "n_layer": L, "n_head": cfg["n_head"], "n_embd": C,
        "params": n_params, "params_nonembedding": n_nonemb,
        "threads": torch.get_num_threads(), "seed": args.seed,
        "timed_steps": len(timed),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "torch": torch.__version__,
        "blas": binfo.get("build", {}).get("BLAS_INFO"),
        "openblas_core": binfo.get("openblas_get_corename"),
        "openblas_threads": binfo.get("openblas_get_num_threads"),
        "ms_per_step": round(ms, 3), "tokens_per_s": round(tps, 1),
        "gflops": round(flops_tok * tps / 1e9, 3),
        "gflops_with_head": round(flops_tok_head * tps / 1e9, 3),
        "wall_s": round(wall, 2),
        "last_batch_loss": round(losses[-1], 4),
        "train_loss": final["train"] and round(final["train"], 4),
        "val_loss": final["val"] and round(final["val"], 4),
        "eval_iters": args.eval_iters,
        "evals": evals,
    }
    log(f"{ms:.2f} ms/step (median of {len(timed)}), {tps:,.0f} tokens/s, "
        f"{res['gflops']:.2f} GFLOP/s; wall {wall:.1f} s for {steps} steps")
    if args.json:
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
