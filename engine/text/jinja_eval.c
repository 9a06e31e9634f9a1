/*
** jinja_eval.c: running the syntax tree as @huggingface/jinja's
** Interpreter does: scopes (a for loop and a macro call open one; if and
** set do not), statements, operators with its JavaScript semantics, member
** access, slices, calls of macros and built-ins.
**
** Text goes to r->out; a macro call, a set block and a filter block render
** into a text of their own. break and continue return up to their loop,
** which then drops what that pass printed (the oracle builds each pass as
** a string and loses it when the statement throws).
*/
#include <math.h>
#include <string.h>

#include "text/jinja_internal.h"

#define EVAL_DEPTH (5 * LLM_JINJA_MAX_DEPTH)

enum { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE };

static void step(jrender *r, const jnode *e) {
  r->a->line = e->line;
  if (++r->steps > LLM_JINJA_MAX_STEPS)
    jfail(r->a, LLM_ERANGE, "the template takes more than %ld steps", LLM_JINJA_MAX_STEPS);
}

/* Work proportional to the size of a value an operation reads or makes
** counts as steps too, so that no loop of cheap-looking steps over long
** strings or lists runs for long. */
static jval charge(jrender *r, jval v) {
  size_t n = v.t == JV_STR ? v.n / 64 : v.t == JV_LIST ? ((jlist *)v.p)->n
             : v.t == JV_DICT || v.t == JV_NS ? ((jdict *)v.p)->n : 0;
  r->steps += (long)(n > (size_t)LLM_JINJA_MAX_STEPS ? (size_t)LLM_JINJA_MAX_STEPS : n);
  if (r->steps > LLM_JINJA_MAX_STEPS)
    jfail(r->a, LLM_ERANGE, "the template takes more than %ld steps", LLM_JINJA_MAX_STEPS);
  return v;
}

static void enter(jrender *r) {
  if (++r->depth > EVAL_DEPTH) jfail(r->a, LLM_ERANGE, "calls or expressions nested deeper than %d", EVAL_DEPTH);
}

static jenv *env_new(jrender *r, jenv *parent) {
  jenv *e = ja_alloc(r->a, sizeof *e);
  e->parent = parent;
  return e;
}

static jval lookup(jenv *env, const char *name, size_t n) {
  for (; env; env = env->parent) {
    jval *v = jdict_get(&env->vars, name, n);
    if (v) return *v;
  }
  return JV_UNDEFINED;
}

static void env_set(jrender *r, jenv *env, const char *name, size_t n, jval v) {
  jdict_set(r->a, &env->vars, name, n, v);
}

static int render_block(jrender *r, const jnodes *body, jenv *env);

/* Renders body into a string of its own. */
static jval capture(jrender *r, const jnodes *body, jenv *env) {
  jsb *saved = r->out, text = {0};
  r->out = &text;
  if (render_block(r, body, env) != FLOW_NORMAL)
    jfail(r->a, LLM_EINVAL, "unsupported: break or continue outside a for loop");
  r->out = saved;
  return jv_str(text.s, text.len);
}

/* ---- operators ----------------------------------------------------------- */

static const char *const OP_NAMES[] = {
  "or", "and", "not", "==", "!=", "<", ">", "<=", ">=", "in", "not in", "+", "-", "~", "*",
  "/", "//", "%", "**"};

static jval concat(jrender *r, jval x, jval y, int raw_undefined_empty) {
  jsb b = {0};
  if (!(raw_undefined_empty && x.t == JV_UNDEF)) jv_print_raw(r->a, &b, x);
  if (!(raw_undefined_empty && y.t == JV_UNDEF)) jv_print_raw(r->a, &b, y);
  return jv_str(b.s, b.len);
}

static int contains(jval hay, jval needle) {
  const jlist *l = hay.p;
  for (size_t i = 0; i < l->n; i++)
    if (jv_strict_eq(l->v[i], needle)) return 1;
  return 0;
}

