/*
** test_gguf_model.c: models from GGUF files against llama.cpp's recorded
** outputs (tests/data/llamacpp/, SOURCE.md there says how they were made).
**
** Each record names a GGUF file (../shared/data/gguf/..., or a tiny model
** of tests/models/ that tests/run.sh writes into BUILD/models) and holds
** llama.cpp's greedy continuation of a prompt (token ids), its
** teacher-forced log-probabilities of a text, or an encoder's pooled
** embedding. The engine runs the same file from memory through
** llm_gguf_model_config, llm_net_from_tensors and llm_infer:
**   greedy ids equal, for float files;
**   mean |logprob difference| per token within a tolerance: 1e-3 nats for
**     float32/float16 files, 0.01 for the quantized ones (llama.cpp
**     rounds activations to 8 bits for those products, we do not);
**   embeddings with cosine similarity >= 0.9999.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "formats/gguf_model.h"
#include "formats/json.h"
#include "nn/infer.h"

static char models_dir[512] = "build/models";

static char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) buf[len] = 0;
  if (n) *n = (size_t)len;
  return buf;
}

/* A GGUF file loaded and ready to run. */
typedef struct loaded {
  char *file;
  llm_gguf *g;
  llm_net net;
  llm_infer *s;
} loaded;

static void unload(loaded *m) {
  llm_infer_free(m->s);
  llm_net_free(&m->net);
  llm_gguf_free(m->g);
  free(m->file);
}

static int load(loaded *m, const char *name) {
  memset(m, 0, sizeof *m);
  char path[1024];
  if (!strncmp(name, "tiny-", 5))
    snprintf(path, sizeof path, "%s/%s", models_dir, name);
  else
    snprintf(path, sizeof path, "%s", name);
  size_t n;
  llm_err err = {0};
  llm_config c;
  if (!(m->file = read_all(path, &n))) {
    printf("  cannot read %s\n", path);
    return -1;
  }
  llm_gguf_source src = {NULL, (const uint8_t *)m->file};
  int rc = llm_gguf_open_memory(&m->g, (const uint8_t *)m->file, n, &err);
  if (!rc) rc = llm_gguf_model_config(m->g, &c, &err);
  src.g = m->g;
  if (rc || llm_net_from_tensors(&m->net, &c, llm_gguf_net_find, &src, &err) || llm_infer_new(&m->net, &m->s, &err)) {
    printf("  %s: %s\n", path, err.msg);
    unload(m);
    return -1;
  }
  return 0;
}

static int32_t *int_array(const llm_json *a, size_t *n) {
  *n = a && a->type == LLM_JSON_ARRAY ? a->len : 0;
  int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
  for (size_t i = 0; i < *n; i++) v[i] = (int32_t)a->items[i].i;
  return v;
}

static int argmax(const float *x, int n) {
  int b = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[b]) b = i;
  return b;
}

/* llama.cpp's greedy ids after prompt_ids: ours must be the same. */
static void check_greedy(loaded *m, const llm_json *rec, const char *what) {
  size_t np, n;
  int32_t *prompt = int_array(llm_json_get(rec, "prompt_ids"), &np), *want = int_array(llm_json_get(rec, "ids"), &n);
  llm_err err;
  int V = m->net.cfg.vocab_size, same = 0;
  llm_infer_reset(m->s);
  int rc = llm_infer_forward(m->s, prompt, (int)np, NULL, &err);
  int32_t tok = argmax(llm_infer_logits(m->s, (int)np - 1, 1, NULL), V);
  for (size_t i = 0; !rc && i < n && tok == want[i]; i++) {
    same++;
    if (i + 1 < n && !(rc = llm_infer_forward(m->s, &tok, 1, NULL, &err)))
      tok = argmax(llm_infer_logits(m->s, 0, 1, NULL), V);
  }
  if (same != (int)n) printf("  %s: greedy ids agree for %d of %zu (rc %d %s)\n", what, same, n, rc, rc ? err.msg : "");
  CHECK(n > 0 && same == (int)n);
  free(prompt);
  free(want);
}

/* Adds |ours - llama.cpp's| of one text's teacher-forced log-probabilities
** to *sum (and *count, *worst); 0 when the text ran. */
static int score_diffs(loaded *m, const llm_json *rec, double *sum, size_t *count, double *worst) {
  size_t n;
  int32_t *ids = int_array(llm_json_get(rec, "ids"), &n);
  const llm_json *lp = llm_json_get(rec, "logprobs");
  llm_err err;
  int V = m->net.cfg.vocab_size;
  llm_infer_reset(m->s);
  int rc = !lp || lp->len + 1 != n || llm_infer_forward(m->s, ids, (int)n, NULL, &err);
  for (size_t t = 1; !rc && t < n; t++) {
    const float *l = llm_infer_logits(m->s, (int)t - 1, 1, NULL);
    double mx = l[argmax(l, V)], z = 0;
    for (int v = 0; v < V; v++) z += exp((double)l[v] - mx);
    double d = fabs((double)l[ids[t]] - mx - log(z) - lp->items[t - 1].num);
    *sum += d;
    ++*count;
    if (d > *worst) *worst = d;
  }
  free(ids);
  return rc;
}

