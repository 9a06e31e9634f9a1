/*
** ext.h: what the files of ext/ share: the per-connection context, SQL
** error helpers, argument checks, option parsing, safe execution of the
** user's corpus SQL, and storage of tokenizers in the llm_* tables.
*/
#ifndef LLM_EXT_H
#define LLM_EXT_H

#include <sqlite3ext.h>
#include <stdio.h>

#include "base.h"
#include "formats/gguf.h"
#include "formats/gguf_vocab.h"
#include "formats/json.h"
#include "nn/generate.h"
#include "nn/infer.h"
#include "nn/model.h"
#include "text/tokenizer.h"

SQLITE_EXTENSION_INIT3

#define LLM_VERSION "0.1.0"

/* A tokenizer loaded from the tables, kept for reuse across calls. */
typedef struct llm_tok_entry {
  char *name;
  sqlite3_int64 uid;
  llm_tokenizer *tok;
  llm_jcon_vocab *json_vocab; /* for JSON-constrained generation, or NULL */
  struct llm_tok_entry *next;
} llm_tok_entry;

/* A model's row in llm_models. */
typedef struct llm_model_info {
  char tokenizer[256];
  llm_config config;
  sqlite3_int64 step, uid;
  int gguf; /* imported from GGUF: per-layer tensors in GGUF's names and types */
} llm_model_info;

/* A model's weights, loaded for inference; reference-counted (see
** ext/model_cache.c). A model trained here is an llm_model; an imported
** one is its tensors in a few allocations (arenas); net views either. */
typedef struct llm_loaded {
  int refs; /* changed under shared_weights.c's lock */
  llm_model *model;
  void **arenas; /* an import's tensors (ext/gguf_model.c) */
  int n_arenas;
  llm_net net;
  /* the registry's key (key NULL: not shared) and link */
  char *key, *name;
  sqlite3_int64 uid;
  struct llm_loaded *next;
} llm_loaded;

/* A model kept for inference: its row, weights, KV cache and generator. */
typedef struct llm_model_entry {
  char *name;
  llm_model_info info;
  llm_loaded *weights;
  llm_infer *infer;
  llm_gen *gen;
  struct llm_model_entry *next;
} llm_model_entry;

/* Per-connection state; user data of every function the extension
** registers, freed when the last of them is destroyed. */
typedef struct llm_conn {
  sqlite3 *db;
  int refs;
  llm_tok_entry *toks;
  llm_model_entry *models;
  llm_pool *pool;      /* for inference, made on first use */
  char *default_model; /* set by llm_use */
  char *only_model;    /* the name found when there is one model */
  unsigned cache_gen; /* bumped whenever a cached object is freed */
  int in_user_query; /* > 0 while a user's corpus SQL runs */
  int write_depth;   /* llm_write_begin levels open in a transaction it began */
} llm_conn;

/* The user data of every SQL function: its name (for messages) and the
** connection's state. */
typedef struct llm_fn {
  const char *name;
  llm_conn *conn;
} llm_fn;

/* ---- errors and arguments (ext/sqlfn.c) ---- */

llm_conn *llm_ctx_conn(sqlite3_context *ctx);

/* sqlite3_result_error with "FN: " and a printf-style message. */
void llm_result_errorf(sqlite3_context *ctx, const char *fmt, ...);
/* Reports an engine error (out-of-memory as SQLITE_NOMEM, but a failed
** allocation of a size the user's options chose as an error that says so). */
void llm_result_llm_err(sqlite3_context *ctx, const llm_err *err);
/* The engine failed to allocate a buffer whose size it names (in MB). */
int llm_err_is_size(const llm_err *err);
/* What to add to such a message. */
const char *llm_size_hint(void);
/* The function's name as registered (for messages). */
const char *llm_fn_name(sqlite3_context *ctx);

/* Checks that argv[i] is non-empty TEXT naming something (a tokenizer,
** model); reports an error and returns NULL otherwise. */
const char *llm_arg_name(sqlite3_context *ctx, sqlite3_value **argv, int i,
                         const char *what);

/* Bytes of a TEXT or BLOB argument; *is_null set for NULL. Reports an error
** and returns NULL for other types. */
const uint8_t *llm_arg_bytes(sqlite3_context *ctx, sqlite3_value **argv,
                             int i, const char *what, int *n, int *is_null);

/* Parses options: v NULL or SQL NULL means none (*out = NULL). Otherwise
** v must be TEXT holding a JSON object whose keys are all in allowed
** (NULL-terminated). */
int llm_options_parse(sqlite3_value *v, const char *const *allowed,
                      llm_json_doc **out, llm_err *err);
