"""record_quantize.py LLAMA_QUANTIZE OUT.json: quantizes the Shakespeare
model's float32 file (../shared/data/gguf/shakespeare-4L-F32.gguf) with
llama.cpp's llama-quantize into every type llm_quantize makes, and records
per type the ggml type and sha256 of every tensor of the result
(tests/sql/test_quantize.py checks that llm_quantize gives the same bytes).
Presets: our q4_0, q4_1, q5_0, q5_1, q8_0, q6_k, q4_k_m, q5_k_m, f16, bf16
are llama-quantize's types of those names; our pure k-quants ({"pure":
true}) are its --pure Q2_K, Q3_K_S, Q4_K_S, Q5_K_S (the base types of
those mixes). Not run in CI (needs llama.cpp); see SOURCE.md."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "sql"))
from gguf_reader import read_gguf  # noqa: E402

SOURCE = os.path.join(os.path.dirname(ROOT), "shared", "data", "gguf", "shakespeare-4L-F32.gguf")
# ours -> (llama-quantize preset, --pure)
TYPES = {"q4_0": ("Q4_0", False), "q4_1": ("Q4_1", False), "q5_0": ("Q5_0", False), "q5_1": ("Q5_1", False),
         "q8_0": ("Q8_0", False), "q6_k": ("Q6_K", False), "q4_k_m": ("Q4_K_M", False),
         "q5_k_m": ("Q5_K_M", False), "f16": ("F16", False), "bf16": ("BF16", False),
         "q2_k": ("Q2_K", True), "q3_k": ("Q3_K_S", True), "q4_k": ("Q4_K_S", True), "q5_k": ("Q5_K_S", True)}


def main(quantize, out):
    rec = {"source": "../shared/data/gguf/shakespeare-4L-F32.gguf", "types": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for ours, (preset, pure) in TYPES.items():
            path = os.path.join(tmp, ours + ".gguf")
            cmd = [quantize] + (["--pure"] if pure else []) + [SOURCE, path, preset]
            subprocess.run(cmd, check=True, capture_output=True)
            tensors = read_gguf(path)[1]
            rec["types"][ours] = {"command": "llama-quantize %s%s %s" % ("--pure " if pure else "", "SOURCE OUT", preset),
                                  "tensors": {n: [ty, hashlib.sha256(d).hexdigest()] for n, (_, ty, d) in
                                              sorted(tensors.items())}}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(rec, f, indent=0, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
