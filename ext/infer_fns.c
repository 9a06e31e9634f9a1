/*
** infer_fns.c: running models on rows.
**
**   SELECT llm_generate('m', 'Once upon a time', '{"max_tokens": 50}');
**   SELECT id, llm_generate(prompt) FROM prompts;      -- the default model
**       The continuation of the prompt (not the prompt). Options:
**       max_tokens (128), temperature (1; 0 is greedy), top_k, top_p,
**       min_p, repetition_penalty, seed (0), stop (a string or an array),
**       kv_cache ("f32", the default, or "f16": half the cache's memory).
**   UPDATE docs SET emb = llm_embed('m', body [, options]);
**       A float32 little-endian BLOB of n_embd values (sqlite-vec's
**       format, subtype 223): the mean of the final hidden states, L2
**       normalised. Options: "pooling": "mean" | "last", "normalize".
**   SELECT llm_perplexity('m', body), llm_logprob('m', text [, prefix]);
**   SELECT llm_cosine_distance(a, b), llm_l2_distance(a, b);
**   SELECT llm_use('m');   -- the default model of this connection
**
** The model argument may be left out, or be NULL: then the connection's
** default model is used (llm_use's, else the only model stored). Prompts
** and texts are TEXT or BLOB (bytes); a NULL one gives NULL. The model's
** start token (the end-of-text token) goes before every prompt and text,
** so an empty prompt generates from the start.
*/
#include <math.h>
#include <string.h>

#include "text/utf8.h"
#include "ext.h"

/* sqlite-vec's subtype for float32 vectors. */
#define VEC_F32_SUBTYPE 223

/* ---- shared by the functions and llm_generate_tokens -------------------- */

const char *const llm_gen_opts_keys[] = {"max_tokens", "temperature", "top_k", "top_p", "min_p",
                                         "repetition_penalty", "seed", "stop", "json_schema", "json", "kv_cache",
                                         NULL};

void llm_gen_mem_free(llm_gen_mem *m) {
  llm_jcon_free(m->json);
  m->json = NULL;
}

int llm_gen_opts_read(const llm_json *o, llm_gen_opts *g, llm_gen_mem *m, llm_err *err) {
  memset(g, 0, sizeof *g);
  llm_sample_opts_default(&g->sample);
  g->max_tokens = 128;
  return llm_gen_opts_apply(o, g, m, err);
}

/* Options "json_schema" (a schema: an object, true, or its JSON text) and
** "json" (true: any JSON value; false: no constraint). */
static int json_opts_apply(const llm_json *o, llm_gen_opts *g, llm_gen_mem *m, llm_err *err) {
  const llm_json *schema = llm_json_get(o, "json_schema"), *any = llm_json_get(o, "json");
  if (any && any->type != LLM_JSON_BOOL)
    return llm_fail(err, LLM_EINVAL, "option \"json\" must be true (any JSON value) or false");
  if (!schema && !any) return LLM_OK;
  if (schema && any && !any->boolean)
    return llm_fail(err, LLM_EINVAL, "options \"json\": false and \"json_schema\" contradict each other");
  llm_jcon_free(m->json);
  m->json = NULL;
  g->json = NULL;
  if (!schema && !any->boolean) return LLM_OK;
  int rc;
  char why[sizeof err->msg];
  if (schema && schema->type == LLM_JSON_STRING) rc = llm_jcon_compile(schema->str, schema->len, &m->json, err);
  else if (schema && (schema->type == LLM_JSON_OBJECT || schema->type == LLM_JSON_BOOL))
    rc = llm_jcon_compile_value(schema, &m->json, err);
  else if (schema)
    return llm_fail(err, LLM_EINVAL, "option \"json_schema\" must be a JSON schema (an object), not %s",
                    llm_json_type_name(schema->type));
  else rc = llm_jcon_compile_value(NULL, &m->json, err);
  if (rc == LLM_ENOMEM) return rc;
  if (rc) {
    memcpy(why, err->msg, sizeof why);
    return llm_fail(err, rc, "option \"json_schema\": %s", why);
  }
  g->json = m->json;
  return LLM_OK;
}

