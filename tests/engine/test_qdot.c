/* test_qdot.c: products with quantized activations (kernels/qtypes.h:
** vec_type, vec_dot, vec_from_float), against what ggml's CPU backend does
** on this machine, recorded by tools/ggml_ref/qdot_ref.c in
** tests/data/qdot/qdot.bin (SOURCE.md there says how); a missing file
** fails the test.
**
** - vec_from_float must give ggml's bytes exactly, for random rows and for
**   edge cases (ties, tiny and huge blocks, infs, NaNs);
** - vec_dot, given ggml's activation bytes, must be within float rounding
**   of a float64 sum over the dequantized weights and activations, and
**   within a relative 1e-5 (or, where the terms cancel, twice that float
**   rounding) of both ways ggml computes it: its vec_dot (a
**   product with one activation column: generating a token) and its
**   mul_mat of several columns (a batch: llamafile's sgemm for f32, f16,
**   bf16, q4_0, q5_0, q8_0), except f16's vec_dot: on this AVX512-FP16
**   machine ggml accumulates it in half precision (see test_vec_dot). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qtypes.h"
#include "check.h"
#include "le_bytes.h"

#define MAX_ROWS 16
#define MAX_ACT 8
#define MAX_WEIGHT 16
#define MAX_WROWS 4
#define MAX_DOTS 8

/* ---- the recorded data (format: tools/ggml_ref/qdot_ref.c) ------------------- */

typedef struct act_row {
  uint32_t n, kind; /* kind 0: random, 1: edge cases */
  const uint8_t *x; /* n little-endian floats */
} act_row;

typedef struct weight_row {
  uint32_t n, bytes, n_dots;
  const uint8_t *w;
  uint32_t dot_row[MAX_DOTS]; /* the activation row of each dot */
  float dot[MAX_DOTS];        /* ggml's vec_dot with it */
  float mul_mat[MAX_DOTS];    /* ggml's mul_mat element for it */
} weight_row;

typedef struct recorded {
  uint8_t *file;
  uint32_t n_rows, n_act, n_weight;
  act_row rows[MAX_ROWS];
  uint32_t act_type[MAX_ACT];
  uint32_t act_bytes[MAX_ACT][MAX_ROWS];
  const uint8_t *act[MAX_ACT][MAX_ROWS];
  uint32_t weight_type[MAX_WEIGHT], vec_type[MAX_WEIGHT], n_wrows[MAX_WEIGHT];
  weight_row wrows[MAX_WEIGHT][MAX_WROWS];
} recorded;

/* A reader over the file that fails (returns NULL) past its end. */
typedef struct cursor {
  const uint8_t *p, *end;
} cursor;

static const uint8_t *take(cursor *c, uint64_t bytes) {
  if (!c->p || (uint64_t)(c->end - c->p) < bytes) return c->p = NULL;
  const uint8_t *at = c->p;
  c->p += bytes;
  return at;
}

static int take_u32(cursor *c, uint32_t *v) {
  const uint8_t *p = take(c, 4);
  if (p) *v = u32_at(p);
  return p != NULL;
}

/* Sizes recorded for n elements of type must be the engine's. */
static int sized(uint32_t type, uint32_t n, uint32_t bytes) {
  uint64_t want = 0;
  return llm_qtype_row_bytes(type, n, &want) == 0 && want == bytes;
}

