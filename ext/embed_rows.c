/*
** embed_rows.c: the table-valued function llm_embed_rows, a model's
** embeddings of the rows of a query, computed in batches.
**
**   INSERT INTO doc_vectors(id, vec)
**     SELECT key, embedding FROM llm_embed_rows('m', 'SELECT id, body FROM docs');
**
** rows_sql is one read-only query (checked like llm_train's corpus query)
** returning (key, text). One row comes out per input row, in input order:
** key (as given, any type) and embedding, bitwise what llm_embed(model,
** text, options) returns for the text alone (a NULL text gives a NULL
** embedding). Options: those of llm_embed (pooling, normalize), batch
** (texts per forward, default 16), progress (a progress line on stderr;
** default: when stderr is a terminal). The model argument may be NULL (the
** default model).
*/
#include <string.h>
#include <unistd.h>

#include "nn/batch.h"
#include "ext.h"

enum { COL_KEY, COL_EMBEDDING, COL_MODEL, COL_ROWS, COL_OPTIONS };

#define DEFAULT_BATCH 16
#define MAX_BATCH 1024

typedef struct erows_vtab {
  sqlite3_vtab base;
  llm_conn *conn;
} erows_vtab;

typedef struct erows_cursor {
  sqlite3_vtab_cursor base;
  llm_conn *conn;
  llm_loaded *weights;
  llm_tok_ref tok_ref;
  int32_t bos;
  int pooling, normalize, batch;
  llm_rows rows;
  llm_infer *ws, **seqs;
  /* the current batch of rows: keys, tokens, vectors (NULL: a NULL text) */
  sqlite3_value **keys;
  llm_ids *ids;
  float **vecs;
  int n, at; /* rows in the batch, the one being returned */
  int64_t out_count, tokens;
  llm_progress prog;
  int eof;
} erows_cursor;

static int ev_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(key, embedding BLOB, model HIDDEN, rows_sql HIDDEN, options HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  erows_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->conn = aux;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *out = &v->base;
  return SQLITE_OK;
}

static int ev_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int ev_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  return llm_vtab_args_best_index(vt, info, COL_MODEL, 3, 2,
                                  "llm_embed_rows: needs a model (or NULL for the default) and a query, as in "
                                  "llm_embed_rows('m', 'SELECT id, body FROM t' [, options])");
}

static int ev_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  erows_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->conn = ((erows_vtab *)vt)->conn;
  *out = &c->base;
  return SQLITE_OK;
}

/* Empties the current batch. */
static void batch_clear(erows_cursor *c) {
  for (int i = 0; i < c->n; i++) {
    sqlite3_value_free(c->keys[i]);
    c->keys[i] = NULL;
    c->ids[i].len = 0;
    sqlite3_free(c->vecs[i]);
    c->vecs[i] = NULL;
  }
  c->n = c->at = 0;
}

static void cursor_reset(erows_cursor *c) {
  if (c->keys) batch_clear(c);
  for (int i = 0; c->ids && i < c->batch; i++) llm_ids_free(&c->ids[i]);
  for (int i = 0; c->seqs && i < c->batch; i++) llm_infer_free(c->seqs[i]);
  llm_infer_free(c->ws);
  sqlite3_free(c->seqs);
  sqlite3_free(c->keys);
  sqlite3_free(c->ids);
  sqlite3_free(c->vecs);
  llm_rows_close(&c->rows);
  if (c->weights) llm_loaded_unref(c->weights);
  llm_tok_ref_free(&c->tok_ref);
  llm_conn *conn = c->conn;
  sqlite3_vtab_cursor base = c->base;
  memset(c, 0, sizeof *c);
  c->conn = conn;
  c->base = base;
  c->eof = 1;
}

