/*
** fuzz_gguf.c: libFuzzer target for the GGUF reader (engine/formats/gguf.h)
** and the ggml type table (engine/kernels/qtypes.h).
**
** The input is the file. It is opened from memory and through the read
** callback (a source that aborts on a read outside the file).
** Oracles (abort() on violation):
**  - a failure leaves *out NULL, with the same code in err and a message
**    starting "GGUF: ";
**  - both ways of opening agree: the same code and message, or the same
**    metadata (keys, types, values, array elements, tensors);
**  - on success every getter answers within the rules of gguf.h: every key
**    is non-empty and found again at its index (unless it holds a NUL),
**    typed getters accept exactly the fitting types and name the key when
**    they refuse, array elements are there with NUL-terminated strings,
**    numeric arrays have aligned data; every tensor has 1..4 dimensions
**    (the unused ones 1), a known type whose block divides its rows, the
**    size qtypes gives, an aligned offset inside the file after the data
**    section's start, no overlap with another, and is found by its name.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "kernels/qtypes.h"

typedef struct source {
  const uint8_t *data;
  size_t len;
} source;

static int read_source(void *ctx, uint64_t off, void *buf, size_t n, llm_err *err) {
  const source *s = ctx;
  if (n == 0 || off > s->len || n > s->len - off) abort();
  memcpy(buf, s->data + off, n);
  (void)err;
  return LLM_OK;
}

static int is_int(int t) {
  return t <= LLM_GGUF_I32 || t == LLM_GGUF_BOOL || t == LLM_GGUF_U64 ||
         t == LLM_GGUF_I64;
}

static void check_failure(int rc, const llm_gguf *g, const llm_err *err) {
  if (g != NULL || err->code != rc || strncmp(err->msg, "GGUF: ", 6)) abort();
}

/* The typed getters on key i. */
static void check_getters(const llm_gguf *g, int64_t i) {
  const char *key = llm_gguf_key(g, i);
  int t = llm_gguf_kv_type(g, i);
  llm_err err;
  int64_t v;
  double d;
  const char *s;
  size_t len;
  memset(&err, 0, sizeof err);
  int r = llm_gguf_get_int(g, key, &v, &err);
  if (r == 1 ? !is_int(t) : r != -1 || !strstr(err.msg, "has type")) {
    /* the one refusal of an integer: a u64 past INT64_MAX */
    if (!(r == -1 && t == LLM_GGUF_U64 && err.code == LLM_ERANGE)) abort();
  }
  if (t == LLM_GGUF_BOOL && r == 1 && v != 0 && v != 1) abort();
  r = llm_gguf_get_float(g, key, &d, &err);
  if (r != (is_int(t) || t == LLM_GGUF_F32 || t == LLM_GGUF_F64 ? 1 : -1)) abort();
  r = llm_gguf_get_str(g, key, &s, &len, &err);
  if (r != (t == LLM_GGUF_STRING ? 1 : -1)) abort();
  if (r == 1 && s[len] != 0) abort();
  if (r == -1 && !strstr(err.msg, "expected string")) abort();
}

static void check_array(const llm_gguf *g, int64_t i) {
  int at = llm_gguf_arr_type(g, i);
  uint64_t n = llm_gguf_arr_n(g, i);
  if (at < 0 || at > LLM_GGUF_F64 || at == LLM_GGUF_ARRAY) abort();
  const void *data = llm_gguf_arr_data(g, i);
  if ((at == LLM_GGUF_STRING) != (data == NULL)) abort();
  if (data && (uintptr_t)data % 8) abort();
  for (uint64_t j = 0; j <= n; j++) {
    size_t len = 0;
    const char *s = llm_gguf_arr_str(g, i, j, &len);
    if ((s != NULL) != (at == LLM_GGUF_STRING && j < n)) abort();
    if (s && s[len] != 0) abort();
    int64_t v = llm_gguf_arr_int(g, i, j);
    double d = llm_gguf_arr_float(g, i, j);
    if ((at == LLM_GGUF_STRING || j == n) && (v != 0 || d != 0)) abort();
    if (at == LLM_GGUF_BOOL && j < n && v != 0 && v != 1) abort();
  }
}

static void check_kvs(const llm_gguf *g) {
  char text[64];
  for (int64_t i = 0; i < llm_gguf_n_kv(g); i++) {
    const char *key = llm_gguf_key(g, i);
    int t = llm_gguf_kv_type(g, i);
    if (!key || !key[0] || t < 0 || t > LLM_GGUF_F64) abort();
    if (llm_gguf_find(g, key) != i) abort();
    check_getters(g, i);
    if (t == LLM_GGUF_ARRAY)
      check_array(g, i);
    else if (llm_gguf_arr_type(g, i) != -1 || llm_gguf_arr_n(g, i) != 0 ||
             llm_gguf_arr_data(g, i) || llm_gguf_arr_str(g, i, 0, NULL))
      abort();
    size_t n = llm_gguf_value_text(g, i, text, sizeof text);
    if (n >= sizeof text || strlen(text) != n) abort();
    if (llm_gguf_value_text(g, i, text, 1) != 0 || text[0]) abort();
  }
  if (llm_gguf_key(g, -1) || llm_gguf_key(g, llm_gguf_n_kv(g))) abort();
}

