/*
** llama2c_ckpt.c: llama2.c checkpoints (see llama2c_ckpt.h).
**
** Both formats are a sequence of arrays; each format is a list of
** segments naming where each array lives in the model: a whole tensor, or
** for every layer a band of rows of a fused tensor (wq, wk, wv are bands of
** blocks.attn.qkv.weight; w1 and w3 of blocks.mlp.fc.weight). Reading,
** writing and the size check all walk the same list.
*/
#include "formats/llama2c_ckpt.h"
#include "nn/layers.h"

#include <math.h>
#include <string.h>

#define MAGIC 0x616b3432u

/* Bands of the fused tensors. */
enum { WHOLE = -1, BAND_Q, BAND_K, BAND_V, BAND_W1, BAND_W3 };
typedef struct seg {
  const char *tensor; /* NULL: the legacy RoPE tables, not a tensor */
  int band;
} seg;

static const seg LEGACY[] = {
    {"wte", WHOLE},
    {"blocks.attn_norm.weight", WHOLE},
    {"blocks.attn.qkv.weight", BAND_Q},
    {"blocks.attn.qkv.weight", BAND_K},
    {"blocks.attn.qkv.weight", BAND_V},
    {"blocks.attn.proj.weight", WHOLE},
    {"blocks.mlp_norm.weight", WHOLE},
    {"blocks.mlp.fc.weight", BAND_W1},
    {"blocks.mlp.proj.weight", WHOLE},
    {"blocks.mlp.fc.weight", BAND_W3},
    {"norm.weight", WHOLE},
    {NULL, WHOLE},
    {"lm_head.weight", WHOLE}, /* present only when not shared */
};

static const seg VERSION1[] = {
    {"blocks.attn_norm.weight", WHOLE},
    {"blocks.mlp_norm.weight", WHOLE},
    {"norm.weight", WHOLE},
    {"wte", WHOLE},
    {"blocks.attn.qkv.weight", BAND_Q},
    {"blocks.attn.qkv.weight", BAND_K},
    {"blocks.attn.qkv.weight", BAND_V},
    {"blocks.attn.proj.weight", WHOLE},
    {"blocks.mlp.fc.weight", BAND_W1},
    {"blocks.mlp.proj.weight", WHOLE},
    {"blocks.mlp.fc.weight", BAND_W3},
    {"lm_head.weight", WHOLE},
};

static const seg *segments(int version, size_t *n) {
  *n = version == 0 ? sizeof LEGACY / sizeof LEGACY[0] : sizeof VERSION1 / sizeof VERSION1[0];
  return version == 0 ? LEGACY : VERSION1;
}

/* Rows [*r0, *r0 + *nr) of each layer's matrix that a band covers. */
static void band_rows(const llm_config *c, int band, int64_t *r0, int64_t *nr) {
  int64_t C = c->n_embd, KV = C / c->n_head * c->n_kv_head, H = c->n_hidden;
  switch (band) {
    case BAND_Q: *r0 = 0, *nr = C; break;
    case BAND_K: *r0 = C, *nr = KV; break;
    case BAND_V: *r0 = C + KV, *nr = KV; break;
    case BAND_W1: *r0 = 0, *nr = H; break;
    default: *r0 = H, *nr = H; break; /* BAND_W3 */
  }
}

/* Floats a segment holds, from the config alone (no model yet). */
static double seg_floats(const llm_config *c, const seg *s) {
  double C = c->n_embd, L = c->n_layer, V = c->vocab_size, H = c->n_hidden;
  double HS = C / c->n_head;
  if (!s->tensor) return 2 * (double)c->block_size * HS / 2;
  if (s->band != WHOLE) {
    int64_t r0, nr;
    band_rows(c, s->band, &r0, &nr);
    return L * (double)nr * C;
  }
  if (!strcmp(s->tensor, "wte") || !strcmp(s->tensor, "lm_head.weight")) return V * C;
  if (!strcmp(s->tensor, "norm.weight")) return C;
  if (!strcmp(s->tensor, "blocks.attn.proj.weight")) return L * C * C;
  if (!strcmp(s->tensor, "blocks.mlp.proj.weight")) return L * C * H;
  return L * C; /* the per-layer norms */
}

static int32_t rd_i32(const uint8_t *p) {
  uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  int32_t r;
  memcpy(&r, &v, sizeof r);
  return r;
}

