/* test_pool.c: the worker pool: chunking, coverage, nesting, many rapid
** dispatches, sleeping when idle, and the dispatch overhead (printed). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"
#include "alloc_fail.h"
#include "check.h"

#define MAXT 64

/* Sanitizers reserve address space up front, which test_thread_failure's
** address-space limit would break. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static llm_pool *make_pool(int n) {
  llm_pool *p = NULL;
  llm_err err = {0, ""};
  int rc = llm_pool_new(n, &p, &err);
  if (rc) printf("  llm_pool_new(%d): %d %s\n", n, rc, err.msg);
  return p;
}

/* Sum of f(i) over a chunk into the chunk's per-thread slot; f is integer
** so the parallel and serial totals must agree exactly. */
typedef struct sum_ctx {
  const uint64_t *x;
  uint64_t part[MAXT];
  size_t lo[MAXT], hi[MAXT];
  atomic_int calls;
  int bad_tid;
} sum_ctx;

static void sum_fn(void *arg, size_t lo, size_t hi, int tid) {
  sum_ctx *c = arg;
  if (tid < 0 || tid >= MAXT) {
    c->bad_tid = 1;
    return;
  }
  uint64_t s = 0;
  for (size_t i = lo; i < hi; i++) s += c->x[i] * c->x[i] + i;
  c->part[tid] = s;
  c->lo[tid] = lo;
  c->hi[tid] = hi;
  atomic_fetch_add(&c->calls, 1);
}

static void test_sums(void) {
  const size_t n = 100003;
  uint64_t *x = malloc(n * sizeof *x);
  uint64_t serial = 0;
  for (size_t i = 0; i < n; i++) {
    x[i] = (i * 2654435761u) % 1000003u;
    serial += x[i] * x[i] + i;
  }
  for (int t = 0; t <= 8; t++) {
    llm_pool *p = t ? make_pool(t) : NULL; /* t = 0: the NULL pool */
    CHECK(t == 0 || p);
    if (t && !p) continue;
    CHECK(llm_pool_threads(p) == (t ? t : 1));
    for (int rep = 0; rep < 20; rep++) {
      sum_ctx c;
      memset(&c, 0, sizeof c);
      c.x = x;
      llm_pool_for(p, n, sum_fn, &c);
      int T = llm_pool_threads(p);
      uint64_t total = 0;
      int chunks_ok = 1;
      for (int i = 0; i < T; i++) {
        total += c.part[i];
        /* chunk i is [n*i/T, n*(i+1)/T) */
        chunks_ok &= c.lo[i] == n * (size_t)i / (size_t)T &&
                     c.hi[i] == n * (size_t)(i + 1) / (size_t)T;
      }
      CHECK(total == serial);
      CHECK(chunks_ok);
      CHECK(atomic_load(&c.calls) == T);
      CHECK(!c.bad_tid);
    }
    llm_pool_free(p);
  }
  free(x);
}

/* Marks every index it is given; a second visit shows as a count of 2. */
typedef struct visit_ctx {
  atomic_int *count;
  atomic_int calls;
  atomic_int empty_calls;
} visit_ctx;

static void visit_fn(void *arg, size_t lo, size_t hi, int tid) {
  visit_ctx *c = arg;
  (void)tid;
  if (lo >= hi) atomic_fetch_add(&c->empty_calls, 1);
  for (size_t i = lo; i < hi; i++) atomic_fetch_add(&c->count[i], 1);
  atomic_fetch_add(&c->calls, 1);
}

/* Runs visit_fn over n items; returns 1 when each was visited once. */
static int visits_once(llm_pool *p, size_t n, int *calls) {
  visit_ctx c;
  c.count = calloc(n ? n : 1, sizeof *c.count);
  atomic_init(&c.calls, 0);
  atomic_init(&c.empty_calls, 0);
  for (size_t i = 0; i < n; i++) atomic_init(&c.count[i], 0);
  llm_pool_for(p, n, visit_fn, &c);
  int ok = atomic_load(&c.empty_calls) == 0;
  for (size_t i = 0; i < n; i++) ok &= atomic_load(&c.count[i]) == 1;
  *calls = atomic_load(&c.calls);
  free(c.count);
  return ok;
}

