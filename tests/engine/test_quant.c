/* test_quant.c: the kernels of the ggml type table (kernels/qtypes.h).
**
** to_float and from_float are checked bit for bit against ggml's own
** output, recorded by tools/ggml_ref/quant_ref.c in tests/data/quant/
** (SOURCE.md there says how); a missing file fails the test. dot is checked
** against a float64 sum over to_float's output. The scalar half and
** bfloat16 conversions are also checked exhaustively against float64:
** every 16-bit pattern, and both sides of every rounding boundary. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qtypes.h"
#include "check.h"
#include "le_bytes.h"

/* ---- the recorded data ---------------------------------------------------- */

/* One tests/data/quant/<name>.bin (format: tools/ggml_ref/quant_ref.c). */
typedef struct ref_data {
  uint8_t *file;
  uint32_t type, n, in_bytes, n_from, from_bytes;
  const uint8_t *in, *out, *from_in, *from_out; /* floats as little-endian bytes */
} ref_data;

/* Reads and checks the file of type q; 0 (with a message) when it is
** missing or malformed. */
static int load_ref(const llm_qtype *q, ref_data *r) {
  char path[256];
  snprintf(path, sizeof path, "tests/data/quant/%s.bin", q->name);
  memset(r, 0, sizeof *r);
  FILE *f = fopen(path, "rb");
  long size = -1;
  if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size >= 28 && fseek(f, 0, SEEK_SET) == 0 && (r->file = malloc((size_t)size)) &&
      fread(r->file, 1, (size_t)size, f) == (size_t)size) {
    const uint8_t *h = r->file;
    r->type = u32_at(h + 8), r->n = u32_at(h + 12), r->in_bytes = u32_at(h + 16);
    r->n_from = u32_at(h + 20), r->from_bytes = u32_at(h + 24);
    uint64_t want = 28 + (uint64_t)r->in_bytes + 4 * (uint64_t)r->n + 4 * (uint64_t)r->n_from +
                    r->from_bytes;
    uint64_t in_bytes = 0, from_bytes = 0;
    if (!memcmp(h, "QREF", 4) && u32_at(h + 4) == 1 && r->type == q->id && want == (uint64_t)size &&
        llm_qtype_row_bytes(q->id, r->n, &in_bytes) == 0 && in_bytes == r->in_bytes &&
        llm_qtype_row_bytes(q->id, r->n_from, &from_bytes) == 0 && from_bytes == r->from_bytes) {
      r->in = h + 28;
      r->out = r->in + r->in_bytes;
      r->from_in = r->out + 4 * (size_t)r->n;
      r->from_out = r->from_in + 4 * (size_t)r->n_from;
      fclose(f);
      return 1;
    }
  }
  printf("  %s: missing or malformed\n", path);
  if (f) fclose(f);
  free(r->file);
  r->file = NULL;
  return 0;
}

static const uint32_t SUPPORTED[] = {
    LLM_QTYPE_F32,  LLM_QTYPE_F16,  LLM_QTYPE_BF16, LLM_QTYPE_Q4_0, LLM_QTYPE_Q4_1,
    LLM_QTYPE_Q5_0, LLM_QTYPE_Q5_1, LLM_QTYPE_Q8_0, LLM_QTYPE_Q2_K, LLM_QTYPE_Q3_K,
    LLM_QTYPE_Q4_K, LLM_QTYPE_Q5_K, LLM_QTYPE_Q6_K,
};
#define N_SUPPORTED (sizeof SUPPORTED / sizeof *SUPPORTED)

/* Index of the first float of got that differs in bits from ref, or -1. */
static long first_difference(const float *got, const uint8_t *ref, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t w;
    memcpy(&w, &got[i], 4);
    if (w != u32_at(ref + 4 * (size_t)i)) return (long)i;
  }
  return -1;
}

/* ---- to_float and from_float against ggml -------------------------------- */

