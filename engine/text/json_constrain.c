/*
** json_constrain.c: the automaton that follows a compiled schema byte by
** byte (the state API of json_constrain.h).
**
** A parse is a stack of frames, one per value being written (plus one for
** an object key). The grammar is ambiguous only briefly (anyOf branches that
** start alike, a declared key versus an extra key), so a state is a small
** set of such stacks, each advanced by every byte; stacks that cannot take
** the byte die, equal ones merge. A byte that would need more than
** JC_MAX_ALT stacks at once is refused (never silently dropped).
**
** The masks (json_mask.c) are built on jc_feed_byte.
*/
#include <string.h>

#include "text/json_constrain_internal.h"

#define JC_MAX_DIGITS 15
#define JC_MAX_EXTRA_KEY 32   /* code points in an extra (undeclared) key */
#define JC_MAX_FILTER_BITS 40 /* no new extra key once this many are used */


const double jc_pow10[16] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
                                   1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

static void copy_stack(jc_stack *dst, const jc_stack *src) {
  dst->depth = src->depth;
  memcpy(dst->f, src->f, (size_t)src->depth * sizeof(jc_frame));
}

static void emit(llm_jcon_state *out, const jc_stack *st) {
  size_t bytes = (size_t)st->depth * sizeof(jc_frame);
  for (int32_t i = 0; i < out->n; i++)
    if (out->s[i].depth == st->depth && !memcmp(out->s[i].f, st->f, bytes)) return;
  if (out->n == JC_MAX_ALT) {
    out->overflow = 1;
    return;
  }
  copy_stack(&out->s[out->n++], st);
}

/* ---- literals and declared keys: prefix matching over candidates ---- */

static const jc_text *cand_text(const llm_jcon *c, int is_key, int32_t i) {
  return is_key ? &c->props[i].key : &c->lits[i];
}

/* Moves f->n1 to the first candidate in [f->n1, last] that matches the bytes
** so far plus b. Literals are sorted, so their matches are contiguous; keys
** are in schema order, so all are looked at. */
static int lit_byte(const llm_jcon *c, jc_frame *f, int is_key, int32_t last, uint8_t b) {
  const jc_text *cur = cand_text(c, is_key, f->n1);
  uint32_t pos = (uint32_t)f->n3;
  for (int32_t j = f->n1; j <= last; j++) {
    const jc_text *t = cand_text(c, is_key, j);
    if (t->len < pos || memcmp(c->text + t->off, c->text + cur->off, pos)) {
      if (is_key) continue;
      break;
    }
    if (t->len > pos && c->text[t->off + pos] == b) {
      f->n1 = j;
      f->n3++;
      return 1;
    }
  }
  return 0;
}

static int lit_done(const llm_jcon *c, const jc_frame *f, int is_key) {
  return cand_text(c, is_key, f->n1)->len == (uint32_t)f->n3;
}

/* ---- strings ---- */

