/*
** gguf_finetune.c: makes a model imported from GGUF trainable.
**
** llm_train works on this engine's own layout: one float32 buffer of
** stacked tensors (engine/nn/model.h). The first llm_train of a decoder
** imported from a GGUF file of float weights (f32, f16, bf16: llama,
** qwen2, qwen3, gemma3) converts it, in one transaction, into that layout:
** every layer's q, k, v rows stacked into the fused [L, QW + 2 KW, C]
** projection (Qwen2's biases likewise), gate and up into [L, 2H, C], the
** norms into [L, C] or [L, HD], and so on, the halves widened to float32
** exactly, so that the converted model computes what the import did. The
** stored model is then an ordinary model of its architecture (its
** GGUF-named tensors are replaced), which trains, runs and exports to GGUF
** like one made here. What the layout cannot hold is refused with a
** message saying why: biases other than Qwen2's q/k/v ones, quantized
** weights (llm_quantize(..., 'f32') makes a float copy), encoders.
*/
#include <string.h>

#include "kernels/qtypes.h"
#include "ext.h"

/* The matrices of layer l (or, for l = -1, the embedding and the head). */
static int layer_mats(const llm_net *net, int l, const llm_wmat **mats) {
  if (l < 0) {
    mats[0] = &net->tok_embd, mats[1] = &net->output;
    return 2;
  }
  const llm_net_layer *y = &net->layers[l];
  const llm_wmat *m[7] = {&y->q, &y->k, &y->v, &y->o, &y->gate, &y->up, &y->down};
  memcpy(mats, m, sizeof m);
  return 7;
}

/* Fails, saying why, when a GGUF import cannot become a training model. */
static int check_trainable(const llm_model_entry *e, llm_err *err) {
  const llm_net *net = &e->weights->net;
  const llm_config *c = &net->cfg;
  if (!net->tr->decoder)
    return llm_fail(err, LLM_EINVAL, "model '%s' is an encoder (%s): fine-tuning supports the decoders (llama, "
                    "qwen2, qwen3, gemma3)", e->name, llm_arch_name(c->arch));
  if (c->arch == LLM_ARCH_GPT)
    return llm_fail(err, LLM_EINVAL, "fine-tuning an imported gpt2 model is not supported (llama, qwen2, qwen3 "
                    "and gemma3 are)");
  for (int l = -1; l < c->n_layer; l++) {
    const llm_wmat *mats[7];
    int n = layer_mats(net, l, mats);
    for (int i = 0; i < n; i++)
      if (llm_qtype_get(mats[i]->type)->block > 1)
        return llm_fail(err, LLM_EINVAL,
                        "model '%s' has quantized weights (%s): fine-tuning needs float ones; make a float "
                        "copy with llm_quantize('%s', 'copy_name', 'f32') and train that",
                        e->name, llm_qtype_get(mats[i]->type)->name, e->name);
    const llm_net_layer *y = l >= 0 ? &net->layers[l] : NULL;
    if (y && ((c->arch != LLM_ARCH_QWEN2 && (y->bq || y->bk || y->bv)) || y->bo || y->b_gate || y->b_up ||
              y->b_down))
      return llm_fail(err, LLM_EINVAL, "model '%s' has biases its architecture (%s) does not train with",
                      e->name, llm_arch_name(c->arch));
  }
  return LLM_OK;
}

/* Rows of w, widened to float32, at dst. */
static float *put(float *dst, const llm_wmat *w) {
  llm_wmat_rows(w, 0, w->rows, dst);
  return dst + (size_t)w->rows * (size_t)w->cols;
}

/* n floats of v (zeros when v is NULL: Qwen2 without a bias) at dst. */
static float *put_vec(float *dst, const float *v, int64_t n) {
  if (v)
    memcpy(dst, v, (size_t)n * sizeof *v);
  else
    memset(dst, 0, (size_t)n * sizeof *dst);
  return dst + n;
}

/* The stacked model of the imported one's weights. */
static int stacked_model(const llm_net *net, llm_model **out, llm_err *err) {
  llm_config c = net->cfg; /* checked, its defaults filled in */
  c.tied_head = net->output.data == net->tok_embd.data ? 1 : -1;
  c.has_rope_freqs = net->rope_freqs != NULL;
  llm_model *m;
  int rc = llm_model_new(&c, &m, err);
  if (rc) return rc;
  int64_t C = c.n_embd, HD = c.head_dim, QW = HD * c.n_head, KW = HD * c.n_kv_head;
  float *p = llm_model_params(m);
#define AT(name) (llm_model_find(m, name) ? p + llm_model_find(m, name)->offset : NULL)
  put(AT("wte"), &net->tok_embd);
  put_vec(AT("norm.weight"), net->out_norm, C);
  if (c.tied_head == -1) put(AT("lm_head.weight"), &net->output);
  if (c.has_rope_freqs) put_vec(AT("rope_freqs"), net->rope_freqs, c.n_rot / 2);
  float *n1 = AT("blocks.attn_norm.weight"), *qkv = AT("blocks.attn.qkv.weight"), *o = AT("blocks.attn.proj.weight");
  float *qkvb = AT("blocks.attn.qkv.bias"), *qn = AT("blocks.attn.q_norm.weight"), *kn = AT("blocks.attn.k_norm.weight");
  float *post1 = AT("blocks.attn_post_norm.weight"), *post2 = AT("blocks.mlp_post_norm.weight");
  float *n2 = AT("blocks.mlp_norm.weight"), *fc = AT("blocks.mlp.fc.weight"), *down = AT("blocks.mlp.proj.weight");
#undef AT
  for (int l = 0; l < c.n_layer; l++) {
    const llm_net_layer *y = &net->layers[l];
    n1 = put_vec(n1, y->attn_norm, C);
    qkv = put(put(put(qkv, &y->q), &y->k), &y->v);
    if (qkvb) qkvb = put_vec(put_vec(put_vec(qkvb, y->bq, QW), y->bk, KW), y->bv, KW);
    if (qn) qn = put_vec(qn, y->q_norm, HD), kn = put_vec(kn, y->k_norm, HD);
    o = put(o, &y->o);
    if (post1) post1 = put_vec(post1, y->attn_post_norm, C), post2 = put_vec(post2, y->ffn_post_norm, C);
    n2 = put_vec(n2, y->ffn_norm, C);
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
