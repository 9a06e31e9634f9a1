/*
** bpe_train.c: learning byte-level BPE merges (see bpe_train.h).
**
** Adding text: each piece the pre-tokenizer returns is looked up in a table
** of distinct pieces (open addressing on a 64-bit hash, confirmed by
** comparing the bytes) and its multiplicity incremented; the pieces' bytes
** are kept once each, concatenated in one buffer.
**
** Training: the symbols of every distinct piece of two or more bytes are laid
** out in one flat array of slots (sym, prev, next, piece), one per byte; a merge keeps the
** left slot, gives it the new symbol and unlinks the right one (sym = -1).
** Links never cross pieces, so pairs never span two pieces. Each pair
** (left, right) has a weighted count (sum of the multiplicities of the places
** it occurs) and a list of slots where it was created. Lists are validated
** lazily: a slot is merged only if it still holds the pair.
**
** Invariants that keep this cheap:
**   - Every adjacency created after the start involves the newest symbol, so
**     a pair gains occurrences only while the merge that creates its newer
**     symbol runs (or at the start, for pairs of two bytes). Afterwards its
**     count only falls. So a pair is pushed on the max-heap once, when it is
**     complete; an entry whose count has since fallen is re-pushed with the
**     current count when it reaches the top (lazy deletion). The top entry
**     whose stored count is current is the best pair.
**   - Occurrences are appended in increasing slot order (at the start by a
**     scan in slot order; during a merge, which walks its own list in
**     increasing order, at the slot of the merge or of its live left
**     neighbour, both increasing). So lists are sorted, and overlapping runs
**     such as "aaa" merge left to right as sequential BPE does. The order is
**     still checked, and a list is sorted if it ever is not.
**   - A pair whose count drops to zero has no live occurrence: its list is
**     released.
** A merge therefore costs time proportional to the occurrences it touches.
*/
#include "text/bpe_train.h"

#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "text/pretok.h"

/* ---------------------------------------------------------------------- */
/* Distinct pieces                                                         */

/* A distinct piece. Short ones (most GPT-2 pieces) keep their bytes here,
** which saves a cache miss per lookup; longer ones live in the byte buffer. */
#define BT_INLINE 16
typedef struct bt_piece {
  uint64_t count; /* multiplicity */
  uint64_t len;
  union {
    uint64_t off; /* into the trainer's byte buffer, when len > BT_INLINE */
    uint8_t in[BT_INLINE];
  } u;
} bt_piece;

/* Lookup table entries: the hash's top 32 bits (which also choose the home
** slot) above the piece index + 1; 0 = empty. */
#define BT_MAX_PIECES ((size_t)1 << 31)

struct llm_bpe_trainer {
  int mode;
  llm_buf bytes;      /* the long distinct pieces, concatenated */
  bt_piece *pieces;
  size_t n_pieces, cap_pieces;
  uint64_t *slots;
  size_t n_slots;     /* a power of two, or 0 */
  uint64_t total_bytes;
};

static inline const uint8_t *piece_bytes(const llm_bpe_trainer *t,
                                         const bt_piece *p) {
  return p->len <= BT_INLINE ? p->u.in : t->bytes.data + p->u.off;
}

int llm_bpe_trainer_new(llm_bpe_trainer **out, int mode, llm_err *err) {
  if (!out) return llm_fail(err, LLM_EINVAL, "bpe_train: no output pointer");
  *out = NULL;
  if (mode != LLM_PRETOK_NONE && mode != LLM_PRETOK_GPT2)
    return llm_fail(err, LLM_EINVAL,
                    "bpe_train: unknown pre-tokenizer mode %d", mode);
  llm_bpe_trainer *t = llm_calloc(1, sizeof *t);
  if (!t) return llm_fail(err, LLM_ENOMEM, "bpe_train: out of memory");
  t->mode = mode;
  *out = t;
  return LLM_OK;
}

void llm_bpe_trainer_free(llm_bpe_trainer *t) {
  if (!t) return;
  llm_buf_free(&t->bytes);
  llm_free(t->pieces);
  llm_free(t->slots);
  llm_free(t);
}

size_t llm_bpe_trainer_pieces(const llm_bpe_trainer *t) {
  return t ? t->n_pieces : 0;
}

uint64_t llm_bpe_trainer_bytes(const llm_bpe_trainer *t) {
  return t ? t->total_bytes : 0;
}