static void test_each_index_once(void) {
  for (int t = 1; t <= 8; t++) {
    llm_pool *p = make_pool(t);
    CHECK(p);
    if (!p) continue;
    const size_t sizes[] = {1, 2, 3, 7, 8, 9, 63, 64, 65, 1000, 4099};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
      int calls;
      size_t n = sizes[k];
      CHECK(visits_once(p, n, &calls));
      /* fn runs once per non-empty chunk: min(n, T) of them. */
      CHECK(calls == (int)(n < (size_t)t ? n : (size_t)t));
    }
    llm_pool_free(p);
  }
}

static void test_small_and_empty(void) {
  llm_pool *p = make_pool(8);
  CHECK(p);
  /* n = 0: fn is never called. */
  int calls = -1;
  CHECK(visits_once(p, 0, &calls));
  CHECK(calls == 0);
  CHECK(visits_once(NULL, 0, &calls));
  CHECK(calls == 0);
  /* n below the thread count: item i goes to the thread whose chunk holds
  ** it, per the formula, not simply to thread i. */
  for (size_t n = 1; n < 8; n++) {
    sum_ctx c;
    uint64_t x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    memset(&c, 0, sizeof c);
    c.x = x;
    for (int i = 0; i < MAXT; i++) c.lo[i] = c.hi[i] = SIZE_MAX;
    llm_pool_for(p, n, sum_fn, &c);
    int ok = 1;
    for (int i = 0; i < 8; i++) {
      size_t lo = n * (size_t)i / 8, hi = n * (size_t)(i + 1) / 8;
      if (lo == hi) ok &= c.lo[i] == SIZE_MAX; /* not called */
      else ok &= c.lo[i] == lo && c.hi[i] == hi;
    }
    CHECK(ok);
    CHECK(atomic_load(&c.calls) == (int)n);
  }
  llm_pool_free(p);
}

/* The chunk bounds for a huge n, where n * i would overflow size_t. */
typedef struct bounds_ctx {
  size_t lo[MAXT], hi[MAXT];
} bounds_ctx;

static void bounds_fn(void *arg, size_t lo, size_t hi, int tid) {
  bounds_ctx *c = arg;
  c->lo[tid] = lo;
  c->hi[tid] = hi;
}

static void test_huge_n(void) {
  for (int t = 2; t <= 7; t += 5) {
    llm_pool *p = make_pool(t);
    CHECK(p);
    bounds_ctx c;
    memset(&c, 0, sizeof c);
    llm_pool_for(p, SIZE_MAX, bounds_fn, &c);
    int ok = c.lo[0] == 0 && c.hi[t - 1] == SIZE_MAX;
    for (int i = 0; i + 1 < t; i++) ok &= c.hi[i] == c.lo[i + 1];
    /* The exact floor(n * i / t), in 128-bit arithmetic. */
    __extension__ typedef unsigned __int128 u128;
    for (int i = 0; i < t; i++)
      ok &= c.lo[i] == (size_t)((u128)SIZE_MAX * (unsigned)i / (unsigned)t);
    CHECK(ok);
    llm_pool_free(p);
  }
}

/* Nested calls: each outer chunk runs an inner llm_pool_for over 100 items
** on the same pool. They must run inline (no deadlock), under the calling
** thread's tid, and cover the inner range. */
typedef struct nest_ctx {
  llm_pool *pool;
  atomic_int inner_items;
  atomic_int tid_mismatch;
} nest_ctx;

typedef struct inner_ctx {
  nest_ctx *outer;
  int outer_tid;
} inner_ctx;

static void inner_fn(void *arg, size_t lo, size_t hi, int tid) {
  inner_ctx *c = arg;
  if (tid != c->outer_tid) atomic_fetch_add(&c->outer->tid_mismatch, 1);
  atomic_fetch_add(&c->outer->inner_items, (int)(hi - lo));
}

