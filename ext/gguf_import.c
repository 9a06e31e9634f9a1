/*
** gguf_import.c: GGUF files (llama.cpp's and Ollama's format) into the
** database.
**
**   SELECT llm_tokenizer_import('llama3', 'gguf', 'Llama-3.2-1B.Q4_K_M.gguf');
**
** imports the tokenizer stored in a GGUF file's metadata (a whole model or
** a vocabulary-only file): SentencePiece ('llama' models: Llama 2, Mistral,
** Phi-3, Gemma), byte-level BPE ('gpt2': Llama 3, Qwen, DeepSeek, Falcon,
** StarCoder, GPT-2, ...) with the pre-tokenizer the file names, or
** WordPiece ('bert'), with its token kinds, special ids, add_bos/add_eos
** and chat template, in one transaction. Only the metadata is read, in
** 64 KiB pieces, so a multi-gigabyte model file costs the size of its
** vocabulary. The tokenizer then encodes token for token as llama.cpp does.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "formats/gguf.h"
#include "formats/gguf_vocab.h"
#include "ext.h"

/* ---- reading a file through the GGUF reader's callback ------------------ */

int llm_gguf_file_read(void *ctx, uint64_t off, void *buf, size_t n, llm_err *err) {
  llm_gguf_file *gf = ctx;
  if (fseeko(gf->f, (off_t)off, SEEK_SET) != 0 || fread(buf, 1, n, gf->f) != n)
    return llm_fail(err, LLM_EIO, "cannot read %zu bytes at offset %llu of '%s': %s", n,
                    (unsigned long long)off, gf->path, ferror(gf->f) ? strerror(errno) : "end of file");
  return LLM_OK;
}

int llm_gguf_file_open(const char *path, llm_gguf_file *gf, llm_gguf **out, llm_err *err) {
  *out = NULL;
  gf->path = path;
  gf->f = fopen(path, "rb");
  if (!gf->f) return llm_fail(err, LLM_EIO, "cannot open '%s': %s", path, strerror(errno));
  int rc = LLM_OK;
  off_t size = -1;
  if (fseeko(gf->f, 0, SEEK_END) != 0 || (size = ftello(gf->f)) < 0)
    rc = llm_fail(err, LLM_EIO, "cannot find the size of '%s': %s", path, strerror(errno));
  if (!rc) rc = llm_gguf_open(out, llm_gguf_file_read, gf, (uint64_t)size, err);
  if (rc) {
    fclose(gf->f);
    gf->f = NULL;
  }
  return rc;
}

/* ---- the tokenizer -------------------------------------------------------- */

static char *tokenizer_config(sqlite3 *db, const char *path, const llm_tokenizer *tok,
                              const llm_gguf_vocab_info *info) {
  sqlite3_str *js = sqlite3_str_new(db);
  sqlite3_str_appendall(js, "{\"format\":\"gguf\",\"file\":");
  llm_str_append_json(js, path, strlen(path));
  sqlite3_str_appendall(js, ",\"model\":");
  llm_str_append_json(js, info->model, strlen(info->model));
  if (info->pre) {
    sqlite3_str_appendall(js, ",\"pre\":");
    llm_str_append_json(js, info->pre, strlen(info->pre));
  }
  sqlite3_str_appendall(js, ",");
  llm_tokenizer_config_append(js, tok);
  if (info->chat_template) {
    sqlite3_str_appendall(js, ",\"chat_template\":");
    llm_str_append_json(js, info->chat_template, info->chat_template_len);
  }
  sqlite3_str_appendall(js, "}");
  return sqlite3_str_finish(js);
}

/* The JSON summary llm_tokenizer_import returns. */
static void summary(sqlite3_context *ctx, llm_conn *c, const char *name, const llm_tokenizer *tok,
                    const llm_gguf_vocab_info *info) {
  sqlite3_str *out = sqlite3_str_new(c->db);
  sqlite3_str_appendall(out, "{\"name\":");
  llm_str_append_json(out, name, strlen(name));
  sqlite3_str_appendall(out, ",");
  llm_vocab_summary_append(out, tok);
  sqlite3_str_appendall(out, ",\"model\":");
  llm_str_append_json(out, info->model, strlen(info->model));
  if (info->pre) {
    sqlite3_str_appendall(out, ",\"pre\":");
    llm_str_append_json(out, info->pre, strlen(info->pre));
  }
  sqlite3_str_appendf(out, ",\"chat_template\":%s}", info->chat_template ? "true" : "false");
  llm_result_str(ctx, out);
}

int llm_gguf_tokenizer_store(llm_conn *c, const char *name, const char *path, const llm_tokenizer *tok,
                             const llm_gguf_vocab_info *info, llm_err *err) {
  char *config = tokenizer_config(c->db, path, tok, info);
  if (!config) return llm_fail(err, LLM_ENOMEM, "out of memory");
  int rc = llm_tokenizer_store(c, name, tok, "gguf", info->pre ? info->pre : "none", config, err);
  sqlite3_free(config);
  return rc;
}

void llm_import_gguf_tokenizer(sqlite3_context *ctx, llm_conn *c, const char *name,
                               sqlite3_value *path_arg) {
  if (sqlite3_value_type(path_arg) != SQLITE_TEXT || !sqlite3_value_bytes(path_arg)) {
    llm_result_errorf(ctx, "the GGUF path must be a file path");
    return;
  }
  const char *path = (const char *)sqlite3_value_text(path_arg);
  llm_err err = {0};
  llm_gguf_file gf = {0};
  llm_gguf *g = NULL;
  llm_tokenizer *tok = NULL;
  llm_gguf_vocab_info info;
  if (llm_gguf_file_open(path, &gf, &g, &err) || llm_gguf_vocab_load(g, &tok, &info, &err)) {
    if (err.code == LLM_ENOMEM) sqlite3_result_error_nomem(ctx);
    else llm_result_errorf(ctx, "'%s': %s", path, err.msg);
    goto done;
  }
  int rc = llm_write_begin(c, &err);
  if (!rc) {
    rc = llm_gguf_tokenizer_store(c, name, path, tok, &info, &err);
    rc = llm_write_end(c, rc == LLM_OK, &err);
  }
  if (rc) llm_result_llm_err(ctx, &err);
  else summary(ctx, c, name, tok, &info);
done:
  llm_tokenizer_free(tok);
  llm_gguf_free(g);
  if (gf.f) fclose(gf.f);
}
