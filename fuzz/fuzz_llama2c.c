/*
** fuzz_llama2c.c: libFuzzer target for the llama2.c tokenizer-file parser
** (engine/formats/llama2c.h) and, when a file parses, the scored tokenizer on it.
**
** The input is the file. It is parsed reading to the end (n_vocab -1) and
** as a 512-token file (what a checkpoint of that vocabulary would ask for).
** Oracles (abort() on violation): a failure leaves *out NULL with the same
** code in err and a non-empty message; a success gives a scored tokenizer
** with the fixed roles (ids 0..2 SPECIAL, 3..258 BYTE "<0xXX>", the rest
** NORMAL), which parses again as exactly that many tokens and not as one
** more; on it, for the file's own bytes and a fixed text, in both
** allow_special modes, every id is valid, no SPECIAL id appears without
** allow_special, decode(encode(x)) == x byte for byte, and decoding one
** token at a time gives the same bytes.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/llama2c.h"
#include "text/tokenizer.h"

static llm_tokenizer *parse(const uint8_t *data, size_t size, int32_t n) {
  llm_tokenizer *t = (llm_tokenizer *)1;
  llm_err err;
  memset(&err, 0, sizeof err);
  int rc = llm_llama2c_tokenizer_parse(data, size, n, &t, &err);
  if (rc != LLM_OK) {
    if (t != NULL || err.code != rc || err.msg[0] == 0) abort();
    return NULL;
  }
  if (!t) abort();
  return t;
}

static void check_roles(const llm_tokenizer *t) {
  int32_t n = llm_tokenizer_n_vocab(t);
  if (n < LLM_SCORED_MIN_VOCAB || llm_tokenizer_type(t) != LLM_TOKENIZER_SCORED)
    abort();
  if (llm_tokenizer_bos_id(t) != 1 || llm_tokenizer_eos_id(t) != 2) abort();
  for (int32_t id = 0; id < n; id++) {
    int k = llm_tokenizer_kind(t, id);
    size_t len = 0;
    const uint8_t *p = llm_tokenizer_piece(t, id, &len);
    if (!p) abort();
    if (id < 3 && (k != LLM_TOKEN_SPECIAL || len == 0)) abort();
    if (id >= 3 && id < 259) {
      char want[8];
      snprintf(want, sizeof want, "<0x%02X>", id - 3);
      if (k != LLM_TOKEN_BYTE || len != 6 || memcmp(p, want, 6)) abort();
    }
    if (id >= 259 && k != LLM_TOKEN_NORMAL) abort();
  }
}

static void round_trip(llm_tokenizer *t, const uint8_t *s, size_t n) {
  llm_err err;
  for (int allow = 0; allow < 2; allow++) {
    llm_ids ids = {0};
    llm_buf back = {0}, stream = {0};
    if (llm_tokenizer_encode(t, s, n, allow, &ids, &err)) abort();
    for (size_t i = 0; i < ids.len; i++) {
      int k = llm_tokenizer_kind(t, ids.data[i]);
      if (k < 0 || (!allow && k == LLM_TOKEN_SPECIAL)) abort();
      if (llm_tokenizer_decode_next(t, i ? ids.data[i - 1] : -1, ids.data[i],
                                    &stream, &err))
        abort();
    }
    if (llm_tokenizer_decode(t, ids.data, ids.len, &back, &err)) abort();
    if (back.len != n || (n && memcmp(back.data, s, n))) abort();
    if (stream.len != n || (n && memcmp(stream.data, s, n))) abort();
    llm_ids_free(&ids);
    llm_buf_free(&back);
    llm_buf_free(&stream);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char text[] =
      " Once upon a <s>time</s>, \xe2\x80\x9cLily\xe2\x80\x9d \xff\x80!  ";
  llm_tokenizer_free(parse(data, size, 512));
  llm_tokenizer *t = parse(data, size, -1);
  if (!t) return 0;
  check_roles(t);
  int32_t n = llm_tokenizer_n_vocab(t);
  llm_tokenizer *again = parse(data, size, n);
  if (!again || llm_tokenizer_n_vocab(again) != n) abort();
  llm_tokenizer_free(again);
  if (n < LLM_TOKENIZER_MAX_VOCAB && parse(data, size, n + 1)) abort();
  round_trip(t, data, size);
  round_trip(t, (const uint8_t *)text, sizeof text - 1);
  llm_tokenizer_free(t);
  return 0;
}
