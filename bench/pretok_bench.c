/*
** pretok_bench.c: GPT-2 pre-tokenization throughput.
**
**   cc -std=c11 -D_GNU_SOURCE -O2 -Iengine bench/pretok_bench.c \
**      engine/text/pretok.c engine/text/unicode_tables.c engine/text/utf8.c \
**      -o build/pretok_bench
**   ./build/pretok_bench ../shared/data/tinyshakespeare.txt
**
** Prints MB/s for LLM_PRETOK_GPT2 and, as a machine-independent figure, its
** ratio to a memory-bound reference pass (byte sum) over the same buffer.
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "text/pretok.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs one pass of kind k (0 pretok, 1 byte sum); returns a checksum. */
static size_t pass(int k, const uint8_t *s, size_t n) {
  size_t acc = 0;
  if (k == 0) {
    for (size_t pos = 0; pos < n; acc++)
      pos = llm_pretok_next(LLM_PRETOK_GPT2, s, n, pos);
  } else {
    for (size_t i = 0; i < n; i++) acc += s[i];
  }
  return acc;
}

/* Best MB/s over several timed rounds of at least 0.2 s each. */
static double rate(int k, const uint8_t *s, size_t n, size_t *check) {
  double best = 0;
  for (int round = 0; round < 5; round++) {
    size_t reps = 0;
    double t0 = now(), t;
    do {
      *check += pass(k, s, n);
      reps++;
    } while ((t = now() - t0) < 0.2);
    double mbs = (double)n * (double)reps / t / 1e6;
    if (mbs > best) best = mbs;
  }
  return best;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s TEXTFILE\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *s = len > 0 ? malloc((size_t)len) : NULL;
  if (!s || fread(s, 1, (size_t)len, f) != (size_t)len) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    fclose(f);
    free(s);
    return 1;
  }
  fclose(f);
  size_t n = (size_t)len, check = 0;
  size_t pieces = pass(0, s, n);
  double pre = rate(0, s, n, &check);
  double ref = rate(1, s, n, &check);
  printf("pretok gpt2: %zu bytes, %zu pieces, %.0f MB/s; byte-sum reference "
         "%.0f MB/s; ratio %.3f (checksum %zu)\n",
         n, pieces, pre, ref, pre / ref, check & 0xff);
  free(s);
  return 0;
}
