/*
** jinja_internal.h: what the parts of the chat-template renderer share.
**   jinja.c        the API, the arena, errors
**   jinja_lex.c    preprocessing and tokens
**   jinja_parse.c  tokens to a syntax tree
**   jinja_eval.c   statements, expressions, calls, scopes
**   jinja_value.c  values: printing, JSON, equality
**   jinja_lib.c    filters, tests, built-in functions and methods
**
** All memory of a compile or a render comes from one arena (jarena) that is
** freed as a whole, so an error can unwind with longjmp from any depth
** without leaking: jfail() formats the message and jumps back to the API
** function that set up the arena.
*/
#ifndef LLM_JINJA_INTERNAL_H
#define LLM_JINJA_INTERNAL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "text/jinja.h"

/* ---- arena and errors ---------------------------------------------------- */

typedef struct jchunk jchunk;
typedef struct jarena {
  jchunk *chunks;
  size_t used, limit; /* bytes taken so far, the most allowed */
  jmp_buf *jump;      /* where jfail goes */
  llm_err *err;
  int line;           /* template line being worked on, for messages */
  int code;           /* the error's code, once jfail ran */
} jarena;

void *ja_alloc(jarena *a, size_t n); /* zeroed; fails (jumps) when out */
char *ja_strdup(jarena *a, const char *s, size_t n);
void ja_free_all(jarena *a);

#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 3, 4)))
#endif
void jfail(jarena *a, int code, const char *fmt, ...);

/* A growable text in the arena (old storage is left to the arena). */
typedef struct jsb {
  char *s;
  size_t len, cap;
} jsb;
void jsb_add(jarena *a, jsb *b, const char *s, size_t n);
void jsb_addz(jarena *a, jsb *b, const char *s);

/* JavaScript's white space (String.prototype.trim, \s): the length in bytes
** of the white-space character at s[0..n), or 0. */
size_t js_space_len(const char *s, size_t n);
/* The length of trailing white space of s[0..n). */
size_t js_space_len_back(const char *s, size_t n);

/* ---- tokens -------------------------------------------------------------- */

enum {
  T_TEXT, T_NUM, T_STR, T_IDENT, T_EQUALS, T_LPAREN, T_RPAREN,
  T_OPEN_STMT, T_CLOSE_STMT, T_OPEN_EXPR, T_CLOSE_EXPR, T_LBRACKET,
  T_RBRACKET, T_LBRACE, T_RBRACE, T_COMMA, T_DOT, T_COLON, T_PIPE,
  T_ADD, T_MUL, T_POW, T_CMP, T_UNARY, T_COMMENT,
};

typedef struct jtok {
  int type;
  const char *s; /* the text (string literals: decoded) */
  size_t n;
  int line;
} jtok;

/* Tokens of src[0..n) after the chat-template preprocessing. */
void jinja_tokenize(jarena *a, const char *src, size_t n, jtok **toks, size_t *ntoks);

/* ---- syntax tree --------------------------------------------------------- */

enum {
  /* statements */
  N_TEXT, N_IF, N_FOR, N_SET, N_MACRO, N_BREAK, N_CONTINUE, N_COMMENT,
  N_FILTER_BLOCK,
  /* expressions */
  N_INT, N_FLOAT, N_STR, N_IDENT, N_LIST, N_TUPLE, N_DICT, N_BINARY, N_UNARY,
  N_MEMBER, N_SLICE, N_CALL, N_FILTER, N_TEST, N_TERNARY, N_SELECT, N_KWARG,
  N_SPREAD, N_KWSPREAD, /* *list and **dict in a call's arguments */
};

/* Operators of N_BINARY and N_UNARY. */
enum {
  OP_OR, OP_AND, OP_NOT, OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_IN,
  OP_NOT_IN, OP_ADD, OP_SUB, OP_CONCAT, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD,
  OP_POW,
};

typedef struct jnode jnode;
typedef struct jnodes {
  jnode **v;
  size_t n;
} jnodes;

/* One node; which fields are used depends on kind:
**   TEXT/STR/IDENT: s,n   INT/FLOAT: num   LIST/TUPLE: list
**   DICT: list (keys), list2 (values)   BINARY/UNARY: op, a, b
**   MEMBER: a (object), b (property), flag (computed [])   SLICE: a:b:c
**   CALL: a (callee), list (args)   FILTER: a (operand), b (IDENT or CALL)
**   TEST: a, s,n (test name), flag (negated)   TERNARY: a (cond), b, c
**   SELECT: a (value), b (cond)   KWARG: s,n (name), a (value)
**   SPREAD/KWSPREAD: a (the list or dict)
**   IF: a (test), list (body), list2 (else)
**   FOR: a (target), b (iterable), list (body), list2 (else)
**   SET: a (target), b (value or NULL), list (block body)
**   MACRO: s,n (name), list (parameters), list2 (body), flag (uses
**          varargs: 1, kwargs: 2)
**   FILTER_BLOCK: a (filter), list (body) */
struct jnode {
  int kind, line, op, flag;
  const char *s;
  size_t n;
  double num;
  jnode *a, *b, *c;
  jnodes list, list2;
};

