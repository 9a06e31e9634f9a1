/*
** jinja_parse.c: tokens to the syntax tree (jnode, see jinja_internal.h),
** a recursive descent that follows @huggingface/jinja's parser, so that
** precedence and its quirks match: from loosest to tightest binding
**   a if c else b | or | and | not | comparisons, in, not in | + - ~ |
**   * / // % | ** | is tests | |filters | unary + - | calls, .x, [k] [a:b:c]
** Statements: if/elif/else, for/else, set (and set blocks), macro, break,
** continue, filter blocks. Everything else is an error naming it.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/jinja_internal.h"

typedef struct parser {
  jarena *a;
  const jtok *t;
  size_t n, i;
  int depth;
  int macro_specials; /* varargs (1) / kwargs (2) seen in a macro body */
} parser;

/* A syntax error at the current token. */
#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 2, 3)))
#endif
static void pfail(parser *p, const char *fmt, ...) {
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  p->a->line = p->n == 0 ? 1 : p->t[p->i < p->n ? p->i : p->n - 1].line;
  jfail(p->a, LLM_EINVAL, "%s", msg);
}

static const char *tok_name(parser *p) {
  static const char *const names[] = {
    "text", "number", "string", "name", "=", "(", ")", "{%", "%}", "{{", "}}", "[", "]",
    "{", "}", ",", ".", ":", "|", "operator", "operator", "**", "comparison", "sign",
    "comment"};
  return p->i < p->n ? names[p->t[p->i].type] : "end of template";
}

static int is(parser *p, int type) { return p->i < p->n && p->t[p->i].type == type; }

static int is_ident(parser *p, size_t ahead, const char *name) {
  size_t k = p->i + ahead;
  return k < p->n && p->t[k].type == T_IDENT && strlen(name) == p->t[k].n &&
         !memcmp(p->t[k].s, name, p->t[k].n);
}

/* Whether {% name follows, for one of names (NULL-terminated). */
static int is_statement(parser *p, const char *const *names) {
  if (!is(p, T_OPEN_STMT)) return 0;
  for (; *names; names++)
    if (is_ident(p, 1, *names)) return 1;
  return 0;
}

static const jtok *expect(parser *p, int type, const char *what) {
  if (!is(p, type)) pfail(p, "expected %s, got %s", what, tok_name(p));
  return &p->t[p->i++];
}

static jnode *node(parser *p, int kind) {
  jnode *e = ja_alloc(p->a, sizeof *e);
  e->kind = kind;
  e->line = p->n == 0 ? 1 : p->t[p->i < p->n ? p->i : p->n - 1].line;
  return e;
}

static void add(parser *p, jnodes *l, jnode *e) {
  if ((l->n & (l->n - 1)) == 0) { /* grow at powers of two */
    jnode **v = ja_alloc(p->a, (l->n ? l->n * 2 : 1) * sizeof *v);
    if (l->n) memcpy(v, l->v, l->n * sizeof *v);
    l->v = v;
  }
  l->v[l->n++] = e;
}

static jnode *expression(parser *p);
static jnode *primary(parser *p);
static jnode *any(parser *p);

static void enter(parser *p) {
  if (++p->depth > LLM_JINJA_MAX_DEPTH)
    jfail(p->a, LLM_ERANGE, "nesting deeper than %d", LLM_JINJA_MAX_DEPTH);
}

/* ---- expressions --------------------------------------------------------- */

/* a, b, ... as a tuple, or one expression. */
static jnode *sequence(parser *p, int primary_only) {
  jnode *first = primary_only ? primary(p) : expression(p);
  if (!is(p, T_COMMA)) return first;
  jnode *t = node(p, N_TUPLE);
  add(p, &t->list, first);
  while (is(p, T_COMMA)) {
    p->i++;
    add(p, &t->list, primary_only ? primary(p) : expression(p));
  }
  return t;
}

