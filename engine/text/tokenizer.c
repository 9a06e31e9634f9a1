/*
** tokenizer.c: byte-level BPE and scored (SentencePiece-style) encode and
** decode (see tokenizer.h).
**
** Encoding is the hot path. Pre-tokenized pieces repeat a lot in natural
** text, so finished pieces are memoised in a bounded cache. A piece is
** merged by one of two equivalent procedures: short pieces keep an array of
** pair ranks and rescan it (cheap and cache-friendly), long ones use a heap
** of candidate pairs over a linked list so that a megabyte without spaces
** still encodes in O(n log n) rather than O(n^2).
**
** Scored tokenizers merge the whole text as one sequence, as llama2.c does,
** with a heap of candidate pairs (best score first, leftmost on ties) over
** a linked list, invalidated lazily by version stamps; what a pair merges
** into is found by hashing the concatenated pieces, and remembered in a
** bounded pair cache.
*/
#include "text/tokenizer.h"

#include <math.h>
#include <string.h>

#include "hashmap.h"
#include "text/pretok.h"

/* Pieces up to this length are merged by rescanning; longer ones by heap. */
#define SHORT_PIECE 96
/* Pieces up to this length are memoised. */
#define CACHE_PIECE 64
/* The cache is emptied when its storage passes this many bytes. */
#define CACHE_BYTES (8u << 20)
#define NO_RANK INT32_MAX
/* The pair cache of scored tokenizers is emptied past this many entries. */
#define PAIR_CACHE_MAX (1u << 20)
/* run.c starts its search for the best pair at this score: a pair must
** score strictly more to merge. */
#define MIN_MERGE_SCORE (-1e10f)

struct llm_tokenizer {
  int32_t n_vocab;
  int type; /* LLM_TOKENIZER_BPE or LLM_TOKENIZER_SCORED */
  int pretok;
  int finished;
  int32_t bos_id, eos_id;
  uint8_t *kind;
  uint8_t *is_set;
  int32_t *left, *right, *rank;
  uint64_t *off; /* piece bytes: pool.data + off[id], length len[id] */
  uint32_t *len;
  llm_buf pool;
  int32_t byte_id[256];
  llm_map merges; /* pair key -> (rank << 32) | merged id */
  int32_t *specials; /* special ids, longest text first */
  int n_special;
  llm_map cache;     /* hash of piece -> offset of its entry in cache_pool */
  llm_buf cache_pool; /* entries, see cache_pad() */
  /* Scratch reused across calls to avoid per-piece allocation. */
  int32_t *sym, *prev, *next, *ver;
  int32_t *pair_rank;
  size_t scratch_cap;
  struct heap_item *heap;
  size_t heap_cap;
  /* Scored tokenizers only. */
  float *score;
  llm_map lookup;     /* hash chain of a NORMAL piece -> lowest id with it */
  llm_map pair_cache; /* pair key -> merged id + 1, or 0: no merge */
  uint8_t byte_text[256];
};

/* A candidate merge, for both kinds: nodes pos and next[pos] into id, with
** priority key (higher first: minus the rank for BPE, the score for scored
** tokenizers; a double holds both exactly), valid while ver[pos] == ver. */
struct heap_item {
  double key;
  int32_t pos, ver, id;
};

