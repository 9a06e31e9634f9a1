/*
** model_cache.c: models loaded for inference, once per connection, and the
** default model.
**
** A model's weights are decompressed from llm_weights on first use and
** kept, with its KV cache, scratch and generator, so that a query over many
** rows pays for loading once. Every use reads the model's row in
** llm_models (one indexed lookup): a new uid there means a new checkpoint
** (a training run, or a write by another connection), and the model is
** loaded again. Loaded weights are reference-counted and shared by the
** process's connections (shared_weights.c): a generation that is streaming
** rows keeps the weights it started with even if the cache moves on to a
** newer checkpoint meanwhile.
*/
#include <string.h>

#include "ext.h"

int llm_loaded_infer(const llm_loaded *w, llm_infer **out, llm_err *err) {
  return llm_infer_new(&w->net, out, err);
}

static void entry_free(llm_model_entry *e) {
  llm_gen_free(e->gen);
  llm_infer_free(e->infer);
  llm_loaded_unref(e->weights);
  sqlite3_free(e->name);
  sqlite3_free(e);
}

void llm_model_cache_clear(llm_conn *c) {
  while (c->models) {
    llm_model_entry *e = c->models;
    c->models = e->next;
    entry_free(e);
  }
  llm_pool_free(c->pool);
  c->pool = NULL;
  sqlite3_free(c->default_model);
  sqlite3_free(c->only_model);
  c->default_model = c->only_model = NULL;
}

int llm_conn_pool(llm_conn *c, llm_pool **out, llm_err *err) {
  if (!c->pool && llm_pool_new(0, &c->pool, err)) return err->code;
  *out = c->pool;
  return LLM_OK;
}

/* Loads the weights of a model whose row is info (already in memory when
** another connection of the process has them: shared_weights.c). */
static int load_weights(llm_conn *c, const char *name, const llm_model_info *info,
                        llm_loaded **out, llm_err *err) {
  char *key = llm_db_key(c->db); /* NULL: nothing shared (no file, or no memory for the key) */
  if ((*out = llm_loaded_find(key, name, info->uid))) {
    sqlite3_free(key);
    return LLM_OK;
  }
  /* (an imported model's loader checks its own size) */
  double bytes = info->gguf ? 0 : (double)llm_config_n_params(&info->config) * sizeof(float);
  llm_loaded *w = NULL;
  int rc = llm_check_memory("this model's weights", bytes, llm_memory_limit_mb(), err);
  if (!rc && !(w = sqlite3_malloc(sizeof *w))) rc = llm_fail(err, LLM_ENOMEM, "out of memory");
  if (rc) {
    sqlite3_free(key);
    return rc;
  }
  memset(w, 0, sizeof *w);
  w->refs = 1;
  int found = 0;
  if (info->gguf) {
    rc = llm_gguf_weights_load(c, name, info, w, err);
  } else {
    rc = llm_model_new(&info->config, &w->model, err);
    if (!rc)
      rc = llm_weights_load(c, name, w->model, LLM_ROLE_PARAM, llm_model_params(w->model), &found, err);
    if (!rc && !found) rc = llm_fail(err, LLM_EINVAL, "model '%s' has no weights in llm_weights", name);
    if (!rc) rc = llm_net_from_model(&w->net, w->model, err);
  }
  if (!rc) *out = llm_loaded_publish(w, key, name, info->uid);
  else llm_loaded_unref(w);
  sqlite3_free(key);
  return rc;
}

int llm_model_get(llm_conn *c, const char *name, llm_model_entry **out, llm_err *err) {
  *out = NULL;
  llm_model_info info;
  sqlite3_int64 uid;
  int found;
  llm_model_entry **pp = &c->models;
  while (*pp && strcmp((*pp)->name, name)) pp = &(*pp)->next;
  /* the uid alone tells whether the cached entry is current; the whole row
  ** (its config JSON parsed) is read only to load */
  if (llm_model_uid_get(c, name, &uid, &found, err)) return err->code;
  if (*pp && (!found || (*pp)->info.uid != uid)) { /* dropped or retrained */
    llm_model_entry *stale = *pp;
    *pp = stale->next; /* (now the next entry: not this model's) */
    entry_free(stale);
    pp = NULL;
  }
  if (!found) return llm_model_unknown(c, name, err);
  if (!pp || !*pp) {
    if (llm_model_info_get(c, name, &info, &found, err)) return err->code;
    if (!found) return llm_model_unknown(c, name, err);
    llm_model_entry *e = sqlite3_malloc(sizeof *e);
    if (!e) return llm_fail(err, LLM_ENOMEM, "out of memory");
    memset(e, 0, sizeof *e);
    e->info = info;
    e->name = sqlite3_mprintf("%s", name);
    int rc = !e->name ? llm_fail(err, LLM_ENOMEM, "out of memory")
                      : llm_check_memory("running this model", (double)llm_infer_bytes(&info.config),
                                         llm_memory_limit_mb(), err);
    if (!rc) rc = load_weights(c, name, &info, &e->weights, err);
    if (!rc) rc = llm_loaded_infer(e->weights, &e->infer, err);
    if (!rc) rc = llm_gen_new(e->infer, &e->gen, err);
    if (rc) {
      entry_free(e);
      return rc;
    }
    e->next = c->models;
    c->models = e;
    pp = &c->models;
  }
  *out = *pp;
  return LLM_OK;
}