/* Doubles the lookup table (or creates it), re-inserting every entry. */
static int slots_grow(llm_bpe_trainer *t) {
  size_t ncap = t->n_slots ? t->n_slots * 2 : 1024;
  if (ncap < t->n_slots || ncap > SIZE_MAX / sizeof(uint64_t)) return LLM_ENOMEM;
  uint64_t *ns = llm_calloc(ncap, sizeof *ns);
  if (!ns) return LLM_ENOMEM;
  size_t mask = ncap - 1;
  for (size_t k = 0; k < t->n_slots; k++) {
    uint64_t v = t->slots[k];
    if (!v) continue;
    size_t i = (size_t)(v >> 32) & mask;
    while (ns[i]) i = (i + 1) & mask;
    ns[i] = v;
  }
  llm_free(t->slots);
  t->slots = ns;
  t->n_slots = ncap;
  return LLM_OK;
}

static int add_piece(llm_bpe_trainer *t, const uint8_t *s, size_t n,
                     llm_err *err) {
  uint64_t tag = llm_hash_bytes(s, n) >> 32;
  if (t->n_slots) {
    size_t mask = t->n_slots - 1;
    for (size_t i = (size_t)tag & mask;; i = (i + 1) & mask) {
      uint64_t v = t->slots[i];
      if (!v) break;
      if ((v >> 32) != tag) continue;
      bt_piece *p = &t->pieces[(uint32_t)v - 1];
      if (p->len == n && memcmp(piece_bytes(t, p), s, n) == 0) {
        p->count++;
        t->total_bytes += n;
        return LLM_OK;
      }
    }
  }
  /* A new piece. Keep the load factor at most 1/2. */
  if (t->n_pieces >= BT_MAX_PIECES - 1)
    return llm_fail(err, LLM_ERANGE, "bpe_train: too many distinct pieces");
  if ((t->n_pieces + 1) * 2 > t->n_slots && slots_grow(t))
    return llm_fail(err, LLM_ENOMEM, "bpe_train: out of memory (piece table)");
  if (llm_grow((void **)&t->pieces, &t->cap_pieces, t->n_pieces + 1,
               sizeof *t->pieces))
    return llm_fail(err, LLM_ENOMEM, "bpe_train: out of memory (piece table)");
  bt_piece *p = &t->pieces[t->n_pieces];
  memset(p, 0, sizeof *p);
  if (n <= BT_INLINE) {
    memcpy(p->u.in, s, n);
  } else {
    p->u.off = t->bytes.len;
    if (llm_buf_append(&t->bytes, s, n))
      return llm_fail(err, LLM_ENOMEM,
                      "bpe_train: out of memory storing %zu bytes of text", n);
  }
  p->len = n;
  p->count = 1;
  size_t mask = t->n_slots - 1;
  size_t i = (size_t)tag & mask;
  while (t->slots[i]) i = (i + 1) & mask;
  t->slots[i] = (tag << 32) | (uint64_t)(t->n_pieces + 1);
  t->n_pieces++;
  t->total_bytes += n;
  return LLM_OK;
}

int llm_bpe_trainer_add(llm_bpe_trainer *t, const uint8_t *text, size_t n,
                        llm_err *err) {
  if (!t) return llm_fail(err, LLM_EINVAL, "bpe_train: no trainer");
  if (n == 0) return LLM_OK;
  if (!text) return llm_fail(err, LLM_EINVAL, "bpe_train: text is NULL");
  size_t pos = 0;
  while (pos < n) {
    size_t end = llm_pretok_next(t->mode, text, n, pos);
    if (end <= pos || end > n)
      return llm_fail(err, LLM_EINVAL,
                      "bpe_train: the pre-tokenizer returned a bad offset");
    int rc = add_piece(t, text + pos, end - pos, err);
    if (rc) return rc;
    pos = end;
  }
  return LLM_OK;
}

/* ---------------------------------------------------------------------- */
/* Training                                                                */

typedef struct bt_pair {
  int32_t left, right;
  uint64_t count;   /* weighted count of live occurrences */
  int32_t *occ;     /* slots where the pair was created, increasing */
  uint32_t occ_len, occ_cap;
} bt_pair;

typedef struct bt_heap_ent {
  uint64_t count;   /* the pair's count when pushed: an upper bound */
  uint64_t key;     /* llm_pair_key(left, right) */
} bt_heap_ent;

/* One byte of a piece. The fields sit together: a merge reads them all. */
typedef struct bt_slot {
  int32_t sym;        /* the symbol starting here; -1 once merged away */
  int32_t prev, next; /* the neighbouring live slots; -1 at piece ends */
  uint32_t pid;       /* the piece, for its multiplicity */
} bt_slot;

