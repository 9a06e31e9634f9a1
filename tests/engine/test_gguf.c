/* test_gguf.c: the GGUF reader (engine/formats/gguf.h) and the ggml type
** table (engine/kernels/qtypes.h). Small files are built here, byte by
** byte, to check every getter and every rejection (each by the words of its
** message); then the real files in ../shared/data/gguf (run from the
** repository root), against facts read from them by an independent script
** (a few lines of Python with the struct module, run outside the repository):
** key counts, tokenizer models, token counts, tensor names, types, shapes
** and absolute offsets. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "kernels/qtypes.h"
#include "alloc_fail.h"
#include "check.h"

#define GGUF_DIR "../shared/data/gguf/"

/* ---- a GGUF writer ------------------------------------------------------ */

typedef struct gw {
  llm_buf b;
  uint64_t n_kv, n_tensors;
} gw;

static void put(gw *w, const void *p, size_t n) {
  if (llm_buf_append(&w->b, p, n)) abort();
}

static void p8(gw *w, uint8_t v) { put(w, &v, 1); }

static void pn(gw *w, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p8(w, (uint8_t)(v >> (8 * i)));
}

static void p32(gw *w, uint32_t v) { pn(w, v, 4); }
static void p64(gw *w, uint64_t v) { pn(w, v, 8); }

static void pstrn(gw *w, const char *s, size_t n) {
  p64(w, n);
  put(w, s, n);
}

static void pstr(gw *w, const char *s) { pstrn(w, s, strlen(s)); }

/* "GGUF", version, counts (filled in by done()). */
static void header(gw *w, uint32_t version) {
  memset(w, 0, sizeof *w);
  put(w, "GGUF", 4);
  p32(w, version);
  p64(w, 0);
  p64(w, 0);
}

static void kv_head(gw *w, const char *key, uint32_t type) {
  pstr(w, key);
  p32(w, type);
  w->n_kv++;
}

static void kv_num(gw *w, const char *key, uint32_t type, uint64_t raw, int bytes) {
  kv_head(w, key, type);
  pn(w, raw, bytes);
}

static void kv_u32(gw *w, const char *key, uint32_t v) {
  kv_num(w, key, LLM_GGUF_U32, v, 4);
}

static void kv_str(gw *w, const char *key, const char *s) {
  kv_head(w, key, LLM_GGUF_STRING);
  pstr(w, s);
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static uint64_t f64_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  return u;
}

static void tensor(gw *w, const char *name, uint32_t n_dims, uint64_t ne0,
                   uint64_t ne1, uint32_t type, uint64_t offset) {
  uint64_t ne[4] = {ne0, ne1, 1, 1};
  pstr(w, name);
  p32(w, n_dims);
  for (uint32_t d = 0; d < n_dims && d < 4; d++) p64(w, ne[d]);
  for (uint32_t d = 4; d < n_dims; d++) p64(w, 1);
  p32(w, type);
  p64(w, offset);
  w->n_tensors++;
}

/* Fills in the counts, pads to alignment, adds data_bytes of data. */
static void done(gw *w, uint64_t alignment, size_t data_bytes) {
  for (int i = 0; i < 8; i++) {
    w->b.data[8 + i] = (uint8_t)(w->n_tensors >> (8 * i));
    w->b.data[16 + i] = (uint8_t)(w->n_kv >> (8 * i));
  }
  while (w->b.len % alignment) p8(w, 0);
  for (size_t i = 0; i < data_bytes; i++) p8(w, (uint8_t)i);
}

static llm_gguf *open_gw(gw *w, llm_err *err) {
  llm_gguf *g = (llm_gguf *)1;
  memset(err, 0, sizeof *err);
  int rc = llm_gguf_open_memory(&g, w->b.data, w->b.len, err);
  if (rc != err->code || (rc && g) || (!rc && !g)) {
    printf("  inconsistent result: rc %d, err.code %d\n", rc, err->code);
    return NULL;
  }
  return g;
}

/* Whether w's file is rejected with a message holding frag1 and frag2.
** Frees w. */
static int rejects(gw *w, const char *frag1, const char *frag2) {
  llm_err err;
  llm_gguf *g = open_gw(w, &err);
  llm_buf_free(&w->b);
  if (g) {
    printf("  accepted a bad file (expected \"%s\")\n", frag1);
    llm_gguf_free(g);
    return 0;
  }
  if (err.code == LLM_OK || !err.msg[0]) return 0;
  if ((frag1 && !strstr(err.msg, frag1)) || (frag2 && !strstr(err.msg, frag2))) {
    printf("  message \"%s\" lacks \"%s\" / \"%s\"\n", err.msg, frag1,
           frag2 ? frag2 : "");
    return 0;
  }
  return 1;
}

/* ---- the type table ----------------------------------------------------- */

static void test_qtypes(void) {
  static const struct {
    uint32_t id;
    const char *name;
    uint32_t block, bytes;
    int supported;
  } want[] = {
      {0, "f32", 1, 4, 1},       {1, "f16", 1, 2, 1},
      {2, "q4_0", 32, 18, 1},    {3, "q4_1", 32, 20, 1},
      {6, "q5_0", 32, 22, 1},    {7, "q5_1", 32, 24, 1},
      {8, "q8_0", 32, 34, 1},    {9, "q8_1", 32, 36, 0},
      {10, "q2_k", 256, 84, 1},  {11, "q3_k", 256, 110, 1},
      {12, "q4_k", 256, 144, 1}, {13, "q5_k", 256, 176, 1},
      {14, "q6_k", 256, 210, 1}, {15, "q8_k", 256, 292, 0},
      {16, "iq2_xxs", 256, 66, 0}, {20, "iq4_nl", 32, 18, 0},
      {23, "iq4_xs", 256, 136, 0}, {28, "f64", 1, 8, 0},
      {30, "bf16", 1, 2, 1},     {34, "tq1_0", 256, 54, 0},
      {35, "tq2_0", 256, 66, 0},
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    const llm_qtype *q = llm_qtype_get(want[i].id);
    CHECK(q && q->id == want[i].id && !strcmp(q->name, want[i].name) &&
          q->block == want[i].block && q->block_bytes == want[i].bytes &&
          q->supported == want[i].supported);
    CHECK(llm_qtype_by_name(want[i].name) == q);
  }
  int n_known = 0, n_supported = 0;
  for (uint32_t id = 0; id < 64; id++) {
    const llm_qtype *q = llm_qtype_get(id);
    if (!q) continue;
    n_known++;
    n_supported += q->supported;
    CHECK(q->id == id && q->block >= 1 && q->block_bytes >= 1);
    CHECK(llm_qtype_by_name(q->name) == q);
  }
  CHECK(n_known == 31 && n_supported == 13);
  static const uint32_t unknown[] = {4, 5, 31, 32, 33, 36, 37, 38, 39, 1000, UINT32_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++)
    CHECK(llm_qtype_get(unknown[i]) == NULL);
  CHECK(llm_qtype_by_name("Q4_K") == llm_qtype_get(LLM_QTYPE_Q4_K));
  CHECK(llm_qtype_by_name("BF16") == llm_qtype_get(LLM_QTYPE_BF16));
  CHECK(!llm_qtype_by_name("q4_k_m") && !llm_qtype_by_name("") &&
        !llm_qtype_by_name("q4") && !llm_qtype_by_name(NULL));

  uint64_t b = 7;
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_Q4_0, 64, &b) == LLM_OK && b == 36);
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_Q4_K, 512, &b) == LLM_OK && b == 288);
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_F16, 3, &b) == LLM_OK && b == 6);
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_F32, 0, &b) == LLM_OK && b == 0);
  b = 7;
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_Q4_0, 48, &b) == LLM_EINVAL && b == 7);
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_Q6_K, 255, &b) == LLM_EINVAL);
  CHECK(llm_qtype_row_bytes(4, 32, &b) == LLM_EINVAL);
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_F32, UINT64_MAX / 4 + 1, &b) == LLM_ERANGE);
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_F32, UINT64_MAX / 4, &b) == LLM_OK &&
        b == UINT64_MAX / 4 * 4);
  CHECK(llm_qtype_row_bytes(LLM_QTYPE_Q8_0, (UINT64_MAX / 32) * 32, &b) == LLM_ERANGE);
}

