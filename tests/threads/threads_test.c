/*
** threads_test.c: many connections of one process, each on its own thread,
** using the same models at once (issue 16).
**
**   threads_test EXTENSION DATA_DIR
**
** EXTENSION is the llm.so to load (the plain, ASan or TSan build), DATA_DIR
** the shared test data (../shared/data from the repository). The program
** links the system's libsqlite3, makes a database file in a fresh temporary
** directory and prints "ok NAME" / "FAIL NAME: reason" lines:
**
**   same_model_many_threads  N_THREADS threads, each opening and closing its
**       own connection round after round, run llm_generate (sampled, greedy,
**       top-k/top-p), llm_embed, llm_logprob and llm_generate_rows on two
**       imported models (Q8_0 and Q4_K_M blocks) in a different order each;
**       every value must be bitwise what one connection computed alone
**       beforehand. Connections come and go, so the process-wide shared
**       weights (ext/shared_weights.c) are loaded, shared and freed again
**       while other threads use them.
**   train_while_reading  one thread trains a model with llm_train
**       (checkpoints every CKPT_EVERY steps, a thread pool of 2) while
**       N_READERS threads generate from it and score with it, each in one
**       statement that also reads the model's step, and insert a note row
**       after every read, from the start (while llm_train stores the
**       tokenized corpus, too). Each
**       reader must see the step only grow; two reads at the same step must
**       give the same text and score; every error other than "busy" fails
**       (busy ones are retried until a deadline, and counted). Then: the
**       stored step, training state and log are the whole run's, every
**       reader's notes are all there (no lost writes), every reader's last
**       read (started after training ended) saw the final step, and the main
**       thread's connection, which never ran the model, computes exactly
**       what the readers got from the final checkpoint.
**
** Built three ways: plain (make test), with ASan + UBSan (make asan) and with
** ThreadSanitizer (make tsan, which loads build-tsan/llm.so).
*/
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_THREADS 4
#define ROUNDS 4
#define N_READERS 3
#define TRAIN_STEPS 40
#define CKPT_EVERY 5
#define BUSY_DEADLINE_S 60.0
#define DOC_LINES 1600

static const char *ext_path;
static char db_path[1100];

/* ---- failures: the first one of each test is kept for its FAIL line ---- */
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;
static int n_failures;
static char first_failure[512];

static void fail(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&fail_mu);
  if (n_failures++ == 0) snprintf(first_failure, sizeof first_failure, "%s", msg);
  if (n_failures <= 10) printf("    %s\n", msg);
  pthread_mutex_unlock(&fail_mu);
}