static void test_to_float(void) {
  for (size_t t = 0; t < N_SUPPORTED; t++) {
    const llm_qtype *q = llm_qtype_get(SUPPORTED[t]);
    ref_data r;
    CHECK(load_ref(q, &r));
    if (!r.file) continue;
    float *got = malloc(4 * (size_t)r.n);
    uint8_t *shifted = malloc(r.in_bytes + 1);
    CHECK(got && shifted);
    if (got && shifted) {
      q->to_float(r.in, got, r.n);
      long at = first_difference(got, r.out, r.n);
      if (at >= 0)
        printf("  %s: element %ld is %a, ggml's %a\n", q->name, at, got[at],
               f32_at(r.out + 4 * at));
      CHECK(at < 0);
      /* Rows need no alignment: the same blocks one byte further. */
      memcpy(shifted + 1, r.in, r.in_bytes);
      memset(got, 0, 4 * (size_t)r.n);
      q->to_float(shifted + 1, got, r.n);
      CHECK(first_difference(got, r.out, r.n) < 0);
      /* A prefix of whole blocks decodes alone, writing nothing past it. */
      got[q->block] = 1234.5f;
      q->to_float(r.in, got, q->block);
      CHECK(first_difference(got, r.out, q->block) < 0 && got[q->block] == 1234.5f);
    }
    free(got);
    free(shifted);
    free(r.file);
  }
}

static void test_from_float(void) {
  int n_checked = 0;
  for (size_t t = 0; t < N_SUPPORTED; t++) {
    const llm_qtype *q = llm_qtype_get(SUPPORTED[t]);
    ref_data r;
    int loaded = load_ref(q, &r);
    CHECK(loaded);
    if (!loaded || !r.n_from) {
      free(r.file);
      continue;
    }
    float *x = malloc(4 * (size_t)r.n_from);
    uint8_t *got = malloc(r.from_bytes + 1);
    CHECK(x && got && q->from_float);
    if (x && got && q->from_float) {
      for (uint32_t i = 0; i < r.n_from; i++) x[i] = f32_at(r.from_in + 4 * i);
      got[r.from_bytes] = 0xA5;
      q->from_float(x, got, r.n_from);
      for (uint32_t i = 0; i < r.from_bytes; i++)
        if (got[i] != r.from_out[i]) {
          printf("  %s: byte %u is %02x, ggml's %02x\n", q->name, i, got[i], r.from_out[i]);
          CHECK(0);
          break;
        }
      CHECK(got[r.from_bytes] == 0xA5);
      n_checked++;
    }
    free(x);
    free(got);
    free(r.file);
  }
  CHECK(n_checked == 3); /* f16, bf16, q8_0 */

  /* f32's from_float is a copy, and to_float gives it back. */
  const llm_qtype *f32 = llm_qtype_get(LLM_QTYPE_F32);
  float src[5] = {1.5f, -0.0f, 3e38f, -1e-45f, 7}, bytes[5], back[5];
  CHECK(f32->from_float && f32->to_float);
  if (!f32->from_float || !f32->to_float) return;
  f32->from_float(src, bytes, 5);
  f32->to_float(bytes, back, 5);
  CHECK(!memcmp(src, bytes, sizeof src) && !memcmp(src, back, sizeof src));
}

/* ---- dot against float64 -------------------------------------------------- */

static uint64_t lcg_state = 42;
static float lcg_signed(void) { /* uniform in [-1, 1) */
  lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(lcg_state >> 40) * 0x1p-23 - 1.0);
}

/* dot(row, x, n) against the float64 sum of ref[i] * x[i], ref being the
** row's dequantized values. Rounding in float is bounded relative to the
** sum of the products' magnitudes (the sum itself may cancel). Returns 0
** when ref holds a non-finite value (nothing to compare). */
static int dot_matches(const llm_qtype *q, const void *row, const float *ref, const float *x,
                       int64_t n) {
  double exact = 0, magnitude = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(ref[i])) return 0;
    exact += (double)ref[i] * x[i];
    magnitude += fabs((double)ref[i] * x[i]);
  }
  float got = q->dot(row, x, n);
  int ok = fabs(got - exact) <= 1e-5 * magnitude + 1e-30;
  if (!ok) printf("  %s n=%lld: dot %.9g, float64 %.9g\n", q->name, (long long)n, got, exact);
  CHECK(ok);
  return 1;
}

