/*
** tokenizer_wpm.c: BERT's WordPiece as llama.cpp runs it (the GGUF tokenizer
** model "bert": BERT, BGE, MiniLM, nomic-embed).
**
** The text is decoded (an invalid byte stands for U+FFFD); each character
** becomes the first character of its NFD decomposition (so precomposed
** letters lose their accents, as llama.cpp's table does; combining marks
** typed as such stay); then, character by character: White_Space ends a word; NUL, U+FFFD and
** control characters (categories Cc, Cf, Co, Cs) are dropped; the rest is
** lower-cased (the simple one-character mapping); punctuation (P*), ASCII
** symbols (S*) and CJK ideographs are words of their own. Each word, with
** "▁" in front (the vocabulary spells word-initial pieces so, and
** continuations without a prefix), is covered left to right by the longest
** tokens that match; a word that cannot be covered becomes UNK.
**
** Hugging Face's WordPiece (llm_tok_wpm_piece) covers each pre-tokenized
** piece the same way, continuation pieces spelled "##piece", and makes a
** piece of more than max_input_chars_per_word characters UNK.
*/
#include <string.h>

#include "text/pretok.h"
#include "text/tokenizer_impl.h"
#include "text/unicode.h"
#include "text/utf8.h"

/* The ranges of CJK ideographs that BERT isolates (the blocks BERT's
** reference tokenizer lists). */
static int is_cjk(int32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* Covers w[0..n) with the longest matching tokens, left to right, pieces
** after the first spelled with prefix[0..np) in front (Hugging Face's
** "##"; none for llama.cpp's spelling); a word that cannot be covered is
** UNK. */
static int cover_word(llm_tokenizer *t, const uint8_t *w, size_t n, const char *prefix,
                      size_t np, llm_ids *out) {
  size_t mark = out->len;
  uint8_t *buf = NULL;
  int rc = LLM_OK;
  if (np && !(buf = llm_malloc(np + (size_t)t->max_len))) return LLM_ENOMEM;
  for (size_t i = 0; i < n;) {
    size_t j = n - i > (size_t)t->max_len ? i + (size_t)t->max_len : n;
    int32_t id = -1;
    for (; j > i; j--) {
      if (i && np) { /* a continuation: the prefix, then the piece */
        if (np + (j - i) > np + (size_t)t->max_len) continue;
        memcpy(buf, prefix, np);
        memcpy(buf + np, w + i, j - i);
        id = llm_tok_model_lookup(t, buf, np + (j - i));
      } else {
        id = llm_tok_model_lookup(t, w + i, j - i);
      }
      if (id >= 0) break;
    }
    if (id < 0) {
      out->len = mark;
      break;
    }
    if ((rc = llm_ids_push(out, id))) break;
    i = j;
  }
  llm_free(buf);
  if (!rc && out->len == mark && t->role[LLM_ROLE_UNK] >= 0)
    rc = llm_ids_push(out, t->role[LLM_ROLE_UNK]);
  return rc;
}

/* Covers the word in t->work (which starts with "▁"); with spans wanted,
** t->wsrc has the source of each byte. */
static int encode_word(llm_tokenizer *t, llm_ids *out) {
  size_t k0 = out->len;
  int rc = cover_word(t, t->work.data, t->work.len, NULL, 0, out);
  if (!rc && t->rec) rc = llm_tok_record(t, out, k0, t->work.data, t->work.len, t->wsrc.start, t->wsrc.end);
  return rc;
}

int llm_tok_wpm_piece(llm_tokenizer *t, const uint8_t *s, size_t n, llm_ids *out) {
  if (!n) return LLM_OK;
  size_t chars = 0;
  for (size_t i = 0; i < n; i++) chars += (s[i] & 0xC0) != 0x80;
  if (t->wp_max_chars > 0 && chars > (size_t)t->wp_max_chars)
    return t->role[LLM_ROLE_UNK] >= 0 ? llm_ids_push(out, t->role[LLM_ROLE_UNK]) : LLM_OK;
  return cover_word(t, s, n, t->wp_prefix, strlen(t->wp_prefix), out);
}

/* Ends the word being built in t->work (if any) and encodes it. */
static int end_word(llm_tokenizer *t, llm_ids *out) {
  int rc = t->work.len > 3 ? encode_word(t, out) : LLM_OK;
  t->work.len = 3; /* the "▁" stays */
  if (t->rec) t->wsrc.len = 3;
  return rc;
}

/* Appends cp to the word, which came from the source bytes [a, b) (kept
** when spans are wanted; the "▁" stands for nothing, at the word's start). */
static int append_cp(llm_tokenizer *t, int32_t cp, size_t a, size_t b) {
  uint8_t enc[4];
  int k = llm_utf8_encode(enc, (uint32_t)cp);
  if (llm_buf_append(&t->work, enc, (size_t)k)) return LLM_ENOMEM;
  if (!t->rec) return LLM_OK;
  if (t->work.len == 3 + (size_t)k) /* the word's first character */
    for (size_t i = 0; i < 3; i++) t->wsrc.start[i] = t->wsrc.end[i] = a;
  for (int i = 0; i < k; i++)
    if (llm_spans_push(&t->wsrc, a, b)) return LLM_ENOMEM;
  return LLM_OK;
}

/* The first character of cp's NFD decomposition. */
static int32_t nfd_first(int32_t cp, llm_cps *tmp, int *rc) {
  if (cp < 0xC0) return cp; /* nothing below decomposes */
  tmp->len = 0;
  *rc = llm_uni_normalize(LLM_NFD, &cp, 1, tmp);
  return !*rc && tmp->len ? tmp->cp[0] : cp;
}

int llm_tok_encode_wpm(llm_tokenizer *t, const uint8_t *s, size_t n, size_t base,
                       llm_ids *out) {
  llm_cps tmp = {0};
  int rc = LLM_OK;
  t->work.len = t->wsrc.len = 0;
  if (llm_buf_append(&t->work, "\xE2\x96\x81", 3)) return LLM_ENOMEM;
  for (int k = 0; k < 3 && t->rec; k++)
    if (llm_spans_push(&t->wsrc, base, base)) return LLM_ENOMEM;
  for (size_t i = 0; i < n && !rc;) {
    int len;
    int32_t cp = llm_utf8_decode(s + i, n - i, &len);
    size_t a = base + i;
    i += (size_t)len;
    cp = cp < 0 ? 0xFFFD : nfd_first(cp, &tmp, &rc);
    if (llm_uni_is_space(cp)) {
      rc = end_word(t, out);
      continue;
    }
    int cat = llm_uni_category(cp);
    if (cp == 0 || cp == 0xFFFD || cat == LLM_UC_Cc || cat == LLM_UC_Cf ||
        cat == LLM_UC_Co || cat == LLM_UC_Cs)
      continue;
    int32_t low[3];
    llm_uni_lower(cp, low);
    if (llm_uni_is_punct(cp) || (cp < 0x7F && llm_uni_is_symbol(cp)) || is_cjk(cp)) {
      rc = end_word(t, out);
      if (!rc) rc = append_cp(t, low[0], a, base + i);
      if (!rc) rc = end_word(t, out);
    } else {
      rc = append_cp(t, low[0], a, base + i);
    }
  }
  if (!rc) rc = end_word(t, out);
  llm_cps_free(&tmp);
  return rc;
}
