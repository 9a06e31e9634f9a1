#!/usr/bin/env node
// gen_unicode.js: generates the engine's Unicode tables, both from this
// Node's own ICU data (its regex engine, String.prototype.normalize and
// toLowerCase), into the folder given:
//
//   node tools/gen_unicode.js engine/text
//
// writes
//   unicode_tables.c: sorted, merged, inclusive [lo, hi] code point ranges of
//     /\p{L}/u, /\p{N}/u and /\p{White_Space}/u, behind llm_uni_is_letter/
//     number/space (engine/text/pretok.c);
//   unicode_data.c: the tables behind engine/text/unicode.c (general
//     category, combining class, decompositions, composition pairs, lower
//     case), in the layout that engine/text/unicode.h describes.
//
// How unicode_data.c is derived, per code point cp (s = its one-code-point
// string; surrogates have category Cs and nothing else):
//   - category: the one of the 30 /\p{gc=XX}/u that matches s (checked:
//     exactly one does).
//   - decompositions: s.normalize('NFD') and s.normalize('NFKD') are the
//     full (recursive) decompositions, so unicode.c needs no recursion.
//     Hangul syllables are left out: unicode.c does them arithmetically.
//   - canonical combining class: JavaScript does not expose it, but canonical
//     ordering shows it: for two code points a, b that are their own NFD,
//     NFD(a b) is "b a" exactly when ccc(a) > ccc(b) > 0. NFD(U+0345 U+0334)
//     is checked to reorder, so 0 < ccc(U+0334) < ccc(U+0345); then cp is a
//     non-starter iff NFD(cp U+0334) or NFD(U+0345 cp) reorders (a class not
//     above U+0334's is below U+0345's). Non-starters fall into
//     classes of code points that never reorder against each other, and the
//     classes are sorted by the same test (checked to be a total order). The
//     stored value is the class's rank, 1..55 for the 55 classes of Unicode
//     17: ordering and composition only compare classes, so the rank serves
//     as well as the class number. Only code points that are their own NFD
//     get a class (all that can occur in a decomposed string); the others
//     get 0. This was checked once against UnicodeData.txt of Debian's
//     unicode-data 15.0: the ranks are in the same order as the ccc field,
//     for every code point assigned there.
//   - composition pairs, from what NFC does: a composite c is a code point
//     with NFD(c) = d != c and NFC(d) = c (so composition exclusions and
//     singletons drop out). NFC composes d left to right into its starter,
//     so its last step joins NFC(d without its last code point), which must
//     be one code point x, with the last code point y: the pair (x, y) -> c
//     (checked: NFC(x y) = c). Hangul pairs only set the FIRST/SECOND flags.
//   - lower case: s.toLowerCase() when it differs from s (1..3 code points).
//   - per form, whether cp is "a boundary before" (nothing before it can
//     interact with it: the first code point of its NFD, or NFKD for the K
//     forms, is a starter, and for NFC/NFKC not the second of a pair), and
//     whether s.normalize(form) !== s. A code point that is a boundary,
//     unchanged alone and followed by a boundary is its own normal form,
//     whatever comes before or after (UAX #15's quick check, as ICU does it).
'use strict';
const fs = require('fs');
const path = require('path');

const MAXCP = 0x10ffff;
const S = String.fromCodePoint;
const isSurrogate = (cp) => cp >= 0xd800 && cp <= 0xdfff;
const isHangulSyllable = (cp) => cp >= 0xac00 && cp <= 0xd7a3;
const cps = (s) => Array.from(s, (c) => c.codePointAt(0));
const hex = (v) => '0x' + v.toString(16).toUpperCase().padStart(4, '0');
const uplus = (v) => 'U+' + v.toString(16).toUpperCase().padStart(4, '0');
const version = `Unicode ${process.versions.unicode} (ICU ${process.versions.icu}, Node ${process.version})`;

function fail(msg) {
  throw new Error(`gen_unicode.js: ${msg}`);
}

// C source for `const TYPE NAME[n] = {...};`, values packed into lines.
function cArray(type, name, values, fmt = String) {
  const out = [`const ${type} ${name}[${values.length}] = {`];
  let line = ' ';
  for (const v of values) {
    const item = ` ${fmt(v)},`;
    if (line.length + item.length > 79) {
      out.push(line);
      line = ' ';
    }
    line += item;
  }
  if (line.trim()) out.push(line);
  out.push('};');
  return out.join('\n');
}