typedef struct bt_run {
  bt_slot *slot;
  int uniform;                /* all pieces have multiplicity uniform_w */
  uint64_t uniform_w;
  const bt_piece *pieces;
  bt_pair *pairs;
  size_t n_pairs, cap_pairs;
  uint32_t *byte_pair;        /* [65536]: pair index + 1 for two bytes */
  llm_map map;                /* other pairs: key -> pair index */
  bt_heap_ent *heap;
  size_t heap_len, heap_cap;
  uint32_t *fresh;            /* pairs created by the current merge */
  size_t n_fresh, cap_fresh;
  /* memo[c]: during the merge of (a, b) into x, the indexes of the pairs
  ** (c, a), (b, c), (c, x) and (x, c), so each neighbour symbol c costs one
  ** map lookup per merge however often it occurs. */
  struct bt_memo *memo;
  size_t cap_memo;
  uint32_t gen;               /* the current merge + 1 */
} bt_run;

/* A remembered pair index; valid while gen equals the run's gen. */
typedef struct bt_memo_ent {
  uint32_t gen, idx;
} bt_memo_ent;

struct bt_memo {
  bt_memo_ent ca, bc, cx, xc;
};

static void run_free(bt_run *r) {
  llm_free(r->slot);
  for (size_t k = 0; k < r->n_pairs; k++) llm_free(r->pairs[k].occ);
  llm_free(r->pairs);
  llm_free(r->byte_pair);
  llm_map_free(&r->map);
  llm_free(r->heap);
  llm_free(r->fresh);
  llm_free(r->memo);
}

static inline uint64_t slot_weight(const bt_run *r, int32_t i) {
  return r->uniform ? r->uniform_w : r->pieces[r->slot[i].pid].count;
}

/* Heap order: higher count first; on equal counts the smaller key. */
static inline int heap_before(const bt_heap_ent *a, const bt_heap_ent *b) {
  return a->count > b->count || (a->count == b->count && a->key < b->key);
}

static int heap_push(bt_run *r, uint64_t count, uint64_t key) {
  if (llm_grow((void **)&r->heap, &r->heap_cap, r->heap_len + 1,
               sizeof *r->heap))
    return LLM_ENOMEM;
  bt_heap_ent e = {count, key};
  size_t i = r->heap_len++;
  while (i > 0) {
    size_t up = (i - 1) / 2;
    if (!heap_before(&e, &r->heap[up])) break;
    r->heap[i] = r->heap[up];
    i = up;
  }
  r->heap[i] = e;
  return LLM_OK;
}

static void heap_pop(bt_run *r) {
  if (r->heap_len == 0) return;
  bt_heap_ent e = r->heap[--r->heap_len];
  size_t n = r->heap_len, i = 0;
  if (n == 0) return;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && heap_before(&r->heap[c + 1], &r->heap[c])) c++;
    if (!heap_before(&r->heap[c], &e)) break;
    r->heap[i] = r->heap[c];
    i = c;
  }
  r->heap[i] = e;
}

/* The index of pair (a, b), or -1. */
static int64_t pair_find(const bt_run *r, int32_t a, int32_t b) {
  if (a < 256 && b < 256) {
    uint32_t v = r->byte_pair[(a << 8) | b];
    return v ? (int64_t)v - 1 : -1;
  }
  uint64_t *v = llm_map_get(&r->map, llm_pair_key((uint32_t)a, (uint32_t)b));
  return v ? (int64_t)*v : -1;
}

/* Appends a new pair (a, b) with no occurrences; returns its index or -1 when
** out of memory. The caller has checked that it does not exist. */
static int64_t pair_new(bt_run *r, int32_t a, int32_t b) {
  if (r->n_pairs >= UINT32_MAX - 1) return -1;
  if (llm_grow((void **)&r->pairs, &r->cap_pairs, r->n_pairs + 1,
               sizeof *r->pairs))
    return -1;
  size_t idx = r->n_pairs;
  if (a < 256 && b < 256) {
    r->byte_pair[(a << 8) | b] = (uint32_t)(idx + 1);
  } else {
    uint64_t *v = llm_map_put(&r->map, llm_pair_key((uint32_t)a, (uint32_t)b),
                              idx, NULL);
    if (!v) return -1;
  }
  bt_pair *p = &r->pairs[idx];
  memset(p, 0, sizeof *p);
  p->left = a;
  p->right = b;
  r->n_pairs++;
  return (int64_t)idx;
}

