"""train_bench.py EXTENSION [--configs A,B] [--rounds N]: training speed of
the extension against PyTorch, in one script.

For each configuration it trains the same GPT (bench/torch_ref.py defines
the PyTorch twin of engine/nn/model.h) on Tiny Shakespeare as bytes, first
with llm_train through SQL, then with torch_ref.py, in N rounds (default
2), and prints the median tokens/s of each, achieved GFLOP/s and the ratio
ours / PyTorch taken round by round (its median, min and max: the shared
machine's speed drifts between rounds). Configurations:

  recipe    nanoGPT's CPU recipe: L=4 NH=4 C=128 T=64 B=12
  large     L=6 NH=6 C=384 T=256 B=16
  large64   the same at B=64

GFLOP/s counts training FLOPs per token as torch_ref.py does:
6 * (non-embedding parameters) + 6 * L * T * C. Each round also measures
the CPU's fp32 peak on both cores (`build/bench_train_step_bench peak 2`,
bench/fma_peak.h: an FMA loop on registers, the ceiling of any fp32 matrix
product; `make bench` builds it) and the "%peak" columns give each side's
GFLOP/s as a share of the highest peak measured.

Both sides' figure is the median over the steps after the same warm-up
(a sixth of the steps): torch_ref.py times every step; llm_train logs
every step on the large configurations, and every 20 on the recipe's
short steps (the median of those 20-step means).

PyTorch runs in its fastest setting measured here: both cores
(torch.set_num_threads(2)), with OMP_WAIT_POLICY=passive so that its OpenMP
threads and OpenBLAS's do not busy-wait against each other (good for every
configuration, unlike a single-threaded OpenBLAS, which loses 15-27% on the
large ones), and, like the extension, OpenBLAS's kernels for this CPU
(bench/cpu_kernels.py: SkylakeX with AVX-512, Haswell with AVX2; or
LLM_BENCH_CORETYPE); run with
--torch-default-kernels to let PyTorch's OpenBLAS pick on its own.

    /usr/bin/python3 bench/train_bench.py ./llm.so
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_kernels import kernels_for_cpu  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "tinyshakespeare.txt")

CONFIGS = {
    "recipe": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch=12, steps=120, log_every=20),
    "large": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch=16, steps=12, log_every=1),
    "large64": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch=64, steps=6, log_every=1),
}


def flops_per_token(cfg):
    L, C, T = cfg["n_layer"], cfg["n_embd"], cfg["block_size"]
    per_layer = 2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + 4 * C * C + 4 * C + 4 * C * C + C
    non_embedding = L * per_layer + 2 * C
    return 6 * non_embedding + 6 * L * T * C


def train_through_sql(ext, model, opts, columns):
    """llm_train's rows (the given columns) for a fresh model (its config
    `model`, on the byte tokenizer) trained on Tiny Shakespeare with `opts`,
    in a new database in a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "bench.db"), isolation_level=None)
        db.enable_load_extension(True)
        db.load_extension(ext)
        with open(DATA, encoding="utf-8") as f:
            db.execute("CREATE TABLE corpus(body TEXT)")
            db.execute("INSERT INTO corpus VALUES (?)", (f.read(),))
        db.execute("SELECT llm_tokenizer_train('bytes', 'SELECT body FROM corpus', 256, '{\"special\": []}')")
        db.execute("SELECT llm_model_create('m', ?)", (json.dumps(dict(model, tokenizer="bytes")),))
        rows = db.execute(f"SELECT {columns} FROM llm_train('m', 'SELECT body FROM corpus', ?)",
                          (json.dumps(opts),)).fetchall()
        db.close()
    return rows


def warmup_steps(cfg):
    """Steps left out of both sides' timing."""
    return max(1, cfg["steps"] // 6)


def run_ours(ext, cfg):
    """Median tokens/s of llm_train's rows after the warm-up steps: with
    log_every 1 (the large configurations) the median step, as torch_ref.py
    takes it."""
    model = {k: cfg[k] for k in ("n_layer", "n_head", "n_embd", "block_size")}
    opts = dict(steps=cfg["steps"], batch_size=cfg["batch"], log_every=cfg["log_every"], eval_every=0,
                checkpoint_every=10 ** 9, threads=2, progress=False)
    rows = train_through_sql(ext, model, opts, "step, tokens_per_s")
    return statistics.median(tps for step, tps in rows if step > warmup_steps(cfg))


def measure_peak():
    """The two cores' fp32 peak in GFLOP/s, from bench/fma_peak.h."""
    exe = os.path.join(ROOT, "build", "bench_train_step_bench")
    if not os.path.exists(exe):
        sys.exit(f"train_bench: {exe} is missing: run `make bench` first")
    out = subprocess.run([exe, "peak", "2"], capture_output=True, text=True, check=True).stdout
    return float(out.split()[1])


def run_torch(cfg_name, cfg, default_kernels):
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    if not default_kernels:
        ext_kernels = os.environ.get("LLM_BENCH_CORETYPE") or kernels_for_cpu()
        if ext_kernels:
            env["OPENBLAS_CORETYPE"] = ext_kernels
    cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "torch_ref.py"), "--config",
           "large" if cfg_name.startswith("large") else "recipe", "--batch", str(cfg["batch"]),
           "--steps", str(cfg["steps"]), "--threads", "2", "--eval-iters", "0", "--json",
           "--timing-warmup", str(warmup_steps(cfg))]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["tokens_per_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ext")
    ap.add_argument("--configs", default="recipe,large,large64")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--torch-default-kernels", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(DATA):
        sys.exit(f"train_bench: {DATA} is missing")
    db = sqlite3.connect(":memory:")
    db.enable_load_extension(True)
    db.load_extension(os.path.abspath(args.ext))
    print("extension:", db.execute("SELECT llm_version()").fetchone()[0])
    db.close()
    print(f"{'config':8} {'ours tok/s':>11} {'torch tok/s':>11} {'ours GFLOP/s':>12} {'torch GFLOP/s':>13} "
          f"{'ratio':>6} {'min':>5} {'max':>5} {'peak':>6} {'ours%peak':>9} {'torch%peak':>10}")
    for name in args.configs.split(","):
        cfg = CONFIGS[name]
        ours, theirs, peaks = [], [], []
        for _ in range(args.rounds):
            peaks.append(measure_peak())
            ours.append(run_ours(os.path.abspath(args.ext), cfg))
            theirs.append(run_torch(name, cfg, args.torch_default_kernels))
        # the machine's speed drifts: the ratio is taken round by round
        ratios = [a / b for a, b in zip(ours, theirs)]
        # other load only ever lowers a measured peak: the highest is the truest
        o, t, peak = statistics.median(ours), statistics.median(theirs), max(peaks)
        f = flops_per_token(cfg)
        print(f"{name:8} {o:11.0f} {t:11.0f} {o * f / 1e9:12.1f} {t * f / 1e9:13.1f} "
              f"{statistics.median(ratios):6.2f} {min(ratios):5.2f} {max(ratios):5.2f} "
              f"{peak:6.1f} {100 * o * f / 1e9 / peak:8.1f}% {100 * t * f / 1e9 / peak:9.1f}%", flush=True)


if __name__ == "__main__":
    main()
