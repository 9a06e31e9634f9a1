/*
** llamacpp_ref.c: records what llama.cpp computes for a GGUF model, as one
** JSON object on stdout, for sqlite-llm's tests to compare against
** (tests/data/llamacpp/, see SOURCE.md there). Not part of the build: llama.cpp
** is not available in CI, only its recorded outputs are.
**
** Build (llama.cpp built at /work/llamacpp, see /work/llamacpp/BUILD_COMMANDS):
**   gcc -std=c11 -O2 -Wall -Wextra -I/work/llamacpp/include \
**     -I/work/llamacpp/ggml/include -o /tmp/llamacpp_ref \
**     tools/llamacpp_ref/llamacpp_ref.c -L/work/llamacpp/build/bin \
**     -Wl,-rpath,/work/llamacpp/build/bin -lllama -lggml -lggml-base -lm
**
** Modes:
**   score MODEL TEXT_FILE [BYTE_OFFSET BYTE_LENGTH]
**       tokenizes the text (or that byte slice of the file) with the model's
**       tokenizer, BOS/EOS/SEP added as its metadata says, runs all tokens
**       teacher-forced as one sequence and prints {"ids": [...], "logprobs":
**       [...]}: logprobs[t-1] = log softmax(logits after ids[0..t-1])[ids[t]],
**       computed in double from llama.cpp's float logits.
**   greedy MODEL PROMPT N
**       N steps of argmax (lowest id on ties) after the prompt, stopping early
**       only after an end-of-generation token (which is kept in "ids");
**       margins[i] = top-1 minus top-2 logit at step i.
**   embed MODEL TEXT
**       the pooled embedding (pooling as the model's metadata says), as
**       llama.cpp returns it: not normalised. With pooling "none", "embedding"
**       holds the rows of every token, one after the other.
**
** Every run uses one thread, a context of max(training context, tokens
** needed) (llama.cpp rounds it up to a multiple of 256; "n_ctx" is the
** result), all tokens of a text in one batch, an F32 KV cache, no flash
** attention and no repacked weights: llama.cpp's defaults (F16 cache, flash
** attention when available) would round K and V to half precision, which an
** F32 engine does not do. The output states these settings. Positions past
** the training context are computed as any other (no RoPE scaling). Floats
** are printed with %.9g, doubles with %.17g: both round-trip.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

#define N_THREADS 1

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("llamacpp_ref: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) die("out of memory");
  return p;
}

/* llama.cpp logs every load step; only its errors matter here. */
static void quiet_log(enum ggml_log_level level, const char *text, void *user) {
  (void)user;
  if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

/* Bytes [offset, offset + length) of a file; length < 0: to its end. */
static char *read_slice(const char *path, long offset, long length, long *out_len) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open %s", path);
  if (fseek(f, 0, SEEK_END) != 0) die("cannot seek in %s", path);
  long size = ftell(f);
  if (length < 0) length = size - offset;
  if (offset < 0 || length < 0 || offset + length > size)
    die("byte range %ld+%ld is outside %s (%ld bytes)", offset, length, path, size);
  char *buf = xmalloc((size_t)length + 1);
  if (fseek(f, offset, SEEK_SET) != 0 || fread(buf, 1, (size_t)length, f) != (size_t)length)
    die("cannot read %s", path);
  fclose(f);
  buf[length] = 0;
  *out_len = length;
  return buf;
}

typedef struct ids {
  llama_token *v;
  int n;
} ids;

/* Tokenizes with the specials the model adds (add_special) and without
** parsing special-token text in the input (the texts are plain). */
static ids tokenize(const struct llama_vocab *vocab, const char *text, int len) {
  int cap = len + 8;
  ids out = {xmalloc(sizeof(llama_token) * (size_t)cap), 0};
  out.n = llama_tokenize(vocab, text, len, out.v, cap, true, false);
  if (out.n < 0) die("tokenization needs %d tokens, more than expected", -out.n);
  if (out.n == 0) die("the text gives no tokens");
  return out;
}