static int ev_close(sqlite3_vtab_cursor *cur) {
  cursor_reset((erows_cursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int cursor_fail(erows_cursor *c, const llm_err *err) {
  c->eof = 1;
  return llm_vtab_fail(c->base.pVtab, "llm_embed_rows", err);
}

/* Reads up to batch rows and embeds them together. */
static int fill(erows_cursor *c, llm_err *err) {
  batch_clear(c);
  size_t C = (size_t)c->weights->net.cfg.n_embd;
  int encoder = !c->weights->net.tr->decoder;
  llm_infer *run[MAX_BATCH];
  const int32_t *toks[MAX_BATCH];
  size_t len[MAX_BATCH], first[MAX_BATCH];
  float *outs[MAX_BATCH];
  int k = 0, got = 0;
  while (c->n < c->batch && (got = llm_rows_next(&c->rows, err)) > 0) {
    sqlite3_stmt *st = c->rows.st;
    int i = c->n++;
    if (!(c->keys[i] = sqlite3_value_dup(sqlite3_column_value(st, 0))))
      return llm_fail(err, LLM_ENOMEM, "out of memory");
    if (sqlite3_column_type(st, 1) == SQLITE_NULL) continue;
    const uint8_t *p = sqlite3_column_blob(st, 1);
    llm_tokenizer *tok;
    if (llm_tok_ref_get(&c->tok_ref, c->conn, &tok, err) ||
        llm_tokens_of(tok, c->bos, encoder, p ? p : (const uint8_t *)"", (size_t)sqlite3_column_bytes(st, 1),
                      &c->ids[i], err))
      return err->code;
    if (c->ids[i].len == 0) return llm_fail(err, LLM_EINVAL, "a text is empty and the model has no start token");
    if (!(c->vecs[i] = sqlite3_malloc64(C * sizeof(float)))) return llm_fail(err, LLM_ENOMEM, "out of memory");
    /* as llm_embed: the start token is context, not text */
    run[k] = c->seqs[k];
    toks[k] = c->ids[i].data;
    len[k] = c->ids[i].len;
    first[k] = c->bos >= 0 && c->ids[i].len > 1 ? 1 : 0;
    outs[k++] = c->vecs[i];
    c->tokens += (int64_t)c->ids[i].len;
  }
  if (got < 0) return err->code;
  llm_pool *pool;
  llm_stop stop = {llm_interrupted, c->conn};
  if (k && (llm_conn_pool(c->conn, &pool, err) ||
            llm_embed_batch(c->ws, run, toks, len, first, k, c->pooling, c->normalize, pool, &stop, outs, err)))
    return err->code;
  return LLM_OK;
}

static int advance(erows_cursor *c) {
  llm_err err = {0};
  if (c->at + 1 < c->n) {
    c->at++;
  } else {
    if (fill(c, &err)) return cursor_fail(c, &err);
    if (!c->n) {
      llm_progress_show(&c->prog, c->out_count, c->rows.total, c->out_count, "rows", 1);
      c->eof = 1;
      return SQLITE_OK;
    }
  }
  c->out_count++;
  llm_progress_show(&c->prog, c->out_count, c->rows.total, c->out_count, "rows", 0);
  return SQLITE_OK;
}

static int ev_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc, sqlite3_value **argv) {
  static const char *const keys[] = {"pooling", "normalize", "batch", "progress", NULL};
  erows_cursor *c = (erows_cursor *)cur;
  cursor_reset(c);
  c->eof = 0;
  llm_err err = {0};
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    llm_fail(&err, LLM_EINVAL, "rows_sql must be the text of a query, e.g. 'SELECT id, body FROM t'");
    return cursor_fail(c, &err);
  }
  llm_json_doc *doc = NULL;
  const char *name;
  llm_model_entry *e;
  int64_t batch = DEFAULT_BATCH;
  int progress = -1;
  int rc = llm_options_parse((idx_num & 4) ? argv[2] : NULL, keys, &doc, &err);
  const llm_json *root = rc ? NULL : llm_options_root(doc);
  if (!rc) rc = llm_embed_opts_read(root, &c->pooling, &c->normalize, &err);
  if (!rc) rc = llm_opt_int(root, "batch", 1, MAX_BATCH, &batch, &err);
  if (!rc && llm_json_get(root, "progress")) rc = llm_opt_bool(root, "progress", &progress, &err);
  llm_json_free(doc);
  c->batch = (int)batch;
  if (!rc) rc = llm_model_resolve(c->conn, argv[0], &name, &err);
  if (!rc) rc = llm_model_get(c->conn, name, &e, &err);
  if (!rc) rc = llm_check_memory("running this many texts at once (a smaller \"batch\" needs less)",
                                 (double)batch * (double)llm_infer_bytes(&e->info.config), llm_memory_limit_mb(), &err);
  llm_tokenizer *tok;
  if (!rc) rc = llm_model_tokenizer(c->conn, e, &tok, &c->bos, &err);
  if (!rc) rc = llm_tok_ref_init(&c->tok_ref, c->conn, e->info.tokenizer, tok, e->info.config.vocab_size, &err);
  if (!rc) {
    c->weights = e->weights;
    llm_loaded_ref(c->weights);
    c->seqs = sqlite3_malloc64((size_t)batch * sizeof *c->seqs);
    c->keys = sqlite3_malloc64((size_t)batch * sizeof *c->keys);
    c->ids = sqlite3_malloc64((size_t)batch * sizeof *c->ids);
    c->vecs = sqlite3_malloc64((size_t)batch * sizeof *c->vecs);
    if (!c->seqs || !c->keys || !c->ids || !c->vecs) rc = llm_fail(&err, LLM_ENOMEM, "out of memory");
  }
  if (!rc) {
    memset(c->seqs, 0, (size_t)batch * sizeof *c->seqs);
    memset(c->keys, 0, (size_t)batch * sizeof *c->keys);
    memset(c->ids, 0, (size_t)batch * sizeof *c->ids);
    memset(c->vecs, 0, (size_t)batch * sizeof *c->vecs);
    rc = llm_infer_new(&c->weights->net, &c->ws, &err);
  }
  for (int i = 0; !rc && i < c->batch; i++) rc = llm_infer_new(&c->weights->net, &c->seqs[i], &err);
  int on = progress < 0 ? isatty(2) : progress;
  if (!rc) rc = llm_rows_open(c->conn, (const char *)sqlite3_value_text(argv[1]), on, &c->rows, &err);
  if (rc) return cursor_fail(c, &err);
  llm_progress_start(&c->prog, "llm_embed_rows", on);
  c->at = -1;
  return advance(c);
}

static int ev_next(sqlite3_vtab_cursor *cur) { return advance((erows_cursor *)cur); }

static int ev_eof(sqlite3_vtab_cursor *cur) { return ((erows_cursor *)cur)->eof; }

static int ev_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  erows_cursor *c = (erows_cursor *)cur;
  if (c->at < 0 || c->at >= c->n) return SQLITE_OK;
  if (col == COL_KEY) sqlite3_result_value(ctx, c->keys[c->at]);
  if (col == COL_EMBEDDING && c->vecs[c->at]) /* little-endian: x86-64, arm64 */
    sqlite3_result_blob64(ctx, c->vecs[c->at], (size_t)c->weights->net.cfg.n_embd * sizeof(float), SQLITE_TRANSIENT);
  return SQLITE_OK;
}

static int ev_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = ((erows_cursor *)cur)->out_count;
  return SQLITE_OK;
}

static const sqlite3_module erows_module = {
    .iVersion = 0,
    .xConnect = ev_connect,
    .xBestIndex = ev_best_index,
    .xDisconnect = ev_disconnect,
    .xOpen = ev_open,
    .xClose = ev_close,
    .xFilter = ev_filter,
    .xNext = ev_next,
    .xEof = ev_eof,
    .xColumn = ev_column,
    .xRowid = ev_rowid,
};

int llm_register_embed_rows_vtab(sqlite3 *db, llm_conn *c) {
  c->refs++;
  return sqlite3_create_module_v2(db, "llm_embed_rows", &erows_module, c, llm_vtab_module_destroy);
}
