/*
** generate_vtab.c: the table-valued function llm_generate_tokens.
**
**   SELECT i, token_id, piece, logprob, finish
**     FROM llm_generate_tokens('m', 'Once upon a time', '{"max_tokens": 20}');
**
** The same generation as llm_generate (same options, same text for the
** same seed), one row per token as it is produced: i (from 0), token_id,
** piece (its text), bytes (the same as a BLOB), logprob (its
** log-probability under the model), and finish, NULL on every token row. A
** last row tells why generation ended: finish is 'eos' (then token_id and
** logprob are those of the end-of-text token), 'stop' or 'length', and
** piece is NULL. A token that could be the start of a stop string is held
** back until that is decided, so the pieces never include stop text. The
** bytes of the pieces, in order, are exactly the generated text, of which
** llm_generate's result is the TEXT form (with U+FFFD for each byte that
** is not valid UTF-8).
** The model argument may be NULL (the default model).
*/
#include <string.h>

#include "ext.h"

enum { COL_I, COL_TOKEN, COL_PIECE, COL_BYTES, COL_LOGPROB, COL_FINISH, COL_MODEL, COL_PROMPT, COL_OPTIONS };

typedef struct gen_vtab {
  sqlite3_vtab base;
  llm_conn *conn;
} gen_vtab;

/* A generated token not yet returned: its bytes are text[start, end). */
typedef struct pending {
  int32_t id;
  float logprob;
  size_t start, end;
} pending;

typedef struct gen_cursor {
  sqlite3_vtab_cursor base;
  llm_conn *conn;
  llm_json_doc *doc; /* the options: stop strings point into it */
  llm_gen_mem mem;
  llm_gen_opts o;
  llm_tok_ref tok_ref;
  llm_loaded *weights;
  llm_infer *infer;
  llm_gen *gen;
  pending *q;
  size_t q_len, q_cap, q_head;
  int64_t row_i;
  int at_final, eof;
  pending row;      /* the current token row */
  int32_t eos_token;
  float eos_logprob;
} gen_cursor;

static int gv_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(i INTEGER, token_id INTEGER, piece TEXT, bytes BLOB, logprob REAL, "
                                "finish TEXT, model HIDDEN, prompt HIDDEN, options HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  gen_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->conn = aux;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *out = &v->base;
  return SQLITE_OK;
}

static int gv_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int gv_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  return llm_vtab_args_best_index(vt, info, COL_MODEL, 3, 2,
                                  "llm_generate_tokens: needs a model (or NULL for the default) and a prompt, as in "
                                  "llm_generate_tokens('m', 'prompt' [, options])");
}

static int gv_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  gen_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->conn = ((gen_vtab *)vt)->conn;
  *out = &c->base;
  return SQLITE_OK;
}

static void cursor_reset(gen_cursor *c) {
  llm_gen_free(c->gen);
  llm_infer_free(c->infer);
  if (c->weights) llm_loaded_unref(c->weights);
  llm_json_free(c->doc);
  llm_gen_mem_free(&c->mem);
  llm_tok_ref_free(&c->tok_ref);
  sqlite3_free(c->q);
  llm_conn *conn = c->conn;
  sqlite3_vtab_cursor base = c->base;
  memset(c, 0, sizeof *c);
  c->conn = conn;
  c->base = base;
  c->eof = 1;
}