static int alloc_tokenizer(llm_tokenizer **out, int32_t n_vocab, int type,
                           int pretok_mode, llm_err *err) {
  llm_tokenizer *t = llm_calloc(1, sizeof *t);
  if (!t) return llm_fail(err, LLM_ENOMEM, "out of memory");
  t->n_vocab = n_vocab;
  t->type = type;
  t->pretok = pretok_mode;
  t->bos_id = t->eos_id = -1;
  size_t n = (size_t)n_vocab;
  if (type == LLM_TOKENIZER_SCORED && !(t->score = llm_calloc(n, sizeof(float)))) {
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
  llm_free(t->specials);
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
  llm_free(t);
}

/* The checks every definition of a token starts with. */
static int check_settable(const llm_tokenizer *t, int32_t id, int type,
                          llm_err *err) {
  if (t->finished)
    return llm_fail(err, LLM_EINVAL, "tokenizer is already finished");
  if (t->type != type)
    return llm_fail(err, LLM_EINVAL, "%s", type == LLM_TOKENIZER_SCORED
                                               ? "not a scored tokenizer"
                                               : "a scored tokenizer's tokens "
                                                 "need llm_tokenizer_set_scored");
  if (id < 0 || id >= t->n_vocab)
    return llm_fail(err, LLM_ERANGE, "token id %d is out of range (0..%d)",
                    id, t->n_vocab - 1);
  if (t->is_set[id])
    return llm_fail(err, LLM_EINVAL, "token id %d is defined twice", id);
  return LLM_OK;
}

/* Records the piece and fields of token id (checked by the caller). */
static int store_token(llm_tokenizer *t, int32_t id, int kind,
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
  int rc = check_settable(t, id, LLM_TOKENIZER_BPE, err);
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
  return store_token(t, id, kind, bytes, len, left, right, rank, err);
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
  int rc = check_settable(t, id, LLM_TOKENIZER_SCORED, err);
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
  return store_token(t, id, kind, bytes, len, -1, -1, -1, err);
}

static const uint8_t *piece(const llm_tokenizer *t, int32_t id) {
  return t->pool.data + t->off[id];
}

static int check_merge(llm_tokenizer *t, int32_t id, llm_err *err) {
  int32_t l = t->left[id], r = t->right[id];
  if (t->kind[l] == LLM_TOKEN_SPECIAL || t->kind[r] == LLM_TOKEN_SPECIAL)
    return llm_fail(err, LLM_EINVAL, "merge token %d uses a special token",
                    id);
  if ((uint64_t)t->len[l] + t->len[r] != t->len[id] ||
      memcmp(piece(t, l), piece(t, id), t->len[l]) != 0 ||
      memcmp(piece(t, r), piece(t, id) + t->len[l], t->len[r]) != 0)
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

static int cmp_special_len(const llm_tokenizer *t, int32_t a, int32_t b) {
  return t->len[a] != t->len[b] ? (t->len[a] > t->len[b] ? -1 : 1)
                                 : (a < b ? -1 : a > b);
}

static int build_specials(llm_tokenizer *t, int n_special, llm_err *err);
static int finish_scored(llm_tokenizer *t, llm_err *err);

int llm_tokenizer_finish(llm_tokenizer *t, llm_err *err) {
  if (t->finished)
    return llm_fail(err, LLM_EINVAL, "tokenizer is already finished");
  if (t->type == LLM_TOKENIZER_SCORED) return finish_scored(t, err);
  /* A call that failed (out of memory, say) may have filled these in part:
  ** start over, so that finish can be called again. */
  llm_map_free(&t->merges);
  llm_free(t->specials);
  t->specials = NULL;
  t->n_special = 0;
  for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
  int n_special = 0;
  for (int32_t id = 0; id < t->n_vocab; id++) {
    if (!t->is_set[id])
      return llm_fail(err, LLM_EINVAL, "token id %d is not defined", id);
    if (t->kind[id] == LLM_TOKEN_BYTE) {
      uint8_t b = piece(t, id)[0];
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
  int rc = build_specials(t, n_special, err);
  if (rc) return rc;
  static const uint8_t eot[] = "<|endoftext|>";
  t->bos_id = t->eos_id = llm_tokenizer_special_id(t, eot, sizeof eot - 1);
  t->finished = 1;
  return LLM_OK;
}

/* Lists the n_special SPECIAL tokens, longest text first; they must differ. */
static int build_specials(llm_tokenizer *t, int n_special, llm_err *err) {
  if (n_special) {
    t->specials = llm_malloc((size_t)n_special * sizeof(int32_t));
    if (!t->specials) return llm_fail(err, LLM_ENOMEM, "out of memory");
    for (int32_t id = 0; id < t->n_vocab; id++) {
      if (t->kind[id] != LLM_TOKEN_SPECIAL) continue;
      /* insertion sort: there are few special tokens */
      int j = t->n_special++;
      while (j > 0 && cmp_special_len(t, t->specials[j - 1], id) > 0) {
        t->specials[j] = t->specials[j - 1];
        j--;
      }
      t->specials[j] = id;
    }
    for (int i = 1; i < t->n_special; i++) {
      int32_t a = t->specials[i - 1], b = t->specials[i];
      if (t->len[a] == t->len[b] && !memcmp(piece(t, a), piece(t, b), t->len[a]))
        return llm_fail(err, LLM_EINVAL,
                        "special tokens %d and %d have the same text", a, b);
    }
  }
  return LLM_OK;
}

/* ---- scored tokenizers: the piece index ------------------------------- */

/* Pieces are found by the hash of their bytes; keys that collide continue
** along a chain of rehashed keys (llm_map keys must not be UINT64_MAX). */
static uint64_t chain_key(uint64_t k) { return k == UINT64_MAX ? 0 : k; }
static uint64_t chain_next(uint64_t k) { return chain_key(llm_hash_u64(k + 1)); }

/* The lowest NORMAL id whose piece is s[0..n), or -1. */
static int32_t lookup_piece(const llm_tokenizer *t, const uint8_t *s,
                            size_t n) {
  uint64_t k = chain_key(llm_hash_bytes(s, n));
  for (size_t step = 0; step <= t->lookup.len; step++, k = chain_next(k)) {
    const uint64_t *v = llm_map_get(&t->lookup, k);
    if (!v) return -1;
    int32_t id = (int32_t)*v;
    if (t->len[id] == n && !memcmp(piece(t, id), s, n)) return id;
  }
  return -1;
}

/* Indexes token id unless a lower id has the same piece. */
static int lookup_insert(llm_tokenizer *t, int32_t id, llm_err *err) {
  const uint8_t *s = piece(t, id);
  size_t n = t->len[id];
  uint64_t k = chain_key(llm_hash_bytes(s, n));
  for (size_t step = 0; step <= t->lookup.len; step++, k = chain_next(k)) {
    int inserted = 0;
    uint64_t *v = llm_map_put(&t->lookup, k, (uint64_t)id, &inserted);
    if (!v) return llm_fail(err, LLM_ENOMEM, "out of memory");
    if (inserted) return LLM_OK;
    int32_t other = (int32_t)*v;
    if (t->len[other] == n && !memcmp(piece(t, other), s, n)) return LLM_OK;
  }
  return llm_fail(err, LLM_EINVAL, "cannot index the piece of token %d", id);
}

static int finish_scored(llm_tokenizer *t, llm_err *err) {
  llm_map_free(&t->lookup);
  llm_map_free(&t->pair_cache);
  llm_free(t->specials);
  t->specials = NULL;
  t->n_special = 0;
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
    int rc = lookup_insert(t, id, err);
    if (rc) return rc;
  }
  int rc = build_specials(t, LLM_SCORED_BYTE0, err);
  if (rc) return rc;
  t->bos_id = LLM_SCORED_BOS;
  t->eos_id = LLM_SCORED_EOS;
  t->finished = 1;
  return LLM_OK;
}

int32_t llm_tokenizer_n_vocab(const llm_tokenizer *t) { return t->n_vocab; }
int llm_tokenizer_type(const llm_tokenizer *t) { return t->type; }
int llm_tokenizer_pretok(const llm_tokenizer *t) { return t->pretok; }

static int valid_id(const llm_tokenizer *t, int32_t id) {
  return id >= 0 && id < t->n_vocab && t->is_set[id];
}

int llm_tokenizer_kind(const llm_tokenizer *t, int32_t id) {
  return valid_id(t, id) ? t->kind[id] : -1;
}

const uint8_t *llm_tokenizer_piece(const llm_tokenizer *t, int32_t id,
                                   size_t *len) {
  if (!valid_id(t, id)) {
    *len = 0;
    return NULL;
  }
  *len = t->len[id];
  return piece(t, id);
}

int32_t llm_tokenizer_left(const llm_tokenizer *t, int32_t id) {
  return valid_id(t, id) ? t->left[id] : -1;
}
int32_t llm_tokenizer_right(const llm_tokenizer *t, int32_t id) {
  return valid_id(t, id) ? t->right[id] : -1;
}
int32_t llm_tokenizer_rank(const llm_tokenizer *t, int32_t id) {
  return valid_id(t, id) ? t->rank[id] : -1;
}

float llm_tokenizer_score(const llm_tokenizer *t, int32_t id) {
  return t->score && valid_id(t, id) ? t->score[id] : 0.0f;
}
int32_t llm_tokenizer_bos_id(const llm_tokenizer *t) { return t->bos_id; }
int32_t llm_tokenizer_eos_id(const llm_tokenizer *t) { return t->eos_id; }

int32_t llm_tokenizer_special_id(const llm_tokenizer *t, const uint8_t *s,
                                 size_t n) {
  for (int i = 0; i < t->n_special; i++) {
    int32_t id = t->specials[i];
    if (t->len[id] == n && !memcmp(piece(t, id), s, n)) return id;
  }
  return -1;
}

/* ---- merging one piece ------------------------------------------------ */

/* The rank and result of merging the pair (a, b), or NO_RANK. */
static inline int32_t pair_rank(const llm_tokenizer *t, int32_t a, int32_t b,
                                int32_t *merged) {
  const uint64_t *v = llm_map_get(&t->merges, llm_pair_key((uint32_t)a, (uint32_t)b));
  *merged = -1;
  if (!v) return NO_RANK;
  *merged = (int32_t)(uint32_t)*v;
  return (int32_t)(*v >> 32);
}

static int reserve_scratch(llm_tokenizer *t, size_t n) {
  if (n <= t->scratch_cap) return LLM_OK;
  size_t cap = t->scratch_cap ? t->scratch_cap : 256;
  while (cap < n) cap *= 2;
  int32_t **arrays[] = {&t->sym, &t->prev, &t->next, &t->ver, &t->pair_rank};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
    int32_t *p = llm_realloc(*arrays[i], cap * sizeof(int32_t));
    if (!p) return LLM_ENOMEM;
    *arrays[i] = p;
  }
  t->scratch_cap = cap;
  return LLM_OK;
}

/* Merges sym[0..n) in place by rescanning the pair ranks; returns the new
** length. */
static size_t merge_short(const llm_tokenizer *t, int32_t *sym, int32_t *rk,
                          size_t n) {
  int32_t merged;
  for (size_t i = 0; i + 1 < n; i++) rk[i] = pair_rank(t, sym[i], sym[i + 1], &merged);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; i++)
      if (rk[i] < rk[best]) best = i;
    if (rk[best] == NO_RANK) break;
    pair_rank(t, sym[best], sym[best + 1], &merged);
    sym[best] = merged;
    /* drop symbol best+1 and the rank of the pair that started there */
    memmove(sym + best + 1, sym + best + 2, (n - best - 2) * sizeof *sym);
    if (n >= best + 3)
      memmove(rk + best + 1, rk + best + 2, (n - best - 3) * sizeof *rk);
    n--;
    if (best + 1 < n) rk[best] = pair_rank(t, sym[best], sym[best + 1], &merged);
    if (best > 0) rk[best - 1] = pair_rank(t, sym[best - 1], sym[best], &merged);
  }
  return n;
}

