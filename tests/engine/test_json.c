/* test_json.c: the strict JSON parser and the int-array helper. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/json.h"
#include "check.h"

/* Parses a NUL-terminated document; returns the doc or NULL. */
static llm_json_doc *parse(const char *s, llm_err *err) {
  llm_json_doc *d = NULL;
  memset(err, 0, sizeof *err);
  int rc = llm_json_parse(s, strlen(s), &d, err);
  if (rc) {
    if (d) printf("  doc set on failure\n");
    return NULL;
  }
  return d;
}

/* Expects s to fail with code and a message containing want. */
static int fails_with(const char *s, size_t n, int code, const char *want) {
  llm_json_doc *d = (llm_json_doc *)1;
  llm_err err;
  memset(&err, 0, sizeof err);
  int rc = llm_json_parse(s, n, &d, &err);
  int ok = rc == code && d == NULL && err.code == code && strstr(err.msg, want);
  if (!ok) printf("  input %.40s: rc=%d msg=\"%s\" (wanted %d, \"%s\")\n", s, rc,
                  err.msg, code, want);
  if (rc == LLM_OK) llm_json_free(d);
  return ok;
}

#define FAILS(s, want) CHECK(fails_with((s), strlen(s), LLM_EINVAL, (want)))

static void test_scalars(void) {
  llm_err err;
  llm_json_doc *d = parse("null", &err);
  CHECK(d && llm_json_root(d)->type == LLM_JSON_NULL);
  llm_json_free(d);
  d = parse(" true ", &err);
  CHECK(d && llm_json_root(d)->type == LLM_JSON_BOOL &&
        llm_json_root(d)->boolean == 1 && llm_json_root(d)->offset == 1);
  llm_json_free(d);
  d = parse("\n\t\rfalse", &err);
  CHECK(d && llm_json_root(d)->type == LLM_JSON_BOOL &&
        llm_json_root(d)->boolean == 0);
  llm_json_free(d);
  d = parse("\"hi\"", &err);
  CHECK(d && llm_json_root(d)->type == LLM_JSON_STRING &&
        llm_json_root(d)->len == 2 && !strcmp(llm_json_root(d)->str, "hi"));
  llm_json_free(d);
  d = parse("\"\"", &err);
  CHECK(d && llm_json_root(d)->type == LLM_JSON_STRING &&
        llm_json_root(d)->len == 0 && llm_json_root(d)->str[0] == 0);
  llm_json_free(d);
  d = parse("42", &err);
  CHECK(d && llm_json_root(d)->type == LLM_JSON_NUMBER &&
        llm_json_root(d)->is_int && llm_json_root(d)->i == 42 &&
        llm_json_root(d)->num == 42.0);
  llm_json_free(d);
  CHECK(!strcmp(llm_json_type_name(LLM_JSON_OBJECT), "object"));
  CHECK(!strcmp(llm_json_type_name(LLM_JSON_NULL), "null"));
}

/* Parses a number; returns 1 when it parsed. */
static int num(const char *s, llm_json *out) {
  llm_err err;
  llm_json_doc *d = parse(s, &err);
  if (!d) return 0;
  *out = *llm_json_root(d);
  llm_json_free(d);
  return out->type == LLM_JSON_NUMBER;
}