typedef struct run {
  struct llama_model *model;
  struct llama_context *ctx;
  const struct llama_vocab *vocab;
  int n_ctx, n_ctx_train, n_batch, n_vocab;
} run;

static struct llama_model *load_model(const char *path) {
  struct llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  /* no repacked weight layouts: their kernels (AMX on this machine) are not
  ** what a plain CPU runs, and AMX faults where the OS does not enable it */
  mp.use_extra_bufts = false;
  struct llama_model *model = llama_model_load_from_file(path, mp);
  if (!model) die("cannot load %s", path);
  return model;
}

/* A context for a model already in r->model, holding at least n_tokens. */
static void open_context(run *r, int n_tokens, int embeddings) {
  r->vocab = llama_model_get_vocab(r->model);
  r->n_vocab = llama_vocab_n_tokens(r->vocab);
  r->n_ctx_train = llama_model_n_ctx_train(r->model);
  r->n_batch = n_tokens > r->n_ctx_train ? n_tokens : r->n_ctx_train;
  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = cp.n_batch = (uint32_t)r->n_batch;
  /* encoders attend both ways, so the whole text goes in one micro-batch */
  cp.n_ubatch = embeddings ? (uint32_t)r->n_batch : 512;
  cp.n_seq_max = 1;
  cp.n_threads = cp.n_threads_batch = N_THREADS;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.type_k = cp.type_v = GGML_TYPE_F32;
  cp.embeddings = embeddings != 0;
  r->ctx = llama_init_from_model(r->model, cp);
  if (!r->ctx) die("cannot create a context of %d tokens", r->n_batch);
  r->n_ctx = (int)llama_n_ctx(r->ctx); /* llama.cpp may round it up */
}

static void close_run(run *r) {
  llama_free(r->ctx);
  llama_model_free(r->model);
}

/* Runs tokens[from..to) at their positions; logits for all of them when
** all_logits, else for the last one only. */
static void decode_span(run *r, const llama_token *tokens, int from, int to, int all_logits) {
  struct llama_batch b = llama_batch_init(to - from, 0, 1);
  for (int i = from; i < to; i++) {
    int k = i - from;
    b.token[k] = tokens[i];
    b.pos[k] = i;
    b.n_seq_id[k] = 1;
    b.seq_id[k][0] = 0;
    b.logits[k] = all_logits || i == to - 1;
  }
  b.n_tokens = to - from;
  int rc = llama_decode(r->ctx, b);
  if (rc != 0) die("llama_decode failed (%d) at tokens %d..%d", rc, from, to);
  llama_batch_free(b);
}

/* log softmax(logits)[target] in double */
static double log_prob(const float *logits, int n, int target) {
  double max = logits[0];
  for (int i = 1; i < n; i++)
    if (logits[i] > max) max = logits[i];
  double sum = 0;
  for (int i = 0; i < n; i++) sum += exp((double)logits[i] - max);
  return (double)logits[target] - max - log(sum);
}