static int str_contains(jval hay, jval needle) {
  return needle.n == 0 || memmem(hay.s, hay.n, needle.s, needle.n) != NULL;
}

static jval arith(int op, jval x, jval y) {
  double a = x.num, b = y.num;
  int t = x.t == JV_FLOAT || y.t == JV_FLOAT ? JV_FLOAT : JV_INT;
  switch (op) {
  case OP_ADD: return jv_num(t, a + b);
  case OP_SUB: return jv_num(t, a - b);
  case OP_MUL: return jv_num(t, a * b);
  case OP_DIV: return jv_num(JV_FLOAT, a / b);
  case OP_FLOORDIV: return jv_num(t, floor(a / b));
  case OP_MOD: return jv_num(t, fmod(a, b));
  case OP_LT: return jv_bool(a < b);
  case OP_GT: return jv_bool(a > b);
  case OP_LE: return jv_bool(a <= b);
  default: return jv_bool(a >= b); /* OP_GE */
  }
}

static jval binary(jrender *r, const jnode *e, jenv *env) {
  int op = e->op;
  jval x = jinja_eval(r, e->a, env);
  if (op == OP_AND) return jv_truthy(x) ? jinja_eval(r, e->b, env) : x;
  if (op == OP_OR) return jv_truthy(x) ? x : jinja_eval(r, e->b, env);
  jval y = jinja_eval(r, e->b, env);
  r->a->line = e->line;
  charge(r, x);
  charge(r, y);
  if (op == OP_EQ) return jv_bool(jv_loose_eq(x, y));
  if (op == OP_NE) return jv_bool(!jv_loose_eq(x, y));
  int xnum = x.t == JV_INT || x.t == JV_FLOAT, ynum = y.t == JV_INT || y.t == JV_FLOAT;
  int in_op = op == OP_IN || op == OP_NOT_IN;
  if (xnum && ynum && op != OP_CONCAT && op != OP_POW) {
    if (!in_op) return arith(op, x, y);
  } else if (x.t == JV_UNDEF || y.t == JV_UNDEF) {
    if (y.t == JV_UNDEF && in_op) return jv_bool(op == OP_NOT_IN);
    if (op == OP_CONCAT && x.t != JV_NONE && y.t != JV_NONE) return concat(r, x, y, 1);
    jfail(r->a, LLM_EINVAL, "cannot perform operation %s on undefined values", OP_NAMES[op]);
  } else if (x.t == JV_NONE || y.t == JV_NONE) {
    jfail(r->a, LLM_EINVAL, "cannot perform operation %s on null values", OP_NAMES[op]);
  } else if (op == OP_CONCAT) {
    return concat(r, x, y, 0);
  } else if (op == OP_POW && (xnum || x.t == JV_BOOL) && (ynum || y.t == JV_BOOL)) {
    if (x.num == 0 && y.num < 0) jfail(r->a, LLM_EINVAL, "0.0 cannot be raised to a negative power");
    double p = pow(x.num, y.num);
    if (!isfinite(p)) jfail(r->a, LLM_EINVAL, "exponentiation result is not a finite real number");
    return jv_num(x.t == JV_FLOAT || y.t == JV_FLOAT || y.num < 0 ? JV_FLOAT : JV_INT, p);
  } else if (x.t == JV_LIST && y.t == JV_LIST) {
    if (op == OP_ADD) {
      const jlist *a = x.p, *b = y.p;
      jval v = jv_list(r->a, a->n + b->n);
      jlist *l = v.p;
      if (a->n) memcpy(l->v, a->v, a->n * sizeof *l->v);
      if (b->n) memcpy(l->v + a->n, b->v, b->n * sizeof *l->v);
      return v;
    }
  } else if (y.t == JV_LIST && in_op) {
    return jv_bool(contains(y, x) == (op == OP_IN));
  }
  if ((x.t == JV_STR || y.t == JV_STR) && op == OP_ADD) return concat(r, x, y, 0);
  if (x.t == JV_STR && y.t == JV_STR && in_op) return jv_bool(str_contains(y, x) == (op == OP_IN));
  if (x.t == JV_STR && (y.t == JV_DICT || y.t == JV_LOOP) && in_op)
    return jv_bool((jdict_get(jv_as_dict(r->a, y), x.s, x.n) != NULL) == (op == OP_IN));
  jfail(r->a, LLM_EINVAL, "unknown operator \"%s\" between %s and %s", OP_NAMES[op],
        jv_type_name(x), jv_type_name(y));
}