static int parse(recorded *r, cursor *c) {
  const uint8_t *magic = take(c, 4);
  uint32_t version = 0;
  if (!magic || memcmp(magic, "QDOT", 4) || !take_u32(c, &version) || version != 1 ||
      !take_u32(c, &r->n_rows) || !take_u32(c, &r->n_act) || !take_u32(c, &r->n_weight) ||
      r->n_rows > MAX_ROWS || r->n_act > MAX_ACT || r->n_weight > MAX_WEIGHT)
    return 0;
  for (uint32_t i = 0; i < r->n_rows; i++) {
    act_row *a = &r->rows[i];
    if (!take_u32(c, &a->n) || !take_u32(c, &a->kind) || !(a->x = take(c, 4 * (uint64_t)a->n)))
      return 0;
  }
  for (uint32_t t = 0; t < r->n_act; t++) {
    if (!take_u32(c, &r->act_type[t])) return 0;
    for (uint32_t i = 0; i < r->n_rows; i++)
      if (!take_u32(c, &r->act_bytes[t][i]) ||
          !sized(r->act_type[t], r->rows[i].n, r->act_bytes[t][i]) ||
          !(r->act[t][i] = take(c, r->act_bytes[t][i])))
        return 0;
  }
  for (uint32_t t = 0; t < r->n_weight; t++) {
    if (!take_u32(c, &r->weight_type[t]) || !take_u32(c, &r->vec_type[t]) ||
        !take_u32(c, &r->n_wrows[t]) || r->n_wrows[t] > MAX_WROWS)
      return 0;
    for (uint32_t k = 0; k < r->n_wrows[t]; k++) {
      weight_row *w = &r->wrows[t][k];
      if (!take_u32(c, &w->n) || !take_u32(c, &w->bytes) ||
          !sized(r->weight_type[t], w->n, w->bytes) || !(w->w = take(c, w->bytes)) ||
          !take_u32(c, &w->n_dots) || w->n_dots > MAX_DOTS)
        return 0;
      for (uint32_t d = 0; d < w->n_dots; d++) {
        const uint8_t *dot;
        if (!take_u32(c, &w->dot_row[d]) || w->dot_row[d] >= r->n_rows ||
            r->rows[w->dot_row[d]].n != w->n || !(dot = take(c, 8)))
          return 0;
        w->dot[d] = f32_at(dot);
        w->mul_mat[d] = f32_at(dot + 4);
      }
    }
  }
  return c->p == c->end;
}

static int load(recorded *r) {
  const char *path = "tests/data/qdot/qdot.bin";
  memset(r, 0, sizeof *r);
  FILE *f = fopen(path, "rb");
  long size = -1;
  if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size > 0 && fseek(f, 0, SEEK_SET) == 0 && (r->file = malloc((size_t)size)) &&
      fread(r->file, 1, (size_t)size, f) == (size_t)size) {
    cursor c = {r->file, r->file + size};
    if (parse(r, &c)) {
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

/* The index of type among the recorded activation types, or -1. */
static int act_index(const recorded *r, uint32_t type) {
  for (uint32_t t = 0; t < r->n_act; t++)
    if (r->act_type[t] == type) return (int)t;
  return -1;
}

/* Row i's floats, aligned. */
static float *row_floats(const act_row *a) {
  float *x = malloc(a->n * sizeof *x);
  for (uint32_t j = 0; x && j < a->n; j++) x[j] = f32_at(a->x + 4 * j);
  return x;
}

/* ---- the table ------------------------------------------------------------------ */

static void test_table(void) {
  static const struct {
    uint32_t weight, act;
  } vec[] = {
      {LLM_QTYPE_F32, LLM_QTYPE_F32},   {LLM_QTYPE_F16, LLM_QTYPE_F16},
      {LLM_QTYPE_BF16, LLM_QTYPE_BF16}, {LLM_QTYPE_Q4_0, LLM_QTYPE_Q8_0},
      {LLM_QTYPE_Q4_1, LLM_QTYPE_Q8_1}, {LLM_QTYPE_Q5_0, LLM_QTYPE_Q8_0},
      {LLM_QTYPE_Q5_1, LLM_QTYPE_Q8_1}, {LLM_QTYPE_Q8_0, LLM_QTYPE_Q8_0},
      {LLM_QTYPE_Q2_K, LLM_QTYPE_Q8_K}, {LLM_QTYPE_Q3_K, LLM_QTYPE_Q8_K},
      {LLM_QTYPE_Q4_K, LLM_QTYPE_Q8_K}, {LLM_QTYPE_Q5_K, LLM_QTYPE_Q8_K},
      {LLM_QTYPE_Q6_K, LLM_QTYPE_Q8_K},
  };
  int n_vec_dot = 0, n_act = 0;
  for (uint32_t id = 0; id < LLM_QTYPE_COUNT; id++) {
    const llm_qtype *q = llm_qtype_get(id);
    if (!q) continue;
    n_vec_dot += q->vec_dot != NULL;
    n_act += q->vec_from_float != NULL;
    CHECK(!q->vec_dot == !q->supported);
    if (!q->supported) CHECK(q->vec_type == 0);
  }
  CHECK(n_vec_dot == 13 && n_act == 6);
  for (size_t i = 0; i < sizeof vec / sizeof *vec; i++) {
    const llm_qtype *q = llm_qtype_get(vec[i].weight), *a = llm_qtype_get(q->vec_type);
    CHECK(q->vec_type == vec[i].act && a && a->vec_from_float);
  }
  /* The activation-only types: sized, not supported as weights. */
  const llm_qtype *q8_1 = llm_qtype_get(LLM_QTYPE_Q8_1), *q8_k = llm_qtype_get(LLM_QTYPE_Q8_K);
  CHECK(!q8_1->supported && !q8_k->supported && !q8_1->from_float && !q8_k->from_float);
  uint64_t bytes = 0;
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_Q8_1, 64, &bytes) == 0 && bytes == 72);
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_Q8_K, 512, &bytes) == 0 && bytes == 584);
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_Q8_K, 32, &bytes) != 0);
  /* The recorded vec_dot_types are these. */
  recorded r;
  if (!load(&r)) {
    CHECK(0);
    return;
  }
  CHECK(r.n_weight == 13 && r.n_act == 6);
  for (uint32_t t = 0; t < r.n_weight; t++) {
    const llm_qtype *q = llm_qtype_get(r.weight_type[t]);
    CHECK(q && q->vec_type == r.vec_type[t]);
  }
  free(r.file);
}

