/*
** le_bytes.h: little-endian numbers read from recorded test data files
** (tests/data/quant, tests/data/qdot).
*/
#ifndef LLM_LE_BYTES_H
#define LLM_LE_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint32_t u32_at(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline float f32_at(const uint8_t *p) {
  uint32_t w = u32_at(p);
  float f;
  memcpy(&f, &w, 4);
  return f;
}

#endif
