/*
** bpe_train_bench.c: how fast BPE training is, and whether it scales
** linearly with the corpus.
**
**   bpe_train_bench PATH/tinyshakespeare.txt [STAGE]
**
** STAGE: all (default), shakespeare, scale, none, none100. The stages:
**   shakespeare  3840 merges on Tiny Shakespeare, GPT-2 pre-tokenization;
**   scale        3840 merges on synthetic corpora of 10, 30 and 100 MB
**                (Zipf-distributed pseudo-words), GPT-2 mode, and the ratio
**                time(100 MB) / time(10 MB): about 10 when linear;
**   none         3840 merges on 10 MB in NONE mode (rows of ~1 KB, and the
**                same 10 MB as one row);
**   none100      100 MB as a single row in NONE mode (not part of "all").
** Prints figures only; no assertions.
**
** Build from the repository root: compile this file with -O2 -Iengine
** together with every engine .c file and tests/engine/alloc_libc.c, -lm.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/bpe_train.h"
#include "text/pretok.h"

#define N_MERGES 3840

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long peak_rss_mb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kb = atol(line + 6);
  fclose(f);
  return kb < 0 ? -1 : kb / 1024;
}

typedef struct result {
  double t_add, t_run;
  int merges;
  size_t pieces;
  uint64_t last_count;
} result;

/* Feeds text as rows (split after each newline) or as one call, then trains.
** Returns 0 on success. */
static int train(int mode, const uint8_t *s, size_t n, int as_rows,
                 result *res) {
  llm_err err = {0};
  llm_bpe_trainer *t = NULL;
  if (llm_bpe_trainer_new(&t, mode, &err)) {
    fprintf(stderr, "new: %s\n", err.msg);
    return 1;
  }
  double t0 = now();
  int rc = 0;
  if (as_rows) {
    for (size_t pos = 0; pos < n && !rc;) {
      const uint8_t *nl = memchr(s + pos, '\n', n - pos);
      size_t end = nl ? (size_t)(nl - s) + 1 : n;
      rc = llm_bpe_trainer_add(t, s + pos, end - pos, &err);
      pos = end;
    }
  } else {
    rc = llm_bpe_trainer_add(t, s, n, &err);
  }
  double t1 = now();
  llm_bpe_merge *m = NULL;
  int n_out = 0;
  if (!rc) rc = llm_bpe_trainer_run(t, N_MERGES, 0, NULL, &m, &n_out, &err);
  double t2 = now();
  if (rc) {
    fprintf(stderr, "training failed: %s\n", err.msg);
    llm_bpe_trainer_free(t);
    return 1;
  }
  res->t_add = t1 - t0;
  res->t_run = t2 - t1;
  res->merges = n_out;
  res->pieces = llm_bpe_trainer_pieces(t);
  res->last_count = n_out ? m[n_out - 1].count : 0;
  llm_free(m);
  llm_bpe_trainer_free(t);
  return 0;
}

static void print_result(const char *label, size_t n, const result *r) {
  double total = r->t_add + r->t_run;
  printf("%-34s %7.1f MB  add %7.3f s  train %7.3f s  total %7.3f s  "
         "%6.1f MB/s  merges %d  pieces %zu  last count %llu  peak RSS %ld MB\n",
         label, (double)n / 1e6, r->t_add, r->t_run, total,
         (double)n / 1e6 / total, r->merges, r->pieces,
         (unsigned long long)r->last_count, peak_rss_mb());
  fflush(stdout);
}

/* ---------------------------------------------------------------------- */
/* Synthetic corpus: pseudo-words from a generated vocabulary, drawn with a
** Zipf-like law (weight of rank r ~ 1 / (r + 1)), joined by spaces and
** punctuation, with a newline every so often (rows). */

static uint64_t rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *s = x;
  return x;
}

#define VOCAB 200000

