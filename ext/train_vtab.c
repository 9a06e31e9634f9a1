/*
** train_vtab.c: the table-valued function llm_train.
**
**   SELECT * FROM llm_train('m', 'SELECT body FROM docs', '{"steps": 2000}');
**
** Trains model m on the rows of the corpus query (one read-only query
** returning one text column) and yields one row per log interval as it
** goes: step, loss (mean over the interval), val_loss (NULL when not
** evaluated at that step), lr, tokens_per_s, elapsed_s. The same rows go to
** llm_train_log.
**
** The rows are tokenized with the model's tokenizer, joined with its
** end-of-text token, and kept in llm_corpus, so a resumed run does not
** tokenize again. A checkpoint (weights, AdamW moments, step) is written
** every checkpoint_every steps and at the end, each in one transaction:
** after a crash the database holds the last checkpoint, and the same call
** continues from it. "steps" is the run's total: a model that has reached
** it yields no rows; a larger value continues the run.
**
** Options (all optional): steps, batch_size, seq_len (tokens per window:
** default the model's context, at most 2048), lr, min_lr, warmup_steps,
** weight_decay, grad_clip, beta1, beta2, eval_every, eval_batches,
** log_every, checkpoint_every, seed, threads, time_limit_s, val_fraction,
** max_memory_mb, progress.
**
** A decoder imported from a GGUF file of float weights converts, on its
** first llm_train, into this engine's training layout (gguf_finetune.c).
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nn/train.h"
#include "ext.h"

enum { COL_STEP, COL_LOSS, COL_VAL_LOSS, COL_LR, COL_TOKENS_PER_S, COL_ELAPSED, COL_NAME, COL_CORPUS, COL_OPTIONS };

typedef struct run_opts {
  llm_train_opts t;
  int64_t eval_every, log_every, checkpoint_every, threads, max_memory_mb, seq_len;
  double time_limit_s;
  int progress; /* -1 auto (when stderr is a terminal) */
} run_opts;

typedef struct train_vtab {
  sqlite3_vtab base;
  llm_conn *conn;
} train_vtab;

typedef struct train_cursor {
  sqlite3_vtab_cursor base;
  llm_conn *conn;
  char *name;
  char *options_json; /* as stored in llm_train_state */
  run_opts o;
  llm_model_info info;
  llm_model *model;
  llm_trainer *trainer;
  llm_pool *pool;
  llm_ids corpus;
  llm_train_state state;
  /* Checkpoints and log rows are written through a second connection to
  ** the same file when the database allows (a file of the default VFS, in
  ** WAL mode, and no transaction of the user's open): then
  ** sqlite3_interrupt() on the user's connection, which fails every
  ** statement it runs until the current one ends, cannot touch them, and
  ** the run still saves its state when it is interrupted. Otherwise writer
  ** is the user's connection. */
  llm_conn second;
  llm_conn *writer;
  int64_t saved_step; /* step of the last checkpoint written */
  int eof;
  /* the current row */
  int64_t row_step;
  double row_loss, row_val_loss, row_lr, row_tps;
  int row_has_val;
  /* timing */
  double started, last_progress;
} train_cursor;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int tv_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(step INTEGER, loss REAL, val_loss REAL, lr REAL, tokens_per_s REAL, "
                                "elapsed_s REAL, name HIDDEN, corpus_sql HIDDEN, options HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  train_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->conn = aux;
  /* it writes the database and runs user SQL: never from a view or trigger */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *out = &v->base;
  return SQLITE_OK;
}

static int tv_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int tv_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  int rc = llm_vtab_args_best_index(vt, info, COL_NAME, 3, 2,
                                    "llm_train: needs a model name and a corpus query, as in "
                                    "llm_train('m', 'SELECT body FROM docs' [, options])");
  info->estimatedCost = 1e9; /* it trains: never worth repeating */
  return rc;
}

