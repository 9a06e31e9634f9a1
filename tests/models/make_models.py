"""make_models.py OUT_DIR: writes the tiny random-weight GGUF models of
tiny_models.py into OUT_DIR (tiny-llama.gguf, tiny-qwen2.gguf, ...) with
tests/sql/gguf_writer.py, and checks each file's sha256 against
tests/models/models.json, the hashes of the same models written by llama.cpp's
gguf-py when the references in tests/data/llamacpp were recorded.

Prints "ok make_models", or "FAIL make_models" and the files that differ
(then exits non-zero) when any hash differs or is not recorded: the recorded
llama.cpp outputs are only valid for exactly those bytes.

Run: /usr/bin/python3 tests/models/make_models.py build/models
"""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sql"))

from gguf_writer import gguf_bytes  # noqa: E402
from tiny_models import models  # noqa: E402

F32 = 0  # ggml type


def model_bytes(model):
    return gguf_bytes(model.kvs, [(name, dims, F32, data) for name, dims, data in model.tensors])


def main(argv):
    if len(argv) != 2:
        print("usage: make_models.py OUT_DIR", file=sys.stderr)
        return 2
    out_dir = argv[1]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(HERE, "models.json"), encoding="utf-8") as f:
        recorded = json.load(f)["sha256"]
    bad, written = [], models()
    for model in written:
        data = model_bytes(model)
        with open(os.path.join(out_dir, model.file), "wb") as f:
            f.write(data)
        digest = hashlib.sha256(data).hexdigest()
        if recorded.get(model.file) != digest:
            bad.append("%s: sha256 %s, recorded %s" % (model.file, digest, recorded.get(model.file)))
    bad += ["%s: recorded, but not defined in tiny_models.py" % name
            for name in sorted(set(recorded) - {m.file for m in written})]
    if bad:
        print("FAIL make_models: these models differ from the ones llama.cpp's references were "
              "recorded with (tests/models/models.json):")
        for line in bad:
            print("  " + line)
        return 1
    print("ok make_models (%d models in %s, as recorded)" % (len(written), out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
