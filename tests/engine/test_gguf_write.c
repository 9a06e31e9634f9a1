/* test_gguf_write.c: the GGUF writer (engine/formats/gguf_write.h).
** Files are written into memory and read back with our reader (every key,
** type and value; every tensor's name, shape, type, offset, size and bytes;
** the alignment); the writer must produce byte for byte the file that
** llama.cpp's gguf-py writes from the same content
** (tests/data/gguf_write/ggufpy_example.gguf, made by
** tools/gguf_write_ref.py; run from the repository root); every rejection
** is checked by the words of its message, and every allocation failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "kernels/qtypes.h"
#include "alloc_fail.h"
#include "check.h"

#define REF_FILE "tests/data/gguf_write/ggufpy_example.gguf"

/* ---- callbacks: the output in memory, tensor bytes from a pattern ------- */

/* The output (on the C library, away from the fault injector), and what the
** callbacks were asked. fail_write_at / fail_fill_at: make that call (counted
** from 1) fail; 0 never. */
typedef struct out {
  uint8_t *data;
  size_t len, cap;
  int n_writes, fail_write_at;
  int n_fills, fail_fill_at;
  size_t largest_fill;
  int64_t last_index;    /* the fills must come in order: */
  uint64_t next_offset;  /* tensor by tensor, chunk by chunk */
  int out_of_order;
} out;

static int write_cb(void *ctx, const void *buf, size_t n, llm_err *err) {
  out *o = ctx;
  if (++o->n_writes == o->fail_write_at)
    return llm_fail(err, LLM_EIO, "disk full (test)");
  if (o->len + n > o->cap) {
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < o->len + n) cap *= 2;
    uint8_t *d = realloc(o->data, cap);
    if (!d) abort();
    o->data = d;
    o->cap = cap;
  }
  memcpy(o->data + o->len, buf, n);
  o->len += n;
  return LLM_OK;
}

/* The made-up bytes of tensor t (tools/gguf_write_ref.py has the same). */
static uint8_t pattern(int64_t t, uint64_t j) {
  return (uint8_t)((j * 37 + (uint64_t)t * 101 + 11) & 0xff);
}

static int fill_cb(void *ctx, int64_t index, uint64_t offset, void *dst,
                   size_t n, llm_err *err) {
  out *o = ctx;
  if (++o->n_fills == o->fail_fill_at) return LLM_EINTR; /* no message */
  if (index != o->last_index) {
    if (index != o->last_index + 1 || offset != 0) o->out_of_order = 1;
    o->last_index = index;
    o->next_offset = 0;
  }
  if (offset != o->next_offset) o->out_of_order = 1;
  o->next_offset = offset + n;
  if (n > o->largest_fill) o->largest_fill = n;
  uint8_t *d = dst;
  for (size_t i = 0; i < n; i++) d[i] = pattern(index, offset + i);
  return LLM_OK;
}

static void out_init(out *o) {
  memset(o, 0, sizeof *o);
  o->last_index = -1;
}

static int write_all(const llm_gguf_writer *w, out *o, llm_err *err) {
  return llm_gguf_write(w, write_cb, fill_cb, o, err);
}

static int has(const llm_err *e, const char *words) {
  if (!strstr(e->msg, words)) {
    printf("  message \"%s\" lacks \"%s\"\n", e->msg, words);
    return 0;
  }
  return 1;
}

/* ---- the content of the gguf-py example ---------------------------------- */

static const uint64_t EX_NE[3][2] = {{5, 3}, {7, 1}, {64, 2}};
static const uint32_t EX_DIMS[3] = {2, 1, 2};
static const uint32_t EX_TYPE[3] = {LLM_QTYPE_F32, LLM_QTYPE_F16, LLM_QTYPE_Q8_0};
static const char *const EX_NAME[3] = {"token_embd.weight", "blk.0.attn_norm.weight",
                                       "blk.0.attn_q.weight"};

