/*
** gguf_model.c: models from GGUF files (llama.cpp's and Ollama's format).
**
**   SELECT llm_import('qwen', 'gguf', 'Qwen3-0.6B-Q4_K_M.gguf');
**
** stores the file's model and its tokenizer, both named 'qwen', after
** checking everything before any tensor data is read: the metadata
** (engine/formats/gguf.c, gguf_model.c), and every tensor the architecture
** needs against its configuration (engine/nn/net.c). The tensors are then
** read one piece at a time (a file of several GB never sits in memory),
** each piece checked for NaN and infinite values and stored as it is, in
** its own ggml type, zstd-compressed in llm_weights (dtype names the type;
** a tensor bigger than a BLOB may be, half the connection's
** SQLITE_LIMIT_LENGTH or 256 MB, continues in llm_weight_parts). All of it
** is one transaction: an error stores nothing. Returns a JSON summary.
**
** Loading for inference (llm_gguf_weights_load) puts the tensors, in their
** stored types (no float32 copy), into a few allocations of about 1 GB
** (SQLite's allocator gives at most 2 GB in one block), placing the query,
** key and value matrices of a layer (and its gate and up matrices) one
** after the other, so that the forward pass runs each group as one product.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf_model.h"
#include "kernels/qtypes.h"
#include "kernels/vec.h"
#include "ext.h"

/* Fails when the piece's values (of a type the engine runs) are not all
** finite. scratch holds LLM_QTYPE-dequantized floats of up to scratch_n. */
static int check_finite(const llm_gguf_tensor *t, const uint8_t *piece, uint64_t bytes, uint64_t at, float *scratch,
                        size_t scratch_n, llm_err *err) {
  const llm_qtype *q = llm_qtype_get(t->type);
  if (!q || !q->supported) return LLM_OK;
  uint64_t per = (uint64_t)(scratch_n / q->block) * q->block_bytes; /* bytes per round */
  for (uint64_t off = 0; off < bytes; off += per) {
    uint64_t b = bytes - off < per ? bytes - off : per;
    int64_t n = (int64_t)(b / q->block_bytes * q->block);
    q->to_float(piece + off, scratch, n);
    for (int64_t i = 0; i < n; i++)
      if (!isfinite(scratch[i]))
        return llm_fail(err, LLM_EINVAL, "tensor '%s' has a %s value at element %llu", t->name,
                        isnan(scratch[i]) ? "NaN" : "infinite",
                        (unsigned long long)((at + off) / q->block_bytes * q->block + (uint64_t)i));
  }
  return LLM_OK;
}

typedef struct import_job {
  llm_gguf_file *gf;
  const llm_gguf *g;
  llm_pieces pieces;
  uint8_t *buf; /* one piece */
  float *scratch;
  size_t scratch_n;
} import_job;

/* Reads, checks and stores tensor i, piece by piece. */
static int store_tensor(import_job *j, int64_t i, llm_err *err) {
  const llm_gguf_tensor *t = llm_gguf_tensor_at(j->g, i);
  char shape[160];
  int64_t ne[4];
  for (int d = 0; d < 4; d++) ne[d] = (int64_t)t->ne[d];
  llm_shape_json(shape, sizeof shape, (int)t->n_dims, ne);
  uint64_t piece = llm_pieces_size(&j->pieces, t->type);
  int part = 0, rc = LLM_OK;
  for (uint64_t off = 0; !rc && (off < t->size || part == 0); off += piece, part++) {
    uint64_t n = t->size - off < piece ? t->size - off : piece;
    rc = llm_gguf_file_read(j->gf, t->offset + off, j->buf, (size_t)n, err);
    if (!rc) rc = check_finite(t, j->buf, n, off, j->scratch, j->scratch_n, err);
    if (!rc) rc = llm_pieces_write(&j->pieces, t->name, t->name_len, part, shape, t->type, j->buf, (size_t)n, err);
    if (n == 0) break;
  }
  return rc;
}

