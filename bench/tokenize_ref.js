#!/usr/bin/env node
// tokenize_ref.js: times GPT-2 (r50k_base) encoding with the JS tokenizers
// of tests/oracle (run `npm ci` there first), for bench/tokenize_bench.py.
//
//   node bench/tokenize_ref.js REPS FILE...
//
// Each FILE is UTF-8 text. For each file and each tokenizer this encodes the
// whole text once per repetition (after a warm-up), and also each of its
// lines (split after every "\n", the line end kept) one call per line, and
// prints one JSON object on stdout:
//   {"FILE": {"IMPL": {"count": N, "line_count": N,
//                      "times": [s...], "line_times": [s...]}}}
// Only the encode calls are timed. Special tokens' text is plain text.
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const oracleDir = path.join(__dirname, '..', 'tests', 'oracle');
if (!fs.existsSync(path.join(oracleDir, 'node_modules'))) {
  process.stderr.write(`${oracleDir}/node_modules is missing: run \`npm ci\` there\n`);
  process.exit(1);
}
const req = createRequire(path.join(oracleDir, 'package.json'));

function impls() {
  const wasm = req('@dqbd/tiktoken').get_encoding('r50k_base');
  const jsTiktoken = req('js-tiktoken').getEncoding('r50k_base');
  const gptTok = req('gpt-tokenizer/encoding/r50k_base');
  const none = new Set();
  return {
    impls: [
      ['js-tiktoken', (s) => jsTiktoken.encode(s, [], []).length],
      ['gpt-tokenizer', (s) => gptTok.encode(s, { allowedSpecial: none, disallowedSpecial: none }).length],
      ['@dqbd/tiktoken (WASM)', (s) => wasm.encode_ordinary(s).length],
    ],
    free: () => wasm.free(),
  };
}

function splitLines(text) {
  const out = text.split(/(?<=\n)/);
  return out.length && out[out.length - 1] === '' ? out.slice(0, -1) : out;
}

function timeIt(fn) {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return [Number(process.hrtime.bigint() - t0) / 1e9, r];
}

function main() {
  const reps = Number(process.argv[2]);
  const files = process.argv.slice(3);
  if (!(reps >= 1) || files.length === 0) {
    process.stderr.write('usage: node tokenize_ref.js REPS FILE...\n');
    process.exit(2);
  }
  const { impls: list, free } = impls();
  const result = {};
  try {
    for (const file of files) {
      const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
        .decode(fs.readFileSync(file));
      const lines = splitLines(text);
      const perLine = (enc) => { let n = 0; for (const l of lines) n += enc(l); return n; };
      const res = (result[file] = {});
      for (const [name, enc] of list) {
        enc(text); perLine(enc); // warm-up (JIT, caches, WASM memory growth)
        const r = (res[name] = { times: [], line_times: [] });
        for (let i = 0; i < reps; i++) {
          const [t, n] = timeIt(() => enc(text));
          r.times.push(t);
          r.count = n;
        }
        for (let i = 0; i < reps; i++) {
          const [t, n] = timeIt(() => perLine(enc));
          r.line_times.push(t);
          r.line_count = n;
        }
      }
    }
  } finally {
    free();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main();