static jnode *args(parser *p, int params) {
  jnode *holder = node(p, N_LIST); /* only its list is used */
  expect(p, T_LPAREN, "( for the arguments");
  int saw_keyword = 0, saw_spread = 0;
  while (!is(p, T_RPAREN)) {
    int kw_spread = is(p, T_POW);
    int spread = is(p, T_MUL) && p->t[p->i].n == 1 && p->t[p->i].s[0] == '*';
    if ((kw_spread || spread) && params) pfail(p, "argument unpacking is not allowed in parameter declarations");
    if (kw_spread) {
      p->i++;
      jnode *k = node(p, N_KWSPREAD);
      k->a = expression(p);
      add(p, &holder->list, k);
      if (is(p, T_COMMA)) p->i++;
      if (!is(p, T_RPAREN)) pfail(p, "expected ): `**` must be applied to the final argument");
      break;
    }
    if (spread) {
      if (saw_spread) pfail(p, "only one `*` argument unpacking is allowed");
      saw_spread = 1;
      p->i++;
      jnode *s = node(p, N_SPREAD);
      s->a = expression(p);
      add(p, &holder->list, s);
      if (is(p, T_COMMA)) p->i++;
      continue;
    }
    jnode *arg = expression(p);
    if (is(p, T_EQUALS)) {
      p->i++;
      if (arg->kind != N_IDENT) pfail(p, "expected a name before =");
      jnode *kw = node(p, N_KWARG);
      kw->s = arg->s;
      kw->n = arg->n;
      kw->a = expression(p);
      arg = kw;
    }
    if (params) {
      if (arg->kind != N_IDENT && arg->kind != N_KWARG) pfail(p, "expected a parameter name");
      for (size_t k = 0; k < holder->list.n; k++)
        if (holder->list.v[k]->n == arg->n && !memcmp(holder->list.v[k]->s, arg->s, arg->n))
          pfail(p, "duplicate parameter name: %.*s", (int)arg->n, arg->s);
    }
    if (arg->kind == N_KWARG) saw_keyword = 1;
    else if (saw_keyword)
      pfail(p, params ? "non-default argument follows default argument"
                      : "positional arguments must come before keyword arguments");
    else if (saw_spread)
      pfail(p, "positional arguments must not follow `*` argument unpacking");
    add(p, &holder->list, arg);
    if (is(p, T_COMMA)) p->i++;
  }
  p->i++;
  return holder;
}

static jnode *member(parser *p, jnode *obj);

static jnode *call(parser *p, jnode *callee) {
  jnode *c = node(p, N_CALL);
  c->a = callee;
  c->list = args(p, 0)->list;
  c = member(p, c);
  return is(p, T_LPAREN) ? call(p, c) : c;
}

/* The inside of [...]: a key, or a slice a:b:c with parts left out. */
static jnode *subscript(parser *p) {
  jnode *parts[3] = {0};
  size_t n = 0;
  int is_slice = 0;
  while (!is(p, T_RBRACKET)) {
    if (p->i >= p->n) pfail(p, "unclosed [");
    if (n == 3) pfail(p, "a slice has at most 3 parts");
    if (is(p, T_COLON)) {
      n++;
      p->i++;
      is_slice = 1;
    } else {
      parts[n++] = expression(p);
      if (is(p, T_COLON)) {
        p->i++;
        is_slice = 1;
      }
    }
  }
  if (n == 0) pfail(p, "empty []");
  if (!is_slice) return parts[0];
  jnode *s = node(p, N_SLICE);
  s->a = parts[0];
  s->b = parts[1];
  s->c = parts[2];
  return s;
}

static jnode *member(parser *p, jnode *obj) {
  while (is(p, T_DOT) || is(p, T_LBRACKET)) {
    jnode *m = node(p, N_MEMBER);
    m->a = obj;
    m->flag = is(p, T_LBRACKET);
    p->i++;
    if (m->flag) {
      m->b = subscript(p);
      expect(p, T_RBRACKET, "]");
    } else {
      m->b = primary(p);
      if (m->b->kind != N_IDENT && m->b->kind != N_INT) pfail(p, "expected a name after .");
    }
    obj = m;
  }
  return obj;
}

