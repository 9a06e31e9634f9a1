#!/bin/sh
# run.sh BUILD_DIR: runs every benchmark. Each prints its figures and their
# ratio to a reference measured in the same run (the machines are shared and
# noisy, so only such ratios compare across runs).
set -e
build=${1:-build}
data=../shared/data
[ -f "$data/tinyshakespeare.txt" ] || { echo "bench: $data/tinyshakespeare.txt is missing" >&2; exit 1; }
echo "== pre-tokenization (engine)"
"$build/bench_pretok_bench" "$data/tinyshakespeare.txt"
echo "== BPE training (engine)"
"$build/bench_bpe_train_bench" "$data/tinyshakespeare.txt"
echo "== training step, forward + backward + AdamW (engine; OpenBLAS kernels as loaded)"
"$build/bench_train_step_bench" recipe
echo "== inference: decode, prefill, memory bandwidth (engine)"
"$build/bench_infer_bench"
echo "== GPT-2 encoding through SQL vs JavaScript tokenizers"
/usr/bin/python3 bench/tokenize_bench.py ./llm.so
echo "== tokenizers of real models through SQL vs the Hugging Face library"
/usr/bin/python3 bench/hf_tokenize_bench.py ./llm.so
echo "== embeddings and generation through SQL vs PyTorch"
/usr/bin/python3 bench/embed_bench.py ./llm.so
