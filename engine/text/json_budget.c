/*
** json_budget.c: closing a constrained value within a token budget
** (llm_jcon_rest and llm_jcon_mask_budget of json_constrain.h).
**
** A model that does not know JSON (or a weak one) can keep a value open
** for ever: a string that never ends, arrays inside arrays. So a state
** knows the fewest bytes that complete it: per schema node, the length of
** its shortest value (computed once; a fixpoint, since nodes refer to each
** other), and per frame of a parse, what its phase still needs (the rest
** of a string, the required properties not yet written, the digits that
** reach a number's bounds). When the tokens left come close to that, only
** one-byte tokens that keep the value completable in the tokens left are
** allowed, and the value closes in time. The lengths are those of the
** shortest completion (a number's bounds are looked at as real intervals,
** so a few bounds give an estimate): the automaton alone decides what is
** valid.
*/
#include <math.h>
#include <string.h>

#include "text/json_constrain_internal.h"

#define JC_LEN_INF ((int64_t)1 << 28)

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t cap(int64_t v) { return v > JC_LEN_INF ? JC_LEN_INF : v; }

/* ---- numbers ---- */

/* Whether a value with r digits after the point (on the grid of 10^-r)
** lies in the magnitudes [a, b] and within n's bounds (signed by neg). */
static int grid_meets(const jc_node *n, int neg, double a, double b, int r) {
  double lo = a, hi = b;
  if (neg) {
    if (n->has_hi && -n->hi > lo) lo = -n->hi;
    if (n->has_lo && -n->lo < hi) hi = -n->lo;
  } else {
    if (n->has_lo && n->lo > lo) lo = n->lo;
    if (n->has_hi && n->hi < hi) hi = n->hi;
  }
  if (lo > hi) return 0;
  double k = ceil(lo * jc_pow10[r] - 1e-9);
  return k / jc_pow10[r] <= hi + 1e-9 * (hi > 1 ? hi : 1);
}

/* The fewest bytes that complete, within n's bounds, a number whose digits
** so far are f->u (f->n1 digits, f->nfrac after the point) in phase
** (N_MINUS: the sign is settled, no digit yet; JC_LEN_INF: none can). */
static int64_t num_more(const jc_node *n, int neg, const jc_frame *f, int phase) {
  int left = 15 - f->n1;
  double u = (double)f->u;
  int64_t best = JC_LEN_INF;
  if (phase == N_DOT || phase == N_FRAC) {
    int k = f->nfrac;
    for (int r = 1; r <= left && best == JC_LEN_INF; r++)
      if (grid_meets(n, neg, u / jc_pow10[k], (u * jc_pow10[r] + jc_pow10[r] - 1) / jc_pow10[k + r], k + r))
        best = r;
    return best;
  }
  int jmin = phase == N_MINUS ? 1 : 0, jmax = phase == N_ZERO ? 0 : left;
  for (int j = jmin; j <= jmax; j++) {
    double lo, hi;
    if (phase == N_MINUS) { /* the first digit: 0 alone, else no leading zero */
      lo = j == 1 ? (neg && n->is_int ? 1 : 0) : jc_pow10[j - 1];
      hi = jc_pow10[j] - 1;
    } else {
      lo = u * jc_pow10[j];
      hi = lo + jc_pow10[j] - 1;
    }
    for (int r = 0; r <= (n->is_int ? 0 : left - j); r++) {
      int64_t cost = j + (r ? r + 1 : 0);
      if (cost == 0 || cost >= best) continue;
      if (grid_meets(n, neg, lo, r ? hi + 1 - 1 / jc_pow10[r] : hi, r)) best = cost;
    }
  }
  return best;
}

static int64_t num_min_len(const jc_node *n) {
  if (!n->has_lo && !n->has_hi) return 1;
  jc_frame f;
  memset(&f, 0, sizeof f);
  int64_t best = num_more(n, 0, &f, N_MINUS);
  if (!n->has_lo || n->lo < 0) best = min64(best, 1 + num_more(n, 1, &f, N_MINUS));
  return best;
}

static int64_t num_rest(const jc_node *n, const jc_frame *f) {
  if (f->phase == N_START) return n->min_len;
  if (!n->has_lo && !n->has_hi) /* a digit after a sign, a point, an e or its sign */
    return f->phase == N_MINUS || f->phase == N_DOT || f->phase == N_E || f->phase == N_ESIGN;
  if (jc_num_done(n, f)) return 0;
  return num_more(n, f->flags & 1, f, f->phase);
}

