/*
** tokenizer_fns.c: the tokenizer's SQL functions.
**
**   llm_tokenizer_train(name, corpus_sql, vocab_size [, options_json])
**       Runs corpus_sql (one read-only query returning one column), learns
**       byte-level BPE on its rows and stores the tokenizer as name. Options:
**       "pretokenize": "gpt2" (default) | "none"; "special": [strings]
**       (default ["<|endoftext|>"]); "min_frequency": n (default 2).
**       vocab_size counts the 256 byte tokens and the merges; special tokens
**       get the ids after them. Returns a JSON summary.
**   llm_tokenizer_import(name, 'gpt2', encoder_json_path, vocab_bpe_path)
**       Imports GPT-2's own tokenizer files. Returns a JSON summary.
**   llm_tokenizer_import(name, 'llama2c', tokenizer_path)
**       Imports a llama2.c tokenizer file (tokenizer.bin, tok512.bin):
**       a scored SentencePiece-style tokenizer whose tokens run to the end
**       of the file. Returns a JSON summary.
**   llm_tokenizer_import(name, 'gguf', path)
**       Imports the tokenizer of a GGUF file (ext/gguf_import.c). Returns a
**       JSON summary.
**   llm_tokenizer_import(name, 'hf', tokenizer_json_path [, tokenizer_config_json_path])
**       Imports a Hugging Face tokenizer.json (ext/hf_import.c). Returns a
**       JSON summary.
**   llm_tokenizer_drop(name)             1 if it existed (now gone), else 0.
**   llm_tokenizer_info(name)             JSON: kind, n_vocab, merges, the
**       memory the loaded tokenizer holds, its flags, special ids, template.
**   llm_tokenize(name, text [, options]) ids as a JSON array.
**   llm_detokenize(name, ids_json)       the text (exact bytes).
**   llm_token_count(name, text [, options])
**       Options of both: "allow_special": true makes special tokens' text
**       in the input become those tokens (by default it is plain text;
**       user-defined tokens of imported vocabularies always are parsed);
**       "add_special": true adds what the tokenizer's metadata says a
**       model's input starts and ends with (BOS, EOS; WordPiece: [CLS],
**       [SEP]), as the model functions do.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "text/bpe_train.h"
#include "text/gpt2_vocab.h"
#include "formats/llama2c.h"
#include "text/pretok.h"
#include "ext.h"

#define MAX_FILE_BYTES (256u << 20)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- llm_tokenizer_train ---------------------------------------------- */

typedef struct train_opts {
  int pretok;
  const llm_json *special; /* array of strings, or NULL for the default */
  int64_t min_frequency;
} train_opts;

static int read_train_opts(const llm_json *o, train_opts *t, llm_err *err) {
  const char *pt = "gpt2";
  t->pretok = LLM_PRETOK_GPT2;
  t->special = NULL;
  t->min_frequency = 2;
  if (llm_opt_str(o, "pretokenize", &pt, err)) return err->code;
  if (!strcmp(pt, "none"))
    t->pretok = LLM_PRETOK_NONE;
  else if (strcmp(pt, "gpt2"))
    return llm_fail(err, LLM_EINVAL, "option \"pretokenize\" must be \"gpt2\" or \"none\", not \"%.100s\"", pt);
  if (llm_opt_int(o, "min_frequency", 1, INT64_MAX / 2, &t->min_frequency, err)) return err->code;
  const llm_json *sp = llm_json_get(o, "special");
  if (!sp) return LLM_OK;
  if (sp->type != LLM_JSON_ARRAY) return llm_fail(err, LLM_EINVAL, "option \"special\" must be an array of strings");
  if (sp->len > 1024)
    return llm_fail(err, LLM_ERANGE, "option \"special\" has %zu entries (at most 1024)", sp->len);
  for (size_t i = 0; i < sp->len; i++) {
    const llm_json *s = &sp->items[i];
    if (s->type != LLM_JSON_STRING || s->len == 0 || s->len > LLM_TOKENIZER_MAX_PIECE)
      return llm_fail(err, LLM_EINVAL, "option \"special\": entry %zu must be a non-empty string of at most %d bytes",
                      i, LLM_TOKENIZER_MAX_PIECE);
    for (size_t j = 0; j < i; j++)
      if (sp->items[j].len == s->len && !memcmp(sp->items[j].str, s->str, s->len))
        return llm_fail(err, LLM_EINVAL, "option \"special\": \"%.100s\" is listed twice", s->str);
  }
  t->special = sp;
  return LLM_OK;
}

