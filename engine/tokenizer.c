/*
** tokenizer.c: byte-level BPE encode/decode (see tokenizer.h).
**
** Encoding is the hot path. Pre-tokenized pieces repeat a lot in natural
** text, so finished pieces are memoised in a bounded cache. A piece is
** merged by one of two equivalent procedures: short pieces keep an array of
** pair ranks and rescan it (cheap and cache-friendly), long ones use a heap
** of candidate pairs over a linked list so that a megabyte without spaces
** still encodes in O(n log n) rather than O(n^2).
*/
#include "tokenizer.h"

#include <string.h>

#include "hashmap.h"
#include "pretok.h"

/* Pieces up to this length are merged by rescanning; longer ones by heap. */
#define SHORT_PIECE 96
/* Pieces up to this length are memoised. */
#define CACHE_PIECE 64
/* The cache is emptied when its storage passes this many bytes. */
#define CACHE_BYTES (8u << 20)
#define NO_RANK INT32_MAX

struct llm_tokenizer {
  int32_t n_vocab;
  int pretok;
  int finished;
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
};

struct heap_item {
  int32_t rank, pos, ver;
};

int llm_tokenizer_new(llm_tokenizer **out, int32_t n_vocab, int pretok_mode,
                      llm_err *err) {
  *out = NULL;
  if (n_vocab < 256 || n_vocab > LLM_TOKENIZER_MAX_VOCAB)
    return llm_fail(err, LLM_ERANGE,
                    "vocabulary size %d is out of range (256..%d)", n_vocab,
                    LLM_TOKENIZER_MAX_VOCAB);
  if (pretok_mode != LLM_PRETOK_NONE && pretok_mode != LLM_PRETOK_GPT2)
    return llm_fail(err, LLM_EINVAL, "unknown pre-tokenizer %d", pretok_mode);
  llm_tokenizer *t = llm_calloc(1, sizeof *t);
  if (!t) return llm_fail(err, LLM_ENOMEM, "out of memory");
  t->n_vocab = n_vocab;
  t->pretok = pretok_mode;
  size_t n = (size_t)n_vocab;
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
  llm_free(t);
}

int llm_tokenizer_set(llm_tokenizer *t, int32_t id, int kind,
                      const uint8_t *bytes, size_t len, int32_t left,
                      int32_t right, int32_t rank, llm_err *err) {
  if (t->finished)
    return llm_fail(err, LLM_EINVAL, "tokenizer is already finished");
  if (id < 0 || id >= t->n_vocab)
    return llm_fail(err, LLM_ERANGE, "token id %d is out of range (0..%d)",
                    id, t->n_vocab - 1);
  if (t->is_set[id])
    return llm_fail(err, LLM_EINVAL, "token id %d is defined twice", id);
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
  t->off[id] = t->pool.len;
  if (llm_buf_append(&t->pool, bytes, len))
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  t->len[id] = (uint32_t)len;
  t->kind[id] = (uint8_t)kind;
  t->left[id] = left;
  t->right[id] = right;
  t->rank[id] = rank;
  t->is_set[id] = 1;
  return LLM_OK;
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

int llm_tokenizer_finish(llm_tokenizer *t, llm_err *err) {
  if (t->finished)
    return llm_fail(err, LLM_EINVAL, "tokenizer is already finished");
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
  t->finished = 1;
  return LLM_OK;
}

int32_t llm_tokenizer_n_vocab(const llm_tokenizer *t) { return t->n_vocab; }
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

static int heap_less(const struct heap_item *a, const struct heap_item *b) {
  return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
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

/* Pushes the pair starting at node i (if it has a right neighbour and a
** merge). */
static int push_pair(llm_tokenizer *t, size_t *hn, int32_t i) {
  int32_t j = t->next[i], merged;
  if (j < 0) return LLM_OK;
  int32_t r = pair_rank(t, t->sym[i], t->sym[j], &merged);
  if (r == NO_RANK) return LLM_OK;
  struct heap_item it = {r, i, t->ver[i]};
  return heap_push(t, hn, it);
}

/* Merges sym[0..n) with a heap over a linked list; compacts the result into
** sym and returns its length via *out_n. Same result as merge_short: the
** lowest rank first, leftmost among equals. */
static int merge_long(llm_tokenizer *t, size_t n, size_t *out_n) {
  int32_t *sym = t->sym, *prev = t->prev, *next = t->next, *ver = t->ver;
  for (size_t i = 0; i < n; i++) {
    prev[i] = (int32_t)i - 1;
    next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    ver[i] = 0;
  }
  size_t hn = 0;
  for (size_t i = 0; i + 1 < n; i++)
    if (push_pair(t, &hn, (int32_t)i)) return LLM_ENOMEM;
  while (hn) {
    struct heap_item it = heap_pop(t, &hn);
    int32_t i = it.pos;
    if (ver[i] != it.ver || sym[i] < 0) continue; /* stale */
    int32_t j = next[i], merged;
    if (j < 0 || pair_rank(t, sym[i], sym[j], &merged) != it.rank) continue;
    sym[i] = merged;
    sym[j] = -1;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    ver[i]++;
    if (push_pair(t, &hn, i)) return LLM_ENOMEM;
    if (prev[i] >= 0) {
      ver[prev[i]]++;
      if (push_pair(t, &hn, prev[i])) return LLM_ENOMEM;
    }
  }
  size_t m = 0;
  for (int32_t i = 0; i >= 0; i = next[i]) sym[m++] = sym[i];
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
  } else if (merge_long(t, n, &m)) {
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

int llm_tokenizer_encode(llm_tokenizer *t, const uint8_t *s, size_t n,
                         int allow_special, llm_ids *out, llm_err *err) {
  if (!t->finished)
    return llm_fail(err, LLM_EINVAL, "tokenizer is not finished");
  int rc = LLM_OK;
  if (!allow_special || t->n_special == 0) {
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

int llm_tokenizer_decode(const llm_tokenizer *t, const int32_t *ids, size_t n,
                         llm_buf *out, llm_err *err) {
  for (size_t i = 0; i < n; i++) {
    if (!valid_id(t, ids[i]))
      return llm_fail(err, LLM_ERANGE,
                      "token id %d at position %zu is out of range (0..%d)",
                      ids[i], i, t->n_vocab - 1);
    if (llm_buf_append(out, piece(t, ids[i]), t->len[ids[i]]))
      return llm_fail(err, LLM_ENOMEM, "out of memory while decoding");
  }
  return LLM_OK;
}
