/*
** test_regex_split.c: regex pre-tokenization (text/regex_split.h).
**
**   - Hugging Face Split's five behaviours and invert on the examples of its
**     documentation and its own tests, multiple pieces, empty matches;
**   - any byte string (invalid UTF-8) splits without error, and for the
**     behaviours that remove nothing every byte is in exactly one piece;
**   - a bad pattern's error quotes the offending offset and PCRE2's message;
**   - every llama.cpp named pre-tokenizer compiles; hand-checked examples;
**   - out-of-memory paths;
**   - an oracle: JavaScript's regex engine (tests/oracle/regex_oracle.js,
**     run with node from the repository root) splits thousands of random
**     strings with the llama3, qwen2 and gpt-2 patterns, the deepseek-coder
**     list and every behaviour with and without invert, and the pieces
**     must be identical; the gpt-2 pieces must also equal
**     llm_pretok_next(LLM_PRETOK_GPT2).
**
** The random strings leave out the few code points whose class (letter,
** number, punctuation, White_Space) differs between PCRE2's Unicode 14
** tables, node's newer ones and ours: those are differences of Unicode
** version, not of regex semantics. The count is printed.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc_fail.h"
#include "check.h"
#include "text/pretok.h"
#include "text/regex_split.h"
#include "text/utf8.h"

/* ---- helpers ------------------------------------------------------------ */

static llm_regex *compile_ok(const char *pat) {
  llm_regex *re = NULL;
  llm_err e = {0};
  if (llm_regex_compile(&re, pat, strlen(pat), &e) != LLM_OK)
    printf("  cannot compile %s: %s\n", pat, e.msg);
  return re;
}

/* Splits s[0..n) as one piece into out (emptied first); returns the
** status, and prints the error unless quiet. */
static int split1q(llm_regex *re, const uint8_t *s, size_t n, int behavior,
                   int invert, llm_spans *out, int quiet) {
  size_t a = 0, b = n;
  llm_spans in = {&a, &b, 1, 1};
  llm_err e = {0};
  out->len = 0;
  int rc = llm_regex_split(re, s, n, &in, behavior, invert, out, &e);
  if (rc != LLM_OK && !quiet) printf("  split failed: %s\n", e.msg);
  return rc;
}

static int split1(llm_regex *re, const uint8_t *s, size_t n, int behavior,
                  int invert, llm_spans *out) {
  return split1q(re, s, n, behavior, invert, out, 0);
}

static void show(const char *who, const char *s, const llm_spans *p) {
  printf("  %s:", who);
  for (size_t k = 0; k < p->len; k++)
    printf(" [%.*s]", (int)(p->end[k] - p->start[k]), s + p->start[k]);
  printf("\n");
}

/* Whether pattern pat splits text into exactly the strings of want
** (NULL-terminated). */
static int split_is(const char *pat, const char *text, int behavior,
                    int invert, const char *const *want) {
  llm_regex *re = compile_ok(pat);
  if (!re) return 0;
  llm_spans out = {0};
  int ok = split1(re, (const uint8_t *)text, strlen(text), behavior, invert,
                  &out) == LLM_OK;
  size_t k = 0;
  for (; ok && want[k]; k++) {
    size_t len = strlen(want[k]);
    ok = k < out.len && out.end[k] - out.start[k] == len &&
         memcmp(text + out.start[k], want[k], len) == 0;
  }
  ok = ok && k == out.len;
  if (!ok) {
    printf("  /%s/ behavior %d invert %d on \"%s\"\n", pat, behavior, invert,
           text);
    show("got", text, &out);
  }
  llm_spans_free(&out);
  llm_regex_free(re);
  return ok;
}

#define SPLIT_IS(pat, text, beh, inv, ...) \
  CHECK(split_is(pat, text, beh, inv, (const char *const[]){__VA_ARGS__, NULL}))

/* ---- Hugging Face behaviours -------------------------------------------- */

/* The example of SplitDelimiterBehavior's documentation. */
static void test_behaviors(void) {
  const char *t = "the-final--countdown";
  SPLIT_IS("-", t, LLM_SPLIT_REMOVED, 0, "the", "final", "countdown");
  SPLIT_IS("-", t, LLM_SPLIT_ISOLATED, 0, "the", "-", "final", "-", "-",
           "countdown");
  SPLIT_IS("-", t, LLM_SPLIT_MERGED_WITH_PREVIOUS, 0, "the-", "final-", "-",
           "countdown");
  SPLIT_IS("-", t, LLM_SPLIT_MERGED_WITH_NEXT, 0, "the", "-final", "-",
           "-countdown");
  SPLIT_IS("-", t, LLM_SPLIT_CONTIGUOUS, 0, "the", "-", "final", "--",
           "countdown");
  /* Leading and trailing delimiters. */
  SPLIT_IS("-", "-a-", LLM_SPLIT_MERGED_WITH_PREVIOUS, 0, "-", "a-");
  SPLIT_IS("-", "-a-", LLM_SPLIT_MERGED_WITH_NEXT, 0, "-a", "-");
  SPLIT_IS("-", "--", LLM_SPLIT_REMOVED, 0, NULL);
}

