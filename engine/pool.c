/* pool.c: a persistent pool of worker threads for llm_pool_for (see pool.h).
**
** Dispatch protocol. The caller (thread 0) publishes the job (fn, ctx, n),
** sets `pending` to the number of workers and increments the generation
** counter `gen`. Each worker waits for `gen` to move past the last value it
** served, runs its chunk and decrements `pending`; the caller runs chunk 0
** and then waits for `pending` to reach 0. The next job is published only
** after that, so the job fields are never written while a worker reads them
** and no worker can miss a generation.
**
** Waiting, on both sides, first spins on the atomic for a short time budget
** (llm_pool_for is called thousands of times per training step, often for
** loops of a few microseconds, and a sleep/wake round trip through the
** kernel costs more than that: 50-200 us measured here), pausing and then
** yielding (see spin_expired), then sleeps on a condition variable so an
** idle pool costs no CPU. A sleeper advertises itself in a counter before
** its final check, and the other side reads that counter after its own
** update; both are sequentially consistent, so at least one of the two sees
** the other and no wake-up is lost (the Dekker pattern).
*/
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/blas.h"

#define MAX_THREADS 64

/* How long a waiting thread spins before it sleeps. Long enough to bridge
** the serial gaps between the parallel loops of a training step, short
** enough that an idle pool stops using the CPU almost at once. */
#define SPIN_NS 200000
/* When there are more threads than cores a spinning thread takes the core
** that a thread with work needs, so it yields instead and gives up sooner. */
#define SPIN_NS_OVERSUBSCRIBED 20000
/* See spin_expired. */
#define PAUSE_ROUNDS 16

typedef struct worker {
  struct llm_pool *pool;
  int tid;
} worker;

struct llm_pool {
  int n_threads;
  int oversubscribed;
  long spin_ns;

  /* The current job: written by the dispatcher before `gen` is bumped (a
  ** release), read by workers after they see the new `gen` (an acquire). */
  llm_pool_fn fn;
  void *ctx;
  size_t n;

  /* Padding keeps the counters that one side writes off the cache lines the
  ** other side polls. (alignas would do it more neatly, but the pool comes
  ** from llm_malloc, which only promises malloc's alignment.) */
  char pad0[64];
  atomic_uint_fast64_t gen;
  atomic_int stop;
  char pad1[64];
  atomic_int pending;    /* workers still running the current job */
  char pad2[64];
  atomic_int sleepers;   /* workers asleep (or about to be) on `wake` */
  atomic_int waiting;    /* the dispatcher asleep (or about to be) on `done` */
  atomic_int busy;       /* a job is in flight (nested calls look at this) */
  char pad3[64];

  pthread_mutex_t mu;    /* guards the two condition variables */
  pthread_cond_t wake;   /* workers: a new generation or stop */
  pthread_cond_t done;   /* dispatcher: pending reached 0 */
  /* Held for a whole dispatch so that two unrelated threads sharing a pool
  ** take turns. Recursive because a task running on the dispatching thread
  ** may call llm_pool_for again; see llm_pool_for. */
  pthread_mutex_t run_mu;

  int n_started;         /* workers successfully created */
  pthread_t *threads;    /* [n_threads - 1]: worker tid i is threads[i - 1] */
  worker *workers;
};

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  /* Tells the core this is a spin loop: saves power and avoids the memory
  ** order mis-speculation penalty when the awaited store arrives. */
  __asm__ __volatile__("pause");
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Chunk i of T over [0, n): [n*i/T, n*(i+1)/T). Computed as q*i + r*i/T with
** n = q*T + r, which is the same value without the overflow of n*i. */
static size_t chunk_start(size_t n, int i, int t) {
  size_t q = n / (size_t)t, r = n % (size_t)t;
  return q * (size_t)i + r * (size_t)i / (size_t)t;
}

static void run_chunk(llm_pool *p, int tid) {
  size_t lo = chunk_start(p->n, tid, p->n_threads);
  size_t hi = chunk_start(p->n, tid + 1, p->n_threads);
  if (lo < hi) p->fn(p->ctx, lo, hi, tid);
}

/* A spin-wait in progress. */
typedef struct spin {
  unsigned i;     /* rounds so far */
  int64_t start;  /* clock at round 0 */
} spin;

