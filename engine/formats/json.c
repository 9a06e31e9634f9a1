/* json.c: strict RFC 8259 JSON parser (see json.h). */
#include "formats/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "text/utf8.h"

/* ------------------------------------------------------------------------ */
/* Arena: the tree's nodes, arrays and strings live in a few large blocks.   */

typedef struct arena_block {
  struct arena_block *next;
  size_t cap, used;
} arena_block;

#define ARENA_ALIGN 16
#define ARENA_HDR ((sizeof(arena_block) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))
#define ARENA_MIN_BLOCK ((size_t)64 * 1024)

struct llm_json_doc {
  llm_json root;
  arena_block *blocks;
  size_t n_blocks;
};

static void *arena_alloc(llm_json_doc *d, size_t n) {
  if (n > SIZE_MAX - ARENA_HDR - ARENA_ALIGN) return NULL;
  n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (n == 0) n = ARENA_ALIGN;
  arena_block *b = d->blocks;
  if (!b || b->cap - b->used < n) {
    /* Blocks grow with the document so a large one needs few of them. */
    size_t cap = ARENA_MIN_BLOCK << (d->n_blocks < 6 ? d->n_blocks : 6);
    if (cap < n) cap = n;
    arena_block *nb = llm_malloc(ARENA_HDR + cap);
    if (!nb) return NULL;
    nb->cap = cap;
    nb->used = 0;
    if (b && cap == n) {
      /* A block just for this allocation: keep the current block as the
      ** head, so its free room still serves the allocations that follow. */
      nb->next = b->next;
      b->next = nb;
    } else {
      nb->next = b;
      d->blocks = nb;
    }
    d->n_blocks++;
    nb->used = n;
    return (char *)nb + ARENA_HDR;
  }
  void *p = (char *)b + ARENA_HDR + b->used;
  b->used += n;
  return p;
}

void llm_json_free(llm_json_doc *doc) {
  if (!doc) return;
  arena_block *b = doc->blocks;
  while (b) {
    arena_block *next = b->next;
    llm_free(b);
    b = next;
  }
  llm_free(doc);
}

const llm_json *llm_json_root(const llm_json_doc *doc) {
  return doc ? &doc->root : NULL;
}

/* ------------------------------------------------------------------------ */
/* Error messages.                                                          */

/* Describes the input at byte `at` for a message: 'x', byte 0xNN or
** "end of input". */
static const char *describe(const uint8_t *s, size_t n, size_t at,
                            char buf[24]) {
  if (at >= n) return "end of input";
  uint8_t c = s[at];
  if (c >= 0x21 && c < 0x7f)
    snprintf(buf, 24, "'%c'", c);
  else if (c == ' ')
    snprintf(buf, 24, "a space");
  else
    snprintf(buf, 24, "byte 0x%02X", c);
  return buf;
}

