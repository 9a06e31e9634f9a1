/*
** score.c: log-probabilities and embeddings of token sequences of any
** length, in the overlapping windows described in infer.h.
*/
#include <math.h>
#include <string.h>

#include "nn/infer.h"
#include "kernels/vec.h"

/* The windows over tokens[0..n): each call runs the next one through the
** model and reports the positions it covers for the first time, [*lo, *hi),
** and where it begins, *begin (row r of the forward is position begin + r).
** Returns 0 when there are no more windows. */
typedef struct windows {
  llm_infer *s;
  const int32_t *tokens;
  size_t n, begin, end;
  int started;
} windows;

static int next_window(windows *w, llm_pool *pool, const llm_stop *stop, size_t *lo,
                       size_t *hi, llm_err *err, int *rc) {
  size_t W = (size_t)llm_infer_config(w->s)->block_size;
  size_t S = W / 2 ? W / 2 : 1;
  *rc = LLM_OK;
  if (w->started && w->end >= w->n) return 0;
  if (stop && stop->fn && stop->fn(stop->arg)) {
    *rc = llm_fail(err, LLM_EINTR, "interrupted");
    return 0;
  }
  size_t prev_end = w->started ? w->end : 0;
  w->begin = w->started ? w->end - (W - S) : 0;
  w->end = w->begin + W < w->n ? w->begin + W : w->n;
  w->started = 1;
  llm_infer_reset(w->s);
  *rc = llm_infer_forward(w->s, w->tokens + w->begin, (int)(w->end - w->begin), pool, err);
  *lo = prev_end;
  *hi = w->end;
  return *rc == LLM_OK;
}

int llm_score(llm_infer *s, const int32_t *tokens, size_t n, size_t first, llm_pool *pool,
              const llm_stop *stop, double *logprob, llm_err *err) {
  *logprob = 0;
  if (first < 1 || first > n)
    return llm_fail(err, LLM_EINVAL, "scoring needs 1 <= first <= n (got %zu, %zu)", first, n);
  if (first == n) return LLM_OK;
  if (!llm_infer_net(s)->tr->decoder)
    return llm_fail(err, LLM_EINVAL, "an encoder model does not predict tokens: it has no log-probabilities");
  int V = llm_infer_config(s)->vocab_size, simd = llm_simd_best();
  windows w = {.s = s, .tokens = tokens, .n = n};
  size_t lo, hi;
  int rc;
  double sum = 0;
  while (next_window(&w, pool, stop, &lo, &hi, err, &rc)) {
    /* targets t in [lo, hi) beyond the context; row t - 1 predicts t */
    size_t t = lo > first ? lo : first;
    while (t < hi) {
      int rows = hi - t < LLM_INFER_LOGIT_ROWS ? (int)(hi - t) : LLM_INFER_LOGIT_ROWS;
      const float *logits = llm_infer_logits(s, (int)(t - 1 - w.begin), rows, pool);
      if (!logits) return llm_fail(err, LLM_ENOMEM, "out of memory for the logits");
      for (int r = 0; r < rows; r++) {
        const float *l = logits + (size_t)r * V;
        float mx = llm_vmax(simd, l, (size_t)V);
        double lse = mx + log((double)llm_vexp_sum(simd, NULL, l, (size_t)V, mx));
        sum += (double)l[tokens[t + (size_t)r]] - lse;
      }
      t += (size_t)rows;
    }
  }
  if (rc) return rc;
  *logprob = sum;
  return LLM_OK;
}

/* out[C] /= its L2 norm (a zero vector stays zero). */
static void l2_normalize(int simd, float *out, size_t C) {
  double ss = 0;
  for (size_t i = 0; i < C; i++) ss += (double)out[i] * out[i];
  if (ss > 0) llm_vscale(simd, out, C, (float)(1.0 / sqrt(ss)));
}

