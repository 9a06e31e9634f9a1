/*
** qdot_ref.c: records how ggml's CPU backend converts activation rows to
** the weights' vec_dot_type and the dot products it then takes, as
** reference data for tests/engine/test_qdot.c (see tests/data/qdot/SOURCE.md).
** Both come from ggml_get_type_traits_cpu(type), i.e. exactly the code
** llama.cpp's CPU matrix products run on this machine (x86 SIMD versions
** where ggml has them).
**
** Not built by the Makefile: it links llama.cpp's libggml-base.so and
** libggml-cpu.so. From the repository root:
**
**   gcc -std=c11 -O2 -Wall -Wextra -I/work/llamacpp/ggml/include \
**     -o /tmp/qdot_ref tools/ggml_ref/qdot_ref.c \
**     -L/work/llamacpp/build/bin -Wl,-rpath,/work/llamacpp/build/bin \
**     -lggml-cpu -lggml-base -lm
**   /tmp/qdot_ref tests/data/qdot/qdot.bin
**
** The file, little-endian:
**
**   "QDOT"  u32 version (1)  u32 n_rows  u32 n_act  u32 n_weight
**   n_rows activation rows:  u32 n, u32 kind (0: random, 1: edge cases),
**                            f32 x[n]
**   n_act activation types:  u32 type, then for each row: u32 bytes,
**                            u8 out[bytes] = traits_cpu(type)->from_float(x)
**   n_weight weight types:   u32 type, u32 vec_type, u32 n_wrows, then for
**                            each weight row: u32 n, u32 bytes, u8 w[bytes],
**                            u32 n_dots, n_dots times
**                            (u32 row, f32 vec_dot, f32 mul_mat)
**
** for every random row of the same n (edge rows hold infs and NaNs: they
** test the conversions only), where
**   vec_dot = traits_cpu(type)->vec_dot(n, w, out of vec_type for row): what
**             a matrix product with one activation column (generating one
**             token) computes;
**   mul_mat = the same element of ggml_mul_mat(weights, activations) with
**             all the rows of that n as columns, on the CPU backend, 1
**             thread: with 2 or more columns (a batch of tokens) ggml first
**             tries llamafile's sgemm (tinyBLAS), which handles f32, f16,
**             bf16, q4_0, q5_0 and q8_0 weights with its own loops.
** The output buffers are zeroed before from_float: ggml's q8_K leaves the
** bsums of an all-zero block untouched.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-cpu.h"
#include "ggml.h"

/* ---- a small deterministic generator (splitmix64) ------------------------ */

static uint64_t rng_state = 0x5eedd07ull;

