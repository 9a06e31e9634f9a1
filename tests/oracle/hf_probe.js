#!/usr/bin/env node
// hf_probe.js: finds the code points on which Hugging Face tokenizers (the
// reference, @anush008/tokenizers = the Rust crate 0.22.2) and our Unicode
// data (Unicode 17, the same as this Node's ICU) disagree, by running every
// code point through each reference component whose result depends on a
// Unicode property and comparing with what our definition of the component
// gives, computed here with Node's own Unicode data. It prints the union as
// ranges, the list that hf_oracle.js's EXCLUDED holds (plus what only C can
// find: see there). Run it again when the reference or the data change:
//
//   node tests/oracle/hf_probe.js            (about a minute)
//
// What the reference's tables are (as the differences show): StripAccents'
// marks and the normalization forms are Unicode 9 to 12 (the crate
// unicode-normalization-alignments); BertNormalizer's marks, controls and
// the BERT punctuation are Unicode 8 (unicode_categories); Oniguruma's
// classes (Whitespace, Split, ByteLevel's regex) Unicode 16; Rust's own
// (White_Space, numeric, lowercase) agree with Unicode 17.
'use strict';
const path = require('path');
const tk = require(path.join(__dirname, 'node_modules/@anush008/tokenizers'));

const S = String.fromCodePoint;
const all = [];
for (let c = 0; c <= 0x10ffff; c++) if (c < 0xd800 || c > 0xdfff) all.push(c);

function build(kind, obj) {
  const j = {
    version: '1.0', truncation: null, padding: null, added_tokens: [],
    normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab: { '[UNK]': 0 }, unk_token: '[UNK]' },
  };
  j[kind] = obj;
  const t = tk.Tokenizer.fromString(JSON.stringify(j));
  return kind === 'normalizer' ? t.getNormalizer() : t.getPreTokenizer();
}

function ranges(list) {
  const r = [];
  for (const c of [...list].sort((a, b) => a - b)) {
    if (r.length && r[r.length - 1][1] >= c - 1) r[r.length - 1][1] = Math.max(r[r.length - 1][1], c);
    else r.push([c, c]);
  }
  return r;
}

const bad = new Set();
const note = (name, list) => {
  list.forEach((c) => bad.add(c));
  process.stderr.write(`${name}: ${list.length}\n`);
};

// Normalizers on strings "pre X post" joined by U+0001 (which none of them
// touches): the reference against Node's normalize() or our definition.
function normProbe(name, obj, expect, pre = '', post = '', sep = '\u0001') {
  const n = build('normalizer', obj);
  const cps = all.filter((c) => c !== sep.codePointAt(0));
  const out = [];
  for (let i = 0; i < cps.length; i += 4096) {
    const part = cps.slice(i, i + 4096);
    const r = n.normalizeString(part.map((c) => pre + S(c) + post).join(sep) + sep).split(sep);
    part.forEach((c, k) => { if (r[k] !== expect(pre + S(c) + post)) out.push(c); });
  }
  note(name, out);
}

const re = (p) => new RegExp(p, 'u');
const M = re('\\p{M}'), Mn = re('\\p{Mn}'), CTRL = re('^[\\p{Cc}\\p{Cf}\\p{Co}]$'), WS = re('^\\p{White_Space}$');
const drop = (s, r) => Array.from(s).filter((x) => !r.test(x)).join('');