int llm_llama2c_parse_header(const uint8_t *head, size_t n, uint64_t file_size, llm_llama2c_info *info,
                             llm_err *err) {
  memset(info, 0, sizeof *info);
  int v1 = n >= 8 && (uint32_t)rd_i32(head) == MAGIC;
  size_t at = v1 ? 8 : 0;
  if (v1 && rd_i32(head + 4) != 1)
    return llm_fail(err, LLM_EINVAL,
                    "llama2.c checkpoint version %ld is not supported (only the legacy format and version 1, "
                    "float32)",
                    (long)rd_i32(head + 4));
  if (n < at + 28 + (v1 ? 1 : 0) || (v1 && file_size < 256))
    return llm_fail(err, LLM_EINVAL, "the checkpoint is truncated: %llu bytes cannot hold its header",
                    (unsigned long long)file_size);
  int32_t h[7];
  for (int i = 0; i < 7; i++) h[i] = rd_i32(head + at + 4 * i);
  static const char *const names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size",
                                       "seq_len"};
  static const int64_t limits[7] = {LLM_MAX_EMBD, 8 * LLM_MAX_EMBD, LLM_MAX_LAYERS, LLM_MAX_EMBD, LLM_MAX_EMBD,
                                    1 << 22, LLM_MAX_BLOCK};
  int shared = h[5] > 0;
  if (v1) {
    shared = head[at + 28] != 0;
    if (head[at + 28] > 1)
      return llm_fail(err, LLM_EINVAL, "the checkpoint's shared-classifier flag is %d, not 0 or 1", head[at + 28]);
  }
  if (h[5] < 0 && h[5] > INT32_MIN && !v1) h[5] = -h[5]; /* (INT32_MIN fails below) */
  for (int i = 0; i < 7; i++)
    if (h[i] < 1 || h[i] > limits[i])
      return llm_fail(err, LLM_EINVAL, "the checkpoint's header has %s = %ld, outside 1..%lld: not a llama2.c "
                      "checkpoint, or a corrupt one", names[i], (long)h[i], (long long)limits[i]);
  llm_config *c = &info->config;
  c->arch = LLM_ARCH_LLAMA;
  c->n_embd = h[0];
  c->n_hidden = h[1];
  c->n_layer = h[2];
  c->n_head = h[3];
  c->n_kv_head = h[4];
  c->vocab_size = h[5];
  c->block_size = h[6];
  c->tied_head = shared ? 1 : -1;
  c->norm_eps = 1e-5f;
  c->rope_theta = 10000.0f;
  if (llm_config_check(c, err)) {
    char why[sizeof err->msg];
    memcpy(why, err->msg, sizeof why);
    return llm_fail(err, LLM_EINVAL, "the checkpoint's header describes no valid model: %s", why);
  }
  info->version = v1;
  info->data_offset = v1 ? 256 : 28;
  info->file_size = file_size;
  size_t nseg;
  const seg *sg = segments(info->version, &nseg);
  double floats = 0;
  for (size_t i = 0; i < nseg; i++)
    if (!(sg[i].tensor && !strcmp(sg[i].tensor, "lm_head.weight") && shared)) floats += seg_floats(c, &sg[i]);
  double want = (double)info->data_offset + 4 * floats;
  if (want != (double)file_size)
    return llm_fail(err, LLM_EINVAL,
                    "the checkpoint has %llu bytes, but its header (dim %d, hidden %d, %d layers, %d heads, %d kv "
                    "heads, vocab %d, seq_len %d, %s classifier) needs %.0f: truncated or not this format",
                    (unsigned long long)file_size, h[0], h[1], h[2], h[3], h[4], h[5], h[6],
                    shared ? "shared" : "separate", want);
  return LLM_OK;
}

/* Calls fn(ptr, count) for each array of the model in file order; ptr is
** NULL for the RoPE tables. Stops at the first non-zero return. */
typedef int (*array_fn)(void *ctx, float *ptr, size_t count);