/* Split's own tests: the whitespace-like pattern, inverted. */
static void test_invert(void) {
  const char *p = "\\w+|[^\\w\\s]+", *t = "How are you doing?";
  SPLIT_IS(p, t, LLM_SPLIT_REMOVED, 1, "How", "are", "you", "doing", "?");
  SPLIT_IS(p, t, LLM_SPLIT_ISOLATED, 1, "How", " ", "are", " ", "you", " ",
           "doing", "?");
  SPLIT_IS(p, t, LLM_SPLIT_MERGED_WITH_PREVIOUS, 1, "How ", "are ", "you ",
           "doing", "?");
  SPLIT_IS(p, t, LLM_SPLIT_MERGED_WITH_NEXT, 1, "How", " are", " you",
           " doing", "?");
  SPLIT_IS(p, t, LLM_SPLIT_CONTIGUOUS, 1, "How", " ", "are", " ", "you", " ",
           "doing?");
  /* Split(" ", Removed) == Split("Hello", Removed, invert). */
  SPLIT_IS("Hello", "Hello Hello Hello", LLM_SPLIT_REMOVED, 1, "Hello",
           "Hello", "Hello");
  SPLIT_IS(" ", "Hello Hello Hello", LLM_SPLIT_REMOVED, 0, "Hello", "Hello",
           "Hello");
}

/* Empty matches, iterated as Oniguruma's find_iter does for Hugging Face:
** x* matches empty at 0, "x" at 1, not empty at 2 (right after a match),
** empty at 3. */
static void test_empty_matches(void) {
  SPLIT_IS("x*", "axb", LLM_SPLIT_ISOLATED, 0, "a", "x", "b");
  SPLIT_IS("x*", "axb", LLM_SPLIT_REMOVED, 0, "a", "b");
  SPLIT_IS("x*", "axb", LLM_SPLIT_MERGED_WITH_PREVIOUS, 0, "ax", "b");
  SPLIT_IS("x*", "axb", LLM_SPLIT_MERGED_WITH_NEXT, 0, "a", "xb");
  SPLIT_IS("x*", "axb", LLM_SPLIT_CONTIGUOUS, 0, "a", "x", "b");
  SPLIT_IS("x*", "axb", LLM_SPLIT_REMOVED, 1, "x");
  /* The empty pattern cuts between characters, not inside them. */
  SPLIT_IS("", "a\xc3\xa9\xf0\x9f\x98\x80!", LLM_SPLIT_ISOLATED, 0, "a",
           "\xc3\xa9", "\xf0\x9f\x98\x80", "!");
  SPLIT_IS("", "\xff\xc3\xa9", LLM_SPLIT_ISOLATED, 0, "\xff", "\xc3\xa9");
  /* (?=d) would match empty at 1, right where "b" ended: skipped. */
  SPLIT_IS("b|(?=d)", "bd", LLM_SPLIT_ISOLATED, 0, "b", "d");
  SPLIT_IS("b|(?=d)", "bcd", LLM_SPLIT_MERGED_WITH_NEXT, 0, "bc", "d");
}

/* Several input pieces: each is its own subject (anchors, lookaround),
** empty ones are skipped, offsets are into the whole text. */
static void test_pieces(void) {
  const char *t = "ab  ab\ncd";
  size_t st[] = {0, 3, 3, 4}, en[] = {3, 3, 4, 9};
  llm_spans in = {st, en, 4, 4}, out = {0};
  llm_regex *re = compile_ok("^a|\\s+$|(?<!c)d");
  llm_err e = {0};
  CHECK(re != NULL);
  if (!re) return;
  CHECK(llm_regex_split(re, (const uint8_t *)t, strlen(t), &in,
                        LLM_SPLIT_ISOLATED, 0, &out, &e) == LLM_OK);
  /* "ab " -> a|b| ; " " -> " " (all space to the end) ; "ab\ncd" -> a|b\ncd
  ** ("\n" is not at the end; d follows c). */
  static const size_t ws[] = {0, 1, 2, 3, 4, 5}, we[] = {1, 2, 3, 4, 5, 9};
  CHECK(out.len == 6);
  for (size_t k = 0; k < out.len && k < 6; k++)
    CHECK(out.start[k] == ws[k] && out.end[k] == we[k]);
  if (out.len != 6) show("got", t, &out);
  /* Appends to what out holds; out must not be in; bad spans. */
  size_t before = out.len;
  CHECK(llm_regex_split(re, (const uint8_t *)t, strlen(t), &in,
                        LLM_SPLIT_REMOVED, 0, &out, &e) == LLM_OK);
  CHECK(out.len > before && out.start[before] == 1);
  CHECK(llm_regex_split(re, (const uint8_t *)t, strlen(t), &out,
                        LLM_SPLIT_REMOVED, 0, &out, &e) == LLM_EINVAL);
  size_t bad_s = 2, bad_e = 10;
  llm_spans bad = {&bad_s, &bad_e, 1, 1};
  before = out.len;
  CHECK(llm_regex_split(re, (const uint8_t *)t, strlen(t), &bad,
                        LLM_SPLIT_REMOVED, 0, &out, &e) == LLM_EINVAL);
  CHECK(llm_regex_split(re, (const uint8_t *)t, strlen(t), &in, 7, 0, &out,
                        &e) == LLM_EINVAL);
  CHECK(out.len == before);
  llm_spans_free(&out);
  llm_regex_free(re);
}

/* ---- invalid UTF-8 ------------------------------------------------------ */

