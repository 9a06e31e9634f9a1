/*
** generate_rows.c: the table-valued function llm_generate_rows, a model
** run over the rows of a query with continuous batching.
**
**   INSERT INTO summaries(id, summary)
**     SELECT key, text FROM llm_generate_rows('m',
**       'SELECT id, ''Summary of: '' || body FROM tickets', '{"max_tokens": 64}');
**
** rows_sql is one read-only query (checked like llm_train's corpus query)
** returning (key, prompt) or (key, prompt, options_json). One row comes out
** per input row: key (as given, any type), text, finish ('eos', 'stop' or
** 'length'), n_prompt_tokens, n_tokens. Options: those of llm_generate
** (a row's own options override them for that row), and
**   batch    sequences in flight at once (default: 64 for a model whose
**            matrices are float32, float16 or bfloat16, 16 for a quantized
**            one, fewer if memory is short; see default_batch);
**   ordered  true (default): rows come out in input order; false: as they
**            finish;
**   progress true/false: a progress line on stderr (default: when stderr
**            is a terminal);
**   chat     true: each prompt is a conversation, a JSON array of
**            {"role", "content"} messages, laid out in the model's chat
**            template as llm_chat does (the reply ends at the end-of-turn
**            token); "template": {...} holds the template's variables.
** Each row's text is exactly what llm_generate(model, prompt, options)
** gives for it alone, whatever the batch and the rows around it
** (nn/batch.h). A NULL prompt gives a NULL text (and NULL finish, 0
** tokens); a row whose options are wrong is an error naming its key.
** Memory: batch KV caches, each as long as its text needs. The model
** argument may be NULL (the default model).
*/
#include <string.h>
#include <unistd.h>

#include "kernels/qtypes.h"
#include "nn/batch.h"
#include "ext.h"

enum { COL_KEY, COL_TEXT, COL_FINISH, COL_N_PROMPT, COL_N_TOKENS, COL_MODEL, COL_ROWS, COL_OPTIONS };

#define MAX_BATCH 1024

typedef struct rows_vtab {
  sqlite3_vtab base;
  llm_conn *conn;
} rows_vtab;

/* A row read and not yet returned. */
typedef struct job {
  int64_t index;        /* in input order */
  sqlite3_value *key;
  llm_json_doc *doc;    /* its own options (the stop strings point into it) */
  llm_gen_mem mem;
  int slot;             /* generating in this slot, or -1 */
  int done, null_text;
  uint8_t *text;
  size_t len;
  int finish;
  int64_t n_prompt, n_tokens;
} job;

typedef struct rows_cursor {
  sqlite3_vtab_cursor base;
  llm_conn *conn;
  llm_json_doc *doc; /* the call's options */
  llm_gen_mem mem;
  llm_gen_opts o;
  int ordered, chat;
  const llm_json *template_vars; /* chat: in doc */
  char *model_name;
  llm_loaded *weights;
  llm_tok_ref tok_ref;
  int32_t bos;
  llm_rows rows;
  llm_batch *batch;
  job **jobs;          /* read, not yet returned, in input order */
  size_t n_jobs, jobs_cap;
  job **by_slot;       /* the job in each slot */
  job *cur;            /* the row being returned */
  int64_t out_count, tokens;
  llm_progress prog;
  int eof;
} rows_cursor;

static int rv_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(key, text TEXT, finish TEXT, n_prompt_tokens INTEGER, "
                                "n_tokens INTEGER, model HIDDEN, rows_sql HIDDEN, options HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  rows_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->conn = aux;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY); /* it runs the SQL it is given */
  *out = &v->base;
  return SQLITE_OK;
}

static int rv_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int rv_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  return llm_vtab_args_best_index(vt, info, COL_MODEL, 3, 2,
                                  "llm_generate_rows: needs a model (or NULL for the default) and a query, as in "
                                  "llm_generate_rows('m', 'SELECT id, prompt FROM t' [, options])");
}

static int rv_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  rows_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->conn = ((rows_vtab *)vt)->conn;
  *out = &c->base;
  return SQLITE_OK;
}

static void job_free(job *j) {
  if (!j) return;
  sqlite3_value_free(j->key);
  llm_json_free(j->doc);
  llm_gen_mem_free(&j->mem);
  sqlite3_free(j->text);
  sqlite3_free(j);
}