static jval unary(jrender *r, const jnode *e, jenv *env) {
  jval x = jinja_eval(r, e->a, env);
  if (e->op == OP_NOT) return jv_bool(!jv_truthy(x));
  if (x.t != JV_INT && x.t != JV_FLOAT && x.t != JV_BOOL)
    jfail(r->a, LLM_EINVAL, "unknown operator \"%s\" for %s", e->op == OP_SUB ? "-" : "+",
          jv_type_name(x));
  return jv_num(x.t == JV_FLOAT ? JV_FLOAT : JV_INT, e->op == OP_SUB ? -x.num : x.num);
}

/* ---- members and slices -------------------------------------------------- */

static const struct { const char *name; int builtin; } STR_METHODS[] = {
  {"upper", JB_S_UPPER}, {"lower", JB_S_LOWER}, {"strip", JB_S_STRIP},
  {"title", JB_S_TITLE}, {"capitalize", JB_S_CAPITALIZE}, {"rstrip", JB_S_RSTRIP},
  {"lstrip", JB_S_LSTRIP}, {"startswith", JB_S_STARTSWITH}, {"endswith", JB_S_ENDSWITH},
  {"split", JB_S_SPLIT}, {"replace", JB_S_REPLACE}};
static const struct { const char *name; int builtin; } DICT_METHODS[] = {
  {"get", JB_D_GET}, {"items", JB_D_ITEMS}, {"keys", JB_D_KEYS}, {"values", JB_D_VALUES},
  {"dictsort", JB_D_DICTSORT}};

static int name_is(jval k, const char *name) {
  return strlen(name) == k.n && !memcmp(k.s, name, k.n);
}

/* s[i] as JavaScript's String.prototype.at: i counts UTF-16 units (from the
** end when negative); half of a surrogate pair comes out as U+FFFD, as
** Node writes a lone surrogate in UTF-8. */
static jval str_at(jval s, double i) {
  double len = (double)utf16_len(s.s, s.n);
  double idx = trunc(i) < 0 ? trunc(i) + len : trunc(i);
  if (!(idx >= 0 && idx < len)) return JV_UNDEFINED;
  double unit = 0;
  for (size_t b = 0; b < s.n;) {
    size_t end = b + 1;
    while (end < s.n && ((unsigned char)s.s[end] & 0xC0) == 0x80) end++;
    double units = (unsigned char)s.s[b] >= 0xF0 ? 2 : 1;
    if (idx < unit + units) return units == 2 ? jv_str("\xEF\xBF\xBD", 3) : jv_str(s.s + b, end - b);
    unit += units;
    b = end;
  }
  return JV_UNDEFINED;
}

