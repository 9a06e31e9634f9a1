/*
** blas.c: the engine's BLAS hooks (engine/kernels/blas.h), on OpenBLAS loaded at
** run time.
**
** OpenBLAS chooses its kernels once, when it is loaded, from the CPU model.
** Debian 12's OpenBLAS 0.3.21 does not know recent Intel models and falls
** back to its generic SSE3 ("Prescott") kernels, about 4x slower than its
** AVX-512 ones on the same machine. So the extension does not link OpenBLAS;
** it loads it itself: when no copy is in the process yet and the user has
** not chosen kernels (OPENBLAS_CORETYPE), it names the family that matches
** the CPU's features (SkylakeX for AVX-512, Haswell for AVX2 + FMA) for the
** duration of the load. A copy already loaded (by numpy, say) is used as
** it is.
*/
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas.h"
#include "ext.h"

/* CBLAS constants (cblas.h): row-major, no transpose, transpose. */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *, int, float, float *, int);

static struct {
  void *lib;
  sgemm_fn sgemm;
  sgemv_fn sgemv;
  void (*set_threads)(int);
  char *(*get_config)(void);
  char *(*get_corename)(void);
} blas;

/* Loaded once per process; the handle is never closed (other connections
** and threads keep using it), which is the one piece of process-wide state
** of the extension. */
static const char *SONAMES[] = {"libopenblas.so.0", "libopenblas.so", NULL};

static const char *kernels_for_cpu(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512cd"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return NULL;
}

static int load_locked(char **errmsg);

int llm_blas_load(char **errmsg) {
  sqlite3_mutex *mu = sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_APP1);
  sqlite3_mutex_enter(mu);
  int rc = load_locked(errmsg);
  sqlite3_mutex_leave(mu);
  return rc;
}

static int load_locked(char **errmsg) {
  if (blas.sgemm) return SQLITE_OK;
  void *lib = NULL;
  for (int i = 0; SONAMES[i] && !lib; i++) lib = dlopen(SONAMES[i], RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
  if (!lib) {
    const char *kernels = getenv("OPENBLAS_CORETYPE") ? NULL : kernels_for_cpu();
    if (kernels) setenv("OPENBLAS_CORETYPE", kernels, 0);
    for (int i = 0; SONAMES[i] && !lib; i++) lib = dlopen(SONAMES[i], RTLD_NOW | RTLD_GLOBAL);
    if (kernels) unsetenv("OPENBLAS_CORETYPE");
  }
  if (!lib) {
    *errmsg = sqlite3_mprintf("sqlite-llm: cannot load OpenBLAS (libopenblas.so.0): %s; install it with "
                              "apt-get install libopenblas0",
                              dlerror());
    return SQLITE_ERROR;
  }
  blas.lib = lib;
  blas.set_threads = (void (*)(int))dlsym(lib, "openblas_set_num_threads");
  blas.get_config = (char *(*)(void))dlsym(lib, "openblas_get_config");
  blas.get_corename = (char *(*)(void))dlsym(lib, "openblas_get_corename");
  blas.sgemv = (sgemv_fn)dlsym(lib, "cblas_sgemv");
  /* last: a set sgemm says the rest is ready */
  blas.sgemm = blas.sgemv ? (sgemm_fn)dlsym(lib, "cblas_sgemm") : NULL;
  if (!blas.sgemm) {
    *errmsg = sqlite3_mprintf("sqlite-llm: the loaded OpenBLAS has no cblas_sgemm or cblas_sgemv");
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

const char *llm_blas_config(void) { return blas.get_config ? blas.get_config() : "unknown"; }

void llm_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
               int ldb, float beta, float *C, int ldc) {
  blas.sgemm(ROW_MAJOR, trans_a ? TRANS : NO_TRANS, trans_b ? TRANS : NO_TRANS, M, N, K, alpha, A, lda, B, ldb, beta,
             C, ldc);
}

void llm_sgemv(int trans, int rows, int cols, float alpha, const float *A, int lda, const float *x, float beta,
               float *y) {
  blas.sgemv(ROW_MAJOR, trans ? TRANS : NO_TRANS, rows, cols, alpha, A, lda, x, 1, beta, y, 1);
}

void llm_blas_set_threads(int n) {
  if (blas.set_threads) blas.set_threads(n);
}
