/*
** json_pattern.c: the `pattern` keyword of a string schema, a regular
** expression (ECMA-262's syntax, which JSON Schema names), for generation.
**
** Supported: literal ASCII characters, `.`, classes `[a-z0-9_]` and
** `[^...]`, escapes `\d \w \s \D \W \S` and escaped punctuation, `\t \n
** \r`, groups `(...)` and `(?:...)`, alternation `|`, quantifiers `* + ?
** {n} {n,} {n,m}` (lazy forms match the same strings), and the anchors `^`
** and `$` at the ends: without them the pattern may match anywhere in the
** string, as JSON Schema says (a missing anchor is `.*`). Anything else
** (back references, lookaround, \b, \p{...}, non-ASCII) is an error. The
** strings generated under a pattern are printable ASCII (the escapes \" \\
** \/ \n \t \r included): a subset of what the pattern allows.
**
** The expression becomes a position automaton (Glushkov's construction):
** one position per character class in the expanded expression, at most 64,
** so a set of positions is a 64-bit word that a string frame carries (0 is
** the start). For generation that never gets stuck, each position also
** knows the lengths of the completions that can follow it: a bit per
** length below 64, and whether a longer one exists.
*/
#include <string.h>

#include "text/json_constrain_internal.h"

enum { RX_CLASS, RX_CAT, RX_ALT, RX_REPEAT, RX_EMPTY };
#define RX_MAX_NODES 512
#define RX_INF (-1)

typedef struct rx_node {
  int kind;
  int a, b;            /* CAT, ALT: operands; REPEAT: a the operand */
  int32_t min, max;    /* REPEAT: max RX_INF for unbounded */
  uint64_t cls[2];     /* CLASS: ASCII 0..127 */
} rx_node;

typedef struct rx_parser {
  const char *p, *end;
  rx_node nodes[RX_MAX_NODES];
  int n;
  llm_err *err;
} rx_parser;

typedef struct rx_set {   /* a sub-expression's first and last positions */
  uint64_t first, last;
  int nullable;
} rx_set;

static int fail(rx_parser *ps, const char *what) {
  llm_fail(ps->err, LLM_EINVAL, "json_schema: pattern: %s", what);
  return -1;
}

static int new_node(rx_parser *ps, int kind) {
  if (ps->n == RX_MAX_NODES) return fail(ps, "too long");
  memset(&ps->nodes[ps->n], 0, sizeof ps->nodes[0]);
  ps->nodes[ps->n].kind = kind;
  return ps->n++;
}

static void cls_add(uint64_t *cls, int lo, int hi) {
  for (int c = lo; c <= hi; c++) cls[c >> 6] |= 1ull << (c & 63);
}

/* \d \w \s and their negations into cls; 0 when e is none of them. */
static int cls_escape(uint64_t *cls, char e) {
  uint64_t t[2] = {0, 0};
  switch (e | 0x20) {
  case 'd': cls_add(t, '0', '9'); break;
  case 'w': cls_add(t, '0', '9'); cls_add(t, 'A', 'Z'); cls_add(t, 'a', 'z'); cls_add(t, '_', '_'); break;
  case 's': cls_add(t, '\t', '\r'); cls_add(t, ' ', ' '); break;
  default: return 0;
  }
  int negate = e >= 'A' && e <= 'Z';
  cls[0] |= negate ? ~t[0] : t[0];
  cls[1] |= negate ? ~t[1] : t[1];
  return 1;
}

/* A single escaped character (after the backslash), or -1. */
static int escaped_char(char e) {
  if (e == 't') return '\t';
  if (e == 'n') return '\n';
  if (e == 'r') return '\r';
  if (strchr("^$\\.*+?()[]{}|/-\"", e) && e) return (unsigned char)e;
  return -1;
}

static int parse_alt(rx_parser *ps);

