/*
** fuzz_gguf_vocab.c: libFuzzer target for a GGUF file's tokenizer
** (engine/formats/gguf_vocab.h) and the vocabulary tokenizers it builds.
**
** The input is the file. Oracles (abort() on violation): a failure leaves
** *out NULL with a non-empty message; a success gives a finished tokenizer
** whose every id has a piece and whose roles are in range, on which a
** fixed text and the file's own bytes pass fuzz_tok.h's checks (with
** decoding one token at a time equal to decoding them all).
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "formats/gguf_vocab.h"
#include "text/tokenizer.h"
#include "fuzz_tok.h"

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
  fuzz_exercise(t, (const uint8_t *)text, sizeof text - 1, 1);
  fuzz_exercise(t, data, size < 4096 ? size : 4096, 1);
  llm_tokenizer_free(t);
  llm_gguf_free(g);
  return 0;
}
