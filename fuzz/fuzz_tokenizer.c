/*
** fuzz_tokenizer.c: libFuzzer target for byte-level BPE encode/decode.
**
** Two small tokenizers are built once per process (lazily, in statics: fine
** in a fuzz harness, never in the engine) from a tiny synthetic merge list,
** one with GPT-2 pre-tokenization and one without. Byte tokens get permuted
** ids, as in GPT-2. For each input, in both allow_special modes:
**   decode(encode(x)) == x byte for byte       (the main oracle);
** and also: every id is valid; without allow_special no SPECIAL id appears,
** and the ids equal those of a naive reference BPE (pre-tokenize, then
** repeatedly merge the lowest-ranked adjacent pair, leftmost first); with
** allow_special, input that holds no special text encodes as without it.
** Any violation calls abort().
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/pretok.h"
#include "text/tokenizer.h"

typedef struct mdef {
  const char *left, *right;
} mdef;

/* In rank order; each side is a byte or the result of an earlier merge. */
static const mdef merges[] = {
    {"t", "h"},   {"h", "e"},    {" ", "t"},      {"th", "e"},
    {" t", "he"}, {"i", "n"},    {"in", "g"},     {"e", "r"},
    {" ", "a"},   {"a", "a"},    {"aa", "aa"},    {"aaaa", "aa"},
    {"\xc3", "\xa9"}, {"\n", "\n"}, {" ", " "},   {"  ", "  "},
    {"<", "|"},   {"e", "e"},    {"ee", "e"},     {"'", "s"},
    {"aa", "a"},  {" ", "in"},   {" in", "g"},    {"1", "2"},
};
#define N_MERGES ((int)(sizeof merges / sizeof merges[0]))

static const char *const specials[] = {"<|endoftext|>", "<|end|>", "<|pad|>",
                                       "aa<"};
#define N_SPECIALS ((int)(sizeof specials / sizeof specials[0]))
#define N_VOCAB (256 + N_MERGES + N_SPECIALS)

typedef struct fz {
  llm_tokenizer *tok[2]; /* [0]: LLM_PRETOK_NONE, [1]: LLM_PRETOK_GPT2 */
  int32_t byte_id[256];
  uint8_t piece[N_VOCAB][16];
  size_t piece_len[N_VOCAB];
  int16_t rank[N_VOCAB][N_VOCAB]; /* pair -> merge rank, or -1 */
} fz;

static int32_t perm(int b) { return (b * 167 + 13) & 255; }

static int32_t find_piece(const fz *z, const char *s, int32_t n_defined) {
  size_t len = strlen(s);
  for (int32_t id = 0; id < n_defined; id++)
    if (z->piece_len[id] == len && !memcmp(z->piece[id], s, len)) return id;
  return -1;
}

static void die(const char *what, const llm_err *err) {
  fprintf(stderr, "fuzz_tokenizer setup: %s: %s\n", what, err ? err->msg : "");
  abort();
}

static fz *setup(void) {
  static fz *z;
  if (z) return z;
  z = calloc(1, sizeof *z);
  if (!z) die("calloc", NULL);
  memset(z->rank, 0xff, sizeof z->rank);
  for (int b = 0; b < 256; b++) {
    int32_t id = perm(b);
    z->byte_id[b] = id;
    z->piece[id][0] = (uint8_t)b;
    z->piece_len[id] = 1;
  }
  int32_t left[N_VOCAB], right[N_VOCAB];
  for (int r = 0; r < N_MERGES; r++) {
    int32_t id = 256 + r;
    left[id] = find_piece(z, merges[r].left, id);
    right[id] = find_piece(z, merges[r].right, id);
    if (left[id] < 0 || right[id] < 0) die("bad merge list", NULL);
    size_t ll = z->piece_len[left[id]], lr = z->piece_len[right[id]];
    memcpy(z->piece[id], z->piece[left[id]], ll);
    memcpy(z->piece[id] + ll, z->piece[right[id]], lr);
    z->piece_len[id] = ll + lr;
    z->rank[left[id]][right[id]] = (int16_t)r;
  }
  for (int k = 0; k < N_SPECIALS; k++) {
    int32_t id = 256 + N_MERGES + k;
    z->piece_len[id] = strlen(specials[k]);
    memcpy(z->piece[id], specials[k], z->piece_len[id]);
  }
  for (int m = 0; m < 2; m++) {
    llm_err err;
    llm_tokenizer *t;
    if (llm_tokenizer_new(&t, N_VOCAB, m ? LLM_PRETOK_GPT2 : LLM_PRETOK_NONE,
                          &err))
      die("new", &err);
    for (int32_t id = 0; id < N_VOCAB; id++) {
      int kind = id < 256 ? LLM_TOKEN_BYTE
                 : id < 256 + N_MERGES ? LLM_TOKEN_MERGE
                                       : LLM_TOKEN_SPECIAL;
      int is_merge = kind == LLM_TOKEN_MERGE;
      if (llm_tokenizer_set(t, id, kind, z->piece[id], z->piece_len[id],
                            is_merge ? left[id] : -1, is_merge ? right[id] : -1,
                            is_merge ? id - 256 : -1, &err))
        die("set", &err);
    }
    if (llm_tokenizer_finish(t, &err)) die("finish", &err);
    z->tok[m] = t;
  }
  return z;
}