static int store_tensors(import_job *j, llm_err *err) {
  int rc = LLM_OK;
  for (int64_t i = 0; !rc && i < llm_gguf_n_tensors(j->g); i++) rc = store_tensor(j, i, err);
  return rc;
}

/* The summary llm_import returns. */
static void summary(sqlite3_context *ctx, llm_conn *c, const char *name, const llm_gguf *g, const llm_config *cfg,
                    uint64_t n_params, const llm_tokenizer *tok) {
  sqlite3_str *s = sqlite3_str_new(c->db);
  uint64_t bytes = 0, count[LLM_QTYPE_COUNT] = {0};
  for (int64_t i = 0; i < llm_gguf_n_tensors(g); i++) {
    const llm_gguf_tensor *t = llm_gguf_tensor_at(g, i);
    bytes += t->size;
    if (t->type < LLM_QTYPE_COUNT) count[t->type]++;
  }
  sqlite3_str_appendall(s, "{\"model\":");
  llm_str_append_json(s, name, strlen(name));
  sqlite3_str_appendf(s, ",\"format\":\"gguf\",\"arch\":\"%s\",\"n_params\":%llu,\"n_tensors\":%lld,\"bytes\":%llu,"
                      "\"n_vocab\":%d,\"types\":{",
                      llm_arch_name(cfg->arch), (unsigned long long)n_params, (long long)llm_gguf_n_tensors(g),
                      (unsigned long long)bytes, llm_tokenizer_n_vocab(tok));
  const char *sep = "";
  for (uint32_t ty = 0; ty < LLM_QTYPE_COUNT; ty++)
    if (count[ty]) {
      sqlite3_str_appendf(s, "%s\"%s\":%llu", sep, llm_qtype_get(ty)->name, (unsigned long long)count[ty]);
      sep = ",";
    }
  sqlite3_str_appendall(s, "},\"config\":");
  llm_config_append_json(s, cfg);
  sqlite3_str_appendall(s, "}");
  llm_result_str(ctx, s);
}

void llm_import_gguf_model(sqlite3_context *ctx, llm_conn *c, const char *name, const char *path) {
  llm_err err = {0};
  llm_gguf_file gf = {0};
  llm_gguf *g = NULL;
  llm_tokenizer *tok = NULL;
  llm_gguf_vocab_info vinfo;
  llm_net net = {0};
  llm_model_info mi;
  import_job j = {0};
  memset(&mi, 0, sizeof mi);
  if (strlen(name) >= sizeof mi.tokenizer) {
    llm_fail(&err, LLM_EINVAL, "the model name is too long");
    goto done;
  }
  snprintf(mi.tokenizer, sizeof mi.tokenizer, "%s", name);
  mi.gguf = 1;
  llm_gguf_source shapes_only = {NULL, NULL};
  if (llm_gguf_file_open(path, &gf, &g, &err) || llm_gguf_model_config(g, &mi.config, &err)) goto fail_file;
  shapes_only.g = g;
  if (llm_net_from_tensors(&net, &mi.config, llm_gguf_net_find, &shapes_only, &err) ||
      llm_gguf_vocab_load(g, &tok, &vinfo, &err))
    goto fail_file;
  mi.config = net.cfg; /* with the defaults filled and the head's tying found */
  if (llm_tokenizer_n_vocab(tok) > mi.config.vocab_size) {
    llm_fail(&err, LLM_EINVAL, "the tokenizer has %d tokens but the model only %d rows of embeddings",
             llm_tokenizer_n_vocab(tok), mi.config.vocab_size);
    goto fail_file;
  }
  uint64_t n_params = 0, biggest = 0;
  for (int64_t i = 0; i < llm_gguf_n_tensors(g); i++) {
    const llm_gguf_tensor *t = llm_gguf_tensor_at(g, i);
    n_params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    if (t->size > biggest) biggest = t->size;
  }
  j.gf = &gf;
  j.g = g;
  j.scratch_n = 1 << 16;
  if (llm_write_begin(c, &err)) goto done;
  int rc = llm_pieces_open(&j.pieces, c, name, biggest, &err);
  j.buf = rc ? NULL : llm_malloc((size_t)j.pieces.piece);
  j.scratch = llm_malloc(j.scratch_n * sizeof(float));
  if (!rc && (!j.buf || !j.scratch)) rc = llm_fail(&err, LLM_ENOMEM, "out of memory");
  if (!rc) rc = llm_gguf_tokenizer_store(c, name, path, tok, &vinfo, &err);
  if (!rc) rc = llm_model_info_put(c, name, &mi, (size_t)n_params, &err);
  if (!rc) rc = store_tensors(&j, &err);
  llm_pieces_close(&j.pieces);
  if (llm_write_end(c, rc == LLM_OK, &err)) goto fail_file;
  summary(ctx, c, name, g, &mi.config, n_params, tok);
  goto done;
fail_file:
  if (err.code != LLM_ENOMEM) {
    char why[sizeof err.msg];
    memcpy(why, err.msg, sizeof why);
    llm_fail(&err, err.code, "'%s': %s", path, why);
  }
done:
  if (err.code) llm_result_llm_err(ctx, &err);
  llm_pieces_close(&j.pieces);
  llm_free(j.buf);
  llm_free(j.scratch);
  llm_net_free(&net);
  llm_tokenizer_free(tok);
  llm_gguf_free(g);
  if (gf.f) fclose(gf.f);
}

