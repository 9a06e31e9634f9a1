/*
** test_unicode.c: llm_uni_category, the group tests, llm_uni_lower and
** llm_uni_normalize (engine/text/unicode.c).
**
** Known cases first (composed and decomposed é, Hangul, compatibility
** forms, singletons, reordering of marks, blocking, exclusions, the src
** map, out of memory). Then the oracle: it runs
**   node tests/oracle/unicode_oracle.js FILE
** (from the repository root, where the tests run), which writes Node's
** category, lower case and four normal forms of every code point, and the
** four forms of thousands of pseudo-random strings, and compares all of it
** exactly, plus the src map of each string against the decompositions of
** its code points. Fails when node is missing.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc_fail.h"
#include "base.h"
#include "check.h"
#include "node_oracle.h"
#include "text/unicode.h"

#define ORACLE "tests/oracle/unicode_oracle.js"
#define MAXSEQ 16384 /* code points in one oracle sequence */

static const int forms[4] = {LLM_NFD, LLM_NFC, LLM_NFKD, LLM_NFKC};
static const char *const form_names[4] = {"NFD", "NFC", "NFKD", "NFKC"};

/* Whether normalizing in[0..n) to form gives want[0..nw) and src[0..nw). */
static int norm_is(int form, const int32_t *in, size_t n, const int32_t *want,
                   size_t nw, const size_t *src) {
  llm_cps out = {0};
  int ok = llm_uni_normalize(form, in, n, &out) == LLM_OK && out.len == nw &&
           (nw == 0 || !memcmp(out.cp, want, nw * sizeof *want));
  if (ok && src)
    for (size_t k = 0; k < nw; k++) ok = ok && out.src[k] == src[k];
  if (!ok) {
    static const char *const names[] = {"NFC", "NFD", "NFKC", "NFKD"};
    printf("  %s of", form >= 0 && form < 4 ? names[form] : "?");
    for (size_t k = 0; k < n; k++) printf(" %04X", (unsigned)in[k]);
    printf(" gave");
    for (size_t k = 0; k < out.len; k++)
      printf(" %04X@%zu", (unsigned)out.cp[k], out.src[k]);
    printf("\n");
  }
  llm_cps_free(&out);
  return ok;
}

#define N(a) (sizeof(a) / sizeof *(a))
#define NORM(form, in, want, src) \
  norm_is(form, in, N(in), want, N(want), src)