static void print_json_string(const char *s, long len) {
  putchar('"');
  for (long i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c == '\n') fputs("\\n", stdout);
    else if (c == '\t') fputs("\\t", stdout);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static void print_ids(const char *key, const llama_token *v, int n) {
  printf("\"%s\": [", key);
  for (int i = 0; i < n; i++) printf(i ? ", %d" : "%d", v[i]);
  printf("]");
}

static void print_doubles(const char *key, const double *v, int n) {
  printf("\"%s\": [", key);
  for (int i = 0; i < n; i++) printf(i ? ", %.17g" : "%.17g", v[i]);
  printf("]");
}

static void print_floats(const char *key, const float *v, int n) {
  printf("\"%s\": [", key);
  for (int i = 0; i < n; i++) printf(i ? ", %.9g" : "%.9g", (double)v[i]);
  printf("]");
}

static void print_settings(const run *r) {
  printf("\"n_threads\": %d, \"n_ctx\": %d, \"n_ctx_train\": %d, "
         "\"kv_cache\": \"f32\", \"flash_attn\": false, ",
         N_THREADS, r->n_ctx, r->n_ctx_train);
}

static void score(const char *model_path, const char *text_path, long offset, long length) {
  long len;
  char *text = read_slice(text_path, offset, length, &len);
  run r = {.model = load_model(model_path)};
  ids t = tokenize(llama_model_get_vocab(r.model), text, (int)len);
  open_context(&r, t.n, 0);
  double *lp = xmalloc(sizeof(double) * (size_t)t.n);
  /* Batches of at most n_batch tokens (here: one); row i of a batch
  ** predicts the token after position i. */
  for (int from = 0; from < t.n - 1; from += r.n_batch) {
    int to = from + r.n_batch < t.n ? from + r.n_batch : t.n;
    decode_span(&r, t.v, from, to, 1);
    for (int i = from; i < to && i + 1 < t.n; i++) {
      const float *logits = llama_get_logits_ith(r.ctx, i - from);
      if (!logits) die("no logits for position %d", i);
      lp[i] = log_prob(logits, r.n_vocab, t.v[i + 1]);
    }
  }
  double sum = 0;
  for (int i = 0; i + 1 < t.n; i++) sum += lp[i];
  printf("{");
  print_settings(&r);
  if (length >= 0) printf("\"byte_offset\": %ld, \"byte_length\": %ld, ", offset, length);
  printf("\"n_tokens\": %d, \"sum_logprob\": %.17g,\n", t.n, sum);
  print_ids("ids", t.v, t.n);
  printf(",\n");
  print_doubles("logprobs", lp, t.n - 1);
  printf("}\n");
  free(lp);
  free(t.v);
  free(text);
  close_run(&r);
}

static void greedy(const char *model_path, const char *prompt, int steps) {
  run r = {.model = load_model(model_path)};
  ids p = tokenize(llama_model_get_vocab(r.model), prompt, (int)strlen(prompt));
  open_context(&r, p.n + steps, 0);
  llama_token *all = xmalloc(sizeof(llama_token) * (size_t)(p.n + steps));
  double *margins = xmalloc(sizeof(double) * (size_t)(steps ? steps : 1));
  memcpy(all, p.v, sizeof(llama_token) * (size_t)p.n);
  int n = p.n, made = 0;
  decode_span(&r, all, 0, n, 0);
  while (made < steps) {
    const float *logits = llama_get_logits_ith(r.ctx, -1);
    if (!logits) die("no logits at step %d", made);
    int best = 0;
    for (int i = 1; i < r.n_vocab; i++)
      if (logits[i] > logits[best]) best = i;
    int second = best == 0 ? 1 : 0;
    for (int i = 0; i < r.n_vocab; i++)
      if (i != best && logits[i] > logits[second]) second = i;
    margins[made] = (double)logits[best] - (double)logits[second];
    all[n++] = best;
    made++;
    if (llama_vocab_is_eog(r.vocab, best) || made == steps) break;
    decode_span(&r, all, n - 1, n, 0);
  }
  double min_margin = INFINITY;
  for (int i = 0; i < made; i++)
    if (margins[i] < min_margin) min_margin = margins[i];
  printf("{");
  print_settings(&r);
  printf("\"prompt\": ");
  print_json_string(prompt, (long)strlen(prompt));
  printf(", \"n\": %d, \"min_margin\": %.17g,\n", steps, made ? min_margin : 0.0);
  print_ids("prompt_ids", p.v, p.n);
  printf(",\n");
  print_ids("ids", all + p.n, made);
  printf(",\n");
  print_doubles("margins", margins, made);
  printf("}\n");
  free(margins);
  free(all);
  free(p.v);
  close_run(&r);
}

static const char *pooling_name(enum llama_pooling_type t) {
  switch (t) {
    case LLAMA_POOLING_TYPE_NONE: return "none";
    case LLAMA_POOLING_TYPE_MEAN: return "mean";
    case LLAMA_POOLING_TYPE_CLS: return "cls";
    case LLAMA_POOLING_TYPE_LAST: return "last";
    case LLAMA_POOLING_TYPE_RANK: return "rank";
    default: return "unspecified";
  }
}

static void embed(const char *model_path, const char *text) {
  run r = {.model = load_model(model_path)};
  ids t = tokenize(llama_model_get_vocab(r.model), text, (int)strlen(text));
  open_context(&r, t.n, 1);
  struct llama_batch b = llama_batch_init(t.n, 0, 1);
  for (int i = 0; i < t.n; i++) {
    b.token[i] = t.v[i];
    b.pos[i] = i;
    b.n_seq_id[i] = 1;
    b.seq_id[i][0] = 0;
    b.logits[i] = 1;
  }
  b.n_tokens = t.n;
  /* encoder-only models have no memory and run through llama_encode */
  int rc = llama_get_memory(r.ctx) ? llama_decode(r.ctx, b) : llama_encode(r.ctx, b);
  if (rc != 0) die("llama_%s failed (%d)", llama_get_memory(r.ctx) ? "decode" : "encode", rc);
  llama_batch_free(b);
  enum llama_pooling_type pooling = llama_pooling_type(r.ctx);
  int n_embd = llama_model_n_embd(r.model);
  printf("{");
  print_settings(&r);
  printf("\"text\": ");
  print_json_string(text, (long)strlen(text));
  printf(", \"pooling\": \"%s\", \"n_embd\": %d,\n", pooling_name(pooling), n_embd);
  print_ids("ids", t.v, t.n);
  printf(",\n");
  if (pooling == LLAMA_POOLING_TYPE_NONE) {
    float *rows = xmalloc(sizeof(float) * (size_t)t.n * (size_t)n_embd);
    for (int i = 0; i < t.n; i++) {
      const float *e = llama_get_embeddings_ith(r.ctx, i);
      if (!e) die("no embedding for token %d", i);
      memcpy(rows + (size_t)i * (size_t)n_embd, e, sizeof(float) * (size_t)n_embd);
    }
    print_floats("embedding", rows, t.n * n_embd);
    free(rows);
  } else {
    const float *e = llama_get_embeddings_seq(r.ctx, 0);
    if (!e) die("no pooled embedding");
    print_floats("embedding", e, pooling == LLAMA_POOLING_TYPE_RANK ? 1 : n_embd);
  }
  printf("}\n");
  free(t.v);
  close_run(&r);
}

static long parse_long(const char *s, const char *what) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == 0 || *end != 0 || v < 0) die("%s must be a non-negative integer, not '%s'", what, s);
  return v;
}

int main(int argc, char **argv) {
  llama_log_set(quiet_log, NULL);
  llama_backend_init();
  if (argc >= 4 && !strcmp(argv[1], "score") && (argc == 4 || argc == 6)) {
    long offset = argc == 6 ? parse_long(argv[4], "BYTE_OFFSET") : 0;
    long length = argc == 6 ? parse_long(argv[5], "BYTE_LENGTH") : -1;
    score(argv[2], argv[3], offset, length);
  } else if (argc == 5 && !strcmp(argv[1], "greedy")) {
    greedy(argv[2], argv[3], (int)parse_long(argv[4], "N"));
  } else if (argc == 4 && !strcmp(argv[1], "embed")) {
    embed(argv[2], argv[3]);
  } else {
    fprintf(stderr,
            "usage: llamacpp_ref score MODEL TEXT_FILE [BYTE_OFFSET BYTE_LENGTH]\n"
            "       llamacpp_ref greedy MODEL PROMPT N\n"
            "       llamacpp_ref embed MODEL TEXT\n");
    return 2;
  }
  llama_backend_free();
  return 0;
}