/* ---- the getters -------------------------------------------------------- */

/* One file with every kind of value and three tensors (alignment 64). */
static void full_file(gw *w, uint32_t version) {
  header(w, version);
  kv_num(w, "v.u8", LLM_GGUF_U8, 200, 1);
  kv_num(w, "v.i8", LLM_GGUF_I8, 0x80, 1); /* -128 */
  kv_num(w, "v.u16", LLM_GGUF_U16, 65535, 2);
  kv_num(w, "v.i16", LLM_GGUF_I16, 0xfffe, 2); /* -2 */
  kv_u32(w, "v.u32", 4000000000u);
  kv_num(w, "v.i32", LLM_GGUF_I32, 0x80000000u, 4); /* INT32_MIN */
  kv_num(w, "v.f32", LLM_GGUF_F32, f32_bits(1.5f), 4);
  kv_num(w, "v.bool", LLM_GGUF_BOOL, 1, 1);
  kv_num(w, "v.bool0", LLM_GGUF_BOOL, 0, 1);
  kv_head(w, "v.str", LLM_GGUF_STRING);
  pstrn(w, "a\0b", 3);
  kv_num(w, "v.u64", LLM_GGUF_U64, UINT64_MAX, 8);
  kv_num(w, "v.u64small", LLM_GGUF_U64, 1234567890123ull, 8);
  kv_num(w, "v.i64", LLM_GGUF_I64, (uint64_t)1 << 63, 8); /* INT64_MIN */
  kv_num(w, "v.f64", LLM_GGUF_F64, f64_bits(-0.25), 8);
  kv_str(w, "general.name", "tiny");
  kv_u32(w, "general.alignment", 64);
  kv_head(w, "a.str", LLM_GGUF_ARRAY); /* strings, one empty, one with NUL */
  p32(w, LLM_GGUF_STRING);
  p64(w, 4);
  pstr(w, "<unk>");
  pstr(w, "");
  pstrn(w, "x\0y", 3);
  pstr(w, "\xe2\x96\x81the");
  kv_head(w, "a.f32", LLM_GGUF_ARRAY);
  p32(w, LLM_GGUF_F32);
  p64(w, 3);
  p32(w, f32_bits(-1.75f));
  p32(w, f32_bits(3e9f));
  p32(w, f32_bits(NAN));
  kv_head(w, "a.i16", LLM_GGUF_ARRAY);
  p32(w, LLM_GGUF_I16);
  p64(w, 2);
  pn(w, 0x8000, 2);
  pn(w, 7, 2);
  kv_head(w, "a.u64", LLM_GGUF_ARRAY);
  p32(w, LLM_GGUF_U64);
  p64(w, 2);
  p64(w, UINT64_MAX);
  p64(w, 42);
  kv_head(w, "a.bool", LLM_GGUF_ARRAY);
  p32(w, LLM_GGUF_BOOL);
  p64(w, 2);
  p8(w, 0);
  p8(w, 1);
  kv_head(w, "a.empty", LLM_GGUF_ARRAY);
  p32(w, LLM_GGUF_I32);
  p64(w, 0);
  kv_head(w, "a.nostr", LLM_GGUF_ARRAY);
  p32(w, LLM_GGUF_STRING);
  p64(w, 0);
  /* f32 4x3 = 48 bytes at 0; q8_0 64x2 = 4 blocks = 136 bytes at 64; a
  ** 1-D q4_k of 256 at 256 (144 bytes) */
  tensor(w, "blk.0.w", 2, 4, 3, LLM_QTYPE_F32, 0);
  tensor(w, "blk.0.q", 2, 64, 2, LLM_QTYPE_Q8_0, 64);
  tensor(w, "k", 1, 256, 1, LLM_QTYPE_Q4_K, 256);
  done(w, 64, 400);
}

static void check_scalars(const llm_gguf *g) {
  llm_err err;
  int64_t v = 99;
  double d = 9;
  CHECK(llm_gguf_get_int(g, "v.u8", &v, &err) == 1 && v == 200);
  CHECK(llm_gguf_get_int(g, "v.i8", &v, &err) == 1 && v == -128);
  CHECK(llm_gguf_get_int(g, "v.u16", &v, &err) == 1 && v == 65535);
  CHECK(llm_gguf_get_int(g, "v.i16", &v, &err) == 1 && v == -2);
  CHECK(llm_gguf_get_int(g, "v.u32", &v, &err) == 1 && v == 4000000000ll);
  CHECK(llm_gguf_get_int(g, "v.i32", &v, &err) == 1 && v == INT32_MIN);
  CHECK(llm_gguf_get_int(g, "v.bool", &v, &err) == 1 && v == 1);
  CHECK(llm_gguf_get_int(g, "v.bool0", &v, &err) == 1 && v == 0);
  CHECK(llm_gguf_get_int(g, "v.u64small", &v, &err) == 1 && v == 1234567890123ll);
  CHECK(llm_gguf_get_int(g, "v.i64", &v, &err) == 1 && v == INT64_MIN);
  v = 5;
  memset(&err, 0, sizeof err);
  CHECK(llm_gguf_get_int(g, "v.u64", &v, &err) == -1 && v == 5 &&
        err.code == LLM_ERANGE && strstr(err.msg, "v.u64") &&
        strstr(err.msg, "18446744073709551615"));
  memset(&err, 0, sizeof err);
  CHECK(llm_gguf_get_int(g, "v.f32", &v, &err) == -1 && err.code == LLM_EINVAL &&
        strstr(err.msg, "\"v.f32\" has type f32, expected an integer"));
  memset(&err, 0, sizeof err);
  CHECK(llm_gguf_get_int(g, "a.str", &v, &err) == -1 &&
        strstr(err.msg, "\"a.str\" has type array of string"));
  CHECK(llm_gguf_get_int(g, "v.nope", &v, &err) == 0 && v == 5);
  CHECK(llm_gguf_get_int(g, "v", &v, &err) == 0);

  CHECK(llm_gguf_get_float(g, "v.f32", &d, &err) == 1 && d == 1.5);
  CHECK(llm_gguf_get_float(g, "v.f64", &d, &err) == 1 && d == -0.25);
  CHECK(llm_gguf_get_float(g, "v.i16", &d, &err) == 1 && d == -2);
  CHECK(llm_gguf_get_float(g, "v.u64", &d, &err) == 1 && d == 18446744073709551615.0);
  memset(&err, 0, sizeof err);
  CHECK(llm_gguf_get_float(g, "v.str", &d, &err) == -1 &&
        strstr(err.msg, "\"v.str\" has type string, expected a number"));
  CHECK(llm_gguf_get_float(g, "nope", &d, &err) == 0);

  const char *s = NULL;
  size_t len = 0;
  CHECK(llm_gguf_get_str(g, "v.str", &s, &len, &err) == 1 && len == 3 &&
        !memcmp(s, "a\0b", 4));
  CHECK(llm_gguf_get_str(g, "general.name", &s, &len, &err) == 1 && len == 4 &&
        !strcmp(s, "tiny"));
  memset(&err, 0, sizeof err);
  CHECK(llm_gguf_get_str(g, "v.u32", &s, &len, &err) == -1 &&
        strstr(err.msg, "\"v.u32\" has type u32, expected string"));
  CHECK(llm_gguf_get_str(g, "general.nam", &s, &len, &err) == 0);
}