/* Option "kv_cache": the KV cache's element type, "f32" or "f16". */
static int kv_opt_apply(const llm_json *o, llm_gen_opts *g, llm_err *err) {
  const char *kv = NULL;
  if (llm_opt_str(o, "kv_cache", &kv, err)) return err->code;
  if (!kv) return LLM_OK;
  if (strcmp(kv, "f32") && strcmp(kv, "f16"))
    return llm_fail(err, LLM_EINVAL, "option \"kv_cache\" must be \"f32\" or \"f16\", not \"%.40s\"", kv);
  g->kv_type = strcmp(kv, "f16") ? LLM_KV_F32 : LLM_KV_F16;
  return LLM_OK;
}

int llm_gen_opts_apply(const llm_json *o, llm_gen_opts *g, llm_gen_mem *m, llm_err *err) {
  llm_bytes *stops = m->stops;
  int64_t top_k = g->sample.top_k, seed = (int64_t)g->seed;
  struct { const char *key; float *v; } reals[] = {
      {"temperature", &g->sample.temperature}, {"top_p", &g->sample.top_p},
      {"min_p", &g->sample.min_p}, {"repetition_penalty", &g->sample.repetition_penalty}};
  for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
    const llm_json *v = llm_json_get(o, reals[i].key);
    if (!v) continue;
    if (v->type != LLM_JSON_NUMBER || !isfinite(v->num))
      return llm_fail(err, LLM_EINVAL, "option \"%s\" must be a number", reals[i].key);
    *reals[i].v = (float)v->num;
  }
  if (llm_opt_int(o, "max_tokens", 0, LLM_MAX_GEN_TOKENS, &g->max_tokens, err) ||
      llm_opt_int(o, "top_k", 0, INT32_MAX, &top_k, err) ||
      llm_opt_int(o, "seed", INT64_MIN, INT64_MAX, &seed, err))
    return err->code;
  g->sample.top_k = (int32_t)top_k;
  g->seed = (uint64_t)seed;
  const llm_json *st = llm_json_get(o, "stop");
  if (st) {
    size_t n = st->type == LLM_JSON_ARRAY ? st->len : 1;
    if (st->type != LLM_JSON_ARRAY && st->type != LLM_JSON_STRING)
      return llm_fail(err, LLM_EINVAL, "option \"stop\" must be a string or an array of strings");
    if (n > LLM_MAX_STOPS)
      return llm_fail(err, LLM_ERANGE, "option \"stop\" has %zu strings (at most %d)", n, LLM_MAX_STOPS);
    for (size_t i = 0; i < n; i++) {
      const llm_json *s = st->type == LLM_JSON_ARRAY ? &st->items[i] : st;
      if (s->type != LLM_JSON_STRING || s->len == 0 || s->len > 1024)
        return llm_fail(err, LLM_EINVAL, "option \"stop\": each stop must be a non-empty string of at most 1024 bytes");
      stops[i].data = (const uint8_t *)s->str;
      stops[i].len = s->len;
    }
    g->stops = stops;
    g->n_stops = n;
  }
  if (json_opts_apply(o, g, m, err) || kv_opt_apply(o, g, err)) return err->code;
  return llm_sample_opts_check(&g->sample, err);
}

int llm_tokens_of(llm_tokenizer *tok, int32_t bos, int encoder, const uint8_t *text, size_t n, llm_ids *out,
                  llm_err *err) {
  out->len = 0;
  if (bos >= 0 && llm_ids_push(out, bos)) return llm_fail(err, LLM_ENOMEM, "out of memory");
  /* an encoder's: [CLS] text [SEP], all embedded */
  return llm_tokenizer_encode(tok, text, n, encoder ? LLM_ENCODE_ADD_SPECIAL : 0, out, err);
}

int llm_text_tokens(llm_conn *c, llm_model_entry *e, const uint8_t *text, size_t n, llm_ids *out,
                    llm_tokenizer **tok_out, int32_t *bos_out, llm_err *err) {
  llm_tokenizer *tok;
  int32_t bos;
  if (llm_model_tokenizer(c, e, &tok, &bos, err) ||
      llm_tokens_of(tok, bos, !e->weights->net.tr->decoder, text, n, out, err))
    return err->code;
  if (tok_out) *tok_out = tok;
  if (bos_out) *bos_out = bos;
  return LLM_OK;
}

