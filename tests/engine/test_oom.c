/*
** test_oom.c: every engine operation under allocation failure.
**
** For each operation, run k = 0, 1, 2, ... makes allocation number k (counted
** from the start of the operation) fail, until a run completes without
** reaching it. A run in which an allocation failed must return LLM_ENOMEM
** with an "out of memory" message and leave the documented outputs clean;
** only where the engine deliberately does without the memory (the
** tokenizer's piece cache) may it succeed instead, and then with exactly
** the result of a run without fault injection. Each operation is driven
** twice: once with every allocation after the k-th failing too (memory
** stays exhausted), once with only the k-th failing (memory comes back).
** Under `make asan`, LeakSanitizer then checks that no failure path leaks.
**
** Where the objects survive a failure (a tokenizer whose encode failed, a
** trainer whose run failed), the test also finishes the job without fault
** injection on the same objects and checks that the result is still right.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_fail.h"
#include "base.h"
#include "text/bpe_train.h"
#include "check.h"
#include "formats/gguf.h"
#include "formats/gguf_vocab.h"
#include "text/gpt2_vocab.h"
#include "formats/json.h"
#include "text/pretok.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

/* Give up on an operation after this many failure points. */
#define MAX_POINTS 200000

/* ---------------------------------------------------------------------- */
/* A byte buffer on the C library, so the test's own bookkeeping never     */
/* meets the fault injector.                                               */

typedef struct sbuf {
  unsigned char *d;
  size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) cap *= 2;
    unsigned char *d = realloc(b->d, cap);
    if (!d) {
      fprintf(stderr, "test_oom: out of memory\n");
      exit(2);
    }
    b->d = d;
    b->cap = cap;
  }
  if (n) memcpy(b->d + b->len, p, n);
  b->len += n;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_u64(sbuf *b, uint64_t v) { sb_put(b, &v, sizeof v); }

static void sb_printf(sbuf *b, const char *fmt, long v) {
  char tmp[64];
  int n = snprintf(tmp, sizeof tmp, fmt, v);
  sb_put(b, tmp, (size_t)n);
}

static void sb_free(sbuf *b) {
  free(b->d);
  memset(b, 0, sizeof *b);
}

static int sb_same(const sbuf *a, const sbuf *b) {
  return a->len == b->len && (a->len == 0 || !memcmp(a->d, b->d, a->len));
}

/* ---------------------------------------------------------------------- */
/* The driver.                                                             */

/* The failure point of the current run (< 0: no injection), its mode, and
** how many allocations failed between arm() and disarm(). */
static long point = -1;
static int point_once;
static long failed_in_op = -1;

/* Operations call arm() right before the engine calls under test and
** disarm() right after, so that their own setup and checks are not
** counted. */
static void arm(void) {
  if (point < 0) llm_test_fail_allocs_after(-1);
  else if (point_once) llm_test_fail_one_alloc_after(point);
  else llm_test_fail_allocs_after(point);
}

static void disarm(void) {
  failed_in_op = llm_test_allocs_failed();
  llm_test_fail_allocs_after(-1);
}

/* An operation: returns its status (err set on failure); on success writes
** its result to out. When the objects it built survive a failure, it may
** redo the rest of the work on them without injection and write that
** result to again (which must then equal a clean run's). */
typedef int (*op_fn)(sbuf *out, sbuf *again, llm_err *err);

