/*
** chat_fns.c: a model's chat template in SQL.
**
**   SELECT llm_chat_prompt('qwen3', '[{"role": "system", "content": "Be brief."},
**                                     {"role": "user", "content": "Hi!"}]');
**
** llm_chat_prompt(model_or_tokenizer, messages_json [, options]) returns the
** conversation laid out in the model's own chat template (the tokenizer's
** `chat_template`: from a GGUF file's tokenizer.chat_template, or from the
** tokenizer_config.json given to llm_tokenizer_import(name, 'hf', ...)),
** rendered as Hugging Face's renderer renders it (engine/text/jinja.h).
** messages_json is an array of {"role", "content", ...} objects, passed to
** the template as `messages`. Options: add_generation_prompt (default
** true: the text ends where the assistant's reply begins), and any other
** variable the template reads (enable_thinking, tools, date_string, ...);
** bos_token and eos_token are the tokenizer's unless given. Not
** deterministic: a template may read the date (strftime_now).
**
** llm_chat(model, messages_json [, options]) renders the same prompt (with
** add_generation_prompt), generates, and returns the assistant's reply:
** options are llm_generate's, and the others are the template's variables;
** the reply ends at the model's end-of-turn token (<|im_end|>, <|eot_id|>,
** <end_of_turn>, ...), a stop string or max_tokens.
*/
#include <string.h>

#include "text/jinja.h"
#include "ext.h"

/* The tokenizer name of a model, or name itself when no model has it. */
static char *tokenizer_name(llm_conn *c, const char *name) {
  sqlite3_stmt *st;
  char *out = NULL;
  if (sqlite3_prepare_v2(c->db, "SELECT tokenizer FROM llm_models WHERE name = ?", -1, &st, 0) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) out = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  return out ? out : sqlite3_mprintf("%s", name);
}

/* The tokenizer's config JSON (sqlite3_malloc'd), or NULL with err set. */
static char *tokenizer_config(llm_conn *c, const char *tok, llm_err *err) {
  sqlite3_stmt *st;
  char *out = NULL;
  if (sqlite3_prepare_v2(c->db, "SELECT config FROM llm_tokenizers WHERE name = ?", -1, &st, 0) != SQLITE_OK) {
    llm_fail(err, LLM_EINVAL, "no model or tokenizer named '%s'", tok);
    return NULL;
  }
  sqlite3_bind_text(st, 1, tok, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) out = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
  else llm_fail(err, LLM_EINVAL, "no model or tokenizer named '%s'", tok);
  sqlite3_finalize(st);
  if (!out && !err->code) llm_fail(err, LLM_ENOMEM, "out of memory");
  return out;
}

/* Appends ,"key":"the text of token id" (nothing when id < 0). */
static int append_token(llm_buf *b, const char *key, const llm_tokenizer *tok, int32_t id) {
  size_t len;
  const uint8_t *p = id >= 0 ? llm_tokenizer_piece(tok, id, &len) : NULL;
  if (!p) return LLM_OK;
  return llm_buf_append(b, ",", 1) || llm_json_write_str(key, strlen(key), b) || llm_buf_append(b, ":", 1) ||
                 llm_json_write_str((const char *)p, len, b)
             ? LLM_ENOMEM
             : LLM_OK;
}

/* Whether key is one of the generation options (not a template variable). */
static int is_gen_key(const llm_json_str *k) {
  for (const char *const *g = llm_gen_opts_keys; *g; g++)
    if (strlen(*g) == k->len && !memcmp(*g, k->s, k->len)) return 1;
  return 0;
}

