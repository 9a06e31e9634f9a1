/* test_quantize.c: the quantizers (from_float) of q4_0, q4_1, q5_0, q5_1,
** q2_k, q3_k, q4_k, q5_k and q6_k (kernels/qtypes.h).
**
** Byte for byte against ggml: tools/ggml_ref/quantize_ref.c recorded what
** ggml_quantize_chunk (llama-quantize's call, no importance matrix) makes of
** rows of 256 floats (tests/data/quantize/SOURCE.md lists them: several
** distributions, zeros, constants, tiny and huge values, inf and NaN, and
** rows found to take rare paths); a missing file fails the test. Then round
** trips: to_float(from_float(x)) is within each type's expected error of x
** on other random rows; and rows for whose NaNs ggml's output depends on
** its compiler still quantize safely, within their bytes. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qtypes.h"
#include "check.h"
#include "le_bytes.h"

static const uint32_t TYPES[] = {
    LLM_QTYPE_Q4_0, LLM_QTYPE_Q4_1, LLM_QTYPE_Q5_0, LLM_QTYPE_Q5_1, LLM_QTYPE_Q2_K,
    LLM_QTYPE_Q3_K, LLM_QTYPE_Q4_K, LLM_QTYPE_Q5_K, LLM_QTYPE_Q6_K,
};
#define N_TYPES (sizeof TYPES / sizeof *TYPES)

/* ---- the recorded data ---------------------------------------------------- */

/* The whole file at path (malloc'd; *size its length), or NULL. */
static uint8_t *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  uint8_t *data = NULL;
  long len = -1;
  if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (data = malloc((size_t)len + 1)) && fread(data, 1, (size_t)len, f) != (size_t)len) {
    free(data);
    data = NULL;
  }
  if (f) fclose(f);
  if (!data) printf("  %s: missing or unreadable\n", path);
  *size = (size_t)len;
  return data;
}

/* FNV-1a over the floats' bytes: ties each type's file to the inputs. */
static uint32_t checksum(const uint8_t *p, size_t bytes) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < bytes; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

typedef struct inputs {
  uint8_t *file;
  uint32_t n_rows, n_per_row, sum;
  float *x; /* n_rows * n_per_row */
} inputs;

static int load_inputs(inputs *in) {
  size_t size;
  memset(in, 0, sizeof *in);
  uint8_t *h = read_all("tests/data/quantize/inputs.bin", &size);
  if (!h) return 0;
  in->file = h;
  in->n_rows = size >= 16 ? u32_at(h + 8) : 0, in->n_per_row = size >= 16 ? u32_at(h + 12) : 0;
  size_t n = (size_t)in->n_rows * in->n_per_row;
  if (size < 16 || memcmp(h, "QZIN", 4) || u32_at(h + 4) != 1 || size != 16 + 4 * n || !n ||
      !(in->x = malloc(4 * n))) {
    printf("  inputs.bin: malformed\n");
    return 0;
  }
  for (size_t i = 0; i < n; i++) in->x[i] = f32_at(h + 16 + 4 * i);
  in->sum = checksum(h + 16, 4 * n);
  return 1;
}

/* The recorded bytes of type q for the inputs (NULL, with a message, when
** missing or not made from these inputs); *file is to be freed. */
static const uint8_t *load_expected(const llm_qtype *q, const inputs *in, uint64_t row_bytes,
                                    uint8_t **file) {
  char path[256];
  size_t size;
  snprintf(path, sizeof path, "tests/data/quantize/%s.bin", q->name);
  uint8_t *h = *file = read_all(path, &size);
  if (!h) return NULL;
  if (size == 28 + in->n_rows * row_bytes && !memcmp(h, "QZRF", 4) && u32_at(h + 4) == 1 &&
      u32_at(h + 8) == q->id && u32_at(h + 12) == in->n_rows && u32_at(h + 16) == in->n_per_row &&
      u32_at(h + 20) == row_bytes && u32_at(h + 24) == in->sum)
    return h + 28;
  printf("  %s: malformed, or not made from inputs.bin\n", path);
  return NULL;
}

