/*
** tokenizer.c: building tokenizers of every kind (byte-level BPE, scored,
** and the vocabulary tokenizers of real models), their checks, special
** tokens, and encoding and decoding around the models (see tokenizer.h).
** The merging itself is in tokenizer_merge.c (BPE and scored),
** tokenizer_spm.c (SentencePiece as llama.cpp) and tokenizer_wpm.c
** (WordPiece).
*/
#include "text/tokenizer.h"

#include <math.h>
#include <string.h>

#include "text/bytelevel.h"
#include "text/pretok.h"
#include "text/tokenizer_impl.h"
#include "text/utf8.h"

static int alloc_tokenizer(llm_tokenizer **out, int32_t n_vocab, int type,
                           int pretok_mode, llm_err *err) {
  llm_tokenizer *t = llm_calloc(1, sizeof *t);
  if (!t) return llm_fail(err, LLM_ENOMEM, "out of memory");
  t->n_vocab = n_vocab;
  t->type = type;
  t->pretok = pretok_mode;
  for (int r = 0; r < LLM_ROLE_COUNT; r++) t->role[r] = -1;
  size_t n = (size_t)n_vocab;
  if (type != LLM_TOKENIZER_BPE && !(t->score = llm_calloc(n, sizeof(float)))) {
    llm_tokenizer_free(t);
    return llm_fail(err, LLM_ENOMEM, "out of memory for %d tokens", n_vocab);
  }
  t->kind = llm_calloc(n, 1);
  t->is_set = llm_calloc(n, 1);
  t->left = llm_calloc(n, sizeof(int32_t));
  t->right = llm_calloc(n, sizeof(int32_t));
  t->rank = llm_calloc(n, sizeof(int32_t));
  t->off = llm_calloc(n, sizeof(uint64_t));
  t->len = llm_calloc(n, sizeof(uint32_t));
  if (!t->kind || !t->is_set || !t->left || !t->right || !t->rank ||
      !t->off || !t->len) {
    llm_tokenizer_free(t);
    return llm_fail(err, LLM_ENOMEM, "out of memory for %d tokens", n_vocab);
  }
  *out = t;
  return LLM_OK;
}

int llm_tokenizer_new(llm_tokenizer **out, int32_t n_vocab, int pretok_mode,
                      llm_err *err) {
  *out = NULL;
  if (n_vocab < 256 || n_vocab > LLM_TOKENIZER_MAX_VOCAB)
    return llm_fail(err, LLM_ERANGE,
                    "vocabulary size %d is out of range (256..%d)", n_vocab,
                    LLM_TOKENIZER_MAX_VOCAB);
  if (pretok_mode != LLM_PRETOK_NONE && pretok_mode != LLM_PRETOK_GPT2)
    return llm_fail(err, LLM_EINVAL, "unknown pre-tokenizer %d", pretok_mode);
  return alloc_tokenizer(out, n_vocab, LLM_TOKENIZER_BPE, pretok_mode, err);
}

int llm_tokenizer_new_vocab(llm_tokenizer **out, int type, int32_t n_vocab,
                            llm_err *err) {
  *out = NULL;
  if (type != LLM_TOKENIZER_BPE && type != LLM_TOKENIZER_SPM &&
      type != LLM_TOKENIZER_WORDPIECE)
    return llm_fail(err, LLM_EINVAL, "unknown vocabulary tokenizer type %d", type);
  if (n_vocab < 1 || n_vocab > LLM_TOKENIZER_MAX_VOCAB)
    return llm_fail(err, LLM_ERANGE, "vocabulary size %d is out of range (1..%d)",
                    n_vocab, LLM_TOKENIZER_MAX_VOCAB);
  int rc = alloc_tokenizer(out, n_vocab, type, LLM_PRETOK_NONE, err);
  if (rc) return rc;
  (*out)->vocab = 1;
  if (type == LLM_TOKENIZER_BPE && !((*out)->score = llm_calloc((size_t)n_vocab, sizeof(float)))) {
    llm_tokenizer_free(*out);
    *out = NULL;
    return llm_fail(err, LLM_ENOMEM, "out of memory for %d tokens", n_vocab);
  }
  return LLM_OK;
}

int llm_tokenizer_new_scored(llm_tokenizer **out, int32_t n_vocab,
                             llm_err *err) {
  *out = NULL;
  if (n_vocab < LLM_SCORED_MIN_VOCAB || n_vocab > LLM_TOKENIZER_MAX_VOCAB)
    return llm_fail(err, LLM_ERANGE,
                    "vocabulary size %d is out of range (%d..%d: <unk>, <s>, "
                    "</s>, 256 byte tokens, then the pieces)",
                    n_vocab, LLM_SCORED_MIN_VOCAB, LLM_TOKENIZER_MAX_VOCAB);
  return alloc_tokenizer(out, n_vocab, LLM_TOKENIZER_SCORED, LLM_PRETOK_NONE,
                         err);
}

