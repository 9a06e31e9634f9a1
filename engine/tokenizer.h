/*
** tokenizer.h: a byte-level BPE tokenizer (GPT-2 family).
**
** Every token is a byte string. Ids are dense 0..n_vocab-1. Three kinds:
**   BYTE     one per byte value 0..255 (in any id order: GPT-2 permutes them);
**   MERGE    created by merging the pair (left, right); its bytes are the
**            concatenation; rank orders merges (lower merges first);
**   SPECIAL  control tokens such as "<|endoftext|>": never produced from
**            text unless the caller allows special tokens explicitly.
**
** Build with llm_tokenizer_new, one llm_tokenizer_set per id, then
** llm_tokenizer_finish, which validates everything and builds the indexes.
** Encoding: pre-tokenize (pretok.h), map each piece's bytes to BYTE tokens,
** then repeatedly merge the adjacent pair with the lowest rank (leftmost on
** ties). Decoding concatenates the tokens' bytes, so encode then decode is
** the identity on every byte string.
*/
#ifndef LLM_TOKENIZER_H
#define LLM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"

enum { LLM_TOKEN_BYTE = 0, LLM_TOKEN_MERGE = 1, LLM_TOKEN_SPECIAL = 2 };

/* Largest vocabulary accepted (ids fit comfortably in int32). */
#define LLM_TOKENIZER_MAX_VOCAB (1 << 22)
/* Largest token, in bytes. */
#define LLM_TOKENIZER_MAX_PIECE 4096

typedef struct llm_tokenizer llm_tokenizer;

int llm_tokenizer_new(llm_tokenizer **out, int32_t n_vocab, int pretok_mode,
                      llm_err *err);

/* Defines token id. For BYTE: len 1, left = right = rank = -1. For MERGE:
** left/right are the merged ids, rank >= 0. For SPECIAL: len >= 1,
** left = right = rank = -1. */
int llm_tokenizer_set(llm_tokenizer *t, int32_t id, int kind,
                      const uint8_t *bytes, size_t len, int32_t left,
                      int32_t right, int32_t rank, llm_err *err);

int llm_tokenizer_finish(llm_tokenizer *t, llm_err *err);

void llm_tokenizer_free(llm_tokenizer *t);

int32_t llm_tokenizer_n_vocab(const llm_tokenizer *t);
int llm_tokenizer_pretok(const llm_tokenizer *t);
int llm_tokenizer_kind(const llm_tokenizer *t, int32_t id);
const uint8_t *llm_tokenizer_piece(const llm_tokenizer *t, int32_t id,
                                   size_t *len);
/* For MERGE tokens; -1 otherwise. */
int32_t llm_tokenizer_left(const llm_tokenizer *t, int32_t id);
int32_t llm_tokenizer_right(const llm_tokenizer *t, int32_t id);
int32_t llm_tokenizer_rank(const llm_tokenizer *t, int32_t id);
/* The id of the special token spelled s[0..n), or -1. */
int32_t llm_tokenizer_special_id(const llm_tokenizer *t, const uint8_t *s,
                                 size_t n);

/* Appends the ids of s[0..n) to out. With allow_special, occurrences of
** special tokens' text become those tokens; otherwise they are plain text. */
int llm_tokenizer_encode(llm_tokenizer *t, const uint8_t *s, size_t n,
                         int allow_special, llm_ids *out, llm_err *err);

/* Appends the bytes of the given ids to out; fails on an id out of range. */
int llm_tokenizer_decode(const llm_tokenizer *t, const int32_t *ids, size_t n,
                         llm_buf *out, llm_err *err);

#endif
