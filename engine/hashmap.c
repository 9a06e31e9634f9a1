/* hashmap.c: linear-probing uint64 -> uint64 map (see hashmap.h). */
#include "hashmap.h"

#include <string.h>

#include "base.h"

#define EMPTY UINT64_MAX

static size_t slot_of(const llm_map *m, uint64_t key) {
  return (size_t)llm_hash_u64(key) & (m->cap - 1);
}

uint64_t *llm_map_get(const llm_map *m, uint64_t key) {
  if (m->cap == 0) return NULL;
  for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key) return &m->vals[i];
    if (m->keys[i] == EMPTY) return NULL;
  }
}

static int rehash(llm_map *m, size_t ncap) {
  uint64_t *nk = llm_malloc(ncap * sizeof *nk);
  uint64_t *nv = llm_malloc(ncap * sizeof *nv);
  if (!nk || !nv) {
    llm_free(nk);
    llm_free(nv);
    return LLM_ENOMEM;
  }
  memset(nk, 0xff, ncap * sizeof *nk);
  for (size_t i = 0; i < m->cap; i++) {
    if (m->keys[i] == EMPTY) continue;
    size_t j = (size_t)llm_hash_u64(m->keys[i]) & (ncap - 1);
    while (nk[j] != EMPTY) j = (j + 1) & (ncap - 1);
    nk[j] = m->keys[i];
    nv[j] = m->vals[i];
  }
  llm_free(m->keys);
  llm_free(m->vals);
  m->keys = nk;
  m->vals = nv;
  m->cap = ncap;
  return LLM_OK;
}

int llm_map_reserve(llm_map *m, size_t n) {
  size_t need = 16;
  while (need < n + n / 2 + 1) {
    if (need > SIZE_MAX / 4) return LLM_ENOMEM;
    need *= 2;
  }
  return need > m->cap ? rehash(m, need) : LLM_OK;
}

uint64_t *llm_map_put(llm_map *m, uint64_t key, uint64_t init, int *inserted) {
  if (key == EMPTY) return NULL;
  if (llm_map_reserve(m, m->len + 1)) return NULL;
  size_t i = slot_of(m, key);
  while (m->keys[i] != EMPTY) {
    if (m->keys[i] == key) {
      if (inserted) *inserted = 0;
      return &m->vals[i];
    }
    i = (i + 1) & (m->cap - 1);
  }
  m->keys[i] = key;
  m->vals[i] = init;
  m->len++;
  if (inserted) *inserted = 1;
  return &m->vals[i];
}

void llm_map_free(llm_map *m) {
  llm_free(m->keys);
  llm_free(m->vals);
  memset(m, 0, sizeof *m);
}

uint64_t llm_hash_bytes(const void *data, size_t n) {
  const uint8_t *p = data;
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = llm_hash_u64(h ^ w);
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, p, n);
  return llm_hash_u64(h ^ w ^ ((uint64_t)n << 56));
}
