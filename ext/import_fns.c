/*
** import_fns.c: pretrained models from files into the database, and back.
**
**   SELECT llm_import('stories', 'llama2c', 'stories260K.bin', 'tok512.bin');
**       Reads a llama2.c checkpoint (the legacy format or version 1,
**       float32; see engine/formats/llama2c_ckpt.h) and its tokenizer file, and
**       stores them as an ordinary model and tokenizer, both named
**       'stories': llm_generate, llm_embed, llm_perplexity, llm_train all
**       work on it. Returns a JSON summary. Both names must be free.
**   SELECT llm_export('stories', 'llama2c', 'out.bin' [, 'tok.bin']);
**       Writes a Llama-architecture model as a legacy llama2.c checkpoint
**       (and its tokenizer, when it is a llama2.c one), so a model trained
**       or fine-tuned here runs in other tools; importing the files again
**       gives bitwise the same tensors and tokenizer. Files are written
**       next to their final name and renamed into place, so a failure
**       leaves no half file. Returns the number of bytes written.
** Both read or write files: they can only be called directly, never from a
** view or trigger.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "formats/llama2c.h"
#include "formats/llama2c_ckpt.h"
#include "ext.h"

/* The format argument of llama2c's import and export. */
static int check_format(sqlite3_context *ctx, sqlite3_value *v) {
  const char *f = sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
  if (f && !strcmp(f, "llama2c")) return 1;
  llm_result_errorf(ctx, "the format must be 'llama2c' or 'gguf' (got %s)", f ? f : "a non-text value");
  return 0;
}

static int is_format(sqlite3_value *v, const char *name) {
  return sqlite3_value_type(v) == SQLITE_TEXT && !strcmp((const char *)sqlite3_value_text(v), name);
}

static const char *path_arg(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *what) {
  if (sqlite3_value_type(argv[i]) != SQLITE_TEXT || !sqlite3_value_bytes(argv[i])) {
    llm_result_errorf(ctx, "the %s path must be non-empty text", what);
    return NULL;
  }
  return (const char *)sqlite3_value_text(argv[i]);
}

static int file_size(FILE *f, uint64_t *size) {
  if (fseek(f, 0, SEEK_END)) return -1;
  long n = ftell(f);
  if (n < 0 || fseek(f, 0, SEEK_SET)) return -1;
  *size = (uint64_t)n;
  return 0;
}

static int name_free(llm_conn *c, const char *name, llm_err *err) {
  llm_model_info info;
  int found;
  if (llm_model_info_get(c, name, &info, &found, err)) return err->code;
  if (found)
    return llm_fail(err, LLM_EINVAL, "a model named '%s' already exists; drop it first with llm_model_drop('%s')",
                    name, name);
  int e = llm_tokenizer_exists(c, name, err);
  if (e < 0) return err->code;
  if (e > 0)
    return llm_fail(err, LLM_EINVAL,
                    "a tokenizer named '%s' already exists; drop it first with llm_tokenizer_drop('%s')", name, name);
  return LLM_OK;
}

/* llm_import(name, 'gguf', path) */
static void import_gguf(sqlite3_context *ctx, int argc, sqlite3_value **argv, const char *name) {
  llm_conn *c = llm_ctx_conn(ctx);
  llm_err err = {0};
  const char *path;
  if (argc != 3) {
    llm_result_errorf(ctx, "llm_import(name, 'gguf', path) takes the file's path only (the tokenizer is inside)");
    return;
  }
  if (!(path = path_arg(ctx, argv, 2, "GGUF"))) return;
  if (llm_check_can_write(c, &err) || name_free(c, name, &err)) {
    llm_result_llm_err(ctx, &err);
    return;
  }
  llm_import_gguf_model(ctx, c, name, path);
}