void llm_tokenizer_free(llm_tokenizer *t) {
  if (!t) return;
  llm_free(t->kind);
  llm_free(t->is_set);
  llm_free(t->left);
  llm_free(t->right);
  llm_free(t->rank);
  llm_free(t->off);
  llm_free(t->len);
  llm_buf_free(&t->pool);
  llm_map_free(&t->merges);
  llm_trie_free(&t->specials);
  llm_free(t->tflags);
  llm_map_free(&t->cache);
  llm_buf_free(&t->cache_pool);
  llm_free(t->sym);
  llm_free(t->prev);
  llm_free(t->next);
  llm_free(t->ver);
  llm_free(t->pair_rank);
  llm_free(t->heap);
  llm_free(t->score);
  llm_map_free(&t->lookup);
  llm_map_free(&t->pair_cache);
  llm_free(t->text_off);
  llm_free(t->text_len);
  llm_buf_free(&t->text);
  llm_ids_free(&t->merge_list);
  llm_buf_free(&t->work);
  for (int i = 0; i < t->n_regex; i++) {
    llm_regex_free(t->regex[i]);
    llm_free(t->pattern[i]);
  }
  llm_free(t->regex);
  llm_free(t->pattern);
  llm_ids_free(&t->prefix);
  llm_ids_free(&t->suffix);
  llm_tok_free_hf(t);
  llm_spans_free(&t->wsrc);
  llm_spans_free(&t->spans[0]);
  llm_spans_free(&t->spans[1]);
  llm_free(t);
}

/* The checks every definition of a token starts with. */
int llm_tok_check_settable(const llm_tokenizer *t, int32_t id, int type,
                           llm_err *err) {
  if (t->finished)
    return llm_fail(err, LLM_EINVAL, "tokenizer is already finished");
  if (type < 0 ? !t->vocab : (t->vocab || t->type != type))
    return llm_fail(err, LLM_EINVAL, "%s", type < 0 ? "not a vocabulary tokenizer"
                                           : type == LLM_TOKENIZER_SCORED
                                               ? "not a scored tokenizer"
                                               : "this tokenizer's tokens need "
                                                 "another llm_tokenizer_set function");
  if (id < 0 || id >= t->n_vocab)
    return llm_fail(err, LLM_ERANGE, "token id %d is out of range (0..%d)",
                    id, t->n_vocab - 1);
  if (t->is_set[id])
    return llm_fail(err, LLM_EINVAL, "token id %d is defined twice", id);
  return LLM_OK;
}

/* Records the piece and fields of token id (checked by the caller). */
int llm_tok_store_token(llm_tokenizer *t, int32_t id, int kind,
                       const uint8_t *bytes, size_t len, int32_t left,
                       int32_t right, int32_t rank, llm_err *err) {
  t->off[id] = t->pool.len;
  if (len && llm_buf_append(&t->pool, bytes, len))
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  t->len[id] = (uint32_t)len;
  t->kind[id] = (uint8_t)kind;
  t->left[id] = left;
  t->right[id] = right;
  t->rank[id] = rank;
  t->is_set[id] = 1;
  return LLM_OK;
}

int llm_tokenizer_set(llm_tokenizer *t, int32_t id, int kind,
                      const uint8_t *bytes, size_t len, int32_t left,
                      int32_t right, int32_t rank, llm_err *err) {
  int rc = llm_tok_check_settable(t, id, LLM_TOKENIZER_BPE, err);
  if (rc) return rc;
  if (len == 0 || len > LLM_TOKENIZER_MAX_PIECE)
    return llm_fail(err, LLM_EINVAL, "token %d has %zu bytes (1..%d allowed)",
                    id, len, LLM_TOKENIZER_MAX_PIECE);
  switch (kind) {
    case LLM_TOKEN_BYTE:
      if (len != 1)
        return llm_fail(err, LLM_EINVAL, "byte token %d must be one byte", id);
      left = right = rank = -1;
      break;
    case LLM_TOKEN_MERGE:
      if (left < 0 || left >= t->n_vocab || right < 0 ||
          right >= t->n_vocab || left == id || right == id)
        return llm_fail(err, LLM_EINVAL,
                        "merge token %d refers to invalid ids (%d, %d)", id,
                        left, right);
      if (rank < 0)
        return llm_fail(err, LLM_EINVAL, "merge token %d has rank %d", id,
                        rank);
      break;
    case LLM_TOKEN_SPECIAL:
      left = right = rank = -1;
      break;
    default:
      return llm_fail(err, LLM_EINVAL, "token %d has unknown kind %d", id,
                      kind);
  }
  return llm_tok_store_token(t, id, kind, bytes, len, left, right, rank, err);
}

/* Whether s[0..n) is "<0xXX>" for byte b, with upper-case hex digits. */
static int is_byte_piece(const uint8_t *s, size_t n, int b) {
  static const char hex[] = "0123456789ABCDEF";
  return n == 6 && !memcmp(s, "<0x", 3) && s[3] == hex[b >> 4] &&
         s[4] == hex[b & 15] && s[5] == '>';
}

