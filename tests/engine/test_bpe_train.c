/* Unit tests for bpe_train.c: the incremental trainer against a naive
** reference trainer on many corpora, and the edge cases of the API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/bpe_train.h"
#include "check.h"
#include "text/pretok.h"

/* ---------------------------------------------------------------------- */
/* The reference: no deduplication, no incremental counts. Every piece
** occurrence is kept separately (weight 1); each step recounts every pair of
** every piece, picks the highest count (ties: smallest left, then smallest
** right) and rewrites every piece left to right. */

typedef struct ref_corpus {
  int32_t *sym;   /* all pieces' symbols, concatenated */
  size_t *start;  /* piece k is sym[start[k] .. start[k] + len[k]) */
  size_t *len;
  size_t n_pieces, n_sym, cap_pieces, cap_sym;
} ref_corpus;

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fprintf(stderr, "test: out of memory\n");
    exit(2);
  }
  return q;
}

static void ref_add_piece(ref_corpus *c, const uint8_t *s, size_t n) {
  if (c->n_pieces == c->cap_pieces) {
    c->cap_pieces = c->cap_pieces ? c->cap_pieces * 2 : 64;
    c->start = xrealloc(c->start, c->cap_pieces * sizeof *c->start);
    c->len = xrealloc(c->len, c->cap_pieces * sizeof *c->len);
  }
  while (c->n_sym + n > c->cap_sym) {
    c->cap_sym = c->cap_sym ? c->cap_sym * 2 : 256;
    c->sym = xrealloc(c->sym, c->cap_sym * sizeof *c->sym);
  }
  c->start[c->n_pieces] = c->n_sym;
  c->len[c->n_pieces] = n;
  c->n_pieces++;
  for (size_t i = 0; i < n; i++) c->sym[c->n_sym++] = s[i];
}

static void ref_add(ref_corpus *c, int mode, const uint8_t *s, size_t n) {
  if (n == 0) return;
  if (mode == LLM_PRETOK_NONE) {
    ref_add_piece(c, s, n);
    return;
  }
  size_t pos = 0;
  while (pos < n) {
    size_t end = llm_pretok_next(mode, s, n, pos);
    ref_add_piece(c, s + pos, end - pos);
    pos = end;
  }
}