static void oom_loop_mode(const char *name, op_fn op, int may_do_without,
                          int once) {
  sbuf ref = {0}, again = {0};
  llm_err err;
  memset(&err, 0, sizeof err);
  point = -1;
  failed_in_op = -1;
  int rc = op(&ref, &again, &err);
  CHECK(rc == LLM_OK && failed_in_op == 0 && ref.len > 0);
  if (rc) printf("  %s: the clean run failed: %s\n", name, err.msg);
  sb_free(&again);
  long k, n_nomem = 0, n_kept = 0, n_again = 0, bad = 0;
  for (k = 0; k < MAX_POINTS; k++) {
    sbuf got = {0};
    memset(&err, 0, sizeof err);
    point = k;
    point_once = once;
    failed_in_op = -1;
    rc = op(&got, &again, &err);
    int ok;
    if (failed_in_op < 0) {
      ok = 0; /* the operation never disarmed */
    } else if (failed_in_op == 0) {
      ok = rc == LLM_OK && sb_same(&got, &ref);
    } else if (rc == LLM_OK) {
      n_kept++;
      ok = may_do_without && sb_same(&got, &ref);
    } else {
      n_nomem++;
      ok = rc == LLM_ENOMEM && err.code == LLM_ENOMEM &&
           strstr(err.msg, "out of memory") != NULL;
    }
    if (again.len) {
      n_again++;
      if (!sb_same(&again, &ref)) ok = 0;
    }
    if (!ok && bad++ < 5)
      printf("  %s (%s): failure point %ld: status %d, %ld failed "
             "allocations, message \"%s\"%s%s\n",
             name, once ? "one" : "all", k, rc, failed_in_op, err.msg,
             rc == LLM_OK && !sb_same(&got, &ref) ? ", wrong result" : "",
             again.len && !sb_same(&again, &ref) ? ", wrong result after "
                                                   "recovery" : "");
    sb_free(&got);
    sb_free(&again);
    if (failed_in_op == 0) break;
  }
  point = -1;
  CHECK(bad == 0);
  CHECK(k < MAX_POINTS);
  CHECK(k > 0); /* the operation allocates at all */
  printf("  %s (%s failing): %ld failure points: %ld ENOMEM, %ld done "
         "without the memory, %ld recovered on the same objects\n",
         name, once ? "one" : "all", k, n_nomem, n_kept, n_again);
  sb_free(&ref);
}

/* may_do_without: the operation is allowed to get by without some of the
** memory (and then must still give the right result). */
static void oom_loop(const char *name, op_fn op, int may_do_without) {
  oom_loop_mode(name, op, may_do_without, 0);
  oom_loop_mode(name, op, may_do_without, 1);
}

/* A deterministic pseudo-random sequence. */
static uint64_t next_rand(uint64_t *st) {
  *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
  return *st >> 33;
}

/* ---------------------------------------------------------------------- */
/* JSON                                                                    */

/* A document of ~250 KB: more than one arena block and a string that gets
** a block of its own, objects large enough for the hashed duplicate check,
** escapes, surrogate pairs, raw UTF-8 and a number long enough that its
** conversion allocates. */
static char *json_doc;
static size_t json_len;

static void make_json_doc(void) {
  sbuf b = {0};
  sb_str(&b, "{\"meta\": {\"name\": \"caf\\u00e9 \\ud83d\\ude00 na\xc3\xafve "
             "\xe6\x97\xa5\xe6\x9c\xac\", \"blob\": \"");
  /* Early, while the arena's blocks are small: it gets a block of its own. */
  static const char letters[] = "abcdefghijklmnopqrstuvwxyz";
  for (int i = 0; i < 150000; i++) sb_put(&b, &letters[i % 26], 1);
  sb_str(&b, "\", \"ok\": true, \"no\": false, "
             "\"none\": null, \"pi\": 3.14159, \"big\": -12345678901234567, "
             "\"e\": 1.5e-300, \"long\": 1");
  for (int i = 0; i < 120; i++) sb_str(&b, "2");
  sb_str(&b, "e-100},\n \"items\": [");
  uint64_t st = 7;
  for (int i = 0; i < 1500; i++) {
    if (i) sb_str(&b, ",\n  ");
    sb_printf(&b, "{\"id\": %ld, ", i);
    sb_printf(&b, "\"score\": %ld.25, \"tags\": [",
              (long)(next_rand(&st) % 1000));
    for (int j = 0; j < i % 4; j++)
      sb_printf(&b, j ? ", \"t%ld\"" : "\"t%ld\"", j);
    sb_str(&b, "], \"text\": \"line\\n\\t\\\"q\\\" \\\\ \\/ \\u0120x ");
    sb_printf(&b, "\xce\xbb%ld\"", i);
    if (i % 100 == 0) {
      sb_str(&b, ", \"wide\": {");
      for (int j = 0; j < 12; j++)
        sb_printf(&b, j ? ", \"k%ld\": [[], {}]" : "\"k%ld\": [[], {}]", j);
      sb_str(&b, "}");
    }
    sb_str(&b, "}");
  }
  sb_str(&b, "]}\n");
  json_doc = (char *)b.d;
  json_len = b.len;
}

