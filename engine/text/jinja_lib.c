/*
** jinja_lib.c: the filters, tests, global functions and methods of
** @huggingface/jinja, with its JavaScript semantics.
**
** Filters: safe, tojson(indent, ensure_ascii, separators), string, length,
** first, last, list, reverse, sort(reverse, case_sensitive, attribute),
** dictsort(case_sensitive, by, reverse), join(sep), unique, trim, upper, lower, title,
** capitalize, indent(width, first, blank), replace(old, new, count), int,
** float, abs, bool, default(value, boolean), items (and a dict's get, keys,
** values), selectattr/rejectattr(attr, test, value), map(attribute=).
** Tests: defined, undefined, none, boolean, true, false, number, integer,
** string, mapping, iterable, sequence, callable, odd, even, lower, upper,
** equalto/eq (with selectattr). Globals: raise_exception, range, namespace,
** strftime_now. Methods of strings: upper, lower, strip, lstrip, rstrip
** (all three ignore their argument and strip white space, as the oracle),
** title, capitalize, startswith, endswith, split, replace; of dicts: get,
** items, keys, values, dictsort.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/jinja_internal.h"
#include "text/utf8.h"

static int is(const char *name, size_t n, const char *want) {
  return strlen(want) == n && !memcmp(name, want, n);
}

/* ---- strings ------------------------------------------------------------- */

static jval trim(jval s, int left, int right) {
  size_t k;
  while (left && s.n && (k = js_space_len(s.s, s.n)) > 0) s.s += k, s.n -= k;
  if (right) s.n -= js_space_len_back(s.s, s.n);
  return s;
}

static int ascii_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

enum { CASE_UPPER, CASE_LOWER, CASE_TITLE, CASE_CAPITALIZE };

/* Case mapping of ASCII letters (title: a letter after a non-word
** character, as /\b\w/ does; capitalize: the first character only). */
static jval recase(jarena *a, jval s, int how) {
  char *out = ja_strdup(a, s.s, s.n);
  for (size_t i = 0; i < s.n; i++) {
    char c = out[i];
    int up = how == CASE_UPPER || (how == CASE_TITLE && (i == 0 || !ascii_word(s.s[i - 1]))) ||
             (how == CASE_CAPITALIZE && i == 0);
    if (up && c >= 'a' && c <= 'z') out[i] = (char)(c - 32);
    if (how == CASE_LOWER && c >= 'A' && c <= 'Z') out[i] = (char)(c + 32);
  }
  return jv_str(out, s.n);
}

static int starts(jval s, jval p) { return p.n <= s.n && !memcmp(s.s, p.s, p.n); }
static int ends(jval s, jval p) { return p.n <= s.n && !memcmp(s.s + s.n - p.n, p.s, p.n); }

static jval affix_test(jarena *a, jval s, const jargs *args, int start, const char *what) {
  if (args->npos == 0) jfail(a, LLM_EINVAL, "%s() requires at least one argument", what);
  jval p = args->pos[0];
  if (p.t == JV_STR) return jv_bool(start ? starts(s, p) : ends(s, p));
  if (p.t != JV_LIST) jfail(a, LLM_EINVAL, "%s() argument must be a string or tuple of strings", what);
  const jlist *l = p.p;
  for (size_t i = 0; i < l->n; i++) {
    if (l->v[i].t != JV_STR) jfail(a, LLM_EINVAL, "%s() tuple elements must be strings", what);
    if (start ? starts(s, l->v[i]) : ends(s, l->v[i])) return jv_bool(1);
  }
  return jv_bool(0);
}

static void list_push(jarena *a, jlist *l, size_t *cap, jval v) {
  if (l->n == *cap) {
    *cap = *cap ? *cap * 2 : 8;
    jval *nv = ja_alloc(a, *cap * sizeof *nv);
    if (l->n) memcpy(nv, l->v, l->n * sizeof *nv);
    l->v = nv;
  }
  l->v[l->n++] = v;
}

/* memmem (linear time), also for empty texts. */
static const char *find(const char *s, size_t n, const char *p, size_t pn) {
  return pn == 0 ? s : n < pn ? NULL : memmem(s, n, p, pn);
}

