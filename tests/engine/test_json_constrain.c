/*
** test_json_constrain.c: output constrained to a JSON schema. Random walks
** over a byte-level vocabulary must end in JSON that parses and validates
** (a small validator below), the mask must agree with feed(), no state may
** be stuck, unsupported keywords must be errors, and adversarial schemas
** must stay bounded.
*/
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "check.h"
#include "formats/json.h"
#include "text/json_constrain.h"

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* ---- a small validator for the supported subset (JSON Schema meaning) ---- */

static int json_equal(const llm_json *a, const llm_json *b) {
  llm_buf x = {0}, y = {0};
  llm_json_write(a, &x);
  llm_json_write(b, &y);
  int eq = x.len == y.len && !memcmp(x.data, y.data, x.len);
  llm_buf_free(&x);
  llm_buf_free(&y);
  return eq;
}

static int type_is(const llm_json *v, const char *t) {
  if (!strcmp(t, "integer")) return v->type == LLM_JSON_NUMBER && v->is_int;
  return !strcmp(t, llm_json_type_name(v->type));
}

static int64_t get_int(const llm_json *s, const char *k, int64_t def) {
  const llm_json *v = llm_json_get(s, k);
  return v ? v->i : def;
}

/* Whether pattern matches somewhere in text (JSON Schema's semantics),
** by PCRE2: an independent regular expression engine. */
static int pattern_matches(const char *pattern, const char *text, size_t n) {
  int code;
  PCRE2_SIZE off;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
  CHECK(re != NULL);
  if (!re) return 0;
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  int rc = pcre2_match(re, (PCRE2_SPTR)text, n, 0, 0, md, NULL);
  pcre2_match_data_free(md);
  pcre2_code_free(re);
  return rc >= 0;
}

static int validate(const llm_json *s, const llm_json *v) {
  if (s->type == LLM_JSON_BOOL) return s->boolean;
  const llm_json *k;
  if ((k = llm_json_get(s, "const")) && !json_equal(k, v)) return 0;
  if ((k = llm_json_get(s, "enum"))) {
    int any = 0;
    for (size_t i = 0; i < k->len; i++) any |= json_equal(&k->items[i], v);
    if (!any) return 0;
  }
  if ((k = llm_json_get(s, "anyOf"))) {
    int any = 0;
    for (size_t i = 0; i < k->len; i++) any |= validate(&k->items[i], v);
    if (!any) return 0;
  }
  if ((k = llm_json_get(s, "type"))) {
    int any = 0;
    if (k->type == LLM_JSON_STRING) any = type_is(v, k->str);
    for (size_t i = 0; k->type == LLM_JSON_ARRAY && i < k->len; i++)
      any |= type_is(v, k->items[i].str);
    if (!any) return 0;
  }
  if (v->type == LLM_JSON_STRING) {
    int64_t cps = 0;
    for (size_t i = 0; i < v->len; i++) cps += ((uint8_t)v->str[i] & 0xC0) != 0x80;
    if (cps < get_int(s, "minLength", 0) || cps > get_int(s, "maxLength", INT64_MAX)) return 0;
    if ((k = llm_json_get(s, "pattern")) && !pattern_matches(k->str, v->str, v->len)) return 0;
  }
  if (v->type == LLM_JSON_NUMBER) {
    if ((k = llm_json_get(s, "minimum")) && v->num < k->num) return 0;
    if ((k = llm_json_get(s, "maximum")) && v->num > k->num) return 0;
  }
  if (v->type == LLM_JSON_ARRAY) {
    if ((int64_t)v->len < get_int(s, "minItems", 0) ||
        (int64_t)v->len > get_int(s, "maxItems", INT64_MAX))
      return 0;
    const llm_json *items = llm_json_get(s, "items");
    for (size_t i = 0; items && i < v->len; i++)
      if (!validate(items, &v->items[i])) return 0;
  }
  if (v->type == LLM_JSON_OBJECT) {
    const llm_json *props = llm_json_get(s, "properties");
    const llm_json *extra = llm_json_get(s, "additionalProperties");
    const llm_json *req = llm_json_get(s, "required");
    for (size_t i = 0; req && i < req->len; i++)
      if (!llm_json_getn(v, req->items[i].str, req->items[i].len)) return 0;
    for (size_t i = 0; i < v->len; i++) {
      const llm_json *ps = llm_json_getn(props, v->keys[i].s, v->keys[i].len);
      if (!ps) ps = extra;
      if (ps && !validate(ps, &v->items[i])) return 0;
    }
  }
  return 1;
}