/* The template's variables: messages, add_generation_prompt, the start and
** end tokens, then the options'. */
static int variables(llm_conn *c, const char *tok_name, const llm_json *cfg, const llm_json *messages,
                     const llm_json *opts, int skip_gen, llm_buf *b, llm_err *err) {
  const llm_json *agp = opts ? llm_json_get(opts, "add_generation_prompt") : NULL;
  if (agp && agp->type != LLM_JSON_BOOL)
    return llm_fail(err, LLM_EINVAL, "option \"add_generation_prompt\" must be true or false");
  if (llm_buf_append(b, "{\"messages\":", 12) || llm_json_write(messages, b) ||
      llm_buf_append(b, agp && !agp->boolean ? ",\"add_generation_prompt\":false" : ",\"add_generation_prompt\":true",
                     agp && !agp->boolean ? 30 : 29))
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  static const char *const roles[] = {"bos_token", "eos_token"};
  llm_tokenizer *tok = NULL;
  for (int i = 0; i < 2; i++) {
    if (opts && llm_json_get(opts, roles[i])) continue;
    const llm_json *v = llm_json_get(cfg, roles[i]); /* a tokenizer_config.json's */
    if (v && v->type == LLM_JSON_STRING) {
      if (llm_buf_append(b, ",", 1) || llm_json_write_str(roles[i], strlen(roles[i]), b) ||
          llm_buf_append(b, ":", 1) || llm_json_write(v, b))
        return llm_fail(err, LLM_ENOMEM, "out of memory");
      continue;
    }
    if (!tok && llm_tokenizer_get(c, tok_name, &tok, NULL, err)) return err->code;
    if (append_token(b, roles[i], tok, i ? llm_tokenizer_eos_id(tok) : llm_tokenizer_bos_id(tok)))
      return llm_fail(err, LLM_ENOMEM, "out of memory");
  }
  for (size_t i = 0; opts && i < opts->len; i++) {
    const llm_json_str *k = &opts->keys[i];
    if ((k->len == 21 && !memcmp(k->s, "add_generation_prompt", 21)) || (k->len == 8 && !memcmp(k->s, "messages", 8)) ||
        (skip_gen && is_gen_key(k)))
      continue;
    if (llm_buf_append(b, ",", 1) || llm_json_write_str(k->s, k->len, b) || llm_buf_append(b, ":", 1) ||
        llm_json_write(&opts->items[i], b))
      return llm_fail(err, LLM_ENOMEM, "out of memory");
  }
  return llm_buf_append(b, "}", 1) ? llm_fail(err, LLM_ENOMEM, "out of memory") : LLM_OK;
}

/* Checks messages_json: an array of objects, each with a text "role". */
static int check_messages(const llm_json *m, llm_err *err) {
  if (m->type != LLM_JSON_ARRAY)
    return llm_fail(err, LLM_EINVAL, "messages must be a JSON array of {\"role\", \"content\"} objects, not %s",
                    llm_json_type_name(m->type));
  for (size_t i = 0; i < m->len; i++) {
    const llm_json *role = m->items[i].type == LLM_JSON_OBJECT ? llm_json_get(&m->items[i], "role") : NULL;
    if (!role || role->type != LLM_JSON_STRING)
      return llm_fail(err, LLM_EINVAL, "messages[%zu] must be an object with a \"role\" string", i);
  }
  return LLM_OK;
}

/* The conversation messages (JSON text) in the chat template of name (a
** model or tokenizer), into out; opts (may be NULL) holds the template's
** variables, less the generation options when skip_gen. */
static int render(llm_conn *c, const char *name, sqlite3_value *messages, const llm_json *opts, int skip_gen,
                  llm_buf *out, llm_err *err) {
  llm_json_doc *mdoc = NULL, *cdoc = NULL;
  llm_jinja *t = NULL;
  llm_buf vars = {0};
  char *tok_name = tokenizer_name(c, name), *cfg = NULL;
  const char *mtext = (const char *)sqlite3_value_text(messages);
  int rc = tok_name ? LLM_OK : llm_fail(err, LLM_ENOMEM, "out of memory");
  if (!rc && (sqlite3_value_type(messages) != SQLITE_TEXT || !mtext))
    rc = llm_fail(err, LLM_EINVAL, "messages must be the text of a JSON array");
  if (!rc && llm_json_parse(mtext, (size_t)sqlite3_value_bytes(messages), &mdoc, err)) {
    char why[sizeof err->msg];
    memcpy(why, err->msg, sizeof why);
    rc = llm_fail(err, LLM_EINVAL, "messages are not valid JSON: %s", why);
  }
  if (!rc) rc = check_messages(llm_json_root(mdoc), err);
  if (!rc && !(cfg = tokenizer_config(c, tok_name, err))) rc = err->code;
  if (!rc) rc = llm_json_parse(cfg, strlen(cfg), &cdoc, err);
  const llm_json *tmpl = rc ? NULL : llm_json_get(llm_json_root(cdoc), "chat_template");
  if (!rc && (!tmpl || tmpl->type != LLM_JSON_STRING))
    rc = llm_fail(err, LLM_EINVAL,
                  "tokenizer '%s' has no chat template (a GGUF file's tokenizer.chat_template comes with "
                  "llm_import; for a Hugging Face tokenizer give its tokenizer_config.json to "
                  "llm_tokenizer_import(name, 'hf', tokenizer_json, tokenizer_config_json))",
                  tok_name);
  if (!rc) rc = variables(c, tok_name, llm_json_root(cdoc), llm_json_root(mdoc), opts, skip_gen, &vars, err);
  if (!rc) rc = llm_jinja_compile(tmpl->str, tmpl->len, &t, err);
  if (!rc) rc = llm_jinja_render(t, (const char *)vars.data, vars.len, out, err);
  llm_jinja_free(t);
  llm_buf_free(&vars);
  llm_json_free(mdoc);
  llm_json_free(cdoc);
  sqlite3_free(cfg);
  sqlite3_free(tok_name);
  return rc;
}