/* Better: the higher key, then further left (the leftmost among equals,
** as a left-to-right scan finds it). */
static int heap_less(const struct heap_item *a, const struct heap_item *b) {
  return a->key != b->key ? a->key > b->key : a->pos < b->pos;
}

static int heap_push(llm_tokenizer *t, size_t *n, struct heap_item it) {
  if (llm_grow((void **)&t->heap, &t->heap_cap, *n + 1, sizeof it))
    return LLM_ENOMEM;
  size_t i = (*n)++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!heap_less(&it, &t->heap[p])) break;
    t->heap[i] = t->heap[p];
    i = p;
  }
  t->heap[i] = it;
  return LLM_OK;
}

static struct heap_item heap_pop(llm_tokenizer *t, size_t *n) {
  struct heap_item top = t->heap[0], last = t->heap[--*n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= *n) break;
    if (c + 1 < *n && heap_less(&t->heap[c + 1], &t->heap[c])) c++;
    if (!heap_less(&t->heap[c], &last)) break;
    t->heap[i] = t->heap[c];
    i = c;
  }
  if (*n) t->heap[i] = last;
  return top;
}

/* The merge of symbols a then b: 1 and its id and priority, or 0. */
typedef int (*merge_fn)(llm_tokenizer *t, int32_t a, int32_t b, int32_t *id, double *key);