/* The same for argument i of a function (absent is fine); returns 0 after
** reporting an error on ctx. */
int llm_arg_options(sqlite3_context *ctx, int argc, sqlite3_value **argv,
                    int i, const char *const *allowed, llm_json_doc **out);
/* The root object of parsed options, or NULL when there were none. */
const llm_json *llm_options_root(const llm_json_doc *doc);

/* Typed option lookups: a missing key leaves *val unchanged. */
int llm_opt_int(const llm_json *opts, const char *key, int64_t lo, int64_t hi,
                int64_t *val, llm_err *err);
int llm_opt_bool(const llm_json *opts, const char *key, int *val,
                 llm_err *err);
int llm_opt_str(const llm_json *opts, const char *key, const char **val,
                llm_err *err);

/* ---- the user's SQL (ext/userquery.c) ---- */

/* Prepares sql as exactly one read-only query (SELECT, WITH or VALUES)
** returning ncol columns (any number when ncol < 0), refusing anything
** else before it runs. */
int llm_prepare_user_query(llm_conn *c, const char *sql, int ncol,
                           sqlite3_stmt **out, llm_err *err);

/* Fails when a user query is running on this connection, so that corpus
** SQL cannot reach a function that writes, or when the host must commit
** the write and no transaction is open (llm_check_host_commit). */
int llm_check_can_write(llm_conn *c, llm_err *err);

/* ---- the database's host (ext/host.c) ---- */

/* The name of the main database's VFS when it is SQLite's default one,
** else NULL: only then may a second connection open it, or its journal
** mode change. */
const char *llm_db_default_vfs(sqlite3 *db);
/* Fails, saying what to do, when a write would commit by itself on a VFS
** that is not one of SQLite's own (no transaction open): see host.c. */
int llm_check_host_commit(llm_conn *c, llm_err *err);
/* "vfs:file" naming the main database in the process (sqlite3_malloc'd),
** or NULL for one without a file (in-memory, temporary) or out of memory. */
char *llm_db_key(sqlite3 *db);

/* Non-zero when sqlite3_interrupt() was called on the connection while the
** current statement runs (an llm_stop callback; arg is the llm_conn). */
int llm_interrupted(void *conn);

/* ---- storage (ext/store.c) ---- */

/* Begins a write: a savepoint (in a transaction that holds the write lock
** from the start, when none is open), and the schema created if needed. */
int llm_write_begin(llm_conn *c, llm_err *err);
/* Ends it: releases the savepoint (and commits a transaction it began)
** when ok, else rolls back. */
int llm_write_end(llm_conn *c, int ok, llm_err *err);

/* Reports SQLite's current error on c->db as an llm_err. */
int llm_db_fail(llm_conn *c, llm_err *err, const char *doing);

/* 1 if a tokenizer of that name exists, 0 if not, -1 after an error. */
int llm_tokenizer_exists(llm_conn *c, const char *name, llm_err *err);

/* Stores a finished tokenizer (inside llm_write_begin/end). pretok_name:
** llm_tokenizers.pretokenize, or NULL for the built-in split's name. */
int llm_tokenizer_store(llm_conn *c, const char *name,
                        const llm_tokenizer *tok, const char *source,
                        const char *pretok_name, const char *config_json,
                        llm_err *err);

/* Appends an imported vocabulary tokenizer's settings as JSON members
** ("patterns": [...], "flags": {...}, "roles": {...}) for its config; the
** loader reads them back. */
void llm_tokenizer_config_append(sqlite3_str *js, const llm_tokenizer *tok);

/* Imports a Hugging Face tokenizer.json as name (format 'hf'). */
void llm_import_hf_tokenizer(sqlite3_context *ctx, llm_conn *c, const char *name, sqlite3_value *path_arg,
                             sqlite3_value *config_arg);

/* Appends the members an import's JSON summary shares: "kind", "n_vocab",
** "merges", "special_tokens", "user_tokens", "byte_tokens". */
void llm_vocab_summary_append(sqlite3_str *out, const llm_tokenizer *tok);

/* Reads back an imported vocabulary's merges and config settings into the
** unfinished tokenizer (ext/vocab_store.c). */
int llm_vocab_settings_load(llm_conn *c, const char *name, llm_tokenizer *tok, llm_err *err);

/* ---- GGUF files (ext/gguf_import.c, ext/gguf_model.c) ---- */