static uint64_t rng_u64(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float rng_signed(void) { return (float)((double)(rng_u64() >> 11) * 0x1p-52 - 1.0); }

/* Roughly normal, mean 0, deviation about 0.58. */
static float rng_bell(void) { return rng_signed() + rng_signed() + rng_signed(); }

/* ---- activation rows ------------------------------------------------------ */

#define MAX_ROWS 16
#define MAX_N 1024

typedef struct row {
  int n, kind;
  float x[MAX_N];
} row;

static row ROWS[MAX_ROWS];
static int N_ROWS;

/* Random activations of overall size scale: every 32 values have their own
** factor, some are exact zeros, a few are outliers (as LLM activations
** have in some channels). */
static void add_random_row(int n, float scale) {
  static const float factor[] = {1.0f, 0.1f, 3.0f, 0.02f, 10.0f, 0.5f, 1.0f, 2.0f};
  row *r = &ROWS[N_ROWS++];
  r->n = n, r->kind = 0;
  for (int i = 0; i < n; i++) {
    float v = scale * factor[i / 32 % 8] * rng_bell();
    if (i % 23 == 7) v = 0.0f;
    if (i % 97 == 13) v *= 30.0f;
    r->x[i] = v;
  }
}

/* n = 256, for q8_0 / q8_1 (8 blocks of 32): ties of x * 127 / amax at
** two scales (x86 rounds them to even, the reference away from zero); a
** block so small that 127 / amax overflows; one whose d is below the half
** range; one whose d is past it; an inf; a NaN that the x86 amax order
** drops (first) and one it keeps (place 27). As one q8_K block: an inf. */
static void add_edge_row_256(void) {
  row *r = &ROWS[N_ROWS++];
  float *x = r->x;
  r->n = 256, r->kind = 1;
  for (int j = 0; j < 32; j++) x[j] = j == 3 ? -127.0f : (float)(j - 16) + 0.5f;
  for (int j = 0; j < 32; j++) x[32 + j] = j == 30 ? 15.875f : ((float)(j - 16) + 0.5f) / 8;
  for (int j = 0; j < 32; j++) x[64 + j] = 1e-38f * rng_signed();
  x[64 + 9] = 1e-38f;
  for (int j = 0; j < 32; j++) x[96 + j] = 1e-6f * rng_bell();
  for (int j = 0; j < 32; j++) x[128 + j] = 1e30f * rng_bell();
  for (int j = 0; j < 32; j++) x[160 + j] = j == 5 ? INFINITY : rng_bell();
  for (int j = 0; j < 32; j++) x[192 + j] = j == 0 ? NAN : rng_bell();
  for (int j = 0; j < 32; j++) x[224 + j] = j == 27 ? NAN : rng_bell();
}

/* n = 1024, for q8_K (4 blocks of 256): zeros; exact ties of x * -127 / max
** (max = -127); a block whose -127 / max overflows; tiny values (max
** 2e-30) with a negative max. */
static void add_edge_row_1024(void) {
  row *r = &ROWS[N_ROWS++];
  float *x = r->x;
  r->n = 1024, r->kind = 1;
  for (int j = 0; j < 256; j++) x[j] = j % 2 ? -0.0f : 0.0f;
  for (int j = 0; j < 256; j++) x[256 + j] = j % 32 == 0 ? -127.0f : (float)(j % 200 - 100) + 0.5f;
  for (int j = 0; j < 256; j++) x[512 + j] = 1e-38f * rng_signed();
  x[512 + 77] = -1e-38f;
  for (int j = 0; j < 256; j++) x[768 + j] = 1e-30f * rng_signed();
  x[768 + 10] = -2e-30f;
}

/* n = 256, for q8_0 / q8_1: values x whose x * (127 / amax), as x86 takes
** it, and x * (1 / d), d = amax / 127, as the reference takes it, round to
** different integers (the two multipliers differ in their last bit). Each
** block has its own amax, first; the others are searched for near the
** points where one product is a half-integer. */
static void add_multiplier_row(void) {
  row *r = &ROWS[N_ROWS++];
  r->n = 256, r->kind = 1;
  for (int b = 0; b < 8; b++) {
    float *x = r->x + 32 * b, amax, m_x86, m_ref;
    do {
      amax = 0.5f + 100.0f * (float)(rng_u64() >> 40) * 0x1p-24f;
      m_x86 = 127.0f / amax, m_ref = 1.0f / (amax / 127.0f);
    } while (m_x86 == m_ref);
    x[0] = rng_u64() & 1 ? amax : -amax;
    for (int j = 1; j < 32; j++) {
      float k = (float)((int)(rng_u64() % 253) - 126) + 0.5f, at = k / m_x86;
      x[j] = at;
      for (int step = 0; step < 64; step++, at = nextafterf(at, 2 * at))
        if (rintf(at * m_x86) != rintf(at * m_ref) && fabsf(at) < amax) {
          x[j] = at;
          break;
        }
    }
  }
}

/* ---- weight rows -------------------------------------------------------------- */

/* Byte offsets of the half-precision fields of one block, -1 terminated
** (ggml-common.h). */
static const int *half_fields(enum ggml_type t) {
  static const int d0[] = {0, -1}, dm[] = {0, 2, -1}, q2k[] = {80, 82, -1},
                   q3k[] = {108, -1}, q6k[] = {208, -1};
  switch (t) {
    case GGML_TYPE_Q4_0: case GGML_TYPE_Q5_0: case GGML_TYPE_Q8_0: return d0;
    case GGML_TYPE_Q4_1: case GGML_TYPE_Q5_1: case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: return dm;
    case GGML_TYPE_Q2_K: return q2k;
    case GGML_TYPE_Q3_K: return q3k;
    case GGML_TYPE_Q6_K: return q6k;
    default: return NULL;
  }
}

/* A random half of modest size (|h| < 2^-2), any sign: keeps the dots of
** random blocks well inside the float range. */
static uint16_t small_half(void) {
  uint16_t h = (uint16_t)rng_u64();
  return (uint16_t)((h & 0x83ff) | (uint16_t)(rng_u64() % 13) << 10);
}

/* Weight row `which` of n elements of type t into w (returns its bytes):
** row 0 is ggml's quantization of random weights (per-block scales and
** offsets); row 1 is random bytes with random halves in the scale fields
** for the block types (bit patterns the quantizer never makes), and random
** weights of a wider range for the plain types. */
static size_t make_weight_row(enum ggml_type t, int which, int n, uint8_t *w) {
  const struct ggml_type_traits *tr = ggml_get_type_traits(t);
  size_t bytes = (size_t)(n / tr->blck_size) * tr->type_size;
  const int *halves = half_fields(t);
  if (which == 1 && halves) {
    for (size_t i = 0; i < bytes; i++) w[i] = (uint8_t)rng_u64();
    for (size_t b = 0; b < bytes; b += tr->type_size)
      for (int k = 0; halves[k] >= 0; k++) {
        uint16_t h = small_half();
        memcpy(w + b + halves[k], &h, 2);
      }
    return bytes;
  }
  static const float offset[] = {0.0f, 0.01f, -0.03f, 0.0f, 0.05f, 0.0f, -0.01f, 0.02f};
  float src[MAX_N];
  for (int i = 0; i < n; i++) {
    float scale = which ? ldexpf(1.0f, (int)(rng_u64() % 24) - 12) : 0.05f * (1 + i / 32 % 4);
    src[i] = scale * rng_bell() + (which ? 0.0f : offset[i / 32 % 8]);
  }
  return ggml_quantize_chunk(t, src, w, 0, 1, n, NULL);
}

/* ---- output ------------------------------------------------------------- */

static void put_u32(FILE *f, uint32_t v) {
  unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 24)};
  fwrite(b, 1, 4, f);
}