static void ref_free(ref_corpus *c) {
  free(c->sym);
  free(c->start);
  free(c->len);
  memset(c, 0, sizeof *c);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Returns the number of merges learned into out[0..n_merges). */
static int ref_train(ref_corpus *c, int n_merges, uint64_t min_frequency,
                     llm_bpe_merge *out) {
  uint64_t *keys = xrealloc(NULL, (c->n_sym + 1) * sizeof *keys);
  int m = 0;
  for (; m < n_merges; m++) {
    size_t nk = 0;
    for (size_t k = 0; k < c->n_pieces; k++)
      for (size_t i = 0; i + 1 < c->len[k]; i++) {
        const int32_t *s = c->sym + c->start[k] + i;
        keys[nk++] = ((uint64_t)(uint32_t)s[0] << 32) | (uint32_t)s[1];
      }
    qsort(keys, nk, sizeof *keys, cmp_u64);
    uint64_t best_key = 0, best_count = 0;
    for (size_t i = 0; i < nk;) {
      size_t j = i;
      while (j < nk && keys[j] == keys[i]) j++;
      /* Keys ascend, so a strictly larger count is needed to win a tie. */
      if (j - i > best_count) {
        best_count = j - i;
        best_key = keys[i];
      }
      i = j;
    }
    if (best_count == 0 || best_count < min_frequency) break;
    int32_t l = (int32_t)(best_key >> 32), r = (int32_t)(best_key & 0xffffffffu);
    out[m].left = l;
    out[m].right = r;
    out[m].count = best_count;
    for (size_t k = 0; k < c->n_pieces; k++) {
      int32_t *s = c->sym + c->start[k];
      size_t w = 0;
      for (size_t i = 0; i < c->len[k];) {
        if (i + 1 < c->len[k] && s[i] == l && s[i + 1] == r) {
          s[w++] = 256 + m;
          i += 2;
        } else {
          s[w++] = s[i++];
        }
      }
      c->len[k] = w;
    }
  }
  free(keys);
  return m;
}

/* ---------------------------------------------------------------------- */
/* Helpers */

typedef struct texts {
  uint8_t **s;
  size_t *n;
  size_t count;
} texts;

/* Trains both ways on the same texts and compares merge for merge. Returns
** 1 when they agree. */
static int compare_with_ref(int mode, const texts *tx, int n_merges,
                            uint64_t min_frequency, const char *label,
                            int *n_learned) {
  llm_err err = {0};
  llm_bpe_trainer *t = NULL;
  int rc = llm_bpe_trainer_new(&t, mode, &err);
  if (rc) {
    printf("  %s: new failed: %s\n", label, err.msg);
    return 0;
  }
  ref_corpus rc_ = {0};
  for (size_t i = 0; i < tx->count; i++) {
    rc = llm_bpe_trainer_add(t, tx->s[i], tx->n[i], &err);
    if (rc) {
      printf("  %s: add failed: %s\n", label, err.msg);
      llm_bpe_trainer_free(t);
      ref_free(&rc_);
      return 0;
    }
    ref_add(&rc_, mode, tx->s[i], tx->n[i]);
  }
  llm_bpe_merge *got = NULL;
  int n_got = -1;
  rc = llm_bpe_trainer_run(t, n_merges, min_frequency, NULL, &got, &n_got, &err);
  llm_bpe_merge *want = xrealloc(NULL, ((size_t)n_merges + 1) * sizeof *want);
  int n_want = ref_train(&rc_, n_merges, min_frequency, want);
  int ok = 1;
  if (rc) {
    printf("  %s: run failed: %s\n", label, err.msg);
    ok = 0;
  } else if (n_got != n_want) {
    printf("  %s: %d merges, the reference learned %d\n", label, n_got,
           n_want);
    ok = 0;
  }
  if (!rc) {
    int n = n_got < n_want ? n_got : n_want;
    for (int i = 0; i < n; i++) {
      if (got[i].left != want[i].left || got[i].right != want[i].right ||
          got[i].count != want[i].count) {
        printf("  %s: merge %d is (%d,%d) x%llu, the reference has "
               "(%d,%d) x%llu\n",
               label, i, got[i].left, got[i].right,
               (unsigned long long)got[i].count, want[i].left, want[i].right,
               (unsigned long long)want[i].count);
        ok = 0;
        break;
      }
    }
    /* The counts of successive merges never increase. */
    for (int i = 1; i < n_got; i++) {
      if (got[i].count > got[i - 1].count) {
        printf("  %s: merge %d count rises\n", label, i);
        ok = 0;
        break;
      }
    }
  }
  if (n_learned) *n_learned = n_got;
  llm_free(got);
  free(want);
  ref_free(&rc_);
  llm_bpe_trainer_free(t);
  return ok;
}

static uint64_t rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *s = x;
  return x;
}

/* Alphabets of "characters" (byte strings) for random corpora. */
static const char *const alpha_ab[] = {"a", "b"};
static const char *const alpha_abs[] = {"a", "b", " "};
static const char *const alpha_abcnl[] = {"a", "b", "c", " ", "\n"};
static const char *const alpha_bin[] = {"\x00", "\xff", "a", " "};
static const char *const alpha_mix[] = {"a",  "b",    "1",    " ",  ",",
                                        "'s", "\xc3\xa9", "\x80", "\n", "aa"};
static const char *const alpha_words[] = {"the", " the", "cat", " ", "a",
                                          "at",  "s",    "'ll", "!", "tt"};

typedef struct alphabet {
  const char *const *c;
  size_t n;
} alphabet;

static size_t char_len(const char *c) { return c[0] ? strlen(c) : 1; }