/* ---- shortest values of nodes ---- */

/* Bytes of the required properties of object n from relative index i on,
** each after a comma, then the closing brace; *nreq their count. */
static int64_t obj_tail(const llm_jcon *c, const jc_node *n, int32_t i, int *nreq) {
  int64_t sum = 1;
  *nreq = 0;
  for (int32_t k = i; k < n->count; k++) {
    const jc_prop *p = &c->props[n->first + k];
    if (!p->required) continue;
    sum += 1 + p->key.len + 1 + c->nodes[p->node].min_len;
    ++*nreq;
  }
  return cap(sum);
}

static int64_t node_min_len(const llm_jcon *c, const jc_node *n) {
  int64_t best = JC_LEN_INF;
  int nreq;
  switch (n->kind) {
  case JC_ANYOF:
    for (int32_t i = 0; i < n->count; i++) best = min64(best, c->nodes[c->kids[n->first + i]].min_len);
    return best;
  case JC_LIT:
    for (int32_t i = 0; i < n->count; i++) best = min64(best, c->lits[n->first + i].len);
    return best;
  case JC_STR:
    if (n->item >= 0) return cap(2 + jc_regex_shortest(&c->regexes[n->item], 0, n->min));
    return 2 + (int64_t)n->min;
  case JC_NUM: return num_min_len(n);
  case JC_ARR:
    if (n->min == 0) return 2;
    return cap(2 + (int64_t)n->min * c->nodes[n->item].min_len + n->min - 1);
  case JC_OBJ: {
    int64_t tail = obj_tail(c, n, 0, &nreq);
    return cap(1 + tail - (nreq > 0));
  }
  }
  return best;
}

void jc_min_lengths(llm_jcon *c) {
  for (int32_t i = 0; i < c->n_nodes; i++) c->nodes[i].min_len = (int32_t)JC_LEN_INF;
  for (int changed = 1; changed;) { /* lengths only shrink: this ends */
    changed = 0;
    for (int32_t i = 0; i < c->n_nodes; i++) {
      int64_t len = node_min_len(c, &c->nodes[i]);
      if (len < c->nodes[i].min_len) {
        c->nodes[i].min_len = (int32_t)len;
        changed = 1;
      }
    }
  }
}

int32_t jc_max_min_len(const llm_jcon *c) {
  int32_t m = 0;
  for (int32_t i = 0; i < c->n_nodes; i++)
    if (c->nodes[i].min_len > m) m = c->nodes[i].min_len;
  return m > 4096 ? 4096 : m;
}

/* ---- what a parse still needs ---- */

/* The bytes that end a string of at least min code points. */
static int64_t str_rest(const jc_frame *f, int32_t min) {
  int64_t more = f->n1 < min ? min - f->n1 : 0;
  switch (f->phase) {
  case S_OPEN: return 2 + (int64_t)min;
  case S_BODY: return more + 1;
  case S_ESC: return 1 + more + 1;
  case S_HEX: return (4 - f->n3) + more + 1;
  case S_UTF8: return f->n3 + more + 1;
  default: return 0;
  }
}

/* Whether candidate t of a literal or key matches the f->n3 bytes written,
** which are those of candidate cur. */
static int lit_matches(const llm_jcon *c, const jc_text *t, const jc_text *cur, int32_t pos) {
  return t->len >= (uint32_t)pos && !memcmp(c->text + t->off, c->text + cur->off, (size_t)pos);
}

/* The shortest pair that can follow a comma when no property is required:
** an optional declared one from the next, or an extra key ("", or a
** character long when the empty key is taken). */
static int64_t optional_pair(const llm_jcon *c, const jc_node *n, const jc_frame *f) {
  int64_t best = JC_LEN_INF;
  for (int32_t k = f->n1; k < n->count; k++) {
    const jc_prop *p = &c->props[n->first + k];
    best = min64(best, p->key.len + 1 + c->nodes[p->node].min_len);
  }
  int empty_taken = (f->u & jc_hash_bit(JC_HASH_INIT)) != 0;
  if (n->item >= 0) best = min64(best, 2 + empty_taken + 1 + c->nodes[n->item].min_len);
  return best;
}

