/*
** hf_normalize.c: tokenizer.json normalizers (see hf_pipeline.h), parsed
** into a flat list of steps (a Sequence is its items in order; a
** BertNormalizer is its parts) and run one step after another, each
** rewriting the text and its alignment.
**
** How the reference aligns (measured on tokenizers 0.22, and reproduced
** here): a normalizer emits each output character with a "change": 0
** replaces the next input character (and takes its alignment), +1 inserts
** (and takes the alignment of the input character before, [0, 0) at the
** start), -k replaces the next one and drops k more. The alignment follows
** these counts, not where a character really came from:
**   - NFD/NFKD: each character's decomposition is its first code point (0)
**     and the rest (+1); canonical reordering then moves them, changes and
**     all. So "a" U+0301 U+0323 gives a, U+0323 aligned to U+0301's bytes,
**     U+0301 aligned to U+0323's.
**   - NFC/NFKC: that decomposition, then composition: a composite carries
**     its starter's change plus each absorbed code point's change minus
**     one; absorbed code points disappear.
**   - Lowercase: the first code point of a mapping (0), the rest (+1).
**   - Filters (StripAccents, BertNormalizer's clean_text, Nmt, Strip) keep
**     each remaining character's own alignment; Replace aligns its content
**     to the last character of the match; Prepend and BertNormalizer's
**     spaces around CJK to the character they stand next to.
** Which characters the reference's filters and maps pick (measured over
** every code point): StripAccents removes general category M (Mn, Mc,
** Me); BertNormalizer's strip_accents is NFD then removal of Mn only; its
** clean_text removes U+0000, U+FFFD and Cc/Cf/Co but \t \n \r (not
** unassigned code points), then maps \t \n \r and White_Space to ' ';
** handle_chinese_chars pads exactly the ranges in is_cjk below (without
** U+2B820..U+2B91F); Nmt as in nmt_map below.
*/
#include "text/hf_internal.h"

#include <string.h>

#include "text/unicode.h"

enum {
  N_NFC = LLM_NFC, N_NFD = LLM_NFD, N_NFKC = LLM_NFKC, N_NFKD = LLM_NFKD,
  N_LOWER, N_STRIP_M, N_STRIP_MN, N_REPLACE, N_PREPEND, N_STRIP, N_CLEAN,
  N_CJK, N_NMT,
};

typedef struct nstep {
  int kind;
  int left, right;  /* N_STRIP */
  hf_pattern pat;   /* N_REPLACE */
  char *str;        /* N_REPLACE content, N_PREPEND text */
  size_t str_len;
} nstep;

/* Work memory, kept in the parsed normalizer from call to call (so it is
** used by one thread at a time, like its regexes). */
typedef struct scratch {
  llm_buf tmp;      /* the text between steps, with out */
  llm_align tmpa;
  int32_t *cp;      /* the input as code points */
  size_t cp_cap;
  llm_cps d, c;     /* decomposed, composed */
  long *change;     /* per output code point */
  size_t change_cap;
  uint8_t *seen;    /* per input code point */
  size_t seen_cap;
  llm_spans m;      /* Replace's matches */
} scratch;

static void scratch_free(scratch *w) {
  llm_buf_free(&w->tmp);
  llm_align_free(&w->tmpa);
  llm_free(w->cp);
  llm_cps_free(&w->d);
  llm_cps_free(&w->c);
  llm_free(w->change);
  llm_free(w->seen);
  llm_spans_free(&w->m);
}

struct llm_hf_norm {
  nstep *steps;
  size_t n, cap;
  scratch *ws;
};

/* ---- parsing ------------------------------------------------------------- */

static nstep *push_step(llm_hf_norm *n, int kind) {
  if (llm_grow((void **)&n->steps, &n->cap, n->n + 1, sizeof(nstep)))
    return NULL;
  nstep *s = &n->steps[n->n++];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  return s;
}

#define SUPPORTED                                                         \
  "NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Replace, Prepend, "     \
  "Strip, BertNormalizer, Nmt, Sequence"