/* ---- vec_from_float ------------------------------------------------------------- */

static void test_vec_from_float(void) {
  recorded r;
  if (!load(&r)) {
    CHECK(0);
    return;
  }
  int compared = 0;
  for (uint32_t t = 0; t < r.n_act; t++) {
    const llm_qtype *a = llm_qtype_get(r.act_type[t]);
    CHECK(a && a->vec_from_float);
    if (!a || !a->vec_from_float) continue;
    for (uint32_t i = 0; i < r.n_rows; i++) {
      float *x = row_floats(&r.rows[i]);
      uint8_t *got = calloc(r.act_bytes[t][i], 1);
      CHECK(x && got);
      if (x && got) {
        a->vec_from_float(x, got, r.rows[i].n);
        const uint8_t *want = r.act[t][i];
        uint32_t at = 0;
        while (at < r.act_bytes[t][i] && got[at] == want[at]) at++;
        if (at < r.act_bytes[t][i])
          printf("  %s row %u: byte %u is %02x, ggml's %02x\n", a->name, i, at, got[at], want[at]);
        CHECK(at == r.act_bytes[t][i]);
        compared++;
      }
      free(x);
      free(got);
    }
  }
  CHECK(compared == 6 * 9);
  free(r.file);
}

/* The reason q8_0 has two quantizers: ggml's reference (from_float) and
** its x86 code (vec_from_float) disagree on two edge rows. On the first,
** ties of x * 127 / amax: its first block is x = j - 15.5 with amax 127, so
** that 2.5 is 3 for the one and 2 for the other. On the second, values
** where x * (1 / d) and x * (127 / amax) round differently. */
static void test_q8_0_two_roundings(void) {
  recorded r;
  if (!load(&r)) {
    CHECK(0);
    return;
  }
  const llm_qtype *q8_0 = llm_qtype_get(LLM_QTYPE_Q8_0);
  int t = act_index(&r, LLM_QTYPE_Q8_0), edge[2] = {-1, -1}, n_edge = 0;
  for (uint32_t i = 0; i < r.n_rows; i++)
    if (r.rows[i].kind == 1 && r.rows[i].n == 256 && n_edge < 2) edge[n_edge++] = (int)i;
  CHECK(t >= 0 && n_edge == 2);
  float *ties = n_edge == 2 ? row_floats(&r.rows[edge[0]]) : NULL;
  float *mults = n_edge == 2 ? row_floats(&r.rows[edge[1]]) : NULL;
  uint8_t ref[8 * 34], x86[8 * 34];
  CHECK(t >= 0 && ties && mults);
  if (t >= 0 && ties && mults) {
    q8_0->from_float(ties, ref, 32);
    q8_0->vec_from_float(ties, x86, 32);
    CHECK(ties[18] == 2.5f && (int8_t)ref[2 + 18] == 3 && (int8_t)x86[2 + 18] == 2);
    q8_0->from_float(mults, ref, 256);
    q8_0->vec_from_float(mults, x86, 256);
    int differ = 0;
    for (int i = 0; i < 8 * 34; i++) differ += ref[i] != x86[i];
    printf("  reference and x86 q8_0 differ in %d of 248 values of the multiplier row\n", differ);
    CHECK(differ >= 100 && !memcmp(x86, r.act[t][edge[1]], sizeof x86));
  }
  free(ties);
  free(mults);
  free(r.file);
}