static void random_texts(uint64_t *rng, const alphabet *al, texts *tx) {
  tx->count = 1 + rng_next(rng) % 8;
  tx->s = xrealloc(NULL, tx->count * sizeof *tx->s);
  tx->n = xrealloc(NULL, tx->count * sizeof *tx->n);
  for (size_t i = 0; i < tx->count; i++) {
    if (i > 0 && rng_next(rng) % 4 == 0) {
      /* Repeat an earlier text: multiplicity. */
      size_t j = rng_next(rng) % i;
      tx->n[i] = tx->n[j];
      tx->s[i] = xrealloc(NULL, tx->n[j] + 1);
      memcpy(tx->s[i], tx->s[j], tx->n[j]);
      continue;
    }
    size_t want = rng_next(rng) % 400;
    size_t cap = want + 64, n = 0;
    uint8_t *s = xrealloc(NULL, cap);
    while (n < want) {
      /* Skewed choice: low indexes are more frequent. */
      size_t a = rng_next(rng) % al->n, b = rng_next(rng) % al->n;
      size_t ci = a < b ? a : b;
      size_t reps = rng_next(rng) % 6 == 0 ? 2 + rng_next(rng) % 12 : 1;
      for (size_t r = 0; r < reps && n + 8 < cap; r++) {
        memcpy(s + n, al->c[ci], char_len(al->c[ci]));
        n += char_len(al->c[ci]);
      }
      if (n + 8 >= cap) break;
    }
    tx->s[i] = s;
    tx->n[i] = n;
  }
}

static void texts_free(texts *tx) {
  for (size_t i = 0; i < tx->count; i++) free(tx->s[i]);
  free(tx->s);
  free(tx->n);
  memset(tx, 0, sizeof *tx);
}

static void random_corpora(int mode, int n_seeds) {
  const alphabet alphabets[] = {
      {alpha_ab, 2},    {alpha_abs, 3},  {alpha_abcnl, 5},
      {alpha_bin, 4},   {alpha_mix, 10}, {alpha_words, 10},
  };
  size_t n_alpha = sizeof alphabets / sizeof alphabets[0];
  static const uint64_t minf[] = {0, 0, 0, 1, 2, 3, 5};
  int total_merges = 0, failures = 0;
  for (int seed = 1; seed <= n_seeds; seed++) {
    uint64_t rng = 0x9e3779b97f4a7c15ULL * (uint64_t)seed + (uint64_t)mode;
    rng_next(&rng);
    texts tx;
    const alphabet *al = &alphabets[(size_t)seed % n_alpha];
    random_texts(&rng, al, &tx);
    int n_merges = (int)(rng_next(&rng) % 300);
    uint64_t mf = minf[rng_next(&rng) % (sizeof minf / sizeof minf[0])];
    char label[96];
    snprintf(label, sizeof label, "mode %d seed %d (%d merges, min %llu)",
             mode, seed, n_merges, (unsigned long long)mf);
    int learned = 0;
    if (!compare_with_ref(mode, &tx, n_merges, mf, label, &learned)) {
      failures++;
    }
    total_merges += learned;
    texts_free(&tx);
    if (failures > 5) break;
  }
  CHECK(failures == 0);
  /* The corpora must exercise real work, not just empty runs. */
  CHECK(total_merges > n_seeds * 20);
}

static void test_random_none(void) { random_corpora(LLM_PRETOK_NONE, 400); }
static void test_random_gpt2(void) { random_corpora(LLM_PRETOK_GPT2, 400); }

/* Reads up to max bytes of the Tiny Shakespeare corpus; NULL when absent. */
static uint8_t *read_shakespeare(size_t max, size_t *n) {
  const char *path = "../shared/data/tinyshakespeare.txt";
  FILE *f = fopen(path, "rb");
  if (!f) {
    printf("  FATAL: cannot open %s (run from the repository root)\n", path);
    return NULL;
  }
  uint8_t *buf = xrealloc(NULL, max);
  *n = fread(buf, 1, max, f);
  fclose(f);
  if (*n < max) {
    printf("  FATAL: %s has only %zu bytes\n", path, *n);
    free(buf);
    return NULL;
  }
  return buf;
}