static void outer_fn(void *arg, size_t lo, size_t hi, int tid) {
  nest_ctx *c = arg;
  for (size_t i = lo; i < hi; i++) {
    inner_ctx ic = {c, tid};
    llm_pool_for(c->pool, 100, inner_fn, &ic);
  }
}

static void test_nested(void) {
  for (int t = 1; t <= 4; t++) {
    llm_pool *p = make_pool(t);
    CHECK(p);
    nest_ctx c;
    c.pool = p;
    atomic_init(&c.inner_items, 0);
    atomic_init(&c.tid_mismatch, 0);
    llm_pool_for(p, 10, outer_fn, &c);
    CHECK(atomic_load(&c.inner_items) == 1000);
    CHECK(atomic_load(&c.tid_mismatch) == 0);
    /* The pool still works normally afterwards. */
    int calls;
    CHECK(visits_once(p, 1000, &calls));
    llm_pool_free(p);
  }
}

typedef struct count_ctx {
  atomic_long items;
} count_ctx;

static void count_fn(void *arg, size_t lo, size_t hi, int tid) {
  count_ctx *c = arg;
  (void)tid;
  atomic_fetch_add_explicit(&c->items, (long)(hi - lo), memory_order_relaxed);
}

static void test_many_calls(void) {
  /* 100k dispatches each for 2 and 3 threads, fewer for 8 (more threads
  ** than cores here: each dispatch then needs several context switches). */
  const int threads[] = {2, 3, 8};
  const long reps[] = {100000, 100000, 20000};
  for (int k = 0; k < 3; k++) {
    llm_pool *p = make_pool(threads[k]);
    CHECK(p);
    count_ctx c;
    atomic_init(&c.items, 0);
    double t0 = now_s();
    for (long r = 0; r < reps[k]; r++) llm_pool_for(p, 37, count_fn, &c);
    double dt = now_s() - t0;
    CHECK(atomic_load(&c.items) == 37 * reps[k]);
    printf("  %ld calls with %d threads: %.3f s (%.2f us per call)\n", reps[k],
           threads[k], dt, dt / (double)reps[k] * 1e6);
    llm_pool_free(p);
  }
}

static void empty_fn(void *arg, size_t lo, size_t hi, int tid) {
  (void)arg;
  (void)lo;
  (void)hi;
  (void)tid;
}

/* Median of a few timed batches of empty dispatches, in microseconds. */
static double dispatch_us(llm_pool *p, size_t n, int batch) {
  double best[7];
  for (int b = 0; b < 7; b++) {
    double t0 = now_s();
    for (int r = 0; r < batch; r++) llm_pool_for(p, n, empty_fn, NULL);
    best[b] = (now_s() - t0) / batch * 1e6;
  }
  for (int i = 1; i < 7; i++)
    for (int j = i; j > 0 && best[j] < best[j - 1]; j--) {
      double tmp = best[j];
      best[j] = best[j - 1];
      best[j - 1] = tmp;
    }
  return best[3];
}

static void test_dispatch_overhead(void) {
  llm_pool *p1 = make_pool(1), *p2 = make_pool(2);
  CHECK(p1 && p2);
  if (!p1 || !p2) return;
  double one = dispatch_us(p1, 1000, 100000);
  double two = dispatch_us(p2, 1000, 50000);
  /* A dispatch into a pool whose worker has gone to sleep: the cost after
  ** an idle gap (the kernel has to wake the thread). */
  double cold = 0;
  for (int i = 0; i < 50; i++) {
    usleep(2000);
    double t0 = now_s();
    llm_pool_for(p2, 1000, empty_fn, NULL);
    cold += now_s() - t0;
  }
  cold = cold / 50 * 1e6;
  printf("  dispatch overhead, empty work: 1 thread %.3f us, 2 threads %.3f us "
         "(hot), %.1f us (after idle sleep)\n",
         one, two, cold);
  /* Generous bound (the machine may be shared): only catches a dispatch
  ** that goes through the kernel every time, which costs 100 us or more. */
  CHECK(two < 50.0);
  llm_pool_free(p1);
  llm_pool_free(p2);
}