static const char *scored_role(int kind) {
  return kind == LLM_TOKEN_SPECIAL ? "special (ids 0..2: <unk>, <s>, </s>)"
         : kind == LLM_TOKEN_BYTE  ? "byte-fallback (ids 3..258)"
                                   : "normal (ids 259 and up)";
}

int llm_tokenizer_set_scored(llm_tokenizer *t, int32_t id, int kind,
                             const uint8_t *bytes, size_t len, float score,
                             llm_err *err) {
  int rc = llm_tok_check_settable(t, id, LLM_TOKENIZER_SCORED, err);
  if (rc) return rc;
  int want = id < LLM_SCORED_BYTE0      ? LLM_TOKEN_SPECIAL
             : id < LLM_SCORED_MIN_VOCAB ? LLM_TOKEN_BYTE
                                         : LLM_TOKEN_NORMAL;
  if (kind != want)
    return llm_fail(err, LLM_EINVAL, "token %d must be a %s token", id,
                    scored_role(want));
  if (!isfinite(score))
    return llm_fail(err, LLM_EINVAL, "token %d has score %g (must be finite)",
                    id, (double)score);
  if (len > LLM_TOKENIZER_MAX_PIECE || (kind == LLM_TOKEN_SPECIAL && !len))
    return llm_fail(err, LLM_EINVAL, "token %d has %zu bytes (%d..%d allowed)",
                    id, len, kind == LLM_TOKEN_SPECIAL, LLM_TOKENIZER_MAX_PIECE);
  if (kind == LLM_TOKEN_BYTE &&
      !is_byte_piece(bytes, len, id - LLM_SCORED_BYTE0))
    return llm_fail(err, LLM_EINVAL,
                    "byte-fallback token %d must be \"<0x%02X>\", not \"%.*s\"",
                    id, id - LLM_SCORED_BYTE0, (int)(len < 40 ? len : 40),
                    bytes ? (const char *)bytes : "");
  t->score[id] = score;
  return llm_tok_store_token(t, id, kind, bytes, len, -1, -1, -1, err);
}


static int check_merge(llm_tokenizer *t, int32_t id, llm_err *err) {
  int32_t l = t->left[id], r = t->right[id];
  if (t->kind[l] == LLM_TOKEN_SPECIAL || t->kind[r] == LLM_TOKEN_SPECIAL)
    return llm_fail(err, LLM_EINVAL, "merge token %d uses a special token",
                    id);
  if ((uint64_t)t->len[l] + t->len[r] != t->len[id] ||
      memcmp(tok_piece(t, l), tok_piece(t, id), t->len[l]) != 0 ||
      memcmp(tok_piece(t, r), tok_piece(t, id) + t->len[l], t->len[r]) != 0)
    return llm_fail(err, LLM_EINVAL,
                    "merge token %d is not the concatenation of tokens %d "
                    "and %d",
                    id, l, r);
  int inserted = 0;
  uint64_t *v = llm_map_put(&t->merges, llm_pair_key((uint32_t)l, (uint32_t)r),
                            ((uint64_t)(uint32_t)t->rank[id] << 32) |
                                (uint32_t)id,
                            &inserted);
  if (!v) return llm_fail(err, LLM_ENOMEM, "out of memory");
  if (!inserted)
    return llm_fail(err, LLM_EINVAL, "tokens %d and %d both merge (%d, %d)",
                    (int)(uint32_t)*v, id, l, r);
  return LLM_OK;
}


static int finish_scored(llm_tokenizer *t, llm_err *err);

int llm_tokenizer_finish(llm_tokenizer *t, llm_err *err) {
  if (t->finished)
    return llm_fail(err, LLM_EINVAL, "tokenizer is already finished");
  if (t->vocab) return llm_tok_finish_vocab(t, err);
  if (t->type == LLM_TOKENIZER_SCORED) return finish_scored(t, err);
  /* A call that failed (out of memory, say) may have filled these in part:
  ** start over, so that finish can be called again. */
  llm_map_free(&t->merges);
  for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
  int n_special = 0;
  for (int32_t id = 0; id < t->n_vocab; id++) {
    if (!t->is_set[id])
      return llm_fail(err, LLM_EINVAL, "token id %d is not defined", id);
    if (t->kind[id] == LLM_TOKEN_BYTE) {
      uint8_t b = tok_piece(t, id)[0];
      if (t->byte_id[b] >= 0)
        return llm_fail(err, LLM_EINVAL,
                        "byte 0x%02x has two tokens (%d and %d)", b,
                        t->byte_id[b], id);
      t->byte_id[b] = id;
    } else if (t->kind[id] == LLM_TOKEN_SPECIAL) {
      n_special++;
    }
  }
  for (int b = 0; b < 256; b++)
    if (t->byte_id[b] < 0)
      return llm_fail(err, LLM_EINVAL, "byte 0x%02x has no token", b);
  if (llm_map_reserve(&t->merges, (size_t)t->n_vocab))
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  for (int32_t id = 0; id < t->n_vocab; id++) {
    if (t->kind[id] != LLM_TOKEN_MERGE) continue;
    int rc = check_merge(t, id, err);
    if (rc) return rc;
  }
  int rc = llm_tok_build_specials(t, n_special, err);
  if (rc) return rc;
  static const uint8_t eot[] = "<|endoftext|>";
  t->role[LLM_ROLE_BOS] = t->role[LLM_ROLE_EOS] =
      llm_tokenizer_special_id(t, eot, sizeof eot - 1);
  t->finished = 1;
  return LLM_OK;
}