/* What tools/gguf_write_ref.py gives gguf-py, in the same order. */
static int add_example(llm_gguf_writer *w, llm_err *e) {
  static const int32_t ai32[] = {1, -2, 2147483647};
  static const uint32_t au32[] = {7, 4294967295u};
  static const float af32[] = {0.5f, -2.25f, 1024.0f};
  static const char *const astr[] = {"a", "", "h\xc3\xa9", "<0x0A>"};
  static const uint8_t au8[] = {0, 1, 255};
  static const uint8_t abool[] = {1, 0};
  static const int64_t ai64[] = {-1, (int64_t)1 << 40};
  int rc = llm_gguf_add_str(w, "general.architecture", "llama", 5, e);
  if (!rc) rc = llm_gguf_add_u32(w, "general.alignment", 64, e);
  if (!rc) rc = llm_gguf_add_str(w, "general.name", "tiny h\xc3\xa9llo", 11, e);
  if (!rc) rc = llm_gguf_add_u8(w, "test.u8", 250, e);
  if (!rc) rc = llm_gguf_add_i8(w, "test.i8", -5, e);
  if (!rc) rc = llm_gguf_add_u16(w, "test.u16", 65000, e);
  if (!rc) rc = llm_gguf_add_i16(w, "test.i16", -30000, e);
  if (!rc) rc = llm_gguf_add_u32(w, "test.u32", 4000000000u, e);
  if (!rc) rc = llm_gguf_add_i32(w, "test.i32", -2000000000, e);
  if (!rc) rc = llm_gguf_add_u64(w, "test.u64", 18000000000000000000u, e);
  if (!rc) rc = llm_gguf_add_i64(w, "test.i64", -9000000000000000000, e);
  if (!rc) rc = llm_gguf_add_f32(w, "test.f32", -1.5f, e);
  if (!rc) rc = llm_gguf_add_f64(w, "test.f64", 0.1, e);
  if (!rc) rc = llm_gguf_add_bool(w, "test.bool", 1, e);
  if (!rc) rc = llm_gguf_add_array(w, "test.arr_i32", LLM_GGUF_I32, ai32, 3, e);
  if (!rc) rc = llm_gguf_add_array(w, "test.arr_u32", LLM_GGUF_U32, au32, 2, e);
  if (!rc) rc = llm_gguf_add_array(w, "test.arr_f32", LLM_GGUF_F32, af32, 3, e);
  if (!rc) rc = llm_gguf_add_str_array(w, "test.arr_str", astr, NULL, 4, e);
  if (!rc) rc = llm_gguf_add_array(w, "test.arr_u8", LLM_GGUF_U8, au8, 3, e);
  if (!rc) rc = llm_gguf_add_array(w, "test.arr_bool", LLM_GGUF_BOOL, abool, 2, e);
  if (!rc) rc = llm_gguf_add_array(w, "test.arr_i64", LLM_GGUF_I64, ai64, 2, e);
  for (int t = 0; t < 3 && !rc; t++)
    rc = llm_gguf_add_tensor(w, EX_NAME[t], EX_DIMS[t], EX_NE[t], EX_TYPE[t], e);
  return rc;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *d = NULL;
  size_t cap = 0, n = 0, got;
  do {
    if (n == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *nd = realloc(d, cap);
      if (!nd) abort();
      d = nd;
    }
    got = fread(d + n, 1, cap - n, f);
    n += got;
  } while (got);
  fclose(f);
  *len = n;
  return d;
}

static void test_same_bytes_as_ggufpy(void) {
  size_t ref_len = 0;
  uint8_t *ref = read_file(REF_FILE, &ref_len);
  CHECK(ref != NULL);
  CHECK(ref_len == 1280); /* as recorded; a changed file is a changed test */
  llm_err e = {0};
  llm_gguf_writer *w = NULL;
  CHECK(llm_gguf_writer_new(&w, &e) == LLM_OK);
  CHECK(add_example(w, &e) == LLM_OK);
  CHECK(llm_gguf_writer_size(w) == ref_len);
  out o;
  out_init(&o);
  CHECK(write_all(w, &o, &e) == LLM_OK);
  CHECK(o.len == ref_len);
  CHECK(ref && o.len == ref_len && !memcmp(o.data, ref, ref_len));
  if (ref && o.len == ref_len)
    for (size_t i = 0; i < ref_len; i++)
      if (o.data[i] != ref[i]) {
        printf("  first difference at byte %zu: %02x, gguf-py %02x\n", i, o.data[i], ref[i]);
        break;
      }
  llm_gguf_writer_free(w);
  free(o.data);
  free(ref);
}

/* ---- round trip through our reader --------------------------------------- */

static const llm_gguf_tensor *check_tensor(const llm_gguf *g, int64_t i, const char *name,
                                           uint32_t n_dims, const uint64_t *ne,
                                           uint32_t type, uint64_t size) {
  const llm_gguf_tensor *t = llm_gguf_tensor_at(g, i);
  CHECK(t != NULL);
  if (!t) return NULL;
  CHECK(!strcmp(t->name, name));
  CHECK(t->n_dims == n_dims);
  for (uint32_t d = 0; d < 4; d++) CHECK(t->ne[d] == (d < n_dims ? ne[d] : 1));
  CHECK(t->type == type);
  CHECK(t->size == size);
  CHECK(t->offset % llm_gguf_alignment(g) == 0);
  return t;
}

/* The tensor's bytes in the file are its pattern, followed by zeros up to
** the alignment. */
static void check_tensor_bytes(const out *o, const llm_gguf_tensor *t, int64_t index,
                               uint64_t alignment) {
  if (!t || t->offset + t->size > o->len) {
    CHECK(0);
    return;
  }
  int bad = 0;
  for (uint64_t j = 0; j < t->size; j++) bad |= o->data[t->offset + j] != pattern(index, j);
  uint64_t end = (t->offset + t->size + alignment - 1) / alignment * alignment;
  CHECK(end <= o->len);
  for (uint64_t j = t->offset + t->size; j < end && j < o->len; j++) bad |= o->data[j] != 0;
  CHECK(!bad);
}