static int report(const char *name) {
  int bad = n_failures;
  if (bad) printf("FAIL %s: %s (%d problems)\n", name, first_failure, bad);
  else printf("ok %s\n", name);
  fflush(stdout);
  n_failures = 0;
  return bad != 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- SQL helpers ---- */

/* One column of a result, as its exact bytes (a REAL or INTEGER as its 8
** bytes), so that equality is bitwise. */
typedef struct value {
  int type, n;
  unsigned char *p;
} value;

static void value_free(value *v) {
  free(v->p);
  memset(v, 0, sizeof *v);
}

static void value_set(value *v, sqlite3_stmt *st, int col) {
  value_free(v);
  v->type = sqlite3_column_type(st, col);
  double d;
  sqlite3_int64 i;
  const void *src = &d;
  if (v->type == SQLITE_FLOAT) {
    d = sqlite3_column_double(st, col);
    v->n = sizeof d;
  } else if (v->type == SQLITE_INTEGER) {
    i = sqlite3_column_int64(st, col);
    src = &i;
    v->n = sizeof i;
  } else {
    src = sqlite3_column_blob(st, col);
    v->n = sqlite3_column_bytes(st, col);
  }
  v->p = malloc((size_t)v->n + 1);
  if (v->n) memcpy(v->p, src, (size_t)v->n);
  v->p[v->n] = 0;
}

static int value_eq(const value *a, const value *b) {
  return a->type == b->type && a->n == b->n && !memcmp(a->p, b->p, (size_t)a->n);
}

static int is_busy(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

static pthread_mutex_t busy_mu = PTHREAD_MUTEX_INITIALIZER;
static long busy_retries;

/* Runs sql on db and keeps the first row's first n_col columns in cols (a
** statement without rows leaves them NULL). "Busy" errors are retried until
** BUSY_DEADLINE_S, counted in busy_retries; any other error, or busy past the
** deadline, is reported through fail() with who and the message, and
** returns non-zero. */
static int query(sqlite3 *db, const char *who, const char *sql, value *cols, int n_col) {
  double deadline = now_s() + BUSY_DEADLINE_S;
  for (;;) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(st);
      for (int c = 0; c < n_col; c++) {
        if (rc == SQLITE_ROW) value_set(&cols[c], st, c);
        else value_free(&cols[c]);
      }
      while (rc == SQLITE_ROW) rc = sqlite3_step(st);
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    if (rc != SQLITE_OK && !is_busy(rc)) rc = sqlite3_extended_errcode(db);
    char *msg = rc != SQLITE_OK ? sqlite3_mprintf("%s", sqlite3_errmsg(db)) : NULL;
    sqlite3_finalize(st);
    if (rc == SQLITE_OK) return 0;
    if (!is_busy(rc) || now_s() > deadline) {
      fail("%s: %s: %s (SQL: %.120s)", who, sqlite3_errstr(rc), msg ? msg : "?", sql);
      sqlite3_free(msg);
      return 1;
    }
    sqlite3_free(msg);
    pthread_mutex_lock(&busy_mu);
    busy_retries++;
    pthread_mutex_unlock(&busy_mu);
    sqlite3_sleep(1); /* let the writer finish; polled until the deadline */
  }
}

static int exec(sqlite3 *db, const char *who, const char *sql) { return query(db, who, sql, NULL, 0); }

/* A connection of its own to the test database, with the extension. */
static sqlite3 *open_conn(const char *who) {
  sqlite3 *db = NULL;
  char *err = NULL;
  if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
    fail("%s: cannot open %s: %s", who, db_path, sqlite3_errmsg(db));
  } else if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, NULL) != SQLITE_OK ||
             sqlite3_load_extension(db, ext_path, NULL, &err) != SQLITE_OK) {
    fail("%s: cannot load %s: %s", who, ext_path, err ? err : sqlite3_errmsg(db));
  } else {
    sqlite3_busy_timeout(db, 10000);
    return db;
  }
  sqlite3_free(err);
  sqlite3_close(db);
  return NULL;
}

/* Runs a script of several statements (setup and checks, on one thread). */
static int script(sqlite3 *db, const char *who, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK) return 0;
  fail("%s: %s", who, err ? err : "out of memory");
  sqlite3_free(err);
  return 1;
}

static long long as_int(const value *v) {
  long long i = -1;
  if (v->type == SQLITE_INTEGER) memcpy(&i, v->p, sizeof i);
  return i;
}

/* ---- setup, on the main thread ---- */

/* The first DOC_LINES non-empty lines of tinyshakespeare.txt, a row each. */
static int load_docs(sqlite3 *db, const char *data_dir) {
  char path[4096], line[4096];
  snprintf(path, sizeof path, "%s/tinyshakespeare.txt", data_dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    fail("setup: cannot open %s", path);
    return 1;
  }
  sqlite3_stmt *st = NULL;
  int n = 0, rc = sqlite3_prepare_v2(db, "INSERT INTO docs VALUES (?)", -1, &st, NULL);
  while (rc == SQLITE_OK && n < DOC_LINES && fgets(line, sizeof line, f)) {
    size_t len = strcspn(line, "\n");
    if (len == 0) continue;
    sqlite3_bind_text(st, 1, line, (int)len, SQLITE_TRANSIENT);
    rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_reset(st) : sqlite3_errcode(db);
    n++;
  }
  fclose(f);
  sqlite3_finalize(st);
  if (rc == SQLITE_OK && n == DOC_LINES) return 0;
  fail("setup: cannot load %s into docs (%d lines): %s", path, n, sqlite3_errmsg(db));
  return 1;
}

