/*
** linear.c: the typed products of linear.h.
*/
#include "nn/linear.h"

#include <stdint.h>
#include <string.h>

#include "kernels/dotgemm.h"
#include "kernels/qkernels.h"
#include "kernels/qpack.h"
#include "kernels/qtypes.h"
#include "kernels/vec.h"

/* Activation rows a thread runs every weight row of its slice against
** before going on to the next ones: about 150 kB of 8-bit rows of 2048,
** which stay in its L2 cache while the weight rows stream past. */
#define ACT_CHUNK 64

llm_wmat llm_wmat_f32(const float *w, int64_t rows, int64_t cols) {
  llm_wmat m = {w, LLM_QTYPE_F32, rows, cols, (size_t)cols * sizeof(float), 0};
  return m;
}

int llm_wmat_init(llm_wmat *w, const char *name, const void *data, uint32_t type, int64_t rows,
                  int64_t cols, llm_err *err) {
  const llm_qtype *q = llm_qtype_get(type);
  if (!q || !q->supported)
    return llm_fail(err, LLM_EINVAL, "tensor '%s' has type %s, which this engine does not run", name,
                    q ? q->name : "(unknown)");
  uint64_t bytes;
  if (rows < 1 || cols < 1 || llm_qtype_row_bytes(type, (uint64_t)cols, &bytes))
    return llm_fail(err, LLM_EINVAL, "tensor '%s' of type %s: rows of %lld elements are not whole blocks of %u",
                    name, q->name, (long long)cols, q->block);
  *w = (llm_wmat){data, type, rows, cols, (size_t)bytes, 0};
  return LLM_OK;
}

void llm_wmat_rows(const llm_wmat *w, int64_t r0, int64_t r1, float *dst) {
  const char *src = (const char *)w->data + (size_t)r0 * w->row_bytes;
  if (w->packed) { /* a block at a time, as the file holds it */
    const llm_qtype *q = llm_qtype_get(w->type);
    uint8_t block[256]; /* (the packed types' blocks: 144 bytes at most) */
    for (uint64_t at = (uint64_t)r0 * w->row_bytes; at < (uint64_t)r1 * w->row_bytes; at += q->block_bytes) {
      llm_qpack_read(w->type, w->data, w->row_bytes, at, block, q->block_bytes);
      q->to_float(block, dst, q->block);
      dst += q->block;
    }
    return;
  }
  if (w->type == LLM_QTYPE_F32) {
    memcpy(dst, src, (size_t)(r1 - r0) * (size_t)w->cols * sizeof(float));
    return;
  }
  /* rows are contiguous: one call dequantizes them all */
  llm_qtype_get(w->type)->to_float(src, dst, (r1 - r0) * w->cols);
}

int llm_wmat_pack(llm_wmat *w, int simd) {
  if (w->packed || !w->data || !llm_qpack_fits(w->type, w->rows, w->cols) ||
      llm_qpack_product(w->type, simd) == llm_qpack_product(w->type, LLM_SIMD_SCALAR)) /* (only SIMD repays it) */
    return 0;
  if (llm_qpack_rows(w->type, (void *)(uintptr_t)w->data, w->rows, w->row_bytes)) return -1;
  w->packed = 1;
  return 0;
}

int llm_wmat_adjacent(const llm_wmat *a, const llm_wmat *b) {
  return a->data && b->data && a->type == b->type && a->cols == b->cols && a->packed == b->packed &&
         (const char *)a->data + (size_t)a->rows * a->row_bytes == (const char *)b->data;
}

/* An activation row takes at most 2 bytes per element (f16, bf16) or 292
** per block of 256 (q8_K, rounded up to whole blocks), whichever is more,
** and its prepared copy for the tiles (qkernels.h) as much again. */
size_t llm_linear_act_bytes(int64_t max_cols, size_t n) {
  size_t half = 2 * (size_t)max_cols, q8k = ((size_t)max_cols + 255) / 256 * 292;
  return n * ((half > q8k ? half : q8k) + llm_qkernel_prep_bytes(max_cols));
}

/* The float types' weights as llm_dotgemm reads them (-1: a block type). */
static int dot_type(uint32_t type) {
  return type == LLM_QTYPE_F32 ? LLM_DOTGEMM_F32
         : type == LLM_QTYPE_F16 ? LLM_DOTGEMM_F16
         : type == LLM_QTYPE_BF16 ? LLM_DOTGEMM_BF16 : -1;
}

typedef struct lin_ctx {
  const llm_exec *x;
  float *out;
  const float *inp, *bias;
  const void *act; /* the quantized activation rows (as the kernels' act_prepare makes them, if
                   ** they have one), act_bytes each */
  size_t act_bytes;
  llm_qkernel k;    /* their dot products, at the CPU's level */
  llm_qpack_product_fn packed; /* or the product of packed weights */
  const llm_wmat *w;
  size_t n, ldo;
  int acc;
} lin_ctx;

