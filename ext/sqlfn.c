/*
** sqlfn.c: the helpers every SQL function uses: errors that name the
** function, argument checks and JSON options.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text/utf8.h"
#include "ext.h"

const char *llm_fn_name(sqlite3_context *ctx) {
  const llm_fn *fn = sqlite3_user_data(ctx);
  return fn->name;
}

llm_conn *llm_ctx_conn(sqlite3_context *ctx) {
  const llm_fn *fn = sqlite3_user_data(ctx);
  return fn->conn;
}

void llm_result_errorf(sqlite3_context *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  char *full = msg ? sqlite3_mprintf("%s: %s", llm_fn_name(ctx), msg) : NULL;
  if (full)
    sqlite3_result_error(ctx, full, -1);
  else
    sqlite3_result_error_nomem(ctx);
  sqlite3_free(msg);
  sqlite3_free(full);
}


int llm_err_is_size(const llm_err *err) {
  return err->code == LLM_ENOMEM && strstr(err->msg, " MB") != NULL;
}

const char *llm_size_hint(void) {
  return " (SQLite's allocator gives at most 2 GB in one block; a smaller batch_size, block_size or model needs "
         "less)";
}

void llm_result_llm_err(sqlite3_context *ctx, const llm_err *err) {
  if (llm_err_is_size(err)) /* a size the user chose: say which */
    llm_result_errorf(ctx, "%s%s", err->msg, llm_size_hint());
  else if (err->code == LLM_ENOMEM)
    sqlite3_result_error_nomem(ctx);
  else
    llm_result_errorf(ctx, "%s", err->msg);
}

static const char *type_name(int t) {
  switch (t) {
    case SQLITE_INTEGER: return "an integer";
    case SQLITE_FLOAT: return "a real";
    case SQLITE_TEXT: return "text";
    case SQLITE_BLOB: return "a blob";
    default: return "NULL";
  }
}

const char *llm_arg_name(sqlite3_context *ctx, sqlite3_value **argv, int i,
                         const char *what) {
  int t = sqlite3_value_type(argv[i]);
  if (t != SQLITE_TEXT) {
    llm_result_errorf(ctx, "the %s name must be text, not %s", what,
                      type_name(t));
    return NULL;
  }
  const char *name = (const char *)sqlite3_value_text(argv[i]);
  if (!name) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  if (!name[0]) {
    llm_result_errorf(ctx, "the %s name must not be empty", what);
    return NULL;
  }
  return name;
}

const uint8_t *llm_arg_bytes(sqlite3_context *ctx, sqlite3_value **argv,
                             int i, const char *what, int *n, int *is_null) {
  int t = sqlite3_value_type(argv[i]);
  *is_null = t == SQLITE_NULL;
  *n = 0;
  if (*is_null) return NULL;
  if (t != SQLITE_TEXT && t != SQLITE_BLOB) {
    llm_result_errorf(ctx, "%s must be text or a blob, not %s", what,
                      type_name(t));
    return NULL;
  }
  /* value_blob never converts TEXT, so it returns the stored bytes as they
  ** are, whatever their encoding validity. */
  const uint8_t *p = sqlite3_value_blob(argv[i]);
  *n = sqlite3_value_bytes(argv[i]);
  if (!p && *n == 0) return (const uint8_t *)"";
  if (!p) sqlite3_result_error_nomem(ctx);
  return p;
}

int llm_options_parse(sqlite3_value *v, const char *const *allowed,
                      llm_json_doc **out, llm_err *err) {
  *out = NULL;
  if (!v || sqlite3_value_type(v) == SQLITE_NULL) return LLM_OK;
  if (sqlite3_value_type(v) != SQLITE_TEXT)
    return llm_fail(err, LLM_EINVAL,
                    "options must be a JSON object in text, not %s",
                    type_name(sqlite3_value_type(v)));
  const char *text = (const char *)sqlite3_value_text(v);
  llm_json_doc *doc = NULL;
  if (llm_json_parse(text ? text : "", (size_t)sqlite3_value_bytes(v), &doc,
                     err)) {
    if (err->code == LLM_ENOMEM) return err->code;
    char why[sizeof err->msg];
    memcpy(why, err->msg, sizeof why);
    return llm_fail(err, LLM_EINVAL, "options are not valid JSON: %s", why);
  }
  const llm_json *root = llm_json_root(doc);
  if (root->type != LLM_JSON_OBJECT) {
    llm_fail(err, LLM_EINVAL, "options must be a JSON object, not %s",
             llm_json_type_name(root->type));
    llm_json_free(doc);
    return err->code;
  }
  for (size_t k = 0; k < root->len; k++) {
    const llm_json_str *key = &root->keys[k];
    int known = 0;
    for (const char *const *a = allowed; *a && !known; a++)
      known = strlen(*a) == key->len && !memcmp(*a, key->s, key->len);
    if (known) continue;
    char list[200] = "";
    size_t used = 0;
    for (const char *const *a = allowed; *a && used < sizeof list; a++)
      used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                               a == allowed ? "" : ", ", *a);
    llm_fail(err, LLM_EINVAL, "unknown option \"%.100s\" (known: %s)", key->s,
             allowed[0] ? list : "none");
    llm_json_free(doc);
    return err->code;
  }
  *out = doc;
  return LLM_OK;
}