static void check_arrays(const llm_gguf *g) {
  int64_t a = llm_gguf_find(g, "a.str");
  size_t len = 99;
  CHECK(a >= 0 && llm_gguf_kv_type(g, a) == LLM_GGUF_ARRAY &&
        llm_gguf_arr_type(g, a) == LLM_GGUF_STRING && llm_gguf_arr_n(g, a) == 4);
  const char *s = llm_gguf_arr_str(g, a, 0, &len);
  CHECK(s && len == 5 && !strcmp(s, "<unk>"));
  s = llm_gguf_arr_str(g, a, 1, &len);
  CHECK(s && len == 0 && s[0] == 0);
  s = llm_gguf_arr_str(g, a, 2, &len);
  CHECK(s && len == 3 && !memcmp(s, "x\0y", 4));
  s = llm_gguf_arr_str(g, a, 3, &len);
  CHECK(s && len == 6 && !strcmp(s, "\xe2\x96\x81the"));
  CHECK(!llm_gguf_arr_str(g, a, 4, &len) && !llm_gguf_arr_data(g, a));
  CHECK(llm_gguf_arr_int(g, a, 0) == 0 && llm_gguf_arr_float(g, a, 0) == 0);

  int64_t f = llm_gguf_find(g, "a.f32");
  CHECK(llm_gguf_arr_type(g, f) == LLM_GGUF_F32 && llm_gguf_arr_n(g, f) == 3);
  CHECK(llm_gguf_arr_float(g, f, 0) == -1.75 && llm_gguf_arr_int(g, f, 0) == -1);
  CHECK(llm_gguf_arr_float(g, f, 1) == 3e9f && llm_gguf_arr_int(g, f, 1) == 3000000000ll);
  CHECK(isnan(llm_gguf_arr_float(g, f, 2)) && llm_gguf_arr_int(g, f, 2) == 0);
  CHECK(llm_gguf_arr_float(g, f, 3) == 0 && !llm_gguf_arr_str(g, f, 0, NULL));
  const float *fd = llm_gguf_arr_data(g, f);
  CHECK(fd && ((uintptr_t)fd % 8) == 0 && fd[0] == -1.75f && fd[1] == 3e9f);

  int64_t i16 = llm_gguf_find(g, "a.i16");
  CHECK(llm_gguf_arr_int(g, i16, 0) == -32768 && llm_gguf_arr_int(g, i16, 1) == 7);
  CHECK(llm_gguf_arr_float(g, i16, 0) == -32768.0);
  const uint8_t *raw = llm_gguf_arr_data(g, i16);
  CHECK(raw && raw[0] == 0 && raw[1] == 0x80 && raw[2] == 7 && raw[3] == 0);
  int64_t u64 = llm_gguf_find(g, "a.u64");
  CHECK(llm_gguf_arr_int(g, u64, 0) == INT64_MAX && llm_gguf_arr_int(g, u64, 1) == 42);
  CHECK(llm_gguf_arr_float(g, u64, 0) == 18446744073709551615.0);
  int64_t bo = llm_gguf_find(g, "a.bool");
  CHECK(llm_gguf_arr_type(g, bo) == LLM_GGUF_BOOL && llm_gguf_arr_int(g, bo, 0) == 0 &&
        llm_gguf_arr_int(g, bo, 1) == 1);
  int64_t e = llm_gguf_find(g, "a.empty");
  CHECK(llm_gguf_arr_n(g, e) == 0 && llm_gguf_arr_type(g, e) == LLM_GGUF_I32 &&
        llm_gguf_arr_data(g, e) != NULL && llm_gguf_arr_int(g, e, 0) == 0);
  int64_t ns = llm_gguf_find(g, "a.nostr");
  CHECK(llm_gguf_arr_n(g, ns) == 0 && !llm_gguf_arr_str(g, ns, 0, NULL));

  int64_t sc = llm_gguf_find(g, "v.u32"); /* scalars are no arrays */
  CHECK(llm_gguf_arr_type(g, sc) == -1 && llm_gguf_arr_n(g, sc) == 0 &&
        !llm_gguf_arr_data(g, sc) && llm_gguf_arr_int(g, sc, 0) == 0);
}

static void check_texts(const llm_gguf *g) {
  char buf[80];
  static const struct {
    const char *key, *text;
  } want[] = {
      {"v.i8", "-128"},      {"v.u64", "18446744073709551615"},
      {"v.f32", "1.5"},      {"v.bool", "true"},
      {"v.str", "\"a\\x00b\""}, {"a.str", "[4 x string]"},
      {"a.bool", "[2 x bool]"},
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    size_t n = llm_gguf_value_text(g, llm_gguf_find(g, want[i].key), buf, sizeof buf);
    CHECK(n == strlen(want[i].text) && !strcmp(buf, want[i].text));
  }
  CHECK(llm_gguf_value_text(g, llm_gguf_find(g, "v.u8"), buf, 3) == 2 &&
        !strcmp(buf, "20"));
  CHECK(llm_gguf_value_text(g, -1, buf, sizeof buf) > 0);
  CHECK(!strcmp(llm_gguf_type_name(LLM_GGUF_F64), "f64") &&
        !strcmp(llm_gguf_type_name(LLM_GGUF_STRING), "string") &&
        !strcmp(llm_gguf_type_name(13), "unknown") &&
        !strcmp(llm_gguf_type_name(-1), "unknown"));
}

static void check_tensors(const llm_gguf *g) {
  uint64_t base = llm_gguf_data_offset(g);
  CHECK(base % 64 == 0 && base > 0);
  CHECK(llm_gguf_n_tensors(g) == 3);
  const llm_gguf_tensor *t = llm_gguf_tensor_at(g, 0);
  CHECK(t && !strcmp(t->name, "blk.0.w") && t->name_len == 7 && t->n_dims == 2 &&
        t->ne[0] == 4 && t->ne[1] == 3 && t->ne[2] == 1 && t->ne[3] == 1 &&
        t->type == LLM_QTYPE_F32 && t->offset == base && t->size == 48);
  CHECK(llm_gguf_find_tensor(g, "blk.0.w") == t);
  t = llm_gguf_tensor_at(g, 1);
  CHECK(t && t->type == LLM_QTYPE_Q8_0 && t->offset == base + 64 && t->size == 136);
  CHECK(llm_gguf_find_tensor(g, "blk.0.q") == t);
  t = llm_gguf_find_tensor(g, "k");
  CHECK(t == llm_gguf_tensor_at(g, 2) && t->n_dims == 1 && t->ne[0] == 256 &&
        t->ne[1] == 1 && t->offset == base + 256 && t->size == 144);
  CHECK(!llm_gguf_find_tensor(g, "blk.0") && !llm_gguf_find_tensor(g, "") &&
        !llm_gguf_tensor_at(g, 3) && !llm_gguf_tensor_at(g, -1));
}

