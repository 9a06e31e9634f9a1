/*
** infer_bench.c: inference speed (engine/nn/infer.h), decode and prefill,
** against the machine's memory read bandwidth measured in the same run.
**
**   make build/bench_infer_bench && build/bench_infer_bench [demo|15M|llama15M|all [REPS]]
**   build/bench_infer_bench mem   prints only "mem_gbs X": the read bandwidth
**                                 of the pool's threads (see mem below)
**
** Configurations (GPT, random weights: llm_model_init, seed 1):
**   demo  L=4 NH=4 C=128 T=64  V=2001  (sql/demo.sql's model: 2000 BPE
**         tokens + 1 special), 1.06 M parameters, 4.2 MB: fits in L3;
**   15M   L=6 NH=6 C=288 T=256 V=32000, 15.3 M parameters, 61 MB;
** and Llama (the stories15M shape of llama2.c, random weights, tied head):
**   llama15M L=6 NH=6 C=288 H=768 T=256 V=32000, 15.2 M parameters, 61 MB.
** The pool has one thread per CPU (llm_pool_new(0)). Every figure is the
** median of REPS (default 7) runs after a warm-up; "best" is the fastest.
**
** decode: llm_infer_reset, then min(128, T) tokens one at a time, each
**   llm_infer_forward (n = 1) then llm_infer_logits of its row (the head is
**   part of decoding); ms/call is per token. GB/s = tok/s x 4 x n_params:
**   every weight in float32 read once per token (wte as the head; the KV
**   cache is not counted). %mem: that over the 512 MB read bandwidth by the
**   pool's thread count; %wmem: over the bandwidth of the same threads
**   reading a warm buffer of the weights' size again and again (for the
**   demo that is cache bandwidth, the weights stay in L3).
** prefill: llm_infer_reset, one llm_infer_forward of n tokens, the logits
**   of the last row; ms/call is per prompt; x_dec = prefill / decode tok/s.
** GFLOP/s: 2 per weight and token for the layers' matrices (n_params minus
**   wte and wpe), causal attention 4 L C (p + 1) for the token at position
**   p, the head 2 V C per row of logits.
** mem (before each configuration): each of 1, or the pool's count of,
**   pthreads sums its contiguous part of the buffer with AVX2 loads (plain
**   loads without AVX2); median and best of 7 passes, GB/s of 1e9 bytes.
** The machine is shared and noisy: compare %mem, %wmem and x_dec across
** runs, not the raw rates.
*/
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/infer.h"
#include "bench_time.h"
#include "nn/model.h"

char *openblas_get_corename(void);

typedef struct bench_cfg {
  const char *name;
  int arch, L, NH, C, H, T, V; /* H: 0 for the architecture's default */
  int prefill[2]; /* prompt lengths (0: none) */
} bench_cfg;

static const bench_cfg configs[] = {
    {"demo", LLM_ARCH_GPT, 4, 4, 128, 0, 64, 2001, {64, 0}},
    {"15M", LLM_ARCH_GPT, 6, 6, 288, 0, 256, 32000, {128, 256}},
    {"llama15M", LLM_ARCH_LLAMA, 6, 6, 288, 768, 256, 32000, {128, 256}},
};
#define NCFG (sizeof configs / sizeof configs[0])

#define MEM_BYTES ((size_t)512 << 20)
#define MEM_PASSES 7

static volatile uint64_t sink; /* keeps sums and logits from being dropped */


/* ---- memory read bandwidth ---- */

typedef struct mem_part {
  const uint64_t *p;
  size_t n; /* uint64s, a multiple of 16 */
  int loops;
  uint64_t sum;
} mem_part;

__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint64_t *p,
                                                         size_t n) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (size_t i = 0; i < n; i += 16) {
    a = _mm256_add_epi64(a, _mm256_load_si256((const __m256i *)(p + i)));
    b = _mm256_add_epi64(b, _mm256_load_si256((const __m256i *)(p + i + 4)));
    c = _mm256_add_epi64(c, _mm256_load_si256((const __m256i *)(p + i + 8)));
    d = _mm256_add_epi64(d, _mm256_load_si256((const __m256i *)(p + i + 12)));
  }
  uint64_t t[4];
  _mm256_storeu_si256((__m256i *)t, _mm256_add_epi64(_mm256_add_epi64(a, b),
                                                     _mm256_add_epi64(c, d)));
  return t[0] + t[1] + t[2] + t[3];
}

static uint64_t sum_plain(const uint64_t *p, size_t n) {
  uint64_t a = 0, b = 0;
  for (size_t i = 0; i < n; i += 2) a += p[i], b += p[i + 1];
  return a + b;
}

