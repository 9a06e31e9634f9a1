/*
** utf8.h: strict UTF-8 decoding and encoding, shared by the pre-tokenizer,
** the JSON parser, the GPT-2 vocabulary loader and the SQL functions.
**
** "Strict" is RFC 3629: no overlong forms, no UTF-16 surrogates
** (U+D800..U+DFFF), nothing above U+10FFFF.
*/
#ifndef LLM_UTF8_H
#define LLM_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes one UTF-8 code point at s[0..n) (n >= 1). Sets *len to the bytes
** consumed (1..4) and returns the code point, or -1 for an invalid byte
** (overlong, surrogate, > U+10FFFF, truncated or stray), then *len = 1. */
int32_t llm_utf8_decode(const uint8_t *s, size_t n, int *len);

/* Encodes the code point cp into out and returns the bytes written (1..4);
** returns 0 and writes nothing when cp is a surrogate or above U+10FFFF
** (such a code point has no UTF-8 form). */
int llm_utf8_encode(uint8_t out[4], uint32_t cp);

#endif
