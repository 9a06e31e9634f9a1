#!/bin/sh
# run.sh BUILD_DIR EXTENSION [--asan]: runs every engine unit test binary in
# BUILD_DIR and every SQL-level test in tests/sql/ against EXTENSION, counts
# the "ok NAME" / "FAIL NAME" lines they print and ends with one line
# "N passed, N failed". A binary that dies without reporting counts as a
# failure. Exit status is non-zero on any failure.
build=$1
ext=$2
mode=$3
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0
failed=0

run() { # NAME COMMAND...
  name=$1
  shift
  "$@" >"$log" 2>&1
  status=$?
  grep -E '^(ok|FAIL) ' "$log" | sed "s|^|[$name] |"
  grep -vE '^(ok|FAIL) ' "$log" | sed 's|^|    |' | head -n 40
  p=$(grep -cE '^ok ' "$log")
  f=$(grep -cE '^FAIL ' "$log")
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "[$name] FAIL: exited with status $status without reporting a failure"
    f=1
  fi
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
    echo "[$name] FAIL: ran no test"
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
}

preload=""
if [ "$mode" = --asan ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # Python and the sqlite3 shell keep some memory at exit by design; the
  # suppressions name them, so leaks are reported only in our code.
  export LSAN_OPTIONS=suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0
  # The extension is loaded into programs not built with ASan: they get the
  # runtime preloaded (the unit tests link it themselves).
  preload=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
fi

# The tiny GGUF models of tests/models are generated here, and must be the
# very bytes their llama.cpp records (tests/data/llamacpp) were made from.
run make_models /usr/bin/python3 tests/models/make_models.py "$build/models"

for t in "$build"/test_*; do
  [ -x "$t" ] || continue
  run "$(basename "$t")" "$t"
done
# many connections of one process on threads, on the extension under test
run threads_test "$build/threads_test" "$ext" ../shared/data
for t in tests/sql/test_*.py; do
  [ -f "$t" ] || continue
  run "$(basename "$t" .py)" env ${preload:+LD_PRELOAD=$preload} /usr/bin/python3 tests/sql/harness.py "$ext" "$t"
done
for t in tests/sql/test_*.sh; do
  [ -f "$t" ] || continue
  # shell scripts run many programs: they preload ASan into sqlite3 only
  run "$(basename "$t" .sh)" env LLM_TEST_PRELOAD="$preload" sh "$t" "$ext"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
