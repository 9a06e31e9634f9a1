/*
** rows_source.c: the input of llm_generate_rows and llm_embed_rows: one
** read-only query returning (key, text) or (key, text, options_json), read
** a row at a time as the batch has room; and their progress line.
*/
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ext.h"

int llm_rows_open(llm_conn *c, const char *sql, int count, llm_rows *r, llm_err *err) {
  memset(r, 0, sizeof *r);
  r->total = -1;
  if (llm_prepare_user_query(c, sql, -1, &r->st, err)) {
    char why[sizeof err->msg];
    memcpy(why, err->msg, sizeof why);
    return llm_fail(err, err->code, "rows_sql: %s", why);
  }
  int ncol = sqlite3_column_count(r->st);
  if (ncol != 2 && ncol != 3) {
    llm_rows_close(r);
    return llm_fail(err, LLM_EINVAL, "rows_sql must return (key, text) or (key, text, options), not %d column%s",
                    ncol, ncol == 1 ? "" : "s");
  }
  r->has_options = ncol == 3;
  r->conn = c;
  if (count) { /* for the progress line: the rows to come */
    char *q = sqlite3_mprintf("SELECT count(*) FROM (%s)", sqlite3_sql(r->st));
    sqlite3_stmt *st = NULL;
    if (q && sqlite3_prepare_v2(c->db, q, -1, &st, 0) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      r->total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_free(q);
  }
  return LLM_OK;
}

int llm_rows_next(llm_rows *r, llm_err *err) {
  if (r->eof) return 0;
  r->conn->in_user_query++;
  int step = sqlite3_step(r->st);
  r->conn->in_user_query--;
  if (step == SQLITE_ROW) {
    r->read++;
    return 1;
  }
  r->eof = 1;
  if (step == SQLITE_DONE) return 0;
  llm_db_fail(r->conn, err, "rows_sql failed");
  return -1;
}

void llm_rows_close(llm_rows *r) {
  sqlite3_finalize(r->st);
  r->st = NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void llm_progress_start(llm_progress *p, const char *what, int on) {
  memset(p, 0, sizeof *p);
  p->what = what;
  p->on = on < 0 ? isatty(2) : on;
  p->started = p->last = now_s();
}

void llm_progress_show(llm_progress *p, int64_t done, int64_t total, int64_t units, const char *unit, int final) {
  if (!p->on) return;
  double t = now_s();
  if (!final && t - p->last < 0.2) return;
  p->last = t;
  double rate = t > p->started ? (double)units / (t - p->started) : 0;
  if (total >= 0)
    fprintf(stderr, "\r%s: %lld/%lld rows, %.1f %s/s\033[K", p->what, (long long)done, (long long)total, rate, unit);
  else
    fprintf(stderr, "\r%s: %lld rows, %.1f %s/s\033[K", p->what, (long long)done, rate, unit);
  if (final) fputc('\n', stderr);
  fflush(stderr);
}
