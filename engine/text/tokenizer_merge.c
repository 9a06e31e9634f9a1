/*
** tokenizer_merge.c: merging symbols into tokens, for byte-level BPE (by
** rank) and for llama2.c's scored tokenizers (by score), and the piece
** cache (see tokenizer.h for the algorithms).
**
** Encoding is the hot path. Pre-tokenized pieces repeat a lot in natural
** text, so finished pieces are memoised in a bounded cache. A piece is
** merged by one of two equivalent procedures: short pieces keep an array of
** pair ranks and rescan it (cheap and cache-friendly), long ones use a heap
** of candidate pairs over a linked list so that a megabyte without spaces
** still encodes in O(n log n) rather than O(n^2).
**
** Scored tokenizers merge the whole text as one sequence, as llama2.c does,
** with the same heap of candidate pairs (best score first, leftmost on
** ties) over a linked list, invalidated lazily by version stamps; what a
** pair merges into is found by hashing the concatenated pieces, and
** remembered in a bounded pair cache.
*/
#include <string.h>

#include "text/pretok.h"
#include "text/bytelevel.h"
#include "text/tokenizer_impl.h"
#include "text/utf8.h"

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

/* ---- merging one piece ------------------------------------------------ */

/* The rank and result of merging the pair (a, b), or NO_RANK. */
static inline int32_t pair_rank(const llm_tokenizer *t, int32_t a, int32_t b,
                                int32_t *merged) {
  *merged = -1;
  if (a < 0 || b < 0) return NO_RANK; /* a byte without a token */
  const uint64_t *v = llm_map_get(&t->merges, llm_pair_key((uint32_t)a, (uint32_t)b));
  if (!v) return NO_RANK;
  *merged = (int32_t)(uint32_t)*v;
  return (int32_t)(*v >> 32);
}

int llm_tok_reserve(llm_tokenizer *t, size_t n) {
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

int llm_tok_heap_push(llm_tokenizer *t, size_t *n, struct heap_item it) {
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

struct heap_item llm_tok_heap_pop(llm_tokenizer *t, size_t *n) {
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
  return llm_tok_heap_push(t, hn, it);
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
    struct heap_item it = llm_tok_heap_pop(t, &hn);
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

/* Appends ids to out, leaving out the -1 of bytes that have no token. */
static int push_ids(llm_ids *out, const int32_t *ids, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] >= 0 && llm_ids_push(out, ids[i])) return LLM_ENOMEM;
  return LLM_OK;
}

/* With IGNORE_MERGES: the token whose text is the whole piece, or -1. */
static int32_t whole_piece(llm_tokenizer *t, const uint8_t *s, size_t n) {
  if (t->flags & LLM_TOK_CHARS) return llm_tok_model_lookup(t, s, n);
  t->work.len = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t enc[4];
    int k = llm_utf8_encode(enc, llm_bytelevel_cp(s[i]));
    if (llm_buf_append(&t->work, enc, (size_t)k)) return -1;
  }
  return llm_tok_model_lookup(t, t->work.data, t->work.len);
}

/* Character-level BPE's first symbols: each character's token, else its
** bytes' <0xXX> tokens (BYTE_FALLBACK, when all exist), else UNK (one per
** run with FUSE_UNK), else nothing. Returns the count. */
static size_t char_symbols(llm_tokenizer *t, const uint8_t *s, size_t n) {
  size_t m = 0;
  int32_t unk = t->role[LLM_ROLE_UNK];
  for (size_t i = 0; i < n;) {
    int len;
    if (llm_utf8_decode(s + i, n - i, &len) < 0) len = 1;
    int32_t id = llm_tok_model_lookup(t, s + i, (size_t)len);
    if (id >= 0) {
      t->sym[m++] = id;
    } else {
      int all = t->flags & LLM_TOK_BYTE_FALLBACK;
      for (int k = 0; k < len && all; k++) all = t->byte_id[s[i + k]] >= 0;
      if (all) {
        for (int k = 0; k < len; k++) t->sym[m++] = t->byte_id[s[i + k]];
      } else if (unk >= 0 && !((t->flags & LLM_TOK_FUSE_UNK) && m && t->sym[m - 1] == unk)) {
        t->sym[m++] = unk;
      }
    }
    i += (size_t)len;
  }
  return m;
}