/* ---- vec_dot -------------------------------------------------------------------- */

/* Element j of an activation row of type, as a double. */
static double act_value(uint32_t type, const uint8_t *act, uint32_t j) {
  switch (type) {
    case LLM_QTYPE_F32: return f32_at(act + 4 * j);
    case LLM_QTYPE_F16: return llm_f16_to_f32((uint16_t)(act[2 * j] | act[2 * j + 1] << 8));
    case LLM_QTYPE_BF16: return llm_bf16_to_f32((uint16_t)(act[2 * j] | act[2 * j + 1] << 8));
    case LLM_QTYPE_Q8_0: {
      const uint8_t *b = act + j / 32 * 34;
      return (double)llm_f16_to_f32((uint16_t)(b[0] | b[1] << 8)) * (int8_t)b[2 + j % 32];
    }
    case LLM_QTYPE_Q8_1: {
      const uint8_t *b = act + j / 32 * 36;
      return (double)llm_f16_to_f32((uint16_t)(b[0] | b[1] << 8)) * (int8_t)b[4 + j % 32];
    }
    default: { /* q8_k */
      const uint8_t *b = act + j / 256 * 292;
      return (double)f32_at(b) * (int8_t)b[4 + j % 256];
    }
  }
}

/* The exact value vec_dot rounds, and in *mag the sum of the magnitudes of
** its terms: the sum of w[j] * a[j] over the dequantized rows. With q8_1
** activations, ggml takes a block's m * sum(a) as m times the block's s (a
** half), so that term uses s. */
static double exact_dot(const llm_qtype *q, const uint8_t *w, uint32_t act_type, const uint8_t *act,
                        uint32_t n, double *mag) {
  float *wf = malloc(n * sizeof *wf);
  double sum = 0.0, m_sum = 0.0;
  *mag = 0.0;
  if (!wf) return NAN;
  q->to_float(w, wf, n);
  for (uint32_t j = 0; j < n; j++) {
    double t = wf[j] * act_value(act_type, act, j);
    sum += t;
    *mag += fabs(t);
  }
  if (act_type == LLM_QTYPE_Q8_1)
    for (uint32_t b = 0; b < n / 32; b++) { /* m is the weight block's half at 2 */
      const uint8_t *wb = w + b * q->block_bytes, *ab = act + b * 36;
      double m = llm_f16_to_f32((uint16_t)(wb[2] | wb[3] << 8));
      double s = llm_f16_to_f32((uint16_t)(ab[2] | ab[3] << 8)), d_sum = 0.0;
      for (uint32_t j = 0; j < 32; j++) d_sum += act_value(act_type, act, b * 32 + j);
      m_sum += m * (s - d_sum);
      *mag += fabs(m * s);
    }
  free(wf);
  return sum + m_sum;
}

/* The largest relative differences seen, per type, for the report. */
typedef struct worst {
  double vec_dot, mul_mat, exact;
  int vec_dot_nonfinite; /* ggml's vec_dots that are inf or NaN */
  int cancelling;        /* dots that needed the rounding bound (near) */
} worst;

static double relative(float got, float want) { return fabs((double)got - want) / fabs(want); }

/* got is within a relative 1e-5 of ggml's want, or, when the terms cancel
** (the result much smaller than they are), both are within float rounding
** (bound) of the exact value, so at most 2 * bound apart. */
static int near(float got, float want, double bound, worst *seen) {
  if (relative(got, want) <= 1e-5) return 1;
  seen->cancelling++;
  return fabs((double)got - want) <= 2 * bound;
}

