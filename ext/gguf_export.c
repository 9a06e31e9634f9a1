/*
** gguf_export.c: llm_export(name, 'gguf', path): a model trained here,
** imported (llama2.c, GGUF) or quantized, as a GGUF file that llama.cpp
** and Ollama run.
**
**   SELECT llm_export('shakespeare', 'gguf', 'shakespeare.gguf');
**
** The Llama block is written as llama.cpp's `llama` architecture (its
** rotary embeddings already rotate adjacent pairs, llama.cpp's "normal"
** style, so no row of q or k is permuted), the GPT block as `gpt2` (fused
** qkv with biases, learned positions), other models as the architecture
** they came as. Tensors are written in the type they are stored in, with
** their GGUF names (llm_net_tensors: a trained model's layer slices of its
** stacked tensors become GGUF's per-layer tensors), and the metadata
** llama.cpp reads from the configuration. The tokenizer goes along: a llama2.c
** or GGUF SentencePiece vocabulary as `llama` ("▁" for spaces, byte
** tokens <0xXX>, scores and token types), a byte-level BPE one as `gpt2` (pieces
** in GPT-2's byte-to-character spelling, merges, pre-tokenizer "gpt-2").
** The file is written next to its final name and renamed into place;
** returns the number of bytes written. Tokenizers not written yet
** (WordPiece, imported BPE vocabularies) are an error.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf_write.h"
#include "kernels/qpack.h"
#include "kernels/qtypes.h"
#include "text/bytelevel.h"
#include "text/pretok.h"
#include "text/utf8.h"
#include "ext.h"

/* A tensor of the file: a contiguous run of the model's bytes. */
typedef struct out_tensor {
  const void *data;
  size_t packed_row_bytes; /* 0, or the rows of a packed matrix (kernels/qpack.h) */
  uint32_t type;
} out_tensor;

typedef struct export_job {
  llm_gguf_writer *w;
  out_tensor *t;
  int n, cap;
  FILE *f;
  llm_err *err;
} export_job;

/* llm_net_tensors' visitor: each tensor of the model, in its type. */
static int add_tensor(void *ctx, const char *name, const llm_net_tensor *t) {
  export_job *j = ctx;
  uint64_t ne[2] = {(uint64_t)t->ne[0], (uint64_t)t->ne[1]};
  if (j->n == j->cap) {
    out_tensor *g = sqlite3_realloc64(j->t, (sqlite3_uint64)(j->cap = j->cap ? 2 * j->cap : 64) * sizeof *g);
    if (!g) return llm_fail(j->err, LLM_ENOMEM, "out of memory");
    j->t = g;
  }
  uint64_t row_bytes = 0;
  if (t->packed) llm_qtype_row_bytes(t->type, ne[0], &row_bytes);
  j->t[j->n++] = (out_tensor){t->data, (size_t)row_bytes, t->type};
  return llm_gguf_add_tensor(j->w, name, (uint32_t)t->n_dims, ne, t->type, j->err);
}

