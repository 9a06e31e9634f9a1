/*
** tokenizer_spm.c: SentencePiece BPE as llama.cpp runs it (the GGUF
** tokenizer model "llama": Llama 2, Mistral, Phi-3, Gemma, ...).
**
** The text gets "▁" for each space (and one in front when prefix is set and
** the tokenizer adds a space prefix), is cut into characters (a UTF-8 lead
** byte and as many bytes as it announces, fewer at the end of the text),
** and adjacent symbols are merged while the concatenation of some pair is a
** token of the vocabulary: the pair whose token scores highest first,
** leftmost among equals. A symbol that is no token in the end (only single
** characters can be) becomes the "<0xXX>" tokens of its bytes.
**
** Symbols are spans of t->work: start in t->sym, length in t->pair_rank, a
** doubly linked list in t->prev / t->next; the heap of candidate pairs is
** the one BPE uses (tokenizer_merge.c), invalidated by version stamps.
*/
#include <string.h>

#include "text/tokenizer_impl.h"

/* Bytes in the UTF-8 sequence that lead byte b starts (1 for a stray
** continuation byte), as llama.cpp counts them. */
static size_t utf8_seq_len(uint8_t b) {
  return b < 0x80 ? 1 : b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

/* Rewrites s[0..n) into t->work with "▁" for spaces. */
static int escape_spaces(llm_tokenizer *t, const uint8_t *s, size_t n,
                         int prefix) {
  static const uint8_t mark[3] = {0xE2, 0x96, 0x81};
  t->work.len = 0;
  if (prefix && llm_buf_append(&t->work, mark, 3)) return LLM_ENOMEM;
  size_t from = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != ' ') continue;
    if (llm_buf_append(&t->work, s + from, i - from) ||
        llm_buf_append(&t->work, mark, 3))
      return LLM_ENOMEM;
    from = i + 1;
  }
  return llm_buf_append(&t->work, s + from, n - from) ? LLM_ENOMEM : LLM_OK;
}

/* Pushes the merge of symbol i with its right neighbour when their text is
** a token. */
static int push_bigram(llm_tokenizer *t, size_t *hn, int32_t i) {
  if (i < 0) return LLM_OK;
  int32_t j = t->next[i];
  if (j < 0) return LLM_OK;
  int32_t id = llm_tok_model_lookup(t, t->work.data + t->sym[i],
                              (size_t)(t->pair_rank[i] + t->pair_rank[j]));
  if (id < 0) return LLM_OK;
  struct heap_item it = {t->score[id], i, t->ver[i], id};
  return llm_tok_heap_push(t, hn, it);
}

/* Emits symbol i: its token, else its bytes' tokens. */
static int emit_symbol(llm_tokenizer *t, int32_t i, llm_ids *out) {
  const uint8_t *p = t->work.data + t->sym[i];
  size_t len = (size_t)t->pair_rank[i];
  int32_t id = llm_tok_model_lookup(t, p, len);
  if (id >= 0) return llm_ids_push(out, id);
  for (size_t k = 0; k < len; k++) {
    int32_t b = t->byte_id[p[k]];
    if (b < 0) b = llm_tok_model_lookup(t, p + k, 1);
    if (b < 0) b = t->role[LLM_ROLE_UNK];
    if (b >= 0 && llm_ids_push(out, b)) return LLM_ENOMEM;
  }
  return LLM_OK;
}

int llm_tok_encode_spm(llm_tokenizer *t, const uint8_t *s, size_t n,
                       int prefix, llm_ids *out) {
  if (n == 0) return LLM_OK;
  if (n >= (size_t)INT32_MAX / 4) return LLM_ERANGE;
  int rc = escape_spaces(t, s, n, prefix && (t->flags & LLM_TOK_ADD_SPACE_PREFIX));
  if (rc) return rc;
  size_t w = t->work.len;
  if (llm_tok_reserve(t, w)) return LLM_ENOMEM;
  int32_t m = 0;
  for (size_t at = 0; at < w; m++) {
    size_t len = utf8_seq_len(t->work.data[at]);
    if (len > w - at) len = w - at;
    t->sym[m] = (int32_t)at;
    t->pair_rank[m] = (int32_t)len;
    t->prev[m] = m - 1;
    t->next[m] = at + len < w ? m + 1 : -1;
    t->ver[m] = 0;
    at += len;
  }
  size_t hn = 0;
  for (int32_t i = 0; i + 1 < m; i++)
    if (push_bigram(t, &hn, i)) return LLM_ENOMEM;
  while (hn) {
    struct heap_item it = llm_tok_heap_pop(t, &hn);
    int32_t i = it.pos;
    if (t->pair_rank[i] == 0 || t->ver[i] != it.ver) continue; /* stale */
    int32_t j = t->next[i];
    t->pair_rank[i] += t->pair_rank[j];
    t->pair_rank[j] = 0;
    t->next[i] = t->next[j];
    if (t->next[j] >= 0) t->prev[t->next[j]] = i;
    t->ver[i]++;
    if (t->prev[i] >= 0) t->ver[t->prev[i]]++;
    if (push_bigram(t, &hn, t->prev[i]) || push_bigram(t, &hn, i)) return LLM_ENOMEM;
  }
  for (int32_t i = 0; i >= 0 && rc == LLM_OK; i = t->next[i]) rc = emit_symbol(t, i, out);
  return rc;
}