static void test_idle_sleeps(void) {
  llm_pool *p = make_pool(4);
  CHECK(p);
  if (!p) return;
  count_ctx c;
  atomic_init(&c.items, 0);
  llm_pool_for(p, 100, count_fn, &c);
  /* After the spin budget the workers must sleep: over 300 ms of idleness
  ** the whole process may use only the spin phase's CPU (well under 10 ms
  ** even with every worker spinning). */
  double c0 = cpu_s();
  usleep(300000);
  double used = cpu_s() - c0;
  printf("  cpu used by an idle 4-thread pool over 300 ms: %.2f ms\n",
         used * 1e3);
  CHECK(used < 0.03);
  /* Sleeping workers wake up for the next job. */
  llm_pool_for(p, 100, count_fn, &c);
  CHECK(atomic_load(&c.items) == 200);
  llm_pool_free(p);
}

/* Confined to one CPU (as under taskset or a small container cpuset), two
** threads must take turns instead of each spinning out its whole budget
** while the other waits for the core: that costs hundreds of microseconds
** per dispatch. */
static void test_one_cpu(void) {
  cpu_set_t old, one;
  if (sched_getaffinity(0, sizeof old, &old) != 0) return;
  int cpu = 0;
  while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &old)) cpu++;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
  llm_pool *p = make_pool(2); /* its worker inherits the one-CPU mask */
  CHECK(p);
  count_ctx c;
  atomic_init(&c.items, 0);
  const long reps = 20000;
  double t0 = now_s();
  for (long r = 0; r < reps; r++) llm_pool_for(p, 37, count_fn, &c);
  double us = (now_s() - t0) / (double)reps * 1e6;
  printf("  2 threads on one CPU: %.2f us per call\n", us);
  CHECK(atomic_load(&c.items) == 37 * reps);
  CHECK(us < 100.0);
  llm_pool_free(p);
  CHECK(sched_setaffinity(0, sizeof old, &old) == 0);
}

static void test_free_idle(void) {
  /* Freed without ever running a job, right after a job (workers
  ** spinning), and after they went to sleep. */
  for (int t = 1; t <= 8; t++) {
    llm_pool *p = make_pool(t);
    CHECK(p);
    llm_pool_free(p);
  }
  llm_pool *p = make_pool(4);
  count_ctx c;
  atomic_init(&c.items, 0);
  llm_pool_for(p, 100, count_fn, &c);
  llm_pool_free(p);
  p = make_pool(4);
  llm_pool_for(p, 100, count_fn, &c);
  usleep(50000);
  llm_pool_free(p);
  CHECK(atomic_load(&c.items) == 200);
  llm_pool_free(NULL);
}

static void test_bad_counts(void) {
  llm_pool *p = (llm_pool *)1;
  llm_err err = {0, ""};
  CHECK(llm_pool_new(-1, &p, &err) == LLM_EINVAL);
  CHECK(p == NULL && err.code == LLM_EINVAL && strstr(err.msg, "thread"));
  p = (llm_pool *)1;
  CHECK(llm_pool_new(65, &p, &err) == LLM_EINVAL && p == NULL);
  CHECK(llm_pool_new(64, &p, &err) == LLM_OK && llm_pool_threads(p) == 64);
  int calls;
  CHECK(visits_once(p, 1000, &calls));
  CHECK(calls == 64);
  llm_pool_free(p);
  /* 0 means one thread per CPU this process may use. */
  CHECK(llm_pool_new(0, &p, &err) == LLM_OK);
  cpu_set_t set;
  long cpus = sched_getaffinity(0, sizeof set, &set) == 0
                  ? CPU_COUNT(&set)
                  : sysconf(_SC_NPROCESSORS_ONLN);
  CHECK(llm_pool_threads(p) == (cpus > 64 ? 64 : cpus < 1 ? 1 : (int)cpus));
  llm_pool_free(p);
  CHECK(llm_pool_threads(NULL) == 1);
}

