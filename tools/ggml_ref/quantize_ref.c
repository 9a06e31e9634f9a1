/*
** quantize_ref.c: records what ggml's quantizers make of float32 rows, as
** reference data for tests/engine/test_quantize.c (the engine's from_float
** of q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k and q6_k must give the
** same bytes). See tests/data/quantize/SOURCE.md.
**
** Not built by the Makefile: it links llama.cpp's libggml-base.so. From the
** repository root:
**
**   gcc -std=c11 -O2 -Wall -Wextra -I/work/llamacpp/ggml/include \
**     -o /tmp/quantize_ref tools/ggml_ref/quantize_ref.c \
**     -L/work/llamacpp/build/bin -Wl,-rpath,/work/llamacpp/build/bin \
**     -lggml-base -lm
**   /tmp/quantize_ref tests/data/quantize
**
** It quantizes all rows in one call, ggml_quantize_chunk(type, rows, out, 0,
** N_ROWS, N_PER_ROW, NULL), exactly as llama-quantize does without an
** importance matrix, and writes, little-endian:
**
**   DIR/inputs.bin   "QZIN", u32 version 1, u32 n_rows, u32 n_per_row,
**                    then n_rows * n_per_row float32
**   DIR/<type>.bin   "QZRF", u32 version 1, u32 ggml type id, u32 n_rows,
**                    u32 n_per_row, u32 row_bytes, u32 checksum (FNV-1a of
**                    the input floats' bytes), then n_rows * row_bytes bytes
**
** The rows (ROW_KINDS below) are deterministic: a fixed generator.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"

#define N_PER_ROW 256 /* one k-quant super-block, eight 32-element blocks */

/* ---- a small deterministic generator (splitmix64) ------------------------ */

static uint64_t rng_state; /* seeded per row */

static uint64_t rng_u64(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double uniform(void) { return (double)(rng_u64() >> 11) * 0x1p-53; } /* [0, 1) */

static double normal(void) { /* Box-Muller */
  double u = uniform(), v = uniform();
  return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

static float from_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}

/* ---- the rows -------------------------------------------------------------- */

/* Seeds of normal rows that take paths random rows rarely do, found by
** searching for rows where ggml's bytes differ from those of an altered copy
** of the engine's quantizers. They catch: q3_k's fit (make_q3_quants) with
** 4 rounds of moving levels instead of 5; x * (1 / d) instead of x / d when
** requantizing q2_k, q3_k, q4_k, q5_k, q6_k (values at an exact half-way
** point); make_qkx2_quants' error summed as scale * l + (min - x). */
static const uint64_t RARE_SEEDS[] = {6410, 523767, 260858, 302562, 42242, 60251, 16801};
#define N_RARE 7

/* Fills row x by kind; the comment of each is its description in SOURCE.md. */
static void fill_row(int kind, float *x) {
  int rare = kind >= 26 && kind < 26 + N_RARE;
  rng_state = rare ? RARE_SEEDS[kind - 26] : 0x5eed0000u + (uint64_t)kind;
  for (int i = 0; i < N_PER_ROW; i++) {
    double g = normal(), u = uniform(), v;
    switch (kind) {
      case 0: v = g; break;                                   /* normal */
      case 1: v = 0.02 * g; break;                            /* normal, weight-sized */
      case 2: v = 2 * u - 1; break;                           /* uniform [-1, 1) */
      case 3: v = u; break;                                   /* uniform, all >= 0 */
      case 4: v = -u; break;                                  /* uniform, all <= 0 */
      case 5: v = g / (u + 0.05); break;                      /* heavy-tailed */
      case 6: v = g + 3; break;                               /* normal, offset */
      case 7: v = rng_u64() % 4 ? 0 : g; break;               /* 3/4 exact zeros */
      case 8: v = i / 16 % 3 ? g : 0; break;                  /* zero 16-groups */
      case 9: v = i / 32 == 5 ? 0 : ldexp(g, i / 16 % 9 - 4); break; /* scales 2^-4..2^4 */
      case 10: v = 0.5; break;                                /* constant */
      case 11: v = -2; break;                                 /* constant < 0 */
      case 12: v = 0; break;                                  /* all zero */
      case 13: v = i % 37 == 5 ? g : i % 2 ? -0.0 : 0.0; break; /* signed zeros */
      case 14: v = 1e-6 * g; break;                           /* tiny */
      case 15: v = 1e-12 * g; break;                          /* halves underflow */
      case 16: v = 1e-17 * g; break;                          /* below ggml's eps */
      case 17: v = 1e-40 * g; break;                          /* float subnormals */
      case 18: v = 1e4 * g; break;                            /* large */
      case 19: v = 1e6 * g; break;                            /* halves overflow */
      case 20: v = i % 32 == 7 ? 50 : 0.01 * g; break;        /* outliers */
      case 21: v = 0.25 * (double)((int)(rng_u64() % 16) - 8); break; /* on a grid */
      case 22: v = 0.1 * ((double)((int)(rng_u64() % 32) - 16) + 0.5); break; /* half-way */
      case 23: v = (rng_u64() % 2 ? 1 : -1) + 0.01 * g; break; /* bimodal */
      case 24: v = 1e30 * g; break;                           /* squares overflow */
      case 25: v = 1e-14 * g; break;                          /* q6_k scales below eps */
      /* Non-finite rows: at most one NaN bit pattern each besides the one
      ** x86 makes (0xffc00000, from inf - inf or 0 * inf), see SOURCE.md. */
      case 26 + N_RARE: /* canonical NaNs and infs */
        v = i % 41 == 3 ? INFINITY : i % 53 == 9 ? -INFINITY : i % 29 == 1 ? NAN : g;
        break;
      case 27 + N_RARE: v = g; break; /* NaNs with a payload (below), no inf */
      case 28 + N_RARE: /* whole blocks of +inf, -inf and NaN */
        v = i < 32 ? INFINITY : i < 64 ? g : i < 96 ? -INFINITY : i < 128 ? NAN : g;
        break;
      default: v = g; break; /* the RARE_SEEDS rows */
    }
    x[i] = kind == 27 + N_RARE && i % 31 == 4 ? from_bits(0xffc12345u) : (float)v;
  }
}
#define ROW_KINDS (29 + N_RARE)

/* ---- output ------------------------------------------------------------- */

static void put_u32(FILE *f, uint32_t v) {
  unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 24)};
  fwrite(b, 1, 4, f);
}

