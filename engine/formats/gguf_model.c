/*
** gguf_model.c: GGUF metadata to a model configuration (see gguf_model.h).
*/
#include "formats/gguf_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* An integer key "ARCH.<suffix>" into *v when present (range [lo, hi]);
** required keys fail when absent. Returns LLM_OK or the error. */
static int key_int(const llm_gguf *g, const char *arch, const char *suffix, int required, int64_t lo,
                   int64_t hi, int32_t *v, llm_err *err) {
  char key[160];
  snprintf(key, sizeof key, "%s.%s", arch, suffix);
  int64_t x;
  int found = llm_gguf_get_int(g, key, &x, err);
  if (found < 0) {
    int64_t i = llm_gguf_find(g, key);
    if (llm_gguf_kv_type(g, i) == LLM_GGUF_ARRAY)
      return llm_fail(err, LLM_EINVAL, "key %s holds one value per layer; this engine needs one for all", key);
    return err->code;
  }
  if (!found)
    return required ? llm_fail(err, LLM_EINVAL, "the file has no key %s, which a %s model needs", key, arch) : LLM_OK;
  if (x < lo || x > hi)
    return llm_fail(err, LLM_ERANGE, "key %s = %lld is out of range [%lld, %lld]", key, (long long)x,
                    (long long)lo, (long long)hi);
  *v = (int32_t)x;
  return LLM_OK;
}

static int key_float(const llm_gguf *g, const char *arch, const char *suffix, double lo, double hi, float *v,
                     llm_err *err) {
  char key[160];
  snprintf(key, sizeof key, "%s.%s", arch, suffix);
  double x;
  int found = llm_gguf_get_float(g, key, &x, err);
  if (found < 0) return err->code;
  if (!found) return LLM_OK;
  if (!(x >= lo && x <= hi))
    return llm_fail(err, LLM_ERANGE, "key %s = %g is out of range [%g, %g]", key, x, lo, hi);
  *v = (float)x;
  return LLM_OK;
}

