/*
** model_blocks.c: the training forward and backward of model.h's blocks
** (GPT's and the Llama family's) and of a shard's whole pass: embeddings,
** blocks, final norm, head and loss, built from the layers of layers.h.
*/
#include <math.h>
#include <string.h>

#include "nn/model_impl.h"
#include "kernels/vec.h"

/* One block's slice of a stacked [L, ...] tensor (parameters or grads) by
** tensor id; NULL when the model has no such tensor. */
static float *blk_param(float *base, const llm_model *m, int i, int l) {
  if (m->slot[i] < 0) return NULL;
  const llm_tensor *t = &m->tensors[m->slot[i]];
  return base + t->offset + (size_t)l * (t->numel / (size_t)m->cfg.n_layer);
}

/* One block's activations, for the rows of a shard. */
typedef struct blk_acts {
  const float *res_in; /* [N, C] the residual stream entering the block */
  float *ln1, *ln1_mean, *ln1_rstd, *qkv_lin, *hn_rstd, *qkv, *att, *atty;
  float *attn_o, *attn_o_rstd, *res2;
  float *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *mlp_o, *mlp_o_rstd, *res3;
} blk_acts;

static blk_acts blk_view(const llm_model *m, const shard *sh, int l) {
  const acts *a = &m->a;
  const llm_config *c = &m->cfg;
  size_t N = (size_t)m->B * m->T, C = (size_t)c->n_embd;
  size_t H = (size_t)c->n_hidden, L = (size_t)l;
  widths w = model_widths(c);
  size_t Q = w.Q, F = w.F, QW = w.QW, S = w.sandwich, HN = w.heads;
  size_t TT = (size_t)m->T * m->T, natt = (size_t)m->B * c->n_head * TT;
  size_t R = (size_t)sh->b0 * m->T; /* the shard's first row */
  blk_acts b;
  b.res_in = (l ? a->res3 + (L - 1) * N * C : a->encoded) + R * C;
  b.ln1 = a->ln1 + L * N * C + R * C;
  b.ln1_mean = a->ln1_mean + L * N + R;
  b.ln1_rstd = a->ln1_rstd + L * N + R;
  b.qkv_lin = HN ? a->qkv_lin + L * N * Q + R * Q : NULL;
  b.hn_rstd = a->hn_rstd + L * N * HN + R * HN;
  b.qkv = a->qkv + L * N * Q + R * Q;
  b.att = a->att + L * natt + (size_t)sh->b0 * c->n_head * TT;
  b.atty = a->atty + L * N * QW + R * QW;
  b.attn_o = S ? a->attn_o + L * N * S + R * S : NULL;
  b.attn_o_rstd = S ? a->attn_o_rstd + L * N + R : NULL;
  b.mlp_o = S ? a->mlp_o + L * N * S + R * S : NULL;
  b.mlp_o_rstd = S ? a->mlp_o_rstd + L * N + R : NULL;
  b.res2 = a->res2 + L * N * C + R * C;
  b.ln2 = a->ln2 + L * N * C + R * C;
  b.ln2_mean = a->ln2_mean + L * N + R;
  b.ln2_rstd = a->ln2_rstd + L * N + R;
  b.fch = a->fch + L * N * F + R * F;
  b.fch_gelu = a->fch_gelu + L * N * H + R * H;
  b.res3 = a->res3 + L * N * C + R * C;
  return b;
}

#define PAR(i) (p + m->tensors[m->slot[i]].offset)
#define BLK(i) blk_param((float *)p, m, i, l)
#define GRAD(i) (gr + m->tensors[m->slot[i]].offset)
#define DBLK(i) blk_param(gr, m, i, l)

