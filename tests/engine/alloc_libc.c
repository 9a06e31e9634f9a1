/* The engine's allocator hooks for the unit tests and fuzzers: the C library,
** with optional fault injection (alloc_fail.h). */
#include <stdlib.h>

#include "base.h"
#include "alloc_fail.h"

/* Test-only state (the engine itself keeps none): allocations left before
** failures start (< 0: never), whether only one fails, failures so far. */
static long fail_after = -1;
static int fail_once;
static long n_failed;

void llm_test_fail_allocs_after(long n) {
  fail_after = n;
  fail_once = 0;
  n_failed = 0;
}

void llm_test_fail_one_alloc_after(long n) {
  fail_after = n;
  fail_once = 1;
  n_failed = 0;
}

long llm_test_allocs_failed(void) { return n_failed; }

static int should_fail(void) {
  if (fail_after < 0) return 0;
  if (fail_after > 0) {
    fail_after--;
    return 0;
  }
  n_failed++;
  if (fail_once) fail_after = -1;
  return 1;
}

void *llm_malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }
void *llm_realloc(void *p, size_t n) {
  return should_fail() ? NULL : realloc(p, n ? n : 1);
}
void llm_free(void *p) { free(p); }