/* Indexes the text of the SPECIAL and USER tokens (n_special of them,
** checked); they must differ. */
int llm_tok_build_specials(llm_tokenizer *t, int n_special, llm_err *err) {
  llm_trie_free(&t->specials);
  memset(&t->specials, 0, sizeof t->specials);
  t->n_special = t->n_user = 0;
  t->has_norm_tokens = 0;
  for (int32_t id = 0; id < t->n_vocab; id++) {
    if (!llm_tok_is_special(t->kind[id]) || !t->len[id]) continue;
    int32_t had;
    if (llm_trie_add(&t->specials, tok_piece(t, id), t->len[id], id, &had))
      return llm_fail(err, LLM_ENOMEM, "out of memory");
    if (had >= 0)
      return llm_fail(err, LLM_EINVAL, "special tokens %d and %d have the same text", had, id);
    t->n_special++;
    t->n_user += t->kind[id] == LLM_TOKEN_USER;
    if (t->tflags && (t->tflags[id] & LLM_TOKF_NORMALIZED)) t->has_norm_tokens = 1;
  }
  if (t->n_special != n_special)
    return llm_fail(err, LLM_EINVAL, "%d special tokens, expected %d", t->n_special, n_special);
  return LLM_OK;
}

/* ---- scored tokenizers: the piece index ------------------------------- */

/* Pieces are found by the hash of their bytes; keys that collide continue
** along a chain of rehashed keys (llm_map keys must not be UINT64_MAX). */
static uint64_t chain_key(uint64_t k) { return k == UINT64_MAX ? 0 : k; }
static uint64_t chain_next(uint64_t k) { return chain_key(llm_hash_u64(k + 1)); }

int32_t llm_tok_lookup(const llm_tokenizer *t, const uint8_t *s, size_t n) {
  uint64_t k = chain_key(llm_hash_bytes(s, n));
  for (size_t step = 0; step <= t->lookup.len; step++, k = chain_next(k)) {
    const uint64_t *v = llm_map_get(&t->lookup, k);
    if (!v) return -1;
    int32_t id = (int32_t)*v;
    if (t->len[id] == n && !memcmp(tok_piece(t, id), s, n)) return id;
  }
  return -1;
}

/* Indexes token id unless a lower id has the same piece; with unique, that
** is an error. */
int llm_tok_lookup_insert(llm_tokenizer *t, int32_t id, int unique,
                          llm_err *err) {
  const uint8_t *s = tok_piece(t, id);
  size_t n = t->len[id];
  uint64_t k = chain_key(llm_hash_bytes(s, n));
  for (size_t step = 0; step <= t->lookup.len; step++, k = chain_next(k)) {
    int inserted = 0;
    uint64_t *v = llm_map_put(&t->lookup, k, (uint64_t)id, &inserted);
    if (!v) return llm_fail(err, LLM_ENOMEM, "out of memory");
    if (inserted) return LLM_OK;
    int32_t other = (int32_t)*v;
    if (t->len[other] == n && !memcmp(tok_piece(t, other), s, n))
      return unique ? llm_fail(err, LLM_EINVAL, "tokens %d and %d have the same text",
                               other, id)
                    : LLM_OK;
  }
  return llm_fail(err, LLM_EINVAL, "cannot index the piece of token %d", id);
}

static int finish_scored(llm_tokenizer *t, llm_err *err) {
  llm_map_free(&t->lookup);
  llm_map_free(&t->pair_cache);
  for (int32_t id = 0; id < t->n_vocab; id++)
    if (!t->is_set[id])
      return llm_fail(err, LLM_EINVAL, "token id %d is not defined", id);
  for (int b = 0; b < 256; b++) {
    t->byte_id[b] = LLM_SCORED_BYTE0 + b;
    t->byte_text[b] = (uint8_t)b;
  }
  if (llm_map_reserve(&t->lookup, (size_t)t->n_vocab))
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  for (int32_t id = LLM_SCORED_MIN_VOCAB; id < t->n_vocab; id++) {
    int rc = llm_tok_lookup_insert(t, id, 0, err);
    if (rc) return rc;
  }
  int rc = llm_tok_build_specials(t, LLM_SCORED_BYTE0, err);
  if (rc) return rc;
  t->role[LLM_ROLE_UNK] = LLM_SCORED_UNK;
  t->role[LLM_ROLE_BOS] = LLM_SCORED_BOS;
  t->role[LLM_ROLE_EOS] = LLM_SCORED_EOS;
  t->flags = LLM_TOK_ADD_BOS;
  t->finished = 1;
  return LLM_OK;
}

