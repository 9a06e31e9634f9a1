/*
** model_store.c: models in the llm_models, llm_weights, llm_train_state and
** llm_corpus tables (see sql/schema.sql).
**
** A checkpoint (parameters, AdamW moments, the training state and the
** model's step) is written by the caller inside one savepoint, so a crash
** leaves either the previous checkpoint or the new one, never a mixture.
*/
#include <stdio.h>
#include <string.h>

#include "ext.h"

static const char *const ROLE_NAMES[] = {"param", "adam_m", "adam_v"};

/* ---- config <-> JSON --------------------------------------------------- */

/* The config's fields, without the braces. */
static void config_fields(sqlite3_str *s, const llm_config *c) {
  sqlite3_str_appendf(s,
                      "\"arch\":\"%s\",\"n_layer\":%d,\"n_head\":%d,\"n_kv_head\":%d,\"n_embd\":%d,"
                      "\"n_hidden\":%d,\"block_size\":%d,\"vocab_size\":%d,\"tied_head\":%s,\"norm_eps\":%!.9g",
                      llm_arch_name(c->arch), c->n_layer, c->n_head, c->n_kv_head, c->n_embd, c->n_hidden,
                      c->block_size, c->vocab_size, c->tied_head != -1 ? "true" : "false", (double)c->norm_eps);
  if (c->arch != LLM_ARCH_GPT && c->rope_theta) sqlite3_str_appendf(s, ",\"rope_theta\":%!.9g", (double)c->rope_theta);
  /* the fields of imported architectures, when set */
  static const char *const INTS[] = {"head_dim",   "n_rot",         "sliding_window", "swa_period",
                                     "pooling",    "n_token_types", "has_rope_freqs"};
  const int32_t ints[] = {c->head_dim, c->n_rot,         c->sliding_window, c->swa_period,
                          c->pooling,  c->n_token_types, c->has_rope_freqs};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    if (ints[i]) sqlite3_str_appendf(s, ",\"%s\":%d", INTS[i], ints[i]);
  static const char *const FLOATS[] = {"rope_scale", "rope_theta_local", "attn_scale"};
  const float floats[] = {c->rope_scale, c->rope_theta_local, c->attn_scale};
  for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
    if (floats[i] != 0) sqlite3_str_appendf(s, ",\"%s\":%!.9g", FLOATS[i], (double)floats[i]);
}

void llm_config_append_json(sqlite3_str *s, const llm_config *c) {
  sqlite3_str_appendall(s, "{");
  config_fields(s, c);
  sqlite3_str_appendall(s, "}");
}

/* Reads an integer field of a config object into *v (left alone when the
** key is absent). */
static int cfg_int(const llm_json *o, const char *key, int64_t lo, int64_t hi, int32_t *v, llm_err *err) {
  int64_t x = *v;
  if (llm_opt_int(o, key, lo, hi, &x, err)) return err->code;
  *v = (int32_t)x;
  return LLM_OK;
}