/* An open GGUF file, read through llm_gguf_file_read. */
typedef struct llm_gguf_file {
  FILE *f;
  const char *path;
} llm_gguf_file;
int llm_gguf_file_read(void *ctx, uint64_t off, void *buf, size_t n, llm_err *err);
/* Opens path and reads its GGUF metadata; on success the caller closes
** gf->f and frees *out. */
int llm_gguf_file_open(const char *path, llm_gguf_file *gf, llm_gguf **out, llm_err *err);
/* Stores a tokenizer read from a GGUF file (inside the caller's write). */
int llm_gguf_tokenizer_store(llm_conn *c, const char *name, const char *path, const llm_tokenizer *tok,
                             const llm_gguf_vocab_info *info, llm_err *err);
/* Storing typed tensors piece by piece (ext/tensor_pieces.c). */
typedef struct llm_pieces {
  llm_conn *c;
  const char *model;
  uint64_t piece; /* bytes per piece, at most */
  sqlite3_stmt *ins, *ins_part;
} llm_pieces;
/* biggest: the largest tensor's bytes (bounds the piece size). */
int llm_pieces_open(llm_pieces *p, llm_conn *c, const char *model, uint64_t biggest, llm_err *err);
void llm_pieces_close(llm_pieces *p);
/* The bytes of one piece of a tensor of type: whole blocks. */
uint64_t llm_pieces_size(const llm_pieces *p, uint32_t type);
/* Stores piece `part` (0, 1, ...) of tensor name; piece 0 carries its
** shape (JSON) and type. */
int llm_pieces_write(llm_pieces *p, const char *name, size_t name_len, int part, const char *shape, uint32_t type,
                     const void *data, size_t n, llm_err *err);
/* The JSON shape, outermost first, of GGUF dims ne (innermost first). */
void llm_shape_json(char *buf, size_t n, int n_dims, const int64_t *ne);

/* llm_import(name, 'gguf', path): the model and its tokenizer. */
void llm_import_gguf_model(sqlite3_context *ctx, llm_conn *c, const char *name, const char *path);
/* llm_export(name, 'gguf', path): writes the model (trained here, or from
** llama2.c) and its tokenizer; *bytes is the file's size. */
int llm_gguf_export(llm_conn *c, llm_model_entry *e, const char *path, sqlite3_int64 *bytes, llm_err *err);
/* Loads an imported model's tensors (info->gguf) into w->arenas and w->net. */
int llm_gguf_weights_load(llm_conn *c, const char *name, const llm_model_info *info, llm_loaded *w,
                          llm_err *err);

/* Imports the tokenizer of a GGUF file as name (llm_tokenizer_import's
** 'gguf' format); reports on ctx. */
void llm_import_gguf_tokenizer(sqlite3_context *ctx, llm_conn *c, const char *name,
                               sqlite3_value *path_arg);

/* Reads a whole file (at most 256 MB) into memory from llm_malloc. */
int llm_read_file(const char *path, char **out, size_t *n, llm_err *err);

/* Deletes a tokenizer's rows; sets *found. */
int llm_tokenizer_delete(llm_conn *c, const char *name, int *found,
                         llm_err *err);

/* The tokenizer named name, or the tokenizer of the model named name;
** loaded once per connection and cached; each call checks (one indexed
** lookup) that it was not dropped or replaced. *uid (may be NULL) receives
** the stored version's stamp. */
int llm_tokenizer_get(llm_conn *c, const char *name, llm_tokenizer **out,
                      sqlite3_int64 *uid, llm_err *err);

void llm_conn_unref(void *p);

/* ---- models (ext/model_store.c, ext/zblob.c) ---- */


/* The resumable state of a training run (llm_train_state). */
typedef struct llm_train_state {
  sqlite3_int64 step, tokens_seen;
  double elapsed_s;
} llm_train_state;

enum { LLM_ROLE_PARAM = 0, LLM_ROLE_ADAM_M = 1, LLM_ROLE_ADAM_V = 2 };

void llm_config_append_json(sqlite3_str *s, const llm_config *c);
/* Reads the config fields present in o into c (others left as they are). */
int llm_config_from_json(const llm_json *o, llm_config *c, llm_err *err);

int llm_model_info_get(llm_conn *c, const char *name, llm_model_info *info,
                       int *found, llm_err *err);