/* ---- loading for inference -------------------------------------------- */

typedef struct stored {
  char *name;
  uint32_t type;
  int n_dims;
  int64_t ne[4];
  uint64_t bytes, at; /* size, offset in its arena */
  int arena, layer, slot;
  uint8_t *data;      /* where it is loaded */
} stored;

/* Tensors that run as one product when stored one after the other: a
** layer's query, key and value matrices, their biases, its gate and up
** matrices. slot k > 0 of a group follows slot k - 1 directly. */
static const char *const GROUPED[] = {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_q.bias",
                                      "attn_k.bias",   "attn_v.bias",   "ffn_gate.weight", "ffn_up.weight"};
static const int FOLLOWS[] = {0, 1, 1, 0, 1, 1, 0, 1};
#define N_GROUPED ((int)(sizeof GROUPED / sizeof GROUPED[0]))

static void classify(stored *t) {
  t->layer = -1;
  t->slot = N_GROUPED;
  int l, pos = 0;
  if (sscanf(t->name, "blk.%d.%n", &l, &pos) != 1 || !pos) return;
  t->layer = l;
  for (int k = 0; k < N_GROUPED; k++)
    if (!strcmp(t->name + pos, GROUPED[k])) t->slot = k;
}

static int by_place(const void *a, const void *b) {
  const stored *x = a, *y = b;
  if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
  if (x->slot != y->slot) return x->slot < y->slot ? -1 : 1;
  return strcmp(x->name, y->name);
}

typedef struct loaded_set {
  stored *t;
  int n;
} loaded_set;

static int find_loaded(void *ctx, const char *name, llm_net_tensor *out) {
  const loaded_set *s = ctx;
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->t[i].name, name)) {
      out->data = s->t[i].data;
      out->type = s->t[i].type;
      out->n_dims = s->t[i].n_dims;
      memcpy(out->ne, s->t[i].ne, sizeof out->ne);
      return 1;
    }
  return 0;
}

/* Parses a stored shape "[a,b,...]" (outermost first) into GGUF's ne. */
static int parse_shape(const char *s, stored *t) {
  int64_t dims[4];
  int n = 0;
  if (!s || *s++ != '[') return -1;
  while (n < 4) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 1) return -1;
    dims[n++] = v;
    s = end;
    while (*s == ' ') s++;
    if (*s == ']') break;
    if (*s++ != ',') return -1;
  }
  if (*s != ']' || s[1]) return -1;
  t->n_dims = n;
  for (int d = 0; d < 4; d++) t->ne[d] = d < n ? dims[n - 1 - d] : 1;
  return 0;
}

static void stored_free(stored *t, int n) {
  for (int i = 0; i < n; i++) sqlite3_free(t[i].name);
  sqlite3_free(t);
}

