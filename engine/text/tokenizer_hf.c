/*
** tokenizer_hf.c: vocabulary tokenizers with a Hugging Face pipeline
** (LLM_TOK_HF, from tokenizer.json): plain text (special and added tokens
** already taken out) goes through the normalizer, then the pre-tokenizer,
** and each piece through the model (BPE or WordPiece); decoding a whole
** id list runs the decoder chain over the tokens' pieces. See
** text/hf_pipeline.h for the pipeline parts.
*/
#include <string.h>

#include "text/hf_pipeline.h"
#include "text/tokenizer_impl.h"

int llm_tokenizer_set_hf(llm_tokenizer *t, llm_hf_norm *norm, llm_hf_pretok *pre,
                         llm_hf_decoder *dec, llm_err *err) {
  if (!t->vocab || t->finished || (t->flags & LLM_TOK_HF)) {
    llm_hf_norm_free(norm);
    llm_hf_pretok_free(pre);
    llm_hf_decoder_free(dec);
    return llm_fail(err, LLM_EINVAL, "a pipeline belongs to an unfinished vocabulary tokenizer, once");
  }
  t->hf_pieces = llm_calloc(1, sizeof *t->hf_pieces);
  t->hf_align = llm_calloc(1, sizeof *t->hf_align);
  if (!t->hf_pieces || !t->hf_align) {
    llm_hf_norm_free(norm);
    llm_hf_pretok_free(pre);
    llm_hf_decoder_free(dec);
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  }
  t->hf_norm = norm;
  t->hf_pre = pre;
  t->hf_dec = dec;
  t->flags |= LLM_TOK_HF;
  return LLM_OK;
}

int llm_tokenizer_hf_bytelevel(const llm_tokenizer *t) {
  return t->hf_pre && llm_hf_pretok_is_bytelevel(t->hf_pre);
}

void llm_tok_free_hf(llm_tokenizer *t) {
  llm_hf_norm_free(t->hf_norm);
  llm_hf_pretok_free(t->hf_pre);
  llm_hf_decoder_free(t->hf_dec);
  if (t->hf_pieces) llm_hf_pieces_free(t->hf_pieces);
  llm_free(t->hf_pieces);
  if (t->hf_align) llm_align_free(t->hf_align);
  llm_free(t->hf_align);
  llm_buf_free(&t->norm_buf);
}

static int model_piece(llm_tokenizer *t, const uint8_t *s, size_t n, llm_ids *out) {
  return t->type == LLM_TOKENIZER_WORDPIECE ? llm_tok_wpm_piece(t, s, n, out)
                                            : llm_tok_bpe_piece(t, s, n, out);
}

/* The alignment of the text to the whole text, for text at offset base:
** from the normalizer, or the identity, shifted by base. */
static int base_align(llm_tokenizer *t, size_t n, size_t base, int normalized) {
  llm_align *a = t->hf_align;
  if (!normalized) {
    if (llm_grow((void **)&a->start, &a->cap, n, sizeof(size_t))) return LLM_ENOMEM;
    size_t *end = llm_realloc(a->end, a->cap * sizeof(size_t));
    if (!end) return LLM_ENOMEM;
    a->end = end;
    for (size_t i = 0; i < n; i++) a->start[i] = i, a->end[i] = i + 1;
    a->len = n;
  }
  for (size_t i = 0; i < a->len; i++) a->start[i] += base, a->end[i] += base;
  return LLM_OK;
}

/* Normalized text s[0..n) with no special tokens in it: pre-tokenizer and
** model; a: its alignment to the whole text (NULL when offsets do not
** matter: it then counts as the start of the text). */
static int encode_segment(llm_tokenizer *t, const uint8_t *s, size_t n, const llm_align *a, llm_ids *out) {
  llm_err err;
  int rc;
  if (!t->hf_pre) {
    size_t k0 = out->len;
    rc = model_piece(t, s, n, out);
    return rc || !t->rec ? rc : llm_tok_record(t, out, k0, s, n, a->start, a->end);
  }
  llm_hf_pieces *p = t->hf_pieces;
  rc = a ? llm_hf_pretokenize_aligned(t->hf_pre, s, n, a, p, &err)
         : llm_hf_pretokenize(t->hf_pre, s, n, p, &err);
  for (size_t i = 0; i < p->n && !rc; i++) {
    size_t k0 = out->len, off = p->off[i], len = p->off[i + 1] - off;
    rc = model_piece(t, p->text.data + off, len, out);
    if (!rc && t->rec)
      rc = llm_tok_record(t, out, k0, p->text.data + off, len, p->align.start + off, p->align.end + off);
  }
  return rc;
}

int llm_tok_encode_hf(llm_tokenizer *t, const uint8_t *s, size_t n, size_t base, llm_ids *out) {
  llm_err err;
  int rc;
  /* Offsets matter after a special token (base > 0: a Metaspace
  ** pre-tokenizer prepends its "first" replacement at offset 0 only), when
  ** the spans of the tokens are wanted, and around added tokens found in
  ** the normalized text. */
  int norm_tokens = t->hf_norm && t->has_norm_tokens;
  llm_align *a = base || t->rec || norm_tokens ? t->hf_align : NULL;
  if (t->hf_norm) {
    if ((rc = llm_hf_normalize(t->hf_norm, s, n, &t->norm_buf, a, &err))) return rc;
    s = t->norm_buf.data;
    n = t->norm_buf.len;
  }
  if (a && (rc = base_align(t, n, base, t->hf_norm != NULL))) return rc;
  if (!norm_tokens) return encode_segment(t, s, n, a, out);
  /* added tokens that match the normalized text split it first */
  size_t pos = 0;
  while (pos < n && !rc) {
    int32_t id;
    size_t text_end, at, next;
    llm_tok_next_special(t, s, n, pos, 1, &id, &text_end, &at, &next);
    if (text_end > pos) {
      llm_align view = {a->start + pos, a->end + pos, text_end - pos, text_end - pos};
      rc = encode_segment(t, s + pos, text_end - pos, &view, out);
    }
    if (!rc && id >= 0) {
      rc = llm_ids_push(out, id);
      if (!rc && t->rec) rc = llm_spans_push(t->rec, a->start[at], a->end[at + t->len[id] - 1]);
    }
    pos = next;
  }
  return rc;
}

int llm_tok_decode_hf(const llm_tokenizer *t, const int32_t *ids, size_t n, llm_buf *out,
                      llm_err *err) {
  llm_str_ref *refs = n ? llm_malloc(n * sizeof *refs) : NULL;
  if (n && !refs) return llm_fail(err, LLM_ENOMEM, "out of memory while decoding");
  for (size_t i = 0; i < n; i++) {
    if (!llm_tok_valid_id(t, ids[i])) {
      llm_free(refs);
      return llm_fail(err, LLM_ERANGE, "token id %d at position %zu is out of range (0..%d)", ids[i], i,
                      t->n_vocab - 1);
    }
    refs[i].s = tok_piece(t, ids[i]);
    refs[i].len = t->len[ids[i]];
  }
  int rc = llm_hf_decode(t->hf_dec, refs, n, out, err);
  llm_free(refs);
  return rc;
}