static void cursor_reset(rows_cursor *c) {
  for (size_t i = 0; i < c->n_jobs; i++) job_free(c->jobs[i]);
  job_free(c->cur);
  sqlite3_free(c->jobs);
  sqlite3_free(c->by_slot);
  llm_batch_free(c->batch);
  llm_rows_close(&c->rows);
  if (c->weights) llm_loaded_unref(c->weights);
  llm_json_free(c->doc);
  llm_gen_mem_free(&c->mem);
  llm_tok_ref_free(&c->tok_ref);
  sqlite3_free(c->model_name);
  llm_conn *conn = c->conn;
  sqlite3_vtab_cursor base = c->base;
  memset(c, 0, sizeof *c);
  c->conn = conn;
  c->base = base;
  c->eof = 1;
}

static int rv_close(sqlite3_vtab_cursor *cur) {
  cursor_reset((rows_cursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int cursor_fail(rows_cursor *c, const llm_err *err) {
  c->eof = 1;
  return llm_vtab_fail(c->base.pVtab, "llm_generate_rows", err);
}

/* The key as text, for messages. */
static const char *key_text(sqlite3_value *key) {
  const char *t = sqlite3_value_type(key) == SQLITE_NULL ? "NULL" : (const char *)sqlite3_value_text(key);
  return t ? t : "?";
}

/* Reads the next row into a job and starts its generation in a free slot
** (or finishes it at once: a NULL prompt). 0 when there are no more rows. */
static int read_row(rows_cursor *c, llm_err *err) {
  int got = llm_rows_next(&c->rows, err);
  if (got <= 0) return got < 0 ? -1 : 0;
  sqlite3_stmt *st = c->rows.st;
  job *j = sqlite3_malloc(sizeof *j);
  if (!j || llm_grow((void **)&c->jobs, &c->jobs_cap, c->n_jobs + 1, sizeof *c->jobs)) {
    sqlite3_free(j);
    llm_fail(err, LLM_ENOMEM, "out of memory");
    return -1;
  }
  memset(j, 0, sizeof *j);
  j->index = c->rows.read - 1;
  j->slot = -1;
  c->jobs[c->n_jobs++] = j;
  if (!(j->key = sqlite3_value_dup(sqlite3_column_value(st, 0)))) {
    llm_fail(err, LLM_ENOMEM, "out of memory");
    return -1;
  }
  if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
    j->done = j->null_text = 1;
    return 1;
  }
  llm_gen_opts o = c->o;
  if (c->rows.has_options) {
    char why[sizeof err->msg];
    if (llm_options_parse(sqlite3_column_value(st, 2), llm_gen_opts_keys, &j->doc, err) ||
        llm_gen_opts_apply(llm_options_root(j->doc), &o, &j->mem, err)) {
      memcpy(why, err->msg, sizeof why);
      llm_fail(err, LLM_EINVAL, "the options of the row with key %s: %s", key_text(j->key), why);
      return -1;
    }
  }
  llm_ids ids = {0};
  const uint8_t *p = sqlite3_column_blob(st, 1);
  int n = sqlite3_column_bytes(st, 1), slot;
  llm_tokenizer *tok;
  int rc = llm_tok_ref_get(&c->tok_ref, c->conn, &tok, err);
  if (!rc && c->chat) {
    llm_model_entry *e;
    char why[sizeof err->msg];
    if (llm_model_get(c->conn, c->model_name, &e, err) ||
        llm_chat_tokens(c->conn, e, sqlite3_column_value(st, 1), c->template_vars, &ids, &tok, err)) {
      memcpy(why, err->msg, sizeof why);
      rc = llm_fail(err, err->code, "the conversation of the row with key %s: %s", key_text(j->key), why);
    }
    o.bos_id = -1; /* the end of a reply is the model's end-of-turn token */
  } else if (!rc) {
    rc = llm_tokens_of(tok, c->bos, 0, p ? p : (const uint8_t *)"", (size_t)n, &ids, err);
  }
  if (!rc && ids.len == 0)
    rc = llm_fail(err, LLM_EINVAL, "the prompt of the row with key %s is empty and the model has no start token",
                  key_text(j->key));
  if (!rc) rc = llm_gen_opts_vocab(c->conn, tok, &o, err);
  if (!rc) rc = llm_batch_add(c->batch, &o, ids.data, ids.len, &slot, err);
  j->n_prompt = (int64_t)ids.len;
  llm_ids_free(&ids);
  if (rc) return -1;
  j->slot = slot;
  c->by_slot[slot] = j;
  return 1;
}

/* Moves the results of the finished generations into their jobs. */
static int collect(rows_cursor *c, llm_err *err) {
  int slot;
  while ((slot = llm_batch_done(c->batch)) >= 0) {
    const llm_gen *g = llm_batch_gen(c->batch, slot);
    job *j = c->by_slot[slot];
    size_t len;
    const uint8_t *text = llm_gen_text(g, &len);
    if (!(j->text = sqlite3_malloc64(len + 1))) return llm_fail(err, LLM_ENOMEM, "out of memory");
    memcpy(j->text, text, len);
    j->len = len;
    j->finish = llm_gen_finish(g);
    j->n_tokens = llm_gen_count(g);
    c->tokens += j->n_tokens;
    j->done = 1;
    j->slot = -1;
    c->by_slot[slot] = NULL;
    llm_batch_release(c->batch, slot);
  }
  return LLM_OK;
}

/* The job to return next: the first in input order when ordered, else
** the first finished; NULL when none is ready. */
static size_t ready(const rows_cursor *c) {
  for (size_t i = 0; i < c->n_jobs; i++) {
    if (c->jobs[i]->done) return i;
    if (c->ordered) break;
  }
  return c->n_jobs;
}

/* Runs the batch until a row is ready to return, or there are no more. */
static int advance(rows_cursor *c) {
  llm_err err = {0};
  llm_stop stop = {llm_interrupted, c->conn};
  job_free(c->cur);
  c->cur = NULL;
  for (;;) {
    size_t i = ready(c);
    if (i < c->n_jobs) {
      c->cur = c->jobs[i];
      memmove(c->jobs + i, c->jobs + i + 1, (c->n_jobs - i - 1) * sizeof *c->jobs);
      c->n_jobs--;
      c->out_count++;
      llm_progress_show(&c->prog, c->out_count, c->rows.total, c->tokens, "tok", 0);
      return SQLITE_OK;
    }
    int got = 1;
    while (got > 0 && llm_batch_free_slots(c->batch) && !c->rows.eof) got = read_row(c, &err);
    if (got < 0) return cursor_fail(c, &err);
    if (!llm_batch_active(c->batch) && c->rows.eof && !c->n_jobs) {
      llm_progress_show(&c->prog, c->out_count, c->rows.total, c->tokens, "tok", 1);
      c->eof = 1;
      return SQLITE_OK;
    }
    llm_pool *pool;
    llm_tokenizer *tok;
    if (llm_tok_ref_get(&c->tok_ref, c->conn, &tok, &err) || llm_conn_pool(c->conn, &pool, &err) ||
        llm_batch_step(c->batch, tok, pool, &stop, &err) || collect(c, &err))
      return cursor_fail(c, &err);
  }
}

static const char *const call_keys[] = {"max_tokens", "temperature", "top_k",    "top_p", "min_p",
                                        "repetition_penalty", "seed", "stop", "json_schema", "json", "kv_cache", "batch",
                                        "ordered", "progress", "chat", "template", NULL};

/* The batch when the options give none. A float matrix's product reads 2 or
** 4 bytes a weight: at 16 rows it still waits on the memory, and more rows
** are nearly free until its tiles compute at full speed (measured: the
** 110M shape in float32, 357 tok/s at 16 rows, 418 at 32, 443 at 64, 455
** at 128; stories15M 2165, 2337, 2568). A quantized product is at the
** limit of the integer arithmetic by 16 rows (110M Q8_0 and Q4_K_M: 16
** and 64 rows within 7%), where more rows only hold more memory. Fewer
** than that when the memory limit asks for it (each row's KV cache and
** buffers: per_row bytes). */
static int64_t default_batch(const llm_net *net, double per_row, int64_t limit_mb) {
  uint32_t t = net->layers[0].q.type;
  int64_t b = t == LLM_QTYPE_F32 || t == LLM_QTYPE_F16 || t == LLM_QTYPE_BF16 ? 64 : 16;
  double fits = (double)limit_mb * (1 << 20) / per_row;
  return fits < 1 ? 1 : fits < (double)b ? (int64_t)fits : b;
}

static int rv_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc, sqlite3_value **argv) {
  rows_cursor *c = (rows_cursor *)cur;
  cursor_reset(c);
  c->eof = 0;
  llm_err err = {0};
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    llm_fail(&err, LLM_EINVAL, "rows_sql must be the text of a query, e.g. 'SELECT id, prompt FROM t'");
    return cursor_fail(c, &err);
  }
  const char *name;
  llm_model_entry *e;
  llm_tokenizer *tok;
  int64_t batch = 0; /* 0: default_batch */
  int progress = -1;
  c->ordered = 1;
  const llm_json *root = NULL;
  int rc = llm_options_parse((idx_num & 4) ? argv[2] : NULL, call_keys, &c->doc, &err);
  if (!rc) root = llm_options_root(c->doc);
  if (!rc) rc = llm_gen_opts_read(root, &c->o, &c->mem, &err);
  if (!rc) rc = llm_opt_int(root, "batch", 1, MAX_BATCH, &batch, &err);
  if (!rc) rc = llm_opt_bool(root, "ordered", &c->ordered, &err);
  if (!rc && llm_json_get(root, "progress")) rc = llm_opt_bool(root, "progress", &progress, &err);
  if (!rc) rc = llm_opt_bool(root, "chat", &c->chat, &err);
  if (!rc && (c->template_vars = llm_json_get(root, "template")) && c->template_vars->type != LLM_JSON_OBJECT)
    rc = llm_fail(&err, LLM_EINVAL, "option \"template\" must be an object of the chat template's variables");
  if (!rc) rc = llm_model_resolve(c->conn, argv[0], &name, &err);
  if (!rc) rc = llm_model_get(c->conn, name, &e, &err);
  double per_row = rc ? 0 : (double)llm_infer_bytes(&e->info.config);
  int64_t limit_mb = llm_memory_limit_mb();
  if (!rc && !batch) batch = default_batch(&e->weights->net, per_row, limit_mb);
  if (!rc) rc = llm_check_memory("running this many sequences at once (a smaller \"batch\" needs less)",
                                 (double)batch * per_row, limit_mb, &err);
  if (!rc && !e->weights->net.tr->decoder)
    rc = llm_fail(&err, LLM_EINVAL, "model '%s' is an encoder: it does not generate text (llm_embed_rows embeds)",
                  e->name);
  if (!rc) rc = llm_model_tokenizer(c->conn, e, &tok, &c->bos, &err);
  if (!rc) {
    /* as llm_generate: an imported model stops at its end-of-generation tokens only */
    c->o.bos_id = e->info.gguf ? -1 : c->bos;
    c->o.eos_id = llm_tokenizer_eos_id(tok);
    c->weights = e->weights;
    llm_loaded_ref(c->weights);
    rc = llm_tok_ref_init(&c->tok_ref, c->conn, e->info.tokenizer, tok, e->info.config.vocab_size, &err);
    c->model_name = sqlite3_mprintf("%s", e->name);
    c->by_slot = sqlite3_malloc64((size_t)batch * sizeof *c->by_slot);
    if (!rc && (!c->model_name || !c->by_slot)) rc = llm_fail(&err, LLM_ENOMEM, "out of memory");
  }
  int on = progress < 0 ? isatty(2) : progress;
  if (!rc) rc = llm_rows_open(c->conn, (const char *)sqlite3_value_text(argv[1]), on, &c->rows, &err);
  if (!rc) rc = llm_batch_new(&c->weights->net, (int)batch, &c->batch, &err);
  if (rc) return cursor_fail(c, &err);
  memset(c->by_slot, 0, (size_t)batch * sizeof *c->by_slot);
  llm_progress_start(&c->prog, "llm_generate_rows", on);
  return advance(c);
}

