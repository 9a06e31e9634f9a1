/*
** quant_ref.c: records ggml's own dequantization and quantization of the 13
** types the engine computes with, as reference data for
** tests/engine/test_quant.c (see tests/data/quant/SOURCE.md).
**
** Not built by the Makefile: it links llama.cpp's libggml-base.so. From the
** repository root:
**
**   gcc -std=c11 -O2 -Wall -Wextra -I/work/llamacpp/ggml/include \
**     -o /tmp/quant_ref tools/ggml_ref/quant_ref.c \
**     -L/work/llamacpp/build/bin -Wl,-rpath,/work/llamacpp/build/bin \
**     -lggml-base -lm
**   /tmp/quant_ref tests/data/quant
**
** For each type it writes DIR/<name>.bin (name as in kernels/qtypes.h:
** "q4_k"), little-endian:
**
**   0   "QREF"            magic
**   4   u32 version       1
**   8   u32 type          ggml type id
**   12  u32 n             elements of the dequantization case
**   16  u32 in_bytes      bytes of its encoded input (n / block * block bytes)
**   20  u32 n_from        elements of the quantization case (0: none)
**   24  u32 from_bytes    bytes of ggml's encoding of them
**   28  in[in_bytes]  out[n] f32  from_in[n_from] f32  from_out[from_bytes]
**
** out is ggml's to_float of in (for f32, which has none in ggml, a copy).
** in holds 8 blocks (256 elements for the plain types) that ggml's
** quantizer made from a pseudo-random vector whose blocks have different
** scales and offsets, then 2 blocks of random bytes with finite halves in
** the half-precision scale fields (64 random elements for the plain
** types), for bit patterns the quantizer never makes. The quantization case
** (f16, bf16, q8_0) is ggml's from_float_ref on edge cases: zeros,
** subnormals, ties, the ends of the half range, inf, NaN. (In q8_0 a NaN
** is only first or last in its block: one in the middle hides the values
** before it from amax, and ggml converts those, out of int8's range, to
** int8 without a check. For the non-numbers x / d it converts, x86 gives 0.)
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"

/* ---- a small deterministic generator (splitmix64) ------------------------ */

static uint64_t rng_state; /* seeded per type: each file stands alone */

static uint64_t rng_u64(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float rng_signed(void) { return (float)((double)(rng_u64() >> 11) * 0x1p-52 - 1.0); }

static float from_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}

/* ---- inputs ------------------------------------------------------------- */

/* n values in blocks of `block`: each block has its own scale and offset,
** some values are zero, some are outliers, so that the quantizers take
** their different branches (sub-block scales, mins, clamping). */
static void fill_vector(float *x, int n, int block) {
  static const float scale[] = {1.0f, 0.02f, 3.0f, 0.001f, 50.0f, 0.5f, 1000.0f, 1.0f};
  static const float offset[] = {0.0f, 0.01f, -2.0f, 0.0f, 20.0f, 0.0f, 0.0f, 0.5f};
  for (int i = 0; i < n; i++) {
    int b = (i / block) % 8;
    float v = scale[b] * (rng_signed() + rng_signed() + rng_signed()) / 3 + offset[b];
    if (b == 7 && i % 5 == 0) v = 0.0f;   /* many exact zeros */
    if (b == 5 && i % 37 == 3) v *= 40.0f; /* outliers */
    x[i] = v;
  }
}

/* A random finite half: any sign, mantissa and exponent 0..30. */
static uint16_t finite_half(void) {
  uint16_t h = (uint16_t)rng_u64();
  return (h & 0x7C00) == 0x7C00 ? (uint16_t)(h & ~0x4000) : h;
}

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