/* The list of a model's tensors (names, types, shapes, sizes). */
static int list_tensors(llm_conn *c, const char *model, stored **out, int *count, llm_err *err) {
  sqlite3_stmt *st;
  *out = NULL;
  *count = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT name, shape, dtype FROM llm_weights WHERE model = ? AND role = 'param'", -1,
                         &st, 0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot read llm_weights");
  sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
  stored *t = NULL;
  int n = 0, cap = 0, rc = LLM_OK, step;
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      stored *g = sqlite3_realloc64(t, (sqlite3_uint64)(cap = cap ? 2 * cap : 64) * sizeof *t);
      if (!g) {
        rc = llm_fail(err, LLM_ENOMEM, "out of memory");
        break;
      }
      t = g;
    }
    stored *x = &t[n];
    memset(x, 0, sizeof *x);
    const char *name = (const char *)sqlite3_column_text(st, 0), *dtype = (const char *)sqlite3_column_text(st, 2);
    const llm_qtype *q = dtype ? llm_qtype_by_name(dtype) : NULL;
    x->name = sqlite3_mprintf("%s", name ? name : "");
    if (!x->name) {
      rc = llm_fail(err, LLM_ENOMEM, "out of memory");
      break;
    }
    n++;
    uint64_t row;
    if (!q || parse_shape((const char *)sqlite3_column_text(st, 1), x) ||
        llm_qtype_row_bytes(q->id, (uint64_t)x->ne[0], &row)) {
      rc = llm_fail(err, LLM_EINVAL, "model '%s', tensor '%s': corrupt shape or dtype in llm_weights", model, x->name);
      break;
    }
    x->type = q->id;
    x->bytes = row * (uint64_t)x->ne[1] * (uint64_t)x->ne[2] * (uint64_t)x->ne[3];
    classify(x);
  }
  if (!rc && step != SQLITE_DONE) rc = llm_db_fail(c, err, "cannot read llm_weights");
  sqlite3_finalize(st);
  if (rc) {
    stored_free(t, n);
    return rc;
  }
  *out = t;
  *count = n;
  return LLM_OK;
}

/* Decompresses every piece of every tensor into place. */
static int read_tensors(llm_conn *c, const char *model, const loaded_set *s, llm_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db,
                         "SELECT name, 0, data FROM llm_weights WHERE model = ?1 AND role = 'param' UNION ALL "
                         "SELECT name, part, data FROM llm_weight_parts WHERE model = ?1 AND role = 'param' "
                         "ORDER BY 1, 2",
                         -1, &st, 0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot read llm_weights");
  sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
  int rc = LLM_OK, step, cur = -1;
  uint64_t filled = 0;
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    int part = sqlite3_column_int(st, 1);
    if (part == 0) {
      if (cur >= 0 && filled != s->t[cur].bytes) break;
      cur = -1;
      for (int i = 0; i < s->n && name; i++)
        if (!strcmp(s->t[i].name, name)) cur = i;
      filled = 0;
    }
    char what[160];
    snprintf(what, sizeof what, "model '%s', tensor '%s' piece %d", model, name ? name : "NULL", part);
    const void *blob = sqlite3_column_blob(st, 2);
    size_t nb = (size_t)sqlite3_column_bytes(st, 2);
    uint64_t size;
    if (cur < 0) {
      rc = llm_fail(err, LLM_EINVAL, "%s: a piece without its tensor", what);
    } else if (!(rc = llm_zblob_size(blob, nb, &size, what, err))) {
      if (size > s->t[cur].bytes - filled)
        rc = llm_fail(err, LLM_EINVAL, "%s: the pieces hold more than the tensor's %llu bytes", what,
                      (unsigned long long)s->t[cur].bytes);
      else
        rc = llm_zblob_read(blob, nb, s->t[cur].data + filled, (size_t)size, what, err);
      filled += size;
    }
  }
  if (!rc && step != SQLITE_ROW && step != SQLITE_DONE) rc = llm_db_fail(c, err, "cannot read llm_weights");
  if (!rc && cur >= 0 && filled != s->t[cur].bytes)
    rc = llm_fail(err, LLM_EINVAL, "model '%s', tensor '%s': its pieces hold %llu of its %llu bytes", model,
                  s->t[cur].name, (unsigned long long)filled, (unsigned long long)s->t[cur].bytes);
  sqlite3_finalize(st);
  return rc;
}