/* The metadata llama.cpp reads for the architecture (the inverse of
** formats/gguf_model.c). */
static int add_hparams(export_job *j, const llm_net *net, const char *name) {
  const llm_config *c = &net->cfg;
  const llm_arch_traits *tr = net->tr;
  const char *arch = tr->name;
  char k[96];
  llm_err *e = j->err;
  int rc;
#define KEY(suffix) (snprintf(k, sizeof k, "%s.%s", arch, suffix), k)
  if ((rc = llm_gguf_add_str(j->w, "general.architecture", arch, strlen(arch), e)) ||
      (rc = llm_gguf_add_str(j->w, "general.name", name, strlen(name), e)) ||
      (rc = llm_gguf_add_u32(j->w, "general.file_type", 0, e)) ||
      (rc = llm_gguf_add_u32(j->w, KEY("context_length"), (uint32_t)c->block_size, e)) ||
      (rc = llm_gguf_add_u32(j->w, KEY("embedding_length"), (uint32_t)c->n_embd, e)) ||
      (rc = llm_gguf_add_u32(j->w, KEY("feed_forward_length"), (uint32_t)c->n_hidden, e)) ||
      (rc = llm_gguf_add_u32(j->w, KEY("block_count"), (uint32_t)c->n_layer, e)) ||
      (rc = llm_gguf_add_u32(j->w, KEY("attention.head_count"), (uint32_t)c->n_head, e)))
    return rc;
  if (c->arch != LLM_ARCH_GPT && (rc = llm_gguf_add_u32(j->w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_head, e)))
    return rc;
  if ((rc = llm_gguf_add_f32(j->w, KEY(tr->layer_norm ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon"),
                             c->norm_eps, e)))
    return rc;
  if (tr->rope && ((rc = llm_gguf_add_f32(j->w, KEY("rope.freq_base"), c->rope_theta, e)) ||
                   (rc = llm_gguf_add_u32(j->w, KEY("rope.dimension_count"), (uint32_t)c->n_rot, e))))
    return rc;
  if (tr->rope && c->rope_scale != 1 &&
      ((rc = llm_gguf_add_str(j->w, KEY("rope.scaling.type"), "linear", 6, e)) ||
       (rc = llm_gguf_add_f32(j->w, KEY("rope.scaling.factor"), c->rope_scale, e))))
    return rc;
  if (c->head_dim * c->n_head != c->n_embd &&
      ((rc = llm_gguf_add_u32(j->w, KEY("attention.key_length"), (uint32_t)c->head_dim, e)) ||
       (rc = llm_gguf_add_u32(j->w, KEY("attention.value_length"), (uint32_t)c->head_dim, e))))
    return rc;
  if (c->sliding_window &&
      ((rc = llm_gguf_add_u32(j->w, KEY("attention.sliding_window"), (uint32_t)c->sliding_window, e)) ||
       (rc = llm_gguf_add_u32(j->w, KEY("attention.sliding_window_pattern"), (uint32_t)c->swa_period, e)) ||
       (rc = llm_gguf_add_f32(j->w, KEY("rope.freq_base_swa"), c->rope_theta_local, e))))
    return rc;
  if (!tr->decoder) {
    /* llama.cpp's pooling types: 1 mean, 2 cls, 3 last */
    uint32_t pool = c->pooling == LLM_POOL_CLS ? 2 : c->pooling == LLM_POOL_LAST ? 3 : 1;
    if ((rc = llm_gguf_add_bool(j->w, KEY("attention.causal"), 0, e)) ||
        (rc = llm_gguf_add_u32(j->w, KEY("pooling_type"), pool, e)))
      return rc;
  }
#undef KEY
  return LLM_OK;
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

static int add_tokenizer(export_job *j, const llm_tokenizer *t, int n_token_types) {
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
  if (!rc && n_token_types) rc = llm_gguf_add_u32(j->w, "tokenizer.ggml.token_type_count", (uint32_t)n_token_types, j->err);
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
  if (j->t[index].packed_row_bytes)
    llm_qpack_read(j->t[index].type, j->t[index].data, j->t[index].packed_row_bytes, offset, dst, n);
  else
    memcpy(dst, (const uint8_t *)j->t[index].data + offset, n);
  return LLM_OK;
}

int llm_gguf_export(llm_conn *c, llm_model_entry *e, const char *path, sqlite3_int64 *bytes, llm_err *err) {
  llm_tokenizer *tok;
  int32_t bos;
  export_job j = {0};
  j.err = err;
  int rc = llm_model_tokenizer(c, e, &tok, &bos, err);
  if (!rc) rc = llm_gguf_writer_new(&j.w, err);
  if (!rc) rc = add_hparams(&j, &e->weights->net, e->name);
  if (!rc) rc = add_tokenizer(&j, tok, e->weights->net.cfg.n_token_types);
  if (!rc) rc = llm_net_tensors(&e->weights->net, add_tensor, &j);
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
