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

int llm_embed(llm_infer *s, const int32_t *tokens, size_t n, size_t first, int pooling,
              int normalize, llm_pool *pool, const llm_stop *stop, float *out, llm_err *err) {
  if (first >= n)
    return llm_fail(err, LLM_EINVAL, "embedding needs first < n (got %zu, %zu)", first, n);
  const llm_config *c = llm_infer_config(s);
  size_t C = (size_t)c->n_embd, W = (size_t)c->block_size;
  int simd = llm_simd_best(), rc;
  if (pooling == LLM_POOL_DEFAULT) pooling = c->pooling ? c->pooling : LLM_POOL_MEAN;
  if (!llm_infer_net(s)->tr->causal && n > W)
    return llm_fail(err, LLM_EINVAL, "the text is %zu tokens, longer than the model's context of %zu (llm_chunks "
                    "cuts a text into pieces that fit)", n, W);
  memset(out, 0, C * sizeof *out);
  if (pooling == LLM_POOL_CLS) {
    if (stop && stop->fn && stop->fn(stop->arg)) return llm_fail(err, LLM_EINTR, "interrupted");
    size_t end = llm_infer_net(s)->tr->causal ? first + 1 : n; /* an encoder's first token sees them all */
    llm_infer_reset(s);
    if ((rc = llm_infer_forward(s, tokens, (int)end, pool, err))) return rc;
    memcpy(out, llm_infer_hidden(s) + first * C, C * sizeof *out);
  } else if (pooling == LLM_POOL_LAST) {
    /* only the last token matters: one window, with all the context */
    size_t begin = n > W ? n - W : 0;
    if (stop && stop->fn && stop->fn(stop->arg)) return llm_fail(err, LLM_EINTR, "interrupted");
    llm_infer_reset(s);
    rc = llm_infer_forward(s, tokens + begin, (int)(n - begin), pool, err);
    if (rc) return rc;
    memcpy(out, llm_infer_hidden(s) + (n - 1 - begin) * C, C * sizeof *out);
  } else {
    windows w = {.s = s, .tokens = tokens, .n = n};
    size_t lo, hi;
    while (next_window(&w, pool, stop, &lo, &hi, err, &rc))
      for (size_t t = lo > first ? lo : first; t < hi; t++)
        llm_vadd(simd, out, llm_infer_hidden(s) + (t - w.begin) * C, C);
    if (rc) return rc;
    llm_vscale(simd, out, C, 1.0f / (float)(n - first));
  }
  if (normalize) {
    double ss = 0;
    for (size_t i = 0; i < C; i++) ss += (double)out[i] * out[i];
    if (ss > 0) llm_vscale(simd, out, C, (float)(1.0 / sqrt(ss)));
  }
  return LLM_OK;
}