static void test_dot(void) {
  for (size_t t = 0; t < N_SUPPORTED; t++) {
    const llm_qtype *q = llm_qtype_get(SUPPORTED[t]);
    ref_data r;
    if (!load_ref(q, &r)) {
      CHECK(0);
      continue;
    }
    float *ref = malloc(4 * (size_t)r.n), *x = malloc(4 * (size_t)r.n);
    CHECK(ref && x);
    if (ref && x) {
      for (uint32_t i = 0; i < r.n; i++) ref[i] = f32_at(r.out + 4 * i), x[i] = lcg_signed();
      /* One block, a few, and the whole row (past one chunk of dot's). */
      int64_t lengths[] = {q->block, 3 * q->block, 8 * q->block, r.n};
      int n_checked = 0;
      for (int k = 0; k < 4; k++) n_checked += dot_matches(q, r.in, ref, x, lengths[k]);
      CHECK(n_checked >= 3);
      CHECK(q->dot(r.in, x, 0) == 0.0f);
    }
    free(ref);
    free(x);
    free(r.file);
  }

  /* The plain types over a length that is not a multiple of dot's chunk. */
  static const uint32_t plain[] = {LLM_QTYPE_F32, LLM_QTYPE_F16, LLM_QTYPE_BF16};
  enum { N = 300 };
  for (int t = 0; t < 3; t++) {
    const llm_qtype *q = llm_qtype_get(plain[t]);
    CHECK(q->from_float);
    if (!q->from_float) continue;
    float src[N], ref[N], x[N];
    uint8_t row[4 * N];
    for (int i = 0; i < N; i++) src[i] = 100 * lcg_signed(), x[i] = lcg_signed();
    q->from_float(src, row, N);
    q->to_float(row, ref, N);
    CHECK(dot_matches(q, row, ref, x, N));
    CHECK(dot_matches(q, row, ref, x, 7));
  }
}

/* ---- the scalar conversions against float64 ------------------------------- */

static uint32_t bits_of(float f) {
  uint32_t w;
  memcpy(&w, &f, 4);
  return w;
}

/* The value of half h, by its definition. */
static double half_value(uint16_t h) {
  int exp = h >> 10 & 31, mant = h & 1023;
  double v = exp == 31 ? (mant ? NAN : INFINITY)
                       : exp ? ldexp(1024 + mant, exp - 25) : ldexp(mant, -24);
  return h & 0x8000 ? -v : v;
}

static void test_f16_scalar(void) {
  int bad_value = 0, bad_round_trip = 0, bad_nan = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = llm_f16_to_f32((uint16_t)h);
    double v = half_value((uint16_t)h);
    if (isnan(v)) {
      /* quiet, same sign, payload in the top mantissa bits */
      uint32_t want = (h & 0x8000) << 16 | 0x7fc00000 | (h & 0x3ff) << 13;
      bad_nan += bits_of(f) != want || llm_f32_to_f16(f) != (0x7e00 | (h & 0x8000));
      continue;
    }
    bad_value += (double)f != v || !signbit(f) != !(h & 0x8000);
    bad_round_trip += llm_f32_to_f16(f) != h;
  }
  CHECK(!bad_value && !bad_round_trip && !bad_nan);

  /* Between two neighbouring finite halves, the exact midpoint goes to the
  ** one with an even mantissa, and the floats next to it to the nearer
  ** one. The midpoint past 65504 (65520) is a tie with 65536: inf. */
  int bad_tie = 0;
  for (uint16_t h = 0; h < 0x7bff; h++) {
    float mid = (float)((half_value(h) + half_value(h + 1)) / 2); /* exact */
    uint16_t even = h & 1 ? h + 1 : h;
    bad_tie += llm_f32_to_f16(mid) != even || llm_f32_to_f16(-mid) != (even | 0x8000) ||
               llm_f32_to_f16(nextafterf(mid, 0)) != h ||
               llm_f32_to_f16(nextafterf(mid, INFINITY)) != h + 1;
  }
  CHECK(!bad_tie);
  CHECK(llm_f32_to_f16(65520.0f) == 0x7c00 && llm_f32_to_f16(-65520.0f) == 0xfc00);
  CHECK(llm_f32_to_f16(nextafterf(65520.0f, 0)) == 0x7bff);
  CHECK(llm_f32_to_f16(3e38f) == 0x7c00 && llm_f32_to_f16(-INFINITY) == 0xfc00);
  CHECK(llm_f32_to_f16(0x1p-25f) == 0 && llm_f32_to_f16(-0x1p-25f) == 0x8000);
  CHECK(llm_f32_to_f16(nextafterf(0x1p-25f, 1)) == 1 && llm_f32_to_f16(1e-45f) == 0);
  CHECK(llm_f32_to_f16(-NAN) == 0xfe00);
}