/* One round of a spin-wait: pauses or yields, and says when the spin budget
** is used up.
** Pausing alone is right only while both threads have a core of their own.
** The awaited thread may instead be queued behind the spinner on the same
** core: with more threads than cores, or because the kernel put both on one
** core (a busy machine, or a process confined to fewer CPUs than it sees).
** Then a pausing spinner burns its whole budget on every wait (measured: 400
** us per dispatch for 2 threads pinned to one CPU, against 3 us when
** yielding), and even pausing for a few microseconds before yielding made
** dispatch several times slower on a loaded 2-core machine. So the spinner
** pauses only for the first PAUSE_ROUNDS rounds, which covers the common
** quick hand-off on an idle machine, and then yields every round; a yield
** with nothing else to run costs about 0.3 us. */
static int spin_expired(const llm_pool *p, spin *s) {
  unsigned i = s->i++;
  if (i < PAUSE_ROUNDS && !p->oversubscribed) cpu_relax();
  else sched_yield();
  /* The clock is read only now and then: it costs as much as many pauses. */
  if (i % 16 != 0) return 0;
  int64_t t = now_ns();
  if (i == 0) {
    s->start = t;
    return 0;
  }
  return t - s->start > p->spin_ns;
}

/* Spins until `gen` differs from seen or the budget runs out; returns the
** generation seen last. */
static uint_fast64_t spin_for_gen(llm_pool *p, uint_fast64_t seen) {
  spin s = {0, 0};
  for (;;) {
    uint_fast64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
    if (g != seen || spin_expired(p, &s)) return g;
  }
}

static uint_fast64_t wait_for_gen(llm_pool *p, uint_fast64_t seen) {
  uint_fast64_t g = spin_for_gen(p, seen);
  if (g != seen) return g;
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->sleepers, 1);
  while ((g = atomic_load(&p->gen)) == seen) pthread_cond_wait(&p->wake, &p->mu);
  atomic_fetch_sub(&p->sleepers, 1);
  pthread_mutex_unlock(&p->mu);
  return g;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  llm_pool *p = w->pool;
  uint_fast64_t seen = 0;
  for (;;) {
    seen = wait_for_gen(p, seen);
    if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
    run_chunk(p, w->tid);
    /* The last worker out wakes the dispatcher if it went to sleep. The
    ** decrement also releases this worker's writes to the dispatcher. */
    if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->waiting)) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
  }
  return NULL;
}

/* Wakes every worker: after a new generation or stop has been published. */
static void wake_workers(llm_pool *p, int always) {
  if (always || atomic_load(&p->sleepers) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
  }
}

static void wait_done(llm_pool *p) {
  spin s = {0, 0};
  for (;;) {
    if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0) return;
    if (spin_expired(p, &s)) break;
  }
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->waiting, 1);
  while (atomic_load(&p->pending) != 0) pthread_cond_wait(&p->done, &p->mu);
  atomic_store(&p->waiting, 0);
  pthread_mutex_unlock(&p->mu);
}

/* Stops and joins the workers that were started, then releases everything.
** Used both by llm_pool_free and to undo a partly built pool. */
static void destroy(llm_pool *p) {
  if (p->n_started > 0) {
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->gen, 1);
    wake_workers(p, 1);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
  }
  pthread_cond_destroy(&p->done);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->mu);
  pthread_mutex_destroy(&p->run_mu);
  llm_free(p->threads);
  llm_free(p->workers);
  llm_free(p);
}

/* The CPUs this process may run on: the affinity mask when the system has
** one (taskset and container cpusets narrow it below the online count, and
** threads beyond it only take turns), else the online count. */
static long usable_cpus(void) {
#if defined(__linux__) && defined(CPU_COUNT)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n;
}

/* Initializes the mutexes and condition variables; all or nothing. */
static int init_sync(llm_pool *p) {
  pthread_mutexattr_t ma;
  if (pthread_mutexattr_init(&ma)) return -1;
  int rc = pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
  if (!rc) rc = pthread_mutex_init(&p->run_mu, &ma);
  pthread_mutexattr_destroy(&ma);
  if (rc) return -1;
  if (pthread_mutex_init(&p->mu, NULL)) goto fail_mu;
  if (pthread_cond_init(&p->wake, NULL)) goto fail_wake;
  if (pthread_cond_init(&p->done, NULL)) goto fail_done;
  return 0;
fail_done:
  pthread_cond_destroy(&p->wake);
fail_wake:
  pthread_mutex_destroy(&p->mu);
fail_mu:
  pthread_mutex_destroy(&p->run_mu);
  return -1;
}

