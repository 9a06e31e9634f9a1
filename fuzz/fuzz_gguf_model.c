/*
** fuzz_gguf_model.c: libFuzzer target for a GGUF file as a model: its
** configuration (formats/gguf_model.h), the shape and type checks of the
** net builder (nn/net.h) and, when everything validates, a forward pass
** (nn/infer.h).
**
** The input is the file, opened from memory. Oracles (abort() on
** violation):
**  - every failure is an llm_err whose code is the one returned, with a
**    message, and leaves the output NULL (llm_infer_new);
**  - the net builder gives the same answer with and without the tensors'
**    data (the importer checks shapes before reading the data);
**  - a model that validated runs: a forward of a few in-range ids, then
**    for a decoder the logits of its last row, one decode step and its
**    logits, for an encoder the pooled embedding of those ids.
** NaN and infinite weights are allowed (nothing checks the outputs'
** values). Models whose forward would cost much (more than MAX_WEIGHTS
** weights, a context over MAX_CONTEXT, an infer over MAX_INFER_BYTES) are
** checked up to the net builder and then skipped, so that a fuzzed header
** cannot make the target allocate or compute for long.
**
** With FUZZ_GGUF_MODEL_VERBOSE set in the environment, each input prints
** how far it got (to check that the seeds run the whole path).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "formats/gguf_model.h"
#include "nn/infer.h"

#define MAX_WEIGHTS 1e6
#define MAX_CONTEXT 4096
#define MAX_INFER_BYTES (16u << 20)
/* Tokens of the first forward, at most: past the row counts where the
** products change method (nn/linear.c). */
#define MAX_TOKENS 20

static void say(const char *stage, const char *what) {
  if (getenv("FUZZ_GGUF_MODEL_VERBOSE")) fprintf(stderr, "fuzz_gguf_model: %s: %s\n", stage, what);
}

/* A failure must be reported in err. */
static void check_failure(int rc, const llm_err *err, const char *stage) {
  if (rc != err->code || !err->msg[0]) abort();
  say(stage, err->msg);
}

/* The weights of the config's matrices, counting a decoder's head as
** untied (a bound; a double, so that nothing overflows). */
static double n_weights(const llm_config *c, const llm_arch_traits *tr) {
  double C = c->n_embd, H = c->n_hidden, hd = llm_net_head_dim(c);
  double qw = hd * c->n_head, kw = hd * c->n_kv_head;
  double layer = C * (qw + 2 * kw) + qw * C + (tr->gated ? 3 : 2) * C * H;
  double embd = (double)c->vocab_size * C * (tr->decoder ? 2 : 1);
  double pos = tr->rope ? 0 : (double)c->block_size * C;
  return embd + pos + c->n_layer * layer;
}

/* Runs the validated net on a few ids chosen by the input. */
static void run(const llm_net *net, const uint8_t *data, size_t size) {
  const llm_config *c = &net->cfg;
  llm_infer *s = (llm_infer *)1;
  llm_err err;
  memset(&err, 0, sizeof err);
  int rc = llm_infer_new(net, &s, &err);
  if (rc) {
    if (s) abort();
    check_failure(rc, &err, "infer");
    return;
  }
  uint32_t h = 2166136261u; /* FNV-1a of the input picks the ids */
  for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
  int n = 1 + (int)(h % MAX_TOKENS);
  if (n > c->block_size) n = c->block_size;
  int32_t ids[MAX_TOKENS];
  for (int i = 0; i < n; i++) ids[i] = (int32_t)(((h >> 8) + 7919u * (uint32_t)i) % (uint32_t)c->vocab_size);
  /* the inputs are valid: the forward must run */
  if (llm_infer_forward(s, ids, n, NULL, &err) || !llm_infer_hidden(s)) abort();
  if (net->tr->decoder) {
    if (!llm_infer_logits(s, n - 1, 1, NULL)) abort();
    if (n < c->block_size) {
      if (llm_infer_forward(s, ids, 1, NULL, &err) || !llm_infer_logits(s, 0, 1, NULL)) abort();
    }
  } else {
    float *e = malloc((size_t)c->n_embd * sizeof *e);
    if (!e || llm_embed(s, ids, (size_t)n, 0, LLM_POOL_DEFAULT, 1, NULL, NULL, e, &err)) abort();
    free(e);
  }
  say("forward", llm_arch_name(c->arch));
  llm_infer_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llm_err err;
  memset(&err, 0, sizeof err);
  llm_gguf *g = NULL;
  int rc = llm_gguf_open_memory(&g, data, size, &err);
  if (rc) {
    check_failure(rc, &err, "open");
    return 0;
  }
  llm_config cfg;
  rc = llm_gguf_model_config(g, &cfg, &err);
  if (rc) {
    check_failure(rc, &err, "config");
    llm_gguf_free(g);
    return 0;
  }
  /* shapes only, then with the data: the same answer, but that float32
  ** data at an address not a multiple of 4 (a file aligned to 1 or 2
  ** bytes, used in place) is refused only with the data, and as the
  ** tensor is found: before a later tensor's problem that the shapes alone
  ** report */
  llm_gguf_source shapes = {g, NULL}, src = {g, data};
  llm_net net;
  llm_err err2;
  memset(&err2, 0, sizeof err2);
  int rc_shapes = llm_net_from_tensors(&net, &cfg, llm_gguf_net_find, &shapes, &err2);
  llm_net_free(&net);
  rc = llm_net_from_tensors(&net, &cfg, llm_gguf_net_find, &src, &err);
  int misaligned = rc && strstr(err.msg, "not 4-byte aligned");
  if (!misaligned && (rc != rc_shapes || (rc && strcmp(err.msg, err2.msg)))) abort();
  if (rc) {
    check_failure(rc, &err, "net");
  } else if (n_weights(&net.cfg, net.tr) > MAX_WEIGHTS || net.cfg.block_size > MAX_CONTEXT ||
             llm_infer_bytes(&net.cfg) > MAX_INFER_BYTES) {
    say("skipped", "too big to run");
  } else {
    run(&net, data, size);
  }
  llm_net_free(&net);
  llm_gguf_free(g);
  return 0;
}