static void test_category(void) {
  static const struct { int32_t cp; int cat; } cases[] = {
    {'A', LLM_UC_Lu}, {'z', LLM_UC_Ll}, {0x01C5, LLM_UC_Lt},
    {0x02B0, LLM_UC_Lm}, {0x4E00, LLM_UC_Lo}, {0x0301, LLM_UC_Mn},
    {0x0903, LLM_UC_Mc}, {0x20DD, LLM_UC_Me}, {'7', LLM_UC_Nd},
    {0x2160, LLM_UC_Nl}, {0x00BD, LLM_UC_No}, {'_', LLM_UC_Pc},
    {'-', LLM_UC_Pd}, {'(', LLM_UC_Ps}, {')', LLM_UC_Pe},
    {0x00AB, LLM_UC_Pi}, {0x00BB, LLM_UC_Pf}, {'!', LLM_UC_Po},
    {'+', LLM_UC_Sm}, {'$', LLM_UC_Sc}, {'^', LLM_UC_Sk},
    {0x00A9, LLM_UC_So}, {' ', LLM_UC_Zs}, {0x3000, LLM_UC_Zs},
    {0x2028, LLM_UC_Zl}, {0x2029, LLM_UC_Zp}, {'\n', LLM_UC_Cc},
    {0x7F, LLM_UC_Cc}, {0x00AD, LLM_UC_Cf}, {0xD800, LLM_UC_Cs},
    {0xDFFF, LLM_UC_Cs}, {0xE000, LLM_UC_Co}, {0x10FFFD, LLM_UC_Co},
    {0x0378, LLM_UC_Cn}, {0xFFFF, LLM_UC_Cn}, {0x10FFFF, LLM_UC_Cn},
    {0x1F600, LLM_UC_So}, {0x20000, LLM_UC_Lo}, {-1, LLM_UC_Cn},
    {0x110000, LLM_UC_Cn}, {INT32_MIN, LLM_UC_Cn}, {INT32_MAX, LLM_UC_Cn},
  };
  for (size_t i = 0; i < N(cases); i++) {
    int got = llm_uni_category(cases[i].cp);
    if (got != cases[i].cat)
      printf("  U+%04X: category %d, want %d\n", (unsigned)cases[i].cp, got,
             cases[i].cat);
    CHECK(got == cases[i].cat);
  }
  CHECK(llm_uni_is_mark(0x0301) && llm_uni_is_mark(0x0903) &&
        llm_uni_is_mark(0x20DD) && !llm_uni_is_mark('a'));
  CHECK(llm_uni_is_punct('!') && llm_uni_is_punct('_') &&
        llm_uni_is_punct(0x00AB) && !llm_uni_is_punct('$'));
  CHECK(llm_uni_is_symbol('$') && llm_uni_is_symbol('+') &&
        llm_uni_is_symbol(0x1F600) && !llm_uni_is_symbol('!'));
  CHECK(llm_uni_is_control(0) && llm_uni_is_control('\t') &&
        llm_uni_is_control(0x00AD) && llm_uni_is_control(0xD800) &&
        llm_uni_is_control(0xE000) && llm_uni_is_control(0x0378) &&
        llm_uni_is_control(-1) && llm_uni_is_control(0x110000));
  CHECK(!llm_uni_is_control(' ') && !llm_uni_is_control('a') &&
        !llm_uni_is_control(0x3000));
}

static void test_lower(void) {
  int32_t o[3];
  CHECK(llm_uni_lower('A', o) == 1 && o[0] == 'a');
  CHECK(llm_uni_lower('a', o) == 1 && o[0] == 'a');
  CHECK(llm_uni_lower('@', o) == 1 && o[0] == '@');
  CHECK(llm_uni_lower(0x00C9, o) == 1 && o[0] == 0x00E9);   /* É */
  CHECK(llm_uni_lower(0x03A3, o) == 1 && o[0] == 0x03C3);   /* Σ, no context */
  CHECK(llm_uni_lower(0x0130, o) == 2 && o[0] == 'i' && o[1] == 0x0307);
  CHECK(llm_uni_lower(0x2126, o) == 1 && o[0] == 0x03C9);   /* Ohm sign */
  CHECK(llm_uni_lower(0x1E9E, o) == 1 && o[0] == 0x00DF);   /* capital ß */
  CHECK(llm_uni_lower(0x01C5, o) == 1 && o[0] == 0x01C6);   /* title case */
  CHECK(llm_uni_lower(0x10400, o) == 1 && o[0] == 0x10428); /* Deseret */
  CHECK(llm_uni_lower(0x00DF, o) == 1 && o[0] == 0x00DF);
  CHECK(llm_uni_lower(-7, o) == 1 && o[0] == -7);
  CHECK(llm_uni_lower(0xD800, o) == 1 && o[0] == 0xD800);
  CHECK(llm_uni_lower(0x110000, o) == 1 && o[0] == 0x110000);
}

