#!/usr/bin/env node
// hf_ref.js: the Hugging Face tokenizers library's own token ids (its Rust
// implementation, through the @anush008/tokenizers Node binding), the
// oracle for tests/sql/test_hf_tokenizer.py and the reference side of
// bench/tokenize_bench.py.
//
//   node tests/oracle/hf_ref.js TOKENIZER_JSON FILE [--decode] [--add-special] [--offsets]
//
// FILE holds one text per line as the hex of its UTF-8 bytes. For each one
// this prints one line: the JSON array of its ids (no special tokens added,
// unless --add-special), or with --decode a JSON object {"ids": [...],
// "text": decode(ids)}, or with --offsets {"ids": [...], "offsets":
// [[start, end], ...]} (the library's offsets, in code points).
'use strict';
const fs = require('fs');
const { Tokenizer } = require('@anush008/tokenizers');

const args = process.argv.slice(2);
if (args.length < 2) {
  process.stderr.write('usage: node hf_ref.js TOKENIZER_JSON FILE [--decode]\n');
  process.exit(2);
}
const decode = args.includes('--decode');
const addSpecialTokens = args.includes('--add-special');
const offsets = args.includes('--offsets');
const tok = Tokenizer.fromFile(args[0]);
const lines = fs.readFileSync(args[1], 'latin1').split('\n');
if (lines.length && lines[lines.length - 1] === '') lines.pop();
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

(async () => {
  const out = [];
  for (const hex of lines) {
    const text = utf8.decode(Buffer.from(hex, 'hex'));
    const enc = await tok.encode(text, null, { addSpecialTokens });
    const ids = enc.getIds();
    if (offsets) out.push(JSON.stringify({ ids, offsets: enc.getOffsets() }));
    else out.push(decode ? JSON.stringify({ ids, text: await tok.decode(ids, false) }) : JSON.stringify(ids));
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
})().catch((e) => {
  process.stderr.write(String(e) + '\n');
  process.exit(1);
});
