/*
** hf_decode.c: tokenizer.json decoders (see hf_pipeline.h), parsed into a
** flat list of steps (a Sequence is its items in order). As in the
** reference, each step turns the list of token strings into a new list
** (ByteLevel and Fuse into a single string), and the result is their
** concatenation.
**
** What each step does (the reference's decode_chain, as measured):
**   ByteLevel    every token whose characters are all in GPT-2's byte map
**                becomes those bytes, any other token its own UTF-8; the
**                bytes of all tokens are then read as lossy UTF-8 (U+FFFD
**                per maximal ill-formed subsequence) into one string.
**   Metaspace    the replacement becomes ' ', except in the first token,
**                where (unless prepend_scheme is "never") every
**                replacement is dropped.
**   WordPiece    tokens after the first lose a leading prefix or else get
**                a ' ' in front; with cleanup, each token then goes
**                through the replacements of `cleanup_rules`, in order.
**   ByteFallback a run of "<0xHH>" tokens (u8::from_str_radix, so "<0x+A>"
**                counts) becomes its bytes as one token if they are valid
**                UTF-8, else one U+FFFD token per byte.
**   Fuse         all tokens into one.
**   Replace      the pattern's matches in each token become the content
**                (an empty token stays empty).
**   Strip        up to `start` leading and `stop` trailing content
**                characters off each token.
**   BPEDecoder   the suffix becomes ' ' (in the last token, nothing), with
**                Rust's str::replace (an empty suffix matches everywhere).
*/
#include "text/hf_internal.h"

#include <string.h>

#include "text/bytelevel.h"

enum {
  D_BYTELEVEL, D_METASPACE, D_WORDPIECE, D_BYTEFALLBACK, D_FUSE, D_REPLACE,
  D_STRIP, D_BPE,
};

typedef struct dstep {
  int kind;
  int flag;         /* METASPACE: drop in the first token; WORDPIECE cleanup */
  int32_t ch;       /* METASPACE replacement, STRIP content */
  size_t start, stop; /* STRIP */
  char *str;        /* WORDPIECE prefix, REPLACE content, BPE suffix */
  size_t str_len;
  hf_pattern pat;   /* REPLACE */
} dstep;

struct llm_hf_decoder {
  dstep *steps;
  size_t n, cap;
};

/* ---- parsing ------------------------------------------------------------- */

#define SUPPORTED                                                     \
  "ByteLevel, Metaspace, WordPiece, ByteFallback, Fuse, Replace, "    \
  "Strip, BPEDecoder, Sequence"

static int parse_node(llm_hf_decoder *d, const llm_json *node, hf_ctx *c,
                      int depth, llm_err *err) {
  int rc = hf_get_type(node, c, err);
  if (rc) return rc;
  const char *t = c->type, *str = NULL;
  size_t len = 0;
  dstep st;
  memset(&st, 0, sizeof st);
  if (!strcmp(t, "Sequence")) {
    const llm_json *arr;
    if ((rc = hf_get_array(node, "decoders", &arr, c, err))) return rc;
    if (depth >= 32)
      return hf_fail(c, err, LLM_EINVAL, "Sequences nested too deeply");
    for (size_t i = 0; i < arr->len; i++) {
      hf_ctx child;
      hf_ctx_child(&child, c, "decoders", i);
      if ((rc = parse_node(d, &arr->items[i], &child, depth + 1, err)))
        return rc;
    }
    return LLM_OK;
  } else if (!strcmp(t, "ByteLevel")) {
    int prefix, re;
    st.kind = D_BYTELEVEL;
    rc = hf_get_bytelevel(node, &prefix, &re, c, err);
  } else if (!strcmp(t, "Metaspace")) {
    int scheme, split;
    st.kind = D_METASPACE;
    rc = hf_get_metaspace(node, &st.ch, &scheme, &split, c, err);
    st.flag = scheme != HF_PREPEND_NEVER;
  } else if (!strcmp(t, "WordPiece")) {
    st.kind = D_WORDPIECE;
    if (!(rc = hf_get_str(node, "prefix", &str, &len, c, err)))
      rc = hf_get_bool(node, "cleanup", HF_REQUIRED, 0, &st.flag, c, err);
  } else if (!strcmp(t, "ByteFallback")) {
    st.kind = D_BYTEFALLBACK;
  } else if (!strcmp(t, "Fuse")) {
    st.kind = D_FUSE;
  } else if (!strcmp(t, "Replace")) {
    st.kind = D_REPLACE;
    if (!(rc = hf_get_pattern(node, "pattern", &st.pat, c, err)) &&
        (rc = hf_get_str(node, "content", &str, &len, c, err)))
      hf_pattern_free(&st.pat);
  } else if (!strcmp(t, "Strip")) {
    st.kind = D_STRIP;
    if (!(rc = hf_get_char(node, "content", &st.ch, c, err)) &&
        !(rc = hf_get_size(node, "start", &st.start, c, err)))
      rc = hf_get_size(node, "stop", &st.stop, c, err);
  } else if (!strcmp(t, "BPEDecoder")) {
    st.kind = D_BPE;
    rc = hf_get_str(node, "suffix", &str, &len, c, err);
  } else if (!strcmp(t, "CTC")) {
    return hf_fail(c, err, LLM_EINVAL, "not supported (it belongs to "
                   "speech models); supported: " SUPPORTED);
  } else {
    return hf_fail(c, err, LLM_EINVAL, "unknown or unsupported decoder "
                   "type; supported: " SUPPORTED);
  }
  if (rc) return rc;
  if (str && !(st.str = hf_strdup(str, len))) {
    hf_pattern_free(&st.pat);
    return LLM_ENOMEM;
  }
  st.str_len = len;
  if (llm_grow((void **)&d->steps, &d->cap, d->n + 1, sizeof(dstep))) {
    hf_pattern_free(&st.pat);
    llm_free(st.str);
    return LLM_ENOMEM;
  }
  d->steps[d->n++] = st;
  return LLM_OK;
}