static void test_numbers(void) {
  llm_json v;
  CHECK(num("0", &v) && v.is_int && v.i == 0 && !signbit(v.num));
  CHECK(num("-0", &v) && v.is_int && v.i == 0 && signbit(v.num));
  CHECK(num("-17", &v) && v.is_int && v.i == -17 && v.num == -17.0);
  CHECK(num("1.5", &v) && !v.is_int && v.num == 1.5);
  CHECK(num("0.1", &v) && !v.is_int && v.num == 0.1);
  CHECK(num("-2.5e-3", &v) && !v.is_int && v.num == -2.5e-3);
  CHECK(num("1e3", &v) && v.is_int && v.i == 1000 && v.num == 1000.0);
  CHECK(num("2.0", &v) && v.is_int && v.i == 2);
  CHECK(num("12.50E+1", &v) && v.is_int && v.i == 125);
  CHECK(num("1E-0", &v) && v.is_int && v.i == 1);
  CHECK(num("0.0e5", &v) && v.is_int && v.i == 0);
  CHECK(num("9223372036854775807", &v) && v.is_int && v.i == INT64_MAX);
  CHECK(num("-9223372036854775808", &v) && v.is_int && v.i == INT64_MIN &&
        v.num == -9223372036854775808.0);
  CHECK(num("9223372036854775808", &v) && !v.is_int &&
        v.num == 9223372036854775808.0);
  CHECK(num("123456789012345678", &v) && v.is_int && v.i == 123456789012345678LL);
  CHECK(num("123456789012345678901234567890", &v) && !v.is_int &&
        v.num == 123456789012345678901234567890.0);
  CHECK(num("3.14159265358979323846264338327950288", &v) &&
        v.num == 3.14159265358979323846264338327950288);
  CHECK(num("1.7976931348623157e308", &v) && v.num == 1.7976931348623157e308);
  CHECK(num("4.9e-324", &v) && v.num == 4.9e-324);
  CHECK(num("1e-400", &v) && v.num == 0.0 && !v.is_int);
  CHECK(num("100000000000000000000000", &v) && !v.is_int && v.num == 1e23);
  CHECK(num("8.6e1", &v) && v.is_int && v.i == 86);
  CHECK(num("0.30000000000000004", &v) && v.num == 0.30000000000000004);
  /* Huge exponents saturate; the value still comes out right. */
  CHECK(num("0e99999999999999999999", &v) && v.num == 0.0);
  CHECK(num("1e-99999999999999999999", &v) && v.num == 0.0);

  CHECK(fails_with("1e400", 5, LLM_ERANGE, "too large"));
  CHECK(fails_with("-1e400", 6, LLM_ERANGE, "too large"));
  CHECK(fails_with("[1, 1e99999999999999999999]", 27, LLM_ERANGE,
                   "too large (beyond the range of a double) at byte 4"));
  FAILS("01", "leading zeros");
  FAILS("-01", "leading zeros");
  FAILS("-", "expected a digit after '-'");
  FAILS("-a", "expected a digit after '-'");
  FAILS("1.", "expected a digit after '.'");
  FAILS("1.e5", "expected a digit after '.'");
  FAILS(".5", "expected a value");
  FAILS("+1", "expected a value");
  FAILS("1e", "expected a digit in the exponent");
  FAILS("1e+", "expected a digit in the exponent");
  FAILS("NaN", "expected a value");
  FAILS("Infinity", "expected a value");
  FAILS("-Infinity", "expected a digit after '-'");
  FAILS("0x10", "unexpected 'x' after the JSON value");
}

static void test_strings(void) {
  llm_err err;
  llm_json_doc *d =
      parse("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", &err);
  CHECK(d && llm_json_root(d)->len == 17 &&
        !memcmp(llm_json_root(d)->str, "a\"b\\c/d\be\ff\ng\rh\ti", 18));
  llm_json_free(d);
  d = parse("\"\\u00e9\\u00E9\\u4e2d\\u0041\"", &err);
  CHECK(d && !strcmp(llm_json_root(d)->str, "\xc3\xa9\xc3\xa9\xe4\xb8\xad" "A"));
  llm_json_free(d);
  /* Surrogate pair -> one 4-byte character. */
  d = parse("\"x\\ud83d\\ude00y\"", &err);
  CHECK(d && llm_json_root(d)->len == 6 &&
        !strcmp(llm_json_root(d)->str, "x\xf0\x9f\x98\x80y"));
  llm_json_free(d);
  d = parse("\"\\uDBFF\\uDFFF\"", &err);
  CHECK(d && !strcmp(llm_json_root(d)->str, "\xf4\x8f\xbf\xbf"));
  llm_json_free(d);
  /* \u0000 is kept: the length counts it. */
  d = parse("\"a\\u0000b\"", &err);
  CHECK(d && llm_json_root(d)->len == 3 &&
        !memcmp(llm_json_root(d)->str, "a\0b", 4));
  llm_json_free(d);
  /* Raw UTF-8 passes through, up to 4-byte characters. */
  d = parse("\"\xe6\x97\xa5\xe6\x9c\xac \xc3\xa9 \xf0\x9f\x98\x80 \xef\xbf\xbf\"",
            &err);
  CHECK(d && !strcmp(llm_json_root(d)->str,
                     "\xe6\x97\xa5\xe6\x9c\xac \xc3\xa9 \xf0\x9f\x98\x80 "
                     "\xef\xbf\xbf"));
  llm_json_free(d);
  /* A DEL byte is not a control character in JSON's sense. */
  d = parse("\"\x7f\"", &err);
  CHECK(d && llm_json_root(d)->len == 1);
  llm_json_free(d);
  /* A long string (several buffer growths). */
  size_t n = 100000;
  char *big = malloc(n + 3);
  big[0] = '"';
  for (size_t i = 0; i < n; i++) big[i + 1] = (char)('a' + i % 26);
  big[n + 1] = '"';
  big[n + 2] = 0;
  d = parse(big, &err);
  CHECK(d && llm_json_root(d)->len == n && 
        llm_json_root(d)->str[n - 1] == (char)('a' + (n - 1) % 26));
  llm_json_free(d);
  free(big);
}

