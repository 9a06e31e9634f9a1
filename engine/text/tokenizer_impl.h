/*
** tokenizer_impl.h: internal to the tokenizer's files (tokenizer.c, the
** merging in tokenizer_merge.c, SentencePiece in tokenizer_spm.c,
** WordPiece in tokenizer_wpm.c): the tokenizer's layout and the helpers
** they share. Nothing outside engine/text/tokenizer*.c includes it.
*/
#ifndef LLM_TOKENIZER_IMPL_H
#define LLM_TOKENIZER_IMPL_H

#include "hashmap.h"
#include "text/regex_split.h"
#include "text/trie.h"
#include "text/tokenizer.h"

/* A candidate merge, for every kind: nodes pos and next[pos] into id, with
** priority key (higher first: minus the rank for BPE, the score for scored
** tokenizers; a double holds both exactly), valid while ver[pos] == ver. */
struct heap_item {
  double key;
  int32_t pos, ver, id;
};

struct llm_tokenizer {
  int32_t n_vocab;
  int type; /* LLM_TOKENIZER_* */
  int vocab; /* made by llm_tokenizer_new_vocab: pieces spelled as the file does */
  int pretok;
  int finished;
  unsigned flags; /* LLM_TOK_* */
  int32_t role[LLM_ROLE_COUNT];
  uint8_t *kind;
  uint8_t *is_set;
  int32_t *left, *right, *rank;
  uint64_t *off; /* piece bytes: pool.data + off[id], length len[id] */
  uint32_t *len;
  llm_buf pool;
  /* What each token decodes to (vocabulary tokenizers; the others decode
  ** to their piece): text.data + text_off[id], length text_len[id]. */
  uint64_t *text_off;
  uint32_t *text_len;
  llm_buf text;
  int32_t byte_id[256];
  llm_map merges; /* pair key -> (rank << 32) | merged id */
  llm_ids merge_list; /* BPE vocabulary: left, right of each rank */
  llm_trie specials; /* the text of special and user tokens */
  int n_special, n_user; /* how many; n_user of them user-defined */
  uint8_t *tflags;   /* per token: LLM_TOKF_* (NULL: none set) */
  llm_map cache;     /* hash of piece -> offset of its entry in cache_pool */
  llm_buf cache_pool; /* entries, see tokenizer_merge.c */
  /* Scratch reused across calls to avoid per-piece allocation. */
  int32_t *sym, *prev, *next, *ver;
  int32_t *pair_rank;
  size_t scratch_cap;
  struct heap_item *heap;
  size_t heap_cap;
  llm_buf work; /* text rewritten for a model (byte-level, "▁" spaces) */
  /* Pre-tokenizer patterns (BPE vocabulary tokenizers). */
  llm_regex **regex;
  char **pattern;
  int n_regex;
  llm_spans spans[2];
  /* Scored and vocabulary tokenizers. */
  float *score;
  llm_map lookup;     /* hash chain of a piece -> lowest id with it */
  llm_map pair_cache; /* pair key -> merged id + 1, or 0: no merge */
  uint8_t byte_text[256];
  int max_len; /* longest piece, bytes */
  int indexed; /* lookup holds every token (vocabulary tokenizers) */
  llm_ids prefix, suffix; /* the template, when has_template */
  int has_template;
  char wp_prefix[16];     /* Hugging Face WordPiece's continuation prefix */
  int wp_max_chars;
  /* Hugging Face pipelines (LLM_TOK_HF), see text/hf_pipeline.h */
  struct llm_hf_norm *hf_norm;
  struct llm_hf_pretok *hf_pre;
  struct llm_hf_decoder *hf_dec;
  llm_buf norm_buf;
  struct llm_align *hf_align;
  /* While llm_tokenizer_encode_spans runs: where each id's source text
  ** goes; wsrc: the source of each byte of work (WordPiece's words). */
  llm_spans *rec;
  llm_spans wsrc;
  int allow_now;       /* the encoding in progress parses control tokens */
  int has_norm_tokens; /* some special or user token has LLM_TOKF_NORMALIZED */
  struct llm_hf_pieces *hf_pieces;
};

static inline const uint8_t *tok_piece(const llm_tokenizer *t, int32_t id) {
  return t->pool.data + t->off[id];
}

/* The lowest id whose piece is s[0..n) (scored tokenizers: NORMAL ids
** only), or -1. */
int32_t llm_tok_lookup(const llm_tokenizer *t, const uint8_t *s, size_t n);

