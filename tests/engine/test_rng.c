/* test_rng.c: the xoshiro256** generator, its seeding and its distributions.
** Statistical checks use bounds of about 5 standard deviations (or a
** generous chi-square quantile), so a correct generator fails them with
** negligible probability, and the seeds are fixed so runs are repeatable. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "check.h"

/* Known answers: the published first outputs of xoshiro256** from state
** {1, 2, 3, 4}, and of splitmix64 from 0 (which llm_rng_seed(0) puts in
** s[0..2]). They pin the algorithms, not just their statistics. */
static void test_known_answers(void) {
  llm_rng r = {{1, 2, 3, 4}};
  CHECK(llm_rng_u64(&r) == 11520u);
  CHECK(llm_rng_u64(&r) == 0u);
  CHECK(llm_rng_u64(&r) == 1509978240u);
  CHECK(llm_rng_u64(&r) == 1215971899390074240u);
  llm_rng_seed(&r, 0);
  CHECK(r.s[0] == 0xE220A8397B1DCDAFull);
  CHECK(r.s[1] == 0x6E789E6AA1B965F4ull);
  CHECK(r.s[2] == 0x06C45D188009454Full);
  CHECK(r.s[0] | r.s[1] | r.s[2] | r.s[3]);
}

static void test_determinism(void) {
  llm_rng a, b;
  llm_rng_seed(&a, 12345);
  llm_rng_seed(&b, 12345);
  int same = 1;
  for (int i = 0; i < 1000; i++) same &= llm_rng_u64(&a) == llm_rng_u64(&b);
  CHECK(same);
  /* The state is plain data: a copy taken mid-stream continues identically,
  ** which is what checkpoint/resume relies on. */
  llm_rng c = a;
  same = 1;
  for (int i = 0; i < 1000; i++) {
    same &= llm_rng_u64(&a) == llm_rng_u64(&c);
    same &= llm_rng_uniform(&a) == llm_rng_uniform(&c);
    same &= llm_rng_normal(&a) == llm_rng_normal(&c);
    same &= llm_rng_below(&a, 1000 + (uint64_t)i) ==
            llm_rng_below(&c, 1000 + (uint64_t)i);
  }
  CHECK(same);
  CHECK(memcmp(&a, &c, sizeof a) == 0);
  llm_rng_seed2(&a, 7, 99);
  llm_rng_seed2(&b, 7, 99);
  CHECK(memcmp(&a, &b, sizeof a) == 0);
}

/* Mean number of differing bits between corresponding outputs of two
** generators: 32 for independent streams. Also counts equal outputs. */
static double mean_bit_distance(llm_rng a, llm_rng b, int *equal) {
  const int n = 4096;
  long bits = 0;
  *equal = 0;
  for (int i = 0; i < n; i++) {
    uint64_t x = llm_rng_u64(&a), y = llm_rng_u64(&b);
    if (x == y) (*equal)++;
    bits += __builtin_popcountll(x ^ y);
  }
  return (double)bits / n;
}

static int streams_independent(llm_rng a, llm_rng b) {
  int equal;
  double d = mean_bit_distance(a, b, &equal);
  /* Per output the distance has standard deviation 4, so the mean of 4096
  ** has 1/16: +-0.5 is 8 of them. */
  int ok = equal == 0 && fabs(d - 32.0) < 0.5;
  if (!ok) printf("  bit distance %.3f, %d equal outputs\n", d, equal);
  return ok;
}