static void fn_import(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_conn *c = llm_ctx_conn(ctx);
  const char *name = llm_arg_name(ctx, argv, 0, "model"), *ckpt, *tok_path;
  if (name && is_format(argv[1], "gguf")) {
    import_gguf(ctx, argc, argv, name);
    return;
  }
  if (name && argc != 4 && is_format(argv[1], "llama2c")) {
    llm_result_errorf(ctx, "llm_import(name, 'llama2c', checkpoint_path, tokenizer_path) needs both paths");
    return;
  }
  if (!name || !check_format(ctx, argv[1]) || !(ckpt = path_arg(ctx, argv, 2, "checkpoint")) ||
      !(tok_path = path_arg(ctx, argv, 3, "tokenizer")))
    return;
  llm_err err = {0};
  llm_llama2c_info info;
  llm_model *m = NULL;
  llm_tokenizer *tok = NULL;
  uint8_t head[LLM_LLAMA2C_HEADER_MAX];
  char *tok_data = NULL;
  size_t tok_len = 0;
  uint64_t size = 0;
  FILE *f = NULL;
  if (llm_check_can_write(c, &err) || name_free(c, name, &err)) goto done;
  if (!(f = fopen(ckpt, "rb"))) {
    llm_fail(&err, LLM_EIO, "cannot open the checkpoint '%s': %s", ckpt, strerror(errno));
    goto done;
  }
  if (file_size(f, &size)) {
    llm_fail(&err, LLM_EIO, "cannot read the checkpoint '%s'", ckpt);
    goto done;
  }
  size_t n = fread(head, 1, sizeof head, f);
  if (llm_llama2c_parse_header(head, n, size, &info, &err) ||
      llm_check_memory("this model", (double)llm_config_n_params(&info.config) * sizeof(float),
                       llm_memory_limit_mb(), &err) ||
      llm_read_file(tok_path, &tok_data, &tok_len, &err) ||
      llm_llama2c_tokenizer_parse((const uint8_t *)tok_data, tok_len, info.config.vocab_size, &tok, &err) ||
      llm_model_new(&info.config, &m, &err) || llm_llama2c_read_weights(f, &info, m, &err))
    goto done;
  llm_model_info mi;
  memset(&mi, 0, sizeof mi);
  mi.config = *llm_model_config(m);
  snprintf(mi.tokenizer, sizeof mi.tokenizer, "%s", name);
  if (strlen(name) >= sizeof mi.tokenizer) {
    llm_fail(&err, LLM_EINVAL, "the model name is too long");
    goto done;
  }
  if (llm_write_begin(c, &err)) goto done;
  int rc = llm_tokenizer_store(c, name, tok, "llama2c", NULL, "{\"format\":\"llama2c\"}", &err);
  if (!rc) rc = llm_model_info_put(c, name, &mi, llm_model_n_params(m), &err);
  if (!rc) rc = llm_weights_save(c, name, m, LLM_ROLE_PARAM, llm_model_params(m), &err);
  if (llm_write_end(c, rc == LLM_OK, &err)) goto done;
  sqlite3_str *s = sqlite3_str_new(c->db);
  sqlite3_str_appendf(s, "{\"model\":");
  llm_str_append_json(s, name, strlen(name));
  sqlite3_str_appendf(s, ",\"format\":\"llama2c\",\"version\":%d,\"n_params\":%lld,\"n_vocab\":%d,\"config\":",
                      info.version, (long long)llm_model_n_params(m), llm_tokenizer_n_vocab(tok));
  llm_config_append_json(s, llm_model_config(m));
  sqlite3_str_appendall(s, "}");
  llm_result_str(ctx, s);
done:
  if (err.code) llm_result_llm_err(ctx, &err);
  if (f) fclose(f);
  llm_free(tok_data);
  llm_tokenizer_free(tok);
  llm_model_free(m);
}

/* What an export writes into an open file. */
typedef int (*write_fn)(FILE *f, const void *obj, llm_err *err);

static int write_model(FILE *f, const void *m, llm_err *err) { return llm_llama2c_write(f, m, err); }
static int write_tokenizer(FILE *f, const void *t, llm_err *err) { return llm_llama2c_tokenizer_write(f, t, err); }