static void test_bf16_scalar(void) {
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = llm_bf16_to_f32((uint16_t)h);
    bad += bits_of(f) != h << 16;
    if (isnan(f))
      bad += llm_f32_to_bf16(f) != (h | 0x40);
    else
      bad += llm_f32_to_bf16(f) != h;
  }
  CHECK(!bad);
  /* Ties to even on both sides of every finite positive pair; the tie past
  ** the largest finite bf16 goes to inf. */
  int bad_tie = 0;
  for (uint32_t h = 0; h < 0x7f80; h++) {
    double lo = llm_bf16_to_f32((uint16_t)h);
    double hi = h + 1 < 0x7f80 ? llm_bf16_to_f32((uint16_t)(h + 1)) : 0x1p128; /* inf's place */
    float mid = (float)((lo + hi) / 2); /* exact */
    uint32_t even = h & 1 ? h + 1 : h;
    bad_tie += llm_f32_to_bf16(mid) != even || llm_f32_to_bf16(-mid) != (even | 0x8000) ||
               llm_f32_to_bf16(nextafterf(mid, 0)) != h ||
               llm_f32_to_bf16(nextafterf(mid, INFINITY)) != h + 1;
  }
  CHECK(!bad_tie);
  /* Subnormals are kept (2^-133 is the smallest bf16), not flushed. */
  CHECK(llm_f32_to_bf16(0x1p-133f) == 0x0001 && llm_f32_to_bf16(0x1p-149f) == 0);
  CHECK(llm_f32_to_bf16(-NAN) == 0xffc0);
}

/* ---- the table ------------------------------------------------------------ */

static void test_table(void) {
  int n_supported = 0, n_from_float = 0;
  for (uint32_t id = 0; id < LLM_QTYPE_COUNT; id++) {
    const llm_qtype *q = llm_qtype_get(id);
    if (!q) continue;
    CHECK(llm_qtype_by_name(q->name) == q);
    char upper[16] = {0};
    for (size_t i = 0; q->name[i] && i < sizeof upper - 1; i++)
      upper[i] = (char)(q->name[i] >= 'a' && q->name[i] <= 'z' ? q->name[i] - 32 : q->name[i]);
    CHECK(llm_qtype_by_name(upper) == q);
    if (q->supported) {
      n_supported++;
      CHECK(q->to_float && q->dot && q->from_float);
    } else {
      CHECK(!q->to_float && !q->dot && !q->from_float);
    }
    n_from_float += q->from_float != NULL;
  }
  /* Every supported type quantizes (test_quantize.c checks them against
  ** ggml); no other type does. */
  CHECK(n_supported == (int)N_SUPPORTED && n_from_float == (int)N_SUPPORTED);
  for (size_t t = 0; t < N_SUPPORTED; t++) CHECK(llm_qtype_get(SUPPORTED[t])->supported);
}

int main(void) {
  RUN(test_to_float);
  RUN(test_from_float);
  RUN(test_dot);
  RUN(test_f16_scalar);
  RUN(test_bf16_scalar);
  RUN(test_table);
  return CHECK_DONE();
}
