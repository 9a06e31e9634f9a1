/*
** llama2c.c: reading llama2.c's files (see llama2c.h).
**
** The tokenizer file is read in two passes: the first walks the records
** and checks every size, score and name without allocating anything, so a
** truncated or hostile file fails before any memory is committed to it;
** the second builds the tokenizer from the records it checked.
*/
#include "formats/llama2c.h"

#include <math.h>
#include <string.h>

#define WHAT "llama2.c tokenizer"

static uint32_t read_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static float read_f32(const uint8_t *p) {
  uint32_t u = read_u32(p);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* One token record, as found at some offset. */
typedef struct record {
  float score;
  const uint8_t *bytes;
  size_t len;
} record;

/* Reads the record of token id at *off and moves *off past it. */
static int read_record(const uint8_t *data, size_t len, size_t *off,
                       int32_t id, int32_t max_len, record *r, llm_err *err) {
  size_t at = *off;
  if (len - at < 8)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": truncated: token %d at byte %zu needs 8 bytes of "
                    "score and length, %zu are left",
                    id, at, len - at);
  r->score = read_f32(data + at);
  int32_t n = (int32_t)read_u32(data + at + 4);
  if (!isfinite(r->score))
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": token %d at byte %zu has score %g (must be finite)",
                    id, at, (double)r->score);
  if (n < 0 || n > max_len)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": token %d at byte %zu has length %d (0..%d, the "
                    "file's max_token_length)",
                    id, at, n, max_len);
  if (len - at - 8 < (size_t)n)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": truncated: token %d at byte %zu has %d bytes, %zu "
                    "are left",
                    id, at, n, len - at - 8);
  r->bytes = data + at + 8;
  r->len = (size_t)n;
  *off = at + 8 + (size_t)n;
  return LLM_OK;
}

/* Whether the piece of token id may stand for its role (the tokenizer
** checks it again; here the message can say where it is). */
static int check_role(int32_t id, const record *r, size_t at, llm_err *err) {
  static const char hex[] = "0123456789ABCDEF";
  if (id < LLM_SCORED_BYTE0 && r->len == 0)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": token %d at byte %zu (<unk>, <s> or </s>) is empty",
                    id, at);
  if (id < LLM_SCORED_BYTE0 || id >= LLM_SCORED_MIN_VOCAB) return LLM_OK;
  int b = id - LLM_SCORED_BYTE0;
  char want[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
  if (r->len != 6 || memcmp(r->bytes, want, 6))
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": token %d at byte %zu must be the byte-fallback "
                    "token \"%s\", not \"%.*s\"",
                    id, at, want, (int)(r->len < 40 ? r->len : 40),
                    (const char *)r->bytes);
  return LLM_OK;
}

/* Pass one: checks the header and every record; counts them. */
static int scan(const uint8_t *data, size_t len, int32_t n_vocab,
                int32_t *max_len, int32_t *count, llm_err *err) {
  if (len < 4)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": the data is %zu bytes, too short for the header",
                    len);
  int32_t m = (int32_t)read_u32(data);
  if (m < 1 || m > LLM_TOKENIZER_MAX_PIECE)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": max_token_length is %d (1..%d allowed): not a "
                    "llama2.c tokenizer file?",
                    m, LLM_TOKENIZER_MAX_PIECE);
  /* every record takes 8 bytes or more: reject a short file at once */
  if (n_vocab >= 0 && (len - 4) / 8 < (size_t)n_vocab)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": %zu bytes cannot hold %d tokens (at least %zu "
                    "bytes): the file is truncated or for another vocabulary",
                    len, n_vocab, 4 + (size_t)n_vocab * 8);
  size_t off = 4;
  int32_t id = 0;
  for (; n_vocab >= 0 ? id < n_vocab : off < len; id++) {
    if (id >= LLM_TOKENIZER_MAX_VOCAB)
      return llm_fail(err, LLM_ERANGE, WHAT ": more than %d tokens",
                      LLM_TOKENIZER_MAX_VOCAB);
    size_t at = off;
    record r;
    int rc = read_record(data, len, &off, id, m, &r, err);
    if (!rc) rc = check_role(id, &r, at, err);
    if (rc) return rc;
  }
  if (off != len)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": %d tokens end at byte %zu but the data has %zu "
                    "bytes: it holds more tokens than the vocabulary of %d",
                    id, off, len, n_vocab);
  if (id < LLM_SCORED_MIN_VOCAB)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": %d tokens; at least %d expected (<unk>, <s>, "
                    "</s> and 256 byte-fallback tokens first)",
                    id, LLM_SCORED_MIN_VOCAB);
  *max_len = m;
  *count = id;
  return LLM_OK;
}