/* str.split(sep=None, maxsplit=-1) as the oracle: with no separator, runs
** of non-space, the last piece keeping the rest of the text. */
static jval split(jarena *a, jval s, const jargs *args) {
  jval sep = args->npos > 0 ? args->pos[0] : (jval){.t = JV_NONE};
  jval max = args->npos > 1 ? args->pos[1] : jv_num(JV_INT, -1);
  if (sep.t != JV_STR && sep.t != JV_NONE) jfail(a, LLM_EINVAL, "sep argument must be a string or null");
  if (max.t != JV_INT) jfail(a, LLM_EINVAL, "maxsplit argument must be a number");
  jval out = jv_list(a, 0);
  jlist *l = out.p;
  size_t cap = 0;
  if (sep.t == JV_NONE) {
    jval t = trim(s, 1, 0);
    size_t i = 0, k;
    while (i < t.n) {
      while (i < t.n && (k = js_space_len(t.s + i, t.n - i)) > 0) i += k;
      if (i >= t.n) break;
      size_t start = i;
      while (i < t.n && js_space_len(t.s + i, t.n - i) == 0) i++;
      if (max.num >= 0 && (double)l->n >= max.num) {
        list_push(a, l, &cap, jv_str(t.s + start, t.n - start));
        break;
      }
      list_push(a, l, &cap, jv_str(t.s + start, i - start));
    }
    return out;
  }
  if (sep.n == 0) jfail(a, LLM_EINVAL, "empty separator");
  const char *p = s.s, *end = s.s + s.n, *hit;
  while ((hit = find(p, (size_t)(end - p), sep.s, sep.n)) != NULL) {
    if (max.num >= 0 && (double)l->n >= max.num) break;
    list_push(a, l, &cap, jv_str(p, (size_t)(hit - p)));
    p = hit + sep.n;
  }
  list_push(a, l, &cap, jv_str(p, (size_t)(end - p)));
  return out;
}

/* str.replace(old, new, count) as the oracle: an empty old matches before
** every code point and at the end. */
static jval replace(jarena *a, jval s, const jargs *args) {
  if (args->npos < 2) jfail(a, LLM_EINVAL, "replace() requires at least two arguments");
  jval old = args->pos[0], rep = args->pos[1];
  if (old.t != JV_STR || rep.t != JV_STR) jfail(a, LLM_EINVAL, "replace() arguments must be strings");
  jval count = args->npos > 2 ? args->pos[2] : (jval){.t = JV_NONE};
  jval *kw = args->npos == 2 && args->kw ? jdict_get(args->kw, "count", 5) : NULL;
  if (kw) count = *kw;
  if (count.t != JV_INT && count.t != JV_NONE)
    jfail(a, LLM_EINVAL, "replace() count argument must be a number or null");
  double left = count.t == JV_NONE || count.num < 0 ? INFINITY : count.num;
  jsb b = {0};
  size_t i = 0;
  while (i <= s.n) {
    const char *hit = old.n ? find(s.s + i, s.n - i, old.s, old.n) : s.s + i;
    if (!hit || left <= 0) break;
    size_t at = (size_t)(hit - s.s);
    jsb_add(a, &b, s.s + i, at - i);
    jsb_add(a, &b, rep.s, rep.n);
    left--;
    if (old.n) {
      i = at + old.n;
    } else { /* the next code point, then match again after it */
      if (at == s.n) { i = s.n + 1; break; }
      size_t e = at + 1;
      while (e < s.n && ((unsigned char)s.s[e] & 0xC0) == 0x80) e++;
      jsb_add(a, &b, s.s + at, e - at);
      i = e;
    }
  }
  if (i < s.n) jsb_add(a, &b, s.s + i, s.n - i);
  return jv_str(b.s, b.len);
}

/* ---- sorting ------------------------------------------------------------- */

/* A code point's place in UTF-16 order (what JavaScript's < compares):
** above U+D7FF, the pairs for U+10000.. come before U+E000..U+FFFF. */
static uint32_t utf16_rank(uint32_t cp) { return cp >= 0xE000 && cp < 0x10000 ? cp + 0x100000 : cp; }

static uint32_t next_cp(const char *s, size_t n, size_t *i, int fold) {
  int k;
  int32_t cp = llm_utf8_decode((const uint8_t *)s + *i, n - *i, &k);
  *i += (size_t)k;
  if (fold && cp >= 'A' && cp <= 'Z') cp += 32;
  return cp < 0 ? 0xFFFD : (uint32_t)cp;
}

/* compareRuntimeValues of the oracle: numbers (and booleans) by value,
** strings in UTF-16 order (folding ASCII case unless case_sensitive), none
** with none; anything else is an error. */
static int compare(jarena *a, jval x, jval y, int case_sensitive) {
  if (x.t == JV_NONE || y.t == JV_NONE || x.t == JV_UNDEF || y.t == JV_UNDEF) {
    if (x.t == y.t) return 0;
    jfail(a, LLM_EINVAL, "cannot compare %s with %s", jv_type_name(x), jv_type_name(y));
  }
  int xn = x.t == JV_INT || x.t == JV_FLOAT || x.t == JV_BOOL;
  int yn = y.t == JV_INT || y.t == JV_FLOAT || y.t == JV_BOOL;
  if (xn && yn) return x.num < y.num ? -1 : x.num > y.num ? 1 : 0;
  if (x.t != JV_STR || y.t != JV_STR)
    jfail(a, LLM_EINVAL, "cannot compare %s with %s", jv_type_name(x), jv_type_name(y));
  size_t i = 0, j = 0;
  while (i < x.n && j < y.n) {
    uint32_t p = utf16_rank(next_cp(x.s, x.n, &i, !case_sensitive));
    uint32_t q = utf16_rank(next_cp(y.s, y.n, &j, !case_sensitive));
    if (p != q) return p < q ? -1 : 1;
  }
  return i < x.n ? 1 : j < y.n ? -1 : 0;
}

