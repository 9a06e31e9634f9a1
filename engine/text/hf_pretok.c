/*
** hf_pretok.c: tokenizer.json pre-tokenizers (see hf_pipeline.h), parsed
** into a flat list of steps (a Sequence is its items in order) and run one
** after another on every piece of the text, as the reference does.
**
** The work is a text (with its alignment to the input) and a list of
** pieces, spans of it. Splitting steps only make a new list of spans;
** the two steps that change text (Metaspace, ByteLevel with
** add_prefix_space) write a new text. At the end the pieces are copied
** together into the caller's llm_hf_pieces.
**
** Which characters the reference's splitters pick (measured over every
** code point): Whitespace is the regex \w+|[^\w\s]+ of Oniguruma, whose \w
** is letters, marks, Nd, Nl, Pc, U+200C/U+200D and the letter-like symbols
** of is_word below; WhitespaceSplit, BertPreTokenizer, Metaspace and
** ByteLevel's \s are White_Space; Punctuation and BertPreTokenizer's
** punctuation is ASCII punctuation or category P; Digits' digits are
** category N. Each matching character is a match of its own (so
** Punctuation's Contiguous merges "!!" and Isolated does not).
*/
#include "text/hf_internal.h"

#include <string.h>

#include "text/pretok.h"
#include "text/unicode.h"

enum {
  P_BYTELEVEL, P_SPLIT, P_DIGITS, P_METASPACE, P_BERT, P_WHITESPACE,
  P_WSPLIT, P_PUNCT, P_CHARDELIM,
};

typedef struct pstep {
  int kind;
  int flag;         /* BYTELEVEL: add_prefix_space; DIGITS: individual;
                       METASPACE: split */
  int use_regex;    /* BYTELEVEL */
  int behavior;     /* SPLIT, PUNCT */
  int invert;       /* SPLIT */
  int scheme;       /* METASPACE: HF_PREPEND_* */
  int32_t ch;       /* METASPACE replacement, CHARDELIM delimiter */
  hf_pattern pat;   /* SPLIT */
} pstep;

/* A text with its alignment to the input (the two texts the rewriting
** steps alternate between). */
typedef struct text {
  llm_buf b;
  llm_align al;
} text;

/* Work memory, kept in the parsed pre-tokenizer from call to call (so it
** is used by one thread at a time, like its regexes). */
typedef struct work {
  text t[2];
  llm_spans sp[2], m;
} work;

static void work_free(work *w) {
  for (int k = 0; k < 2; k++) {
    llm_buf_free(&w->t[k].b);
    llm_align_free(&w->t[k].al);
    llm_spans_free(&w->sp[k]);
  }
  llm_spans_free(&w->m);
  memset(w, 0, sizeof *w);
}

struct llm_hf_pretok {
  pstep *steps;
  size_t n, cap;
  int bytelevel;
  work *ws;
};

/* ---- parsing ------------------------------------------------------------- */

static pstep *push_step(llm_hf_pretok *p, int kind) {
  if (llm_grow((void **)&p->steps, &p->cap, p->n + 1, sizeof(pstep)))
    return NULL;
  pstep *s = &p->steps[p->n++];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  return s;
}

#define SUPPORTED                                                       \
  "ByteLevel, Split, Digits, Metaspace, BertPreTokenizer, Whitespace, " \
  "WhitespaceSplit, Punctuation, CharDelimiterSplit, Sequence"