static jnode *primary(parser *p) {
  if (p->i >= p->n) pfail(p, "unexpected end of template in an expression");
  const jtok *t = &p->t[p->i];
  jnode *e;
  switch (t->type) {
  case T_NUM: {
    p->i++;
    int is_float = memchr(t->s, '.', t->n) != NULL;
    e = node(p, is_float ? N_FLOAT : N_INT);
    e->num = strtod(ja_strdup(p->a, t->s, t->n), NULL);
    return e;
  }
  case T_STR: {
    e = node(p, N_STR);
    jsb b = {0};
    while (is(p, T_STR)) { /* adjacent literals join */
      jsb_add(p->a, &b, p->t[p->i].s, p->t[p->i].n);
      p->i++;
    }
    e->s = b.s ? b.s : "";
    e->n = b.len;
    return e;
  }
  case T_IDENT:
    p->i++;
    e = node(p, N_IDENT);
    e->s = t->s;
    e->n = t->n;
    if (t->n == 7 && !memcmp(t->s, "varargs", 7)) p->macro_specials |= 1;
    if (t->n == 6 && !memcmp(t->s, "kwargs", 6)) p->macro_specials |= 2;
    return e;
  case T_LPAREN:
    p->i++;
    enter(p);
    e = sequence(p, 0);
    p->depth--;
    expect(p, T_RPAREN, ")");
    return e;
  case T_LBRACKET:
  case T_LBRACE: {
    int dict = t->type == T_LBRACE;
    p->i++;
    enter(p);
    e = node(p, dict ? N_DICT : N_LIST);
    while (!is(p, dict ? T_RBRACE : T_RBRACKET)) {
      if (p->i >= p->n) pfail(p, dict ? "unclosed {" : "unclosed [");
      add(p, &e->list, expression(p));
      if (dict) {
        expect(p, T_COLON, ": between a key and its value");
        add(p, &e->list2, expression(p));
      }
      if (is(p, T_COMMA)) p->i++;
    }
    p->i++;
    p->depth--;
    return e;
  }
  default:
    pfail(p, "unexpected %s in an expression", tok_name(p));
  }
}

static jnode *unary_sign(parser *p) {
  if ((is(p, T_UNARY) || is(p, T_ADD)) && p->t[p->i].n == 1 &&
      (p->t[p->i].s[0] == '-' || p->t[p->i].s[0] == '+')) {
    jnode *u = node(p, N_UNARY);
    u->op = p->t[p->i++].s[0] == '-' ? OP_SUB : OP_ADD;
    enter(p);
    u->a = unary_sign(p);
    p->depth--;
    return u;
  }
  jnode *m = member(p, primary(p));
  return is(p, T_LPAREN) ? call(p, m) : m;
}

static jnode *filter_expr(parser *p) {
  jnode *e = unary_sign(p);
  while (is(p, T_PIPE)) {
    p->i++;
    jnode *f = node(p, N_FILTER);
    f->a = e;
    f->b = primary(p);
    if (f->b->kind != N_IDENT) pfail(p, "expected a filter name after |");
    if (is(p, T_LPAREN)) f->b = call(p, f->b);
    e = f;
  }
  return e;
}

static jnode *test_expr(parser *p) {
  jnode *e = filter_expr(p);
  while (is_ident(p, 0, "is")) {
    p->i++;
    jnode *t = node(p, N_TEST);
    t->flag = is_ident(p, 0, "not");
    if (t->flag) p->i++;
    jnode *name = primary(p);
    if (name->kind != N_IDENT) pfail(p, "expected a test name after is");
    t->a = e;
    t->s = name->s;
    t->n = name->n;
    e = t;
  }
  return e;
}

static jnode *binary(parser *p, int op, jnode *l, jnode *r) {
  jnode *b = node(p, N_BINARY);
  b->op = op;
  b->a = l;
  b->b = r;
  return b;
}

static int op_of(const jtok *t) {
  static const struct { const char *s; int op; } ops[] = {
    {"==", OP_EQ}, {"!=", OP_NE}, {"<", OP_LT}, {">", OP_GT}, {"<=", OP_LE}, {">=", OP_GE},
    {"+", OP_ADD}, {"-", OP_SUB}, {"~", OP_CONCAT}, {"*", OP_MUL}, {"/", OP_DIV},
    {"//", OP_FLOORDIV}, {"%", OP_MOD}, {"**", OP_POW}};
  for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
    if (strlen(ops[k].s) == t->n && !memcmp(ops[k].s, t->s, t->n)) return ops[k].op;
  return -1;
}

/* One level of left-associative operators whose tokens are of type tok. */
static jnode *left_assoc(parser *p, int tok, jnode *(*next)(parser *)) {
  jnode *e = next(p);
  while (is(p, tok)) {
    int op = op_of(&p->t[p->i++]);
    e = binary(p, op, e, next(p));
  }
  return e;
}