/* Only the row's uid (the stamp of its checkpoint): a cheap check. */
int llm_model_uid_get(llm_conn *c, const char *name, sqlite3_int64 *uid, int *found, llm_err *err);
/* Inserts the row, or updates it (its config, step and a new uid) when it
** exists. */
/* Deletes a model's tensors (llm_weights and llm_weight_parts). */
int llm_weights_drop(llm_conn *c, const char *name, llm_err *err);
/* Converts a Llama model imported from GGUF (float weights) into this
** engine's training layout, in one transaction (ext/gguf_finetune.c);
** *info becomes the converted model's row. */
int llm_gguf_make_trainable(llm_conn *c, const char *name, llm_model_info *info, llm_err *err);
int llm_model_info_put(llm_conn *c, const char *name,
                       const llm_model_info *info, size_t n_params,
                       llm_err *err);
int llm_model_delete(llm_conn *c, const char *name, llm_err *err);

/* Writes / reads every tensor of m for one role (parameters or a moment);
** data has the parameter buffer's layout. Loading checks names, shapes,
** dtype and sizes; *found is 0 when no row of that role exists. */
int llm_weights_save(llm_conn *c, const char *model, llm_model *m, int role,
                     const float *data, llm_err *err);
int llm_weights_load(llm_conn *c, const char *model, llm_model *m, int role,
                     float *dst, int *found, llm_err *err);

int llm_train_state_get(llm_conn *c, const char *model, llm_train_state *s,
                        int *found, llm_err *err);
int llm_train_state_put(llm_conn *c, const char *model,
                        const llm_train_state *s, const char *options_json,
                        llm_err *err);

/* The tokenized corpus of a model's run, if stored for this corpus_sql and
** tokenizer version. */
int llm_corpus_get(llm_conn *c, const char *model, const char *corpus_sql,
                   sqlite3_int64 tok_uid, llm_ids *out, int *found,
                   llm_err *err);
int llm_corpus_put(llm_conn *c, const char *model, const char *corpus_sql,
                   sqlite3_int64 tok_uid, const llm_ids *tokens, llm_err *err);

/* Default memory limit: 80% of physical memory, in MB. */
int64_t llm_memory_limit_mb(void);
/* Fails with a message naming what and the option to raise the limit when
** bytes exceed limit_mb. */
int llm_check_memory(const char *what, double bytes, int64_t limit_mb,
                     llm_err *err);

/* Binds data[0..n) compressed as BLOB parameter col of st. */
int llm_zblob_bind(sqlite3_stmt *st, int col, const void *data, size_t n,
                   llm_err *err);
/* The uncompressed size a BLOB records. */
int llm_zblob_size(const void *blob, size_t n, uint64_t *size, const char *what, llm_err *err);
/* Decompresses a stored BLOB into dst, which must receive exactly expected
** bytes; what names the BLOB in error messages. */
int llm_zblob_read(const void *blob, size_t n, void *dst, size_t expected,
                   const char *what, llm_err *err);

/* Appends s[0..n) as a JSON string literal (quoted, escaped; bytes that
** are not valid UTF-8 become U+FFFD). */
void llm_str_append_json(sqlite3_str *out, const char *s, size_t n);
/* Finishes out and makes it the function's TEXT result. */
void llm_result_str(sqlite3_context *ctx, sqlite3_str *out);

/* ---- models for inference (ext/model_cache.c) ---- */

/* The model named name, loaded (or reloaded after a new checkpoint). The
** entry stays valid until the next call on the connection. */
int llm_model_get(llm_conn *c, const char *name, llm_model_entry **out, llm_err *err);
/* The model's tokenizer and its start token (BPE: the end-of-text token;
** llama2.c: <s>; -1 when it has none). */
int llm_model_tokenizer(llm_conn *c, llm_model_entry *e, llm_tokenizer **tok, int32_t *bos,
                        llm_err *err);
/* "no model named ..." listing the stored ones. */
int llm_model_unknown(llm_conn *c, const char *name, llm_err *err);
/* The model an argument names: v's text, or when v is NULL (absent or SQL
** NULL) the default: llm_use's choice, else the only model stored. */
int llm_model_resolve(llm_conn *c, sqlite3_value *v, const char **name, llm_err *err);
/* The connection's thread pool, made on first use. */
int llm_conn_pool(llm_conn *c, llm_pool **out, llm_err *err);
void llm_loaded_ref(llm_loaded *w);
void llm_loaded_unref(llm_loaded *w);
/* The process's loaded copy of model name at checkpoint uid of the database
** llm_db_key names (referenced), or NULL (ext/shared_weights.c). */
llm_loaded *llm_loaded_find(const char *key, const char *name, sqlite3_int64 uid);
/* Registers w (with one reference) under that key and returns it, or, when
** another connection registered the same meanwhile, drops w and returns
** that one (referenced). A NULL key (no file) shares nothing. */
llm_loaded *llm_loaded_publish(llm_loaded *w, const char *key, const char *name, sqlite3_int64 uid);
/* A new inference sequence over loaded weights. */
int llm_loaded_infer(const llm_loaded *w, llm_infer **out, llm_err *err);
/* Frees the cached models, the pool and the default (at close). */
void llm_model_cache_clear(llm_conn *c);

