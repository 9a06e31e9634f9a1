/*
** json_mask.c: which tokens of a vocabulary may come next in a constrained
** generation (see json_constrain.h).
**
** A mask walks a trie of the vocabulary's pieces from the current state,
** feeding one byte per trie edge and pruning at the first refused byte, so a
** state costs one byte step per trie node it can reach (most of the trie
** inside a string). Masks are then memoized per state: a state whose string
** or array counters are far from their bounds (further than the longest
** piece) has the same mask whatever the exact count, so counters are
** normalized first and the tokens inside a long string hit the cache.
*/
#include <string.h>

#include "text/json_constrain_internal.h"
#include "text/tokenizer.h"

#define JC_CACHE_SLOTS 16

typedef struct cache_entry {
  uint64_t hash;
  llm_jcon_state key;       /* the normalized state (key.n == 0: empty) */
  uint8_t *bits;            /* the mask, one bit per token */
} cache_entry;

/* Masks are only valid for one schema and one vocabulary: both are
** identified by their content hash as well as their address, since either
** may have been freed and another allocated at the same address. */
struct jc_cache {
  const struct llm_jcon_vocab *vocab;
  uint64_t vocab_hash, schema_hash;
  cache_entry e[JC_CACHE_SLOTS];
};

typedef struct trie_node {
  int32_t child, sibling;   /* first child; next sibling (-1: none) */
  int32_t tokens;           /* first token ending here (-1: none) */
  uint8_t byte;             /* the byte on the edge into this node */
} trie_node;

struct llm_jcon_vocab {
  trie_node *nodes;
  size_t n_nodes, cap_nodes;
  int32_t *next_token;      /* the next token with the same bytes (-1) */
  int32_t n_vocab;
  size_t max_len;
  uint64_t hash;            /* of every piece */
  int refs;
  llm_jcon_state *scratch;  /* one state per trie depth */
};

void jc_cache_free(struct jc_cache *cache) {
  if (!cache) return;
  for (int i = 0; i < JC_CACHE_SLOTS; i++) llm_free(cache->e[i].bits);
  llm_free(cache);
}

llm_jcon_vocab *llm_jcon_vocab_ref(llm_jcon_vocab *v) {
  if (v) v->refs++;
  return v;
}

void llm_jcon_vocab_free(llm_jcon_vocab *v) {
  if (!v || --v->refs > 0) return;
  llm_free(v->nodes);
  llm_free(v->next_token);
  llm_free(v->scratch);
  llm_free(v);
}

static int32_t trie_child(llm_jcon_vocab *v, int32_t parent, uint8_t b) {
  int32_t *link = &v->nodes[parent].child;
  while (*link >= 0 && v->nodes[*link].byte < b) link = &v->nodes[*link].sibling;
  if (*link >= 0 && v->nodes[*link].byte == b) return *link;
  size_t id = v->n_nodes;
  ptrdiff_t at = (char *)link - (char *)v->nodes;   /* link moves on growth */
  if (llm_grow((void **)&v->nodes, &v->cap_nodes, id + 1, sizeof(trie_node))) return -1;
  link = (int32_t *)((char *)v->nodes + at);
  v->nodes[id] = (trie_node){-1, *link, -1, b};
  *link = (int32_t)id;
  v->n_nodes++;
  return (int32_t)id;
}