/* One byte of a string of min..max code points; escapes when allowed. */
static int str_byte(jc_frame *f, uint8_t b, int32_t min, int32_t max, int escapes) {
  switch (f->phase) {
  case S_OPEN:
    if (b != '"') return 0;
    f->phase = S_BODY;
    return 1;
  case S_BODY:
    if (b == '"') {
      if (f->n1 < min) return 0;
      f->phase = S_DONE;
      return 1;
    }
    if (b < 0x20 || f->n1 >= max || (b == '\\' && !escapes)) return 0;
    if (b == '\\') {
      f->phase = S_ESC;
    } else if (b >= 0x80) {
      /* the lead byte says how many bytes follow and the range of the next */
      if (b < 0xC2 || b > 0xF4) return 0;
      f->n3 = b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
      f->flags = b == 0xE0 ? 1 : b == 0xED ? 2 : b == 0xF0 ? 3 : b == 0xF4 ? 4 : 0;
      f->phase = S_UTF8;
    }
    f->n1++;
    return 1;
  case S_ESC:
    if (b == 'u') {
      f->phase = S_HEX;
      f->n3 = 0;
      f->flags = 0;
      return 1;
    }
    if (!memchr("\"\\/bfnrt", b, 8)) return 0;
    f->phase = S_BODY;
    return 1;
  case S_HEX: {
    int hex = (b >= '0' && b <= '9') || ((b | 0x20) >= 'a' && (b | 0x20) <= 'f');
    /* \uD800..\uDFFF (surrogates) are refused: a lone one is invalid */
    if (!hex || (f->n3 == 1 && f->flags && !(b >= '0' && b <= '7'))) return 0;
    if (f->n3 == 0) f->flags = (b | 0x20) == 'd';
    if (++f->n3 == 4) f->phase = S_BODY;
    return 1;
  }
  case S_UTF8: {
    static const uint8_t lo[] = {0x80, 0xA0, 0x80, 0x90, 0x80};
    static const uint8_t hi[] = {0xBF, 0xBF, 0x9F, 0xBF, 0x8F};
    if (b < lo[f->flags] || b > hi[f->flags]) return 0;
    f->flags = 0;
    if (--f->n3 == 0) f->phase = S_BODY;
    return 1;
  }
  }
  return 0;
}

/* One byte of a string under a pattern: printable ASCII, the escapes of
** pat_escapes; the pattern's positions in f->u (json_pattern.c), and every
** character must leave a match of min..max characters in all possible. */
static const char pat_escapes[] = "\"\\/ntr";

static int pat_escaped(uint8_t b) {
  return b == 'n' ? '\n' : b == 't' ? '\t' : b == 'r' ? '\r' : b;
}

/* Whether character ch can come next. */
static int pat_char_ok(const jc_regex *re, const jc_frame *f, int ch, int32_t min, int32_t max) {
  uint64_t next = jc_regex_step(re, f->u, ch);
  return next && jc_regex_can_end(re, next, (int64_t)min - f->n1 - 1, (int64_t)max - f->n1 - 1);
}

int64_t jc_pattern_escape_rest(const jc_regex *re, const jc_frame *f, int32_t min) {
  int64_t best = (int64_t)1 << 28;
  for (const char *e = pat_escapes; *e; e++) {
    uint64_t next = jc_regex_step(re, f->u, pat_escaped((uint8_t)*e));
    int64_t rest = next ? 1 + jc_regex_shortest(re, next, (int64_t)min - f->n1 - 1) + 1 : best;
    if (rest < best) best = rest;
  }
  return best;
}

static int pat_str_byte(const jc_regex *re, jc_frame *f, uint8_t b, int32_t min, int32_t max) {
  int ch;
  /* the quotes as in any string; the closing one once the pattern matches */
  if (f->phase == S_OPEN || (f->phase == S_BODY && b == '"'))
    return (f->phase == S_OPEN || jc_regex_accepts(re, f->u)) && str_byte(f, b, min, max, 0);
  switch (f->phase) {
  case S_BODY:
    if (b == '\\') {   /* only when one of the escapes can follow */
      for (const char *e = pat_escapes; *e; e++)
        if (pat_char_ok(re, f, pat_escaped((uint8_t)*e), min, max)) {
          f->phase = S_ESC;
          return 1;
        }
      return 0;
    }
    if (b < 0x20 || b > 0x7E) return 0;
    ch = b;
    break;
  case S_ESC:
    if (!memchr(pat_escapes, b, sizeof pat_escapes - 1)) return 0;
    ch = pat_escaped(b);
    f->phase = S_BODY;
    break;
  default:
    return 0;
  }
  if (f->n1 >= max || !pat_char_ok(re, f, ch, min, max)) return 0;
  f->u = jc_regex_step(re, f->u, ch);
  f->n1++;
  return 1;
}

/* ---- numbers ---- */