/* ---- running models (ext/infer_fns.c) ---- */

#define LLM_MAX_GEN_TOKENS 1000000
#define LLM_MAX_STOPS 16

/* The option keys of generation (NULL-terminated). */
extern const char *const llm_gen_opts_keys[];
/* What generation options hold: the stop strings (pointing into the
** options' document) and the compiled JSON schema (freed by
** llm_gen_mem_free). Zero it before the first use. */
typedef struct llm_gen_mem {
  llm_bytes stops[LLM_MAX_STOPS];
  llm_jcon *json;
} llm_gen_mem;
void llm_gen_mem_free(llm_gen_mem *m);
/* Reads the generation options (max_tokens, temperature, top_k, top_p,
** min_p, repetition_penalty, seed, stop, json_schema, json, kv_cache) into g, with
** what they hold in m. */
int llm_gen_opts_read(const llm_json *o, llm_gen_opts *g, llm_gen_mem *m, llm_err *err);
/* llm_embed's options: pooling ("mean", "last", "cls"; absent: the
** model's own), normalize (default true). */
extern const char *const llm_embed_opts_keys[];
int llm_embed_opts_read(const llm_json *o, int *pooling, int *normalize, llm_err *err);
/* The same over the options g has already: those o names replace them. */
int llm_gen_opts_apply(const llm_json *o, llm_gen_opts *g, llm_gen_mem *m, llm_err *err);
/* Gives g the index of tok's vocabulary when its output is constrained to
** a JSON schema (built on first use, kept with the tokenizer). */
int llm_gen_opts_vocab(llm_conn *c, const llm_tokenizer *tok, llm_gen_opts *g, llm_err *err);
/* The ids the model sees for text: its start token (when it has one, then
** *bos is its id, else -1) and the text's tokens. */
int llm_text_tokens(llm_conn *c, llm_model_entry *e, const uint8_t *text, size_t n, llm_ids *out,
                    llm_tokenizer **tok, int32_t *bos, llm_err *err);
/* The same from the tokenizer, the start token (-1: none) and whether the
** model is an encoder (its texts get their [CLS] and [SEP]). */
int llm_tokens_of(llm_tokenizer *tok, int32_t bos, int encoder, const uint8_t *text, size_t n, llm_ids *out,
                  llm_err *err);
/* Generates after ids with the model's generator (e->gen), to the end
** (o->eos_id is set here from tok); the text is then llm_gen_text(e->gen). */
int llm_generate_run(llm_conn *c, llm_model_entry *e, llm_tokenizer *tok, const llm_ids *ids, llm_gen_opts *o,
                     llm_err *err);
/* The bytes as a TEXT result, with U+FFFD for each byte that is not part of
** valid UTF-8 (a generation may stop inside a character). */
void llm_result_text_utf8(sqlite3_context *ctx, const uint8_t *s, size_t n);

/* ---- BLAS (ext/blas.c) ---- */

/* Loads OpenBLAS once per process (see ext/blas.c); sets *errmsg. */
int llm_blas_load(char **errmsg);
/* OpenBLAS's configuration string (version, kernels in use). */
const char *llm_blas_config(void);

/* ---- table-valued functions (ext/vtab.c) ---- */

/* xBestIndex of a table-valued function whose n_args arguments are the
** hidden columns from first_arg on, the first n_required of them required
** (usage is the error when one is missing). idxNum gets bit a set when
** argument a is given; the given ones reach xFilter in order. */
int llm_vtab_args_best_index(sqlite3_vtab *vt, sqlite3_index_info *info,
                             int first_arg, int n_args, int n_required,
                             const char *usage);
/* The module destructor: the module's aux data is the llm_conn. */
void llm_vtab_module_destroy(void *conn);
/* Reports err on the table as "fn: message"; returns the SQLite code for
** xFilter / xNext to return (out of memory and interrupts as themselves). */
int llm_vtab_fail(sqlite3_vtab *vt, const char *fn, const llm_err *err);

