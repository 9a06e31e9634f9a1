/*
** rng.h: an explicitly seeded pseudo-random generator (xoshiro256**-style
** state of four 64-bit words). The engine draws all randomness from one of
** these, owned by the caller; its state is plain data, so it can be saved
** and restored for exact resumption.
*/
#ifndef LLM_RNG_H
#define LLM_RNG_H

#include <stdint.h>

typedef struct llm_rng {
  uint64_t s[4];
} llm_rng;

/* Seeds from one 64-bit value (any value, 0 included). */
void llm_rng_seed(llm_rng *r, uint64_t seed);
/* A generator for substream k of seed (e.g. the batch of step k): the same
** (seed, k) always gives the same stream, different k independent ones. */
void llm_rng_seed2(llm_rng *r, uint64_t seed, uint64_t k);
uint64_t llm_rng_u64(llm_rng *r);
/* Uniform in [0, n) without modulo bias; n >= 1. */
uint64_t llm_rng_below(llm_rng *r, uint64_t n);
/* Uniform float in [0, 1). */
float llm_rng_uniform(llm_rng *r);
/* Standard normal (mean 0, variance 1). */
float llm_rng_normal(llm_rng *r);

#endif