static void shakespeare(int mode, size_t bytes, int n_merges) {
  size_t n = 0;
  uint8_t *buf = read_shakespeare(bytes, &n);
  CHECK(buf != NULL);
  if (!buf) return;
  /* Feed it line by line, as rows would be. */
  texts tx = {0};
  size_t cap = 0;
  for (size_t pos = 0; pos < n;) {
    size_t end = pos;
    while (end < n && buf[end] != '\n') end++;
    if (end < n) end++;
    if (tx.count == cap) {
      cap = cap ? cap * 2 : 256;
      tx.s = xrealloc(tx.s, cap * sizeof *tx.s);
      tx.n = xrealloc(tx.n, cap * sizeof *tx.n);
    }
    tx.s[tx.count] = xrealloc(NULL, end - pos);
    memcpy(tx.s[tx.count], buf + pos, end - pos);
    tx.n[tx.count] = end - pos;
    tx.count++;
    pos = end;
  }
  int learned = 0;
  CHECK(compare_with_ref(mode, &tx, n_merges, 0, "shakespeare", &learned));
  CHECK(learned == n_merges);
  texts_free(&tx);
  free(buf);
}

static void test_shakespeare_gpt2(void) {
  shakespeare(LLM_PRETOK_GPT2, 50000, 300);
}
static void test_shakespeare_none(void) {
  shakespeare(LLM_PRETOK_NONE, 50000, 300);
}

/* Trains on the given NUL-free strings (or byte strings with lengths). */
static int train(int mode, const char *const *s, const size_t *lens,
                 size_t count, int n_merges, uint64_t minf,
                 llm_bpe_merge **out, int *n_out) {
  llm_err err = {0};
  llm_bpe_trainer *t = NULL;
  int rc = llm_bpe_trainer_new(&t, mode, &err);
  for (size_t i = 0; i < count && !rc; i++)
    rc = llm_bpe_trainer_add(t, (const uint8_t *)s[i],
                             lens ? lens[i] : strlen(s[i]), &err);
  if (!rc) rc = llm_bpe_trainer_run(t, n_merges, minf, NULL, out, n_out, &err);
  if (rc) printf("  train: %s\n", err.msg);
  llm_bpe_trainer_free(t);
  return rc;
}

static int merge_is(const llm_bpe_merge *m, int32_t l, int32_t r,
                    uint64_t count) {
  return m->left == l && m->right == r && m->count == count;
}

static void test_min_frequency(void) {
  const char *s[] = {"abababab"};
  llm_bpe_merge *m = NULL;
  int n = -1;
  /* (a,b) x4, then (X,X) x3: below 4. */
  CHECK(train(LLM_PRETOK_NONE, s, NULL, 1, 10, 4, &m, &n) == LLM_OK);
  CHECK(n == 1);
  if (n == 1) CHECK(merge_is(&m[0], 'a', 'b', 4));
  llm_free(m);
  CHECK(train(LLM_PRETOK_NONE, s, NULL, 1, 10, 5, &m, &n) == LLM_OK);
  CHECK(n == 0);
  llm_free(m);
  CHECK(train(LLM_PRETOK_NONE, s, NULL, 1, 10, 3, &m, &n) == LLM_OK);
  CHECK(n == 2);
  llm_free(m);
  /* Without a minimum: XXXX -> YY -> Z. */
  CHECK(train(LLM_PRETOK_NONE, s, NULL, 1, 10, 0, &m, &n) == LLM_OK);
  CHECK(n == 3);
  if (n == 3) {
    CHECK(merge_is(&m[0], 'a', 'b', 4));
    CHECK(merge_is(&m[1], 256, 256, 3));
    CHECK(merge_is(&m[2], 257, 257, 1));
  }
  llm_free(m);
  /* min_frequency 1 is the same as 0. */
  CHECK(train(LLM_PRETOK_NONE, s, NULL, 1, 10, 1, &m, &n) == LLM_OK);
  CHECK(n == 3);
  llm_free(m);
  /* n_merges caps the result. */
  CHECK(train(LLM_PRETOK_NONE, s, NULL, 1, 2, 0, &m, &n) == LLM_OK);
  CHECK(n == 2);
  llm_free(m);
}