/* A model's tokenizer held by a running table-valued function: looked up
** again by name when the connection's cache changed since (the pointer
** may then be stale), and checked to still fit the model's vocabulary. */
typedef struct llm_tok_ref {
  char *name;
  llm_tokenizer *tok;
  unsigned gen;
  int32_t vocab_size; /* the model's */
} llm_tok_ref;
/* Starts holding tok (named name) for a model of vocab_size ids. */
int llm_tok_ref_init(llm_tok_ref *r, llm_conn *c, const char *name, llm_tokenizer *tok, int32_t vocab_size,
                     llm_err *err);
/* The tokenizer, current. */
int llm_tok_ref_get(llm_tok_ref *r, llm_conn *c, llm_tokenizer **tok, llm_err *err);
void llm_tok_ref_free(llm_tok_ref *r);

/* ---- registration (ext/llm.c) ---- */

/* How a function touches the database, which sets its SQLite flags:
** PURE    DETERMINISTIC | INNOCUOUS (depends on its arguments only);
** READS   INNOCUOUS (reads the llm_* tables, harmless anywhere);
** WRITES  DIRECTONLY (writes tables or reads files: never from a view,
**         trigger or schema). */
enum { LLM_FN_PURE, LLM_FN_READS, LLM_FN_WRITES };
/* Or-ed into the kind: the function sets a subtype on its result. */
#define LLM_FN_SUBTYPE 0x100

typedef struct llm_fn_spec {
  const char *name;
  int n_arg;
  int kind;
  void (*fn)(sqlite3_context *, int, sqlite3_value **);
} llm_fn_spec;

int llm_register_fns(sqlite3 *db, llm_conn *c, const llm_fn_spec *specs,
                     size_t n);

int llm_register_tokenizer_fns(sqlite3 *db, llm_conn *c);
int llm_register_tokens_vtab(sqlite3 *db, llm_conn *c);
int llm_register_model_fns(sqlite3 *db, llm_conn *c);
int llm_register_train_vtab(sqlite3 *db, llm_conn *c);
int llm_register_infer_fns(sqlite3 *db, llm_conn *c);
int llm_register_generate_vtab(sqlite3 *db, llm_conn *c);
int llm_register_chunks_vtab(sqlite3 *db, llm_conn *c);
int llm_register_import_fns(sqlite3 *db, llm_conn *c);
int llm_register_quantize_fns(sqlite3 *db, llm_conn *c);
int llm_register_generate_rows_vtab(sqlite3 *db, llm_conn *c);
int llm_register_embed_rows_vtab(sqlite3 *db, llm_conn *c);
int llm_register_chat_fns(sqlite3 *db, llm_conn *c);
/* The token ids of a conversation (messages: a JSON array in text) in the
** chat template of model e, with the template's variables from opts (may be
** NULL; generation options are skipped), and the model's tokenizer. */
int llm_chat_tokens(llm_conn *c, llm_model_entry *e, sqlite3_value *messages, const llm_json *opts, llm_ids *ids,
                    llm_tokenizer **tok, llm_err *err);

/* ---- the rows of llm_generate_rows and llm_embed_rows (ext/rows_source.c) ---- */

/* The rows query: (key, text) or (key, text, options). */
typedef struct llm_rows {
  llm_conn *conn;
  sqlite3_stmt *st;
  int has_options;
  int64_t read;  /* rows read so far */
  int64_t total; /* rows in all, when counted (else -1) */
  int eof;
} llm_rows;

/* Prepares the query (checked as llm_prepare_user_query does; errors
** begin "rows_sql: "); with count, counts its rows first (for progress). */
int llm_rows_open(llm_conn *c, const char *sql, int count, llm_rows *r, llm_err *err);
/* Steps to the next row (its columns: sqlite3_column_* of r->st, valid
** until the next call): 1, or 0 at the end, -1 on an error. */
int llm_rows_next(llm_rows *r, llm_err *err);
void llm_rows_close(llm_rows *r);

/* A progress line on stderr ("what: done/total rows, rate unit/s"), at
** most five times a second; on is 1, 0 or -1 (when stderr is a terminal). */
typedef struct llm_progress {
  const char *what;
  int on;
  double started, last;
} llm_progress;
void llm_progress_start(llm_progress *p, const char *what, int on);
void llm_progress_show(llm_progress *p, int64_t done, int64_t total, int64_t units, const char *unit, int final);

#endif
