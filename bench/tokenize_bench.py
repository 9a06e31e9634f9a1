"""tokenize_bench.py: GPT-2 tokenization speed, ours against the JS ones.

    /usr/bin/python3 bench/tokenize_bench.py ./llm.so [--reps N]

Run from the repository root, after `npm ci` in tests/oracle. Encodes two
texts of about 1 MB each, tinyshakespeare and a deterministic multilingual
mix, with
  - the extension: llm_token_count('g', text) once per whole text, and
    SELECT sum(llm_token_count('g', line)) FROM lines, one call per line;
  - js-tiktoken, gpt-tokenizer and @dqbd/tiktoken (WASM) in node
    (bench/tokenize_ref.js), timing only their encode calls, the whole text
    and then line by line.
Each figure is the median of N repetitions after a warm-up; MB/s counts
10^6 bytes of UTF-8 input per second. The first call on a fresh connection
reads the vocabulary from the tokenizer's tables: it is timed apart as
"load ms". All token counts must agree, else the exit status is 1.
"""
import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
PURE_JS = ("js-tiktoken", "gpt-tokenizer")

CJK = ("的一是不了人我在有他这为之大来以个中上们到说时地也子就道要出下可你年生自会那后能对着事其里所去行过家十用发天如然作方成者"
       "日都二心多于学么当没看起还把只现好进经动同已样面前定见开法所问很最新重")
EMOJI = ["\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200D\U0001F469\u200D\U0001F467",
         "\U0001F1FA\U0001F1F8", "\u2764\uFE0F", "\U0001F680", "\U0001F389"]


