/*
** chunks_vtab.c: the table-valued function llm_chunks.
**
**   SELECT chunk, text, start, "end", n_tokens
**     FROM llm_chunks('m', body, 256, 32);
**   INSERT INTO pieces SELECT d.id, c.chunk, llm_embed('m', c.text)
**     FROM docs d, llm_chunks('m', d.body, 256) c;
**
** Splits a text into windows of at most max_tokens whole tokens (of the
** model's tokenizer, or of the tokenizer of that name), each window after
** the first starting overlap tokens before the previous one ended. Rows:
** chunk (from 0), text (the window's bytes, as TEXT), start and "end" (its
** byte offsets in the text, end exclusive), token_start and token_end (its
** token indexes) and n_tokens. A window never starts or ends inside a
** character that byte-level tokens split (unless one character spans the
** whole window; an overlap shrinks rather than start inside one), so each
** chunk of valid UTF-8 is valid UTF-8. The model may be NULL (the default
** model).
*/
#include <string.h>

#include "text/regex_split.h"
#include "ext.h"

enum {
  COL_CHUNK, COL_TEXT, COL_START, COL_END, COL_TOKEN_START, COL_TOKEN_END, COL_N_TOKENS,
  COL_MODEL, COL_INPUT, COL_MAX_TOKENS, COL_OVERLAP
};

typedef struct chunks_vtab {
  sqlite3_vtab base;
  llm_conn *conn;
} chunks_vtab;

typedef struct chunks_cursor {
  sqlite3_vtab_cursor base;
  llm_conn *conn;
  uint8_t *text;
  size_t *off; /* off[i]: byte offset of token i; off[n] = length */
  size_t n, max_tokens, overlap;
  size_t lo, hi; /* the current window, in tokens */
  int64_t chunk;
  int eof;
} chunks_cursor;

static int cv_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(chunk INTEGER, text TEXT, start INTEGER, \"end\" INTEGER, "
                                "token_start INTEGER, token_end INTEGER, n_tokens INTEGER, model HIDDEN, "
                                "input HIDDEN, max_tokens HIDDEN, overlap HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  chunks_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->conn = aux;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *out = &v->base;
  return SQLITE_OK;
}

static int cv_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int cv_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  return llm_vtab_args_best_index(vt, info, COL_MODEL, 4, 3,
                                  "llm_chunks: needs a model (or NULL for the default), a text and max_tokens, as "
                                  "in llm_chunks('m', body, 256 [, overlap])");
}

static int cv_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  chunks_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->conn = ((chunks_vtab *)vt)->conn;
  *out = &c->base;
  return SQLITE_OK;
}

static void cursor_reset(chunks_cursor *c) {
  sqlite3_free(c->text);
  sqlite3_free(c->off);
  c->text = NULL;
  c->off = NULL;
  c->n = c->lo = c->hi = 0;
  c->chunk = 0;
  c->eof = 1;
}