static void test_zero_merges(void) {
  const char *s[] = {"hello hello hello world"};
  llm_bpe_merge *m = NULL;
  int n = -1;
  CHECK(train(LLM_PRETOK_GPT2, s, NULL, 1, 0, 0, &m, &n) == LLM_OK);
  CHECK(n == 0);
  llm_free(m);
}

static void test_empty_input(void) {
  llm_err err = {0};
  llm_bpe_trainer *t = NULL;
  CHECK(llm_bpe_trainer_new(&t, LLM_PRETOK_GPT2, &err) == LLM_OK);
  llm_bpe_merge *m = NULL;
  int n = -1;
  CHECK(llm_bpe_trainer_run(t, 100, 0, NULL, &m, &n, &err) == LLM_OK);
  CHECK(n == 0);
  llm_free(m);
  CHECK(llm_bpe_trainer_add(t, (const uint8_t *)"", 0, &err) == LLM_OK);
  CHECK(llm_bpe_trainer_add(t, NULL, 0, &err) == LLM_OK);
  CHECK(llm_bpe_trainer_pieces(t) == 0);
  CHECK(llm_bpe_trainer_bytes(t) == 0);
  CHECK(llm_bpe_trainer_run(t, 100, 0, NULL, &m, &n, &err) == LLM_OK);
  CHECK(n == 0);
  llm_free(m);
  /* Only one-byte pieces: nothing to merge. */
  CHECK(llm_bpe_trainer_add(t, (const uint8_t *)"a", 1, &err) == LLM_OK);
  CHECK(llm_bpe_trainer_add(t, (const uint8_t *)"b", 1, &err) == LLM_OK);
  CHECK(llm_bpe_trainer_add(t, (const uint8_t *)"a", 1, &err) == LLM_OK);
  CHECK(llm_bpe_trainer_pieces(t) == 2);
  CHECK(llm_bpe_trainer_bytes(t) == 3);
  CHECK(llm_bpe_trainer_run(t, 100, 0, NULL, &m, &n, &err) == LLM_OK);
  CHECK(n == 0);
  llm_free(m);
  llm_bpe_trainer_free(t);
}

static void test_repeated_byte(void) {
  const char *s[] = {"aaaaaaaa"};
  llm_bpe_merge *m = NULL;
  int n = -1;
  CHECK(train(LLM_PRETOK_NONE, s, NULL, 1, 100, 0, &m, &n) == LLM_OK);
  CHECK(n == 3);
  if (n == 3) {
    CHECK(merge_is(&m[0], 'a', 'a', 7));
    CHECK(merge_is(&m[1], 256, 256, 3));
    CHECK(merge_is(&m[2], 257, 257, 1));
  }
  llm_free(m);
  /* Odd runs: "aaaaa" -> XXa; (X,a) and (X,X) tie at 1: (256,97) wins,
  ** giving XY, then (256,257). */
  const char *s5[] = {"aaaaa"};
  CHECK(train(LLM_PRETOK_NONE, s5, NULL, 1, 100, 0, &m, &n) == LLM_OK);
  CHECK(n == 3);
  if (n == 3) {
    CHECK(merge_is(&m[0], 'a', 'a', 4));
    CHECK(merge_is(&m[1], 256, 'a', 1));
    CHECK(merge_is(&m[2], 256, 257, 1));
  }
  llm_free(m);
  /* Long runs of several lengths against the reference. */
  size_t lens[] = {1, 2, 3, 1000, 4097, 777};
  texts tx = {0};
  tx.count = sizeof lens / sizeof lens[0];
  tx.s = xrealloc(NULL, tx.count * sizeof *tx.s);
  tx.n = xrealloc(NULL, tx.count * sizeof *tx.n);
  for (size_t i = 0; i < tx.count; i++) {
    tx.s[i] = xrealloc(NULL, lens[i]);
    memset(tx.s[i], 'z', lens[i]);
    tx.n[i] = lens[i];
  }
  CHECK(compare_with_ref(LLM_PRETOK_NONE, &tx, 100, 0, "runs", NULL));
  CHECK(compare_with_ref(LLM_PRETOK_GPT2, &tx, 100, 0, "runs gpt2", NULL));
  texts_free(&tx);
}