/* The forward of block l, GPT: LayerNorm, attention, residual; LayerNorm,
** MLP with GELU, residual. */
static void gpt_block_forward(llm_model *m, const shard *sh, int l) {
  const llm_config *c = &m->cfg;
  const llm_exec *x = &sh->x;
  int B = sh->nb, T = m->T, C = c->n_embd, H = c->n_hidden;
  size_t N = (size_t)B * T;
  float *p = m->params;
  blk_acts b = blk_view(m, sh, l);
  llm_layernorm_forward(x, b.ln1, b.ln1_mean, b.ln1_rstd, b.res_in, BLK(T_LN1W),
                        BLK(T_LN1B), N, C, c->norm_eps);
  llm_matmul_forward(x, b.qkv, b.ln1, BLK(T_QKVW), BLK(T_QKVB), NULL, N, C, 3 * C);
  llm_att_shape as = {c->n_head, c->n_head, C / c->n_head, 1.0f / sqrtf((float)(C / c->n_head)), 0};
  llm_attention_forward(x, b.atty, b.att, sh->att_scratch, b.qkv, B, T, &as);
  llm_matmul_forward(x, b.res2, b.atty, BLK(T_PROJW), BLK(T_PROJB), b.res_in, N, C, C);
  llm_layernorm_forward(x, b.ln2, b.ln2_mean, b.ln2_rstd, b.res2, BLK(T_LN2W),
                        BLK(T_LN2B), N, C, c->norm_eps);
  llm_matmul_forward(x, b.fch, b.ln2, BLK(T_FCW), BLK(T_FCB), NULL, N, C, H);
  llm_gelu_forward(x, b.fch_gelu, b.fch, N * (size_t)H);
  llm_matmul_forward(x, b.res3, b.fch_gelu, BLK(T_FCPW), BLK(T_FCPB), b.res2, N, H, C);
}

/* The Llama family's block: RMSNorm, queries/keys/values (with Qwen2's
** biases), per-head norms (Qwen3, Gemma 3), rotary embeddings,
** attention (grouped, maybe in a sliding window), the output projection
** (Gemma 3: normed before the residual); RMSNorm, SwiGLU or GeGLU MLP
** (Gemma 3: normed too), residual. */
static void llama_block_forward(llm_model *m, const shard *sh, int l) {
  const llm_config *c = &m->cfg;
  const family *f = &m->f;
  const llm_exec *x = &sh->x;
  int B = sh->nb, T = m->T, C = c->n_embd, H = c->n_hidden, local = llm_config_layer_local(c, l);
  size_t N = (size_t)B * T;
  float eps = c->norm_eps, *p = m->params;
  llm_att_shape as = {c->n_head, c->n_kv_head, f->HD, f->att_scale, local ? c->sliding_window : 0};
  llm_rope_shape rs = {c->n_head + c->n_kv_head, f->HD, f->n_rot, f->tr->rope == LLM_ROPE_HALVES};
  blk_acts b = blk_view(m, sh, l);
  llm_rmsnorm_forward(x, b.ln1, b.ln1_rstd, b.res_in, BLK(L_ATTN_NORM), N, C, eps);
  llm_matmul_forward(x, b.qkv_lin ? b.qkv_lin : b.qkv, b.ln1, BLK(L_QKVW), BLK(L_QKVB), NULL, N, C, f->Q);
  if (b.qkv_lin)
    llm_headnorm_forward(x, b.qkv, b.hn_rstd, b.qkv_lin, BLK(L_QNORM), BLK(L_KNORM), N, (size_t)f->Q,
                         c->n_head, c->n_kv_head, f->HD, eps);
  llm_rope_forward(x, b.qkv, m->rope[local], N, T, 0, (size_t)f->Q, &rs);
  llm_attention_forward(x, b.atty, b.att, sh->att_scratch, b.qkv, B, T, &as);
  if (b.attn_o) {
    llm_matmul_forward(x, b.attn_o, b.atty, BLK(L_PROJW), NULL, NULL, N, f->QW, C);
    llm_rmsnorm_forward(x, b.res2, b.attn_o_rstd, b.attn_o, BLK(L_ATTN_POST), N, C, eps);
    llm_vadd(x->simd, b.res2, b.res_in, N * (size_t)C);
  } else {
    llm_matmul_forward(x, b.res2, b.atty, BLK(L_PROJW), NULL, b.res_in, N, f->QW, C);
  }
  llm_rmsnorm_forward(x, b.ln2, b.ln2_rstd, b.res2, BLK(L_MLP_NORM), N, C, eps);
  llm_matmul_forward(x, b.fch, b.ln2, BLK(L_FCW), NULL, NULL, N, C, 2 * H);
  (f->tr->gelu ? llm_geglu_forward : llm_swiglu_forward)(x, b.fch_gelu, b.fch, N, H);
  if (b.mlp_o) {
    llm_matmul_forward(x, b.mlp_o, b.fch_gelu, BLK(L_FCPW), NULL, NULL, N, H, C);
    llm_rmsnorm_forward(x, b.res3, b.mlp_o_rstd, b.mlp_o, BLK(L_MLP_POST), N, C, eps);
    llm_vadd(x->simd, b.res3, b.res2, N * (size_t)C);
  } else {
    llm_matmul_forward(x, b.res3, b.fch_gelu, BLK(L_FCPW), NULL, b.res2, N, H, C);
  }
}