static void test_round_trip_example(void) {
  llm_err e = {0};
  llm_gguf_writer *w = NULL;
  CHECK(llm_gguf_writer_new(&w, &e) == LLM_OK);
  CHECK(add_example(w, &e) == LLM_OK);
  out o;
  out_init(&o);
  CHECK(write_all(w, &o, &e) == LLM_OK);
  llm_gguf *g = NULL;
  CHECK(llm_gguf_open_memory(&g, o.data, o.len, &e) == LLM_OK);
  if (!g) printf("  %s\n", e.msg);
  if (g) {
    CHECK(llm_gguf_version(g) == 3);
    CHECK(llm_gguf_alignment(g) == 64);
    CHECK(llm_gguf_data_offset(g) == 960);
    CHECK(llm_gguf_n_kv(g) == 21);
    static const char *const keys[21] = {
        "general.architecture", "general.alignment", "general.name", "test.u8",
        "test.i8", "test.u16", "test.i16", "test.u32", "test.i32", "test.u64",
        "test.i64", "test.f32", "test.f64", "test.bool", "test.arr_i32",
        "test.arr_u32", "test.arr_f32", "test.arr_str", "test.arr_u8",
        "test.arr_bool", "test.arr_i64"};
    static const int types[21] = {
        LLM_GGUF_STRING, LLM_GGUF_U32, LLM_GGUF_STRING, LLM_GGUF_U8, LLM_GGUF_I8,
        LLM_GGUF_U16, LLM_GGUF_I16, LLM_GGUF_U32, LLM_GGUF_I32, LLM_GGUF_U64,
        LLM_GGUF_I64, LLM_GGUF_F32, LLM_GGUF_F64, LLM_GGUF_BOOL, LLM_GGUF_ARRAY,
        LLM_GGUF_ARRAY, LLM_GGUF_ARRAY, LLM_GGUF_ARRAY, LLM_GGUF_ARRAY,
        LLM_GGUF_ARRAY, LLM_GGUF_ARRAY};
    for (int i = 0; i < 21; i++) {
      CHECK(llm_gguf_key(g, i) && !strcmp(llm_gguf_key(g, i), keys[i]));
      CHECK(llm_gguf_kv_type(g, i) == types[i]);
    }
    const char *s;
    size_t len;
    int64_t v;
    double f;
    CHECK(llm_gguf_get_str(g, "general.architecture", &s, &len, &e) == 1 && len == 5 &&
          !memcmp(s, "llama", 5));
    CHECK(llm_gguf_get_str(g, "general.name", &s, &len, &e) == 1 && len == 11 &&
          !memcmp(s, "tiny h\xc3\xa9llo", 11));
    CHECK(llm_gguf_get_int(g, "test.u8", &v, &e) == 1 && v == 250);
    CHECK(llm_gguf_get_int(g, "test.i8", &v, &e) == 1 && v == -5);
    CHECK(llm_gguf_get_int(g, "test.u16", &v, &e) == 1 && v == 65000);
    CHECK(llm_gguf_get_int(g, "test.i16", &v, &e) == 1 && v == -30000);
    CHECK(llm_gguf_get_int(g, "test.u32", &v, &e) == 1 && v == 4000000000);
    CHECK(llm_gguf_get_int(g, "test.i32", &v, &e) == 1 && v == -2000000000);
    CHECK(llm_gguf_get_int(g, "test.i64", &v, &e) == 1 && v == -9000000000000000000);
    CHECK(llm_gguf_get_int(g, "test.bool", &v, &e) == 1 && v == 1);
    CHECK(llm_gguf_get_float(g, "test.f32", &f, &e) == 1 && f == -1.5);
    CHECK(llm_gguf_get_float(g, "test.f64", &f, &e) == 1 && f == 0.1);
    /* beyond int64: the raw bytes */
    CHECK(llm_gguf_get_int(g, "test.u64", &v, &e) == -1 && e.code == LLM_ERANGE);
    int64_t i = llm_gguf_find(g, "test.arr_i32");
    CHECK(llm_gguf_arr_type(g, i) == LLM_GGUF_I32 && llm_gguf_arr_n(g, i) == 3);
    CHECK(llm_gguf_arr_int(g, i, 0) == 1 && llm_gguf_arr_int(g, i, 1) == -2 &&
          llm_gguf_arr_int(g, i, 2) == 2147483647);
    i = llm_gguf_find(g, "test.arr_u32");
    CHECK(llm_gguf_arr_type(g, i) == LLM_GGUF_U32 && llm_gguf_arr_n(g, i) == 2);
    CHECK(llm_gguf_arr_int(g, i, 0) == 7 && llm_gguf_arr_int(g, i, 1) == 4294967295);
    i = llm_gguf_find(g, "test.arr_f32");
    CHECK(llm_gguf_arr_type(g, i) == LLM_GGUF_F32 && llm_gguf_arr_n(g, i) == 3);
    CHECK(llm_gguf_arr_float(g, i, 0) == 0.5 && llm_gguf_arr_float(g, i, 1) == -2.25 &&
          llm_gguf_arr_float(g, i, 2) == 1024.0);
    i = llm_gguf_find(g, "test.arr_str");
    CHECK(llm_gguf_arr_type(g, i) == LLM_GGUF_STRING && llm_gguf_arr_n(g, i) == 4);
    static const char *const astr[] = {"a", "", "h\xc3\xa9", "<0x0A>"};
    for (uint64_t j = 0; j < 4; j++) {
      const char *el = llm_gguf_arr_str(g, i, j, &len);
      CHECK(el && len == strlen(astr[j]) && !memcmp(el, astr[j], len));
    }
    i = llm_gguf_find(g, "test.arr_u8");
    CHECK(llm_gguf_arr_type(g, i) == LLM_GGUF_U8 && llm_gguf_arr_n(g, i) == 3);
    const uint8_t *raw = llm_gguf_arr_data(g, i);
    CHECK(raw && raw[0] == 0 && raw[1] == 1 && raw[2] == 255);
    i = llm_gguf_find(g, "test.arr_bool");
    CHECK(llm_gguf_arr_type(g, i) == LLM_GGUF_BOOL && llm_gguf_arr_n(g, i) == 2);
    CHECK(llm_gguf_arr_int(g, i, 0) == 1 && llm_gguf_arr_int(g, i, 1) == 0);
    i = llm_gguf_find(g, "test.arr_i64");
    CHECK(llm_gguf_arr_type(g, i) == LLM_GGUF_I64 && llm_gguf_arr_n(g, i) == 2);
    CHECK(llm_gguf_arr_int(g, i, 0) == -1 && llm_gguf_arr_int(g, i, 1) == (int64_t)1 << 40);

    CHECK(llm_gguf_n_tensors(g) == 3);
    static const uint64_t sizes[3] = {60, 14, 136};
    static const uint64_t offsets[3] = {960, 1024, 1088}; /* each padded to 64 */
    for (int t = 0; t < 3; t++) {
      const llm_gguf_tensor *ti =
          check_tensor(g, t, EX_NAME[t], EX_DIMS[t], EX_NE[t], EX_TYPE[t], sizes[t]);
      CHECK(ti && ti->offset == offsets[t]);
      CHECK(llm_gguf_writer_tensor_size(w, t) == sizes[t]);
      CHECK(llm_gguf_writer_tensor_offset(w, t) == offsets[t] - 960);
      check_tensor_bytes(&o, ti, t, 64);
    }
    CHECK(llm_gguf_writer_n_tensors(w) == 3);
    CHECK(llm_gguf_writer_tensor_size(w, 3) == 0 && llm_gguf_writer_tensor_size(w, -1) == 0);
  }
  llm_gguf_free(g);
  llm_gguf_writer_free(w);
  free(o.data);
}