static int tv_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  train_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->conn = ((train_vtab *)vt)->conn;
  c->writer = c->conn;
  *out = &c->base;
  return SQLITE_OK;
}

static int write_checkpoint(train_cursor *c, llm_err *err);

static void cursor_reset(train_cursor *c) {
  /* A run that ends between rows (LIMIT, an interrupt noticed by SQLite
  ** itself, an error) keeps the steps it made when the writer can. */
  llm_err ignored = {0};
  if (c->trainer && c->state.step > c->saved_step) write_checkpoint(c, &ignored);
  sqlite3_close(c->second.db);
  memset(&c->second, 0, sizeof c->second);
  c->writer = c->conn;
  llm_trainer_free(c->trainer);
  llm_model_free(c->model);
  llm_pool_free(c->pool);
  llm_ids_free(&c->corpus);
  sqlite3_free(c->name);
  sqlite3_free(c->options_json);
  c->trainer = NULL;
  c->model = NULL;
  c->pool = NULL;
  c->name = c->options_json = NULL;
  c->eof = 1;
}

static int tv_close(sqlite3_vtab_cursor *cur) {
  cursor_reset((train_cursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int cursor_fail(train_cursor *c, const llm_err *err) {
  sqlite3_vtab *vt = c->base.pVtab;
  if (err->code == LLM_ENOMEM && !llm_err_is_size(err)) return SQLITE_NOMEM;
  sqlite3_free(vt->zErrMsg);
  vt->zErrMsg = sqlite3_mprintf("llm_train: %s%s", err->msg, err->code == LLM_ENOMEM ? llm_size_hint() : "");
  if (!vt->zErrMsg) return SQLITE_NOMEM;
  return err->code == LLM_EINTR ? SQLITE_INTERRUPT : SQLITE_ERROR;
}

/* ---- options ------------------------------------------------------------ */

static int opt_float(const llm_json *o, const char *key, float *v, llm_err *err) {
  const llm_json *j = llm_json_get(o, key);
  if (!j) return LLM_OK;
  if (j->type != LLM_JSON_NUMBER || !isfinite(j->num))
    return llm_fail(err, LLM_EINVAL, "option \"%s\" must be a number", key);
  *v = (float)j->num;
  return LLM_OK;
}

static int read_options(const llm_json *o, run_opts *r, llm_err *err) {
  llm_train_opts_default(&r->t);
  r->eval_every = 500;
  r->log_every = 100;
  r->checkpoint_every = 100;
  r->threads = 0;
  r->seq_len = 0;
  r->max_memory_mb = llm_memory_limit_mb();
  r->time_limit_s = 0;
  r->progress = -1;
  int64_t batch = r->t.batch_size, eval_batches = r->t.eval_batches, seed = (int64_t)r->t.seed;
  int progress = 0;
  const llm_json *tl = llm_json_get(o, "time_limit_s");
  if (llm_opt_int(o, "steps", 0, INT64_MAX / 4, &r->t.steps, err) ||
      llm_opt_int(o, "batch_size", 1, 65536, &batch, err) ||
      llm_opt_int(o, "seq_len", 1, LLM_MAX_CONTEXT, &r->seq_len, err) ||
      llm_opt_int(o, "warmup_steps", 0, INT64_MAX / 4, &r->t.warmup_steps, err) ||
      llm_opt_int(o, "eval_every", 0, INT64_MAX / 4, &r->eval_every, err) ||
      llm_opt_int(o, "eval_batches", 1, 100000, &eval_batches, err) ||
      llm_opt_int(o, "log_every", 1, INT64_MAX / 4, &r->log_every, err) ||
      llm_opt_int(o, "checkpoint_every", 1, INT64_MAX / 4, &r->checkpoint_every, err) ||
      llm_opt_int(o, "seed", INT64_MIN, INT64_MAX, &seed, err) ||
      llm_opt_int(o, "threads", 0, 64, &r->threads, err) ||
      llm_opt_int(o, "max_memory_mb", 1, INT64_MAX / 2, &r->max_memory_mb, err) ||
      opt_float(o, "lr", &r->t.lr, err) || opt_float(o, "min_lr", &r->t.min_lr, err) ||
      opt_float(o, "weight_decay", &r->t.weight_decay, err) || opt_float(o, "grad_clip", &r->t.grad_clip, err) ||
      opt_float(o, "beta1", &r->t.beta1, err) || opt_float(o, "beta2", &r->t.beta2, err) ||
      opt_float(o, "val_fraction", &r->t.val_fraction, err))
    return err->code;
  if (llm_json_get(o, "progress")) {
    if (llm_opt_bool(o, "progress", &progress, err)) return err->code;
    r->progress = progress;
  }
  if (tl) {
    if (tl->type != LLM_JSON_NUMBER || !(tl->num >= 0 && tl->num < 1e9))
      return llm_fail(err, LLM_ERANGE, "option \"time_limit_s\" must be a number of seconds >= 0");
    r->time_limit_s = tl->num;
  }
  if (!llm_json_get(o, "min_lr")) r->t.min_lr = r->t.lr < r->t.min_lr ? r->t.lr : r->t.min_lr;
  r->t.batch_size = (int32_t)batch;
  r->t.eval_batches = (int32_t)eval_batches;
  r->t.seed = (uint64_t)seed;
  if (r->threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    r->threads = n > 0 && n <= 64 ? n : 1;
  }
  return LLM_OK;
}

/* The options as stored with the checkpoint (JSON). */
static char *options_json(const run_opts *r) {
  const llm_train_opts *t = &r->t;
  return sqlite3_mprintf("{\"steps\":%lld,\"batch_size\":%d,\"lr\":%!.9g,\"min_lr\":%!.9g,\"warmup_steps\":%lld,"
                         "\"weight_decay\":%!.9g,\"grad_clip\":%!.9g,\"beta1\":%!.9g,\"beta2\":%!.9g,"
                         "\"eval_every\":%lld,\"eval_batches\":%d,\"val_fraction\":%!.9g,\"seed\":%lld,"
                         "\"threads\":%lld}",
                         (long long)t->steps, t->batch_size, (double)t->lr, (double)t->min_lr,
                         (long long)t->warmup_steps, (double)t->weight_decay, (double)t->grad_clip,
                         (double)t->beta1, (double)t->beta2, (long long)r->eval_every, t->eval_batches,
                         (double)t->val_fraction, (long long)t->seed, (long long)r->threads);
}

/* ---- corpus --------------------------------------------------------------- */

/* The run's token stream: from llm_corpus when this query was tokenized
** with this tokenizer before, else by running the query (and stored). */
static int load_corpus(train_cursor *c, const char *corpus_sql, llm_err *err) {
  llm_tokenizer *tok;
  sqlite3_int64 tok_uid;
  int found;
  if (llm_tokenizer_get(c->conn, c->info.tokenizer, &tok, &tok_uid, err)) return err->code;
  if (llm_corpus_get(c->conn, c->name, corpus_sql, tok_uid, &c->corpus, &found, err)) return err->code;
  if (found) return LLM_OK;
  /* Rows are separated by the start token (BPE: <|endoftext|>); llama2.c's
  ** data also begins each text with it (<s>), so scored tokenizers get it
  ** before the first row too. */
  int32_t eot = llm_tokenizer_bos_id(tok);
  int lead = llm_tokenizer_type(tok) == LLM_TOKENIZER_SCORED;
  sqlite3_stmt *st;
  if (llm_prepare_user_query(c->conn, corpus_sql, 1, &st, err)) {
    char why[sizeof err->msg];
    memcpy(why, err->msg, sizeof why);
    return llm_fail(err, err->code, "corpus_sql: %s", why);
  }
  int rc = LLM_OK, step;
  c->conn->in_user_query++;
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    int n = sqlite3_column_bytes(st, 0);
    const uint8_t *p = sqlite3_column_blob(st, 0);
    if (n == 0 || !p) continue;
    if ((c->corpus.len || lead) && eot >= 0 && llm_ids_push(&c->corpus, eot))
      rc = llm_fail(err, LLM_ENOMEM, "out of memory");
    if (!rc) rc = llm_tokenizer_encode(tok, p, (size_t)n, 0, &c->corpus, err);
  }
  c->conn->in_user_query--;
  if (!rc && step != SQLITE_DONE) rc = llm_db_fail(c->conn, err, "the corpus query failed");
  sqlite3_finalize(st);
  if (rc) return rc;
  if (c->corpus.len == 0) return llm_fail(err, LLM_EINVAL, "the corpus query returned no text");
  /* through the writer, as checkpoints are: the caller's connection is
  ** inside this statement's read transaction, and in WAL a commit by any
  ** other connection since it began would make its write fail at once */
  if (llm_write_begin(c->writer, err)) return err->code;
  rc = llm_corpus_put(c->writer, c->name, corpus_sql, tok_uid, &c->corpus, err);
  return llm_write_end(c->writer, rc == LLM_OK, err);
}

/* ---- checkpoints ----------------------------------------------------------- */

static int write_checkpoint(train_cursor *c, llm_err *err) {
  llm_conn *w = c->writer;
  if (llm_write_begin(w, err)) return err->code;
  c->info.step = c->state.step;
  int rc = llm_model_info_put(w, c->name, &c->info, llm_model_n_params(c->model), err);
  if (!rc) rc = llm_weights_save(w, c->name, c->model, LLM_ROLE_PARAM, llm_model_params(c->model), err);
  if (!rc) rc = llm_weights_save(w, c->name, c->model, LLM_ROLE_ADAM_M, llm_trainer_moment(c->trainer, 0), err);
  if (!rc) rc = llm_weights_save(w, c->name, c->model, LLM_ROLE_ADAM_V, llm_trainer_moment(c->trainer, 1), err);
  if (!rc) rc = llm_train_state_put(w, c->name, &c->state, c->options_json, err);
  rc = llm_write_end(w, rc == LLM_OK, err);
  if (!rc) c->saved_step = c->state.step;
  return rc;
}

/* Opens the second connection when the database allows it (see
** train_cursor): a file of SQLite's default VFS, opened again through that
** VFS. It is put in WAL mode first, so that other connections can read the
** model while it trains. A database on another VFS belongs to a host that
** commits for itself (host.c: dqlite keeps it in memory, in WAL mode, and
** replicates only its own connection's transactions; tested, a second
** connection's commit there aborts the node): the caller's connection
** writes, inside the caller's transaction. */
static void open_writer(train_cursor *c) {
  sqlite3 *db = c->conn->db;
  const char *file = sqlite3_db_filename(db, "main");
  const char *vfs = llm_db_default_vfs(db);
  if (!file || !file[0] || !vfs || !sqlite3_get_autocommit(db)) return;
  sqlite3_exec(db, "PRAGMA main.journal_mode=WAL", 0, 0, 0);
  sqlite3_stmt *st;
  int wal = 0;
  if (sqlite3_prepare_v2(db, "PRAGMA main.journal_mode", -1, &st, 0) == SQLITE_OK) {
    wal = sqlite3_step(st) == SQLITE_ROW && !sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
  }
  if (!wal) return;
  if (sqlite3_open_v2(file, &c->second.db, SQLITE_OPEN_READWRITE, vfs) != SQLITE_OK) {
    sqlite3_close(c->second.db);
    c->second.db = NULL;
    return;
  }
  sqlite3_busy_timeout(c->second.db, 10000);
  c->writer = &c->second;
}

/* Ends an interrupted run: saves its state when the writer still can. */
static int checkpoint_after_interrupt(train_cursor *c, llm_err *err) {
  llm_err werr = {0};
  if (write_checkpoint(c, &werr) == LLM_OK)
    return llm_fail(err, LLM_EINTR, "interrupted; checkpoint written at step %lld: the same call resumes from there",
                    (long long)c->state.step);
  return llm_fail(err, LLM_EINTR, "interrupted at step %lld; the last checkpoint stored is kept (%s)",
                  (long long)c->state.step, werr.msg);
}

static int log_row(train_cursor *c, llm_err *err) {
  llm_conn *w = c->writer;
  if (llm_write_begin(w, err)) return err->code;
  sqlite3_stmt *st;
  int rc = LLM_OK;
  if (sqlite3_prepare_v2(w->db,
                         "INSERT INTO llm_train_log(model, step, loss, val_loss, lr, tokens_per_s, elapsed_s, at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                         -1, &st, 0) != SQLITE_OK) {
    rc = llm_db_fail(w, err, "cannot write llm_train_log");
  } else {
    sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, c->row_step);
    sqlite3_bind_double(st, 3, c->row_loss);
    if (c->row_has_val) sqlite3_bind_double(st, 4, c->row_val_loss);
    sqlite3_bind_double(st, 5, c->row_lr);
    sqlite3_bind_double(st, 6, c->row_tps);
    sqlite3_bind_double(st, 7, c->state.elapsed_s);
    if (sqlite3_step(st) != SQLITE_DONE) rc = llm_db_fail(w, err, "cannot write llm_train_log");
    sqlite3_finalize(st);
  }
  return llm_write_end(w, rc == LLM_OK, err);
}

/* ---- progress bar ----------------------------------------------------------- */

static void show_progress(train_cursor *c, float loss, double tps, int done) {
  if (!c->o.progress) return;
  double t = now_s();
  if (!done && t - c->last_progress < 0.2) return;
  c->last_progress = t;
  int64_t total = c->o.t.steps, step = c->state.step;
  int width = 24, filled = total ? (int)(width * step / total) : width;
  double eta = tps > 0 ? (double)(total - step) * c->o.t.batch_size * c->o.t.seq_len / tps : 0;
  char bar[32];
  for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
  bar[width] = 0;
  fprintf(stderr, "\r%s [%s] %lld/%lld loss %.4f %.0f tok/s ETA %dm%02ds\033[K", c->name, bar, (long long)step,
          (long long)total, loss, tps, (int)(eta / 60), (int)eta % 60);
  if (done) fputc('\n', stderr);
  fflush(stderr);
}

/* ---- running ---------------------------------------------------------------- */

/* Ends the run on an error. When the connection was interrupted (the
** error may come from any statement that noticed it first), the run's
** state is saved before reporting it. */
static int stop_run(train_cursor *c, llm_err *err) {
  if (llm_interrupted(c->conn)) checkpoint_after_interrupt(c, err);
  return cursor_fail(c, err);
}

/* Trains until the next row is due; fills the row, or sets eof. */
static int advance(train_cursor *c) {
  llm_err err = {0};
  int64_t total = c->o.t.steps;
  if (c->state.step >= total || c->eof) {
    c->eof = 1;
    return SQLITE_OK;
  }
  /* tokens_per_s counts the steps' own time, as elapsed_s does: a
  ** checkpoint or an evaluation in the interval does not lower it. */
  double step_s = 0, loss_sum = 0;
  int n = 0, stop_for_time = 0;
  float loss = 0, lr = 0, norm = 0;
  size_t tokens_per_step = (size_t)c->o.t.batch_size * (size_t)c->o.t.seq_len;
  while (c->state.step < total) {
    if (llm_interrupted(c->conn)) return stop_run(c, &err);
    double s0 = now_s();
    if (llm_trainer_step(c->trainer, &loss, &lr, &norm, &err)) return cursor_fail(c, &err);
    double dt = now_s() - s0;
    c->state.elapsed_s += dt;
    step_s += dt;
    c->state.step = llm_trainer_step_index(c->trainer);
    c->state.tokens_seen += (sqlite3_int64)tokens_per_step;
    loss_sum += loss;
    n++;
    show_progress(c, loss, (double)(n * tokens_per_step) / step_s, 0);
    stop_for_time = c->o.time_limit_s > 0 && now_s() - c->started >= c->o.time_limit_s;
    if (c->state.step % c->o.checkpoint_every == 0 || c->state.step == total || stop_for_time)
      if (write_checkpoint(c, &err)) return stop_run(c, &err);
    int eval_due = c->o.eval_every > 0 && c->state.step % c->o.eval_every == 0;
    if (c->state.step % c->o.log_every == 0 || eval_due || stop_for_time) break;
  }
  c->row_step = c->state.step;
  c->row_loss = loss_sum / n;
  c->row_lr = lr;
  c->row_tps = (double)(n * tokens_per_step) / step_s;
  c->row_has_val = (c->o.eval_every > 0 && c->state.step % c->o.eval_every == 0) || c->state.step == total;
  if (c->row_has_val) {
    float v;
    if (llm_trainer_eval(c->trainer, &v, &err)) return cursor_fail(c, &err);
    c->row_val_loss = v;
  }
  if (log_row(c, &err)) return stop_run(c, &err);
  if (c->state.step == total || stop_for_time) {
    show_progress(c, (float)c->row_loss, c->row_tps, 1);
    if (stop_for_time) c->o.t.steps = c->state.step; /* this row is the last */
  }
  return SQLITE_OK;
}

static int tv_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc, sqlite3_value **argv) {
  static const char *const keys[] = {"steps", "batch_size", "seq_len", "lr", "min_lr", "warmup_steps", "weight_decay",
                                     "grad_clip", "beta1", "beta2", "eval_every", "eval_batches", "log_every",
                                     "checkpoint_every", "seed", "threads", "time_limit_s", "val_fraction",
                                     "max_memory_mb", "progress", NULL};
  train_cursor *c = (train_cursor *)cur;
  cursor_reset(c);
  c->eof = 0;
  llm_err err = {0};
  llm_json_doc *doc = NULL;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT || !sqlite3_value_bytes(argv[0])) {
    llm_fail(&err, LLM_EINVAL, "the model name must be non-empty text");
    return cursor_fail(c, &err);
  }
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    llm_fail(&err, LLM_EINVAL, "corpus_sql must be the text of a query, e.g. 'SELECT body FROM docs'");
    return cursor_fail(c, &err);
  }
  c->name = sqlite3_mprintf("%s", sqlite3_value_text(argv[0]));
  const char *corpus_sql = (const char *)sqlite3_value_text(argv[1]);
  if (!c->name || !corpus_sql) return SQLITE_NOMEM;
  int found;
  if (llm_options_parse((idx_num & 4) ? argv[2] : NULL, keys, &doc, &err) ||
      read_options(llm_options_root(doc), &c->o, &err) || llm_check_can_write(c->conn, &err) ||
      llm_model_info_get(c->conn, c->name, &c->info, &found, &err))
    goto fail;
  llm_json_free(doc);
  doc = NULL;
  if (!found) {
    llm_fail(&err, LLM_EINVAL, "no model named '%s' (create it with llm_model_create)", c->name);
    goto fail;
  }
  /* a GGUF import trains once converted to this engine's layout */
  if (c->info.gguf && (llm_gguf_make_trainable(c->conn, c->name, &c->info, &err) ||
                       llm_model_info_get(c->conn, c->name, &c->info, &found, &err)))
    goto fail;
  if (c->o.progress < 0) c->o.progress = isatty(2);
  /* a long context (an imported model's) is not the default window */
  int32_t ctx = c->info.config.block_size;
  if (c->o.seq_len > ctx) {
    llm_fail(&err, LLM_EINVAL, "seq_len (%lld) is longer than model '%s''s context (%d tokens)",
             (long long)c->o.seq_len, c->name, ctx);
    goto fail;
  }
  c->o.t.seq_len = c->o.seq_len ? (int32_t)c->o.seq_len : ctx < 2048 ? ctx : 2048;
  if (llm_train_state_get(c->conn, c->name, &c->state, &found, &err)) goto fail;
  if (c->state.step >= c->o.t.steps) {
    c->eof = 1;
    return SQLITE_OK;
  }
  double need = (double)llm_model_train_bytes(&c->info.config, c->o.t.batch_size, c->o.t.seq_len);
  if (llm_check_memory("training this model at this batch size", need, c->o.max_memory_mb, &err) ||
      llm_model_new(&c->info.config, &c->model, &err) ||
      llm_weights_load(c->conn, c->name, c->model, LLM_ROLE_PARAM, llm_model_params(c->model), &found, &err))
    goto fail;
  if (!found) {
    llm_fail(&err, LLM_EINVAL, "model '%s' has no weights in llm_weights", c->name);
    goto fail;
  }
  open_writer(c);
  if (load_corpus(c, corpus_sql, &err) || llm_pool_new((int)c->o.threads, &c->pool, &err) ||
      llm_trainer_new(c->model, &c->o.t, c->corpus.data, c->corpus.len, c->pool, &c->trainer, &err))
    goto fail;
  if (c->state.step > 0) {
    int fm, fv;
    if (llm_weights_load(c->conn, c->name, c->model, LLM_ROLE_ADAM_M, llm_trainer_moment(c->trainer, 0), &fm,
                         &err) ||
        llm_weights_load(c->conn, c->name, c->model, LLM_ROLE_ADAM_V, llm_trainer_moment(c->trainer, 1), &fv, &err))
      goto fail;
    if (!fm || !fv) {
      llm_fail(&err, LLM_EINVAL, "model '%s' is at step %lld but its optimizer state is missing", c->name,
               (long long)c->state.step);
      goto fail;
    }
    llm_trainer_restore(c->trainer, c->state.step);
  }
  c->saved_step = c->state.step;
  c->options_json = options_json(&c->o);
  if (!c->options_json) return SQLITE_NOMEM;
  c->started = now_s();
  return advance(c);