/* ---- a byte-level test vocabulary ---- */

static const char *const multi[] = {
    "{\"", "\":", "\": ", "\",", "\", \"", "true", "false", "null", "123", "0", "-1",
    "3.14", "1e5", " \"", "\"}", "\"]", "],", "},", "}]", "[]", "{}", "[\"", "\"a\"",
    "name", "age", "\"name\"", "\"age\"", ", ", ": ", "\\n", "\\u00e9", "\\ud83d",
    "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80", "  ", "\n", "abc", "xyz",
    "00", "999", ".5", "e-", "\"\"", "\\\"", "\"x\"", "\"ab\"", "\"y\"", "12", "-0",
    "2.25", "1.5", "0.1", "red", "\"red\"", "green", "{\"a\":", "{\"ab\":", "[1,", "2]",
    "\xed\xa0\x80", "\xc0\xaf"};

typedef struct vocab {
  const uint8_t *pieces[256 + sizeof multi / sizeof multi[0]];
  size_t lens[256 + sizeof multi / sizeof multi[0]];
  uint8_t bytes[256];
  int32_t n;
  llm_jcon_vocab *v;
} vocab;

static void vocab_init(vocab *vb) {
  vb->n = 0;
  for (int b = 0; b < 256; b++) {
    vb->bytes[b] = (uint8_t)b;
    vb->pieces[vb->n] = &vb->bytes[b];
    vb->lens[vb->n++] = 1;
  }
  for (size_t i = 0; i < sizeof multi / sizeof multi[0]; i++) {
    vb->pieces[vb->n] = (const uint8_t *)multi[i];
    vb->lens[vb->n++] = strlen(multi[i]);
  }
  llm_err err;
  CHECK(llm_jcon_vocab_new(vb->pieces, vb->lens, vb->n, &vb->v, &err) == LLM_OK);
}

/* A token that ends something and opens nothing: walks prefer these late. */
static int closes(const vocab *vb, int32_t t) {
  const uint8_t *p = vb->pieces[t];
  size_t n = vb->lens[t];
  return (p[n - 1] == '"' || p[n - 1] == ']' || p[n - 1] == '}') && !memchr(p, '[', n) &&
         !memchr(p, '{', n) && !memchr(p, ',', n);
}

/* Checks the mask against feed() for some tokens (all when every is set). */
static void check_mask(const vocab *vb, const llm_jcon_state *s, const uint8_t *allowed,
                       llm_jcon_state *tmp, uint64_t *rng, int every) {
  for (int32_t i = 0; i < (every ? vb->n : 48); i++) {
    int32_t t = every ? i : (int32_t)(rng_next(rng) % (uint64_t)vb->n);
    llm_jcon_state_copy(tmp, s);
    int fed = llm_jcon_feed(tmp, vb->pieces[t], vb->lens[t]);
    if (fed != allowed[t]) {
      printf("  mask says %d, feed says %d for piece %d \"%.*s\"\n", allowed[t], fed, t,
             (int)vb->lens[t], vb->pieces[t]);
      CHECK(fed == allowed[t]);
    }
  }
}

