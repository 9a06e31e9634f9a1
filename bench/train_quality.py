"""train_quality.py EXTENSION [--seeds 1337,1,2,3] [--eval-batches 2000]: the
issue's quality bar, through SQL, over several seeds.

Trains nanoGPT's CPU recipe (n_layer 4, n_head 4, n_embd 128, block_size
64, batch_size 12, lr 1e-3, min_lr 1e-4, warmup 100, 2000 steps,
weight_decay 0.1, beta2 0.99, grad_clip 1.0, no dropout) on
../shared/data/tinyshakespeare.txt with a 256-token byte tokenizer, the
first 90% for training and the last 10% for validation, once per seed, with
llm_train on a fresh database each time. Prints each seed's validation loss
after the last step (the mean over --eval-batches random validation
batches of 12 windows) and the mean and sample standard deviation over the seeds. About
two minutes a seed on two cores. Run with Debian's /usr/bin/python3.
"""
import argparse
import os
import statistics
import sys

from train_bench import DATA, train_through_sql

MODEL = dict(n_layer=4, n_head=4, n_embd=128, block_size=64)
RECIPE = dict(steps=2000, batch_size=12, lr=1e-3, min_lr=1e-4, warmup_steps=100, weight_decay=0.1,
              beta2=0.99, grad_clip=1.0, val_fraction=0.1, log_every=2000, eval_every=2000,
              checkpoint_every=10 ** 9, threads=2, progress=False)


def final_val_loss(ext, seed, eval_batches):
    opts = dict(RECIPE, seed=seed, eval_batches=eval_batches)
    step, val = train_through_sql(ext, dict(MODEL, seed=seed), opts, "step, val_loss")[-1]
    if step != RECIPE["steps"] or val is None:
        sys.exit(f"train_quality: the last row is step {step}, val_loss {val}")
    return val


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ext")
    ap.add_argument("--seeds", default="1337,1,2,3")
    ap.add_argument("--eval-batches", type=int, default=2000)
    args = ap.parse_args()
    if not os.path.exists(DATA):
        sys.exit(f"train_quality: {DATA} is missing")
    losses = []
    for seed in (int(s) for s in args.seeds.split(",")):
        v = final_val_loss(os.path.abspath(args.ext), seed, args.eval_batches)
        losses.append(v)
        print(f"seed {seed}: val_loss {v:.4f}", flush=True)
    sd = statistics.stdev(losses) if len(losses) > 1 else float("nan")
    print(f"mean {statistics.mean(losses):.4f}, sd {sd:.4f} over {len(losses)} seeds "
          f"(eval_batches {args.eval_batches})")


if __name__ == "__main__":
    main()
