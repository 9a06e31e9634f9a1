/*
** hf_common.c: the helpers the tokenizer.json pipeline shares (see
** hf_internal.h): JSON fields as the reference's serde reads them, text
** with alignment, patterns and their matches, the split behaviours, and
** lossy UTF-8.
*/
#include "text/hf_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text/pretok.h"
#include "text/unicode.h"

/* ---- JSON fields --------------------------------------------------------- */

void hf_ctx_child(hf_ctx *child, const hf_ctx *parent, const char *field,
                  size_t i) {
  int k = snprintf(child->path, sizeof child->path, "%s.%s[%zu]",
                   parent->path, field, i);
  if (k < 0 || (size_t)k >= sizeof child->path) /* deep nesting: mark it */
    memcpy(child->path + sizeof child->path - 4, "...", 4);
  child->type = NULL;
}

int hf_fail(const hf_ctx *c, llm_err *err, int code, const char *fmt, ...) {
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->type)
    return llm_fail(err, code, "tokenizer.json %s (%s): %s", c->path,
                    c->type, msg);
  return llm_fail(err, code, "tokenizer.json %s: %s", c->path, msg);
}

int hf_get_type(const llm_json *node, hf_ctx *c, llm_err *err) {
  c->type = NULL;
  if (!node || node->type != LLM_JSON_OBJECT)
    return hf_fail(c, err, LLM_EINVAL, "expected an object or null, not %s",
                   node ? llm_json_type_name(node->type) : "nothing");
  const llm_json *t = llm_json_get(node, "type");
  if (!t) return hf_fail(c, err, LLM_EINVAL, "missing field \"type\"");
  if (t->type != LLM_JSON_STRING)
    return hf_fail(c, err, LLM_EINVAL, "\"type\" must be a string, not %s",
                   llm_json_type_name(t->type));
  c->type = t->str;
  return LLM_OK;
}

/* The field key of o, checked for presence and null as `how` says; NULL
** (and LLM_OK in *rc) when the default applies. */
static const llm_json *field(const llm_json *o, const char *key, int how,
                             const char *want, int *rc, const hf_ctx *c,
                             llm_err *err) {
  *rc = LLM_OK;
  const llm_json *v = llm_json_get(o, key);
  if (v && v->type == LLM_JSON_NULL && how == HF_NULLABLE) return NULL;
  if (!v) {
    if (how == HF_REQUIRED)
      *rc = hf_fail(c, err, LLM_EINVAL, "missing field \"%s\" (%s)", key,
                    want);
    return NULL;
  }
  return v;
}

static int wrong(const llm_json *v, const char *key, const char *want,
                 const hf_ctx *c, llm_err *err) {
  return hf_fail(c, err, LLM_EINVAL, "field \"%s\" must be %s, not %s", key,
                 want, llm_json_type_name(v->type));
}

int hf_get_bool(const llm_json *o, const char *key, int how, int dflt,
                int *out, const hf_ctx *c, llm_err *err) {
  int rc;
  const llm_json *v = field(o, key, how, "a boolean", &rc, c, err);
  *out = dflt;
  if (!v) return rc;
  if (v->type != LLM_JSON_BOOL) return wrong(v, key, "a boolean", c, err);
  *out = v->boolean;
  return LLM_OK;
}

int hf_get_str(const llm_json *o, const char *key, const char **out,
               size_t *len, const hf_ctx *c, llm_err *err) {
  int rc;
  const llm_json *v = field(o, key, HF_REQUIRED, "a string", &rc, c, err);
  if (!v) return rc;
  if (v->type != LLM_JSON_STRING) return wrong(v, key, "a string", c, err);
  *out = v->str;
  *len = v->len;
  return LLM_OK;
}

int hf_get_char(const llm_json *o, const char *key, int32_t *out,
                const hf_ctx *c, llm_err *err) {
  const char *s;
  size_t n;
  int rc = hf_get_str(o, key, &s, &n, c, err), len = 0;
  if (rc) return rc;
  int32_t cp = n ? llm_utf8_decode((const uint8_t *)s, n, &len) : -1;
  if (cp < 0 || (size_t)len != n)
    return hf_fail(c, err, LLM_EINVAL,
                   "field \"%s\" must be a string of exactly one character",
                   key);
  *out = cp;
  return LLM_OK;
}

int hf_get_size(const llm_json *o, const char *key, size_t *out,
                const hf_ctx *c, llm_err *err) {
  int rc;
  const llm_json *v = field(o, key, HF_REQUIRED, "an integer", &rc, c, err);
  if (!v) return rc;
  if (v->type != LLM_JSON_NUMBER || !v->is_int || v->i < 0)
    return hf_fail(c, err, LLM_EINVAL,
                   "field \"%s\" must be a non-negative integer", key);
  *out = (size_t)v->i;
  return LLM_OK;
}

