/*
** qpack.h: q4_k, q5_k, q6_k, q4_0 and q8_0 weights repacked, 16 rows
** interleaved, for products whose integer work is one vpdpbusd per 4
** weights of 16 rows.
**
** In the GGUF layout a SIMD lane holds products of one weight row at
** several columns, so every 32 columns' sums need their sub-block's
** scale applied in the lanes (a multiply per 64 products) and a reduction
** across lanes at the end. Interleaving 16 rows puts one weight row in
** each of a register's 16 int32 lanes: a lane sums a whole sub-block of
** its row with the activation's 4 bytes broadcast, the scale is applied
** once per sub-block, and the 16 lanes are 16 outputs (no reduction).
** (llama.cpp repacks Q4_0 and Q4_K at load for the same reason.)
**
** Layout: rows [16g, 16g + 16) of the matrix take the same bytes as
** before, block b of the 16 rows (a "group", 16 blocks' bytes) at b times
** the group's size. q4_k (super-blocks of 256, 2304 bytes a group):
**   [0, 32)      d of rows 0..15 (f16);   [32, 64) dmin of rows 0..15;
**   [64, 256)    byte k (0..11) of row i's 12 scale bytes at 64 + 16 k + i;
**   [256, 2304)  64 bytes per (j, c), j < 4, c < 8, at 256 + 64 (8 j + c):
**                row i's qs[32 j + 4 c .. + 3] at 4 i (low nibbles:
**                elements 64 j + 4 c .., sub-block 2 j; high nibbles: 64 j
**                + 32 + 4 c .., sub-block 2 j + 1).
** q5_k (2816 bytes a group): as q4_k up to 256, then 320 bytes per c,
**   c < 8, at 256 + 320 c: row i's qh[4 c .. + 3] at 4 i (bit s: bit 4 of
**   sub-block s's element 4 c ..), then for j < 4 at 256 + 320 c + 64 (j
**   + 1) the nibbles of q4_k's (j, c). (Column-major, so that a decode
**   step, which goes over c and then j, reads the group in address order:
**   out of order the hardware prefetchers fell behind.)
** q6_k (3360 bytes a group):
**   [0, 32)      d of rows 0..15 (f16);
**   [32, 288)    the int8 scale of sub-block s of row i at 32 + 32 (s / 2)
**                + 2 i + s % 2 (pairs of sub-blocks, one int16 lane a row);
**   [288, 2336)  64 bytes per (h, j, c), h, j < 2, c < 8, at 288 + 64 (8
**                (2 h + j) + c): row i's ql[64 h + 32 j + 4 c .. + 3] at 4 i;
**   [2336, 3360) 64 bytes per (h, c) at 2336 + 64 (8 h + c): row i's
**                qh[32 h + 4 c .. + 3] at 4 i.
** q4_0 (blocks of 32, 288 bytes) and q8_0 (544 bytes): d of rows 0..15 in
** [0, 32), then 64 bytes per c at 32 + 64 c: row i's qs[4 c .. + 3] at 4 i
** (q4_0, c < 4: low nibbles elements 4 c .., high 16 + 4 c ..; q8_0, c < 8:
** elements 4 c ..).
** The same size in place: the loader repacks the weights where they lie.
**
** Arithmetic of weight row i with an activation row. q4_k and q5_k (q8_K
** activations), per super-block: isum = sum over sub-blocks s of scale_s
** * (q . a over s) and msum = sum over s of min_s * (a's two bsums of s),
** both exact in int32; then acc = fma((float)isum, d * da, acc), acc =
** fma(-(float)msum, dmin * da, acc). q6_k (q8_K activations), per
** super-block: isum = sum over its 16 sub-blocks s of scale_s * (u . a
** over s), u the 6-bit weights unsigned (q + 32), and osum = sum over s of
** scale_s * (a's bsum of s), exact in int32; acc = fma((float)(isum - 32
** osum), d * da, acc). q4_0 and q8_0 (q8_0 activations), per
** block: isum = u . a - offset * sum(a), u the weights made unsigned (q4_0:
** q + 8, offset 8; q8_0: q + 128, offset 128), exact; acc = fma((float)
** isum, d * da, acc). Blocks in order; every level computes those same
** operations, so all give the same bits, whatever the rows around (AVX2's
** q8_0 product needs the activations within +-127, as q8_0's quantizer
** makes them from finite values: qpack_avx2.c).
*/
#ifndef LLM_QPACK_H
#define LLM_QPACK_H

#include <stddef.h>
#include <stdint.h>

#define LLM_QPACK_ROWS 16

/* Where in a group of packed q4_k or q5_k (q5) rows the 64 bytes of qs[32
** j + 4 c .. + 3] of the 16 rows start, and those of q5_k's qh[4 c .. + 3]. */
static inline size_t llm_qpack_k45_qs(int q5, int j, int c) {
  return q5 ? 256 + 320 * (size_t)c + 64 * (size_t)(j + 1) : 256 + 64 * (size_t)(8 * j + c);
}
static inline size_t llm_qpack_k5_qh(int c) { return 256 + 320 * (size_t)c; }

/* Whether a matrix of this type and shape can be repacked. */
int llm_qpack_fits(uint32_t type, int64_t rows, int64_t cols);

/* Repacks the rows (row_bytes each, of a type that fits) in place; 0, or
** -1 when out of memory (nothing changed then). */
int llm_qpack_rows(uint32_t type, void *data, int64_t rows, size_t row_bytes);

/* The n bytes at offset of the matrix's GGUF layout, from its packed
** rows (row_bytes each): for what reads the weights as a file holds them
** (export, quantizing, dequantizing rows). */
void llm_qpack_read(uint32_t type, const void *packed, size_t row_bytes, uint64_t offset, void *dst, size_t n);

/* The activation rows the product reads: q8_K rows as they are (q4_k, q5_k,
** q6_k), or q8_0 rows (q4_0, q8_0) prepared by this (NULL for the k-quants)
** into blocks of 40 bytes: d as a float, the weights' offset times minus
** the sum of the 32 values (int32), the 32 values. At most llm_qkernel_prep_bytes(n). */
#define LLM_QPACK_PREP_BLOCK 40
typedef void (*llm_qpack_prepare_fn)(const void *src, void *dst, int64_t n);
llm_qpack_prepare_fn llm_qpack_prepare(uint32_t type);

/* out[r * ldo + 16 g + i] += the dot of row 16 g + i of the packed matrix
** w (groups [0, ng) of 16 rows, n columns, row_bytes per row) with the
** activation row r at act + r * act_stride, r < na. */
typedef void (*llm_qpack_product_fn)(const void *w, size_t ng, size_t row_bytes, const void *act,
                                     size_t act_stride, size_t na, int64_t n, float *out, size_t ldo);

/* The product of a type at SIMD level simd (LLM_SIMD_*): AVX-512 VNNI's,
** AVX2's (q4_0, q8_0 and q4_k), else the portable one. */
llm_qpack_product_fn llm_qpack_product(uint32_t type, int simd);

/* Defined by kernels/qpack_avx512.c and qpack_avx2.c: the type's product
** at that level, or NULL (none, or not built). */
llm_qpack_product_fn llm_qpack_product_avx512(uint32_t type);
llm_qpack_product_fn llm_qpack_product_avx2(uint32_t type);

#endif