static int parse_node(llm_hf_norm *n, const llm_json *node, hf_ctx *c,
                      int depth, llm_err *err) {
  int rc = hf_get_type(node, c, err);
  if (rc) return rc;
  const char *t = c->type;
  static const char *const forms[] = {"NFC", "NFD", "NFKC", "NFKD"};
  static const int form_kind[] = {N_NFC, N_NFD, N_NFKC, N_NFKD};
  for (int i = 0; i < 4; i++)
    if (!strcmp(t, forms[i]))
      return push_step(n, form_kind[i]) ? LLM_OK : LLM_ENOMEM;
  if (!strcmp(t, "Lowercase"))
    return push_step(n, N_LOWER) ? LLM_OK : LLM_ENOMEM;
  if (!strcmp(t, "StripAccents"))
    return push_step(n, N_STRIP_M) ? LLM_OK : LLM_ENOMEM;
  if (!strcmp(t, "Nmt")) return push_step(n, N_NMT) ? LLM_OK : LLM_ENOMEM;
  if (!strcmp(t, "Strip")) {
    int l, r;
    if ((rc = hf_get_bool(node, "strip_left", HF_REQUIRED, 0, &l, c, err)) ||
        (rc = hf_get_bool(node, "strip_right", HF_REQUIRED, 0, &r, c, err)))
      return rc;
    nstep *s = push_step(n, N_STRIP);
    if (!s) return LLM_ENOMEM;
    s->left = l;
    s->right = r;
    return LLM_OK;
  }
  if (!strcmp(t, "Prepend") || !strcmp(t, "Replace")) {
    int rep = !strcmp(t, "Replace");
    hf_pattern pat = {0};
    const char *str;
    size_t len;
    if (rep && (rc = hf_get_pattern(node, "pattern", &pat, c, err))) return rc;
    rc = hf_get_str(node, rep ? "content" : "prepend", &str, &len, c, err);
    nstep *s = rc ? NULL : push_step(n, rep ? N_REPLACE : N_PREPEND);
    if (s) s->str = hf_strdup(str, len);
    if (!s || !s->str) {
      hf_pattern_free(&pat);
      if (s) n->n--;
      return rc ? rc : LLM_ENOMEM;
    }
    s->str_len = len;
    s->pat = pat;
    return LLM_OK;
  }
  if (!strcmp(t, "BertNormalizer")) {
    int clean, cjk, strip, lower;
    if ((rc = hf_get_bool(node, "clean_text", HF_REQUIRED, 0, &clean, c,
                          err)) ||
        (rc = hf_get_bool(node, "handle_chinese_chars", HF_REQUIRED, 0, &cjk,
                          c, err)) ||
        (rc = hf_get_bool(node, "lowercase", HF_REQUIRED, 0, &lower, c,
                          err)) ||
        (rc = hf_get_bool(node, "strip_accents", HF_NULLABLE, lower, &strip,
                          c, err)))
      return rc;
    /* the reference's order: clean, CJK, strip accents, lowercase */
    if ((clean && !push_step(n, N_CLEAN)) || (cjk && !push_step(n, N_CJK)) ||
        (strip && (!push_step(n, N_NFD) || !push_step(n, N_STRIP_MN))) ||
        (lower && !push_step(n, N_LOWER)))
      return LLM_ENOMEM;
    return LLM_OK;
  }
  if (!strcmp(t, "Sequence")) {
    const llm_json *arr;
    if ((rc = hf_get_array(node, "normalizers", &arr, c, err))) return rc;
    if (depth >= 32)
      return hf_fail(c, err, LLM_EINVAL, "Sequences nested too deeply");
    for (size_t i = 0; i < arr->len; i++) {
      hf_ctx child;
      hf_ctx_child(&child, c, "normalizers", i);
      if ((rc = parse_node(n, &arr->items[i], &child, depth + 1, err)))
        return rc;
    }
    return LLM_OK;
  }
  if (!strcmp(t, "Precompiled"))
    return hf_fail(c, err, LLM_EINVAL,
                   "not supported (a SentencePiece normalization map, as "
                   "Unigram models have); supported: " SUPPORTED);
  return hf_fail(c, err, LLM_EINVAL, "unknown or unsupported normalizer "
                 "type; supported: " SUPPORTED);
}