static int parse_node(llm_hf_pretok *p, const llm_json *node, hf_ctx *c,
                      int depth, llm_err *err) {
  int rc = hf_get_type(node, c, err);
  if (rc) return rc;
  const char *t = c->type;
  pstep st;
  memset(&st, 0, sizeof st);
  if (!strcmp(t, "Sequence")) {
    const llm_json *arr;
    if ((rc = hf_get_array(node, "pretokenizers", &arr, c, err))) return rc;
    if (depth >= 32)
      return hf_fail(c, err, LLM_EINVAL, "Sequences nested too deeply");
    for (size_t i = 0; i < arr->len; i++) {
      hf_ctx child;
      hf_ctx_child(&child, c, "pretokenizers", i);
      if ((rc = parse_node(p, &arr->items[i], &child, depth + 1, err)))
        return rc;
    }
    return LLM_OK;
  } else if (!strcmp(t, "ByteLevel")) {
    st.kind = P_BYTELEVEL;
    rc = hf_get_bytelevel(node, &st.flag, &st.use_regex, c, err);
    p->bytelevel = 1;
  } else if (!strcmp(t, "Split")) {
    st.kind = P_SPLIT;
    if (!(rc = hf_get_behavior(node, "behavior", HF_REQUIRED, 0, &st.behavior,
                               c, err)) &&
        !(rc = hf_get_bool(node, "invert", HF_REQUIRED, 0, &st.invert, c,
                           err)))
      rc = hf_get_pattern(node, "pattern", &st.pat, c, err);
  } else if (!strcmp(t, "Digits")) {
    st.kind = P_DIGITS;
    rc = hf_get_bool(node, "individual_digits", HF_REQUIRED, 0, &st.flag, c,
                     err);
  } else if (!strcmp(t, "Metaspace")) {
    st.kind = P_METASPACE;
    rc = hf_get_metaspace(node, &st.ch, &st.scheme, &st.flag, c, err);
  } else if (!strcmp(t, "BertPreTokenizer")) {
    st.kind = P_BERT;
  } else if (!strcmp(t, "Whitespace")) {
    st.kind = P_WHITESPACE;
  } else if (!strcmp(t, "WhitespaceSplit")) {
    st.kind = P_WSPLIT;
  } else if (!strcmp(t, "Punctuation")) {
    st.kind = P_PUNCT;
    rc = hf_get_behavior(node, "behavior", HF_OPTIONAL, LLM_SPLIT_ISOLATED,
                         &st.behavior, c, err);
  } else if (!strcmp(t, "CharDelimiterSplit")) {
    st.kind = P_CHARDELIM;
    rc = hf_get_char(node, "delimiter", &st.ch, c, err);
  } else {
    return hf_fail(c, err, LLM_EINVAL, "unknown or unsupported "
                   "pre-tokenizer type; supported: " SUPPORTED);
  }
  if (rc) return rc;
  pstep *s = push_step(p, st.kind);
  if (!s) {
    hf_pattern_free(&st.pat);
    return LLM_ENOMEM;
  }
  *s = st;
  return LLM_OK;
}

void llm_hf_pretok_free(llm_hf_pretok *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n; i++) hf_pattern_free(&p->steps[i].pat);
  llm_free(p->steps);
  if (p->ws) work_free(p->ws);
  llm_free(p->ws);
  llm_free(p);
}

int llm_hf_pretok_parse(const llm_json *node, llm_hf_pretok **out,
                        llm_err *err) {
  *out = NULL;
  if (node && node->type == LLM_JSON_NULL) return LLM_OK;
  llm_hf_pretok *p = llm_calloc(1, sizeof *p);
  if (p) p->ws = llm_calloc(1, sizeof *p->ws);
  if (!p || !p->ws) {
    llm_free(p);
    return llm_fail(err, LLM_ENOMEM, "pre_tokenizer: out of memory");
  }
  hf_ctx c = {"pre_tokenizer", NULL};
  int rc = parse_node(p, node, &c, 0, err);
  for (size_t i = 0; !rc && i + 1 < p->n; i++)
    if (p->steps[i].kind == P_BYTELEVEL)
      rc = llm_fail(err, LLM_EINVAL, "tokenizer.json pre_tokenizer: a step "
                    "after ByteLevel is not supported (the reference runs it "
                    "on GPT-2's byte characters; here the text stays bytes "
                    "until the vocabulary lookup)");
  if (rc) {
    if (rc == LLM_ENOMEM) /* push_step and the like do not say */
      llm_fail(err, LLM_ENOMEM,
               "tokenizer.json pre_tokenizer: out of memory");
    llm_hf_pretok_free(p);
    return rc;
  }
  *out = p;
  return LLM_OK;
}

int llm_hf_pretok_is_bytelevel(const llm_hf_pretok *p) {
  return p ? p->bytelevel : 0;
}

/* ---- character classes --------------------------------------------------- */