static uint64_t xorshift(uint64_t *st) {
  uint64_t x = *st;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *st = x;
}

/* Whether pieces tile [0, n): in order, non-empty, contiguous, covering. */
static int tiles(const llm_spans *p, size_t n) {
  size_t pos = 0;
  for (size_t k = 0; k < p->len; k++) {
    if (p->start[k] != pos || p->end[k] <= pos) return 0;
    pos = p->end[k];
  }
  return pos == n;
}

/* Whether pieces are in order, non-empty, disjoint and inside [0, n). */
static int ordered(const llm_spans *p, size_t n) {
  size_t pos = 0;
  for (size_t k = 0; k < p->len; k++) {
    if (p->start[k] < pos || p->end[k] <= p->start[k] || p->end[k] > n)
      return 0;
    pos = p->end[k];
  }
  return 1;
}

static void test_invalid_utf8(void) {
  int n_gpt2;
  const char *const *gpt2 = llm_pretok_patterns("gpt-2", &n_gpt2);
  int n_l3;
  const char *const *l3 = llm_pretok_patterns("llama3", &n_l3);
  int n_q;
  const char *const *qwen = llm_pretok_patterns("qwen2", &n_q);
  const char *pats[] = {gpt2[0], l3[0], qwen[0], ".", "\\S+", "\\s+(?!\\S)",
                        "(?<=a)b", "", "[^a]", "\\p{Any}+"};
  static const uint8_t bytes[] = {
    'a', 'b', ' ', ' ', '\n', '1', '\'', 's', 0x00, 0x80, 0xBF, 0xC0, 0xC1,
    0xC3, 0xA9, 0xE0, 0xA0, 0xED, 0xA0, 0x80, 0xE4, 0xB8, 0xF0, 0x9F, 0x98,
    0xF4, 0x90, 0xF5, 0xFF, 0xFE, 0xEF, 0xBB,
  };
  uint64_t st = 0x9E3779B97F4A7C15ULL;
  size_t bad = 0, runs = 0;
  for (size_t pi = 0; pi < sizeof pats / sizeof *pats; pi++) {
    llm_regex *re = compile_ok(pats[pi]);
    CHECK(re != NULL);
    if (!re) continue;
    llm_spans out = {0};
    for (int it = 0; it < 300; it++) {
      uint8_t s[64];
      size_t n = xorshift(&st) % sizeof s;
      for (size_t i = 0; i < n; i++)
        s[i] = (xorshift(&st) & 3) ? bytes[xorshift(&st) % sizeof bytes]
                                   : (uint8_t)xorshift(&st);
      for (int beh = LLM_SPLIT_REMOVED; beh <= LLM_SPLIT_CONTIGUOUS; beh++) {
        for (int inv = 0; inv < 2; inv++) {
          runs++;
          if (split1(re, s, n, beh, inv, &out) != LLM_OK) {
            bad++;
            continue;
          }
          int ok = beh == LLM_SPLIT_REMOVED ? ordered(&out, n) : tiles(&out, n);
          if (!ok && bad++ == 0)
            printf("  pattern %s, behavior %d, invert %d: pieces do not "
                   "tile the %zu bytes\n", pats[pi], beh, inv, n);
        }
      }
    }
    llm_spans_free(&out);
    llm_regex_free(re);
  }
  CHECK(bad == 0);
  CHECK(runs > 0);
}

/* ---- errors ------------------------------------------------------------- */

/* Compiling pat must fail with EINVAL and a message containing each of
** the strings in want (NULL-terminated). */
static int fails_with(const char *pat, size_t len, const char *const *want) {
  static char sentinel;
  llm_regex *re = (llm_regex *)(void *)&sentinel; /* must come back NULL */
  llm_err e = {0};
  int rc = llm_regex_compile(&re, pat, len, &e);
  int ok = rc == LLM_EINVAL && e.code == LLM_EINVAL && re == NULL;
  for (size_t k = 0; ok && want[k]; k++) ok = strstr(e.msg, want[k]) != NULL;
  if (!ok) printf("  pattern %s: rc %d, message: %s\n", pat, rc, e.msg);
  if (rc == LLM_OK) llm_regex_free(re);
  return ok;
}

#define FAILS_WITH(pat, ...)                   \
  CHECK(fails_with(pat, sizeof pat - 1,        \
                   (const char *const[]){__VA_ARGS__, NULL}))

static void test_bad_pattern(void) {
  FAILS_WITH("ab(cd", "missing closing parenthesis", "at byte 5",
             "ab(cd <-- HERE");
  FAILS_WITH("[z-a]", "range out of order", "at byte 3", "[z- <-- HERE a]");
  /* The offset is the user's, not that of the respelled \s. */
  FAILS_WITH("\\s+\\s*)", "unmatched closing parenthesis", "at byte 6");
  FAILS_WITH("\\p{Nope}", "unknown property", "at byte 8");
  /* Control characters and invalid UTF-8 are quoted printably. */
  FAILS_WITH("\n\xff", "UTF-8 error", "\\x0A");
  /* A long pattern is quoted around the offset only. */
  FAILS_WITH("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa[z-a]bbbbbbbbbbbbb"
             "bbbbbbbbbbbbbbbbbbbbbbbbbbb",
             "at byte 49", ": ...aaaa", "a[z- <-- HERE a]bbbb", "bbbb...");
  /* NULL pattern with a length; an empty pattern is fine. */
  llm_regex *re = NULL;
  llm_err e = {0};
  CHECK(llm_regex_compile(&re, NULL, 3, &e) == LLM_EINVAL && re == NULL);
  CHECK(llm_regex_compile(&re, NULL, 0, &e) == LLM_OK && re != NULL);
  llm_regex_free(re);
  llm_regex_free(NULL);
  llm_spans_free(NULL);
}