typedef struct sort_spec {
  int case_sensitive, reverse;
  int key_index;           /* compare item[key_index] (dictsort), or -1 */
  const char *attr;        /* or this attribute path (sort), or NULL */
  size_t attr_n;
} sort_spec;

static jval sort_key(jarena *a, jval v, const sort_spec *s) {
  if (s->key_index >= 0) return ((jlist *)v.p)->v[s->key_index];
  if (!s->attr) return v;
  for (size_t i = 0; i <= s->attr_n;) { /* a dotted path: keys or list indices */
    const char *dot = memchr(s->attr + i, '.', s->attr_n - i);
    size_t end = dot ? (size_t)(dot - s->attr) : s->attr_n;
    if (v.t == JV_DICT || v.t == JV_NS || v.t == JV_LOOP) {
      jval *x = jdict_get(jv_as_dict(a, v), s->attr + i, end - i);
      v = x ? *x : JV_UNDEFINED;
    } else if (v.t == JV_LIST) {
      size_t idx = 0, k = i;
      while (k < end && s->attr[k] >= '0' && s->attr[k] <= '9' && idx < ((size_t)1 << 40))
        idx = idx * 10 + (size_t)(s->attr[k++] - '0');
      v = k > i && idx < ((jlist *)v.p)->n ? ((jlist *)v.p)->v[idx] : JV_UNDEFINED;
    } else {
      return JV_UNDEFINED;
    }
    i = end + 1;
  }
  return v;
}

/* A stable merge sort (as Array.prototype.sort) of v[0..n). */
static void merge_sort(jarena *a, jval *v, jval *tmp, size_t n, const sort_spec *s) {
  if (n < 2) return;
  size_t h = n / 2;
  merge_sort(a, v, tmp, h, s);
  merge_sort(a, v + h, tmp, n - h, s);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n) {
    int c = compare(a, sort_key(a, v[j], s), sort_key(a, v[i], s), s->case_sensitive);
    tmp[k++] = (s->reverse ? -c : c) < 0 ? v[j++] : v[i++];
  }
  while (i < h) tmp[k++] = v[i++];
  while (j < n) tmp[k++] = v[j++];
  memcpy(v, tmp, n * sizeof *v);
}

static jval sorted(jarena *a, jval list, const sort_spec *s) {
  const jlist *l = list.p;
  jval out = jv_list(a, l->n);
  if (l->n) memcpy(((jlist *)out.p)->v, l->v, l->n * sizeof(jval));
  merge_sort(a, ((jlist *)out.p)->v, ja_alloc(a, (l->n + 1) * sizeof(jval)), l->n, s);
  return out;
}

static jval arg_or(const jargs *args, size_t i, const char *kw, jval fallback) {
  if (i < args->npos) return args->pos[i];
  jval *v = args->kw ? jdict_get(args->kw, kw, strlen(kw)) : NULL;
  return v ? *v : fallback;
}

static int bool_arg(jarena *a, const jargs *args, size_t i, const char *kw) {
  jval v = arg_or(args, i, kw, jv_bool(0));
  if (v.t != JV_BOOL) jfail(a, LLM_EINVAL, "%s must be a boolean", kw);
  return v.num != 0;
}

static jval dict_listing(jarena *a, jval self, int what);

/* dict.dictsort(case_sensitive=false, by='key', reverse=false) */
static jval dictsort(jarena *a, jval d, const jargs *args) {
  sort_spec s = {.case_sensitive = bool_arg(a, args, 0, "case_sensitive"),
                 .reverse = bool_arg(a, args, 2, "reverse")};
  jval by = arg_or(args, 1, "by", jv_str("key", 3));
  if (by.t != JV_STR || !(is(by.s, by.n, "key") || is(by.s, by.n, "value")))
    jfail(a, LLM_EINVAL, "by must be either 'key' or 'value'");
  s.key_index = by.s[0] == 'v';
  return sorted(a, dict_listing(a, d, JB_D_ITEMS), &s);
}

/* list|sort(reverse=false, case_sensitive=false, attribute=none) */
static jval sort_filter(jarena *a, jval list, const jargs *args) {
  sort_spec s = {.reverse = bool_arg(a, args, 0, "reverse"),
                 .case_sensitive = bool_arg(a, args, 1, "case_sensitive"), .key_index = -1};
  jval attr = arg_or(args, 2, "attribute", (jval){.t = JV_NONE});
  char num[32];
  if (attr.t == JV_INT) {
    snprintf(num, sizeof num, "%.0f", attr.num);
    attr = jv_str(ja_strdup(a, num, strlen(num)), strlen(num));
  }
  if (attr.t != JV_STR && attr.t != JV_NONE) jfail(a, LLM_EINVAL, "attribute must be a string, integer, or null");
  if (attr.t == JV_STR) {
    s.attr = attr.s;
    s.attr_n = attr.n;
  }
  return sorted(a, list, &s);
}

