"""make_exports.py EXTENSION OUT_DIR: writes two models made in SQL as GGUF
files with llm_export(..., 'gguf'): export-llama.gguf (llama2.c's
stories260K imported, the Llama block) and export-gpt2.gguf (a GPT block
created with seed 7 and GPT-2's tokenizer). llama.cpp's outputs on exactly
these files are recorded in tests/data/llamacpp/export-*.json (with the
files' sha256), and tests/sql/test_gguf_export.py checks that today's
exports are the same bytes and that ours match llama.cpp's outputs.

Run: /usr/bin/python3 tests/models/make_exports.py ./llm.so build/exports
(needs ../shared/data beside the repository)."""
import os
import sqlite3
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")

GPT = '{"tokenizer": "gpt2", "n_layer": 2, "n_head": 4, "n_embd": 64, "block_size": 64, "seed": 7}'


def make_exports(ext, out_dir, db=None):
    """Writes the two files into out_dir with a connection (db, or a fresh
    in-memory one with ext loaded); returns their paths."""
    if db is None:
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.enable_load_extension(True)
        db.load_extension(os.path.abspath(ext))
    os.makedirs(out_dir, exist_ok=True)
    llama2c = os.path.join(SHARED, "llama2c")
    gpt2 = os.path.join(SHARED, "gpt2")
    db.execute("SELECT llm_import('export-llama', 'llama2c', ?, ?)",
               (os.path.join(llama2c, "stories260K.bin"), os.path.join(llama2c, "tok512.bin")))
    db.execute("SELECT llm_tokenizer_import('gpt2', 'gpt2', ?, ?)",
               (os.path.join(gpt2, "encoder.json"), os.path.join(gpt2, "vocab.bpe")))
    db.execute("SELECT llm_model_create('export-gpt2', ?)", (GPT,))
    paths = {}
    for name in ("export-llama", "export-gpt2"):
        paths[name] = os.path.join(out_dir, name + ".gguf")
        db.execute("SELECT llm_export(?, 'gguf', ?)", (name, paths[name]))
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_exports.py EXTENSION OUT_DIR")
    for p in make_exports(sys.argv[1], sys.argv[2]).values():
        print(p)