static void test_seeds_differ(void) {
  llm_rng a, b;
  /* Adjacent seeds, the classic weak spot of naive seeding. */
  for (uint64_t s = 0; s < 8; s++) {
    llm_rng_seed(&a, s);
    llm_rng_seed(&b, s + 1);
    CHECK(streams_independent(a, b));
  }
  llm_rng_seed(&a, 0);
  llm_rng_seed(&b, UINT64_MAX);
  CHECK(streams_independent(a, b));
  /* Substreams: adjacent k, k = 0 against the plain seed, and the pairs
  ** that a raw seed ^ k would have merged. */
  for (uint64_t k = 0; k < 8; k++) {
    llm_rng_seed2(&a, 42, k);
    llm_rng_seed2(&b, 42, k + 1);
    CHECK(streams_independent(a, b));
  }
  llm_rng_seed(&a, 42);
  llm_rng_seed2(&b, 42, 0);
  CHECK(streams_independent(a, b));
  llm_rng_seed2(&a, 42, 1);
  llm_rng_seed2(&b, 43, 0);
  CHECK(streams_independent(a, b));
  llm_rng_seed2(&a, 42, 3);
  llm_rng_seed2(&b, 41, 0);
  CHECK(streams_independent(a, b));
  /* Different seeds, same k. */
  llm_rng_seed2(&a, 1, 5);
  llm_rng_seed2(&b, 2, 5);
  CHECK(streams_independent(a, b));
}

static void test_uniform(void) {
  llm_rng r;
  llm_rng_seed(&r, 2024);
  const int n = 1000000;
  double sum = 0, sum2 = 0;
  float lo = 1, hi = 0;
  int in_range = 1;
  long deciles[10] = {0};
  for (int i = 0; i < n; i++) {
    float x = llm_rng_uniform(&r);
    in_range &= x >= 0.0f && x < 1.0f;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
    sum += x;
    sum2 += (double)x * x;
    int d = (int)(x * 10.0f);
    deciles[d > 9 ? 9 : d]++;
  }
  CHECK(in_range);
  double mean = sum / n, var = sum2 / n - mean * mean;
  /* sd of the mean: sqrt(1/12 / n) = 2.9e-4; of the variance:
  ** sqrt((1/80 - 1/144) / n) = 7.5e-5. */
  CHECK(fabs(mean - 0.5) < 5 * 2.9e-4);
  CHECK(fabs(var - 1.0 / 12) < 5 * 7.5e-5);
  CHECK(lo < 1e-4f && hi > 1.0f - 1e-4f);
  double chi2 = 0;
  for (int d = 0; d < 10; d++) {
    double e = n / 10.0;
    chi2 += (deciles[d] - e) * (deciles[d] - e) / e;
  }
  CHECK(chi2 < 33.7); /* chi-square, 9 df: P(> 33.7) ~ 1e-4 */
  if (fabs(mean - 0.5) >= 5 * 2.9e-4 || chi2 >= 33.7)
    printf("  mean %.6f var %.6f chi2 %.2f\n", mean, var, chi2);
  /* The largest possible value is 1 - 2^-24, below 1 as a float. */
  CHECK((float)((UINT64_MAX >> 40)) * (1.0f / 16777216.0f) < 1.0f);
}

static void test_normal(void) {
  llm_rng r;
  llm_rng_seed(&r, 777);
  const int n = 1000000;
  double sum = 0, sum2 = 0, sum3 = 0;
  long tails = 0, finite = 0;
  for (int i = 0; i < n; i++) {
    double x = llm_rng_normal(&r);
    if (isfinite(x)) finite++;
    sum += x;
    sum2 += x * x;
    sum3 += x * x * x;
    if (fabs(x) > 3.0) tails++;
  }
  CHECK(finite == n);
  double mean = sum / n, var = sum2 / n - mean * mean, skew = sum3 / n;
  double tail = (double)tails / n;
  /* sd of the mean 1e-3, of the variance sqrt(2/n) = 1.4e-3, of the third
  ** moment sqrt(15/n) = 3.9e-3; P(|x| > 3) = 0.0026998 with sd
  ** sqrt(p(1-p)/n) = 5.2e-5. */
  CHECK(fabs(mean) < 5e-3);
  CHECK(fabs(var - 1.0) < 5 * 1.42e-3);
  CHECK(fabs(skew) < 5 * 3.9e-3);
  CHECK(fabs(tail - 0.0026998) < 5 * 5.2e-5);
  printf("  normal: mean %.5f var %.5f tail(|x|>3) %.6f (expect 0.002700)\n",
         mean, var, tail);
  /* Every draw consumes exactly two words, with nothing cached: two states
  ** that agree before a draw agree after it. */
  llm_rng a, b;
  llm_rng_seed(&a, 5);
  b = a;
  llm_rng_normal(&a);
  llm_rng_u64(&b);
  llm_rng_u64(&b);
  CHECK(memcmp(&a, &b, sizeof a) == 0);
}

