#!/usr/bin/env node
// pretok_oracle.js: the GPT-2 pre-tokenization split done by JavaScript's own
// regex engine, the oracle for tests/engine/test_pretok_oracle.c.
//
//   node tests/oracle/pretok_oracle.js FILE
//
// FILE holds one test string per line, as the hex of its UTF-8 bytes (valid
// UTF-8; an empty line is the empty string). For each one this prints a line
// with the UTF-8 byte offsets where its pieces end, separated by spaces.
//
// \s is written \p{White_Space} because JS's own \s differs from the
// property (it adds U+FEFF and lacks U+0085); \S is its complement.
'use strict';
const fs = require('fs');

const PAT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

if (process.argv.length !== 3) {
  process.stderr.write('usage: node pretok_oracle.js FILE\n');
  process.exit(2);
}
const lines = fs.readFileSync(process.argv[2], 'latin1').split('\n');
if (lines.length && lines[lines.length - 1] === '') lines.pop();
const out = [];
for (const hex of lines) {
  const bytes = Buffer.from(hex, 'hex');
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  const ends = [];
  let off = 0, last = 0;
  for (const m of text.matchAll(PAT)) {
    if (m.index !== last) throw new Error(`gap before offset ${m.index} in ${hex}`);
    last = m.index + m[0].length;
    off += Buffer.byteLength(m[0], 'utf8');
    ends.push(off);
  }
  if (last !== text.length) throw new Error(`text not covered: ${hex}`);
  out.push(ends.join(' '));
}
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
