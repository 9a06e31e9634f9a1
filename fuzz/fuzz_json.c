/*
** fuzz_json.c: libFuzzer target for the JSON parser.
**
** Oracles (abort() on violation):
**  - a successful parse re-serializes to JSON that parses again to an equal
**    tree (numbers: same int64 when exact, else the same double);
**  - a failure leaves *out NULL and a non-empty message with the same code;
**  - llm_json_parse_int_array succeeds exactly when the tree parse gives an
**    array of in-range integers, with the same values, and restores the
**    output length when it fails.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/json.h"

#define MIN_ID (-1000)
#define MAX_ID 100000

static void put(llm_buf *b, const void *s, size_t n) {
  if (llm_buf_append(b, s, n)) abort();
}

static void put_str(llm_buf *b, const char *s, size_t n) {
  put(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      put(b, e, 2);
    } else if (c < 0x20) {
      char e[8];
      snprintf(e, sizeof e, "\\u%04x", c);
      put(b, e, 6);
    } else {
      put(b, &s[i], 1);
    }
  }
  put(b, "\"", 1);
}

static void serialize(const llm_json *v, llm_buf *b) {
  char num[64];
  switch (v->type) {
    case LLM_JSON_NULL: put(b, "null", 4); break;
    case LLM_JSON_BOOL: v->boolean ? put(b, "true", 4) : put(b, "false", 5); break;
    case LLM_JSON_NUMBER:
      if (v->is_int)
        snprintf(num, sizeof num, "%lld", (long long)v->i);
      else
        snprintf(num, sizeof num, "%.17g", v->num);
      put(b, num, strlen(num));
      break;
    case LLM_JSON_STRING: put_str(b, v->str, v->len); break;
    case LLM_JSON_ARRAY:
      put(b, "[", 1);
      for (size_t i = 0; i < v->len; i++) {
        if (i) put(b, ",", 1);
        serialize(&v->items[i], b);
      }
      put(b, "]", 1);
      break;
    case LLM_JSON_OBJECT:
      put(b, "{", 1);
      for (size_t i = 0; i < v->len; i++) {
        if (i) put(b, ",", 1);
        put_str(b, v->keys[i].s, v->keys[i].len);
        put(b, ":", 1);
        serialize(&v->items[i], b);
      }
      put(b, "}", 1);
      break;
    default: abort();
  }
}

/* Structural invariants of one parsed tree. */
static void check_tree(const llm_json *v) {
  switch (v->type) {
    case LLM_JSON_NULL: break;
    case LLM_JSON_BOOL: if (v->boolean != 0 && v->boolean != 1) abort(); break;
    case LLM_JSON_NUMBER:
      if (isnan(v->num) || isinf(v->num)) abort();
      if (v->is_int && (double)v->i != v->num) abort();
      if (!v->is_int && v->i != 0) abort();
      break;
    case LLM_JSON_STRING:
      if (!v->str || v->str[v->len] != 0) abort();
      break;
    case LLM_JSON_OBJECT:
      for (size_t i = 0; i < v->len; i++) {
        if (v->keys[i].s[v->keys[i].len] != 0) abort();
        if (llm_json_getn(v, v->keys[i].s, v->keys[i].len) != &v->items[i]) abort();
      }
      /* fall through */
    case LLM_JSON_ARRAY:
      if (v->len && !v->items) abort();
      for (size_t i = 0; i < v->len; i++) check_tree(&v->items[i]);
      break;
    default: abort();
  }
}

static int same(const llm_json *a, const llm_json *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
    case LLM_JSON_BOOL: return a->boolean == b->boolean;
    case LLM_JSON_NUMBER:
      if (a->is_int) return b->is_int && a->i == b->i;
      return a->num == b->num;
    case LLM_JSON_STRING:
      return a->len == b->len && !memcmp(a->str, b->str, a->len);
    case LLM_JSON_OBJECT:
      if (a->len != b->len) return 0;
      for (size_t i = 0; i < a->len; i++)
        if (a->keys[i].len != b->keys[i].len ||
            memcmp(a->keys[i].s, b->keys[i].s, a->keys[i].len))
          return 0;
      /* fall through */
    case LLM_JSON_ARRAY:
      if (a->len != b->len) return 0;
      for (size_t i = 0; i < a->len; i++)
        if (!same(&a->items[i], &b->items[i])) return 0;
      return 1;
    default: return 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  llm_json_doc *doc = NULL;
  llm_err err;
  memset(&err, 0, sizeof err);
  int rc = llm_json_parse(text, size, &doc, &err);
  const llm_json *root = NULL;
  if (rc == LLM_OK) {
    if (!doc) abort();
    root = llm_json_root(doc);
    check_tree(root);
    llm_buf out = {0};
    serialize(root, &out);
    llm_json_doc *again = NULL;
    llm_err err2;
    if (llm_json_parse((const char *)out.data, out.len, &again, &err2) != LLM_OK) {
      fprintf(stderr, "re-parse failed: %s\n%.*s\n", err2.msg, (int)out.len,
              (const char *)out.data);
      abort();
    }
    if (!same(root, llm_json_root(again))) abort();
    llm_json_free(again);
    llm_buf_free(&out);
  } else {
    if (doc || err.code != rc || err.msg[0] == 0) abort();
  }

  /* The int-array helper against the tree. */
  int want_ok = rc == LLM_OK && root->type == LLM_JSON_ARRAY;
  for (size_t i = 0; want_ok && i < root->len; i++) {
    const llm_json *e = &root->items[i];
    want_ok = e->type == LLM_JSON_NUMBER && e->is_int && e->i >= MIN_ID &&
              e->i <= MAX_ID;
  }
  llm_ids ids = {0};
  if (llm_ids_push(&ids, 12345)) abort();
  llm_err err3;
  memset(&err3, 0, sizeof err3);
  int rc2 = llm_json_parse_int_array(text, size, &ids, MIN_ID, MAX_ID, &err3);
  if ((rc2 == LLM_OK) != want_ok) {
    fprintf(stderr, "int array: rc=%d (%s), tree rc=%d\n", rc2, err3.msg, rc);
    abort();
  }
  if (ids.data[0] != 12345) abort();
  if (rc2 == LLM_OK) {
    if (ids.len != 1 + root->len) abort();
    for (size_t i = 0; i < root->len; i++)
      if (ids.data[1 + i] != root->items[i].i) abort();
  } else {
    if (ids.len != 1 || err3.code != rc2 || err3.msg[0] == 0) abort();
  }
  llm_ids_free(&ids);
  llm_json_free(doc);
  return 0;
}
