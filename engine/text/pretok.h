/*
** pretok.h: pre-tokenization, the split of text into pieces before BPE.
**
** LLM_PRETOK_GPT2 reproduces GPT-2's pattern (as in OpenAI's encoder and
** tiktoken's r50k_base) exactly:
**   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
** with Unicode classes: \p{L} = general category L*, \p{N} = N*, \s = the
** Unicode White_Space property. Bytes that are not valid UTF-8 each count as
** one character of the "other" class (neither letter, number nor space), so
** every byte string splits into pieces that concatenate back to it.
** LLM_PRETOK_NONE returns the whole text as one piece.
*/
#ifndef LLM_PRETOK_H
#define LLM_PRETOK_H

#include <stddef.h>
#include <stdint.h>

#include "text/utf8.h" /* llm_utf8_decode, which used to be declared here */

enum { LLM_PRETOK_NONE = 0, LLM_PRETOK_GPT2 = 1 };

/* Returns the end (exclusive byte offset) of the piece that starts at pos,
** for 0 <= pos < n; the result is > pos and <= n. */
size_t llm_pretok_next(int mode, const uint8_t *s, size_t n, size_t pos);

/* Unicode classes used by the pattern. */
int llm_uni_is_letter(int32_t cp); /* general category L* */
int llm_uni_is_number(int32_t cp); /* general category N* */
int llm_uni_is_space(int32_t cp);  /* White_Space property */

#endif
