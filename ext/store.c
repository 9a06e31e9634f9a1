/*
** store.c: tokenizers in the llm_tokenizers and llm_vocab tables, and the
** per-connection cache of loaded tokenizers.
**
** Two kinds (llm_tokenizers.kind): 'bpe' (byte-level BPE: llm_vocab rows
** 'byte', 'merge', 'special' with rank/left_id/right_id for merges) and
** 'sentencepiece' (scored, from llama2.c: rows 'special' for ids 0..2,
** 'byte' for the fallback tokens 3..258 with their piece spelled "<0xXX>"
** as SentencePiece names them, 'normal' for the rest; every row has its
** score, rank/left_id/right_id are NULL). Imported vocabularies (source
** 'gguf' or 'hf': kinds 'bpe', 'spm', 'wordpiece') keep their files'
** pieces, kinds 'normal', 'byte', 'special', 'user', 'unused' and scores;
** their merges and settings are read back by vocab_store.c.
**
** Every write runs inside a savepoint, so a failed or interrupted call
** leaves nothing half-written; the schema is created inside the same
** savepoint on the first write, never on load.
*/
#include <stdio.h>
#include <string.h>

#include "text/pretok.h"
#include "ext.h"
#include "schema_sql.h"

#define SAVEPOINT_NAME "llm_write"

int llm_db_fail(llm_conn *c, llm_err *err, const char *doing) {
  int rc = sqlite3_errcode(c->db);
  return llm_fail(err, rc == SQLITE_NOMEM ? LLM_ENOMEM : LLM_EIO, "%s: %s",
                  doing, sqlite3_errmsg(c->db));
}