/* Two imported models (q8, q4) and a small model t with its own tokenizer,
** untrained, and the tables the tests read and write. */
static int setup(sqlite3 *db, const char *data_dir) {
  char *sql = sqlite3_mprintf(
      "PRAGMA journal_mode=WAL;"
      "SELECT llm_import('q8', 'gguf', '%q/gguf/shakespeare-4L-Q8_0.gguf');"
      "SELECT llm_import('q4', 'gguf', '%q/gguf/shakespeare-4L-Q4_K_M.gguf');"
      "CREATE TABLE prompts(k INTEGER PRIMARY KEY, prompt TEXT, opts TEXT);"
      "INSERT INTO prompts VALUES (1, 'ROMEO:', '{\"max_tokens\": 24, \"seed\": 1}'),"
      "  (2, 'KING RICHARD III:\nNow', '{\"max_tokens\": 12, \"temperature\": 0}'),"
      "  (3, '', '{\"max_tokens\": 30, \"seed\": 3, \"top_k\": 5}'),"
      "  (4, 'O', '{\"max_tokens\": 20, \"seed\": 4, \"stop\": \"\\n\"}');"
      "CREATE TABLE notes(reader INTEGER, i INTEGER, step INTEGER);"
      "CREATE TABLE docs(body TEXT);",
      data_dir, data_dir);
  int bad = !sql || script(db, "setup", sql) || load_docs(db, data_dir) ||
            script(db, "setup",
                   "SELECT llm_tokenizer_train('t', 'SELECT body FROM docs', 256);"
                   "SELECT llm_model_create('t', '{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 32, "
                   "\"block_size\": 32, \"seed\": 7}');");
  sqlite3_free(sql);
  return bad;
}

/* ---- same_model_many_threads ---- */

static const char *const ITEMS[] = {
    "SELECT llm_generate('q8', 'ROMEO:', '{\"max_tokens\": 40, \"seed\": 11}')",
    "SELECT llm_generate('q8', 'JULIET:\nO', '{\"max_tokens\": 40, \"temperature\": 0}')",
    "SELECT llm_generate('q4', 'First Citizen:', '{\"max_tokens\": 40, \"seed\": 7, \"top_k\": 20, \"top_p\": 0.9}')",
    "SELECT llm_generate('q4', 'HAMLET:', '{\"max_tokens\": 40, \"seed\": 12, \"repetition_penalty\": 1.3}')",
    "SELECT llm_embed('q8', 'To be, or not to be, that is the question')",
    "SELECT llm_embed('q4', 'Now is the winter of our discontent')",
    "SELECT llm_logprob('q8', 'Friends, Romans, countrymen, lend me your ears')",
    "SELECT group_concat(key || ':' || text, '|') FROM (SELECT key, text FROM "
    "llm_generate_rows('q8', 'SELECT k, prompt, opts FROM prompts', '{\"batch\": 3}') ORDER BY key)",
    "SELECT group_concat(key || ':' || text, '|') FROM (SELECT key, text FROM "
    "llm_generate_rows('q4', 'SELECT k, prompt, opts FROM prompts') ORDER BY key)",
};
#define N_ITEMS ((int)(sizeof ITEMS / sizeof *ITEMS))

static value expected[N_ITEMS];
static pthread_barrier_t start_line;