void llm_hf_norm_free(llm_hf_norm *n) {
  if (!n) return;
  for (size_t i = 0; i < n->n; i++) {
    hf_pattern_free(&n->steps[i].pat);
    llm_free(n->steps[i].str);
  }
  llm_free(n->steps);
  if (n->ws) scratch_free(n->ws);
  llm_free(n->ws);
  llm_free(n);
}

int llm_hf_norm_parse(const llm_json *node, llm_hf_norm **out,
                      llm_err *err) {
  *out = NULL;
  if (node && node->type == LLM_JSON_NULL) return LLM_OK;
  llm_hf_norm *n = llm_calloc(1, sizeof *n);
  if (n) n->ws = llm_calloc(1, sizeof *n->ws);
  if (!n || !n->ws) {
    llm_free(n);
    return llm_fail(err, LLM_ENOMEM, "normalizer: out of memory");
  }
  hf_ctx c = {"normalizer", NULL};
  int rc = parse_node(n, node, &c, 0, err);
  if (rc) {
    if (rc == LLM_ENOMEM) /* push_step and the like do not say */
      llm_fail(err, LLM_ENOMEM, "tokenizer.json normalizer: out of memory");
    llm_hf_norm_free(n);
    return rc;
  }
  *out = n;
  return LLM_OK;
}

/* ---- running ------------------------------------------------------------- */

/* A rewrite with the reference's change counts (see the top): cur is the
** next input character to replace, [las, lae) the alignment of the last
** one passed. Output characters that are the input character they replace
** are not written one by one: [run, cur) is copied when the run ends. */
#define NO_RUN ((size_t)-1)
typedef struct tx {
  const uint8_t *s;
  size_t n;
  const llm_align *sa;
  size_t cur, las, lae;
  size_t run, last; /* the run's start, and its last character's */
  hf_out *o;
} tx;

static int tx_flush(tx *t) {
  if (t->run == NO_RUN) return LLM_OK;
  hf_align_at(t->s, t->n, t->sa, t->last, &t->las, &t->lae);
  int rc = hf_put_copy(t->o, t->s, t->n, t->sa, t->run, t->cur);
  t->run = NO_RUN;
  return rc;
}

static void tx_skip(tx *t, long k) {
  while (k-- > 0 && t->cur < t->n) {
    int len;
    hf_char(t->s, t->n, t->cur, &len);
    hf_align_at(t->s, t->n, t->sa, t->cur, &t->las, &t->lae);
    t->cur += (size_t)len;
  }
}

static int tx_emit(tx *t, int32_t c, long change) {
  size_t as = 0, ae = 0;
  if (change == 0 && t->cur < t->n) {
    int len;
    if (hf_char(t->s, t->n, t->cur, &len) == c) { /* itself */
      if (t->run == NO_RUN) t->run = t->cur;
      t->last = t->cur;
      t->cur += (size_t)len;
      return LLM_OK;
    }
  }
  if (tx_flush(t)) return LLM_ENOMEM;
  if (change > 0) {
    if (t->cur > 0) {
      as = t->las;
      ae = t->lae;
    }
  } else {
    if (t->cur < t->n) hf_align_at(t->s, t->n, t->sa, t->cur, &as, &ae);
    else {
      as = t->las;
      ae = t->lae;
    }
    tx_skip(t, 1 - change);
  }
  return hf_put_char(t->o, c, as, ae);
}

