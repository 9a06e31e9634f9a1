/* The engine's BLAS hooks for unit tests, fuzzers and benchmarks: OpenBLAS
** linked directly. */
#include <cblas.h>

#include "kernels/blas.h"

void llm_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta,
               float *C, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
              ldb, beta, C, ldc);
}

void llm_sgemv(int trans, int rows, int cols, float alpha, const float *A,
               int lda, const float *x, float beta, float *y) {
  cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, rows, cols,
              alpha, A, lda, x, 1, beta, y, 1);
}

void llm_blas_set_threads(int n) { openblas_set_num_threads(n); }