static void test_normalize_known(void) {
  /* é, composed and decomposed. */
  static const int32_t e1[] = {0x00E9}, e2[] = {'e', 0x0301};
  static const size_t s00[] = {0, 0}, s0[] = {0};
  CHECK(NORM(LLM_NFD, e1, e2, s00));
  CHECK(NORM(LLM_NFKD, e1, e2, s00));
  CHECK(NORM(LLM_NFC, e2, e1, s0));
  CHECK(NORM(LLM_NFKC, e1, e1, s0));
  /* Hangul: 한 <-> jamo; an LV syllable and a trailing jamo compose. */
  static const int32_t han[] = {0xD55C}, jamo[] = {0x1112, 0x1161, 0x11AB};
  static const size_t s000[] = {0, 0, 0};
  CHECK(NORM(LLM_NFD, han, jamo, s000));
  CHECK(NORM(LLM_NFC, jamo, han, s0));
  CHECK(NORM(LLM_NFKC, han, han, s0));
  static const int32_t lv_t[] = {0xAC00, 0x11A8}, lvt[] = {0xAC01};
  CHECK(NORM(LLM_NFC, lv_t, lvt, s0));
  static const int32_t l_x_v[] = {0x1100, 0x0301, 0x1161};
  CHECK(NORM(LLM_NFC, l_x_v, l_x_v, NULL)); /* a mark blocks L+V */
  /* ﬁ: compatibility only. */
  static const int32_t fi[] = {0xFB01}, f_i[] = {'f', 'i'};
  CHECK(NORM(LLM_NFC, fi, fi, s0));
  CHECK(NORM(LLM_NFKC, fi, f_i, s00));
  CHECK(NORM(LLM_NFKD, fi, f_i, s00));
  /* Ångström sign: a singleton, never recomposed. */
  static const int32_t ang[] = {0x212B}, a_ring[] = {0x00C5},
                       a_ring_d[] = {'A', 0x030A};
  CHECK(NORM(LLM_NFC, ang, a_ring, s0));
  CHECK(NORM(LLM_NFD, ang, a_ring_d, s00));
  /* Marks of different classes are reordered (dot below 220 before acute
  ** 230), and src follows them; then dot below composes with a. */
  static const int32_t a_ac_db[] = {'a', 0x0301, 0x0323},
                       a_db_ac[] = {'a', 0x0323, 0x0301},
                       adb_ac[] = {0x1EA1, 0x0301};
  static const size_t s021[] = {0, 2, 1}, s01[] = {0, 1};
  CHECK(NORM(LLM_NFD, a_ac_db, a_db_ac, s021));
  CHECK(NORM(LLM_NFC, a_ac_db, adb_ac, s01));
  /* Same class: order kept, the second acute is blocked by the first. */
  static const int32_t a_ac_ac[] = {'a', 0x0301, 0x0301},
                       aac_ac[] = {0x00E1, 0x0301};
  CHECK(NORM(LLM_NFD, a_ac_ac, a_ac_ac, NULL));
  static const size_t s02[] = {0, 2};
  CHECK(NORM(LLM_NFC, a_ac_ac, aac_ac, s02));
  /* A mark of a lower class between does not block: a, cedilla (202),
  ** acute (230) -> ç + acute -> U+1E09 under NFC. */
  static const int32_t c_ac_ced[] = {'c', 0x0301, 0x0327}, c3[] = {0x1E09};
  CHECK(NORM(LLM_NFC, c_ac_ced, c3, s0));
  /* Composition exclusion: U+0958 stays decomposed under NFC. */
  static const int32_t qa[] = {0x0958}, qa_d[] = {0x0915, 0x093C};
  CHECK(NORM(LLM_NFC, qa, qa_d, s00));
  /* A leading non-starter; non-code points pass through untouched. */
  static const int32_t lead[] = {0x0301, 'e', -1, 0xD800, 0x110000, 0x0301},
                       lead_c[] = {0x0301, 'e', -1, 0xD800, 0x110000, 0x0301};
  CHECK(NORM(LLM_NFC, lead, lead_c, NULL));
  /* src through compatibility decomposition and composition:
  ** x ﬁ ◌́ -> x f í with í from ﬁ. */
  static const int32_t xfi[] = {'x', 0xFB01, 0x0301},
                       xfi_c[] = {'x', 'f', 0x00ED},
                       xfi_d[] = {'x', 'f', 'i', 0x0301};
  static const size_t s011[] = {0, 1, 1}, s0112[] = {0, 1, 1, 2};
  CHECK(NORM(LLM_NFKC, xfi, xfi_c, s011));
  CHECK(NORM(LLM_NFKD, xfi, xfi_d, s0112));
  /* A decomposition whose mark moves behind the next code point: ẛ (long s
  ** with dot above) then dot below. */
  static const int32_t sd[] = {0x1E9B, 0x0323},
                       sd_kd[] = {'s', 0x0323, 0x0307},
                       sd_d[] = {0x017F, 0x0323, 0x0307},
                       sd_kc[] = {0x1E69}, sd_c[] = {0x1E9B, 0x0323};
  static const size_t s010[] = {0, 1, 0};
  CHECK(NORM(LLM_NFKD, sd, sd_kd, s010));
  CHECK(NORM(LLM_NFD, sd, sd_d, s010));
  CHECK(NORM(LLM_NFKC, sd, sd_kc, s0));
  CHECK(NORM(LLM_NFC, sd, sd_c, s01));
  /* Empty input. */
  llm_cps out = {0};
  CHECK(llm_uni_normalize(LLM_NFC, NULL, 0, &out) == LLM_OK && out.len == 0);
  CHECK(llm_uni_normalize(7, e1, 1, &out) == LLM_EINVAL && out.len == 0);
  llm_cps_free(&out);
}