int hf_get_array(const llm_json *o, const char *key, const llm_json **out,
                 const hf_ctx *c, llm_err *err) {
  int rc;
  const llm_json *v = field(o, key, HF_REQUIRED, "an array", &rc, c, err);
  if (!v) return rc;
  if (v->type != LLM_JSON_ARRAY) return wrong(v, key, "an array", c, err);
  *out = v;
  return LLM_OK;
}

char *hf_strdup(const char *s, size_t len) {
  char *d = llm_malloc(len + 1);
  if (!d) return NULL;
  memcpy(d, s, len);
  d[len] = 0;
  return d;
}

int hf_get_behavior(const llm_json *o, const char *key, int how, int dflt,
                    int *out, const hf_ctx *c, llm_err *err) {
  static const char *const names[] = {"Removed", "Isolated",
                                      "MergedWithPrevious", "MergedWithNext",
                                      "Contiguous"};
  int rc;
  const llm_json *v = field(o, key, how, "a behavior name", &rc, c, err);
  *out = dflt;
  if (!v) return rc;
  if (v->type == LLM_JSON_STRING)
    for (int i = 0; i < 5; i++)
      if (!strcmp(v->str, names[i])) {
        *out = i; /* the order of LLM_SPLIT_* */
        return LLM_OK;
      }
  return hf_fail(c, err, LLM_EINVAL,
                 "field \"%s\" must be one of \"Removed\", \"Isolated\", "
                 "\"MergedWithPrevious\", \"MergedWithNext\", \"Contiguous\"",
                 key);
}

int hf_get_metaspace(const llm_json *o, int32_t *repl, int *scheme,
                     int *split, const hf_ctx *c, llm_err *err) {
  int rc, aps;
  if ((rc = hf_get_char(o, "replacement", repl, c, err)) ||
      (rc = hf_get_bool(o, "split", HF_NULLABLE, 1, split, c, err)) ||
      (rc = hf_get_bool(o, "add_prefix_space", HF_NULLABLE, 1, &aps, c,
                        err)))
    return rc;
  *scheme = HF_PREPEND_ALWAYS;
  const llm_json *v = llm_json_get(o, "prepend_scheme");
  if (v) {
    if (v->type == LLM_JSON_STRING && !strcmp(v->str, "always"))
      *scheme = HF_PREPEND_ALWAYS;
    else if (v->type == LLM_JSON_STRING && !strcmp(v->str, "first"))
      *scheme = HF_PREPEND_FIRST;
    else if (v->type == LLM_JSON_STRING && !strcmp(v->str, "never"))
      *scheme = HF_PREPEND_NEVER;
    else
      return hf_fail(c, err, LLM_EINVAL, "field \"prepend_scheme\" must be "
                     "\"always\", \"first\" or \"never\"");
  }
  if (!aps && *scheme != HF_PREPEND_NEVER)
    return hf_fail(c, err, LLM_EINVAL, "add_prefix_space false does not "
                   "match prepend_scheme (it must then be \"never\")");
  return LLM_OK;
}

int hf_get_bytelevel(const llm_json *o, int *prefix, int *use_regex,
                     const hf_ctx *c, llm_err *err) {
  int rc, trim;
  if ((rc = hf_get_bool(o, "add_prefix_space", HF_REQUIRED, 0, prefix, c,
                        err)) ||
      (rc = hf_get_bool(o, "trim_offsets", HF_REQUIRED, 0, &trim, c, err)) ||
      (rc = hf_get_bool(o, "use_regex", HF_OPTIONAL, 1, use_regex, c, err)))
    return rc;
  return LLM_OK;
}

/* ---- characters ---------------------------------------------------------- */

int hf_encode(uint8_t o[4], int32_t c) {
  if (c >= HF_RAW) {
    o[0] = (uint8_t)(c - HF_RAW);
    return 1;
  }
  return llm_utf8_encode(o, (uint32_t)c);
}

int hf_is_space(int32_t c) { return llm_uni_is_space(c); }