/* Every numeric element type, strings with NUL bytes and given lengths, empty
** strings and arrays, the default alignment, shapes of 1 to 4 dimensions, a
** tensor big enough to be fetched in several chunks, and tensors whose sizes
** are and are not multiples of the alignment. */
static void test_round_trip_everything(void) {
  llm_err e = {0};
  llm_gguf_writer *w = NULL;
  CHECK(llm_gguf_writer_new(&w, &e) == LLM_OK);
  static const uint16_t u16s[] = {0, 65535};
  static const int16_t i16s[] = {-32768, 32767};
  static const int8_t i8s[] = {-128, 127};
  static const uint64_t u64s[] = {UINT64_MAX, 5};
  static const double f64s[] = {-0.25, 1e300};
  static const uint8_t bools[] = {7, 0, 1}; /* non-zero is written as 1 */
  static const char *const strs[] = {"x\0y", "", "abc"};
  static const size_t lens[] = {3, 0, 2};
  CHECK(llm_gguf_add_array(w, "a.u16", LLM_GGUF_U16, u16s, 2, &e) == LLM_OK);
  CHECK(llm_gguf_add_array(w, "a.i16", LLM_GGUF_I16, i16s, 2, &e) == LLM_OK);
  CHECK(llm_gguf_add_array(w, "a.i8", LLM_GGUF_I8, i8s, 2, &e) == LLM_OK);
  CHECK(llm_gguf_add_array(w, "a.u64", LLM_GGUF_U64, u64s, 2, &e) == LLM_OK);
  CHECK(llm_gguf_add_array(w, "a.f64", LLM_GGUF_F64, f64s, 2, &e) == LLM_OK);
  CHECK(llm_gguf_add_array(w, "a.bool", LLM_GGUF_BOOL, bools, 3, &e) == LLM_OK);
  CHECK(llm_gguf_add_array(w, "a.empty", LLM_GGUF_F32, NULL, 0, &e) == LLM_OK);
  CHECK(llm_gguf_add_str_array(w, "a.str", strs, lens, 3, &e) == LLM_OK);
  CHECK(llm_gguf_add_str_array(w, "a.str_empty", NULL, NULL, 0, &e) == LLM_OK);
  CHECK(llm_gguf_add_str(w, "s.nul", "a\0b", 3, &e) == LLM_OK);
  CHECK(llm_gguf_add_str(w, "s.empty", NULL, 0, &e) == LLM_OK);
  CHECK(llm_gguf_add_bool(w, "b.false", 0, &e) == LLM_OK);
  CHECK(llm_gguf_add_bool(w, "b.true", -3, &e) == LLM_OK);
  CHECK(llm_gguf_add_f32(w, "f.nan", NAN, &e) == LLM_OK);

  /* 1024 x 300 f32 = 1,228,800 bytes: two fills */
  static const uint64_t ne0[] = {1024, 300};
  static const uint64_t ne1[] = {3, 2, 2, 5};
  static const uint64_t ne2[] = {256, 1, 3};
  static const uint64_t ne3[] = {33};
  static const uint64_t ne4[] = {8, 4};
  CHECK(llm_gguf_add_tensor(w, "big", 2, ne0, LLM_QTYPE_F32, &e) == LLM_OK);
  CHECK(llm_gguf_add_tensor(w, "four_dims", 4, ne1, LLM_QTYPE_F16, &e) == LLM_OK);
  CHECK(llm_gguf_add_tensor(w, "q4_k", 3, ne2, LLM_QTYPE_Q4_K, &e) == LLM_OK);
  CHECK(llm_gguf_add_tensor(w, "i8", 1, ne3, LLM_QTYPE_I8, &e) == LLM_OK);
  /* 63 bytes: the longest name ggml takes */
  const char *long_name = "n23456789012345678901234567890123456789012345678901234567890123";
  CHECK(strlen(long_name) == 63);
  CHECK(llm_gguf_add_tensor(w, long_name, 2, ne4, LLM_QTYPE_BF16, &e) == LLM_OK);

  out o;
  out_init(&o);
  uint64_t expected_size = llm_gguf_writer_size(w);
  CHECK(write_all(w, &o, &e) == LLM_OK);
  CHECK(o.len == expected_size);
  CHECK(o.n_fills == 2 + 4); /* big in two chunks, the others in one */
  CHECK(o.largest_fill == LLM_GGUF_WRITE_CHUNK);
  CHECK(!o.out_of_order && o.last_index == 4);
  CHECK(o.len % 32 == 0);

  llm_gguf *g = NULL;
  CHECK(llm_gguf_open_memory(&g, o.data, o.len, &e) == LLM_OK);
  if (!g) printf("  %s\n", e.msg);
  if (g) {
    CHECK(llm_gguf_alignment(g) == 32);
    CHECK(llm_gguf_n_kv(g) == 14);
    int64_t i = llm_gguf_find(g, "a.u16");
    CHECK(llm_gguf_arr_int(g, i, 0) == 0 && llm_gguf_arr_int(g, i, 1) == 65535);
    i = llm_gguf_find(g, "a.i16");
    CHECK(llm_gguf_arr_int(g, i, 0) == -32768 && llm_gguf_arr_int(g, i, 1) == 32767);
    i = llm_gguf_find(g, "a.i8");
    CHECK(llm_gguf_arr_type(g, i) == LLM_GGUF_I8);
    CHECK(llm_gguf_arr_int(g, i, 0) == -128 && llm_gguf_arr_int(g, i, 1) == 127);
    i = llm_gguf_find(g, "a.u64");
    const uint8_t *raw = llm_gguf_arr_data(g, i);
    uint64_t u;
    CHECK(raw != NULL);
    if (raw) {
      memcpy(&u, raw, 8);
      CHECK(u == UINT64_MAX);
      memcpy(&u, raw + 8, 8);
      CHECK(u == 5);
    }
    i = llm_gguf_find(g, "a.f64");
    CHECK(llm_gguf_arr_float(g, i, 0) == -0.25 && llm_gguf_arr_float(g, i, 1) == 1e300);
    i = llm_gguf_find(g, "a.bool");
    raw = llm_gguf_arr_data(g, i);
    CHECK(raw && raw[0] == 1 && raw[1] == 0 && raw[2] == 1);
    i = llm_gguf_find(g, "a.empty");
    CHECK(llm_gguf_arr_type(g, i) == LLM_GGUF_F32 && llm_gguf_arr_n(g, i) == 0);
    i = llm_gguf_find(g, "a.str");
    size_t len;
    const char *s = llm_gguf_arr_str(g, i, 0, &len);
    CHECK(s && len == 3 && !memcmp(s, "x\0y", 3));
    s = llm_gguf_arr_str(g, i, 1, &len);
    CHECK(s && len == 0);
    s = llm_gguf_arr_str(g, i, 2, &len);
    CHECK(s && len == 2 && !memcmp(s, "ab", 2));
    i = llm_gguf_find(g, "a.str_empty");
    CHECK(llm_gguf_arr_type(g, i) == LLM_GGUF_STRING && llm_gguf_arr_n(g, i) == 0);
    CHECK(llm_gguf_get_str(g, "s.nul", &s, &len, &e) == 1 && len == 3 && !memcmp(s, "a\0b", 3));
    CHECK(llm_gguf_get_str(g, "s.empty", &s, &len, &e) == 1 && len == 0);
    int64_t v;
    CHECK(llm_gguf_get_int(g, "b.false", &v, &e) == 1 && v == 0);
    CHECK(llm_gguf_get_int(g, "b.true", &v, &e) == 1 && v == 1);
    double f;
    CHECK(llm_gguf_get_float(g, "f.nan", &f, &e) == 1 && isnan(f));

    const llm_gguf_tensor *t[5];
    t[0] = check_tensor(g, 0, "big", 2, ne0, LLM_QTYPE_F32, 1024 * 300 * 4);
    t[1] = check_tensor(g, 1, "four_dims", 4, ne1, LLM_QTYPE_F16, 3 * 2 * 2 * 5 * 2);
    t[2] = check_tensor(g, 2, "q4_k", 3, ne2, LLM_QTYPE_Q4_K, 3 * 144);
    t[3] = check_tensor(g, 3, "i8", 1, ne3, LLM_QTYPE_I8, 33);
    t[4] = check_tensor(g, 4, long_name, 2, ne4, LLM_QTYPE_BF16, 64);
    uint64_t at = llm_gguf_data_offset(g);
    for (int k = 0; k < 5; k++) {
      if (!t[k]) continue;
      CHECK(t[k]->offset == at); /* in order, each right after the last, padded */
      at = (t[k]->offset + t[k]->size + 31) / 32 * 32;
      check_tensor_bytes(&o, t[k], k, 32);
    }
    CHECK(at == o.len);
  }
  llm_gguf_free(g);
  llm_gguf_writer_free(w);
  free(o.data);
}

