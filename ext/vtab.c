/*
** vtab.c: what the table-valued functions (llm_tokens, llm_train) share:
** their arguments are hidden columns, passed to xFilter in order.
*/
#include <string.h>

#include "ext.h"

int llm_vtab_args_best_index(sqlite3_vtab *vt, sqlite3_index_info *info, int first_arg, int n_args, int n_required,
                             const char *usage) {
  int arg_at[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->iColumn < first_arg || c->iColumn >= first_arg + n_args || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    /* an argument that depends on another table's row: SQLite will try
    ** another plan that supplies it */
    if (!c->usable) return SQLITE_CONSTRAINT;
    arg_at[c->iColumn - first_arg] = i;
  }
  for (int a = 0; a < n_required; a++) {
    if (arg_at[a] >= 0) continue;
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = sqlite3_mprintf("%s", usage);
    return SQLITE_ERROR;
  }
  int argv_index = 1, mask = 0;
  for (int a = 0; a < n_args; a++) {
    if (arg_at[a] < 0) continue;
    info->aConstraintUsage[arg_at[a]].argvIndex = argv_index++;
    info->aConstraintUsage[arg_at[a]].omit = 1;
    mask |= 1 << a;
  }
  info->idxNum = mask;
  info->estimatedCost = 1000;
  info->estimatedRows = 1000;
  return SQLITE_OK;
}

void llm_vtab_module_destroy(void *conn) { llm_conn_unref(conn); }

int llm_vtab_fail(sqlite3_vtab *vt, const char *fn, const llm_err *err) {
  if (err->code == LLM_ENOMEM) return SQLITE_NOMEM;
  if (err->code == LLM_EINTR) return SQLITE_INTERRUPT;
  sqlite3_free(vt->zErrMsg);
  vt->zErrMsg = sqlite3_mprintf("%s: %s", fn, err->msg);
  return vt->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

int llm_tok_ref_init(llm_tok_ref *r, llm_conn *c, const char *name, llm_tokenizer *tok, int32_t vocab_size,
                     llm_err *err) {
  r->name = sqlite3_mprintf("%s", name);
  r->tok = tok;
  r->gen = c->cache_gen;
  r->vocab_size = vocab_size;
  return r->name ? LLM_OK : llm_fail(err, LLM_ENOMEM, "out of memory");
}

int llm_tok_ref_get(llm_tok_ref *r, llm_conn *c, llm_tokenizer **tok, llm_err *err) {
  if (!r->tok || r->gen != c->cache_gen) {
    r->tok = NULL;
    if (llm_tokenizer_get(c, r->name, &r->tok, NULL, err)) return err->code;
    if (llm_tokenizer_n_vocab(r->tok) > r->vocab_size) {
      r->tok = NULL;
      return llm_fail(err, LLM_EINVAL, "tokenizer '%s' was replaced while the model ran", r->name);
    }
    r->gen = c->cache_gen;
  }
  *tok = r->tok;
  return LLM_OK;
}

void llm_tok_ref_free(llm_tok_ref *r) {
  sqlite3_free(r->name);
  memset(r, 0, sizeof *r);
}