/* ---- named pre-tokenizers ----------------------------------------------- */

static void test_named_compile(void) {
  char names[2048];
  snprintf(names, sizeof names, "%s", llm_pretok_names());
  size_t count = 0;
  for (char *save = NULL, *t = strtok_r(names, ", ", &save); t;
       t = strtok_r(NULL, ", ", &save)) {
    int n = -1;
    const char *const *p = llm_pretok_patterns(t, &n);
    CHECK(p != NULL && n >= 1);
    if (!p) printf("  %s is listed but unknown\n", t);
    for (int i = 0; p && i < n; i++) {
      llm_regex *re = compile_ok(p[i]);
      CHECK(re != NULL);
      llm_regex_free(re);
    }
    count++;
  }
  CHECK(count == 42); /* the names llama.cpp c392e50 maps to BPE regexes */
  int n = 5;
  CHECK(llm_pretok_patterns("no-such-thing", &n) == NULL && n == 0);
  CHECK(llm_pretok_patterns("", &n) == NULL && n == 0);
  CHECK(llm_pretok_patterns(NULL, &n) == NULL && n == 0);
}

/* Applies the named list as llama.cpp does; checks the pieces. */
static int named_is(const char *name, const char *text,
                    const char *const *want) {
  int np;
  const char *const *pats = llm_pretok_patterns(name, &np);
  if (!pats) return 0;
  size_t n = strlen(text), a = 0, b = n;
  llm_spans cur = {0}, next = {0};
  llm_err e = {0};
  int ok = 1;
  llm_spans first = {&a, &b, 1, 1};
  for (int i = 0; ok && i < np; i++) {
    llm_regex *re = compile_ok(pats[i]);
    next.len = 0;
    ok = re && llm_regex_split(re, (const uint8_t *)text, n,
                               i ? &cur : &first, LLM_SPLIT_ISOLATED, 0,
                               &next, &e) == LLM_OK;
    llm_regex_free(re);
    llm_spans t = cur;
    cur = next;
    next = t;
  }
  size_t k = 0;
  for (; ok && want[k]; k++) {
    size_t len = strlen(want[k]);
    ok = k < cur.len && cur.end[k] - cur.start[k] == len &&
         memcmp(text + cur.start[k], want[k], len) == 0;
  }
  ok = ok && k == cur.len;
  if (!ok) {
    printf("  %s on \"%s\"\n", name, text);
    show("got", text, &cur);
  }
  llm_spans_free(&cur);
  llm_spans_free(&next);
  return ok;
}

#define NAMED_IS(name, text, ...) \
  CHECK(named_is(name, text, (const char *const[]){__VA_ARGS__, NULL}))

static void test_named_examples(void) {
  NAMED_IS("llama3", "I've 12345 apples\n\n  ok", "I", "'ve", " ", "123",
           "45", " apples", "\n\n", " ", " ok");
  NAMED_IS("llama-bpe", "HE'LL x\xc2\xa0\xc2\xa0y", "HE", "'LL", " x",
           "\xc2\xa0", "\xc2\xa0y");
  NAMED_IS("qwen2", "ab12 !?\r\n", "ab", "1", "2", " !?\r\n");
  NAMED_IS("gpt-2", "Hello  world's 42\t!", "Hello", " ", " world", "'s",
           " 42", "\t", "!");
  /* Each step splits the pieces of the previous one. */
  NAMED_IS("deepseek-coder", "Hello \xe4\xb8\x96\xe7\x95\x8c" "123\nok",
           "Hello", " ", "\xe4\xb8\x96\xe7\x95\x8c", "1", "2", "3", "\n",
           "ok");
  NAMED_IS("starcoder", "x 2024", "x", " ", "2", "0", "2", "4");
  NAMED_IS("falcon", "a+=b 1234", "a", "+=", "b", " ", "123", "4");
  NAMED_IS("deepseek-llm", "ab  \n", "ab", "  ", "\n");
}

/* ---- long pieces -------------------------------------------------------- */

/* tekken's pattern repeats a group per letter: a long word outgrows the
** JIT's machine stack (32 kB), then gets a JIT stack of its own; an absurd
** one ends in LLM_ERANGE, not in a crash nor gigabytes of memory. Runs of
** one class for the other lists are plain. */
static void test_long_pieces(void) {
  size_t n = 3000000;
  uint8_t *s = malloc(n);
  CHECK(s != NULL);
  if (!s) return;
  memset(s, 'a', n);
  int np;
  const char *const *tek = llm_pretok_patterns("tekken", &np);
  llm_regex *re = compile_ok(tek[0]);
  llm_spans out = {0};
  CHECK(re && split1(re, s, 200000, LLM_SPLIT_ISOLATED, 0, &out) == LLM_OK);
  CHECK(out.len == 1 && out.end[0] == 200000);
  CHECK(re && split1q(re, s, n, LLM_SPLIT_ISOLATED, 0, &out, 1) == LLM_ERANGE);
  llm_regex_free(re);
  const char *names[] = {"llama3", "qwen2", "gpt-2", "deepseek-llm"};
  for (int k = 0; k < 4; k++) {
    const char *const *pats = llm_pretok_patterns(names[k], &np);
    for (int i = 0; i < np; i++) {
      re = compile_ok(pats[i]);
      memset(s, i % 2 ? ' ' : 'a', n);
      CHECK(re && split1(re, s, n, LLM_SPLIT_ISOLATED, 0, &out) == LLM_OK);
      llm_regex_free(re);
    }
  }
  llm_spans_free(&out);
  free(s);
}