static jnode *power(parser *p) { return left_assoc(p, T_POW, test_expr); }
static jnode *multiplicative(parser *p) { return left_assoc(p, T_MUL, power); }
static jnode *additive(parser *p) { return left_assoc(p, T_ADD, multiplicative); }

static jnode *comparison(parser *p) {
  jnode *e = additive(p);
  for (;;) {
    int op;
    if (is_ident(p, 0, "not") && is_ident(p, 1, "in")) {
      op = OP_NOT_IN;
      p->i += 2;
    } else if (is_ident(p, 0, "in")) {
      op = OP_IN;
      p->i++;
    } else if (is(p, T_CMP)) {
      op = op_of(&p->t[p->i++]);
    } else {
      return e;
    }
    e = binary(p, op, e, additive(p));
  }
}

static jnode *negation(parser *p) {
  jnode *u = NULL;
  while (is_ident(p, 0, "not")) { /* as the oracle: `not not x` is `not x` */
    p->i++;
    u = node(p, N_UNARY);
    u->op = OP_NOT;
    enter(p);
    u->a = negation(p);
    p->depth--;
  }
  return u ? u : comparison(p);
}

static jnode *logical_and(parser *p) {
  jnode *e = negation(p);
  while (is_ident(p, 0, "and")) {
    p->i++;
    e = binary(p, OP_AND, e, negation(p));
  }
  return e;
}

static jnode *logical_or(parser *p) {
  jnode *e = logical_and(p);
  while (is_ident(p, 0, "or")) {
    p->i++;
    e = binary(p, OP_OR, e, logical_and(p));
  }
  return e;
}

static jnode *expression(parser *p) {
  enter(p);
  jnode *e = logical_or(p);
  if (is_ident(p, 0, "if")) {
    p->i++;
    jnode *c = node(p, N_SELECT);
    c->a = e;
    c->b = logical_or(p);
    if (is_ident(p, 0, "else")) {
      p->i++;
      c->kind = N_TERNARY;
      c->c = expression(p);
      jnode *cond = c->b; /* TERNARY: a is the condition */
      c->b = c->a;
      c->a = cond;
    }
    e = c;
  }
  p->depth--;
  return e;
}

/* ---- statements ---------------------------------------------------------- */

/* Statements until {% one of ends %}; the opener's line for the message. */
static jnodes body_until(parser *p, const char *const *ends, const char *opener, int line) {
  jnodes l = {0};
  while (!is_statement(p, ends)) {
    if (p->i >= p->n) {
      p->i = p->n;
      p->a->line = p->n ? p->t[p->n - 1].line : line;
      jfail(p->a, LLM_EINVAL, "{%% %s %%} of line %d is not closed (no {%% %s %%})", opener,
            line, ends[0]);
    }
    add(p, &l, any(p));
  }
  return l;
}

static void end_tag(parser *p, const char *name) {
  expect(p, T_OPEN_STMT, "{%");
  if (!is_ident(p, 0, name)) pfail(p, "expected %s", name);
  p->i++;
  expect(p, T_CLOSE_STMT, "%}");
}

static jnode *if_statement(parser *p, int line) {
  static const char *const ends[] = {"endif", "elif", "else", NULL};
  jnode *s = node(p, N_IF);
  s->line = line;
  s->a = expression(p);
  expect(p, T_CLOSE_STMT, "%}");
  s->list = body_until(p, ends, "if", line);
  if (is_ident(p, 1, "elif")) {
    int elif_line = p->t[p->i].line;
    p->i += 2;
    add(p, &s->list2, if_statement(p, elif_line));
  } else if (is_ident(p, 1, "else")) {
    static const char *const endif[] = {"endif", NULL};
    p->i += 2;
    expect(p, T_CLOSE_STMT, "%}");
    s->list2 = body_until(p, endif, "if", line);
  }
  return s;
}

static jnode *for_statement(parser *p, int line) {
  static const char *const ends[] = {"endfor", "else", NULL};
  static const char *const endfor[] = {"endfor", NULL};
  jnode *s = node(p, N_FOR);
  s->a = sequence(p, 1);
  if (s->a->kind != N_IDENT && s->a->kind != N_TUPLE) pfail(p, "expected a name or names after for");
  if (!is_ident(p, 0, "in")) pfail(p, "expected `in` after the loop variable");
  p->i++;
  s->b = expression(p);
  expect(p, T_CLOSE_STMT, "%}");
  s->list = body_until(p, ends, "for", line);
  if (is_ident(p, 1, "else")) {
    p->i += 2;
    expect(p, T_CLOSE_STMT, "%}");
    s->list2 = body_until(p, endfor, "for", line);
  }
  return s;
}