int llm_config_from_json(const llm_json *o, llm_config *c, llm_err *err) {
  const char *arch = llm_arch_name(c->arch);
  if (llm_opt_str(o, "arch", &arch, err)) return err->code;
  c->arch = llm_arch_by_name(arch);
  if (c->arch < 0)
    return llm_fail(err, LLM_EINVAL, "\"arch\" must be \"gpt\" (or \"llama\"), not \"%.40s\"", arch);
  if (cfg_int(o, "n_layer", 1, LLM_MAX_LAYERS, &c->n_layer, err) ||
      cfg_int(o, "n_head", 1, LLM_MAX_EMBD, &c->n_head, err) ||
      cfg_int(o, "n_kv_head", 0, LLM_MAX_EMBD, &c->n_kv_head, err) ||
      cfg_int(o, "n_embd", 1, LLM_MAX_EMBD, &c->n_embd, err) ||
      cfg_int(o, "n_hidden", 0, 16 * LLM_MAX_EMBD, &c->n_hidden, err) ||
      cfg_int(o, "block_size", 1, INT32_MAX, &c->block_size, err) ||
      cfg_int(o, "vocab_size", 1, LLM_TOKENIZER_MAX_VOCAB, &c->vocab_size, err))
    return err->code;
  int tied = c->tied_head != -1;
  if (llm_opt_bool(o, "tied_head", &tied, err)) return err->code;
  c->tied_head = tied ? 1 : -1;
  const llm_json *eps = llm_json_get(o, "norm_eps");
  if (eps) {
    if (eps->type != LLM_JSON_NUMBER || !(eps->num > 0 && eps->num < 1))
      return llm_fail(err, LLM_ERANGE, "\"norm_eps\" must be a number in (0, 1)");
    c->norm_eps = (float)eps->num;
  }
  struct { const char *key; float *v; double lo, hi; } f[] = {
      {"rope_theta", &c->rope_theta, 1, 1e12},        {"rope_scale", &c->rope_scale, 1e-6, 1e6},
      {"rope_theta_local", &c->rope_theta_local, 1, 1e12}, {"attn_scale", &c->attn_scale, 1e-6, 1e3},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    const llm_json *v = llm_json_get(o, f[i].key);
    if (!v) continue;
    if (v->type != LLM_JSON_NUMBER || !(v->num >= f[i].lo && v->num < f[i].hi))
      return llm_fail(err, LLM_ERANGE, "\"%s\" must be a number in [%g, %g)", f[i].key, f[i].lo, f[i].hi);
    *f[i].v = (float)v->num;
  }
  /* the fields of imported architectures (bounds checked by llm_net_config_check) */
  if (cfg_int(o, "head_dim", 0, LLM_MAX_EMBD, &c->head_dim, err) ||
      cfg_int(o, "n_rot", 0, LLM_MAX_EMBD, &c->n_rot, err) ||
      cfg_int(o, "sliding_window", 0, INT32_MAX, &c->sliding_window, err) ||
      cfg_int(o, "swa_period", 0, LLM_MAX_LAYERS, &c->swa_period, err) ||
      cfg_int(o, "pooling", 0, LLM_POOL_CLS, &c->pooling, err) ||
      cfg_int(o, "n_token_types", 0, 1024, &c->n_token_types, err) ||
      cfg_int(o, "has_rope_freqs", 0, 1, &c->has_rope_freqs, err))
    return err->code;
  return LLM_OK;
}

/* ---- the llm_models row ------------------------------------------------ */

static int step_done(llm_conn *c, sqlite3_stmt *st, const char *doing, llm_err *err) {
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? LLM_OK : llm_db_fail(c, err, doing);
}

int llm_model_info_get(llm_conn *c, const char *name, llm_model_info *info, int *found, llm_err *err) {
  memset(info, 0, sizeof *info);
  *found = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, "SELECT tokenizer, config, step, uid FROM llm_models WHERE name = ?", -1, &st, 0) !=
      SQLITE_OK) {
    if (strstr(sqlite3_errmsg(c->db), "no such table")) return LLM_OK;
    return llm_db_fail(c, err, "cannot read llm_models");
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *found = 1;
    const char *tok = (const char *)sqlite3_column_text(st, 0);
    const char *cfg = (const char *)sqlite3_column_text(st, 1);
    snprintf(info->tokenizer, sizeof info->tokenizer, "%s", tok ? tok : "");
    info->step = sqlite3_column_int64(st, 2);
    info->uid = sqlite3_column_int64(st, 3);
    llm_json_doc *doc = NULL;
    rc = SQLITE_DONE;
    const char *layout = "stacked";
    if (!cfg || llm_json_parse(cfg, strlen(cfg), &doc, err) || llm_json_root(doc)->type != LLM_JSON_OBJECT ||
        llm_config_from_json(llm_json_root(doc), &info->config, err) ||
        llm_opt_str(llm_json_root(doc), "layout", &layout, err) ||
        ((info->gguf = !strcmp(layout, "gguf")) ? llm_net_config_check(&info->config, err)
                                                 : llm_config_check(&info->config, err))) {
      char why[sizeof err->msg];
      memcpy(why, err->msg, sizeof why);
      llm_fail(err, LLM_EINVAL, "model '%s' has a corrupt config in llm_models: %s", name, cfg ? why : "NULL");
    }
    llm_json_free(doc);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return llm_db_fail(c, err, "cannot read llm_models");
  return err->code;
}