static int gv_close(sqlite3_vtab_cursor *cur) {
  cursor_reset((gen_cursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int cursor_fail(gen_cursor *c, const llm_err *err) {
  return llm_vtab_fail(c->base.pVtab, "llm_generate_tokens", err);
}

/* Generates until a row is ready: a held token that is final, or the last
** row. */
static int advance(gen_cursor *c) {
  llm_err err = {0};
  for (;;) {
    int finished = llm_gen_finish(c->gen) != LLM_FINISH_NONE;
    size_t len, stable = llm_gen_stable(c->gen);
    llm_gen_text(c->gen, &len);
    while (c->q_head < c->q_len) {
      pending *p = &c->q[c->q_head];
      if (!finished && p->end > stable) break;
      c->q_head++;
      /* only text is cut, and only by a stop string: after one, a token
      ** that begins at or past the cut is all stop text */
      if (p->start >= len && llm_gen_finish(c->gen) == LLM_FINISH_STOP) continue;
      c->row = *p;
      if (c->row.end > len) c->row.end = len;
      return SQLITE_OK;
    }
    if (finished) {
      if (c->at_final) {
        c->eof = 1;
      } else {
        c->at_final = 1;
      }
      return SQLITE_OK;
    }
    /* SQLite checks for an interrupt between rows; tokens held back for a
    ** possible stop string make no row, so check here too, now and then */
    if (llm_gen_count(c->gen) % 16 == 15 && llm_interrupted(c->conn)) return SQLITE_INTERRUPT;
    int32_t t;
    float lp;
    llm_pool *pool;
    llm_tokenizer *tok;
    if (llm_tok_ref_get(&c->tok_ref, c->conn, &tok, &err) || llm_conn_pool(c->conn, &pool, &err) ||
        llm_gen_step(c->gen, tok, pool, &t, &lp, &err))
      return cursor_fail(c, &err);
    if (llm_gen_finish(c->gen) == LLM_FINISH_EOS) {
      c->eos_token = t;
      c->eos_logprob = lp;
      continue;
    }
    size_t before = c->q_len ? c->q[c->q_len - 1].end : 0, after;
    llm_gen_text(c->gen, &after);
    if (llm_grow((void **)&c->q, &c->q_cap, c->q_len + 1, sizeof *c->q)) return SQLITE_NOMEM;
    /* the token's bytes: from the previous token's end to the text's end
    ** (a stop string may have cut the text back: then it is empty) */
    c->q[c->q_len++] = (pending){t, lp, before, after > before ? after : before};
  }
}

static int gv_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc, sqlite3_value **argv) {
  gen_cursor *c = (gen_cursor *)cur;
  cursor_reset(c);
  c->eof = 0;
  c->eos_token = -1;
  llm_err err = {0};
  int tt = sqlite3_value_type(argv[1]);
  if (tt == SQLITE_NULL) {
    c->eof = 1; /* no prompt, no rows */
    return SQLITE_OK;
  }
  if (tt != SQLITE_TEXT && tt != SQLITE_BLOB) {
    llm_fail(&err, LLM_EINVAL, "the prompt must be text or a blob");
    return cursor_fail(c, &err);
  }
  const char *name;
  llm_model_entry *e;
  llm_ids ids = {0};
  llm_tokenizer *tok;
  llm_pool *pool;
  llm_stop stop = {llm_interrupted, c->conn};
  const uint8_t *prompt = sqlite3_value_blob(argv[1]);
  int n = sqlite3_value_bytes(argv[1]);
  int rc = llm_options_parse((idx_num & 4) ? argv[2] : NULL, llm_gen_opts_keys, &c->doc, &err);
  if (!rc) rc = llm_gen_opts_read(llm_options_root(c->doc), &c->o, &c->mem, &err);
  if (!rc) rc = llm_model_resolve(c->conn, argv[0], &name, &err);
  if (!rc) rc = llm_model_get(c->conn, name, &e, &err);
  if (!rc) rc = llm_text_tokens(c->conn, e, prompt ? prompt : (const uint8_t *)"", (size_t)n, &ids, &tok,
                                &c->o.bos_id, &err);
  if (!rc) c->o.eos_id = llm_tokenizer_eos_id(tok);
  if (!rc) rc = llm_gen_opts_vocab(c->conn, tok, &c->o, &err);
  if (!rc && e->info.gguf) c->o.bos_id = -1; /* an imported model stops at its end-of-generation tokens only */
  if (!rc && ids.len == 0)
    rc = llm_fail(&err, LLM_EINVAL, "the prompt is empty and model '%s' has no start token", e->name);
  if (!rc) {
    c->weights = e->weights;
    llm_loaded_ref(c->weights);
    rc = llm_tok_ref_init(&c->tok_ref, c->conn, e->info.tokenizer, tok, e->info.config.vocab_size, &err);
  }
  if (!rc) rc = llm_loaded_infer(c->weights, &c->infer, &err);
  if (!rc) rc = llm_gen_new(c->infer, &c->gen, &err);
  if (!rc) rc = llm_conn_pool(c->conn, &pool, &err);
  if (!rc) rc = llm_gen_start(c->gen, &c->o, ids.data, ids.len, pool, &stop, &err);
  llm_ids_free(&ids);
  if (rc) {
    int code = cursor_fail(c, &err);
    c->eof = 1;
    return code;
  }
  return advance(c);
}

static int gv_next(sqlite3_vtab_cursor *cur) {
  gen_cursor *c = (gen_cursor *)cur;
  c->row_i++;
  return advance(c);
}

static int gv_eof(sqlite3_vtab_cursor *cur) { return ((gen_cursor *)cur)->eof; }

static int gv_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  gen_cursor *c = (gen_cursor *)cur;
  int finish = llm_gen_finish(c->gen);
  if (c->at_final) {
    int eos = finish == LLM_FINISH_EOS;
    switch (col) {
      case COL_I: sqlite3_result_int64(ctx, c->row_i); break;
      case COL_TOKEN: if (eos) sqlite3_result_int(ctx, c->eos_token); break;
      case COL_LOGPROB: if (eos) sqlite3_result_double(ctx, c->eos_logprob); break;
      case COL_FINISH: sqlite3_result_text(ctx, llm_finish_name(finish), -1, SQLITE_STATIC); break;
      default: break;
    }
    return SQLITE_OK;
  }
  size_t len;
  const uint8_t *text = llm_gen_text(c->gen, &len);
  const char *piece = (const char *)text + c->row.start;
  int n = (int)(c->row.end - c->row.start);
  switch (col) {
    case COL_I: sqlite3_result_int64(ctx, c->row_i); break;
    case COL_TOKEN: sqlite3_result_int(ctx, c->row.id); break;
    case COL_PIECE: sqlite3_result_text(ctx, piece, n, SQLITE_TRANSIENT); break;
    case COL_BYTES: sqlite3_result_blob(ctx, piece, n, SQLITE_TRANSIENT); break;
    case COL_LOGPROB: sqlite3_result_double(ctx, c->row.logprob); break;
    default: break;
  }
  return SQLITE_OK;
}

static int gv_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = ((gen_cursor *)cur)->row_i;
  return SQLITE_OK;
}

static const sqlite3_module gen_module = {
    .iVersion = 0,
    .xConnect = gv_connect,
    .xBestIndex = gv_best_index,
    .xDisconnect = gv_disconnect,
    .xOpen = gv_open,
    .xClose = gv_close,
    .xFilter = gv_filter,
    .xNext = gv_next,
    .xEof = gv_eof,
    .xColumn = gv_column,
    .xRowid = gv_rowid,
};

int llm_register_generate_vtab(sqlite3 *db, llm_conn *c) {
  c->refs++;
  return sqlite3_create_module_v2(db, "llm_generate_tokens", &gen_module, c, llm_vtab_module_destroy);
}
