/*
** gguf_export.c: llm_export(name, 'gguf', path): a model trained here (or
** imported from llama2.c) as a GGUF file that llama.cpp and Ollama run.
**
**   SELECT llm_export('shakespeare', 'gguf', 'shakespeare.gguf');
**
** The Llama block is written as llama.cpp's `llama` architecture (its
** rotary embeddings already rotate adjacent pairs, llama.cpp's "normal"
** style, so no row of q or k is permuted), the GPT block as `gpt2` (fused
** qkv with biases, learned positions). Tensors are written in the type they
** are stored in (float32), each layer's slice of the stacked tensors as
** GGUF's per-layer tensors. The tokenizer goes along: a llama2.c
** or GGUF SentencePiece vocabulary as `llama` ("▁" for spaces, byte
** tokens <0xXX>, scores and token types), a byte-level BPE one as `gpt2` (pieces
** in GPT-2's byte-to-character spelling, merges, pre-tokenizer "gpt-2").
** The file is written next to its final name and renamed into place;
** returns the number of bytes written. Models imported from GGUF are not
** written back (their file is their export) unless fine-tuning made them
** this engine's own.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf_write.h"
#include "kernels/qtypes.h"
#include "text/bytelevel.h"
#include "text/pretok.h"
#include "text/utf8.h"
#include "ext.h"

/* A tensor of the file: a contiguous run of the model's floats. */
typedef struct out_tensor {
  const float *data;
} out_tensor;

typedef struct export_job {
  llm_gguf_writer *w;
  out_tensor *t;
  int n, cap;
  FILE *f;
  llm_err *err;
} export_job;

/* Adds tensor `name` of GGUF dims ne (innermost first) at data. */
static int add(export_job *j, const char *name, int n_dims, uint64_t ne0, uint64_t ne1, const float *data) {
  uint64_t ne[2] = {ne0, ne1};
  if (j->n == j->cap) {
    out_tensor *g = sqlite3_realloc64(j->t, (sqlite3_uint64)(j->cap = j->cap ? 2 * j->cap : 64) * sizeof *g);
    if (!g) return llm_fail(j->err, LLM_ENOMEM, "out of memory");
    j->t = g;
  }
  j->t[j->n++].data = data;
  return llm_gguf_add_tensor(j->w, name, (uint32_t)n_dims, ne, LLM_QTYPE_F32, j->err);
}

static int add_layer(export_job *j, int l, const char *what, int n_dims, uint64_t ne0, uint64_t ne1,
                     const float *data) {
  char name[64];
  snprintf(name, sizeof name, "blk.%d.%s", l, what);
  return add(j, name, n_dims, ne0, ne1, data);
}