/* A custom alignment moves the data section and every tensor. */
static void test_custom_alignment(void) {
  llm_err e = {0};
  llm_gguf_writer *w = NULL;
  CHECK(llm_gguf_writer_new(&w, &e) == LLM_OK);
  CHECK(llm_gguf_add_u32(w, "general.alignment", 4096, &e) == LLM_OK);
  static const uint64_t ne[] = {10};
  CHECK(llm_gguf_add_tensor(w, "a", 1, ne, LLM_QTYPE_F32, &e) == LLM_OK);
  CHECK(llm_gguf_add_tensor(w, "b", 1, ne, LLM_QTYPE_F16, &e) == LLM_OK);
  CHECK(llm_gguf_writer_size(w) == 3 * 4096);
  out o;
  out_init(&o);
  CHECK(write_all(w, &o, &e) == LLM_OK);
  CHECK(o.len == 3 * 4096);
  llm_gguf *g = NULL;
  CHECK(llm_gguf_open_memory(&g, o.data, o.len, &e) == LLM_OK);
  if (g) {
    CHECK(llm_gguf_alignment(g) == 4096);
    CHECK(llm_gguf_data_offset(g) == 4096);
    const llm_gguf_tensor *a = check_tensor(g, 0, "a", 1, ne, LLM_QTYPE_F32, 40);
    const llm_gguf_tensor *b = check_tensor(g, 1, "b", 1, ne, LLM_QTYPE_F16, 20);
    CHECK(a && a->offset == 4096);
    CHECK(b && b->offset == 8192);
    check_tensor_bytes(&o, a, 0, 4096);
    check_tensor_bytes(&o, b, 1, 4096);
  }
  llm_gguf_free(g);
  llm_gguf_writer_free(w);
  free(o.data);
}