/* One random walk; returns 1 when it produced a complete value in out. */
static int walk(const vocab *vb, const llm_jcon *c, uint64_t *rng, llm_buf *out, int every) {
  llm_jcon_state *s = NULL, *tmp = NULL;
  llm_err err;
  uint8_t allowed[sizeof vb->lens / sizeof vb->lens[0]];
  int32_t pick[sizeof vb->lens / sizeof vb->lens[0]];
  int done = 0;
  CHECK(llm_jcon_state_new(c, &s, &err) == LLM_OK && llm_jcon_state_new(c, &tmp, &err) == LLM_OK);
  out->len = 0;
  for (int step = 0; step < 4000 && !done; step++) {
    int comp = llm_jcon_complete(s);
    if (comp == LLM_JCON_MUST_STOP || (comp && rng_next(rng) % 3 == 0)) done = 1;
    CHECK(llm_jcon_mask(s, vb->v, allowed) == LLM_OK);
    int32_t n = 0, n_closing = 0;
    for (int32_t t = 0; t < vb->n; t++) n += allowed[t];
    CHECK(n > 0 || comp);                         /* never stuck */
    CHECK(!(comp == LLM_JCON_MUST_STOP && n > 0)); /* must stop means nothing fits */
    check_mask(vb, s, allowed, tmp, rng, every);
    if (done || n == 0) break;
    /* later on, prefer closing tokens so that walks end */
    for (int32_t t = 0; step > 40 && t < vb->n; t++)
      if (allowed[t] && closes(vb, t)) pick[n_closing++] = t;
    if (n_closing == 0 || rng_next(rng) % 16 == 0) {
      n_closing = 0;
      for (int32_t t = 0; t < vb->n; t++)
        if (allowed[t]) pick[n_closing++] = t;
    }
    int32_t t = pick[rng_next(rng) % (uint64_t)n_closing];
    CHECK(llm_jcon_feed(s, vb->pieces[t], vb->lens[t]) == 1);
    llm_buf_append(out, vb->pieces[t], vb->lens[t]);
  }
  done = llm_jcon_complete(s) != 0;
  llm_jcon_state_free(s);
  llm_jcon_state_free(tmp);
  return done;
}

static const char *const schemas[] = {
    "true",
    "{}",
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":10},"
    "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":150},\"email\":{\"type\":\"string\"}},"
    "\"required\":[\"name\",\"age\"]}",
    "{\"type\":\"array\",\"items\":{\"type\":\"number\",\"minimum\":-1.5,\"maximum\":2.25},"
    "\"minItems\":1,\"maxItems\":5}",
    "{\"type\":\"string\",\"minLength\":3,\"maxLength\":5}",
    "{\"enum\":[\"red\",\"green\",1,null,{\"a\":[1,2]},\"re\"]}",
    "{\"const\":\"x\"}",
    "{\"type\":[\"string\",\"null\"],\"maxLength\":4}",
    "{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"number\",\"minimum\":100}]}",
    "{\"anyOf\":[{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]},"
    "{\"type\":\"object\",\"properties\":{\"ab\":{\"type\":\"boolean\"}},\"required\":[\"ab\"]}]}",
    "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}",
    "{\"type\":\"object\"}",
    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"additionalProperties\":true}",
    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}",
    "{\"type\":\"integer\",\"minimum\":-20,\"maximum\":-10}",
    "{\"type\":\"integer\",\"minimum\":7,\"maximum\":7}",
    "{\"type\":\"number\",\"minimum\":0.1,\"maximum\":0.1}",
    "{\"type\":\"number\",\"minimum\":-0.001,\"maximum\":1e9}",
    "{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{\"type\":\"boolean\"},\"maxItems\":2}}",
    "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"object\",\"properties\":{\"y\":{\"type\":"
    "\"array\",\"items\":{\"enum\":[1,2,3]},\"minItems\":2}},\"required\":[\"y\"]}},\"required\":[\"x\"]}",
    "{\"type\":\"string\",\"maxLength\":1000000000}",
    "{\"type\":\"array\",\"minItems\":3,\"items\":{\"type\":\"string\",\"maxLength\":2}}",
    "{\"type\":\"number\"}",
    "{\"type\":\"object\",\"properties\":{\"opt1\":{\"type\":\"null\"},\"opt2\":{\"type\":\"boolean\"},"
    "\"req\":{\"type\":\"integer\"},\"opt3\":{\"type\":\"string\",\"maxLength\":3}},\"required\":[\"req\"]}",
    "{\"type\":\"array\",\"maxItems\":0}",
    "{\"anyOf\":[{\"type\":\"string\",\"maxLength\":1},{\"type\":\"string\",\"minLength\":3}]}",
    "{\"type\":\"string\",\"pattern\":\"^[A-Z][a-z]{1,5}-\\\\d{2,3}$\"}",
    "{\"type\":\"string\",\"pattern\":\"ab|cd\",\"maxLength\":6}",
    "{\"type\":\"string\",\"pattern\":\"^(\\\\w+@\\\\w+\\\\.(com|org))?$\"}",
    "{\"type\":\"string\",\"pattern\":\"^(ab)+$\",\"minLength\":3,\"maxLength\":7}",
    "{\"pattern\":\"^[^a-z\\\"]*\\\"x$\",\"maxLength\":5}",
    "{\"pattern\":\"^(?:(?:[0-9a-f]{2}:){2}[0-9a-f]{2}|x*)$\"}",
    "{\"type\":\"object\",\"properties\":{\"date\":{\"type\":\"string\",\"pattern\":"
    "\"^\\\\d{4}-\\\\d{2}-\\\\d{2}$\"}},\"required\":[\"date\"]}",
};