/* Draws n_draws values below n and checks that every value appears and
** that the counts pass a chi-square test. */
static int below_uniform(llm_rng *r, uint64_t n, long n_draws) {
  long *count = calloc((size_t)n, sizeof *count);
  if (!count) return 0;
  int in_range = 1;
  for (long i = 0; i < n_draws; i++) {
    uint64_t x = llm_rng_below(r, n);
    if (x >= n) {
      in_range = 0;
      continue;
    }
    count[x]++;
  }
  int covered = 1;
  double chi2 = 0, e = (double)n_draws / (double)n;
  for (uint64_t i = 0; i < n; i++) {
    if (count[i] == 0) covered = 0;
    chi2 += (count[i] - e) * (count[i] - e) / e;
  }
  free(count);
  /* Chi-square with df = n - 1: mean df, sd sqrt(2 df); 6 sd above the
  ** mean plus a margin for tiny df is far in the tail. */
  double df = (double)(n - 1);
  double bound = df + 6.0 * sqrt(2.0 * df) + 10.0;
  int ok = in_range && covered && (n == 1 || chi2 < bound);
  if (!ok)
    printf("  below(%llu): in_range %d covered %d chi2 %.1f (bound %.1f)\n",
           (unsigned long long)n, in_range, covered, chi2, bound);
  return ok;
}

static void test_below(void) {
  llm_rng r;
  llm_rng_seed(&r, 31337);
  const uint64_t small[] = {1, 2, 3, 5, 6, 7, 10, 13, 100, 1000};
  for (size_t i = 0; i < sizeof small / sizeof *small; i++)
    CHECK(below_uniform(&r, small[i], 200000));
  /* n = 0 is outside the contract; it must still return, not trap. */
  CHECK(llm_rng_below(&r, 0) == 0);
  /* A huge n where modulo reduction would be visibly biased: with
  ** n = 3 * 2^62, x % n maps twice as many x onto [0, 2^62) as onto the
  ** rest, putting half the draws there instead of a third. This also drives
  ** the rejection branch, which fires for a quarter of the draws. */
  const uint64_t big = 3ull << 62;
  long low = 0, bad = 0;
  const long n = 300000;
  for (long i = 0; i < n; i++) {
    uint64_t x = llm_rng_below(&r, big);
    if (x >= big) bad++;
    if (x < (1ull << 62)) low++;
  }
  double frac = (double)low / n;
  CHECK(bad == 0);
  CHECK(fabs(frac - 1.0 / 3) < 5 * sqrt((1.0 / 3) * (2.0 / 3) / n));
  /* The largest n, and n = 2^63 + 1 (the worst case for rejection: almost
  ** half the draws are rejected). */
  int ok = 1;
  for (int i = 0; i < 10000; i++) {
    ok &= llm_rng_below(&r, UINT64_MAX) < UINT64_MAX;
    ok &= llm_rng_below(&r, (1ull << 63) + 1) <= (1ull << 63);
  }
  CHECK(ok);
}

int main(void) {
  RUN(test_known_answers);
  RUN(test_determinism);
  RUN(test_seeds_differ);
  RUN(test_uniform);
  RUN(test_normal);
  RUN(test_below);
  return CHECK_DONE();
}