static int bpe_merge(llm_tokenizer *t, int32_t a, int32_t b, int32_t *id, double *key) {
  int32_t r = pair_rank(t, a, b, id);
  *key = -(double)r;
  return r != NO_RANK;
}

/* Pushes the merge of node i with its right neighbour, if there is one. */
static int push_pair(llm_tokenizer *t, merge_fn fn, size_t *hn, int32_t i) {
  int32_t j = t->next[i];
  struct heap_item it = {0, i, t->ver[i], -1};
  if (j < 0 || !fn(t, t->sym[i], t->sym[j], &it.id, &it.key)) return LLM_OK;
  return heap_push(t, hn, it);
}

/* Merges sym[0..n), the best pair first, with a heap over a linked list;
** compacts the result into sym and returns its length via *out_n. A node's
** version changes whenever it or its right neighbour does, which makes
** older heap items stale. */
static int merge_heap(llm_tokenizer *t, merge_fn fn, size_t n, size_t *out_n) {
  int32_t *sym = t->sym, *prev = t->prev, *next = t->next, *ver = t->ver;
  for (size_t i = 0; i < n; i++) {
    prev[i] = (int32_t)i - 1;
    next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    ver[i] = 0;
  }
  size_t hn = 0;
  for (size_t i = 0; i + 1 < n; i++)
    if (push_pair(t, fn, &hn, (int32_t)i)) return LLM_ENOMEM;
  while (hn) {
    struct heap_item it = heap_pop(t, &hn);
    int32_t i = it.pos;
    if (sym[i] < 0 || ver[i] != it.ver) continue; /* stale */
    int32_t j = next[i];
    sym[i] = it.id;
    sym[j] = -1;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    ver[i]++;
    if (push_pair(t, fn, &hn, i)) return LLM_ENOMEM;
    if (prev[i] >= 0) {
      ver[prev[i]]++;
      if (push_pair(t, fn, &hn, prev[i])) return LLM_ENOMEM;
    }
  }
  size_t m = 0;
  for (int32_t i = n ? 0 : -1; i >= 0; i = next[i]) sym[m++] = sym[i];
  *out_n = m;
  return LLM_OK;
}