int llm_pool_new(int n_threads, llm_pool **out, llm_err *err) {
  *out = NULL;
  if (n_threads < 0 || n_threads > MAX_THREADS)
    return llm_fail(err, LLM_EINVAL,
                    "thread count %d is out of range (0 = all CPUs, or 1..%d)",
                    n_threads, MAX_THREADS);
  long cpus = usable_cpus();
  if (n_threads == 0) n_threads = cpus > MAX_THREADS ? MAX_THREADS : (int)cpus;
  /* The pool already uses every core: a multi-threaded BLAS inside each
  ** task would oversubscribe them. Set before any task can run a product. */
  llm_blas_set_threads(1);

  llm_pool *p = llm_calloc(1, sizeof *p);
  if (!p) return llm_fail(err, LLM_ENOMEM, "out of memory creating a thread pool");
  p->n_threads = n_threads;
  p->oversubscribed = n_threads > cpus;
  p->spin_ns = p->oversubscribed ? SPIN_NS_OVERSUBSCRIBED : SPIN_NS;
  atomic_init(&p->gen, 0);
  atomic_init(&p->stop, 0);
  atomic_init(&p->pending, 0);
  atomic_init(&p->sleepers, 0);
  atomic_init(&p->waiting, 0);
  atomic_init(&p->busy, 0);
  if (init_sync(p)) {
    llm_free(p);
    return llm_fail(err, LLM_ENOMEM, "cannot create the thread pool's locks");
  }
  int n_workers = n_threads - 1;
  if (n_workers > 0) {
    p->threads = llm_calloc((size_t)n_workers, sizeof *p->threads);
    p->workers = llm_calloc((size_t)n_workers, sizeof *p->workers);
    if (!p->threads || !p->workers) {
      destroy(p);
      return llm_fail(err, LLM_ENOMEM, "out of memory creating a thread pool");
    }
  }
  /* Workers start with every signal blocked (a new thread inherits the
  ** creator's mask), so signals such as the shell's Ctrl-C keep going to the
  ** application's own threads. */
  sigset_t all, old;
  sigfillset(&all);
  int masked = pthread_sigmask(SIG_SETMASK, &all, &old) == 0;
  int rc = 0;
  for (int i = 0; i < n_workers; i++) {
    p->workers[i].pool = p;
    p->workers[i].tid = i + 1;
    rc = pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]);
    if (rc) break;
    p->n_started++;
  }
  if (masked) pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) {
    int started = p->n_started;
    destroy(p);
    /* EAGAIN (the usual failure) means a thread or memory limit was hit. */
    return llm_fail(err, rc == EAGAIN || rc == ENOMEM ? LLM_ENOMEM : LLM_EINVAL,
                    "cannot start worker thread %d of %d (%s); try fewer threads",
                    started + 1, n_workers, strerror(rc));
  }
  *out = p;
  return LLM_OK;
}

void llm_pool_free(llm_pool *p) {
  if (p) destroy(p);
}

int llm_pool_threads(const llm_pool *p) { return p ? p->n_threads : 1; }

void llm_pool_for(llm_pool *p, size_t n, llm_pool_fn fn, void *ctx) {
  if (n == 0) return;
  if (!p || p->n_threads == 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  /* A call from inside a task of this pool cannot wait for the workers (one
  ** of them is the caller, or they may all be busy with the outer job), so
  ** it runs the whole range inline as the calling thread, under that
  ** thread's tid so per-thread scratch indexed by tid stays private. A
  ** worker recognises itself in the thread table; the dispatching thread
  ** gets through the recursive run_mu and finds `busy` still set. */
  if (atomic_load_explicit(&p->busy, memory_order_acquire)) {
    pthread_t self = pthread_self();
    for (int i = 0; i < p->n_threads - 1; i++) {
      if (pthread_equal(self, p->threads[i])) {
        fn(ctx, 0, n, i + 1);
        return;
      }
    }
  }
  pthread_mutex_lock(&p->run_mu);
  if (atomic_load_explicit(&p->busy, memory_order_relaxed)) {
    pthread_mutex_unlock(&p->run_mu);
    fn(ctx, 0, n, 0);
    return;
  }
  atomic_store_explicit(&p->busy, 1, memory_order_relaxed);
  p->fn = fn;
  p->ctx = ctx;
  p->n = n;
  atomic_store_explicit(&p->pending, p->n_threads - 1, memory_order_relaxed);
  atomic_fetch_add(&p->gen, 1); /* publishes the job (seq_cst) */
  wake_workers(p, 0);
  run_chunk(p, 0);
  wait_done(p);
  atomic_store_explicit(&p->busy, 0, memory_order_release);
  pthread_mutex_unlock(&p->run_mu);
}
