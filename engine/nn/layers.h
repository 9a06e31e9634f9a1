/*
** layers.h: the layers of the GPT training pass, as forward/backward pairs
** over flat row-major float arrays. N = B*T is the number of token rows;
** the other shape letters are those of model.h.
**
** Conventions:
**   - A backward writes the gradients of the layer's parameters (never
**     accumulates), and writes the gradient of its input unless it says
**     "+=": LayerNorm adds into dinp, because in the model its input is the
**     residual stream, whose gradient collects several paths.
**   - Work is split over the pool's threads by rows (or, for sums over
**     rows, by columns), and every float sum runs in an order fixed by the
**     shapes and the thread count, so results are deterministic.
**   - Matrix products go to cblas_sgemm, one call per thread on its slice
**     of rows; the pool keeps OpenBLAS itself single-threaded.
** Shapes are trusted: the model checks its inputs before calling these.
*/
#ifndef LLM_LAYERS_H
#define LLM_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

/* Where and how to run: the pool (NULL: inline on the caller) and the
** SIMD level of vec.h. */
typedef struct llm_exec {
  llm_pool *pool;
  int simd;
} llm_exec;

/* out[B,T,C] = wte[inp[b,t]] + wpe[t] (wpe may be NULL: no position
** embedding). Ids are trusted to be < V. */
void llm_encoder_forward(const llm_exec *x, float *out, const int32_t *inp,
                         const float *wte, const float *wpe, int B, int T,
                         int C);
/* dwte[V,C] += scatter of dout by token; dwpe[0..T) = sum over b of dout
** (rows T.. of dwpe untouched; dwpe may be NULL). */
void llm_encoder_backward(const llm_exec *x, float *dwte, float *dwpe,
                          const float *dout, const int32_t *inp, int B, int T,
                          int C);

/* out[N,C] = (inp - mean) * rstd * w + b per row; keeps mean[N], rstd[N]. */
void llm_layernorm_forward(const llm_exec *x, float *out, float *mean,
                           float *rstd, const float *inp, const float *w,
                           const float *b, size_t N, int C, float eps);
/* dinp[N,C] +=; dw[C], db[C] written. */
void llm_layernorm_backward(const llm_exec *x, float *dinp, float *dw,
                            float *db, const float *dout, const float *inp,
                            const float *mean, const float *rstd,
                            const float *w, size_t N, int C);

/* out[N,OUT] = res + inp[N,IN] w[OUT,IN]^T + bias[OUT]. (IN and OUT, not
** I and O: cblas.h brings <complex.h>, which takes I.) bias and res may be
** NULL; res, the residual stream the layer adds into, may be out itself.
** Adding the residual here saves a pass over memory; its backward is the
** identity, so the model just leaves dout in the residual gradient. */
void llm_matmul_forward(const llm_exec *x, float *out, const float *inp,
                        const float *w, const float *bias, const float *res,
                        size_t N, int IN, int OUT);
/* dinp[N,IN] (may be NULL: not wanted), dw[OUT,IN], dbias[OUT] (may be NULL)
** written. */
void llm_matmul_backward(const llm_exec *x, float *dinp, float *dw,
                         float *dbias, const float *dout, const float *inp,
                         const float *w, size_t N, int IN, int OUT);

/* Causal multi-head self-attention: NH query heads and NKV key/value heads
** (NH % NKV == 0; NKV = NH for plain multi-head attention) of HS each;
** scores scaled by scale (1 / sqrt(HS) usually); with window > 0, query
** i sees keys (i - window, i] only (0: all earlier ones). */
typedef struct llm_att_shape {
  int NH, NKV, HS;
  float scale;
  int window;
} llm_att_shape;

/* qkv[B,T,QKV] holds the query heads, then the key heads, then the value
** heads side by side (QKV = (NH + 2 NKV) HS; head h in columns h*HS.. of
** its part; query head h reads key/value head h / (NH / NKV));
** out[B,T,NH HS]; att[B,NH,T,T] keeps the softmax probabilities (zero
** above the diagonal and outside the window) for the backward.
** scratch: llm_attention_scratch(T, HS, threads of the pool) floats. */
void llm_attention_forward(const llm_exec *x, float *out, float *att,
                           float *scratch, const float *qkv, int B, int T,
                           const llm_att_shape *a);
/* Floats of scratch the forward and the backward need. */
size_t llm_attention_scratch(int T, int HS, int n_threads);
/* dqkv[B,T,QKV] written; scratch as for the forward. */
void llm_attention_backward(const llm_exec *x, float *dqkv, float *scratch,
                            const float *dout, const float *qkv,
                            const float *att, int B, int T,
                            const llm_att_shape *a);