/* ---- the piece cache ---------------------------------------------------- */

/* Entry layout: u32 len, the bytes, zero padding to 4-byte alignment, u32
** n_ids, int32 ids[n_ids]; so ids can be read in place. */
static size_t cache_pad(size_t n) { return (4 - (n & 3)) & 3; }

static const int32_t *cache_find(const llm_tokenizer *t, const uint8_t *s,
                                 size_t n, uint64_t h, uint32_t *n_ids) {
  const uint64_t *v = llm_map_get(&t->cache, h);
  if (!v) return NULL;
  const uint8_t *e = t->cache_pool.data + *v;
  uint32_t len;
  memcpy(&len, e, 4);
  if (len != n || memcmp(e + 4, s, n)) return NULL;
  size_t ids_at = 4 + n + cache_pad(n);
  memcpy(n_ids, e + ids_at, 4);
  return (const int32_t *)(e + ids_at + 4);
}

static void cache_store(llm_tokenizer *t, const uint8_t *s, size_t n,
                        uint64_t h, const int32_t *ids, uint32_t n_ids) {
  if (t->cache_pool.len > CACHE_BYTES) {
    llm_map_free(&t->cache);
    t->cache_pool.len = 0;
  }
  size_t pad = cache_pad(n);
  size_t at = t->cache_pool.len;
  uint32_t len = (uint32_t)n;
  static const uint8_t zeros[4] = {0};
  int inserted = 0;
  uint64_t *v = llm_map_put(&t->cache, h, at, &inserted);
  if (!v || !inserted) return; /* a colliding entry stays; this one is not cached */
  if (llm_buf_append(&t->cache_pool, &len, 4) ||
      llm_buf_append(&t->cache_pool, s, n) ||
      llm_buf_append(&t->cache_pool, zeros, pad) ||
      llm_buf_append(&t->cache_pool, &n_ids, 4) ||
      llm_buf_append(&t->cache_pool, ids, n_ids * sizeof *ids)) {
    /* out of memory: forget the cache entirely; encoding still works */
    llm_map_free(&t->cache);
    t->cache_pool.len = 0;
  }
}