jval jinja_member(jrender *r, jval obj, jval key) {
  if (obj.t == JV_DICT || obj.t == JV_NS || obj.t == JV_LOOP) {
    if (key.t != JV_STR)
      jfail(r->a, LLM_EINVAL, "cannot access property with non-string: got %s", jv_type_name(key));
    jval field;
    if (obj.t == JV_LOOP && jloop_get(obj.p, key.s, key.n, &field)) return field;
    jval *v = obj.t == JV_LOOP ? NULL : jdict_get(obj.p, key.s, key.n);
    if (v) return *v;
    if (obj.t == JV_NS) return JV_UNDEFINED;
    for (size_t i = 0; i < sizeof DICT_METHODS / sizeof *DICT_METHODS; i++)
      if (name_is(key, DICT_METHODS[i].name)) return jv_func(r->a, DICT_METHODS[i].builtin, obj);
    return JV_UNDEFINED;
  }
  if (obj.t == JV_LIST || obj.t == JV_STR) {
    if (key.t == JV_INT) {
      if (obj.t == JV_STR) return str_at(obj, key.num);
      const jlist *l = obj.p;
      double i = trunc(key.num) < 0 ? trunc(key.num) + (double)l->n : trunc(key.num);
      return i >= 0 && i < (double)l->n ? l->v[(size_t)i] : JV_UNDEFINED;
    }
    if (key.t != JV_STR)
      jfail(r->a, LLM_EINVAL, "cannot access property with non-string/non-number: got %s",
            jv_type_name(key));
    if (name_is(key, "length"))
      return jv_num(JV_INT, obj.t == JV_LIST ? (double)((jlist *)obj.p)->n : (double)utf16_len(obj.s, obj.n));
    if (obj.t == JV_STR)
      for (size_t i = 0; i < sizeof STR_METHODS / sizeof *STR_METHODS; i++)
        if (name_is(key, STR_METHODS[i].name)) return jv_func(r->a, STR_METHODS[i].builtin, obj);
    return JV_UNDEFINED;
  }
  if (key.t != JV_STR)
    jfail(r->a, LLM_EINVAL, "cannot access property with non-string: got %s", jv_type_name(key));
  return JV_UNDEFINED;
}

/* Python's slice rules as the oracle implements them, over list items or a
** string's code points. */
jval jinja_slice(jrender *r, jval obj, jval start, jval stop, jval step_v) {
  const char *names[] = {"start", "stop", "step"};
  jval parts[3] = {start, stop, step_v};
  for (int i = 0; i < 3; i++)
    if (parts[i].t != JV_INT && parts[i].t != JV_UNDEF)
      jfail(r->a, LLM_EINVAL, "slice %s must be numeric or undefined", names[i]);
  size_t n = 0, *offs = NULL;
  if (obj.t == JV_LIST) {
    n = ((jlist *)obj.p)->n;
  } else if (obj.t == JV_STR) {
    offs = ja_alloc(r->a, (obj.n + 1) * sizeof *offs);
    for (size_t b = 0; b < obj.n; b++)
      if (((unsigned char)obj.s[b] & 0xC0) != 0x80) offs[n++] = b;
    offs[n] = obj.n;
  } else {
    jfail(r->a, LLM_EINVAL, "slice object must be an array or string");
  }
  double len = (double)n, st = step_v.t == JV_INT ? step_v.num : 1;
  double dir = st > 0 ? 1 : st < 0 ? -1 : 0, a, b;
  if (dir >= 0) {
    a = start.t == JV_UNDEF ? 0 : start.num;
    a = a < 0 ? fmax(len + a, 0) : fmin(a, len);
    b = stop.t == JV_UNDEF ? len : stop.num;
    b = b < 0 ? fmax(len + b, 0) : fmin(b, len);
  } else {
    a = start.t == JV_UNDEF ? len - 1 : start.num;
    a = a < 0 ? fmax(len + a, -1) : fmin(a, len - 1);
    b = stop.t == JV_UNDEF ? -1 : stop.num;
    b = b < -1 ? fmax(len + b, -1) : fmin(b, len - 1);
  }
  size_t count = 0;
  for (double i = a; dir * i < dir * b; i += st) count++;
  if (obj.t == JV_LIST) {
    jval out = jv_list(r->a, count);
    jlist *l = out.p;
    size_t k = 0;
    for (double i = a; dir * i < dir * b; i += st) l->v[k++] = ((jlist *)obj.p)->v[(size_t)i];
    return out;
  }
  jsb s = {0};
  for (double i = a; dir * i < dir * b; i += st)
    jsb_add(r->a, &s, obj.s + offs[(size_t)i], offs[(size_t)i + 1] - offs[(size_t)i]);
  return jv_str(s.s, s.len);
}