/* Without tensors: the header, the metadata, the padding; no fill call. */
static void test_no_tensors(void) {
  llm_err e = {0};
  llm_gguf_writer *w = NULL;
  CHECK(llm_gguf_writer_new(&w, &e) == LLM_OK);
  CHECK(llm_gguf_writer_size(w) == 32); /* 24 header bytes, padded */
  CHECK(llm_gguf_add_str(w, "general.architecture", "llama", 5, &e) == LLM_OK);
  /* 24 + (8 + 20 + 4 + 8 + 5) = 69 -> 96 */
  CHECK(llm_gguf_writer_size(w) == 96);
  out o;
  out_init(&o);
  CHECK(write_all(w, &o, &e) == LLM_OK);
  CHECK(o.len == 96 && o.n_fills == 0);
  llm_gguf *g = NULL;
  CHECK(llm_gguf_open_memory(&g, o.data, o.len, &e) == LLM_OK);
  CHECK(g && llm_gguf_n_kv(g) == 1 && llm_gguf_n_tensors(g) == 0);
  llm_gguf_free(g);
  llm_gguf_writer_free(w);
  free(o.data);
}

/* ---- rejections ---------------------------------------------------------- */

/* A rejected add must leave the writer as it was: the same size, and a
** file that still reads with the same counts. */
static void check_unchanged(llm_gguf_writer *w, uint64_t size, int64_t n_kv,
                            int64_t n_tensors) {
  CHECK(llm_gguf_writer_size(w) == size);
  CHECK(llm_gguf_writer_n_tensors(w) == n_tensors);
  out o;
  out_init(&o);
  llm_err e = {0};
  CHECK(write_all(w, &o, &e) == LLM_OK);
  llm_gguf *g = NULL;
  CHECK(llm_gguf_open_memory(&g, o.data, o.len, &e) == LLM_OK);
  CHECK(g && llm_gguf_n_kv(g) == n_kv && llm_gguf_n_tensors(g) == n_tensors);
  llm_gguf_free(g);
  free(o.data);
}