/* Writes a parsed value to out, unambiguously. */
static void put_json(sbuf *out, const llm_json *v) {
  sb_u64(out, (uint64_t)v->type);
  sb_u64(out, v->offset);
  switch (v->type) {
    case LLM_JSON_BOOL: sb_u64(out, (uint64_t)v->boolean); break;
    case LLM_JSON_NUMBER:
      sb_u64(out, (uint64_t)v->is_int);
      sb_u64(out, (uint64_t)v->i);
      sb_put(out, &v->num, sizeof v->num);
      break;
    case LLM_JSON_STRING:
      sb_u64(out, v->len);
      sb_put(out, v->str, v->len + 1);
      break;
    case LLM_JSON_ARRAY:
    case LLM_JSON_OBJECT:
      sb_u64(out, v->len);
      for (size_t k = 0; k < v->len; k++) {
        if (v->type == LLM_JSON_OBJECT) {
          sb_u64(out, v->keys[k].len);
          sb_put(out, v->keys[k].s, v->keys[k].len + 1);
        }
        put_json(out, &v->items[k]);
      }
      break;
    default: break;
  }
}

static int op_json_parse(sbuf *out, sbuf *again, llm_err *err) {
  (void)again;
  llm_json_doc *doc = (llm_json_doc *)1;
  arm();
  int rc = llm_json_parse(json_doc, json_len, &doc, err);
  disarm();
  if (rc) {
    CHECK(doc == NULL);
    return rc;
  }
  put_json(out, llm_json_root(doc));
  llm_json_free(doc);
  return LLM_OK;
}

static void test_oom_json_parse(void) {
  make_json_doc();
  oom_loop("llm_json_parse", op_json_parse, 0);
  free(json_doc);
}

static char *int_array;
static size_t int_array_len;

static int op_int_array(sbuf *out, sbuf *again, llm_err *err) {
  (void)again;
  llm_ids ids = {0};
  int32_t before[3] = {7, -8, 9};
  for (int i = 0; i < 3; i++) llm_ids_push(&ids, before[i]);
  arm();
  int rc = llm_json_parse_int_array(int_array, int_array_len, &ids, -1000000,
                                    1000000, err);
  disarm();
  /* Success or not, what was there stays; on failure nothing is added. */
  CHECK(ids.len >= 3 && !memcmp(ids.data, before, sizeof before));
  if (rc) CHECK(ids.len == 3);
  else sb_put(out, ids.data, ids.len * sizeof *ids.data);
  llm_ids_free(&ids);
  return rc;
}

static void test_oom_int_array(void) {
  sbuf b = {0};
  sb_str(&b, " [");
  uint64_t st = 11;
  for (int i = 0; i < 20000; i++)
    sb_printf(&b, i ? ", %ld" : "%ld",
              (long)(next_rand(&st) % 2000001) - 1000000);
  sb_str(&b, "] ");
  int_array = (char *)b.d;
  int_array_len = b.len;
  oom_loop("llm_json_parse_int_array", op_int_array, 0);
  free(int_array);
}

/* ---------------------------------------------------------------------- */
/* A small vocabulary: the 256 bytes (ids permuted), merges, specials.     */