/* ---- calls --------------------------------------------------------------- */

void jinja_eval_args(jrender *r, const jnodes *args, jenv *env, jargs *out) {
  size_t cap = args->n + 1;
  out->pos = ja_alloc(r->a, cap * sizeof *out->pos);
  out->npos = 0;
  out->kw = NULL;
  for (size_t i = 0; i < args->n; i++) { /* positional ones first, *list spread */
    const jnode *arg = args->v[i];
    if (arg->kind == N_KWARG || arg->kind == N_KWSPREAD) continue;
    jval v = jinja_eval(r, arg->kind == N_SPREAD ? arg->a : arg, env);
    if (arg->kind != N_SPREAD) {
      out->pos[out->npos++] = v;
      continue;
    }
    if (v.t != JV_LIST) jfail(r->a, LLM_EINVAL, "cannot unpack non-iterable type: %s", jv_type_name(v));
    const jlist *l = v.p;
    jval *pos = ja_alloc(r->a, (cap + l->n) * sizeof *pos);
    memcpy(pos, out->pos, out->npos * sizeof *pos);
    if (l->n) memcpy(pos + out->npos, l->v, l->n * sizeof *pos);
    out->pos = pos;
    out->npos += l->n;
    cap += l->n;
  }
  for (size_t i = 0; i < args->n; i++) {
    const jnode *k = args->v[i];
    if (k->kind != N_KWARG && k->kind != N_KWSPREAD) continue;
    if (!out->kw) out->kw = ja_alloc(r->a, sizeof *out->kw);
    jval v = jinja_eval(r, k->a, env);
    const jdict *d = NULL;
    if (k->kind == N_KWSPREAD) {
      if (v.t != JV_DICT && v.t != JV_LOOP)
        jfail(r->a, LLM_EINVAL, "argument after ** must be a mapping, not %s", jv_type_name(v));
      d = jv_as_dict(r->a, v);
    }
    for (size_t j = 0; j < (d ? d->n : 1); j++) {
      const char *name = d ? d->k[j] : k->s;
      size_t n = d ? d->kn[j] : k->n;
      if (jdict_get(out->kw, name, n))
        jfail(r->a, LLM_EINVAL, "got multiple values for keyword argument '%.*s'", (int)(n > 60 ? 60 : n), name);
      jdict_set(r->a, out->kw, name, n, d ? d->v[j] : v);
    }
  }
}

static jval call_macro(jrender *r, const jfunc *f, jargs *args) {
  const jnode *m = f->macro;
  jenv *scope = env_new(r, f->closure);
  const jnodes *params = &m->list;
  jdict *kw = args->kw;
  char *used = kw ? ja_alloc(r->a, kw->n + 1) : NULL;
  for (size_t i = 0; i < params->n; i++) {
    const jnode *p = params->v[i];
    int given = i < args->npos;
    jval v = given ? args->pos[i] : JV_UNDEFINED;
    for (size_t k = 0; !given && kw && k < kw->n; k++)
      if (!used[k] && kw->kn[k] == p->n && !memcmp(kw->k[k], p->s, p->n)) {
        v = kw->v[k];
        used[k] = 1;
        given = 1;
      }
    env_set(r, scope, p->s, p->n, v);
  }
  jdict *rest = ja_alloc(r->a, sizeof *rest);
  for (size_t k = 0; kw && k < kw->n; k++)
    if (!used[k]) jdict_set(r->a, rest, kw->k[k], kw->kn[k], kw->v[k]);
  if (m->flag & 2) env_set(r, scope, "kwargs", 6, (jval){.t = JV_DICT, .p = rest});
  else if (rest->n)
    jfail(r->a, LLM_EINVAL, "macro '%.*s' takes no keyword argument '%.*s'", (int)m->n, m->s,
          (int)rest->kn[0], rest->k[0]);
  if (m->flag & 1) {
    size_t extra = args->npos > params->n ? args->npos - params->n : 0;
    jval v = jv_list(r->a, extra);
    if (extra) memcpy(((jlist *)v.p)->v, args->pos + params->n, extra * sizeof(jval));
    env_set(r, scope, "varargs", 7, v);
  } else if (args->npos > params->n) {
    jfail(r->a, LLM_EINVAL, "macro '%.*s' takes not more than %zu argument(s)", (int)m->n, m->s,
          params->n);
  }
  for (size_t i = 0; i < params->n; i++) { /* defaults last: they may use the others */
    const jnode *p = params->v[i];
    if (p->kind != N_KWARG || i < args->npos) continue;
    int by_keyword = 0;
    for (size_t k = 0; kw && k < kw->n; k++)
      by_keyword |= used[k] && kw->kn[k] == p->n && !memcmp(kw->k[k], p->s, p->n);
    if (!by_keyword) env_set(r, scope, p->s, p->n, jinja_eval(r, p->a, scope));
  }
  return capture(r, &m->list2, scope);
}