/* ---- built-in functions -------------------------------------------------- */

static void no_keywords(jarena *a, const jargs *args, const char *what) {
  if (args->kw && args->kw->n) jfail(a, LLM_EINVAL, "unsupported: keyword arguments to %s", what);
}

static jval range(jarena *a, const jargs *args) {
  no_keywords(a, args, "range()");
  if (args->npos < 1 || args->npos > 3) jfail(a, LLM_EINVAL, "range() takes 1 to 3 arguments");
  double v[3] = {0, 0, 1};
  for (size_t i = 0; i < args->npos; i++) {
    if (args->pos[i].t != JV_INT && args->pos[i].t != JV_FLOAT)
      jfail(a, LLM_EINVAL, "unsupported: range() of %s", jv_type_name(args->pos[i]));
    v[i + (args->npos == 1)] = args->pos[i].num;
  }
  if (v[2] == 0) jfail(a, LLM_EINVAL, "range() step must not be zero");
  double count = ceil((v[1] - v[0]) / v[2]);
  if (!(count > 0)) count = 0;
  if (count > (double)(1 << 20)) jfail(a, LLM_ERANGE, "range() of more than %d numbers", 1 << 20);
  jval out = jv_list(a, (size_t)count);
  jlist *l = out.p;
  size_t n = 0;
  for (double x = v[0]; n < l->n && (v[2] > 0 ? x < v[1] : x > v[1]); x += v[2])
    l->v[n++] = jv_num(x == floor(x) ? JV_INT : JV_FLOAT, x);
  l->n = n;
  return out;
}

static jval namespace(jarena *a, const jargs *args) {
  if (args->npos > 1) jfail(a, LLM_EINVAL, "namespace expected at most 1 argument, got %zu", args->npos);
  jval ns = jv_dict(a, JV_NS);
  if (args->npos == 1) {
    jval src = args->pos[0];
    if (src.t == JV_DICT || src.t == JV_LOOP) {
      const jdict *d = jv_as_dict(a, src);
      for (size_t i = 0; i < d->n; i++) jdict_set(a, ns.p, d->k[i], d->kn[i], d->v[i]);
    } else if (src.t == JV_LIST) {
      const jlist *l = src.p;
      for (size_t i = 0; i < l->n; i++) {
        const jlist *pair = l->v[i].t == JV_LIST ? l->v[i].p : NULL;
        if (!pair || pair->n != 2 || pair->v[0].t != JV_STR)
          jfail(a, LLM_EINVAL, "unsupported: namespace() of this list (want [key, value] pairs)");
        jdict_set(a, ns.p, pair->v[0].s, pair->v[0].n, pair->v[1]);
      }
    } else {
      jfail(a, LLM_EINVAL, "'%s' object is not iterable", jv_type_name(src));
    }
  }
  for (size_t i = 0; args->kw && i < args->kw->n; i++)
    jdict_set(a, ns.p, args->kw->k[i], args->kw->kn[i], args->kw->v[i]);
  return ns;
}

/* strftime_now(format) with the current UTC time; %Y %m %d %b %B %H %M %%
** as the oracle (English month names), other % sequences kept. */
static jval strftime_now(jarena *a, const jargs *args) {
  static const char *const months[] = {"January", "February", "March", "April", "May", "June",
                                       "July", "August", "September", "October", "November",
                                       "December"};
  if (args->npos < 1 || args->pos[0].t != JV_STR) jfail(a, LLM_EINVAL, "strftime_now() needs a format string");
  time_t now = time(NULL);
  struct tm tm;
  if (!gmtime_r(&now, &tm)) jfail(a, LLM_EINVAL, "strftime_now(): no clock");
  jval f = args->pos[0];
  jsb b = {0};
  char num[16];
  for (size_t i = 0; i < f.n; i++) {
    char c = i + 1 < f.n && f.s[i] == '%' ? f.s[i + 1] : 0;
    if (!c || !strchr("YmdbBHM%", c)) {
      jsb_add(a, &b, f.s + i, 1);
      continue;
    }
    i++;
    int v = c == 'Y' ? tm.tm_year + 1900 : c == 'm' ? tm.tm_mon + 1 : c == 'd' ? tm.tm_mday
            : c == 'H' ? tm.tm_hour : tm.tm_min;
    if (c == '%') jsb_add(a, &b, "%", 1);
    else if (c == 'b') jsb_add(a, &b, months[tm.tm_mon], 3);
    else if (c == 'B') jsb_addz(a, &b, months[tm.tm_mon]);
    else {
      snprintf(num, sizeof num, c == 'Y' ? "%d" : "%02d", v);
      jsb_addz(a, &b, num);
    }
  }
  return jv_str(b.s, b.len);
}