void llm_result_text_utf8(sqlite3_context *ctx, const uint8_t *s, size_t n) {
  size_t i = 0;
  int len;
  while (i < n && (s[i] < 0x80 || llm_utf8_decode(s + i, n - i, &len) >= 0)) i += s[i] < 0x80 ? 1 : (size_t)len;
  if (i == n) { /* valid: as it is */
    sqlite3_result_text64(ctx, (const char *)s, n, SQLITE_TRANSIENT, SQLITE_UTF8);
    return;
  }
  sqlite3_str *out = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  sqlite3_str_append(out, (const char *)s, (int)i);
  while (i < n) {
    if (llm_utf8_decode(s + i, n - i, &len) < 0) {
      sqlite3_str_appendall(out, "\xEF\xBF\xBD");
      len = 1;
    } else {
      sqlite3_str_append(out, (const char *)s + i, len);
    }
    i += (size_t)len;
  }
  llm_result_str(ctx, out);
}

/* ---- arguments ----------------------------------------------------------- */

/* The model (argument model_arg, or the default when it is absent: < 0) and
** the bytes of argument text_arg; *is_null when that is NULL. Reports an
** error on ctx and returns NULL on failure. */
static llm_model_entry *model_and_text(sqlite3_context *ctx, sqlite3_value **argv, int model_arg,
                                       int text_arg, const char *what, const uint8_t **text, int *n,
                                       int *is_null) {
  *text = llm_arg_bytes(ctx, argv, text_arg, what, n, is_null);
  if (!*text) return NULL;
  llm_conn *c = llm_ctx_conn(ctx);
  llm_err err = {0};
  const char *name;
  llm_model_entry *e;
  if (llm_model_resolve(c, model_arg >= 0 ? argv[model_arg] : NULL, &name, &err) ||
      llm_model_get(c, name, &e, &err)) {
    llm_result_llm_err(ctx, &err);
    return NULL;
  }
  return e;
}

static void report(sqlite3_context *ctx, const llm_err *err) {
  if (err->code == LLM_EINTR)
    sqlite3_result_error_code(ctx, SQLITE_INTERRUPT);
  else
    llm_result_llm_err(ctx, err);
}

/* ---- llm_generate ---------------------------------------------------------- */

int llm_generate_run(llm_conn *c, llm_model_entry *e, llm_tokenizer *tok, const llm_ids *ids, llm_gen_opts *o,
                     llm_err *err) {
  llm_pool *pool;
  llm_stop stop = {llm_interrupted, c};
  int32_t t;
  if (ids->len == 0)
    return llm_fail(err, LLM_EINVAL, "the prompt is empty and model '%s' has no start token", e->name);
  o->eos_id = llm_tokenizer_eos_id(tok);
  int rc = llm_gen_opts_vocab(c, tok, o, err);
  if (!rc) rc = llm_conn_pool(c, &pool, err);
  if (!rc) rc = llm_gen_start(e->gen, o, ids->data, ids->len, pool, &stop, err);
  while (!rc && !llm_gen_finish(e->gen)) {
    /* (the check runs a statement: every few tokens is soon enough) */
    if (llm_gen_count(e->gen) % 16 == 15 && llm_interrupted(c)) rc = llm_fail(err, LLM_EINTR, "interrupted");
    if (!rc) rc = llm_gen_step(e->gen, tok, pool, &t, NULL, err);
  }
  return rc;
}