static int add_tensors(export_job *j, llm_model *m) {
  const llm_config *c = llm_model_config(m);
  const float *p = llm_model_params(m);
  uint64_t C = (uint64_t)c->n_embd, H = (uint64_t)c->n_hidden, V = (uint64_t)c->vocab_size;
  uint64_t KV = C / (uint64_t)c->n_head * (uint64_t)c->n_kv_head, Q = C + 2 * KV;
  int gpt = c->arch == LLM_ARCH_GPT, rc;
#define P(name) (p + llm_model_find(m, name)->offset)
  if ((rc = add(j, "token_embd.weight", 2, C, V, P("wte")))) return rc;
  if (gpt && (rc = add(j, "position_embd.weight", 2, C, (uint64_t)c->block_size, P("wpe")))) return rc;
  if ((rc = add(j, "output_norm.weight", 1, C, 1, P(gpt ? "lnf.weight" : "norm.weight")))) return rc;
  if (gpt && (rc = add(j, "output_norm.bias", 1, C, 1, P("lnf.bias")))) return rc;
  if (c->tied_head == -1 && (rc = add(j, "output.weight", 2, C, V, P("lm_head.weight")))) return rc;
  for (int l = 0; l < c->n_layer; l++) {
    size_t L = (size_t)l;
    if (gpt) {
      if ((rc = add_layer(j, l, "attn_norm.weight", 1, C, 1, P("blocks.ln1.weight") + L * C)) ||
          (rc = add_layer(j, l, "attn_norm.bias", 1, C, 1, P("blocks.ln1.bias") + L * C)) ||
          (rc = add_layer(j, l, "attn_qkv.weight", 2, C, 3 * C, P("blocks.attn.qkv.weight") + L * 3 * C * C)) ||
          (rc = add_layer(j, l, "attn_qkv.bias", 1, 3 * C, 1, P("blocks.attn.qkv.bias") + L * 3 * C)) ||
          (rc = add_layer(j, l, "attn_output.weight", 2, C, C, P("blocks.attn.proj.weight") + L * C * C)) ||
          (rc = add_layer(j, l, "attn_output.bias", 1, C, 1, P("blocks.attn.proj.bias") + L * C)) ||
          (rc = add_layer(j, l, "ffn_norm.weight", 1, C, 1, P("blocks.ln2.weight") + L * C)) ||
          (rc = add_layer(j, l, "ffn_norm.bias", 1, C, 1, P("blocks.ln2.bias") + L * C)) ||
          (rc = add_layer(j, l, "ffn_up.weight", 2, C, H, P("blocks.mlp.fc.weight") + L * H * C)) ||
          (rc = add_layer(j, l, "ffn_up.bias", 1, H, 1, P("blocks.mlp.fc.bias") + L * H)) ||
          (rc = add_layer(j, l, "ffn_down.weight", 2, H, C, P("blocks.mlp.proj.weight") + L * C * H)) ||
          (rc = add_layer(j, l, "ffn_down.bias", 1, C, 1, P("blocks.mlp.proj.bias") + L * C)))
        return rc;
      continue;
    }
    const float *qkv = P("blocks.attn.qkv.weight") + L * Q * C, *fc = P("blocks.mlp.fc.weight") + L * 2 * H * C;
    if ((rc = add_layer(j, l, "attn_norm.weight", 1, C, 1, P("blocks.attn_norm.weight") + L * C)) ||
        (rc = add_layer(j, l, "attn_q.weight", 2, C, C, qkv)) ||
        (rc = add_layer(j, l, "attn_k.weight", 2, C, KV, qkv + C * C)) ||
        (rc = add_layer(j, l, "attn_v.weight", 2, C, KV, qkv + (C + KV) * C)) ||
        (rc = add_layer(j, l, "attn_output.weight", 2, C, C, P("blocks.attn.proj.weight") + L * C * C)) ||
        (rc = add_layer(j, l, "ffn_norm.weight", 1, C, 1, P("blocks.mlp_norm.weight") + L * C)) ||
        (rc = add_layer(j, l, "ffn_gate.weight", 2, C, H, fc)) ||
        (rc = add_layer(j, l, "ffn_up.weight", 2, C, H, fc + H * C)) ||
        (rc = add_layer(j, l, "ffn_down.weight", 2, H, C, P("blocks.mlp.proj.weight") + L * C * H)))
      return rc;
  }
#undef P
  return LLM_OK;
}