static int64_t obj_rest(const llm_jcon *c, const jc_node *n, const jc_frame *f) {
  int nreq;
  int64_t tail = obj_tail(c, n, f->phase == O_FIRST ? 0 : f->n1, &nreq);
  switch (f->phase) {
  case O_OPEN: return n->min_len;
  case O_FIRST: return tail - (nreq > 0);
  case O_AFTER:
  case O_IN_VALUE: return tail;
  case O_COMMA:
  case O_KEY: return nreq ? tail - 1 : cap(optional_pair(c, n, f) + 1);
  case O_COLON: return cap(1 + c->nodes[f->n3].min_len + tail);
  case O_VSPACE:
  case O_VALUE: return cap(c->nodes[f->n3].min_len + tail);
  default: return 0; /* O_IN_KEY (the key's frame counts the rest), O_DONE */
  }
}

static int64_t arr_rest(const llm_jcon *c, const jc_node *n, const jc_frame *f) {
  int64_t item = c->nodes[n->item >= 0 ? n->item : 0].min_len, have = f->n1;
  int64_t need = n->min > have ? n->min - have : 0, need_after = n->min > have + 1 ? n->min - have - 1 : 0;
  switch (f->phase) {
  case A_OPEN: return n->min_len;
  case A_FIRST: return n->min == 0 ? 1 : cap((int64_t)n->min * item + n->min - 1 + 1);
  case A_AFTER: return cap(need * (1 + item) + 1);
  case A_COMMA:
  case A_SPACE: return cap(item + need_after * (1 + item) + 1);
  case A_IN: return cap(need_after * (1 + item) + 1);
  default: return 0;
  }
}

/* What frame d of st needs to end (a frame below the top: once its child
** has ended). */
static int64_t frame_rest(const llm_jcon *c, const jc_stack *st, int32_t d) {
  const jc_frame *f = &st->f[d];
  const jc_node *n = &c->nodes[f->node];
  int nreq;
  if (f->kind == F_KEYLIT) { /* the key, its value, then the rest of the object */
    int64_t best = JC_LEN_INF;
    const jc_text *cur = &c->props[f->n1].key;
    for (int32_t j = f->n1; j <= (int32_t)f->u; j++) {
      const jc_prop *p = &c->props[j];
      if (!lit_matches(c, &p->key, cur, f->n3)) continue;
      int64_t tail = obj_tail(c, n, j - n->first + 1, &nreq);
      best = min64(best, p->key.len - f->n3 + 1 + c->nodes[p->node].min_len + tail);
    }
    return cap(best);
  }
  if (f->kind == F_FREEKEY) {
    const jc_frame *obj = &st->f[d - 1];
    int64_t tail = obj_tail(c, n, obj->n1, &nreq);
    /* a key used already (or declared) cannot close: one more character */
    int taken = (f->phase == S_OPEN || f->phase == S_BODY) && (obj->u & jc_hash_bit(f->u));
    return cap(str_rest(f, 0) + taken + 1 + c->nodes[n->item].min_len + tail);
  }
  switch (n->kind) {
  case JC_LIT: {
    int64_t best = JC_LEN_INF;
    const jc_text *cur = &c->lits[f->n1];
    for (int32_t j = f->n1; j < n->first + n->count && lit_matches(c, &c->lits[j], cur, f->n3); j++)
      best = min64(best, c->lits[j].len - f->n3);
    return best;
  }
  case JC_STR:
    if (n->item >= 0 && f->phase == S_BODY)
      return cap(jc_regex_shortest(&c->regexes[n->item], f->u, (int64_t)n->min - f->n1) + 1);
    if (n->item >= 0 && f->phase == S_ESC) return cap(jc_pattern_escape_rest(&c->regexes[n->item], f, n->min));
    return f->phase == S_OPEN ? n->min_len : str_rest(f, n->min);
  case JC_NUM: return num_rest(n, f);
  case JC_ARR: return arr_rest(c, n, f);
  case JC_OBJ: return obj_rest(c, n, f);
  }
  return JC_LEN_INF;
}

int64_t llm_jcon_rest(const llm_jcon_state *s) {
  int64_t best = JC_LEN_INF;
  for (int32_t i = 0; i < s->n; i++) {
    const jc_stack *st = &s->s[i];
    int64_t sum = st->depth ? 0 : s->c->nodes[s->c->root].min_len;
    for (int32_t d = 0; d < st->depth; d++) sum = cap(sum + frame_rest(s->c, st, d));
    best = min64(best, sum);
  }
  return best;
}
