/*
** attention.c: causal multi-head self-attention (see layers.h).
**
** qkv rows hold the NH query heads, then the NKV key heads, then the NKV
** value heads (QKV = C + 2 KV floats, KV = NKV * HS); query head h reads
** key/value head h / (NH / NKV) (grouped-query attention; NKV = NH is plain
** multi-head attention, the GPT layout [q | k | v] of 3C).
** Each (batch, head) pair is independent in the forward; the pool splits
** the B*NH pairs. The backward splits the B*NKV groups instead, since the
** heads of a group add into the same dK and dV.
** Within a pair, with S = scale Q K^T, P = softmax(S) (causal) and Y = P V:
**   dP = dY V^T,  dV = P^T dY,  dS = P (dP - rowsum(P dP)),
**   dQ = scale dS K,  dK = scale dS^T Q.
** All five products are sgemm calls on strided views of qkv (row stride QKV)
** and out (row stride C). Causality halves the work when it is exploited:
** queries are taken in blocks of QB rows, and block [r0, r1) only needs
** keys [0, r1); for dK and dV, key block [c0, c1) only needs queries [c0,
** T). Entries above the diagonal of P and dS are kept at zero, so the
** products can run over whole blocks.
*/
#include <math.h>
#include <string.h>

#include "layers.h"
#include "blas.h"
#include "vec.h"

/* Rows per block: large enough for sgemm to run well, small enough that
** the skipped triangle is worth it. Measured on the benchmark's large
** shape (T = 256, HS = 64), a training step: 128 as fast as 64 or up to 2%
** faster (the machine's noise is +-5%), 256 slower. */
#define QB 128

typedef struct att_ctx {
  const llm_exec *x;
  float *out, *att, *dqkv, *scratch;
  const float *qkv, *catt, *dout;
  int B, T, C, NH, NKV;
} att_ctx;

static void att_fwd_pairs(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const att_ctx *c = p;
  int T = c->T, C = c->C, NH = c->NH, HS = C / NH, KV = c->NKV * HS;
  int QKV = C + 2 * KV, group = NH / c->NKV;
  float scale = 1.0f / sqrtf((float)HS);
  for (size_t bh = lo; bh < hi; bh++) {
    size_t b = bh / (size_t)NH, h = bh % (size_t)NH;
    const float *row0 = c->qkv + b * (size_t)T * QKV;
    const float *q = row0 + h * (size_t)HS;
    const float *k = row0 + C + (h / (size_t)group) * (size_t)HS, *v = k + KV;
    float *att = c->att + bh * (size_t)T * T;
    float *y = c->out + b * (size_t)T * C + h * (size_t)HS;
    for (int r0 = 0; r0 < T; r0 += QB) {
      int r1 = r0 + QB < T ? r0 + QB : T;
      float *a = att + (size_t)r0 * T;
      llm_sgemm(0, 1, r1 - r0, r1, HS, scale, q + (size_t)r0 * QKV, QKV, k, QKV,
                0.0f, a, T);
      for (int i = r0; i < r1; i++) {
        float *row = att + (size_t)i * T;
        float m = llm_vmax(c->x->simd, row, (size_t)i + 1);
        float s = llm_vexp_sum(c->x->simd, row, row, (size_t)i + 1, m);
        llm_vscale(c->x->simd, row, (size_t)i + 1, 1.0f / s);
        memset(row + i + 1, 0, (size_t)(T - i - 1) * sizeof *row);
      }
      llm_sgemm(0, 0, r1 - r0, HS, r1, 1.0f, a, T, v, QKV, 0.0f,
                y + (size_t)r0 * C, C);
    }
  }
}

void llm_attention_forward(const llm_exec *x, float *out, float *att,
                           const float *qkv, int B, int T, int C, int NH,
                           int NKV) {
  att_ctx c = {.x = x, .out = out, .att = att, .qkv = qkv, .B = B, .T = T,
               .C = C, .NH = NH, .NKV = NKV};
  llm_pool_for(x->pool, (size_t)B * NH, att_fwd_pairs, &c);
}

size_t llm_attention_scratch(int T, int n_threads) {
  return (size_t)T * (size_t)T * (size_t)(n_threads > 0 ? n_threads : 1);
}

static void att_bwd_groups(void *p, size_t lo, size_t hi, int tid) {
  const att_ctx *c = p;
  int T = c->T, C = c->C, NH = c->NH, HS = C / NH, KV = c->NKV * HS;
  int QKV = C + 2 * KV, group = NH / c->NKV;
  float scale = 1.0f / sqrtf((float)HS);
  float *ds = c->scratch + (size_t)tid * T * T; /* dP, then dS, [T, T] */
  for (size_t bg = lo; bg < hi; bg++) {
    size_t b = bg / (size_t)c->NKV, g = bg % (size_t)c->NKV;
    size_t koff = b * (size_t)T * QKV + (size_t)C + g * (size_t)HS;
    const float *k = c->qkv + koff, *v = k + KV;
    float *dk = c->dqkv + koff, *dv = dk + KV;
    for (int j = 0; j < group; j++) {
      size_t h = g * (size_t)group + (size_t)j, bh = b * (size_t)NH + h;
      size_t qoff = b * (size_t)T * QKV + h * (size_t)HS;
      const float *q = c->qkv + qoff;
      float *dq = c->dqkv + qoff;
      const float *att = c->catt + bh * (size_t)T * T;
      const float *dy = c->dout + b * (size_t)T * C + h * (size_t)HS;
      /* the group's first head writes dK and dV, the others add */
      float beta = j ? 1.0f : 0.0f;
      for (int r0 = 0; r0 < T; r0 += QB) {
        int r1 = r0 + QB < T ? r0 + QB : T;
        float *d = ds + (size_t)r0 * T;
        llm_sgemm(0, 1, r1 - r0, r1, HS, 1.0f, dy + (size_t)r0 * C, C, v, QKV,
                  0.0f, d, T);
        for (int i = r0; i < r1; i++) {
          float *row = ds + (size_t)i * T;
          llm_vsoftmax_backward(c->x->simd, row, att + (size_t)i * T, row,
                                (size_t)i + 1, scale);
          memset(row + i + 1, 0, (size_t)(r1 - i - 1) * sizeof *row);
        }
        llm_sgemm(0, 0, r1 - r0, HS, r1, 1.0f, d, T, k, QKV, 0.0f,
                  dq + (size_t)r0 * QKV, QKV);
      }
      for (int c0 = 0; c0 < T; c0 += QB) {
        int c1 = c0 + QB < T ? c0 + QB : T;
        size_t o = (size_t)c0 * T + c0;
        llm_sgemm(1, 0, c1 - c0, HS, T - c0, 1.0f, att + o, T,
                  dy + (size_t)c0 * C, C, beta, dv + (size_t)c0 * QKV, QKV);
        llm_sgemm(1, 0, c1 - c0, HS, T - c0, 1.0f, ds + o, T,
                  q + (size_t)c0 * QKV, QKV, beta, dk + (size_t)c0 * QKV, QKV);
      }
    }
  }
}

void llm_attention_backward(const llm_exec *x, float *dqkv, float *scratch,
                            const float *dout, const float *qkv,
                            const float *att, int B, int T, int C, int NH,
                            int NKV) {
  att_ctx c = {.x = x, .dqkv = dqkv, .scratch = scratch, .dout = dout,
               .qkv = qkv, .catt = att, .B = B, .T = T, .C = C, .NH = NH,
               .NKV = NKV};
  llm_pool_for(x->pool, (size_t)B * NKV, att_bwd_groups, &c);
}
