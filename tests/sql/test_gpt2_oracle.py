"""GPT-2 tokenization checked against OpenAI's tiktoken (r50k_base).

Generates a few thousand deterministic pseudo-random texts, has
tests/oracle/gpt2_ref.js (tiktoken's WASM build, from npm) encode them all in
one run, and compares llm_tokenize / llm_token_count with its ids exactly.
The oracle needs node and `npm ci` in tests/oracle: without them these tests
fail (they never skip).
"""
import json
import os
import random
import shutil
import subprocess
import tempfile

ORACLE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "oracle")
ORACLE = os.path.join(ORACLE_DIR, "gpt2_ref.js")
SEED = 20240917
N_RANDOM = 3200  # texts from the mixed generators, on top of the fixed ones

# ---- material for the generators ---------------------------------------

CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
APOSTROPHES = ["'", "\u2019", "\u2018", "\u02bc", "`"]
QUOTES = ['"', "\u201c", "\u201d", "\u00ab", "\u00bb", "\u201e", "'", "\u2019"]
WORDS = ["I", "you", "he", "she", "it", "we", "they", "don", "can", "won", "that",
         "there", "who", "what", "Rome", "Caesar", "king", "O", "ne", "th", "o",
         "Marcius", "lady", "a", "ha", "x", "s", "t", "re", "ll", "IT", "WE", "Y"]
# Every White_Space code point, plus some that are not (U+FEFF, U+200B,
# U+180E, U+2060) but look like it.
WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\r", "\x0b", "\x0c", "\x85", "\xa0",
              "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005",
              "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028", "\u2029",
              "\u202f", "\u205f", "\u3000"]