int hf_is_punct(int32_t c) {
  if (c < 0x80)
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
           (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
  return llm_uni_is_punct(c);
}

/* ---- text with alignment ------------------------------------------------- */

void llm_align_free(llm_align *a) {
  if (!a) return;
  llm_free(a->start);
  llm_free(a->end);
  a->start = a->end = NULL;
  a->len = a->cap = 0;
}

int hf_align_reserve(llm_align *a, size_t need) {
  if (need <= a->cap) return LLM_OK;
  size_t cap = a->cap, cap2 = a->cap;
  if (llm_grow((void **)&a->start, &cap, need, sizeof(size_t)))
    return LLM_ENOMEM;
  if (llm_grow((void **)&a->end, &cap2, need, sizeof(size_t))) {
    /* start grew, end did not: keep the smaller capacity */
    return LLM_ENOMEM;
  }
  a->cap = cap < cap2 ? cap : cap2;
  return LLM_OK;
}

int hf_put(hf_out *o, const void *p, size_t n, size_t as, size_t ae) {
  if (llm_buf_append(o->b, p, n)) return LLM_ENOMEM;
  if (o->a) {
    if (hf_align_reserve(o->a, o->a->len + n)) return LLM_ENOMEM;
    for (size_t k = 0; k < n; k++) {
      o->a->start[o->a->len + k] = as;
      o->a->end[o->a->len + k] = ae;
    }
    o->a->len += n;
  }
  return LLM_OK;
}

int hf_put_char(hf_out *o, int32_t c, size_t as, size_t ae) {
  uint8_t u[4];
  int k = hf_encode(u, c);
  return hf_put(o, u, (size_t)k, as, ae);
}

int hf_put_copy(hf_out *o, const uint8_t *s, size_t n, const llm_align *sa,
                size_t from, size_t to) {
  if (from >= to) return LLM_OK;
  if (llm_buf_append(o->b, s + from, to - from)) return LLM_ENOMEM;
  if (!o->a) return LLM_OK;
  llm_align *a = o->a;
  if (hf_align_reserve(a, a->len + (to - from))) return LLM_ENOMEM;
  if (sa) {
    memcpy(a->start + a->len, sa->start + from, (to - from) * sizeof(size_t));
    memcpy(a->end + a->len, sa->end + from, (to - from) * sizeof(size_t));
    a->len += to - from;
    return LLM_OK;
  }
  for (size_t i = from; i < to;) {
    int len;
    if (s[i] < 0x80) len = 1;
    else hf_char(s, n, i, &len);
    for (int k = 0; k < len; k++) {
      a->start[a->len] = i;
      a->end[a->len++] = i + (size_t)len;
    }
    i += (size_t)len;
  }
  return LLM_OK;
}

void hf_align_at(const uint8_t *s, size_t n, const llm_align *sa, size_t i,
                 size_t *as, size_t *ae) {
  if (sa) {
    *as = sa->start[i];
    *ae = sa->end[i];
    return;
  }
  /* i starts a character whenever callers ask (they walk by characters) */
  int len;
  hf_char(s, n, i, &len);
  *as = i;
  *ae = i + (size_t)len;
}

/* ---- patterns ------------------------------------------------------------ */

int hf_get_pattern(const llm_json *o, const char *key, hf_pattern *p,
                   const hf_ctx *c, llm_err *err) {
  memset(p, 0, sizeof *p);
  const llm_json *v = llm_json_get(o, key);
  if (!v)
    return hf_fail(c, err, LLM_EINVAL,
                   "missing field \"%s\" ({\"String\": ...} or "
                   "{\"Regex\": ...})", key);
  if (v->type != LLM_JSON_OBJECT || v->len != 1 ||
      v->items[0].type != LLM_JSON_STRING ||
      (strcmp(v->keys[0].s, "String") && strcmp(v->keys[0].s, "Regex")))
    return hf_fail(c, err, LLM_EINVAL,
                   "field \"%s\" must be {\"String\": \"...\"} or "
                   "{\"Regex\": \"...\"}", key);
  const llm_json *s = &v->items[0];
  if (!strcmp(v->keys[0].s, "Regex")) {
    llm_err e2;
    if (llm_regex_compile(&p->re, s->str, s->len, &e2))
      return hf_fail(c, err, e2.code, "%s", e2.msg);
  }
  p->lit = hf_strdup(s->str, s->len);
  if (!p->lit) {
    hf_pattern_free(p);
    return llm_fail(err, LLM_ENOMEM, "tokenizer.json %s: out of memory",
                    c->path);
  }
  p->lit_len = s->len;
  return LLM_OK;
}

void hf_pattern_free(hf_pattern *p) {
  llm_regex_free(p->re);
  llm_free(p->lit);
  memset(p, 0, sizeof *p);
}

int hf_spans_push(llm_spans *s, size_t a, size_t b) {
  if (s->len == s->cap) {
    size_t cap = s->cap, cap2 = s->cap;
    if (llm_grow((void **)&s->start, &cap, s->len + 1, sizeof(size_t)) ||
        llm_grow((void **)&s->end, &cap2, s->len + 1, sizeof(size_t)))
      return LLM_ENOMEM;
    s->cap = cap < cap2 ? cap : cap2;
  }
  s->start[s->len] = a;
  s->end[s->len++] = b;
  return LLM_OK;
}

int hf_pattern_find(const hf_pattern *p, const uint8_t *s, size_t n,
                    llm_spans *m, llm_err *err) {
  if (p->re) {
    size_t a = 0, b = n;
    llm_spans whole = {&a, &b, 1, 1};
    return llm_regex_split(p->re, s, n, &whole, LLM_SPLIT_REMOVED, 1, m, err);
  }
  size_t L = p->lit_len;
  if (L == 0) { /* the empty regex: an empty match at every boundary */
    if (hf_spans_push(m, 0, 0)) goto nomem;
    for (size_t i = 0; i < n;) {
      int len;
      hf_char(s, n, i, &len);
      i += (size_t)len;
      if (hf_spans_push(m, i, i)) goto nomem;
    }
    return LLM_OK;
  }
  const uint8_t *lit = (const uint8_t *)p->lit;
  for (size_t i = 0; i + L <= n;) {
    const uint8_t *q = memchr(s + i, lit[0], n - L + 1 - i);
    if (!q) break;
    size_t j = (size_t)(q - s);
    if (memcmp(q, lit, L)) {
      i = j + 1;
      continue;
    }
    if (hf_spans_push(m, j, j + L)) goto nomem;
    i = j + L;
  }
  return LLM_OK;
nomem:
  return llm_fail(err, LLM_ENOMEM, "tokenizer.json pattern: out of memory");
}

/* ---- split behaviours ---------------------------------------------------- */

void hf_fold_init(hf_fold *f, llm_spans *out, int behavior) {
  f->out = out;
  f->behavior = behavior;
  f->have = f->prev_match = 0;
  f->ls = f->le = 0;
}

static int emit(hf_fold *f, size_t a, size_t b) {
  return a < b ? hf_spans_push(f->out, a, b) : LLM_OK;
}

/* The reference folds MergedWithNext from the end: a match joins the piece
** after it when that is not a match. Forward, the match waits in
** [ls, le) for the next event. */
int hf_fold_event(hf_fold *f, size_t a, size_t b, int m) {
  switch (f->behavior) {
  case LLM_SPLIT_ISOLATED:
    return emit(f, a, b);
  case LLM_SPLIT_REMOVED:
    return m ? LLM_OK : emit(f, a, b);
  case LLM_SPLIT_CONTIGUOUS:
  case LLM_SPLIT_MERGED_WITH_PREVIOUS: {
    int join = f->behavior == LLM_SPLIT_CONTIGUOUS ? m == f->prev_match
                                                   : m && !f->prev_match;
    f->prev_match = m;
    if (f->have && join) {
      f->le = b;
      return LLM_OK;
    }
    int rc = f->have ? emit(f, f->ls, f->le) : LLM_OK;
    f->have = 1;
    f->ls = a;
    f->le = b;
    return rc;
  }
  default: /* LLM_SPLIT_MERGED_WITH_NEXT */
    if (f->have) {
      f->have = 0;
      if (!m) return emit(f, f->ls, b);
      if (emit(f, f->ls, f->le)) return LLM_ENOMEM;
    }
    if (!m) return emit(f, a, b);
    f->have = 1;
    f->ls = a;
    f->le = b;
    return LLM_OK;
  }
}

int hf_fold_end(hf_fold *f) {
  int rc = LLM_OK;
  if (f->have && f->behavior != LLM_SPLIT_ISOLATED &&
      f->behavior != LLM_SPLIT_REMOVED)
    rc = emit(f, f->ls, f->le);
  f->have = 0;
  f->prev_match = 0;
  return rc;
}

/* ---- lossy UTF-8 --------------------------------------------------------- */

/* Length of the maximal prefix of s[0..n) (s[0] >= 0x80) that is a valid
** sequence or the start of one (Unicode's "maximal subpart"); *ok says
** whether it is a whole valid sequence. */
static size_t subpart(const uint8_t *s, size_t n, int *ok) {
  uint8_t b = s[0];
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF; /* range of the second byte */
  if (b >= 0xC2 && b <= 0xDF) need = 2;
  else if (b >= 0xE0 && b <= 0xEF) {
    need = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    *ok = 0;
    return 1;
  }
  size_t k = 1;
  for (; k < need && k < n; k++) {
    uint8_t c = s[k];
    if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
  }
  *ok = k == need;
  return k;
}

int hf_utf8_lossy(llm_buf *out, const uint8_t *s, size_t n) {
  static const uint8_t fffd[3] = {0xEF, 0xBF, 0xBD};
  if (n == 0) return LLM_OK;
  size_t done = 0, i = 0; /* s[done..i) is valid, not yet copied */
  while (i < n) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    int ok;
    size_t k = subpart(s + i, n - i, &ok);
    if (ok) {
      i += k;
      continue;
    }
    if (llm_buf_append(out, s + done, i - done) ||
        llm_buf_append(out, fffd, 3))
      return LLM_ENOMEM;
    i += k;
    done = i;
  }
  return llm_buf_append(out, s + done, i - done);
}