static int add_hparams(export_job *j, const llm_config *c, const char *name) {
  const char *arch = c->arch == LLM_ARCH_GPT ? "gpt2" : "llama";
  char k[96];
  llm_err *e = j->err;
  int rc;
#define KEY(suffix) (snprintf(k, sizeof k, "%s.%s", arch, suffix), k)
  if ((rc = llm_gguf_add_str(j->w, "general.architecture", arch, strlen(arch), e)) ||
      (rc = llm_gguf_add_str(j->w, "general.name", name, strlen(name), e)) ||
      (rc = llm_gguf_add_u32(j->w, "general.file_type", 0, e)) || /* all float32 */
      (rc = llm_gguf_add_u32(j->w, KEY("context_length"), (uint32_t)c->block_size, e)) ||
      (rc = llm_gguf_add_u32(j->w, KEY("embedding_length"), (uint32_t)c->n_embd, e)) ||
      (rc = llm_gguf_add_u32(j->w, KEY("feed_forward_length"), (uint32_t)c->n_hidden, e)) ||
      (rc = llm_gguf_add_u32(j->w, KEY("block_count"), (uint32_t)c->n_layer, e)) ||
      (rc = llm_gguf_add_u32(j->w, KEY("attention.head_count"), (uint32_t)c->n_head, e)))
    return rc;
  if (c->arch == LLM_ARCH_GPT) return llm_gguf_add_f32(j->w, KEY("attention.layer_norm_epsilon"), c->norm_eps, e);
  if ((rc = llm_gguf_add_u32(j->w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_head, e)) ||
      (rc = llm_gguf_add_f32(j->w, KEY("attention.layer_norm_rms_epsilon"), c->norm_eps, e)) ||
      (rc = llm_gguf_add_f32(j->w, KEY("rope.freq_base"), c->rope_theta, e)))
    return rc;
  return llm_gguf_add_u32(j->w, KEY("rope.dimension_count"), (uint32_t)(c->n_embd / c->n_head), e);
#undef KEY
}

/* ---- the tokenizer ------------------------------------------------------ */

/* GGUF's token types: 1 normal, 2 unknown, 3 control, 4 user-defined,
** 5 unused, 6 byte. */
static int32_t token_type(const llm_tokenizer *t, int32_t id) {
  if (id == llm_tokenizer_role(t, LLM_ROLE_UNK)) return 2;
  switch (llm_tokenizer_kind(t, id)) {
    case LLM_TOKEN_SPECIAL: return 3;
    case LLM_TOKEN_USER: return 4;
    case LLM_TOKEN_UNUSED: return 5;
    case LLM_TOKEN_BYTE: return llm_tokenizer_type(t) == LLM_TOKENIZER_BPE ? 1 : 6;
    default: return 1;
  }
}

/* A piece as the file spells it, into out: SentencePiece's "▁" for
** spaces, or GPT-2's character for each byte (byte-level BPE). */
static int spell(const llm_tokenizer *t, int32_t id, llm_buf *out) {
  size_t n;
  const uint8_t *p = llm_tokenizer_piece(t, id, &n);
  out->len = 0;
  int bpe = llm_tokenizer_type(t) == LLM_TOKENIZER_BPE && llm_tokenizer_kind(t, id) != LLM_TOKEN_SPECIAL;
  for (size_t i = 0; i < n; i++) {
    uint8_t u[4];
    int len = 1;
    if (bpe) {
      len = llm_utf8_encode(u, llm_bytelevel_cp(p[i]));
    } else if (p[i] == ' ') {
      memcpy(u, "\xe2\x96\x81", 3);
      len = 3;
    } else {
      u[0] = p[i];
    }
    if (llm_buf_append(out, u, (size_t)len)) return LLM_ENOMEM;
  }
  return LLM_OK;
}

static int by_rank(const void *a, const void *b) {
  const int32_t *x = a, *y = b;
  return x[0] < y[0] ? -1 : x[0] > y[0];
}