// ---- unicode_tables.c --------------------------------------------------

const rangeClasses = [
  { name: 'letter', re: /^\p{L}$/u, what: 'general category L* (\\p{L})' },
  { name: 'number', re: /^\p{N}$/u, what: 'general category N* (\\p{N})' },
  { name: 'space', re: /^\p{White_Space}$/u, what: 'the White_Space property' },
];

function ranges(re) {
  const out = [];
  let lo = -1;
  for (let cp = 0; cp <= MAXCP + 1; cp++) {
    // Lone surrogates are category Cs: never in any of the classes.
    const hit = cp <= MAXCP && !isSurrogate(cp) && re.test(S(cp));
    if (hit && lo < 0) lo = cp;
    if (!hit && lo >= 0) { out.push([lo, cp - 1]); lo = -1; }
  }
  return out;
}

function unicodeTables() {
  const lines = [];
  lines.push('/*');
  lines.push('** unicode_tables.c: GENERATED by tools/gen_unicode.js; do not edit.');
  lines.push(`** ${version}.`);
  lines.push('** Each table holds sorted, disjoint, inclusive [lo, hi] code point ranges,');
  lines.push('** stored as pairs; the _len constant counts ranges (pairs), not numbers.');
  lines.push('*/');
  lines.push('#include "text/unicode_tables.h"');
  for (const c of rangeClasses) {
    const r = ranges(c.re);
    lines.push('');
    lines.push(`/* ${c.what}: ${r.length} ranges. */`);
    lines.push(`const uint32_t llm_uni_${c.name}_ranges[${r.length * 2}] = {`);
    for (let i = 0; i < r.length; i += 4) {
      const row = r.slice(i, i + 4).map(([a, b]) => `${hex(a)}, ${hex(b)},`);
      lines.push('  ' + row.join(' '));
    }
    lines.push('};');
    lines.push(`const size_t llm_uni_${c.name}_ranges_len = ${r.length};`);
  }
  return lines.join('\n') + '\n';
}

// ---- unicode_data.c ----------------------------------------------------

// The LLM_UC_* order of engine/text/unicode.h.
const CATEGORIES = ['Cn', 'Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'Mn', 'Mc', 'Me', 'Nd',
  'Nl', 'No', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po', 'Sm', 'Sc', 'Sk',
  'So', 'Zs', 'Zl', 'Zp', 'Cc', 'Cf', 'Cs', 'Co'];
// Bit layout of a property record (LLM_UCD_* in unicode.h).
const CCC_SHIFT = 5, CCC_MAX = 63;
const F_CANON = 0x800, F_COMPAT = 0x1000, F_LOWER = 0x2000;
const F_FIRST = 0x4000, F_SECOND = 0x8000;
// Per form, in the LLM_NFC/NFD/NFKC/NFKD order: bit NO_BB << form, bit
// CHANGES << form.
const FORMS = ['NFC', 'NFD', 'NFKC', 'NFKD'];
const F_NO_BB = 0x10000, F_CHANGES = 0x100000;
const MAX_DECOMP = 18;
// Three-stage table (LLM_UCD_SHIFT1/2): cp >> 9, then (cp >> 4) & 31, then
// cp & 15. Of the shapes tried, the smallest (23 KB; 28 KB with 32 and 32).
const SHIFT1 = 9, SHIFT2 = 4;

function categories() {
  const gc = new Uint8Array(MAXCP + 1);
  const hits = new Uint8Array(MAXCP + 1);
  CATEGORIES.forEach((name, i) => {
    const re = new RegExp(`^\\p{gc=${name}}$`, 'u');
    for (let cp = 0; cp <= MAXCP; cp++) {
      if (re.test(S(cp))) { gc[cp] = i; hits[cp]++; }
    }
  });
  for (let cp = 0; cp <= MAXCP; cp++) {
    if (hits[cp] !== 1) fail(`${uplus(cp)} is in ${hits[cp]} categories`);
  }
  return gc;
}