static int num_bounded(const jc_node *n) { return n->has_lo || n->has_hi; }

static double num_value(const jc_frame *f) {
  double v = (double)f->u / jc_pow10[f->nfrac];
  return f->flags & 1 ? -v : v;
}

int jc_num_meets(const jc_node *n, int neg, double a, double b) {
  return neg ? -a >= n->lo && -b <= n->hi : a <= n->hi && b >= n->lo;
}

/* Whether the number written so far can still end within the bounds: the
** magnitudes reachable with the digits left are a union of intervals. */
static int num_feasible(const jc_node *n, const jc_frame *f) {
  int neg = f->flags & 1, left = JC_MAX_DIGITS - f->n1;
  double u = (double)f->u;
  switch (f->phase) {
  case N_MINUS:   /* the smallest magnitude a negative number may have */
    return jc_num_meets(n, neg, n->is_int ? 1 : 1e-15, 999999999999999.0);
  case N_ZERO:
  case N_INT:
    for (int j = 0; j <= (f->phase == N_ZERO ? 0 : left); j++) {
      int r = n->is_int ? 0 : left - j;   /* fraction digits still possible */
      double a = u * jc_pow10[j];
      double b = ((u + 1) * jc_pow10[j + r] - 1) / jc_pow10[r];
      if (jc_num_meets(n, neg, a, b)) return 1;
    }
    return 0;
  default: {   /* N_DOT, N_FRAC */
    int k = f->nfrac;
    double a = u / jc_pow10[k];
    double b = ((u + 1) * jc_pow10[left] - 1) / jc_pow10[k + left];
    return jc_num_meets(n, neg, a, b);
  }
  }
}

static int num_byte(const jc_node *n, jc_frame *f, uint8_t b) {
  int digit = b >= '0' && b <= '9';
  int point = b == '.' && !n->is_int && f->n1 < JC_MAX_DIGITS;   /* a digit must follow */
  int exp = (b == 'e' || b == 'E') && !n->is_int && !num_bounded(n);
  int more = digit && f->n1 < JC_MAX_DIGITS;
  switch (f->phase) {
  case N_START:
  case N_MINUS:
    if (b == '-' && f->phase == N_START) {
      f->flags = 1;
      f->phase = N_MINUS;
      break;
    }
    /* no negative zero integer: "-0" is 0, written "0" */
    if (!digit || (b == '0' && f->phase == N_MINUS && n->is_int)) return 0;
    f->phase = b == '0' ? N_ZERO : N_INT;
    f->u = (uint64_t)(b - '0');
    f->n1 = 1;
    break;
  case N_ZERO:
  case N_INT:
  case N_FRAC:
    if (point && f->phase != N_FRAC) f->phase = N_DOT;
    else if (exp) f->phase = N_E;
    else if (more && f->phase != N_ZERO) {
      f->u = f->u * 10 + (uint64_t)(b - '0');
      f->n1++;
      f->nfrac += f->phase == N_FRAC;
    } else return 0;
    break;
  case N_DOT:
    if (!more) return 0;
    f->u = f->u * 10 + (uint64_t)(b - '0');
    f->n1++;
    f->nfrac++;
    f->phase = N_FRAC;
    break;
  case N_E:
    if (b == '+' || b == '-') {
      f->phase = N_ESIGN;
      break;
    }
    /* fall through */
  case N_ESIGN:
  case N_EXP:
    if (!digit || f->n3 >= 2) return 0;
    f->n3++;
    f->phase = N_EXP;
    break;
  default:
    return 0;
  }
  return !num_bounded(n) || f->phase >= N_E || num_feasible(n, f);
}

int jc_num_done(const jc_node *n, const jc_frame *f) {
  if (f->phase != N_ZERO && f->phase != N_INT && f->phase != N_FRAC && f->phase != N_EXP)
    return 0;
  if (!num_bounded(n)) return 1;
  double v = num_value(f);
  return v >= n->lo && v <= n->hi;
}