int llm_model_uid_get(llm_conn *c, const char *name, sqlite3_int64 *uid, int *found, llm_err *err) {
  sqlite3_stmt *st;
  *found = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT uid FROM llm_models WHERE name = ?", -1, &st, 0) != SQLITE_OK) {
    if (strstr(sqlite3_errmsg(c->db), "no such table")) return LLM_OK;
    return llm_db_fail(c, err, "cannot read llm_models");
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *found = 1;
    *uid = sqlite3_column_int64(st, 0);
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? LLM_OK : llm_db_fail(c, err, "cannot read llm_models");
}

int llm_model_info_put(llm_conn *c, const char *name, const llm_model_info *info, size_t n_params, llm_err *err) {
  sqlite3_stmt *st;
  sqlite3_str *js = sqlite3_str_new(c->db);
  sqlite3_str_appendall(js, "{");
  config_fields(js, &info->config);
  /* the tensors' names and layout: GGUF's, per layer, or this engine's stacked ones */
  if (info->gguf) sqlite3_str_appendall(js, ",\"layout\":\"gguf\"");
  sqlite3_str_appendall(js, "}");
  char *cfg = sqlite3_str_finish(js);
  if (!cfg) return llm_fail(err, LLM_ENOMEM, "out of memory");
  sqlite3_int64 uid;
  sqlite3_randomness(sizeof uid, &uid);
  int rc = sqlite3_prepare_v2(c->db,
                              "INSERT INTO llm_models(name, tokenizer, arch, config, n_params, step, uid, created_at, "
                              "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, strftime('%Y-%m-%dT%H:%M:%fZ','now'), "
                              "strftime('%Y-%m-%dT%H:%M:%fZ','now')) ON CONFLICT(name) DO UPDATE SET arch = ?3, config = ?4, "
                              "n_params = ?5, step = ?6, uid = ?7, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
                              -1, &st, 0);
  if (rc != SQLITE_OK) {
    sqlite3_free(cfg);
    return llm_db_fail(c, err, "cannot write llm_models");
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, info->tokenizer, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, llm_arch_name(info->config.arch), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, cfg, -1, sqlite3_free);
  sqlite3_bind_int64(st, 5, (sqlite3_int64)n_params);
  sqlite3_bind_int64(st, 6, info->step);
  sqlite3_bind_int64(st, 7, uid);
  return step_done(c, st, "cannot write llm_models", err);
}

/* ---- tensors ----------------------------------------------------------- */

