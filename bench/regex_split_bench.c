/*
** regex_split_bench.c: regex pre-tokenization throughput (PCRE2, through
** text/regex_split.h) next to the hand-written GPT-2 pre-tokenizer
** (text/pretok.c) on the same text.
**
**   make build/bench_regex_split_bench
**   build/bench_regex_split_bench [TEXTFILE]
**
** TEXTFILE defaults to ../shared/data/tinyshakespeare.txt.
**
** Prints MB/s for: llm_pretok_next(LLM_PRETOK_GPT2); the gpt-2 pattern with
** LLM_SPLIT_ISOLATED (the same pieces: checked before timing); and, for
** scale, the llama3 and qwen2 patterns and the deepseek-coder list. The
** whole file is one piece, as when a document is tokenized; pieces are
** collected into an llm_spans that is reused, as a tokenizer would.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/pretok.h"
#include "text/regex_split.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A named list compiled, with two span lists to ping-pong between. */
typedef struct {
  llm_regex *re[8];
  int n;
  llm_spans a, b;
} chain;

static int chain_init(chain *c, const char *name) {
  memset(c, 0, sizeof *c);
  const char *const *p = llm_pretok_patterns(name, &c->n);
  if (!p || c->n > 8) return 0;
  for (int i = 0; i < c->n; i++) {
    llm_err e = {0};
    if (llm_regex_compile(&c->re[i], p[i], strlen(p[i]), &e) != LLM_OK) {
      fprintf(stderr, "%s: %s\n", name, e.msg);
      return 0;
    }
  }
  return 1;
}

static void chain_free(chain *c) {
  for (int i = 0; i < c->n; i++) llm_regex_free(c->re[i]);
  llm_spans_free(&c->a);
  llm_spans_free(&c->b);
}

/* Splits s[0..n) through the chain; returns the final spans (or NULL). */
static const llm_spans *chain_run(chain *c, const uint8_t *s, size_t n) {
  size_t a0 = 0, b0 = n;
  llm_spans whole = {&a0, &b0, 1, 1};
  const llm_spans *in = &whole;
  llm_spans *out = &c->a;
  if (c->n < 1) return NULL;
  for (int i = 0; i < c->n; i++) {
    llm_err e = {0};
    out->len = 0;
    if (llm_regex_split(c->re[i], s, n, in, LLM_SPLIT_ISOLATED, 0, out,
                        &e) != LLM_OK) {
      fprintf(stderr, "split: %s\n", e.msg);
      return NULL;
    }
    in = out;
    out = out == &c->a ? &c->b : &c->a;
  }
  return out == &c->a ? &c->b : &c->a; /* the last one written */
}

static size_t pretok_pass(const uint8_t *s, size_t n) {
  size_t pieces = 0;
  for (size_t pos = 0; pos < n; pieces++)
    pos = llm_pretok_next(LLM_PRETOK_GPT2, s, n, pos);
  return pieces;
}

/* Best MB/s over 5 rounds of at least 0.2 s; c NULL times pretok.c. */
static double rate(chain *c, const uint8_t *s, size_t n, size_t *check) {
  double best = 0;
  for (int round = 0; round < 5; round++) {
    size_t reps = 0;
    double t0 = now(), t;
    do {
      if (c) {
        const llm_spans *p = chain_run(c, s, n);
        *check += p ? p->len : 0;
      } else {
        *check += pretok_pass(s, n);
      }
      reps++;
    } while ((t = now() - t0) < 0.2);
    double mbs = (double)n * (double)reps / t / 1e6;
    if (mbs > best) best = mbs;
  }
  return best;
}

/* Whether the gpt-2 pattern's pieces are pretok.c's. */
static int same_as_pretok(chain *c, const uint8_t *s, size_t n) {
  const llm_spans *p = chain_run(c, s, n);
  if (!p) return 0;
  size_t pos = 0, k = 0;
  for (; pos < n; k++) {
    size_t end = llm_pretok_next(LLM_PRETOK_GPT2, s, n, pos);
    if (k >= p->len || p->start[k] != pos || p->end[k] != end) return 0;
    pos = end;
  }
  return k == p->len;
}

static uint8_t *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *s = len > 0 ? malloc((size_t)len) : NULL;
  if (!s || fread(s, 1, (size_t)len, f) != (size_t)len) {
    fprintf(stderr, "cannot read %s\n", path);
    free(s);
    s = NULL;
  }
  fclose(f);
  *n = s ? (size_t)len : 0;
  return s;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "../shared/data/tinyshakespeare.txt";
  size_t n, check = 0;
  uint8_t *s = read_file(path, &n);
  if (!s) return 1;
  int status = 0;
  double pre = rate(NULL, s, n, &check);
  printf("%s: %zu bytes\n", path, n);
  printf("  pretok.c gpt2 (hand-written):   %4.0f MB/s, %zu pieces\n", pre,
         pretok_pass(s, n));
  const char *names[] = {"gpt-2", "llama3", "qwen2", "deepseek-coder"};
  for (int k = 0; k < 4; k++) {
    chain c;
    if (!chain_init(&c, names[k])) {
      status = 1;
      chain_free(&c);
      continue;
    }
    if (k == 0 && !same_as_pretok(&c, s, n)) {
      printf("  gpt-2 pattern and pretok.c DISAGREE on this text\n");
      status = 1;
    }
    double r = rate(&c, s, n, &check);
    const llm_spans *p = chain_run(&c, s, n);
    printf("  regex %-15s (PCRE2):     %4.0f MB/s, %zu pieces%s\n", names[k],
           r, p ? p->len : 0, k == 0 ? ", same as pretok.c" : "");
    chain_free(&c);
  }
  printf("  (checksum %zu)\n", check & 0xff);
  free(s);
  return status;
}