// Rank of the canonical combining class of each code point that is its own
// NFD (see the top of the file); a Map cp -> rank for the non-starters.
function combiningClasses() {
  const nfd = (s) => s.normalize('NFD');
  const swaps = (a, b) => nfd(S(a, b)) !== S(a, b); // ccc(a) > ccc(b) > 0
  const LOW = 0x334, HIGH = 0x345;
  if (!swaps(HIGH, LOW)) fail('U+0345 U+0334 do not reorder');
  const reps = [], classOf = new Map();
  for (let cp = 0; cp <= MAXCP; cp++) {
    if (isSurrogate(cp) || nfd(S(cp)) !== S(cp)) continue;
    if (!swaps(cp, LOW) && !swaps(HIGH, cp)) continue; // a starter
    let k = reps.findIndex((r) => !swaps(cp, r) && !swaps(r, cp));
    if (k < 0) { reps.push(cp); k = reps.length - 1; }
    classOf.set(cp, k);
  }
  const order = reps.map((_, i) => i)
    .sort((i, j) => (swaps(reps[i], reps[j]) ? 1 : swaps(reps[j], reps[i]) ? -1 : 0));
  for (let i = 0; i + 1 < order.length; i++) {
    for (let j = i + 1; j < order.length; j++) {
      if (!swaps(reps[order[j]], reps[order[i]])) fail('classes are not totally ordered');
    }
  }
  if (order.length > CCC_MAX) fail(`${order.length} combining classes do not fit`);
  const rank = new Map(order.map((k, r) => [k, r + 1]));
  const ccc = new Map();
  for (const [cp, k] of classOf) ccc.set(cp, rank.get(k));
  return { ccc, classes: order.length };
}

function decompositions() {
  const canon = [], compat = []; // [cp, [code points]]
  for (let cp = 0; cp <= MAXCP; cp++) {
    if (isSurrogate(cp) || isHangulSyllable(cp)) continue;
    const s = S(cp), d = s.normalize('NFD'), k = s.normalize('NFKD');
    if (d !== s) canon.push([cp, cps(d)]);
    if (k !== d) compat.push([cp, cps(k)]);
  }
  const check = (list, form) => {
    for (const [cp, seq] of list) {
      if (seq.length > MAX_DECOMP) fail(`${uplus(cp)} decomposes to ${seq.length}`);
      for (const c of seq) {
        if (S(c).normalize(form) !== S(c)) fail(`${uplus(cp)}: not a full ${form}`);
      }
    }
  };
  check(canon, 'NFD');
  check(compat, 'NFKD');
  return { canon, compat };
}

// Composition pairs [first, second, composite], Hangul included.
function compositions() {
  const pairs = [];
  for (let cp = 0; cp <= MAXCP; cp++) {
    if (isSurrogate(cp)) continue;
    const s = S(cp), d = cps(s.normalize('NFD'));
    if (d.length === 1 || S(...d).normalize('NFC') !== s) continue;
    const x = cps(S(...d.slice(0, -1)).normalize('NFC')), y = d[d.length - 1];
    if (x.length !== 1) fail(`${uplus(cp)}: the step before it is not one code point`);
    if (S(x[0], y).normalize('NFC') !== s) fail(`${uplus(cp)}: its pair does not compose`);
    pairs.push([x[0], y, cp]);
  }
  return pairs;
}

function lowerCase() {
  const map = new Map();
  for (let cp = 0; cp <= MAXCP; cp++) {
    if (isSurrogate(cp)) continue;
    const s = S(cp), l = s.toLowerCase();
    if (l === s) continue;
    const seq = cps(l);
    if (seq.length > 3) fail(`${uplus(cp)} lower-cases to ${seq.length}`);
    map.set(cp, seq);
  }
  for (let cp = 0; cp < 0x80; cp++) {
    const want = cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp; // unicode.c's fast path
    if (S(cp).toLowerCase() !== S(want)) fail(`ASCII ${uplus(cp)} lower-cases oddly`);
  }
  return map;
}

// Identical blocks stored once: index[i] is the block of values[i*size...].
function dedupBlocks(values, size) {
  const seen = new Map(), blocks = [], index = [];
  for (let i = 0; i < values.length; i += size) {
    const block = Array.from(values.slice(i, i + size));
    const key = block.join(',');
    if (!seen.has(key)) { seen.set(key, blocks.length); blocks.push(block); }
    index.push(seen.get(key));
  }
  return { index, flat: blocks.flat(), count: blocks.length };
}