/* ASCII passes through with src the identity; out is reused. */
static void test_ascii_and_reuse(void) {
  int32_t in[300];
  for (int i = 0; i < 300; i++) in[i] = 1 + i % 127;
  llm_cps out = {0};
  for (int f = 0; f < 4; f++) {
    CHECK(llm_uni_normalize(forms[f], in, 300, &out) == LLM_OK);
    CHECK(out.len == 300 && !memcmp(out.cp, in, sizeof in));
    int ok = 1;
    for (size_t k = 0; k < out.len; k++) ok = ok && out.src[k] == k;
    CHECK(ok);
  }
  static const int32_t e[] = {0x00E9};
  CHECK(llm_uni_normalize(LLM_NFD, e, 1, &out) == LLM_OK && out.len == 2);
  CHECK(out.cp[0] == 'e' && out.cp[1] == 0x0301);
  llm_cps_free(&out);
  CHECK(out.cp == NULL && out.src == NULL && out.len == 0 && out.cap == 0);
}

/* A long run of marks (the counting sort) with the allocator failing at
** each allocation in turn: LLM_ENOMEM and an empty, freeable result, until
** enough succeed and the result is right. */
static void test_long_run_and_oom(void) {
  enum { PAIRS = 300 };
  static int32_t in[1 + 2 * PAIRS], nfd[1 + 2 * PAIRS], nfc[2 * PAIRS];
  static size_t nfd_src[1 + 2 * PAIRS], nfc_src[2 * PAIRS];
  in[0] = 'a';
  for (int i = 0; i < PAIRS; i++) {
    in[1 + 2 * i] = 0x0301;     /* acute, class 230 */
    in[2 + 2 * i] = 0x0323;     /* dot below, class 220 */
    nfd[1 + i] = 0x0323;
    nfd_src[1 + i] = (size_t)(2 + 2 * i);
    nfd[1 + PAIRS + i] = 0x0301;
    nfd_src[1 + PAIRS + i] = (size_t)(1 + 2 * i);
  }
  nfd[0] = 'a';
  /* NFC: the first dot below joins a (U+1EA1); nothing else composes. */
  nfc[0] = 0x1EA1;
  memcpy(nfc + 1, nfd + 2, (2 * PAIRS - 1) * sizeof *nfc);
  memcpy(nfc_src + 1, nfd_src + 2, (2 * PAIRS - 1) * sizeof *nfc_src);
  CHECK(norm_is(LLM_NFD, in, N(in), nfd, N(nfd), nfd_src));
  CHECK(norm_is(LLM_NFC, in, N(in), nfc, N(nfc), nfc_src));

  int done = 0;
  long tries = 0;
  for (long k = 0; !done && k < 100; k++) {
    llm_cps out = {0};
    llm_test_fail_one_alloc_after(k);
    int rc = llm_uni_normalize(LLM_NFC, in, N(in), &out);
    long failed = llm_test_allocs_failed();
    llm_test_fail_allocs_after(-1);
    if (failed) {
      CHECK(rc == LLM_ENOMEM && out.len == 0);
    } else {
      CHECK(rc == LLM_OK && out.len == N(nfc));
      CHECK(out.len == N(nfc) && !memcmp(out.cp, nfc, sizeof nfc));
      done = 1;
    }
    tries++;
    llm_cps_free(&out);
  }
  CHECK(done && tries > 1);
}