int llm_gguf_model_config(const llm_gguf *g, llm_config *c, llm_err *err) {
  memset(c, 0, sizeof *c);
  const char *arch = NULL;
  int found = llm_gguf_get_str(g, "general.architecture", &arch, NULL, err);
  if (found < 0) return err->code;
  if (!found) return llm_fail(err, LLM_EINVAL, "the file has no general.architecture key");
  c->arch = llm_arch_by_name(arch);
  if (c->arch < 0 || !strcmp(arch, "gpt")) /* ("gpt" is only our name for GPT-2) */
    return llm_fail(err, LLM_EINVAL,
                    "architecture '%.40s' is not supported (supported: llama, qwen2, qwen3, gemma3, gpt2, bert, "
                    "nomic-bert)", arch);
  const llm_arch_traits *tr = llm_arch_traits_get(c->arch);
  int64_t splits = 1;
  if (llm_gguf_get_int(g, "split.count", &splits, err) < 0) return err->code;
  if (splits > 1)
    return llm_fail(err, LLM_EINVAL,
                    "the model is split over %lld files (split.count): merge them into one first (llama.cpp's "
                    "llama-gguf-split --merge)", (long long)splits);
  const llm_gguf_tensor *embd = llm_gguf_find_tensor(g, "token_embd.weight");
  if (!embd) return llm_fail(err, LLM_EINVAL, "the model has no tensor 'token_embd.weight'");
  if (embd->n_dims != 2 || embd->ne[1] < 1 || embd->ne[1] > INT32_MAX)
    return llm_fail(err, LLM_EINVAL, "tensor 'token_embd.weight' is not a [vocab, n_embd] matrix");
  c->vocab_size = (int32_t)embd->ne[1];
  int32_t value_length = 0, pooling = -1;
  int rc;
  if ((rc = key_int(g, arch, "context_length", 1, 1, 1 << 24, &c->block_size, err)) ||
      (rc = key_int(g, arch, "embedding_length", 1, 1, LLM_MAX_EMBD, &c->n_embd, err)) ||
      (rc = key_int(g, arch, "block_count", 1, 1, LLM_MAX_LAYERS, &c->n_layer, err)) ||
      (rc = key_int(g, arch, "feed_forward_length", 1, 1, 16 * LLM_MAX_EMBD, &c->n_hidden, err)) ||
      (rc = key_int(g, arch, "attention.head_count", 1, 1, LLM_MAX_EMBD, &c->n_head, err)) ||
      (rc = key_int(g, arch, "attention.head_count_kv", 0, 1, LLM_MAX_EMBD, &c->n_kv_head, err)) ||
      (rc = key_int(g, arch, "attention.key_length", 0, 1, LLM_MAX_EMBD, &c->head_dim, err)) ||
      (rc = key_int(g, arch, "attention.value_length", 0, 1, LLM_MAX_EMBD, &value_length, err)) ||
      (rc = key_float(g, arch, tr->layer_norm ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon",
                      1e-20, 0.5, &c->norm_eps, err)) ||
      (rc = key_int(g, arch, "pooling_type", 0, 0, 4, &pooling, err)))
    return rc;
  if (value_length && value_length != (c->head_dim ? c->head_dim : c->n_embd / c->n_head))
    return llm_fail(err, LLM_EINVAL, "keys and values of different head sizes (%d, %d) are not supported",
                    c->head_dim, value_length);
  if (!tr->decoder) {
    /* llama.cpp's pooling types: 0 none, 1 mean, 2 cls, 3 last, 4 rank */
    static const int POOL[] = {LLM_POOL_DEFAULT, LLM_POOL_MEAN, LLM_POOL_CLS, LLM_POOL_LAST, -1};
    if (pooling == 4) return llm_fail(err, LLM_EINVAL, "rank pooling (a reranker) is not supported");
    c->pooling = pooling >= 0 ? POOL[pooling] : LLM_POOL_DEFAULT;
  }
  if (tr->rope) {
    const char *scaling = NULL;
    char key[160];
    if ((rc = key_float(g, arch, "rope.freq_base", 1, 1e12, &c->rope_theta, err)) ||
        (rc = key_int(g, arch, "rope.dimension_count", 0, 2, LLM_MAX_EMBD, &c->n_rot, err)))
      return rc;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if (llm_gguf_get_str(g, key, &scaling, NULL, err) < 0) return err->code;
    float factor = 0;
    if ((rc = key_float(g, arch, "rope.scaling.factor", 0, 1e6, &factor, err))) return rc;
    if (!factor && (rc = key_float(g, arch, "rope.scale_linear", 0, 1e6, &factor, err))) return rc;
    if (scaling && strcmp(scaling, "none") && strcmp(scaling, "linear"))
      return llm_fail(err, LLM_EINVAL, "rotary scaling '%.20s' is not supported (only none and linear)", scaling);
    if (factor && (!scaling || strcmp(scaling, "none"))) c->rope_scale = factor;
  }
  if (c->arch == LLM_ARCH_GEMMA3) {
    c->swa_period = 6; /* llama.cpp's default for Gemma 3 */
    c->rope_theta_local = 10000.0f;
    if ((rc = key_int(g, arch, "attention.sliding_window", 0, 0, 1 << 24, &c->sliding_window, err)) ||
        (rc = key_int(g, arch, "attention.sliding_window_pattern", 0, 1, LLM_MAX_LAYERS, &c->swa_period, err)) ||
        (rc = key_float(g, arch, "rope.freq_base_swa", 1, 1e12, &c->rope_theta_local, err)))
      return rc;
    float cap = 0;
    if ((rc = key_float(g, arch, "final_logit_softcapping", 0, 1e6, &cap, err))) return rc;
    if (cap > 0) return llm_fail(err, LLM_EINVAL, "final logit soft-capping is not supported");
    if (!c->sliding_window) c->swa_period = 0;
  }
  return llm_net_config_check(c, err);
}

int llm_gguf_net_find(void *ctx, const char *name, llm_net_tensor *t) {
  const llm_gguf_source *src = ctx;
  const llm_gguf_tensor *x = llm_gguf_find_tensor(src->g, name);
  if (!x) return 0;
  t->data = src->file ? src->file + x->offset : NULL;
  t->type = x->type;
  t->n_dims = (int)x->n_dims;
  for (int d = 0; d < 4; d++) t->ne[d] = (int64_t)x->ne[d];
  return 1;
}