// The NO_BB and CHANGES flags of cp (see the top of the file).
function formFlags(cp, ccc, seconds) {
  const s = S(cp);
  let flags = 0;
  FORMS.forEach((form, f) => {
    const first = s.normalize(form.replace('C', 'D')).codePointAt(0);
    const noBB = ccc.has(first) || (form.endsWith('C') && seconds.has(first));
    if (noBB) flags |= F_NO_BB << f;
    if (s.normalize(form) !== s) flags |= F_CHANGES << f;
  });
  return flags;
}

// The per-code-point records and their three-stage table.
function propertyTable(gc, ccc, dec, pairs, lower) {
  const rec = new Uint32Array(MAXCP + 1);
  for (let cp = 0; cp <= MAXCP; cp++) rec[cp] = gc[cp];
  for (const [cp, r] of ccc) rec[cp] |= r << CCC_SHIFT;
  for (const [cp] of dec.canon) rec[cp] |= F_CANON;
  for (let cp = 0xac00; cp <= 0xd7a3; cp++) rec[cp] |= F_CANON;
  for (const [cp] of dec.compat) rec[cp] |= F_COMPAT;
  for (const cp of lower.keys()) rec[cp] |= F_LOWER;
  for (const [a, b] of pairs) { rec[a] |= F_FIRST; rec[b] |= F_SECOND; }
  const seconds = new Set(pairs.map(([, b]) => b));
  for (let cp = 0; cp <= MAXCP; cp++) {
    if (!isSurrogate(cp)) rec[cp] |= formFlags(cp, ccc, seconds);
  }
  for (let cp = 0; cp < 0x80; cp++) { // unicode.c passes ASCII through
    if (rec[cp] & ~(0x1f | F_LOWER | F_FIRST)) fail(`ASCII ${uplus(cp)} is not a plain starter`);
  }
  for (const [a] of pairs) {
    if (rec[a] & (CCC_MAX << CCC_SHIFT)) fail(`pair first ${uplus(a)} is not a starter`);
  }
  const records = [...new Set(rec)].sort((a, b) => a - b);
  if (records.length > 256) fail(`${records.length} distinct records`);
  const recIndex = new Map(records.map((r, i) => [r, i]));
  const perCp = Uint8Array.from(rec, (r) => recIndex.get(r));
  const leaves = dedupBlocks(perCp, 1 << SHIFT2);
  const mids = dedupBlocks(leaves.index, 1 << (SHIFT1 - SHIFT2));
  if (mids.count > 256 || leaves.count > 65536) fail('stage tables overflow');
  return { records, stage1: mids.index, stage2: mids.flat, stage3: leaves.flat };
}