static void test_bytes_00_ff(void) {
  static const char bin[] = "\x00\xff\x00\xff\x00";
  const char *s[] = {bin};
  size_t lens[] = {5};
  llm_bpe_merge *m = NULL;
  int n = -1;
  /* (0,255) and (255,0) tie at 2: (0,255) wins. Then X X 0: (X,0) and
  ** (X,X) tie at 1: (256,0) wins. Then (256,257). */
  CHECK(train(LLM_PRETOK_NONE, s, lens, 1, 100, 0, &m, &n) == LLM_OK);
  CHECK(n == 3);
  if (n == 3) {
    CHECK(merge_is(&m[0], 0, 255, 2));
    CHECK(merge_is(&m[1], 256, 0, 1));
    CHECK(merge_is(&m[2], 256, 257, 1));
  }
  llm_free(m);
  /* In GPT-2 mode, inside words and as stray bytes. */
  static const char txt[] = "ab\x00\xff" "cd \xff\xff\x00 a\x00\x00z \xff\xfe\xff ab\x00\xff";
  texts tx = {0};
  tx.count = 3;
  tx.s = xrealloc(NULL, 3 * sizeof *tx.s);
  tx.n = xrealloc(NULL, 3 * sizeof *tx.n);
  for (size_t i = 0; i < 3; i++) {
    tx.n[i] = sizeof txt - 1;
    tx.s[i] = xrealloc(NULL, tx.n[i]);
    memcpy(tx.s[i], txt, tx.n[i]);
  }
  int learned = 0;
  CHECK(compare_with_ref(LLM_PRETOK_GPT2, &tx, 50, 0, "binary", &learned));
  CHECK(learned > 5);
  CHECK(compare_with_ref(LLM_PRETOK_NONE, &tx, 50, 0, "binary none", NULL));
  texts_free(&tx);
}

static void test_multiplicity(void) {
  llm_err err = {0};
  llm_bpe_trainer *t = NULL;
  CHECK(llm_bpe_trainer_new(&t, LLM_PRETOK_NONE, &err) == LLM_OK);
  for (int i = 0; i < 5; i++)
    CHECK(llm_bpe_trainer_add(t, (const uint8_t *)"abab", 4, &err) == LLM_OK);
  CHECK(llm_bpe_trainer_pieces(t) == 1);
  CHECK(llm_bpe_trainer_bytes(t) == 20);
  llm_bpe_merge *m = NULL;
  int n = -1;
  CHECK(llm_bpe_trainer_run(t, 10, 0, NULL, &m, &n, &err) == LLM_OK);
  CHECK(n == 2);
  if (n == 2) {
    CHECK(merge_is(&m[0], 'a', 'b', 10));
    CHECK(merge_is(&m[1], 256, 256, 5));
  }
  llm_free(m);
  llm_bpe_trainer_free(t);

  /* GPT-2 pieces repeat within one text and across texts, with different
  ** multiplicities (the non-uniform weight path). */
  CHECK(llm_bpe_trainer_new(&t, LLM_PRETOK_GPT2, &err) == LLM_OK);
  const char *txt = "the cat the cat the dog";
  CHECK(llm_bpe_trainer_add(t, (const uint8_t *)txt, strlen(txt), &err) == 0);
  /* "the", " cat", " the", " dog" */
  CHECK(llm_bpe_trainer_pieces(t) == 4);
  CHECK(llm_bpe_trainer_bytes(t) == strlen(txt));
  CHECK(llm_bpe_trainer_run(t, 1, 0, NULL, &m, &n, &err) == LLM_OK);
  CHECK(n == 1);
  /* "the" x1 and " the" x2: (t,h) and (h,e) both 3, the most;
  ** (h,e) = (104,101) is the smaller. */
  if (n == 1) CHECK(merge_is(&m[0], 'h', 'e', 3));
  llm_free(m);
  llm_bpe_trainer_free(t);

  texts tx = {0};
  const char *parts[] = {"the cat sat", "the cat", "the cat sat", "x",
                         "the cat", "the cat sat on the mat mat mat"};
  tx.count = sizeof parts / sizeof parts[0];
  tx.s = xrealloc(NULL, tx.count * sizeof *tx.s);
  tx.n = xrealloc(NULL, tx.count * sizeof *tx.n);
  for (size_t i = 0; i < tx.count; i++) {
    tx.n[i] = strlen(parts[i]);
    tx.s[i] = xrealloc(NULL, tx.n[i]);
    memcpy(tx.s[i], parts[i], tx.n[i]);
  }
  CHECK(compare_with_ref(LLM_PRETOK_GPT2, &tx, 100, 0, "mult gpt2", NULL));
  CHECK(compare_with_ref(LLM_PRETOK_NONE, &tx, 100, 0, "mult none", NULL));
  texts_free(&tx);
}