static void fn_generate(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int model_arg = argc >= 2 ? 0 : -1, text_arg = argc >= 2 ? 1 : 0, is_null, n;
  const uint8_t *prompt;
  llm_json_doc *doc = NULL;
  llm_gen_mem mem = {0};
  llm_gen_opts o;
  llm_err err = {0};
  if (!llm_arg_options(ctx, argc, argv, 2, llm_gen_opts_keys, &doc)) return;
  if (llm_gen_opts_read(llm_options_root(doc), &o, &mem, &err)) {
    llm_result_llm_err(ctx, &err);
    goto done;
  }
  llm_model_entry *e = model_and_text(ctx, argv, model_arg, text_arg, "the prompt", &prompt, &n, &is_null);
  if (!e || is_null) goto done;
  llm_conn *c = llm_ctx_conn(ctx);
  llm_ids ids = {0};
  llm_tokenizer *tok;
  int32_t bos;
  int rc = llm_text_tokens(c, e, prompt, (size_t)n, &ids, &tok, &bos, &err);
  o.bos_id = e->info.gguf ? -1 : bos; /* an imported model stops at its end-of-generation tokens only */
  if (!rc) rc = llm_generate_run(c, e, tok, &ids, &o, &err);
  llm_ids_free(&ids);
  if (rc) {
    report(ctx, &err);
    goto done;
  }
  size_t len;
  const uint8_t *text = llm_gen_text(e->gen, &len);
  llm_result_text_utf8(ctx, text, len);
done:
  llm_gen_mem_free(&mem);
  llm_json_free(doc);
}

/* ---- llm_embed ------------------------------------------------------------- */

const char *const llm_embed_opts_keys[] = {"pooling", "normalize", NULL};

int llm_embed_opts_read(const llm_json *o, int *pooling, int *normalize, llm_err *err) {
  static const char *const names[] = {"mean", "last", "cls"};
  static const int ids[] = {LLM_POOL_MEAN, LLM_POOL_LAST, LLM_POOL_CLS};
  const char *name = NULL;
  *pooling = LLM_POOL_DEFAULT; /* the model's own (a GGUF file's), else mean */
  *normalize = 1;
  if (llm_opt_str(o, "pooling", &name, err) || llm_opt_bool(o, "normalize", normalize, err)) return err->code;
  for (int i = 0; name && i < 3; i++)
    if (!strcmp(name, names[i])) *pooling = ids[i];
  if (name && *pooling == LLM_POOL_DEFAULT)
    return llm_fail(err, LLM_EINVAL, "option \"pooling\" must be \"mean\", \"last\" or \"cls\", not \"%.40s\"",
                    name);
  return LLM_OK;
}

static void fn_embed(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int model_arg = argc >= 2 ? 0 : -1, text_arg = argc >= 2 ? 1 : 0, is_null, n;
  llm_json_doc *doc = NULL;
  llm_err err = {0};
  int normalize, pooling;
  if (!llm_arg_options(ctx, argc, argv, 2, llm_embed_opts_keys, &doc)) return;
  if (llm_embed_opts_read(llm_options_root(doc), &pooling, &normalize, &err)) {
    llm_result_llm_err(ctx, &err);
    llm_json_free(doc);
    return;
  }
  llm_json_free(doc);
  const uint8_t *text;
  llm_model_entry *e = model_and_text(ctx, argv, model_arg, text_arg, "the text", &text, &n, &is_null);
  if (!e || is_null) return;
  llm_conn *c = llm_ctx_conn(ctx);
  llm_ids ids = {0};
  llm_pool *pool;
  llm_stop stop = {llm_interrupted, c};
  size_t C = (size_t)e->info.config.n_embd;
  float *vec = sqlite3_malloc64(C * sizeof *vec);
  int32_t bos = -1;
  int rc = vec ? llm_text_tokens(c, e, text, (size_t)n, &ids, NULL, &bos, &err)
               : llm_fail(&err, LLM_ENOMEM, "out of memory");
  if (!rc && ids.len == 0)
    rc = llm_fail(&err, LLM_EINVAL, "the text is empty and model '%s' has no start token", e->name);
  /* the start token is context, not text; an empty text is embedded as
  ** the start token alone */
  size_t first = bos >= 0 && ids.len > 1 ? 1 : 0;
  if (!rc) rc = llm_conn_pool(c, &pool, &err);
  /* (a generation may have left the sequence's cache in halves) */
  if (!rc) rc = llm_infer_set_kv_type(e->infer, LLM_KV_F32, &err);
  if (!rc) rc = llm_embed(e->infer, ids.data, ids.len, first, pooling, normalize, pool, &stop, vec, &err);
  llm_ids_free(&ids);
  if (rc) {
    sqlite3_free(vec);
    report(ctx, &err);
    return;
  }
  sqlite3_result_blob64(ctx, vec, C * sizeof *vec, sqlite3_free); /* little-endian: x86-64, arm64 */
  sqlite3_result_subtype(ctx, VEC_F32_SUBTYPE);
}

