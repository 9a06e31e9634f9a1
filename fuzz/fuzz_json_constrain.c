/*
** fuzz_json_constrain.c: libFuzzer target for schema-constrained output.
**
** Input: a JSON Schema, a NUL byte, then choices. Each choice byte picks
** one of the bytes the mask allows next (over a vocabulary of the 256 single
** bytes), so the walk stays on valid paths and goes deep.
** Oracles (abort() on violation):
**  - compile either succeeds or fails with a message and *out NULL;
**  - the mask agrees with llm_jcon_feed on every byte;
**  - a state that is not complete allows some byte (no dead end), and one
**    that must stop allows none;
**  - a complete text parses as strict JSON;
**  - llm_jcon_rest is the shortest completion: no byte lowers it by more
**    than one, and some byte lowers it by one (or completes the value).
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/json.h"
#include "text/json_constrain.h"

static void walk(llm_jcon *c, llm_jcon_vocab *v, const uint8_t *choices, size_t n,
                 const uint8_t *const *pieces, const size_t *lens) {
  llm_jcon_state *s = NULL, *tmp = NULL;
  llm_err err;
  if (llm_jcon_state_new(c, &s, &err) || llm_jcon_state_new(c, &tmp, &err)) abort();
  uint8_t allowed[256], text[1024];
  size_t len = 0;
  for (size_t i = 0; i <= n && len < sizeof text; i++) {
    if (llm_jcon_mask(s, v, allowed)) abort();
    uint8_t ok[256];
    int n_ok = 0;
    for (int b = 0; b < 256; b++) {
      llm_jcon_state_copy(tmp, s);
      if (llm_jcon_feed(tmp, pieces[b], lens[b]) != allowed[b]) abort();
      if (allowed[b]) ok[n_ok++] = (uint8_t)b;
    }
    int complete = llm_jcon_complete(s);
    if ((!complete && n_ok == 0) || (complete == LLM_JCON_MUST_STOP && n_ok > 0)) abort();
    if (!complete) {
      int64_t rest = llm_jcon_rest(s), best = INT64_MAX;
      for (int k = 0; k < n_ok; k++) {
        llm_jcon_state_copy(tmp, s);
        if (!llm_jcon_feed(tmp, &ok[k], 1)) abort();
        int64_t r = llm_jcon_complete(tmp) ? 0 : llm_jcon_rest(tmp);
        if (r < rest - 1) abort();
        if (r < best) best = r;
      }
      if (best != rest - 1) abort();
    }
    if (complete) {
      llm_json_doc *doc = NULL;
      if (llm_json_parse((const char *)text, len, &doc, &err)) abort();
      llm_json_free(doc);
    }
    if (i == n || n_ok == 0) break;
    uint8_t b = ok[choices[i] % n_ok];
    if (!llm_jcon_feed(s, &b, 1)) abort();
    text[len++] = b;
  }
  llm_jcon_state_free(s);
  llm_jcon_state_free(tmp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t schema_len = nul ? (size_t)(nul - data) : size;
  llm_jcon *c = (llm_jcon *)1;
  llm_err err = {0};
  if (llm_jcon_compile((const char *)data, schema_len, &c, &err)) {
    if (c != NULL || err.msg[0] == 0) abort();
    return 0;
  }
  const uint8_t *pieces[256];
  size_t lens[256];
  uint8_t all[256];
  for (int b = 0; b < 256; b++) {
    all[b] = (uint8_t)b;
    pieces[b] = &all[b];
    lens[b] = 1;
  }
  llm_jcon_vocab *v = NULL;
  if (llm_jcon_vocab_new(pieces, lens, 256, &v, &err)) abort();
  size_t rest = nul ? size - schema_len - 1 : 0;
  walk(c, v, nul ? nul + 1 : data, rest, pieces, lens);
  llm_jcon_vocab_free(v);
  llm_jcon_free(c);
  return 0;
}