static void test_getters(void) {
  for (uint32_t version = 2; version <= 3; version++) {
    gw w;
    llm_err err;
    full_file(&w, version);
    llm_gguf *g = open_gw(&w, &err);
    CHECK(g != NULL);
    if (!g) {
      printf("  %s\n", err.msg);
      llm_buf_free(&w.b);
      return;
    }
    CHECK(llm_gguf_version(g) == version && llm_gguf_alignment(g) == 64);
    CHECK(llm_gguf_n_kv(g) == 23);
    CHECK(!strcmp(llm_gguf_key(g, 0), "v.u8") && !strcmp(llm_gguf_key(g, 22), "a.nostr"));
    CHECK(!llm_gguf_key(g, 23) && !llm_gguf_key(g, -1) && llm_gguf_kv_type(g, 23) == -1);
    for (int64_t i = 0; i < llm_gguf_n_kv(g); i++)
      CHECK(llm_gguf_find(g, llm_gguf_key(g, i)) == i);
    CHECK(llm_gguf_find(g, "v.u") == -1 && llm_gguf_find(g, "") == -1);
    CHECK(llm_gguf_kv_type(g, 0) == LLM_GGUF_U8 &&
          llm_gguf_kv_type(g, llm_gguf_find(g, "v.f64")) == LLM_GGUF_F64);
    check_scalars(g);
    check_arrays(g);
    check_texts(g);
    check_tensors(g);
    llm_gguf_free(g);
    llm_buf_free(&w.b);
  }
}

/* The default alignment, no keys, no tensors. */
static void test_minimal(void) {
  gw w;
  llm_err err;
  header(&w, 3);
  done(&w, 1, 0);
  llm_gguf *g = open_gw(&w, &err);
  CHECK(g && llm_gguf_n_kv(g) == 0 && llm_gguf_n_tensors(g) == 0 &&
        llm_gguf_alignment(g) == 32 && llm_gguf_data_offset(g) == 32);
  if (g) {
    int64_t v = 3;
    CHECK(llm_gguf_find(g, "x") == -1 && llm_gguf_get_int(g, "x", &v, &err) == 0 && v == 3);
    CHECK(!llm_gguf_find_tensor(g, "x"));
  }
  llm_gguf_free(g);
  llm_buf_free(&w.b);

  /* tensors of every known type, one after the other */
  header(&w, 3);
  uint64_t off = 0;
  char name[32];
  for (uint32_t id = 0; id < LLM_QTYPE_COUNT; id++) {
    const llm_qtype *q = llm_qtype_get(id);
    if (!q) continue;
    snprintf(name, sizeof name, "t.%s", q->name);
    tensor(&w, name, 2, q->block * 2, 3, id, off);
    off += ((uint64_t)q->block_bytes * 6 + 31) / 32 * 32;
  }
  done(&w, 32, off);
  g = open_gw(&w, &err);
  CHECK(g && llm_gguf_n_tensors(g) == 31);
  for (int64_t i = 0; g && i < llm_gguf_n_tensors(g); i++) {
    const llm_gguf_tensor *t = llm_gguf_tensor_at(g, i);
    CHECK(t->size == (uint64_t)llm_qtype_get(t->type)->block_bytes * 6);
  }
  llm_gguf_free(g);
  llm_buf_free(&w.b);
}

/* ---- rejections --------------------------------------------------------- */

static void test_reject_header(void) {
  gw w;
  memset(&w, 0, sizeof w);
  put(&w, "GGU", 3);
  CHECK(rejects(&w, "3 bytes, too short", NULL));
  memset(&w, 0, sizeof w);
  CHECK(rejects(&w, "0 bytes, too short", NULL));
  header(&w, 3);
  memcpy(w.b.data, "ggjt", 4);
  CHECK(rejects(&w, "not a GGUF file", "starts with \"ggjt\" (bytes 67 67 6a 74)"));
  header(&w, 3);
  memcpy(w.b.data, "\x7f" "ELF", 4);
  CHECK(rejects(&w, "starts with \"\\x7fELF\"", NULL));
  header(&w, 1);
  CHECK(rejects(&w, "version 1", "not supported"));
  header(&w, 4);
  CHECK(rejects(&w, "unsupported version 4", NULL));
  header(&w, 0x03000000);
  CHECK(rejects(&w, "big-endian", NULL));
  header(&w, 3);
  w.b.len = 12;
  CHECK(rejects(&w, "truncated", "the counts of the header"));
  header(&w, 3);
  w.b.len = 6;
  CHECK(rejects(&w, "truncated", "the version"));

  /* counts the rest of the file cannot hold */
  header(&w, 3);
  kv_u32(&w, "a", 1);
  done(&w, 1, 0);
  w.b.data[16] = 2; /* 2 entries need >= 28 bytes; 17 follow */
  CHECK(rejects(&w, "announces 2 metadata entries and 0 tensors", "17 bytes"));
  header(&w, 3);
  done(&w, 1, 1000);
  memset(w.b.data + 16, 0xff, 8);
  CHECK(rejects(&w, "announces 18446744073709551615 metadata entries", NULL));
  header(&w, 3);
  done(&w, 1, 1000);
  w.b.data[8 + 5] = 1; /* 2^40 tensors */
  CHECK(rejects(&w, "1099511627776 tensors", "more than the 1000 bytes"));
}

