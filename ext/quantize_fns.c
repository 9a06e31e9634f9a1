/*
** quantize_fns.c: llm_quantize(source, target, type [, options]): a new
** model whose weight matrices are stored in another ggml type.
**
**   SELECT llm_quantize('shakespeare', 'shakespeare_q4', 'q4_k_m');
**
** The source is any stored model (trained here, imported from llama2.c or
** GGUF, quantized already: its weights are read as float32 and quantized
** afresh). The target is stored as GGUF imports are (tensors by GGUF name,
** each in its type) and runs, exports and is quantized further like them;
** it uses the source's tokenizer. Types: q8_0, q4_0, q4_1, q5_0, q5_1,
** q2_k, q3_k, q4_k, q5_k, q6_k, the mixes q4_k_m and q5_k_m, and f16, bf16
** and f32 (which dequantizes: the way to a float copy of a quantized model,
** for fine-tuning). Only matrices are quantized (not norms, biases, learned
** positions or token types). Unless options say {"pure": true}, the
** tensors llama.cpp's llama-quantize gives more bits get them the same
** way (so the result has llama-quantize's types, tensor for tensor):
**   output (or the tied token embedding): q6_k (q8_0 stays q8_0);
**   q4_k_m / q5_k_m: attn_v and ffn_down of the layers i with
**     i < L/8, i >= 7L/8 or (i - L/8) % 3 == 2: q6_k; a fused attn_qkv
**     q5_k (q4_k_m) or q6_k (q5_k_m);
**   a matrix whose rows are not whole blocks of its type falls back to a
**     type of 32-blocks (q4_k -> q5_0, q5_k -> q5_1, q6_k -> q8_0,
**     q2_k / q3_k -> q4_0), else f16.
** One transaction; returns a JSON summary (tensors per type, bytes).
*/
#include <math.h>
#include <string.h>

#include "kernels/qtypes.h"
#include "ext.h"

/* The requested type: a base type and a mix. */
typedef struct qspec {
  uint32_t base;
  int mix; /* 0, or 'm' for the _k_m mixes */
  int pure;
} qspec;

static int parse_type(const char *s, qspec *q, llm_err *err) {
  static const struct { const char *name; uint32_t base; int mix; } T[] = {
      {"q4_k_m", LLM_QTYPE_Q4_K, 'm'}, {"q5_k_m", LLM_QTYPE_Q5_K, 'm'}};
  for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
    if (!sqlite3_stricmp(s, T[i].name)) {
      q->base = T[i].base, q->mix = T[i].mix;
      return LLM_OK;
    }
  const llm_qtype *t = llm_qtype_by_name(s);
  if (!t || !t->supported || !t->from_float)
    return llm_fail(err, LLM_EINVAL,
                    "type '%.20s' is not one llm_quantize makes (q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, "
                    "q5_k, q6_k, q4_k_m, q5_k_m, f16, bf16, f32)",
                    s);
  q->base = t->id;
  q->mix = 0;
  return LLM_OK;
}

static int is_quantized(uint32_t type) { return llm_qtype_get(type)->block > 1; }

/* llama-quantize's layers that get more bits in the _k_m mixes. */
static int more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* A type whose blocks divide cols, from the one wanted. */
static uint32_t fallback(uint32_t type, int64_t cols) {
  if (cols % llm_qtype_get(type)->block == 0) return type;
  uint32_t t = type == LLM_QTYPE_Q4_K ? LLM_QTYPE_Q5_0 : type == LLM_QTYPE_Q5_K ? LLM_QTYPE_Q5_1
             : type == LLM_QTYPE_Q6_K ? LLM_QTYPE_Q8_0 : LLM_QTYPE_Q4_0;
  return cols % llm_qtype_get(t)->block == 0 ? t : LLM_QTYPE_F16;
}