/* ---- out of memory ------------------------------------------------------ */

static void test_oom(void) {
  int np;
  const char *const *pats = llm_pretok_patterns("llama3", &np);
  const char *text = "Some text, with 12345 digits\n and   spaces.";
  size_t n = strlen(text), want = 0;
  llm_regex *ref = compile_ok(pats[0]);
  llm_spans ref_out = {0};
  CHECK(ref && split1(ref, (const uint8_t *)text, n, LLM_SPLIT_ISOLATED, 0,
                      &ref_out) == LLM_OK);
  want = ref_out.len;
  CHECK(want == 13);
  llm_spans_free(&ref_out);
  llm_regex_free(ref);
  int done = 0;
  for (long k = 0; k < 10000 && !done; k++) {
    llm_regex *re = NULL;
    llm_spans out = {0};
    llm_err e = {0};
    llm_test_fail_allocs_after(k);
    int rc = llm_regex_compile(&re, pats[0], strlen(pats[0]), &e);
    if (rc == LLM_OK)
      rc = split1q(re, (const uint8_t *)text, n, LLM_SPLIT_ISOLATED, 0, &out,
                   1);
    long failed = llm_test_allocs_failed();
    llm_test_fail_allocs_after(-1);
    CHECK(rc == LLM_OK || rc == LLM_ENOMEM);
    CHECK(rc != LLM_OK || out.len == want);
    if (rc == LLM_OK && failed == 0) done = 1;
    if (rc != LLM_OK) CHECK(re == NULL || out.len == 0);
    llm_spans_free(&out);
    llm_regex_free(re);
  }
  CHECK(done);
}

/* ---- the oracle --------------------------------------------------------- */

#define MAXLEN 400 /* bytes per string */
#define ORACLE "tests/oracle/regex_oracle.js"

typedef struct {
  uint8_t s[MAXLEN];
  size_t n;
} tstr;

/* Node's classes: runs of code points [start[i], start[i+1]) with sig[i]. */
typedef struct {
  uint32_t *start;
  uint8_t *sig;
  size_t n;
} sigmap;

/* PCRE2's classes through our own API: a code point is in a class when
** Split(class, REMOVED) leaves nothing of it. */
typedef struct {
  llm_regex *cls[4]; /* \p{L} \p{N} \p{P} White_Space: bits 1 2 4 8 */
  llm_spans out;
  size_t excluded;
} classifier;

static int pcre_sig(classifier *c, uint32_t cp) {
  uint8_t b[4];
  int len = llm_utf8_encode(b, cp), sig = 0;
  for (int k = 0; k < 4; k++) {
    if (split1(c->cls[k], b, (size_t)len, LLM_SPLIT_REMOVED, 0, &c->out))
      return -1;
    if (c->out.len == 0) sig |= 1 << k;
  }
  return sig;
}

static int node_sig(const sigmap *m, uint32_t cp) {
  size_t lo = 0, hi = m->n;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->start[mid] <= cp) lo = mid;
    else hi = mid;
  }
  return m->n ? m->sig[lo] : -1;
}

/* Whether cp has the same classes in PCRE2, node and pretok.c's tables. */
static int stable(classifier *c, const sigmap *m, uint32_t cp) {
  int ps = pcre_sig(c, cp);
  int ours = (llm_uni_is_letter((int32_t)cp) ? 1 : 0) |
             (llm_uni_is_number((int32_t)cp) ? 2 : 0) |
             (llm_uni_is_space((int32_t)cp) ? 8 : 0);
  int ok = ps >= 0 && ps == node_sig(m, cp) && (ps & 11) == ours;
  if (!ok) c->excluded++;
  return ok;
}

typedef struct {
  uint64_t st;
  classifier *c;
  const sigmap *m;
} gen;

/* Appends code point cp (when stable) to o; returns the bytes written. */
static size_t put(gen *g, uint8_t *o, uint32_t cp) {
  if (cp >= 0xD800 && cp < 0xE000) return 0;
  if (cp >= 0x80 && !stable(g->c, g->m, cp)) return 0;
  return (size_t)llm_utf8_encode(o, cp);
}

static uint32_t in_range(gen *g, uint32_t lo, uint32_t hi) {
  return lo + (uint32_t)(xorshift(&g->st) % (hi - lo + 1));
}

