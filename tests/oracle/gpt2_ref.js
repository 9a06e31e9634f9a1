#!/usr/bin/env node
// gpt2_ref.js: GPT-2's reference token ids, from @dqbd/tiktoken (the WASM
// build of OpenAI's tiktoken) with its "r50k_base" encoding. The oracle for
// tests/sql/test_gpt2_oracle.py.
//
//   node tests/oracle/gpt2_ref.js FILE
//
// FILE holds one test string per line, as the hex of its UTF-8 bytes (it must
// be valid UTF-8; an empty line is the empty string). For each one this
// prints one line: the JSON array of its token ids. Special tokens' text
// (e.g. "<|endoftext|>") is encoded as ordinary text, as llm_tokenize does
// by default.
//
// Needs `npm ci` in tests/oracle first.
'use strict';
const fs = require('fs');
const { get_encoding } = require('@dqbd/tiktoken');

if (process.argv.length !== 3) {
  process.stderr.write('usage: node gpt2_ref.js FILE\n');
  process.exit(2);
}

const lines = fs.readFileSync(process.argv[2], 'latin1').split('\n');
if (lines.length && lines[lines.length - 1] === '') lines.pop();

// fatal: invalid UTF-8 throws instead of becoming U+FFFD; ignoreBOM: a
// leading U+FEFF is text, not a byte order mark to drop.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const enc = get_encoding('r50k_base');
const out = [];
try {
  lines.forEach((hex, i) => {
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`line ${i + 1}: not hex`);
    const bytes = Buffer.from(hex, 'hex');
    const text = decoder.decode(bytes);
    // The JS string must stand for exactly these bytes (no lone surrogate,
    // nothing dropped): re-encode and compare.
    if (!Buffer.from(text, 'utf8').equals(bytes)) {
      throw new Error(`line ${i + 1}: UTF-8 does not round-trip`);
    }
    const ids = enc.encode_ordinary(text);
    // And the ids must decode back to the same bytes.
    if (!Buffer.from(enc.decode(ids)).equals(bytes)) {
      throw new Error(`line ${i + 1}: tiktoken's ids do not decode to the input`);
    }
    out.push(JSON.stringify(Array.from(ids)));
  });
} finally {
  enc.free();
}
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