static int parse_class(rx_parser *ps) {
  int id = new_node(ps, RX_CLASS);
  if (id < 0) return -1;
  uint64_t cls[2] = {0, 0};
  int negate = ps->p < ps->end && *ps->p == '^';
  if (negate) ps->p++;
  int first = 1;
  while (ps->p < ps->end && (*ps->p != ']' || first)) {
    first = 0;
    int lo = (unsigned char)*ps->p++;
    if (lo == '\\') {
      if (ps->p == ps->end) return fail(ps, "a class ends in a backslash");
      char e = *ps->p++;
      if (cls_escape(cls, e)) continue;
      if ((lo = escaped_char(e)) < 0) return fail(ps, "an unsupported escape in a class");
    }
    if (lo >= 0x80) return fail(ps, "only ASCII characters are supported");
    int hi = lo;
    if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
      ps->p++;
      hi = (unsigned char)*ps->p++;
      if (hi == '\\') {
        if (ps->p == ps->end || (hi = escaped_char(*ps->p++)) < 0) return fail(ps, "a bad class range");
      }
      if (hi >= 0x80) return fail(ps, "only ASCII characters are supported");
      if (hi < lo) return fail(ps, "a class range out of order");
    }
    cls_add(cls, lo, hi);
  }
  if (ps->p == ps->end) return fail(ps, "a class [ without its ]");
  ps->p++;
  ps->nodes[id].cls[0] = negate ? ~cls[0] : cls[0];
  ps->nodes[id].cls[1] = negate ? ~cls[1] : cls[1];
  return id;
}

static int parse_atom(rx_parser *ps) {
  char c = *ps->p++;
  if (c == '(') {
    if (ps->p < ps->end && *ps->p == '?') {
      if (ps->p + 1 < ps->end && ps->p[1] == ':') ps->p += 2;
      else return fail(ps, "lookaround and named groups are not supported");
    }
    int a = parse_alt(ps);
    if (a < 0) return -1;
    if (ps->p == ps->end || *ps->p != ')') return fail(ps, "a group ( without its )");
    ps->p++;
    return a;
  }
  if (c == '[') return parse_class(ps);
  int id = new_node(ps, RX_CLASS);
  if (id < 0) return -1;
  uint64_t *cls = ps->nodes[id].cls;
  if (c == '.') {
    cls_add(cls, 0, 127);
    cls[0] &= ~((1ull << '\n') | (1ull << '\r'));
  } else if (c == '\\') {
    if (ps->p == ps->end) return fail(ps, "it ends in a backslash");
    char e = *ps->p++;
    int ch;
    if (e >= '1' && e <= '9') return fail(ps, "back references are not supported");
    if (!cls_escape(cls, e)) {
      if ((ch = escaped_char(e)) < 0) return fail(ps, "an unsupported escape (\\b, \\p, \\u, ...)");
      cls_add(cls, ch, ch);
    }
  } else if ((unsigned char)c >= 0x80) {
    return fail(ps, "only ASCII characters are supported");
  } else if (strchr("*+?{", c)) {
    return fail(ps, "a quantifier with nothing before it");
  } else if (c == '^' || c == '$') {
    return fail(ps, "anchors ^ and $ are supported at the ends only");
  } else if (c == ')' || c == ']' || c == '}') {
    return fail(ps, "an unmatched closing bracket");
  } else {
    cls_add(cls, (unsigned char)c, (unsigned char)c);
  }
  return id;
}

static int parse_number(rx_parser *ps, int32_t *out) {
  if (ps->p == ps->end || *ps->p < '0' || *ps->p > '9') return 0;
  int64_t v = 0;
  while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9' && v < 100000) v = v * 10 + (*ps->p++ - '0');
  *out = (int32_t)v;
  return 1;
}