/* The output head: the token embedding, or Llama's own head when untied. */
static int head_tensor(const llm_model *m) {
  return m->cfg.arch != LLM_ARCH_GPT && m->cfg.tied_head != 1 ? L_HEAD : T_WTE;
}

/* The whole forward of one shard's rows, up to each row's loss. */
void model_shard_forward(llm_model *m, const shard *sh) {
  const llm_config *c = &m->cfg;
  const llm_exec *x = &sh->x;
  int T = m->T, C = c->n_embd, V = c->vocab_size, L = c->n_layer;
  int gpt = c->arch == LLM_ARCH_GPT;
  size_t R = (size_t)sh->b0 * T, N = (size_t)sh->nb * T;
  const float *p = m->params;
  const acts *a = &m->a;
  llm_encoder_forward(x, a->encoded + R * C, m->inputs + R, PAR(T_WTE),
                      gpt ? PAR(T_WPE) : NULL, sh->nb, T, C);
  if (!gpt && m->f.tr->embd_scale) llm_vscale(x->simd, a->encoded + R * C, N * (size_t)C, sqrtf((float)C));
  for (int l = 0; l < L; l++) {
    if (gpt)
      gpt_block_forward(m, sh, l);
    else
      llama_block_forward(m, sh, l);
  }
  const float *top = blk_view(m, sh, L - 1).res3;
  float *lnf = a->lnf + R * C, *lnf_rstd = a->lnf_rstd + R;
  if (gpt)
    llm_layernorm_forward(x, lnf, a->lnf_mean + R, lnf_rstd, top, PAR(T_LNFW),
                          PAR(T_LNFB), N, C, c->norm_eps);
  else
    llm_rmsnorm_forward(x, lnf, lnf_rstd, top, PAR(L_NORM), N, C, c->norm_eps);
  float *logits = a->logits + R * (size_t)V;
  llm_matmul_forward(x, logits, lnf, PAR(head_tensor(m)), NULL, NULL, N, C, V);
  if (m->has_targets)
    llm_crossentropy_forward(x, a->lse + R, a->losses + R, logits,
                             m->targets + R, N, V);
}