static int cv_close(sqlite3_vtab_cursor *cur) {
  cursor_reset((chunks_cursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int cursor_error(chunks_cursor *c, const char *msg) {
  sqlite3_vtab *vt = c->base.pVtab;
  sqlite3_free(vt->zErrMsg);
  vt->zErrMsg = sqlite3_mprintf("llm_chunks: %s", msg);
  return vt->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* The window that starts at token lo: up to max_tokens tokens, ended
** before a token that begins inside a character when that is possible. */
static void window_at(chunks_cursor *c, size_t lo) {
  size_t hi = lo + c->max_tokens < c->n ? lo + c->max_tokens : c->n;
  size_t h = hi;
  while (h < c->n && h > lo + 1 && (c->text[c->off[h]] & 0xC0) == 0x80) h--;
  if (h < c->n && (c->text[c->off[h]] & 0xC0) == 0x80) h = hi; /* one character fills it */
  c->lo = lo;
  c->hi = h;
}

static int cv_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc, sqlite3_value **argv) {
  chunks_cursor *c = (chunks_cursor *)cur;
  cursor_reset(c);
  int tt = sqlite3_value_type(argv[1]);
  if (tt == SQLITE_NULL) return SQLITE_OK;
  if (tt != SQLITE_TEXT && tt != SQLITE_BLOB) return cursor_error(c, "the text must be text or a blob");
  if (sqlite3_value_type(argv[2]) != SQLITE_INTEGER || sqlite3_value_int64(argv[2]) < 1 ||
      sqlite3_value_int64(argv[2]) > LLM_MAX_GEN_TOKENS)
    return cursor_error(c, "max_tokens must be an integer from 1 to 1000000");
  c->max_tokens = (size_t)sqlite3_value_int64(argv[2]);
  if (idx_num & 8) {
    if (sqlite3_value_type(argv[3]) != SQLITE_INTEGER || sqlite3_value_int64(argv[3]) < 0 ||
        sqlite3_value_int64(argv[3]) >= (sqlite3_int64)c->max_tokens)
      return cursor_error(c, "overlap must be an integer from 0 to max_tokens - 1");
    c->overlap = (size_t)sqlite3_value_int64(argv[3]);
  }
  llm_err err = {0};
  const char *name;
  llm_tokenizer *tok;
  if (llm_model_resolve(c->conn, argv[0], &name, &err) || llm_tokenizer_get(c->conn, name, &tok, NULL, &err))
    return err.code == LLM_ENOMEM ? SQLITE_NOMEM : cursor_error(c, err.msg);
  size_t len = (size_t)sqlite3_value_bytes(argv[1]);
  const uint8_t *p = sqlite3_value_blob(argv[1]);
  llm_ids ids = {0};
  llm_spans spans = {0};
  c->text = sqlite3_malloc64(len + 1);
  if (c->text && len) memcpy(c->text, p, len);
  if (!c->text || llm_tokenizer_encode_spans(tok, c->text, len, 0, &ids, &spans, &err)) {
    llm_ids_free(&ids);
    llm_spans_free(&spans);
    return !c->text || err.code == LLM_ENOMEM ? SQLITE_NOMEM : cursor_error(c, err.msg);
  }
  c->n = ids.len;
  c->off = sqlite3_malloc64((ids.len + 1) * sizeof *c->off);
  if (c->off) {
    /* each token starts where its source text does (tokenizers that
    ** normalize may skip text between tokens: it goes with the one before) */
    for (size_t i = 0; i < ids.len; i++) c->off[i] = spans.start[i];
    c->off[ids.len] = len;
  }
  llm_ids_free(&ids);
  llm_spans_free(&spans);
  if (!c->off) return SQLITE_NOMEM;
  c->eof = c->n == 0;
  if (!c->eof) window_at(c, 0);
  return SQLITE_OK;
}

static int cv_next(sqlite3_vtab_cursor *cur) {
  chunks_cursor *c = (chunks_cursor *)cur;
  if (c->hi >= c->n) {
    c->eof = 1;
    return SQLITE_OK;
  }
  /* overlap tokens back, but always forward, and not inside a character */
  size_t lo = c->hi > c->lo + c->overlap ? c->hi - c->overlap : c->hi;
  while (lo < c->hi && (c->text[c->off[lo]] & 0xC0) == 0x80) lo++;
  c->chunk++;
  window_at(c, lo);
  return SQLITE_OK;
}

static int cv_eof(sqlite3_vtab_cursor *cur) { return ((chunks_cursor *)cur)->eof; }

static int cv_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  chunks_cursor *c = (chunks_cursor *)cur;
  size_t b0 = c->off[c->lo], b1 = c->off[c->hi];
  switch (col) {
    case COL_CHUNK: sqlite3_result_int64(ctx, c->chunk); break;
    case COL_TEXT: sqlite3_result_text64(ctx, (const char *)c->text + b0, b1 - b0, SQLITE_TRANSIENT, SQLITE_UTF8); break;
    case COL_START: sqlite3_result_int64(ctx, (sqlite3_int64)b0); break;
    case COL_END: sqlite3_result_int64(ctx, (sqlite3_int64)b1); break;
    case COL_TOKEN_START: sqlite3_result_int64(ctx, (sqlite3_int64)c->lo); break;
    case COL_TOKEN_END: sqlite3_result_int64(ctx, (sqlite3_int64)c->hi); break;
    case COL_N_TOKENS: sqlite3_result_int64(ctx, (sqlite3_int64)(c->hi - c->lo)); break;
    default: break;
  }
  return SQLITE_OK;
}

static int cv_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = ((chunks_cursor *)cur)->chunk;
  return SQLITE_OK;
}

static const sqlite3_module chunks_module = {
    .iVersion = 0,
    .xConnect = cv_connect,
    .xBestIndex = cv_best_index,
    .xDisconnect = cv_disconnect,
    .xOpen = cv_open,
    .xClose = cv_close,
    .xFilter = cv_filter,
    .xNext = cv_next,
    .xEof = cv_eof,
    .xColumn = cv_column,
    .xRowid = cv_rowid,
};

int llm_register_chunks_vtab(sqlite3 *db, llm_conn *c) {
  c->refs++;
  return sqlite3_create_module_v2(db, "llm_chunks", &chunks_module, c, llm_vtab_module_destroy);
}