static int parse_repeat(rx_parser *ps) {
  int a = parse_atom(ps);
  while (a >= 0 && ps->p < ps->end && strchr("*+?{", *ps->p)) {
    int32_t min = 0, max = RX_INF;
    char q = *ps->p++;
    if (q == '+') min = 1;
    else if (q == '?') max = 1;
    else if (q == '{') {
      if (!parse_number(ps, &min)) return fail(ps, "{ must start a quantifier {n}, {n,} or {n,m}");
      max = min;
      if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        if (!parse_number(ps, &max)) max = RX_INF;
      }
      if (ps->p == ps->end || *ps->p != '}') return fail(ps, "a quantifier { without its }");
      ps->p++;
      if (max != RX_INF && max < min) return fail(ps, "a quantifier {n,m} with m < n");
    }
    if (ps->p < ps->end && *ps->p == '?') ps->p++; /* lazy: the same strings */
    int r = new_node(ps, RX_REPEAT);
    if (r < 0) return -1;
    ps->nodes[r].a = a;
    ps->nodes[r].min = min;
    ps->nodes[r].max = max;
    a = r;
  }
  return a;
}

static int binary(rx_parser *ps, int kind, int a, int b) {
  if (a < 0) return b;
  int id = new_node(ps, kind);
  if (id < 0) return -1;
  ps->nodes[id].a = a;
  ps->nodes[id].b = b;
  return id;
}

static int parse_cat(rx_parser *ps) {
  int a = -1;
  while (ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
    if (*ps->p == '$' && ps->p + 1 == ps->end) break; /* the end anchor */
    int b = parse_repeat(ps);
    if (b < 0 || (a = binary(ps, RX_CAT, a, b)) < 0) return -1;
  }
  return a >= 0 ? a : new_node(ps, RX_EMPTY);
}

static int parse_alt(rx_parser *ps) {
  int a = parse_cat(ps);
  while (a >= 0 && ps->p < ps->end && *ps->p == '|') {
    ps->p++;
    int b = parse_cat(ps);
    if (b < 0) return -1;
    a = binary(ps, RX_ALT, a, b);
  }
  return a;
}

/* The characters a JSON string under a pattern may hold: printable ASCII
** and the three that have short escapes. */
static void usable_only(uint64_t *cls) {
  uint64_t ok[2] = {0, 0};
  cls_add(ok, ' ', '~');
  cls_add(ok, '\t', '\t');
  cls_add(ok, '\n', '\n');
  cls_add(ok, '\r', '\r');
  cls[0] &= ok[0];
  cls[1] &= ok[1];
}

/* Bytes of position q's cheapest character: 1, or 2 when all need an
** escape (\" \\ \t \n \r); 0 when it has none. */
static int char_cost(const jc_regex *re, int q) {
  uint64_t plain[2] = {0, 0};
  cls_add(plain, ' ', '~');
  plain[0] &= ~(1ull << '"');
  plain[1] &= ~(1ull << ('\\' - 64));
  if ((re->cls[q][0] & plain[0]) | (re->cls[q][1] & plain[1])) return 1;
  return re->cls[q][0] | re->cls[q][1] ? 2 : 0;
}

/* ---- positions ---- */

typedef struct rx_builder {
  const rx_parser *ps;
  jc_regex *re;
  llm_err *err;
} rx_builder;

static void link(jc_regex *re, uint64_t from, uint64_t to) {
  for (int p = 0; p < 64; p++)
    if (from >> p & 1) re->follow[p] |= to;
}

static rx_set cat(jc_regex *re, rx_set a, rx_set b) {
  link(re, a.last, b.first);
  return (rx_set){a.first | (a.nullable ? b.first : 0), b.last | (b.nullable ? a.last : 0),
                  a.nullable && b.nullable};
}