/* Oniguruma's Unicode \w: Alphabetic, marks, Nd, Pc and Join_Control.
** Alphabetic is L, Nl and Other_Alphabetic; the latter is all marks but
** for the circled and squared Latin letters listed here. */
static int is_word(int32_t c) {
  if (c < 0x80)
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
  switch (llm_uni_category(c)) {
  case LLM_UC_Lu: case LLM_UC_Ll: case LLM_UC_Lt: case LLM_UC_Lm:
  case LLM_UC_Lo: case LLM_UC_Mn: case LLM_UC_Mc: case LLM_UC_Me:
  case LLM_UC_Nd: case LLM_UC_Nl: case LLM_UC_Pc:
    return 1;
  default:
    return c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9) ||
           (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
           (c >= 0x1F170 && c <= 0x1F189);
  }
}

static int is_digit(int32_t c) {
  return c < 0x80 ? c >= '0' && c <= '9' : llm_uni_is_number(c);
}

/* ---- the work ------------------------------------------------------------ */

typedef struct run {
  const uint8_t *t;      /* the current text */
  size_t n;
  const llm_align *sa;   /* its alignment to the input, or NULL */
  const llm_align *orig; /* the input's alignment to the original */
  llm_err *err;
} run;

/* Feeds the events of "each character with pred is a match" over piece
** [a, b) to f. */
static int split_chars(const run *r, size_t a, size_t b, int kind,
                       int32_t ch, hf_fold *f) {
  size_t gap = a;
  for (size_t i = a; i < b;) {
    int len, m;
    int32_t c = hf_char(r->t, b, i, &len);
    switch (kind) {
    case P_DIGITS: m = is_digit(c); break;
    case P_PUNCT: m = hf_is_punct(c); break;
    case P_WSPLIT: m = hf_is_space(c); break;
    default: m = c == ch; break; /* P_CHARDELIM, P_METASPACE */
    }
    if (m) {
      if (gap < i && hf_fold_event(f, gap, i, 0)) return LLM_ENOMEM;
      if (hf_fold_event(f, i, i + (size_t)len, 1)) return LLM_ENOMEM;
      gap = i + (size_t)len;
    }
    i += (size_t)len;
  }
  if (gap < b && hf_fold_event(f, gap, b, 0)) return LLM_ENOMEM;
  return hf_fold_end(f);
}

/* Runs of one class over [a, b), each a piece, for the classes not
** dropped: Whitespace (word / other, spaces dropped) and BertPreTokenizer
** (spaces dropped, punctuation one character per piece). */
static int split_runs(const run *r, size_t a, size_t b, int kind,
                      llm_spans *out) {
  size_t rs = a;
  int rc = -1; /* class of the run [rs, i): -1 none, 0 space */
  for (size_t i = a; i < b;) {
    int len, cl;
    int32_t c = hf_char(r->t, b, i, &len);
    if (kind == P_WHITESPACE)
      cl = hf_is_space(c) ? 0 : is_word(c) ? 1 : 2;
    else
      cl = hf_is_space(c) ? 0 : hf_is_punct(c) ? 3 : 1;
    if (cl != rc || cl == 3) {
      if (rc > 0 && hf_spans_push(out, rs, i)) return LLM_ENOMEM;
      rs = i;
      rc = cl;
    }
    i += (size_t)len;
  }
  if (rc > 0 && hf_spans_push(out, rs, b)) return LLM_ENOMEM;
  return LLM_OK;
}

static int split_pattern(const run *r, const pstep *st, size_t a, size_t b,
                         llm_spans *m, hf_fold *f) {
  m->len = 0;
  int rc = hf_pattern_find(&st->pat, r->t + a, b - a, m, r->err);
  if (rc) return rc;
  size_t pos = a;
  for (size_t k = 0; k < m->len; k++) {
    size_t ms = a + m->start[k], me = a + m->end[k];
    if (pos < ms && hf_fold_event(f, pos, ms, st->invert)) return LLM_ENOMEM;
    if (hf_fold_event(f, ms, me, !st->invert)) return LLM_ENOMEM;
    pos = me;
  }
  if (pos < b && hf_fold_event(f, pos, b, st->invert)) return LLM_ENOMEM;
  return hf_fold_end(f);
}

static int split_gpt2(const run *r, size_t a, size_t b, llm_spans *out) {
  for (size_t pos = a; pos < b;) {
    size_t e = a + llm_pretok_next(LLM_PRETOK_GPT2, r->t + a, b - a, pos - a);
    if (hf_spans_push(out, pos, e)) return LLM_ENOMEM;
    pos = e;
  }
  return LLM_OK;
}

