/*
** hashmap.h: an open-addressing hash map from uint64 keys to uint64 values,
** and a byte-string hash function. Keys must be < UINT64_MAX (that value
** marks empty slots internally). Not thread-safe; no global state.
*/
#ifndef LLM_HASHMAP_H
#define LLM_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct llm_map {
  uint64_t *keys; /* UINT64_MAX = empty */
  uint64_t *vals;
  size_t cap;     /* a power of two, or 0 */
  size_t len;
} llm_map;

/* Returns a pointer to the value stored for key, or NULL. */
uint64_t *llm_map_get(const llm_map *m, uint64_t key);

/* Returns a pointer to the value for key, inserting it with value init when
** absent (*inserted says which). NULL when out of memory. */
uint64_t *llm_map_put(llm_map *m, uint64_t key, uint64_t init, int *inserted);

/* Reserves room for n entries without rehashing. */
int llm_map_reserve(llm_map *m, size_t n);

void llm_map_free(llm_map *m);

/* Key for an ordered pair of 32-bit ids. */
static inline uint64_t llm_pair_key(uint32_t a, uint32_t b) {
  return ((uint64_t)a << 32) | b;
}

/* 64-bit hash of a byte string (not cryptographic). */
uint64_t llm_hash_bytes(const void *data, size_t n);

/* Mixes a 64-bit integer into a well-distributed 64-bit hash. */
static inline uint64_t llm_hash_u64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

#endif