NOT_WHITESPACE = ["\ufeff", "\u200b", "\u180e", "\u2060", "\u200c", "\u200d"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + [
    "\u2014", "\u2013", "\u2026", "\u00bf", "\u00a1", "\u00b7", "\u3001", "\u3002",
    "\uff01", "\u060c", "\u061f", "\u0964", "\u00a7", "\u00b6", "\u20ac", "\u00a3",
    "\u2022", "\u00b0", "\u00d7", "\u00f7"]
SCRIPTS = {
    "greek": ["\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5",
              "\u0391\u0398\u0397\u039d\u0391 \u1f08\u03b8\u1fc6\u03bd\u03b1\u03b9",
              "\u03bb\u03cc\u03b3\u03bf\u03c2, \u03c8\u03c5\u03c7\u03ae; \u03c9\u03c6\u03b5\u03bb\u03ad\u03c2"],
    "cyrillic": ["\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
                 "\u0421\u042a\u0415\u0428\u042c \u0435\u0449\u0451 \u044d\u0442\u0438\u0445",
                 "\u0457\u0436\u0430\u043a \u0491\u0435\u043d\u0456\u0439 \u045e"],
    "arabic": ["\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
               "\u0627\u0644\u0639\u062f\u062f \u0661\u0662\u0663\u0664\u0665 \u0648 \u0666\u0667\u0668\u0669\u0660",
               "\u06f1\u06f2\u06f3 \u0643\u062a\u0627\u0628\u064f \u0627\u0644\u0644\u0651\u064e\u0647"],
    "devanagari": ["\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
                   "\u0939\u093f\u0928\u094d\u0926\u0940 \u0967\u0968\u0969 \u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f\u0964",
                   "\u0938\u0902\u0938\u094d\u0915\u0943\u0924\u092e\u094d"],
    "cjk": ["\u4f60\u597d\uff0c\u4e16\u754c\u3002", "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3068\u30ab\u30bf\u30ab\u30ca",
            "\u6f22\u5b57\u3000\u3072\u3089\u304c\u306a\u3000\u30ab\u30bf\u30ab\u30ca",
            "\U00020000\U0002a6d6\U00030000\u4e00\u9fff"],
    "hangul": ["\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4", "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4.",
               "\u1100\u1161\u11a8 \u3131\u314f"],
    "hebrew": ["\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd", "\u05d1\u05bc\u05b0\u05e8\u05b5\u05d0\u05e9\u05b4\u05c1\u05d9\u05ea"],
    "thai": ["\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a \u0e51\u0e52\u0e53"],
    "latin_ext": ["na\u00efve caf\u00e9 r\u00e9sum\u00e9 \u00fcber Stra\u00dfe",
                  "\u0141\u00f3d\u017a \u0159e\u0161\u00ed \u0131\u0130 \u00c6\u00d8\u00c5 \u1e9e",
                  "\u01c5\u01c8 \u02b0\u02b2 \u1d2c\u1d43"],
}
EMOJI = ["\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466",
         "\U0001F3F3\uFE0F\u200D\U0001F308", "\U0001F1FA\U0001F1F8", "\U0001F1EF\U0001F1F5",
         "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",
         "1\uFE0F\u20E3", "#\u20E3", "\u2764\uFE0F", "\U0001F9D1\u200D\U0001F4BB",
         "\U0001F469\U0001F3FE\u200D\U0001F91D\u200D\U0001F468\U0001F3FB", "\u263A", "\U0001FAE8",
         "\U0001F408\u200D\u2B1B", "\u00a9\ufe0f", "\U0001F4A9"]
COMBINING = ["\u0301", "\u0300", "\u0308", "\u0327", "\u0323", "\u0302", "\u0336", "\u20dd",
             "\u0483", "\u05b4", "\u064e", "\u093c", "\u0e31", "\u302a", "\U0001D167", "\uFE20"]


def shakespeare(shared):
    with open(os.path.join(shared, "tinyshakespeare.txt"), encoding="utf-8") as f:
        return f.read()


# Letters and numbers new in Unicode 17, measured by sweeping every scalar
# value (see test_code_point_sweep): tiktoken's WASM build has Unicode 16
# regex tables, so to it these are unassigned (neither \p{L} nor \p{N}),
# while we follow Unicode 17. E.g. "\uA7CE's": tiktoken
# [166, 253, 236, 6, 82], Unicode 17 [166, 253, 236, 338]. The oracle cannot
# judge them: the generators leave them out.
UNICODE17_NEW_LN = [
    (0x088F, 0x088F), (0x0C5C, 0x0C5C), (0x0CDC, 0x0CDC), (0xA7CE, 0xA7CF), (0xA7D2, 0xA7D2),
    (0xA7D4, 0xA7D4), (0xA7F1, 0xA7F1), (0x10940, 0x10959), (0x10EC5, 0x10EC7),
    (0x11DB0, 0x11DDB), (0x11DE0, 0x11DE9), (0x16EA0, 0x16EB8), (0x16EBB, 0x16ED3),
    (0x16FF2, 0x16FF6), (0x187F8, 0x187FF), (0x18D09, 0x18D1E), (0x18D80, 0x18DF2),
    (0x1E6C0, 0x1E6DE), (0x1E6E0, 0x1E6E2), (0x1E6E4, 0x1E6E5), (0x1E6E7, 0x1E6ED),
    (0x1E6F0, 0x1E6F4), (0x1E6FE, 0x1E6FF), (0x2B73A, 0x2B73F), (0x2CEA2, 0x2CEAD),
    (0x323B0, 0x33479),
]


def judgeable(cp):
    """A scalar value (not a surrogate) that the oracle classifies as
    Unicode 17 does."""
    if 0xD800 <= cp <= 0xDFFF:
        return False
    return not any(lo <= cp <= hi for lo, hi in UNICODE17_NEW_LN)


def random_code_point(rng):
    """Any scalar value (assigned or not), never a surrogate nor one of
    UNICODE17_NEW_LN."""
    r = rng.random()
    if r < 0.45:
        lo, hi = 0x80, 0xFFFF        # the BMP beyond ASCII
    elif r < 0.75:
        lo, hi = 0x10000, 0x3FFFF    # SMP, SIP, TIP
    elif r < 0.8:
        lo, hi = 0xE0000, 0xE0FFF    # tags, variation selectors
    elif r < 0.85:
        lo, hi = 0x0, 0x7F
    else:
        lo, hi = 0x0, 0x10FFFF
    while True:
        cp = rng.randint(lo, hi)
        if judgeable(cp):
            return chr(cp)


def gen_prose(rng, text):
    n = rng.choice([1, 2, 3, 5, 8, 13, 40, 100, 300, 1000])
    start = rng.randrange(len(text) - n)
    s = text[start:start + n]
    if rng.random() < 0.4:  # runs of spaces inside, before words and at the end
        parts = s.split(" ")
        s = "".join(p + " " * rng.choice([1, 1, 2, 3, 7]) for p in parts[:-1]) + parts[-1]
    if rng.random() < 0.2:
        s = " " * rng.randint(1, 5) + s
    if rng.random() < 0.2:
        s = s + rng.choice([" ", "  ", "\n", " \n", "\n\n", "   "])
    if rng.random() < 0.15:
        s = s.upper()
    return s


def gen_contraction(rng):
    out = []
    for _ in range(rng.randint(1, 6)):
        w = rng.choice(WORDS)
        c = rng.choice(CONTRACTIONS)
        if rng.random() < 0.3:
            c = c.upper()
        elif rng.random() < 0.15:
            c = c[0] + c[1:].capitalize()
        if rng.random() < 0.3:
            c = rng.choice(APOSTROPHES) + c[1:]
        piece = w + c
        r = rng.random()
        if r < 0.15:
            piece = c            # bare contraction
        elif r < 0.25:
            piece = c + w        # contraction glued to a following word
        elif r < 0.35:
            piece = w + c + c[1:]  # 'sss, 'llll
        elif r < 0.45:
            piece = rng.choice(QUOTES) + piece + rng.choice(QUOTES)
        elif r < 0.5:
            piece = w + "'" + rng.choice(["", " ", "1", "\u00e9", "x", "''", "'s"])
        out.append(piece)
        out.append(rng.choice([" ", " ", "", "  ", "\n", ", ", "\t", "!"]))
    return "".join(out)


def gen_numbers(rng):
    out = []
    for _ in range(rng.randint(1, 6)):
        r = rng.random()
        if r < 0.3:
            s = str(rng.randint(0, 10 ** rng.randint(1, 12)))
        elif r < 0.45:
            s = f"{rng.uniform(-1e6, 1e6):,.{rng.randint(0, 4)}f}"
        elif r < 0.55:
            s = "".join(rng.choice("0123456789") for _ in range(rng.randint(20, 120)))
        elif r < 0.65:
            s = f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/{rng.randint(1900, 2100)}"
        elif r < 0.75:
            s = rng.choice(["\u00bd", "\u2153", "\u00b2", "\u2460", "\u2167", "\u0663\u0664", "\u06f5",
                            "\u096b\u096c", "\uff11\uff12", "\U0001D7D8", "\u3007", "\u5341"])
        elif r < 0.85:
            s = rng.choice(["v", "x", "A", "abc", "$", "#", "-", "+"]) + str(rng.randint(0, 99999))
        else:
            s = str(rng.randint(0, 999)) + rng.choice(["st", "nd", "rd", "th", "%", "km", "k", "e10"])
        out.append(s)
        out.append(rng.choice([" ", "  ", "", "\n", ", ", " - ", "\t", "   "]))
    return "".join(out)


def gen_punct(rng):
    out = []
    for _ in range(rng.randint(1, 5)):
        out.append("".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 12))))
        out.append(rng.choice([" ", "", "  ", "a", " word", "\n", "1", "\u00e9"]))
    return "".join(out)