int32_t llm_tokenizer_n_vocab(const llm_tokenizer *t) { return t->n_vocab; }

size_t llm_tokenizer_memory(const llm_tokenizer *t) {
  size_t n = (size_t)t->n_vocab;
  size_t per_token = 2 + 3 * sizeof(int32_t) + sizeof(uint64_t) + sizeof(uint32_t) + /* kind .. len */
                     (t->score ? sizeof(float) : 0) + (t->tflags ? 1 : 0) +
                     (t->text_off ? sizeof(uint64_t) + sizeof(uint32_t) : 0);
  size_t maps = (t->merges.cap + t->lookup.cap + t->cache.cap + t->pair_cache.cap +
                 t->specials.edges.cap) * 2 * sizeof(uint64_t);
  return sizeof *t + n * per_token + t->pool.cap + t->text.cap + t->cache_pool.cap + maps +
         t->merge_list.cap * sizeof(int32_t) + t->specials.cap * sizeof(int32_t) +
         t->scratch_cap * 5 * sizeof(int32_t) + t->heap_cap * sizeof(struct heap_item);
}
int llm_tokenizer_type(const llm_tokenizer *t) { return t->type; }

const char *llm_tokenizer_type_name(int type) {
  static const char *const names[] = {"bpe", "sentencepiece", "spm", "wordpiece"};
  return type >= 0 && type < (int)(sizeof names / sizeof names[0]) ? names[type] : NULL;
}
int llm_tokenizer_pretok(const llm_tokenizer *t) { return t->pretok; }

int llm_tok_valid_id(const llm_tokenizer *t, int32_t id) {
  return id >= 0 && id < t->n_vocab && t->is_set[id];
}

int llm_tokenizer_kind(const llm_tokenizer *t, int32_t id) {
  return llm_tok_valid_id(t, id) ? t->kind[id] : -1;
}

const uint8_t *llm_tokenizer_piece(const llm_tokenizer *t, int32_t id,
                                   size_t *len) {
  if (!llm_tok_valid_id(t, id)) {
    *len = 0;
    return NULL;
  }
  *len = t->len[id];
  return tok_piece(t, id);
}

int32_t llm_tokenizer_left(const llm_tokenizer *t, int32_t id) {
  return llm_tok_valid_id(t, id) ? t->left[id] : -1;
}
int32_t llm_tokenizer_right(const llm_tokenizer *t, int32_t id) {
  return llm_tok_valid_id(t, id) ? t->right[id] : -1;
}
int32_t llm_tokenizer_rank(const llm_tokenizer *t, int32_t id) {
  return llm_tok_valid_id(t, id) ? t->rank[id] : -1;
}

float llm_tokenizer_score(const llm_tokenizer *t, int32_t id) {
  return t->score && llm_tok_valid_id(t, id) ? t->score[id] : 0.0f;
}
int32_t llm_tokenizer_bos_id(const llm_tokenizer *t) {
  return t->type == LLM_TOKENIZER_WORDPIECE && t->role[LLM_ROLE_CLS] >= 0
             ? t->role[LLM_ROLE_CLS] : t->role[LLM_ROLE_BOS];
}
int32_t llm_tokenizer_eos_id(const llm_tokenizer *t) {
  return t->type == LLM_TOKENIZER_WORDPIECE && t->role[LLM_ROLE_SEP] >= 0
             ? t->role[LLM_ROLE_SEP] : t->role[LLM_ROLE_EOS];
}
int llm_tokenizer_is_eog(const llm_tokenizer *t, int32_t id) {
  if (id < 0) return 0;
  if (id == t->role[LLM_ROLE_EOS] || id == t->role[LLM_ROLE_EOT] || id == t->role[LLM_ROLE_EOM]) return 1;
  if (id >= t->n_vocab || llm_tokenizer_kind(t, id) != LLM_TOKEN_SPECIAL) return 0;
  /* control tokens that end a turn in the chat formats of the common
  ** models, which files do not always name as eot (llama.cpp's list) */
  static const char *const EOG[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                    "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<|return|>",
                                    "<|call|>", "<|end\xe2\x96\x81of\xe2\x96\x81sentence|>"};
  size_t len;
  const uint8_t *p = llm_tokenizer_piece(t, id, &len);
  for (size_t i = 0; p && i < sizeof EOG / sizeof EOG[0]; i++)
    if (strlen(EOG[i]) == len && !memcmp(EOG[i], p, len)) return 1;
  return 0;
}