int llm_arg_options(sqlite3_context *ctx, int argc, sqlite3_value **argv,
                    int i, const char *const *allowed, llm_json_doc **out) {
  llm_err err = {0};
  if (llm_options_parse(i < argc ? argv[i] : NULL, allowed, out, &err)) {
    llm_result_llm_err(ctx, &err);
    return 0;
  }
  return 1;
}

const llm_json *llm_options_root(const llm_json_doc *doc) {
  return doc ? llm_json_root(doc) : NULL;
}

int llm_opt_int(const llm_json *opts, const char *key, int64_t lo, int64_t hi,
                int64_t *val, llm_err *err) {
  const llm_json *v = llm_json_get(opts, key);
  if (!v) return LLM_OK;
  if (v->type != LLM_JSON_NUMBER || !v->is_int)
    return llm_fail(err, LLM_EINVAL, "option \"%s\" must be an integer", key);
  if (v->i < lo || v->i > hi)
    return llm_fail(err, LLM_ERANGE, "option \"%s\" is %lld, outside %lld..%lld",
                    key, (long long)v->i, (long long)lo, (long long)hi);
  *val = v->i;
  return LLM_OK;
}

int llm_opt_bool(const llm_json *opts, const char *key, int *val,
                 llm_err *err) {
  const llm_json *v = llm_json_get(opts, key);
  if (!v) return LLM_OK;
  if (v->type != LLM_JSON_BOOL)
    return llm_fail(err, LLM_EINVAL, "option \"%s\" must be true or false",
                    key);
  *val = v->boolean;
  return LLM_OK;
}

int llm_opt_str(const llm_json *opts, const char *key, const char **val,
                llm_err *err) {
  const llm_json *v = llm_json_get(opts, key);
  if (!v) return LLM_OK;
  if (v->type != LLM_JSON_STRING)
    return llm_fail(err, LLM_EINVAL, "option \"%s\" must be a string", key);
  *val = v->str;
  return LLM_OK;
}

void llm_str_append_json(sqlite3_str *out, const char *s, size_t n) {
  const uint8_t *p = (const uint8_t *)s;
  sqlite3_str_appendchar(out, 1, '"');
  for (size_t i = 0; i < n;) {
    uint8_t ch = p[i];
    if (ch == '"' || ch == '\\') {
      sqlite3_str_appendf(out, "\\%c", ch);
      i++;
    } else if (ch < 0x20) {
      sqlite3_str_appendf(out, "\\u%04x", ch);
      i++;
    } else if (ch < 0x80) {
      sqlite3_str_appendchar(out, 1, (char)ch);
      i++;
    } else {
      int len;
      if (llm_utf8_decode(p + i, n - i, &len) < 0) {
        sqlite3_str_appendall(out, "\xEF\xBF\xBD");
      } else {
        sqlite3_str_append(out, s + i, len);
      }
      i += (size_t)len;
    }
  }
  sqlite3_str_appendchar(out, 1, '"');
}

void llm_result_str(sqlite3_context *ctx, sqlite3_str *out) {
  int failed = sqlite3_str_errcode(out) != SQLITE_OK;
  int n = sqlite3_str_length(out);
  char *text = sqlite3_str_finish(out);
  if (failed)
    sqlite3_result_error_nomem(ctx);
  else if (text)
    sqlite3_result_text(ctx, text, n, sqlite3_free);
  else
    sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
}