static const char *const merge_def[][2] = {
    {"t", "h"},   {"th", "e"},   {" ", "the"},  {"a", "b"},    {"ab", "ab"},
    {"abab", "abab"}, {"i", "n"}, {"in", "g"},  {" ", "a"},    {"e", "n"},
    {" ", "t"},   {"c", "a"},    {"ca", "t"},   {" ", "cat"},  {"\xc3", "\xa9"},
    {"ca", "f"},  {"caf", "\xc3\xa9"}, {"\n", "\n"}, {" ", " "}, {"  ", "  "},
    {"d", "e"},   {"en", "d"},   {" ", "end"},  {"abababab", "abababab"},
};
#define N_MERGES (int)(sizeof merge_def / sizeof merge_def[0])
static const char *const special_def[] = {"<|endoftext|>", "<|pad|>"};
#define N_SPECIAL 2
#define N_VOCAB (256 + N_MERGES + N_SPECIAL)

typedef struct vtok {
  uint8_t bytes[64];
  size_t len;
  int kind;
  int32_t left, right, rank;
} vtok;
static vtok vocab[N_VOCAB];

static int32_t byte_tok(int b) { return (int32_t)(b ^ 0x5A); }

static int32_t vocab_find(const char *s) {
  size_t n = strlen(s);
  for (int32_t id = 0; id < N_VOCAB; id++)
    if (vocab[id].len == n && !memcmp(vocab[id].bytes, s, n)) return id;
  return -1;
}

static void make_vocab(void) {
  memset(vocab, 0, sizeof vocab);
  for (int b = 0; b < 256; b++) {
    vtok *v = &vocab[byte_tok(b)];
    v->bytes[0] = (uint8_t)b;
    v->len = 1;
    v->kind = LLM_TOKEN_BYTE;
    v->left = v->right = v->rank = -1;
  }
  for (int m = 0; m < N_MERGES; m++) {
    vtok *v = &vocab[256 + m];
    v->left = vocab_find(merge_def[m][0]);
    v->right = vocab_find(merge_def[m][1]);
    CHECK(v->left >= 0 && v->right >= 0);
    v->len = strlen(merge_def[m][0]) + strlen(merge_def[m][1]);
    memcpy(v->bytes, merge_def[m][0], strlen(merge_def[m][0]));
    memcpy(v->bytes + strlen(merge_def[m][0]), merge_def[m][1],
           strlen(merge_def[m][1]));
    v->kind = LLM_TOKEN_MERGE;
    v->rank = m;
  }
  for (int k = 0; k < N_SPECIAL; k++) {
    vtok *v = &vocab[256 + N_MERGES + k];
    v->len = strlen(special_def[k]);
    memcpy(v->bytes, special_def[k], v->len);
    v->kind = LLM_TOKEN_SPECIAL;
    v->left = v->right = v->rank = -1;
  }
}

/* Text with short pieces (repeated, so the cache serves some), pieces too
** long for the cache, one long enough for the heap merge, special tokens,
** non-ASCII and invalid UTF-8. */
static sbuf text;

static void make_text(void) {
  sbuf *t = &text;
  for (int i = 0; i < 3; i++) sb_str(t, "the cat in the abab thing, the end. ");
  sb_str(t, "na\xc3\xafve caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac <|endoftext|> "
            "the<|pad|>x \xff\xfe ");
  for (int i = 0; i < 150; i++) sb_str(t, "ab"); /* one 300-byte piece */
  sb_str(t, " ");
  for (int i = 0; i < 35; i++) sb_str(t, "ab"); /* 70 bytes: not cached */
  sb_str(t, " thethethe\n\n\n   tail<|endoftext|><|pad|>");
}

/* Writes a tokenizer's encodings of the text (specials off and on) and the
** decoding of each to out. */
static int encode_all(llm_tokenizer *t, sbuf *out, llm_err *err) {
  llm_ids ids[2] = {{0}, {0}};
  llm_buf dec[2] = {{0}, {0}};
  int rc = LLM_OK;
  for (int sp = 0; sp < 2 && !rc; sp++) {
    rc = llm_tokenizer_encode(t, text.d, text.len, sp, &ids[sp], err);
    if (!rc)
      rc = llm_tokenizer_decode(t, ids[sp].data, ids[sp].len, &dec[sp], err);
  }
  if (!rc) {
    for (int sp = 0; sp < 2; sp++) {
      CHECK(dec[sp].len == text.len && !memcmp(dec[sp].data, text.d, text.len));
      sb_u64(out, ids[sp].len);
      sb_put(out, ids[sp].data, ids[sp].len * sizeof *ids[sp].data);
      sb_put(out, dec[sp].data, dec[sp].len);
    }
  }
  for (int sp = 0; sp < 2; sp++) {
    llm_ids_free(&ids[sp]);
    llm_buf_free(&dec[sp]);
  }
  return rc;
}