def gen_whitespace(rng):
    out = []
    for _ in range(rng.randint(1, 8)):
        ws = "".join(rng.choice(WHITESPACE) for _ in range(rng.choice([1, 1, 2, 3, 5, 9])))
        if rng.random() < 0.1:
            ws += rng.choice(NOT_WHITESPACE)
        out.append(ws)
        out.append(rng.choice(["word", "Hello", "x", "42", "!", "\u00e9t\u00e9", "'s", "", "\u4f60", "\U0001F600",
                               rng.choice(NOT_WHITESPACE), "\u0301", "--"]))
    if rng.random() < 0.5:
        out.append("".join(rng.choice(WHITESPACE) for _ in range(rng.randint(1, 6))))
    return "".join(out)


def gen_script(rng):
    out = []
    for _ in range(rng.randint(1, 4)):
        out.append(rng.choice(SCRIPTS[rng.choice(sorted(SCRIPTS))]))
        out.append(rng.choice([" ", "", "\n", ". ", " 12 ", "  "]))
    return "".join(out)


def gen_emoji(rng):
    out = []
    for _ in range(rng.randint(1, 6)):
        out.append(rng.choice(EMOJI) * rng.choice([1, 1, 2, 3]))
        out.append(rng.choice(["", " ", "a", " hi", "\n", "!", "  "]))
    return "".join(out)