static void *same_model_thread(void *arg) {
  int t = (int)(size_t)arg;
  char who[64];
  pthread_barrier_wait(&start_line);
  for (int r = 0; r < ROUNDS; r++) {
    snprintf(who, sizeof who, "thread %d, round %d", t, r);
    sqlite3 *db = open_conn(who);
    if (!db) return NULL;
    for (int k = 0; k < N_ITEMS; k++) {
      int i = (k + 2 * t + r) % N_ITEMS; /* the threads run different items at once */
      value got = {0};
      if (!query(db, who, ITEMS[i], &got, 1) && !value_eq(&got, &expected[i]))
        fail("%s: %.50s... gave %d bytes of type %d, alone %d bytes of type %d%s", who, ITEMS[i], got.n, got.type,
             expected[i].n, expected[i].type, got.n == expected[i].n ? " (different bytes)" : "");
      value_free(&got);
    }
    sqlite3_close(db);
  }
  return NULL;
}

static void same_model_many_threads(void) {
  /* the values one connection computes alone, on a connection closed before
  ** the threads start (so the shared weights are loaded anew by them) */
  sqlite3 *db = open_conn("alone");
  if (!db) return;
  for (int i = 0; i < N_ITEMS; i++)
    if (!query(db, "alone", ITEMS[i], &expected[i], 1) && expected[i].n == 0)
      fail("alone: %.60s gave an empty value", ITEMS[i]);
  sqlite3_close(db);
  if (n_failures) return;
  double t0 = now_s();
  pthread_t th[N_THREADS];
  pthread_barrier_init(&start_line, NULL, N_THREADS);
  for (int t = 0; t < N_THREADS; t++) pthread_create(&th[t], NULL, same_model_thread, (void *)(size_t)t);
  for (int t = 0; t < N_THREADS; t++) pthread_join(th[t], NULL);
  pthread_barrier_destroy(&start_line);
  printf("    %d threads x %d rounds x %d values in %.1f s\n", N_THREADS, ROUNDS, N_ITEMS, now_s() - t0);
  for (int i = 0; i < N_ITEMS; i++) value_free(&expected[i]);
}

/* ---- train_while_reading ---- */

#define N_CKPT (TRAIN_STEPS / CKPT_EVERY)
/* One statement: a consistent snapshot of the model's step and what the
** model at that step generates and scores. */
static const char READ_SQL[] =
    "SELECT step, llm_generate('t', 'ROMEO:', '{\"max_tokens\": 16, \"seed\": 5}'), "
    "llm_logprob('t', 'To be, or not to be') FROM llm_models WHERE name = 't'";

/* What the readers saw at each step; the state shared with the trainer. */
typedef struct seen {
  long long step;
  value text, score;
} seen;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int ready;               /* readers past their first read (or gone) */
  int done;                /* training ended */
  seen at[N_CKPT + 1];     /* steps 0, CKPT_EVERY, ..., TRAIN_STEPS */
  int n_at;
  long long last_step[N_READERS];
  int reads[N_READERS], notes[N_READERS]; /* each reader's reads, and note rows inserted */
  long long yielded[N_CKPT + 1]; /* llm_train's rows, as the trainer got them */
  int n_yielded;
} tr = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Keeps the first text and score seen at a step; later ones must equal them. */
static void record(const char *who, long long step, const value *text, const value *score) {
  if (step < 0 || step > TRAIN_STEPS || step % CKPT_EVERY) {
    fail("%s: read the model at step %lld, not a checkpoint of the run", who, step);
    return;
  }
  pthread_mutex_lock(&tr.mu);
  int i = 0;
  while (i < tr.n_at && tr.at[i].step != step) i++;
  if (i == tr.n_at) {
    tr.n_at++;
    tr.at[i].step = step;
    value *dst[2] = {&tr.at[i].text, &tr.at[i].score};
    const value *src[2] = {text, score};
    for (int k = 0; k < 2; k++) {
      *dst[k] = *src[k];
      dst[k]->p = malloc((size_t)src[k]->n + 1);
      memcpy(dst[k]->p, src[k]->p, (size_t)src[k]->n + 1);
    }
  } else if (!value_eq(&tr.at[i].text, text) || !value_eq(&tr.at[i].score, score)) {
    fail("%s: at step %lld the model generated or scored differently than in another read", who, step);
  }
  pthread_mutex_unlock(&tr.mu);
}