/* Feeds the rows of the corpus query to the trainer. */
static int feed_corpus(llm_conn *c, const char *sql, llm_bpe_trainer *tr,
                       sqlite3_int64 *rows, llm_err *err) {
  sqlite3_stmt *st;
  if (llm_prepare_user_query(c, sql, 1, &st, err)) {
    char why[sizeof err->msg];
    memcpy(why, err->msg, sizeof why);
    return llm_fail(err, err->code, "corpus_sql: %s", why);
  }
  int rc, step;
  *rows = 0;
  c->in_user_query++;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) continue;
    const void *p = sqlite3_column_blob(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    if (n == 0) continue;
    if (!p) {
      rc = llm_fail(err, LLM_ENOMEM, "out of memory");
      goto done;
    }
    rc = llm_bpe_trainer_add(tr, p, (size_t)n, err);
    if (rc) goto done;
    (*rows)++;
  }
  rc = step == SQLITE_DONE ? LLM_OK : llm_db_fail(c, err, "the corpus query failed");
done:
  c->in_user_query--;
  sqlite3_finalize(st);
  return rc;
}

/* Builds the tokenizer: bytes 0..255 as ids 0..255, merge i as 256 + i,
** then the special tokens. */
static int build_trained(const llm_bpe_merge *m, int n_merges,
                         const llm_json *special, int pretok,
                         llm_tokenizer **out, llm_err *err) {
  static const char eot[] = "<|endoftext|>";
  int n_special = special ? (int)special->len : 1;
  llm_tokenizer *tok;
  int rc = llm_tokenizer_new(&tok, 256 + n_merges + n_special, pretok, err);
  if (rc) return rc;
  llm_buf scratch = {0};
  for (int b = 0; b < 256 && !rc; b++) {
    uint8_t byte = (uint8_t)b;
    rc = llm_tokenizer_set(tok, b, LLM_TOKEN_BYTE, &byte, 1, -1, -1, -1, err);
  }
  for (int i = 0; i < n_merges && !rc; i++) {
    size_t la, lb;
    const uint8_t *a = llm_tokenizer_piece(tok, m[i].left, &la);
    const uint8_t *b = llm_tokenizer_piece(tok, m[i].right, &lb);
    scratch.len = 0;
    if (llm_buf_append(&scratch, a, la) || llm_buf_append(&scratch, b, lb)) {
      rc = llm_fail(err, LLM_ENOMEM, "out of memory");
      break;
    }
    if (scratch.len > LLM_TOKENIZER_MAX_PIECE) { /* stop growing tokens here */
      rc = llm_fail(err, LLM_ERANGE, "merge %d would make a token of %zu bytes", i, scratch.len);
      break;
    }
    rc = llm_tokenizer_set(tok, 256 + i, LLM_TOKEN_MERGE, scratch.data, scratch.len,
                           m[i].left, m[i].right, i, err);
  }
  for (int i = 0; i < n_special && !rc; i++) {
    const uint8_t *s = special ? (const uint8_t *)special->items[i].str : (const uint8_t *)eot;
    size_t n = special ? special->items[i].len : sizeof eot - 1;
    rc = llm_tokenizer_set(tok, 256 + n_merges + i, LLM_TOKEN_SPECIAL, s, n, -1, -1, -1, err);
  }
  llm_buf_free(&scratch);
  if (!rc) rc = llm_tokenizer_finish(tok, err);
  if (rc) {
    llm_tokenizer_free(tok);
    return rc;
  }
  *out = tok;
  return LLM_OK;
}

/* Stores tok as name in one savepoint; reports errors on ctx. */
static int store_new(sqlite3_context *ctx, llm_conn *c, const char *name,
                     const llm_tokenizer *tok, const char *source,
                     const char *config) {
  llm_err err = {0};
  int rc = llm_write_begin(c, &err);
  if (!rc) {
    rc = llm_tokenizer_store(c, name, tok, source, NULL, config, &err);
    rc = llm_write_end(c, rc == LLM_OK, &err);
  }
  if (rc) llm_result_llm_err(ctx, &err);
  return rc == LLM_OK;
}

