/* rng.c: xoshiro256** seeded through splitmix64 (see rng.h). */
#include "rng.h"

#include <math.h>

/* splitmix64: a Weyl sequence (step by the golden-ratio constant) pushed
** through a bijective mixer. It turns any 64-bit seed, 0 and other
** low-entropy values included, into well-spread words, which xoshiro needs:
** its own state must not be all zero and mixes poorly from sparse seeds. */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void llm_rng_seed(llm_rng *r, uint64_t seed) {
  /* Four consecutive splitmix outputs come from four distinct inputs through
  ** a bijection, so they are distinct and cannot all be zero. */
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

void llm_rng_seed2(llm_rng *r, uint64_t seed, uint64_t k) {
  /* k goes through the mixer before it meets the seed: xoring k in raw would
  ** make (seed, k) and (seed ^ 1, k ^ 1) the same stream, and nearby k would
  ** start splitmix at nearby points. The offset keeps k = 0 apart from
  ** llm_rng_seed(seed). */
  uint64_t kx = k ^ 0x6A09E667F3BCC909ull;
  uint64_t x = seed ^ splitmix64(&kx);
  llm_rng_seed(r, x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t llm_rng_u64(llm_rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

/* High and low 64 bits of the 128-bit product a * b. */
static uint64_t mul_hilo(uint64_t a, uint64_t b, uint64_t *lo) {
#if defined(__SIZEOF_INT128__)
  __extension__ typedef unsigned __int128 u128;
  u128 p = (u128)a * b;
  *lo = (uint64_t)p;
  return (uint64_t)(p >> 64);
#else
  /* Schoolbook on 32-bit halves for compilers without a 128-bit type. */
  uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32;
  uint64_t b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
  uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
  *lo = (mid << 32) | (p00 & 0xFFFFFFFFu);
  return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
#endif
}

uint64_t llm_rng_below(llm_rng *r, uint64_t n) {
  /* n = 0 has no valid answer; 0 rather than a division by zero below. */
  if (n == 0) return 0;
  /* Lemire's method: the high word of x * n is uniform over [0, n) except
  ** that 2^64 mod n values of x would land on some outputs once too often;
  ** those are exactly the products whose low word falls below 2^64 mod n,
  ** so rejecting them removes the bias. The modulo is computed only when the
  ** low word is small, which is rare unless n is huge. */
  uint64_t lo, hi = mul_hilo(llm_rng_u64(r), n, &lo);
  if (lo < n) {
    uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    while (lo < threshold) hi = mul_hilo(llm_rng_u64(r), n, &lo);
  }
  return hi;
}

float llm_rng_uniform(llm_rng *r) {
  /* 24 bits fill a float's significand exactly, so every value is exact and
  ** the result can never round up to 1.0f (a float from more bits could).
  ** Top bits, so that the same code stays sound with generators whose low
  ** bits are weak (xoshiro256+). */
  return (float)(llm_rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

float llm_rng_normal(llm_rng *r) {
  /* Box-Muller in double, keeping only the cosine value: caching the sine
  ** one would put state outside the four words and break save/restore.
  ** u1 is in (0, 1] (53 bits, shifted by one step) so log(u1) is finite; the
  ** largest magnitude is then sqrt(-2 ln 2^-53), about 8.6. */
  double u1 = (double)((llm_rng_u64(r) >> 11) + 1) * 0x1.0p-53;
  double u2 = (double)(llm_rng_u64(r) >> 11) * 0x1.0p-53;
  const double two_pi = 6.283185307179586476925286766559;
  return (float)(sqrt(-2.0 * log(u1)) * cos(two_pi * u2));
}
