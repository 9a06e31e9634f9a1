/*
** vtab.c: what the table-valued functions (llm_tokens, llm_train) share:
** their arguments are hidden columns, passed to xFilter in order.
*/
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