static int occ_append(bt_pair *p, int32_t slot) {
  if (p->occ_len == p->occ_cap) {
    if (p->occ_cap >= UINT32_MAX / 2) return LLM_ENOMEM;
    uint32_t ncap = p->occ_cap ? p->occ_cap * 2 : 4;
    int32_t *no = llm_realloc(p->occ, (size_t)ncap * sizeof *no);
    if (!no) return LLM_ENOMEM;
    p->occ = no;
    p->occ_cap = ncap;
  }
  p->occ[p->occ_len++] = slot;
  return LLM_OK;
}

/* The index of pair (a, b), through the memo entry m. -1 if absent. */
static int64_t pair_memo(bt_run *r, int32_t a, int32_t b, bt_memo_ent *m) {
  if (m->gen == r->gen) return m->idx;
  int64_t idx = pair_find(r, a, b);
  if (idx >= 0) {
    m->gen = r->gen;
    m->idx = (uint32_t)idx;
  }
  return idx;
}

/* One occurrence of (a, b) disappears. */
static void pair_dec(bt_run *r, int32_t a, int32_t b, uint64_t w,
                     bt_memo_ent *m) {
  int64_t idx = pair_memo(r, a, b, m);
  if (idx < 0) return; /* cannot happen: every live adjacency is counted */
  bt_pair *p = &r->pairs[idx];
  p->count = p->count > w ? p->count - w : 0;
  if (p->count == 0 && p->occ) {
    /* No live occurrence is left: drop the list of stale slots. */
    llm_free(p->occ);
    p->occ = NULL;
    p->occ_len = p->occ_cap = 0;
  }
}

/* One occurrence of (a, b) appears at slot. Only during the merge that
** creates the newer of a and b. */
static int pair_inc(bt_run *r, int32_t a, int32_t b, uint64_t w, int32_t slot,
                    bt_memo_ent *m) {
  int64_t idx = pair_memo(r, a, b, m);
  if (idx < 0) {
    idx = pair_new(r, a, b);
    if (idx < 0) return LLM_ENOMEM;
    if (llm_grow((void **)&r->fresh, &r->cap_fresh, r->n_fresh + 1,
                 sizeof *r->fresh))
      return LLM_ENOMEM;
    r->fresh[r->n_fresh++] = (uint32_t)idx;
    m->gen = r->gen;
    m->idx = (uint32_t)idx;
  }
  bt_pair *p = &r->pairs[idx];
  p->count += w;
  return occ_append(p, slot);
}

/* Makes memo cover symbols 0..x. */
static int memo_reserve(bt_run *r, int32_t x) {
  size_t need = (size_t)x + 1;
  if (need <= r->cap_memo) return LLM_OK;
  size_t ncap = need + need / 2 + 64;
  struct bt_memo *nm = llm_realloc(r->memo, ncap * sizeof *nm);
  if (!nm) return LLM_ENOMEM;
  memset(nm + r->cap_memo, 0, (ncap - r->cap_memo) * sizeof *nm);
  r->memo = nm;
  r->cap_memo = ncap;
  return LLM_OK;
}