/* The positions of node id (a new copy each call); *ok 0 past 64. */
static rx_set build(rx_builder *bl, int id, int *ok) {
  const rx_node *n = &bl->ps->nodes[id];
  jc_regex *re = bl->re;
  rx_set s = {0, 0, 1};
  if (!*ok) return s;
  switch (n->kind) {
  case RX_CLASS:
    if (re->n_pos == 64) {
      *ok = 0;
      return s;
    }
    re->cls[re->n_pos][0] = n->cls[0];
    re->cls[re->n_pos][1] = n->cls[1];
    usable_only(re->cls[re->n_pos]);
    s = (rx_set){1ull << re->n_pos, 1ull << re->n_pos, 0};
    re->n_pos++;
    return s;
  case RX_CAT: {
    rx_set a = build(bl, n->a, ok);
    return cat(re, a, build(bl, n->b, ok));
  }
  case RX_ALT: {
    rx_set a = build(bl, n->a, ok), b = build(bl, n->b, ok);
    return (rx_set){a.first | b.first, a.last | b.last, a.nullable || b.nullable};
  }
  case RX_REPEAT: {
    /* a{n,m} = a..a (n) then a? (m - n); a{n,} = a..a (n - 1) then a+ */
    int32_t fixed = n->max == RX_INF && n->min > 0 ? n->min - 1 : n->min;
    for (int32_t i = 0; i < fixed && *ok; i++) s = cat(re, s, build(bl, n->a, ok));
    if (n->max == RX_INF) {
      rx_set loop = build(bl, n->a, ok);
      link(re, loop.last, loop.first);
      loop.nullable = loop.nullable || n->min == 0;
      return cat(re, s, loop);
    }
    for (int32_t i = n->min; i < n->max && *ok; i++) {
      rx_set opt = build(bl, n->a, ok);
      opt.nullable = 1;
      s = cat(re, s, opt);
    }
    return s;
  }
  default: return s; /* RX_EMPTY */
  }
}

/* Lengths and costs of the completions after each position (fixpoints;
** a position no character can take is never entered). */
static void lengths(jc_regex *re) {
  int w[64];
  for (int q = 0; q < re->n_pos; q++) w[q] = char_cost(re, q);
  for (int changed = 1; changed;) {
    changed = 0;
    for (int p = 0; p < re->n_pos; p++) {
      uint64_t len = re->last >> p & 1, big = 0;
      for (int q = 0; q < re->n_pos; q++)
        if ((re->follow[p] >> q & 1) && w[q]) {
          len |= re->len[q] << 1;
          big |= (re->big >> q & 1) | (re->len[q] >> 63);
        }
      len |= re->len[p];
      big = (big | (re->big >> p)) & 1;
      if (len != re->len[p] || big != (re->big >> p & 1)) {
        re->len[p] = len;
        re->big |= big << p;
        changed = 1;
      }
    }
  }
  memset(re->cost, 255, sizeof re->cost);
  for (int p = 0; p < re->n_pos; p++)
    if (re->last >> p & 1) re->cost[p][0] = 0;
  for (int r = 1; r < 64; r++)
    for (int p = 0; p < re->n_pos; p++)
      for (int q = 0; q < re->n_pos; q++)
        if ((re->follow[p] >> q & 1) && w[q] && re->cost[q][r - 1] < 255 && w[q] + re->cost[q][r - 1] < re->cost[p][r])
          re->cost[p][r] = (uint8_t)(w[q] + re->cost[q][r - 1] > 254 ? 254 : w[q] + re->cost[q][r - 1]);
}

int jc_regex_compile(const char *pattern, size_t n, jc_regex *re, llm_err *err) {
  rx_parser *ps = llm_malloc(sizeof *ps);
  if (!ps) return llm_fail(err, LLM_ENOMEM, "json_schema: out of memory");
  ps->p = pattern;
  ps->end = pattern + n;
  ps->n = 0;
  ps->err = err;
  int anchored_start = n && pattern[0] == '^';
  int anchored_end = n > (size_t)anchored_start && pattern[n - 1] == '$' &&
                     (n < 2 || pattern[n - 2] != '\\');
  ps->p += anchored_start;
  int root = parse_alt(ps);
  if (root >= 0 && ps->p < ps->end && !(anchored_end && ps->p + 1 == ps->end))
    root = fail(ps, *ps->p == ')' ? "an unmatched )" : "anchors ^ and $ are supported at the ends only");
  if (root >= 0) { /* an end without its anchor: any characters */
    int any = new_node(ps, RX_CLASS), star = any >= 0 ? new_node(ps, RX_REPEAT) : -1;
    if (star >= 0) {
      cls_add(ps->nodes[any].cls, 0, 127);
      ps->nodes[star] = (rx_node){RX_REPEAT, any, 0, 0, RX_INF, {0, 0}};
      if (!anchored_start) root = binary(ps, RX_CAT, star, root);
      if (root >= 0 && !anchored_end) root = binary(ps, RX_CAT, root, star);
    } else {
      root = -1;
    }
  }
  int rc = root < 0 ? err->code : LLM_OK;
  if (!rc) {
    memset(re, 0, sizeof *re);
    rx_builder bl = {ps, re, err};
    int ok = 1;
    rx_set s = build(&bl, root, &ok);
    if (!ok) {
      rc = llm_fail(err, LLM_EINVAL, "json_schema: pattern: more than 64 character positions once "
                    "its quantifiers are expanded");
    } else {
      re->first = s.first;
      re->last = s.last;
      re->nullable = s.nullable;
      lengths(re);
    }
  }
  llm_free(ps);
  return rc;
}