static void *mem_thread(void *arg) {
  mem_part *m = arg;
  int avx2 = __builtin_cpu_supports("avx2");
  for (int l = 0; l < m->loops; l++) {
    __asm__ volatile("" ::: "memory"); /* read it again each loop */
    m->sum += avx2 ? sum_avx2(m->p, m->n) : sum_plain(m->p, m->n);
  }
  return NULL;
}

/* Read GB/s of the first `bytes` of buf by nt threads (the caller is part
** 0), each its contiguous part, `loops` times so that a pass is ~MEM_BYTES:
** the median of MEM_PASSES passes after a warm-up one (the best in *best).
** Thread start and join are timed too: tens of microseconds a pass. */
static double mem_gbs(const uint64_t *buf, size_t bytes, int nt, double *best) {
  mem_part part[64];
  pthread_t th[64];
  double t[MEM_PASSES], lo;
  size_t chunk = bytes / 8 / (size_t)nt / 16 * 16;
  int loops = bytes < MEM_BYTES ? (int)(MEM_BYTES / bytes) : 1;
  for (int r = -1; r < MEM_PASSES; r++) {
    double t0 = now();
    for (int i = 0; i < nt; i++) {
      part[i] = (mem_part){buf + (size_t)i * chunk, chunk, loops, 0};
      if (i && pthread_create(&th[i], NULL, mem_thread, &part[i]))
        exit((fprintf(stderr, "infer_bench: pthread_create failed\n"), 1));
    }
    mem_thread(&part[0]);
    for (int i = 1; i < nt; i++) pthread_join(th[i], NULL);
    if (r >= 0) t[r] = now() - t0;
    for (int i = 0; i < nt; i++) sink += part[i].sum;
  }
  double done = (double)chunk * 8 * nt * loops, med = median(t, MEM_PASSES, &lo);
  *best = done / lo / 1e9;
  return done / med / 1e9;
}

/* ---- inference ---- */

/* Tokens/s of a decode loop (n tokens one at a time from an empty
** sequence) or of a prefill (n at once): the median of reps runs after a
** warm-up one (the best in *best). */
static int infer_rate(llm_infer *s, const int32_t *tok, int n, int decode,
                      int reps, llm_pool *pool, double *med, double *best,
                      llm_err *err) {
  double t[64], lo;
  for (int r = -1; r < reps; r++) {
    double t0 = now();
    llm_infer_reset(s);
    for (int i = 0; i < (decode ? n : 1); i++) {
      if (llm_infer_forward(s, tok + i, decode ? 1 : n, pool, err)) return 1;
      sink += llm_infer_logits(s, decode ? 0 : n - 1, 1, pool)[0] > 0;
    }
    if (r >= 0) t[r] = now() - t0;
  }
  *med = n / median(t, reps, &lo);
  *best = n / lo;
  return 0;
}

/* Flops of n tokens from an empty sequence (one prompt or a decode loop)
** with head_rows rows of logits: see the header. */
static double flops(const llm_model *m, int n, int head_rows) {
  const llm_config *c = llm_model_config(m);
  const llm_tensor *wpe = llm_model_find(m, "wpe");
  double mats = (double)(llm_model_n_params(m) - llm_model_find(m, "wte")->numel -
                         (wpe ? wpe->numel : 0));
  return 2.0 * mats * n + 2.0 * c->n_layer * c->n_embd * (double)n * (n + 1) +
         2.0 * c->vocab_size * c->n_embd * head_rows;
}