/* dres is the gradient of the block's output (res3); the MLP's norm then
** adds its path into it, making it the gradient of res2, and the
** attention's norm makes it the gradient of res_in. */
static void gpt_block_backward(llm_model *m, const shard *sh, int l) {
  const llm_config *c = &m->cfg;
  const llm_exec *x = &sh->x;
  const bwd_bufs *g = &sh->g;
  int B = sh->nb, T = m->T, C = c->n_embd, H = c->n_hidden;
  size_t N = (size_t)B * T;
  float *p = m->params, *gr = sh->grads;
  blk_acts b = blk_view(m, sh, l);
  llm_matmul_backward(x, g->dbig, DBLK(T_FCPW), DBLK(T_FCPB), g->dres, b.fch_gelu,
                      BLK(T_FCPW), N, H, C);
  llm_gelu_backward(x, g->dbig, b.fch, g->dbig, N * (size_t)H);
  llm_matmul_backward(x, g->dsmall, DBLK(T_FCW), DBLK(T_FCB), g->dbig, b.ln2, BLK(T_FCW),
                      N, C, H);
  llm_layernorm_backward(x, g->dres, DBLK(T_LN2W), DBLK(T_LN2B), g->dsmall, b.res2,
                         b.ln2_mean, b.ln2_rstd, BLK(T_LN2W), N, C);
  llm_matmul_backward(x, g->dsmall, DBLK(T_PROJW), DBLK(T_PROJB), g->dres, b.atty,
                      BLK(T_PROJW), N, C, C);
  llm_att_shape as = {c->n_head, c->n_head, C / c->n_head, 1.0f / sqrtf((float)(C / c->n_head)), 0};
  llm_attention_backward(x, g->dbig, sh->att_scratch, g->dsmall, b.qkv, b.att, B, T, &as);
  llm_matmul_backward(x, g->dsmall, DBLK(T_QKVW), DBLK(T_QKVB), g->dbig, b.ln1,
                      BLK(T_QKVW), N, C, 3 * C);
  llm_layernorm_backward(x, g->dres, DBLK(T_LN1W), DBLK(T_LN1B), g->dsmall, b.res_in,
                         b.ln1_mean, b.ln1_rstd, BLK(T_LN1W), N, C);
}

/* As gpt_block_backward; the norms after the attention and the MLP
** (sandwich) add a norm's backward into a zeroed buffer before each
** product's. */
static void llama_block_backward(llm_model *m, const shard *sh, int l) {
  const llm_config *c = &m->cfg;
  const family *f = &m->f;
  const llm_exec *x = &sh->x;
  const bwd_bufs *g = &sh->g;
  int B = sh->nb, T = m->T, C = c->n_embd, H = c->n_hidden, local = llm_config_layer_local(c, l);
  size_t N = (size_t)B * T, NC = N * (size_t)C;
  float *p = m->params, *gr = sh->grads;
  llm_att_shape as = {c->n_head, c->n_kv_head, f->HD, f->att_scale, local ? c->sliding_window : 0};
  llm_rope_shape rs = {c->n_head + c->n_kv_head, f->HD, f->n_rot, f->tr->rope == LLM_ROPE_HALVES};
  blk_acts b = blk_view(m, sh, l);
  const float *dmlp = g->dres;
  if (b.mlp_o) {
    memset(g->dsmall, 0, NC * sizeof(float));
    llm_rmsnorm_backward(x, g->dsmall, DBLK(L_MLP_POST), g->dres, b.mlp_o, b.mlp_o_rstd, BLK(L_MLP_POST), N, C);
    dmlp = g->dsmall;
  }
  llm_matmul_backward(x, g->dmid, DBLK(L_FCPW), NULL, dmlp, b.fch_gelu, BLK(L_FCPW), N, H, C);
  (f->tr->gelu ? llm_geglu_backward : llm_swiglu_backward)(x, g->dbig, b.fch, g->dmid, N, H);
  llm_matmul_backward(x, g->dsmall, DBLK(L_FCW), NULL, g->dbig, b.ln2, BLK(L_FCW), N, C, 2 * H);
  llm_rmsnorm_backward(x, g->dres, DBLK(L_MLP_NORM), g->dsmall, b.res2, b.ln2_rstd, BLK(L_MLP_NORM), N, C);
  float *datty = g->dsmall;
  if (b.attn_o) {
    memset(g->dsmall, 0, NC * sizeof(float));
    llm_rmsnorm_backward(x, g->dsmall, DBLK(L_ATTN_POST), g->dres, b.attn_o, b.attn_o_rstd, BLK(L_ATTN_POST), N,
                         C);
    llm_matmul_backward(x, g->dmid, DBLK(L_PROJW), NULL, g->dsmall, b.atty, BLK(L_PROJW), N, f->QW, C);
    datty = g->dmid;
  } else {
    llm_matmul_backward(x, g->dsmall, DBLK(L_PROJW), NULL, g->dres, b.atty, BLK(L_PROJW), N, f->QW, C);
  }
  llm_attention_backward(x, g->dbig, sh->att_scratch, datty, b.qkv, b.att, B, T, &as);
  llm_rope_backward(x, g->dbig, m->rope[local], N, T, 0, (size_t)f->Q, &rs);
  if (b.qkv_lin)
    llm_headnorm_backward(x, g->dbig, DBLK(L_QNORM), DBLK(L_KNORM), g->dbig, b.qkv_lin, b.hn_rstd, BLK(L_QNORM),
                          BLK(L_KNORM), N, (size_t)f->Q, c->n_head, c->n_kv_head, f->HD);
  llm_matmul_backward(x, g->dsmall, DBLK(L_QKVW), DBLK(L_QKVB), g->dbig, b.ln1, BLK(L_QKVW), N, C, f->Q);
  llm_rmsnorm_backward(x, g->dres, DBLK(L_ATTN_NORM), g->dsmall, b.res_in, b.ln1_rstd, BLK(L_ATTN_NORM), N, C);
}