/* Defines tokens from *next_id on; stops at the first failure. */
static int set_tokens(llm_tokenizer *t, int32_t *next_id, llm_err *err) {
  for (; *next_id < N_VOCAB; ++*next_id) {
    const vtok *v = &vocab[*next_id];
    int rc = llm_tokenizer_set(t, *next_id, v->kind, v->bytes, v->len, v->left,
                               v->right, v->rank, err);
    if (rc) return rc;
  }
  return LLM_OK;
}

static int op_tokenizer(sbuf *out, sbuf *again, llm_err *err) {
  llm_tokenizer *t = NULL;
  int32_t next_id = 0;
  int finished = 0;
  arm();
  int rc = llm_tokenizer_new(&t, N_VOCAB, LLM_PRETOK_GPT2, err);
  if (!rc) rc = set_tokens(t, &next_id, err);
  if (!rc) {
    rc = llm_tokenizer_finish(t, err);
    finished = rc == LLM_OK;
  }
  if (!rc) rc = encode_all(t, out, err);
  disarm();
  if (rc && t) {
    /* Finish the job on the same tokenizer: the failure must have left it
    ** usable (a failed encode must not poison its cache, for one). */
    llm_err e2;
    int rc2 = set_tokens(t, &next_id, &e2);
    if (!rc2 && !finished) rc2 = llm_tokenizer_finish(t, &e2);
    if (!rc2) rc2 = encode_all(t, again, &e2);
    CHECK(rc2 == LLM_OK);
    if (rc2) printf("  recovery failed: %s\n", e2.msg);
  }
  if (rc) CHECK(out->len == 0);
  llm_tokenizer_free(t);
  return rc;
}

static void test_oom_tokenizer(void) {
  /* Encoding does without its piece cache when there is no memory for it. */
  oom_loop("tokenizer build+encode+decode", op_tokenizer, 1);
  /* Once finished, a tokenizer stays finished. */
  llm_tokenizer *t = NULL;
  int32_t next_id = 0;
  llm_err err;
  CHECK(llm_tokenizer_new(&t, N_VOCAB, LLM_PRETOK_GPT2, &err) == LLM_OK);
  CHECK(set_tokens(t, &next_id, &err) == LLM_OK);
  CHECK(llm_tokenizer_finish(t, &err) == LLM_OK);
  CHECK(llm_tokenizer_finish(t, &err) == LLM_EINVAL &&
        strstr(err.msg, "already finished"));
  llm_tokenizer_free(t);
}

/* ---------------------------------------------------------------------- */
/* GPT-2 vocabulary files for the same vocabulary.                         */

static int gpt2_visible(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
}

/* The code point GPT-2 writes byte b as. */
static uint32_t gpt2_cp(int b) {
  if (gpt2_visible(b)) return (uint32_t)b;
  uint32_t k = 0;
  for (int c = 0; c < b; c++) k += !gpt2_visible(c);
  return 256 + k;
}

/* Appends token bytes in GPT-2's encoding, raw UTF-8 or as JSON escapes. */
static void put_gpt2(sbuf *b, const uint8_t *s, size_t n, int json) {
  for (size_t i = 0; i < n; i++) {
    uint32_t cp = gpt2_cp(s[i]);
    if (json && (cp == '"' || cp == '\\' || cp >= 0x80)) {
      sb_printf(b, "\\u%04lx", (long)cp);
    } else {
      uint8_t u[4];
      int len = llm_utf8_encode(u, cp);
      sb_put(b, u, (size_t)len);
    }
  }
}