static jval dict_listing(jarena *a, jval self, int what) {
  const jdict *d = jv_as_dict(a, self);
  jval out = jv_list(a, d->n);
  for (size_t i = 0; i < d->n; i++) {
    jval key = jv_str(d->k[i], d->kn[i]);
    if (what == JB_D_ITEMS) {
      jval pair = jv_list(a, 2);
      ((jlist *)pair.p)->v[0] = key;
      ((jlist *)pair.p)->v[1] = d->v[i];
      ((jlist *)out.p)->v[i] = pair;
    } else {
      ((jlist *)out.p)->v[i] = what == JB_D_KEYS ? key : d->v[i];
    }
  }
  return out;
}

jval jinja_builtin(jrender *r, const jfunc *f, jargs *args) {
  jarena *a = r->a;
  jval s = f->self;
  switch (f->builtin) {
  case JB_RAISE: {
    jsb msg = {0};
    for (size_t i = 0; i < args->npos; i++) {
      if (i) jsb_add(a, &msg, ",", 1);
      if (args->pos[i].t != JV_NONE && args->pos[i].t != JV_UNDEF) jv_print_raw(a, &msg, args->pos[i]);
    }
    jfail(a, LLM_EINVAL, "raise_exception: %.*s", (int)(msg.len > 300 ? 300 : msg.len), msg.s ? msg.s : "");
  }
  case JB_RANGE: return range(a, args);
  case JB_NAMESPACE: return namespace(a, args);
  case JB_STRFTIME: return strftime_now(a, args);
  case JB_S_REPLACE: return replace(a, s, args);
  case JB_D_DICTSORT: return dictsort(a, s, args);
  case JB_D_GET: {
    if (args->npos < 1 || args->pos[0].t != JV_STR)
      jfail(a, LLM_EINVAL, "object key must be a string: got %s",
            args->npos ? jv_type_name(args->pos[0]) : "undefined");
    jval *v = jdict_get(jv_as_dict(a, s), args->pos[0].s, args->pos[0].n);
    return v ? *v : args->npos > 1 ? args->pos[1] : (jval){.t = JV_NONE};
  }
  default: break;
  }
  no_keywords(a, args, "a method");
  switch (f->builtin) {
  case JB_S_UPPER: return recase(a, s, CASE_UPPER);
  case JB_S_LOWER: return recase(a, s, CASE_LOWER);
  case JB_S_TITLE: return recase(a, s, CASE_TITLE);
  case JB_S_CAPITALIZE: return recase(a, s, CASE_CAPITALIZE);
  case JB_S_STRIP: return trim(s, 1, 1);
  case JB_S_LSTRIP: return trim(s, 1, 0);
  case JB_S_RSTRIP: return trim(s, 0, 1);
  case JB_S_STARTSWITH: return affix_test(a, s, args, 1, "startswith");
  case JB_S_ENDSWITH: return affix_test(a, s, args, 0, "endswith");
  case JB_S_SPLIT: return split(a, s, args);
  default: return dict_listing(a, s, f->builtin); /* JB_D_ITEMS/KEYS/VALUES */
  }
}

/* ---- tests --------------------------------------------------------------- */

int jinja_test(jrender *r, jval v, const char *name, size_t n, jval arg, int has_arg) {
  int t = v.t;
  if (is(name, n, "defined")) return t != JV_UNDEF;
  if (is(name, n, "undefined")) return t == JV_UNDEF;
  if (is(name, n, "none")) return t == JV_NONE;
  if (is(name, n, "boolean")) return t == JV_BOOL;
  if (is(name, n, "true")) return t == JV_BOOL && v.num;
  if (is(name, n, "false")) return t == JV_BOOL && !v.num;
  if (is(name, n, "number")) return t == JV_INT || t == JV_FLOAT;
  if (is(name, n, "integer")) return t == JV_INT;
  if (is(name, n, "string")) return t == JV_STR;
  if (is(name, n, "mapping")) return t == JV_DICT || t == JV_LOOP;
  if (is(name, n, "iterable")) return (t == JV_LIST && !((jlist *)v.p)->tuple) || t == JV_STR;
  if (is(name, n, "sequence")) return t == JV_LIST || t == JV_DICT || t == JV_LOOP || t == JV_STR;
  if (is(name, n, "callable")) return t == JV_FUNC;
  if (is(name, n, "odd") || is(name, n, "even")) {
    if (t != JV_INT) jfail(r->a, LLM_EINVAL, "cannot %.*s on %s", (int)n, name, jv_type_name(v));
    return (fmod(v.num, 2) != 0) == (name[0] == 'o');
  }
  if (is(name, n, "lower") || is(name, n, "upper")) {
    if (t != JV_STR) return 0;
    jval c = recase(r->a, v, name[0] == 'l' ? CASE_LOWER : CASE_UPPER);
    return !memcmp(c.s, v.s, v.n);
  }
  if (is(name, n, "equalto") || is(name, n, "eq")) {
    if (!has_arg) jfail(r->a, LLM_EINVAL, "unsupported: the test %.*s without a value", (int)n, name);
    return jv_strict_eq(v, arg);
  }
  jfail(r->a, LLM_EINVAL, "unknown test: %.*s", (int)(n > 60 ? 60 : n), name);
}