static int rv_next(sqlite3_vtab_cursor *cur) { return advance((rows_cursor *)cur); }

static int rv_eof(sqlite3_vtab_cursor *cur) { return ((rows_cursor *)cur)->eof; }

static int rv_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  const job *j = ((rows_cursor *)cur)->cur;
  if (!j) return SQLITE_OK;
  switch (col) {
    case COL_KEY: sqlite3_result_value(ctx, j->key); break;
    case COL_TEXT: if (!j->null_text) llm_result_text_utf8(ctx, j->text, j->len); break;
    case COL_FINISH: if (!j->null_text) sqlite3_result_text(ctx, llm_finish_name(j->finish), -1, SQLITE_STATIC); break;
    case COL_N_PROMPT: sqlite3_result_int64(ctx, j->n_prompt); break;
    case COL_N_TOKENS: sqlite3_result_int64(ctx, j->n_tokens); break;
    default: break;
  }
  return SQLITE_OK;
}

static int rv_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  const job *j = ((rows_cursor *)cur)->cur;
  *rowid = j ? j->index : 0;
  return SQLITE_OK;
}

static const sqlite3_module rows_module = {
    .iVersion = 0,
    .xConnect = rv_connect,
    .xBestIndex = rv_best_index,
    .xDisconnect = rv_disconnect,
    .xOpen = rv_open,
    .xClose = rv_close,
    .xFilter = rv_filter,
    .xNext = rv_next,
    .xEof = rv_eof,
    .xColumn = rv_column,
    .xRowid = rv_rowid,
};

int llm_register_generate_rows_vtab(sqlite3 *db, llm_conn *c) {
  c->refs++;
  return sqlite3_create_module_v2(db, "llm_generate_rows", &rows_module, c, llm_vtab_module_destroy);
}