static void test_rejections(void) {
  llm_err e = {0};
  llm_gguf_writer *w = NULL;
  CHECK(llm_gguf_writer_new(&w, &e) == LLM_OK);
  static const uint64_t ne[] = {64, 2};
  static const int32_t ints[] = {1, 2};
  CHECK(llm_gguf_add_u32(w, "k", 1, &e) == LLM_OK);
  uint64_t size = llm_gguf_writer_size(w);

  /* keys */
  CHECK(llm_gguf_add_i32(w, "k", 2, &e) == LLM_EINVAL && has(&e, "duplicate key \"k\""));
  CHECK(llm_gguf_add_array(w, "k", LLM_GGUF_I32, ints, 2, &e) == LLM_EINVAL &&
        has(&e, "duplicate key"));
  CHECK(llm_gguf_add_str(w, "k", "v", 1, &e) == LLM_EINVAL && has(&e, "duplicate key"));
  CHECK(llm_gguf_add_u8(w, "", 1, &e) == LLM_EINVAL && has(&e, "a key is empty"));
  CHECK(llm_gguf_add_u8(w, NULL, 1, &e) == LLM_EINVAL && has(&e, "a key is empty"));
  CHECK(llm_gguf_add_u8(w, "caf\xc3\xa9", 1, &e) == LLM_EINVAL &&
        has(&e, "has byte 0xc3 at 3; keys are printable ASCII"));
  char *long_key = malloc(65537);
  if (long_key) {
    memset(long_key, 'k', 65536);
    long_key[65536] = 0;
    CHECK(llm_gguf_add_u8(w, long_key, 1, &e) == LLM_EINVAL &&
          has(&e, "is 65536 bytes long; at most 65535"));
    long_key[65535] = 0; /* the longest allowed */
    CHECK(llm_gguf_add_u8(w, long_key, 1, &e) == LLM_OK);
    size = llm_gguf_writer_size(w);
    free(long_key);
  }
  /* values */
  CHECK(llm_gguf_add_array(w, "a", LLM_GGUF_STRING, ints, 2, &e) == LLM_EINVAL &&
        has(&e, "string is not a numeric array element type"));
  CHECK(llm_gguf_add_array(w, "a", LLM_GGUF_ARRAY, ints, 2, &e) == LLM_EINVAL &&
        has(&e, "array is not a numeric array element type"));
  CHECK(llm_gguf_add_array(w, "a", 13, ints, 2, &e) == LLM_EINVAL &&
        has(&e, "unknown is not a numeric"));
  CHECK(llm_gguf_add_array(w, "a", LLM_GGUF_I32, NULL, 2, &e) == LLM_EINVAL &&
        has(&e, "the elements of \"a\" are NULL"));
  CHECK(llm_gguf_add_array(w, "a", LLM_GGUF_U64, ints, UINT64_MAX / 4, &e) == LLM_ERANGE &&
        has(&e, "the value of \"a\" is too large"));
  CHECK(llm_gguf_add_str(w, "a", NULL, 2, &e) == LLM_EINVAL && has(&e, "is NULL"));
  static const char *const strs[] = {"x", NULL};
  CHECK(llm_gguf_add_str_array(w, "a", strs, NULL, 2, &e) == LLM_EINVAL &&
        has(&e, "string 1 of \"a\" is NULL"));
  /* the alignment */
  CHECK(llm_gguf_add_u32(w, "general.alignment", 48, &e) == LLM_EINVAL &&
        has(&e, "general.alignment is 48; it must be a power of two"));
  CHECK(llm_gguf_add_u32(w, "general.alignment", 0, &e) == LLM_EINVAL &&
        has(&e, "general.alignment is 0; it must be a power of two"));
  CHECK(llm_gguf_add_u64(w, "general.alignment", 64, &e) == LLM_EINVAL &&
        has(&e, "general.alignment must have type u32, not u64"));
  CHECK(llm_gguf_add_str(w, "general.alignment", "64", 2, &e) == LLM_EINVAL &&
        has(&e, "must have type u32, not string"));
  CHECK(llm_gguf_add_array(w, "general.alignment", LLM_GGUF_U32, ints, 1, &e) ==
            LLM_EINVAL && has(&e, "must have type u32, not array"));
  check_unchanged(w, size, 2, 0);

  /* tensors */
  CHECK(llm_gguf_add_tensor(w, "t", 2, ne, LLM_QTYPE_Q8_0, &e) == LLM_OK);
  size = llm_gguf_writer_size(w);
  CHECK(llm_gguf_add_tensor(w, "t", 2, ne, LLM_QTYPE_F32, &e) == LLM_EINVAL &&
        has(&e, "duplicate tensor name \"t\""));
  CHECK(llm_gguf_add_tensor(w, "", 2, ne, LLM_QTYPE_F32, &e) == LLM_EINVAL &&
        has(&e, "a tensor name is empty"));
  CHECK(llm_gguf_add_tensor(w, "n234567890123456789012345678901234567890123456789012345678901234",
                            2, ne, LLM_QTYPE_F32, &e) == LLM_EINVAL &&
        has(&e, "is 64 bytes long; at most 63 are allowed"));
  CHECK(llm_gguf_add_tensor(w, "u", 2, ne, 4, &e) == LLM_EINVAL &&
        has(&e, "tensor \"u\" has unknown type id 4"));
  CHECK(llm_gguf_add_tensor(w, "u", 2, ne, 1000, &e) == LLM_EINVAL &&
        has(&e, "unknown type id 1000"));
  static const uint64_t ne33[] = {33, 2};
  CHECK(llm_gguf_add_tensor(w, "u", 2, ne33, LLM_QTYPE_Q8_0, &e) == LLM_EINVAL &&
        has(&e, "tensor \"u\": its rows of 33 elements are not a multiple of q8_0's block "
                "size 32"));
  CHECK(llm_gguf_add_tensor(w, "u", 0, ne, LLM_QTYPE_F32, &e) == LLM_EINVAL &&
        has(&e, "has 0 dimensions; 1..4 are allowed"));
  CHECK(llm_gguf_add_tensor(w, "u", 5, ne, LLM_QTYPE_F32, &e) == LLM_EINVAL &&
        has(&e, "has 5 dimensions"));
  static const uint64_t ne_zero[] = {64, 0};
  CHECK(llm_gguf_add_tensor(w, "u", 2, ne_zero, LLM_QTYPE_F32, &e) == LLM_EINVAL &&
        has(&e, "has dimension 1 = 0"));
  static const uint64_t ne_huge[] = {1ull << 32, 1ull << 32};
  CHECK(llm_gguf_add_tensor(w, "u", 2, ne_huge, LLM_QTYPE_F32, &e) == LLM_ERANGE &&
        has(&e, "its element count overflows"));
  static const uint64_t ne_big[] = {1ull << 31, 1ull << 30};
  CHECK(llm_gguf_add_tensor(w, "u", 2, ne_big, LLM_QTYPE_F64, &e) == LLM_ERANGE &&
        has(&e, "its size overflows"));
  static const uint64_t ne_half[] = {1ull << 31, 1ull << 28}; /* 2^62 bytes of f64 */
  CHECK(llm_gguf_add_tensor(w, "h1", 2, ne_half, LLM_QTYPE_F64, &e) == LLM_OK);
  CHECK(llm_gguf_add_tensor(w, "h2", 2, ne_half, LLM_QTYPE_F64, &e) == LLM_ERANGE &&
        has(&e, "makes the data section larger than 2^63 bytes"));
  CHECK(llm_gguf_add_u32(w, "general.alignment", 64, &e) == LLM_EINVAL &&
        has(&e, "general.alignment must be added before the first tensor"));
  llm_gguf_writer_free(w);
}