static sbuf enc_json, vocab_bpe;

static void make_gpt2_files(void) {
  sb_str(&enc_json, "{");
  for (int32_t id = 0; id < N_VOCAB; id++) {
    sb_str(&enc_json, id ? ",\n\"" : "\"");
    put_gpt2(&enc_json, vocab[id].bytes, vocab[id].len, 1);
    sb_printf(&enc_json, "\": %ld", id);
  }
  sb_str(&enc_json, "}\n");
  sb_str(&vocab_bpe, "#version: 0.2\n");
  for (int m = 0; m < N_MERGES; m++) {
    const vtok *l = &vocab[vocab[256 + m].left];
    const vtok *r = &vocab[vocab[256 + m].right];
    put_gpt2(&vocab_bpe, l->bytes, l->len, 0);
    sb_str(&vocab_bpe, " ");
    put_gpt2(&vocab_bpe, r->bytes, r->len, 0);
    sb_str(&vocab_bpe, "\n");
  }
}

static int op_gpt2_vocab(sbuf *out, sbuf *again, llm_err *err) {
  (void)again;
  llm_tokenizer *t = (llm_tokenizer *)1;
  arm();
  int rc = llm_gpt2_vocab_load((const char *)enc_json.d, enc_json.len,
                               (const char *)vocab_bpe.d, vocab_bpe.len, &t,
                               err);
  disarm();
  if (rc) {
    CHECK(t == NULL);
    return rc;
  }
  /* The loaded tokenizer, and what it makes of the text. */
  sb_u64(out, (uint64_t)llm_tokenizer_n_vocab(t));
  for (int32_t id = 0; id < llm_tokenizer_n_vocab(t); id++) {
    size_t len;
    const uint8_t *p = llm_tokenizer_piece(t, id, &len);
    sb_u64(out, (uint64_t)llm_tokenizer_kind(t, id));
    sb_u64(out, (uint64_t)(int64_t)llm_tokenizer_left(t, id));
    sb_u64(out, (uint64_t)(int64_t)llm_tokenizer_right(t, id));
    sb_u64(out, (uint64_t)(int64_t)llm_tokenizer_rank(t, id));
    sb_u64(out, len);
    sb_put(out, p, len);
  }
  llm_err e2;
  int rc2 = encode_all(t, out, &e2);
  CHECK(rc2 == LLM_OK);
  llm_tokenizer_free(t);
  return LLM_OK;
}

static void test_oom_gpt2_vocab(void) {
  oom_loop("llm_gpt2_vocab_load", op_gpt2_vocab, 0);
}

/* ---------------------------------------------------------------------- */
/* BPE training                                                            */

/* Three chunks of text: ~700 distinct words (some longer than a piece
** stored inline), with uneven multiplicities. */
static sbuf corpus[3];

static void make_corpus(void) {
  static const char *const syl[] = {"ka", "ri", "to", "mu", "sen", "do",
                                    "la", "ab", "the", "\xc3\xa9", "x", "q"};
  uint64_t st = 3;
  for (int c = 0; c < 3; c++) {
    for (int w = 0; w < 500; w++) {
      uint64_t r = next_rand(&st);
      int n_syl = 1 + (int)(r % 4) + (r % 13 == 0 ? 8 : 0);
      sb_str(&corpus[c], r % 3 ? " " : "\n");
      for (int k = 0; k < n_syl; k++)
        sb_str(&corpus[c], syl[next_rand(&st) % (sizeof syl / sizeof *syl)]);
      if (r % 7 == 0) sb_str(&corpus[c], ", 12.5!");
    }
  }
}

