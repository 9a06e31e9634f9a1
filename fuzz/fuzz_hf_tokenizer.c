/*
** fuzz_hf_tokenizer.c: libFuzzer target for Hugging Face tokenizer.json
** files (engine/formats/hf_tokenizer.h, the pipeline of text/hf_pipeline.h)
** and the tokenizers they build.
**
** The input is the file. Oracles (abort() on violation): a failure leaves
** *out NULL with a non-empty message; a success gives a finished tokenizer
** on which a fixed text and the file's own bytes pass fuzz_tok.h's checks.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/hf_tokenizer.h"
#include "formats/json.h"
#include "text/tokenizer.h"
#include "fuzz_tok.h"

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
    fuzz_exercise(t, (const uint8_t *)text, sizeof text - 1, 0);
    fuzz_exercise(t, data, size < 2048 ? size : 2048, 0);
    llm_tokenizer_free(t);
  }
  llm_json_free(doc);
  return 0;
}