static jval call(jrender *r, const jnode *e, jenv *env) {
  jargs args;
  jinja_eval_args(r, &e->list, env, &args);
  jval fn = jinja_eval(r, e->a, env);
  r->a->line = e->line;
  if (fn.t != JV_FUNC)
    jfail(r->a, LLM_EINVAL, "cannot call something that is not a function: got %s", jv_type_name(fn));
  const jfunc *f = fn.p;
  charge(r, f->self);
  for (size_t i = 0; i < args.npos; i++) charge(r, args.pos[i]);
  return f->builtin < 0 ? call_macro(r, f, &args) : jinja_builtin(r, f, &args);
}

/* ---- expressions --------------------------------------------------------- */

static jval eval_member(jrender *r, const jnode *e, jenv *env) {
  jval obj = charge(r, jinja_eval(r, e->a, env));
  const jnode *k = e->b;
  if (e->flag && k->kind == N_SLICE) {
    jval a = k->a ? jinja_eval(r, k->a, env) : JV_UNDEFINED;
    jval b = k->b ? jinja_eval(r, k->b, env) : JV_UNDEFINED;
    jval c = k->c ? jinja_eval(r, k->c, env) : JV_UNDEFINED;
    r->a->line = e->line;
    return jinja_slice(r, obj, a, b, c);
  }
  jval key = e->flag ? jinja_eval(r, k, env) : k->kind == N_INT ? jv_num(JV_INT, k->num) : jv_str(k->s, k->n);
  r->a->line = e->line;
  return jinja_member(r, obj, key);
}

static jval eval_inner(jrender *r, const jnode *e, jenv *env) {
  switch (e->kind) {
  case N_IDENT: return lookup(env, e->s, e->n);
  case N_INT: return jv_num(JV_INT, e->num);
  case N_FLOAT: return jv_num(JV_FLOAT, e->num);
  case N_STR: return jv_str(e->s, e->n);
  case N_LIST: case N_TUPLE: {
    jval v = jv_list(r->a, e->list.n);
    for (size_t i = 0; i < e->list.n; i++) ((jlist *)v.p)->v[i] = jinja_eval(r, e->list.v[i], env);
    ((jlist *)v.p)->tuple = e->kind == N_TUPLE;
    return v;
  }
  case N_DICT: {
    jval v = jv_dict(r->a, JV_DICT);
    for (size_t i = 0; i < e->list.n; i++) {
      jval k = jinja_eval(r, e->list.v[i], env);
      if (k.t != JV_STR) jfail(r->a, LLM_EINVAL, "object keys must be strings: got %s", jv_type_name(k));
      jdict_set(r->a, v.p, k.s, k.n, jinja_eval(r, e->list2.v[i], env));
    }
    return v;
  }
  case N_BINARY: return charge(r, binary(r, e, env));
  case N_UNARY: return unary(r, e, env);
  case N_MEMBER: return charge(r, eval_member(r, e, env));
  case N_CALL: return charge(r, call(r, e, env));
  case N_FILTER: {
    jval v = charge(r, jinja_eval(r, e->a, env));
    r->a->line = e->line;
    return charge(r, jinja_filter(r, v, e->b, env));
  }
  case N_TEST: {
    jval v = charge(r, jinja_eval(r, e->a, env));
    r->a->line = e->line;
    int t = jinja_test(r, v, e->s, e->n, JV_UNDEFINED, 0);
    return jv_bool(e->flag ? !t : t);
  }
  case N_TERNARY:
    return jv_truthy(jinja_eval(r, e->a, env)) ? jinja_eval(r, e->b, env) : jinja_eval(r, e->c, env);
  case N_SELECT:
    return jv_truthy(jinja_eval(r, e->b, env)) ? jinja_eval(r, e->a, env) : JV_UNDEFINED;
  default:
    jfail(r->a, LLM_EINVAL, "unsupported expression");
  }
}