/* Fails (reporting on ctx) unless name is free and writes are allowed. */
static int check_new_name(sqlite3_context *ctx, llm_conn *c, const char *name) {
  llm_err err = {0};
  if (llm_check_can_write(c, &err)) {
    llm_result_llm_err(ctx, &err);
    return 0;
  }
  int e = llm_tokenizer_exists(c, name, &err);
  if (e < 0) llm_result_llm_err(ctx, &err);
  if (e > 0)
    llm_result_errorf(ctx, "a tokenizer named '%s' already exists; drop it first with llm_tokenizer_drop('%s')",
                      name, name);
  return e == 0;
}

static void fn_tokenizer_train(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const keys[] = {"pretokenize", "special", "min_frequency", NULL};
  llm_conn *c = llm_ctx_conn(ctx);
  const char *name = llm_arg_name(ctx, argv, 0, "tokenizer");
  if (!name) return;
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    llm_result_errorf(ctx, "corpus_sql must be the text of a query, e.g. 'SELECT body FROM docs'");
    return;
  }
  const char *sql = (const char *)sqlite3_value_text(argv[1]);
  if (sqlite3_value_type(argv[2]) != SQLITE_INTEGER) {
    llm_result_errorf(ctx, "vocab_size must be an integer");
    return;
  }
  sqlite3_int64 vocab_size = sqlite3_value_int64(argv[2]);
  llm_json_doc *doc;
  if (!llm_arg_options(ctx, argc, argv, 3, keys, &doc)) return;
  train_opts o;
  llm_bpe_trainer *tr = NULL;
  llm_bpe_merge *merges = NULL;
  llm_tokenizer *tok = NULL;
  char *config = NULL;
  llm_err err = {0};
  int n_merges = 0;
  if (read_train_opts(llm_options_root(doc), &o, &err)) {
    llm_result_llm_err(ctx, &err);
    goto done;
  }
  int n_special = o.special ? (int)o.special->len : 1;
  if (vocab_size < 256 || vocab_size > LLM_TOKENIZER_MAX_VOCAB - n_special) {
    llm_result_errorf(ctx, "vocab_size %lld is out of range (256..%d): 256 byte tokens plus the merges to learn",
                      vocab_size, LLM_TOKENIZER_MAX_VOCAB - n_special);
    goto done;
  }
  if (!sql || !check_new_name(ctx, c, name)) goto done;
  double t0 = now_s();
  sqlite3_int64 rows = 0;
  if (llm_bpe_trainer_new(&tr, o.pretok, &err) || feed_corpus(c, sql, tr, &rows, &err)) {
    llm_result_llm_err(ctx, &err);
    goto done;
  }
  if (llm_bpe_trainer_bytes(tr) == 0) {
    llm_result_errorf(ctx, "the corpus query returned no text (%lld non-empty rows)", rows);
    goto done;
  }
  llm_stop stop = {llm_interrupted, c};
  if (llm_bpe_trainer_run(tr, (int)(vocab_size - 256), (uint64_t)o.min_frequency, &stop, &merges, &n_merges, &err) ||
      build_trained(merges, n_merges, o.special, o.pretok, &tok, &err)) {
    if (err.code == LLM_EINTR)
      llm_result_errorf(ctx, "%s; nothing was stored", err.msg);
    else
      llm_result_llm_err(ctx, &err);
    goto done;
  }
  double secs = now_s() - t0;
  sqlite3_str *js = sqlite3_str_new(c->db);
  sqlite3_str_appendf(js, "{\"pretokenize\":\"%s\",\"vocab_size\":%d,\"min_frequency\":%lld,\"special\":[",
                      o.pretok == LLM_PRETOK_GPT2 ? "gpt2" : "none", 256 + n_merges, o.min_frequency);
  for (int i = 0; i < n_special; i++) {
    size_t len;
    const uint8_t *p = llm_tokenizer_piece(tok, 256 + n_merges + i, &len);
    if (i) sqlite3_str_appendchar(js, 1, ',');
    llm_str_append_json(js, (const char *)p, len);
  }
  sqlite3_str_appendf(js, "],\"requested_vocab_size\":%lld,\"corpus_rows\":%lld,\"corpus_bytes\":%llu,"
                          "\"distinct_pieces\":%lld}",
                      vocab_size, rows, (unsigned long long)llm_bpe_trainer_bytes(tr),
                      (long long)llm_bpe_trainer_pieces(tr));
  config = sqlite3_str_finish(js);
  if (!config) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  if (!store_new(ctx, c, name, tok, "trained", config)) goto done;
  sqlite3_str *out = sqlite3_str_new(c->db);
  sqlite3_str_appendall(out, "{\"name\":");
  llm_str_append_json(out, name, strlen(name));
  sqlite3_str_appendf(out, ",\"n_vocab\":%d,\"merges\":%d,\"special_tokens\":%d,\"seconds\":%.3f,\"config\":%s}",
                      llm_tokenizer_n_vocab(tok), n_merges, n_special, secs, config);
  llm_result_str(ctx, out);