static void test_reject_kv(void) {
  gw w;
  header(&w, 3);
  kv_str(&w, "k", "value");
  done(&w, 1, 0);
  w.b.data[24 + 9 + 4] = 200; /* the value's length: 200 bytes */
  CHECK(rejects(&w, "the value of metadata entry 0 \"k\" at byte 37 is 200 bytes long",
                "longer than the rest of the file (5 bytes)"));
  header(&w, 3);
  kv_u32(&w, "a", 1);
  done(&w, 1, 0);
  w.b.data[24] = 50; /* key length */
  CHECK(rejects(&w, "the key of metadata entry 0", "longer than the rest"));
  header(&w, 3);
  kv_u32(&w, "", 1);
  kv_u32(&w, "b", 1);
  done(&w, 1, 0);
  CHECK(rejects(&w, "metadata entry 0 at byte 24 has an empty key", NULL));
  header(&w, 3);
  kv_head(&w, "a.b", LLM_GGUF_U8);
  w.b.data[w.b.len - 6] = 0; /* "a\0b" */
  p8(&w, 1);
  done(&w, 1, 0);
  CHECK(rejects(&w, "metadata entry 0 at byte 24 has a key with a NUL byte: \"a\\x00b\"", NULL));
  header(&w, 3);
  kv_u32(&w, "x.y", 1);
  kv_u32(&w, "z", 1);
  kv_str(&w, "x.y", "again");
  done(&w, 1, 0);
  CHECK(rejects(&w, "duplicate key \"x.y\"", "entries 0 and 2"));
  header(&w, 3);
  kv_num(&w, "odd", 13, 0, 4);
  done(&w, 1, 0);
  CHECK(rejects(&w, "\"odd\" has unknown value type 13", "byte 35"));
  header(&w, 3);
  kv_head(&w, "nest", LLM_GGUF_ARRAY);
  p32(&w, LLM_GGUF_ARRAY);
  p64(&w, 1);
  p32(&w, LLM_GGUF_U8);
  p64(&w, 1);
  p8(&w, 1);
  done(&w, 1, 0);
  CHECK(rejects(&w, "\"nest\"", "nested arrays are not supported"));
  header(&w, 3);
  kv_head(&w, "arr", LLM_GGUF_ARRAY);
  p32(&w, 99);
  p64(&w, 0);
  done(&w, 1, 0);
  CHECK(rejects(&w, "unknown array element type 99", NULL));
  header(&w, 3);
  kv_head(&w, "arr", LLM_GGUF_ARRAY);
  p32(&w, LLM_GGUF_U32);
  p64(&w, 5);
  p32(&w, 1);
  done(&w, 1, 8);
  CHECK(rejects(&w, "an array of 5 u32 needs at least 20 bytes but 12 are left", NULL));
  header(&w, 3);
  kv_head(&w, "toks", LLM_GGUF_ARRAY);
  p32(&w, LLM_GGUF_STRING);
  p64(&w, 3);
  pstr(&w, "a");
  pstr(&w, "b");
  p64(&w, 1000);
  done(&w, 1, 0);
  CHECK(rejects(&w, "string 2 of metadata entry 0 \"toks\"", "1000 bytes long"));
  header(&w, 3);
  kv_head(&w, "toks", LLM_GGUF_ARRAY);
  p32(&w, LLM_GGUF_STRING);
  p64(&w, 100000000); /* needs 800 MB */
  done(&w, 1, 0);
  CHECK(rejects(&w, "an array of 100000000 string needs at least 800000000 bytes", NULL));
  header(&w, 3);
  kv_u32(&w, "a", 1);
  kv_num(&w, "b", LLM_GGUF_U64, 1, 8);
  done(&w, 1, 0);
  w.b.len -= 3;
  CHECK(rejects(&w, "truncated file: the value of metadata entry 1 \"b\"", "needs 8 bytes, 5 are left"));
  header(&w, 3);
  kv_head(&w, "k\x01\"", LLM_GGUF_F32);
  done(&w, 1, 0);
  p8(&w, 0);
  CHECK(rejects(&w, "\"k\\x01\\x22\"", "needs 4 bytes, 1 are left"));
}

static void test_reject_alignment(void) {
  gw w;
  static const uint32_t bad[] = {0, 3, 48, 0x80000001u};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    header(&w, 3);
    kv_u32(&w, "general.alignment", bad[i]);
    done(&w, 1, 0);
    char frag[64];
    snprintf(frag, sizeof frag, "general.alignment is %u", bad[i]);
    CHECK(rejects(&w, frag, "must be a power of two"));
  }
  header(&w, 3);
  kv_num(&w, "general.alignment", LLM_GGUF_I32, 32, 4);
  done(&w, 1, 0);
  CHECK(rejects(&w, "general.alignment has type i32", "must be u32"));
  /* a large power of two is fine when the file holds its padding */
  header(&w, 3);
  kv_u32(&w, "general.alignment", 4096);
  tensor(&w, "t", 1, 8, 1, LLM_QTYPE_F32, 0);
  done(&w, 4096, 32);
  llm_err err;
  llm_gguf *g = open_gw(&w, &err);
  CHECK(g && llm_gguf_data_offset(g) == 4096 && llm_gguf_tensor_at(g, 0)->offset == 4096);
  llm_gguf_free(g);
  llm_buf_free(&w.b);
}

static void test_reject_tensors(void) {
  gw w;
  header(&w, 3);
  tensor(&w, "w", 0, 4, 1, LLM_QTYPE_F32, 0);
  done(&w, 32, 64);
  CHECK(rejects(&w, "tensor 0 \"w\" has 0 dimensions", "1..4 are allowed"));
  header(&w, 3);
  tensor(&w, "w", 5, 4, 1, LLM_QTYPE_F32, 0);
  done(&w, 32, 64);
  CHECK(rejects(&w, "\"w\" has 5 dimensions (at byte 33)", NULL));
  header(&w, 3);
  tensor(&w, "w", 2, 4, 0, LLM_QTYPE_F32, 0);
  done(&w, 32, 64);
  CHECK(rejects(&w, "\"w\" has dimension 1 = 0", NULL));
  header(&w, 3);
  tensor(&w, "w", 2, (uint64_t)1 << 63, 1, LLM_QTYPE_F32, 0);
  done(&w, 32, 64);
  CHECK(rejects(&w, "dimension 0 = 9223372036854775808", NULL));
  header(&w, 3);
  tensor(&w, "w", 2, (uint64_t)1 << 32, (uint64_t)1 << 32, LLM_QTYPE_F32, 0);
  done(&w, 32, 64);
  CHECK(rejects(&w, "\"w\": the element count 4294967296 x 4294967296 x 1 x 1 overflows", NULL));
  header(&w, 3);
  tensor(&w, "w", 2, (uint64_t)1 << 31, (uint64_t)1 << 31, LLM_QTYPE_F64, 0);
  done(&w, 32, 64);
  CHECK(rejects(&w, "its size", "overflows"));
  header(&w, 3);
  tensor(&w, "blk.0.x", 1, 32, 1, 4, 0);
  done(&w, 32, 64);
  CHECK(rejects(&w, "tensor 0 \"blk.0.x\" has unknown type id 4", NULL));
  header(&w, 3);
  tensor(&w, "w", 1, 32, 1, 1000, 0);
  done(&w, 32, 64);
  CHECK(rejects(&w, "unknown type id 1000", NULL));
  header(&w, 3);
  tensor(&w, "w", 2, 16, 2, LLM_QTYPE_Q4_0, 0);
  done(&w, 32, 64);
  CHECK(rejects(&w, "rows of 16 elements", "not a multiple of q4_0's block size 32"));
  header(&w, 3);
  tensor(&w, "a", 1, 8, 1, LLM_QTYPE_F32, 0);
  tensor(&w, "w", 1, 8, 1, LLM_QTYPE_F32, 40);
  done(&w, 32, 128);
  CHECK(rejects(&w, "tensor 1 \"w\" has offset 40", "not a multiple of the alignment 32"));
  header(&w, 3);
  tensor(&w, "a", 1, 8, 1, LLM_QTYPE_F32, 0);
  tensor(&w, "w", 1, 16, 1, LLM_QTYPE_F32, 32);
  done(&w, 32, 95);
  CHECK(rejects(&w, "tensor 1 \"w\" (64 bytes at offset 32", "past the end of the file"));
  header(&w, 3);
  tensor(&w, "w", 1, 8, 1, LLM_QTYPE_F32, UINT64_MAX - 31);
  done(&w, 32, 64);
  CHECK(rejects(&w, "past the end of the file", NULL));
  header(&w, 3);
  tensor(&w, "a", 1, 16, 1, LLM_QTYPE_F32, 64);
  tensor(&w, "b", 1, 8, 1, LLM_QTYPE_F32, 0);
  tensor(&w, "c", 1, 8, 1, LLM_QTYPE_F32, 96);
  done(&w, 32, 160);
  CHECK(rejects(&w, "tensors \"a\" (bytes", "and \"c\" (bytes"));
  header(&w, 3);
  tensor(&w, "a", 1, 8, 1, LLM_QTYPE_F32, 0);
  tensor(&w, "b", 1, 8, 1, LLM_QTYPE_F32, 0);
  done(&w, 32, 64);
  CHECK(rejects(&w, "overlap", NULL));
  header(&w, 3);
  tensor(&w, "x", 1, 8, 1, LLM_QTYPE_F32, 0);
  tensor(&w, "y", 1, 8, 1, LLM_QTYPE_F32, 32);
  tensor(&w, "x", 1, 8, 1, LLM_QTYPE_F32, 64);
  done(&w, 32, 96);
  CHECK(rejects(&w, "duplicate tensor name \"x\" (tensors 0 and 2)", NULL));
  header(&w, 3);
  tensor(&w, "", 1, 8, 1, LLM_QTYPE_F32, 0);
  done(&w, 32, 32);
  CHECK(rejects(&w, "tensor info 0 at byte 24 has an empty name", NULL));
  header(&w, 3);
  tensor(&w, "ab", 1, 8, 1, LLM_QTYPE_F32, 0);
  done(&w, 32, 32);
  w.b.data[24 + 8 + 1] = 0;
  CHECK(rejects(&w, "tensor info 0 at byte 24 has a name with a NUL byte: \"a\\x00\"", NULL));
  header(&w, 3);
  tensor(&w, "w", 2, 8, 1, LLM_QTYPE_F32, 0);
  done(&w, 1, 0);
  w.b.len -= 2;
  CHECK(rejects(&w, "truncated file: the offset of tensor 0 \"w\"", NULL));
}