/* Outside any transaction the write lock is taken first (BEGIN IMMEDIATE,
** which waits for it under the busy timeout). A bare savepoint would begin
** a deferred transaction that reads first, and in WAL mode a transaction
** that read before another connection committed can never write
** (SQLITE_BUSY_SNAPSHOT, which no waiting cures): any concurrent writer,
** say a second thread's, made the write fail at once with "database is
** locked". */
int llm_write_begin(llm_conn *c, llm_err *err) {
  if (llm_check_can_write(c, err)) return err->code;
  /* (a BEGIN of the caller's that has not read yet is a transaction too:
  ** dqlite's client opens one around every statement) */
  int outer = sqlite3_get_autocommit(c->db) && sqlite3_txn_state(c->db, NULL) == SQLITE_TXN_NONE;
  if (outer && sqlite3_exec(c->db, "BEGIN IMMEDIATE", 0, 0, 0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot start a transaction");
  if (sqlite3_exec(c->db, "SAVEPOINT " SAVEPOINT_NAME, 0, 0, 0) != SQLITE_OK) {
    llm_db_fail(c, err, "cannot start a transaction");
    if (outer) sqlite3_exec(c->db, "ROLLBACK", 0, 0, 0);
    return err->code;
  }
  if (outer || c->write_depth) c->write_depth++;
  if (sqlite3_exec(c->db, LLM_SCHEMA_SQL, 0, 0, 0) != SQLITE_OK) {
    llm_db_fail(c, err, "cannot create the llm_* tables");
    return llm_write_end(c, 0, err);
  }
  return LLM_OK;
}

int llm_write_end(llm_conn *c, int ok, llm_err *err) {
  int outer = c->write_depth > 0 && --c->write_depth == 0; /* its BEGIN was ours */
  if (ok && sqlite3_exec(c->db, "RELEASE " SAVEPOINT_NAME, 0, 0, 0) == SQLITE_OK &&
      (!outer || sqlite3_exec(c->db, "COMMIT", 0, 0, 0) == SQLITE_OK))
    return LLM_OK;
  int rc = ok ? llm_db_fail(c, err, "cannot commit") : err->code;
  sqlite3_exec(c->db, outer ? "ROLLBACK" : "ROLLBACK TO " SAVEPOINT_NAME "; RELEASE " SAVEPOINT_NAME, 0, 0, 0);
  return rc ? rc : LLM_EIO;
}

/* Prepares a statement on our own tables. A missing table means nothing of
** that kind was ever stored: *missing is set and no error is reported. */
static int prepare_own(llm_conn *c, const char *sql, sqlite3_stmt **stmt,
                       int *missing, llm_err *err) {
  *missing = 0;
  if (sqlite3_prepare_v2(c->db, sql, -1, stmt, 0) == SQLITE_OK) return LLM_OK;
  if (strstr(sqlite3_errmsg(c->db), "no such table")) {
    *missing = 1;
    return LLM_OK;
  }
  return llm_db_fail(c, err, "cannot read the llm_* tables");
}

int llm_tokenizer_exists(llm_conn *c, const char *name, llm_err *err) {
  sqlite3_stmt *st;
  int missing;
  if (prepare_own(c, "SELECT 1 FROM llm_tokenizers WHERE name = ?", &st,
                  &missing, err))
    return -1;
  if (missing) return 0;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_ROW) return 1;
  if (rc == SQLITE_DONE) return 0;
  llm_db_fail(c, err, "cannot read llm_tokenizers");
  return -1;
}

/* llm_vocab.kind of each token kind (LLM_TOKEN_* is the index). */
static const char *const KIND_NAMES[] = {"byte", "merge", "special", "normal", "user", "unused"};
#define N_KINDS (int)(sizeof KIND_NAMES / sizeof KIND_NAMES[0])

static int kind_of(const char *name) {
  for (int k = 0; k < N_KINDS; k++)
    if (!strcmp(name, KIND_NAMES[k])) return k;
  return -1;
}

/* Imported vocabularies are kept as their files spell them (see
** text/tokenizer.h): llm_tokenizers.source names the format. */
static int is_vocab_source(const char *source) {
  return source && (!strcmp(source, "gguf") || !strcmp(source, "hf"));
}

/* Stores the merges of an imported byte-level BPE tokenizer. */
static int store_merges(llm_conn *c, const char *name, const llm_tokenizer *tok, llm_err *err) {
  int32_t n = llm_tokenizer_n_merges(tok);
  if (!n) return LLM_OK;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, "INSERT INTO llm_merges(tokenizer, rank, left_id, right_id) VALUES (?, ?, ?, ?)",
                         -1, &st, 0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot store the merges");
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = SQLITE_DONE;
  for (int32_t r = 0; r < n && rc == SQLITE_DONE; r++) {
    int32_t a, b;
    llm_tokenizer_merge_at(tok, r, &a, &b);
    sqlite3_bind_int(st, 2, r);
    sqlite3_bind_int(st, 3, a);
    sqlite3_bind_int(st, 4, b);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? LLM_OK : llm_db_fail(c, err, "cannot store the merges");
}

int llm_tokenizer_store(llm_conn *c, const char *name,
                        const llm_tokenizer *tok, const char *source,
                        const char *pretok_name, const char *config_json,
                        llm_err *err) {
  int32_t eot_id = llm_tokenizer_eos_id(tok);
  int has_score = llm_tokenizer_type(tok) != LLM_TOKENIZER_BPE || is_vocab_source(source);
  sqlite3_int64 uid;
  sqlite3_randomness(sizeof uid, &uid);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(
      c->db,
      "INSERT INTO llm_tokenizers(name, source, pretokenize, n_vocab, "
      "eot_id, config, uid, created_at, kind) VALUES (?, ?, ?, ?, ?, ?, ?, "
      "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?)",
      -1, &st, 0);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pretok_name ? pretok_name
                             : llm_tokenizer_pretok(tok) == LLM_PRETOK_GPT2 ? "gpt2" : "none",
                      -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, llm_tokenizer_n_vocab(tok));
    if (eot_id >= 0) sqlite3_bind_int(st, 5, eot_id);
    sqlite3_bind_text(st, 6, config_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, uid);
    sqlite3_bind_text(st, 8, llm_tokenizer_type_name(llm_tokenizer_type(tok)), -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return llm_db_fail(c, err, "cannot store the tokenizer");

  rc = sqlite3_prepare_v2(c->db,
                          "INSERT INTO llm_vocab(tokenizer, id, kind, piece, "
                          "rank, left_id, right_id, score) VALUES (?, ?, ?, ?, "
                          "?, ?, ?, ?)",
                          -1, &st, 0);
  if (rc != SQLITE_OK) return llm_db_fail(c, err, "cannot store the vocabulary");
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  for (int32_t id = 0; id < llm_tokenizer_n_vocab(tok) && rc != SQLITE_ERROR; id++) {
    size_t len;
    const uint8_t *p = llm_tokenizer_piece(tok, id, &len);
    int kind = llm_tokenizer_kind(tok, id);
    sqlite3_bind_int(st, 2, id);
    sqlite3_bind_text(st, 3, KIND_NAMES[kind], -1, SQLITE_STATIC);
    /* a non-NULL pointer: an empty piece is an empty blob, not NULL */
    sqlite3_bind_blob(st, 4, len ? (const void *)p : "", (int)len, SQLITE_STATIC);
    if (kind == LLM_TOKEN_MERGE) {
      sqlite3_bind_int(st, 5, llm_tokenizer_rank(tok, id));
      sqlite3_bind_int(st, 6, llm_tokenizer_left(tok, id));
      sqlite3_bind_int(st, 7, llm_tokenizer_right(tok, id));
    } else {
      for (int k = 5; k <= 7; k++) sqlite3_bind_null(st, k);
    }
    if (has_score)
      sqlite3_bind_double(st, 8, (double)llm_tokenizer_score(tok, id));
    else
      sqlite3_bind_null(st, 8);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) return llm_db_fail(c, err, "cannot store the vocabulary");
  return store_merges(c, name, tok, err);
}

int llm_tokenizer_delete(llm_conn *c, const char *name, int *found,
                         llm_err *err) {
  *found = 0;
  int e = llm_tokenizer_exists(c, name, err);
  if (e < 0) return err->code;
  if (!e) return LLM_OK;
  sqlite3_stmt *st;
  const char *sqls[] = {"DELETE FROM llm_vocab WHERE tokenizer = ?",
                        "DELETE FROM llm_merges WHERE tokenizer = ?",
                        "DELETE FROM llm_tokenizers WHERE name = ?"};
  for (int i = 0; i < 3; i++) {
    if (sqlite3_prepare_v2(c->db, sqls[i], -1, &st, 0) != SQLITE_OK)
      return llm_db_fail(c, err, "cannot delete the tokenizer");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return llm_db_fail(c, err, "cannot delete the tokenizer");
  }
  *found = 1;
  return LLM_OK;
}

/* ---- loading and the cache ---------------------------------------------- */

/* Lists the stored tokenizers' names into msg, for "unknown tokenizer". */
static void list_names(llm_conn *c, char *out, size_t cap) {
  sqlite3_stmt *st;
  out[0] = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT name FROM llm_tokenizers ORDER BY name",
                         -1, &st, 0) != SQLITE_OK) {
    snprintf(out, cap, "none");
    return;
  }
  size_t used = 0;
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW && used < cap) {
    used += (size_t)snprintf(out + used, cap - used, "%s'%s'", n++ ? ", " : "",
                             (const char *)sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  if (!n) snprintf(out, cap, "none");
}

static int unknown(llm_conn *c, const char *name, llm_err *err) {
  char names[200];
  list_names(c, names, sizeof names);
  return llm_fail(err, LLM_EINVAL, "no tokenizer named '%s', nor a model (tokenizers stored: %s)", name,
                  names);
}

/* What a tokenizer's header row says. */
typedef struct tok_header {
  sqlite3_int64 uid;
  int32_t n_vocab;
  int pretok; /* LLM_PRETOK_* */
  int type;   /* LLM_TOKENIZER_* */
  int vocab;  /* an imported vocabulary (see is_vocab_source) */
} tok_header;

static int type_of(const char *kind) {
  for (int k = 0; kind && llm_tokenizer_type_name(k); k++)
    if (!strcmp(kind, llm_tokenizer_type_name(k))) return k;
  return -1;
}

/* Reads the tokenizer's header row: uid, n_vocab, pre-tokenizer, kind. */
static int read_header(llm_conn *c, const char *name, tok_header *h,
                       int *found, llm_err *err) {
  sqlite3_stmt *st;
  int missing;
  *found = 0;
  if (prepare_own(c,
                  "SELECT uid, n_vocab, pretokenize, kind, source "
                  "FROM llm_tokenizers WHERE name = ?",
                  &st, &missing, err))
    return err->code;
  if (missing) return LLM_OK;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *found = 1;
    h->uid = sqlite3_column_int64(st, 0);
    sqlite3_int64 nv = sqlite3_column_int64(st, 1);
    const char *pt = (const char *)sqlite3_column_text(st, 2);
    h->n_vocab = nv >= 0 && nv <= LLM_TOKENIZER_MAX_VOCAB ? (int32_t)nv : -1;
    h->pretok = pt && !strcmp(pt, "gpt2") ? LLM_PRETOK_GPT2
                : pt && !strcmp(pt, "none") ? LLM_PRETOK_NONE
                                            : -1;
    h->type = type_of((const char *)sqlite3_column_text(st, 3));
    h->vocab = is_vocab_source((const char *)sqlite3_column_text(st, 4));
    if (h->vocab) h->pretok = LLM_PRETOK_NONE; /* the patterns are in the config */
    rc = SQLITE_DONE;
    if (h->n_vocab < 0 || h->pretok < 0 || h->type < 0 ||
        (h->vocab && h->type == LLM_TOKENIZER_SCORED) ||
        (h->type == LLM_TOKENIZER_SCORED && h->pretok != LLM_PRETOK_NONE))
      llm_fail(err, LLM_EINVAL,
               "tokenizer '%s' has a corrupt llm_tokenizers row (n_vocab "
               "%lld, pretokenize '%s', kind '%s')",
               name, nv, pt ? pt : "NULL",
               sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3) : "NULL");
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return llm_db_fail(c, err, "cannot read llm_tokenizers");
  return err->code;
}

