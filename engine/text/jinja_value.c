/*
** jinja_value.c: the values of a render (jval, see jinja_internal.h) and
** what @huggingface/jinja does with them as JavaScript would: truthiness,
** printing (numbers as Number.prototype.toString writes them, floats that
** are integers with ".0"), JSON as its toJSON writes it, == and ===.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/jinja_internal.h"
#include "text/utf8.h"

const jval JV_UNDEFINED = {.t = JV_UNDEF};

jval jv_num(int t, double x) { return (jval){.t = t, .num = x}; }
jval jv_bool(int b) { return (jval){.t = JV_BOOL, .num = b ? 1 : 0}; }
jval jv_str(const char *s, size_t n) { return (jval){.t = JV_STR, .s = n ? s : "", .n = n}; }

jval jv_list(jarena *a, size_t n) {
  jlist *l = ja_alloc(a, sizeof *l);
  if (n > ((size_t)-1) / sizeof(jval)) jfail(a, LLM_ERANGE, "a list too long");
  l->v = ja_alloc(a, n * sizeof *l->v);
  l->n = n;
  return (jval){.t = JV_LIST, .p = l};
}

jval jv_dict(jarena *a, int t) { return (jval){.t = t, .p = ja_alloc(a, sizeof(jdict))}; }

jval jv_func(jarena *a, int builtin, jval self) {
  jfunc *f = ja_alloc(a, sizeof *f);
  f->builtin = builtin;
  f->self = self;
  return (jval){.t = JV_FUNC, .p = f};
}

const char *jv_type_name(jval v) {
  if (v.t == JV_LIST && ((jlist *)v.p)->tuple) return "TupleValue";
  static const char *const names[] = {
    "UndefinedValue", "NullValue", "BooleanValue", "IntegerValue", "FloatValue",
    "StringValue", "ArrayValue", "ObjectValue", "NamespaceValue", "ObjectValue",
    "FunctionValue"};
  return names[v.t];
}

int jv_truthy(jval v) {
  switch (v.t) {
  case JV_BOOL: case JV_INT: case JV_FLOAT: return v.num != 0 && !isnan(v.num);
  case JV_STR: return v.n > 0;
  case JV_LIST: return ((jlist *)v.p)->n > 0;
  case JV_DICT: return ((jdict *)v.p)->n > 0;
  case JV_NS: case JV_LOOP: case JV_FUNC: return 1;
  default: return 0;
  }
}

jval *jdict_get(jdict *d, const char *k, size_t kn) {
  for (size_t i = 0; i < d->n; i++)
    if (d->kn[i] == kn && (kn == 0 || !memcmp(d->k[i], k, kn))) return &d->v[i];
  return NULL;
}

void jdict_set(jarena *a, jdict *d, const char *k, size_t kn, jval v) {
  jval *slot = jdict_get(d, k, kn);
  if (slot) {
    *slot = v;
    return;
  }
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    const char **nk = ja_alloc(a, cap * sizeof *nk);
    size_t *nkn = ja_alloc(a, cap * sizeof *nkn);
    jval *nv = ja_alloc(a, cap * sizeof *nv);
    if (d->n) {
      memcpy(nk, d->k, d->n * sizeof *nk);
      memcpy(nkn, d->kn, d->n * sizeof *nkn);
      memcpy(nv, d->v, d->n * sizeof *nv);
    }
    d->k = nk;
    d->kn = nkn;
    d->v = nv;
    d->cap = cap;
  }
  d->k[d->n] = k;
  d->kn[d->n] = kn;
  d->v[d->n++] = v;
}

static const char *const LOOP_KEYS[] = {"index", "index0", "revindex", "revindex0", "first",
                                         "last", "length", "previtem", "nextitem"};

int jloop_get(const jloop *l, const char *k, size_t kn, jval *out) {
  double i = (double)l->i, n = (double)l->len;
  size_t which = 0;
  while (which < 9 && !(strlen(LOOP_KEYS[which]) == kn && !memcmp(LOOP_KEYS[which], k, kn))) which++;
  switch (which) {
  case 0: *out = jv_num(JV_INT, i + 1); return 1;
  case 1: *out = jv_num(JV_INT, i); return 1;
  case 2: *out = jv_num(JV_INT, n - i); return 1;
  case 3: *out = jv_num(JV_INT, n - i - 1); return 1;
  case 4: *out = jv_bool(i == 0); return 1;
  case 5: *out = jv_bool(i == n - 1); return 1;
  case 6: *out = jv_num(JV_INT, n); return 1;
  case 7: *out = l->prev; return 1;
  case 8: *out = l->next; return 1;
  default: return 0;
  }
}

jdict *jv_as_dict(jarena *a, jval v) {
  if (v.t != JV_LOOP) return v.p;
  jdict *d = ja_alloc(a, sizeof *d);
  for (size_t k = 0; k < 9; k++) {
    jval x;
    jloop_get(v.p, LOOP_KEYS[k], strlen(LOOP_KEYS[k]), &x);
    jdict_set(a, d, LOOP_KEYS[k], strlen(LOOP_KEYS[k]), x);
  }
  return d;
}

size_t utf16_len(const char *s, size_t n) {
  size_t units = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c & 0xC0) != 0x80) units += c >= 0xF0 ? 2 : 1;
  }
  return units;
}

/* ---- numbers as JavaScript writes them ----------------------------------- */