/* Every prefix of a valid file is rejected, with a message. */
static void test_prefixes(void) {
  gw w;
  full_file(&w, 3);
  size_t bad = 0;
  for (size_t len = 0; len < w.b.len; len++) {
    llm_err err;
    llm_gguf *g = (llm_gguf *)1;
    memset(&err, 0, sizeof err);
    int rc = llm_gguf_open_memory(&g, w.b.data, len, &err);
    if (rc == LLM_OK || g || err.code != rc || !err.msg[0]) bad++;
    llm_gguf_free(rc == LLM_OK ? g : NULL);
  }
  CHECK(bad == 0);
  llm_buf_free(&w.b);
}

/* Out of memory at each allocation: a clean failure, nothing leaked. */
static void test_oom(void) {
  gw w;
  full_file(&w, 3);
  int ok = 0;
  for (long n = 0; n < 10000 && !ok; n++) {
    llm_err err;
    llm_gguf *g = NULL;
    memset(&err, 0, sizeof err);
    llm_test_fail_allocs_after(n);
    int rc = llm_gguf_open_memory(&g, w.b.data, w.b.len, &err);
    long failed = llm_test_allocs_failed();
    llm_test_fail_allocs_after(-1);
    if (rc == LLM_OK) {
      ok = 1;
      CHECK(failed == 0 && llm_gguf_n_tensors(g) == 3);
      llm_gguf_free(g);
    } else {
      CHECK(rc == LLM_ENOMEM && g == NULL && strstr(err.msg, "out of memory"));
    }
  }
  CHECK(ok);
  llm_buf_free(&w.b);
}

/* ---- the read callback -------------------------------------------------- */

typedef struct source {
  const uint8_t *data;
  uint64_t len;
  uint64_t fail_at; /* a read reaching this offset fails */
  long calls;
  uint64_t bytes, max_end;
  int bad; /* a read outside the file */
} source;

static int read_source(void *ctx, uint64_t off, void *buf, size_t n, llm_err *err) {
  source *s = ctx;
  s->calls++;
  s->bytes += n;
  if (n == 0 || off > s->len || n > s->len - off) s->bad = 1;
  if (off + n > s->max_end) s->max_end = off + n;
  if (off + n > s->fail_at) return llm_fail(err, LLM_EIO, "disk on fire");
  if (!s->bad) memcpy(buf, s->data + off, n);
  return s->bad ? llm_fail(err, LLM_EIO, "out of the file") : LLM_OK;
}

static int same_metadata(const llm_gguf *a, const llm_gguf *b) {
  if (llm_gguf_n_kv(a) != llm_gguf_n_kv(b) || llm_gguf_n_tensors(a) != llm_gguf_n_tensors(b) ||
      llm_gguf_data_offset(a) != llm_gguf_data_offset(b))
    return 0;
  for (int64_t i = 0; i < llm_gguf_n_kv(a); i++) {
    char ta[300], tb[300];
    llm_gguf_value_text(a, i, ta, sizeof ta);
    llm_gguf_value_text(b, i, tb, sizeof tb);
    if (strcmp(llm_gguf_key(a, i), llm_gguf_key(b, i)) || strcmp(ta, tb)) return 0;
    uint64_t n = llm_gguf_arr_n(a, i);
    if (n != llm_gguf_arr_n(b, i)) return 0;
    for (uint64_t j = 0; j < n; j++) {
      size_t la = 0, lb = 0;
      const char *sa = llm_gguf_arr_str(a, i, j, &la), *sb = llm_gguf_arr_str(b, i, j, &lb);
      if ((sa == NULL) != (sb == NULL) || la != lb || (sa && memcmp(sa, sb, la)) ||
          llm_gguf_arr_int(a, i, j) != llm_gguf_arr_int(b, i, j))
        return 0;
    }
  }
  for (int64_t i = 0; i < llm_gguf_n_tensors(a); i++) {
    const llm_gguf_tensor *x = llm_gguf_tensor_at(a, i), *y = llm_gguf_tensor_at(b, i);
    if (strcmp(x->name, y->name) || x->offset != y->offset || x->size != y->size ||
        x->type != y->type || memcmp(x->ne, y->ne, sizeof x->ne))
      return 0;
  }
  return 1;
}

typedef struct bytes {
  uint8_t *d;
  size_t len;
} bytes;