/* Two application threads sharing one pool take turns instead of mixing
** their jobs. */
typedef struct share_ctx {
  llm_pool *pool;
  long ok;
} share_ctx;

static void *share_main(void *arg) {
  share_ctx *s = arg;
  for (int r = 0; r < 5000; r++) {
    count_ctx c;
    atomic_init(&c.items, 0);
    llm_pool_for(s->pool, 1000, count_fn, &c);
    if (atomic_load(&c.items) == 1000) s->ok++;
  }
  return NULL;
}

static void test_shared_by_threads(void) {
  llm_pool *p = make_pool(2);
  CHECK(p);
  share_ctx s[3];
  pthread_t th[3];
  for (int i = 0; i < 3; i++) {
    s[i].pool = p;
    s[i].ok = 0;
    CHECK(pthread_create(&th[i], NULL, share_main, &s[i]) == 0);
  }
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    CHECK(s[i].ok == 5000);
  }
  llm_pool_free(p);
}

/* Thread creation failing part-way: in a child process whose address space
** is capped just above its current size, each thread stack (8 MiB by
** default) soon cannot be mapped. llm_pool_new must then join the threads
** it did start and return LLM_ENOMEM with a message, and the process must
** carry on. */
static void test_thread_failure(void) {
  if (UNDER_SANITIZER) {
    printf("  skipped under a sanitizer\n");
    return;
  }
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid < 0) return;
  if (pid == 0) {
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld", &pages) != 1) _exit(10);
    fclose(f);
    rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (20u << 20);
    struct rlimit rl = {cap, cap};
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(11);
    llm_pool *p = (llm_pool *)1;
    llm_err err = {0, ""};
    int rc = llm_pool_new(64, &p, &err);
    if (rc == LLM_OK) _exit(12); /* the cap did not bite; inconclusive */
    printf("  llm_pool_new(64) under a 20 MiB margin: %s\n", err.msg);
    fflush(stdout);
    if (rc != LLM_ENOMEM || p != NULL || err.code != LLM_ENOMEM ||
        !strstr(err.msg, "thread"))
      _exit(13);
    /* A pool that needs no new thread still works. */
    if (llm_pool_new(1, &p, &err) != LLM_OK) _exit(14);
    llm_pool_free(p);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    printf("  child status %d\n", status);
}

/* Every allocation of llm_pool_new failing in turn: LLM_ENOMEM with a
** message, *out NULL, and nothing leaked (the sanitizer build checks). */
static void test_alloc_failure(void) {
  int failures_seen = 0;
  for (long k = 0; k < 10; k++) {
    llm_pool *p = (llm_pool *)1;
    llm_err err = {0, ""};
    llm_test_fail_one_alloc_after(k);
    int rc = llm_pool_new(4, &p, &err);
    long failed = llm_test_allocs_failed();
    llm_test_fail_allocs_after(-1);
    if (failed == 0) { /* every allocation came before the k-th */
      CHECK(rc == LLM_OK && p);
      int calls;
      CHECK(visits_once(p, 100, &calls));
      llm_pool_free(p);
      break;
    }
    failures_seen++;
    CHECK(rc == LLM_ENOMEM && p == NULL && err.code == LLM_ENOMEM &&
          strstr(err.msg, "memory"));
  }
  CHECK(failures_seen >= 1);
}

int main(void) {
  RUN(test_sums);
  RUN(test_each_index_once);
  RUN(test_small_and_empty);
  RUN(test_huge_n);
  RUN(test_nested);
  RUN(test_many_calls);
  RUN(test_dispatch_overhead);
  RUN(test_idle_sleeps);
  RUN(test_one_cpu);
  RUN(test_free_idle);
  RUN(test_bad_counts);
  RUN(test_shared_by_threads);
  RUN(test_thread_failure);
  RUN(test_alloc_failure);
  return CHECK_DONE();
}