void llm_hf_decoder_free(llm_hf_decoder *d) {
  if (!d) return;
  for (size_t i = 0; i < d->n; i++) {
    hf_pattern_free(&d->steps[i].pat);
    llm_free(d->steps[i].str);
  }
  llm_free(d->steps);
  llm_free(d);
}

int llm_hf_decoder_parse(const llm_json *node, llm_hf_decoder **out,
                         llm_err *err) {
  *out = NULL;
  if (node && node->type == LLM_JSON_NULL) return LLM_OK;
  llm_hf_decoder *d = llm_calloc(1, sizeof *d);
  if (!d) return llm_fail(err, LLM_ENOMEM, "decoder: out of memory");
  hf_ctx c = {"decoder", NULL};
  int rc = parse_node(d, node, &c, 0, err);
  if (rc) {
    if (rc == LLM_ENOMEM) /* push_step and the like do not say */
      llm_fail(err, LLM_ENOMEM, "tokenizer.json decoder: out of memory");
    llm_hf_decoder_free(d);
    return rc;
  }
  *out = d;
  return LLM_OK;
}

/* ---- token lists --------------------------------------------------------- */

/* Token i is b.data[off[i] .. off[i + 1]); bytes after off[n] belong to
** the token being written. */
typedef struct toks {
  llm_buf b;
  size_t *off;
  size_t n, cap;
} toks;

static int toks_reset(toks *t) {
  t->b.len = 0;
  t->n = 0;
  if (llm_grow((void **)&t->off, &t->cap, 1, sizeof(size_t)))
    return LLM_ENOMEM;
  t->off[0] = 0;
  return LLM_OK;
}

static int toks_put(toks *t, const void *p, size_t n) {
  return llm_buf_append(&t->b, p, n);
}

/* Ends the token being written. */
static int toks_end(toks *t) {
  if (llm_grow((void **)&t->off, &t->cap, t->n + 2, sizeof(size_t)))
    return LLM_ENOMEM;
  t->off[++t->n] = t->b.len;
  return LLM_OK;
}

static void toks_free(toks *t) {
  llm_buf_free(&t->b);
  llm_free(t->off);
  memset(t, 0, sizeof *t);
}

/* Work memory of one decode call. A decoder keeps none between calls (token
** lists are short), so one without a regex may decode in several threads
** at once. */
typedef struct dwork {
  toks t[2];
  llm_buf tmp;
  llm_spans m;
} dwork;

static void dwork_free(dwork *w) {
  toks_free(&w->t[0]);
  toks_free(&w->t[1]);
  llm_buf_free(&w->tmp);
  llm_spans_free(&w->m);
  memset(w, 0, sizeof *w);
}

/* ---- steps --------------------------------------------------------------- */

