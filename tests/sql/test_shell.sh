#!/bin/sh
# test_shell.sh EXTENSION: the extension in the real sqlite3 shell, loaded the
# way a user would (".load ./llm", without the .so). Prints "ok NAME" or
# "FAIL NAME" per check (the protocol of tests/run.sh) and exits non-zero on
# any failure. Run from the repository root: the GPT-2 files are found at
# ../shared/data/gpt2.
# Under `make asan`, LLM_TEST_PRELOAD names the ASan runtime, preloaded into
# the sqlite3 shell only (not into sed, grep and friends).
ext=$1
if [ -z "$ext" ]; then
  echo "FAIL usage: test_shell.sh EXTENSION"
  exit 1
fi
case "$ext" in *.so) ext=${ext%.so} ;; esac
case "$ext" in */*) ;; *) ext=./$ext ;; esac
data=../shared/data/gpt2

failed=0
ok() { echo "ok $1"; }
fail() {
  echo "FAIL $1"
  shift
  for line in "$@"; do echo "    $line"; done
  failed=1
}

if ! command -v sqlite3 >/dev/null 2>&1; then
  fail shell_present "no sqlite3 binary on PATH"
  exit 1
fi
for f in "$data/encoder.json" "$data/vocab.bpe"; do
  if [ ! -f "$f" ]; then
    fail shared_data "missing $f (run from the repository root)"
    exit 1
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
err=$tmp/err

# One shell session. Each result line is "label:value"; errors go to stderr.
env ${LLM_TEST_PRELOAD:+LD_PRELOAD=$LLM_TEST_PRELOAD} sqlite3 "$tmp/shell.db" >"$out" 2>"$err" <<EOF
.load $ext
SELECT 'version:' || json_extract(llm_version(), '\$.version');
SELECT 'tables_after_load:' || count(*) FROM sqlite_master;
SELECT 'import:' || llm_tokenizer_import('g', 'gpt2', '$data/encoder.json', '$data/vocab.bpe');
SELECT 'hello:' || llm_tokenize('g', 'Hello world');
SELECT 'detok:' || llm_detokenize('g', '[15496, 995]');
SELECT 'tokens:' || group_concat(id || '=' || piece, '|') FROM llm_tokens('g', 'Hello world');
SELECT 'count:' || llm_token_count('g', 'Hello world');
SELECT 'eot:' || llm_tokenize('g', '<|endoftext|>', '{"allow_special": true}');
SELECT 'values:' || llm_tokenizer_train('v', 'VALUES (''aaa bbb aaa''), (''aaa bbb'')', 258);
SELECT 'values_ids:' || llm_tokenize('v', 'aaa bbb');
SELECT 'cte:' || llm_tokenizer_train('c', 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT ''hello world'' FROM n', 300);
SELECT 'cte_count:' || llm_token_count('c', 'hello world');
SELECT 'cte_rt:' || (llm_detokenize('c', llm_tokenize('c', 'hello world, hello')) = 'hello world, hello');
SELECT 'stored:' || group_concat(name || '/' || n_vocab, ',') FROM (SELECT name, n_vocab FROM llm_tokenizers ORDER BY name);
SELECT 'unknown:' || llm_tokenize('nope', 'x');
SELECT 'drop:' || llm_tokenizer_drop('v') || llm_tokenizer_drop('v');
SELECT 'integrity:' || (SELECT group_concat(integrity_check) FROM pragma_integrity_check);
EOF
status=$?

value() { sed -n "s/^$1://p" "$out"; }

# expect NAME LABEL EXPECTED: the line "LABEL:..." must read EXPECTED.
expect() {
  got=$(value "$2")
  if [ "$got" = "$3" ]; then ok "$1"; else fail "$1" "expected $2:$3, got '$got'"; fi
}
field() { # LABEL FIELD: a numeric field of the JSON object on that line
  value "$1" | sed -n "s/.*\"$2\":\([0-9-]*\).*/\1/p"
}

if [ "$status" -ne 0 ] && [ ! -s "$out" ]; then
  fail shell_session "sqlite3 exited with status $status" "$(cat "$err")"
  exit 1
fi

got=$(value version)
if [ -n "$got" ]; then ok load_extension; else fail load_extension "no version line" "$(cat "$err")"; fi
expect no_table_on_load tables_after_load 0
if [ "$(field import n_vocab)/$(field import merges)/$(field import special_tokens)" = "50257/50000/1" ]; then
  ok import_gpt2
else
  fail import_gpt2 "summary: '$(value import)'" "$(cat "$err")"
fi
expect tokenize_hello_world hello "[15496,995]"
expect detokenize_hello_world detok "Hello world"
expect llm_tokens_hello_world tokens "15496=Hello|995= world"
expect token_count count 2
expect allow_special eot "[50256]"
# 'aaa bbb aaa', 'aaa bbb' pre-tokenize to "aaa" x2, " bbb" x2, " aaa" x1:
# the pair (a,a) occurs 2*2 + 2 = 6 times and becomes 256; then (b,b), 2*2 = 4
# times (against 3 for (256,a)), becomes 257. So 'aaa bbb' encodes as
# "aaa" -> [256, 97] and " bbb" -> [32, 257, 98].
if [ "$(field values merges)/$(field values n_vocab)" = "2/259" ]; then
  ok train_from_values
else
  fail train_from_values "summary: '$(value values)'" "$(cat "$err")"
fi
expect values_tokenize values_ids "[256,97,32,257,98]"
# 100 x 'hello world': pieces "hello" and " world" collapse fully after
# 4 + 5 = 9 merges, then no pair is left.
if [ "$(field cte merges)/$(field cte corpus_rows)/$(field cte corpus_bytes)" = "9/100/1100" ]; then
  ok train_from_cte
else
  fail train_from_cte "summary: '$(value cte)'" "$(cat "$err")"
fi
expect cte_token_count cte_count 2
expect cte_round_trip cte_rt 1
expect stored_list stored "c/266,g/50257,v/259"
if grep -q "llm_tokenize: no tokenizer named 'nope'" "$err" && [ -z "$(value unknown)" ]; then
  ok error_message_in_shell
else
  fail error_message_in_shell "stderr: $(cat "$err")"
fi
expect drop drop 10
expect integrity integrity ok

exit $failed