/* Where piece [a, ...) starts in the original text. */
static size_t orig_start(const run *r, size_t a) {
  size_t as, ae;
  hf_align_at(r->t, r->n, r->sa, a, &as, &ae);
  return r->orig && as < r->orig->len ? r->orig->start[as] : as;
}

/* Metaspace or ByteLevel on piece [a, b): writes the new piece to o, then
** its pieces (spans of o's text) to out. */
static int rewrite_piece(const run *r, const pstep *st, size_t a, size_t b,
                         hf_out *o, llm_spans *out) {
  size_t ns = o->b->len, as, ae;
  int len;
  int32_t first = hf_char(r->t, b, a, &len);
  hf_align_at(r->t, r->n, r->sa, a, &as, &ae);
  if (st->kind == P_BYTELEVEL) {
    if (st->flag && first != ' ' && hf_put(o, " ", 1, as, ae))
      return LLM_ENOMEM;
    if (hf_put_copy(o, r->t, r->n, r->sa, a, b)) return LLM_ENOMEM;
    if (!st->use_regex) return hf_spans_push(out, ns, o->b->len);
    run nr = {o->b->data, o->b->len, NULL, NULL, r->err};
    return split_gpt2(&nr, ns, o->b->len, out);
  }
  /* Metaspace: ' ' becomes the replacement; then the prepend; then the
  ** split before each replacement */
  int pre = st->scheme == HF_PREPEND_ALWAYS ||
            (st->scheme == HF_PREPEND_FIRST && orig_start(r, a) == 0);
  if (pre && first != ' ' && first != st->ch &&
      hf_put_char(o, st->ch, as, ae))
    return LLM_ENOMEM;
  size_t keep = a;
  for (size_t i = a; i < b; i++) {
    if (r->t[i] != ' ') continue;
    hf_align_at(r->t, r->n, r->sa, i, &as, &ae);
    if (hf_put_copy(o, r->t, r->n, r->sa, keep, i) ||
        hf_put_char(o, st->ch, as, ae))
      return LLM_ENOMEM;
    keep = i + 1;
  }
  if (hf_put_copy(o, r->t, r->n, r->sa, keep, b)) return LLM_ENOMEM;
  if (!st->flag) return hf_spans_push(out, ns, o->b->len);
  hf_fold f;
  hf_fold_init(&f, out, LLM_SPLIT_MERGED_WITH_NEXT);
  run nr = {o->b->data, o->b->len, NULL, NULL, r->err};
  return split_chars(&nr, ns, o->b->len, P_METASPACE, st->ch, &f);
}

/* One step: the pieces `in` of text r into `out`, spans of r's text or,
** when the step rewrites (*rewrote is then set), of nt. */
static int run_step(const pstep *st, const run *r, const llm_spans *in,
                    llm_spans *out, text *nt, llm_spans *m, int *rewrote) {
  *rewrote = 0;
  if (st->kind == P_SPLIT && st->pat.re)
    return llm_regex_split(st->pat.re, r->t, r->n, in, st->behavior,
                           st->invert, out, r->err);
  int rw = st->kind == P_METASPACE || (st->kind == P_BYTELEVEL && st->flag);
  hf_out o = {&nt->b, &nt->al};
  if (rw) {
    *rewrote = 1;
    nt->b.len = nt->al.len = 0;
  }
  for (size_t k = 0; k < in->len; k++) {
    size_t a = in->start[k], b = in->end[k];
    hf_fold f;
    int rc;
    if (rw) {
      rc = rewrite_piece(r, st, a, b, &o, out);
    } else {
      switch (st->kind) {
      case P_BYTELEVEL:
        rc = st->use_regex ? split_gpt2(r, a, b, out)
                           : hf_spans_push(out, a, b);
        break;
      case P_SPLIT:
        hf_fold_init(&f, out, st->behavior);
        rc = split_pattern(r, st, a, b, m, &f);
        break;
      case P_WHITESPACE: case P_BERT:
        rc = split_runs(r, a, b, st->kind, out);
        break;
      default:
        hf_fold_init(&f, out,
                     st->kind == P_PUNCT    ? st->behavior
                     : st->kind == P_DIGITS ? (st->flag ? LLM_SPLIT_ISOLATED
                                                        : LLM_SPLIT_CONTIGUOUS)
                                            : LLM_SPLIT_REMOVED);
        rc = split_chars(r, a, b, st->kind, st->ch, &f);
        break;
      }
    }
    if (rc) return rc;
  }
  return LLM_OK;
}

