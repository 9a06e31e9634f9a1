/*
** bench_time.h: what the C benchmarks share: a monotonic clock and the
** median of repeated timings.
*/
#ifndef LLM_BENCH_TIME_H
#define LLM_BENCH_TIME_H

#include <stdlib.h>
#include <time.h>

static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Sorts x[0..n); returns the median, and the smallest in *lo (may be NULL). */
static inline double median(double *x, int n, double *lo) {
  qsort(x, (size_t)n, sizeof *x, cmp_double);
  if (lo) *lo = x[0];
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

#endif
