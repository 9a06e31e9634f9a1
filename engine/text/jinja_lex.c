/*
** jinja_lex.c: a chat template's text to tokens, as @huggingface/jinja's
** tokenize() does with transformers' options: first the preprocessing
** (drop one trailing newline; lstrip_blocks: spaces and tabs before a
** {% {# or {- at the start of a line go; trim_blocks: a newline right
** after %} #} or -} goes; {% generation %} markers go), then the tokens,
** with the whitespace control of {%- -%} {{- -}} {#- -#}.
**
** Every byte of the preprocessed text keeps the line it had in the
** template, for messages.
*/
#include <string.h>

#include "text/jinja_internal.h"
#include "text/utf8.h"

typedef struct text {
  char *s;
  int *line;
  size_t n;
} text;

static text text_new(jarena *a, size_t cap) {
  return (text){ja_alloc(a, cap + 1), ja_alloc(a, (cap + 1) * sizeof(int)), 0};
}

static void put(text *t, const text *from, size_t i) {
  t->s[t->n] = from->s[i];
  t->line[t->n++] = from->line[i];
}

static int is_line_start(const text *t, size_t i) {
  if (i == 0) return 1;
  char c = t->s[i - 1];
  if (c == '\n' || c == '\r') return 1;
  /* U+2028, U+2029 end lines too for JavaScript's ^ */
  return i >= 3 && (unsigned char)t->s[i - 3] == 0xE2 && (unsigned char)t->s[i - 2] == 0x80 &&
         ((unsigned char)t->s[i - 1] == 0xA8 || (unsigned char)t->s[i - 1] == 0xA9);
}

static text lstrip_blocks(jarena *a, const text *in) {
  text t = text_new(a, in->n);
  for (size_t i = 0; i < in->n;) {
    if (is_line_start(in, i)) {
      size_t j = i;
      while (j < in->n && (in->s[j] == ' ' || in->s[j] == '\t')) j++;
      if (j + 1 < in->n && in->s[j] == '{' && strchr("#%-", in->s[j + 1]) && in->s[j + 1]) i = j;
    }
    put(&t, in, i++);
  }
  return t;
}

static text trim_blocks(jarena *a, const text *in) {
  text t = text_new(a, in->n);
  for (size_t i = 0; i < in->n;) {
    if (i + 2 < in->n && in->s[i] && strchr("#%-", in->s[i]) && in->s[i + 1] == '}' &&
        in->s[i + 2] == '\n') {
      put(&t, in, i);
      put(&t, in, i + 1);
      i += 3;
    } else {
      put(&t, in, i++);
    }
  }
  return t;
}

static size_t skip_space(const text *t, size_t i) {
  size_t k;
  while (i < t->n && (k = js_space_len(t->s + i, t->n - i)) > 0) i += k;
  return i;
}

/* The length of a {%-? \s* (end)?generation \s* -?%} at i, or 0; *lstrip
** and *rstrip tell the dashes. */
static size_t generation_tag(const text *t, size_t i, int *lstrip, int *rstrip) {
  if (i + 2 > t->n || t->s[i] != '{' || t->s[i + 1] != '%') return 0;
  size_t j = i + 2;
  *lstrip = j < t->n && t->s[j] == '-';
  j = skip_space(t, j + (size_t)*lstrip);
  if (j + 3 <= t->n && !memcmp(t->s + j, "end", 3)) j += 3;
  if (j + 10 > t->n || memcmp(t->s + j, "generation", 10)) return 0;
  j = skip_space(t, j + 10);
  *rstrip = j < t->n && t->s[j] == '-';
  j += (size_t)*rstrip;
  if (j + 2 > t->n || t->s[j] != '%' || t->s[j + 1] != '}') return 0;
  return j + 2 - i;
}

static text drop_generation(jarena *a, const text *in) {
  text t = text_new(a, in->n);
  size_t kept = 0; /* output length after the last marker */
  for (size_t i = 0; i < in->n;) {
    int lstrip, rstrip;
    size_t k = generation_tag(in, i, &lstrip, &rstrip);
    if (!k) {
      put(&t, in, i++);
      continue;
    }
    while (lstrip && t.n > kept) {
      size_t sp = js_space_len_back(t.s + kept, t.n - kept);
      if (!sp) break;
      t.n -= sp;
    }
    i += k;
    size_t after = skip_space(in, i); /* the white space after is part of the marker */
    while (!rstrip && i < after) put(&t, in, i++);
    i = after;
    kept = t.n;
  }
  return t;
}

/* ---- tokens -------------------------------------------------------------- */

typedef struct lexer {
  jarena *a;
  text src;
  size_t pos;
  jtok *toks;
  size_t n, cap;
  int curly_depth;
} lexer;

static void push(lexer *x, int type, const char *s, size_t n, int line) {
  if (x->n == x->cap) {
    size_t cap = x->cap ? x->cap * 2 : 256;
    jtok *t = ja_alloc(x->a, cap * sizeof *t);
    if (x->n) memcpy(t, x->toks, x->n * sizeof *t);
    x->toks = t;
    x->cap = cap;
  }
  x->toks[x->n++] = (jtok){type, s, n, line};
}