/* The tensors go into arenas of about ARENA bytes (SQLite's allocator gives
** at most 2 GB in one block), a group that runs as one product (q, k, v;
** gate, up) always in one arena, each group 64-byte aligned. */
#define ARENA ((uint64_t)1 << 30)

static int joins_previous(const stored *t, int i) {
  return i > 0 && t[i].slot < N_GROUPED && FOLLOWS[t[i].slot] && t[i - 1].layer == t[i].layer &&
         t[i - 1].slot == t[i].slot - 1;
}

/* Places the tensors; returns the arena count and fills sizes[] (room for n). */
static int place(stored *t, int n, uint64_t *sizes) {
  int arenas = 0;
  uint64_t used = 0, cap = 0;
  for (int i = 0; i < n; i++) {
    if (!joins_previous(t, i)) {
      uint64_t group = t[i].bytes;
      for (int k = i + 1; k < n && joins_previous(t, k); k++) group += t[k].bytes;
      used = (used + 63) / 64 * 64;
      if (!arenas || used + group > cap) {
        if (arenas) sizes[arenas - 1] = used;
        arenas++;
        cap = group > ARENA ? group : ARENA;
        used = 0;
      }
    }
    t[i].arena = arenas - 1;
    t[i].at = used;
    used += t[i].bytes;
  }
  if (arenas) sizes[arenas - 1] = used;
  return arenas;
}

int llm_gguf_weights_load(llm_conn *c, const char *name, const llm_model_info *info, llm_loaded *w, llm_err *err) {
  stored *t;
  int n, rc = list_tensors(c, name, &t, &n, err);
  if (rc) return rc;
  qsort(t, (size_t)n, sizeof *t, by_place);
  uint64_t *sizes = sqlite3_malloc64((sqlite3_uint64)(n ? n : 1) * sizeof *sizes), total = 0;
  int arenas = sizes ? place(t, n, sizes) : 0;
  for (int a = 0; a < arenas; a++) total += sizes[a];
  if (!sizes || llm_check_memory("this model's weights", (double)total, llm_memory_limit_mb(), err) ||
      !(w->arenas = llm_calloc((size_t)(arenas ? arenas : 1), sizeof *w->arenas)))
    rc = err->code ? err->code : llm_fail(err, LLM_ENOMEM, "out of memory");
  for (int a = 0; !rc && a < arenas; a++, w->n_arenas++)
    if (!(w->arenas[a] = llm_malloc_streamed((size_t)sizes[a] + 64)))
      rc = llm_fail(err, LLM_ENOMEM, "out of memory for %.1f MB of weights (in blocks of at most %.0f MB)",
                    (double)total / 1e6, (double)ARENA / 1e6);
  for (int i = 0; !rc && i < n; i++)
    t[i].data = (uint8_t *)(((uintptr_t)w->arenas[t[i].arena] + 63) & ~(uintptr_t)63) + t[i].at;
  loaded_set s = {t, n};
  if (!rc) rc = read_tensors(c, name, &s, err);
  if (!rc) rc = llm_net_from_tensors(&w->net, &info->config, find_loaded, &s, err);
  /* the weights are ours to rewrite: repacked where the CPU has faster
  ** kernels for the packed layout (kernels/qpack.h) */
  if (!rc && llm_net_pack(&w->net, llm_simd_best())) rc = llm_fail(err, LLM_ENOMEM, "out of memory");
  if (rc && err->code != LLM_ENOMEM) {
    char why[sizeof err->msg];
    memcpy(why, err->msg, sizeof why);
    llm_fail(err, rc, "model '%s': %s", name, why);
  }
  sqlite3_free(sizes);
  stored_free(t, n);
  return rc;
}