done:
  sqlite3_free(config);
  llm_tokenizer_free(tok);
  llm_free(merges);
  llm_bpe_trainer_free(tr);
  llm_json_free(doc);
}

/* ---- llm_tokenizer_import -------------------------------------------- */

int llm_read_file(const char *path, char **out, size_t *n, llm_err *err) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return llm_fail(err, LLM_EIO, "cannot open '%s': %s", path, strerror(errno));
  llm_buf b = {0};
  char chunk[65536];
  size_t got;
  int rc = LLM_OK;
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (b.len + got > MAX_FILE_BYTES) {
      rc = llm_fail(err, LLM_ERANGE, "'%s' is larger than %u MB", path, MAX_FILE_BYTES >> 20);
      break;
    }
    if (llm_buf_append(&b, chunk, got)) {
      rc = llm_fail(err, LLM_ENOMEM, "out of memory reading '%s'", path);
      break;
    }
  }
  if (!rc && ferror(f)) rc = llm_fail(err, LLM_EIO, "cannot read '%s': %s", path, strerror(errno));
  fclose(f);
  if (rc) {
    llm_buf_free(&b);
    return rc;
  }
  *out = (char *)b.data;
  *n = b.len;
  return LLM_OK;
}

/* Imports a llama2.c tokenizer file (the 3-argument form). */
static void import_llama2c(sqlite3_context *ctx, llm_conn *c, const char *name, sqlite3_value *path_arg) {
  if (sqlite3_value_type(path_arg) != SQLITE_TEXT || !sqlite3_value_bytes(path_arg)) {
    llm_result_errorf(ctx, "tokenizer_path must be a file path");
    return;
  }
  const char *path = (const char *)sqlite3_value_text(path_arg);
  if (!path || !check_new_name(ctx, c, name)) return;
  char *data = NULL;
  size_t len = 0;
  llm_tokenizer *tok = NULL;
  llm_err err = {0};
  if (llm_read_file(path, &data, &len, &err)) {
    llm_result_llm_err(ctx, &err);
    goto done;
  }
  if (llm_llama2c_tokenizer_parse((const uint8_t *)data, len, -1, &tok, &err)) {
    if (err.code == LLM_ENOMEM)
      sqlite3_result_error_nomem(ctx);
    else
      llm_result_errorf(ctx, "'%s': %s", path, err.msg);
    goto done;
  }
  sqlite3_str *js = sqlite3_str_new(c->db);
  sqlite3_str_appendall(js, "{\"format\":\"llama2c\",\"tokenizer\":");
  llm_str_append_json(js, path, strlen(path));
  sqlite3_str_appendf(js, ",\"file_bytes\":%llu}", (unsigned long long)len);
  char *config = sqlite3_str_finish(js);
  if (!config) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  int ok = store_new(ctx, c, name, tok, "llama2c", config);
  sqlite3_free(config);
  if (!ok) goto done;
  sqlite3_str *out = sqlite3_str_new(c->db);
  sqlite3_str_appendall(out, "{\"name\":");
  llm_str_append_json(out, name, strlen(name));
  sqlite3_str_appendf(out, ",\"kind\":\"sentencepiece\",\"n_vocab\":%d,\"byte_tokens\":256,\"special_tokens\":3}",
                      llm_tokenizer_n_vocab(tok));
  llm_result_str(ctx, out);
done:
  llm_tokenizer_free(tok);
  llm_free(data);
}

