/*
** linear.h: products of activations with weight matrices stored in any of
** the ggml types the engine runs (float32, the halves, the block-quantized
** types of kernels/qtypes.h), without a float32 copy of the weights.
**
** A weight matrix W is [rows, cols] = [out, in], row-major, each row
** row_bytes long (PyTorch's nn.Linear layout, GGUF's ne = {cols, rows}):
** the product of n activation rows x[n, cols] is y[n, rows] = x W^T.
**
** How the product runs depends on the type:
**   float32, float16 and bfloat16: llm_dotgemm (kernels/dotgemm.h), each
**     element one dot product in a fixed order, the halves widened exactly;
**   block-quantized types (q8_0, q4_0, ..., the k-quants): the activation
**     rows are first quantized to the type's 8-bit activation type (q8_0,
**     q8_1 or q8_K), then each thread takes a slice of the weight rows and
**     the type's integer dot product of each with every activation row, as
**     llama.cpp computes (the rounding of the activations is part of its
**     results: exact float products differ from its log-probabilities by
**     0.01-0.05 nats per token on a small model).
** Either way a row's results are a function of that row and the weights
** only: not of how many rows share the call, where the row sits among
** them, or how the threads split the weights (so a sequence decoded alone
** and the same sequence in a batch give the same bits: nn/batch.h).
** Threads split the weight rows, so each writes its own output columns.
*/
#ifndef LLM_LINEAR_H
#define LLM_LINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "nn/layers.h"

typedef struct llm_wmat {
  const void *data;   /* NULL: the matrix is absent */
  uint32_t type;      /* LLM_QTYPE_* */
  int64_t rows, cols; /* out, in */
  size_t row_bytes;
  int packed;         /* rows repacked by llm_wmat_pack (kernels/qpack.h) */
} llm_wmat;

/* A float32 matrix view. */
llm_wmat llm_wmat_f32(const float *w, int64_t rows, int64_t cols);

/* Fills *w for data of a type: checks that the type is one the engine
** computes with and that cols is a whole number of its blocks. name is
** for messages. */
int llm_wmat_init(llm_wmat *w, const char *name, const void *data, uint32_t type, int64_t rows,
                  int64_t cols, llm_err *err);

/* Repacks w's rows in place for faster products (kernels/qpack.h) when
** its type and shape allow and the CPU's kernels read that layout (simd:
** the level the products will run at); the data must be writable. 0, or
** -1 when out of memory (w unchanged). */
int llm_wmat_pack(llm_wmat *w, int simd);

/* Rows [r0, r1) of w as float32 [r1 - r0, cols] (a packed w's read back
** in the GGUF layout first). */
void llm_wmat_rows(const llm_wmat *w, int64_t r0, int64_t r1, float *dst);

/* Whether b's rows follow a's in memory (same type, width and layout), so that
** the two can run as one product of a.rows + b.rows rows. */
int llm_wmat_adjacent(const llm_wmat *a, const llm_wmat *b);

/* The scratch of the products: room for n quantized activation rows,
** llm_linear_act_bytes(max_cols, n) (not needed for the float types). */
typedef struct llm_linear_buf {
  void *act;
} llm_linear_buf;
size_t llm_linear_act_bytes(int64_t max_cols, size_t n);

/* out[n, w.rows] (row stride ldo) = (acc ? out : 0) + bias + inp[n, w.cols]
** (row stride w.cols) W^T. bias [w.rows] may be NULL. */
void llm_linear(const llm_exec *x, float *out, size_t ldo, const float *inp, size_t n,
                const llm_wmat *w, const float *bias, int acc, const llm_linear_buf *buf);

#endif