static int by_offset(const void *a, const void *b) {
  const llm_gguf_tensor *x = *(const llm_gguf_tensor *const *)a;
  const llm_gguf_tensor *y = *(const llm_gguf_tensor *const *)b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void check_tensor(const llm_gguf *g, const llm_gguf_tensor *t, size_t size) {
  uint64_t align = llm_gguf_alignment(g), base = llm_gguf_data_offset(g);
  if (!t->name[0] || t->name[t->name_len] || t->n_dims < 1 || t->n_dims > 4) abort();
  if (strlen(t->name) != t->name_len || llm_gguf_find_tensor(g, t->name) != t) abort();
  uint64_t rows = 1;
  for (uint32_t d = 0; d < 4; d++) {
    if (t->ne[d] < 1 || (d >= t->n_dims && t->ne[d] != 1)) abort();
    if (d > 0) rows *= t->ne[d]; /* the reader checked the product fits */
  }
  const llm_qtype *q = llm_qtype_get(t->type);
  uint64_t row;
  if (!q || llm_qtype_row_bytes(t->type, t->ne[0], &row) || t->size != row * rows)
    abort();
  if (t->offset < base || (t->offset - base) % align || t->offset > size ||
      t->size > size - t->offset)
    abort();
}

static void check_tensors(const llm_gguf *g, size_t size) {
  uint64_t align = llm_gguf_alignment(g);
  int64_t n = llm_gguf_n_tensors(g);
  if (!align || (align & (align - 1)) || llm_gguf_data_offset(g) % align) abort();
  if (n > 0 && llm_gguf_data_offset(g) > size) abort();
  const llm_gguf_tensor **s = malloc(sizeof *s * (size_t)(n ? n : 1));
  if (!s) abort();
  for (int64_t i = 0; i < n; i++) {
    s[i] = llm_gguf_tensor_at(g, i);
    check_tensor(g, s[i], size);
  }
  qsort(s, (size_t)n, sizeof *s, by_offset);
  for (int64_t i = 1; i < n; i++)
    if (s[i - 1]->offset + s[i - 1]->size > s[i]->offset) abort();
  free(s);
  if (llm_gguf_tensor_at(g, -1) || llm_gguf_tensor_at(g, n)) abort();
}

/* Both opened the same file: the same metadata. */
static void check_same(const llm_gguf *a, const llm_gguf *b) {
  if (llm_gguf_version(a) != llm_gguf_version(b) ||
      llm_gguf_alignment(a) != llm_gguf_alignment(b) ||
      llm_gguf_data_offset(a) != llm_gguf_data_offset(b) ||
      llm_gguf_n_kv(a) != llm_gguf_n_kv(b) || llm_gguf_n_tensors(a) != llm_gguf_n_tensors(b))
    abort();
  for (int64_t i = 0; i < llm_gguf_n_kv(a); i++) {
    char ta[64], tb[64];
    llm_gguf_value_text(a, i, ta, sizeof ta);
    llm_gguf_value_text(b, i, tb, sizeof tb);
    if (strcmp(llm_gguf_key(a, i), llm_gguf_key(b, i)) || strcmp(ta, tb) ||
        llm_gguf_kv_type(a, i) != llm_gguf_kv_type(b, i) ||
        llm_gguf_arr_type(a, i) != llm_gguf_arr_type(b, i) ||
        llm_gguf_arr_n(a, i) != llm_gguf_arr_n(b, i))
      abort();
    for (uint64_t j = 0; j < llm_gguf_arr_n(a, i); j++) {
      size_t la = 0, lb = 0;
      const char *sa = llm_gguf_arr_str(a, i, j, &la), *sb = llm_gguf_arr_str(b, i, j, &lb);
      if ((sa == NULL) != (sb == NULL) || la != lb || (sa && memcmp(sa, sb, la)) ||
          llm_gguf_arr_int(a, i, j) != llm_gguf_arr_int(b, i, j))
        abort();
    }
  }
  for (int64_t i = 0; i < llm_gguf_n_tensors(a); i++) {
    const llm_gguf_tensor *x = llm_gguf_tensor_at(a, i), *y = llm_gguf_tensor_at(b, i);
    if (x->name_len != y->name_len || memcmp(x->name, y->name, x->name_len) ||
        x->n_dims != y->n_dims || memcmp(x->ne, y->ne, sizeof x->ne) ||
        x->type != y->type || x->offset != y->offset || x->size != y->size)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llm_err e1, e2;
  memset(&e1, 0, sizeof e1);
  memset(&e2, 0, sizeof e2);
  llm_gguf *a = (llm_gguf *)1, *b = (llm_gguf *)1;
  int r1 = llm_gguf_open_memory(&a, data, size, &e1);
  source src = {data, size};
  int r2 = llm_gguf_open(&b, read_source, &src, size, &e2);
  if (r1 != r2) abort();
  if (r1 != LLM_OK) {
    check_failure(r1, a, &e1);
    check_failure(r2, b, &e2);
    if (strcmp(e1.msg, e2.msg)) abort();
    return 0;
  }
  if (!a || !b) abort();
  check_kvs(a);
  check_tensors(a, size);
  check_same(a, b);
  llm_gguf_free(a);
  llm_gguf_free(b);
  return 0;
}