/* out[r, lo..hi) = (acc ? out : 0) + bias, for every row r: the start of
** each output slice, which the products then add to. */
static void start_cols(const lin_ctx *c, size_t lo, size_t hi) {
  for (size_t r = 0; r < c->n; r++) {
    float *o = c->out + r * c->ldo + lo;
    if (!c->acc && !c->bias)
      memset(o, 0, (hi - lo) * sizeof *o);
    else if (!c->acc)
      memcpy(o, c->bias + lo, (hi - lo) * sizeof *o);
    else if (c->bias)
      llm_vadd(c->x->simd, o, c->bias + lo, hi - lo);
  }
}

/* Weight rows [lo, hi) against every activation row. */
static void lin_cols(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const lin_ctx *c = p;
  const llm_wmat *w = c->w;
  size_t cols = (size_t)w->cols;
  start_cols(c, lo, hi);
  int dt = dot_type(w->type);
  if (w->packed) { /* (lo and hi are whole groups: llm_linear) */
    for (size_t r0 = 0; r0 < c->n; r0 += ACT_CHUNK) {
      size_t r1 = c->n - r0 < ACT_CHUNK ? c->n : r0 + ACT_CHUNK;
      c->packed((const char *)w->data + lo * w->row_bytes, (hi - lo) / LLM_QPACK_ROWS, w->row_bytes,
                (const char *)c->act + r0 * c->act_bytes, c->act_bytes, r1 - r0, (int64_t)cols,
                c->out + r0 * c->ldo + lo, c->ldo);
    }
    return;
  }
  if (dt >= 0) {
    llm_dotgemm(c->x->simd, c->out + lo, c->ldo, c->inp, cols, c->n, (const char *)w->data + lo * w->row_bytes, dt,
                w->row_bytes, hi - lo, cols, 1);
    return;
  }
  for (size_t r0 = 0; r0 < c->n; r0 += ACT_CHUNK) {
    size_t r1 = c->n - r0 < ACT_CHUNK ? c->n : r0 + ACT_CHUNK;
    c->k.vec_dot_tile((const char *)w->data + lo * w->row_bytes, w->row_bytes, hi - lo,
                      (const char *)c->act + r0 * c->act_bytes, c->act_bytes, r1 - r0, (int64_t)cols,
                      c->out + r0 * c->ldo + lo, c->ldo);
  }
}

/* Groups of packed weight rows [lo, hi). */
static void lin_groups(void *p, size_t lo, size_t hi, int tid) {
  lin_cols(p, lo * LLM_QPACK_ROWS, hi * LLM_QPACK_ROWS, tid);
}

typedef struct act_ctx {
  void (*quantize)(const float *src, void *dst, int64_t n); /* the kernels' act_from_float */
  void (*prepare)(const void *src, void *dst, int64_t n);   /* and act_prepare */
  const float *inp;
  void *act, *prep; /* the rows, bytes each; prepared, prep_bytes each */
  size_t cols, bytes, prep_bytes;
} act_ctx;

static void quantize_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const act_ctx *c = p;
  for (size_t r = lo; r < hi; r++) {
    char *row = (char *)c->act + r * c->bytes;
    c->quantize(c->inp + r * c->cols, row, (int64_t)c->cols);
    if (c->prepare) c->prepare(row, (char *)c->prep + r * c->prep_bytes, (int64_t)c->cols);
  }
}

void llm_linear(const llm_exec *x, float *out, size_t ldo, const float *inp, size_t n, const llm_wmat *w,
                const float *bias, int acc, const llm_linear_buf *buf) {
  lin_ctx c = {.x = x, .out = out, .inp = inp, .bias = bias, .w = w, .n = n, .ldo = ldo, .acc = acc};
  if (dot_type(w->type) < 0) {
    const llm_qtype *a = llm_qtype_get(llm_qtype_get(w->type)->vec_type);
    uint64_t bytes = 0;
    llm_qtype_row_bytes(a->id, (uint64_t)w->cols, &bytes);
    c.k = llm_qkernel_get(w->type, llm_qkernel_level(x->simd));
    if (w->packed) c.k.act_prepare = llm_qpack_prepare(w->type), c.packed = llm_qpack_product(w->type, x->simd);
    char *rows = buf->act;
    act_ctx q = {c.k.act_from_float, c.k.act_prepare, inp, rows,
                 rows + n * (size_t)bytes, (size_t)w->cols, (size_t)bytes, llm_qkernel_prep_bytes(w->cols)};
    llm_pool_for(n > 1 ? x->pool : NULL, n, quantize_rows, &q);
    c.act = q.prepare ? q.prep : q.act;
    c.act_bytes = q.prepare ? q.prep_bytes : q.bytes;
  }
  /* threads split the weight rows: each writes its own output columns,
  ** and every element's arithmetic is the same however they split */
  if (w->packed)
    llm_pool_for(x->pool, (size_t)w->rows / LLM_QPACK_ROWS, lin_groups, &c);
  else
    llm_pool_for(x->pool, (size_t)w->rows, lin_cols, &c);
}
