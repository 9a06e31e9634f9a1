/*
** blas.h: the engine's link to BLAS. All big matrix products go through
** llm_sgemm (matrix-vector ones through llm_sgemv), which the embedder
** provides at link time like the allocator hooks: ext/blas.c loads
** Debian's OpenBLAS itself (to pick kernels that match the CPU, see
** there), the unit tests link it directly (tests/engine/blas_openblas.c).
*/
#ifndef LLM_BLAS_H
#define LLM_BLAS_H

/* Row-major C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C, where op
** transposes when trans_* is non-zero; lda, ldb, ldc as in cblas_sgemm. */
void llm_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta,
               float *C, int ldc);

/* Row-major y = alpha op(A) x + beta y, A [rows, cols] with row stride lda,
** op transposing when trans is non-zero (then x has rows entries and y
** cols); unit strides. */
void llm_sgemv(int trans, int rows, int cols, float alpha, const float *A,
               int lda, const float *x, float beta, float *y);

/* Threads BLAS may use inside one llm_sgemm call. The engine's thread pool
** sets 1 and splits products itself, so the two never compete. */
void llm_blas_set_threads(int n);

#endif