static uint8_t *make_corpus(size_t size) {
  uint64_t rng = 0x2545f4914f6cdd1dULL;
  static const char letters[] = "etaoinshrdlcumwfgypbvkjxqz";
  char(*words)[16] = malloc((size_t)VOCAB * sizeof *words);
  uint8_t *wlen = malloc(VOCAB);
  double *cdf = malloc((size_t)VOCAB * sizeof *cdf);
  uint8_t *out = malloc(size + 64);
  if (!words || !wlen || !cdf || !out) {
    fprintf(stderr, "bench: out of memory\n");
    exit(1);
  }
  for (int w = 0; w < VOCAB; w++) {
    int len = 1 + (int)(rng_next(&rng) % 4) + (int)(rng_next(&rng) % 4) +
              (int)(rng_next(&rng) % 5);
    for (int i = 0; i < len; i++) {
      /* Skewed letters: the minimum of two uniform draws. */
      size_t a = rng_next(&rng) % 26, b = rng_next(&rng) % 26;
      words[w][i] = letters[a < b ? a : b];
    }
    wlen[w] = (uint8_t)len;
  }
  double acc = 0;
  for (int w = 0; w < VOCAB; w++) {
    acc += 1.0 / (double)(w + 1);
    cdf[w] = acc;
  }
  size_t n = 0;
  int words_in_row = 0, cap_next = 1;
  while (n < size) {
    double u = (double)(rng_next(&rng) >> 11) / 9007199254740992.0 * acc;
    size_t lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    memcpy(out + n, words[lo], wlen[lo]);
    if (cap_next && out[n] >= 'a' && out[n] <= 'z') out[n] -= 32;
    n += wlen[lo];
    cap_next = 0;
    uint64_t r = rng_next(&rng) % 100;
    words_in_row++;
    if (words_in_row > 20 && r < 5) {
      memcpy(out + n, ".\n", 2);
      n += 2;
      words_in_row = 0;
      cap_next = 1;
    } else if (r < 8) {
      memcpy(out + n, ", ", 2);
      n += 2;
    } else if (r < 12) {
      memcpy(out + n, ". ", 2);
      n += 2;
      cap_next = 1;
    } else if (r < 13) {
      memcpy(out + n, "; ", 2);
      n += 2;
    } else if (r < 14) {
      memcpy(out + n, "'s ", 3);
      n += 3;
    } else {
      out[n++] = ' ';
    }
  }
  free(words);
  free(wlen);
  free(cdf);
  return out; /* the first size bytes are used */
}

static uint8_t *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 20, len = 0;
  uint8_t *buf = malloc(cap);
  while (buf) {
    if (len == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    if (got == 0) break;
    len += got;
  }
  fclose(f);
  *n = len;
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr,
            "usage: %s PATH/tinyshakespeare.txt "
            "[all|shakespeare|scale|none|none100]\n",
            argv[0]);
    return 2;
  }
  const char *stage = argc > 2 ? argv[2] : "all";
  int all = strcmp(stage, "all") == 0;
  result r;

  if (all || strcmp(stage, "shakespeare") == 0) {
    size_t n = 0;
    uint8_t *text = read_file(argv[1], &n);
    if (!text) {
      fprintf(stderr, "cannot read %s\n", argv[1]);
      return 1;
    }
    if (train(LLM_PRETOK_GPT2, text, n, 0, &r)) return 1;
    print_result("tinyshakespeare gpt2 (one call)", n, &r);
    if (train(LLM_PRETOK_GPT2, text, n, 1, &r)) return 1;
    print_result("tinyshakespeare gpt2 (rows)", n, &r);
    free(text);
  }

  if (all || strcmp(stage, "scale") == 0 || strcmp(stage, "none") == 0) {
    size_t sizes[] = {10000000, 30000000, 100000000};
    int scale = all || strcmp(stage, "scale") == 0;
    size_t max = scale ? sizes[2] : sizes[0];
    double t0 = now();
    uint8_t *corpus = make_corpus(max);
    printf("synthetic corpus: %.0f MB generated in %.2f s\n", (double)max / 1e6,
           now() - t0);
    if (scale) {
      double total[3], run[3], add[3];
      for (int i = 0; i < 3; i++) {
        char label[64];
        snprintf(label, sizeof label, "synthetic gpt2 %zu MB", sizes[i] / 1000000);
        if (train(LLM_PRETOK_GPT2, corpus, sizes[i], 1, &r)) return 1;
        print_result(label, sizes[i], &r);
        total[i] = r.t_add + r.t_run;
        run[i] = r.t_run;
        add[i] = r.t_add;
      }
      printf("ratio time(100 MB)/time(10 MB): total %.2f, add only %.2f, "
             "train only %.2f (linear = 10)\n",
             total[2] / total[0], add[2] / add[0], run[2] / run[0]);
      printf("(training depends on the distinct pieces, which grow slower "
             "than the corpus; adding does a fixed amount of work per byte, "
             "but each lookup costs more once the piece table outgrows the "
             "CPU caches)\n");
      printf("ratio time(30 MB)/time(10 MB): total %.2f (linear = 3)\n",
             total[1] / total[0]);
    }
    if (all || strcmp(stage, "none") == 0) {
      if (train(LLM_PRETOK_NONE, corpus, sizes[0], 1, &r)) return 1;
      print_result("synthetic none 10 MB (rows)", sizes[0], &r);
      if (train(LLM_PRETOK_NONE, corpus, sizes[0], 0, &r)) return 1;
      print_result("synthetic none 10 MB (one row)", sizes[0], &r);
    }
    free(corpus);
  }

  if (strcmp(stage, "none100") == 0) {
    uint8_t *corpus = make_corpus(100000000);
    if (train(LLM_PRETOK_NONE, corpus, 100000000, 0, &r)) return 1;
    print_result("synthetic none 100 MB (one row)", 100000000, &r);
    free(corpus);
  }
  return 0;
}