/* Fails with "<message> at byte <at>". */
static int fail_at(llm_err *err, int code, size_t at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int fail_at(llm_err *err, int code, size_t at, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return llm_fail(err, code, "%s at byte %zu", msg, at);
}

static int nomem(llm_err *err, size_t at) {
  return fail_at(err, LLM_ENOMEM, at, "JSON: out of memory");
}

/* ------------------------------------------------------------------------ */
/* Numbers.                                                                 */

typedef struct numres {
  size_t end;     /* one past the number's last byte */
  int integral;   /* the value is a (mathematical) integer */
  int is_int;     /* ... and fits int64 */
  int64_t i;
  double d;
} numres;

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Scans the JSON number that starts at s[pos] (a '-' or a digit). With
** want_double, r->d is the nearest double (an error when it overflows);
** without it r->d is only set for integers. */
static int scan_number(const uint8_t *s, size_t n, size_t pos, int want_double,
                       numres *r, llm_err *err) {
  size_t i = pos;
  int neg = 0;
  if (i < n && s[i] == '-') {
    neg = 1;
    i++;
  }
  size_t int_start = i;
  if (i >= n || !is_digit(s[i])) {
    char b[24];
    return fail_at(err, LLM_EINVAL, i, "expected a digit after '-', found %s",
                   describe(s, n, i, b));
  }
  if (s[i] == '0') {
    i++;
    if (i < n && is_digit(s[i]))
      return fail_at(err, LLM_EINVAL, int_start,
                     "numbers must not have leading zeros");
  } else {
    while (i < n && is_digit(s[i])) i++;
  }
  size_t int_end = i, frac_start = i, frac_end = i;
  if (i < n && s[i] == '.') {
    i++;
    if (i >= n || !is_digit(s[i])) {
      char b[24];
      return fail_at(err, LLM_EINVAL, i, "expected a digit after '.', found %s",
                     describe(s, n, i, b));
    }
    frac_start = i;
    while (i < n && is_digit(s[i])) i++;
    frac_end = i;
  }
  int has_exp = 0;
  int64_t e = 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    has_exp = 1;
    i++;
    int eneg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    if (i >= n || !is_digit(s[i])) {
      char b[24];
      return fail_at(err, LLM_EINVAL, i,
                     "expected a digit in the exponent, found %s",
                     describe(s, n, i, b));
    }
    while (i < n && is_digit(s[i])) {
      if (e < 1000000000000LL) e = e * 10 + (s[i] - '0'); /* saturates */
      i++;
    }
    if (eneg) e = -e;
  }
  r->end = i;
  size_t n_int = int_end - int_start, n_frac = frac_end - frac_start;

  /* Fast path: a plain integer of at most 18 digits. */
  if (!has_exp && n_frac == 0 && n_int <= 18) {
    int64_t v = 0;
    for (size_t k = int_start; k < int_end; k++) v = v * 10 + (s[k] - '0');
    r->integral = r->is_int = 1;
    r->i = neg ? -v : v;
    r->d = neg ? -(double)v : (double)v;
    return LLM_OK;
  }

  /* General case: value = D * 10^X with D the significant digits. */
  size_t total = n_int + n_frac;
#define DIGIT(k) \
  ((k) < n_int ? s[int_start + (k)] : s[frac_start + (k) - n_int])
  size_t first = 0;
  while (first < total && DIGIT(first) == '0') first++;
  if (first == total) { /* zero */
    r->integral = r->is_int = 1;
    r->i = 0;
    r->d = neg ? -0.0 : 0.0;
    return LLM_OK;
  }
  size_t last = total - 1;
  while (DIGIT(last) == '0') last--;
  size_t m = last - first + 1;
  int64_t x = e - (int64_t)n_frac + (int64_t)(total - 1 - last);
  uint64_t u = 0;
  int u_ok = m <= 19;
  if (u_ok)
    for (size_t k = first; k <= last; k++) u = u * 10 + (uint64_t)(DIGIT(k) - '0');
#undef DIGIT

  r->integral = x >= 0;
  r->is_int = 0;
  r->i = 0;
  if (r->integral && u_ok && (int64_t)m + x <= 19) {
    uint64_t limit = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
    uint64_t v = u;
    int ok = v <= limit;
    for (int64_t k = 0; ok && k < x; k++) {
      if (v > limit / 10 || v * 10 > limit) ok = 0;
      else v *= 10;
    }
    if (ok) {
      r->is_int = 1;
      if (neg)
        r->i = v == (uint64_t)1 << 63 ? INT64_MIN : -(int64_t)v;
      else
        r->i = (int64_t)v;
      r->d = (double)r->i;
      if (neg && r->i == 0) r->d = -0.0;
      return LLM_OK;
    }
  }
  if (!want_double) {
    r->d = 0;
    return LLM_OK;
  }
  if (u_ok && u <= ((uint64_t)1 << 53) && x >= -22 && x <= 22) {
    /* Exact operands, one correctly rounded operation. */
    double d = x >= 0 ? (double)u * pow10_exact[x] : (double)u / pow10_exact[-x];
    r->d = neg ? -d : d;
    return LLM_OK;
  }
  /* Otherwise let strtod round "[-]DIGITSeX"; written without a decimal
  ** point, the text means the same in every locale. */
  char small[96];
  size_t need = m + 32;
  char *buf = need <= sizeof small ? small : llm_malloc(need);
  if (!buf) return nomem(err, pos);
  size_t k = 0;
  if (neg) buf[k++] = '-';
  for (size_t j = first; j <= last; j++)
    buf[k++] = (char)(j < n_int ? s[int_start + j] : s[frac_start + j - n_int]);
  snprintf(buf + k, need - k, "e%lld", (long long)x);
  double d = strtod(buf, NULL);
  if (buf != small) llm_free(buf);
  if (isinf(d))
    return fail_at(err, LLM_ERANGE, pos,
                   "number is too large (beyond the range of a double)");
  r->d = d;
  return LLM_OK;
}