static void reader_ready(void) {
  pthread_mutex_lock(&tr.mu);
  tr.ready++;
  pthread_cond_broadcast(&tr.cv);
  pthread_mutex_unlock(&tr.mu);
}

static void *reader_thread(void *arg) {
  int r = (int)(size_t)arg;
  char who[32];
  snprintf(who, sizeof who, "reader %d", r);
  sqlite3 *db = open_conn(who);
  long long last = -1;
  int i = 0;
  for (; db; i++) {
    pthread_mutex_lock(&tr.mu);
    int done = tr.done; /* then this read begins after the last checkpoint */
    pthread_mutex_unlock(&tr.mu);
    value cols[3] = {{0}};
    int bad = query(db, who, READ_SQL, cols, 3);
    long long step = as_int(&cols[0]);
    if (!bad && step < last) fail("%s: the model's step went back from %lld to %lld", who, last, step);
    if (!bad) record(who, step, &cols[1], &cols[2]);
    tr.reads[r] += !bad;
    for (int c = 0; c < 3; c++) value_free(&cols[c]);
    char *note = sqlite3_mprintf("INSERT INTO notes VALUES (%d, %d, %lld)", r, i, step);
    if (!bad) {
      bad = exec(db, who, note);
      tr.notes[r] += !bad;
    }
    sqlite3_free(note);
    if (bad) break;
    last = step;
    if (i == 0) reader_ready();
    if (done) break;
  }
  if (i == 0) reader_ready(); /* failed at once: the trainer must not wait */
  tr.last_step[r] = last;
  sqlite3_close(db);
  return NULL;
}

