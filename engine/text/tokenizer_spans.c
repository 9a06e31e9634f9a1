/*
** tokenizer_spans.c: where each token of a rewritten text came from, for
** llm_tokenizer_encode_spans (llm_tokens' offsets).
**
** Tokenizers that normalize (lower case, NFC, accents off, "▁" for spaces)
** encode a rewritten piece, not the text. The model's tokens cover the
** piece left to right, each as many bytes as it spells there; the piece
** keeps, for each byte, the span of the source text it came from. So a
** token's source is from the start of its first byte's span to the end of
** its last byte's.
*/
#include <string.h>

#include "text/tokenizer_impl.h"
#include "text/utf8.h"

/* Bytes of the character at p[0..n). */
static size_t char_len(const uint8_t *p, size_t n) {
  int len;
  if (llm_utf8_decode(p, n, &len) < 0) len = 1;
  return (size_t)len;
}

/* Whether character-level BPE turns the character at p into UNK (no token
** of its own, no byte tokens for all its bytes). */
static int unknown_char(const llm_tokenizer *t, const uint8_t *p, size_t len) {
  if (llm_tok_model_lookup(t, p, len) >= 0) return 0;
  int all = t->flags & LLM_TOK_BYTE_FALLBACK;
  for (size_t k = 0; k < len && all; k++) all = t->byte_id[p[k]] >= 0;
  return !all;
}

/* The bytes of the piece that id covers at p[at..plen); k: its index among
** the piece's tokens. */
static size_t width(const llm_tokenizer *t, int32_t id, const uint8_t *p, size_t plen, size_t at,
                    size_t k) {
  size_t rest = plen - at;
  if (id == t->role[LLM_ROLE_UNK] && t->type == LLM_TOKENIZER_WORDPIECE) return rest;
  if (t->type == LLM_TOKENIZER_WORDPIECE) {
    size_t np = strlen(t->wp_prefix), w = t->len[id];
    return k && np && w >= np && !memcmp(tok_piece(t, id), t->wp_prefix, np) ? w - np : w;
  }
  if (t->type == LLM_TOKENIZER_BPE && !(t->flags & LLM_TOK_CHARS)) return t->text_len[id];
  if (t->kind[id] == LLM_TOKEN_BYTE) return 1;
  if (id == t->role[LLM_ROLE_UNK] && t->kind[id] != LLM_TOKEN_NORMAL) {
    size_t w = char_len(p + at, rest);
    while ((t->flags & LLM_TOK_FUSE_UNK) && w < rest) {
      size_t c = char_len(p + at + w, rest - w);
      if (!unknown_char(t, p + at + w, c)) break;
      w += c;
    }
    return w;
  }
  return t->len[id];
}

int llm_tok_record(llm_tokenizer *t, const llm_ids *out, size_t k0, const uint8_t *piece,
                   size_t plen, const size_t *src_start, const size_t *src_end) {
  size_t at = 0;
  for (size_t k = k0; k < out->len; k++) {
    size_t w = width(t, out->data[k], piece, plen, at, k - k0);
    if (w > plen - at) w = plen - at;
    size_t a = at < plen ? src_start[at] : plen ? src_end[plen - 1] : 0;
    size_t b = w ? src_end[at + w - 1] : a;
    if (llm_spans_push(t->rec, a, b < a ? a : b)) return LLM_ENOMEM;
    at += w;
  }
  return LLM_OK;
}