/* Defines the token of the current llm_vocab row (id, kind, piece, rank,
** left_id, right_id, score); k is its kind, checked by the caller. */
static int set_row(llm_tokenizer *tok, const tok_header *h, sqlite3_stmt *st,
                   int32_t id, int k, llm_err *err) {
  const uint8_t *piece = sqlite3_column_blob(st, 2);
  int len = sqlite3_column_bytes(st, 2);
  if (h->vocab)
    return llm_tokenizer_set_token(tok, id, k, piece, (size_t)len,
                                   (float)sqlite3_column_double(st, 6), err);
  if (llm_tokenizer_type(tok) == LLM_TOKENIZER_BPE)
    return llm_tokenizer_set(tok, id, k, piece, (size_t)len,
                             (int32_t)sqlite3_column_int(st, 4),
                             (int32_t)sqlite3_column_int(st, 5),
                             (int32_t)sqlite3_column_int(st, 3), err);
  if (sqlite3_column_type(st, 6) != SQLITE_FLOAT)
    return llm_fail(err, LLM_EINVAL, "token %d has no score", id);
  return llm_tokenizer_set_scored(tok, id, k, piece, (size_t)len,
                                  (float)sqlite3_column_double(st, 6), err);
}

static int load_vocab(llm_conn *c, const char *name, const tok_header *h,
                      llm_tokenizer **out, llm_err *err) {
  llm_tokenizer *tok = NULL;
  sqlite3_stmt *st = NULL;
  int32_t n_vocab = h->n_vocab;
  int rc = h->vocab ? llm_tokenizer_new_vocab(&tok, h->type, n_vocab, err)
           : h->type == LLM_TOKENIZER_SCORED
               ? llm_tokenizer_new_scored(&tok, n_vocab, err)
               : llm_tokenizer_new(&tok, n_vocab, h->pretok, err);
  if (rc) return rc;
  if (sqlite3_prepare_v2(c->db,
                         "SELECT id, kind, piece, rank, left_id, right_id, "
                         "score FROM llm_vocab WHERE tokenizer = ?",
                         -1, &st, 0) != SQLITE_OK) {
    rc = llm_db_fail(c, err, "cannot read llm_vocab");
    goto done;
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    sqlite3_int64 id = sqlite3_column_int64(st, 0);
    const char *kind = (const char *)sqlite3_column_text(st, 1);
    int k = kind ? kind_of(kind) : -1;
    if (k < 0 || id < 0 || id >= n_vocab) {
      rc = llm_fail(err, LLM_EINVAL,
                    "tokenizer '%s' has a corrupt llm_vocab row (id %lld, "
                    "kind '%s')",
                    name, id, kind ? kind : "NULL");
      goto done;
    }
    rc = set_row(tok, h, st, (int32_t)id, k, err);
    if (rc) goto done;
  }
  if (step != SQLITE_DONE) {
    rc = llm_db_fail(c, err, "cannot read llm_vocab");
    goto done;
  }
  if (h->vocab) rc = llm_vocab_settings_load(c, name, tok, err);
  if (!rc) rc = llm_tokenizer_finish(tok, err);
done:
  sqlite3_finalize(st);
  if (rc) {
    if (rc != LLM_ENOMEM && rc != LLM_EIO) {
      char detail[sizeof err->msg];
      memcpy(detail, err->msg, sizeof detail);
      llm_fail(err, rc, "tokenizer '%s' is corrupt in llm_vocab: %s", name,
               detail);
    }
    llm_tokenizer_free(tok);
    return rc;
  }
  *out = tok;
  return LLM_OK;
}