/* ---- the stack machine ---- */

static int can_end(const llm_jcon *c, const jc_frame *f) {
  const jc_node *n = &c->nodes[f->node];
  if (f->kind == F_KEYLIT) return lit_done(c, f, 1);
  if (f->kind == F_FREEKEY) return f->phase == S_DONE;
  switch (n->kind) {
  case JC_LIT: return lit_done(c, f, 0);
  case JC_STR: return f->phase == S_DONE;
  case JC_NUM: return jc_num_done(n, f);
  case JC_ARR: return f->phase == A_DONE;
  case JC_OBJ: return f->phase == O_DONE;
  }
  return 0;
}

static int obj_extra_ok(const jc_node *n, const jc_frame *f) {
  return n->item >= 0 && __builtin_popcountll(f->u) < JC_MAX_FILTER_BITS;
}

static void own_byte(const llm_jcon *c, jc_stack *st, uint8_t b, llm_jcon_state *out);

/* Starts a value of node id with byte b on top of st (scratch). */
static void start_value(const llm_jcon *c, jc_stack *st, int32_t id, uint8_t b,
                        llm_jcon_state *out) {
  const jc_node *n = &c->nodes[id];
  if (n->kind == JC_ANYOF) {
    for (int32_t i = 0; i < n->count; i++) {
      jc_stack t;
      copy_stack(&t, st);
      start_value(c, &t, c->kids[n->first + i], b, out);
    }
    return;
  }
  if (st->depth == LLM_JCON_MAX_DEPTH) return;
  jc_frame *f = &st->f[st->depth++];
  memset(f, 0, sizeof *f);
  f->node = id;
  f->kind = F_VALUE;
  if (n->kind == JC_LIT) f->n1 = n->first;
  own_byte(c, st, b, out);
}

/* Starts a key of the object on top of st with byte b: a declared one (the
** next properties up to the first required one) or an extra one. */
static void start_key(const llm_jcon *c, jc_stack *st, uint8_t b, llm_jcon_state *out) {
  jc_frame *o = &st->f[st->depth - 1];
  const jc_node *n = &c->nodes[o->node];
  if (st->depth == LLM_JCON_MAX_DEPTH) return;
  o->phase = O_IN_KEY;
  for (int kind = F_KEYLIT; kind <= F_FREEKEY; kind++) {
    if (kind == F_KEYLIT ? o->n1 >= n->count : !obj_extra_ok(n, o)) continue;
    jc_stack t;
    copy_stack(&t, st);
    jc_frame *k = &t.f[t.depth++];
    memset(k, 0, sizeof *k);
    k->node = o->node;
    k->kind = (uint8_t)kind;
    if (kind == F_KEYLIT) {
      int32_t last = o->n1;
      while (last < n->count - 1 && !c->props[n->first + last].required) last++;
      k->n1 = n->first + o->n1;
      k->u = (uint64_t)(n->first + last);
    } else {
      k->u = JC_HASH_INIT;
    }
    own_byte(c, &t, b, out);
  }
}

/* The parent on top of st takes note that its child (done) has ended. */
static void child_done(const llm_jcon *c, jc_stack *st, const jc_frame *child) {
  jc_frame *p = &st->f[st->depth - 1];
  const jc_node *n = &c->nodes[p->node];
  if (n->kind == JC_ARR) {
    p->n1++;
    p->phase = A_AFTER;
  } else if (child->kind == F_KEYLIT) {
    p->n1 = child->n1 - n->first + 1;
    p->n3 = c->props[child->n1].node;
    p->phase = O_COLON;
  } else if (child->kind == F_FREEKEY) {
    p->u |= jc_hash_bit(child->u);
    p->n3 = n->item;
    p->phase = O_COLON;
  } else {
    p->phase = O_AFTER;
  }
}