/* One random item: a character, a word, a run of spaces or digits, a
** contraction or an emoji sequence; returns the bytes written to o (room
** >= 32). */
static size_t random_item(gen *g, uint8_t *o) {
  static const char ascii[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
      "     ''''!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n\r";
  static const char *const fixed[] = {
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve",
    "'LL", "'lL", "'D", "'r", "'x", "''", "n't", " '", "  ", "   ", "\n\n",
    "\r\n", " \n", "\n \n", "\t\t", " \t", "    ",
    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",
    "\xe2\x9d\xa4\xef\xb8\x8f", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
    "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7", "\xe2\x80\xa6", "\xe3\x80\x82",
    "\xef\xbc\x8c", "\xe3\x80\x81",
  };
  static const uint32_t spaces[] = {
    0x0B, 0x0C, 0x1C, 0x1F, 0x85, 0xA0, 0x1680, 0x180E, 0x2000, 0x2003,
    0x200A, 0x200B, 0x2028, 0x2029, 0x202F, 0x205F, 0x2060, 0x3000, 0xFEFF,
  };
  static const uint32_t numbers[] = {
    0x660, 0x669, 0x6F4, 0x966, 0xBD, 0xB2, 0xB3, 0xB9, 0x2160, 0x2188,
    0x2460, 0x3007, 0xFF10, 0xFF19, 0x1D7CE, 0x10107, 0x1F100,
  };
  uint64_t r = xorshift(&g->st);
  unsigned k = (unsigned)(r % 100);
  size_t n = 0;
  if (k < 22) return put(g, o, (uint8_t)ascii[(r >> 8) % (sizeof ascii - 1)]);
  if (k < 32) {
    const char *f = fixed[(r >> 8) % (sizeof fixed / sizeof *fixed)];
    memcpy(o, f, strlen(f));
    return strlen(f);
  }
  if (k < 38) return put(g, o, spaces[(r >> 8) % (sizeof spaces / 4)]);
  if (k < 42) return put(g, o, numbers[(r >> 8) % (sizeof numbers / 4)]);
  if (k < 46) { /* a run of ASCII digits */
    for (unsigned i = 0, len = 1 + (unsigned)((r >> 8) % 7); i < len; i++)
      o[n++] = (uint8_t)('0' + (r >> (12 + 3 * i)) % 10);
    return n;
  }
  if (k < 52) { /* an ASCII word */
    for (unsigned i = 0, len = 1 + (unsigned)((r >> 8) % 8); i < len; i++)
      o[n++] = (uint8_t)(((r >> (12 + i)) & 1 ? 'a' : 'A') +
                         (r >> (20 + 4 * i)) % 26);
    return n;
  }
  if (k < 56) return put(g, o, in_range(g, 0x80, 0x24F));   /* Latin */
  if (k < 59) return put(g, o, in_range(g, 0x370, 0x52F));  /* Greek, Cyr. */
  if (k < 61) return put(g, o, in_range(g, 0x590, 0x6FF));  /* Hebr., Arab. */
  if (k < 63) return put(g, o, in_range(g, 0x900, 0xDFF));  /* Indic */
  if (k < 67) return put(g, o, in_range(g, 0x4E00, 0x9FFF)); /* CJK */
  if (k < 69) return put(g, o, in_range(g, 0x3000, 0x30FF)); /* kana */
  if (k < 71) return put(g, o, in_range(g, 0xAC00, 0xD7FF)); /* Hangul */
  if (k < 73) return put(g, o, in_range(g, 0xFF00, 0xFF65)); /* fullwidth */
  if (k < 77) return put(g, o, in_range(g, 0x1F300, 0x1FAFF)); /* emoji */
  if (k < 79) return put(g, o, in_range(g, 0x300, 0x36F));  /* marks */
  if (k < 83) return put(g, o, in_range(g, 0x2000, 0x2BFF)); /* punct. */
  if (k < 92) return put(g, o, in_range(g, 0x80, 0xFFFF));  /* any BMP */
  return put(g, o, in_range(g, 0x10000, 0x10FFFF));          /* astral */
}

static void make_strings(gen *g, tstr *t, size_t count) {
  for (size_t i = 0; i < count; i++) {
    size_t items = xorshift(&g->st) % 60, n = 0;
    while (items-- && n + 32 <= MAXLEN) n += random_item(g, t[i].s + n);
    t[i].n = n;
  }
}

/* A job: patterns applied one after another, a behaviour, strings. */
typedef struct {
  const char *what;
  const char *const *pats;
  int np, behavior, invert;
  tstr *strs;
  size_t ns;
} job;

static void write_hex(FILE *f, const void *p, size_t n) {
  for (size_t j = 0; j < n; j++) fprintf(f, "%02x", ((const uint8_t *)p)[j]);
  fputc('\n', f);
}

static int write_jobs(const char *path, const job *jobs, size_t nj) {
  FILE *f = fopen(path, "w");
  if (!f) return 0;
  for (size_t j = 0; j < nj; j++) {
    fprintf(f, "job %d %d %d\n", jobs[j].behavior, jobs[j].invert,
            jobs[j].np);
    for (int i = 0; i < jobs[j].np; i++)
      write_hex(f, jobs[j].pats[i], strlen(jobs[j].pats[i]));
    fprintf(f, "%zu\n", jobs[j].ns);
    for (size_t i = 0; i < jobs[j].ns; i++)
      write_hex(f, jobs[j].strs[i].s, jobs[j].strs[i].n);
  }
  return fclose(f) == 0;
}

/* Our pieces of t for job j, into *cur (tmp is scratch). */
static int our_pieces(llm_regex *const *res, const job *j, const tstr *t,
                      llm_spans *cur, llm_spans *tmp) {
  size_t a = 0, b = t->n;
  llm_spans first = {&a, &b, 1, 1};
  llm_err e = {0};
  for (int i = 0; i < j->np; i++) {
    tmp->len = 0;
    if (llm_regex_split(res[i], t->s, t->n, i ? cur : &first, j->behavior,
                        j->invert, tmp, &e) != LLM_OK) {
      printf("  split failed: %s\n", e.msg);
      return 0;
    }
    llm_spans x = *cur;
    *cur = *tmp;
    *tmp = x;
  }
  if (j->np == 0) cur->len = 0;
  return 1;
}

/* Parses node's "A-B A-B ..." line into p. */
static int parse_line(char *line, llm_spans *p) {
  p->len = 0;
  for (char *q = line;;) {
    while (*q == ' ') q++;
    if (*q == '\n' || *q == '\0') return 1;
    char *e;
    unsigned long long a = strtoull(q, &e, 10), b;
    if (e == q || *e != '-') return 0;
    q = e + 1;
    b = strtoull(q, &e, 10);
    if (e == q || p->len == p->cap) return 0;
    p->start[p->len] = (size_t)a;
    p->end[p->len++] = (size_t)b;
    q = e;
  }
}

static int same(const llm_spans *x, const llm_spans *y) {
  if (x->len != y->len) return 0;
  for (size_t k = 0; k < x->len; k++)
    if (x->start[k] != y->start[k] || x->end[k] != y->end[k]) return 0;
  return 1;
}

static void show_bytes(const char *who, const tstr *t, const llm_spans *p) {
  printf("  %-7s", who);
  for (size_t k = 0; k < p->len; k++) {
    printf(" [");
    for (size_t i = p->start[k]; i < p->end[k] && i < t->n;) {
      int len;
      int32_t cp = llm_utf8_decode(t->s + i, t->n - i, &len);
      if (cp >= 0x21 && cp < 0x7F) printf("%c", (char)cp);
      else printf("<U+%04X>", (unsigned)cp);
      i += (size_t)len;
    }
    printf("]");
  }
  printf("\n");
}

/* Starts `node ORACLE args` (from the repository root) for reading. */
static FILE *run_node(const char *args) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "node " ORACLE " %s", args);
  return popen(cmd, "r");
}