/* The type of tensor `name` of a model with n_layer layers. */
static uint32_t target_type(const qspec *q, const char *name, const llm_net_tensor *t, int tied, int n_layer) {
  size_t len = strlen(name);
  if (t->n_dims < 2 || !strcmp(name, "position_embd.weight") || !strcmp(name, "token_types.weight") ||
      len < 7 || strcmp(name + len - 7, ".weight"))
    return t->type; /* as it is */
  uint32_t type = q->base;
  int layer = -1;
  sscanf(name, "blk.%d.", &layer);
  if (!q->pure && is_quantized(type)) {
    int output = !strcmp(name, "output.weight") || (tied && !strcmp(name, "token_embd.weight"));
    if (output) {
      type = t->ne[0] % 256 ? LLM_QTYPE_Q8_0 : type == LLM_QTYPE_Q8_0 ? type : LLM_QTYPE_Q6_K;
    } else if (q->mix && strstr(name, ".attn_qkv.")) {
      type = q->base == LLM_QTYPE_Q4_K ? LLM_QTYPE_Q5_K : LLM_QTYPE_Q6_K;
    } else if (q->mix && (strstr(name, ".attn_v.") || strstr(name, ".ffn_down.")) && more_bits(layer, n_layer)) {
      type = LLM_QTYPE_Q6_K;
    }
  }
  return is_quantized(type) ? fallback(type, t->ne[0]) : type;
}

typedef struct qjob {
  const qspec *q;
  const llm_net *net;
  llm_pieces pieces;
  uint8_t *buf;   /* one piece of the target */
  float *rows;    /* the source rows of one piece, as float32 */
  size_t rows_cap;
  llm_pool *pool;
  uint64_t count[LLM_QTYPE_COUNT], bytes;
  llm_err *err;
} qjob;

typedef struct conv_ctx {
  const llm_qtype *to;
  const float *src;
  uint8_t *dst;
  int64_t cols;
  size_t row_bytes;
} conv_ctx;

static void convert_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const conv_ctx *c = p;
  for (size_t r = lo; r < hi; r++)
    c->to->from_float(c->src + r * (size_t)c->cols, c->dst + r * c->row_bytes, c->cols);
}

/* llm_net_tensors' visitor: tensor `name` converted and stored. */
static int quantize_tensor(void *ctx, const char *name, const llm_net_tensor *t) {
  qjob *j = ctx;
  int tied = j->net->output.data == j->net->tok_embd.data;
  uint32_t type = target_type(j->q, name, t, tied, j->net->cfg.n_layer);
  const llm_qtype *to = llm_qtype_get(type);
  int64_t cols = t->ne[0], rows = t->n_dims > 1 ? t->ne[1] : 1;
  uint64_t row_bytes;
  llm_qtype_row_bytes(type, (uint64_t)cols, &row_bytes);
  /* whole rows per piece, and at most 16 MB of them as float32 at once */
  int64_t per = (int64_t)(llm_pieces_size(&j->pieces, type) / row_bytes);
  if (per > ((int64_t)16 << 20) / (cols * 4)) per = ((int64_t)16 << 20) / (cols * 4);
  if (per < 1) per = 1;
  if ((size_t)per * (size_t)cols > j->rows_cap) {
    llm_free(j->rows);
    j->rows_cap = 0;
    if (!(j->rows = llm_malloc((size_t)per * (size_t)cols * sizeof(float))))
      return llm_fail(j->err, LLM_ENOMEM, "out of memory");
    j->rows_cap = (size_t)per * (size_t)cols;
  }
  llm_wmat src;
  if (llm_wmat_init(&src, name, t->data, t->type, rows, cols, j->err)) return j->err->code;
  src.packed = t->packed;
  char shape[160];
  llm_shape_json(shape, sizeof shape, t->n_dims, t->ne);
  int part = 0, rc = LLM_OK;
  for (int64_t r = 0; !rc && r < rows; r += per, part++) {
    int64_t n = rows - r < per ? rows - r : per;
    llm_wmat_rows(&src, r, r + n, j->rows);
    conv_ctx cc = {to, j->rows, j->buf, cols, (size_t)row_bytes};
    llm_pool_for(j->pool, (size_t)n, convert_rows, &cc);
    rc = llm_pieces_write(&j->pieces, name, strlen(name), part, shape, type, j->buf, (size_t)n * row_bytes, j->err);
  }
  j->count[type]++;
  j->bytes += (uint64_t)rows * row_bytes;
  return rc;
}