static void walk_schema(const vocab *vb, const char *schema, int walks, uint64_t *rng) {
  llm_jcon *c = NULL;
  llm_err err = {0};
  llm_json_doc *sdoc = NULL;
  int rc = llm_jcon_compile(schema, strlen(schema), &c, &err);
  if (rc) printf("  %s: %s\n", schema, err.msg);
  CHECK(rc == LLM_OK);
  CHECK(llm_json_parse(schema, strlen(schema), &sdoc, &err) == LLM_OK);
  llm_buf out = {0};
  for (int w = 0; c && w < walks; w++) {
    int done = walk(vb, c, rng, &out, w == 0);
    llm_json_doc *doc = NULL;
    int parsed = done && llm_json_parse((const char *)out.data, out.len, &doc, &err) == LLM_OK;
    int valid = parsed && validate(llm_json_root(sdoc), llm_json_root(doc));
    if (!valid)
      printf("  %.200s: walk %d gave %s value: %.*s\n", schema, w,
             !done ? "an unfinished" : !parsed ? "an unparsable" : "an invalid",
             out.len > 300 ? 300 : (int)out.len, out.data);
    CHECK(valid);
    llm_json_free(doc);
  }
  llm_buf_free(&out);
  llm_json_free(sdoc);
  llm_jcon_free(c);
}

static void test_random_walks(void) {
  vocab vb;
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  vocab_init(&vb);
  for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++)
    walk_schema(&vb, schemas[i], 40, &rng);
  llm_jcon_vocab_free(vb.v);
}

/* Feeds text; returns what llm_jcon_complete says, or -1 when refused. */
static int feed_text(const char *schema, const char *text) {
  llm_jcon *c = NULL;
  llm_jcon_state *s = NULL;
  llm_err err;
  if (llm_jcon_compile(schema, strlen(schema), &c, &err) ||
      llm_jcon_state_new(c, &s, &err)) {
    llm_jcon_free(c);
    return -2;
  }
  int r = llm_jcon_feed(s, (const uint8_t *)text, strlen(text)) ? llm_jcon_complete(s) : -1;
  llm_jcon_state_free(s);
  llm_jcon_free(c);
  return r;
}