fail:
  llm_json_free(doc);
  return cursor_fail(c, &err);
}

static int tv_next(sqlite3_vtab_cursor *cur) { return advance((train_cursor *)cur); }

static int tv_eof(sqlite3_vtab_cursor *cur) { return ((train_cursor *)cur)->eof; }

static int tv_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  train_cursor *c = (train_cursor *)cur;
  switch (col) {
    case COL_STEP: sqlite3_result_int64(ctx, c->row_step); break;
    case COL_LOSS: sqlite3_result_double(ctx, c->row_loss); break;
    case COL_VAL_LOSS:
      if (c->row_has_val) sqlite3_result_double(ctx, c->row_val_loss);
      break;
    case COL_LR: sqlite3_result_double(ctx, c->row_lr); break;
    case COL_TOKENS_PER_S: sqlite3_result_double(ctx, c->row_tps); break;
    case COL_ELAPSED: sqlite3_result_double(ctx, c->state.elapsed_s); break;
    default: break;
  }
  return SQLITE_OK;
}

static int tv_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = ((train_cursor *)cur)->row_step;
  return SQLITE_OK;
}

static const sqlite3_module train_module = {
    .iVersion = 0,
    .xConnect = tv_connect,
    .xBestIndex = tv_best_index,
    .xDisconnect = tv_disconnect,
    .xOpen = tv_open,
    .xClose = tv_close,
    .xFilter = tv_filter,
    .xNext = tv_next,
    .xEof = tv_eof,
    .xColumn = tv_column,
    .xRowid = tv_rowid,
};

int llm_register_train_vtab(sqlite3 *db, llm_conn *c) {
  c->refs++;
  return sqlite3_create_module_v2(db, "llm_train", &train_module, c, llm_vtab_module_destroy);
}
