"""record_quantize.py LLAMA_QUANTIZE OUT.json [LLAMACPP_REF SCORES.json]:
quantizes the Shakespeare model's float32 file
(../shared/data/gguf/shakespeare-4L-F32.gguf) with llama.cpp's
llama-quantize into every type llm_quantize makes, and records per type the
ggml type and sha256 of every tensor of the result
(tests/sql/test_quantize.py checks that llm_quantize gives the same bytes).
With the llamacpp_ref tool (tools/llamacpp_ref/llamacpp_ref.c, built as
SOURCE.md says), SCORES.json gets llama.cpp's teacher-forced scores of each
quantized file on the held-out windows of shakespeare-TYPE.json (9 windows
of 160 bytes from 2000 bytes before the end of tinyshakespeare.txt): per
type the window's offset, length, token count and sum of log-probabilities
(tests/sql/test_quantize.py compares ours on llm_quantize's copies).
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


TEXT = os.path.join(os.path.dirname(ROOT), "shared", "data", "tinyshakespeare.txt")


def scores(ref, path):
    """llama.cpp's score of each held-out window of the file at path."""
    offset = os.path.getsize(TEXT) - 2000
    out = []
    for k in range(9):
        r = subprocess.run([ref, "score", path, TEXT, str(offset + 160 * k), "160"], check=True,
                           capture_output=True, text=True)
        s = json.loads(r.stdout)
        out.append({"byte_offset": offset + 160 * k, "byte_length": 160, "n_tokens": s["n_tokens"],
                    "sum_logprob": s["sum_logprob"]})
    return out


def main(quantize, out, ref=None, scores_out=None):
    rec = {"source": "../shared/data/gguf/shakespeare-4L-F32.gguf", "types": {}}
    srec = {"source": rec["source"], "text": "../shared/data/tinyshakespeare.txt", "types": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for ours, (preset, pure) in TYPES.items():
            path = os.path.join(tmp, ours + ".gguf")
            cmd = [quantize] + (["--pure"] if pure else []) + [SOURCE, path, preset]
            subprocess.run(cmd, check=True, capture_output=True)
            tensors = read_gguf(path)[1]
            rec["types"][ours] = {"command": "llama-quantize %s%s %s" % ("--pure " if pure else "", "SOURCE OUT", preset),
                                  "tensors": {n: [ty, hashlib.sha256(d).hexdigest()] for n, (_, ty, d) in
                                              sorted(tensors.items())}}
            if ref:
                srec["types"][ours] = scores(ref, path)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(rec, f, indent=0, sort_keys=True)
        f.write("\n")
    if ref:
        with open(scores_out, "w", encoding="utf-8") as f:
            json.dump(srec, f, indent=0, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:5])
