/* utf8.c: strict UTF-8 decoding and encoding (see utf8.h). */
#include "text/utf8.h"

int32_t llm_utf8_decode(const uint8_t *s, size_t n, int *len) {
  *len = 1;
  if (n == 0) return -1;
  uint32_t b0 = s[0];
  if (b0 < 0x80) return (int32_t)b0;
  /* lo/hi bound the second byte: this is where overlong forms, surrogates
  ** and code points above U+10FFFF are ruled out. */
  uint32_t lo = 0x80, hi = 0xBF, cp;
  int need;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    else if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    else if (b0 == 0xF4) hi = 0x8F;
  } else {
    return -1; /* stray continuation byte, C0/C1 or F5..FF */
  }
  if (n < (size_t)need) return -1;
  if (s[1] < lo || s[1] > hi) return -1;
  cp = (cp << 6) | (s[1] & 0x3Fu);
  for (int i = 2; i < need; i++) {
    if ((s[i] & 0xC0u) != 0x80u) return -1;
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  *len = need;
  return (int32_t)cp;
}

int llm_utf8_encode(uint8_t out[4], uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (uint8_t)(0xC0 | (cp >> 6));
    out[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    out[0] = (uint8_t)(0xE0 | (cp >> 12));
    out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  if (cp > 0x10FFFF) return 0;
  out[0] = (uint8_t)(0xF0 | (cp >> 18));
  out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}