int llm_jcon_vocab_new(const uint8_t *const *pieces, const size_t *lens, int32_t n_vocab,
                       llm_jcon_vocab **out, llm_err *err) {
  llm_jcon_vocab *v = llm_calloc(1, sizeof *v);
  *out = NULL;
  if (!v || n_vocab < 0 || !(v->next_token = llm_calloc((size_t)n_vocab + 1, sizeof(int32_t))))
    goto oom;
  v->n_vocab = n_vocab;
  v->refs = 1;
  if (llm_grow((void **)&v->nodes, &v->cap_nodes, 1, sizeof(trie_node))) goto oom;
  v->nodes[0] = (trie_node){-1, -1, -1, 0};
  v->n_nodes = 1;
  v->hash = JC_HASH_INIT;
  for (int32_t id = 0; id < n_vocab; id++) {
    int32_t at = 0;
    for (int k = 0; k < 4; k++) v->hash = jc_hash_byte(v->hash, (uint8_t)(lens[id] >> (8 * k)));
    for (size_t i = 0; i < lens[id]; i++) v->hash = jc_hash_byte(v->hash, pieces[id][i]);
    for (size_t i = 0; i < lens[id] && at >= 0; i++) at = trie_child(v, at, pieces[id][i]);
    if (at < 0) goto oom;
    v->next_token[id] = -1;
    if (lens[id] == 0) continue;
    v->next_token[id] = v->nodes[at].tokens;
    v->nodes[at].tokens = id;
    if (lens[id] > v->max_len) v->max_len = lens[id];
  }
  if (!(v->scratch = llm_malloc((v->max_len + 1) * sizeof(llm_jcon_state)))) goto oom;
  *out = v;
  return LLM_OK;
oom:
  llm_jcon_vocab_free(v);
  return llm_fail(err, LLM_ENOMEM, "json_constrain: out of memory for the vocabulary trie");
}

int llm_jcon_vocab_of(const llm_tokenizer *t, llm_jcon_vocab **out, llm_err *err) {
  int32_t n = llm_tokenizer_n_vocab(t);
  const uint8_t **pieces = llm_malloc(((size_t)n + 1) * sizeof *pieces);
  size_t *lens = llm_malloc(((size_t)n + 1) * sizeof *lens);
  int rc;
  if (!pieces || !lens) {
    *out = NULL;
    rc = llm_fail(err, LLM_ENOMEM, "json_constrain: out of memory for the vocabulary trie");
  } else {
    for (int32_t id = 0; id < n; id++) {
      int kind = llm_tokenizer_kind(t, id);
      pieces[id] = llm_tokenizer_token_text_mid(t, id, &lens[id]);
      if (!pieces[id] || kind == LLM_TOKEN_SPECIAL || kind == LLM_TOKEN_UNUSED) lens[id] = 0;
    }
    rc = llm_jcon_vocab_new(pieces, lens, n, out, err);
  }
  llm_free(pieces);
  llm_free(lens);
  return rc;
}

int32_t llm_jcon_vocab_size(const llm_jcon_vocab *v) { return v->n_vocab; }

/* Allows the tokens below trie node at, reached in state s at depth d. */
static void mask_walk(llm_jcon_vocab *v, int32_t at, size_t d, const llm_jcon_state *s,
                      uint8_t *allowed) {
  llm_jcon_state *next = &v->scratch[d + 1];
  for (int32_t ch = v->nodes[at].child; ch >= 0; ch = v->nodes[ch].sibling) {
    if (!jc_feed_byte(s, v->nodes[ch].byte, next)) continue;
    for (int32_t t = v->nodes[ch].tokens; t >= 0; t = v->next_token[t]) allowed[t] = 1;
    mask_walk(v, ch, d + 1, next, allowed);
  }
}

/* Sets counters that cannot matter for the next max_len bytes to a fixed
** value: a string's code points or an array's items once at least min and
** more than max_len below max. */
static void normalize(llm_jcon_state *s, size_t max_len) {
  for (int32_t i = 0; i < s->n; i++)
    for (int32_t d = 0; d < s->s[i].depth; d++) {
      jc_frame *f = &s->s[i].f[d];
      const jc_node *n = &s->c->nodes[f->node];
      if (f->kind != F_VALUE || (n->kind != JC_STR && n->kind != JC_ARR)) continue;
      int done = n->kind == JC_STR ? f->phase == S_DONE : f->phase == A_DONE;
      /* a pattern's completions are known by length up to 128 (json_pattern.c) */
      int64_t far = (int64_t)max_len + (n->kind == JC_STR && n->item >= 0 ? 128 : 0);
      if (done) f->n1 = 0;
      else if (f->n1 >= n->min && (int64_t)n->max - f->n1 > far) f->n1 = n->min;
    }
}