int llm_weights_save(llm_conn *c, const char *model, llm_model *m, int role, const float *data, llm_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db,
                         "INSERT INTO llm_weights(model, role, name, shape, dtype, data) VALUES (?, ?, ?, ?, 'f32', ?) "
                         "ON CONFLICT(model, role, name) DO UPDATE SET shape = excluded.shape, dtype = 'f32', "
                         "data = excluded.data",
                         -1, &st, 0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot write llm_weights");
  sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, ROLE_NAMES[role], -1, SQLITE_STATIC);
  int rc = LLM_OK;
  for (int i = 0; i < llm_model_n_tensors(m) && !rc; i++) {
    const llm_tensor *t = llm_model_tensor(m, i);
    char shape[96];
    size_t used = 0;
    for (int d = 0; d < t->ndim; d++)
      used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%lld", d ? "," : "[", (long long)t->shape[d]);
    snprintf(shape + used, sizeof shape - used, "]");
    sqlite3_bind_text(st, 3, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, shape, -1, SQLITE_TRANSIENT);
    rc = llm_zblob_bind(st, 5, data + t->offset, t->numel * sizeof(float), err);
    if (!rc && sqlite3_step(st) != SQLITE_DONE) rc = llm_db_fail(c, err, "cannot write llm_weights");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return rc;
}

/* Checks a stored shape (JSON text) against the tensor's. */
static int shape_matches(const char *stored, const llm_tensor *t) {
  char want[96];
  size_t used = 0;
  for (int d = 0; d < t->ndim; d++)
    used += (size_t)snprintf(want + used, sizeof want - used, "%s%lld", d ? "," : "[", (long long)t->shape[d]);
  snprintf(want + used, sizeof want - used, "]");
  /* stored shapes are written by us without spaces; tolerate spaces anyway */
  char compact[96];
  size_t k = 0;
  for (const char *p = stored; *p && k + 1 < sizeof compact; p++)
    if (*p != ' ') compact[k++] = *p;
  compact[k] = 0;
  return !strcmp(compact, want);
}

int llm_weights_load(llm_conn *c, const char *model, llm_model *m, int role, float *dst, int *found, llm_err *err) {
  sqlite3_stmt *st;
  *found = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT name, shape, dtype, data FROM llm_weights WHERE model = ? AND role = ?", -1,
                         &st, 0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot read llm_weights");
  sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, ROLE_NAMES[role], -1, SQLITE_STATIC);
  int n = llm_model_n_tensors(m), rc = LLM_OK, step;
  unsigned char *seen = sqlite3_malloc(n > 0 ? n : 1);
  if (!seen) {
    sqlite3_finalize(st);
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  }
  memset(seen, 0, (size_t)n);
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    const char *shape = (const char *)sqlite3_column_text(st, 1);
    const char *dtype = (const char *)sqlite3_column_text(st, 2);
    const llm_tensor *t = name ? llm_model_find(m, name) : NULL;
    char what[160];
    snprintf(what, sizeof what, "model '%s', tensor '%s' (%s)", model, name ? name : "NULL", ROLE_NAMES[role]);
    if (!t) {
      rc = llm_fail(err, LLM_EINVAL, "%s: no such tensor in this architecture", what);
    } else if (!shape || !shape_matches(shape, t)) {
      rc = llm_fail(err, LLM_EINVAL, "%s: stored shape %s does not match the config", what, shape ? shape : "NULL");
    } else if (!dtype || strcmp(dtype, "f32")) {
      rc = llm_fail(err, LLM_EINVAL, "%s: unsupported dtype '%s' (expected 'f32')", what, dtype ? dtype : "NULL");
    } else {
      int idx = (int)(t - llm_model_tensor(m, 0));
      rc = llm_zblob_read(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3), dst + t->offset,
                          t->numel * sizeof(float), what, err);
      seen[idx]++;
    }
  }
  if (!rc && step != SQLITE_DONE) rc = llm_db_fail(c, err, "cannot read llm_weights");
  sqlite3_finalize(st);
  int n_seen = 0;
  for (int i = 0; i < n; i++) n_seen += seen[i] != 0;
  if (!rc && n_seen > 0 && n_seen < n) {
    for (int i = 0; i < n; i++)
      if (!seen[i]) {
        rc = llm_fail(err, LLM_EINVAL, "model '%s': tensor '%s' (%s) is missing from llm_weights", model,
                      llm_model_tensor(m, i)->name, ROLE_NAMES[role]);
        break;
      }
  }
  sqlite3_free(seen);
  *found = !rc && n_seen == n;
  return rc;
}

/* ---- training state and corpus ------------------------------------------ */

int llm_train_state_get(llm_conn *c, const char *model, llm_train_state *s, int *found, llm_err *err) {
  sqlite3_stmt *st;
  memset(s, 0, sizeof *s);
  *found = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT step, tokens_seen, elapsed_s FROM llm_train_state WHERE model = ?", -1, &st,
                         0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot read llm_train_state");
  sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *found = 1;
    s->step = sqlite3_column_int64(st, 0);
    s->tokens_seen = sqlite3_column_int64(st, 1);
    s->elapsed_s = sqlite3_column_double(st, 2);
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? LLM_OK : llm_db_fail(c, err, "cannot read llm_train_state");
}