static int walk(const llm_model *m, int version, array_fn fn, void *ctx) {
  const llm_config *c = llm_model_config(m);
  float *p = llm_model_params((llm_model *)m);
  size_t nseg;
  const seg *sg = segments(version, &nseg);
  for (size_t i = 0; i < nseg; i++) {
    if (!sg[i].tensor) {
      int rc = fn(ctx, NULL, (size_t)seg_floats(c, &sg[i]));
      if (rc) return rc;
      continue;
    }
    const llm_tensor *t = llm_model_find(m, sg[i].tensor);
    if (!t) continue; /* lm_head of a shared classifier */
    if (sg[i].band == WHOLE) {
      int rc = fn(ctx, p + t->offset, t->numel);
      if (rc) return rc;
      continue;
    }
    int64_t r0, nr;
    band_rows(c, sg[i].band, &r0, &nr);
    size_t per_layer = t->numel / (size_t)c->n_layer, C = (size_t)c->n_embd;
    for (int l = 0; l < c->n_layer; l++) {
      int rc = fn(ctx, p + t->offset + (size_t)l * per_layer + (size_t)r0 * C, (size_t)nr * C);
      if (rc) return rc;
    }
  }
  return 0;
}

typedef struct io_ctx {
  FILE *f;
  const llm_model *m;
  llm_err *err;
  const float *rope; /* writing: the rotary table [seq_len, head_size / 2, 2] */
} io_ctx;

static int read_array(void *p, float *ptr, size_t count) {
  io_ctx *io = p;
  if (!ptr) {
    if (fseek(io->f, (long)(count * sizeof(float)), SEEK_CUR))
      return llm_fail(io->err, LLM_EIO, "cannot seek in the checkpoint");
    return 0;
  }
  if (fread(ptr, sizeof(float), count, io->f) != count)
    return llm_fail(io->err, LLM_EIO, "the checkpoint ended early (or could not be read)");
  for (size_t i = 0; i < count; i++)
    if (!isfinite(ptr[i])) return llm_fail(io->err, LLM_EINVAL, "the checkpoint holds a non-finite weight");
  return 0;
}

int llm_llama2c_read_weights(FILE *f, const llm_llama2c_info *info, llm_model *m, llm_err *err) {
  if (fseek(f, (long)info->data_offset, SEEK_SET))
    return llm_fail(err, LLM_EIO, "cannot seek in the checkpoint");
  io_ctx io = {f, m, err, NULL};
  return walk(m, info->version, read_array, &io);
}

static int write_array(void *p, float *ptr, size_t count) {
  io_ctx *io = p;
  if (ptr) {
    if (fwrite(ptr, sizeof(float), count, io->f) != count)
      return llm_fail(io->err, LLM_EIO, "cannot write the checkpoint");
    return 0;
  }
  /* the legacy RoPE tables: cos, then sin, [seq_len, head_size / 2] each */
  const float *rope = io->rope;
  for (int part = 0; part < 2; part++)
    for (size_t i = 0; i < count / 2; i++)
      if (fwrite(rope + 2 * i + (size_t)part, sizeof(float), 1, io->f) != 1)
        return llm_fail(io->err, LLM_EIO, "cannot write the checkpoint");
  return 0;
}

int llm_llama2c_write(FILE *f, const llm_model *m, llm_err *err) {
  const llm_config *c = llm_model_config(m);
  if (c->arch != LLM_ARCH_LLAMA)
    return llm_fail(err, LLM_EINVAL, "only a model of the Llama architecture can be written as a llama2.c checkpoint");
  int HS = c->n_embd / c->n_head;
  if ((c->head_dim && c->head_dim != HS) || (c->n_rot && c->n_rot != HS) || (c->rope_scale && c->rope_scale != 1) ||
      c->has_rope_freqs || c->sliding_window)
    return llm_fail(err, LLM_EINVAL, "a llama2.c checkpoint cannot hold this model's rotary embeddings or head size "
                    "(export it to GGUF instead)");
  if (c->block_size > LLM_MAX_BLOCK)
    return llm_fail(err, LLM_EINVAL, "a llama2.c checkpoint holds contexts of at most %d tokens (this model: %d)",
                    LLM_MAX_BLOCK, c->block_size);
  int32_t h[7] = {c->n_embd, c->n_hidden, c->n_layer, c->n_head, c->n_kv_head,
                  c->tied_head == 1 ? c->vocab_size : -c->vocab_size, c->block_size};
  float *rope = llm_malloc((size_t)c->block_size * (size_t)HS * sizeof(float));
  if (!rope) return llm_fail(err, LLM_ENOMEM, "out of memory for the rotary table");
  llm_rope_table(rope, c->block_size, HS, c->rope_theta, 1.0f, NULL);
  io_ctx io = {f, m, err, rope};
  int rc = fwrite(h, sizeof h, 1, f) != 1 ? llm_fail(err, LLM_EIO, "cannot write the checkpoint")
                                          : walk(m, 0, write_array, &io);
  llm_free(rope);
  return rc;
}