/* ---- llm_perplexity, llm_logprob ----------------------------------------- */

/* Scores text (after prefix, when given) and returns the sum of its tokens'
** log-probabilities and their number. */
static int score_text(sqlite3_context *ctx, llm_model_entry *e, const uint8_t *prefix, int n_prefix,
                      const uint8_t *text, int n_text, double *logprob, size_t *n_scored) {
  llm_conn *c = llm_ctx_conn(ctx);
  llm_err err = {0};
  llm_ids ids = {0};
  llm_tokenizer *tok;
  llm_pool *pool;
  llm_stop stop = {llm_interrupted, c};
  int rc = llm_text_tokens(c, e, prefix ? prefix : (const uint8_t *)"", prefix ? (size_t)n_prefix : 0, &ids,
                           &tok, NULL, &err);
  size_t first = ids.len ? ids.len : 1; /* without a start token the first token has no context */
  if (!rc) rc = llm_tokenizer_encode(tok, text, (size_t)n_text, 0, &ids, &err);
  *n_scored = !rc && ids.len > first ? ids.len - first : 0;
  *logprob = 0;
  if (!rc) rc = llm_conn_pool(c, &pool, &err);
  if (!rc) rc = llm_infer_set_kv_type(e->infer, LLM_KV_F32, &err); /* as in fn_embed */
  if (!rc && *n_scored) rc = llm_score(e->infer, ids.data, ids.len, first, pool, &stop, logprob, &err);
  llm_ids_free(&ids);
  if (rc) report(ctx, &err);
  return rc == LLM_OK;
}

static void fn_perplexity(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int is_null, n;
  const uint8_t *text;
  llm_model_entry *e = model_and_text(ctx, argv, argc >= 2 ? 0 : -1, argc >= 2 ? 1 : 0, "the text", &text, &n,
                                      &is_null);
  if (!e || is_null) return;
  double lp;
  size_t scored;
  if (!score_text(ctx, e, NULL, 0, text, n, &lp, &scored)) return;
  if (scored) sqlite3_result_double(ctx, exp(-lp / (double)scored)); /* no tokens: NULL */
}

static void fn_logprob(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int is_null, n, n_prefix = 0, prefix_null = 1;
  const uint8_t *text, *prefix = NULL;
  if (argc == 3 && !(prefix = llm_arg_bytes(ctx, argv, 2, "the prefix", &n_prefix, &prefix_null)) && !prefix_null)
    return;
  llm_model_entry *e = model_and_text(ctx, argv, argc >= 2 ? 0 : -1, argc >= 2 ? 1 : 0, "the text", &text, &n,
                                      &is_null);
  if (!e || is_null) return;
  double lp;
  size_t scored;
  if (score_text(ctx, e, prefix_null ? NULL : prefix, n_prefix, text, n, &lp, &scored))
    sqlite3_result_double(ctx, lp);
}

/* ---- distances --------------------------------------------------------------- */

/* The two vectors of a distance function; NULL when either is NULL (then
** the result is NULL) or after an error. */
static int vectors(sqlite3_context *ctx, sqlite3_value **argv, const float **a, const float **b, size_t *n) {
  for (int i = 0; i < 2; i++) {
    int t = sqlite3_value_type(argv[i]);
    if (t == SQLITE_NULL) return 0;
    if (t != SQLITE_BLOB) {
      llm_result_errorf(ctx, "argument %d must be a float32 vector BLOB (as llm_embed returns)", i + 1);
      return 0;
    }
  }
  int na = sqlite3_value_bytes(argv[0]), nb = sqlite3_value_bytes(argv[1]);
  if (na == 0 || na % 4 || nb % 4) {
    llm_result_errorf(ctx, "a vector BLOB must hold whole float32 values (got %d bytes)", na == 0 || na % 4 ? na : nb);
    return 0;
  }
  if (na != nb) {
    llm_result_errorf(ctx, "the vectors differ in size (%d and %d dimensions)", na / 4, nb / 4);
    return 0;
  }
  *a = sqlite3_value_blob(argv[0]);
  *b = sqlite3_value_blob(argv[1]);
  *n = (size_t)na / 4;
  if (!*a || !*b) {
    sqlite3_result_error_nomem(ctx);
    return 0;
  }
  return 1;
}

