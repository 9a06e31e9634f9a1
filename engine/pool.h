/*
** pool.h: a small fixed pool of worker threads for data-parallel loops.
**
** llm_pool_for splits [0, n) into one contiguous chunk per thread (the
** caller is thread 0) and runs fn on each; it returns when all are done.
** The split depends only on n and the thread count, so results are
** deterministic for a given thread count. A pool of 1 thread runs inline.
** Matrix products inside fn should use a single-threaded BLAS (the pool
** sets OpenBLAS to one thread), so the two never oversubscribe the cores.
*/
#ifndef LLM_POOL_H
#define LLM_POOL_H

#include <stddef.h>

#include "base.h"

typedef struct llm_pool llm_pool;

/* fn(ctx, lo, hi, tid): process items [lo, hi) as thread tid. */
typedef void (*llm_pool_fn)(void *ctx, size_t lo, size_t hi, int tid);

/* A pool of n_threads threads: the caller plus n_threads - 1 workers.
** n_threads is 1..64, or 0 for one per CPU this process may use (its
** affinity mask, else the online count). Also sets BLAS to one thread
** (llm_blas_set_threads).
** Errors: LLM_EINVAL for a bad count, LLM_ENOMEM when memory or a thread
** cannot be had (nothing is leaked; *out is NULL). */
int llm_pool_new(int n_threads, llm_pool **out, llm_err *err);
/* Stops and joins the workers. p may be NULL. Not while a job runs. */
void llm_pool_free(llm_pool *p);
/* The thread count (1 for NULL), i.e. the bound on tid, exclusive. */
int llm_pool_threads(const llm_pool *p);
/* Runs fn over [0, n). p may be NULL (then one thread, inline). Chunk i is
** [n*i/T, n*(i+1)/T) for T threads, run with tid i; fn is not called for
** empty chunks (n < T) nor at all for n = 0. A call from inside a task of
** the same pool runs the whole range inline with the caller's tid. Calls
** from several application threads at once take turns. */
void llm_pool_for(llm_pool *p, size_t n, llm_pool_fn fn, void *ctx);

#endif