/* Writes obj to path through a temporary file renamed into place; adds the
** bytes written to *bytes. */
static int write_file(const char *path, write_fn fn, const void *obj, sqlite3_int64 *bytes, llm_err *err) {
  char *tmp = sqlite3_mprintf("%s.tmp-llm", path);
  if (!tmp) return llm_fail(err, LLM_ENOMEM, "out of memory");
  FILE *f = fopen(tmp, "wb");
  int rc = f ? fn(f, obj, err) : llm_fail(err, LLM_EIO, "cannot create '%s': %s", tmp, strerror(errno));
  if (f) {
    long n = ftell(f);
    if (n > 0) *bytes += n;
    if (fclose(f) && !rc) rc = llm_fail(err, LLM_EIO, "cannot write '%s': %s", tmp, strerror(errno));
  }
  if (!rc && rename(tmp, path)) rc = llm_fail(err, LLM_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
  if (rc) remove(tmp);
  sqlite3_free(tmp);
  return rc;
}

/* llm_export(name, 'gguf', path) */
static void export_gguf(sqlite3_context *ctx, int argc, sqlite3_value **argv, const char *name) {
  llm_conn *c = llm_ctx_conn(ctx);
  llm_err err = {0};
  llm_model_entry *e;
  sqlite3_int64 bytes = 0;
  const char *path;
  if (argc != 3) {
    llm_result_errorf(ctx, "llm_export(name, 'gguf', path) takes one path (the tokenizer goes inside)");
    return;
  }
  if (!(path = path_arg(ctx, argv, 2, "GGUF"))) return;
  if (llm_model_get(c, name, &e, &err) || llm_gguf_export(c, e, path, &bytes, &err))
    llm_result_llm_err(ctx, &err);
  else
    sqlite3_result_int64(ctx, bytes);
}

static void fn_export(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_conn *c = llm_ctx_conn(ctx);
  const char *name = llm_arg_name(ctx, argv, 0, "model"), *ckpt, *tok_path = NULL;
  if (name && is_format(argv[1], "gguf")) {
    export_gguf(ctx, argc, argv, name);
    return;
  }
  if (!name || !check_format(ctx, argv[1]) || !(ckpt = path_arg(ctx, argv, 2, "checkpoint"))) return;
  if (argc == 4 && !(tok_path = path_arg(ctx, argv, 3, "tokenizer"))) return;
  llm_err err = {0};
  llm_model_entry *e;
  llm_tokenizer *tok = NULL;
  int32_t bos;
  sqlite3_int64 bytes = 0;
  /* everything is checked before the first file is written */
  if (llm_model_get(c, name, &e, &err) || (tok_path && llm_model_tokenizer(c, e, &tok, &bos, &err))) goto fail;
  if (!e->weights->model || llm_model_config(e->weights->model)->arch != LLM_ARCH_LLAMA) {
    llm_fail(&err, LLM_EINVAL, "model '%s' is not of the Llama architecture: only those can be written as llama2.c "
             "checkpoints", name);
    goto fail;
  }
  if (tok && llm_tokenizer_type(tok) != LLM_TOKENIZER_SCORED) {
    llm_fail(&err, LLM_EINVAL, "model '%s' has a byte-level BPE tokenizer, which llama2.c cannot read: export the "
             "checkpoint alone", name);
    goto fail;
  }
  if (write_file(ckpt, write_model, e->weights->model, &bytes, &err) ||
      (tok && write_file(tok_path, write_tokenizer, tok, &bytes, &err)))
    goto fail;
  sqlite3_result_int64(ctx, bytes);
  return;
fail:
  llm_result_llm_err(ctx, &err);
}

int llm_register_import_fns(sqlite3 *db, llm_conn *c) {
  static const llm_fn_spec specs[] = {
      {"llm_import", 3, LLM_FN_WRITES, fn_import},
      {"llm_import", 4, LLM_FN_WRITES, fn_import},
      {"llm_export", 3, LLM_FN_WRITES, fn_export},
      {"llm_export", 4, LLM_FN_WRITES, fn_export},
  };
  return llm_register_fns(db, c, specs, sizeof specs / sizeof specs[0]);
}