def gen_combining(rng):
    out = []
    for _ in range(rng.randint(1, 6)):
        base = rng.choice(["a", "e", "O", " ", "1", "\u0430", "\u05d0", "\u0627", "\u0915", "!", "", "\u4e00"])
        marks = "".join(rng.choice(COMBINING) for _ in range(rng.choice([1, 1, 2, 4, 10])))
        out.append(base + marks + rng.choice(["", "b", " ", "x y", "2"]))
    return "".join(out)


def gen_random_cps(rng):
    s = []
    for _ in range(rng.choice([1, 2, 3, 5, 10, 30])):
        r = rng.random()
        if r < 0.6:
            s.append(random_code_point(rng))
        elif r < 0.75:
            s.append(rng.choice(WHITESPACE + NOT_WHITESPACE))
        else:
            s.append(rng.choice(["a", "Z", " ", "7", "'", "'s", "!", "\u00e9"]))
    return "".join(s)


def gen_long_word(rng):
    alphabet = rng.choice(["abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                           "aeiouxyz", "\u03b1\u03b2\u03b3\u03b4\u03b5", "\u0430\u0431\u0432\u0433\u0434",
                           "\u4e00\u4e8c\u4e09\u56db", "\uac00\ub098\ub2e4", "0123456789", "!?.,;:-",
                           "\u00e9\u00e8\u00ea\u00eb"])
    n = rng.choice([101, 150, 257, 500, 1000, 2000])
    w = "".join(rng.choice(alphabet) for _ in range(n))
    return rng.choice(["", " ", "  ", "x "]) + w + rng.choice(["", " ", ".", "  \n", " end"])


GENERATORS = [
    ("prose", 0.22, gen_prose), ("contraction", 0.1, gen_contraction),
    ("numbers", 0.08, gen_numbers), ("punct", 0.06, gen_punct),
    ("whitespace", 0.1, gen_whitespace), ("script", 0.1, gen_script),
    ("emoji", 0.06, gen_emoji), ("combining", 0.06, gen_combining),
    ("random_cps", 0.12, gen_random_cps), ("long_word", 0.02, gen_long_word),
    ("mix", 0.08, None),
]


def fixed_texts():
    """Edge cases every run has, including the long-piece merge path."""
    t = ["", " ", "  ", "\n", "\r\n", "a", "'s", "'", "<|endoftext|>", "a<|endoftext|>b",
         "Hello world", " Hello", "Hello ", "hello  world", "x\ufeffy", "\ufeffstart",
         "end\ufeff", "\ufeff", "a\x85b", "\x85", "a \x85b", "a\u2028b", "tab\there", "\u00a0a",
         "don't I'll we've you're she'd I'm it's", "DON'T I'LL WE'VE YOU'RE SHE'D I'M IT'S",
         "don\u2019t I\u2019ll", "\x00", "\x00\x01\x1f\x7f", "\U0010FFFF", "\uFFFF\uFFFE",
         "\U000E0001\U000E007F", "\uE000\U000F0000\U00100000"]
    t += [" " * 5000, "a" * 3000, "\n" * 2000, "x" + " " * 5000 + "y", " " * 4999 + "z",
          "0" * 3000, "1234567890" * 300, "!" * 2500, "ab" * 1500, "\u00e9" * 2000,
          "\U0001F600" * 600, "\u4e00" * 1500, "\t" * 1000, "\u3000" * 1000, "\r\n" * 1000,
          "A" * 3000, "Aa" * 1600, " a" * 2000, ("The quick brown fox " * 300).strip(),
          "\u0301" * 500, "z" * 20000]
    return t