static void entry_free(llm_tok_entry *e) {
  llm_jcon_vocab_free(e->json_vocab);
  llm_tokenizer_free(e->tok);
  sqlite3_free(e->name);
  sqlite3_free(e);
}

/* The cached (or freshly loaded) tokenizer stored under exactly this name;
** *found is 0 when there is none. */
static int get_by_name(llm_conn *c, const char *name, llm_tokenizer **out,
                       sqlite3_int64 *uid_out, int *found, llm_err *err) {
  llm_tok_entry **pp = &c->toks;
  while (*pp && strcmp((*pp)->name, name)) pp = &(*pp)->next;
  /* The header row is read on every call (one indexed lookup): it is the
  ** only check that sees commits by other connections and rollbacks. */
  tok_header h = {0, 0, 0, 0, 0};
  if (read_header(c, name, &h, found, err)) return err->code;
  sqlite3_int64 uid = h.uid;
  if (*pp && (!*found || (*pp)->uid != uid)) { /* dropped or replaced */
    llm_tok_entry *stale = *pp;
    *pp = stale->next;
    entry_free(stale);
    c->cache_gen++;
  }
  if (!*found) return LLM_OK;
  if (!*pp) {
    llm_tok_entry *e = sqlite3_malloc(sizeof *e);
    if (!e) return llm_fail(err, LLM_ENOMEM, "out of memory");
    memset(e, 0, sizeof *e);
    e->name = sqlite3_mprintf("%s", name);
    int rc = e->name ? load_vocab(c, name, &h, &e->tok, err)
                     : llm_fail(err, LLM_ENOMEM, "out of memory");
    if (rc) {
      entry_free(e);
      return rc;
    }
    e->uid = uid;
    e->next = c->toks;
    c->toks = e;
    pp = &c->toks;
  }
  *out = (*pp)->tok;
  if (uid_out) *uid_out = uid;
  return LLM_OK;
}