/* NFC, NFD, NFKC or NFKD with the reference's alignment, of the segment
** [a, b) of s (see run_form). */
static int run_form_seg(int form, const uint8_t *s, size_t n,
                        const llm_align *sa, size_t a, size_t b, hf_out *o,
                        scratch *w) {
  size_t m = 0;
  if (llm_grow((void **)&w->cp, &w->cp_cap, b - a, sizeof(int32_t)))
    return LLM_ENOMEM;
  for (size_t i = a; i < b;) {
    int len;
    w->cp[m++] = hf_char(s, b, i, &len);
    i += (size_t)len;
  }
  int comp = form == LLM_NFC || form == LLM_NFKC;
  llm_cps *r = comp ? &w->c : &w->d;
  if (llm_uni_normalize(form, w->cp, m, r)) return LLM_ENOMEM;
  if (r->len == m && !memcmp(r->cp, w->cp, m * sizeof(int32_t)))
    return hf_put_copy(o, s, n, sa, a, b); /* already in the form */
  if (comp && llm_uni_normalize(form == LLM_NFC ? LLM_NFD : LLM_NFKD, w->cp,
                                m, &w->d))
    return LLM_ENOMEM;
  /* change of each decomposed code point: 0 for the first from its input
  ** code point, +1 for the others */
  llm_cps *d = &w->d;
  if (llm_grow((void **)&w->seen, &w->seen_cap, m, 1) ||
      llm_grow((void **)&w->change, &w->change_cap, d->len, sizeof(long)))
    return LLM_ENOMEM;
  memset(w->seen, 0, m);
  for (size_t k = 0; k < d->len; k++) {
    w->change[k] = w->seen[d->src[k]];
    w->seen[d->src[k]] = 1;
  }
  tx t = {s, b, sa, a, 0, 0, NO_RUN, 0, o};
  if (a > 0) hf_align_at(s, n, sa, a - 1, &t.las, &t.lae); /* ASCII there */
  if (!comp) {
    for (size_t k = 0; k < d->len; k++)
      if (tx_emit(&t, d->cp[k], w->change[k])) return LLM_ENOMEM;
    return tx_flush(&t);
  }
  /* compose the decomposition (it is in canonical order, so NFC of it only
  ** composes); c->src indexes d. A code point of d that no output comes
  ** from was absorbed, by the last output before it that is a composite. */
  llm_cps *c = &w->c;
  if (llm_uni_normalize(LLM_NFC, d->cp, d->len, c)) return LLM_ENOMEM;
  /* out_change[k] overwrites change[k] only once index k of d is passed */
  size_t k = 0, owner = (size_t)-1;
  long *out_change = w->change; /* out index k <= d index j: safe in place */
  for (size_t j = 0; j < d->len; j++) {
    long base = w->change[j];
    if (k < c->len && c->src[k] == j) {
      out_change[k] = base;
      if (c->cp[k] != d->cp[j]) owner = k;
      k++;
    } else if (owner != (size_t)-1) {
      out_change[owner] += base - 1;
    }
  }
  for (k = 0; k < c->len; k++)
    if (tx_emit(&t, c->cp[k], out_change[k])) return LLM_ENOMEM;
  return tx_flush(&t);
}

/* The forms cut the text before ASCII characters: nothing before one
** interacts with it or after it (it is a starter, without decomposition,
** never the second of a composition pair). So the ASCII between segments
** is copied, and each segment (an ASCII character, when there is one,
** and the non-ASCII after it) is normalized on its own: the same result,
** alignment included, as the whole text in one piece. */
static int run_form(int form, const uint8_t *s, size_t n,
                    const llm_align *sa, hf_out *o, scratch *w) {
  size_t pos = 0;
  while (pos < n) {
    size_t j = pos;
    while (j < n && s[j] < 0x80) j++;
    if (j == n) break;
    size_t a = j > pos ? j - 1 : j, b = j;
    while (b < n && s[b] >= 0x80) b++;
    if (hf_put_copy(o, s, n, sa, pos, a) ||
        run_form_seg(form, s, n, sa, a, b, o, w))
      return LLM_ENOMEM;
    pos = b;
  }
  return hf_put_copy(o, s, n, sa, pos, n);
}

static int run_lower(const uint8_t *s, size_t n, const llm_align *sa,
                     hf_out *o) {
  for (size_t i = 0; i < n;) {
    size_t as, ae;
    if (s[i] < 0x80) { /* a run of ASCII */
      size_t j = i;
      while (j < n && s[j] < 0x80) j++;
      size_t at = o->b->len;
      if (hf_put_copy(o, s, n, sa, i, j)) return LLM_ENOMEM;
      for (uint8_t *p = o->b->data + at; p < o->b->data + o->b->len; p++)
        if (*p >= 'A' && *p <= 'Z') *p += 32;
      i = j;
      continue;
    }
    int len;
    int32_t c = hf_char(s, n, i, &len), lo[3];
    int k = c < HF_RAW ? llm_uni_lower(c, lo) : 0;
    if (k == 0 || (k == 1 && lo[0] == c)) {
      if (hf_put_copy(o, s, n, sa, i, i + (size_t)len)) return LLM_ENOMEM;
    } else {
      /* all its code points take its alignment (+1 ones from before) */
      hf_align_at(s, n, sa, i, &as, &ae);
      for (int q = 0; q < k; q++)
        if (hf_put_char(o, lo[q], as, ae)) return LLM_ENOMEM;
    }
    i += (size_t)len;
  }
  return LLM_OK;
}

