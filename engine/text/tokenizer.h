/*
** tokenizer.h: the tokenizers: byte-level BPE (GPT-2 family) and scored
** SentencePiece-style BPE (Llama family, as llama2.c runs it).
**
** BYTE-LEVEL BPE (llm_tokenizer_new). Every token is a byte string. Ids are
** dense 0..n_vocab-1. Three kinds:
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
**
** SCORED (llm_tokenizer_new_scored): SentencePiece BPE with byte fallback,
** exactly as llama2.c's run.c encodes. Every token has a piece (bytes, with
** SentencePiece's U+2581 already turned into a space) and a float score.
** Ids are fixed by role:
**   0, 1, 2     SPECIAL: <unk>, <s> (BOS), </s> (EOS);
**   3..258      BYTE: byte fallback, id = byte + 3, piece "<0xXX>" (two
**               upper-case hex digits), which decodes to that one byte;
**   259..       NORMAL: ordinary pieces (may be empty; duplicates allowed,
**               the lowest id wins).
** Encoding (BOS is not added: the caller does): a space (the "dummy
** prefix") goes before non-empty text; the text is cut into groups of one
** byte and the continuation bytes (10xxxxxx) after it, at most 4 bytes, as
** run.c does (for valid UTF-8: one code point each); a group that is a
** NORMAL piece becomes it, any other becomes its bytes' BYTE tokens; then
** the adjacent pair whose concatenated piece is a NORMAL token of the
** highest score (above -1e10, leftmost on ties) is merged, until none is
** left. BYTE and SPECIAL tokens never merge. Decoding gives the pieces'
** bytes, BYTE tokens their byte, and drops the leading space of a token
** decoded at the start (after nothing, or after BOS), so decode(encode(s))
** is s for every byte string s. With allow_special, "<unk>", "<s>" and
** "</s>" in the text become those tokens and plain text after "<s>" gets
** a dummy prefix again (dropped again when decoding).
*/
#ifndef LLM_TOKENIZER_H
#define LLM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"

enum {
  LLM_TOKEN_BYTE = 0,
  LLM_TOKEN_MERGE = 1,
  LLM_TOKEN_SPECIAL = 2,
  LLM_TOKEN_NORMAL = 3 /* scored tokenizers' ordinary pieces */
};

/* What llm_tokenizer_type returns. */
enum { LLM_TOKENIZER_BPE = 0, LLM_TOKENIZER_SCORED = 1 };

/* Scored tokenizers: the fixed ids, and the number of ids with a role. */
enum {
  LLM_SCORED_UNK = 0,
  LLM_SCORED_BOS = 1,
  LLM_SCORED_EOS = 2,
  LLM_SCORED_BYTE0 = 3, /* id of byte 0x00; byte b is LLM_SCORED_BYTE0 + b */
  LLM_SCORED_MIN_VOCAB = 259
};

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

/* A scored tokenizer of n_vocab ids (LLM_SCORED_MIN_VOCAB or more). */
int llm_tokenizer_new_scored(llm_tokenizer **out, int32_t n_vocab,
                             llm_err *err);

/* Defines token id of a scored tokenizer. kind must match the id's role
** (see the top of the file): SPECIAL with 1.. bytes, BYTE with the piece
** "<0xXX>" for byte id - 3, NORMAL with 0.. bytes; score must be finite. */
int llm_tokenizer_set_scored(llm_tokenizer *t, int32_t id, int kind,
                             const uint8_t *bytes, size_t len, float score,
                             llm_err *err);

int llm_tokenizer_finish(llm_tokenizer *t, llm_err *err);

void llm_tokenizer_free(llm_tokenizer *t);

int32_t llm_tokenizer_n_vocab(const llm_tokenizer *t);
/* LLM_TOKENIZER_BPE or LLM_TOKENIZER_SCORED. */
int llm_tokenizer_type(const llm_tokenizer *t);
int llm_tokenizer_pretok(const llm_tokenizer *t);
int llm_tokenizer_kind(const llm_tokenizer *t, int32_t id);
const uint8_t *llm_tokenizer_piece(const llm_tokenizer *t, int32_t id,
                                   size_t *len);
/* For MERGE tokens; -1 otherwise. */
int32_t llm_tokenizer_left(const llm_tokenizer *t, int32_t id);
int32_t llm_tokenizer_right(const llm_tokenizer *t, int32_t id);
int32_t llm_tokenizer_rank(const llm_tokenizer *t, int32_t id);
/* Scored tokenizers: the token's score; 0 otherwise. */
float llm_tokenizer_score(const llm_tokenizer *t, int32_t id);
/* Beginning and end of a sequence: 1 and 2 for scored tokenizers; for BPE
** both are the id of "<|endoftext|>", or -1 when there is none. */
int32_t llm_tokenizer_bos_id(const llm_tokenizer *t);
int32_t llm_tokenizer_eos_id(const llm_tokenizer *t);
/* The id of the special token spelled s[0..n), or -1. */
int32_t llm_tokenizer_special_id(const llm_tokenizer *t, const uint8_t *s,
                                 size_t n);

/* Appends the ids of s[0..n) to out. With allow_special, occurrences of
** special tokens' text become those tokens; otherwise they are plain text. */
int llm_tokenizer_encode(llm_tokenizer *t, const uint8_t *s, size_t n,
                         int allow_special, llm_ids *out, llm_err *err);

/* Appends the bytes of the given ids to out; fails on an id out of range.
** The first id is decoded as at the start of a text (prev = -1). */
int llm_tokenizer_decode(const llm_tokenizer *t, const int32_t *ids, size_t n,
                         llm_buf *out, llm_err *err);

/* The text that token id stands for when it follows token prev (-1: at the
** start of a text): for BPE its piece; for scored tokenizers the piece, a
** BYTE token's byte, without the leading space at the start or after BOS.
** Points into the tokenizer (valid while it lives); NULL for a bad id. */
const uint8_t *llm_tokenizer_token_text(const llm_tokenizer *t, int32_t prev,
                                        int32_t id, size_t *len);

/* Appends the text of id after prev (as llm_tokenizer_token_text): for
** streaming, decoding one token at a time gives the same bytes as
** llm_tokenizer_decode of the whole array. */
int llm_tokenizer_decode_next(const llm_tokenizer *t, int32_t prev,
                              int32_t id, llm_buf *out, llm_err *err);

#endif