int llm_embed_pooling(const llm_infer *s, int pooling) {
  const llm_config *c = llm_infer_config(s);
  return pooling == LLM_POOL_DEFAULT ? (c->pooling ? c->pooling : LLM_POOL_MEAN) : pooling;
}

int llm_embed_span(const llm_infer *s, size_t n, size_t first, int pooling, size_t *begin, size_t *end) {
  size_t W = (size_t)llm_infer_config(s)->block_size;
  int causal = llm_infer_net(s)->tr->causal;
  pooling = llm_embed_pooling(s, pooling);
  *begin = 0;
  *end = n;
  if (pooling == LLM_POOL_CLS) {
    if (causal) *end = first + 1; /* an encoder's first token sees them all */
  } else if (pooling == LLM_POOL_LAST) {
    *begin = n > W ? n - W : 0; /* only the last token matters: one window, with all the context */
  } else if (causal && n > W) {
    return 0; /* the mean over windows */
  }
  return 1;
}

void llm_embed_pool(const llm_infer *s, size_t n, size_t first, size_t begin, int pooling, int normalize,
                    float *out) {
  const llm_config *c = llm_infer_config(s);
  size_t C = (size_t)c->n_embd;
  const float *h = llm_infer_hidden(s);
  int simd = llm_simd_best();
  pooling = llm_embed_pooling(s, pooling);
  if (pooling == LLM_POOL_CLS) {
    memcpy(out, h + (first - begin) * C, C * sizeof *out);
  } else if (pooling == LLM_POOL_LAST) {
    memcpy(out, h + (n - 1 - begin) * C, C * sizeof *out);
  } else {
    memset(out, 0, C * sizeof *out);
    for (size_t t = first; t < n; t++) llm_vadd(simd, out, h + (t - begin) * C, C);
    llm_vscale(simd, out, C, 1.0f / (float)(n - first));
  }
  if (normalize) l2_normalize(simd, out, C);
}

int llm_embed_check(const llm_infer *s, size_t n, size_t first, llm_err *err) {
  size_t W = (size_t)llm_infer_config(s)->block_size;
  if (first >= n)
    return llm_fail(err, LLM_EINVAL, "embedding needs first < n (got %zu, %zu)", first, n);
  if (!llm_infer_net(s)->tr->causal && n > W)
    return llm_fail(err, LLM_EINVAL, "the text is %zu tokens, longer than the model's context of %zu (llm_chunks "
                    "cuts a text into pieces that fit)", n, W);
  return LLM_OK;
}

int llm_embed(llm_infer *s, const int32_t *tokens, size_t n, size_t first, int pooling,
              int normalize, llm_pool *pool, const llm_stop *stop, float *out, llm_err *err) {
  int rc = llm_embed_check(s, n, first, err);
  if (rc) return rc;
  size_t C = (size_t)llm_infer_config(s)->n_embd, begin, end;
  if (llm_embed_span(s, n, first, pooling, &begin, &end)) {
    if (stop && stop->fn && stop->fn(stop->arg)) return llm_fail(err, LLM_EINTR, "interrupted");
    llm_infer_reset(s);
    if ((rc = llm_infer_forward(s, tokens + begin, (int)(end - begin), pool, err))) return rc;
    llm_embed_pool(s, n, first, begin, pooling, normalize, out);
    return LLM_OK;
  }
  /* the mean over windows of a text longer than the context */
  int simd = llm_simd_best();
  memset(out, 0, C * sizeof *out);
  windows w = {.s = s, .tokens = tokens, .n = n};
  size_t lo, hi;
  while (next_window(&w, pool, stop, &lo, &hi, err, &rc))
    for (size_t t = lo > first ? lo : first; t < hi; t++)
      llm_vadd(simd, out, llm_infer_hidden(s) + (t - w.begin) * C, C);
  if (rc) return rc;
  llm_vscale(simd, out, C, 1.0f / (float)(n - first));
  if (normalize) l2_normalize(simd, out, C);
  return LLM_OK;
}
