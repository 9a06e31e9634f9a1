/*
** vocab_store.c: the settings of imported vocabulary tokenizers (GGUF and
** Hugging Face files) in llm_tokenizers.config, and reading them back.
**
** Beside the llm_vocab rows (pieces as the file spells them) and the
** llm_merges rows, a vocabulary tokenizer needs what its config holds:
**   "patterns":    the pre-tokenizer's regular expressions (GGUF BPE)
**   "flags":       add_bos, add_eos, add_space_prefix, ignore_merges,
**                  chars, byte_fallback, fuse_unk (text/tokenizer.h)
**   "roles":       special ids by role ({"bos": 1, "eos": 2, ...})
**   "template":    {"prefix": [ids], "suffix": [ids]}: what an encoding
**                  with special tokens adds (Hugging Face post-processor)
**   "wordpiece":   {"prefix": "##", "max_chars": 100} (Hugging Face)
**   "token_flags": {"id": flags}: lstrip 1, rstrip 2, single_word 4
**   "hf":          {"normalizer", "pre_tokenizer", "decoder"} as in the
**                  tokenizer.json they came from
*/
#include <stdlib.h>
#include <string.h>

#include "formats/hf_tokenizer.h"
#include "formats/json.h"
#include "ext.h"

/* Flag names by bit (LLM_TOK_*), as config "flags" spells them. */
static const char *const FLAG_NAMES[] = {"add_bos", "add_eos", "add_space_prefix", "ignore_merges",
                                         "chars", "byte_fallback", "fuse_unk"};
#define N_FLAGS (int)(sizeof FLAG_NAMES / sizeof FLAG_NAMES[0])

static void append_ids(sqlite3_str *js, const int32_t *ids, size_t n) {
  sqlite3_str_appendall(js, "[");
  for (size_t i = 0; i < n; i++) sqlite3_str_appendf(js, i ? ",%d" : "%d", ids[i]);
  sqlite3_str_appendall(js, "]");
}

void llm_tokenizer_config_append(sqlite3_str *js, const llm_tokenizer *tok) {
  sqlite3_str_appendall(js, "\"patterns\":[");
  for (int i = 0; i < llm_tokenizer_n_patterns(tok); i++) {
    const char *p = llm_tokenizer_pattern(tok, i);
    if (i) sqlite3_str_appendall(js, ",");
    llm_str_append_json(js, p, strlen(p));
  }
  sqlite3_str_appendall(js, "],\"flags\":{");
  unsigned flags = llm_tokenizer_flags(tok);
  for (int f = 0; f < N_FLAGS; f++)
    sqlite3_str_appendf(js, "%s\"%s\":%s", f ? "," : "", FLAG_NAMES[f], flags & (1u << f) ? "true" : "false");
  sqlite3_str_appendall(js, "},\"roles\":{");
  int n = 0;
  for (int r = 0; r < LLM_ROLE_COUNT; r++) {
    int32_t id = llm_tokenizer_role(tok, r);
    if (id >= 0) sqlite3_str_appendf(js, "%s\"%s\":%d", n++ ? "," : "", llm_tokenizer_role_name(r), id);
  }
  sqlite3_str_appendall(js, "}");
  size_t np, ns;
  const int32_t *pre = llm_tokenizer_template(tok, 0, &np), *suf = llm_tokenizer_template(tok, 1, &ns);
  if (pre) {
    sqlite3_str_appendall(js, ",\"template\":{\"prefix\":");
    append_ids(js, pre, np);
    sqlite3_str_appendall(js, ",\"suffix\":");
    append_ids(js, suf, ns);
    sqlite3_str_appendall(js, "}");
  }
  int max_chars;
  const char *wp = llm_tokenizer_wordpiece(tok, &max_chars);
  if (wp) {
    sqlite3_str_appendall(js, ",\"wordpiece\":{\"prefix\":");
    llm_str_append_json(js, wp, strlen(wp));
    sqlite3_str_appendf(js, ",\"max_chars\":%d}", max_chars);
  }
  n = 0;
  for (int32_t id = 0; id < llm_tokenizer_n_vocab(tok); id++) {
    unsigned tf = llm_tokenizer_token_flags(tok, id);
    if (tf) sqlite3_str_appendf(js, "%s\"%d\":%u", n++ ? "," : ",\"token_flags\":{", id, tf);
  }
  if (n) sqlite3_str_appendall(js, "}");
}

void llm_vocab_summary_append(sqlite3_str *out, const llm_tokenizer *tok) {
  int counts[LLM_TOKEN_UNUSED + 1] = {0};
  for (int32_t id = 0; id < llm_tokenizer_n_vocab(tok); id++) {
    int k = llm_tokenizer_kind(tok, id);
    if (k >= 0 && k <= LLM_TOKEN_UNUSED) counts[k]++;
  }
  sqlite3_str_appendf(out,
                      "\"kind\":\"%s\",\"n_vocab\":%d,\"merges\":%d,\"special_tokens\":%d,"
                      "\"user_tokens\":%d,\"byte_tokens\":%d",
                      llm_tokenizer_type_name(llm_tokenizer_type(tok)), llm_tokenizer_n_vocab(tok),
                      llm_tokenizer_n_merges(tok), counts[LLM_TOKEN_SPECIAL], counts[LLM_TOKEN_USER],
                      counts[LLM_TOKEN_BYTE]);
}

