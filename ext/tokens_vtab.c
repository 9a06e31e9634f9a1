/*
** tokens_vtab.c: the table-valued function llm_tokens.
**
**   SELECT position, id, piece, start, "end"
**     FROM llm_tokens('gpt2', 'Hello world');
**   SELECT * FROM llm_tokens('gpt2', body, '{"allow_special": true}');
**
** One row per token of the text: position (0-based), id, piece (the
** token's piece in the vocabulary, as TEXT), bytes (the text it stands
** for, as a BLOB), and the byte offsets start and "end" of that text in
** the input (end exclusive): bytes is substr(CAST(text AS BLOB), start + 1,
** "end" - start). For byte-level BPE, bytes is the piece. For
** SentencePiece-style tokenizers it differs in two ways: a byte-fallback
** token's piece is "<0xXX>" and its bytes that one byte, and the first
** token's piece starts with the dummy-prefix space, which is not in the
** text (nor in its bytes): start and end never count it. Tokenizers that
** normalize (WordPiece's lower case, NFC, ...) give the span of the input
** each token came from, so bytes is the text as it was typed.
*/
#include <string.h>

#include "text/regex_split.h"
#include "ext.h"

enum { COL_POSITION, COL_ID, COL_PIECE, COL_BYTES, COL_START, COL_END, COL_NAME, COL_TEXT, COL_OPTIONS };
#define N_ARGS 3 /* name, text, options: the hidden columns */

typedef struct tokens_vtab {
  sqlite3_vtab base;
  llm_conn *conn;
} tokens_vtab;

typedef struct tokens_cursor {
  sqlite3_vtab_cursor base;
  llm_tokenizer *tok;
  llm_ids ids;
  llm_spans spans; /* each token's source bytes in text */
  uint8_t *text;   /* a copy of the text */
  size_t pos;
} tokens_cursor;

static int tv_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(position INTEGER, id INTEGER, piece TEXT, bytes BLOB, "
                                "start INTEGER, \"end\" INTEGER, name HIDDEN, text HIDDEN, options HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  tokens_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->conn = aux;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *out = &v->base;
  return SQLITE_OK;
}

static int tv_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int tv_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  return llm_vtab_args_best_index(vt, info, COL_NAME, N_ARGS, 2,
                                  "llm_tokens: needs a tokenizer name and a text, as in llm_tokens('name', 'text')");
}

static int tv_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  tokens_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

static int tv_close(sqlite3_vtab_cursor *cur) {
  tokens_cursor *c = (tokens_cursor *)cur;
  llm_ids_free(&c->ids);
  llm_spans_free(&c->spans);
  llm_free(c->text);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int cursor_error(tokens_cursor *c, const char *msg) {
  sqlite3_vtab *vt = c->base.pVtab;
  sqlite3_free(vt->zErrMsg);
  vt->zErrMsg = sqlite3_mprintf("llm_tokens: %s", msg);
  return vt->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

static int tv_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc, sqlite3_value **argv) {
  tokens_cursor *c = (tokens_cursor *)cur;
  tokens_vtab *vt = (tokens_vtab *)cur->pVtab;
  c->ids.len = 0;
  c->spans.len = 0;
  c->pos = 0;
  c->tok = NULL;
  sqlite3_value *name = argv[0], *text = argv[1];
  sqlite3_value *options = (idx_num & 4) ? argv[2] : NULL;
  if (sqlite3_value_type(name) != SQLITE_TEXT || !sqlite3_value_bytes(name))
    return cursor_error(c, "the tokenizer name must be non-empty text");
  int tt = sqlite3_value_type(text);
  if (tt == SQLITE_NULL) return SQLITE_OK; /* no rows */
  if (tt != SQLITE_TEXT && tt != SQLITE_BLOB) return cursor_error(c, "text must be text or a blob");
  static const char *const keys[] = {"allow_special", NULL};
  int allow_special = 0;
  llm_json_doc *doc = NULL;
  llm_err err = {0};
  if (llm_options_parse(options, keys, &doc, &err) ||
      llm_opt_bool(llm_options_root(doc), "allow_special", &allow_special, &err)) {
    llm_json_free(doc);
    return err.code == LLM_ENOMEM ? SQLITE_NOMEM : cursor_error(c, err.msg);
  }
  llm_json_free(doc);
  if (llm_tokenizer_get(vt->conn, (const char *)sqlite3_value_text(name), &c->tok, NULL, &err)) return cursor_error(c, err.msg);
  const uint8_t *p = sqlite3_value_blob(text);
  int n = sqlite3_value_bytes(text);
  llm_free(c->text);
  if (!(c->text = llm_malloc((size_t)n + 1))) return SQLITE_NOMEM;
  if (n) memcpy(c->text, p, (size_t)n);
  if (llm_tokenizer_encode_spans(c->tok, c->text, (size_t)n, allow_special, &c->ids, &c->spans, &err))
    return err.code == LLM_ENOMEM ? SQLITE_NOMEM : cursor_error(c, err.msg);
  return SQLITE_OK;
}

static int tv_next(sqlite3_vtab_cursor *cur) {
  ((tokens_cursor *)cur)->pos++;
  return SQLITE_OK;
}

static int tv_eof(sqlite3_vtab_cursor *cur) {
  tokens_cursor *c = (tokens_cursor *)cur;
  return c->pos >= c->ids.len;
}

static int tv_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  tokens_cursor *c = (tokens_cursor *)cur;
  int32_t id = c->ids.data[c->pos];
  size_t plen, start = c->spans.start[c->pos], len = c->spans.end[c->pos] - start;
  const uint8_t *piece = llm_tokenizer_piece(c->tok, id, &plen);
  const uint8_t *bytes = c->text + start;
  switch (col) {
    case COL_POSITION: sqlite3_result_int64(ctx, (sqlite3_int64)c->pos); break;
    case COL_ID: sqlite3_result_int(ctx, id); break;
    case COL_PIECE: sqlite3_result_text(ctx, plen ? (const char *)piece : "", (int)plen, SQLITE_TRANSIENT); break;
    case COL_BYTES: sqlite3_result_blob(ctx, len ? (const void *)bytes : "", (int)len, SQLITE_TRANSIENT); break;
    case COL_START: sqlite3_result_int64(ctx, (sqlite3_int64)start); break;
    case COL_END: sqlite3_result_int64(ctx, (sqlite3_int64)(start + len)); break;
    default: break; /* hidden argument columns are never read back */
  }
  return SQLITE_OK;
}

static int tv_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = (sqlite3_int64)((tokens_cursor *)cur)->pos;
  return SQLITE_OK;
}

static const sqlite3_module tokens_module = {
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

int llm_register_tokens_vtab(sqlite3 *db, llm_conn *c) {
  c->refs++;
  return sqlite3_create_module_v2(db, "llm_tokens", &tokens_module, c, llm_vtab_module_destroy);
}