int llm_model_tokenizer(llm_conn *c, llm_model_entry *e, llm_tokenizer **tok, int32_t *bos,
                        llm_err *err) {
  if (llm_tokenizer_get(c, e->info.tokenizer, tok, NULL, err)) return err->code;
  if (llm_tokenizer_n_vocab(*tok) > e->info.config.vocab_size)
    return llm_fail(err, LLM_EINVAL,
                    "model '%s' has %d token ids but its tokenizer '%s' now has %d: "
                    "the tokenizer was replaced after the model was made",
                    e->name, e->info.config.vocab_size, e->info.tokenizer, llm_tokenizer_n_vocab(*tok));
  *bos = llm_tokenizer_bos_id(*tok);
  /* an imported vocabulary's start token only as its file says (Qwen has
  ** none); an encoder's tokens come with their [CLS] and [SEP]
  ** (llm_text_tokens). The tokenizers made here (and llama2.c's, GPT-2's)
  ** keep theirs, in a quantized copy of a model too. */
  int type = llm_tokenizer_type(*tok);
  int vocab = type == LLM_TOKENIZER_SPM || type == LLM_TOKENIZER_WORDPIECE ||
              (type == LLM_TOKENIZER_BPE && llm_tokenizer_n_merges(*tok) > 0);
  if (!e->weights->net.tr->decoder || (vocab && !(llm_tokenizer_flags(*tok) & LLM_TOK_ADD_BOS))) *bos = -1;
  return LLM_OK;
}

/* Lists the stored models into s as 'a', 'b', ... (at most a few). */
static int list_models(llm_conn *c, sqlite3_str *s, int *n, llm_err *err) {
  sqlite3_stmt *st;
  *n = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT name FROM llm_models ORDER BY name", -1, &st, 0) != SQLITE_OK) {
    if (strstr(sqlite3_errmsg(c->db), "no such table")) return LLM_OK;
    return llm_db_fail(c, err, "cannot read llm_models");
  }
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n < 8) sqlite3_str_appendf(s, "%s'%q'", *n ? ", " : "", sqlite3_column_text(st, 0));
    (*n)++;
  }
  if (*n > 8) sqlite3_str_appendf(s, " and %d more", *n - 8);
  sqlite3_finalize(st);
  return step == SQLITE_DONE ? LLM_OK : llm_db_fail(c, err, "cannot read llm_models");
}

int llm_model_unknown(llm_conn *c, const char *name, llm_err *err) {
  sqlite3_str *s = sqlite3_str_new(c->db);
  int n = 0;
  if (list_models(c, s, &n, err)) {
    sqlite3_free(sqlite3_str_finish(s));
    return err->code;
  }
  char *list = sqlite3_str_finish(s);
  llm_fail(err, LLM_EINVAL, "no model named '%s' (%s%s)", name, n ? "models stored: " : "no model is stored",
           n && list ? list : "");
  sqlite3_free(list);
  return err->code;
}

int llm_model_resolve(llm_conn *c, sqlite3_value *v, const char **name, llm_err *err) {
  if (v && sqlite3_value_type(v) != SQLITE_NULL) {
    if (sqlite3_value_type(v) != SQLITE_TEXT || sqlite3_value_bytes(v) == 0)
      return llm_fail(err, LLM_EINVAL, "the model name must be non-empty text (or NULL for the default model)");
    *name = (const char *)sqlite3_value_text(v);
    return *name ? LLM_OK : llm_fail(err, LLM_ENOMEM, "out of memory");
  }
  if (c->default_model) {
    *name = c->default_model;
    return LLM_OK;
  }
  /* the only model, if there is exactly one */
  sqlite3_stmt *st;
  int n = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT name FROM llm_models LIMIT 2", -1, &st, 0) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW && ++n == 1) {
      sqlite3_free(c->only_model);
      c->only_model = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
  }
  if (n == 1) {
    *name = c->only_model;
    return c->only_model ? LLM_OK : llm_fail(err, LLM_ENOMEM, "out of memory");
  }
  if (n == 0)
    return llm_fail(err, LLM_EINVAL,
                    "no model is stored in this database: create one with llm_model_create, or name one");
  sqlite3_str *s = sqlite3_str_new(c->db);
  if (list_models(c, s, &n, err)) {
    sqlite3_free(sqlite3_str_finish(s));
    return err->code;
  }
  char *list = sqlite3_str_finish(s);
  llm_fail(err, LLM_EINVAL, "no default model: name one (stored: %s), or choose one with SELECT llm_use('name')",
           list ? list : "");
  sqlite3_free(list);
  return err->code;
}