/* ---- running ---- */

uint64_t jc_regex_step(const jc_regex *re, uint64_t s, int c) {
  uint64_t next = s ? 0 : re->first;
  for (int p = 0; s && p < re->n_pos; p++)
    if (s >> p & 1) next |= re->follow[p];
  uint64_t out = 0;
  for (int p = 0; p < re->n_pos; p++)
    if ((next >> p & 1) && (re->cls[p][c >> 6] >> (c & 63) & 1)) out |= 1ull << p;
  return out;
}

/* The completion lengths after s (bit r: r more characters), and whether
** one of 64 or more exists. */
static uint64_t set_lengths(const jc_regex *re, uint64_t s, int *big) {
  uint64_t len = 0;
  *big = 0;
  if (!s) {
    len = (uint64_t)re->nullable;
    for (int q = 0; q < re->n_pos; q++)
      if ((re->first >> q & 1) && (re->cls[q][0] | re->cls[q][1])) {
        len |= re->len[q] << 1;
        *big |= (int)((re->big >> q & 1) | (re->len[q] >> 63));
      }
    return len;
  }
  for (int p = 0; p < re->n_pos; p++)
    if (s >> p & 1) {
      len |= re->len[p];
      *big |= (int)(re->big >> p & 1);
    }
  return len;
}

int jc_regex_accepts(const jc_regex *re, uint64_t s) {
  return s ? (s & re->last) != 0 : re->nullable;
}

/* A path from a position to the end longer than 128 characters has a
** cycle of at most 64 that can be cut while it stays at least 64 long: so
** when a completion of 64 or more exists, one of at most 128 does. */
int jc_regex_can_end(const jc_regex *re, uint64_t s, int64_t lo, int64_t hi) {
  int big;
  uint64_t len = set_lengths(re, s, &big);
  if (lo < 0) lo = 0;
  if (hi < lo) return 0;
  for (int64_t r = lo; r <= hi && r < 64; r++)
    if (len >> r & 1) return 1;
  return big && hi >= 128;
}

int64_t jc_regex_shortest(const jc_regex *re, uint64_t s, int64_t lo) {
  int64_t best = (int64_t)1 << 28;
  for (int64_t r = lo < 0 ? 0 : lo; r < 64; r++) {
    if (!s) { /* from the start: a first character, then what follows it */
      if (r == 0 && re->nullable) best = 0;
      for (int q = 0; r > 0 && q < re->n_pos; q++) {
        int w = char_cost(re, q);
        if ((re->first >> q & 1) && w && re->cost[q][r - 1] < 255 && w + re->cost[q][r - 1] < best)
          best = w + re->cost[q][r - 1];
      }
    }
    for (int p = 0; s && p < re->n_pos; p++)
      if ((s >> p & 1) && re->cost[p][r] < best) best = re->cost[p][r];
  }
  if (best == (int64_t)1 << 28) {
    int big;
    set_lengths(re, s, &big);
    if (big) best = 128; /* longer than tracked: about that many bytes */
  }
  return best;
}
