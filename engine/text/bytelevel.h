/*
** bytelevel.h: GPT-2's reversible byte-to-character map, which byte-level
** BPE vocabularies (GPT-2, Llama 3, Qwen, ...) spell their pieces in: the
** 188 "printable" bytes 33..126, 161..172, 174..255 stand for the code
** points of the same value, the other 68 bytes, in increasing order, for
** U+0100..U+0143 (so a space is 'Ġ' U+0120 and a newline 'Ċ' U+010A).
*/
#ifndef LLM_BYTELEVEL_H
#define LLM_BYTELEVEL_H

#include <stdint.h>

static inline int llm_bytelevel_printable(int b) {
  return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

/* The code point that stands for byte b. */
static inline uint32_t llm_bytelevel_cp(uint8_t b) {
  if (llm_bytelevel_printable(b)) return b;
  /* non-printable bytes below b: 0..32 (33), 127..160 (34), 173 (1) */
  uint32_t k = b <= 32 ? b : b <= 160 ? 33 + (uint32_t)(b - 127) : 67;
  return 256 + k;
}

/* The byte code point cp stands for, or -1 when the map has no such code
** point. */
static inline int llm_bytelevel_byte(int32_t cp) {
  if (cp < 0) return -1;
  if (cp < 256) return llm_bytelevel_printable(cp) ? cp : -1;
  int32_t k = cp - 256;
  return k < 33 ? k : k < 67 ? 127 + (k - 33) : k == 67 ? 173 : -1;
}

#endif