/* Merges are bound by memory latency: the slots of a pair's occurrences are
** scattered. Their addresses are known ahead (the list), so fetch them early:
** a slot PF_FAR entries ahead, its neighbours PF_MID entries ahead, the
** right partner's right neighbour PF_NEAR entries ahead. */
#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p, 1, 1)
#else
#define PREFETCH(p) ((void)(p))
#endif
enum { PF_FAR = 16, PF_MID = 8, PF_NEAR = 4 };

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Merges every live occurrence of pair idx into the new symbol x. */
static int apply_merge(bt_run *r, size_t idx, int32_t x) {
  int32_t a = r->pairs[idx].left, b = r->pairs[idx].right;
  /* Detach the list: the pair gains no occurrences from now on, and the
  ** pairs array may move while new pairs are created. */
  int32_t *occ = r->pairs[idx].occ;
  size_t n_occ = r->pairs[idx].occ_len;
  r->pairs[idx].occ = NULL;
  r->pairs[idx].occ_len = r->pairs[idx].occ_cap = 0;
  for (size_t k = 1; k < n_occ; k++) {
    if (occ[k] < occ[k - 1]) {
      qsort(occ, n_occ, sizeof *occ, cmp_i32);
      break;
    }
  }
  int rc = memo_reserve(r, x);
  r->gen = (uint32_t)(x - 255);
  bt_slot *sl = r->slot;
  for (size_t k = 0; k < n_occ && rc == LLM_OK; k++) {
    if (k + PF_FAR < n_occ) PREFETCH(&sl[occ[k + PF_FAR]]);
    if (k + PF_MID < n_occ) {
      const bt_slot *ahead = &sl[occ[k + PF_MID]];
      if (ahead->sym == a) {
        if (ahead->prev >= 0) PREFETCH(&sl[ahead->prev]);
        if (ahead->next >= 0) PREFETCH(&sl[ahead->next]);
      }
    }
    if (k + PF_NEAR < n_occ) {
      const bt_slot *ahead = &sl[occ[k + PF_NEAR]];
      if (ahead->sym == a && ahead->next >= 0) {
        int32_t n2 = sl[ahead->next].next;
        if (n2 >= 0) PREFETCH(&sl[n2]);
      }
    }
    int32_t i = occ[k];
    if (sl[i].sym != a) continue;
    int32_t j = sl[i].next;
    if (j < 0 || sl[j].sym != b) continue;
    uint64_t w = slot_weight(r, i);
    int32_t p = sl[i].prev, n = sl[j].next;
    if (p >= 0) {
      int32_t c = sl[p].sym;
      pair_dec(r, c, a, w, &r->memo[c].ca);
      rc = pair_inc(r, c, x, w, p, &r->memo[c].cx);
      if (rc) break;
    }
    if (n >= 0) {
      int32_t c = sl[n].sym;
      pair_dec(r, b, c, w, &r->memo[c].bc);
      rc = pair_inc(r, x, c, w, i, &r->memo[c].xc);
    }
    sl[i].sym = x;
    sl[i].next = n;
    sl[j].sym = -1;
    sl[j].prev = sl[j].next = -1;
    if (n >= 0) sl[n].prev = i;
  }
  llm_free(occ);
  r->pairs[idx].count = 0;
  /* The pairs this merge created are complete: offer them to the heap. */
  for (size_t k = 0; k < r->n_fresh; k++) {
    const bt_pair *p = &r->pairs[r->fresh[k]];
    if (rc || p->count == 0) continue;
    rc = heap_push(r, p->count,
                   llm_pair_key((uint32_t)p->left, (uint32_t)p->right));
  }
  r->n_fresh = 0;
  return rc;
}

/* Lays out the symbols of every piece of two or more bytes, counts the pairs
** of bytes and fills their occurrence lists in slot order. */
static int run_init(bt_run *r, const llm_bpe_trainer *t, llm_err *err) {
  r->pieces = t->pieces;
  uint64_t total = 0, w0 = 0;
  int uniform = 1;
  for (size_t k = 0; k < t->n_pieces; k++) {
    const bt_piece *pc = &t->pieces[k];
    if (pc->len < 2) continue;
    total += pc->len;
    if (total > (uint64_t)INT32_MAX - 1)
      return llm_fail(err, LLM_ERANGE,
                      "bpe_train: the distinct text is too large to train on "
                      "(over %d bytes)", INT32_MAX - 1);
    if (w0 == 0) w0 = pc->count;
    else if (pc->count != w0) uniform = 0;
  }
  size_t n = (size_t)total;
  r->byte_pair = llm_calloc(65536, sizeof *r->byte_pair);
  if (!r->byte_pair) goto oom;
  if (n == 0) return LLM_OK;
  r->slot = llm_malloc(n * sizeof *r->slot);
  if (!r->slot) goto oom;
  r->uniform = uniform;
  r->uniform_w = w0;

  /* Slots, and the number of occurrences of each pair of bytes. */
  uint32_t *n_at = llm_calloc(65536, sizeof *n_at);
  uint64_t *w_at = llm_calloc(65536, sizeof *w_at);
  if (!n_at || !w_at) {
    llm_free(n_at);
    llm_free(w_at);
    goto oom;
  }
  size_t s = 0;
  for (size_t k = 0; k < t->n_pieces; k++) {
    const bt_piece *pc = &t->pieces[k];
    if (pc->len < 2) continue;
    const uint8_t *by = piece_bytes(t, pc);
    size_t len = (size_t)pc->len;
    for (size_t q = 0; q < len; q++) {
      bt_slot *sl = &r->slot[s + q];
      sl->sym = by[q];
      sl->prev = q ? (int32_t)(s + q - 1) : -1;
      sl->next = q + 1 < len ? (int32_t)(s + q + 1) : -1;
      sl->pid = (uint32_t)k;
    }
    for (size_t q = 0; q + 1 < len; q++) {
      unsigned key = ((unsigned)by[q] << 8) | by[q + 1];
      n_at[key]++;
      w_at[key] += pc->count;
    }
    s += len;
  }
  int rc = LLM_OK;
  for (unsigned key = 0; key < 65536 && rc == LLM_OK; key++) {
    if (!n_at[key]) continue;
    int64_t idx = pair_new(r, (int32_t)(key >> 8), (int32_t)(key & 255));
    if (idx < 0) {
      rc = LLM_ENOMEM;
      break;
    }
    bt_pair *p = &r->pairs[idx];
    p->count = w_at[key];
    p->occ = llm_malloc((size_t)n_at[key] * sizeof *p->occ);
    if (!p->occ) rc = LLM_ENOMEM;
    p->occ_cap = n_at[key];
    if (!rc) rc = heap_push(r, p->count, llm_pair_key(key >> 8, key & 255));
  }
  llm_free(n_at);
  llm_free(w_at);
  if (rc) goto oom;
  for (size_t i = 0; i + 1 < n; i++) {
    if (r->slot[i].next < 0) continue;
    bt_pair *p =
        &r->pairs[r->byte_pair[(r->slot[i].sym << 8) | r->slot[i + 1].sym] - 1];
    p->occ[p->occ_len++] = (int32_t)i;
  }
  return LLM_OK;
oom:
  return llm_fail(err, LLM_ENOMEM,
                  "bpe_train: out of memory laying out %zu symbols", n);
}