/* ---- the oracle ---------------------------------------------------------- */

/* Parses a sequence field at *p ('-' = none) into buf; returns its length,
** or -1 when malformed. */
static long parse_seq(char **p, int32_t *buf, size_t cap) {
  char *q = *p;
  while (*q == ' ') q++;
  if (*q == '-') {
    *p = q + 1;
    return 0;
  }
  size_t n = 0;
  for (;;) {
    char *end;
    long v = strtol(q, &end, 16);
    if (end == q || n == cap) return -1;
    buf[n++] = (int32_t)v;
    q = end;
    if (*q != '.') break;
    q++;
  }
  *p = q;
  return (long)n;
}

static int parse_cat(char **p) {
  static const char *const names[] = {
    "Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd",
    "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm",
    "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co",
  };
  char *q = *p;
  while (*q == ' ') q++;
  for (int i = 0; i < (int)N(names); i++) {
    if (!strncmp(q, names[i], 2)) {
      *p = q + 2;
      return i;
    }
  }
  return -1;
}

typedef struct {
  uint8_t *seen;        /* one bit per code point */
  long bad_cp, bad_str; /* mismatches */
  long n_cp, n_str;
} oracle_state;

static int seq_eq(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
  return na == nb && (na == 0 || !memcmp(a, b, na * sizeof *a));
}

static void show(const char *what, const int32_t *a, size_t n) {
  printf("  %-8s", what);
  for (size_t k = 0; k < n; k++) printf(" %04X", (unsigned)a[k]);
  printf("\n");
}

/* Checks one code point: category, lower case and four forms (want[f] of
** length nw[f]; want_lower of nl). */
static int check_cp(int32_t cp, int cat, const int32_t *lower, size_t nl,
                    int32_t want[4][LLM_UCD_MAX_DECOMP], const size_t nw[4]) {
  int ok = llm_uni_category(cp) == cat;
  int32_t lo[3];
  int n = llm_uni_lower(cp, lo);
  ok = ok && seq_eq(lo, (size_t)n, lower, nl);
  llm_cps out = {0};
  for (int f = 0; f < 4 && ok; f++) {
    ok = llm_uni_normalize(forms[f], &cp, 1, &out) == LLM_OK &&
         seq_eq(out.cp, out.len, want[f], nw[f]);
    for (size_t k = 0; k < out.len; k++) ok = ok && out.src[k] == 0;
  }
  llm_cps_free(&out);
  return ok;
}

static void mark_seen(oracle_state *st, int32_t cp) {
  st->seen[cp >> 3] |= (uint8_t)(1u << (cp & 7));
}

static void oracle_range(oracle_state *st, int32_t lo, int32_t hi, int cat) {
  for (int32_t cp = lo; cp <= hi; cp++) {
    int32_t want[4][LLM_UCD_MAX_DECOMP];
    size_t nw[4] = {1, 1, 1, 1};
    for (int f = 0; f < 4; f++) want[f][0] = cp;
    mark_seen(st, cp);
    st->n_cp++;
    if (!check_cp(cp, cat, &cp, 1, want, nw) && st->bad_cp++ < 5)
      printf("  U+%04X differs (oracle: category %d, all mappings itself)\n",
             (unsigned)cp, cat);
  }
}