/* ---- filters ------------------------------------------------------------- */

static jval json_filter(jarena *a, jval v, const jargs *args) {
  jjson_opts o = {.indent = -1};
  jval *x;
  const jdict *kw = args->kw;
  if (kw && (x = jdict_get((jdict *)kw, "indent", 6)) && x->t != JV_NONE) {
    if (x->t != JV_INT) jfail(a, LLM_EINVAL, "if set, indent must be a number");
    if (x->num < 0 || x->num > 64) jfail(a, LLM_EINVAL, "unsupported: tojson indent %g", x->num);
    o.indent = (int)x->num;
  }
  if (kw && (x = jdict_get((jdict *)kw, "ensure_ascii", 12))) {
    if (x->t != JV_BOOL) jfail(a, LLM_EINVAL, "if set, ensure_ascii must be a boolean");
    o.ascii = x->num != 0;
  }
  if (kw && (x = jdict_get((jdict *)kw, "sort_keys", 9))) {
    if (x->t != JV_BOOL) jfail(a, LLM_EINVAL, "if set, sort_keys must be a boolean");
    if (x->num) jfail(a, LLM_EINVAL, "unsupported: tojson(sort_keys=true)");
  }
  if (kw && (x = jdict_get((jdict *)kw, "separators", 10)) && x->t != JV_NONE) {
    const jlist *l = x->t == JV_LIST ? x->p : NULL;
    if (!l || l->n != 2 || l->v[0].t != JV_STR || l->v[1].t != JV_STR)
      jfail(a, LLM_EINVAL, "separators must be a tuple of two strings");
    o.item_sep = ja_strdup(a, l->v[0].s, l->v[0].n);
    o.key_sep = ja_strdup(a, l->v[1].s, l->v[1].n);
  }
  jsb b = {0};
  jv_json(a, &b, v, &o, 0);
  return jv_str(b.s, b.len);
}

static jval to_string(jarena *a, jval v) {
  jsb b = {0};
  jv_print(a, &b, v);
  return jv_str(b.s, b.len);
}

/* Joins the values (a string: its code points) with sep. */
static jval join(jarena *a, jval v, jval sep) {
  jsb b = {0};
  if (v.t == JV_STR) {
    for (size_t i = 0; i < v.n; i++) {
      if (i && ((unsigned char)v.s[i] & 0xC0) != 0x80) jsb_add(a, &b, sep.s, sep.n);
      jsb_add(a, &b, v.s + i, 1);
    }
  } else {
    const jlist *l = v.p;
    for (size_t i = 0; i < l->n; i++) {
      if (i) jsb_add(a, &b, sep.s, sep.n);
      if (l->v[i].t != JV_NONE && l->v[i].t != JV_UNDEF) jv_print_raw(a, &b, l->v[i]);
    }
  }
  return jv_str(b.s, b.len);
}

static jval indent(jarena *a, jval s, jval width, int first, int blank) {
  jsb pad = {0}, b = {0};
  if (width.t == JV_STR) jsb_add(a, &pad, width.s, width.n);
  else
    for (double i = 0; i < width.num && i < 4096; i++) jsb_add(a, &pad, " ", 1);
  size_t start = 0;
  for (size_t line = 0;; line++) {
    const char *nl = memchr(s.s + start, '\n', s.n - start);
    size_t end = nl ? (size_t)(nl - s.s) : s.n;
    if ((first || line > 0) && (blank || end > start)) jsb_add(a, &b, pad.s, pad.len);
    jsb_add(a, &b, s.s + start, end - start);
    if (!nl) break;
    jsb_add(a, &b, "\n", 1);
    start = end + 1;
  }
  return jv_str(b.s, b.len);
}

static jval select_attr(jrender *r, jval list, const jnode *call, int select, jenv *env) {
  jarena *a = r->a;
  const jlist *l = list.p;
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].t != JV_DICT && l->v[i].t != JV_NS && l->v[i].t != JV_LOOP)
      jfail(a, LLM_EINVAL, "`%s` can only be applied to array of objects", select ? "selectattr" : "rejectattr");
  jval parts[3] = {JV_UNDEFINED, JV_UNDEFINED, JV_UNDEFINED};
  for (size_t i = 0; i < call->list.n; i++) {
    if (call->list.v[i]->kind != N_STR)
      jfail(a, LLM_EINVAL, "arguments of `%s` must be strings", select ? "selectattr" : "rejectattr");
    if (i < 3) parts[i] = jinja_eval(r, call->list.v[i], env);
  }
  jval out = jv_list(a, l->n);
  jlist *o = out.p;
  o->n = 0;
  for (size_t i = 0; i < l->n; i++) {
    jval *x = jdict_get(jv_as_dict(a, l->v[i]), parts[0].s, parts[0].n);
    int hit = 0;
    if (x && parts[1].t == JV_STR)
      hit = jinja_test(r, *x, parts[1].s, parts[1].n, parts[2], parts[2].t != JV_UNDEF);
    else if (x)
      hit = jv_truthy(*x);
    if (hit == select) o->v[o->n++] = l->v[i];
  }
  return out;
}

