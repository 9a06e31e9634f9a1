#!/usr/bin/env node
// hf_tokenize_ref.js: times the Hugging Face tokenizers library (Rust,
// through @anush008/tokenizers in tests/oracle) encoding whole texts, for
// bench/hf_tokenize_bench.py.
//
//   node bench/hf_tokenize_ref.js REPS TOKENIZER_JSON FILE...
//
// For each FILE (UTF-8) this encodes the whole text once per repetition
// after a warm-up, without special tokens, and prints one JSON object:
//   {"FILE": {"count": N, "times": [s...]}}
// Only the encode calls are timed (one call, one thread: the library
// spreads only batches over threads).
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const req = createRequire(path.join(__dirname, '..', 'tests', 'oracle', 'package.json'));
const { Tokenizer } = req('@anush008/tokenizers');

(async () => {
  const [reps, json, ...files] = process.argv.slice(2);
  const tok = Tokenizer.fromFile(json);
  const out = {};
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    let count = (await tok.encode(text, null, { addSpecialTokens: false })).getLength();
    const times = [];
    for (let r = 0; r < Number(reps); r++) {
      const t0 = process.hrtime.bigint();
      const enc = await tok.encode(text, null, { addSpecialTokens: false });
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      count = enc.getLength();
    }
    out[file] = { count, times };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
})().catch((e) => {
  process.stderr.write(String(e) + '\n');
  process.exit(1);
});