/* A 'c' line after its "c CP CAT": LOWER NFD NFC NFKD NFKC. */
static int oracle_cp(oracle_state *st, int32_t cp, int cat, char *p) {
  int32_t lower[3], want[4][LLM_UCD_MAX_DECOMP];
  size_t nw[4];
  long nl = parse_seq(&p, lower, 3);
  if (nl < 0) return 0;
  if (nl == 0) lower[nl++] = cp; /* '-': itself */
  for (int f = 0; f < 4; f++) {
    long k = parse_seq(&p, want[f], LLM_UCD_MAX_DECOMP);
    if (k < 0) return 0;
    if (k == 0) want[f][k++] = cp; /* '-': itself */
    nw[f] = (size_t)k;
  }
  mark_seen(st, cp);
  st->n_cp++;
  if (!check_cp(cp, cat, lower, (size_t)nl, want, nw) && st->bad_cp++ < 5) {
    int32_t lo[3];
    int n = llm_uni_lower(cp, lo);
    printf("  U+%04X: category %d (oracle %d)\n", (unsigned)cp,
           llm_uni_category(cp), cat);
    show("lower", lo, (size_t)n);
    show("oracle", lower, (size_t)nl);
    for (int f = 0; f < 4; f++) {
      llm_cps out = {0};
      if (llm_uni_normalize(forms[f], &cp, 1, &out) == LLM_OK)
        show(form_names[f], out.cp, out.len);
      show("oracle", want[f], nw[f]);
      llm_cps_free(&out);
    }
  }
  return 1;
}

/* Whether the src map of out (form f of in[0..n)) is right. Under NFD and
** NFKD the output is a reordering of the decompositions of the in[i] one
** after the other: the code points from each in[i] must be exactly its own
** decomposition, in order. Under NFC and NFKC each output code point's NFD
** must start with a code point of the decomposition of its source. */
static int src_ok(int f, const int32_t *in, size_t n, const llm_cps *out) {
  int decomposing = forms[f] == LLM_NFD || forms[f] == LLM_NFKD;
  int dform = forms[f] == LLM_NFC || forms[f] == LLM_NFD ? LLM_NFD : LLM_NFKD;
  llm_cps one = {0};
  /* all[next[i]..end[i]) is the decomposition of in[i]. */
  int32_t *all = malloc((n * LLM_UCD_MAX_DECOMP + 1) * sizeof *all);
  size_t *next = malloc((n + 1) * sizeof *next);
  size_t *end = malloc((n + 1) * sizeof *end);
  int ok = all && next && end;
  for (size_t i = 0; i < n && ok; i++) {
    ok = llm_uni_normalize(dform, &in[i], 1, &one) == LLM_OK &&
         one.len <= LLM_UCD_MAX_DECOMP;
    next[i] = i ? end[i - 1] : 0;
    end[i] = next[i] + (ok ? one.len : 0);
    if (ok) memcpy(all + next[i], one.cp, one.len * sizeof *all);
  }
  for (size_t j = 0; j < out->len && ok; j++) {
    size_t s = out->src[j];
    ok = s < n;
    if (ok && decomposing) {
      ok = next[s] < end[s] && all[next[s]] == out->cp[j];
      next[s]++;
    } else if (ok) {
      ok = llm_uni_normalize(LLM_NFD, &out->cp[j], 1, &one) == LLM_OK;
      int found = 0;
      for (size_t m = next[s]; ok && m < end[s]; m++)
        found = found || all[m] == one.cp[0];
      ok = ok && found;
    }
  }
  for (size_t i = 0; i < n && ok && decomposing; i++) ok = next[i] == end[i];
  free(all);
  free(next);
  free(end);
  llm_cps_free(&one);
  return ok;
}

/* An 's' line after its "s ": IN NFD NFC NFKD NFKC. */
static int oracle_str(oracle_state *st, char *p) {
  static int32_t in[MAXSEQ], want[4][MAXSEQ];
  long n = parse_seq(&p, in, MAXSEQ), nw[4];
  if (n < 0) return 0;
  for (int f = 0; f < 4; f++) {
    nw[f] = parse_seq(&p, want[f], MAXSEQ);
    if (nw[f] < 0) return 0;
  }
  llm_cps out = {0};
  int ok = 1;
  for (int f = 0; f < 4 && ok; f++) {
    ok = llm_uni_normalize(forms[f], in, (size_t)n, &out) == LLM_OK &&
         seq_eq(out.cp, out.len, want[f], (size_t)nw[f]);
    if (!ok && st->bad_str < 3) {
      printf("  string %ld, %s:\n", st->n_str, form_names[f]);
      show("in", in, (size_t)n);
      show("ours", out.cp, out.len);
      show("oracle", want[f], (size_t)nw[f]);
    }
    if (ok && !src_ok(f, in, (size_t)n, &out)) {
      ok = 0;
      if (st->bad_str < 3) {
        printf("  string %ld, %s: bad src map\n", st->n_str, form_names[f]);
        show("in", in, (size_t)n);
        for (size_t k = 0; k < out.len; k++)
          printf(" %04X@%zu", (unsigned)out.cp[k], out.src[k]);
        printf("\n");
      }
    }
  }
  llm_cps_free(&out);
  st->n_str++;
  if (!ok) st->bad_str++;
  return 1;
}