static int add_tokenizer(export_job *j, const llm_tokenizer *t) {
  int32_t n = llm_tokenizer_n_vocab(t);
  int type = llm_tokenizer_type(t), bpe = type == LLM_TOKENIZER_BPE;
  /* (an imported BPE vocabulary keeps its merges apart: not written yet) */
  if (type == LLM_TOKENIZER_WORDPIECE || (bpe && llm_tokenizer_n_merges(t) > 0))
    return llm_fail(j->err, LLM_EINVAL,
                    "only SentencePiece-style (llama2.c, GGUF 'llama') and byte-level BPE tokenizers trained here "
                    "or from GPT-2 are written to GGUF so far");
  if (bpe && llm_tokenizer_pretok(t) != LLM_PRETOK_GPT2)
    return llm_fail(j->err, LLM_EINVAL, "a BPE tokenizer without GPT-2's pre-tokenizer has no GGUF equivalent");
  char **strs = sqlite3_malloc64((sqlite3_uint64)n * sizeof *strs);
  size_t *lens = sqlite3_malloc64((sqlite3_uint64)n * sizeof *lens);
  int32_t *types = sqlite3_malloc64((sqlite3_uint64)n * sizeof *types);
  float *scores = sqlite3_malloc64((sqlite3_uint64)n * sizeof *scores);
  int32_t *merges = sqlite3_malloc64((sqlite3_uint64)n * 2 * sizeof *merges);
  int rc = strs && lens && types && scores && merges ? LLM_OK : llm_fail(j->err, LLM_ENOMEM, "out of memory");
  int32_t n_merges = 0;
  llm_buf b = {0};
  if (strs) memset(strs, 0, (size_t)n * sizeof *strs);
  for (int32_t id = 0; !rc && id < n; id++) {
    if (spell(t, id, &b) || !(strs[id] = sqlite3_malloc64(b.len + 1))) {
      rc = llm_fail(j->err, LLM_ENOMEM, "out of memory");
      break;
    }
    memcpy(strs[id], b.data, b.len);
    lens[id] = b.len;
    types[id] = token_type(t, id);
    scores[id] = llm_tokenizer_score(t, id);
    if (bpe && llm_tokenizer_kind(t, id) == LLM_TOKEN_MERGE) {
      merges[2 * n_merges] = llm_tokenizer_rank(t, id);
      merges[2 * n_merges++ + 1] = id;
    }
  }
  const char *model = bpe ? "gpt2" : "llama";
  if (!rc) rc = llm_gguf_add_str(j->w, "tokenizer.ggml.model", model, strlen(model), j->err);
  if (!rc && bpe) rc = llm_gguf_add_str(j->w, "tokenizer.ggml.pre", "gpt-2", 5, j->err);
  if (!rc) rc = llm_gguf_add_str_array(j->w, "tokenizer.ggml.tokens", (const char *const *)strs, lens, (uint64_t)n, j->err);
  if (!rc && !bpe) rc = llm_gguf_add_array(j->w, "tokenizer.ggml.scores", LLM_GGUF_F32, scores, (uint64_t)n, j->err);
  if (!rc) rc = llm_gguf_add_array(j->w, "tokenizer.ggml.token_type", LLM_GGUF_I32, types, (uint64_t)n, j->err);
  if (!rc && bpe) {
    /* "left right", in rank order */
    qsort(merges, (size_t)n_merges, 2 * sizeof *merges, by_rank);
    char **ms = sqlite3_malloc64((sqlite3_uint64)(n_merges ? n_merges : 1) * sizeof *ms);
    rc = ms ? LLM_OK : llm_fail(j->err, LLM_ENOMEM, "out of memory");
    int32_t k = 0;
    for (; !rc && k < n_merges; k++) {
      int32_t id = merges[2 * k + 1], l = llm_tokenizer_left(t, id), r = llm_tokenizer_right(t, id);
      ms[k] = sqlite3_mprintf("%.*s %.*s", (int)lens[l], strs[l], (int)lens[r], strs[r]);
      if (!ms[k]) rc = llm_fail(j->err, LLM_ENOMEM, "out of memory");
    }
    if (!rc) rc = llm_gguf_add_str_array(j->w, "tokenizer.ggml.merges", (const char *const *)ms, NULL, (uint64_t)n_merges, j->err);
    for (int32_t i = 0; ms && i < k; i++) sqlite3_free(ms[i]);
    sqlite3_free(ms);
  }
  int32_t bos = llm_tokenizer_bos_id(t), eos = llm_tokenizer_eos_id(t), unk = llm_tokenizer_role(t, LLM_ROLE_UNK);
  if (!rc && bos >= 0) rc = llm_gguf_add_u32(j->w, "tokenizer.ggml.bos_token_id", (uint32_t)bos, j->err);
  if (!rc && eos >= 0) rc = llm_gguf_add_u32(j->w, "tokenizer.ggml.eos_token_id", (uint32_t)eos, j->err);
  if (!rc && unk >= 0) rc = llm_gguf_add_u32(j->w, "tokenizer.ggml.unknown_token_id", (uint32_t)unk, j->err);
  /* every text starts with the start token, as here (<s>; for BPE models
  ** trained here the <|endoftext|> that separates their training texts;
  ** an imported vocabulary as its flags say) */
  int add_bos = type == LLM_TOKENIZER_SPM ? (llm_tokenizer_flags(t) & LLM_TOK_ADD_BOS) != 0 : bos >= 0;
  if (!rc) rc = llm_gguf_add_bool(j->w, "tokenizer.ggml.add_bos_token", add_bos, j->err);
  if (!rc) rc = llm_gguf_add_bool(j->w, "tokenizer.ggml.add_eos_token", 0, j->err);
  for (int32_t id = 0; strs && id < n; id++) sqlite3_free(strs[id]);
  sqlite3_free(strs);
  sqlite3_free(lens);
  sqlite3_free(types);
  sqlite3_free(scores);
  sqlite3_free(merges);
  llm_buf_free(&b);
  return rc;
}