/* Special and user-defined tokens are parsed out of text before a model
** sees it. */
static inline int llm_tok_is_special(int kind) {
  return kind == LLM_TOKEN_SPECIAL || kind == LLM_TOKEN_USER;
}

/* The next special or user token in s[pos..n) that an encoding may parse
** (control tokens only when t->allow_now), the longest at its place: in
** the text as given (normalized 0) or in normalized text (1, the
** NORMALIZED tokens of a tokenizer with a normalizer). Returns 1 with *id,
** *text_end (where the text before it ends: whitespace an LSTRIP token
** takes is left out) and *next (where the text after it starts, after
** what an RSTRIP one takes); 0 when there is none (*text_end = n). */
int llm_tok_next_special(const llm_tokenizer *t, const uint8_t *s, size_t n, size_t pos, int normalized,
                         int32_t *id, size_t *text_end, size_t *at, size_t *next);

/* Building (tokenizer.c): the checks a token's definition starts with
** (type -1: any vocabulary tokenizer), recording it, indexing its piece
** (unique: another token with the same piece is an error), the list of
** special tokens, and whether an id is defined. */
int llm_tok_check_settable(const llm_tokenizer *t, int32_t id, int type,
                           llm_err *err);
int llm_tok_store_token(llm_tokenizer *t, int32_t id, int kind,
                        const uint8_t *bytes, size_t len, int32_t left,
                        int32_t right, int32_t rank, llm_err *err);
int llm_tok_lookup_insert(llm_tokenizer *t, int32_t id, int unique,
                          llm_err *err);
int llm_tok_build_specials(llm_tokenizer *t, int n_special, llm_err *err);
int llm_tok_valid_id(const llm_tokenizer *t, int32_t id);
/* tokenizer_vocab.c */
int llm_tok_finish_vocab(llm_tokenizer *t, llm_err *err);

/* The token a model may produce for the text s[0..n): as llm_tok_lookup,
** but never a control token, so that text becomes one only when special
** tokens are parsed (llama.cpp would let merges reach one; no real
** vocabulary does), nor one the model's vocabulary lacks. */
static inline int32_t llm_tok_model_lookup(const llm_tokenizer *t, const uint8_t *s, size_t n) {
  int32_t id = llm_tok_lookup(t, s, n);
  if (id < 0 || t->kind[id] == LLM_TOKEN_SPECIAL) return -1;
  return t->tflags && (t->tflags[id] & LLM_TOKF_NOT_MODEL) ? -1 : id;
}

/* Records [start, end) source offsets for the ids out->data[k0..len) of a
** piece or word: each id's width in the piece's bytes (see
** llm_tok_width), then src maps a byte of the piece to its source span. */
int llm_tok_record(llm_tokenizer *t, const llm_ids *out, size_t k0, const uint8_t *piece,
                   size_t plen, const size_t *src_start, const size_t *src_end);

/* Scratch arrays for n symbols. */
int llm_tok_reserve(llm_tokenizer *t, size_t n);

int llm_tok_heap_push(llm_tokenizer *t, size_t *n, struct heap_item it);
struct heap_item llm_tok_heap_pop(llm_tokenizer *t, size_t *n);

/* Encodes plain text (no special tokens) with each model. */
int llm_tok_encode_bpe(llm_tokenizer *t, const uint8_t *s, size_t n,
                       llm_ids *out);
int llm_tok_encode_scored(llm_tokenizer *t, const uint8_t *s, size_t n,
                          int prefix, llm_ids *out);
int llm_tok_encode_spm(llm_tokenizer *t, const uint8_t *s, size_t n,
                       int prefix, llm_ids *out);
int llm_tok_encode_wpm(llm_tokenizer *t, const uint8_t *s, size_t n, size_t base,
                       llm_ids *out);
/* One pre-tokenized piece, by each model. */
int llm_tok_bpe_piece(llm_tokenizer *t, const uint8_t *s, size_t n, llm_ids *out);
int llm_tok_wpm_piece(llm_tokenizer *t, const uint8_t *s, size_t n, llm_ids *out);
/* Plain text through a Hugging Face pipeline (tokenizer_hf.c); base: its
** offset in the whole text (Metaspace's "first" prefix goes only at 0). */
int llm_tok_encode_hf(llm_tokenizer *t, const uint8_t *s, size_t n, size_t base, llm_ids *out);
void llm_tok_free_hf(llm_tokenizer *t);
int llm_tok_decode_hf(const llm_tokenizer *t, const int32_t *ids, size_t n, llm_buf *out,
                      llm_err *err);

#endif