static int load_sigmap(sigmap *m) {
  static uint32_t start[200000];
  static uint8_t sig[200000];
  m->start = start;
  m->sig = sig;
  m->n = 0;
  FILE *p = run_node("classes");
  if (!p) return 0;
  unsigned long a;
  unsigned s;
  while (fscanf(p, "%lu %u", &a, &s) == 2 && m->n < 200000) {
    start[m->n] = (uint32_t)a;
    sig[m->n++] = (uint8_t)s;
  }
  return pclose(p) == 0 && m->n > 0 && start[0] == 0;
}

/* Compares our pieces with the oracle's for every job; returns the number
** of strings that differ. */
static size_t compare_jobs(FILE *p, const job *jobs, size_t nj,
                           size_t *n_strings) {
  static size_t as[MAXLEN + 1], ae[MAXLEN + 1];
  llm_spans theirs = {as, ae, 0, MAXLEN + 1};
  llm_spans cur = {0}, tmp = {0};
  char *line = NULL;
  size_t cap = 0, bad = 0;
  for (size_t j = 0; j < nj; j++) {
    llm_regex *res[8] = {0};
    for (int i = 0; i < jobs[j].np; i++) res[i] = compile_ok(jobs[j].pats[i]);
    size_t job_bad = 0;
    for (size_t i = 0; i < jobs[j].ns; i++) {
      const tstr *t = &jobs[j].strs[i];
      if (getline(&line, &cap, p) < 0) {
        free(line);
        llm_spans_free(&cur);
        llm_spans_free(&tmp);
        for (int k = 0; k < jobs[j].np; k++) llm_regex_free(res[k]);
        printf("  oracle output ended early (job %s)\n", jobs[j].what);
        return bad + 1;
      }
      (*n_strings)++;
      int ok = parse_line(line, &theirs) && our_pieces(res, &jobs[j], t, &cur,
                                                       &tmp);
      if (ok && same(&cur, &theirs)) continue;
      bad++;
      if (job_bad++ == 0) {
        printf("  %s: first mismatch, string %zu:", jobs[j].what, i);
        for (size_t k = 0; k < t->n; k++) printf(" %02x", t->s[k]);
        printf("\n");
        show_bytes("ours:", t, &cur);
        show_bytes("oracle:", t, &theirs);
      }
    }
    if (job_bad) printf("  %s: %zu strings differ\n", jobs[j].what, job_bad);
    for (int k = 0; k < jobs[j].np; k++) llm_regex_free(res[k]);
  }
  free(line);
  llm_spans_free(&cur);
  llm_spans_free(&tmp);
  return bad;
}

