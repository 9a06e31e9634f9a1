"""hf_texts.py: seeded random texts for checking tokenizers against the
Hugging Face tokenizers library: random Unicode from every script, mixed
scripts, whitespace and newline runs, digits of every length, code, emoji
and ZWJ sequences, combining marks, contractions.

Code points are drawn only among those assigned by Unicode 9.0 (from
DerivedAge.txt, Debian's unicode-data package), and not among those whose
properties the Rust library's own older tables see otherwise than ours
(Unicode 17): the list tests/oracle/hf_oracle.js keeps (EXCLUDED, found by
probing the library, tests/oracle/hf_probe.js). So no text depends on which
Unicode version an implementation's tables come from. Surrogates and
noncharacters are never drawn.
"""
import json
import os
import random
import re

AGE_FILE = "/usr/share/unicode/DerivedAge.txt"
MAX_AGE = (9, 0)
EXCLUDED_FROM = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "oracle", "hf_oracle.js")
BLOCK_FILE = "/usr/share/unicode/Blocks.txt"

_pools = None


def _ranges(path, parse):
    assert os.path.isfile(path), f"{path} is missing: install Debian's unicode-data (tools/deps.sh test does)"
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            cps, value = [x.strip() for x in line.split(";")[:2]]
            lo, _, hi = cps.partition("..")
            out.append((int(lo, 16), int(hi or lo, 16), parse(value)))
    return out


def excluded():
    """The code points of hf_oracle.js's EXCLUDED list of [lo, hi] ranges."""
    with open(EXCLUDED_FROM, encoding="utf-8") as f:
        src = f.read()
    block = re.search(r"const EXCLUDED = \[(.*?)\];", src, re.S)
    assert block, f"{EXCLUDED_FROM} has no EXCLUDED list"
    out = set()
    for lo, hi in re.findall(r"\[0x([0-9A-Fa-f]+), 0x([0-9A-Fa-f]+)\]", block.group(1)):
        out.update(range(int(lo, 16), int(hi, 16) + 1))
    assert len(out) > 100, "the EXCLUDED list did not parse"
    return out


def pools():
    """{block name: [code points assigned by Unicode 9.0, not excluded]}, for
    blocks with any."""
    global _pools
    if _pools is None:
        old = set()
        for lo, hi, age in _ranges(AGE_FILE, lambda v: tuple(int(x) for x in v.split("."))):
            if age <= MAX_AGE:
                old.update(range(lo, hi + 1))
        old -= excluded()
        _pools = {}
        for lo, hi, name in _ranges(BLOCK_FILE, str):
            if "Surrogate" in name or "Private Use" in name:
                continue
            cps = [c for c in range(lo, hi + 1) if c in old and (c & 0xFFFE) != 0xFFFE
                   and not 0xFDD0 <= c <= 0xFDEF]
            if cps:
                _pools[name] = cps
    return _pools


WHITESPACE = [" ", "  ", "\t", "\n", "\n\n", "\r\n", "   \n", "\u00a0", "\u3000", "\u2009", " \t ", "\n \n"]
EMOJI = ["\U0001F600", "\U0001F602", "\U0001F44D", "\U0001F3FD", "\u2764\ufe0f", "\U0001F468\u200d\U0001F469\u200d\U0001F467",
         "\U0001F469\U0001F3FE\u200d\U0001F4BB", "\U0001F3F3\ufe0f\u200d\U0001F308", "\U0001F1EF\U0001F1F5", "\u263a\ufe0f",
         "\U0001F926\U0001F3FB\u200d\u2642\ufe0f", "\U0001F914"]
CODE = ["def f(x):\n    return x * 2\n", "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}", "SELECT id, name FROM t WHERE x >= 10;",
        "if x!=y: print(f'{x}')", "<div class=\"a\">&amp;</div>", "a_b = c->d[3] % 7 // 2", "#include <stdio.h>", "\"\"\"doc\"\"\""]
WORDS = ["the", "The", "don't", "I'm", "we'll", "THEY'RE", "it's", "you've", "He'd", "naïve", "café", "Zürich", "東京",
         "Москва", "Αθήνα", "مرحبا", "שלום", "नमस्ते", "ภาษาไทย", "한국어", "日本語です", "ḍ̇", "e\u0301", "A\u030a\u0323"]


def _chars(rng, block=None, n=None):
    p = pools()
    names = list(p)
    block = block or rng.choice(names)
    n = n or rng.randint(1, 12)
    return "".join(chr(rng.choice(p[block])) for _ in range(n))


def _digits(rng):
    return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 30)))


def text(rng):
    """One random text: a mix of the kinds of pieces above."""
    parts = []
    for _ in range(rng.randint(1, 8)):
        k = rng.random()
        if k < 0.25:
            parts.append(_chars(rng))
        elif k < 0.4:
            parts.append(rng.choice(WORDS))
        elif k < 0.5:
            parts.append(_digits(rng))
        elif k < 0.6:
            parts.append(rng.choice(EMOJI))
        elif k < 0.7:
            parts.append(rng.choice(CODE))
        elif k < 0.8:
            parts.append("".join(rng.choice(WHITESPACE) for _ in range(rng.randint(1, 4))))
        elif k < 0.9:
            parts.append(_chars(rng, "Combining Diacritical Marks", rng.randint(1, 3)))
        else:
            parts.append(rng.choice("'\".,;:!?()[]{}-_/\\@#$%^&*+=<>|~`"))
        if rng.random() < 0.6:
            parts.append(rng.choice([" ", " ", "\n", ""]))
    return "".join(parts)


def texts(seed, n):
    rng = random.Random(seed)
    return [text(rng) for _ in range(n)]


def bge_tokenizer_json(db, shared, path):
    """BGE's WordPiece vocabulary (../shared/data/gguf/vocab's GGUF file,
    imported through db) written as a BERT tokenizer.json at path: what the
    model's own repository has (BertNormalizer, BertPreTokenizer, WordPiece,
    BertProcessing), for checking and timing WordPiece against the library."""
    if os.path.exists(path):
        return path
    db.execute("SELECT llm_tokenizer_import('bge_gguf', 'gguf', ?)",
               (os.path.join(shared, "gguf", "vocab", "ggml-vocab-bert-bge.gguf"),)).fetchone()
    vocab = {}
    rows = db.execute("SELECT id, CAST(piece AS TEXT) FROM llm_vocab WHERE tokenizer = 'bge_gguf' ORDER BY id")
    for i, piece in rows:
        # llama.cpp spells word starts "▁word" and continuations "word"
        special = len(piece) > 2 and piece[0] == "[" and piece[-1] == "]"
        text = piece[1:] if piece.startswith("\u2581") else piece if special else "##" + piece
        vocab.setdefault(text, i)
    special = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True} for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")]
    doc = {"version": "1.0", "added_tokens": special,
           "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                          "strip_accents": None, "lowercase": True},
           "pre_tokenizer": {"type": "BertPreTokenizer"},
           "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]},
           "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
           "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                     "max_input_chars_per_word": 100, "vocab": vocab}}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    return path