int32_t llm_tokenizer_role(const llm_tokenizer *t, int role) {
  return role >= 0 && role < LLM_ROLE_COUNT ? t->role[role] : -1;
}
unsigned llm_tokenizer_flags(const llm_tokenizer *t) { return t->flags; }
void llm_tokenizer_set_flags(llm_tokenizer *t, unsigned flags) {
  t->flags = (flags & ~(unsigned)LLM_TOK_HF) | (t->flags & LLM_TOK_HF); /* set with the pipeline */
}
int llm_tokenizer_n_patterns(const llm_tokenizer *t) { return t->n_regex; }
const char *llm_tokenizer_pattern(const llm_tokenizer *t, int i) {
  return i >= 0 && i < t->n_regex ? t->pattern[i] : NULL;
}
int32_t llm_tokenizer_n_merges(const llm_tokenizer *t) {
  return (int32_t)(t->merge_list.len / 2);
}
void llm_tokenizer_merge_at(const llm_tokenizer *t, int32_t rank,
                            int32_t *left, int32_t *right) {
  *left = *right = -1;
  if (rank < 0 || (size_t)rank >= t->merge_list.len / 2) return;
  *left = t->merge_list.data[2 * rank];
  *right = t->merge_list.data[2 * rank + 1];
}

/* llm_trie_walk callback: remembers the match that covers all n bytes. */
static int exact_match(void *ctx, int32_t id, size_t len) {
  int32_t *want = ctx; /* [0]: the length wanted, [1]: the id found */
  if ((size_t)want[0] == len) want[1] = id;
  return 0;
}

int32_t llm_tokenizer_special_id(const llm_tokenizer *t, const uint8_t *s,
                                 size_t n) {
  if (n > LLM_TOKENIZER_MAX_PIECE) return -1;
  int32_t want[2] = {(int32_t)n, -1};
  llm_trie_walk(&t->specials, s, n, exact_match, want);
  return want[1];
}

/* ---- encoding and decoding ---------------------------------------------- */

/* A special token found in a text. */
typedef struct special_match {
  const llm_tokenizer *t;
  const uint8_t *s;
  size_t n, at;  /* the text, and where the match starts */
  int allow;     /* control tokens too, not just user-defined ones */
  int pass;      /* -1: any token; 0: not NORMALIZED ones; 1: only those */
  int32_t id;    /* the longest match so far, or -1 */
  size_t len;
} special_match;

/* Whether the character that ends just before s[at] (before) or starts at
** s[at] is a letter, a digit or '_': single-word tokens stand alone. */
static int word_char_at(const uint8_t *s, size_t n, size_t at, int before) {
  if (before) {
    if (at == 0) return 0;
    size_t b = at - 1;
    while (b > 0 && (s[b] & 0xC0) == 0x80 && at - b < 4) b--;
    at = b;
  } else if (at >= n) {
    return 0;
  }
  int len;
  int32_t cp = llm_utf8_decode(s + at, n - at, &len);
  return cp == '_' || llm_uni_is_letter(cp) || llm_uni_is_number(cp);
}

static int take_match(void *ctx, int32_t id, size_t len) {
  special_match *m = ctx;
  const llm_tokenizer *t = m->t;
  if (!m->allow && t->kind[id] != LLM_TOKEN_USER) return 0;
  int normalized = t->tflags && (t->tflags[id] & LLM_TOKF_NORMALIZED) ? 1 : 0;
  if (m->pass >= 0 && normalized != m->pass) return 0;
  if (t->tflags && (t->tflags[id] & LLM_TOKF_SINGLE_WORD) &&
      (word_char_at(m->s, m->n, m->at, 1) || word_char_at(m->s, m->n, m->at + len, 0)))
    return 0;
  m->id = id;
  m->len = len;
  return 0;
}

/* The first special token in s[pos..n) (only user-defined ones unless
** allow_special), the longest at that place: its offset (n when none), id
** and length in *m. */
static size_t find_special(const llm_tokenizer *t, const uint8_t *s, size_t n,
                           size_t pos, int allow_special, int pass, special_match *m) {
  m->t = t;
  m->s = s;
  m->n = n;
  m->allow = allow_special;
  m->pass = pass;
  m->id = -1;
  for (size_t at = pos; at < n; at++) {
    if (!t->specials.first[s[at]]) continue;
    m->at = at;
    llm_trie_walk(&t->specials, s + at, n - at, take_match, m);
    if (m->id >= 0) return at;
  }
  return n;
}

int llm_tok_next_special(const llm_tokenizer *t, const uint8_t *s, size_t n, size_t pos, int normalized,
                         int32_t *id, size_t *text_end, size_t *at, size_t *next);

/* Whitespace before end (not before start) that an LSTRIP token takes, or
** after start that an RSTRIP one takes: the new boundary. */
static size_t skip_space(const uint8_t *s, size_t n, size_t at, size_t limit, int back) {
  while (back ? at > limit : at < n) {
    size_t c = at;
    if (back) {
      c = at - 1;
      while (c > limit && (s[c] & 0xC0) == 0x80 && at - c < 4) c--;
    }
    int len;
    int32_t cp = llm_utf8_decode(s + c, n - c, &len);
    if (!llm_uni_is_space(cp)) break;
    at = back ? c : at + (size_t)len;
  }
  return at;
}