static int is_cjk(int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B81F) ||
         (c >= 0x2B920 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Nmt: -1 removes c, ' ' maps it to a space, 0 keeps it. */
static int nmt_map(int32_t c) {
  if ((c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) ||
      c == 0x7F || c == 0x8F || c == 0x9F)
    return -1;
  if (c == 0x9 || c == 0xA || c == 0xC || c == 0xD || c == 0x1680 ||
      (c >= 0x200B && c <= 0x200F) || c == 0x2028 || c == 0x2029 ||
      c == 0x2581 || c == 0xFEFF || c == 0xFFFD)
    return ' ';
  return 0;
}

/* BertNormalizer's clean_text: -1 removes, ' ' maps to a space, 0 keeps. */
static int clean_map(int32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return ' ';
  if (c == 0 || c == 0xFFFD) return -1;
  int cat = llm_uni_category(c);
  if (cat == LLM_UC_Cc || cat == LLM_UC_Cf || cat == LLM_UC_Co) return -1;
  return hf_is_space(c) ? ' ' : 0;
}

/* The per-character steps: filters, maps and the CJK padding. */
static int run_chars(int kind, const uint8_t *s, size_t n,
                     const llm_align *sa, hf_out *o) {
  size_t keep = 0; /* s[keep..i) is to be copied as it is */
  for (size_t i = 0; i < n;) {
    int len, act;
    int32_t c = hf_char(s, n, i, &len);
    switch (kind) {
    case N_STRIP_M: act = c < 0x300 ? 0 : llm_uni_is_mark(c) ? -1 : 0; break;
    case N_STRIP_MN:
      act = c < 0x300 ? 0 : llm_uni_category(c) == LLM_UC_Mn ? -1 : 0;
      break;
    case N_CLEAN:
      act = (c >= 0x20 && c < 0x7F) ? 0 : clean_map(c);
      break;
    case N_NMT: act = (c >= 0x20 && c < 0x7F) ? 0 : nmt_map(c); break;
    default: act = c >= 0x3400 && is_cjk(c) ? 1 : 0; break; /* N_CJK */
    }
    if (act) {
      size_t as, ae;
      hf_align_at(s, n, sa, i, &as, &ae);
      if (hf_put_copy(o, s, n, sa, keep, i)) return LLM_ENOMEM;
      if (act == ' ' && hf_put(o, " ", 1, as, ae)) return LLM_ENOMEM;
      if (act == 1 && (hf_put(o, " ", 1, as, ae) ||
                       hf_put_copy(o, s, n, sa, i, i + (size_t)len) ||
                       hf_put(o, " ", 1, as, ae)))
        return LLM_ENOMEM;
      keep = i + (size_t)len;
    }
    i += (size_t)len;
  }
  return hf_put_copy(o, s, n, sa, keep, n);
}

static int run_strip(const nstep *st, const uint8_t *s, size_t n,
                     const llm_align *sa, hf_out *o) {
  size_t a = 0, b = n;
  if (st->left)
    while (a < n) {
      int len;
      if (!hf_is_space(hf_char(s, n, a, &len))) break;
      a += (size_t)len;
    }
  if (st->right)
    while (b > a) { /* back over one character: find where it starts */
      size_t k = b - 1;
      while (k > a && b - k < 4 && (s[k] & 0xC0) == 0x80) k--;
      int len;
      int32_t c = hf_char(s, n, k, &len);
      if (k + (size_t)len != b) { /* not one character: a stray byte */
        k = b - 1;
        c = HF_RAW + s[k];
      }
      if (!hf_is_space(c)) break;
      b = k;
    }
  return hf_put_copy(o, s, n, sa, a, b);
}

/* The alignment of the character that ends at `to` (from <= its start). */
static void align_before(const uint8_t *s, size_t n, const llm_align *sa,
                         size_t from, size_t to, size_t *as, size_t *ae) {
  if (sa) {
    *as = sa->start[to - 1];
    *ae = sa->end[to - 1];
    return;
  }
  size_t last = from;
  for (size_t i = from; i < to;) {
    int len;
    hf_char(s, n, i, &len);
    last = i;
    i += (size_t)len;
  }
  hf_align_at(s, n, NULL, last, as, ae);
}

static int run_replace(const nstep *st, const uint8_t *s, size_t n,
                       const llm_align *sa, hf_out *o, scratch *w,
                       llm_err *err) {
  if (n == 0) return LLM_OK; /* the reference finds nothing in "" */
  w->m.len = 0;
  int rc = hf_pattern_find(&st->pat, s, n, &w->m, err);
  if (rc) return rc;
  size_t pos = 0;
  for (size_t k = 0; k < w->m.len; k++) {
    size_t a = w->m.start[k], b = w->m.end[k], as = 0, ae = 0;
    if (hf_put_copy(o, s, n, sa, pos, a)) return LLM_ENOMEM;
    if (b > 0) align_before(s, n, sa, b > a ? a : pos, b, &as, &ae);
    if (hf_put(o, st->str, st->str_len, as, ae)) return LLM_ENOMEM;
    pos = b;
  }
  return hf_put_copy(o, s, n, sa, pos, n);
}

static int run_step(const nstep *st, const uint8_t *s, size_t n,
                    const llm_align *sa, hf_out *o, scratch *w,
                    llm_err *err) {
  switch (st->kind) {
  case N_NFC: case N_NFD: case N_NFKC: case N_NFKD:
    return run_form(st->kind, s, n, sa, o, w);
  case N_LOWER: return run_lower(s, n, sa, o);
  case N_STRIP: return run_strip(st, s, n, sa, o);
  case N_REPLACE: return run_replace(st, s, n, sa, o, w, err);
  case N_PREPEND: {
    size_t as = 0, ae = 0;
    if (n == 0) return LLM_OK;
    hf_align_at(s, n, sa, 0, &as, &ae);
    if (hf_put(o, st->str, st->str_len, as, ae)) return LLM_ENOMEM;
    return hf_put_copy(o, s, n, sa, 0, n);
  }
  default: return run_chars(st->kind, s, n, sa, o);
  }
}

int llm_hf_normalize(const llm_hf_norm *nz, const uint8_t *s, size_t len,
                     llm_buf *out, llm_align *align, llm_err *err) {
  out->len = 0;
  if (align) align->len = 0;
  size_t steps = nz ? nz->n : 0;
  hf_out o = {out, align};
  if (steps == 0) {
    if (hf_put_copy(&o, s, len, NULL, 0, len)) goto nomem;
    return LLM_OK;
  }
  /* ping-pong between out and tmp so that the last step writes out */
  scratch *w = nz->ws;
  const uint8_t *src = s;
  size_t n = len;
  const llm_align *sa = NULL; /* the input is aligned to itself */
  int rc = LLM_OK;
  for (size_t i = 0; i < steps && !rc; i++) {
    int into_out = (steps - i) % 2 == 1;
    hf_out d = {into_out ? out : &w->tmp,
                align ? (into_out ? align : &w->tmpa) : NULL};
    d.b->len = 0;
    if (d.a) d.a->len = 0;
    rc = run_step(&nz->steps[i], src, n, sa, &d, w, err);
    src = d.b->data;
    n = d.b->len;
    sa = d.a;
  }
  /* a huge text's memory is not kept */
  if (w->tmp.cap > HF_KEEP_BYTES || w->cp_cap > HF_KEEP_BYTES / 4) {
    scratch_free(w);
    memset(w, 0, sizeof *w);
  }
  if (rc == LLM_ENOMEM) goto nomem;
  if (rc) {
    out->len = 0;
    if (align) align->len = 0;
  }
  return rc;
nomem:
  out->len = 0;
  if (align) align->len = 0;
  return llm_fail(err, LLM_ENOMEM, "normalizer: out of memory");
}