static void fn_tokenizer_import(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_conn *c = llm_ctx_conn(ctx);
  const char *name = llm_arg_name(ctx, argv, 0, "tokenizer");
  if (!name) return;
  int format_type = sqlite3_value_type(argv[1]);
  const char *format = (const char *)sqlite3_value_text(argv[1]);
  int is_gpt2 = format_type == SQLITE_TEXT && format && !strcmp(format, "gpt2");
  int is_llama2c = format_type == SQLITE_TEXT && format && !strcmp(format, "llama2c");
  int is_gguf = format_type == SQLITE_TEXT && format && !strcmp(format, "gguf");
  int is_hf = format_type == SQLITE_TEXT && format && !strcmp(format, "hf");
  if (!is_gpt2 && !is_llama2c && !is_gguf && !is_hf) {
    if (format_type == SQLITE_TEXT && format)
      llm_result_errorf(ctx, "unknown format '%s': the supported formats are 'gguf' (path), 'hf' "
                        "(tokenizer_json_path), 'gpt2' (encoder_json_path, vocab_bpe_path) and 'llama2c' "
                        "(tokenizer_path)", format);
    else
      llm_result_errorf(ctx, "the format must be the text 'gguf', 'hf', 'gpt2' or 'llama2c'");
    return;
  }
  if (is_gpt2 ? argc != 4 : !(argc == 3 || (is_hf && argc == 4))) {
    if (is_hf)
      llm_result_errorf(ctx, "wrong number of arguments: format 'hf' takes llm_tokenizer_import(name, 'hf', "
                        "tokenizer_json_path [, tokenizer_config_json_path])");
    else
      llm_result_errorf(ctx, !is_gpt2 ? "wrong number of arguments: format '%s' takes one file: "
                                        "llm_tokenizer_import(name, '%s', path)"
                                      : "wrong number of arguments: format 'gpt2' takes two files: "
                                        "llm_tokenizer_import(name, 'gpt2', encoder_json_path, vocab_bpe_path)",
                        format, format);
    return;
  }
  if (is_llama2c) {
    import_llama2c(ctx, c, name, argv[2]);
    return;
  }
  if (is_gguf || is_hf) {
    if (!check_new_name(ctx, c, name)) return;
    if (is_gguf) llm_import_gguf_tokenizer(ctx, c, name, argv[2]);
    else llm_import_hf_tokenizer(ctx, c, name, argv[2], argc == 4 ? argv[3] : NULL);
    return;
  }
  const char *paths[2];
  for (int i = 0; i < 2; i++) {
    if (sqlite3_value_type(argv[2 + i]) != SQLITE_TEXT || !sqlite3_value_bytes(argv[2 + i])) {
      llm_result_errorf(ctx, "%s must be a file path", i ? "vocab_bpe_path" : "encoder_json_path");
      return;
    }
    paths[i] = (const char *)sqlite3_value_text(argv[2 + i]);
  }
  if (!check_new_name(ctx, c, name)) return;
  char *data[2] = {NULL, NULL};
  size_t len[2] = {0, 0};
  llm_tokenizer *tok = NULL;
  llm_err err = {0};
  if (llm_read_file(paths[0], &data[0], &len[0], &err) || llm_read_file(paths[1], &data[1], &len[1], &err) ||
      llm_gpt2_vocab_load(data[0], len[0], data[1], len[1], &tok, &err)) {
    llm_result_llm_err(ctx, &err);
    goto done;
  }
  sqlite3_str *js = sqlite3_str_new(c->db);
  sqlite3_str_appendall(js, "{\"format\":\"gpt2\",\"encoder_json\":");
  llm_str_append_json(js, paths[0], strlen(paths[0]));
  sqlite3_str_appendall(js, ",\"vocab_bpe\":");
  llm_str_append_json(js, paths[1], strlen(paths[1]));
  sqlite3_str_appendall(js, "}");
  char *config = sqlite3_str_finish(js);
  if (!config) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  int ok = store_new(ctx, c, name, tok, "gpt2", config);
  sqlite3_free(config);
  if (!ok) goto done;
  int n_merges = 0, n_special = 0;
  for (int32_t id = 0; id < llm_tokenizer_n_vocab(tok); id++) {
    n_merges += llm_tokenizer_kind(tok, id) == LLM_TOKEN_MERGE;
    n_special += llm_tokenizer_kind(tok, id) == LLM_TOKEN_SPECIAL;
  }
  sqlite3_str *out = sqlite3_str_new(c->db);
  sqlite3_str_appendall(out, "{\"name\":");
  llm_str_append_json(out, name, strlen(name));
  sqlite3_str_appendf(out, ",\"n_vocab\":%d,\"merges\":%d,\"special_tokens\":%d}", llm_tokenizer_n_vocab(tok),
                      n_merges, n_special);
  llm_result_str(ctx, out);
done:
  llm_tokenizer_free(tok);
  llm_free(data[0]);
  llm_free(data[1]);
}