static jval map_attr(jarena *a, jval list, const jargs *args) {
  jval *attr = args->kw ? jdict_get(args->kw, "attribute", 9) : NULL;
  if (!attr) jfail(a, LLM_EINVAL, "unsupported: map without attribute=");
  if (attr->t != JV_STR) jfail(a, LLM_EINVAL, "attribute must be a string");
  if (memchr(attr->s, '.', attr->n)) jfail(a, LLM_EINVAL, "unsupported: map(attribute=) with a dotted path");
  jval *def = jdict_get(args->kw, "default", 7);
  const jlist *l = list.p;
  jval out = jv_list(a, l->n);
  for (size_t i = 0; i < l->n; i++) {
    if (l->v[i].t != JV_DICT && l->v[i].t != JV_NS && l->v[i].t != JV_LOOP)
      jfail(a, LLM_EINVAL, "items in map must be an object");
    jval *x = jdict_get(jv_as_dict(a, l->v[i]), attr->s, attr->n);
    ((jlist *)out.p)->v[i] = x && x->t != JV_UNDEF ? *x : def ? *def : JV_UNDEFINED;
  }
  return out;
}

static jval number_filter(jarena *a, jval v, int to_int, jval fallback) {
  if (v.t == JV_STR) {
    char buf[64];
    size_t k = v.n < sizeof buf - 1 ? v.n : sizeof buf - 1;
    memcpy(buf, v.s, k);
    buf[k] = 0;
    char *p = buf, *end;
    while (*p && js_space_len(p, strlen(p))) p += js_space_len(p, strlen(p));
    double x = to_int ? (double)strtoll(p, &end, 10) : strtod(p, &end);
    if (end == p) return fallback;
    return jv_num(to_int ? JV_INT : JV_FLOAT, x);
  }
  if (v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL)
    return jv_num(to_int ? JV_INT : JV_FLOAT, to_int ? trunc(v.num) + 0.0 : v.num);
  jfail(a, LLM_EINVAL, "cannot apply filter \"%s\" to type: %s", to_int ? "int" : "float", jv_type_name(v));
}

static jval plain_filter(jrender *r, jval v, const char *f, size_t n) {
  jarena *a = r->a;
  if (is(f, n, "safe")) return v;
  if (is(f, n, "tojson")) return json_filter(a, v, &(jargs){0});
  switch (v.t) {
  case JV_LIST: {
    const jlist *l = v.p;
    if (is(f, n, "list")) return v;
    if (is(f, n, "length")) return jv_num(JV_INT, (double)l->n);
    if (is(f, n, "first") || is(f, n, "last")) {
      if (!l->n) jfail(a, LLM_EINVAL, "unsupported: %.*s of an empty list", (int)n, f);
      return l->v[f[0] == 'f' ? 0 : l->n - 1];
    }
    if (is(f, n, "reverse")) {
      jval out = jv_list(a, l->n);
      for (size_t i = 0; i < l->n; i++) ((jlist *)out.p)->v[i] = l->v[l->n - 1 - i];
      return out;
    }
    if (is(f, n, "join")) return join(a, v, jv_str("", 0));
    if (is(f, n, "sort")) return sort_filter(a, v, &(jargs){0});
    if (is(f, n, "string")) {
      jsb b = {0};
      jv_json(a, &b, v, &(jjson_opts){.indent = -1, .keep_undefined = 1}, 0);
      return jv_str(b.s, b.len);
    }
    if (is(f, n, "unique")) {
      jval out = jv_list(a, l->n);
      jlist *o = out.p;
      o->n = 0;
      for (size_t i = 0; i < l->n; i++) {
        size_t j = 0;
        while (j < o->n && !jv_strict_eq(o->v[j], l->v[i])) j++;
        if (j == o->n) o->v[o->n++] = l->v[i];
      }
      return out;
    }
    break;
  }
  case JV_STR:
    if (is(f, n, "length")) return jv_num(JV_INT, (double)utf16_len(v.s, v.n));
    if (is(f, n, "upper")) return recase(a, v, CASE_UPPER);
    if (is(f, n, "lower")) return recase(a, v, CASE_LOWER);
    if (is(f, n, "title")) return recase(a, v, CASE_TITLE);
    if (is(f, n, "capitalize")) return recase(a, v, CASE_CAPITALIZE);
    if (is(f, n, "trim")) return trim(v, 1, 1);
    if (is(f, n, "indent")) return indent(a, v, jv_num(JV_INT, 4), 0, 0);
    if (is(f, n, "join") || is(f, n, "string")) return v;
    if (is(f, n, "int")) return number_filter(a, v, 1, jv_num(JV_INT, 0));
    if (is(f, n, "float")) return number_filter(a, v, 0, jv_num(JV_FLOAT, 0));
    break;
  case JV_INT: case JV_FLOAT:
    if (is(f, n, "abs")) return jv_num(v.t, fabs(v.num));
    if (is(f, n, "int") || is(f, n, "float")) return number_filter(a, v, f[0] == 'i', v);
    if (is(f, n, "string")) return to_string(a, v);
    break;
  case JV_DICT: case JV_LOOP:
    if (is(f, n, "length")) return jv_num(JV_INT, (double)jv_as_dict(a, v)->n);
    if (is(f, n, "items")) return dict_listing(a, v, JB_D_ITEMS);
    if (is(f, n, "keys")) return dict_listing(a, v, JB_D_KEYS);
    if (is(f, n, "values")) return dict_listing(a, v, JB_D_VALUES);
    if (is(f, n, "dictsort")) return dictsort(a, v, &(jargs){0});
    break;
  case JV_BOOL:
    if (is(f, n, "bool")) return v;
    if (is(f, n, "int") || is(f, n, "float")) return number_filter(a, v, f[0] == 'i', v);
    if (is(f, n, "string")) return to_string(a, v);
    break;
  default:
    jfail(a, LLM_EINVAL, "cannot apply filter \"%.*s\" to type: %s", (int)(n > 60 ? 60 : n), f, jv_type_name(v));
  }
  jfail(a, LLM_EINVAL, "unknown %s filter: %.*s", jv_type_name(v), (int)(n > 60 ? 60 : n), f);
}