/* ggml's f16 vec_dot, built for this AVX512-FP16 CPU, multiplies and adds
** in half precision (_mm512_fmadd_ph into 128 half lanes): it is off by
** about 1e-3 and overflows past 65504, where ours, like ggml's portable
** kernel and its other x86 builds, sums in double. So for f16 the relative
** 1e-5 holds against mul_mat only; against vec_dot the test asserts that
** it is the less accurate of the two. */
static void check_dot(const llm_qtype *q, const weight_row *w, uint32_t d, uint32_t act_type,
                      const uint8_t *act, worst *seen, int *identical) {
  float got = q->vec_dot(w->w, act, w->n), vec = w->dot[d], mm = w->mul_mat[d];
  double mag, exact = exact_dot(q, w->w, act_type, act, w->n, &mag);
  /* Float rounding: a rounding per block (and per product of scales),
  ** each at most 2^-24 of the magnitudes summed so far. */
  double bound = ((double)w->n / q->block + 4) * 0x1p-24 * mag, err = fabs(got - exact);
  int is_f16 = q->id == LLM_QTYPE_F16;
  int near_vec = is_f16 ? !(fabs(vec - exact) < err) : near(got, vec, bound, seen);
  int near_mm = near(got, mm, bound, seen);
  if (!(err <= bound) || !near_vec || !near_mm)
    printf("  %s dot %u: %.9g, exact %.9g (bound %.3g), ggml vec_dot %.9g, mul_mat %.9g\n",
           q->name, d, got, exact, bound, vec, mm);
  CHECK(err <= bound);
  CHECK(near_vec); /* f16: inf and NaN count as worse */
  CHECK(near_mm);
  *identical += (got == vec) + (got == mm);
  if (isfinite(vec) && relative(got, vec) > seen->vec_dot) seen->vec_dot = relative(got, vec);
  seen->vec_dot_nonfinite += !isfinite(vec);
  if (relative(got, mm) > seen->mul_mat) seen->mul_mat = relative(got, mm);
  if (mag > 0 && err / mag > seen->exact) seen->exact = err / mag;
}

static void test_vec_dot(void) {
  recorded r;
  if (!load(&r)) {
    CHECK(0);
    return;
  }
  int n_dots = 0, n_identical = 0;
  for (uint32_t t = 0; t < r.n_weight; t++) {
    const llm_qtype *q = llm_qtype_get(r.weight_type[t]);
    int a = act_index(&r, r.vec_type[t]);
    CHECK(q && q->vec_dot && a >= 0);
    if (!q || !q->vec_dot || a < 0) continue;
    worst seen = {0, 0, 0, 0, 0};
    for (uint32_t k = 0; k < r.n_wrows[t]; k++) {
      const weight_row *w = &r.wrows[t][k];
      for (uint32_t d = 0; d < w->n_dots; d++, n_dots++)
        check_dot(q, w, d, r.vec_type[t], r.act[a][w->dot_row[d]], &seen, &n_identical);
    }
    printf("  %-5s relative difference to ggml's vec_dot %.2g (%d not finite), mul_mat %.2g "
           "(%d cancelling); error / sum |terms| %.2g\n",
           q->name, seen.vec_dot, seen.vec_dot_nonfinite, seen.mul_mat, seen.cancelling,
           seen.exact);
  }
  printf("  %d dots, %d of %d ggml results bit-identical\n", n_dots, n_identical, 2 * n_dots);
  CHECK(n_dots == 13 * 4 * 3);
  free(r.file);
}

/* vec_dot from our own conversion of the rows gives the same as from
** ggml's (a check of the whole path linear.c will take), and an all-zero
** activation row gives 0. */
static void test_path(void) {
  recorded r;
  if (!load(&r)) {
    CHECK(0);
    return;
  }
  for (uint32_t t = 0; t < r.n_weight; t++) {
    const llm_qtype *q = llm_qtype_get(r.weight_type[t]);
    const llm_qtype *a = q ? llm_qtype_get(q->vec_type) : NULL;
    int ai = a ? act_index(&r, a->id) : -1;
    CHECK(q && a && ai >= 0);
    if (!q || !a || ai < 0) continue;
    const weight_row *w = &r.wrows[t][0];
    uint64_t bytes = 0;
    CHECK(llm_qtype_row_bytes(a->id, w->n, &bytes) == 0);
    float *x = row_floats(&r.rows[w->dot_row[0]]), *zeros = calloc(w->n, sizeof *zeros);
    uint8_t *act = malloc(bytes);
    CHECK(x && zeros && act);
    if (x && zeros && act) {
      a->vec_from_float(x, act, w->n);
      CHECK(q->vec_dot(w->w, act, w->n) == q->vec_dot(w->w, r.act[ai][w->dot_row[0]], w->n));
      a->vec_from_float(zeros, act, w->n);
      CHECK(q->vec_dot(w->w, act, w->n) == 0.0f);
    }
    free(x);
    free(zeros);
    free(act);
  }
  free(r.file);
}

int main(void) {
  RUN(test_table);
  RUN(test_vec_from_float);
  RUN(test_q8_0_two_roundings);
  RUN(test_vec_dot);
  RUN(test_path);
  return CHECK_DONE();
}
