/*
** gguf_finetune.c: makes a model imported from GGUF trainable.
**
** llm_train works on this engine's own layout: one float32 buffer of
** stacked tensors (engine/nn/model.h). The first llm_train of a Llama
** model imported from a GGUF file of float weights (f32, f16, bf16)
** converts it, in one transaction, into that layout: every layer's
** q, k, v rows stacked into the fused [L, C + 2 KV, C] projection, gate and
** up into [L, 2H, C], and so on, the halves widened to float32 exactly.
** The stored model is then an ordinary Llama model (its GGUF-named tensors
** are replaced), which trains, runs and exports (to GGUF or llama2.c) like
** one made here. What the training layout cannot hold is refused with a
** message saying why: other architectures (biases, per-head norms, ...),
** Llama 3's rotary frequency factors, quantized weights (llm_quantize(...,
** 'f32') makes a float copy), contexts past LLM_MAX_BLOCK.
*/
#include <string.h>

#include "kernels/qtypes.h"
#include "ext.h"

/* Fails, saying why, when a GGUF import cannot become a training model. */
static int check_trainable(const llm_model_entry *e, llm_err *err) {
  const llm_net *net = &e->weights->net;
  const llm_config *c = &net->cfg;
  if (c->arch != LLM_ARCH_LLAMA)
    return llm_fail(err, LLM_EINVAL, "fine-tuning an imported %s model is not supported (only llama ones)",
                    llm_arch_name(c->arch));
  if (net->rope_freqs || c->rope_scale != 1 || c->n_rot != c->head_dim || c->head_dim * c->n_head != c->n_embd)
    return llm_fail(err, LLM_EINVAL, "model '%s' has rotary frequency factors or scaling (Llama 3), which "
                    "fine-tuning does not support yet", e->name);
  if (c->block_size > LLM_MAX_BLOCK)
    return llm_fail(err, LLM_EINVAL, "model '%s' has a context of %d tokens; fine-tuning supports at most %d",
                    e->name, c->block_size, LLM_MAX_BLOCK);
  for (int l = -1; l < c->n_layer; l++) {
    const llm_net_layer *y = l >= 0 ? &net->layers[l] : NULL;
    const llm_wmat *mats[7] = {&net->tok_embd, &net->output};
    if (y) memcpy(mats, (const llm_wmat *[7]){&y->q, &y->k, &y->v, &y->o, &y->gate, &y->up, &y->down}, sizeof mats);
    for (int i = 0; i < (y ? 7 : 2); i++)
      if (llm_qtype_get(mats[i]->type)->block > 1)
        return llm_fail(err, LLM_EINVAL,
                        "model '%s' has quantized weights (%s): fine-tuning needs float ones; make a float "
                        "copy with llm_quantize('%s', 'copy_name', 'f32') and train that",
                        e->name, llm_qtype_get(mats[i]->type)->name, e->name);
  }
  return LLM_OK;
}

/* Rows of w, widened to float32, at dst. */
static float *put(float *dst, const llm_wmat *w) {
  llm_wmat_rows(w, 0, w->rows, dst);
  return dst + (size_t)w->rows * (size_t)w->cols;
}

static float *put_vec(float *dst, const float *v, int n) {
  memcpy(dst, v, (size_t)n * sizeof *v);
  return dst + n;
}

/* The stacked model of the imported one's weights. */
static int stacked_model(const llm_net *net, llm_model **out, llm_err *err) {
  llm_config c = {0};
  const llm_config *g = &net->cfg;
  c.arch = LLM_ARCH_LLAMA;
  c.n_layer = g->n_layer, c.n_head = g->n_head, c.n_kv_head = g->n_kv_head, c.n_embd = g->n_embd;
  c.n_hidden = g->n_hidden, c.block_size = g->block_size, c.vocab_size = g->vocab_size;
  c.norm_eps = g->norm_eps, c.rope_theta = g->rope_theta;
  c.tied_head = net->output.data == net->tok_embd.data ? 1 : -1;
  llm_model *m;
  int rc = llm_model_new(&c, &m, err);
  if (rc) return rc;
  float *p = llm_model_params(m);
#define AT(name) (p + llm_model_find(m, name)->offset)
  put(AT("wte"), &net->tok_embd);
  put_vec(AT("norm.weight"), net->out_norm, c.n_embd);
  if (c.tied_head == -1) put(AT("lm_head.weight"), &net->output);
  float *n1 = AT("blocks.attn_norm.weight"), *qkv = AT("blocks.attn.qkv.weight"), *o = AT("blocks.attn.proj.weight");
  float *n2 = AT("blocks.mlp_norm.weight"), *fc = AT("blocks.mlp.fc.weight"), *down = AT("blocks.mlp.proj.weight");
#undef AT
  for (int l = 0; l < c.n_layer; l++) {
    const llm_net_layer *y = &net->layers[l];
    n1 = put_vec(n1, y->attn_norm, c.n_embd);
    qkv = put(put(put(qkv, &y->q), &y->k), &y->v);
    o = put(o, &y->o);
    n2 = put_vec(n2, y->ffn_norm, c.n_embd);
    fc = put(put(fc, &y->gate), &y->up);
    down = put(down, &y->down);
  }
  *out = m;
  return LLM_OK;
}

int llm_gguf_make_trainable(llm_conn *c, const char *name, llm_model_info *info, llm_err *err) {
  llm_model_entry *e;
  llm_model *m = NULL;
  if (llm_model_get(c, name, &e, err) || check_trainable(e, err) || stacked_model(&e->weights->net, &m, err))
    return err->code;
  llm_model_info mi = *info;
  mi.config = *llm_model_config(m);
  mi.gguf = 0;
  int rc = llm_write_begin(c, err);
  if (!rc) rc = llm_weights_drop(c, name, err);
  if (!rc) rc = llm_model_info_put(c, name, &mi, llm_model_n_params(m), err);
  if (!rc) rc = llm_weights_save(c, name, m, LLM_ROLE_PARAM, llm_model_params(m), err);
  rc = llm_write_end(c, rc == LLM_OK, err);
  llm_model_free(m);
  if (!rc) *info = mi;
  return rc;
}
