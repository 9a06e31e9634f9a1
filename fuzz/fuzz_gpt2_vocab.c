/*
** fuzz_gpt2_vocab.c: libFuzzer target for the encoder.json + vocab.bpe
** loader. The input is split at its first NUL byte: encoder.json before it,
** vocab.bpe after it (empty when there is no NUL).
**
** Oracles (abort() on violation): a failure leaves *out NULL with a
** non-empty message; a success gives a tokenizer of kinds BYTE/MERGE/SPECIAL
** with 256 byte tokens, on which encode then decode of the vocab.bpe part
** (arbitrary bytes) gives it back exactly.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/gpt2_vocab.h"
#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t n_enc = nul ? (size_t)(nul - data) : size;
  const char *bpe = nul ? (const char *)nul + 1 : "";
  size_t n_bpe = nul ? size - n_enc - 1 : 0;
  llm_tokenizer *t = (llm_tokenizer *)1;
  llm_err err;
  memset(&err, 0, sizeof err);
  int rc = llm_gpt2_vocab_load((const char *)data, n_enc, bpe, n_bpe, &t, &err);
  if (rc != LLM_OK) {
    if (t != NULL || err.code != rc || err.msg[0] == 0) abort();
    return 0;
  }
  if (!t) abort();
  int32_t n = llm_tokenizer_n_vocab(t);
  int n_byte = 0;
  for (int32_t id = 0; id < n; id++) {
    int k = llm_tokenizer_kind(t, id);
    size_t len = 0;
    if (!llm_tokenizer_piece(t, id, &len) || len == 0) abort();
    if (k == LLM_TOKEN_BYTE) {
      if (len != 1) abort();
      n_byte++;
    } else if (k == LLM_TOKEN_MERGE) {
      size_t ll = 0, lr = 0;
      llm_tokenizer_piece(t, llm_tokenizer_left(t, id), &ll);
      llm_tokenizer_piece(t, llm_tokenizer_right(t, id), &lr);
      if (ll + lr != len || llm_tokenizer_rank(t, id) < 0) abort();
    } else if (k != LLM_TOKEN_SPECIAL) {
      abort();
    }
  }
  if (n_byte != 256) abort();
  for (int allow = 0; allow < 2; allow++) {
    llm_ids ids = {0};
    llm_buf back = {0};
    if (llm_tokenizer_encode(t, (const uint8_t *)bpe, n_bpe, allow, &ids, &err))
      abort();
    if (llm_tokenizer_decode(t, ids.data, ids.len, &back, &err)) abort();
    if (back.len != n_bpe || (n_bpe && memcmp(back.data, bpe, n_bpe))) abort();
    llm_ids_free(&ids);
    llm_buf_free(&back);
  }
  llm_tokenizer_free(t);
  return 0;
}