/* The parameter count, and the largest tensor as float32 bytes (a bound
** on any target tensor's size, for the piece size). */
static int count_tensor(void *ctx, const char *name, const llm_net_tensor *t) {
  uint64_t *c = ctx, n = (uint64_t)t->ne[0] * (uint64_t)t->ne[1];
  (void)name;
  c[0] += n;
  if (4 * n > c[1]) c[1] = 4 * n;
  return 0;
}

static void fn_quantize(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const keys[] = {"pure", NULL};
  llm_conn *c = llm_ctx_conn(ctx);
  const char *src = llm_arg_name(ctx, argv, 0, "source model"), *dst = src ? llm_arg_name(ctx, argv, 1, "target model") : NULL;
  if (!dst) return;
  llm_json_doc *doc = NULL;
  if (!llm_arg_options(ctx, argc, argv, 3, keys, &doc)) return;
  llm_err err = {0};
  qspec q = {0};
  qjob j = {0};
  j.q = &q;
  j.err = &err;
  llm_model_entry *e;
  llm_model_info mi, existing;
  int found;
  const char *type = sqlite3_value_type(argv[2]) == SQLITE_TEXT ? (const char *)sqlite3_value_text(argv[2]) : "";
  if (llm_opt_bool(llm_options_root(doc), "pure", &q.pure, &err) || parse_type(type, &q, &err) ||
      llm_check_can_write(c, &err) || llm_model_info_get(c, dst, &existing, &found, &err))
    goto done;
  if (found) {
    llm_fail(&err, LLM_EINVAL, "a model named '%s' already exists; drop it first with llm_model_drop('%s')", dst, dst);
    goto done;
  }
  if (llm_model_get(c, src, &e, &err) || llm_conn_pool(c, &j.pool, &err)) goto done;
  j.net = &e->weights->net;
  memset(&mi, 0, sizeof mi);
  mi.config = j.net->cfg;
  mi.gguf = 1;
  snprintf(mi.tokenizer, sizeof mi.tokenizer, "%s", e->info.tokenizer);
  uint64_t counts[2] = {0, 0}; /* parameters, biggest */
  llm_net_tensors(j.net, count_tensor, counts);
  if (llm_write_begin(c, &err)) goto done;
  int rc = llm_pieces_open(&j.pieces, c, dst, counts[1], &err);
  if (!rc && !(j.buf = llm_malloc((size_t)j.pieces.piece))) rc = llm_fail(&err, LLM_ENOMEM, "out of memory");
  if (!rc) rc = llm_model_info_put(c, dst, &mi, (size_t)counts[0], &err);
  if (!rc) rc = llm_net_tensors(j.net, quantize_tensor, &j);
  llm_pieces_close(&j.pieces);
  if (llm_write_end(c, rc == LLM_OK, &err)) goto done;
  sqlite3_str *s = sqlite3_str_new(c->db);
  sqlite3_str_appendall(s, "{\"model\":");
  llm_str_append_json(s, dst, strlen(dst));
  sqlite3_str_appendf(s, ",\"source\":");
  llm_str_append_json(s, src, strlen(src));
  sqlite3_str_appendf(s, ",\"bytes\":%llu,\"types\":{", (unsigned long long)j.bytes);
  const char *sep = "";
  for (uint32_t ty = 0; ty < LLM_QTYPE_COUNT; ty++)
    if (j.count[ty]) {
      sqlite3_str_appendf(s, "%s\"%s\":%llu", sep, llm_qtype_get(ty)->name, (unsigned long long)j.count[ty]);
      sep = ",";
    }
  sqlite3_str_appendall(s, "}}");
  llm_result_str(ctx, s);
done:
  if (err.code) llm_result_llm_err(ctx, &err);
  llm_pieces_close(&j.pieces);
  llm_free(j.buf);
  llm_free(j.rows);
  llm_json_free(doc);
}

int llm_register_quantize_fns(sqlite3 *db, llm_conn *c) {
  static const llm_fn_spec specs[] = {
      {"llm_quantize", 3, LLM_FN_WRITES, fn_quantize},
      {"llm_quantize", 4, LLM_FN_WRITES, fn_quantize},
  };
  return llm_register_fns(db, c, specs, sizeof specs / sizeof specs[0]);
}
