/*
** attention.c: causal multi-head self-attention (see layers.h).
**
** qkv rows hold the NH query heads, then the NKV key heads, then the NKV
** value heads (QKV = QW + 2 KV floats, QW = NH * HS, KV = NKV * HS); query
** head h reads key/value head h / (NH / NKV) (grouped-query attention; NKV
** = NH is plain multi-head attention, the GPT layout [q | k | v] of 3C).
** With a window W, query i sees keys (i - W, i] only: its probabilities
** outside are zero, and so are their gradients in the backward.
** Each (batch, head) pair is independent in the forward; the pool splits
** the B*NH pairs. The backward splits the B*NKV groups instead, since the
** heads of a group add into the same dK and dV.
** Within a pair, with S = scale Q K^T, P = softmax(S) (causal) and Y = P V:
**   dP = dY V^T,  dV = P^T dY,  dS = P (dP - rowsum(P dP)),
**   dQ = scale dS K,  dK = scale dS^T Q.
** The products go through the block kernels of vec_att.c, LLM_ATT_ROWS
** query rows at a time, with the pair's keys, values, queries and output
** gradient packed once into panels: block [i0, i1) needs only keys [0, i1),
** and key block [j0, j1) only queries [j0, T), so the causal mask skips all
** but the blocks on the diagonal. Entries above the diagonal of P and dS
** are kept at zero, so those blocks can run whole.
*/
#include <string.h>

#include "nn/layers.h"
#include "kernels/vec.h"

#define ROWS LLM_ATT_ROWS

/* n rounded up to the kernels' 16-wide tiles. */
static size_t pad16(int n) { return ((size_t)n + 15) & ~(size_t)15; }

/* One thread's scratch: a keys panel [T16 x HS], three rows panels [HS16 x
** T] and the scores, or dP and dS, [T][T16]. */
typedef struct att_scratch {
  float *keys, *rows[3], *s;
} att_scratch;

static size_t scratch_floats(int T, int HS) {
  return pad16(T) * (size_t)HS + 3 * pad16(HS) * (size_t)T + (size_t)T * pad16(T);
}

static att_scratch scratch_of(float *base, int tid, int T, int HS) {
  att_scratch a;
  a.keys = base + (size_t)tid * scratch_floats(T, HS);
  a.rows[0] = a.keys + pad16(T) * (size_t)HS;
  a.rows[1] = a.rows[0] + pad16(HS) * (size_t)T;
  a.rows[2] = a.rows[1] + pad16(HS) * (size_t)T;
  a.s = a.rows[2] + pad16(HS) * (size_t)T;
  return a;
}

size_t llm_attention_scratch(int T, int HS, int n_threads) {
  return scratch_floats(T, HS) * (size_t)(n_threads > 0 ? n_threads : 1);
}

typedef struct att_ctx {
  const llm_exec *x;
  float *out, *att, *dqkv, *scratch;
  const float *qkv, *catt, *dout;
  int B, T;
  llm_att_shape a;
} att_ctx;

static void att_fwd_pairs(void *p, size_t lo, size_t hi, int tid) {
  const att_ctx *c = p;
  int T = c->T, NH = c->a.NH, HS = c->a.HS, C = NH * HS, KV = c->a.NKV * HS;
  int QKV = C + 2 * KV, group = NH / c->a.NKV, s = c->x->simd;
  float scale = c->a.scale;
  size_t T16 = pad16(T);
  att_scratch w = scratch_of(c->scratch, tid, T, HS);
  for (size_t bh = lo; bh < hi; bh++) {
    size_t b = bh / (size_t)NH, h = bh % (size_t)NH;
    const float *row0 = c->qkv + b * (size_t)T * QKV;
    const float *q = row0 + h * (size_t)HS;
    const float *k = row0 + C + (h / (size_t)group) * (size_t)HS, *v = k + KV;
    float *att = c->att + bh * (size_t)T * T;
    float *y = c->out + b * (size_t)T * C + h * (size_t)HS;
    llm_vatt_pack_keys(w.keys, k, (size_t)QKV, (size_t)T, (size_t)HS);
    llm_vatt_pack_rows(w.rows[0], v, (size_t)QKV, (size_t)T, (size_t)HS);
    for (int i0 = 0; i0 < T; i0 += ROWS) {
      int R = T - i0 < ROWS ? T - i0 : ROWS, n = i0 + R;
      llm_vatt_scores(s, w.s, T16, q + (size_t)i0 * QKV, (size_t)QKV, w.keys,
                      (size_t)R, (size_t)n, (size_t)HS, scale);
      for (int r = 0; r < R; r++) {
        size_t i = (size_t)i0 + r;
        size_t k0 = c->a.window && i >= (size_t)c->a.window ? i + 1 - (size_t)c->a.window : 0;
        float *pr = att + i * T;
        const float *sr = w.s + (size_t)r * T16;
        float m = llm_vmax(s, sr + k0, i + 1 - k0);
        float z = llm_vexp_sum(s, pr + k0, sr + k0, i + 1 - k0, m);
        llm_vscale(s, pr + k0, i + 1 - k0, 1.0f / z);
        memset(pr, 0, k0 * sizeof *pr);
        memset(pr + i + 1, 0, (T - i - 1) * sizeof *pr);
      }
      llm_vatt_rows(s, y + (size_t)i0 * C, (size_t)C, att + (size_t)i0 * T,
                    (size_t)T, w.rows[0], (size_t)T, (size_t)R, (size_t)n,
                    (size_t)HS, 0);
    }
  }
}