static void test_tie_break(void) {
  /* All pairs occur once: (97,200) < (98,1) < (200,98) by left first. */
  static const char s0[] = "a\xc8" "b\x01";
  const char *s[] = {s0};
  size_t lens[] = {4};
  llm_bpe_merge *m = NULL;
  int n = -1;
  CHECK(train(LLM_PRETOK_NONE, s, lens, 1, 1, 0, &m, &n) == LLM_OK);
  CHECK(n == 1);
  if (n == 1) CHECK(merge_is(&m[0], 'a', 200, 1));
  llm_free(m);
  /* Same left: the smaller right wins. "ac ab" as two pieces. */
  const char *s2[] = {"ac", "ab"};
  CHECK(train(LLM_PRETOK_NONE, s2, NULL, 2, 1, 0, &m, &n) == LLM_OK);
  CHECK(n == 1);
  if (n == 1) CHECK(merge_is(&m[0], 'a', 'b', 1));
  llm_free(m);
  /* The higher count wins over a smaller pair. */
  const char *s3[] = {"ab", "zy", "zy"};
  CHECK(train(LLM_PRETOK_NONE, s3, NULL, 3, 1, 0, &m, &n) == LLM_OK);
  CHECK(n == 1);
  if (n == 1) CHECK(merge_is(&m[0], 'z', 'y', 2));
  llm_free(m);
}

static void test_no_cross_piece_pairs(void) {
  /* "ab" as separate pieces "a" and "b" must never pair. */
  const char *s[] = {"a", "b", "a", "b"};
  llm_bpe_merge *m = NULL;
  int n = -1;
  CHECK(train(LLM_PRETOK_NONE, s, NULL, 4, 10, 0, &m, &n) == LLM_OK);
  CHECK(n == 0);
  llm_free(m);
  /* GPT-2: "a b" -> "a", " b": only (' ', 'b'). */
  const char *s2[] = {"a b"};
  CHECK(train(LLM_PRETOK_GPT2, s2, NULL, 1, 10, 0, &m, &n) == LLM_OK);
  CHECK(n == 1);
  if (n == 1) CHECK(merge_is(&m[0], ' ', 'b', 1));
  llm_free(m);
}

static void test_bad_args(void) {
  llm_err err = {0};
  llm_bpe_trainer *t = NULL;
  CHECK(llm_bpe_trainer_new(&t, 7, &err) == LLM_EINVAL);
  CHECK(t == NULL);
  CHECK(err.msg[0] != 0);
  CHECK(llm_bpe_trainer_new(&t, LLM_PRETOK_NONE, &err) == LLM_OK);
  CHECK(llm_bpe_trainer_add(t, NULL, 3, &err) == LLM_EINVAL);
  CHECK(llm_bpe_trainer_add(t, (const uint8_t *)"abc", 3, &err) == LLM_OK);
  llm_bpe_merge *m = (llm_bpe_merge *)&err;
  int n = 5;
  CHECK(llm_bpe_trainer_run(t, -1, 0, NULL, &m, &n, &err) == LLM_EINVAL);
  CHECK(m == NULL && n == 0);
  CHECK(llm_bpe_trainer_run(t, 10, 0, NULL, NULL, &n, &err) == LLM_EINVAL);
  CHECK(llm_bpe_trainer_run(t, 10, 0, NULL, &m, NULL, &err) == LLM_EINVAL);
  llm_bpe_trainer_free(t);
  llm_bpe_trainer_free(NULL);
  CHECK(llm_bpe_trainer_pieces(NULL) == 0);
  CHECK(llm_bpe_trainer_bytes(NULL) == 0);
}

