/*
** fuzz_gguf_vocab.c: libFuzzer target for a GGUF file's tokenizer
** (engine/formats/gguf_vocab.h) and the vocabulary tokenizers it builds.
**
** The input is the file. Oracles (abort() on violation): a failure leaves
** *out NULL with a non-empty message; a success gives a finished tokenizer
** whose every id has a piece, whose roles are in range, and on which, for
** a fixed text and for the file's own bytes, in both allow_special modes
** and with add_special, encoding succeeds with ids in range, no control
** token but the unknown one appears without allow_special, decoding the ids succeeds, and
** decoding one token at a time gives the same bytes as decoding them all.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "formats/gguf_vocab.h"
#include "text/tokenizer.h"

static void exercise(llm_tokenizer *t, const uint8_t *s, size_t n) {
  int32_t nv = llm_tokenizer_n_vocab(t);
  for (int flags = 0; flags < 4; flags++) {
    llm_err err;
    memset(&err, 0, sizeof err);
    llm_ids ids = {0};
    if (llm_tokenizer_encode(t, s, n, flags, &ids, &err)) {
      if (err.code != LLM_ENOMEM && err.code != LLM_ERANGE) abort();
      llm_ids_free(&ids);
      continue;
    }
    for (size_t i = 0; i < ids.len; i++) {
      if (ids.data[i] < 0 || ids.data[i] >= nv) abort();
      if (!(flags & 3) && llm_tokenizer_kind(t, ids.data[i]) == LLM_TOKEN_SPECIAL &&
          ids.data[i] != llm_tokenizer_role(t, LLM_ROLE_UNK))
        abort(); /* the unknown token is a control token that encoding emits */
    }
    llm_buf all = {0}, one = {0};
    if (llm_tokenizer_decode(t, ids.data, ids.len, &all, &err)) abort();
    for (size_t i = 0; i < ids.len; i++)
      if (llm_tokenizer_decode_next(t, i ? ids.data[i - 1] : -1, ids.data[i], &one, &err)) abort();
    if (all.len != one.len || (all.len && memcmp(all.data, one.data, all.len))) abort();
    llm_buf_free(&all);
    llm_buf_free(&one);
    llm_ids_free(&ids);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llm_gguf *g = NULL;
  llm_err err;
  memset(&err, 0, sizeof err);
  if (llm_gguf_open_memory(&g, data, size, &err)) return 0;
  llm_tokenizer *t = (llm_tokenizer *)1;
  llm_gguf_vocab_info info;
  int rc = llm_gguf_vocab_load(g, &t, &info, &err);
  if (rc) {
    if (t != NULL || err.msg[0] == 0) abort();
    llm_gguf_free(g);
    return 0;
  }
  int32_t nv = llm_tokenizer_n_vocab(t);
  for (int32_t id = 0; id < nv; id++) {
    size_t len;
    if (!llm_tokenizer_piece(t, id, &len) || len == 0) abort();
  }
  for (int r = 0; r < LLM_ROLE_COUNT; r++)
    if (llm_tokenizer_role(t, r) < -1 || llm_tokenizer_role(t, r) >= nv) abort();
  static const char text[] = "Hello world! <s> caf\xc3\xa9 \xe4\xb8\xad 123  \n\t x\x80y";
  exercise(t, (const uint8_t *)text, sizeof text - 1);
  exercise(t, data, size < 4096 ? size : 4096);
  llm_tokenizer_free(t);
  llm_gguf_free(g);
  return 0;
}