/* The options argument: a JSON object in text, or NULL. */
static int options(sqlite3_value *v, llm_json_doc **doc, llm_err *err) {
  *doc = NULL;
  if (!v || sqlite3_value_type(v) == SQLITE_NULL) return LLM_OK;
  const char *o = (const char *)sqlite3_value_text(v);
  if (sqlite3_value_type(v) != SQLITE_TEXT || !o || llm_json_parse(o, strlen(o), doc, err) ||
      llm_json_root(*doc)->type != LLM_JSON_OBJECT)
    return llm_fail(err, LLM_EINVAL, "options must be a JSON object in text");
  return LLM_OK;
}

static void fn_chat_prompt(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_conn *c = llm_ctx_conn(ctx);
  const char *name = llm_arg_name(ctx, argv, 0, "model or tokenizer");
  if (!name) return;
  llm_err err = {0};
  llm_json_doc *odoc = NULL;
  llm_buf out = {0};
  int rc = options(argc > 2 ? argv[2] : NULL, &odoc, &err);
  if (!rc) rc = render(c, name, argv[1], odoc ? llm_json_root(odoc) : NULL, 0, &out, &err);
  if (rc) llm_result_llm_err(ctx, &err);
  else sqlite3_result_text64(ctx, out.len ? (const char *)out.data : "", out.len, SQLITE_TRANSIENT, SQLITE_UTF8);
  llm_buf_free(&out);
  llm_json_free(odoc);
}

int llm_chat_tokens(llm_conn *c, llm_model_entry *e, sqlite3_value *messages, const llm_json *opts, llm_ids *ids,
                    llm_tokenizer **tok, llm_err *err) {
  llm_buf text = {0};
  int32_t bos;
  int rc = render(c, e->name, messages, opts, 1, &text, err);
  if (!rc) rc = llm_model_tokenizer(c, e, tok, &bos, err);
  /* the template writes the start token itself; its special tokens' text
  ** becomes those tokens */
  ids->len = 0;
  if (!rc) rc = llm_tokenizer_encode(*tok, text.data ? text.data : (const uint8_t *)"", text.len,
                                     LLM_ENCODE_ALLOW_SPECIAL, ids, err);
  llm_buf_free(&text);
  return rc;
}

static void fn_chat(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_conn *c = llm_ctx_conn(ctx);
  llm_err err = {0};
  llm_json_doc *odoc = NULL;
  llm_gen_mem mem = {0};
  llm_gen_opts o;
  llm_model_entry *e;
  llm_tokenizer *tok;
  llm_ids ids = {0};
  const char *name;
  int rc = options(argc > 2 ? argv[2] : NULL, &odoc, &err);
  const llm_json *root = odoc ? llm_json_root(odoc) : NULL;
  if (!rc) rc = llm_gen_opts_read(root, &o, &mem, &err);
  if (!rc) rc = llm_model_resolve(c, argv[0], &name, &err);
  if (!rc) rc = llm_model_get(c, name, &e, &err);
  if (!rc) rc = llm_chat_tokens(c, e, argv[1], root, &ids, &tok, &err);
  o.bos_id = -1; /* the end of the reply is the model's end-of-turn token */
  if (!rc) rc = llm_generate_run(c, e, tok, &ids, &o, &err);
  llm_ids_free(&ids);
  llm_gen_mem_free(&mem);
  llm_json_free(odoc);
  if (rc) {
    if (err.code == LLM_EINTR) sqlite3_result_error_code(ctx, SQLITE_INTERRUPT);
    else llm_result_llm_err(ctx, &err);
    return;
  }
  size_t len;
  const uint8_t *text = llm_gen_text(e->gen, &len);
  llm_result_text_utf8(ctx, text, len);
}

int llm_register_chat_fns(sqlite3 *db, llm_conn *c) {
  static const llm_fn_spec specs[] = {
      {"llm_chat_prompt", 2, LLM_FN_READS, fn_chat_prompt},
      {"llm_chat_prompt", 3, LLM_FN_READS, fn_chat_prompt},
      {"llm_chat", 2, LLM_FN_READS, fn_chat},
      {"llm_chat", 3, LLM_FN_READS, fn_chat},
  };
  return llm_register_fns(db, c, specs, sizeof specs / sizeof specs[0]);
}