static void arr_byte(const llm_jcon *c, jc_stack *st, const jc_node *n, uint8_t b,
                     llm_jcon_state *out) {
  jc_frame *f = &st->f[st->depth - 1];
  int phase = f->phase;
  if ((phase == A_OPEN && b == '[') ||
      (phase == A_AFTER && b == ',' && f->n1 < n->max) || (phase == A_COMMA && b == ' ')) {
    f->phase = phase == A_OPEN ? A_FIRST : phase == A_AFTER ? A_COMMA : A_SPACE;
    emit(out, st);
    return;
  }
  if ((phase == A_FIRST || phase == A_AFTER) && b == ']' && f->n1 >= n->min) {
    f->phase = A_DONE;
    emit(out, st);
    f->phase = (uint8_t)phase;
  }
  if ((phase == A_FIRST && n->max > 0) || phase == A_COMMA || phase == A_SPACE) {
    f->phase = A_IN;
    start_value(c, st, n->item, b, out);
  }
}

static void obj_byte(const llm_jcon *c, jc_stack *st, const jc_node *n, uint8_t b,
                     llm_jcon_state *out) {
  jc_frame *f = &st->f[st->depth - 1];
  int phase = f->phase, can_close = f->n1 > n->last_required;
  int next = -1;
  if (phase == O_OPEN && b == '{') next = O_FIRST, f->u = n->key_filter;
  else if (phase == O_COLON && b == ':') next = O_VSPACE;
  else if (phase == O_VSPACE && b == ' ') next = O_VALUE;
  else if (phase == O_COMMA && b == ' ') next = O_KEY;
  else if (phase == O_AFTER && b == ',' && (f->n1 < n->count || obj_extra_ok(n, f)))
    next = O_COMMA;
  else if ((phase == O_FIRST || phase == O_AFTER) && b == '}' && can_close) next = O_DONE;
  if (next >= 0) {
    f->phase = (uint8_t)next;
    emit(out, st);
    f->phase = (uint8_t)phase;
  }
  if (phase == O_FIRST || phase == O_COMMA || phase == O_KEY) {
    start_key(c, st, b, out);
  } else if (phase == O_VSPACE || phase == O_VALUE) {
    f->phase = O_IN_VALUE;
    start_value(c, st, f->n3, b, out);
  }
}

/* Byte b consumed by the frame on top of st itself (st is scratch). */
static void own_byte(const llm_jcon *c, jc_stack *st, uint8_t b, llm_jcon_state *out) {
  jc_frame *f = &st->f[st->depth - 1];
  const jc_node *n = &c->nodes[f->node];
  int ok = 0;
  if (f->kind == F_KEYLIT) {
    ok = lit_byte(c, f, 1, (int32_t)f->u, b);
  } else if (f->kind == F_FREEKEY) {
    /* A key equal to one used already (or declared) cannot be closed, so
    ** its last character must be one that makes the key new. */
    uint64_t used = st->f[st->depth - 2].u;
    int last = f->phase == S_BODY && f->n1 == JC_MAX_EXTRA_KEY - 1 && b != '"';
    ok = str_byte(f, b, 0, JC_MAX_EXTRA_KEY, 0);
    if (ok && f->phase == S_DONE) {
      ok = !(used & jc_hash_bit(f->u));
    } else if (ok && b != '"') {   /* not the opening quote */
      f->u = jc_hash_byte(f->u, b);
      if (last) ok = b < 0x80 && !(used & jc_hash_bit(f->u));
    }
  } else {
    switch (n->kind) {
    case JC_LIT: ok = lit_byte(c, f, 0, n->first + n->count - 1, b); break;
    case JC_STR:
      ok = n->item >= 0 ? pat_str_byte(&c->regexes[n->item], f, b, n->min, n->max)
                        : str_byte(f, b, n->min, n->max, 1);
      break;
    case JC_NUM: ok = num_byte(n, f, b); break;
    case JC_ARR: arr_byte(c, st, n, b, out); return;
    case JC_OBJ: obj_byte(c, st, n, b, out); return;
    }
  }
  if (ok) emit(out, st);
}