def generate_texts(shared):
    rng = random.Random(SEED)
    prose = shakespeare(shared)
    texts = fixed_texts()
    weights = [w for _, w, _ in GENERATORS]
    simple = [g for _, _, g in GENERATORS if g is not None]

    def one(gen):
        return gen(rng, prose) if gen is gen_prose else gen(rng)

    for _ in range(N_RANDOM):
        gen = rng.choices(GENERATORS, weights)[0][2]
        if gen is None:  # a mix of several generators' output
            s = "".join(one(rng.choice(simple)) for _ in range(rng.randint(2, 5)))
        else:
            s = one(gen)
        texts.append(s)
    for s in texts:
        s.encode("utf-8")  # no surrogates: always valid UTF-8
    return texts


# ---- the oracle ------------------------------------------------------------

def run_oracle(texts):
    """tiktoken's ids for each text, from one node run."""
    node = shutil.which("node")
    assert node, "node is not on PATH: the GPT-2 oracle (tests/oracle/gpt2_ref.js) needs it"
    mod = os.path.join(ORACLE_DIR, "node_modules", "@dqbd", "tiktoken")
    assert os.path.isdir(mod), (
        f"{mod} is missing: run `npm ci` in tests/oracle (tests/run.sh does it when node_modules is absent)")
    with tempfile.NamedTemporaryFile("w", suffix=".hex", delete=False, encoding="ascii") as f:
        f.write("".join(s.encode("utf-8").hex() + "\n" for s in texts))
        path = f.name
    try:
        # Under tests/run.sh --asan this process has the ASan runtime in
        # LD_PRELOAD: node is not ours to check, so it runs without it.
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        p = subprocess.run([node, ORACLE, path], capture_output=True, text=True, cwd=ORACLE_DIR, env=env)
    finally:
        os.unlink(path)
    assert p.returncode == 0, f"gpt2_ref.js failed ({p.returncode}): {p.stderr[-2000:]}"
    out = p.stdout.split("\n")
    assert out[-1] == "", "gpt2_ref.js output does not end with a newline"
    out.pop()
    assert len(out) == len(texts), f"gpt2_ref.js gave {len(out)} lines for {len(texts)} texts"
    return [json.loads(line) for line in out]


_CACHE = {}


def corpus(shared):
    if "texts" not in _CACHE:
        texts = generate_texts(shared)
        refs = run_oracle(texts)
        _CACHE["texts"], _CACHE["ref"] = texts, refs
    return _CACHE["texts"], _CACHE["ref"]


def import_gpt2(ctx):
    d = os.path.join(ctx.shared, "gpt2")
    ctx.db.execute("SELECT llm_tokenizer_import('g', 'gpt2', ?, ?)",
                   (os.path.join(d, "encoder.json"), os.path.join(d, "vocab.bpe"))).fetchone()


