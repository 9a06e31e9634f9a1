/*
** hf_import.c: Hugging Face tokenizers into the database.
**
**   SELECT llm_tokenizer_import('qwen3', 'hf', 'tokenizer.json' [, 'tokenizer_config.json']);
**
** imports a tokenizer.json (the format of the Hugging Face tokenizers
** library and of every model repository on the Hub): BPE (byte-level, as
** Llama 3, Qwen, GPT-2 and RoBERTa; or over characters with byte fallback,
** as Llama 2, Mistral and Gemma) or WordPiece (BERT, BGE, MiniLM), with
** its normalizer, pre-tokenizer, added tokens, post-processor and decoder,
** in one transaction. The tokenizer then encodes token for token as the
** Hugging Face library does (text/tokenizer.h, formats/hf_tokenizer.h).
** The repository's tokenizer_config.json, when given, brings the chat
** template (`chat_template`: a string, or a list of named templates, of
** which "default" is the one used), the start and end tokens the template
** reads (`bos_token`, `eos_token`: a string or an {"content": ...} object)
** and `add_bos_token`, kept in the tokenizer's config.
*/
#include <string.h>

#include "formats/hf_tokenizer.h"
#include "formats/json.h"
#include "ext.h"

/* Appends "key": <the member as the file has it> when root has it. */
static int append_member(llm_buf *b, const llm_json *root, const char *key, int *first) {
  const llm_json *v = llm_json_get(root, key);
  if (!v) return LLM_OK;
  if ((!*first && llm_buf_append(b, ",", 1)) || llm_json_write_str(key, strlen(key), b) ||
      llm_buf_append(b, ":", 1) || llm_json_write(v, b))
    return LLM_ENOMEM;
  *first = 0;
  return LLM_OK;
}

/* The chat members of a tokenizer_config.json, as members of our config
** (a leading comma each) appended to *b. */
static int chat_members(const llm_json *cfg, llm_buf *b, llm_err *err) {
  const llm_json *t = llm_json_get(cfg, "chat_template");
  if (t && t->type == LLM_JSON_ARRAY) { /* named templates: the default one, and all of them */
    const llm_json *def = NULL;
    for (size_t i = 0; i < t->len && !def; i++) {
      const llm_json *nm = llm_json_get(&t->items[i], "name");
      if (nm && nm->type == LLM_JSON_STRING && nm->len == 7 && !memcmp(nm->str, "default", 7))
        def = llm_json_get(&t->items[i], "template");
    }
    if ((def && (llm_buf_append(b, ",\"chat_template\":", strlen(",\"chat_template\":")) || llm_json_write(def, b))) ||
        llm_buf_append(b, ",\"chat_templates\":", strlen(",\"chat_templates\":")) || llm_json_write(t, b))
      return llm_fail(err, LLM_ENOMEM, "out of memory");
  } else if (t) {
    if (t->type != LLM_JSON_STRING)
      return llm_fail(err, LLM_EINVAL, "its \"chat_template\" is neither a string nor a list of named templates");
    if (llm_buf_append(b, ",\"chat_template\":", strlen(",\"chat_template\":")) || llm_json_write(t, b))
      return llm_fail(err, LLM_ENOMEM, "out of memory");
  }
  static const char *const tokens[] = {"bos_token", "eos_token"};
  for (int i = 0; i < 2; i++) {
    const llm_json *v = llm_json_get(cfg, tokens[i]);
    if (v && v->type == LLM_JSON_OBJECT) v = llm_json_get(v, "content");
    if (!v || v->type == LLM_JSON_NULL) continue;
    if (v->type != LLM_JSON_STRING) return llm_fail(err, LLM_EINVAL, "its \"%s\" is not a string", tokens[i]);
    if (llm_buf_append(b, ",", 1) || llm_json_write_str(tokens[i], strlen(tokens[i]), b) ||
        llm_buf_append(b, ":", 1) || llm_json_write(v, b))
      return llm_fail(err, LLM_ENOMEM, "out of memory");
  }
  const llm_json *add = llm_json_get(cfg, "add_bos_token");
  if (add && add->type != LLM_JSON_BOOL) return llm_fail(err, LLM_EINVAL, "its \"add_bos_token\" is not a boolean");
  const char *flag = add && add->boolean ? ",\"add_bos_token\":true" : ",\"add_bos_token\":false";
  if (add && llm_buf_append(b, flag, strlen(flag))) return llm_fail(err, LLM_ENOMEM, "out of memory");
  return LLM_OK;
}