/* Encodes one pre-tokenized piece. */
static int encode_piece(llm_tokenizer *t, const uint8_t *s, size_t n,
                        llm_ids *out) {
  if (n == 1 && !(t->flags & LLM_TOK_CHARS)) return push_ids(out, &t->byte_id[s[0]], 1);
  uint64_t h = 0;
  if (n <= CACHE_PIECE) {
    h = llm_hash_bytes(s, n);
    uint32_t n_ids;
    const int32_t *ids = cache_find(t, s, n, h, &n_ids);
    if (ids) return push_ids(out, ids, n_ids);
  }
  if (llm_tok_reserve(t, n)) return LLM_ENOMEM;
  size_t m = 1;
  if ((t->flags & LLM_TOK_IGNORE_MERGES) && (t->sym[0] = whole_piece(t, s, n)) >= 0) {
    /* the piece is a token */
  } else {
    if (t->flags & LLM_TOK_CHARS) {
      m = char_symbols(t, s, n);
    } else {
      for (size_t i = 0; i < n; i++) t->sym[i] = t->byte_id[s[i]];
      m = n;
    }
    if (m <= SHORT_PIECE) {
      m = merge_short(t, t->sym, t->pair_rank, m);
    } else if (merge_heap(t, bpe_merge, m, &m)) {
      return LLM_ENOMEM;
    }
  }
  if (n <= CACHE_PIECE) cache_store(t, s, n, h, t->sym, (uint32_t)m);
  return push_ids(out, t->sym, m);
}

/* Splits s[0..n) by the tokenizer's patterns, one after another; the
** pieces end in t->spans[*which]. */
static int split_patterns(llm_tokenizer *t, const uint8_t *s, size_t n,
                          int *which) {
  llm_err err;
  llm_spans *cur = &t->spans[0];
  cur->len = 0;
  if (llm_spans_push(cur, 0, n)) return LLM_ENOMEM;
  int w = 0;
  for (int i = 0; i < t->n_regex; i++) {
    llm_spans *nxt = &t->spans[1 - w];
    nxt->len = 0;
    int rc = llm_regex_split(t->regex[i], s, n, &t->spans[w], LLM_SPLIT_ISOLATED,
                             0, nxt, &err);
    if (rc) return rc;
    w = 1 - w;
  }
  *which = w;
  return LLM_OK;
}

int llm_tok_bpe_piece(llm_tokenizer *t, const uint8_t *s, size_t n, llm_ids *out) {
  return n ? encode_piece(t, s, n, out) : LLM_OK;
}

int llm_tok_encode_bpe(llm_tokenizer *t, const uint8_t *s, size_t n,
                       llm_ids *out) {
  if (t->n_regex) {
    int w = 0, rc = split_patterns(t, s, n, &w);
    const llm_spans *sp = &t->spans[w];
    for (size_t i = 0; i < sp->len && !rc; i++)
      rc = encode_piece(t, s + sp->start[i], sp->end[i] - sp->start[i], out);
    return rc;
  }
  size_t pos = 0;
  while (pos < n) {
    size_t end = llm_pretok_next(t->pretok, s, n, pos);
    int rc = encode_piece(t, s + pos, end - pos, out);
    if (rc) return rc;
    pos = end;
  }
  return LLM_OK;
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
  memcpy(cat, tok_piece(t, a), la);
  memcpy(cat + la, tok_piece(t, b), lb);
  int32_t id = llm_tok_lookup(t, cat, la + lb);
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
    int32_t sp = llm_tok_lookup(t, (const uint8_t *)" ", 1);
    t->sym[k++] = sp >= 0 ? sp : t->byte_id[' '];
  }
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && j - i < 4 && (s[j] & 0xC0) == 0x80) j++;
    int32_t id = llm_tok_lookup(t, s + i, j - i);
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
int llm_tok_encode_scored(llm_tokenizer *t, const uint8_t *s, size_t n,
                          int prefix, llm_ids *out) {
  if (n == 0) return LLM_OK;
  if (n >= (size_t)INT32_MAX - 1) return LLM_ERANGE;
  if (llm_tok_reserve(t, n + 1)) return LLM_ENOMEM;
  size_t m = scored_symbols(t, s, n, prefix);
  if (merge_heap(t, scored_merge, m, &m)) return LLM_ENOMEM;
  for (size_t i = 0; i < m; i++)
    if (llm_ids_push(out, t->sym[i])) return LLM_ENOMEM;
  return LLM_OK;
}