static int run(const bench_cfg *b, const uint64_t *buf, int reps) {
  llm_err err;
  llm_pool *pool = NULL;
  llm_model *m = NULL;
  llm_infer *s = NULL;
  int32_t *tok = NULL;
  int rc = 1;
  if (llm_pool_new(0, &pool, &err)) goto done;
  int nt = llm_pool_threads(pool);
  llm_config c = {0};
  c.arch = b->arch, c.n_layer = b->L, c.n_head = b->NH, c.n_embd = b->C;
  c.n_hidden = b->H;
  c.block_size = b->T, c.vocab_size = b->V;
  if (llm_model_new(&c, &m, &err)) goto done;
  llm_rng rng;
  llm_rng_seed(&rng, 1);
  llm_model_init(m, &rng);
  if (llm_infer_new_model(m, &s, &err)) goto done;
  if (!(tok = malloc(sizeof *tok * (size_t)b->T))) {
    llm_fail(&err, LLM_ENOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < b->T; i++) tok[i] = (int32_t)llm_rng_below(&rng, (uint64_t)b->V);
  double wbytes = 4.0 * (double)llm_model_n_params(m);
  printf("%-5s L=%d NH=%d C=%d T=%d V=%d: %.2f M parameters, %.1f MB\n",
         b->name, b->L, b->NH, b->C, b->T, b->V, wbytes / 4e6, wbytes / 1e6);
  double b1, bn, bw, mem1 = mem_gbs(buf, MEM_BYTES, 1, &b1);
  double memn = mem_gbs(buf, MEM_BYTES, nt, &bn);
  double memw = mem_gbs(buf, (size_t)wbytes, nt, &bw);
  printf("%-5s mem read GB/s: 512 MB by 1 thread %.1f (best %.1f), by %d "
         "%.1f (best %.1f); %.1f MB (weights' size, warm) by %d %.1f (best "
         "%.1f)\n", b->name, mem1, b1, nt, memn, bn, wbytes / 1e6, nt, memw, bw);
  printf("%-5s %-8s %4s %4s %8s %8s %8s %6s %5s %5s %6s %7s\n", "", "phase",
         "n", "reps", "ms/call", "tok/s", "best", "GB/s", "%mem", "%wmem",
         "x_dec", "GFLOP/s");
  int nd = b->T < 128 ? b->T : 128;
  double dec, dbest;
  if (infer_rate(s, tok, nd, 1, reps, pool, &dec, &dbest, &err)) goto done;
  double gbs = dec * wbytes / 1e9;
  printf("%-5s %-8s %4d %4d %8.3f %8.0f %8.0f %6.1f %5.1f %5.1f %6s %7.1f\n",
         b->name, "decode", nd, reps, 1e3 / dec, dec, dbest, gbs,
         100 * gbs / memn, 100 * gbs / memw, "-", flops(m, nd, nd) * dec / nd / 1e9);
  for (int k = 0; k < 2 && b->prefill[k]; k++) {
    int n = b->prefill[k];
    double pre, pbest;
    if (infer_rate(s, tok, n, 0, reps, pool, &pre, &pbest, &err)) goto done;
    printf("%-5s %-8s %4d %4d %8.2f %8.0f %8.0f %6s %5s %5s %6.1f %7.1f\n",
           b->name, "prefill", n, reps, 1e3 * n / pre, pre, pbest, "-", "-", "-",
           pre / dec, flops(m, n, 1) * pre / n / 1e9);
  }
  fflush(stdout);
  rc = 0;
done:
  if (rc) fprintf(stderr, "infer_bench: %s\n", err.msg);
  free(tok);
  llm_infer_free(s);
  llm_model_free(m);
  llm_pool_free(pool);
  return rc;
}

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "all";
  int reps = argc > 2 ? atoi(argv[2]) : 7;
  int found = !strcmp(which, "all") || !strcmp(which, "mem");
  for (size_t i = 0; i < NCFG; i++) found |= !strcmp(which, configs[i].name);
  if (!found || reps < 1 || reps > 64) {
    fprintf(stderr, "usage: infer_bench [demo|15M|llama15M|all [REPS (1-64)] | mem]\n");
    return 2;
  }
  const char *ct = getenv("OPENBLAS_CORETYPE");
  long l3k = 0; /* sysconf's figure can be the whole socket's */
  FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
  if (f && fscanf(f, "%ldK", &l3k) != 1) l3k = 0;
  if (f) fclose(f);
  printf("OpenBLAS core: %s (OPENBLAS_CORETYPE=%s); L3 of cpu0: %ld KB; "
         "decode GB/s = tok/s x 4 x n_params\n", openblas_get_corename(),
         ct ? ct : "unset", l3k);
  uint64_t *buf = aligned_alloc(64, MEM_BYTES);
  if (!buf) return fprintf(stderr, "infer_bench: out of memory\n"), 1;
  memset(buf, 1, MEM_BYTES); /* real pages, not the shared zero page */
  if (!strcmp(which, "mem")) { /* for other scripts: the pool's threads' figure */
    llm_pool *pool;
    llm_err err;
    if (llm_pool_new(0, &pool, &err)) return fprintf(stderr, "infer_bench: %s\n", err.msg), 1;
    double best, gbs = mem_gbs(buf, MEM_BYTES, llm_pool_threads(pool), &best);
    llm_pool_free(pool);
    printf("mem_gbs %.2f\n", gbs);
    free(buf);
    return 0;
  }
  int rc = 0;
  for (size_t i = 0; i < NCFG; i++)
    if (!strcmp(which, "all") || !strcmp(which, configs[i].name))
      rc |= run(&configs[i], buf, reps);
  free(buf);
  return rc;
}