/* Mean |ours - llama.cpp's| per token over the record's texts ("score":
** one, "scores": several). */
static void check_scores(loaded *m, const llm_json *one, const llm_json *many, double tol, const char *what) {
  double sum = 0, worst = 0;
  size_t count = 0;
  int rc = one ? score_diffs(m, one, &sum, &count, &worst) : 0;
  for (size_t i = 0; many && i < many->len; i++) rc |= score_diffs(m, &many->items[i], &sum, &count, &worst);
  double mean = count ? sum / (double)count : 1e9;
  printf("  %s: %zu tokens, mean |dlogprob| %.2e, max %.2e (tolerance %.0e)\n", what, count, mean, worst, tol);
  CHECK(!rc && count > 0 && mean <= tol);
}

static void check_embed(loaded *m, const llm_json *rec, const char *what) {
  size_t n;
  int32_t *ids = int_array(llm_json_get(rec, "ids"), &n);
  const llm_json *want = llm_json_get(rec, "embedding");
  const char *pool = llm_json_get(rec, "pooling")->str;
  int C = m->net.cfg.n_embd;
  float *e = malloc((size_t)C * sizeof *e);
  llm_err err;
  int p = !strcmp(pool, "cls") ? LLM_POOL_CLS : !strcmp(pool, "last") ? LLM_POOL_LAST : LLM_POOL_MEAN;
  int rc = llm_embed(m->s, ids, n, 0, p, 0, NULL, NULL, e, &err);
  double dot = 0, a = 0, b = 0;
  for (int i = 0; !rc && i < C && want && (size_t)i < want->len; i++) {
    dot += e[i] * want->items[i].num;
    a += (double)e[i] * e[i];
    b += want->items[i].num * want->items[i].num;
  }
  double cos = dot / sqrt(a * b);
  printf("  %s: cosine %.7f\n", what, cos);
  CHECK(!rc && want && (int)want->len == C && cos >= 0.9999);
  free(e);
  free(ids);
}

/* Runs every check the record file has. */
static void check_record(const char *json_path, double tol) {
  size_t n;
  char *text = read_all(json_path, &n);
  llm_json_doc *doc = NULL;
  llm_err err;
  CHECK(text && llm_json_parse(text, n, &doc, &err) == LLM_OK);
  if (!doc) {
    printf("  cannot read %s\n", json_path);
    free(text);
    return;
  }
  const llm_json *root = llm_json_root(doc);
  loaded m;
  int ok = load(&m, llm_json_get(root, "model")->str) == 0;
  CHECK(ok);
  const llm_json *greedy = llm_json_get(root, "greedy"), *score = llm_json_get(root, "score");
  const llm_json *scores = llm_json_get(root, "scores"), *embed = llm_json_get(root, "embed");
  CHECK(greedy || score || scores || embed);
  if (ok && greedy && tol < 0.005) check_greedy(&m, greedy, json_path);
  if (ok && (score || scores)) check_scores(&m, score, scores, tol, json_path);
  for (size_t i = 0; ok && embed && i < embed->len; i++) check_embed(&m, &embed->items[i], json_path);
  if (ok) unload(&m);
  llm_json_free(doc);
  free(text);
}

#define REC "tests/data/llamacpp/"
static void test_stories260k(void) { check_record(REC "stories260K-f32.json", 1e-3); }
static void test_shakespeare_f32(void) { check_record(REC "shakespeare-F32.json", 1e-3); }
static void test_shakespeare_f16(void) { check_record(REC "shakespeare-F16.json", 1e-3); }
static void test_shakespeare_q8_0(void) { check_record(REC "shakespeare-Q8_0.json", 0.01); }
static void test_shakespeare_q4_0(void) { check_record(REC "shakespeare-Q4_0.json", 0.01); }
static void test_shakespeare_q4_k_m(void) { check_record(REC "shakespeare-Q4_K_M.json", 0.01); }
static void test_shakespeare_q6_k(void) { check_record(REC "shakespeare-Q6_K.json", 0.01); }
static void test_tiny_llama(void) { check_record(REC "tiny-llama.json", 1e-3); }
static void test_tiny_qwen2(void) { check_record(REC "tiny-qwen2.json", 1e-3); }
static void test_tiny_qwen3(void) { check_record(REC "tiny-qwen3.json", 1e-3); }
static void test_tiny_gemma3(void) { check_record(REC "tiny-gemma3.json", 1e-3); }
static void test_tiny_bert(void) { check_record(REC "tiny-bert.json", 1e-3); }
static void test_tiny_nomic_bert(void) { check_record(REC "tiny-nomic-bert.json", 1e-3); }

int main(int argc, char **argv) {
  /* the tiny models are in BUILD/models, beside this binary */
  const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
  if (slash) snprintf(models_dir, sizeof models_dir, "%.*s/models", (int)(slash - argv[0]), argv[0]);
  RUN(test_stories260k);
  RUN(test_shakespeare_f32);
  RUN(test_shakespeare_f16);
  RUN(test_shakespeare_q8_0);
  RUN(test_shakespeare_q4_0);
  RUN(test_shakespeare_q4_k_m);
  RUN(test_shakespeare_q6_k);
  RUN(test_tiny_llama);
  RUN(test_tiny_qwen2);
  RUN(test_tiny_qwen3);
  RUN(test_tiny_gemma3);
  RUN(test_tiny_bert);
  RUN(test_tiny_nomic_bert);
  return CHECK_DONE();
}
