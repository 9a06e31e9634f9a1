#!/usr/bin/env node
// regex_oracle.js: regex pre-tokenization done by JavaScript's own regex
// engine (flag u: \p{..} classes, lookahead), the oracle for
// tests/engine/test_regex_split.c.
//
//   node tests/oracle/regex_oracle.js classes
//     Prints, for the code points 0..0x10FFFF, "START SIG" lines where the
//     signature changes: SIG's bits say whether the code point is \p{L} (1),
//     \p{N} (2), \p{P} (4), \p{White_Space} (8) for this engine's Unicode
//     version, so the test can leave out characters whose class differs
//     from PCRE2's (an older Unicode).
//
//   node tests/oracle/regex_oracle.js split FILE
//     FILE holds jobs, each:
//       job BEHAVIOR INVERT NPATTERNS
//       NPATTERNS lines: a pattern as the hex of its UTF-8
//       NSTRINGS
//       NSTRINGS lines: a test string as the hex of its (valid) UTF-8
//     Every pattern of a job splits every piece of the previous one (the
//     first splits the whole string), as Hugging Face's Split(pattern,
//     BEHAVIOR, INVERT) does; BEHAVIOR is 0 removed, 1 isolated, 2 merged
//     with previous, 3 merged with next, 4 contiguous. For each string this
//     prints a line of its final pieces as UTF-8 byte ranges "START-END".
//
// \s and \S become \p{White_Space} and \P{White_Space}: JS's own \s adds
// U+FEFF and lacks U+0085; the property is what Rust, Oniguruma, llama.cpp
// and our PCRE2 setup use.
'use strict';
const fs = require('fs');

function spellSpaces(p) {
  let out = '';
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '\\' && i + 1 < p.length) {
      const c = p[i + 1];
      if (c === 's') out += '\\p{White_Space}';
      else if (c === 'S') out += '\\P{White_Space}';
      else out += '\\' + c;
      i++;
    } else {
      out += p[i];
    }
  }
  return out;
}

function classes() {
  const tests = [/^\p{L}$/u, /^\p{N}$/u, /^\p{P}$/u, /^\p{White_Space}$/u];
  const out = [];
  let last = -1;
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    const ch = String.fromCodePoint(cp);
    let sig = 0;
    for (let k = 0; k < tests.length; k++) if (tests[k].test(ch)) sig |= 1 << k;
    if (sig !== last) out.push(`${cp} ${sig}`);
    last = sig;
  }
  process.stdout.write(out.join('\n') + '\n');
}

// Start offsets (UTF-16 index) -> UTF-8 byte offsets, for one string.
function byteOffsets(text) {
  const off = new Array(text.length + 1);
  let b = 0;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i);
    const units = cp > 0xffff ? 2 : 1;
    off[i] = b;
    if (units === 2) off[i + 1] = b;
    b += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += units;
  }
  off[text.length] = b;
  return off;
}

// Index just past the code point at i (past the end: length + 1).
function nextChar(str, i) {
  return i + (i < str.length && str.codePointAt(i) > 0xffff ? 2 : 1);
}

// The (start, end, isMatch) segments of text[a..b) as Hugging Face builds
// them from Oniguruma's find_iter (onig 6.4): the search resumes at the
// end of a match; an empty match where the previous match ended is
// skipped, and the search moves on one character.
function segments(re, text, a, b) {
  const piece = text.slice(a, b);
  const segs = [];
  let pos = 0, prev = 0, lastEnd = -1;
  while (pos <= piece.length) {
    re.lastIndex = pos;
    const m = re.exec(piece);
    if (!m) break;
    const s = m.index, e = s + m[0].length;
    if (s === e && s === lastEnd) {
      pos = nextChar(piece, s);
      continue;
    }
    if (prev !== s) segs.push([a + prev, a + s, false]);
    segs.push([a + s, a + e, true]);
    prev = lastEnd = e;
    pos = s === e ? nextChar(piece, e) : e;
  }
  if (prev !== piece.length) segs.push([a + prev, a + piece.length, false]);
  return segs;
}

// Hugging Face's behaviours, as folds over the whole list of segments.
function applyBehavior(segs, behavior) {
  if (behavior === 0) return segs.filter((s) => !s[2]).map((s) => [s[0], s[1]]);
  if (behavior === 1) return segs.map((s) => [s[0], s[1]]);
  const acc = [];
  let prevMatch = false;
  if (behavior === 3) {
    for (let i = segs.length - 1; i >= 0; i--) {
      const [s, e, m] = segs[i];
      if (m && !prevMatch && acc.length) acc[acc.length - 1][0] = s;
      else acc.push([s, e]);
      prevMatch = m;
    }
    return acc.reverse();
  }
  for (const [s, e, m] of segs) {
    const merge = behavior === 2 ? m && !prevMatch : m === prevMatch;
    if (merge && acc.length) acc[acc.length - 1][1] = e;
    else acc.push([s, e]);
    prevMatch = m;
  }
  return acc;
}

function splitAll(res, behavior, invert, text) {
  let pieces = [[0, text.length]];
  for (const re of res) {
    const next = [];
    for (const [a, b] of pieces) {
      if (a === b) continue;
      const segs = segments(re, text, a, b)
        .map(([s, e, m]) => [s, e, invert ? !m : m]);
      for (const p of applyBehavior(segs, behavior)) {
        if (p[0] !== p[1]) next.push(p);
      }
    }
    pieces = next;
  }
  return pieces;
}

function split(file) {
  const lines = fs.readFileSync(file, 'latin1').split('\n');
  const out = [];
  const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let i = 0;
  while (i < lines.length && lines[i] !== '') {
    const [, behavior, invert, npat] = lines[i++].split(' ').map(Number);
    const res = [];
    for (let k = 0; k < npat; k++) {
      const pat = dec.decode(Buffer.from(lines[i++], 'hex'));
      res.push(new RegExp(spellSpaces(pat), 'gu'));
    }
    const nstr = Number(lines[i++]);
    for (let k = 0; k < nstr; k++) {
      const text = dec.decode(Buffer.from(lines[i++], 'hex'));
      const off = byteOffsets(text);
      const pieces = splitAll(res, behavior, invert !== 0, text);
      out.push(pieces.map(([a, b]) => `${off[a]}-${off[b]}`).join(' '));
    }
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
}

const [mode, file] = process.argv.slice(2);
if (mode === 'classes' && process.argv.length === 3) classes();
else if (mode === 'split' && process.argv.length === 4) split(file);
else {
  process.stderr.write('usage: node regex_oracle.js classes | split FILE\n');
  process.exit(2);
}