static jnode *set_statement(parser *p, int line) {
  static const char *const endset[] = {"endset", NULL};
  jnode *s = node(p, N_SET);
  s->a = sequence(p, 0);
  if (is(p, T_EQUALS)) {
    p->i++;
    s->b = sequence(p, 0);
  } else {
    expect(p, T_CLOSE_STMT, "= or %}");
    s->list = body_until(p, endset, "set", line);
    expect(p, T_OPEN_STMT, "{%");
    p->i++;
  }
  expect(p, T_CLOSE_STMT, "%}");
  return s;
}

static jnode *macro_statement(parser *p, int line) {
  static const char *const endmacro[] = {"endmacro", NULL};
  jnode *s = node(p, N_MACRO);
  jnode *name = primary(p);
  if (name->kind != N_IDENT) pfail(p, "expected a name after macro");
  s->s = name->s;
  s->n = name->n;
  s->list = args(p, 1)->list;
  expect(p, T_CLOSE_STMT, "%}");
  int outer = p->macro_specials;
  p->macro_specials = 0;
  s->list2 = body_until(p, endmacro, "macro", line);
  s->flag = p->macro_specials;
  p->macro_specials = outer | s->flag; /* the oracle looks into nested macros too */
  return s;
}

static jnode *statement(parser *p) {
  int line = p->t[p->i].line;
  p->i++; /* {% */
  if (!is(p, T_IDENT)) pfail(p, "expected a statement name after {%%, got %s", tok_name(p));
  const jtok *name = &p->t[p->i++];
  jnode *s;
  enter(p);
  if (name->n == 2 && !memcmp(name->s, "if", 2)) {
    s = if_statement(p, line);
    end_tag(p, "endif");
  } else if (name->n == 3 && !memcmp(name->s, "for", 3)) {
    s = for_statement(p, line);
    end_tag(p, "endfor");
  } else if (name->n == 3 && !memcmp(name->s, "set", 3)) {
    s = set_statement(p, line);
  } else if (name->n == 5 && !memcmp(name->s, "macro", 5)) {
    s = macro_statement(p, line);
    end_tag(p, "endmacro");
  } else if ((name->n == 5 && !memcmp(name->s, "break", 5)) ||
             (name->n == 8 && !memcmp(name->s, "continue", 8))) {
    s = node(p, name->n == 5 ? N_BREAK : N_CONTINUE);
    expect(p, T_CLOSE_STMT, "%}");
  } else if (name->n == 6 && !memcmp(name->s, "filter", 6)) {
    static const char *const endfilter[] = {"endfilter", NULL};
    s = node(p, N_FILTER_BLOCK);
    s->a = primary(p);
    if (s->a->kind == N_IDENT && is(p, T_LPAREN)) s->a = call(p, s->a);
    expect(p, T_CLOSE_STMT, "%}");
    s->list = body_until(p, endfilter, "filter", line);
    end_tag(p, "endfilter");
  } else {
    p->i--;
    pfail(p, "unsupported statement {%% %.*s %%}", (int)(name->n > 40 ? 40 : name->n), name->s);
  }
  s->line = line;
  p->depth--;
  return s;
}

static jnode *any(parser *p) {
  const jtok *t = &p->t[p->i];
  jnode *e;
  switch (t->type) {
  case T_COMMENT:
  case T_TEXT:
    e = node(p, t->type == T_TEXT ? N_TEXT : N_COMMENT);
    e->s = t->s;
    e->n = t->n;
    p->i++;
    return e;
  case T_OPEN_STMT:
    return statement(p);
  case T_OPEN_EXPR:
    p->i++;
    e = expression(p);
    expect(p, T_CLOSE_EXPR, "}}");
    return e;
  default:
    pfail(p, "unexpected %s outside {{ }} and {%% %%}", tok_name(p));
  }
}

jnodes jinja_parse(jarena *a, const jtok *toks, size_t ntoks) {
  parser p = {.a = a, .t = toks, .n = ntoks};
  jnodes program = {0};
  while (p.i < p.n) add(&p, &program, any(&p));
  return program;
}