static int op_bpe_train(sbuf *out, sbuf *again, llm_err *err) {
  llm_bpe_trainer *t = NULL;
  llm_bpe_merge *merges = (llm_bpe_merge *)1;
  int n = -1, added = 0;
  arm();
  int rc = llm_bpe_trainer_new(&t, LLM_PRETOK_GPT2, err);
  for (int c = 0; c < 3 && !rc; c++) {
    rc = llm_bpe_trainer_add(t, corpus[c].d, corpus[c].len, err);
    added += !rc;
  }
  if (!rc) rc = llm_bpe_trainer_run(t, 60, 2, NULL, &merges, &n, err);
  disarm();
  if (rc && added == 3) {
    /* run failed: it must be able to run again on the same trainer. */
    CHECK(merges == NULL && n == 0);
    llm_err e2;
    int rc2 = llm_bpe_trainer_run(t, 60, 2, NULL, &merges, &n, &e2);
    CHECK(rc2 == LLM_OK);
    if (!rc2) {
      sb_put(again, merges, (size_t)n * sizeof *merges);
      sb_u64(again, llm_bpe_trainer_pieces(t));
      sb_u64(again, llm_bpe_trainer_bytes(t));
      llm_free(merges);
    }
  }
  if (!rc) {
    CHECK(n > 30); /* the corpus has plenty to merge */
    sb_put(out, merges, (size_t)n * sizeof *merges);
    sb_u64(out, llm_bpe_trainer_pieces(t));
    sb_u64(out, llm_bpe_trainer_bytes(t));
    llm_free(merges);
  }
  llm_bpe_trainer_free(t);
  return rc;
}

static void test_oom_bpe_train(void) {
  make_corpus();
  oom_loop("bpe trainer add+run", op_bpe_train, 0);
  for (int c = 0; c < 3; c++) sb_free(&corpus[c]);
}

/* ---------------------------------------------------------------------- */
/* GGUF vocabulary tokenizers (the small files fuzz/seeds/fuzz_gguf_vocab   */
/* holds: one per model kind), read, built, used.                          */

static sbuf gguf_file;

static int op_gguf_vocab(sbuf *out, sbuf *again, llm_err *err) {
  (void)again;
  llm_gguf *g = NULL;
  llm_tokenizer *t = NULL;
  llm_gguf_vocab_info info;
  arm();
  int rc = llm_gguf_open_memory(&g, gguf_file.d, gguf_file.len, err);
  if (!rc) rc = llm_gguf_vocab_load(g, &t, &info, err);
  llm_ids ids = {0};
  llm_buf dec = {0};
  if (!rc) rc = llm_tokenizer_encode(t, text.d, text.len, LLM_ENCODE_ADD_SPECIAL, &ids, err);
  if (!rc) rc = llm_tokenizer_decode(t, ids.data, ids.len, &dec, err);
  disarm();
  if (!rc) {
    sb_put(out, ids.data, ids.len * sizeof *ids.data);
    sb_put(out, dec.data, dec.len);
  }
  llm_ids_free(&ids);
  llm_buf_free(&dec);
  llm_tokenizer_free(t);
  llm_gguf_free(g);
  return rc;
}

static void test_oom_gguf_vocab(void) {
  static const char *const files[] = {"fuzz/seeds/fuzz_gguf_vocab/gpt2.gguf",
                                      "fuzz/seeds/fuzz_gguf_vocab/llama.gguf",
                                      "fuzz/seeds/fuzz_gguf_vocab/bert.gguf"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    FILE *f = fopen(files[i], "rb");
    CHECK(f != NULL);
    if (!f) continue;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    gguf_file.len = 0;
    sb_put(&gguf_file, buf, n);
    /* Encoding does without its piece cache when there is no memory for it. */
    oom_loop(files[i], op_gguf_vocab, 1);
  }
  sb_free(&gguf_file);
}

int main(void) {
  make_vocab();
  make_text();
  make_gpt2_files();
  RUN(test_oom_json_parse);
  RUN(test_oom_int_array);
  RUN(test_oom_tokenizer);
  RUN(test_oom_gpt2_vocab);
  RUN(test_oom_bpe_train);
  RUN(test_oom_gguf_vocab);
  sb_free(&text);
  sb_free(&enc_json);
  sb_free(&vocab_bpe);
  return CHECK_DONE();
}