/* Advances one stack (scratch) by byte b into out: the top frame takes b,
** or it ends and its parent takes b. */
static void step(const llm_jcon *c, jc_stack *st, uint8_t b, llm_jcon_state *out) {
  if (st->depth == 0) {   /* nothing written yet */
    start_value(c, st, c->root, b, out);
    return;
  }
  const jc_frame *top = &st->f[st->depth - 1];
  if (st->depth > 1 && can_end(c, top)) {
    jc_stack t;
    copy_stack(&t, st);
    jc_frame child = t.f[--t.depth];
    child_done(c, &t, &child);
    step(c, &t, b, out);
  }
  own_byte(c, st, b, out);
}

/* out = in advanced by b; 0 when no stack can take b (or too many could). */
int jc_feed_byte(const llm_jcon_state *in, uint8_t b, llm_jcon_state *out) {
  out->c = in->c;
  out->n = 0;
  out->overflow = 0;
  for (int32_t i = 0; i < in->n && !out->overflow; i++) {
    jc_stack t;
    copy_stack(&t, &in->s[i]);
    step(in->c, &t, b, out);
  }
  return out->n > 0 && !out->overflow;
}

/* ---- the state API ---- */

int llm_jcon_state_new(const llm_jcon *c, llm_jcon_state **out, llm_err *err) {
  *out = llm_malloc(sizeof **out);
  if (!*out) return llm_fail(err, LLM_ENOMEM, "json_constrain: out of memory");
  (*out)->c = c;
  (*out)->cache = NULL;
  llm_jcon_reset(*out);
  return LLM_OK;
}

void llm_jcon_state_free(llm_jcon_state *s) {
  if (!s) return;
  jc_cache_free(s->cache);
  llm_free(s);
}

void llm_jcon_reset(llm_jcon_state *s) {
  s->n = 1;
  s->overflow = 0;
  s->s[0].depth = 0;
}

void llm_jcon_restart(llm_jcon_state *s, const llm_jcon *c) {
  s->c = c;   /* the mask cache checks the schema's hash (json_mask.c) */
  llm_jcon_reset(s);
}

void llm_jcon_state_copy(llm_jcon_state *dst, const llm_jcon_state *src) {
  dst->c = src->c;
  dst->n = src->n;
  dst->overflow = 0;
  for (int32_t i = 0; i < src->n; i++) copy_stack(&dst->s[i], &src->s[i]);
}

int llm_jcon_feed(llm_jcon_state *s, const uint8_t *bytes, size_t n) {
  if (n == 0) return 1;
  llm_jcon_state *tmp = llm_malloc(2 * sizeof *tmp);   /* too big for the C stack */
  if (!tmp) return 0;
  const llm_jcon_state *cur = s;
  int ok = 1;
  for (size_t i = 0; i < n && ok; i++) {
    llm_jcon_state *next = &tmp[i & 1];
    ok = jc_feed_byte(cur, bytes[i], next);
    cur = next;
  }
  if (ok) llm_jcon_state_copy(s, cur);
  llm_free(tmp);
  return ok;
}

int llm_jcon_complete(const llm_jcon_state *s) {
  int done = 0;
  for (int32_t i = 0; i < s->n && !done; i++)
    done = s->s[i].depth == 1 && can_end(s->c, &s->s[i].f[0]);
  if (!done) return 0;
  llm_jcon_state *tmp = llm_malloc(sizeof *tmp);
  int more = 0;
  for (int b = 0; tmp && b < 256 && !more; b++) more = jc_feed_byte(s, (uint8_t)b, tmp);
  llm_free(tmp);
  return more ? LLM_JCON_MAY_STOP : LLM_JCON_MUST_STOP;
}
