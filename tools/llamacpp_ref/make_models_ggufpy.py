"""make_models_ggufpy.py OUT_DIR [--record]: writes the tiny models of
tests/models/tiny_models.py with llama.cpp's own GGUF writer (gguf-py's
GGUFWriter) into OUT_DIR, and checks that each file is byte-identical to what
our tests/sql/gguf_writer.py makes of the same definitions. With --record (and
only when all are identical) it stores the gguf-py files' sha256 in
tests/models/models.json, which tests/models/make_models.py checks against.

Metadata goes through GGUFWriter's typed methods (add_context_length,
add_token_list, ...), so a key written with another type than llama.cpp's
converters use would change the bytes and be caught here.

Not run in CI (it needs gguf-py and numpy):
  PYTHONPATH=/work/llamacpp/gguf-py /usr/bin/python3 \\
      tools/llamacpp_ref/make_models_ggufpy.py /tmp/models-ggufpy --record
"""
import hashlib
import json
import os
import sys

import numpy as np
import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS_DIR = os.path.join(ROOT, "tests", "models")
sys.path.insert(0, MODELS_DIR)

from make_models import model_bytes  # noqa: E402
from tiny_models import models  # noqa: E402

# GGUFWriter's typed method for each key ("{arch}" stands for the arch name).
TYPED = {
    "general.name": "add_name",
    "general.file_type": "add_file_type",
    "{arch}.context_length": "add_context_length",
    "{arch}.embedding_length": "add_embedding_length",
    "{arch}.block_count": "add_block_count",
    "{arch}.feed_forward_length": "add_feed_forward_length",
    "{arch}.attention.head_count": "add_head_count",
    "{arch}.attention.head_count_kv": "add_head_count_kv",
    "{arch}.attention.key_length": "add_key_length",
    "{arch}.attention.value_length": "add_value_length",
    "{arch}.attention.layer_norm_rms_epsilon": "add_layer_norm_rms_eps",
    "{arch}.attention.layer_norm_epsilon": "add_layer_norm_eps",
    "{arch}.attention.causal": "add_causal_attention",
    "{arch}.attention.sliding_window": "add_sliding_window",
    "{arch}.rope.freq_base": "add_rope_freq_base",
    "{arch}.rope.freq_base_swa": "add_rope_freq_base_swa",
    "{arch}.rope.dimension_count": "add_rope_dimension_count",
    "{arch}.pooling_type": lambda w, v: w.add_pooling_type(gguf.PoolingType(v)),
    "tokenizer.ggml.model": "add_tokenizer_model",
    "tokenizer.ggml.pre": "add_tokenizer_pre",
    "tokenizer.ggml.tokens": "add_token_list",
    "tokenizer.ggml.scores": "add_token_scores",
    "tokenizer.ggml.token_type": "add_token_types",
    "tokenizer.ggml.token_type_count": "add_token_type_count",
    "tokenizer.ggml.bos_token_id": "add_bos_token_id",
    "tokenizer.ggml.eos_token_id": "add_eos_token_id",
    "tokenizer.ggml.unknown_token_id": "add_unk_token_id",
    "tokenizer.ggml.seperator_token_id": "add_sep_token_id",
    "tokenizer.ggml.padding_token_id": "add_pad_token_id",
    "tokenizer.ggml.mask_token_id": "add_mask_token_id",
    "tokenizer.ggml.add_bos_token": "add_add_bos_token",
    "tokenizer.ggml.add_eos_token": "add_add_eos_token",
}


def write_with_ggufpy(model, path):
    w = gguf.GGUFWriter(path, model.arch)  # writes general.architecture itself
    assert model.kvs[0] == ("general.architecture", "str", model.arch)
    for key, _, value in model.kvs[1:]:
        generic = "{arch}" + key[len(model.arch):] if key.startswith(model.arch + ".") else key
        if generic not in TYPED:
            raise KeyError("no GGUFWriter method known for %s" % key)
        method = TYPED[generic]
        if callable(method):
            method(w, value)
        else:
            getattr(w, method)(value)
    for name, dims, data in model.tensors:
        w.add_tensor(name, np.frombuffer(data, dtype="<f4").reshape(tuple(reversed(dims))))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(argv):
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--record"):
        print("usage: make_models_ggufpy.py OUT_DIR [--record]", file=sys.stderr)
        return 2
    out_dir = argv[1]
    os.makedirs(out_dir, exist_ok=True)
    hashes, same = {}, True
    for model in models():
        path = os.path.join(out_dir, model.file)
        write_with_ggufpy(model, path)
        theirs = sha256_file(path)
        ours = hashlib.sha256(model_bytes(model)).hexdigest()
        hashes[model.file] = theirs
        same = same and theirs == ours
        print("%-22s gguf-py %s  ours %s  %s" % (model.file, theirs, ours,
                                                 "same" if theirs == ours else "DIFFERENT"))
    if not same:
        print("the writers differ: nothing recorded", file=sys.stderr)
        return 1
    if len(argv) == 3:
        with open(os.path.join(MODELS_DIR, "models.json"), "w", encoding="utf-8") as f:
            json.dump({"writer": "gguf-py (llama.cpp %s)" % llamacpp_commit(), "sha256": hashes},
                      f, indent=1, sort_keys=True)
            f.write("\n")
        print("recorded in tests/models/models.json")
    return 0


def llamacpp_commit():
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(gguf.__file__))), "SOURCE_COMMIT")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return "unknown commit"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