static void fn_cosine_distance(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const float *a, *b;
  size_t n;
  if (!vectors(ctx, argv, &a, &b, &n)) return;
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; i++) {
    float x, y; /* the BLOB need not be aligned */
    memcpy(&x, a + i, sizeof x);
    memcpy(&y, b + i, sizeof y);
    ab += (double)x * y;
    aa += (double)x * x;
    bb += (double)y * y;
  }
  if (!isfinite(ab) || !isfinite(aa) || !isfinite(bb)) {
    llm_result_errorf(ctx, "the vectors hold non-finite values");
    return;
  }
  if (aa == 0 || bb == 0) {
    llm_result_errorf(ctx, "a zero vector has no direction");
    return;
  }
  sqlite3_result_double(ctx, 1.0 - ab / sqrt(aa * bb));
}

static void fn_l2_distance(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const float *a, *b;
  size_t n;
  if (!vectors(ctx, argv, &a, &b, &n)) return;
  double s = 0;
  for (size_t i = 0; i < n; i++) {
    float x, y;
    memcpy(&x, a + i, sizeof x);
    memcpy(&y, b + i, sizeof y);
    s += ((double)x - y) * ((double)x - y);
  }
  if (!isfinite(s)) {
    llm_result_errorf(ctx, "the vectors hold non-finite values");
    return;
  }
  sqlite3_result_double(ctx, sqrt(s));
}

/* ---- llm_use ----------------------------------------------------------------- */

static void fn_use(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_conn *c = llm_ctx_conn(ctx);
  llm_err err = {0};
  if (argc == 1 && sqlite3_value_type(argv[0]) == SQLITE_NULL) { /* back to the automatic choice */
    sqlite3_free(c->default_model);
    c->default_model = NULL;
    return;
  }
  const char *name;
  if (argc == 0) { /* which model the default is now */
    if (llm_model_resolve(c, NULL, &name, &err)) {
      llm_result_llm_err(ctx, &err);
      return;
    }
    sqlite3_result_text(ctx, name, -1, SQLITE_TRANSIENT);
    return;
  }
  if (!(name = llm_arg_name(ctx, argv, 0, "model"))) return;
  llm_model_info info;
  int found;
  if (llm_model_info_get(c, name, &info, &found, &err) || (!found && llm_model_unknown(c, name, &err))) {
    llm_result_llm_err(ctx, &err);
    return;
  }
  char *copy = sqlite3_mprintf("%s", name);
  if (!copy) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_free(c->default_model);
  c->default_model = copy;
  sqlite3_result_text(ctx, copy, -1, SQLITE_TRANSIENT);
}

int llm_register_infer_fns(sqlite3 *db, llm_conn *c) {
  static const llm_fn_spec specs[] = {
      {"llm_generate", 1, LLM_FN_READS, fn_generate},
      {"llm_generate", 2, LLM_FN_READS, fn_generate},
      {"llm_generate", 3, LLM_FN_READS, fn_generate},
      {"llm_embed", 1, LLM_FN_READS | LLM_FN_SUBTYPE, fn_embed},
      {"llm_embed", 2, LLM_FN_READS | LLM_FN_SUBTYPE, fn_embed},
      {"llm_embed", 3, LLM_FN_READS | LLM_FN_SUBTYPE, fn_embed},
      {"llm_perplexity", 1, LLM_FN_READS, fn_perplexity},
      {"llm_perplexity", 2, LLM_FN_READS, fn_perplexity},
      {"llm_logprob", 1, LLM_FN_READS, fn_logprob},
      {"llm_logprob", 2, LLM_FN_READS, fn_logprob},
      {"llm_logprob", 3, LLM_FN_READS, fn_logprob},
      {"llm_cosine_distance", 2, LLM_FN_PURE, fn_cosine_distance},
      {"llm_l2_distance", 2, LLM_FN_PURE, fn_l2_distance},
      {"llm_use", 0, LLM_FN_WRITES, fn_use},
      {"llm_use", 1, LLM_FN_WRITES, fn_use},
  };
  return llm_register_fns(db, c, specs, sizeof specs / sizeof specs[0]);
}