/* Appends s[0..n) with every occurrence of pat replaced by rep, as Rust's
** str::replace (an empty pat matches before every character and at the
** end). */
static int replace_all(llm_buf *o, const uint8_t *s, size_t n,
                       const char *pat, size_t pl, const char *rep,
                       size_t rl) {
  if (pl == 0) {
    if (llm_buf_append(o, rep, rl)) return LLM_ENOMEM;
    for (size_t i = 0; i < n;) {
      int len;
      hf_char(s, n, i, &len);
      if (llm_buf_append(o, s + i, (size_t)len) ||
          llm_buf_append(o, rep, rl))
        return LLM_ENOMEM;
      i += (size_t)len;
    }
    return LLM_OK;
  }
  size_t keep = 0;
  for (size_t i = 0; i + pl <= n;) {
    if (s[i] == (uint8_t)pat[0] && !memcmp(s + i, pat, pl)) {
      if (llm_buf_append(o, s + keep, i - keep) ||
          llm_buf_append(o, rep, rl))
        return LLM_ENOMEM;
      i += pl;
      keep = i;
    } else {
      i++;
    }
  }
  return llm_buf_append(o, s + keep, n - keep);
}

static const char *const cleanup_rules[][2] = {
  {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
  {" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"},
  {" 've", "'ve"}, {" 're", "'re"},
};

/* WordPiece's cleanup of the token t->b.data[from..]: rule after rule,
** through tmp. */
static int cleanup(toks *t, size_t from, llm_buf *tmp) {
  for (size_t r = 0; r < sizeof cleanup_rules / sizeof *cleanup_rules; r++) {
    const char *p = cleanup_rules[r][0], *q = cleanup_rules[r][1];
    size_t pl = strlen(p);
    if (t->b.len - from < pl ||
        !memmem(t->b.data + from, t->b.len - from, p, pl))
      continue;
    tmp->len = 0;
    if (replace_all(tmp, t->b.data + from, t->b.len - from, p, pl, q,
                    strlen(q)))
      return LLM_ENOMEM;
    t->b.len = from;
    if (toks_put(t, tmp->data, tmp->len)) return LLM_ENOMEM;
  }
  return LLM_OK;
}

static int hexval(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The byte a ByteFallback token "<0xHH>" stands for, or -1. */
static int fallback_byte(const uint8_t *s, size_t n) {
  if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
  int h = hexval(s[3]), l = hexval(s[4]);
  if (l < 0) return -1;
  if (s[3] == '+') return l; /* u8::from_str_radix takes a sign */
  return h < 0 ? -1 : h * 16 + l;
}

/* Ends a run of ByteFallback bytes: one token, or U+FFFD per byte. */
static int flush_bytes(toks *o, llm_buf *bytes) {
  if (!bytes->len) return LLM_OK;
  size_t at = o->b.len;
  if (hf_utf8_lossy(&o->b, bytes->data, bytes->len)) return LLM_ENOMEM;
  int valid = o->b.len - at == bytes->len &&
              !memcmp(o->b.data + at, bytes->data, bytes->len);
  if (valid) {
    if (toks_end(o)) return LLM_ENOMEM;
  } else {
    o->b.len = at;
    for (size_t k = 0; k < bytes->len; k++)
      if (toks_put(o, "\xEF\xBF\xBD", 3) || toks_end(o)) return LLM_ENOMEM;
  }
  bytes->len = 0;
  return LLM_OK;
}

static int run_step(const dstep *st, const toks *in, toks *o, llm_buf *tmp,
                    llm_spans *m, llm_err *err) {
  if (toks_reset(o)) return LLM_ENOMEM;
  tmp->len = 0;
  for (size_t i = 0; i < in->n; i++) {
    /* (no pointer arithmetic on a NULL buffer: all tokens may be empty) */
    const uint8_t *s = in->b.data ? in->b.data + in->off[i]
                                  : (const uint8_t *)"";
    size_t n = in->off[i + 1] - in->off[i];
    size_t from = o->b.len;
    int rc = LLM_OK;
    switch (st->kind) {
    case D_BYTELEVEL: { /* bytes gathered in tmp */
      size_t at = tmp->len;
      for (size_t k = 0; k < n && !rc;) {
        int len, b;
        int32_t c = hf_char(s, n, k, &len);
        b = c < HF_RAW ? llm_bytelevel_byte(c) : -1;
        if (b < 0) { /* not all in the map: the token's own bytes */
          tmp->len = at;
          rc = llm_buf_append(tmp, s, n);
          break;
        }
        uint8_t byte = (uint8_t)b;
        rc = llm_buf_append(tmp, &byte, 1);
        k += (size_t)len;
      }
      if (rc) return LLM_ENOMEM;
      continue;
    }
    case D_FUSE:
      if (toks_put(o, s, n)) return LLM_ENOMEM;
      continue;
    case D_BYTEFALLBACK: {
      int b = fallback_byte(s, n);
      if (b >= 0) {
        uint8_t byte = (uint8_t)b;
        if (llm_buf_append(tmp, &byte, 1)) return LLM_ENOMEM;
        continue;
      }
      if (flush_bytes(o, tmp) || toks_put(o, s, n)) return LLM_ENOMEM;
      break;
    }
    case D_METASPACE: {
      size_t keep = 0;
      for (size_t k = 0; k < n;) {
        int len;
        int32_t c = hf_char(s, n, k, &len);
        if (c == st->ch) {
          if (toks_put(o, s + keep, k - keep) ||
              (!(i == 0 && st->flag) && toks_put(o, " ", 1)))
            return LLM_ENOMEM;
          keep = k + (size_t)len;
        }
        k += (size_t)len;
      }
      rc = toks_put(o, s + keep, n - keep);
      break;
    }
    case D_WORDPIECE:
      if (i != 0 && n >= st->str_len && !memcmp(s, st->str, st->str_len)) {
        rc = toks_put(o, s + st->str_len, n - st->str_len);
      } else {
        rc = (i != 0 && toks_put(o, " ", 1)) || toks_put(o, s, n);
      }
      if (!rc && st->flag) rc = cleanup(o, from, tmp);
      break;
    case D_REPLACE: {
      if (n == 0) break;
      m->len = 0;
      if ((rc = hf_pattern_find(&st->pat, s, n, m, err))) return rc;
      size_t pos = 0;
      for (size_t k = 0; k < m->len && !rc; k++) {
        rc = toks_put(o, s + pos, m->start[k] - pos) ||
             toks_put(o, st->str, st->str_len);
        pos = m->end[k];
      }
      if (!rc) rc = toks_put(o, s + pos, n - pos);
      break;
    }
    case D_STRIP: {
      size_t a = 0, b = n, k;
      for (k = 0; k < st->start && a < n; k++) {
        int len;
        if (hf_char(s, n, a, &len) != st->ch) break;
        a += (size_t)len;
      }
      for (k = 0; k < st->stop && b > 0; k++) { /* back one character */
        size_t q = b - 1;
        while (q > 0 && b - q < 4 && (s[q] & 0xC0) == 0x80) q--;
        int len;
        int32_t c = hf_char(s, n, q, &len);
        if (q + (size_t)len != b || c != st->ch) break;
        b = q;
      }
      if (a < b) rc = toks_put(o, s + a, b - a); /* else "" (see top) */
      break;
    }
    default: /* D_BPE */
      rc = replace_all(&o->b, s, n, st->str, st->str_len,
                       i + 1 == in->n ? "" : " ", i + 1 == in->n ? 0 : 1);
      break;
    }
    if (rc || toks_end(o)) return LLM_ENOMEM;
  }
  if (st->kind == D_BYTELEVEL) {
    if (hf_utf8_lossy(&o->b, tmp->data, tmp->len) || toks_end(o))
      return LLM_ENOMEM;
  } else if (st->kind == D_FUSE) {
    if (toks_end(o)) return LLM_ENOMEM;
  } else if (st->kind == D_BYTEFALLBACK) {
    if (flush_bytes(o, tmp)) return LLM_ENOMEM;
  }
  return LLM_OK;
}

int llm_hf_decode(const llm_hf_decoder *d, const llm_str_ref *tokens,
                  size_t n, llm_buf *out, llm_err *err) {
  size_t steps = d ? d->n : 0, at = out->len;
  int rc = LLM_OK;
  if (steps == 0) {
    for (size_t i = 0; i < n && !rc; i++)
      rc = llm_buf_append(out, tokens[i].s, tokens[i].len);
  } else {
    dwork ws, *w = &ws;
    memset(w, 0, sizeof *w);
    toks *t = w->t;
    int cur = 0;
    rc = toks_reset(&t[0]);
    for (size_t i = 0; i < n && !rc; i++)
      rc = toks_put(&t[0], tokens[i].s, tokens[i].len) || toks_end(&t[0]);
    for (size_t k = 0; k < steps && !rc; k++) {
      rc = run_step(&d->steps[k], &t[cur], &t[!cur], &w->tmp, &w->m, err);
      cur = !cur;
    }
    if (!rc && llm_buf_append(out, t[cur].b.data, t[cur].off[t[cur].n]))
      rc = LLM_ENOMEM;
    dwork_free(w);
  }
  if (rc) out->len = at;
  if (rc == LLM_ENOMEM) goto nomem;
  return rc;
nomem:
  return llm_fail(err, LLM_ENOMEM, "decoder: out of memory");
}
