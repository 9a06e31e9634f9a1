/*
** trie.h: a byte trie over a set of strings, for finding which of them
** starts at a place in a text (the special and added tokens a tokenizer
** parses out of text before its model sees it). Edges are kept in one hash
** map keyed by (node, byte); a table of the strings' first bytes lets a
** scan skip most positions with one load.
*/
#ifndef LLM_TRIE_H
#define LLM_TRIE_H

#include <stddef.h>
#include <stdint.h>

#include "hashmap.h"

typedef struct llm_trie {
  llm_map edges;    /* (node << 8 | byte) -> child node */
  int32_t *accept;  /* per node: the value of the string ending there, or -1 */
  size_t n_nodes, cap;
  uint8_t first[256]; /* 1 for bytes that start a string */
} llm_trie;

/* Adds s[0..n) (n >= 1) with value v >= 0. A string added twice keeps its
** first value, which *had is set to (-1 for a new string). LLM_OK or
** LLM_ENOMEM. */
int llm_trie_add(llm_trie *t, const uint8_t *s, size_t n, int32_t v, int32_t *had);

/* The strings that start at s[0..n), shortest first: calls fn(ctx, value,
** length) for each until it returns non-zero (then returns that). */
typedef int (*llm_trie_fn)(void *ctx, int32_t value, size_t len);
int llm_trie_walk(const llm_trie *t, const uint8_t *s, size_t n, llm_trie_fn fn, void *ctx);

void llm_trie_free(llm_trie *t);

#endif
