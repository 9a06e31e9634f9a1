/*
** model_fns.c: creating and dropping models.
**
**   SELECT llm_model_create('m', '{"n_layer": 4, "n_head": 4, "n_embd": 128,
**                                  "block_size": 64}');
**       Creates model m with fresh weights (GPT-2 initialisation) for the
**       tokenizer named by "tokenizer" (default: the tokenizer named m).
**       Keys: tokenizer, arch ("gpt"), n_layer, n_head, n_embd, n_hidden
**       (default 4 n_embd), block_size, vocab_size (default: the
**       tokenizer's size; larger pads the table), seed, max_memory_mb.
**       Returns the number of parameters.
**   SELECT llm_model_drop('m');
**       Removes the model, its weights, training state, corpus and log;
**       returns 1, or 0 if there was no such model. Its tokenizer stays.
*/
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ext.h"

int64_t llm_memory_limit_mb(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 16384;
  return (int64_t)((double)pages * (double)page * 0.8 / (1 << 20));
}

int llm_check_memory(const char *what, double bytes, int64_t limit_mb, llm_err *err) {
  double mb = bytes / (1 << 20);
  if (mb <= (double)limit_mb) return LLM_OK;
  return llm_fail(err, LLM_ERANGE,
                  "%s needs about %.0f MB, more than the limit of %lld MB (80%% of this machine's memory by "
                  "default; raise it with the option \"max_memory_mb\")",
                  what, mb, (long long)limit_mb);
}

static void fn_model_create(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const keys[] = {"tokenizer", "arch", "n_layer", "n_head", "n_kv_head", "n_embd", "n_hidden",
                                     "block_size", "vocab_size", "tied_head", "norm_eps", "rope_theta", "seed",
                                     "max_memory_mb",
                                     NULL};
  llm_conn *c = llm_ctx_conn(ctx);
  const char *name = llm_arg_name(ctx, argv, 0, "model");
  if (!name) return;
  llm_json_doc *doc;
  if (!llm_arg_options(ctx, argc, argv, 1, keys, &doc)) return;
  const llm_json *o = llm_options_root(doc);
  llm_err err = {0};
  llm_model *m = NULL;
  llm_model_info info;
  memset(&info, 0, sizeof info);
  const char *tok_name = name;
  int64_t seed = 1337, limit = llm_memory_limit_mb();
  llm_tokenizer *tok;
  int found;
  llm_config *cfg = &info.config;
  cfg->arch = LLM_ARCH_GPT;
  cfg->n_layer = 4;
  cfg->n_head = 4;
  cfg->n_embd = 128;
  cfg->block_size = 64;
  if (llm_check_can_write(c, &err) || llm_opt_str(o, "tokenizer", &tok_name, &err) ||
      llm_opt_int(o, "seed", INT64_MIN, INT64_MAX, &seed, &err) ||
      llm_opt_int(o, "max_memory_mb", 1, INT64_MAX / 2, &limit, &err) || llm_config_from_json(o, cfg, &err))
    goto fail;
  llm_model_info existing;
  if (llm_model_info_get(c, name, &existing, &found, &err)) goto fail;
  if (found) {
    llm_fail(&err, LLM_EINVAL, "a model named '%s' already exists; drop it first with llm_model_drop('%s')", name,
             name);
    goto fail;
  }
  if (strlen(tok_name) >= sizeof info.tokenizer) {
    llm_fail(&err, LLM_EINVAL, "the tokenizer name is too long");
    goto fail;
  }
  int32_t vocab = cfg->vocab_size;
  if (llm_tokenizer_get(c, tok_name, &tok, NULL, &err)) goto fail;
  int32_t n_tok = llm_tokenizer_n_vocab(tok);
  if (vocab == 0) cfg->vocab_size = n_tok;
  if (cfg->vocab_size < n_tok) {
    llm_fail(&err, LLM_EINVAL, "vocab_size %d is smaller than tokenizer '%s' (%d tokens)", cfg->vocab_size, tok_name,
             n_tok);
    goto fail;
  }
  snprintf(info.tokenizer, sizeof info.tokenizer, "%s", tok_name);
  if (llm_config_check(cfg, &err) ||
      llm_check_memory("this model", (double)llm_config_n_params(cfg) * sizeof(float), limit, &err) ||
      llm_model_new(cfg, &m, &err))
    goto fail;
  llm_rng rng;
  llm_rng_seed(&rng, (uint64_t)seed);
  llm_model_init(m, &rng);
  info.step = 0;
  if (llm_write_begin(c, &err)) goto fail;
  int rc = llm_model_info_put(c, name, &info, llm_model_n_params(m), &err);
  if (!rc) rc = llm_weights_save(c, name, m, LLM_ROLE_PARAM, llm_model_params(m), &err);
  if (llm_write_end(c, rc == LLM_OK, &err)) goto fail;
  sqlite3_result_int64(ctx, (sqlite3_int64)llm_model_n_params(m));
  llm_model_free(m);
  llm_json_free(doc);
  return;
fail:
  llm_result_llm_err(ctx, &err);
  llm_model_free(m);
  llm_json_free(doc);
}

static void fn_model_drop(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  llm_conn *c = llm_ctx_conn(ctx);
  const char *name = llm_arg_name(ctx, argv, 0, "model");
  if (!name) return;
  llm_err err = {0};
  llm_model_info info;
  int found = 0;
  if (llm_check_can_write(c, &err) || llm_model_info_get(c, name, &info, &found, &err)) {
    llm_result_llm_err(ctx, &err);
    return;
  }
  if (found) {
    int rc = llm_write_begin(c, &err);
    if (!rc) rc = llm_write_end(c, llm_model_delete(c, name, &err) == LLM_OK, &err);
    if (rc) {
      llm_result_llm_err(ctx, &err);
      return;
    }
  }
  sqlite3_result_int(ctx, found);
}

int llm_register_model_fns(sqlite3 *db, llm_conn *c) {
  static const llm_fn_spec specs[] = {
      {"llm_model_create", 1, LLM_FN_WRITES, fn_model_create},
      {"llm_model_create", 2, LLM_FN_WRITES, fn_model_create},
      {"llm_model_drop", 1, LLM_FN_WRITES, fn_model_drop},
  };
  return llm_register_fns(db, c, specs, sizeof specs / sizeof specs[0]);
}