int llm_bpe_trainer_run(llm_bpe_trainer *t, int n_merges,
                        uint64_t min_frequency, const llm_stop *stop,
                        llm_bpe_merge **out, int *n_out, llm_err *err) {
  if (out) *out = NULL;
  if (n_out) *n_out = 0;
  if (!t || !out || !n_out)
    return llm_fail(err, LLM_EINVAL, "bpe_train: missing argument");
  if (n_merges < 0)
    return llm_fail(err, LLM_EINVAL,
                    "bpe_train: the number of merges is negative (%d)",
                    n_merges);
  if (n_merges > INT32_MAX - 256)
    return llm_fail(err, LLM_ERANGE, "bpe_train: too many merges (%d)",
                    n_merges);
  llm_bpe_merge *res = NULL;
  size_t cap = 0;
  /* Always hand back an allocation, even for zero merges. */
  if (llm_grow((void **)&res, &cap, 1, sizeof *res))
    return llm_fail(err, LLM_ENOMEM, "bpe_train: out of memory");
  int count = 0;
  bt_run r;
  memset(&r, 0, sizeof r);
  int rc = n_merges > 0 ? run_init(&r, t, err) : LLM_OK;
  if (rc) goto fail;
  while (count < n_merges) {
    if (stop && stop->fn && (count & 63) == 0 && stop->fn(stop->arg)) {
      rc = llm_fail(err, LLM_EINTR, "interrupted after %d merges", count);
      goto fail;
    }
    /* Find the best pair: pop entries until one's count is current. */
    int64_t best = -1;
    while (r.heap_len > 0) {
      bt_heap_ent top = r.heap[0];
      heap_pop(&r);
      int64_t idx =
          pair_find(&r, (int32_t)(top.key >> 32), (int32_t)(top.key & 0xffffffffu));
      if (idx < 0) continue;
      uint64_t c = r.pairs[idx].count;
      if (c == top.count) {
        best = idx;
        break;
      }
      if (c > 0 && heap_push(&r, c, top.key)) {
        rc = llm_fail(err, LLM_ENOMEM, "bpe_train: out of memory (heap)");
        goto fail;
      }
    }
    if (best < 0) break;
    uint64_t c = r.pairs[best].count;
    if (c == 0 || c < min_frequency) break;
    if (llm_grow((void **)&res, &cap, (size_t)count + 1, sizeof *res)) {
      rc = llm_fail(err, LLM_ENOMEM, "bpe_train: out of memory");
      goto fail;
    }
    res[count].left = r.pairs[best].left;
    res[count].right = r.pairs[best].right;
    res[count].count = c;
    if (apply_merge(&r, (size_t)best, 256 + count)) {
      rc = llm_fail(err, LLM_ENOMEM,
                    "bpe_train: out of memory during merge %d", count);
      goto fail;
    }
    count++;
  }
  run_free(&r);
  *out = res;
  *n_out = count;
  return LLM_OK;
fail:
  run_free(&r);
  llm_free(res);
  return rc;
}
