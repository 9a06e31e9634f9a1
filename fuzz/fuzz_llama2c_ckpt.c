/*
** fuzz_llama2c_ckpt.c: libFuzzer target for the llama2.c checkpoint reader
** (engine/formats/llama2c_ckpt.h).
**
** The input is the whole checkpoint file. Oracles (abort() on violation): a
** header that fails leaves a message in err; a header that passes describes
** a valid config whose size is exactly the input's, so the model it asks
** for is no larger than the input (no allocation the input cannot pay for);
** reading the weights then either fails with a message or succeeds with
** only finite weights, and writing the model back in the legacy format and
** reading that again gives bitwise the same parameters.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/llama2c_ckpt.h"

static int same_model(const llm_model *a, const llm_model *b) {
  size_t n = llm_model_n_params(a);
  return n == llm_model_n_params(b) &&
         !memcmp(llm_model_params((llm_model *)a), llm_model_params((llm_model *)b), n * sizeof(float));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llm_llama2c_info info;
  llm_err err;
  memset(&err, 0, sizeof err);
  size_t head = size < LLM_LLAMA2C_HEADER_MAX ? size : LLM_LLAMA2C_HEADER_MAX;
  if (llm_llama2c_parse_header(data, head, size, &info, &err)) {
    if (!err.msg[0]) abort();
    return 0;
  }
  if ((double)llm_config_n_params(&info.config) * 4 > (double)size) abort();
  llm_config c = info.config;
  if (llm_config_check(&c, &err)) abort();
  llm_model *m = NULL, *again = NULL;
  if (llm_model_new(&info.config, &m, &err)) return 0; /* out of memory only */
  FILE *f = fmemopen((void *)data, size, "rb");
  if (!f) abort();
  int rc = llm_llama2c_read_weights(f, &info, m, &err);
  fclose(f);
  if (rc) {
    if (!err.msg[0]) abort();
    llm_model_free(m);
    return 0;
  }
  const float *p = llm_model_params(m);
  for (size_t i = 0; i < llm_model_n_params(m); i++)
    if (!isfinite(p[i])) abort();
  /* round trip through the legacy format */
  char *buf = NULL;
  size_t len = 0;
  FILE *w = open_memstream(&buf, &len);
  if (!w || llm_llama2c_write(w, m, &err)) abort();
  fclose(w);
  llm_llama2c_info info2;
  if (llm_llama2c_parse_header((const uint8_t *)buf, len < 256 ? len : 256, len, &info2, &err)) abort();
  if (llm_model_new(&info2.config, &again, &err)) abort();
  FILE *r = fmemopen(buf, len, "rb");
  if (!r || llm_llama2c_read_weights(r, &info2, again, &err) || !same_model(m, again)) abort();
  fclose(r);
  free(buf);
  llm_model_free(again);
  llm_model_free(m);
  return 0;
}