/* ---- writing ------------------------------------------------------------- */

static int write_bytes(void *ctx, const void *buf, size_t n, llm_err *err) {
  export_job *j = ctx;
  if (fwrite(buf, 1, n, j->f) != n) return llm_fail(err, LLM_EIO, "%s", strerror(errno));
  return LLM_OK;
}

static int fill(void *ctx, int64_t index, uint64_t offset, void *dst, size_t n, llm_err *err) {
  export_job *j = ctx;
  memcpy(dst, (const uint8_t *)j->t[index].data + offset, n);
  return LLM_OK;
}

int llm_gguf_export(llm_conn *c, llm_model_entry *e, const char *path, sqlite3_int64 *bytes, llm_err *err) {
  if (!e->weights->model)
    return llm_fail(err, LLM_EINVAL, "model '%s' was imported from a GGUF file: that file is its export", e->name);
  llm_tokenizer *tok;
  int32_t bos;
  export_job j = {0};
  j.err = err;
  int rc = llm_model_tokenizer(c, e, &tok, &bos, err);
  if (!rc) rc = llm_gguf_writer_new(&j.w, err);
  if (!rc) rc = add_hparams(&j, llm_model_config(e->weights->model), e->name);
  if (!rc) rc = add_tokenizer(&j, tok);
  if (!rc) rc = add_tensors(&j, e->weights->model);
  char *tmp = rc ? NULL : sqlite3_mprintf("%s.tmp-llm", path);
  if (!rc && !tmp) rc = llm_fail(err, LLM_ENOMEM, "out of memory");
  if (!rc && !(j.f = fopen(tmp, "wb"))) rc = llm_fail(err, LLM_EIO, "cannot create '%s': %s", tmp, strerror(errno));
  if (!rc) rc = llm_gguf_write(j.w, write_bytes, fill, &j, err);
  if (j.f && fclose(j.f) && !rc) rc = llm_fail(err, LLM_EIO, "cannot write '%s': %s", tmp, strerror(errno));
  if (!rc && rename(tmp, path)) rc = llm_fail(err, LLM_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
  if (rc && j.f) remove(tmp);
  if (!rc) *bytes = (sqlite3_int64)llm_gguf_writer_size(j.w);
  sqlite3_free(tmp);
  sqlite3_free(j.t);
  llm_gguf_writer_free(j.w);
  return rc;
}