/* A whole file (a failure, not a skip, when it is missing). */
static bytes load(const char *path) {
  bytes b = {NULL, 0};
  FILE *f = fopen(path, "rb");
  if (!f) {
    printf("  cannot open %s (tests run from the repository root)\n", path);
    return b;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b.d = malloc(n > 0 ? (size_t)n : 1);
  b.len = fread(b.d, 1, n > 0 ? (size_t)n : 0, f);
  fclose(f);
  return b;
}

static llm_gguf *open_file(const bytes *b) {
  llm_err err;
  llm_gguf *g = NULL;
  memset(&err, 0, sizeof err);
  if (b->d && llm_gguf_open_memory(&g, b->d, b->len, &err) != LLM_OK)
    printf("  open failed: %s\n", err.msg);
  return g;
}

static void test_callback(void) {
  bytes b = load(GGUF_DIR "vocab/ggml-vocab-deepseek-llm.gguf");
  llm_gguf *m = open_file(&b);
  CHECK(m != NULL);
  if (!m) {
    free(b.d);
    return;
  }
  source s = {b.d, b.len, UINT64_MAX, 0, 0, 0, 0};
  llm_err err;
  llm_gguf *g = NULL;
  CHECK(llm_gguf_open(&g, read_source, &s, b.len, &err) == LLM_OK);
  CHECK(g && same_metadata(m, g));
  /* 64 KiB reads, each byte once, none past the file */
  CHECK(!s.bad && s.calls == (long)((b.len + 65535) / 65536) && s.bytes == b.len);
  llm_gguf_free(g);

  /* a failing read: its code, its message, where */
  source f = {b.d, b.len, 300000, 0, 0, 0, 0};
  g = (llm_gguf *)1;
  memset(&err, 0, sizeof err);
  CHECK(llm_gguf_open(&g, read_source, &f, b.len, &err) == LLM_EIO && g == NULL &&
        err.code == LLM_EIO && strstr(err.msg, "disk on fire") &&
        strstr(err.msg, "cannot read 65536 bytes at byte 262144"));
  /* a file shorter than it claims */
  source t = {b.d, b.len, UINT64_MAX, 0, 0, 0, 0};
  CHECK(llm_gguf_open(&g, read_source, &t, b.len - 100, &err) != LLM_OK && !g && !t.bad);
  CHECK(llm_gguf_open(&g, NULL, &t, b.len, &err) == LLM_EINVAL && !g);
  llm_gguf_free(m);
  free(b.d);

  /* a model: only the metadata is read (and what is left of its last chunk) */
  b = load(GGUF_DIR "shakespeare-4L-Q8_0.gguf");
  source q = {b.d, b.len, UINT64_MAX, 0, 0, 0, 0};
  g = NULL;
  CHECK(b.d && llm_gguf_open(&g, read_source, &q, b.len, &err) == LLM_OK);
  CHECK(g && q.calls == 1 && q.max_end == 65536 && llm_gguf_data_offset(g) == 13728);
  m = open_file(&b);
  CHECK(g && m && same_metadata(g, m));
  llm_gguf_free(g);
  llm_gguf_free(m);
  free(b.d);
}

/* ---- the real files ----------------------------------------------------- */

static void test_vocab_files(void) {
  /* from the Python script: version, keys, tokenizer.ggml.model, tokens,
  ** merges, the last token */
  static const struct {
    const char *file;
    int n_kv;
    const char *model;
    uint64_t n_tokens, n_merges;
    const char *last;
  } want[] = {
      {"ggml-vocab-baichuan.gguf", 18, "llama", 64000, 0, "\xef\x87\xa9"},
      {"ggml-vocab-bert-bge.gguf", 20, "bert", 30522, 0, "\xef\xbd\x9e"},
      {"ggml-vocab-deepseek-coder.gguf", 25, "gpt2", 32256, 31757, "[PAD32255]"},
      {"ggml-vocab-deepseek-llm.gguf", 23, "gpt2", 102400, 99757, "[PAD102399]"},
      {"ggml-vocab-falcon.gguf", 18, "gpt2", 65024, 64784, "\xc4\xa0victoria"},
      {"ggml-vocab-gpt-2.gguf", 16, "gpt2", 50257, 50000, "<|endoftext|>"},
      {"ggml-vocab-gpt-neox.gguf", 17, "gpt2", 50432, 50009, "[PAD50431]"},
      {"ggml-vocab-llama-spm.gguf", 22, "llama", 32000, 0, "\xe7\xbb\x99"},
      {"ggml-vocab-mpt.gguf", 17, "gpt2", 50432, 50009, "[PAD50431]"},
      {"ggml-vocab-phi-3.gguf", 26, "llama", 32064, 0, "[PAD32063]"},
      {"ggml-vocab-refact.gguf", 18, "gpt2", 49216, 48891, "[PAD49215]"},
      {"ggml-vocab-starcoder.gguf", 19, "gpt2", 49152, 48872, "sdb"},
  };
  for (size_t f = 0; f < sizeof want / sizeof *want; f++) {
    char path[256];
    snprintf(path, sizeof path, GGUF_DIR "vocab/%s", want[f].file);
    bytes b = load(path);
    llm_gguf *g = open_file(&b);
    CHECK(g != NULL);
    if (!g) {
      printf("  %s\n", path);
      free(b.d);
      continue;
    }
    llm_err err;
    const char *s;
    size_t len;
    CHECK(llm_gguf_version(g) == 3 && llm_gguf_n_kv(g) == want[f].n_kv &&
          llm_gguf_n_tensors(g) == 0);
    CHECK(llm_gguf_get_str(g, "tokenizer.ggml.model", &s, &len, &err) == 1 &&
          !strcmp(s, want[f].model) && len == strlen(want[f].model));
    int64_t t = llm_gguf_find(g, "tokenizer.ggml.tokens");
    uint64_t n = llm_gguf_arr_n(g, t);
    CHECK(llm_gguf_arr_type(g, t) == LLM_GGUF_STRING && n == want[f].n_tokens);
    s = llm_gguf_arr_str(g, t, n - 1, &len);
    CHECK(s && !strcmp(s, want[f].last) && len == strlen(want[f].last));
    int64_t m = llm_gguf_find(g, "tokenizer.ggml.merges");
    CHECK(llm_gguf_arr_n(g, m) == want[f].n_merges);
    free(b.d);
    llm_gguf_free(g);
  }
}

static void test_llama_spm(void) {
  bytes b = load(GGUF_DIR "vocab/ggml-vocab-llama-spm.gguf");
  llm_gguf *g = open_file(&b);
  CHECK(g != NULL);
  if (!g) {
    free(b.d);
    return;
  }
  llm_err err;
  int64_t v;
  double d;
  const char *s;
  size_t len;
  CHECK(llm_gguf_alignment(g) == 32 && llm_gguf_data_offset(g) == 723872 &&
        b.len == 723869); /* no padding after the metadata */
  CHECK(!strcmp(llm_gguf_key(g, 0), "general.architecture"));
  CHECK(llm_gguf_get_str(g, "general.architecture", &s, &len, &err) == 1 && !strcmp(s, "llama"));
  CHECK(llm_gguf_get_str(g, "tokenizer.ggml.pre", &s, &len, &err) == 1 && !strcmp(s, "default"));
  CHECK(llm_gguf_get_int(g, "llama.vocab_size", &v, &err) == 1 && v == 32000);
  CHECK(llm_gguf_get_int(g, "llama.context_length", &v, &err) == 1 && v == 4096);
  CHECK(llm_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &v, &err) == 1 && v == 1);
  CHECK(llm_gguf_get_int(g, "tokenizer.ggml.add_bos_token", &v, &err) == 1 && v == 1);
  CHECK(llm_gguf_get_int(g, "tokenizer.ggml.add_eos_token", &v, &err) == 1 && v == 0);
  CHECK(llm_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &d, &err) == 1 &&
        (float)d == 1e-5f);
  int64_t tok = llm_gguf_find(g, "tokenizer.ggml.tokens");
  int64_t sc = llm_gguf_find(g, "tokenizer.ggml.scores");
  int64_t ty = llm_gguf_find(g, "tokenizer.ggml.token_type");
  CHECK(!strcmp(llm_gguf_arr_str(g, tok, 0, &len), "<unk>") && len == 5);
  CHECK(!strcmp(llm_gguf_arr_str(g, tok, 1, &len), "<s>"));
  CHECK(!strcmp(llm_gguf_arr_str(g, tok, 3, &len), "<0x00>"));
  CHECK(llm_gguf_arr_type(g, sc) == LLM_GGUF_F32 && llm_gguf_arr_n(g, sc) == 32000);
  CHECK(llm_gguf_arr_type(g, ty) == LLM_GGUF_I32 && llm_gguf_arr_int(g, ty, 0) == 2 &&
        llm_gguf_arr_int(g, ty, 1) == 3 && llm_gguf_arr_int(g, ty, 3) == 6 &&
        llm_gguf_arr_int(g, ty, 300) == 1);
  free(b.d);
  llm_gguf_free(g);
}

