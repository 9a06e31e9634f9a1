/*
** trie.c: the byte trie of trie.h.
*/
#include "text/trie.h"

#include "base.h"

static int new_node(llm_trie *t, uint32_t *id) {
  if (llm_grow((void **)&t->accept, &t->cap, t->n_nodes + 1, sizeof *t->accept)) return LLM_ENOMEM;
  t->accept[t->n_nodes] = -1;
  *id = (uint32_t)t->n_nodes++;
  return LLM_OK;
}

int llm_trie_add(llm_trie *t, const uint8_t *s, size_t n, int32_t v, int32_t *had) {
  uint32_t node;
  if (t->n_nodes == 0 && new_node(t, &node)) return LLM_ENOMEM;
  node = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t key = (uint64_t)node << 8 | s[i];
    const uint64_t *child = llm_map_get(&t->edges, key);
    if (child) {
      node = (uint32_t)*child;
      continue;
    }
    uint32_t next;
    int inserted;
    if (new_node(t, &next) || !llm_map_put(&t->edges, key, next, &inserted)) return LLM_ENOMEM;
    node = next;
  }
  if (n) t->first[s[0]] = 1;
  *had = t->accept[node];
  if (*had < 0) t->accept[node] = v;
  return LLM_OK;
}

int llm_trie_walk(const llm_trie *t, const uint8_t *s, size_t n, llm_trie_fn fn, void *ctx) {
  if (!n || !t->first[s[0]]) return 0;
  uint64_t node = 0;
  for (size_t i = 0; i < n; i++) {
    const uint64_t *child = llm_map_get(&t->edges, node << 8 | s[i]);
    if (!child) return 0;
    node = *child;
    if (t->accept[node] >= 0) {
      int rc = fn(ctx, t->accept[node], i + 1);
      if (rc) return rc;
    }
  }
  return 0;
}

void llm_trie_free(llm_trie *t) {
  llm_map_free(&t->edges);
  llm_free(t->accept);
  t->accept = NULL;
  t->n_nodes = t->cap = 0;
}