/* The whole backward of one shard's rows: every gradient, of the batch's
** mean loss, that these rows contribute, written to sh->grads. */
void model_shard_backward(llm_model *m, const shard *sh) {
  const llm_config *c = &m->cfg;
  const llm_exec *x = &sh->x;
  const bwd_bufs *g = &sh->g;
  int T = m->T, C = c->n_embd, V = c->vocab_size, L = c->n_layer;
  int gpt = c->arch == LLM_ARCH_GPT;
  size_t R = (size_t)sh->b0 * T, N = (size_t)sh->nb * T;
  float *gr = sh->grads;
  const float *p = m->params;
  const acts *a = &m->a;
  /* Head and final norm; a tied head writes dwte, which the embedding's
  ** backward then adds to. */
  int head = head_tensor(m);
  llm_crossentropy_backward(x, g->dbig, a->logits + R * (size_t)V, a->lse + R,
                            m->targets + R, N, (size_t)m->B * T, V);
  llm_matmul_backward(x, g->dsmall, GRAD(head), NULL, g->dbig, a->lnf + R * C,
                      PAR(head), N, C, V);
  if (head != T_WTE) memset(GRAD(T_WTE), 0, m->tensors[m->slot[T_WTE]].numel * sizeof(float));
  memset(g->dres, 0, N * (size_t)C * sizeof *g->dres);
  const float *top = blk_view(m, sh, L - 1).res3;
  if (gpt)
    llm_layernorm_backward(x, g->dres, GRAD(T_LNFW), GRAD(T_LNFB), g->dsmall, top,
                           a->lnf_mean + R, a->lnf_rstd + R, PAR(T_LNFW), N, C);
  else
    llm_rmsnorm_backward(x, g->dres, GRAD(L_NORM), g->dsmall, top, a->lnf_rstd + R,
                         PAR(L_NORM), N, C);
  for (int l = L - 1; l >= 0; l--) {
    if (gpt)
      gpt_block_backward(m, sh, l);
    else
      llama_block_backward(m, sh, l);
  }
  float *dwpe = NULL;
  if (gpt) {
    dwpe = GRAD(T_WPE);
    memset(dwpe + (size_t)T * C, 0, (size_t)(c->block_size - T) * (size_t)C * sizeof *dwpe);
  }
  if (!gpt && m->f.tr->embd_scale) llm_vscale(x->simd, g->dres, N * (size_t)C, sqrtf((float)C));
  llm_encoder_backward(x, GRAD(T_WTE), dwpe, g->dres, m->inputs + R, sh->nb, T, C);
  /* the rotary frequency factors are constants of the model (llama.cpp
  ** computes them from the rope scaling in its config): no gradient, so
  ** that AdamW leaves them as they are */
  if (m->slot[L_FREQS] >= 0 && !gpt) memset(GRAD(L_FREQS), 0, m->tensors[m->slot[L_FREQS]].numel * sizeof(float));
}
#undef PAR
#undef BLK
#undef GRAD
#undef DBLK
