#!/bin/sh
# record.sh: records every JSON file of tests/data/llamacpp/ with llama.cpp
# (see SOURCE.md there for what each holds). Builds llamacpp_ref.c into a
# temporary directory, writes the tiny models with tests/models/make_models.py
# (which checks their hashes), then runs the tool for each model.
# Not run in CI. Run from anywhere: sh tools/llamacpp_ref/record.sh
# LLAMA=/path/to/llama.cpp (built, see its BUILD_COMMANDS) overrides /work/llamacpp.
set -eu
LLAMA=${LLAMA:-/work/llamacpp}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ref=$tmp/llamacpp_ref
gcc -std=c11 -O2 -Wall -Wextra -I"$LLAMA/include" -I"$LLAMA/ggml/include" -o "$ref" \
  tools/llamacpp_ref/llamacpp_ref.c -L"$LLAMA/build/bin" -Wl,-rpath,"$LLAMA/build/bin" \
  -lllama -lggml -lggml-base -lm
/usr/bin/python3 tests/models/make_models.py "$tmp/models"
out=tests/data/llamacpp
gguf=../shared/data/gguf
mkdir -p "$out"

# decoders: greedy after a fixed prompt, and the score of tests/models/score_text.txt
for arch in llama qwen2 qwen3 gemma3; do
  m=$tmp/models/tiny-$arch.gguf
  {
    printf '{"model": "tiny-%s.gguf", "score_text": "tests/models/score_text.txt",\n"greedy": ' "$arch"
    "$ref" greedy "$m" "Once upon a time there was a little" 24
    printf ',\n"score": '
    "$ref" score "$m" tests/models/score_text.txt
    printf '}\n'
  } > "$out/tiny-$arch.json"
done

# encoders: the mean-pooled embedding of three sentences
for arch in bert nomic-bert; do
  m=$tmp/models/tiny-$arch.gguf
  {
    printf '{"model": "tiny-%s.gguf",\n"embed": [' "$arch"
    "$ref" embed "$m" "The cat sat on the mat."
    printf ','
    "$ref" embed "$m" "A quick brown fox jumps over the lazy dog!"
    printf ','
    "$ref" embed "$m" "Once upon a time, there was a little girl."
    printf ']}\n'
  } > "$out/tiny-$arch.json"
done

{
  printf '{"model": "%s/stories260K-f32.gguf", "score_text": "tests/models/story_text.txt",\n"greedy": ' "$gguf"
  "$ref" greedy "$gguf/stories260K-f32.gguf" "Once upon a time" 40
  printf ',\n"score": '
  "$ref" score "$gguf/stories260K-f32.gguf" tests/models/story_text.txt
  printf '}\n'
} > "$out/stories260K-f32.json"

# the held-out tail of tinyshakespeare.txt: 1500 bytes from 2000 before its end, in
# 9 windows of 160 bytes (each about 100 tokens: within the models' context of 128)
text=../shared/data/tinyshakespeare.txt
offset=$(($(wc -c < "$text") - 2000))
for type in F32 F16 Q8_0 Q4_0 Q4_K_M Q6_K; do
  m=$gguf/shakespeare-4L-$type.gguf
  {
    printf '{"model": "%s", "score_text": "%s",\n"greedy": ' "$m" "$text"
    "$ref" greedy "$m" "ROMEO:" 32
    printf ',\n"scores": ['
    for k in 0 1 2 3 4 5 6 7 8; do
      [ $k -gt 0 ] && printf ',\n'
      "$ref" score "$m" "$text" $((offset + 160 * k)) 160
    done
    printf ']}\n'
  } > "$out/shakespeare-$type.json"
done

# models made in SQL, written by llm_export(..., 'gguf') (needs ./llm.so: make)
/usr/bin/python3 tests/models/make_exports.py ./llm.so "$tmp/exports"
for m in llama gpt2; do
  f=$tmp/exports/export-$m.gguf
  {
    printf '{"model": "export-%s.gguf", "sha256": "%s", "score_text": "tests/models/story_text.txt",\n"greedy": ' \
      "$m" "$(sha256sum "$f" | cut -d' ' -f1)"
    "$ref" greedy "$f" "Once upon a time" 24
    printf ',\n"score": '
    "$ref" score "$f" tests/models/story_text.txt
    printf '}\n'
  } > "$out/export-$m.json"
done

for f in "$out"/*.json; do
  /usr/bin/python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$f"
done
# the tiny models' records against an independent float64 forward pass
PYTHONPATH="$LLAMA/gguf-py" /usr/bin/python3 tools/llamacpp_ref/check_semantics.py "$tmp/models" "$out"
echo "recorded $(ls "$out"/*.json | wc -l) files in $out"