/* RMSNorm: out[N,C] = inp * rstd * w with rstd[N] = 1 / sqrt(mean(inp^2) +
** eps) (kept for the backward). */
void llm_rmsnorm_forward(const llm_exec *x, float *out, float *rstd,
                         const float *inp, const float *w, size_t N, int C,
                         float eps);
/* dinp[N,C] += (the residual stream's gradient, as LayerNorm); dw[C]
** written. */
void llm_rmsnorm_backward(const llm_exec *x, float *dinp, float *dw,
                          const float *dout, const float *inp,
                          const float *rstd, const float *w, size_t N, int C);

/* Rotary position embeddings: within each head, n_rot of its HS dimensions
** turn in pairs, pair i by the angle (pos / scale) theta^(-2i/n_rot) /
** factors[i]. The pairs are adjacent dimensions (2i, 2i+1) (llama2.c's and
** Llama's convention) or, with halves, (i, i + n_rot / 2) (GPT-NeoX's:
** Qwen, Gemma). table[P, n_rot/2, 2] holds cos and sin for positions
** 0..P-1 (llm_rope_table; factors may be NULL: all 1).
** llm_rope_forward turns, in place, the first `heads` heads (the queries
** and the keys) of rows [N, ld], row r being at position pos0 + r % T;
** llm_rope_backward turns gradients back (the inverse rotation). */
typedef struct llm_rope_shape {
  int heads, HS, n_rot, halves;
} llm_rope_shape;
void llm_rope_table(float *table, int P, int n_rot, float theta, float scale,
                    const float *factors);
void llm_rope_forward(const llm_exec *x, float *rows, const float *table,
                      size_t N, int T, int pos0, size_t ld,
                      const llm_rope_shape *r);
void llm_rope_backward(const llm_exec *x, float *drows, const float *table,
                       size_t N, int T, int pos0, size_t ld,
                       const llm_rope_shape *r);

/* Per-head RMSNorm of queries and keys (Qwen3, Gemma 3): in rows [N, ld]
** of NH query heads then NKV key heads of HS (then anything, copied as
** is), each head normalised as RMSNorm does, by wq [HS] for queries and wk
** [HS] for keys; rstd[N, NH + NKV] kept for the backward. */
void llm_headnorm_forward(const llm_exec *x, float *out, float *rstd,
                          const float *inp, const float *wq, const float *wk,
                          size_t N, size_t ld, int NH, int NKV, int HS,
                          float eps);
/* dinp[N, ld] written (may be dout: the columns past the heads are
** copied from dout), dwq[HS] and dwk[HS] written. */
void llm_headnorm_backward(const llm_exec *x, float *dinp, float *dwq,
                           float *dwk, const float *dout, const float *inp,
                           const float *rstd, const float *wq,
                           const float *wk, size_t N, size_t ld, int NH,
                           int NKV, int HS);

/* SwiGLU: inp[N, 2H] holds the gate and the up projections side by side;
** out[N, H] = silu(gate) * up, silu(g) = g sigmoid(g). */
void llm_swiglu_forward(const llm_exec *x, float *out, const float *inp,
                        size_t N, int H);
/* dinp[N, 2H] written from dout[N, H]. */
void llm_swiglu_backward(const llm_exec *x, float *dinp, const float *inp,
                         const float *dout, size_t N, int H);
/* GeGLU (Gemma): the same with GELU (tanh form) in place of silu. */
void llm_geglu_forward(const llm_exec *x, float *out, const float *inp,
                       size_t N, int H);
void llm_geglu_backward(const llm_exec *x, float *dinp, const float *inp,
                        const float *dout, size_t N, int H);

/* GELU (tanh approximation) over n values; dinp may be dout. */
void llm_gelu_forward(const llm_exec *x, float *out, const float *inp,
                      size_t n);
void llm_gelu_backward(const llm_exec *x, float *dinp, const float *inp,
                       const float *dout, size_t n);

/* Softmax cross-entropy of logits[N,V] against targets[N] (trusted < V):
** keeps lse[N] (each row's log-sum-exp) and losses[N]; returns the mean
** loss, summed in row order. */
float llm_crossentropy_forward(const llm_exec *x, float *lse, float *losses,
                               const float *logits, const int32_t *targets,
                               size_t N, int V);
/* dlogits[N,V] = (softmax(logits) - onehot(targets)) / n_mean, the
** gradient of a mean loss over n_mean rows, these N among them (N <
** n_mean for a part of a batch). dlogits may be logits. */
void llm_crossentropy_backward(const llm_exec *x, float *dlogits,
                               const float *logits, const float *lse,
                               const int32_t *targets, size_t N,
                               size_t n_mean, int V);

#endif