/* Parses the tokens into the program's statements. */
jnodes jinja_parse(jarena *a, const jtok *toks, size_t ntoks);

/* ---- values -------------------------------------------------------------- */

enum {
  JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT,
  JV_NS, JV_LOOP, JV_FUNC,
};

typedef struct jval {
  int t;
  double num;    /* BOOL (0/1), INT, FLOAT */
  const char *s; /* STR (not NUL-terminated) */
  size_t n;
  void *p;       /* LIST: jlist, DICT/NS: jdict, LOOP: jloop, FUNC: jfunc */
} jval;

typedef struct jlist {
  size_t n;
  jval *v;
  int tuple; /* made by (a, b): the oracle's TupleValue, a list that
             ** cannot be printed, unpacked in a for, or tested iterable */
} jlist;

/* Insertion-ordered; NS values are changed in place by set ns.x = ... */
typedef struct jdict {
  size_t n, cap;
  const char **k;
  size_t *kn;
  jval *v;
} jdict;

/* The `loop` of a for pass, made into a dict only when used as one. */
typedef struct jloop {
  size_t i, len;
  jval prev, next; /* UNDEF when none */
} jloop;

typedef struct jenv jenv;
struct jenv {
  jenv *parent;
  jdict vars;
};

typedef struct jfunc {
  int builtin;  /* a JB_* below, or -1 for a macro */
  jval self;    /* the string or dict of a method */
  const jnode *macro;
  jenv *closure;
} jfunc;

/* Built-in functions (globals and methods). */
enum {
  JB_RAISE, JB_RANGE, JB_NAMESPACE, JB_STRFTIME,
  JB_S_UPPER, JB_S_LOWER, JB_S_STRIP, JB_S_TITLE, JB_S_CAPITALIZE,
  JB_S_RSTRIP, JB_S_LSTRIP, JB_S_STARTSWITH, JB_S_ENDSWITH, JB_S_SPLIT,
  JB_S_REPLACE, JB_D_GET, JB_D_ITEMS, JB_D_KEYS, JB_D_VALUES, JB_D_DICTSORT,
};

/* The state of one render. */
typedef struct jrender {
  jarena *a;
  jsb *out;      /* where text goes now */
  int depth;
  long steps;
} jrender;

extern const jval JV_UNDEFINED;
jval jv_num(int t, double x);
jval jv_bool(int b);
jval jv_str(const char *s, size_t n);
jval jv_list(jarena *a, size_t n);  /* n UNDEF items to fill */
jval jv_dict(jarena *a, int t);     /* empty DICT or NS */
jval jv_func(jarena *a, int builtin, jval self);

const char *jv_type_name(jval v); /* "StringValue" etc., as in the oracle */
int jv_truthy(jval v);
jval *jdict_get(jdict *d, const char *k, size_t kn);
void jdict_set(jarena *a, jdict *d, const char *k, size_t kn, jval v);
jdict *jv_as_dict(jarena *a, jval v); /* DICT/NS/LOOP as a dict */
/* The field k of a loop object (without making it a dict); 0 if none. */
int jloop_get(const jloop *l, const char *k, size_t kn, jval *out);
size_t utf16_len(const char *s, size_t n);

/* Text of a value: what {{ v }} prints (RuntimeValue.toString) and what
** JavaScript's String(v.value) gives (used by ~ and +). */
void jv_print(jarena *a, jsb *b, jval v);
void jv_print_raw(jarena *a, jsb *b, jval v);
/* JSON as the tojson filter writes it; indent < 0 for none. */
typedef struct jjson_opts {
  int indent, ascii, keep_undefined;
  const char *item_sep, *key_sep;
} jjson_opts;
void jv_json(jarena *a, jsb *b, jval v, const jjson_opts *o, int depth);

int jv_loose_eq(jval x, jval y);  /* JavaScript's == on the values */
int jv_strict_eq(jval x, jval y); /* JavaScript's === on the values */

/* Arguments of a call: positional ones and keyword ones (kw may be NULL). */
typedef struct jargs {
  jval *pos;
  size_t npos;
  jdict *kw;
} jargs;

jval jinja_filter(jrender *r, jval v, const jnode *filter, jenv *env);
int jinja_test(jrender *r, jval v, const char *name, size_t n, jval arg, int has_arg);
jval jinja_builtin(jrender *r, const jfunc *f, jargs *args);
/* Member lookup (v.name or v[k]). */
jval jinja_member(jrender *r, jval obj, jval key);
jval jinja_eval(jrender *r, const jnode *e, jenv *env);
void jinja_eval_args(jrender *r, const jnodes *args, jenv *env, jargs *out);
jval jinja_slice(jrender *r, jval obj, jval start, jval stop, jval step);
/* Renders the program's statements into r->out. */
void jinja_render_program(jrender *r, const jnodes *program, jenv *env);

#endif