/* Edge cases for the conversions to f16 and bf16, as float bit patterns. */
static const uint32_t EDGE_BITS[] = {
    0x00000000, 0x80000000,                         /* +-0 */
    0x3F800000, 0xBF800000, 0x3DCCCCCD, 0x3EAAAAAB, /* 1, -1, 0.1, 1/3 */
    0x477FE000, 0xC77FE000,                         /* +-65504, the largest half */
    0x477FEFFF, 0x477FF000, 0xC77FF000,             /* below 65520, 65520 (tie to inf) */
    0x47800000, 0x47C35000, 0x501502F9,             /* 65536, 1e5, 1e10 */
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, /* +-FLT_MAX, +-inf */
    0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FFFFFFF, 0xFFA00001, 0x7FC02000, /* NaNs */
    0x38800000, 0x387FFFFF,                         /* 2^-14 and just below */
    0x387FC000,                                     /* 2^-14 - 2^-25: tie, rounds up */
    0x33800000, 0xB3800000,                         /* +-2^-24, the smallest half */
    0x33000000, 0x33000001, 0x32FFFFFF,             /* 2^-25 (tie to 0), around it */
    0x33C00000, 0x34200000, 0x34100000,             /* 3*2^-25, 5*2^-25 ties, 2.25*2^-24 */
    0x32800000, 0x2EDBE6FF, 0x00000001, 0x80000001, /* 2^-26, 1e-10, float subnormals */
    0x007FFFFF, 0x00800000, 0x80800000,             /* largest subnormal, FLT_MIN */
    0x3F801000, 0x3F803000, 0x3F801001, 0x3F800FFF, /* ties and near-ties at 1 (half) */
    0x45001000, 0x45003000, 0x3FFFF000,             /* 2048+1, 2048+3 ties; 2-2^-11 */
    0x38801000, 0x38803000,                         /* ties next to 2^-14 */
    0x3F808000, 0x3F818000, 0x3F808001, 0xBF808000, /* bf16 ties at 1 */
    0x7F7F8000, 0x7F7F7FFF, 0x00008000, 0x00018000, /* bf16: tie to inf, below; subnormal ties */
    0x4B000001, 0x42F6E979, 0xC2F6E979,             /* 2^23+1, +-123.456 */
};
#define N_EDGE ((int)(sizeof EDGE_BITS / sizeof *EDGE_BITS))
#define N_EDGE_RANDOM 64

/* Edge cases, then random floats over a wide range of exponents. */
static int fill_edge_vector(float *x) {
  int n = 0;
  for (int i = 0; i < N_EDGE; i++) x[n++] = from_bits(EDGE_BITS[i]);
  for (int i = 0; i < N_EDGE_RANDOM; i++) {
    uint32_t exp = 127 - 30 + (uint32_t)(rng_u64() % 50); /* 2^-30 .. 2^19 */
    uint32_t bits = (uint32_t)(rng_u64() & 0x807FFFFFu) | exp << 23;
    x[n++] = from_bits(bits);
  }
  return n;
}

/* Blocks of 32 for q8_0: zeros; exact ties of x / d (d = 1); a tiny block
** (d underflows to a zero half); a huge one (d overflows to inf); one whose
** d is just past the largest half; one so tiny that 1 / d overflows; an
** inf; a NaN first, a NaN last; then random blocks. */
static int fill_q8_0_edge_vector(float *x) {
  int n = 0;
  for (int i = 0; i < 32; i++) x[n++] = i % 2 ? -0.0f : 0.0f;
  static const float ties[] = {127, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, 0.49999997f, -126.5f,
                               1e-40f, -1e-45f, -0.0f, 3.4999998f, 100.5f, -127};
  for (int i = 0; i < 32; i++) x[n++] = i < 14 ? ties[i] : (float)(i - 16) + 0.25f;
  for (int i = 0; i < 32; i++) x[n++] = 1e-36f * rng_signed();
  x[n - 5] = 1e-36f;
  for (int i = 0; i < 32; i++) x[n++] = i == 7 ? -1e38f : 1e30f * rng_signed();
  for (int i = 0; i < 32; i++) x[n++] = i == 0 ? 127 * 65520.0f : 1e5f * rng_signed();
  for (int i = 0; i < 32; i++) x[n++] = i == 9 ? 1e-38f : 1e-38f * rng_signed();
  for (int i = 0; i < 32; i++) x[n++] = i == 4 ? INFINITY : i == 20 ? -INFINITY : rng_signed();
  for (int i = 0; i < 32; i++) x[n++] = i == 0 ? NAN : 5.0f * rng_signed();
  for (int i = 0; i < 32; i++) x[n++] = i == 31 ? -NAN : 5.0f * rng_signed();
  for (int i = 0; i < 64; i++) x[n++] = 10.0f * rng_signed();
  return n;
}

