/*
** fuzz_jinja.c: libFuzzer target for the chat-template renderer
** (engine/text/jinja.h).
**
** The input's first byte picks the variables (a conversation, or odd
** values), the rest is the template. Oracles (abort() on violation):
**  - a failed compile leaves *out NULL, with a known code and a message;
**  - a render succeeds with at most LLM_JINJA_MAX_OUTPUT bytes, or fails
**    with a known code and a message and leaves the output as it was;
**  - rendering twice gives the same result (no state kept between renders),
**    unless the template may read the clock (strftime_now).
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/jinja.h"

static const char *const VARS[] = {
  ("{\"messages\": [{\"role\": \"system\", \"content\": \" sys\\n\"}, {\"role\": \"user\", "
   "\"content\": \"hi \\\"x\\\" \\u00e9\"}, {\"role\": \"assistant\", \"content\": "
   "\"<think>r</think> ok\", \"reasoning_content\": \"r\"}], \"add_generation_prompt\": true, "
   "\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}"),
  ("{\"messages\": [], \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", "
   "\"parameters\": {\"a\": [1, 2.5, null, true]}}}], \"enable_thinking\": false}"),
  "{\"x\": 1e308, \"y\": -0.0, \"z\": \"\\ud83d\\ude00\", \"0\": [], \"10\": {}, \"s\": \"\"}",
  "{}",
};

static int known(int code) { return code == LLM_EINVAL || code == LLM_ERANGE || code == LLM_ENOMEM; }

static int render(const llm_jinja *t, const char *vars, llm_buf *out, llm_err *err) {
  static const char prefix[] = "keep";
  if (llm_buf_append(out, prefix, 4)) abort();
  int rc = llm_jinja_render(t, vars, strlen(vars), out, err);
  if (out->len < 4 || memcmp(out->data, prefix, 4)) abort();
  if (rc != LLM_OK && (out->len != 4 || !known(rc) || err->code != rc || !err->msg[0])) abort();
  if (rc == LLM_OK && out->len - 4 > LLM_JINJA_MAX_OUTPUT) abort();
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const char *vars = VARS[data[0] % (sizeof VARS / sizeof *VARS)];
  const char *src = (const char *)data + 1;
  size_t n = size - 1;
  llm_err err = {0};
  llm_jinja *t = (llm_jinja *)&err; /* must become NULL on failure */
  int rc = llm_jinja_compile(src, n, &t, &err);
  if (rc != LLM_OK) {
    if (t || !known(rc) || err.code != rc || !err.msg[0]) abort();
    return 0;
  }
  llm_buf a = {0}, b = {0};
  llm_err ea = {0}, eb = {0};
  int ra = render(t, vars, &a, &ea), rb = render(t, vars, &b, &eb);
  int clock = memmem(src, n, "strftime", 8) != NULL;
  if (!clock && (ra != rb || a.len != b.len || memcmp(a.data, b.data, a.len) ||
                 (ra != LLM_OK && strcmp(ea.msg, eb.msg))))
    abort();
  llm_buf_free(&a);
  llm_buf_free(&b);
  llm_jinja_free(t);
  return 0;
}