for (const f of ['NFC', 'NFD', 'NFKC', 'NFKD']) {
  // the code point alone, then next to marks of several classes (ccc)
  for (const [pre, post] of [['', ''], ['\u0345', ''], ['', '\u0334'], ['a\u0316', ''], ['a', '\u0301'], ['\u0915', '\u093c']])
    normProbe(`${f} ${JSON.stringify(pre + 'X' + post)}`, { type: f }, (s) => s.normalize(f), pre, post);
}
// composition pairs: each canonical composite's decomposition must compose.
// Where one does not, its code points are excluded but for those that take
// part in compositions the reference does make (U+0307 is in both).
{
  const n = build('normalizer', { type: 'NFC' });
  const good = new Set(), failed = [];
  for (const c of all) {
    const s = S(c), d = s.normalize('NFD');
    if (d === s || d.normalize('NFC') !== s) continue;
    const parts = Array.from(d, (x) => x.codePointAt(0));
    if (n.normalizeString(d) !== s) failed.push(...parts);
    else parts.forEach((x) => good.add(x));
  }
  note('composition pairs', failed.filter((x) => !good.has(x)));
}
normProbe('Lowercase', { type: 'Lowercase' }, (s) => Array.from(s, (x) => x.toLowerCase()).join(''));
normProbe('StripAccents', { type: 'StripAccents' }, (s) => drop(s, M));
normProbe('Bert strip_accents', { type: 'BertNormalizer', clean_text: false, handle_chinese_chars: false, strip_accents: true, lowercase: false },
  (s) => drop(s.normalize('NFD'), Mn));
normProbe('Bert clean_text', { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: false, strip_accents: false, lowercase: false },
  (s) => Array.from(s).map((x) => {
    const c = x.codePointAt(0);
    if (c === 9 || c === 10 || c === 13) return ' ';
    if (c === 0 || c === 0xfffd || CTRL.test(x)) return '';
    return WS.test(x) ? ' ' : x;
  }).join(''), '', '', 'a');

// Pre-tokenizers on "aXa" (and GPT-2 contexts) joined by a space: the
// pieces against our definition, as a JS regex over Node's data.
function pieces(name, obj, expect, tmpl) {
  const p = build('pre_tokenizer', obj);
  const run = (arr) => {
    const s = arr.map(tmpl).join('');
    return JSON.stringify(p.preTokenizeString(s).map((x) => x[0])) === JSON.stringify(expect(s));
  };
  const out = [];
  for (let i = 0; i < all.length; i += 512) {
    const part = all.slice(i, i + 512);
    if (!run(part)) for (const c of part) if (!run([c])) out.push(c);
  }
  note(name, out);
}
const isolate = (r) => (s) => {
  const out = [];
  let cur = '';
  for (const ch of s) {
    if (r.test(ch)) { if (cur) out.push(cur); out.push(ch); cur = ''; } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
};
const PUNCT = /^[\p{P}!-\/:-@\[-`{-~]$/u;
pieces('Punctuation', { type: 'Punctuation' }, isolate(PUNCT), (c) => 'a' + S(c) + 'a');
pieces('Digits', { type: 'Digits', individual_digits: true }, isolate(/^\p{N}$/u), (c) => 'a' + S(c) + 'a');
const W = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u, SP = /\p{White_Space}/u;
pieces('Whitespace', { type: 'Whitespace' }, (s) => {
  const out = [];
  let cur = '', k = -1;
  for (const ch of s) {
    const cl = SP.test(ch) ? 1 : W.test(ch) ? 0 : 2;
    if (cl !== k && cur) { if (k !== 1) out.push(cur); cur = ''; }
    cur += ch;
    k = cl;
  }
  if (cur && k !== 1) out.push(cur);
  return out;
}, (c) => 'a' + S(c) + 'a ');
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const GPT2_JS = new RegExp(GPT2.replace(/\\s/g, '\\p{White_Space}').replace(/\\S/g, '\\P{White_Space}'), 'gu');
pieces('GPT-2 regex', { type: 'Split', pattern: { Regex: GPT2 }, behavior: 'Isolated', invert: false },
  (s) => Array.from(s.matchAll(GPT2_JS), (m) => m[0]), (c) => ' ' + S(c) + 'a ' + S(c) + '1  ' + S(c) + 'x');

const r = ranges(bad);
process.stderr.write(`total: ${bad.size} code points, ${r.length} ranges\n`);
const hex = (c) => '0x' + c.toString(16).toUpperCase();
process.stdout.write(r.map(([a, b]) => (a === b ? hex(a) : `${hex(a)}, ${hex(b)}`)).map((x) => `[${x.includes(',') ? x : x + ', ' + x}]`).join(', ') + '\n');