jval jinja_filter(jrender *r, jval v, const jnode *filter, jenv *env) {
  jarena *a = r->a;
  if (filter->kind == N_IDENT) return plain_filter(r, v, filter->s, filter->n);
  if (filter->kind != N_CALL || filter->a->kind != N_IDENT) jfail(a, LLM_EINVAL, "unsupported filter expression");
  const char *f = filter->a->s;
  size_t n = filter->a->n;
  if ((v.t == JV_LIST && (is(f, n, "selectattr") || is(f, n, "rejectattr"))))
    return select_attr(r, v, filter, f[0] == 's', env);
  jargs args;
  jinja_eval_args(r, &filter->list, env, &args);
  r->a->line = filter->line;
  if (is(f, n, "tojson")) return json_filter(a, v, &args);
  if (is(f, n, "join")) {
    if (v.t != JV_STR && v.t != JV_LIST) jfail(a, LLM_EINVAL, "cannot apply filter \"join\" to type: %s", jv_type_name(v));
    jval sep = arg_or(&args, 0, "separator", jv_str("", 0));
    if (sep.t != JV_STR) jfail(a, LLM_EINVAL, "separator must be a string");
    return join(a, v, sep);
  }
  if (is(f, n, "int") || is(f, n, "float"))
    return number_filter(a, v, f[0] == 'i', arg_or(&args, 0, "default", jv_num(f[0] == 'i' ? JV_INT : JV_FLOAT, 0)));
  if (is(f, n, "default")) {
    jval def = args.npos > 0 ? args.pos[0] : jv_str("", 0);
    jval boolean = arg_or(&args, 1, "boolean", jv_bool(0));
    if (boolean.t != JV_BOOL) jfail(a, LLM_EINVAL, "`default` filter flag must be a boolean");
    return v.t == JV_UNDEF || (boolean.num && !jv_truthy(v)) ? def : v;
  }
  if (v.t == JV_LIST && is(f, n, "map")) return map_attr(a, v, &args);
  if (v.t == JV_LIST && is(f, n, "sort")) return sort_filter(a, v, &args);
  if (v.t == JV_STR && is(f, n, "indent")) {
    jval width = arg_or(&args, 0, "width", jv_num(JV_INT, 4));
    if (width.t != JV_INT && width.t != JV_STR) jfail(a, LLM_EINVAL, "width must be an integer or a string");
    return indent(a, v, width, jv_truthy(arg_or(&args, 1, "first", jv_bool(0))),
                  jv_truthy(arg_or(&args, 2, "blank", jv_bool(0))));
  }
  if (v.t == JV_STR && is(f, n, "replace")) return replace(a, v, &args);
  if (v.t == JV_DICT || v.t == JV_LOOP) {
    static const struct { const char *name; int builtin; } methods[] = {
      {"get", JB_D_GET}, {"items", JB_D_ITEMS}, {"keys", JB_D_KEYS}, {"values", JB_D_VALUES},
      {"dictsort", JB_D_DICTSORT}};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
      if (is(f, n, methods[i].name)) return jinja_builtin(r, &(jfunc){.builtin = methods[i].builtin, .self = v}, &args);
  }
  jfail(a, LLM_EINVAL, "unsupported filter %.*s(...) on %s", (int)(n > 60 ? 60 : n), f, jv_type_name(v));
}