jval jinja_eval(jrender *r, const jnode *e, jenv *env) {
  step(r, e);
  enter(r);
  jval v = eval_inner(r, e, env);
  r->depth--;
  return v;
}

/* ---- statements ---------------------------------------------------------- */

static void bind_target(jrender *r, const jnode *target, jval v, jenv *env) {
  if (target->kind == N_IDENT) {
    env_set(r, env, target->s, target->n, v);
    return;
  }
  const jlist *l = v.p;
  for (size_t j = 0; j < target->list.n; j++) {
    const jnode *t = target->list.v[j];
    if (t->kind != N_IDENT) jfail(r->a, LLM_EINVAL, "cannot unpack to something that is not a name");
    env_set(r, env, t->s, t->n, j < l->n ? l->v[j] : JV_UNDEFINED);
  }
}

/* Whether v unpacks into target's names (a for loop, as the oracle, takes
** no tuple values; a set does). */
static void check_unpack(jrender *r, const jnode *target, jval v, int tuple_ok) {
  if (v.t != JV_LIST || (((jlist *)v.p)->tuple && !tuple_ok))
    jfail(r->a, LLM_EINVAL, "cannot unpack non-iterable type%s: %s", tuple_ok ? " in set" : "",
          jv_type_name(v));
  size_t want = target->list.n, have = ((jlist *)v.p)->n;
  if (want != have) jfail(r->a, LLM_EINVAL, "too %s items to unpack", want > have ? "few" : "many");
}

static int render_for(jrender *r, const jnode *s, jenv *env) {
  jenv *scope = env_new(r, env);
  const jnode *iter = s->b, *cond = NULL;
  if (iter->kind == N_SELECT) {
    cond = iter->b;
    iter = iter->a;
  }
  jval it = jinja_eval(r, iter, scope);
  r->a->line = s->line;
  if (it.t == JV_DICT || it.t == JV_LOOP) it = jinja_builtin(r, &(jfunc){.builtin = JB_D_KEYS, .self = it}, &(jargs){0});
  if (it.t != JV_LIST)
    jfail(r->a, LLM_EINVAL, "expected iterable or object type in for loop: got %s", jv_type_name(it));
  const jlist *all = it.p;
  jlist items = *all;
  if (s->a->kind == N_TUPLE || cond) {
    items.v = ja_alloc(r->a, (all->n + 1) * sizeof *items.v);
    items.n = 0;
    for (size_t i = 0; i < all->n; i++) {
      if (s->a->kind == N_TUPLE) check_unpack(r, s->a, all->v[i], 0);
      if (cond) {
        jenv *test_scope = env_new(r, scope);
        bind_target(r, s->a, all->v[i], test_scope);
        if (!jv_truthy(jinja_eval(r, cond, test_scope))) continue;
      }
      items.v[items.n++] = all->v[i];
    }
  }
  int completed = 0;
  /* One loop object changed in place each pass, so that a long loop takes
  ** no memory per pass (unlike the oracle, a `loop` kept in a variable
  ** changes with it). */
  jloop *l = ja_alloc(r->a, sizeof *l);
  for (size_t i = 0; i < items.n; i++) {
    step(r, s);
    *l = (jloop){i, items.n, i > 0 ? items.v[i - 1] : JV_UNDEFINED,
                 i + 1 < items.n ? items.v[i + 1] : JV_UNDEFINED};
    env_set(r, scope, "loop", 4, (jval){.t = JV_LOOP, .p = l});
    bind_target(r, s->a, items.v[i], scope);
    size_t mark = r->out->len;
    int flow = render_block(r, &s->list, scope);
    if (flow != FLOW_NORMAL) r->out->len = mark;
    if (flow == FLOW_BREAK) break;
    if (flow == FLOW_NORMAL) completed = 1;
  }
  return completed ? FLOW_NORMAL : render_block(r, &s->list2, scope);
}