/* ---- from_float against ggml ---------------------------------------------- */

static void test_matches_ggml(void) {
  inputs in;
  int loaded = load_inputs(&in), n_checked = 0;
  CHECK(loaded);
  for (size_t t = 0; loaded && t < N_TYPES; t++) {
    const llm_qtype *q = llm_qtype_get(TYPES[t]);
    uint64_t row_bytes = 0;
    uint8_t *file = NULL, *got = NULL, *one = NULL;
    const uint8_t *want = NULL;
    CHECK(q && q->from_float && llm_qtype_row_bytes(q->id, in.n_per_row, &row_bytes) == 0);
    if (q && q->from_float && row_bytes) want = load_expected(q, &in, row_bytes, &file);
    size_t total = (size_t)(in.n_rows * row_bytes);
    if (want && (got = malloc(total + 1)) && (one = malloc(row_bytes + 1))) {
      /* All rows in one call, as ggml_quantize_chunk did; nothing written past them. */
      got[total] = 0xA5;
      q->from_float(in.x, got, (int64_t)in.n_rows * in.n_per_row);
      CHECK(got[total] == 0xA5);
      int bad_rows = 0;
      for (uint32_t r = 0; r < in.n_rows; r++) {
        const uint8_t *g = got + r * row_bytes, *w = want + r * row_bytes;
        for (uint64_t i = 0; i < row_bytes; i++)
          if (g[i] != w[i]) {
            printf("  %s: row %u byte %u is %02x, ggml's %02x\n", q->name, r, (unsigned)i, g[i],
                   w[i]);
            bad_rows++;
            break;
          }
        /* One row alone, at an odd address, gives the same bytes. */
        q->from_float(in.x + (size_t)r * in.n_per_row, one + 1, in.n_per_row);
        CHECK(!memcmp(one + 1, g, row_bytes));
      }
      CHECK(bad_rows == 0);
      n_checked++;
    }
    free(one);
    free(got);
    free(file);
  }
  CHECK(n_checked == (int)N_TYPES);
  free(in.x);
  free(in.file);
}

/* ---- round trips ----------------------------------------------------------- */

static uint64_t lcg_state = 7;
static double lcg_uniform(void) { /* [0, 1) */
  lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(lcg_state >> 11) * 0x1p-53;
}
static double lcg_normal(void) { /* Irwin-Hall: close enough to normal here */
  double s = 0;
  for (int i = 0; i < 12; i++) s += lcg_uniform();
  return s - 6;
}

/* The largest relative RMS error, |to_float(from_float(x)) - x| / |x|,
** allowed for normal and for uniform [-1, 1) rows: about 1.2 times what
** ggml's quantizers give. For uniform rows the 32-element types are near
** the theory, step / sqrt(12) over 1 / sqrt(3), with step = 2 * amax /
** levels: q4_0 0.0625, q5_0 0.031. */
static const struct {
  uint32_t type;
  double normal, uniform;
} ERROR_BOUNDS[] = {
    {LLM_QTYPE_Q4_0, 0.10, 0.078}, {LLM_QTYPE_Q4_1, 0.093, 0.072}, {LLM_QTYPE_Q5_0, 0.051, 0.037},
    {LLM_QTYPE_Q5_1, 0.045, 0.035}, {LLM_QTYPE_Q2_K, 0.35, 0.28},  {LLM_QTYPE_Q3_K, 0.18, 0.15},
    {LLM_QTYPE_Q4_K, 0.085, 0.065}, {LLM_QTYPE_Q5_K, 0.043, 0.033}, {LLM_QTYPE_Q6_K, 0.021, 0.016},
};