int llm_tok_next_special(const llm_tokenizer *t, const uint8_t *s, size_t n, size_t pos, int normalized,
                         int32_t *id, size_t *text_end, size_t *at, size_t *next) {
  special_match m = {0};
  /* without a normalizer, NORMALIZED tokens are looked for in the text too */
  int pass = normalized ? 1 : t->hf_norm && t->has_norm_tokens ? 0 : -1;
  *at = find_special(t, s, n, pos, t->allow_now, pass, &m);
  *id = m.id;
  if (m.id < 0) {
    *text_end = *next = n;
    return 0;
  }
  unsigned tf = t->tflags ? t->tflags[m.id] : 0;
  *text_end = tf & LLM_TOKF_LSTRIP ? skip_space(s, n, *at, pos, 1) : *at;
  *next = *at + m.len;
  if (tf & LLM_TOKF_RSTRIP) *next = skip_space(s, n, *next, n, 0);
  return 1;
}

/* Encodes text with no special tokens in it, found at offset base of the
** whole text; prefix: it starts a text or follows a special token
** (SentencePiece's dummy prefix goes there). */
static int encode_plain(llm_tokenizer *t, const uint8_t *s, size_t n, size_t base,
                        int prefix, llm_ids *out) {
  if (t->flags & LLM_TOK_HF) return llm_tok_encode_hf(t, s, n, base, out);
  switch (t->type) {
    case LLM_TOKENIZER_SCORED: return llm_tok_encode_scored(t, s, n, prefix, out);
    case LLM_TOKENIZER_SPM: return llm_tok_encode_spm(t, s, n, prefix, out);
    case LLM_TOKENIZER_WORDPIECE: return llm_tok_encode_wpm(t, s, n, base, out);
    default: return llm_tok_encode_bpe(t, s, n, out);
  }
}

/* Records the span of each id out->data[k0..) when spans are wanted. */
static int record_fixed(llm_tokenizer *t, const llm_ids *out, size_t k0, size_t start, size_t end) {
  for (size_t k = k0; t->rec && k < out->len; k++)
    if (llm_spans_push(t->rec, start, end)) return LLM_ENOMEM;
  return LLM_OK;
}

/* Lossless tokenizers: each id stands for its decoded text, in order,
** from base (SentencePiece's dummy prefix stands for nothing). */
static int record_by_text(llm_tokenizer *t, const llm_ids *out, size_t k0, size_t base, size_t end) {
  size_t at = base;
  for (size_t k = k0; k < out->len; k++) {
    size_t len;
    llm_tokenizer_token_text(t, k ? out->data[k - 1] : -1, out->data[k], &len);
    size_t e = at + len < end ? at + len : end;
    if (llm_spans_push(t->rec, at, e)) return LLM_ENOMEM;
    at = e;
  }
  return LLM_OK;
}

static int encode_all(llm_tokenizer *t, const uint8_t *s, size_t n, int flags,
                      llm_ids *out) {
  int allow = flags & LLM_ENCODE_ALLOW_SPECIAL, rc = LLM_OK, prefix = 1;
  int32_t bos = llm_tokenizer_bos_id(t), eos = llm_tokenizer_eos_id(t);
  int add = flags & LLM_ENCODE_ADD_SPECIAL;
  if (add && t->has_template) {
    for (size_t i = 0; i < t->prefix.len && !rc; i++) rc = llm_ids_push(out, t->prefix.data[i]);
  } else if (add && (t->flags & LLM_TOK_ADD_BOS) && bos >= 0) {
    rc = llm_ids_push(out, bos);
  }
  if (!rc) rc = record_fixed(t, out, 0, 0, 0);
  size_t pos = 0;
  t->allow_now = allow;
  while (pos < n && rc == LLM_OK) {
    int32_t sid = -1;
    size_t text_end = n, at = n, next = n;
    if (allow ? t->n_special : t->n_user) llm_tok_next_special(t, s, n, pos, 0, &sid, &text_end, &at, &next);
    size_t k0 = out->len;
    if (text_end > pos) rc = encode_plain(t, s + pos, text_end - pos, pos, prefix, out);
    /* HF pipelines and WordPiece record their own spans (they rewrite text) */
    if (!rc && t->rec && !(t->flags & LLM_TOK_HF) && t->type != LLM_TOKENIZER_WORDPIECE)
      rc = record_by_text(t, out, k0, pos, text_end);
    if (rc == LLM_OK && sid >= 0) {
      rc = llm_ids_push(out, sid);
      if (!rc) rc = record_fixed(t, out, out->len - 1, at, at + t->len[sid]);
      /* llama2.c puts the dummy prefix back only after <s>; llama.cpp after
      ** every special token */
      prefix = t->type != LLM_TOKENIZER_SCORED || sid == t->role[LLM_ROLE_BOS];
    }
    pos = next;
  }
  size_t k0 = out->len;
  if (add && t->has_template) {
    for (size_t i = 0; i < t->suffix.len && !rc; i++) rc = llm_ids_push(out, t->suffix.data[i]);
  } else if (rc == LLM_OK && add && (t->flags & LLM_TOK_ADD_EOS) && eos >= 0) {
    rc = llm_ids_push(out, eos);
  }
  if (!rc) rc = record_fixed(t, out, k0, n, n);
  return rc;
}

