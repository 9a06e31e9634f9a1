/*
** check.h: the unit-test harness. Each test binary prints one line per test
** case, "ok NAME" or "FAIL NAME", and exits non-zero if any failed;
** tests/run.sh counts those lines across all binaries.
*/
#ifndef LLM_CHECK_H
#define LLM_CHECK_H

#include <stdio.h>

static int check_case_failures;
static int check_total_failures;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      printf("  check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      check_case_failures++;                                             \
    }                                                                    \
  } while (0)

#define RUN(fn)                                                 \
  do {                                                          \
    check_case_failures = 0;                                    \
    fn();                                                       \
    printf("%s %s\n", check_case_failures ? "FAIL" : "ok", #fn); \
    if (check_case_failures) check_total_failures++;            \
  } while (0)

#define CHECK_DONE() (check_total_failures ? 1 : 0)

#endif
