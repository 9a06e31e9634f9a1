/*
** train_step_bench.c: speed of the model's training forward + backward.
**
**   train_step_bench [CONFIG [STEPS [THREADS]]]
**   train_step_bench peak [THREADS]
**
** CONFIG: recipe, large, large64 or all (default); THREADS: 1 or 2 (default
** both). `peak` prints only the CPU's fp32 peak on THREADS threads (default
** 2), as fma_peak.h measures it: bench/train_bench.py asks for it.
**
** Configurations (V = 256, byte tokens):
**   recipe   L=4 NH=4 C=128 T=64  B=12
**   large    L=6 NH=6 C=384 T=256 B=16
**   large64  the same with B=64
** Each runs with 1 and 2 pool threads: a warm-up step, then STEPS timed
** steps (default 20 for recipe, 3 for the large ones). Columns: the median
** forward, backward and forward+backward ms (step_ms) and the fastest
** step (best_ms: on a shared machine the other load only ever adds time),
** tokens/s of both, GFLOP/s of the median step, the reference sgemm's
** GFLOP/s and the ratio of the two. A full optimizer step also needs
** gradient clipping and AdamW (optim.h, on the same pool): their time is
** the "optim" column (ms), and "train" is tokens/s of the whole step.
**
** FLOPs per step, as nanoGPT's estimate_mfu counts them:
**   tokens * (6 * P + 12 * L * T * C)
** with P the parameters without wpe (the tied wte counts once, as the head)
** and the attention term for the full, not causal, T x T scores. The
** engine skips most of the causal triangle, so it does less work than that.
**
** Reference: on a noisy shared machine a GFLOP/s figure means little alone,
** so each run also times a plain llm_sgemm of the MLP's shape (tokens x 4C
** x C), split over the same threads the way the layers split it, and
** prints the model's GFLOP/s as a fraction of it; and the fp32 peak of
** the same threads (fma_peak.h: an FMA loop on registers), with the step's
** GFLOP/s as a share of it (%peak).
**
** OpenBLAS picks its kernels from the CPU model; set OPENBLAS_CORETYPE (e.g.
** SkylakeX) to override; the name in use is printed.
**
** Build from the repository root: compile with -O2 -Iengine together with
** every engine .c file, tests/engine/alloc_libc.c and
** tests/engine/blas_openblas.c; link `pkg-config --libs openblas` -lm.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/blas.h"
#include "bench_time.h"
#include "fma_peak.h"
#include "nn/model.h"
#include "nn/optim.h"

char *openblas_get_corename(void);

typedef struct bench_cfg {
  const char *name;
  int L, NH, C, T, B, steps;
} bench_cfg;

static const bench_cfg configs[] = {
    {"recipe", 4, 4, 128, 64, 12, 20},
    {"large", 6, 6, 384, 256, 16, 3},
    {"large64", 6, 6, 384, 256, 64, 3},
};


/* The reference product: out[M,N] = a[M,K] b[N,K]^T, rows split over the
** pool like llm_matmul_forward does. */
typedef struct ref_ctx {
  const float *a, *b;
  float *out;
  int N, K;
} ref_ctx;

static void ref_rows(void *p, size_t lo, size_t hi, int tid) {
  const ref_ctx *c = p;
  (void)tid;
  llm_sgemm(0, 1, (int)(hi - lo), c->N, c->K, 1.0f, c->a + lo * (size_t)c->K,
            c->K, c->b, c->K, 0.0f, c->out + lo * (size_t)c->N, c->N);
}

static double ref_gflops(llm_pool *pool, int M, int N, int K) {
  float *a = malloc(sizeof(float) * (size_t)M * K);
  float *b = malloc(sizeof(float) * (size_t)N * K);
  float *out = malloc(sizeof(float) * (size_t)M * N);
  for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
  for (size_t i = 0; i < (size_t)N * K; i++) b[i] = (float)(i % 5) * 0.1f;
  ref_ctx c = {a, b, out, N, K};
  llm_pool_for(pool, (size_t)M, ref_rows, &c);
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    double t0 = now();
    llm_pool_for(pool, (size_t)M, ref_rows, &c);
    double t = now() - t0;
    best = t < best ? t : best;
  }
  free(a), free(b), free(out);
  return 2.0 * M * N * K / best / 1e9;
}

/* The rest of an optimizer step, as the trainer does it: clip the
** gradient norm to 1, then AdamW over the model's tensors. */
static double optim_ms(llm_model *m, float *am, float *av, int64_t t,
                       llm_pool *pool) {
  llm_param_seg segs[32];
  int n = llm_model_n_tensors(m);
  for (int i = 0; i < n && i < 32; i++) {
    const llm_tensor *x = llm_model_tensor(m, i);
    segs[i] = (llm_param_seg){x->offset, x->numel, x->decay};
  }
  llm_adamw o = {6e-4f, 0.9f, 0.95f, 1e-8f, 0.1f};
  double t0 = now();
  llm_clip_grad_norm(llm_model_grads(m), llm_model_n_params(m), 1.0f, pool);
  llm_adamw_step(&o, t, llm_model_params(m), llm_model_grads(m), am, av, segs,
                 n < 32 ? n : 32, pool);
  return (now() - t0) * 1e3;
}