int llm_tokenizer_get(llm_conn *c, const char *name, llm_tokenizer **out,
                      sqlite3_int64 *uid, llm_err *err) {
  *out = NULL;
  int found = 0;
  if (get_by_name(c, name, out, uid, &found, err)) return err->code;
  if (found) return LLM_OK;
  /* a model's name means that model's tokenizer */
  llm_model_info info;
  if (llm_model_info_get(c, name, &info, &found, err)) return err->code;
  if (found) {
    if (get_by_name(c, info.tokenizer, out, uid, &found, err)) return err->code;
    if (found) return LLM_OK;
    return llm_fail(err, LLM_EINVAL, "model '%s' uses tokenizer '%s', which no longer exists", name,
                    info.tokenizer);
  }
  return unknown(c, name, err);
}

int llm_gen_opts_vocab(llm_conn *c, const llm_tokenizer *tok, llm_gen_opts *g, llm_err *err) {
  if (!g->json) return LLM_OK;
  llm_tok_entry *e = c->toks;
  while (e && e->tok != tok) e = e->next;
  if (!e) return llm_fail(err, LLM_EINVAL, "the model's tokenizer is no longer loaded (it was replaced)");
  if (!e->json_vocab && llm_jcon_vocab_of(tok, &e->json_vocab, err)) return err->code;
  g->json_vocab = e->json_vocab;
  return LLM_OK;
}

void llm_conn_unref(void *p) {
  llm_conn *c = p;
  if (--c->refs > 0) return;
  llm_model_cache_clear(c);
  while (c->toks) {
    llm_tok_entry *e = c->toks;
    c->toks = e->next;
    entry_free(e);
  }
  sqlite3_free(c);
}
