"""train_quality.py EXTENSION [--seeds 1337,1,2,3] [--eval-batches 200]: the
issue's quality bar, through SQL, over several seeds.

Trains nanoGPT's CPU recipe (n_layer 4, n_head 4, n_embd 128, block_size
64, batch_size 12, lr 1e-3, min_lr 1e-4, warmup 100, 2000 steps,
weight_decay 0.1, beta2 0.99, grad_clip 1.0, no dropout) on
../shared/data/tinyshakespeare.txt with a 256-token byte tokenizer, the
first 90% for training and the last 10% for validation, once per seed, with
llm_train on a fresh database each time. Prints each seed's validation loss
after the last step (the mean over --eval-batches random validation
windows) and the mean and sample standard deviation over the seeds. About
two minutes a seed on two cores. Run with Debian's /usr/bin/python3.
"""
import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "tinyshakespeare.txt")

MODEL = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, tokenizer="bytes")
RECIPE = dict(steps=2000, batch_size=12, lr=1e-3, min_lr=1e-4, warmup_steps=100, weight_decay=0.1,
              beta2=0.99, grad_clip=1.0, val_fraction=0.1, log_every=2000, eval_every=2000,
              checkpoint_every=10 ** 9, threads=2, progress=False)


def final_val_loss(ext, text, seed, eval_batches):
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "q.db"), isolation_level=None)
        db.enable_load_extension(True)
        db.load_extension(ext)
        db.execute("CREATE TABLE corpus(body TEXT)")
        db.execute("INSERT INTO corpus VALUES (?)", (text,))
        db.execute("SELECT llm_tokenizer_train('bytes', 'SELECT body FROM corpus', 256, '{\"special\": []}')")
        db.execute("SELECT llm_model_create('m', ?)", (json.dumps(dict(MODEL, seed=seed)),))
        opts = dict(RECIPE, seed=seed, eval_batches=eval_batches)
        rows = db.execute("SELECT step, val_loss FROM llm_train('m', 'SELECT body FROM corpus', ?)",
                          (json.dumps(opts),)).fetchall()
        db.close()
    step, val = rows[-1]
    if step != RECIPE["steps"] or val is None:
        sys.exit(f"train_quality: the last row is step {step}, val_loss {val}")
    return val


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ext")
    ap.add_argument("--seeds", default="1337,1,2,3")
    ap.add_argument("--eval-batches", type=int, default=200)
    args = ap.parse_args()
    if not os.path.exists(DATA):
        sys.exit(f"train_quality: {DATA} is missing")
    with open(DATA, encoding="utf-8") as f:
        text = f.read()
    losses = []
    for seed in (int(s) for s in args.seeds.split(",")):
        v = final_val_loss(os.path.abspath(args.ext), text, seed, args.eval_batches)
        losses.append(v)
        print(f"seed {seed}: val_loss {v:.4f}", flush=True)
    sd = statistics.stdev(losses) if len(losses) > 1 else float("nan")
    print(f"mean {statistics.mean(losses):.4f}, sd {sd:.4f} over {len(losses)} seeds "
          f"(eval_batches {args.eval_batches})")


if __name__ == "__main__":
    main()