/* Number.prototype.toString(): the shortest digits that read back the same,
** plain from 1e-7 to 1e21, else with an exponent. */
static void js_number(double x, char out[40]) {
  if (isnan(x)) { strcpy(out, "NaN"); return; }
  if (isinf(x)) { strcpy(out, x < 0 ? "-Infinity" : "Infinity"); return; }
  if (x == 0) { strcpy(out, "0"); return; }
  char buf[40];
  int prec = 1;
  for (; prec < 17; prec++) {
    snprintf(buf, sizeof buf, "%.*e", prec - 1, x);
    if (strtod(buf, NULL) == x) break;
  }
  snprintf(buf, sizeof buf, "%.*e", prec - 1, x);
  char digits[24];
  int k = 0;
  const char *p = buf;
  char *o = out;
  if (*p == '-') { *o++ = '-'; p++; }
  for (; *p != 'e'; p++)
    if (*p != '.') digits[k++] = *p;
  int n = atoi(p + 1) + 1; /* the decimal point sits after n digits */
  while (k > 1 && digits[k - 1] == '0') k--;
  if (k <= n && n <= 21) {
    memcpy(o, digits, (size_t)k); o += k;
    for (int i = k; i < n; i++) *o++ = '0';
  } else if (0 < n && n <= 21) {
    memcpy(o, digits, (size_t)n); o += n;
    *o++ = '.';
    memcpy(o, digits + n, (size_t)(k - n)); o += k - n;
  } else if (-6 < n && n <= 0) {
    *o++ = '0'; *o++ = '.';
    for (int i = 0; i < -n; i++) *o++ = '0';
    memcpy(o, digits, (size_t)k); o += k;
  } else {
    *o++ = digits[0];
    if (k > 1) { *o++ = '.'; memcpy(o, digits + 1, (size_t)(k - 1)); o += k - 1; }
    o += sprintf(o, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
  }
  *o = 0;
}

/* FloatValue.toString(): integers keep a ".0" (toFixed(1)). */
static void js_float(double x, char out[400]) {
  if (x == 0 && signbit(x)) strcpy(out, "-0.0");
  else if (isfinite(x) && x == floor(x) && fabs(x) < 1e21) snprintf(out, 400, "%.1f", x);
  else js_number(x, out);
}

/* ---- text of values ------------------------------------------------------ */

void jv_print(jarena *a, jsb *b, jval v) {
  char num[400];
  switch (v.t) {
  case JV_UNDEF: jsb_addz(a, b, "undefined"); return;
  case JV_NONE: jsb_addz(a, b, "null"); return;
  case JV_BOOL: jsb_addz(a, b, v.num ? "true" : "false"); return;
  case JV_INT: js_number(v.num, num); jsb_addz(a, b, num); return;
  case JV_FLOAT: js_float(v.num, num); jsb_addz(a, b, num); return;
  case JV_STR: jsb_add(a, b, v.s, v.n); return;
  case JV_FUNC: jfail(a, LLM_EINVAL, "unsupported: printing a function or macro");
  default: {
    jjson_opts o = {.indent = -1, .keep_undefined = 1};
    jv_json(a, b, v, &o, 0);
  }
  }
}

void jv_print_raw(jarena *a, jsb *b, jval v) {
  char num[40];
  switch (v.t) {
  case JV_INT: case JV_FLOAT: js_number(v.num, num); jsb_addz(a, b, num); return;
  case JV_LIST: { /* Array.prototype.toString: items joined by "," */
    const jlist *l = v.p;
    for (size_t i = 0; i < l->n; i++) {
      if (i) jsb_add(a, b, ",", 1);
      jv_print(a, b, l->v[i]);
    }
    return;
  }
  case JV_DICT: case JV_NS: case JV_LOOP: jsb_addz(a, b, "[object Map]"); return;
  default: jv_print(a, b, v);
  }
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_string(jarena *a, jsb *b, const char *s, size_t n, int ascii) {
  jsb_add(a, b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[16];
    const char *named = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t" : NULL;
    if (named) {
      jsb_addz(a, b, named);
    } else if (c < 0x20 || (ascii && c == 0x7F)) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      jsb_addz(a, b, esc);
    } else if (ascii && c >= 0x80) { /* \u escapes of UTF-16 units */
      int k;
      int32_t c32 = llm_utf8_decode((const uint8_t *)s + i, n - i, &k);
      uint32_t cp = c32 < 0 ? 0xFFFD : (uint32_t)c32;
      i += (size_t)k - 1;
      if (cp >= 0x10000)
        snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
                 0xDC00 + ((cp - 0x10000) & 0x3FF));
      else
        snprintf(esc, sizeof esc, "\\u%04x", cp);
      jsb_addz(a, b, esc);
    } else {
      jsb_add(a, b, s + i, 1);
    }
  }
  jsb_add(a, b, "\"", 1);
}

