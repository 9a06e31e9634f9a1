#!/usr/bin/env node
// unicode_oracle.js: Node's own Unicode data (ICU), the oracle for
// tests/engine/test_unicode.c (llm_uni_category, llm_uni_lower and
// llm_uni_normalize).
//
//   node tests/oracle/unicode_oracle.js FILE [COUNT [SEED]]
//
// writes to FILE, code points in hex, a sequence as code points joined by
// '.' ('-' when empty, or in a 'c' line when it is the code point itself):
//   r LO HI CAT               every code point in LO..HI has category CAT and
//                             is its own lower case, NFD, NFC, NFKD and NFKC;
//   c CP CAT LOWER NFD NFC NFKD NFKC   any other code point;
//   s IN NFD NFC NFKD NFKC    a pseudo-random string and its four forms;
//   end N                     the number of 's' lines, last.
// The 'r' and 'c' lines cover every code point but the surrogates, once.
// The COUNT (default 5000) strings come from a fixed-seed generator, mixing
// code points from all planes with, more often, combining marks, Hangul
// syllables and jamo, compatibility and canonical composites and their
// decompositions, letters that compose, and long runs of marks.
'use strict';
const fs = require('fs');

const CATS = ['Cn', 'Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'Mn', 'Mc', 'Me', 'Nd', 'Nl',
  'No', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po', 'Sm', 'Sc', 'Sk', 'So',
  'Zs', 'Zl', 'Zp', 'Cc', 'Cf', 'Cs', 'Co'];
const FORMS = ['NFD', 'NFC', 'NFKD', 'NFKC'];
const S = String.fromCodePoint;
const cps = (s) => Array.from(s, (c) => c.codePointAt(0));
const seq = (a) => (a.length ? a.map((c) => c.toString(16).toUpperCase()).join('.') : '-');
const isSurrogate = (cp) => cp >= 0xd800 && cp <= 0xdfff;

if (process.argv.length < 3 || process.argv.length > 5) {
  process.stderr.write('usage: node unicode_oracle.js FILE [COUNT [SEED]]\n');
  process.exit(2);
}
const count = process.argv.length > 3 ? Number(process.argv[3]) : 5000;
let seed = process.argv.length > 4 ? Number(process.argv[4]) : 0x2545f491;

// Categories of all code points: one pass of a global regex per category
// over a string of every code point is much faster than a test per pair.
function categories() {
  const gc = new Uint8Array(0x110000).fill(255);
  const all = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) if (!isSurrogate(cp)) all.push(S(cp));
  const text = all.join('');
  CATS.forEach((name, i) => {
    for (const m of text.matchAll(new RegExp(`\\p{gc=${name}}`, 'gu'))) {
      gc[m[0].codePointAt(0)] = i;
    }
  });
  return gc;
}

// Lower case and the four forms of cp, each null when it is cp itself.
function mappings(cp) {
  const s = S(cp);
  const m = [s.toLowerCase(), ...FORMS.map((f) => s.normalize(f))];
  return m.map((x) => (x === s ? null : cps(x)));
}

// xorshift32, so that a failure names a string that can be made again.
function rand(n) {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed % n;
}
const pick = (a) => a[rand(a.length)];

const out = [];
const gc = categories();
const pools = { mark: [], compat: [], composite: [], assigned: [], base: new Set() };
let run = null; // [lo, hi, cat] of the pending 'r' line
for (let cp = 0; cp <= 0x10ffff + 1; cp++) {
  if (cp <= 0x10ffff && isSurrogate(cp)) continue;
  const m = cp <= 0x10ffff ? mappings(cp) : null;
  const plain = m && m.every((x) => x === null);
  if (run && !(plain && run[2] === gc[cp] && run[1] === cp - 1)) {
    out.push(`r ${seq([run[0]])} ${seq([run[1]])} ${CATS[run[2]]}`);
    run = null;
  }
  if (cp > 0x10ffff) break;
  if (gc[cp] === 255) throw new Error(`no category for ${cp.toString(16)}`);
  if (plain) {
    if (!run) run = [cp, cp, gc[cp]];
    else run[1] = cp;
  } else {
    out.push(`c ${seq([cp])} ${CATS[gc[cp]]} ` + m.map((x) => (x ? seq(x) : '-')).join(' '));
  }
  const cat = CATS[gc[cp]];
  if (cat[0] === 'M') pools.mark.push(cp);
  if (cat !== 'Cn') pools.assigned.push(cp);
  if (m && m[3]) pools.compat.push(cp);
  if (m && m[1]) {
    pools.composite.push(cp);
    pools.base.add(m[1][0]);
  }
}
pools.base = [...pools.base];

const nonStarters = [[0x300, 0x34e], [0x350, 0x36f], [0x591, 0x5af], [0x64b, 0x652],
  [0x1dc0, 0x1dff], [0x20d0, 0x20dc]].flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
const ascii = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?\n';
function item() {
  const k = rand(100);
  if (k < 12) return [ascii.codePointAt(rand(ascii.length))];
  if (k < 30) return [pick(pools.mark)];
  if (k < 38) return [pick(pools.base)];
  if (k < 46) return [pick(pools.compat)];
  if (k < 52) return [pick(pools.composite)];
  if (k < 58) return cps(S(pick(pools.composite)).normalize(rand(2) ? 'NFD' : 'NFKD'));
  if (k < 64) return [0xac00 + rand(11172)]; // Hangul syllables
  if (k < 72) return [0x1100 + rand(0x100)]; // conjoining jamo, all of them
  if (k < 75) return [0x3130 + rand(0x60)]; // compatibility jamo
  if (k < 88) return [pick(pools.assigned)];
  if (k < 94) { // any code point but a surrogate, all planes
    const cp = rand(0x110000 - 0x800);
    return [cp < 0xd800 ? cp : cp + 0x800];
  }
  // A long run of marks, mostly non-starters of various classes (from
  // blocks where nearly all are), to get past unicode.c's short-run sort.
  const n = 17 + rand(60);
  return Array.from({ length: n }, () => (rand(4) ? pick(nonStarters) : pick(pools.mark)));
}

for (let i = 0; i < count; i++) {
  const items = rand(4) ? rand(12) : rand(60);
  const a = [];
  for (let k = 0; k < items && a.length < 400; k++) a.push(...item());
  const s = S(...a);
  out.push(`s ${seq(a)} ` + FORMS.map((f) => seq(cps(s.normalize(f)))).join(' '));
}
out.push(`end ${count}`);
fs.writeFileSync(process.argv[2], out.join('\n') + '\n');
