/*
** userquery.c: running SQL text that a user passes as an argument (a corpus
** query). It is user data's gateway into the database, so it must be exactly
** one read-only query; anything else is refused before it runs.
*/
#include <string.h>

#include "ext.h"

/* Skips whitespace and SQL comments. */
static const char *skip_space(const char *s) {
  for (;;) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' ||
           *s == '\v')
      s++;
    if (s[0] == '-' && s[1] == '-') {
      while (*s && *s != '\n') s++;
    } else if (s[0] == '/' && s[1] == '*') {
      const char *end = strstr(s + 2, "*/");
      s = end ? end + 2 : s + strlen(s);
    } else {
      return s;
    }
  }
}

static int starts_with_keyword(const char *s, const char *kw) {
  size_t n = strlen(kw);
  if (sqlite3_strnicmp(s, kw, (int)n) != 0) return 0;
  char c = s[n];
  return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || (unsigned char)c >= 0x80);
}

int llm_prepare_user_query(llm_conn *c, const char *sql, int ncol,
                           sqlite3_stmt **out, llm_err *err) {
  *out = NULL;
  const char *start = skip_space(sql);
  if (!*start) return llm_fail(err, LLM_EINVAL, "the query is empty");
  if (!starts_with_keyword(start, "SELECT") &&
      !starts_with_keyword(start, "WITH") &&
      !starts_with_keyword(start, "VALUES"))
    return llm_fail(err, LLM_EINVAL,
                    "the query must be a single SELECT, WITH or VALUES "
                    "statement");
  sqlite3_stmt *stmt = NULL;
  const char *tail = NULL;
  if (sqlite3_prepare_v2(c->db, start, -1, &stmt, &tail) != SQLITE_OK)
    return llm_fail(err, LLM_EINVAL, "the query does not compile: %s",
                    sqlite3_errmsg(c->db));
  if (!stmt) return llm_fail(err, LLM_EINVAL, "the query is empty");
  if (tail && *skip_space(tail)) {
    sqlite3_finalize(stmt);
    return llm_fail(err, LLM_EINVAL,
                    "the query must be one statement; found more after it");
  }
  if (!sqlite3_stmt_readonly(stmt)) {
    sqlite3_finalize(stmt);
    return llm_fail(err, LLM_EINVAL,
                    "the query would write to the database; only read-only "
                    "queries are allowed");
  }
  if (ncol >= 0 && sqlite3_column_count(stmt) != ncol) {
    int got = sqlite3_column_count(stmt);
    sqlite3_finalize(stmt);
    return llm_fail(err, LLM_EINVAL, "the query must return %d column%s, not %d",
                    ncol, ncol == 1 ? "" : "s", got);
  }
  *out = stmt;
  return LLM_OK;
}

int llm_check_can_write(llm_conn *c, llm_err *err) {
  if (c->in_user_query)
    return llm_fail(err, LLM_EINVAL,
                    "cannot change stored models or tokenizers from inside "
                    "a corpus query");
  return llm_check_host_commit(c, err);
}

/* SQLite (before 3.41, which adds sqlite3_is_interrupted) offers no direct
** way to read the interrupt flag, but a statement prepared or stepped while
** it is set fails with SQLITE_INTERRUPT: try a trivial one. */
int llm_interrupted(void *conn) {
  llm_conn *c = conn;
  sqlite3_stmt *probe;
  /* prepared each time: a statement kept open would block sqlite3_close() */
  int rc = sqlite3_prepare_v2(c->db, "SELECT 1", -1, &probe, 0);
  if (rc != SQLITE_OK) return rc == SQLITE_INTERRUPT;
  rc = sqlite3_step(probe);
  sqlite3_finalize(probe);
  return rc == SQLITE_INTERRUPT;
}