static void test_round_trip(void) {
  enum { N = 64 * 256 };
  static float x[N], y[N];
  static uint8_t row[N]; /* at most 1 byte per element in these types */
  for (size_t t = 0; t < sizeof ERROR_BOUNDS / sizeof *ERROR_BOUNDS; t++) {
    const llm_qtype *q = llm_qtype_get(ERROR_BOUNDS[t].type);
    for (int uniform = 0; uniform < 2; uniform++) {
      /* Rows of different scales: the error is relative to each. */
      for (int i = 0; i < N; i++) {
        double scale = ldexp(1, i / 256 % 16 - 8);
        x[i] = (float)(scale * (uniform ? 2 * lcg_uniform() - 1 : lcg_normal()));
      }
      q->from_float(x, row, N);
      q->to_float(row, y, N);
      double err = 0, norm = 0;
      int finite = 1;
      for (int i = 0; i < N; i++) {
        double s = ldexp(1, -(i / 256 % 16 - 8)); /* back to scale 1 */
        err += (x[i] - (double)y[i]) * s * (x[i] - (double)y[i]) * s;
        norm += (double)x[i] * s * x[i] * s;
        finite &= isfinite(y[i]) != 0;
      }
      double rel = sqrt(err / norm);
      double bound = uniform ? ERROR_BOUNDS[t].uniform : ERROR_BOUNDS[t].normal;
      if (!(rel <= bound))
        printf("  %s %s rows: relative RMS error %.4f > %.4f\n", q->name,
               uniform ? "uniform" : "normal", rel, bound);
      CHECK(finite && rel <= bound);
    }
  }

  /* Exact cases: zeros stay zeros; a constant row of 256 is the constant
  ** within its type's step. */
  for (size_t t = 0; t < N_TYPES; t++) {
    const llm_qtype *q = llm_qtype_get(TYPES[t]);
    float zeros[256] = {0}, back[256], c[256];
    uint8_t b[256];
    q->from_float(zeros, b, 256);
    q->to_float(b, back, 256);
    int ok = 1;
    for (int i = 0; i < 256; i++) ok &= back[i] == 0.0f;
    for (int i = 0; i < 256; i++) c[i] = 0.75f;
    q->from_float(c, b, 256);
    q->to_float(b, back, 256);
    for (int i = 0; i < 256; i++) ok &= fabsf(back[i] - 0.75f) <= 0.75f / 8;
    if (!ok) printf("  %s: zero or constant row off\n", q->name);
    CHECK(ok);
  }
}

/* ---- NaN payloads meeting inf ---------------------------------------------- */

/* ggml's bytes for a row holding both a NaN with a payload and an inf (or
** values whose squares overflow) depend on which NaN its compiled code
** propagates when two meet, so they are not compared. Those rows give
** non-finite d fields, which llama-quantize refuses anyway. They must
** still quantize safely (the sanitizer builds check for undefined
** conversions), deterministically and within the row's bytes. */
static void test_nan_meets_inf(void) {
  float x[256];
  uint32_t payload = 0x7fa5a5a5u;
  for (int i = 0; i < 256; i++) x[i] = (float)lcg_normal();
  for (int i = 3; i < 256; i += 23) memcpy(&x[i], &payload, 4);
  for (int i = 11; i < 256; i += 37) x[i] = i % 2 ? INFINITY : -INFINITY;
  x[100] = 3e38f;
  for (size_t t = 0; t < N_TYPES; t++) {
    const llm_qtype *q = llm_qtype_get(TYPES[t]);
    uint8_t a[256 * 2 + 1], b[256 * 2 + 1];
    size_t bytes = 256 / q->block * q->block_bytes;
    a[bytes] = b[bytes] = 0x5A;
    q->from_float(x, a, 256);
    q->from_float(x, b, 256);
    CHECK(!memcmp(a, b, bytes) && a[bytes] == 0x5A);
  }
}

int main(void) {
  RUN(test_matches_ggml);
  RUN(test_round_trip);
  RUN(test_nan_meets_inf);
  return CHECK_DONE();
}