static void test_run_twice_then_add(void) {
  llm_err err = {0};
  llm_bpe_trainer *t = NULL;
  CHECK(llm_bpe_trainer_new(&t, LLM_PRETOK_GPT2, &err) == LLM_OK);
  const char *a = "to be or not to be, that is the question";
  const char *b = " whether 'tis nobler in the mind to suffer";
  CHECK(llm_bpe_trainer_add(t, (const uint8_t *)a, strlen(a), &err) == 0);
  llm_bpe_merge *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
  int n1 = 0, n2 = 0, n3 = 0, n4 = 0;
  CHECK(llm_bpe_trainer_run(t, 30, 0, NULL, &m1, &n1, &err) == LLM_OK);
  CHECK(llm_bpe_trainer_run(t, 30, 0, NULL, &m2, &n2, &err) == LLM_OK);
  CHECK(n1 == n2 && n1 > 0);
  if (n1 == n2) CHECK(memcmp(m1, m2, (size_t)n1 * sizeof *m1) == 0);
  CHECK(llm_bpe_trainer_add(t, (const uint8_t *)b, strlen(b), &err) == 0);
  CHECK(llm_bpe_trainer_run(t, 30, 0, NULL, &m3, &n3, &err) == LLM_OK);
  /* The same as a fresh trainer fed both texts. */
  const char *both[] = {a, b};
  CHECK(train(LLM_PRETOK_GPT2, both, NULL, 2, 30, 0, &m4, &n4) == LLM_OK);
  CHECK(n3 == n4);
  if (n3 == n4) CHECK(memcmp(m3, m4, (size_t)n3 * sizeof *m3) == 0);
  llm_free(m1);
  llm_free(m2);
  llm_free(m3);
  llm_free(m4);
  llm_bpe_trainer_free(t);
}

/* Many distinct pieces force the piece table to grow several times and
** collide; every piece must keep its own count. */
static void test_many_pieces(void) {
  llm_err err = {0};
  llm_bpe_trainer *t = NULL;
  CHECK(llm_bpe_trainer_new(&t, LLM_PRETOK_NONE, &err) == LLM_OK);
  char buf[32];
  uint64_t bytes = 0;
  for (int rep = 0; rep < 3; rep++)
    for (int i = 0; i < 20000; i++) {
      int len = snprintf(buf, sizeof buf, "p%d", i);
      CHECK(llm_bpe_trainer_add(t, (const uint8_t *)buf, (size_t)len, &err) ==
            LLM_OK);
      bytes += (uint64_t)len;
    }
  CHECK(llm_bpe_trainer_pieces(t) == 20000);
  CHECK(llm_bpe_trainer_bytes(t) == bytes);
  llm_bpe_merge *m = NULL;
  int n = 0;
  CHECK(llm_bpe_trainer_run(t, 1, 0, NULL, &m, &n, &err) == LLM_OK);
  /* "p1" starts 11111 distinct pieces, x3 each. */
  CHECK(n == 1);
  if (n == 1) CHECK(merge_is(&m[0], 'p', '1', 3 * 11111));
  llm_free(m);
  llm_bpe_trainer_free(t);
}

int main(void) {
  RUN(test_random_none);
  RUN(test_random_gpt2);
  RUN(test_shakespeare_gpt2);
  RUN(test_shakespeare_none);
  RUN(test_min_frequency);
  RUN(test_zero_merges);
  RUN(test_empty_input);
  RUN(test_repeated_byte);
  RUN(test_bytes_00_ff);
  RUN(test_multiplicity);
  RUN(test_tie_break);
  RUN(test_no_cross_piece_pairs);
  RUN(test_bad_args);
  RUN(test_run_twice_then_add);
  RUN(test_many_pieces);
  return CHECK_DONE();
}