static int last_type(const lexer *x) { return x->n ? x->toks[x->n - 1].type : -1; }

static void strip_trailing_space(lexer *x) {
  if (x->n && x->toks[x->n - 1].type == T_TEXT) {
    jtok *t = &x->toks[x->n - 1];
    t->n -= js_space_len_back(t->s, t->n);
    if (t->n == 0) x->n--;
  }
}

static int line_at(const lexer *x, size_t i) {
  return x->src.n == 0 ? 1 : x->src.line[i < x->src.n ? i : x->src.n - 1];
}

#if defined(__GNUC__)
__attribute__((noreturn))
#endif
static void lex_fail(lexer *x, const char *what) {
  x->a->line = line_at(x, x->pos);
  jfail(x->a, LLM_EINVAL, "%s", what);
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_word(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int hex_value(const char *s, int k, uint32_t *v) {
  *v = 0;
  for (int i = 0; i < k; i++) {
    char c = s[i];
    int d = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (d < 0) return 0;
    *v = *v << 4 | (uint32_t)d;
  }
  return 1;
}

/* A string literal from just after its opening quote; escapes resolved
** (\uXXXX pairs of surrogates combine into one character). */
static void lex_string(lexer *x, char quote, int line) {
  const text *t = &x->src;
  char *out = ja_alloc(x->a, t->n - x->pos + 1);
  size_t len = 0;
  for (;;) {
    if (x->pos >= t->n) lex_fail(x, "unexpected end of input in a string literal");
    char c = t->s[x->pos++];
    if (c == quote) break;
    if (c != '\\') {
      out[len++] = c;
      continue;
    }
    if (x->pos >= t->n) lex_fail(x, "unexpected end of input in a string literal");
    char e = t->s[x->pos++];
    char plain = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b'
                 : e == 'f' ? '\f' : e == 'v' ? '\v' : e == '\'' || e == '"' || e == '\\' ? e : 0;
    if (plain) {
      out[len++] = plain;
    } else if (e == 'x' || e == 'u') {
      int k = e == 'x' ? 2 : 4;
      uint32_t v;
      if (t->n - x->pos < (size_t)k || !hex_value(t->s + x->pos, k, &v))
        lex_fail(x, "invalid hexadecimal escape sequence in a string literal");
      x->pos += (size_t)k;
      if (v >= 0xD800 && v < 0xDC00) { /* a high surrogate needs its low one */
        uint32_t lo;
        if (t->n - x->pos < 6 || t->s[x->pos] != '\\' || t->s[x->pos + 1] != 'u' ||
            !hex_value(t->s + x->pos + 2, 4, &lo) || lo < 0xDC00 || lo > 0xDFFF)
          lex_fail(x, "unsupported: a lone surrogate escape in a string literal");
        x->pos += 6;
        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
      } else if (v >= 0xDC00 && v < 0xE000) {
        lex_fail(x, "unsupported: a lone surrogate escape in a string literal");
      }
      len += (size_t)llm_utf8_encode((uint8_t *)out + len, v);
    } else {
      lex_fail(x, "unexpected escaped character in a string literal");
    }
  }
  push(x, T_STR, out, len, line);
}

static const struct { const char *seq; int type; } RULES[] = {
  {"{%", T_OPEN_STMT}, {"%}", T_CLOSE_STMT}, {"{{", T_OPEN_EXPR}, {"}}", T_CLOSE_EXPR},
  {"(", T_LPAREN}, {")", T_RPAREN}, {"{", T_LBRACE}, {"}", T_RBRACE}, {"[", T_LBRACKET},
  {"]", T_RBRACKET}, {",", T_COMMA}, {".", T_DOT}, {":", T_COLON}, {"|", T_PIPE},
  {"<=", T_CMP}, {">=", T_CMP}, {"==", T_CMP}, {"!=", T_CMP}, {"<", T_CMP}, {">", T_CMP},
  {"+", T_ADD}, {"-", T_ADD}, {"~", T_ADD}, {"**", T_POW}, {"*", T_MUL}, {"//", T_MUL},
  {"/", T_MUL}, {"%", T_MUL}, {"=", T_EQUALS},
};

/* Digits at pos, then a fraction if one follows (and allowed). */
static size_t lex_number_end(const text *t, size_t i, int fraction) {
  while (i < t->n && is_digit(t->s[i])) i++;
  if (fraction && i + 1 < t->n && t->s[i] == '.' && is_digit(t->s[i + 1])) {
    i++;
    while (i < t->n && is_digit(t->s[i])) i++;
  }
  return i;
}

static int lex_tag_open_or_comment(lexer *x) {
  const text *t = &x->src;
  size_t p = x->pos;
  if (t->s[p] != '{' || p + 1 >= t->n) return 0;
  char next = t->s[p + 1];
  int line = line_at(x, p);
  if (next == '#') {
    p += 2;
    int strip_before = p < t->n && t->s[p] == '-';
    p += (size_t)strip_before;
    const char *end = NULL;
    for (size_t q = p; q + 1 < t->n; q++)
      if (t->s[q] == '#' && t->s[q + 1] == '}') { end = t->s + q; break; }
    if (!end) lex_fail(x, "unclosed comment {# (missing #})");
    size_t len = (size_t)(end - (t->s + p));
    int strip_after = len > 0 && end[-1] == '-';
    if (strip_before) strip_trailing_space(x);
    push(x, T_COMMENT, t->s + p, len - (size_t)strip_after, line);
    x->pos = (size_t)(end - t->s) + 2;
    if (strip_after) x->pos = skip_space(t, x->pos);
    return 1;
  }
  if (p + 2 < t->n && t->s[p + 2] == '-' && (next == '%' || next == '{')) {
    strip_trailing_space(x);
    push(x, next == '%' ? T_OPEN_STMT : T_OPEN_EXPR, t->s + p, 2, line);
    if (next == '{') x->curly_depth = 0;
    x->pos = p + 3;
    return 1;
  }
  return 0;
}

static void lex_one(lexer *x) {
  const text *t = &x->src;
  int last = last_type(x);
  if (last < 0 || last == T_CLOSE_STMT || last == T_CLOSE_EXPR || last == T_COMMENT) {
    size_t end = x->pos;
    while (end < t->n && !(t->s[end] == '{' && end + 1 < t->n && strchr("%{#", t->s[end + 1]) &&
                           t->s[end + 1]))
      end++;
    if (end > x->pos) {
      push(x, T_TEXT, t->s + x->pos, end - x->pos, line_at(x, x->pos));
      x->pos = end;
      return;
    }
  }
  if (lex_tag_open_or_comment(x)) return;
  x->pos = skip_space(t, x->pos);
  if (x->pos >= t->n) lex_fail(x, "unexpected end of input inside a tag");
  size_t p = x->pos;
  char c = t->s[p];
  int line = line_at(x, p);
  if (c == '-' && p + 2 < t->n && t->s[p + 2] == '}' && (t->s[p + 1] == '%' || t->s[p + 1] == '}')) {
    push(x, t->s[p + 1] == '%' ? T_CLOSE_STMT : T_CLOSE_EXPR, t->s + p + 1, 2, line);
    x->pos = skip_space(t, p + 3);
    return;
  }
  if (c == '-' || c == '+') {
    if (last < 0 || last == T_TEXT) lex_fail(x, "unexpected character + or - outside a tag");
    if (last != T_IDENT && last != T_NUM && last != T_STR && last != T_RPAREN &&
        last != T_RBRACKET) { /* a sign: part of a number, or unary */
      size_t end = lex_number_end(t, p + 1, 1);
      push(x, end > p + 1 ? T_NUM : T_UNARY, t->s + p, end > p + 1 ? end - p : 1, line);
      x->pos = end;
      return;
    }
  }
  for (size_t r = 0; r < sizeof RULES / sizeof *RULES; r++) {
    size_t k = strlen(RULES[r].seq);
    if (RULES[r].type == T_CLOSE_EXPR && x->curly_depth > 0) continue;
    if (t->n - p >= k && !memcmp(t->s + p, RULES[r].seq, k)) {
      int type = RULES[r].type;
      push(x, type, t->s + p, k, line);
      if (type == T_OPEN_EXPR) x->curly_depth = 0;
      else if (type == T_LBRACE) x->curly_depth++;
      else if (type == T_RBRACE) x->curly_depth--;
      x->pos = p + k;
      return;
    }
  }
  if (c == '\'' || c == '"') {
    x->pos = p + 1;
    lex_string(x, c, line);
    return;
  }
  if (is_digit(c)) {
    size_t end = lex_number_end(t, p, last != T_DOT);
    push(x, T_NUM, t->s + p, end - p, line);
    x->pos = end;
    return;
  }
  if (is_word(c)) {
    size_t end = p;
    while (end < t->n && is_word(t->s[end])) end++;
    push(x, T_IDENT, t->s + p, end - p, line);
    x->pos = end;
    return;
  }
  lex_fail(x, "unexpected character inside a tag");
}

void jinja_tokenize(jarena *a, const char *src, size_t n, jtok **toks, size_t *ntoks) {
  text t = text_new(a, n);
  int line = 1, len;
  for (size_t i = 0; i < n; i++) {
    t.s[i] = src[i];
    t.line[i] = line;
    if (src[i] == '\n') line++;
  }
  for (size_t i = 0; i < n; i += (size_t)len) /* what the oracle reads is text */
    if (llm_utf8_decode((const uint8_t *)src + i, n - i, &len) < 0) {
      a->line = t.line[i];
      jfail(a, LLM_EINVAL, "the template is not valid UTF-8 (byte %zu)", i);
    }
  t.n = n;
  if (t.n && t.s[t.n - 1] == '\n') t.n--;
  t = lstrip_blocks(a, &t);
  t = trim_blocks(a, &t);
  t = drop_generation(a, &t);
  lexer x = {.a = a, .src = t};
  while (x.pos < x.src.n) lex_one(&x);
  *toks = x.toks;
  *ntoks = x.n;
}