/* The gpt-2 pattern (ISOLATED) against pretok.c's hand-written matcher. */
static size_t compare_pretok(const tstr *t, size_t ns, size_t *pieces) {
  int np;
  const char *const *pats = llm_pretok_patterns("gpt-2", &np);
  llm_regex *re = compile_ok(pats[0]);
  llm_spans out = {0};
  size_t bad = 0;
  for (size_t i = 0; re && i < ns; i++) {
    if (split1(re, t[i].s, t[i].n, LLM_SPLIT_ISOLATED, 0, &out)) {
      bad++;
      continue;
    }
    size_t pos = 0, k = 0;
    int ok = 1;
    while (pos < t[i].n && ok) {
      size_t end = llm_pretok_next(LLM_PRETOK_GPT2, t[i].s, t[i].n, pos);
      ok = k < out.len && out.start[k] == pos && out.end[k] == end;
      pos = end;
      k++;
    }
    ok = ok && k == out.len;
    *pieces += out.len;
    if (!ok && bad++ == 0) {
      printf("  gpt-2 vs llm_pretok_next: first mismatch, string %zu\n", i);
      show_bytes("regex:", &t[i], &out);
    }
  }
  llm_spans_free(&out);
  llm_regex_free(re);
  CHECK(re != NULL);
  return bad;
}

#define NMAIN 3000 /* strings for each named pattern list */
#define NBEH 400   /* strings for each behaviour x invert x pattern */

static void test_oracle(void) {
  static sigmap m;
  if (!load_sigmap(&m)) {
    printf("  `node " ORACLE " classes` failed: is node on PATH, and are we "
           "in the repository root?\n");
    CHECK(0);
    return;
  }
  classifier c = {{0}, {0}, 0};
  /* White_Space by name, not \s: our spelling of \s is under test. */
  const char *cls[4] = {"\\p{L}", "\\p{N}", "\\p{P}", "\\p{White_Space}"};
  for (int k = 0; k < 4; k++) {
    c.cls[k] = compile_ok(cls[k]);
    CHECK(c.cls[k] != NULL);
    if (!c.cls[k]) return;
  }
  gen g = {0xD1B54A32D192ED03ULL, &c, &m};

  static tstr strs[4 * NMAIN + 2 * 10 * NBEH];
  static job jobs[4 + 2 * 10];
  static const char *const sparse[] = {"\\p{P}+|\\s+(?!\\S)|\\p{N}{2}",
                                       "\\p{N}*"};
  size_t nj = 0, used = 0;
  int np;
  const char *names[4] = {"llama3", "qwen2", "gpt-2", "deepseek-coder"};
  for (int i = 0; i < 4; i++) {
    const char *const *pats = llm_pretok_patterns(names[i], &np);
    jobs[nj++] = (job){names[i], pats, np, LLM_SPLIT_ISOLATED, 0,
                       strs + used, NMAIN};
    used += NMAIN;
  }
  static const char *const what[2][10] = {
    {"P|ws|NN removed", "P|ws|NN isolated", "P|ws|NN merged-prev",
     "P|ws|NN merged-next", "P|ws|NN contiguous", "P|ws|NN removed inv",
     "P|ws|NN isolated inv", "P|ws|NN merged-prev inv",
     "P|ws|NN merged-next inv", "P|ws|NN contiguous inv"},
    {"N* removed", "N* isolated", "N* merged-prev", "N* merged-next",
     "N* contiguous", "N* removed inv", "N* isolated inv",
     "N* merged-prev inv", "N* merged-next inv", "N* contiguous inv"},
  };
  for (int pi = 0; pi < 2; pi++)
    for (int inv = 0; inv < 2; inv++)
      for (int beh = 0; beh < 5; beh++) {
        jobs[nj++] = (job){what[pi][inv * 5 + beh], &sparse[pi], 1, beh, inv,
                           strs + used, NBEH};
        used += NBEH;
      }
  make_strings(&g, strs, used);

  char path[] = "/tmp/llm_regex_oracle_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  close(fd);
  CHECK(write_jobs(path, jobs, nj));
  char args[100];
  snprintf(args, sizeof args, "split %s", path);
  FILE *p = run_node(args);
  CHECK(p != NULL);
  size_t n_strings = 0, bad = p ? compare_jobs(p, jobs, nj, &n_strings) : 1;
  int status = p ? pclose(p) : -1;
  unlink(path);
  CHECK(status == 0);
  CHECK(n_strings == used);
  CHECK(bad == 0);
  size_t pieces = 0, bad_pretok = compare_pretok(jobs[2].strs, NMAIN, &pieces);
  CHECK(bad_pretok == 0);
  if (!bad && status == 0 && n_strings == used)
    printf("  %zu strings in %zu jobs agree with node's regex engine "
           "(%zu code points drawn but left out: their class differs "
           "between Unicode versions)\n", n_strings, nj, c.excluded);
  if (!bad_pretok)
    printf("  gpt-2: %d strings, %zu pieces agree with llm_pretok_next\n",
           NMAIN, pieces);
  for (int k = 0; k < 4; k++) llm_regex_free(c.cls[k]);
  llm_spans_free(&c.out);
}

int main(void) {
  RUN(test_behaviors);
  RUN(test_invert);
  RUN(test_empty_matches);
  RUN(test_pieces);
  RUN(test_invalid_utf8);
  RUN(test_bad_pattern);
  RUN(test_named_compile);
  RUN(test_named_examples);
  RUN(test_long_pieces);
  RUN(test_oom);
  RUN(test_oracle);
  return CHECK_DONE();
}