static uint64_t state_hash(const llm_jcon_state *s) {
  uint64_t h = JC_HASH_INIT;
  for (int32_t i = 0; i < s->n; i++) {
    const uint8_t *p = (const uint8_t *)s->s[i].f;
    h = jc_hash_byte(h, (uint8_t)s->s[i].depth);
    for (size_t k = 0; k < (size_t)s->s[i].depth * sizeof(jc_frame); k++) h = jc_hash_byte(h, p[k]);
  }
  return h;
}

static int state_equal(const llm_jcon_state *a, const llm_jcon_state *b) {
  if (a->c != b->c || a->n != b->n) return 0;
  for (int32_t i = 0; i < a->n; i++)
    if (a->s[i].depth != b->s[i].depth ||
        memcmp(a->s[i].f, b->s[i].f, (size_t)a->s[i].depth * sizeof(jc_frame)))
      return 0;
  return 1;
}

/* The cache entry for state key in s's cache (made on first use; NULL when
** out of memory, then masks are computed without it). */
static cache_entry *cache_slot(llm_jcon_state *s, const llm_jcon_vocab *v, uint64_t hash) {
  if (!s->cache || s->cache->vocab != v || s->cache->vocab_hash != v->hash ||
      s->cache->schema_hash != s->c->hash) {
    jc_cache_free(s->cache);
    if (!(s->cache = llm_calloc(1, sizeof *s->cache))) return NULL;
    s->cache->vocab = v;
    s->cache->vocab_hash = v->hash;
    s->cache->schema_hash = s->c->hash;
  }
  cache_entry *e = &s->cache->e[hash % JC_CACHE_SLOTS];
  if (!e->bits && !(e->bits = llm_malloc(((size_t)v->n_vocab + 7) / 8))) return NULL;
  return e;
}

int llm_jcon_mask(llm_jcon_state *s, llm_jcon_vocab *v, uint8_t *allowed) {
  llm_jcon_state *key = &v->scratch[0];
  llm_jcon_state_copy(key, s);
  normalize(key, v->max_len);
  uint64_t hash = state_hash(key);
  cache_entry *e = cache_slot(s, v, hash);
  if (e && e->hash == hash && e->key.n && state_equal(&e->key, key)) {
    for (int32_t t = 0; t < v->n_vocab; t++) allowed[t] = (e->bits[t >> 3] >> (t & 7)) & 1;
    return LLM_OK;
  }
  memset(allowed, 0, (size_t)v->n_vocab);
  mask_walk(v, 0, 0, key, allowed);
  if (e) {
    memset(e->bits, 0, ((size_t)v->n_vocab + 7) / 8);
    for (int32_t t = 0; t < v->n_vocab; t++) e->bits[t >> 3] |= (uint8_t)(allowed[t] << (t & 7));
    e->hash = hash;
    llm_jcon_state_copy(&e->key, key);
  }
  return LLM_OK;
}

int llm_jcon_mask_budget(llm_jcon_state *s, llm_jcon_vocab *v, int64_t budget, uint8_t *allowed) {
  int64_t rest = llm_jcon_rest(s);
  if (budget > rest + (int64_t)v->max_len + jc_max_min_len(s->c)) return llm_jcon_mask(s, v, allowed);
  /* the one-byte tokens: the trie's first level */
  int64_t need[256], least = INT64_MAX;
  int32_t node_of[256];
  llm_jcon_state *next = &v->scratch[0];
  int n = 0;
  for (int32_t ch = v->nodes[0].child; ch >= 0; ch = v->nodes[ch].sibling) {
    if (v->nodes[ch].tokens < 0 || !jc_feed_byte(s, v->nodes[ch].byte, next)) continue;
    need[n] = llm_jcon_rest(next);   /* 0 once the value is complete */
    node_of[n++] = ch;
    if (need[n - 1] < least) least = need[n - 1];
  }
  memset(allowed, 0, (size_t)v->n_vocab);
  int64_t limit = budget - 1 >= least ? budget - 1 : least;
  for (int i = 0; i < n; i++)
    if (need[i] <= limit)
      for (int32_t t = v->nodes[node_of[i]].tokens; t >= 0; t = v->next_token[t]) allowed[t] = 1;
  return LLM_OK;
}