static void test_exact_patterns(void) {
  const char *date = "{\"type\":\"string\",\"pattern\":\"^\\\\d{4}-\\\\d{2}-\\\\d{2}$\"}";
  CHECK(feed_text(date, "\"2024-01-0") == 0);
  CHECK(feed_text(date, "\"2024-x") == -1);
  CHECK(feed_text(date, "\"2024-123") == -1);
  CHECK(feed_text(date, "\"2024-01-02\"") == LLM_JCON_MUST_STOP);
  CHECK(feed_text(date, "\"2024-01-02x") == -1);
  const char *anywhere = "{\"type\":\"string\",\"pattern\":\"ab|cd\",\"maxLength\":5}";
  CHECK(feed_text(anywhere, "\"xxab\"") == LLM_JCON_MUST_STOP);
  CHECK(feed_text(anywhere, "\"xcdx\"") == LLM_JCON_MUST_STOP);
  CHECK(feed_text(anywhere, "\"xx\"") == -1);     /* no match yet */
  CHECK(feed_text(anywhere, "\"xxxx") == -1);      /* no room left for ab or cd */
  CHECK(feed_text(anywhere, "\"xxx") == 0);
  const char *quote = "{\"pattern\":\"^a\\\"b$\"}";
  CHECK(feed_text(quote, "\"a\\\"b\"") == LLM_JCON_MUST_STOP);   /* a\"b */
  CHECK(feed_text(quote, "\"a\\n") == -1);
  CHECK(feed_text("{\"pattern\":\"^x+$\"}", "\"x\xc3\xa9") == -1);   /* ASCII only */
}

static void test_exact_texts(void) {
  const char *range = "{\"type\":\"integer\",\"minimum\":10,\"maximum\":20}";
  CHECK(feed_text(range, "1") == 0);     /* 10..19 still reachable */
  CHECK(feed_text(range, "3") == -1);    /* 3, 30.. are all out */
  CHECK(feed_text(range, "20") == LLM_JCON_MUST_STOP);
  CHECK(feed_text(range, "15") == LLM_JCON_MUST_STOP);
  CHECK(feed_text(range, "21") == -1);
  CHECK(feed_text(range, "-") == -1);
  const char *num = "{\"type\":\"number\",\"minimum\":-1.5,\"maximum\":2.25}";
  CHECK(feed_text(num, "2.2") == LLM_JCON_MAY_STOP);
  CHECK(feed_text(num, "2.25") == LLM_JCON_MAY_STOP);   /* 2.250 */
  CHECK(feed_text(num, "2.26") == -1);
  CHECK(feed_text(num, "-1.6") == -1);
  CHECK(feed_text(num, "-1.5") == LLM_JCON_MAY_STOP);
  CHECK(feed_text(num, "3") == -1);
  CHECK(feed_text(num, "1e2") == -1);   /* no exponent with bounds */
  CHECK(feed_text("{\"type\":\"number\"}", "-1.5e-0") == LLM_JCON_MAY_STOP);
  CHECK(feed_text("{\"type\":\"number\"}", "-1.5e-07") == LLM_JCON_MUST_STOP);
  CHECK(feed_text("{\"type\":\"number\"}", "1e123") == -1);
  CHECK(feed_text("{\"type\":\"number\"}", "01") == -1);
  CHECK(feed_text("{\"type\":\"integer\"}", "1.0") == -1);
  const char *obj = schemas[2];
  CHECK(feed_text(obj, "{\"name\": \"Bob\", \"age\": 42}") == LLM_JCON_MUST_STOP);
  CHECK(feed_text(obj, "{\"name\":\"Bob\",\"age\":42,\"email\":\"b@c\"}") == LLM_JCON_MUST_STOP);
  CHECK(feed_text(obj, "{\"age\"") == -1);          /* required name first */
  CHECK(feed_text(obj, "{\"name\":\"Bob\"}") == -1); /* age is required */
  CHECK(feed_text(obj, "{\"name\":\"Bob\",\"x\"") == -1);  /* no extra keys */
  CHECK(feed_text(obj, "{\"name\":  ") == -1);      /* at most one space */
  CHECK(feed_text(obj, " {") == -1);
  CHECK(feed_text(obj, "{\"name\":\"01234567890\"") == -1);  /* maxLength 10 */
  CHECK(feed_text("{\"type\":\"string\"}", "\"\\ud800") == -1);  /* lone surrogate */
  CHECK(feed_text("{\"type\":\"string\"}", "\"\xed\xa0\x80") == -1);
  CHECK(feed_text("{\"type\":\"string\"}", "\"\xc3\xa9\\u00e9\\n\"") == LLM_JCON_MUST_STOP);
  CHECK(feed_text("{\"type\":\"string\",\"maxLength\":1}", "\"\xc3\xa9\"") == LLM_JCON_MUST_STOP);
  CHECK(feed_text("{\"type\":\"object\"}", "{\"a\":1,\"a\"") == -1);  /* no duplicate keys */
  CHECK(feed_text(schemas[13], "{\"a\":1,\"b\":2}") == -1);   /* absent: no extra keys */
  CHECK(feed_text(schemas[12], "{\"a\":1,\"b\":[2]}") == LLM_JCON_MUST_STOP);
  CHECK(feed_text(schemas[12], "{\"b\":1,\"a\"") == 0);  /* declared, in order */
  CHECK(feed_text(schemas[12], "{\"a\":1,\"a\"") == -1);  /* not twice */
  CHECK(feed_text(schemas[5], "\"re") == 0);
  CHECK(feed_text(schemas[5], "\"re\"") == LLM_JCON_MUST_STOP);
  CHECK(feed_text(schemas[5], "{\"a\":[1,2]}") == LLM_JCON_MUST_STOP);
  CHECK(feed_text(schemas[5], "{\"a\": [1,2]}") == -1);   /* enums are compact */
  CHECK(feed_text("true", "[1, {\"k\": null}, \"s\", -2.5e3, true]") == LLM_JCON_MUST_STOP);
  CHECK(feed_text("true", "[1,") == 0);
}