static void padding(jarena *a, jsb *b, const jjson_opts *o, int depth) {
  jsb_add(a, b, "\n", 1);
  for (long i = 0; i < (long)o->indent * depth; i++) jsb_add(a, b, " ", 1);
}

void jv_json(jarena *a, jsb *b, jval v, const jjson_opts *o, int depth) {
  if (depth > LLM_JINJA_MAX_DEPTH) jfail(a, LLM_ERANGE, "tojson: nesting deeper than %d", LLM_JINJA_MAX_DEPTH);
  int indent = o->indent > 0;
  const char *item_sep = o->item_sep ? o->item_sep : indent ? "," : ", ";
  const char *key_sep = o->key_sep ? o->key_sep : ": ";
  char num[40];
  switch (v.t) {
  case JV_NONE: jsb_addz(a, b, "null"); return;
  case JV_UNDEF: jsb_addz(a, b, o->keep_undefined ? "undefined" : "null"); return;
  case JV_BOOL: jsb_addz(a, b, v.num ? "true" : "false"); return;
  case JV_INT: case JV_FLOAT:
    if (isfinite(v.num)) js_number(v.num, num);
    else strcpy(num, "null");
    jsb_addz(a, b, num);
    return;
  case JV_STR: json_string(a, b, v.s, v.n, o->ascii); return;
  case JV_LIST: {
    const jlist *l = v.p;
    if (l->tuple) jfail(a, LLM_EINVAL, "cannot convert to JSON: TupleValue");
    jsb_add(a, b, "[", 1);
    for (size_t i = 0; i < l->n; i++) {
      if (i) jsb_addz(a, b, item_sep);
      if (indent) padding(a, b, o, depth + 1);
      jv_json(a, b, l->v[i], o, depth + 1);
    }
    if (indent && l->n) padding(a, b, o, depth);
    jsb_add(a, b, "]", 1);
    return;
  }
  case JV_DICT: case JV_NS: case JV_LOOP: {
    const jdict *d = jv_as_dict(a, v);
    jsb_add(a, b, "{", 1);
    for (size_t i = 0; i < d->n; i++) {
      if (i) jsb_addz(a, b, item_sep);
      if (indent) padding(a, b, o, depth + 1);
      json_string(a, b, d->k[i], d->kn[i], o->ascii);
      jsb_addz(a, b, key_sep);
      jv_json(a, b, d->v[i], o, depth + 1);
    }
    if (indent && d->n) padding(a, b, o, depth);
    jsb_add(a, b, "}", 1);
    return;
  }
  default: jfail(a, LLM_EINVAL, "cannot convert to JSON: %s", jv_type_name(v));
  }
}