int llm_train_state_put(llm_conn *c, const char *model, const llm_train_state *s, const char *options_json,
                        llm_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db,
                         "INSERT OR REPLACE INTO llm_train_state(model, step, options, tokens_seen, elapsed_s, "
                         "updated_at) VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                         -1, &st, 0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot write llm_train_state");
  sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, s->step);
  sqlite3_bind_text(st, 3, options_json, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, s->tokens_seen);
  sqlite3_bind_double(st, 5, s->elapsed_s);
  return step_done(c, st, "cannot write llm_train_state", err);
}

int llm_corpus_get(llm_conn *c, const char *model, const char *corpus_sql, sqlite3_int64 tok_uid, llm_ids *out,
                   int *found, llm_err *err) {
  sqlite3_stmt *st;
  *found = 0;
  if (sqlite3_prepare_v2(c->db,
                         "SELECT n_tokens, data FROM llm_corpus WHERE model = ? AND corpus_sql = ? AND "
                         "tokenizer_uid = ?",
                         -1, &st, 0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot read llm_corpus");
  sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, corpus_sql, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, tok_uid);
  int rc = LLM_OK, step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    sqlite3_int64 n = sqlite3_column_int64(st, 0);
    if (n < 0 || (uint64_t)n > SIZE_MAX / 8) {
      rc = llm_fail(err, LLM_EINVAL, "model '%s': llm_corpus has a corrupt token count %lld", model, n);
    } else if (llm_grow((void **)&out->data, &out->cap, (size_t)n, sizeof(int32_t))) {
      rc = llm_fail(err, LLM_ENOMEM, "out of memory for %lld corpus tokens", n);
    } else {
      rc = llm_zblob_read(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), out->data,
                          (size_t)n * sizeof(int32_t), "the stored corpus (llm_corpus)", err);
      out->len = rc ? 0 : (size_t)n;
      *found = !rc;
    }
  } else if (step != SQLITE_DONE) {
    rc = llm_db_fail(c, err, "cannot read llm_corpus");
  }
  sqlite3_finalize(st);
  return rc;
}

int llm_corpus_put(llm_conn *c, const char *model, const char *corpus_sql, sqlite3_int64 tok_uid,
                   const llm_ids *tokens, llm_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db,
                         "INSERT OR REPLACE INTO llm_corpus(model, corpus_sql, tokenizer_uid, n_tokens, data) VALUES "
                         "(?, ?, ?, ?, ?)",
                         -1, &st, 0) != SQLITE_OK)
    return llm_db_fail(c, err, "cannot write llm_corpus");
  sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, corpus_sql, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, tok_uid);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)tokens->len);
  int rc = llm_zblob_bind(st, 5, tokens->data, tokens->len * sizeof(int32_t), err);
  if (rc) {
    sqlite3_finalize(st);
    return rc;
  }
  return step_done(c, st, "cannot write llm_corpus", err);
}

/* Runs the statements, each with the model's name as its parameter. */
static int delete_rows(llm_conn *c, const char *name, const char *const *sqls, size_t n, llm_err *err) {
  for (size_t i = 0; i < n; i++) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, sqls[i], -1, &st, 0) != SQLITE_OK)
      return llm_db_fail(c, err, "cannot delete the model");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (step_done(c, st, "cannot delete the model", err)) return err->code;
  }
  return LLM_OK;
}

int llm_weights_drop(llm_conn *c, const char *name, llm_err *err) {
  static const char *const sqls[] = {"DELETE FROM llm_weights WHERE model = ?",
                                     "DELETE FROM llm_weight_parts WHERE model = ?"};
  return delete_rows(c, name, sqls, 2, err);
}

int llm_model_delete(llm_conn *c, const char *name, llm_err *err) {
  static const char *const sqls[] = {
      "DELETE FROM llm_weights WHERE model = ?",   "DELETE FROM llm_weight_parts WHERE model = ?",
      "DELETE FROM llm_train_state WHERE model = ?", "DELETE FROM llm_corpus WHERE model = ?",
      "DELETE FROM llm_train_log WHERE model = ?", "DELETE FROM llm_models WHERE name = ?",
  };
  return delete_rows(c, name, sqls, sizeof sqls / sizeof sqls[0], err);
}