static char *tokenizer_config(sqlite3 *db, const char *path, const llm_tokenizer *tok, const llm_json *root,
                              const llm_buf *chat) {
  llm_buf hf = {0};
  int first = 1;
  static const char *const parts[] = {"normalizer", "pre_tokenizer", "decoder"};
  int rc = LLM_OK;
  for (size_t i = 0; i < 3 && !rc; i++) rc = append_member(&hf, root, parts[i], &first);
  if (rc) {
    llm_buf_free(&hf);
    return NULL;
  }
  sqlite3_str *js = sqlite3_str_new(db);
  sqlite3_str_appendall(js, "{\"format\":\"hf\",\"file\":");
  llm_str_append_json(js, path, strlen(path));
  sqlite3_str_appendf(js, ",\"model\":\"%s\",", llm_tokenizer_type_name(llm_tokenizer_type(tok)));
  llm_tokenizer_config_append(js, tok);
  sqlite3_str_appendall(js, ",\"hf\":{");
  if (hf.len) sqlite3_str_append(js, (const char *)hf.data, (int)hf.len);
  sqlite3_str_appendall(js, "}");
  if (chat->len) sqlite3_str_append(js, (const char *)chat->data, (int)chat->len);
  sqlite3_str_appendall(js, "}");
  llm_buf_free(&hf);
  return sqlite3_str_finish(js);
}

static void summary(sqlite3_context *ctx, llm_conn *c, const char *name, const llm_tokenizer *tok) {
  int byte_level = llm_tokenizer_type(tok) == LLM_TOKENIZER_BPE && !(llm_tokenizer_flags(tok) & LLM_TOK_CHARS);
  sqlite3_str *out = sqlite3_str_new(c->db);
  sqlite3_str_appendall(out, "{\"name\":");
  llm_str_append_json(out, name, strlen(name));
  sqlite3_str_appendall(out, ",");
  llm_vocab_summary_append(out, tok);
  sqlite3_str_appendf(out, ",\"byte_level\":%s}", byte_level ? "true" : "false");
  llm_result_str(ctx, out);
}

void llm_import_hf_tokenizer(sqlite3_context *ctx, llm_conn *c, const char *name, sqlite3_value *path_arg,
                             sqlite3_value *config_arg) {
  if (sqlite3_value_type(path_arg) != SQLITE_TEXT || !sqlite3_value_bytes(path_arg) ||
      (config_arg && (sqlite3_value_type(config_arg) != SQLITE_TEXT || !sqlite3_value_bytes(config_arg)))) {
    llm_result_errorf(ctx, "the %s path must be a file path", config_arg ? "tokenizer_config.json" : "tokenizer.json");
    return;
  }
  const char *path = (const char *)sqlite3_value_text(path_arg);
  const char *cfg_path = config_arg ? (const char *)sqlite3_value_text(config_arg) : NULL;
  llm_err err = {0};
  char *data = NULL, *cfg_data = NULL;
  size_t len = 0, cfg_len = 0;
  llm_json_doc *doc = NULL, *cfg_doc = NULL;
  llm_tokenizer *tok = NULL;
  char *config = NULL;
  llm_buf chat = {0};
  if (llm_read_file(path, &data, &len, &err) || llm_json_parse(data, len, &doc, &err) ||
      llm_hf_tokenizer_build(llm_json_root(doc), &tok, &err)) {
    if (err.code == LLM_ENOMEM) sqlite3_result_error_nomem(ctx);
    else llm_result_errorf(ctx, "'%s': %s", path, err.msg);
    goto done;
  }
  if (cfg_path && (llm_read_file(cfg_path, &cfg_data, &cfg_len, &err) ||
                   llm_json_parse(cfg_data, cfg_len, &cfg_doc, &err) ||
                   (llm_json_root(cfg_doc)->type != LLM_JSON_OBJECT &&
                    llm_fail(&err, LLM_EINVAL, "not a JSON object")) ||
                   chat_members(llm_json_root(cfg_doc), &chat, &err))) {
    if (err.code == LLM_ENOMEM) sqlite3_result_error_nomem(ctx);
    else llm_result_errorf(ctx, "'%s': %s", cfg_path, err.msg);
    goto done;
  }
  if (!(config = tokenizer_config(c->db, path, tok, llm_json_root(doc), &chat))) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  int rc = llm_write_begin(c, &err);
  if (!rc) {
    rc = llm_tokenizer_store(c, name, tok, "hf", "hf", config, &err);
    rc = llm_write_end(c, rc == LLM_OK, &err);
  }
  if (rc) llm_result_llm_err(ctx, &err);
  else summary(ctx, c, name, tok);
done:
  sqlite3_free(config);
  llm_buf_free(&chat);
  llm_tokenizer_free(tok);
  llm_json_free(doc);
  llm_json_free(cfg_doc);
  llm_free(data);
  llm_free(cfg_data);
}