static void put_f32(FILE *f, float x) {
  uint32_t b;
  memcpy(&b, &x, 4);
  put_u32(f, b);
}

static const enum ggml_type ACT_TYPES[] = {GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16,
                                           GGML_TYPE_Q8_0, GGML_TYPE_Q8_1, GGML_TYPE_Q8_K};
#define N_ACT ((int)(sizeof ACT_TYPES / sizeof *ACT_TYPES))

static const enum ggml_type WEIGHT_TYPES[] = {
    GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16, GGML_TYPE_Q4_0, GGML_TYPE_Q4_1,
    GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0, GGML_TYPE_Q2_K, GGML_TYPE_Q3_K,
    GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K,
};
#define N_WEIGHT ((int)(sizeof WEIGHT_TYPES / sizeof *WEIGHT_TYPES))

/* ACT[a][r]: activation row r converted to ACT_TYPES[a]. */
static uint8_t ACT[N_ACT][MAX_ROWS][MAX_N * 4];
static size_t ACT_BYTES[N_ACT][MAX_ROWS];

static int act_index(enum ggml_type t) {
  for (int a = 0; a < N_ACT; a++)
    if (ACT_TYPES[a] == t) return a;
  return -1;
}

/* mm[i][c] = element (i, c) of ggml_mul_mat of the 2 weight rows w (of n
** elements of type t, bytes each) by the activation rows cols[0, n_cols)
** as columns, computed by the CPU backend with 1 thread. The weights are
** given twice, as 4 rows: llamafile's sgemm for f32, f16 and bf16 needs a
** multiple of 4 (as a model's matrices have). */
static int mul_mat(enum ggml_type t, int n, uint8_t w[2][MAX_N * 4], size_t bytes, const int *cols,
                   int n_cols, float mm[2][MAX_ROWS]) {
  struct ggml_init_params params = {64u << 20, NULL, false};
  struct ggml_context *ctx = ggml_init(params);
  if (!ctx) return 1;
  struct ggml_tensor *weights = ggml_new_tensor_2d(ctx, t, n, 4);
  struct ggml_tensor *acts = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n, n_cols);
  for (int i = 0; i < 4; i++)
    memcpy((uint8_t *)weights->data + i * weights->nb[1], w[i % 2], bytes);
  for (int c = 0; c < n_cols; c++)
    memcpy((uint8_t *)acts->data + c * acts->nb[1], ROWS[cols[c]].x, (size_t)n * sizeof(float));
  struct ggml_tensor *out = ggml_mul_mat(ctx, weights, acts); /* 4 x n_cols */
  struct ggml_cgraph *graph = ggml_new_graph(ctx);
  ggml_build_forward_expand(graph, out);
  int failed = ggml_graph_compute_with_ctx(ctx, graph, 1) != GGML_STATUS_SUCCESS;
  for (int c = 0; c < n_cols; c++)
    for (int i = 0; i < 2; i++)
      memcpy(&mm[i][c], (uint8_t *)out->data + c * out->nb[1] + i * sizeof(float), sizeof(float));
  ggml_free(ctx);
  return failed;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUT_FILE\n", argv[0]);
    return 2;
  }
  ggml_cpu_init();
  printf("ggml-cpu: avx2 %d avx512 %d avx512_vnni %d avx512_bf16 %d f16c %d fma %d "
         "avx_vnni %d llamafile %d\n",
         ggml_cpu_has_avx2(), ggml_cpu_has_avx512(), ggml_cpu_has_avx512_vnni(),
         ggml_cpu_has_avx512_bf16(), ggml_cpu_has_f16c(), ggml_cpu_has_fma(),
         ggml_cpu_has_avx_vnni(), ggml_cpu_has_llamafile());

  static const int sizes[] = {256, 1024};
  static const float scales[] = {0.001f, 1.0f, 50.0f};
  for (int s = 0; s < 2; s++)
    for (int m = 0; m < 3; m++) add_random_row(sizes[s], scales[m]);
  add_edge_row_256();
  add_edge_row_1024();
  add_multiplier_row();

  FILE *f = fopen(argv[1], "wb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  fwrite("QDOT", 1, 4, f);
  put_u32(f, 1);
  put_u32(f, (uint32_t)N_ROWS);
  put_u32(f, (uint32_t)N_ACT);
  put_u32(f, (uint32_t)N_WEIGHT);
  for (int r = 0; r < N_ROWS; r++) {
    put_u32(f, (uint32_t)ROWS[r].n);
    put_u32(f, (uint32_t)ROWS[r].kind);
    for (int i = 0; i < ROWS[r].n; i++) put_f32(f, ROWS[r].x[i]);
  }

  for (int a = 0; a < N_ACT; a++) {
    enum ggml_type t = ACT_TYPES[a];
    const struct ggml_type_traits *tr = ggml_get_type_traits(t);
    put_u32(f, (uint32_t)t);
    for (int r = 0; r < N_ROWS; r++) {
      size_t bytes = (size_t)(ROWS[r].n / tr->blck_size) * tr->type_size;
      memset(ACT[a][r], 0, sizeof ACT[a][r]);
      ggml_get_type_traits_cpu(t)->from_float(ROWS[r].x, ACT[a][r], ROWS[r].n);
      ACT_BYTES[a][r] = bytes;
      put_u32(f, (uint32_t)bytes);
      fwrite(ACT[a][r], 1, bytes, f);
    }
  }

  for (int k = 0; k < N_WEIGHT; k++) {
    enum ggml_type t = WEIGHT_TYPES[k];
    const struct ggml_type_traits_cpu *cpu = ggml_get_type_traits_cpu(t);
    int a = act_index(cpu->vec_dot_type);
    if (a < 0) {
      fprintf(stderr, "%s: unexpected vec_dot_type %d\n", ggml_type_name(t), cpu->vec_dot_type);
      return 1;
    }
    put_u32(f, (uint32_t)t);
    put_u32(f, (uint32_t)cpu->vec_dot_type);
    put_u32(f, 2 * 2);
    int n_differ = 0;
    for (int s = 0; s < 2; s++) {
      int n = sizes[s];
      static uint8_t w[2][MAX_N * 4];
      size_t bytes = 0;
      for (int which = 0; which < 2; which++) bytes = make_weight_row(t, which, n, w[which]);
      int cols[MAX_ROWS], n_cols = 0;
      for (int r = 0; r < N_ROWS; r++)
        if (ROWS[r].n == n && ROWS[r].kind == 0) cols[n_cols++] = r;
      float mm[2][MAX_ROWS];
      if (mul_mat(t, n, w, bytes, cols, n_cols, mm)) return 1;
      for (int which = 0; which < 2; which++) {
        put_u32(f, (uint32_t)n);
        put_u32(f, (uint32_t)bytes);
        fwrite(w[which], 1, bytes, f);
        put_u32(f, (uint32_t)n_cols);
        for (int c = 0; c < n_cols; c++) {
          float dot = 0.0f;
          cpu->vec_dot(n, &dot, 0, w[which], 0, ACT[a][cols[c]], 0, 1);
          put_u32(f, (uint32_t)cols[c]);
          put_f32(f, dot);
          put_f32(f, mm[which][c]);
          n_differ += memcmp(&dot, &mm[which][c], sizeof dot) != 0;
        }
      }
    }
    printf("%s: vec_dot_type %s; mul_mat differs from vec_dot in %d of 12 dots\n",
           ggml_type_name(t), ggml_type_name(cpu->vec_dot_type), n_differ);
  }
  if (fclose(f) != 0) {
    perror(argv[1]);
    return 1;
  }
  return 0;
}