/* Reads the oracle's file; returns the count on its 'end' line, or -1. */
static long read_oracle(FILE *f, oracle_state *st) {
  char *line = NULL;
  size_t cap = 0;
  long end = -1, lineno = 0;
  while (end < 0 && getline(&line, &cap, f) >= 0) {
    char *p = line + 2;
    int ok = 0;
    lineno++;
    if (line[0] == 'r' || line[0] == 'c') {
      int32_t cps[2] = {0, 0};
      long k = parse_seq(&p, cps, 1), k2 = 1;
      if (line[0] == 'r') k2 = parse_seq(&p, cps + 1, 1);
      int cat = parse_cat(&p);
      if (k == 1 && k2 == 1 && cat >= 0)
        ok = line[0] == 'c' ? oracle_cp(st, cps[0], cat, p)
                            : (oracle_range(st, cps[0], cps[1], cat), 1);
    } else if (line[0] == 's') {
      ok = oracle_str(st, p);
    } else if (!strncmp(line, "end ", 4)) {
      end = strtol(line + 4, NULL, 10);
      ok = 1;
    }
    if (!ok) {
      printf("  oracle line %ld unreadable: %.60s\n", lineno, line);
      break;
    }
  }
  free(line);
  return end;
}

static void test_oracle(void) {
  char path[64];
  FILE *f = node_oracle_run(ORACLE, path);
  CHECK(f != NULL);
  if (!f) return;
  oracle_state st = {0};
  st.seen = calloc(0x110000 / 8, 1);
  CHECK(st.seen != NULL);
  if (!st.seen) {
    fclose(f);
    unlink(path);
    return;
  }
  long end = read_oracle(f, &st);
  fclose(f);
  unlink(path);
  CHECK(end > 0 && end == st.n_str);

  /* Every code point but the surrogates once; the surrogates are Cs and
  ** pass through. */
  long missing = 0;
  for (int32_t cp = 0; cp <= 0x10FFFF; cp++) {
    int seen = st.seen[cp >> 3] >> (cp & 7) & 1;
    int surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (seen == surrogate) missing++;
    if (surrogate) {
      int32_t want[4][LLM_UCD_MAX_DECOMP] = {{cp}, {cp}, {cp}, {cp}};
      size_t nw[4] = {1, 1, 1, 1};
      CHECK(check_cp(cp, LLM_UC_Cs, &cp, 1, want, nw));
    }
  }
  CHECK(missing == 0 && st.n_cp == 0x110000 - 0x800);
  if (st.bad_cp) printf("  %ld of %ld code points differ\n", st.bad_cp, st.n_cp);
  if (st.bad_str)
    printf("  %ld of %ld strings differ\n", st.bad_str, st.n_str);
  CHECK(st.bad_cp == 0 && st.bad_str == 0);
  if (!st.bad_cp && !st.bad_str && !missing)
    printf("  %ld code points and %ld strings agree with the oracle\n",
           st.n_cp, st.n_str);
  free(st.seen);
}

int main(void) {
  RUN(test_category);
  RUN(test_lower);
  RUN(test_normalize_known);
  RUN(test_ascii_and_reuse);
  RUN(test_long_run_and_oom);
  RUN(test_oracle);
  return CHECK_DONE();
}