/* ------------------------------------------------------------------------ */
/* The tree parser.                                                         */

typedef struct key_entry {
  llm_json_str k;
  size_t offset;
} key_entry;

typedef struct parser {
  const uint8_t *s;
  size_t n, pos;
  llm_err *err;
  llm_json_doc *doc;
  llm_json *vals; /* scratch stack of values of the open containers */
  size_t n_vals, cap_vals;
  key_entry *keys; /* scratch stack of keys of the open objects */
  size_t n_keys, cap_keys;
  llm_buf sb;     /* scratch for decoding one string */
  size_t *dup;    /* scratch hash table for duplicate keys */
  size_t cap_dup;
} parser;

static void skip_ws(parser *p) {
  while (p->pos < p->n) {
    uint8_t c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static int unexpected(parser *p, const char *expected) {
  char b[24];
  return fail_at(p->err, LLM_EINVAL, p->pos, "expected %s, found %s", expected,
                 describe(p->s, p->n, p->pos, b));
}

static int hexval(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Reads the 4 hex digits of a \u escape whose backslash is at `at`. */
static int read_u4(parser *p, size_t at, uint32_t *out) {
  uint32_t v = 0;
  for (size_t k = 0; k < 4; k++) {
    if (at + 2 + k >= p->n)
      return fail_at(p->err, LLM_EINVAL, at,
                     "truncated \\u escape (it needs 4 hex digits)");
    int h = hexval(p->s[at + 2 + k]);
    if (h < 0)
      return fail_at(p->err, LLM_EINVAL, at,
                     "invalid \\u escape (it needs 4 hex digits)");
    v = v * 16 + (uint32_t)h;
  }
  *out = v;
  return LLM_OK;
}

/* Parses the string whose opening quote is at p->pos into the arena. */
static int parse_string(parser *p, llm_json_str *out) {
  const uint8_t *s = p->s;
  size_t n = p->n, start = p->pos, i = p->pos + 1;
  p->sb.len = 0;
  size_t run = i; /* start of the characters not appended yet */
  for (;;) {
    /* Characters that stand for themselves: printable ASCII (0x20..0x7F)
    ** but '"' and '\\', and valid UTF-8 sequences. */
    while (i < n && (uint8_t)(s[i] - 0x20) < 0x60 && s[i] != '"' &&
           s[i] != '\\')
      i++;
    if (i < n && s[i] >= 0x80) {
      int len;
      if (llm_utf8_decode(s + i, n - i, &len) < 0)
        return fail_at(p->err, LLM_EINVAL, i, "invalid UTF-8 in string");
      i += (size_t)len;
      continue;
    }
    if (i > run && llm_buf_append(&p->sb, s + run, i - run))
      return nomem(p->err, run);
    if (i >= n)
      return fail_at(p->err, LLM_EINVAL, start,
                     "unterminated string (no closing '\"')");
    uint8_t c = s[i];
    if (c == '"') {
      i++;
      break;
    }
    if (c < 0x20)
      return fail_at(p->err, LLM_EINVAL, i,
                     "raw control character 0x%02X in string (write it as an "
                     "escape such as \\n or \\u%04X)",
                     c, c);
    /* A backslash escape. */
    if (i + 1 >= n)
      return fail_at(p->err, LLM_EINVAL, start,
                     "unterminated string (no closing '\"')");
    uint8_t e = s[i + 1], ch;
    switch (e) {
      case '"': ch = '"'; break;
      case '\\': ch = '\\'; break;
      case '/': ch = '/'; break;
      case 'b': ch = '\b'; break;
      case 'f': ch = '\f'; break;
      case 'n': ch = '\n'; break;
      case 'r': ch = '\r'; break;
      case 't': ch = '\t'; break;
      case 'u': {
        uint32_t cp, lo;
        int rc = read_u4(p, i, &cp);
        if (rc) return rc;
        size_t esc = i;
        i += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          return fail_at(p->err, LLM_EINVAL, esc,
                         "lone low surrogate \\u%04X (it must follow a "
                         "\\uD800-\\uDBFF escape)",
                         cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (n - i < 2 || s[i] != '\\' || s[i + 1] != 'u')
            return fail_at(p->err, LLM_EINVAL, esc,
                           "lone high surrogate \\u%04X (it must be followed "
                           "by a \\uDC00-\\uDFFF escape)",
                           cp);
          rc = read_u4(p, i, &lo);
          if (rc) return rc;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return fail_at(p->err, LLM_EINVAL, esc,
                           "lone high surrogate \\u%04X (it must be followed "
                           "by a \\uDC00-\\uDFFF escape, not \\u%04X)",
                           cp, lo);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        }
        uint8_t enc[4];
        int len = llm_utf8_encode(enc, cp); /* cp is a scalar value: len > 0 */
        if (llm_buf_append(&p->sb, enc, (size_t)len)) return nomem(p->err, esc);
        run = i;
        continue;
      }
      default: {
        char b[24];
        return fail_at(p->err, LLM_EINVAL, i,
                       "invalid escape '\\' followed by %s (valid: \\\" \\\\ "
                       "\\/ \\b \\f \\n \\r \\t \\uXXXX)",
                       describe(s, n, i + 1, b));
      }
    }
    if (llm_buf_append(&p->sb, &ch, 1)) return nomem(p->err, i);
    i += 2;
    run = i;
  }
  char *str = arena_alloc(p->doc, p->sb.len + 1);
  if (!str) return nomem(p->err, start);
  if (p->sb.len) memcpy(str, p->sb.data, p->sb.len);
  str[p->sb.len] = 0;
  out->s = str;
  out->len = p->sb.len;
  p->pos = i;
  return LLM_OK;
}

static int push_val(parser *p, const llm_json *v) {
  if (llm_grow((void **)&p->vals, &p->cap_vals, p->n_vals + 1, sizeof *p->vals))
    return nomem(p->err, p->pos);
  p->vals[p->n_vals++] = *v;
  return LLM_OK;
}

/* Moves the values pushed since `base` into the arena as v's items. */
static int close_items(parser *p, size_t base, llm_json *v) {
  size_t cnt = p->n_vals - base;
  v->len = cnt;
  v->items = NULL;
  if (cnt) {
    if (cnt > SIZE_MAX / sizeof(llm_json)) return nomem(p->err, p->pos);
    v->items = arena_alloc(p->doc, cnt * sizeof(llm_json));
    if (!v->items) return nomem(p->err, p->pos);
    memcpy(v->items, p->vals + base, cnt * sizeof(llm_json));
  }
  p->n_vals = base;
  return LLM_OK;
}

static int same_key(const llm_json_str *a, const llm_json_str *b) {
  return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

static int dup_key_error(parser *p, const key_entry *k, const key_entry *first) {
  char shown[64];
  size_t len = k->k.len < 40 ? k->k.len : 40;
  /* Cut at a character boundary. */
  while (len < k->k.len && len > 0 && ((uint8_t)k->k.s[len] & 0xC0) == 0x80) len--;
  size_t o = 0;
  for (size_t j = 0; j < len; j++) {
    uint8_t c = (uint8_t)k->k.s[j];
    shown[o++] = c < 0x20 ? '?' : (char)c;
  }
  shown[o] = 0;
  return fail_at(p->err, LLM_EINVAL, k->offset,
                 "duplicate object key \"%s%s\" (first at byte %zu)", shown,
                 len < k->k.len ? "..." : "", first->offset);
}

/* Checks the `cnt` keys at keys[base..] for duplicates. */
static int check_dups(parser *p, size_t base, size_t cnt) {
  const key_entry *k = p->keys + base;
  if (cnt <= 8) {
    for (size_t a = 1; a < cnt; a++)
      for (size_t b = 0; b < a; b++)
        if (same_key(&k[a].k, &k[b].k)) return dup_key_error(p, &k[a], &k[b]);
    return LLM_OK;
  }
  size_t cap = 16;
  while (cap < cnt * 2) cap *= 2;
  if (cap > p->cap_dup) {
    size_t *nd = llm_malloc(cap * sizeof *nd);
    if (!nd) return nomem(p->err, p->pos);
    llm_free(p->dup);
    p->dup = nd;
    p->cap_dup = cap;
  }
  memset(p->dup, 0, cap * sizeof *p->dup);
  for (size_t a = 0; a < cnt; a++) {
    size_t h = (size_t)llm_hash_bytes(k[a].k.s, k[a].k.len) & (cap - 1);
    while (p->dup[h]) {
      const key_entry *other = &k[p->dup[h] - 1];
      if (same_key(&k[a].k, &other->k)) return dup_key_error(p, &k[a], other);
      h = (h + 1) & (cap - 1);
    }
    p->dup[h] = a + 1;
  }
  return LLM_OK;
}

static int parse_value(parser *p, int depth, llm_json *v);

static int parse_array(parser *p, int depth, llm_json *v) {
  if (depth >= LLM_JSON_MAX_DEPTH)
    return fail_at(p->err, LLM_EINVAL, p->pos,
                   "arrays and objects nested deeper than %d levels",
                   LLM_JSON_MAX_DEPTH);
  v->type = LLM_JSON_ARRAY;
  size_t base = p->n_vals;
  p->pos++;
  skip_ws(p);
  if (p->pos < p->n && p->s[p->pos] == ']') {
    p->pos++;
    return close_items(p, base, v);
  }
  for (;;) {
    llm_json item;
    int rc = parse_value(p, depth + 1, &item);
    if (rc) return rc;
    if ((rc = push_val(p, &item))) return rc;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ',') {
      p->pos++;
      skip_ws(p);
      if (p->pos < p->n && p->s[p->pos] == ']')
        return fail_at(p->err, LLM_EINVAL, p->pos,
                       "trailing comma before ']'");
      continue;
    }
    if (p->pos < p->n && p->s[p->pos] == ']') {
      p->pos++;
      return close_items(p, base, v);
    }
    return unexpected(p, "',' or ']' in array");
  }
}

static int parse_object(parser *p, int depth, llm_json *v) {
  if (depth >= LLM_JSON_MAX_DEPTH)
    return fail_at(p->err, LLM_EINVAL, p->pos,
                   "arrays and objects nested deeper than %d levels",
                   LLM_JSON_MAX_DEPTH);
  v->type = LLM_JSON_OBJECT;
  size_t base = p->n_vals, kbase = p->n_keys;
  p->pos++;
  skip_ws(p);
  if (p->pos < p->n && p->s[p->pos] == '}') {
    p->pos++;
    v->keys = NULL;
    return close_items(p, base, v);
  }
  for (;;) {
    if (p->pos >= p->n || p->s[p->pos] != '"')
      return unexpected(p, "a string key in object");
    key_entry ke;
    ke.offset = p->pos;
    int rc = parse_string(p, &ke.k);
    if (rc) return rc;
    if (llm_grow((void **)&p->keys, &p->cap_keys, p->n_keys + 1, sizeof *p->keys))
      return nomem(p->err, p->pos);
    p->keys[p->n_keys++] = ke;
    skip_ws(p);
    if (p->pos >= p->n || p->s[p->pos] != ':')
      return unexpected(p, "':' after object key");
    p->pos++;
    llm_json item;
    if ((rc = parse_value(p, depth + 1, &item))) return rc;
    if ((rc = push_val(p, &item))) return rc;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ',') {
      p->pos++;
      skip_ws(p);
      if (p->pos < p->n && p->s[p->pos] == '}')
        return fail_at(p->err, LLM_EINVAL, p->pos,
                       "trailing comma before '}'");
      continue;
    }
    if (p->pos < p->n && p->s[p->pos] == '}') {
      p->pos++;
      break;
    }
    return unexpected(p, "',' or '}' in object");
  }
  size_t cnt = p->n_keys - kbase;
  int rc = check_dups(p, kbase, cnt);
  if (rc) return rc;
  v->keys = arena_alloc(p->doc, cnt * sizeof(llm_json_str));
  if (!v->keys) return nomem(p->err, p->pos);
  for (size_t k = 0; k < cnt; k++) v->keys[k] = p->keys[kbase + k].k;
  p->n_keys = kbase;
  return close_items(p, base, v);
}

static int parse_literal(parser *p, const char *word, size_t len) {
  if (p->n - p->pos < len || memcmp(p->s + p->pos, word, len) != 0)
    return fail_at(p->err, LLM_EINVAL, p->pos,
                   "invalid literal (expected '%s')", word);
  p->pos += len;
  return LLM_OK;
}

static int parse_value(parser *p, int depth, llm_json *v) {
  skip_ws(p);
  memset(v, 0, sizeof *v);
  v->offset = p->pos;
  if (p->pos >= p->n) return unexpected(p, "a value");
  uint8_t c = p->s[p->pos];
  int rc;
  switch (c) {
    case '{': return parse_object(p, depth, v);
    case '[': return parse_array(p, depth, v);
    case '"': {
      llm_json_str st;
      if ((rc = parse_string(p, &st))) return rc;
      v->type = LLM_JSON_STRING;
      v->str = st.s;
      v->len = st.len;
      return LLM_OK;
    }
    case 't':
      v->type = LLM_JSON_BOOL;
      v->boolean = 1;
      return parse_literal(p, "true", 4);
    case 'f':
      v->type = LLM_JSON_BOOL;
      return parse_literal(p, "false", 5);
    case 'n':
      v->type = LLM_JSON_NULL;
      return parse_literal(p, "null", 4);
    default:
      if (c == '-' || is_digit(c)) {
        numres r;
        if ((rc = scan_number(p->s, p->n, p->pos, 1, &r, p->err))) return rc;
        v->type = LLM_JSON_NUMBER;
        v->is_int = r.is_int;
        v->i = r.is_int ? r.i : 0;
        v->num = r.d;
        p->pos = r.end;
        return LLM_OK;
      }
      if (p->pos == 0 && p->n >= 3 && c == 0xEF && p->s[1] == 0xBB &&
          p->s[2] == 0xBF)
        return fail_at(p->err, LLM_EINVAL, 0,
                       "byte order mark (U+FEFF) before the JSON text; "
                       "remove it");
      return unexpected(p, "a value");
  }
}

int llm_json_parse(const char *text, size_t n, llm_json_doc **out,
                   llm_err *err) {
  *out = NULL;
  if (!text && n) return llm_fail(err, LLM_EINVAL, "JSON: no input text");
  parser p;
  memset(&p, 0, sizeof p);
  p.s = (const uint8_t *)text;
  p.n = n;
  p.err = err;
  p.doc = llm_calloc(1, sizeof *p.doc);
  if (!p.doc) return llm_fail(err, LLM_ENOMEM, "JSON: out of memory");
  int rc;
  if (n == 0) {
    rc = llm_fail(err, LLM_EINVAL, "empty input (expected a JSON value)");
  } else {
    rc = parse_value(&p, 0, &p.doc->root);
    if (!rc) {
      skip_ws(&p);
      if (p.pos < n) {
        char b[24];
        rc = fail_at(err, LLM_EINVAL, p.pos,
                     "unexpected %s after the JSON value",
                     describe(p.s, n, p.pos, b));
      }
    }
  }
  llm_free(p.vals);
  llm_free(p.keys);
  llm_free(p.dup);
  llm_buf_free(&p.sb);
  if (rc) {
    llm_json_free(p.doc);
    return rc;
  }
  *out = p.doc;
  return LLM_OK;
}

const llm_json *llm_json_getn(const llm_json *obj, const char *key,
                              size_t key_len) {
  if (!obj || obj->type != LLM_JSON_OBJECT) return NULL;
  for (size_t k = 0; k < obj->len; k++)
    if (obj->keys[k].len == key_len && memcmp(obj->keys[k].s, key, key_len) == 0)
      return &obj->items[k];
  return NULL;
}

const llm_json *llm_json_get(const llm_json *obj, const char *key) {
  return llm_json_getn(obj, key, strlen(key));
}

const char *llm_json_type_name(int type) {
  switch (type) {
    case LLM_JSON_NULL: return "null";
    case LLM_JSON_BOOL: return "boolean";
    case LLM_JSON_NUMBER: return "number";
    case LLM_JSON_STRING: return "string";
    case LLM_JSON_ARRAY: return "array";
    case LLM_JSON_OBJECT: return "object";
    default: return "unknown";
  }
}

/* ------------------------------------------------------------------------ */
/* Arrays of integers, without a tree.                                      */

static size_t ws_end(const uint8_t *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    i++;
  return i;
}

/* Copies the source text of s[a..b) into buf for a message, shortened. */
static const char *snippet(const uint8_t *s, size_t a, size_t b, char buf[40]) {
  size_t len = b - a, o = 0;
  for (size_t k = 0; k < len && k < 30; k++) buf[o++] = (char)s[a + k];
  if (len > 30) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = 0;
  return buf;
}

static int int_array(const uint8_t *s, size_t n, llm_ids *out, int64_t min,
                     int64_t max, llm_err *err) {
  if (n == 0)
    return llm_fail(err, LLM_EINVAL,
                    "empty input (expected a JSON array of integers)");
  size_t i = ws_end(s, n, 0);
  char b[40];
  if (i >= n || s[i] != '[')
    return fail_at(err, LLM_EINVAL, i,
                   "expected a JSON array of integers ('['), found %s",
                   describe(s, n, i, b));
  i = ws_end(s, n, i + 1);
  if (i < n && s[i] == ']') {
    i = ws_end(s, n, i + 1);
    goto done;
  }
  for (size_t idx = 0;; idx++) {
    i = ws_end(s, n, i);
    if (i >= n || !(s[i] == '-' || is_digit(s[i])))
      return fail_at(err, LLM_EINVAL, i,
                     "array element %zu: expected an integer, found %s", idx,
                     describe(s, n, i, b));
    numres r;
    int rc = scan_number(s, n, i, 0, &r, err);
    if (rc) return rc;
    if (!r.integral)
      return fail_at(err, LLM_EINVAL, i,
                     "array element %zu is %s, which is not an integer", idx,
                     snippet(s, i, r.end, b));
    if (!r.is_int || r.i < min || r.i > max)
      return fail_at(err, LLM_ERANGE, i,
                     "array element %zu is %s, outside the allowed range "
                     "%lld..%lld",
                     idx, snippet(s, i, r.end, b), (long long)min,
                     (long long)max);
    if (out->len == out->cap &&
        llm_grow((void **)&out->data, &out->cap, out->len + 1, sizeof(int32_t)))
      return fail_at(err, LLM_ENOMEM, i, "out of memory reading array element %zu",
                     idx);
    out->data[out->len++] = (int32_t)r.i;
    i = ws_end(s, n, r.end);
    if (i < n && s[i] == ',') {
      i = ws_end(s, n, i + 1);
      if (i < n && s[i] == ']')
        return fail_at(err, LLM_EINVAL, i, "trailing comma before ']'");
      continue;
    }
    if (i < n && s[i] == ']') {
      i = ws_end(s, n, i + 1);
      break;
    }
    return fail_at(err, LLM_EINVAL, i, "expected ',' or ']' in array, found %s",
                   describe(s, n, i, b));
  }
done:
  if (i < n)
    return fail_at(err, LLM_EINVAL, i, "unexpected %s after the JSON array",
                   describe(s, n, i, b));
  return LLM_OK;
}

int llm_json_parse_int_array(const char *text, size_t n, llm_ids *out,
                             int64_t min, int64_t max, llm_err *err) {
  if (min < INT32_MIN) min = INT32_MIN;
  if (max > INT32_MAX) max = INT32_MAX;
  if (!text && n) return llm_fail(err, LLM_EINVAL, "JSON: no input text");
  size_t orig = out->len;
  int rc = int_array((const uint8_t *)text, n, out, min, max, err);
  if (rc) out->len = orig;
  return rc;
}

/* ---- writing ------------------------------------------------------------ */

int llm_json_write_str(const char *s, size_t n, llm_buf *out) {
  static const char hex[] = "0123456789abcdef";
  if (llm_buf_append(out, "\"", 1)) return LLM_ENOMEM;
  size_t from = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
    size_t k = 2;
    if (c == '\n') esc[1] = 'n';
    else if (c == '\t') esc[1] = 't';
    else if (c == '\r') esc[1] = 'r';
    else if (c < 0x20) {
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      k = 6;
    }
    if (llm_buf_append(out, s + from, i - from) || llm_buf_append(out, esc, k)) return LLM_ENOMEM;
    from = i + 1;
  }
  return llm_buf_append(out, s + from, n - from) || llm_buf_append(out, "\"", 1) ? LLM_ENOMEM : LLM_OK;
}

int llm_json_write(const llm_json *v, llm_buf *out) {
  char num[40];
  int rc = LLM_OK;
  switch (v->type) {
    case LLM_JSON_NULL: return llm_buf_append(out, "null", 4) ? LLM_ENOMEM : LLM_OK;
    case LLM_JSON_BOOL:
      return llm_buf_append(out, v->boolean ? "true" : "false", v->boolean ? 4 : 5) ? LLM_ENOMEM : LLM_OK;
    case LLM_JSON_NUMBER: {
      int k = v->is_int ? snprintf(num, sizeof num, "%lld", (long long)v->i)
                        : snprintf(num, sizeof num, "%.17g", v->num);
      return llm_buf_append(out, num, (size_t)k) ? LLM_ENOMEM : LLM_OK;
    }
    case LLM_JSON_STRING: return llm_json_write_str(v->str, v->len, out);
    default: break;
  }
  int obj = v->type == LLM_JSON_OBJECT;
  if (llm_buf_append(out, obj ? "{" : "[", 1)) return LLM_ENOMEM;
  for (size_t i = 0; i < v->len && !rc; i++) {
    if (i && llm_buf_append(out, ",", 1)) return LLM_ENOMEM;
    if (obj && (llm_json_write_str(v->keys[i].s, v->keys[i].len, out) || llm_buf_append(out, ":", 1)))
      return LLM_ENOMEM;
    rc = llm_json_write(&v->items[i], out);
  }
  if (!rc && llm_buf_append(out, obj ? "}" : "]", 1)) rc = LLM_ENOMEM;
  return rc;
}