/* FNV-1a over the floats' little-endian bytes. */
static uint32_t checksum(const float *x, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) {
    uint32_t w;
    memcpy(&w, &x[i], 4);
    for (int k = 0; k < 4; k++) h = (h ^ (w >> 8 * k & 0xff)) * 16777619u;
  }
  return h;
}

static FILE *create(const char *dir, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.bin", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) perror(path);
  return f;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  static float rows[ROW_KINDS * N_PER_ROW];
  for (int k = 0; k < ROW_KINDS; k++) fill_row(k, rows + k * N_PER_ROW);
  uint32_t sum = checksum(rows, ROW_KINDS * N_PER_ROW);

  FILE *f = create(argv[1], "inputs");
  if (!f) return 1;
  fwrite("QZIN", 1, 4, f);
  put_u32(f, 1);
  put_u32(f, ROW_KINDS);
  put_u32(f, N_PER_ROW);
  for (int i = 0; i < ROW_KINDS * N_PER_ROW; i++) {
    uint32_t w;
    memcpy(&w, &rows[i], 4);
    put_u32(f, w);
  }
  int failed = fclose(f) != 0;

  static const struct {
    enum ggml_type t;
    const char *name;
  } types[] = {
      {GGML_TYPE_Q4_0, "q4_0"}, {GGML_TYPE_Q4_1, "q4_1"}, {GGML_TYPE_Q5_0, "q5_0"},
      {GGML_TYPE_Q5_1, "q5_1"}, {GGML_TYPE_Q2_K, "q2_k"}, {GGML_TYPE_Q3_K, "q3_k"},
      {GGML_TYPE_Q4_K, "q4_k"}, {GGML_TYPE_Q5_K, "q5_k"}, {GGML_TYPE_Q6_K, "q6_k"},
  };
  static unsigned char out[ROW_KINDS * N_PER_ROW * 4];
  for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
    size_t row_bytes = ggml_row_size(types[i].t, N_PER_ROW);
    size_t bytes = ggml_quantize_chunk(types[i].t, rows, out, 0, ROW_KINDS, N_PER_ROW, NULL);
    if (bytes != row_bytes * ROW_KINDS || !(f = create(argv[1], types[i].name))) return 1;
    fwrite("QZRF", 1, 4, f);
    put_u32(f, 1);
    put_u32(f, (uint32_t)types[i].t);
    put_u32(f, ROW_KINDS);
    put_u32(f, N_PER_ROW);
    put_u32(f, (uint32_t)row_bytes);
    put_u32(f, sum);
    fwrite(out, 1, bytes, f);
    failed |= fclose(f) != 0;
    printf("%s: %d rows of %d, %zu bytes each\n", types[i].name, ROW_KINDS, N_PER_ROW, row_bytes);
  }
  return failed;
}