static void test_string_errors(void) {
  FAILS("\"abc", "unterminated string");
  FAILS("\"abc\\", "unterminated string");
  FAILS("\"\\x\"", "invalid escape '\\' followed by 'x'");
  FAILS("\"\\U0041\"", "invalid escape");
  FAILS("\"\\u12\"", "invalid \\u escape");
  FAILS("\"\\u12", "truncated \\u escape");
  FAILS("\"\\u12G4\"", "invalid \\u escape");
  FAILS("\"\\ud800\"", "lone high surrogate \\uD800");
  FAILS("\"\\ud800x\"", "lone high surrogate");
  FAILS("\"\\ud800\\u0041\"", "not \\u0041");
  FAILS("\"\\ud800\\ud800\"", "lone high surrogate");
  FAILS("\"\\udc00\"", "lone low surrogate \\uDC00");
  FAILS("\"\\ude00\\ud83d\"", "lone low surrogate");
  FAILS("\"a\nb\"", "raw control character 0x0A in string");
  FAILS("\"a\tb\"", "raw control character 0x09");
  CHECK(fails_with("\"a\0b\"", 5, LLM_EINVAL, "raw control character 0x00"));
  FAILS("'single'", "expected a value, found '''");
  /* Invalid UTF-8 inside strings. */
  FAILS("\"\xc3\x28\"", "invalid UTF-8 in string at byte 1");
  FAILS("\"\xc0\x80\"", "invalid UTF-8");         /* overlong */
  FAILS("\"\xe0\x80\xaf\"", "invalid UTF-8");     /* overlong */
  FAILS("\"\xed\xa0\x80\"", "invalid UTF-8");     /* encoded surrogate */
  FAILS("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* > U+10FFFF */
  FAILS("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
  FAILS("\"\x80\"", "invalid UTF-8");
  FAILS("\"\xff\"", "invalid UTF-8");
  FAILS("\"ab\xe6\x97\"", "invalid UTF-8 in string at byte 3"); /* truncated */
  CHECK(fails_with("\"\xe6\x97", 3, LLM_EINVAL, "invalid UTF-8"));
  /* Outside strings any non-ASCII byte is unexpected. */
  FAILS("\xc3\xa9", "expected a value, found byte 0xC3");
  FAILS("\xef\xbb\xbf{}", "byte order mark");
}

static void test_containers(void) {
  llm_err err;
  const char *s =
      "{ \"b\" : [1, \"two\", [], {}, null, true, false, -3.5],\n"
      "  \"a\" : {\"x\": {\"y\": [[[\"deep\"]]]}},\n"
      "  \"\" : \"empty key\",\n"
      "  \"k\\u0000z\" : 7 }";
  llm_json_doc *d = parse(s, &err);
  CHECK(d != NULL);
  if (!d) {
    printf("  %s\n", err.msg);
    return;
  }
  const llm_json *r = llm_json_root(d);
  CHECK(r->type == LLM_JSON_OBJECT && r->len == 4);
  /* Keys keep their order. */
  CHECK(!strcmp(r->keys[0].s, "b") && !strcmp(r->keys[1].s, "a") &&
        r->keys[2].len == 0 && r->keys[3].len == 3);
  const llm_json *b = llm_json_get(r, "b");
  CHECK(b && b->type == LLM_JSON_ARRAY && b->len == 8);
  if (b && b->len == 8) {
    CHECK(b->items[0].type == LLM_JSON_NUMBER && b->items[0].i == 1);
    CHECK(b->items[1].type == LLM_JSON_STRING && !strcmp(b->items[1].str, "two"));
    CHECK(b->items[2].type == LLM_JSON_ARRAY && b->items[2].len == 0);
    CHECK(b->items[3].type == LLM_JSON_OBJECT && b->items[3].len == 0);
    CHECK(b->items[4].type == LLM_JSON_NULL);
    CHECK(b->items[5].type == LLM_JSON_BOOL && b->items[5].boolean);
    CHECK(b->items[6].type == LLM_JSON_BOOL && !b->items[6].boolean);
    CHECK(b->items[7].num == -3.5);
    CHECK(b->items[1].offset == 12);
  }
  const llm_json *y = llm_json_get(llm_json_get(llm_json_get(r, "a"), "x"), "y");
  CHECK(y && y->type == LLM_JSON_ARRAY && y->len == 1 &&
        y->items[0].items[0].items[0].type == LLM_JSON_STRING &&
        !strcmp(y->items[0].items[0].items[0].str, "deep"));
  const llm_json *e = llm_json_get(r, "");
  CHECK(e && !strcmp(e->str, "empty key"));
  CHECK(llm_json_get(r, "k") == NULL);
  const llm_json *kz = llm_json_getn(r, "k\0z", 3);
  CHECK(kz && kz->i == 7);
  CHECK(llm_json_get(r, "missing") == NULL);
  CHECK(llm_json_get(b, "b") == NULL); /* not an object */
  CHECK(llm_json_get(NULL, "b") == NULL);
  llm_json_free(d);

  /* The option-object use case. */
  d = parse("{\"pretokenize\":\"gpt2\",\"special\":[\"<|endoftext|>\"],"
            "\"min_frequency\":2}",
            &err);
  CHECK(d != NULL);
  r = llm_json_root(d);
  const llm_json *mf = llm_json_get(r, "min_frequency");
  CHECK(mf && mf->is_int && mf->i == 2);
  const llm_json *sp = llm_json_get(r, "special");
  CHECK(sp && sp->len == 1 && !strcmp(sp->items[0].str, "<|endoftext|>"));
  llm_json_free(d);
  llm_json_free(NULL);
  CHECK(llm_json_root(NULL) == NULL);
}

static void test_syntax_errors(void) {
  CHECK(fails_with("", 0, LLM_EINVAL, "empty input"));
  FAILS("   \n ", "expected a value, found end of input at byte 5");
  FAILS("[1,2,]", "trailing comma before ']' at byte 5");
  FAILS("{\"a\":1,}", "trailing comma before '}' at byte 7");
  FAILS("{\"a\" 1}", "expected ':' after object key, found '1' at byte 5");
  FAILS("{\"a\":}", "expected a value, found '}' at byte 5");
  FAILS("{a:1}", "expected a string key in object, found 'a' at byte 1");
  FAILS("{1:1}", "expected a string key in object");
  FAILS("{\"a\":1 \"b\":2}", "expected ',' or '}' in object, found '\"' at byte 7");
  FAILS("[1 2]", "expected ',' or ']' in array, found '2' at byte 3");
  FAILS("[", "expected a value, found end of input at byte 1");
  FAILS("[1", "expected ',' or ']' in array, found end of input");
  FAILS("{", "expected a string key in object, found end of input");
  FAILS("{\"a\"", "expected ':' after object key, found end of input");
  FAILS("[,1]", "expected a value, found ','");
  FAILS("]", "expected a value, found ']'");
  FAILS("tru", "invalid literal (expected 'true')");
  FAILS("nul", "invalid literal (expected 'null')");
  FAILS("False", "expected a value, found 'F'");
  FAILS("truex", "unexpected 'x' after the JSON value at byte 4");
  FAILS("1 2", "unexpected '2' after the JSON value at byte 2");
  FAILS("{} {}", "after the JSON value at byte 3");
  FAILS("[] x", "after the JSON value");
  FAILS("/* c */ 1", "expected a value, found '/'");
  FAILS("[1]\x01", "unexpected byte 0x01 after the JSON value");
  /* Duplicate keys, in a small and a large (hashed) object. */
  FAILS("{\"a\":1,\"b\":2,\"a\":3}",
        "duplicate object key \"a\" (first at byte 1) at byte 13");
  FAILS("{\"\\u0061\":1,\"a\":2}", "duplicate object key \"a\"");
  FAILS("{\"x\":{\"a\":1},\"y\":{\"a\":1,\"a\":2}}", "duplicate object key");
  char big[4096];
  size_t o = 0;
  big[o++] = '{';
  for (int i = 0; i < 100; i++)
    o += (size_t)snprintf(big + o, sizeof big - o, "\"k%d\":%d,", i, i);
  o += (size_t)snprintf(big + o, sizeof big - o, "\"k42\":0}");
  CHECK(fails_with(big, o, LLM_EINVAL, "duplicate object key \"k42\""));
  big[o - 8] = 0; /* cut the duplicate: now valid once closed */
  o -= 8;
  big[o - 1] = '}';
  llm_err err;
  llm_json_doc *d = parse(big, &err);
  CHECK(d && llm_json_root(d)->len == 100 &&
        llm_json_get(llm_json_root(d), "k99")->i == 99);
  llm_json_free(d);
  /* Same keys in different objects are fine. */
  d = parse("[{\"a\":1},{\"a\":2}]", &err);
  CHECK(d != NULL);
  llm_json_free(d);
}

static void test_depth(void) {
  char s[400];
  llm_err err;
  /* 64 levels are fine. */
  for (int i = 0; i < 64; i++) s[i] = '[';
  for (int i = 0; i < 64; i++) s[64 + i] = ']';
  s[128] = 0;
  llm_json_doc *d = parse(s, &err);
  CHECK(d != NULL);
  llm_json_free(d);
  /* 65 are not. */
  for (int i = 0; i < 65; i++) s[i] = '[';
  for (int i = 0; i < 65; i++) s[65 + i] = ']';
  s[130] = 0;
  FAILS(s, "nested deeper than 64 levels at byte 64");
  size_t o = 0;
  for (int i = 0; i < 65; i++) o += (size_t)snprintf(s + o, sizeof s - o, "{\"a\":");
  FAILS(s, "nested deeper than 64");
  /* A very deep input fails early without recursing through it all. */
  size_t n = 1000000;
  char *deep = malloc(n);
  memset(deep, '[', n);
  CHECK(fails_with(deep, n, LLM_EINVAL, "nested deeper"));
  free(deep);
}

static void test_large_object(void) {
  /* Shaped like encoder.json: 60000 string -> int members. */
  size_t cap = 2000000, o = 0;
  char *s = malloc(cap);
  s[o++] = '{';
  for (int i = 0; i < 60000; i++)
    o += (size_t)snprintf(s + o, cap - o, "%s\"tok\\u0120%d\": %d", i ? ", " : "",
                          i, i);
  s[o++] = '}';
  llm_json_doc *d = NULL;
  llm_err err;
  CHECK(llm_json_parse(s, o, &d, &err) == LLM_OK);
  if (d) {
    const llm_json *r = llm_json_root(d);
    CHECK(r->len == 60000);
    CHECK(!strcmp(r->keys[59999].s, "tok\xc4\xa0" "59999") &&
          r->items[59999].i == 59999);
    llm_json_free(d);
  }
  free(s);
}

/* ---- the int-array helper ---- */

static int ints(const char *s, int64_t min, int64_t max, llm_ids *out,
                llm_err *err) {
  memset(err, 0, sizeof *err);
  return llm_json_parse_int_array(s, strlen(s), out, min, max, err);
}

static int int_fails(const char *s, int64_t min, int64_t max, int code,
                     const char *want) {
  llm_ids out = {0};
  llm_ids_push(&out, 99);
  llm_err err;
  int rc = ints(s, min, max, &out, &err);
  int ok = rc == code && strstr(err.msg, want) && out.len == 1 && out.data[0] == 99;
  if (!ok)
    printf("  input %.40s: rc=%d msg=\"%s\" len=%zu (wanted \"%s\")\n", s, rc,
           err.msg, out.len, want);
  llm_ids_free(&out);
  return ok;
}

static void test_int_array(void) {
  llm_ids out = {0};
  llm_err err;
  CHECK(ints(" [ 1 ,2,\n-3 , 0 , 50256 ] \n", -10, 60000, &out, &err) == LLM_OK);
  CHECK(out.len == 5 && out.data[0] == 1 && out.data[1] == 2 &&
        out.data[2] == -3 && out.data[3] == 0 && out.data[4] == 50256);
  /* Appends. */
  CHECK(ints("[7]", 0, 10, &out, &err) == LLM_OK && out.len == 6 &&
        out.data[5] == 7);
  out.len = 0;
  CHECK(ints("[]", 0, 10, &out, &err) == LLM_OK && out.len == 0);
  CHECK(ints(" [ ] ", 0, 10, &out, &err) == LLM_OK && out.len == 0);
  /* Exact integers in other spellings. */
  CHECK(ints("[1.0, 2e0, 30E-1, 0.4e1, -0]", -5, 5, &out, &err) == LLM_OK);
  CHECK(out.len == 5 && out.data[0] == 1 && out.data[1] == 2 &&
        out.data[2] == 3 && out.data[3] == 4 && out.data[4] == 0);
  out.len = 0;
  /* The range is clipped to int32. */
  CHECK(ints("[2147483647, -2147483648]", INT64_MIN, INT64_MAX, &out, &err) ==
        LLM_OK);
  CHECK(out.len == 2 && out.data[0] == INT32_MAX && out.data[1] == INT32_MIN);
  llm_ids_free(&out);

  CHECK(int_fails("[2147483648]", INT64_MIN, INT64_MAX, LLM_ERANGE,
                  "array element 0 is 2147483648, outside the allowed range"));
  CHECK(int_fails("[1, 2, 50257]", 0, 50256, LLM_ERANGE,
                  "array element 2 is 50257, outside the allowed range 0..50256 "
                  "at byte 7"));
  CHECK(int_fails("[-1]", 0, 10, LLM_ERANGE, "element 0 is -1, outside"));
  CHECK(int_fails("[1e30]", 0, 10, LLM_ERANGE, "element 0 is 1e30, outside"));
  CHECK(int_fails("[99999999999999999999999]", 0, 10, LLM_ERANGE, "outside"));
  CHECK(int_fails("[1, 1.5]", 0, 10, LLM_EINVAL,
                  "array element 1 is 1.5, which is not an integer at byte 4"));
  CHECK(int_fails("[1e-1]", 0, 10, LLM_EINVAL, "not an integer"));
  CHECK(int_fails("[1, \"2\"]", 0, 10, LLM_EINVAL,
                  "array element 1: expected an integer, found '\"' at byte 4"));
  CHECK(int_fails("[null]", 0, 10, LLM_EINVAL, "expected an integer, found 'n'"));
  CHECK(int_fails("[[1]]", 0, 10, LLM_EINVAL, "expected an integer, found '['"));
  CHECK(int_fails("[1,2,]", 0, 10, LLM_EINVAL, "trailing comma before ']'"));
  CHECK(int_fails("[1 2]", 0, 10, LLM_EINVAL, "expected ',' or ']' in array"));
  CHECK(int_fails("[1,,2]", 0, 10, LLM_EINVAL, "expected an integer, found ','"));
  CHECK(int_fails("[1", 0, 10, LLM_EINVAL, "found end of input"));
  CHECK(int_fails("[01]", 0, 10, LLM_EINVAL, "leading zeros"));
  CHECK(int_fails("[1.]", 0, 10, LLM_EINVAL, "expected a digit after '.'"));
  CHECK(int_fails("[-]", 0, 10, LLM_EINVAL, "expected a digit after '-'"));
  CHECK(int_fails("[+1]", 0, 10, LLM_EINVAL, "expected an integer"));
  CHECK(int_fails("{\"a\":1}", 0, 10, LLM_EINVAL,
                  "expected a JSON array of integers ('['), found '{'"));
  CHECK(int_fails("1", 0, 10, LLM_EINVAL, "expected a JSON array"));
  CHECK(int_fails("", 0, 10, LLM_EINVAL, "empty input"));
  CHECK(int_fails("   ", 0, 10, LLM_EINVAL, "found end of input"));
  CHECK(int_fails("[1] 2", 0, 10, LLM_EINVAL,
                  "unexpected '2' after the JSON array at byte 4"));
  CHECK(int_fails("[]]", 0, 10, LLM_EINVAL, "after the JSON array"));
}

static void test_int_array_large(void) {
  /* Two million ids: must be quick (linear) and exact. */
  size_t count = 2000000, cap = count * 8 + 16, o = 0;
  char *s = malloc(cap);
  s[o++] = '[';
  for (size_t i = 0; i < count; i++)
    o += (size_t)snprintf(s + o, cap - o, "%s%zu", i ? "," : "", i * 7919 % 50257);
  s[o++] = ']';
  llm_ids out = {0};
  llm_err err;
  CHECK(llm_json_parse_int_array(s, o, &out, 0, 50256, &err) == LLM_OK);
  CHECK(out.len == count);
  int ok = out.len == count;
  for (size_t i = 0; ok && i < count; i++)
    ok = out.data[i] == (int32_t)(i * 7919 % 50257);
  CHECK(ok);
  llm_ids_free(&out);
  free(s);
}

int main(void) {
  RUN(test_scalars);
  RUN(test_numbers);
  RUN(test_strings);
  RUN(test_string_errors);
  RUN(test_containers);
  RUN(test_syntax_errors);
  RUN(test_depth);
  RUN(test_large_object);
  RUN(test_int_array);
  RUN(test_int_array_large);
  return CHECK_DONE();
}