/* ---- llm_tokenizer_drop ------------------------------------------------ */

static void fn_tokenizer_drop(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_conn *c = llm_ctx_conn(ctx);
  const char *name = llm_arg_name(ctx, argv, 0, "tokenizer");
  if (!name) return;
  llm_err err = {0};
  int found = 0;
  /* a name that is not there writes nothing (and needs no writable file) */
  int rc = llm_check_can_write(c, &err);
  if (!rc) {
    int e = llm_tokenizer_exists(c, name, &err);
    rc = e < 0 ? err.code : LLM_OK;
    if (e > 0 && !(rc = llm_write_begin(c, &err))) {
      rc = llm_tokenizer_delete(c, name, &found, &err);
      rc = llm_write_end(c, rc == LLM_OK, &err);
    }
  }
  if (rc)
    llm_result_llm_err(ctx, &err);
  else
    sqlite3_result_int(ctx, found);
}

/* ---- llm_tokenizer_info ------------------------------------------------ */

static void fn_tokenizer_info(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_conn *c = llm_ctx_conn(ctx);
  const char *name = llm_arg_name(ctx, argv, 0, "tokenizer");
  if (!name) return;
  llm_tokenizer *tok;
  llm_err err = {0};
  if (llm_tokenizer_get(c, name, &tok, NULL, &err)) {
    llm_result_llm_err(ctx, &err);
    return;
  }
  sqlite3_str *out = sqlite3_str_new(c->db);
  sqlite3_str_appendf(out, "{\"kind\":\"%s\",\"n_vocab\":%d,\"merges\":%d,\"memory_bytes\":%lld,",
                      llm_tokenizer_type_name(llm_tokenizer_type(tok)), llm_tokenizer_n_vocab(tok), llm_tokenizer_n_merges(tok),
                      (long long)llm_tokenizer_memory(tok));
  llm_tokenizer_config_append(out, tok);
  sqlite3_str_appendall(out, "}");
  llm_result_str(ctx, out);
}

/* ---- encoding and decoding --------------------------------------------- */

/* What a function keeps about its tokenizer argument between the rows of
** one statement execution (SQLite's auxiliary data, which it discards when
** the argument changes or the statement is reset). Within one execution no
** other connection's commit becomes visible and no ROLLBACK can run, so
** the tokenizer is still current unless this connection wrote since, or
** the cache freed something. */
typedef struct tok_aux {
  llm_tokenizer *tok;
  unsigned cache_gen;
  sqlite3_int64 total_changes;
} tok_aux;

/* The tokenizer named by argv[0], or NULL after reporting an error. */
static llm_tokenizer *arg_tokenizer(sqlite3_context *ctx, sqlite3_value **argv) {
  llm_conn *c = llm_ctx_conn(ctx);
  const tok_aux *aux = sqlite3_get_auxdata(ctx, 0);
  sqlite3_int64 changes = sqlite3_total_changes64(c->db);
  if (aux && aux->cache_gen == c->cache_gen && aux->total_changes == changes) return aux->tok;
  const char *name = llm_arg_name(ctx, argv, 0, "tokenizer");
  if (!name) return NULL;
  llm_tokenizer *tok;
  llm_err err = {0};
  if (llm_tokenizer_get(c, name, &tok, NULL, &err)) {
    llm_result_llm_err(ctx, &err);
    return NULL;
  }
  tok_aux *keep = sqlite3_malloc(sizeof *keep);
  if (keep) {
    keep->tok = tok;
    keep->cache_gen = c->cache_gen;
    keep->total_changes = changes;
    sqlite3_set_auxdata(ctx, 0, keep, sqlite3_free);
  }
  return tok;
}