static void *trainer_thread(void *arg) {
  sqlite3 *db = open_conn("trainer");
  pthread_mutex_lock(&tr.mu);
  while (tr.ready < N_READERS) pthread_cond_wait(&tr.cv, &tr.mu); /* every reader has seen step 0 */
  pthread_mutex_unlock(&tr.mu);
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT step FROM llm_train('t', 'SELECT body FROM docs', '{\"steps\": %d, \"batch_size\": 4, "
           "\"log_every\": %d, \"checkpoint_every\": %d, \"eval_every\": 20, \"eval_batches\": 2, "
           "\"warmup_steps\": 5, \"lr\": 3e-3, \"threads\": 2}')",
           TRAIN_STEPS, CKPT_EVERY, CKPT_EVERY);
  sqlite3_stmt *st = NULL;
  if (db && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      pthread_mutex_lock(&tr.mu);
      if (tr.n_yielded <= N_CKPT) tr.yielded[tr.n_yielded++] = sqlite3_column_int64(st, 0);
      pthread_mutex_unlock(&tr.mu);
    }
    if (rc != SQLITE_DONE) fail("trainer: llm_train failed: %s", sqlite3_errmsg(db));
  } else if (db) {
    fail("trainer: %s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  pthread_mutex_lock(&tr.mu);
  tr.done = 1;
  pthread_mutex_unlock(&tr.mu);
  return NULL;
}

/* The integer sql gives, or -1 after reporting a failed query. */
static long long one_int(sqlite3 *db, const char *sql) {
  value v = {0};
  long long i = query(db, "check", sql, &v, 1) ? -1 : as_int(&v);
  value_free(&v);
  return i;
}

static void check_expect(long long got, long long want, const char *what) {
  if (got != want) fail("check: %s is %lld, not %lld", what, got, want);
}

static void train_while_reading(sqlite3 *db) {
  double t0 = now_s();
  pthread_t readers[N_READERS], trainer;
  pthread_create(&trainer, NULL, trainer_thread, NULL);
  for (int r = 0; r < N_READERS; r++) pthread_create(&readers[r], NULL, reader_thread, (void *)(size_t)r);
  pthread_join(trainer, NULL);
  for (int r = 0; r < N_READERS; r++) pthread_join(readers[r], NULL);
  int reads = 0, notes = 0;
  for (int r = 0; r < N_READERS; r++) {
    reads += tr.reads[r];
    notes += tr.notes[r];
  }
  printf("    trained %d steps in %.1f s while %d readers read %d times and wrote %d notes; they saw steps",
         TRAIN_STEPS, now_s() - t0, N_READERS, reads, notes);
  for (int i = 0; i < tr.n_at; i++) printf(" %lld", tr.at[i].step);
  printf("; busy retries: %ld\n", busy_retries);

  check_expect(tr.n_yielded, N_CKPT, "the number of rows llm_train yielded");
  for (int i = 0; i < tr.n_yielded && i < N_CKPT; i++) check_expect(tr.yielded[i], (i + 1) * CKPT_EVERY, "a row's step");
  check_expect(one_int(db, "SELECT step FROM llm_models WHERE name = 't'"), TRAIN_STEPS, "llm_models.step");
  check_expect(one_int(db, "SELECT step FROM llm_train_state WHERE model = 't'"), TRAIN_STEPS,
               "llm_train_state.step");
  check_expect(one_int(db, "SELECT count(DISTINCT step) FROM llm_train_log WHERE model = 't'"), N_CKPT,
               "the number of steps in llm_train_log");
  for (int r = 0; r < N_READERS; r++) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(DISTINCT i) FROM notes WHERE reader = %d", r);
    check_expect(one_int(db, sql), tr.notes[r], "the number of a reader's notes stored");
    check_expect(tr.last_step[r], TRAIN_STEPS, "the step of a reader's read after training");
  }
  int saw_start = 0;
  for (int i = 0; i < tr.n_at; i++) saw_start |= tr.at[i].step == 0;
  if (!saw_start) fail("check: no reader saw the untrained model (step 0) before training started");
  /* the final model, on this thread alone: what the readers got */
  value cols[3] = {{0}};
  if (!query(db, "check", READ_SQL, cols, 3)) {
    check_expect(as_int(&cols[0]), TRAIN_STEPS, "the model's step read on the main thread");
    record("the main thread alone", as_int(&cols[0]), &cols[1], &cols[2]);
  }
  for (int c = 0; c < 3; c++) value_free(&cols[c]);
  for (int i = 0; i < tr.n_at; i++) {
    value_free(&tr.at[i].text);
    value_free(&tr.at[i].score);
  }
}

/* ---- main ---- */

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s EXTENSION DATA_DIR\n", argv[0]);
    return 2;
  }
  ext_path = argv[1];
  if (!sqlite3_threadsafe()) {
    printf("FAIL setup: this libsqlite3 was built without thread support\n");
    return 1;
  }
  const char *tmp = getenv("TMPDIR");
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/llm-threads-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    printf("FAIL setup: cannot make a directory like %s\n", dir);
    return 1;
  }
  snprintf(db_path, sizeof db_path, "%s/threads.db", dir);
  /* held open throughout, for setup and checks, as an application would */
  sqlite3 *db = open_conn("setup");
  int bad = !db || setup(db, argv[2]);
  bad |= report("setup");
  if (!bad) {
    same_model_many_threads();
    bad |= report("same_model_many_threads");
    train_while_reading(db);
    bad |= report("train_while_reading");
  }
  sqlite3_close(db);
  static const char *const SUFFIX[] = {"", "-wal", "-shm", "-journal"};
  for (int i = 0; i < 4; i++) {
    char path[sizeof db_path + 16];
    snprintf(path, sizeof path, "%s%s", db_path, SUFFIX[i]);
    unlink(path);
  }
  rmdir(dir);
  return bad;
}