/* Encodes one pre-tokenized piece. */
static int encode_piece(llm_tokenizer *t, const uint8_t *s, size_t n,
                        llm_ids *out) {
  if (n == 1) return llm_ids_push(out, t->byte_id[s[0]]);
  uint64_t h = 0;
  if (n <= CACHE_PIECE) {
    h = llm_hash_bytes(s, n);
    uint32_t n_ids;
    const int32_t *ids = cache_find(t, s, n, h, &n_ids);
    if (ids) {
      for (uint32_t i = 0; i < n_ids; i++)
        if (llm_ids_push(out, ids[i])) return LLM_ENOMEM;
      return LLM_OK;
    }
  }
  if (reserve_scratch(t, n)) return LLM_ENOMEM;
  for (size_t i = 0; i < n; i++) t->sym[i] = t->byte_id[s[i]];
  size_t m;
  if (n <= SHORT_PIECE) {
    m = merge_short(t, t->sym, t->pair_rank, n);
  } else if (merge_heap(t, bpe_merge, n, &m)) {
    return LLM_ENOMEM;
  }
  if (n <= CACHE_PIECE) cache_store(t, s, n, h, t->sym, (uint32_t)m);
  for (size_t i = 0; i < m; i++)
    if (llm_ids_push(out, t->sym[i])) return LLM_ENOMEM;
  return LLM_OK;
}

/* Encodes ordinary text (no special tokens recognised). */
static int encode_text(llm_tokenizer *t, const uint8_t *s, size_t n,
                       llm_ids *out) {
  size_t pos = 0;
  while (pos < n) {
    size_t end = llm_pretok_next(t->pretok, s, n, pos);
    int rc = encode_piece(t, s + pos, end - pos, out);
    if (rc) return rc;
    pos = end;
  }
  return LLM_OK;
}

/* Finds the first occurrence at or after pos of any special token's text
** (the longest at that place). Returns its offset or n; sets *id. */
static size_t find_special(const llm_tokenizer *t, const uint8_t *s, size_t n,
                           size_t pos, int32_t *id) {
  size_t best = n;
  *id = -1;
  for (int i = 0; i < t->n_special; i++) {
    int32_t sid = t->specials[i];
    const uint8_t *hit = memmem(s + pos, n - pos, piece(t, sid), t->len[sid]);
    if (!hit) continue;
    size_t at = (size_t)(hit - s);
    if (at < best) { /* specials are longest first: ties keep the longer */
      best = at;
      *id = sid;
    }
  }
  return best;
}

/* ---- scored tokenizers: encoding ---------------------------------------- */

/* The NORMAL token whose piece is the concatenation of a's and b's and
** whose score is high enough to merge, or -1. */
static int32_t pair_merge(llm_tokenizer *t, int32_t a, int32_t b) {
  if (t->kind[a] != LLM_TOKEN_NORMAL || t->kind[b] != LLM_TOKEN_NORMAL)
    return -1;
  uint64_t key = llm_pair_key((uint32_t)a, (uint32_t)b);
  const uint64_t *v = llm_map_get(&t->pair_cache, key);
  if (v) return (int32_t)*v - 1;
  uint8_t cat[2 * LLM_TOKENIZER_MAX_PIECE];
  size_t la = t->len[a], lb = t->len[b];
  memcpy(cat, piece(t, a), la);
  memcpy(cat + la, piece(t, b), lb);
  int32_t id = lookup_piece(t, cat, la + lb);
  if (id >= 0 && !(t->score[id] > MIN_MERGE_SCORE)) id = -1;
  if (t->pair_cache.len >= PAIR_CACHE_MAX) llm_map_free(&t->pair_cache);
  int inserted; /* out of memory: the result is just not remembered */
  llm_map_put(&t->pair_cache, key, (uint64_t)(id + 1), &inserted);
  return id;
}

static int scored_merge(llm_tokenizer *t, int32_t a, int32_t b, int32_t *id, double *key) {
  *id = pair_merge(t, a, b);
  if (*id < 0) return 0;
  *key = t->score[*id];
  return 1;
}

/* Fills sym with the dummy prefix (when asked) and the text's groups: a
** byte and up to three continuation bytes after it, looked up as one
** piece, else as byte-fallback tokens. Returns the number of symbols. */
static size_t scored_symbols(llm_tokenizer *t, const uint8_t *s, size_t n,
                             int prefix) {
  size_t k = 0;
  if (prefix) {
    int32_t sp = lookup_piece(t, (const uint8_t *)" ", 1);
    t->sym[k++] = sp >= 0 ? sp : t->byte_id[' '];
  }
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && j - i < 4 && (s[j] & 0xC0) == 0x80) j++;
    int32_t id = lookup_piece(t, s + i, j - i);
    if (id >= 0) {
      t->sym[k++] = id;
      i = j;
    } else {
      for (; i < j; i++) t->sym[k++] = t->byte_id[s[i]];
    }
  }
  return k;
}