void llm_attention_forward(const llm_exec *x, float *out, float *att,
                           float *scratch, const float *qkv, int B, int T,
                           const llm_att_shape *a) {
  att_ctx c = {.x = x, .out = out, .att = att, .scratch = scratch,
               .qkv = qkv, .B = B, .T = T, .a = *a};
  llm_pool_for(x->pool, (size_t)B * a->NH, att_fwd_pairs, &c);
}

static void att_bwd_groups(void *p, size_t lo, size_t hi, int tid) {
  const att_ctx *c = p;
  int T = c->T, NH = c->a.NH, HS = c->a.HS, C = NH * HS, KV = c->a.NKV * HS;
  int QKV = C + 2 * KV, group = NH / c->a.NKV, s = c->x->simd;
  float scale = c->a.scale;
  size_t T16 = pad16(T);
  att_scratch w = scratch_of(c->scratch, tid, T, HS);
  float *ds = w.s, *kr = w.rows[0], *qr = w.rows[1], *dyr = w.rows[2];
  for (size_t bg = lo; bg < hi; bg++) {
    size_t b = bg / (size_t)c->a.NKV, g = bg % (size_t)c->a.NKV;
    size_t koff = b * (size_t)T * QKV + (size_t)C + g * (size_t)HS;
    const float *k = c->qkv + koff, *v = k + KV;
    float *dk = c->dqkv + koff, *dv = dk + KV;
    llm_vatt_pack_keys(w.keys, v, (size_t)QKV, (size_t)T, (size_t)HS);
    llm_vatt_pack_rows(kr, k, (size_t)QKV, (size_t)T, (size_t)HS);
    for (int j = 0; j < group; j++) {
      size_t h = g * (size_t)group + (size_t)j, bh = b * (size_t)NH + h;
      size_t qoff = b * (size_t)T * QKV + h * (size_t)HS;
      const float *q = c->qkv + qoff;
      float *dq = c->dqkv + qoff;
      const float *att = c->catt + bh * (size_t)T * T;
      const float *dy = c->dout + b * (size_t)T * C + h * (size_t)HS;
      llm_vatt_pack_rows(qr, q, (size_t)QKV, (size_t)T, (size_t)HS);
      llm_vatt_pack_rows(dyr, dy, (size_t)C, (size_t)T, (size_t)HS);
      for (int i0 = 0; i0 < T; i0 += ROWS) {
        int R = T - i0 < ROWS ? T - i0 : ROWS, n = i0 + R;
        float *d = ds + (size_t)i0 * T16;
        llm_vatt_scores(s, d, T16, dy + (size_t)i0 * C, (size_t)C, w.keys,
                        (size_t)R, (size_t)n, (size_t)HS, 1.0f);
        for (int r = 0; r < R; r++) {
          size_t i = (size_t)i0 + r;
          float *dr = d + (size_t)r * T16;
          llm_vsoftmax_backward(s, dr, att + i * T, dr, i + 1, scale);
          memset(dr + i + 1, 0, ((size_t)n - i - 1) * sizeof *dr);
        }
        llm_vatt_rows(s, dq + (size_t)i0 * QKV, (size_t)QKV, d, T16, kr,
                      (size_t)T, (size_t)R, (size_t)n, (size_t)HS, 0);
      }
      /* the group's first head writes dK and dV, the others add */
      for (int j0 = 0; j0 < T; j0 += ROWS) {
        int R = T - j0 < ROWS ? T - j0 : ROWS;
        llm_vatt_cols(s, dv + (size_t)j0 * QKV, (size_t)QKV, att + j0, (size_t)T,
                      dyr, (size_t)T, (size_t)R, (size_t)j0, (size_t)T,
                      (size_t)HS, j > 0);
        llm_vatt_cols(s, dk + (size_t)j0 * QKV, (size_t)QKV, ds + j0, T16, qr,
                      (size_t)T, (size_t)R, (size_t)j0, (size_t)T,
                      (size_t)HS, j > 0);
      }
    }
  }
}

void llm_attention_backward(const llm_exec *x, float *dqkv, float *scratch,
                            const float *dout, const float *qkv,
                            const float *att, int B, int T,
                            const llm_att_shape *a) {
  att_ctx c = {.x = x, .dqkv = dqkv, .scratch = scratch, .dout = dout,
               .qkv = qkv, .catt = att, .B = B, .T = T, .a = *a};
  llm_pool_for(x->pool, (size_t)B * a->NKV, att_bwd_groups, &c);
}