/* A failing callback stops the writing with its code; the message says
** where and keeps the callback's words. The writer can write again. */
static void test_callback_failures(void) {
  llm_err e = {0};
  llm_gguf_writer *w = NULL;
  CHECK(llm_gguf_writer_new(&w, &e) == LLM_OK);
  CHECK(add_example(w, &e) == LLM_OK);
  /* the calls: header, metadata, infos, padding, then per tensor data and
  ** padding (6 more) */
  static const struct {
    int at;
    const char *words;
  } writes[] = {
      {1, "writing the header (24 bytes at byte 0) failed: disk full (test)"},
      {2, "writing the metadata (730 bytes at byte 24) failed: disk full"},
      {3, "writing the tensor infos (170 bytes at byte 754) failed"},
      {4, "writing padding (36 bytes at byte 924) failed"},
      {5, "writing tensor 0 \"token_embd.weight\" (60 bytes at byte 960) failed"},
      {9, "writing tensor 2 \"blk.0.attn_q.weight\" (136 bytes at byte 1088) failed"},
      {10, "writing padding (56 bytes at byte 1224) failed"},
  };
  for (size_t k = 0; k < sizeof writes / sizeof writes[0]; k++) {
    out o;
    out_init(&o);
    o.fail_write_at = writes[k].at;
    CHECK(write_all(w, &o, &e) == LLM_EIO);
    CHECK(has(&e, writes[k].words));
    CHECK(o.n_writes == writes[k].at); /* nothing after the failure */
    free(o.data);
  }
  out o;
  out_init(&o);
  o.fail_fill_at = 2;
  CHECK(write_all(w, &o, &e) == LLM_EINTR);
  CHECK(has(&e, "getting bytes 0..14 of tensor 1 \"blk.0.attn_norm.weight\" (14 bytes) "
                "failed: (the callback gave no reason)"));
  CHECK(o.n_fills == 2);
  free(o.data);
  out_init(&o);
  CHECK(write_all(w, &o, &e) == LLM_OK && o.len == 1280);
  free(o.data);
  llm_gguf_writer_free(w);
}

/* Every allocation failure, while adding and while writing: LLM_ENOMEM with
** "out of memory", nothing leaks (under ASan), and what was added before
** the failure still writes the right file prefix. */
static void test_out_of_memory(void) {
  out ref;
  out_init(&ref);
  llm_err e = {0};
  llm_gguf_writer *w = NULL;
  CHECK(llm_gguf_writer_new(&w, &e) == LLM_OK);
  CHECK(add_example(w, &e) == LLM_OK);
  CHECK(write_all(w, &ref, &e) == LLM_OK);
  llm_gguf_writer_free(w);
  int completed = 0, bad = 0;
  long k;
  for (k = 0; k < 1000 && !completed; k++) {
    llm_test_fail_allocs_after(k);
    w = NULL;
    out o;
    out_init(&o);
    int rc = llm_gguf_writer_new(&w, &e);
    if (!rc) rc = add_example(w, &e);
    if (!rc) rc = write_all(w, &o, &e);
    long failed = llm_test_allocs_failed();
    llm_test_fail_allocs_after(-1);
    if (failed == 0) {
      completed = 1;
      bad |= rc != LLM_OK || o.len != ref.len || memcmp(o.data, ref.data, ref.len);
    } else {
      bad |= rc != LLM_ENOMEM || !strstr(e.msg, "out of memory");
      if (w) { /* the adds before the failure are intact */
        out again;
        out_init(&again);
        bad |= write_all(w, &again, &e) != LLM_OK;
        llm_gguf *g = NULL;
        bad |= llm_gguf_open_memory(&g, again.data, again.len, &e) != LLM_OK;
        llm_gguf_free(g);
        free(again.data);
      }
    }
    llm_gguf_writer_free(w);
    free(o.data);
  }
  CHECK(completed);
  CHECK(k > 10); /* the new, the key and tensor tables, the chunk buffer */
  CHECK(!bad);
  free(ref.data);
}

int main(void) {
  RUN(test_same_bytes_as_ggufpy);
  RUN(test_round_trip_example);
  RUN(test_round_trip_everything);
  RUN(test_custom_alignment);
  RUN(test_no_tensors);
  RUN(test_rejections);
  RUN(test_callback_failures);
  RUN(test_out_of_memory);
  return CHECK_DONE();
}