/* Encodes argv[1] with the options in argv[2]; returns 0 after reporting an
** error, 1 with *is_null for a NULL text, else 1 with ids filled. */
static int encode_arg(sqlite3_context *ctx, int argc, sqlite3_value **argv, llm_ids *ids, int *is_null) {
  static const char *const keys[] = {"allow_special", "add_special", NULL};
  llm_tokenizer *tok = arg_tokenizer(ctx, argv);
  if (!tok) return 0;
  int n;
  const uint8_t *text = llm_arg_bytes(ctx, argv, 1, "text", &n, is_null);
  if (*is_null) return 1;
  if (!text) return 0;
  llm_json_doc *doc;
  if (!llm_arg_options(ctx, argc, argv, 2, keys, &doc)) return 0;
  int allow_special = 0, add_special = 0;
  llm_err err = {0};
  int rc = llm_opt_bool(llm_options_root(doc), "allow_special", &allow_special, &err);
  if (!rc) rc = llm_opt_bool(llm_options_root(doc), "add_special", &add_special, &err);
  llm_json_free(doc);
  int flags = (allow_special ? LLM_ENCODE_ALLOW_SPECIAL : 0) | (add_special ? LLM_ENCODE_ADD_SPECIAL : 0);
  if (rc || llm_tokenizer_encode(tok, text, (size_t)n, flags, ids, &err)) {
    llm_result_llm_err(ctx, &err);
    return 0;
  }
  return 1;
}

static void fn_tokenize(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_ids ids = {0};
  int is_null = 0;
  if (encode_arg(ctx, argc, argv, &ids, &is_null)) {
    if (is_null) {
      sqlite3_result_null(ctx);
    } else {
      sqlite3_str *s = sqlite3_str_new(llm_ctx_conn(ctx)->db);
      sqlite3_str_appendchar(s, 1, '[');
      for (size_t i = 0; i < ids.len; i++) sqlite3_str_appendf(s, i ? ",%d" : "%d", ids.data[i]);
      sqlite3_str_appendchar(s, 1, ']');
      llm_result_str(ctx, s);
    }
  }
  llm_ids_free(&ids);
}

static void fn_token_count(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_ids ids = {0};
  int is_null = 0;
  if (encode_arg(ctx, argc, argv, &ids, &is_null)) {
    if (is_null)
      sqlite3_result_null(ctx);
    else
      sqlite3_result_int64(ctx, (sqlite3_int64)ids.len);
  }
  llm_ids_free(&ids);
}

static void fn_detokenize(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_tokenizer *tok = arg_tokenizer(ctx, argv);
  if (!tok) return;
  int t = sqlite3_value_type(argv[1]);
  if (t == SQLITE_NULL) return;
  if (t != SQLITE_TEXT) {
    llm_result_errorf(ctx, "ids must be a JSON array of token ids in text, e.g. '[15496, 995]'");
    return;
  }
  llm_ids ids = {0};
  llm_buf out = {0};
  llm_err err = {0};
  const char *js = (const char *)sqlite3_value_text(argv[1]);
  if (llm_json_parse_int_array(js ? js : "", (size_t)sqlite3_value_bytes(argv[1]), &ids, 0,
                               llm_tokenizer_n_vocab(tok) - 1, &err) ||
      llm_tokenizer_decode(tok, ids.data, ids.len, &out, &err)) {
    llm_result_llm_err(ctx, &err);
  } else if (out.len > (size_t)INT32_MAX) {
    sqlite3_result_error_toobig(ctx);
  } else {
    /* The exact bytes, as TEXT: ids that split a multi-byte character give
    ** text that is not valid UTF-8, and it is returned as it is. */
    sqlite3_result_text64(ctx, out.len ? (const char *)out.data : "", out.len, SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  llm_ids_free(&ids);
  llm_buf_free(&out);
}

int llm_register_tokenizer_fns(sqlite3 *db, llm_conn *c) {
  static const llm_fn_spec specs[] = {
      {"llm_tokenizer_train", 3, LLM_FN_WRITES, fn_tokenizer_train},
      {"llm_tokenizer_train", 4, LLM_FN_WRITES, fn_tokenizer_train},
      {"llm_tokenizer_import", 3, LLM_FN_WRITES, fn_tokenizer_import},
      {"llm_tokenizer_import", 4, LLM_FN_WRITES, fn_tokenizer_import},
      {"llm_tokenizer_drop", 1, LLM_FN_WRITES, fn_tokenizer_drop},
      {"llm_tokenizer_info", 1, LLM_FN_READS, fn_tokenizer_info},
      {"llm_tokenize", 2, LLM_FN_READS, fn_tokenize},
      {"llm_tokenize", 3, LLM_FN_READS, fn_tokenize},
      {"llm_token_count", 2, LLM_FN_READS, fn_token_count},
      {"llm_token_count", 3, LLM_FN_READS, fn_token_count},
      {"llm_detokenize", 2, LLM_FN_READS, fn_detokenize},
  };
  return llm_register_fns(db, c, specs, sizeof specs / sizeof specs[0]);
}