void llm_hf_pieces_free(llm_hf_pieces *p) {
  if (!p) return;
  llm_buf_free(&p->text);
  llm_free(p->off);
  llm_align_free(&p->align);
  p->off = NULL;
  p->n = p->cap = 0;
}

/* Copies the pieces of r into out, composing alignments with orig. */
static int collect(const run *r, const llm_spans *sp, llm_hf_pieces *out) {
  hf_out o = {&out->text, &out->align};
  if (llm_grow((void **)&out->off, &out->cap, sp->len + 1, sizeof(size_t)))
    return LLM_ENOMEM;
  out->off[0] = 0;
  for (size_t k = 0; k < sp->len; k++) {
    if (hf_put_copy(&o, r->t, r->n, r->sa, sp->start[k], sp->end[k]))
      return LLM_ENOMEM;
    out->off[k + 1] = out->text.len;
  }
  out->n = sp->len;
  if (r->orig) {
    llm_align *a = &out->align;
    const llm_align *g = r->orig;
    for (size_t i = 0; i < a->len; i++) {
      size_t s = a->start[i], e = a->end[i];
      if (s < e && e <= g->len) {
        a->start[i] = g->start[s];
        a->end[i] = g->end[e - 1];
      } else {
        a->start[i] = a->end[i] = s < g->len ? g->start[s] : 0;
      }
    }
  }
  return LLM_OK;
}

int llm_hf_pretokenize_aligned(const llm_hf_pretok *p, const uint8_t *s,
                               size_t len, const llm_align *orig,
                               llm_hf_pieces *out, llm_err *err) {
  out->text.len = out->align.len = 0;
  out->n = 0;
  if (orig && orig->len != len)
    return llm_fail(err, LLM_EINVAL, "pre_tokenizer: the alignment has %zu "
                    "entries for a text of %zu bytes", orig->len, len);
  run r = {s, len, NULL, orig, err};
  int rc = LLM_OK;
  if (!p || p->n == 0) { /* the whole text, one piece */
    size_t a = 0, b = len;
    llm_spans whole = {&a, &b, len > 0, 1};
    rc = collect(&r, &whole, out);
  } else {
    work *w = p->ws;
    int cur = 0, ti = 1; /* w->t[ti] is free to write */
    w->sp[0].len = 0;
    if (len > 0 && hf_spans_push(&w->sp[0], 0, len)) rc = LLM_ENOMEM;
    for (size_t i = 0; i < p->n && !rc && w->sp[cur].len; i++) {
      int rewrote;
      w->sp[!cur].len = 0;
      rc = run_step(&p->steps[i], &r, &w->sp[cur], &w->sp[!cur], &w->t[ti],
                    &w->m, &rewrote);
      if (!rc && rewrote) {
        r.t = w->t[ti].b.data;
        r.n = w->t[ti].b.len;
        r.sa = &w->t[ti].al;
        ti = !ti;
      }
      cur = !cur;
    }
    if (!rc) rc = collect(&r, &w->sp[cur], out);
    /* a huge text's memory is not kept */
    if (w->t[0].b.cap > HF_KEEP_BYTES || w->t[1].b.cap > HF_KEEP_BYTES ||
        w->sp[0].cap > HF_KEEP_BYTES / 16 || w->sp[1].cap > HF_KEEP_BYTES / 16)
      work_free(w);
  }
  if (rc) {
    out->text.len = out->align.len = 0;
    out->n = 0;
    if (rc == LLM_ENOMEM)
      return llm_fail(err, LLM_ENOMEM, "pre_tokenizer: out of memory");
  }
  return rc;
}

int llm_hf_pretokenize(const llm_hf_pretok *p, const uint8_t *s, size_t len,
                       llm_hf_pieces *out, llm_err *err) {
  return llm_hf_pretokenize_aligned(p, s, len, NULL, out, err);
}