function unicodeData() {
  const gc = categories();
  const { ccc, classes } = combiningClasses();
  const dec = decompositions();
  const pairs = compositions();
  const lower = lowerCase();
  const props = propertyTable(gc, ccc, dec, pairs, lower);

  const pool = [], poolAt = new Map();
  const place = (seq) => {
    const key = seq.join(',');
    if (!poolAt.has(key)) { poolAt.set(key, pool.length); pool.push(...seq); }
    return poolAt.get(key);
  };
  const canonAt = dec.canon.map(([, seq]) => place(seq));
  const compatAt = dec.compat.map(([, seq]) => place(seq));
  if (pool.length > 65536) fail('decomposition pool too big for uint16 offsets');

  const comp = pairs.filter(([, , c]) => !isHangulSyllable(c))
    .map(([a, b, c]) => [BigInt(a) << 21n | BigInt(b), c])
    .sort((p, q) => (p[0] < q[0] ? -1 : 1));
  const lowerKeys = [...lower.keys()].filter((cp) => cp >= 0x80).sort((a, b) => a - b);
  const lowerLong = [];
  const lowerTo = lowerKeys.map((cp) => {
    const seq = lower.get(cp);
    if (seq.length === 1) return seq[0];
    lowerLong.push(seq.length, ...seq);
    return (0x80000000 | (lowerLong.length - seq.length - 1)) >>> 0;
  });
  if (!lowerLong.length) lowerLong.push(0); // C has no empty arrays

  const L = [];
  L.push('/*');
  L.push('** unicode_data.c: GENERATED by tools/gen_unicode.js; do not edit.');
  L.push(`** ${version}.`);
  L.push('** The tables behind engine/text/unicode.c, in the layout unicode.h');
  L.push('** describes; tools/gen_unicode.js says how each one is derived.');
  L.push('*/');
  L.push('#include "text/unicode.h"');
  L.push('');
  L.push('/* General category of each ASCII code point (LLM_UC_*). */');
  L.push(cArray('uint8_t', 'llm_ucd_ascii_category', Array.from(gc.slice(0, 0x80))));
  L.push('');
  L.push(`/* The ${props.records.length} distinct property records: category | combining class`);
  L.push(`** rank << 5 | flags; ${classes} classes of non-starters. */`);
  L.push(cArray('uint32_t', 'llm_ucd_props', props.records, (v) => '0x' + v.toString(16).toUpperCase()));
  L.push('');
  L.push(`/* Stage 1: cp >> ${SHIFT1} -> block of stage 2. */`);
  L.push(cArray('uint8_t', 'llm_ucd_stage1', props.stage1));
  L.push('');
  L.push(`/* Stage 2: ${1 << (SHIFT1 - SHIFT2)}-entry blocks, (cp >> ${SHIFT2}) & ${(1 << (SHIFT1 - SHIFT2)) - 1} -> block of stage 3. */`);
  L.push(cArray('uint16_t', 'llm_ucd_stage2', props.stage2));
  L.push('');
  L.push(`/* Stage 3: ${1 << SHIFT2}-entry blocks, cp & ${(1 << SHIFT2) - 1} -> index in llm_ucd_props. */`);
  L.push(cArray('uint8_t', 'llm_ucd_stage3', props.stage3));
  L.push('');
  L.push('/* Code points of the full decompositions (shared where equal). */');
  L.push(cArray('uint32_t', 'llm_ucd_decomp_pool', pool, hex));
  L.push('');
  L.push(`/* NFD of the ${dec.canon.length} code points (Hangul syllables aside) that have one. */`);
  L.push(cArray('uint32_t', 'llm_ucd_canon_key', dec.canon.map(([cp, s]) => cp * 32 + s.length), hex));
  L.push(cArray('uint16_t', 'llm_ucd_canon_at', canonAt));
  L.push(`const size_t llm_ucd_canon_len = ${dec.canon.length};`);
  L.push('');
  L.push(`/* NFKD of the ${dec.compat.length} code points whose NFKD differs from their NFD. */`);
  L.push(cArray('uint32_t', 'llm_ucd_compat_key', dec.compat.map(([cp, s]) => cp * 32 + s.length), hex));
  L.push(cArray('uint16_t', 'llm_ucd_compat_at', compatAt));
  L.push(`const size_t llm_ucd_compat_len = ${dec.compat.length};`);
  L.push('');
  L.push(`/* The ${comp.length} canonical composition pairs (Hangul aside). */`);
  L.push(cArray('uint64_t', 'llm_ucd_comp_key', comp.map(([k]) => k),
    (v) => '0x' + v.toString(16).toUpperCase() + 'u'));
  L.push(cArray('uint32_t', 'llm_ucd_comp_to', comp.map(([, c]) => c), hex));
  L.push(`const size_t llm_ucd_comp_len = ${comp.length};`);
  L.push('');
  L.push(`/* Lower case of the ${lowerKeys.length} non-ASCII code points that have one. */`);
  L.push(cArray('uint32_t', 'llm_ucd_lower_key', lowerKeys, hex));
  L.push(cArray('uint32_t', 'llm_ucd_lower_to', lowerTo, hex));
  L.push(`const size_t llm_ucd_lower_len = ${lowerKeys.length};`);
  L.push(cArray('uint32_t', 'llm_ucd_lower_long', lowerLong, hex));
  return L.join('\n') + '\n';
}

function main() {
  if (process.argv.length !== 3) {
    process.stderr.write('usage: node tools/gen_unicode.js DIR   (DIR: engine/text)\n');
    process.exit(2);
  }
  const dir = process.argv[2];
  fs.writeFileSync(path.join(dir, 'unicode_tables.c'), unicodeTables());
  fs.writeFileSync(path.join(dir, 'unicode_data.c'), unicodeData());
}

main();