def ours(ctx, text):
    return json.loads(ctx.one("SELECT llm_tokenize('g', ?)", (text,)))


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def shrink(ctx, text):
    """A shorter text that still mismatches (greedy removal of code point
    ranges, each round's candidates sent to the oracle in one batch)."""
    cur = text
    chunk = max(1, len(cur) // 2)
    for _ in range(60):
        cands = []
        for i in range(0, len(cur), chunk):
            cands.append(cur[:i] + cur[i + chunk:])
        cands = [c for c in cands if c != cur]
        if not cands:
            break
        refs = run_oracle(cands)
        hit = next((c for c, r in zip(cands, refs) if ours(ctx, c) != r), None)
        if hit is not None:
            cur = hit
            chunk = max(1, min(chunk, len(cur) // 2))
        elif chunk == 1:
            break
        else:
            chunk = max(1, chunk // 2)
    return cur


def describe(ctx, text, ref, got):
    i = first_diff(ref, got)
    rep = repr(text)
    if len(rep) > 600:
        rep = rep[:300] + f" ...[{len(text)} chars]... " + rep[-300:]
    lines = [f"text {rep}",
             f"  tiktoken ({len(ref)} ids): {ref if len(ref) <= 60 else ref[max(0, i - 10):i + 20]}",
             f"  ours     ({len(got)} ids): {got if len(got) <= 60 else got[max(0, i - 10):i + 20]}",
             f"  first difference at position {i}"]
    small = shrink(ctx, text)
    if small != text:
        sref, sgot = run_oracle([small])[0], ours(ctx, small)
        lines.append(f"  shrunk to {small!r} ({[hex(ord(c)) for c in small][:40]}): "
                     f"tiktoken {sref}, ours {sgot}")
    return "\n".join(lines)


# ---- the tests -------------------------------------------------------------

def test_tokenize_matches_tiktoken(ctx):
    texts, refs = corpus(ctx.shared)
    assert len(texts) >= 3000, len(texts)
    import_gpt2(ctx)
    bad = []
    for text, ref in zip(texts, refs):
        got = ours(ctx, text)
        if got != ref:
            bad.append((text, ref, got))
    if bad:
        shown = "\n".join(describe(ctx, *b) for b in bad[:5])
        raise AssertionError(f"{len(bad)} of {len(texts)} texts tokenize differently from tiktoken "
                             f"r50k_base (first {min(5, len(bad))}):\n{shown}")


def test_token_count_matches_tiktoken(ctx):
    texts, refs = corpus(ctx.shared)
    import_gpt2(ctx)
    bad = []
    for text, ref in zip(texts, refs):
        n = ctx.one("SELECT llm_token_count('g', ?)", (text,))
        if n != len(ref):
            bad.append((text, len(ref), n))
    if bad:
        shown = "\n".join(f"text {t[:200]!r}{'...' if len(t) > 200 else ''}: tiktoken {r}, ours {n}"
                          for t, r, n in bad[:10])
        raise AssertionError(f"{len(bad)} of {len(texts)} texts have a different llm_token_count:\n{shown}")


def sweep_texts():
    """Every scalar value of planes 0-3 and 14 (where all the letters and
    numbers are) and a sample of the others, each in contexts where its
    class decides the pieces (a letter before, a contraction after, digits
    around, a space before), packed 128 code points to a text."""
    cps = list(range(0, 0x40000)) + list(range(0xE0000, 0xF0000))
    for plane in list(range(4, 14)) + [15, 16]:
        base = plane << 16
        cps += list(range(base, base + 0x10000, 251)) + [base + 0xFFFE, base + 0xFFFF]
    cps = [cp for cp in cps if judgeable(cp)]

    def around(cp):
        c = chr(cp)
        return "x" + c + "'s1" + c + "1 " + c + " \u2019" + c

    return [" ".join(around(cp) for cp in cps[i:i + 128]) for i in range(0, len(cps), 128)]


def test_code_point_sweep(ctx):
    texts = sweep_texts()
    refs = run_oracle(texts)
    import_gpt2(ctx)
    bad = [(t, r, g) for t, r in zip(texts, refs) for g in [ours(ctx, t)] if g != r]
    if bad:
        shown = "\n".join(describe(ctx, *b) for b in bad[:3])
        raise AssertionError(f"{len(bad)} of {len(texts)} code point sweep texts tokenize differently "
                             f"from tiktoken r50k_base (first {min(3, len(bad))}):\n{shown}")


def test_oracle_sanity(ctx):
    """The oracle itself answers known GPT-2 ids (guards against a broken
    oracle making the comparison vacuous)."""
    refs = run_oracle(["Hello world", "", " \x85 x", "\ufeff"])
    assert refs == [[15496, 995], [], [1587, 227, 2124], [171, 119, 123]], refs