/* Encodes plain text (no special tokens); empty text gives nothing, other
** text a dummy prefix first when prefix is set. */
static int encode_scored_text(llm_tokenizer *t, const uint8_t *s, size_t n,
                              int prefix, llm_ids *out) {
  if (n == 0) return LLM_OK;
  if (n >= (size_t)INT32_MAX - 1) return LLM_ERANGE;
  if (reserve_scratch(t, n + 1)) return LLM_ENOMEM;
  size_t m = scored_symbols(t, s, n, prefix);
  if (merge_heap(t, scored_merge, m, &m)) return LLM_ENOMEM;
  for (size_t i = 0; i < m; i++)
    if (llm_ids_push(out, t->sym[i])) return LLM_ENOMEM;
  return LLM_OK;
}

static size_t find_special(const llm_tokenizer *t, const uint8_t *s, size_t n,
                           size_t pos, int32_t *id);

/* With special tokens: the text at the start and after each <s> gets a
** dummy prefix, as decoding drops a space there. */
static int encode_scored(llm_tokenizer *t, const uint8_t *s, size_t n,
                         int allow_special, llm_ids *out) {
  if (!allow_special) return encode_scored_text(t, s, n, 1, out);
  int rc = LLM_OK, prefix = 1;
  size_t pos = 0;
  while (pos < n && rc == LLM_OK) {
    int32_t sid;
    size_t at = find_special(t, s, n, pos, &sid);
    rc = encode_scored_text(t, s + pos, at - pos, prefix, out);
    if (rc == LLM_OK && sid >= 0) {
      rc = llm_ids_push(out, sid);
      at += t->len[sid];
      prefix = sid == t->bos_id;
    }
    pos = at;
  }
  return rc;
}

/* ---- encoding and decoding ---------------------------------------------- */

int llm_tokenizer_encode(llm_tokenizer *t, const uint8_t *s, size_t n,
                         int allow_special, llm_ids *out, llm_err *err) {
  if (!t->finished)
    return llm_fail(err, LLM_EINVAL, "tokenizer is not finished");
  int rc = LLM_OK;
  if (t->type == LLM_TOKENIZER_SCORED) {
    rc = encode_scored(t, s, n, allow_special, out);
    if (rc == LLM_ERANGE)
      return llm_fail(err, rc, "a text of %zu bytes is too long to encode", n);
  } else if (!allow_special || t->n_special == 0) {
    rc = encode_text(t, s, n, out);
  } else {
    size_t pos = 0;
    while (pos < n && rc == LLM_OK) {
      int32_t sid;
      size_t at = find_special(t, s, n, pos, &sid);
      rc = encode_text(t, s + pos, at - pos, out);
      if (rc == LLM_OK && sid >= 0) {
        rc = llm_ids_push(out, sid);
        at += t->len[sid];
      }
      pos = at;
    }
  }
  if (rc) return llm_fail(err, rc, "out of memory while encoding %zu bytes", n);
  return LLM_OK;
}

const uint8_t *llm_tokenizer_token_text(const llm_tokenizer *t, int32_t prev,
                                        int32_t id, size_t *len) {
  if (!valid_id(t, id)) {
    *len = 0;
    return NULL;
  }
  const uint8_t *p = piece(t, id);
  size_t n = t->len[id];
  if (t->type == LLM_TOKENIZER_SCORED && t->kind[id] != LLM_TOKEN_SPECIAL) {
    if (t->kind[id] == LLM_TOKEN_BYTE) {
      p = &t->byte_text[id - LLM_SCORED_BYTE0];
      n = 1;
    }
    if ((prev < 0 || prev == t->bos_id) && n && p[0] == ' ') {
      p++;
      n--;
    }
  }
  *len = n;
  return p;
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
  for (size_t i = 0; i < n; i++) {
    int rc = decode_one(t, i ? ids[i - 1] : -1, ids[i], i, out, err);
    if (rc) return rc;
  }
  return LLM_OK;
}