int llm_tokenizer_encode(llm_tokenizer *t, const uint8_t *s, size_t n,
                         int flags, llm_ids *out, llm_err *err) {
  if (!t->finished)
    return llm_fail(err, LLM_EINVAL, "tokenizer is not finished");
  int rc = encode_all(t, s, n, flags, out);
  if (rc == LLM_ERANGE)
    return llm_fail(err, rc, "a text of %zu bytes is too long to encode", n);
  if (rc == LLM_ENOMEM)
    return llm_fail(err, rc, "out of memory while encoding %zu bytes", n);
  if (rc) return llm_fail(err, rc, "the pre-tokenizer's pattern failed on a text of %zu bytes", n);
  return LLM_OK;
}

/* Whether a decoded text drops the leading space of this token's text:
** SentencePiece-style tokenizers add one when encoding at the start and
** after <s> (llama2.c) or any special token (llama.cpp). */
static int drops_space(const llm_tokenizer *t, int32_t prev) {
  if (t->type == LLM_TOKENIZER_SCORED) return prev < 0 || prev == t->role[LLM_ROLE_BOS];
  if (t->type == LLM_TOKENIZER_WORDPIECE || (t->flags & LLM_TOK_ADD_SPACE_PREFIX))
    return prev < 0 || (llm_tok_valid_id(t, prev) && llm_tok_is_special(t->kind[prev]));
  return 0;
}

int llm_tokenizer_encode_spans(llm_tokenizer *t, const uint8_t *s, size_t n, int flags,
                               llm_ids *out, llm_spans *spans, llm_err *err) {
  size_t k0 = out->len;
  spans->len = 0;
  t->rec = spans;
  int rc = llm_tokenizer_encode(t, s, n, flags, out, err);
  t->rec = NULL;
  if (!rc && spans->len != out->len - k0)
    return llm_fail(err, LLM_EINVAL, "%zu offsets for %zu tokens (a bug: please report it)", spans->len,
                    out->len - k0);
  return rc;
}

/* The text of id, without its leading space when drop. */
static const uint8_t *text_of(const llm_tokenizer *t, int drop, int32_t id, size_t *len) {
  if (!llm_tok_valid_id(t, id)) {
    *len = 0;
    return NULL;
  }
  const uint8_t *p;
  size_t n;
  if (t->vocab) {
    p = t->text.data + t->text_off[id];
    n = t->text_len[id];
  } else if (t->type == LLM_TOKENIZER_SCORED && t->kind[id] == LLM_TOKEN_BYTE) {
    p = &t->byte_text[id - LLM_SCORED_BYTE0];
    n = 1;
  } else {
    p = tok_piece(t, id);
    n = t->len[id];
  }
  if (!llm_tok_is_special(t->kind[id]) && n && p[0] == ' ' && drop) {
    p++;
    n--;
  }
  *len = n;
  return p;
}

const uint8_t *llm_tokenizer_token_text(const llm_tokenizer *t, int32_t prev,
                                        int32_t id, size_t *len) {
  return text_of(t, drops_space(t, prev), id, len);
}

const uint8_t *llm_tokenizer_token_text_mid(const llm_tokenizer *t, int32_t id, size_t *len) {
  return text_of(t, 0, id, len);
}

static int decode_one(const llm_tokenizer *t, int32_t prev, int32_t id,
                      size_t at, llm_buf *out, llm_err *err) {
  size_t n;
  const uint8_t *p = llm_tokenizer_token_text(t, prev, id, &n);
  if (!p)
    return llm_fail(err, LLM_ERANGE,
                    "token id %d at position %zu is out of range (0..%d)", id,
                    at, t->n_vocab - 1);
  if (llm_buf_append(out, p, n))
    return llm_fail(err, LLM_ENOMEM, "out of memory while decoding");
  return LLM_OK;
}

int llm_tokenizer_decode_next(const llm_tokenizer *t, int32_t prev,
                              int32_t id, llm_buf *out, llm_err *err) {
  return decode_one(t, prev, id, 0, out, err);
}

int llm_tokenizer_decode(const llm_tokenizer *t, const int32_t *ids, size_t n,
                         llm_buf *out, llm_err *err) {
  if (t->hf_dec) return llm_tok_decode_hf(t, ids, n, out, err);
  for (size_t i = 0; i < n; i++) {
    int rc = decode_one(t, i ? ids[i - 1] : -1, ids[i], i, out, err);
    if (rc) return rc;
  }
  return LLM_OK;
}