/* ---- output ------------------------------------------------------------- */

static void put_u32(FILE *f, uint32_t v) {
  unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 24)};
  fwrite(b, 1, 4, f);
}

static void put_floats(FILE *f, const float *x, int n) {
  for (int i = 0; i < n; i++) {
    uint32_t b;
    memcpy(&b, &x[i], 4);
    put_u32(f, b);
  }
}

static int record(const char *dir, enum ggml_type t, const char *name) {
  const struct ggml_type_traits *tr = ggml_get_type_traits(t);
  rng_state = 0x5eed0000u + (uint64_t)t;
  int block = (int)tr->blck_size, plain = block == 1;
  int n_quant = plain ? 256 : 8 * block, n_rand = plain ? 64 : 2 * block;
  int n = n_quant + n_rand;
  size_t in_bytes = (size_t)(n / block) * tr->type_size;
  float *x = calloc((size_t)n, sizeof *x), *out = calloc((size_t)n, sizeof *out);
  unsigned char *in = calloc(in_bytes, 1);

  fill_vector(x, n_quant, plain ? 32 : block);
  size_t quant_bytes = ggml_quantize_chunk(t, x, in, 0, 1, n_quant, NULL);
  for (size_t i = quant_bytes; i < in_bytes; i++) in[i] = (unsigned char)rng_u64();
  const int *halves = half_fields(t);
  for (size_t b = quant_bytes; halves && b < in_bytes; b += tr->type_size)
    for (int k = 0; halves[k] >= 0; k++) {
      uint16_t h = finite_half();
      memcpy(in + b + halves[k], &h, 2);
    }
  if (t == GGML_TYPE_F32)
    memcpy(out, in, in_bytes);
  else
    tr->to_float(in, out, n);

  float from_in[512];
  int n_from = 0;
  if (t == GGML_TYPE_F16 || t == GGML_TYPE_BF16) n_from = fill_edge_vector(from_in);
  if (t == GGML_TYPE_Q8_0) n_from = fill_q8_0_edge_vector(from_in);
  size_t from_bytes = (size_t)(n_from / block) * tr->type_size;
  unsigned char from_out[2048];
  if (n_from) tr->from_float_ref(from_in, from_out, n_from);

  char path[1024];
  snprintf(path, sizeof path, "%s/%s.bin", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    return 1;
  }
  fwrite("QREF", 1, 4, f);
  put_u32(f, 1);
  put_u32(f, (uint32_t)t);
  put_u32(f, (uint32_t)n);
  put_u32(f, (uint32_t)in_bytes);
  put_u32(f, (uint32_t)n_from);
  put_u32(f, (uint32_t)from_bytes);
  fwrite(in, 1, in_bytes, f);
  put_floats(f, out, n);
  put_floats(f, from_in, n_from);
  fwrite(from_out, 1, from_bytes, f);
  int failed = fclose(f) != 0;
  printf("%s: %d elements, %zu bytes in; %d from_float elements\n", path, n, in_bytes, n_from);
  free(x), free(out), free(in);
  return failed;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  static const struct {
    enum ggml_type t;
    const char *name;
  } types[] = {
      {GGML_TYPE_F32, "f32"},   {GGML_TYPE_F16, "f16"},   {GGML_TYPE_BF16, "bf16"},
      {GGML_TYPE_Q4_0, "q4_0"}, {GGML_TYPE_Q4_1, "q4_1"}, {GGML_TYPE_Q5_0, "q5_0"},
      {GGML_TYPE_Q5_1, "q5_1"}, {GGML_TYPE_Q8_0, "q8_0"}, {GGML_TYPE_Q2_K, "q2_k"},
      {GGML_TYPE_Q3_K, "q3_k"}, {GGML_TYPE_Q4_K, "q4_k"}, {GGML_TYPE_Q5_K, "q5_k"},
      {GGML_TYPE_Q6_K, "q6_k"},
  };
  int failed = 0;
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    failed |= record(argv[1], types[i].t, types[i].name);
  return failed;
}