static void test_unsupported(void) {
  static const struct { const char *schema, *word; } bad[] = {
      {"{\"type\":\"string\",\"pattern\":\"a(?=b)\"}", "lookaround"},
      {"{\"type\":\"string\",\"pattern\":\"(a)\\\\1\"}", "back references"},
      {"{\"type\":\"string\",\"pattern\":\"\\\\bx\"}", "escape"},
      {"{\"type\":\"string\",\"pattern\":\"\u00e9\"}", "ASCII"},
      {"{\"type\":\"string\",\"pattern\":\"a{70}\"}", "64"},
      {"{\"type\":\"string\",\"pattern\":\"a^b\"}", "anchors"},
      {"{\"type\":\"string\",\"pattern\":\"(ab\"}", "group"},
      {"{\"type\":\"string\",\"pattern\":\"[ab\"}", "class"},
      {"{\"type\":\"string\",\"pattern\":\"x{2,1}\"}", "quantifier"},
      {"{\"type\":\"string\",\"pattern\":\"^ab$\",\"minLength\":3}", "minLength"},
      {"{\"type\":\"string\",\"pattern\":\"a\",\"minLength\":64}", "63"},
      {"{\"type\":\"string\",\"pattern\":7}", "pattern"},
      {"{\"oneOf\":[{\"type\":\"string\"}]}", "oneOf"},
      {"{\"$ref\":\"#\"}", "$ref"},
      {"{\"type\":\"string\",\"format\":\"date\"}", "format"},
      {"{\"type\":\"integer\",\"exclusiveMinimum\":1}", "exclusiveMinimum"},
      {"{\"type\":\"object\",\"minProperties\":1}", "minProperties"},
      {"{\"type\":\"array\",\"prefixItems\":[]}", "prefixItems"},
      {"{\"type\":\"integer\",\"minimum\":5,\"maximum\":4}", "minimum"},
      {"{\"type\":\"integer\",\"minimum\":0.2,\"maximum\":0.8}", "integer"},
      {"{\"enum\":[]}", "enum"},
      {"{\"type\":\"integer\",\"enum\":[\"a\"]}", "enum"},
      {"{\"type\":\"foo\"}", "foo"},
      {"{\"type\":\"object\",\"required\":[\"zz\"]}", "required"},
      {"false", "schema"},
      {"{\"type\":\"string\",\"minLength\":3,\"maxLength\":2}", "minLength"},
      {"{\"type\":\"string\",\"maxLength\":-1}", "maxLength"},
      {"{\"type\":", "JSON"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    llm_jcon *c = (llm_jcon *)1;
    llm_err err = {0};
    int rc = llm_jcon_compile(bad[i].schema, strlen(bad[i].schema), &c, &err);
    CHECK(rc != LLM_OK && c == NULL);
    if (bad[i].word[0] != 'J' && !strstr(err.msg, bad[i].word)) printf("  %s: message \"%s\"\n", bad[i].schema, err.msg);
    CHECK(bad[i].word[0] == 'J' || strstr(err.msg, bad[i].word) != NULL);
  }
}

/* Deep nesting is refused past the limit and works below it; huge bounds
** and wide anyOfs stay bounded. */
static void test_adversarial(void) {
  llm_buf deep = {0};
  llm_jcon *c = NULL;
  llm_err err;
  for (int i = 0; i < 200; i++) llm_buf_append(&deep, "{\"type\":\"array\",\"minItems\":1,\"items\":", 37);
  llm_buf_append(&deep, "true", 4);
  for (int i = 0; i < 200; i++) llm_buf_append(&deep, "}", 1);
  CHECK(llm_jcon_compile((const char *)deep.data, deep.len, &c, &err) != LLM_OK);
  CHECK(strstr(err.msg, "deeper") != NULL || strstr(err.msg, "nest") != NULL);
  deep.len = 0;
  int levels = LLM_JCON_MAX_DEPTH - 3;
  for (int i = 0; i < levels; i++) llm_buf_append(&deep, "{\"type\":\"array\",\"minItems\":1,\"items\":", 37);
  llm_buf_append(&deep, "{\"type\":\"integer\"}", 18);
  for (int i = 0; i < levels; i++) llm_buf_append(&deep, "}", 1);
  llm_buf_append(&deep, "", 1);
  vocab vb;
  uint64_t rng = 12345;
  vocab_init(&vb);
  walk_schema(&vb, (const char *)deep.data, 10, &rng);
  /* any value, walked deep: the depth limit must close containers, not stick */
  walk_schema(&vb, "{\"type\":\"array\",\"items\":true,\"minItems\":300}", 2, &rng);
  char wide[2048] = "{\"anyOf\":[";
  for (int i = 0; i < 16; i++)
    snprintf(wide + strlen(wide), sizeof wide - strlen(wide), "%s{\"type\":\"string\",\"maxLength\":%d}",
             i ? "," : "", i + 1);
  strcat(wide, "]}");
  walk_schema(&vb, wide, 20, &rng);
  strcpy(wide + strlen(wide) - 2, ",{\"type\":\"null\"}]}");
  CHECK(llm_jcon_compile(wide, strlen(wide), &c, &err) == LLM_ERANGE);
  llm_jcon_vocab_free(vb.v);
  llm_buf_free(&deep);
}

/* llm_jcon_rest is the length of the shortest completion: no byte lowers
** it by more than one, some byte by exactly one (or completes the value
** when it is 1), and following such bytes completes the value in exactly
** that many. Checked from the states of random walks. */
static int feed_copy(const llm_jcon_state *s, uint8_t b, llm_jcon_state *next) {
  llm_jcon_state_copy(next, s);
  return llm_jcon_feed(next, &b, 1);
}

static void check_rest_from(const llm_jcon_state *start, llm_jcon_state *s, llm_jcon_state *next,
                            const char *schema) {
  llm_jcon_state_copy(s, start);
  int64_t rest = llm_jcon_complete(s) ? 0 : llm_jcon_rest(s), steps = 0;
  while (llm_jcon_complete(s) == 0) {
    int64_t r = llm_jcon_rest(s), best = INT64_MAX;
    int best_b = -1;
    for (int b = 0; b < 256; b++) {
      if (!feed_copy(s, (uint8_t)b, next)) continue;
      int64_t rn = llm_jcon_complete(next) ? 0 : llm_jcon_rest(next);
      if (rn < r - 1) printf("  %.120s: byte %d lowers the rest from %lld to %lld\n", schema, b, (long long)r,
                             (long long)rn);
      CHECK(rn >= r - 1);
      if (rn < best) best = rn, best_b = b;
    }
    if (best != r - 1) printf("  %.120s: the best byte leaves %lld of %lld\n", schema, (long long)best, (long long)r);
    CHECK(best == r - 1 && best_b >= 0);
    if (best_b < 0 || best != r - 1) return;
    CHECK(llm_jcon_feed(s, (const uint8_t[]){(uint8_t)best_b}, 1));
    steps++;
  }
  CHECK(llm_jcon_complete(s) != 0 && steps == rest);
}

static void test_rest_is_the_shortest_completion(void) {
  uint64_t rng = 12345;
  llm_err err;
  for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
    llm_jcon *c = NULL;
    llm_jcon_state *s = NULL, *w = NULL, *next = NULL;
    CHECK(llm_jcon_compile(schemas[i], strlen(schemas[i]), &c, &err) == LLM_OK);
    CHECK(llm_jcon_state_new(c, &s, &err) == LLM_OK && llm_jcon_state_new(c, &w, &err) == LLM_OK &&
          llm_jcon_state_new(c, &next, &err) == LLM_OK);
    for (int walk = 0; walk < 12; walk++) {
      llm_jcon_reset(w);
      for (int step = 0; step < 30; step++) {
        if (llm_jcon_complete(w) == LLM_JCON_MUST_STOP) break;
        check_rest_from(w, s, next, schemas[i]);
        /* a random byte the automaton takes */
        uint8_t ok[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
          if (feed_copy(w, (uint8_t)b, next)) ok[n++] = (uint8_t)b;
        if (n == 0) break;
        uint8_t b = ok[rng_next(&rng) % (uint64_t)n];
        CHECK(llm_jcon_feed(w, &b, 1));
      }
    }
    llm_jcon_state_free(s);
    llm_jcon_state_free(w);
    llm_jcon_state_free(next);
    llm_jcon_free(c);
  }
}

/* Under llm_jcon_mask_budget, random tokens always give a complete value
** within the budget, from the shortest the schema allows upwards. */
static void test_budget_closes_in_time(void) {
  vocab vb;
  uint64_t rng = 777;
  llm_err err;
  vocab_init(&vb);
  uint8_t allowed[sizeof vb.lens / sizeof vb.lens[0]];
  int32_t pick[sizeof vb.lens / sizeof vb.lens[0]];
  for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
    llm_jcon *c = NULL;
    llm_jcon_state *s = NULL;
    CHECK(llm_jcon_compile(schemas[i], strlen(schemas[i]), &c, &err) == LLM_OK);
    CHECK(llm_jcon_state_new(c, &s, &err) == LLM_OK);
    int64_t shortest = llm_jcon_rest(s);
    const int64_t extra[] = {0, 1, 5, 30, 100};
    for (size_t k = 0; k < sizeof extra / sizeof extra[0]; k++)
      for (int walk = 0; walk < 6; walk++) {
        int64_t budget = shortest + extra[k], used = 0;
        llm_jcon_reset(s);
        while (llm_jcon_complete(s) != LLM_JCON_MUST_STOP && used < budget) {
          if (llm_jcon_complete(s) && rng_next(&rng) % 4 == 0) break;
          CHECK(llm_jcon_mask_budget(s, vb.v, budget - used, allowed) == LLM_OK);
          int n = 0;
          for (int32_t t = 0; t < vb.n; t++)
            if (allowed[t]) pick[n++] = t;
          if (n == 0) break;
          int32_t t = pick[rng_next(&rng) % (uint64_t)n];
          CHECK(llm_jcon_feed(s, vb.pieces[t], vb.lens[t]));
          used++;
        }
        if (!llm_jcon_complete(s))
          printf("  %.120s: not complete after %lld tokens (budget %lld)\n", schemas[i], (long long)used,
                 (long long)budget);
        CHECK(llm_jcon_complete(s) != 0);
      }
    llm_jcon_state_free(s);
    llm_jcon_free(c);
  }
  llm_jcon_vocab_free(vb.v);
}

int main(void) {
  RUN(test_exact_texts);
  RUN(test_exact_patterns);
  RUN(test_unsupported);
  RUN(test_random_walks);
  RUN(test_adversarial);
  RUN(test_rest_is_the_shortest_completion);
  RUN(test_budget_closes_in_time);
  return CHECK_DONE();
}