static int run(const bench_cfg *b, int threads, int steps) {
  llm_err err;
  llm_pool *pool = NULL;
  llm_model *m = NULL;
  int32_t *tok = NULL;
  float *am = NULL, *av = NULL;
  double *tf = NULL, *tb = NULL, *tt = NULL;
  int rc = 1;
  if (llm_pool_new(threads, &pool, &err)) goto done;
  llm_config c = {0};
  c.n_layer = b->L, c.n_head = b->NH, c.n_embd = b->C;
  c.block_size = b->T, c.vocab_size = 256;
  if (llm_model_new(&c, &m, &err)) goto done;
  llm_rng rng;
  llm_rng_seed(&rng, 1);
  llm_model_init(m, &rng);
  size_t N = (size_t)b->B * b->T, np = llm_model_n_params(m);
  tok = malloc(sizeof *tok * (N + 1));
  am = calloc(np, sizeof *am), av = calloc(np, sizeof *av);
  tf = malloc(sizeof *tf * steps), tb = malloc(sizeof *tb * steps);
  tt = malloc(sizeof *tt * steps);
  if (!tok || !am || !av || !tf || !tb || !tt) {
    llm_fail(&err, LLM_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i <= N; i++) tok[i] = (int32_t)llm_rng_below(&rng, 256);
  double opt = 0, best = 1e30;
  float loss = 0;
  for (int s = -1; s < steps; s++) { /* step -1 warms up */
    double t0 = now();
    if (llm_model_forward(m, tok, tok + 1, b->B, b->T, pool, &loss, &err))
      goto done;
    double t1 = now();
    if (llm_model_backward(m, pool, &err)) goto done;
    double t2 = now();
    if (s < 0) continue;
    tf[s] = (t1 - t0) * 1e3, tb[s] = (t2 - t1) * 1e3, tt[s] = tf[s] + tb[s];
    best = tt[s] < best ? tt[s] : best;
    opt += optim_ms(m, am, av, s + 1, pool);
  }
  opt /= steps;
  double f = median(tf, steps, NULL), bw = median(tb, steps, NULL), ms = median(tt, steps, NULL);
  size_t wpe = llm_model_find(m, "wpe")->numel;
  double flops = (double)N *
                 (6.0 * (double)(np - wpe) + 12.0 * b->L * (double)b->T * b->C);
  double gf = flops / (ms * 1e-3) / 1e9;
  double ref = ref_gflops(pool, (int)N, 4 * b->C, b->C);
  double peak = fma_peak_gflops(pool);
  printf(
      "%-8s %3d %8.1f %8.1f %8.1f %8.1f %8.0f %8.0f %7.1f %7.1f %5.2f %6.1f"
      " %8.0f %6.3f %6.1f %5.1f\n",
      b->name, threads, f, bw, ms, best, N / (ms * 1e-3), N / (best * 1e-3), gf,
      ref, gf / ref, opt, N / ((ms + opt) * 1e-3), (double)loss, peak,
      peak > 0 ? 100.0 * gf / peak : 0.0);
  fflush(stdout);
  rc = 0;
done:
  if (rc) fprintf(stderr, "train_step_bench: %s\n", err.msg);
  free(tok), free(am), free(av), free(tf), free(tb), free(tt);
  llm_model_free(m);
  llm_pool_free(pool);
  return rc;
}

/* `peak [THREADS]`: one line, "peak_gflops G threads K". */
static int print_peak(int threads) {
  llm_err err;
  llm_pool *pool = NULL;
  if (llm_pool_new(threads, &pool, &err)) {
    fprintf(stderr, "train_step_bench: %s\n", err.msg);
    return 1;
  }
  printf("peak_gflops %.1f threads %d\n", fma_peak_gflops(pool), threads);
  llm_pool_free(pool);
  return 0;
}

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "all";
  if (!strcmp(which, "peak")) return print_peak(argc > 2 ? atoi(argv[2]) : 2);
  int steps = argc > 2 ? atoi(argv[2]) : 0;
  int only = argc > 3 ? atoi(argv[3]) : 0;
  const char *ct = getenv("OPENBLAS_CORETYPE");
  printf("OpenBLAS core: %s (OPENBLAS_CORETYPE=%s)\n", openblas_get_corename(),
         ct ? ct : "unset");
  printf("%-8s %3s %8s %8s %8s %8s %8s %8s %7s %7s %5s %6s %8s %6s %6s %5s\n",
         "config", "thr", "fwd_ms", "bwd_ms", "step_ms", "best_ms", "tok/s",
         "best", "GFLOP/s", "sgemm", "ratio", "optim", "train", "loss", "peak",
         "%peak");
  int rc = 0, found = 0;
  for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
    const bench_cfg *b = &configs[i];
    if (strcmp(which, "all") && strcmp(which, b->name)) continue;
    found = 1;
    for (int th = 1; th <= 2; th++)
      if (!only || th == only) rc |= run(b, th, steps > 0 ? steps : b->steps);
  }
  if (!found) {
    fprintf(stderr,
            "usage: train_step_bench [recipe|large|large64|all "
            "[STEPS [THREADS]]] | peak [THREADS]\n");
    return 2;
  }
  return rc;
}