static void exec_set(jrender *r, const jnode *s, jenv *env) {
  jval v = s->b ? jinja_eval(r, s->b, env) : capture(r, &s->list, env);
  const jnode *t = s->a;
  r->a->line = s->line;
  if (t->kind == N_IDENT) {
    env_set(r, env, t->s, t->n, v);
  } else if (t->kind == N_TUPLE) {
    check_unpack(r, t, v, 1);
    bind_target(r, t, v, env);
  } else if (t->kind == N_MEMBER) {
    jval obj = jinja_eval(r, t->a, env);
    if (obj.t != JV_NS) jfail(r->a, LLM_EINVAL, "cannot assign attribute on non-namespace object");
    if (t->flag || t->b->kind != N_IDENT)
      jfail(r->a, LLM_EINVAL, "cannot assign to member with non-identifier property");
    jdict_set(r->a, obj.p, t->b->s, t->b->n, v);
  } else {
    jfail(r->a, LLM_EINVAL, "invalid left-hand side in set");
  }
}

static int render_statement(jrender *r, const jnode *s, jenv *env) {
  switch (s->kind) {
  case N_TEXT: jsb_add(r->a, r->out, s->s, s->n); return FLOW_NORMAL;
  case N_COMMENT: return FLOW_NORMAL;
  case N_IF:
    return render_block(r, jv_truthy(jinja_eval(r, s->a, env)) ? &s->list : &s->list2, env);
  case N_FOR: return render_for(r, s, env);
  case N_SET: exec_set(r, s, env); return FLOW_NORMAL;
  case N_BREAK: return FLOW_BREAK;
  case N_CONTINUE: return FLOW_CONTINUE;
  case N_MACRO: {
    jval f = jv_func(r->a, -1, JV_UNDEFINED);
    ((jfunc *)f.p)->macro = s;
    ((jfunc *)f.p)->closure = env;
    env_set(r, env, s->s, s->n, f);
    return FLOW_NORMAL;
  }
  case N_FILTER_BLOCK: {
    jval text = capture(r, &s->list, env);
    r->a->line = s->line;
    jval v = jinja_filter(r, text, s->a, env);
    if (v.t != JV_UNDEF && v.t != JV_NONE) jv_print(r->a, r->out, v);
    return FLOW_NORMAL;
  }
  default: {
    jval v = jinja_eval(r, s, env);
    if (v.t != JV_UNDEF && v.t != JV_NONE) jv_print(r->a, r->out, v);
    return FLOW_NORMAL;
  }
  }
}

static int render_block(jrender *r, const jnodes *body, jenv *env) {
  enter(r);
  for (size_t i = 0; i < body->n; i++) {
    step(r, body->v[i]);
    int flow = render_statement(r, body->v[i], env);
    if (flow != FLOW_NORMAL) {
      r->depth--;
      return flow;
    }
  }
  r->depth--;
  return FLOW_NORMAL;
}

void jinja_render_program(jrender *r, const jnodes *program, jenv *env) {
  if (render_block(r, program, env) != FLOW_NORMAL)
    jfail(r->a, LLM_EINVAL, "unsupported: break or continue outside a for loop");
}