/* ---- equality ------------------------------------------------------------ */

/* JavaScript's Number(string): white space trimmed, "" is 0, decimal,
** Infinity, or 0x/0o/0b integers; anything else NaN. */
static double js_to_number(const char *s, size_t n) {
  size_t k;
  while (n && (k = js_space_len(s, n)) > 0) s += k, n -= k;
  n -= js_space_len_back(s, n);
  if (n == 0) return 0;
  if (n > 300) return NAN;
  char buf[304];
  memcpy(buf, s, n);
  buf[n] = 0;
  const char *body = buf + (buf[0] == '+' || buf[0] == '-');
  if (!strcmp(body, "Infinity")) return buf[0] == '-' ? -INFINITY : INFINITY;
  if (buf[0] == '0' && n > 2 && strchr("xXoObB", buf[1])) {
    int base = buf[1] == 'x' || buf[1] == 'X' ? 16 : buf[1] == 'o' || buf[1] == 'O' ? 8 : 2;
    double v = 0;
    for (size_t i = 2; i < n; i++) {
      int d = buf[i] >= '0' && buf[i] <= '9' ? buf[i] - '0'
              : (buf[i] | 32) >= 'a' && (buf[i] | 32) <= 'f' ? (buf[i] | 32) - 'a' + 10 : 99;
      if (d >= base) return NAN;
      v = v * base + d;
    }
    return v;
  }
  for (const char *c = body; *c; c++) /* strtod also takes inf, nan, hex */
    if (!strchr("0123456789.eE+-", *c)) return NAN;
  char *end;
  double v = strtod(buf, &end);
  return *end || end == buf ? NAN : v;
}

static int is_nullish(jval v) { return v.t == JV_UNDEF || v.t == JV_NONE; }
static int is_numeric(jval v) { return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT; }

int jv_loose_eq(jval x, jval y) {
  if (is_nullish(x) || is_nullish(y)) return is_nullish(x) && is_nullish(y);
  if (is_numeric(x) && is_numeric(y)) return x.num == y.num;
  if (x.t == JV_STR && y.t == JV_STR) return x.n == y.n && !memcmp(x.s, y.s, x.n);
  if (x.t == JV_STR && is_numeric(y)) return js_to_number(x.s, x.n) == y.num;
  if (y.t == JV_STR && is_numeric(x)) return js_to_number(y.s, y.n) == x.num;
  return x.t == y.t && x.p == y.p && x.p != NULL;
}

int jv_strict_eq(jval x, jval y) {
  int xn = x.t == JV_INT || x.t == JV_FLOAT, yn = y.t == JV_INT || y.t == JV_FLOAT;
  if (xn || yn) return xn && yn && x.num == y.num;
  if (x.t != y.t) return 0;
  switch (x.t) {
  case JV_UNDEF: case JV_NONE: return 1;
  case JV_BOOL: return x.num == y.num;
  case JV_STR: return x.n == y.n && !memcmp(x.s, y.s, x.n);
  default: return x.p == y.p;
  }
}
