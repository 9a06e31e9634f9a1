/*
** fuzz_hf_tokenizer.c: libFuzzer target for Hugging Face tokenizer.json
** files (engine/formats/hf_tokenizer.h, the pipeline of text/hf_pipeline.h)
** and the tokenizers they build.
**
** The input is the file. Oracles (abort() on violation): a failure leaves
** *out NULL with a non-empty message; a success gives a finished tokenizer
** on which, for a fixed text and for the file's own bytes, with and
** without allow_special and add_special, encoding succeeds (or runs out of
** room) with ids in range, and decoding the ids succeeds.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/hf_tokenizer.h"
#include "formats/json.h"
#include "text/tokenizer.h"

static void exercise(llm_tokenizer *t, const uint8_t *s, size_t n) {
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
    for (size_t i = 0; i < ids.len; i++)
      if (ids.data[i] < 0 || ids.data[i] >= nv) abort();
    llm_buf out = {0};
    if (llm_tokenizer_decode(t, ids.data, ids.len, &out, &err) && err.code != LLM_ENOMEM) abort();
    llm_buf_free(&out);
    llm_ids_free(&ids);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llm_json_doc *doc = NULL;
  llm_err err;
  memset(&err, 0, sizeof err);
  if (llm_json_parse((const char *)data, size, &doc, &err)) return 0;
  llm_tokenizer *t = (llm_tokenizer *)1;
  if (llm_hf_tokenizer_build(llm_json_root(doc), &t, &err)) {
    if (t != NULL || err.msg[0] == 0) abort();
  } else {
    static const char text[] = "Hello world! <s> caf\xc3\xa9 \xe4\xb8\xad 123  \n\t x\x80y ##ing";
    exercise(t, (const uint8_t *)text, sizeof text - 1);
    exercise(t, data, size < 2048 ? size : 2048);
    llm_tokenizer_free(t);
  }
  llm_json_free(doc);
  return 0;
}