/* The reference: naive BPE of one piece, appended to out. */
static void ref_piece(const fz *z, const uint8_t *s, size_t n, llm_ids *out) {
  int32_t *sym = malloc((n ? n : 1) * sizeof *sym);
  if (!sym) abort();
  for (size_t i = 0; i < n; i++) sym[i] = z->byte_id[s[i]];
  size_t m = n;
  for (;;) {
    int best = -1;
    size_t at = 0;
    for (size_t i = 0; i + 1 < m; i++) {
      int r = z->rank[sym[i]][sym[i + 1]];
      if (r >= 0 && (best < 0 || r < best)) {
        best = r;
        at = i;
      }
    }
    if (best < 0) break;
    sym[at] = 256 + best;
    memmove(sym + at + 1, sym + at + 2, (m - at - 2) * sizeof *sym);
    m--;
  }
  for (size_t i = 0; i < m; i++)
    if (llm_ids_push(out, sym[i])) abort();
  free(sym);
}

static void ref_encode(const fz *z, int mode, const uint8_t *s, size_t n,
                       llm_ids *out) {
  size_t pos = 0;
  while (pos < n) {
    size_t end = llm_pretok_next(mode, s, n, pos);
    if (end <= pos || end > n) abort();
    ref_piece(z, s + pos, end - pos, out);
    pos = end;
  }
}

static int holds_special(const uint8_t *s, size_t n) {
  for (int k = 0; k < N_SPECIALS; k++)
    if (memmem(s, n, specials[k], strlen(specials[k]))) return 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz *z = setup();
  for (int m = 0; m < 2; m++) {
    llm_tokenizer *t = z->tok[m];
    llm_ids ids[2] = {{0}, {0}};
    for (int allow = 0; allow < 2; allow++) {
      llm_err err;
      llm_buf back = {0};
      if (llm_tokenizer_encode(t, data, size, allow, &ids[allow], &err)) {
        fprintf(stderr, "encode failed: %s\n", err.msg);
        abort();
      }
      for (size_t i = 0; i < ids[allow].len; i++) {
        int32_t id = ids[allow].data[i];
        if (id < 0 || id >= N_VOCAB) abort();
        if (!allow && llm_tokenizer_kind(t, id) == LLM_TOKEN_SPECIAL) abort();
      }
      if (llm_tokenizer_decode(t, ids[allow].data, ids[allow].len, &back, &err))
        abort();
      if (back.len != size || (size && memcmp(back.data, data, size))) {
        fprintf(stderr, "round trip differs (pretok %d, allow_special %d)\n",
                m, allow);
        abort();
      }
      llm_buf_free(&back);
    }
    if (!holds_special(data, size) &&
        (ids[0].len != ids[1].len ||
         (ids[0].len &&
          memcmp(ids[0].data, ids[1].data, ids[0].len * sizeof(int32_t))))) {
      fprintf(stderr, "allow_special changed text without special tokens\n");
      abort();
    }
    if (size <= 512) {
      llm_ids want = {0};
      ref_encode(z, m ? LLM_PRETOK_GPT2 : LLM_PRETOK_NONE, data, size, &want);
      if (want.len != ids[0].len ||
          (want.len &&
           memcmp(want.data, ids[0].data, want.len * sizeof(int32_t)))) {
        fprintf(stderr, "encode differs from the reference BPE (pretok %d)\n", m);
        abort();
      }
      llm_ids_free(&want);
    }
    llm_ids_free(&ids[0]);
    llm_ids_free(&ids[1]);
  }
  return 0;
}