/* llama2.c's export wraps <s> and </s> in newlines: drop them. */
static void strip_newlines(int32_t id, record *r) {
  if ((id == LLM_SCORED_BOS || id == LLM_SCORED_EOS) && r->len > 2 &&
      r->bytes[0] == '\n' && r->bytes[r->len - 1] == '\n') {
    r->bytes++;
    r->len -= 2;
  }
}

int llm_llama2c_tokenizer_parse(const uint8_t *data, size_t len,
                                int32_t n_vocab, llm_tokenizer **out,
                                llm_err *err) {
  *out = NULL;
  if (n_vocab != -1 &&
      (n_vocab < LLM_SCORED_MIN_VOCAB || n_vocab > LLM_TOKENIZER_MAX_VOCAB))
    return llm_fail(err, LLM_ERANGE,
                    WHAT ": vocabulary size %d is out of range (%d..%d)",
                    n_vocab, LLM_SCORED_MIN_VOCAB, LLM_TOKENIZER_MAX_VOCAB);
  int32_t max_len = 0, count = 0;
  int rc = scan(data, len, n_vocab, &max_len, &count, err);
  if (rc) return rc;
  llm_tokenizer *t;
  rc = llm_tokenizer_new_scored(&t, count, err);
  if (rc) return rc;
  size_t off = 4;
  for (int32_t id = 0; id < count && !rc; id++) {
    record r;
    rc = read_record(data, len, &off, id, max_len, &r, err);
    if (rc) break;
    strip_newlines(id, &r);
    int kind = id < LLM_SCORED_BYTE0       ? LLM_TOKEN_SPECIAL
               : id < LLM_SCORED_MIN_VOCAB ? LLM_TOKEN_BYTE
                                           : LLM_TOKEN_NORMAL;
    rc = llm_tokenizer_set_scored(t, id, kind, r.bytes, r.len, r.score, err);
  }
  if (!rc) rc = llm_tokenizer_finish(t, err);
  if (rc) {
    if (rc != LLM_ENOMEM && err) {
      char why[sizeof err->msg];
      memcpy(why, err->msg, sizeof why);
      llm_fail(err, rc, WHAT ": %s", why);
    }
    llm_tokenizer_free(t);
    return rc;
  }
  *out = t;
  return LLM_OK;
}

/* The bytes written for token id: the control tokens as llama2.c writes
** them, the rest as stored. */
static const uint8_t *written_piece(const llm_tokenizer *t, int32_t id, size_t *len) {
  static const char bos[] = "\n<s>\n", eos[] = "\n</s>\n";
  if (id == LLM_SCORED_BOS || id == LLM_SCORED_EOS) {
    *len = id == LLM_SCORED_BOS ? sizeof bos - 1 : sizeof eos - 1;
    return (const uint8_t *)(id == LLM_SCORED_BOS ? bos : eos);
  }
  return llm_tokenizer_piece(t, id, len);
}

int llm_llama2c_tokenizer_write(FILE *f, const llm_tokenizer *t, llm_err *err) {
  if (llm_tokenizer_type(t) != LLM_TOKENIZER_SCORED)
    return llm_fail(err, LLM_EINVAL,
                    "only a llama2.c (SentencePiece-style) tokenizer can be written as a llama2.c tokenizer file");
  int32_t n = llm_tokenizer_n_vocab(t), max_len = 0;
  for (int32_t id = 0; id < n; id++) {
    size_t len;
    written_piece(t, id, &len);
    if ((int32_t)len > max_len) max_len = (int32_t)len;
  }
  int ok = fwrite(&max_len, sizeof max_len, 1, f) == 1;
  for (int32_t id = 0; id < n && ok; id++) {
    size_t len;
    const uint8_t *p = written_piece(t, id, &len);
    float score = llm_tokenizer_score(t, id);
    int32_t len32 = (int32_t)len;
    ok = fwrite(&score, sizeof score, 1, f) == 1 && fwrite(&len32, sizeof len32, 1, f) == 1 &&
         (len == 0 || fwrite(p, 1, len, f) == len);
  }
  return ok ? LLM_OK : llm_fail(err, LLM_EIO, "cannot write the tokenizer file");
}