/* The merges of llm_merges, in rank order. */
static int load_merges(llm_conn *c, const char *name, llm_tokenizer *tok, llm_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, "SELECT rank, left_id, right_id FROM llm_merges WHERE tokenizer = ? ORDER BY rank",
                         -1, &st, 0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot read llm_merges");
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = LLM_OK, step;
  sqlite3_int64 expect = 0;
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    if (sqlite3_column_int64(st, 0) != expect++)
      rc = llm_fail(err, LLM_EINVAL, "llm_merges has no rank %lld", expect - 1);
    else
      rc = llm_tokenizer_add_merge(tok, (int32_t)sqlite3_column_int(st, 1), (int32_t)sqlite3_column_int(st, 2), err);
  }
  if (!rc && step != SQLITE_DONE) rc = llm_db_fail(c, err, "cannot read llm_merges");
  sqlite3_finalize(st);
  return rc;
}

static int id_list(const llm_json *a, llm_ids *out, llm_err *err) {
  for (size_t i = 0; a && a->type == LLM_JSON_ARRAY && i < a->len; i++) {
    const llm_json *v = &a->items[i];
    if (v->type != LLM_JSON_NUMBER || !v->is_int || v->i < 0 || v->i > INT32_MAX)
      return llm_fail(err, LLM_EINVAL, "a template id is not a token id");
    if (llm_ids_push(out, (int32_t)v->i)) return llm_fail(err, LLM_ENOMEM, "out of memory");
  }
  return LLM_OK;
}

/* The settings of the config object (see the top of the file). */
static int apply_config(const llm_json *root, llm_tokenizer *tok, llm_err *err) {
  const llm_json *pats = llm_json_get(root, "patterns"), *flags = llm_json_get(root, "flags");
  const llm_json *roles = llm_json_get(root, "roles");
  if (!pats || pats->type != LLM_JSON_ARRAY || !flags || flags->type != LLM_JSON_OBJECT || !roles ||
      roles->type != LLM_JSON_OBJECT)
    return llm_fail(err, LLM_EINVAL, "its config lacks patterns, flags or roles");
  int rc = LLM_OK;
  const char *list[64];
  size_t np = pats->len < 64 ? pats->len : 64;
  for (size_t i = 0; i < np && !rc; i++)
    if (pats->items[i].type != LLM_JSON_STRING) rc = llm_fail(err, LLM_EINVAL, "a pattern is not a string");
    else list[i] = pats->items[i].str;
  if (!rc && np) rc = llm_tokenizer_set_patterns(tok, list, (int)np, err);
  const llm_json *hf = llm_json_get(root, "hf");
  if (!rc && hf) rc = llm_hf_tokenizer_attach(hf, tok, err);
  unsigned fl = 0;
  for (int f = 0; f < N_FLAGS; f++) {
    const llm_json *v = llm_json_get(flags, FLAG_NAMES[f]);
    if (v && v->type == LLM_JSON_BOOL && v->boolean) fl |= 1u << f;
  }
  llm_tokenizer_set_flags(tok, fl);
  for (int r = 0; r < LLM_ROLE_COUNT && !rc; r++) {
    const llm_json *v = llm_json_get(roles, llm_tokenizer_role_name(r));
    if (v) rc = v->type == LLM_JSON_NUMBER && v->is_int && v->i >= 0 && v->i < INT32_MAX
                    ? llm_tokenizer_set_role(tok, r, (int32_t)v->i, err)
                    : llm_fail(err, LLM_EINVAL, "role %s is not a token id", llm_tokenizer_role_name(r));
  }
  const llm_json *tpl = llm_json_get(root, "template");
  if (!rc && tpl) {
    llm_ids pre = {0}, suf = {0};
    rc = id_list(llm_json_get(tpl, "prefix"), &pre, err);
    if (!rc) rc = id_list(llm_json_get(tpl, "suffix"), &suf, err);
    if (!rc) rc = llm_tokenizer_set_template(tok, pre.data, pre.len, suf.data, suf.len, err);
    llm_ids_free(&pre);
    llm_ids_free(&suf);
  }
  const llm_json *wp = llm_json_get(root, "wordpiece");
  if (!rc && wp) {
    const llm_json *p = llm_json_get(wp, "prefix"), *m = llm_json_get(wp, "max_chars");
    rc = p && p->type == LLM_JSON_STRING && m && m->type == LLM_JSON_NUMBER && m->is_int
             ? llm_tokenizer_set_wordpiece(tok, p->str, (int)m->i, err)
             : llm_fail(err, LLM_EINVAL, "its wordpiece settings are malformed");
  }
  const llm_json *tf = llm_json_get(root, "token_flags");
  for (size_t i = 0; !rc && tf && tf->type == LLM_JSON_OBJECT && i < tf->len; i++) {
    const llm_json *v = &tf->items[i];
    rc = v->type == LLM_JSON_NUMBER && v->is_int
             ? llm_tokenizer_set_token_flags(tok, (int32_t)atoi(tf->keys[i].s), (unsigned)v->i, err)
             : llm_fail(err, LLM_EINVAL, "its token flags are malformed");
  }
  return rc;
}

int llm_vocab_settings_load(llm_conn *c, const char *name, llm_tokenizer *tok, llm_err *err) {
  int rc = llm_tokenizer_index(tok, err);
  if (rc) return rc;
  sqlite3_stmt *st;
  llm_json_doc *doc = NULL;
  if (sqlite3_prepare_v2(c->db, "SELECT config FROM llm_tokenizers WHERE name = ?", -1, &st, 0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot read llm_tokenizers");
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW) rc = llm_db_fail(c, err, "cannot read llm_tokenizers");
  else if (llm_json_parse((const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0), &doc, err))
    rc = llm_fail(err, LLM_EINVAL, "its config is not JSON");
  sqlite3_finalize(st);
  if (!rc) rc = load_merges(c, name, tok, err);
  if (!rc) rc = apply_config(llm_json_root(doc), tok, err);
  llm_json_free(doc);
  return rc;
}