/* Checks the tensors tile the data section to the end of the file. */
static int tiles(const llm_gguf *g, uint64_t file_size) {
  uint64_t end = 0;
  for (int64_t i = 0; i < llm_gguf_n_tensors(g); i++) {
    const llm_gguf_tensor *t = llm_gguf_tensor_at(g, i);
    uint64_t e = t->offset + t->size;
    if (e > end) end = e;
  }
  return end == file_size;
}

static void test_models(void) {
  static const struct {
    const char *file;
    int64_t n_kv, n_tensors;
    uint64_t data_offset;
    int64_t file_type; /* -1: no key */
    uint32_t embd, out, attn_q, ffn_down;
    uint64_t embd_at, out_at, attn_q_at, ffn_down_at, norm_at;
  } want[] = {
      {"shakespeare-4L-F16.gguf", 21, 39, 13728, 1, 1, 1, 1, 1,
       276896, 13728, 736672, 5658016, 2179488},
      {"shakespeare-4L-F32.gguf", 19, 39, 13632, -1, 0, 0, 0, 0,
       13632, 538944, 1063232, 12080448, 4997440},
      {"shakespeare-4L-Q4_0.gguf", 21, 39, 13728, 2, 2, 14, 2, 2,
       122272, 13728, 252320, 1640864, 658848},
      {"shakespeare-4L-Q4_K_M.gguf", 21, 39, 13728, 15, 12, 14, 12, 14,
       122272, 13728, 252320, 1708448, 658848},
      {"shakespeare-4L-Q6_K.gguf", 21, 39, 13728, 18, 14, 14, 14, 14,
       122272, 13728, 311456, 2333600, 903840},
      {"shakespeare-4L-Q8_0.gguf", 21, 39, 13728, 7, 8, 8, 8, 8,
       154016, 13728, 398752, 3016096, 1165728},
  };
  for (size_t f = 0; f < sizeof want / sizeof *want; f++) {
    char path[256];
    snprintf(path, sizeof path, GGUF_DIR "%s", want[f].file);
    bytes b = load(path);
    llm_gguf *g = open_file(&b);
    CHECK(g != NULL);
    if (!g) {
      free(b.d);
      continue;
    }
    llm_err err;
    int64_t v = -1;
    CHECK(llm_gguf_n_kv(g) == want[f].n_kv && llm_gguf_n_tensors(g) == want[f].n_tensors &&
          llm_gguf_data_offset(g) == want[f].data_offset);
    CHECK(llm_gguf_get_int(g, "general.file_type", &v, &err) == (want[f].file_type >= 0) &&
          v == want[f].file_type);
    CHECK(llm_gguf_get_int(g, "llama.embedding_length", &v, &err) == 1 && v == 256);
    CHECK(llm_gguf_get_int(g, "llama.attention.head_count_kv", &v, &err) == 1 && v == 2);
    const llm_gguf_tensor *t = llm_gguf_find_tensor(g, "token_embd.weight");
    CHECK(t && t->n_dims == 2 && t->ne[0] == 256 && t->ne[1] == 512 &&
          t->type == want[f].embd && t->offset == want[f].embd_at);
    t = llm_gguf_find_tensor(g, "output.weight");
    CHECK(t && t->ne[0] == 256 && t->ne[1] == 512 && t->type == want[f].out &&
          t->offset == want[f].out_at);
    t = llm_gguf_find_tensor(g, "blk.0.attn_q.weight");
    CHECK(t && t->ne[0] == 256 && t->ne[1] == 256 && t->type == want[f].attn_q &&
          t->offset == want[f].attn_q_at);
    t = llm_gguf_find_tensor(g, "blk.3.ffn_down.weight");
    CHECK(t && t->ne[0] == 768 && t->ne[1] == 256 && t->type == want[f].ffn_down &&
          t->offset == want[f].ffn_down_at);
    t = llm_gguf_find_tensor(g, "blk.1.attn_norm.weight");
    CHECK(t && t->n_dims == 1 && t->ne[0] == 256 && t->ne[1] == 1 &&
          t->type == LLM_QTYPE_F32 && t->offset == want[f].norm_at && t->size == 1024);
    CHECK(!llm_gguf_find_tensor(g, "blk.4.attn_q.weight"));
    CHECK(tiles(g, b.len));
    free(b.d);
    llm_gguf_free(g);
  }
}

static void test_stories260k(void) {
  bytes b = load(GGUF_DIR "stories260K-f32.gguf");
  llm_gguf *g = open_file(&b);
  CHECK(g != NULL);
  if (!g) {
    free(b.d);
    return;
  }
  llm_err err;
  int64_t v;
  const char *s;
  size_t len;
  CHECK(llm_gguf_n_kv(g) == 19 && llm_gguf_n_tensors(g) == 48 &&
        llm_gguf_data_offset(g) == 14176);
  CHECK(llm_gguf_get_str(g, "tokenizer.ggml.model", &s, &len, &err) == 1 && !strcmp(s, "llama"));
  CHECK(llm_gguf_arr_n(g, llm_gguf_find(g, "tokenizer.ggml.tokens")) == 512);
  CHECK(llm_gguf_get_int(g, "llama.feed_forward_length", &v, &err) == 1 && v == 172);
  CHECK(llm_gguf_get_int(g, "tokenizer.ggml.padding_token_id", &v, &err) == 1 &&
        v == 4294967295ll);
  const llm_gguf_tensor *t = llm_gguf_tensor_at(g, 0);
  CHECK(t && !strcmp(t->name, "token_embd.weight") && t->ne[0] == 64 && t->ne[1] == 512 &&
        t->offset == 14176 && t->size == 64 * 512 * 4);
  t = llm_gguf_find_tensor(g, "blk.3.ffn_down.weight");
  CHECK(t && t->ne[0] == 172 && t->ne[1] == 64 && t->offset == 915296 &&
        t->size == 172 * 64 * 4);
  t = llm_gguf_tensor_at(g, 47);
  CHECK(t && !strcmp(t->name, "blk.4.ffn_norm.weight") && t->offset == 1185120 &&
        t->offset + t->size == b.len);
  CHECK(tiles(g, b.len));
  free(b.d);
  llm_gguf_free(g);
}

int main(void) {
  RUN(test_qtypes);
  RUN(test_getters);
  RUN(test_minimal);
  RUN(test_reject_header);
  RUN(test_reject_kv);
  RUN(test_reject_alignment);
  RUN(test_reject_tensors);
  RUN(test_prefixes);
  RUN(test_oom);
  RUN(test_callback);
  RUN(test_vocab_files);
  RUN(test_llama_spm);
  RUN(test_models);
  RUN(test_stories260k);
  return CHECK_DONE();
}