def word(rng, script):
    n = rng.randint(2, 9)
    if script == "greek":
        return "".join(rng.choice("αβγδεζηθικλμνξοπρστυφχψωάέήίόύώ") for _ in range(n))
    if script == "cyrillic":
        return "".join(rng.choice("абвгдежзийклмнопрстуфхцчшщъыьэюяё") for _ in range(n))
    if script == "arabic":
        if rng.random() < 0.1:
            return "".join(chr(0x0660 + rng.randrange(10)) for _ in range(n))
        return "".join(chr(rng.randint(0x0627, 0x064A)) for _ in range(n))
    if script == "devanagari":
        out = []
        for _ in range(n // 2 + 1):
            out.append(chr(rng.randint(0x0915, 0x0939)))
            r = rng.random()
            if r < 0.5:
                out.append(chr(rng.randint(0x093E, 0x094C)))
            elif r < 0.6:
                out.append("\u094D")
        return "".join(out)
    if script == "hangul":
        return "".join(chr(rng.randint(0xAC00, 0xD7A3)) for _ in range(rng.randint(1, 4)))
    if script == "japanese":
        return "".join(rng.choice([chr(rng.randint(0x3041, 0x3093)), chr(rng.randint(0x30A1, 0x30F6)),
                                   rng.choice(CJK)]) for _ in range(n))
    if script == "cjk":
        return "".join(rng.choice(CJK) for _ in range(n))
    if script == "latin":
        return "".join(rng.choice("abcdeéèfghiïjklmnoöpqrsßtuüvwxyzçñ") for _ in range(n))
    if script == "emoji":
        return rng.choice(EMOJI)
    return str(rng.randint(0, 10 ** rng.randint(1, 7)))


def multilingual(shakespeare_lines, size):
    """About size bytes of mixed-script text (never U+0085 nor U+FEFF, which
    the pure-JS tokenizers' \\s classifies differently from tiktoken)."""
    rng = random.Random(1234)
    scripts = ["greek", "cyrillic", "arabic", "devanagari", "hangul", "japanese", "cjk", "latin",
               "emoji", "number"]
    out, n = [], 0
    while n < size:
        if rng.random() < 0.3:
            line = rng.choice(shakespeare_lines)
        else:
            script = rng.choice(scripts[:-2])
            sep = "" if script in ("japanese", "cjk") else " "
            words = []
            for _ in range(rng.randint(3, 15)):
                r = rng.random()
                words.append(word(rng, "emoji" if r < 0.05 else "number" if r < 0.12 else script))
            line = sep.join(words) + rng.choice([".", "。", "!", "?", "،", "।", "", ","])
            if rng.random() < 0.1:
                line = rng.choice(["\u3000", "\u00a0", "\t", "  "]) + line
        out.append(line + "\n")
        n += len(out[-1].encode("utf-8"))
    return "".join(out)


def split_lines(text):
    """Split after every "\\n", keeping it (as bench/tokenize_ref.js does)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def timed(fn, reps):
    times, result = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def connect(path, ext):
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(ext)
    return db


def bench_ours(ext, texts, reps, tmp):
    path = os.path.join(tmp, "bench.db")
    gpt2 = os.path.join(SHARED, "gpt2")
    db = connect(path, ext)
    t0 = time.perf_counter()
    db.execute("SELECT llm_tokenizer_import('g', 'gpt2', ?, ?)",
               (os.path.join(gpt2, "encoder.json"), os.path.join(gpt2, "vocab.bpe"))).fetchone()
    import_ms = (time.perf_counter() - t0) * 1e3
    db.close()

    db = connect(path, ext)  # a fresh connection: the first call loads the tables
    t0 = time.perf_counter()
    db.execute("SELECT llm_token_count('g', 'x')").fetchone()
    load_ms = (time.perf_counter() - t0) * 1e3

    res = {}
    for label, text in texts.items():
        db.execute("DROP TABLE IF EXISTS lines")
        db.execute("CREATE TABLE lines(line TEXT)")
        db.execute("BEGIN")
        db.executemany("INSERT INTO lines VALUES (?)", ((l,) for l in split_lines(text)))
        db.execute("COMMIT")
        whole = lambda: db.execute("SELECT llm_token_count('g', ?)", (text,)).fetchone()[0]
        per_line = lambda: db.execute("SELECT sum(llm_token_count('g', line)) FROM lines").fetchone()[0]
        whole(), per_line()  # warm-up
        res[label] = {"whole": timed(whole, reps), "lines": timed(per_line, reps)}
    db.close()
    return import_ms, load_ms, res


def bench_js(files, reps):
    script = os.path.join(ROOT, "bench", "tokenize_ref.js")
    p = subprocess.run(["node", script, str(reps)] + list(files.values()), capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench/tokenize_ref.js failed ({p.returncode}): {p.stderr.strip()}")
    raw = json.loads(p.stdout)
    out = {}
    for label, path in files.items():
        out[label] = {}
        for impl, r in raw[path].items():
            out[label][impl] = {"whole": (statistics.median(r["times"]), r["count"]),
                                "lines": (statistics.median(r["line_times"]), r["line_count"])}
    return out


def bench_texts():
    """The two texts every tokenizer benchmark encodes, and their sizes in bytes."""
    with open(os.path.join(SHARED, "tinyshakespeare.txt"), encoding="utf-8") as f:
        shakespeare = f.read()
    texts = {"tinyshakespeare": shakespeare,
             "multilingual": multilingual([l for l in shakespeare.split("\n") if l], 1_000_000)}
    return texts, {k: len(v.encode("utf-8")) for k, v in texts.items()}


def args_ext_reps(doc):
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("ext", nargs="?", default="./llm.so")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    return os.path.abspath(args.ext), args.reps


def main():
    ext, reps = args_ext_reps(__doc__)
    texts, sizes = bench_texts()

    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for label, text in texts.items():
            files[label] = os.path.join(tmp, label + ".txt")
            with open(files[label], "w", encoding="utf-8", newline="") as f:
                f.write(text)
        import_ms, load_ms, ours = bench_ours(ext, texts, reps, tmp)
        js = bench_js(files, reps)

    print(f"llm.so: import {import_ms:.0f} ms, load {load_ms:.1f} ms (first call on a fresh connection)")
    print(f"median of {reps} runs after a warm-up; MB = 10^6 bytes of UTF-8 input\n")
    hdr = f"{'text':<16} {'mode':<6} {'implementation':<24} {'tokens':>8} {'ms':>9} {'MB/s':>8}"
    print(hdr)
    print("-" * len(hdr))
    bad = []
    for label in texts:
        for mode in ("whole", "lines"):
            rows = [("llm.so (ours)",) + ours[label][mode]]
            rows += [(impl,) + js[label][impl][mode] for impl in js[label]]
            ref = js[label]["@dqbd/tiktoken (WASM)"][mode][1]
            for impl, secs, count in rows:
                mbs = sizes[label] / 1e6 / secs
                flag = "" if count == ref else f"  <-- count differs from tiktoken's {ref}"
                if flag:
                    bad.append((label, mode, impl))
                print(f"{label:<16} {mode:<6} {impl:<24} {count:>8} {secs * 1e3:>9.1f} {mbs:>8.2f}{flag}")
            fastest = min(PURE_JS, key=lambda i: js[label][i][mode][0])
            ratio = js[label][fastest][mode][0] / ours[label][mode][0]
            print(f"{'':<16} {mode:<6} ours / fastest pure-JS ({fastest}): {ratio:.2f}x")
        print(f"{'':<16} ({sizes[label]:,} bytes, {len(split_lines(texts[label])):,} lines)")
    if bad:
        print(f"\nTOKEN COUNTS DISAGREE: {bad}")
        sys.exit(1)
    print("\nall token counts agree")


if __name__ == "__main__":
    main()
