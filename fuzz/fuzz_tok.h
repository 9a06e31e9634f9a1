/*
** fuzz_tok.h: the checks the fuzz targets of imported tokenizers share
** (fuzz_gguf_vocab.c, fuzz_hf_tokenizer.c): encode a text with every
** combination of allow_special and add_special; the ids must be in range,
** no control token may appear without allow_special or add_special unless
** it is the unknown token, and decoding must succeed.
*/
#ifndef LLM_FUZZ_TOK_H
#define LLM_FUZZ_TOK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer.h"

/* Encodes s[0..n) four ways and checks the results; decode_next_too: also
** decoding one token at a time must give the bytes of the whole decode
** (true where no decoder chain looks at neighbouring tokens). */
static void fuzz_exercise(llm_tokenizer *t, const uint8_t *s, size_t n, int decode_next_too) {
  int32_t nv = llm_tokenizer_n_vocab(t);
  for (int flags = 0; flags < 4; flags++) {
    llm_err err;
    memset(&err, 0, sizeof err);
    llm_ids ids = {0};
    if (llm_tokenizer_encode(t, s, n, flags, &ids, &err)) {
      if (err.msg[0] == 0) abort();
      llm_ids_free(&ids);
      continue;
    }
    for (size_t i = 0; i < ids.len; i++) {
      if (ids.data[i] < 0 || ids.data[i] >= nv) abort();
      if (!flags && llm_tokenizer_kind(t, ids.data[i]) == LLM_TOKEN_SPECIAL &&
          ids.data[i] != llm_tokenizer_role(t, LLM_ROLE_UNK))
        abort(); /* the unknown token is a control token that encoding emits */
    }
    llm_buf all = {0}, one = {0};
    if (llm_tokenizer_decode(t, ids.data, ids.len, &all, &err) && err.code != LLM_ENOMEM) abort();
    for (size_t i = 0; decode_next_too && i < ids.len; i++)
      if (llm_tokenizer_decode_next(t, i ? ids.data[i - 1] : -1, ids.data[i], &one, &err)) abort();
    if (decode_next_too && (all.len != one.len || (all.len && memcmp(all.data, one.data, all.len)))) abort();
    llm_buf_free(&all);
    llm_buf_free(&one);
    llm_ids_free(&ids);
  }
}

#endif
