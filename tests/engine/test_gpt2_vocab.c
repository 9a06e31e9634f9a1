/* test_gpt2_vocab.c: loading GPT-2's encoder.json + vocab.bpe. The real
** files are read from ../shared/data/gpt2/ (run from the repository root). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/gpt2_vocab.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
#include "check.h"

#define GPT2_DIR "../shared/data/gpt2/"

static char *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    printf("  cannot open %s (tests must run from the repository root, with "
           "the GPT-2 files in ../shared/data/gpt2/)\n",
           path);
    return NULL;
  }
  size_t cap = 1 << 20, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len == cap) buf = realloc(buf, cap *= 2);
    size_t got = fread(buf + len, 1, cap - len, f);
    if (got == 0) break;
    len += got;
  }
  fclose(f);
  *n = len;
  return buf;
}

/* The real GPT-2 tokenizer, loaded once per test that needs it. */
static llm_tokenizer *load_real(void) {
  size_t ne = 0, nb = 0;
  char *enc = read_file(GPT2_DIR "encoder.json", &ne);
  char *bpe = read_file(GPT2_DIR "vocab.bpe", &nb);
  llm_tokenizer *t = NULL;
  if (enc && bpe) {
    llm_err err;
    memset(&err, 0, sizeof err);
    int rc = llm_gpt2_vocab_load(enc, ne, bpe, nb, &t, &err);
    if (rc) printf("  load failed (%d): %s\n", rc, err.msg);
  }
  free(enc);
  free(bpe);
  return t;
}

static int piece_is(const llm_tokenizer *t, int32_t id, const char *s) {
  size_t len = 0;
  const uint8_t *p = llm_tokenizer_piece(t, id, &len);
  return p && len == strlen(s) && !memcmp(p, s, len);
}

static void test_real_files(void) {
  llm_tokenizer *t = load_real();
  CHECK(t != NULL);
  if (!t) return;
  CHECK(llm_tokenizer_n_vocab(t) == 50257);
  int n_byte = 0, n_merge = 0, n_special = 0;
  int seen[256] = {0};
  int32_t rank0 = -1;
  for (int32_t id = 0; id < 50257; id++) {
    int k = llm_tokenizer_kind(t, id);
    if (k == LLM_TOKEN_BYTE) {
      size_t len = 0;
      const uint8_t *p = llm_tokenizer_piece(t, id, &len);
      if (len == 1) seen[p[0]]++;
      n_byte++;
    } else if (k == LLM_TOKEN_MERGE) {
      n_merge++;
      if (llm_tokenizer_rank(t, id) == 0) rank0 = id;
    } else if (k == LLM_TOKEN_SPECIAL) {
      n_special++;
    }
  }
  CHECK(n_byte == 256 && n_merge == 50000 && n_special == 1);
  int all = 1;
  for (int b = 0; b < 256; b++) all &= seen[b] == 1;
  CHECK(all);
  /* GPT-2 permutes the bytes: '!' is id 0, a space is id 220. */
  CHECK(piece_is(t, 0, "!") && piece_is(t, 220, " "));
  CHECK(llm_tokenizer_kind(t, 50256) == LLM_TOKEN_SPECIAL);
  CHECK(piece_is(t, 50256, "<|endoftext|>"));
  CHECK(llm_tokenizer_special_id(t, (const uint8_t *)"<|endoftext|>", 13) ==
        50256);
  CHECK(piece_is(t, 262, " the"));
  CHECK(llm_tokenizer_kind(t, 262) == LLM_TOKEN_MERGE);
  /* Merge rank 0 is "Ġ t": bytes " " + "t" = " t" (id 256). */
  CHECK(rank0 == 256);
  CHECK(piece_is(t, rank0, " t"));
  CHECK(piece_is(t, llm_tokenizer_left(t, rank0), " ") &&
        piece_is(t, llm_tokenizer_right(t, rank0), "t"));
  /* Rank 1 is "Ġ a"; the last merge (rank 49999) is "Ġg azed". */
  CHECK(piece_is(t, 257, " a") && llm_tokenizer_rank(t, 257) == 1);
  CHECK(piece_is(t, 50255, " gazed") && llm_tokenizer_rank(t, 50255) == 49999);
  CHECK(llm_tokenizer_left(t, 50256) == -1 && llm_tokenizer_rank(t, 50256) == -1);
  /* Tokens whose encoded keys need JSON escapes: '"' (id 1) and '\' (59). */
  CHECK(piece_is(t, 1, "\"") && piece_is(t, 59, "\\"));
  /* Newline is written U+010A 'Ċ' (id 198); "\n\n" is 628. */
  CHECK(piece_is(t, 198, "\n") && piece_is(t, 628, "\n\n"));
  llm_tokenizer_free(t);
}

/* Encodes s and compares with the expected ids. */
static int encodes_to(llm_tokenizer *t, const char *s, int allow_special,
                      const int32_t *want, size_t n_want) {
  llm_ids out = {0};
  llm_err err;
  memset(&err, 0, sizeof err);
  int rc = llm_tokenizer_encode(t, (const uint8_t *)s, strlen(s), allow_special,
                                &out, &err);
  int ok = rc == LLM_OK && out.len == n_want &&
           (n_want == 0 || !memcmp(out.data, want, n_want * sizeof(int32_t)));
  if (!ok) {
    printf("  encode \"%s\": rc=%d %s [", s, rc, err.msg);
    for (size_t i = 0; i < out.len; i++) printf("%s%d", i ? ", " : "", out.data[i]);
    printf("]\n");
  }
  /* And back. */
  llm_buf back = {0};
  if (ok) {
    rc = llm_tokenizer_decode(t, out.data, out.len, &back, &err);
    ok = rc == LLM_OK && back.len == strlen(s) && !memcmp(back.data, s, back.len);
    if (!ok) printf("  decode of \"%s\" differs\n", s);
  }
  llm_buf_free(&back);
  llm_ids_free(&out);
  return ok;
}

#define ENCODES(t, s, special, ...)                                        \
  do {                                                                     \
    static const int32_t want_[] = {__VA_ARGS__};                          \
    CHECK(encodes_to((t), (s), (special), want_,                           \
                     sizeof want_ / sizeof want_[0]));                     \
  } while (0)

/* Expected ids worked out by applying the merge list of vocab.bpe by hand
** (lowest rank first) to the GPT-2 pre-tokenizer's pieces. */
static void test_real_encode(void) {
  llm_tokenizer *t = load_real();
  CHECK(t != NULL);
  if (!t) return;
  ENCODES(t, "Hello world", 0, 15496, 995);
  ENCODES(t, " the", 0, 262);
  ENCODES(t, "The quick brown fox jumps over the lazy dog.", 0, 464, 2068,
          7586, 21831, 18045, 625, 262, 16931, 3290, 13);
  ENCODES(t, "It's 2024, isn't it?  Yes!!", 0, 1026, 338, 48609, 11, 2125, 470,
          340, 30, 220, 3363, 3228);
  ENCODES(t, "hello\n\nworld  ", 0, 31373, 198, 198, 6894, 220, 220);
  ENCODES(t, "I'll go", 0, 40, 1183, 467);
  ENCODES(t, "tokenization", 0, 30001, 1634);
  /* Non-ASCII: "h\xc3\xa9llo" and CJK fall back to byte-level pieces. */
  ENCODES(t, "Hello, world! h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac", 0, 15496,
          11, 995, 0, 289, 2634, 18798, 10545, 245, 98, 17312, 105);
  /* Special tokens: only when allowed. */
  ENCODES(t, "<|endoftext|>", 1, 50256);
  ENCODES(t, "<|endoftext|>", 0, 27, 91, 437, 1659, 5239, 91, 29);
  ENCODES(t, "Hello<|endoftext|>world", 1, 15496, 50256, 6894);
  /* Invalid UTF-8 still round-trips, byte by byte. */
  ENCODES(t, "\xff\xfe", 0, 187, 186);
  llm_tokenizer_free(t);
}

/* ---- small vocabularies built in memory ---- */

/* GPT-2's byte -> code point map, as UTF-8 with JSON escaping. */
static size_t enc_byte(int b, char *out) {
  int cp;
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
    cp = b;
  } else {
    int k = 0;
    for (int c = 0; c < b; c++)
      if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255)))
        k++;
    cp = 256 + k;
  }
  if (cp == '"' || cp == '\\') {
    out[0] = '\\';
    out[1] = (char)cp;
    return 2;
  }
  uint8_t u[4];
  size_t len = (size_t)llm_utf8_encode(u, (uint32_t)cp);
  memcpy(out, u, len);
  return len;
}

typedef struct xtok {
  const char *key; /* as written in encoder.json (encoded, escaped) */
  long id;
} xtok;

/* The byte tokens (id = byte value; `skip` >= 0 replaces that byte's token
** by the key "zz") then the extra tokens. Returns a malloc'd string. */
static char *make_encoder(int skip, const xtok *extra, size_t n_extra,
                          size_t *len) {
  size_t cap = 16384, o = 0;
  char *s = malloc(cap);
  s[o++] = '{';
  for (int b = 0; b < 256; b++) {
    if (b) s[o++] = ',';
    s[o++] = '"';
    if (b == skip) {
      memcpy(s + o, "zz", 2);
      o += 2;
    } else {
      o += enc_byte(b, s + o);
    }
    o += (size_t)snprintf(s + o, cap - o, "\":%d", b);
  }
  for (size_t i = 0; i < n_extra; i++)
    o += (size_t)snprintf(s + o, cap - o, ",\"%s\":%ld", extra[i].key,
                          extra[i].id);
  s[o++] = '}';
  s[o] = 0;
  *len = o;
  return s;
}

static const xtok base_extra[] = {
    {"th", 256}, {"the", 257}, {"\\u0120the", 258}, {"<|endoftext|>", 259}};
static const char base_bpe[] = "#version: 0.2\nt h\nth e\n\xc4\xa0 the\n";

/* Loads; returns the status and leaves the message in err. */
static int try_load(const char *enc, size_t ne, const char *bpe, size_t nb,
                    llm_tokenizer **t, llm_err *err) {
  memset(err, 0, sizeof *err);
  *t = (llm_tokenizer *)1;
  int rc = llm_gpt2_vocab_load(enc, ne, bpe, nb, t, err);
  if (rc && *t != NULL) {
    printf("  *out not NULL on failure\n");
    *t = NULL;
  }
  return rc;
}

static int load_fails(const char *enc, size_t ne, const char *bpe, int code,
                      const char *want);

static void test_small_valid(void) {
  size_t ne;
  char *enc = make_encoder(-1, base_extra, 4, &ne);
  llm_tokenizer *t;
  llm_err err;
  int rc = try_load(enc, ne, base_bpe, strlen(base_bpe), &t, &err);
  CHECK(rc == LLM_OK);
  if (rc) printf("  %s\n", err.msg);
  if (t) {
    CHECK(llm_tokenizer_n_vocab(t) == 260);
    CHECK(llm_tokenizer_kind(t, 'a') == LLM_TOKEN_BYTE && piece_is(t, 'a', "a"));
    CHECK(piece_is(t, ' ', " ") && piece_is(t, '"', "\"") &&
          piece_is(t, 0, "") == 0);
    size_t len;
    const uint8_t *p0 = llm_tokenizer_piece(t, 0, &len);
    CHECK(len == 1 && p0[0] == 0);
    CHECK(llm_tokenizer_kind(t, 256) == LLM_TOKEN_MERGE &&
          llm_tokenizer_left(t, 256) == 't' && llm_tokenizer_right(t, 256) == 'h' &&
          llm_tokenizer_rank(t, 256) == 0);
    CHECK(llm_tokenizer_rank(t, 257) == 1 && llm_tokenizer_left(t, 257) == 256);
    CHECK(piece_is(t, 258, " the") && llm_tokenizer_rank(t, 258) == 2 &&
          llm_tokenizer_left(t, 258) == ' ' && llm_tokenizer_right(t, 258) == 257);
    CHECK(llm_tokenizer_kind(t, 259) == LLM_TOKEN_SPECIAL);
    CHECK(llm_tokenizer_pretok(t) == 1);
    /* " thin" stays " " + "th" + "i" + "n": no merge joins " " and "th". */
    ENCODES(t, "the thin the", 0, 257, ' ', 256, 'i', 'n', 258);
    llm_tokenizer_free(t);
  }
  /* Without a version line, with CRLF line ends, with trailing blank lines,
  ** and with a comment first line: all accepted. */
  const char *ok_bpe[] = {"t h\nth e\n\xc4\xa0 the",
                          "#version: 0.2\r\nt h\r\nth e\r\n\xc4\xa0 the\r\n",
                          "#version: 0.2\nt h\nth e\n\xc4\xa0 the\n\n\n",
                          ("#version: 0.2 - Trained by huggingface/tokenizers\n"
                           "t h\nth e\n\xc4\xa0 the\n"),
                          "# a comment\nt h\nth e\n\xc4\xa0 the\n"};
  for (size_t i = 0; i < sizeof ok_bpe / sizeof *ok_bpe; i++) {
    rc = try_load(enc, ne, ok_bpe[i], strlen(ok_bpe[i]), &t, &err);
    CHECK(rc == LLM_OK && t && llm_tokenizer_kind(t, 258) == LLM_TOKEN_MERGE);
    if (rc) printf("  variant %zu: %s\n", i, err.msg);
    llm_tokenizer_free(t);
  }
  /* A file without merges (empty, or only its header) is refused: it would
  ** turn every multi-byte token into a special token. */
  CHECK(load_fails(enc, ne, "#version: 0.2\n", LLM_EINVAL, "no merges found"));
  CHECK(load_fails(enc, ne, "", LLM_EINVAL, "no merges found"));
  free(enc);
}

/* Expects loading to fail with code and a message containing want. */
static int load_fails(const char *enc, size_t ne, const char *bpe, int code,
                      const char *want) {
  llm_tokenizer *t;
  llm_err err;
  int rc = try_load(enc, ne, bpe, strlen(bpe), &t, &err);
  int ok = rc == code && err.code == code && strstr(err.msg, want) && !t;
  if (!ok) printf("  rc=%d msg=\"%s\" (wanted %d, \"%s\")\n", rc, err.msg, code, want);
  if (rc == LLM_OK) llm_tokenizer_free(t);
  return ok;
}

static void test_bad_encoder(void) {
  size_t ne;
  char *enc = make_encoder(-1, base_extra, 4, &ne);
  /* Truncated JSON. */
  CHECK(load_fails(enc, ne - 1, base_bpe, LLM_EINVAL,
                   "encoder.json: expected ',' or '}' in object, found end of "
                   "input at byte"));
  CHECK(load_fails(enc, 100, base_bpe, LLM_EINVAL, "encoder.json: "));
  CHECK(load_fails(enc, 0, base_bpe, LLM_EINVAL, "encoder.json: empty input"));
  CHECK(load_fails("[1,2]", 5, base_bpe, LLM_EINVAL,
                   "encoder.json: expected a JSON object mapping tokens to ids, "
                   "found an array"));
  CHECK(load_fails("{}", 2, base_bpe, LLM_EINVAL, "the object is empty"));
  CHECK(load_fails("{\"a\":\"1\"}", 9, base_bpe, LLM_EINVAL,
                   "the id of token \"a\" at byte 5 is not an integer (found a "
                   "string)"));
  CHECK(load_fails("{\"a\":0.5}", 9, base_bpe, LLM_EINVAL, "is not an integer"));
  free(enc);

  /* Duplicate ids. */
  xtok dup[] = {{"th", 256}, {"the", 256}, {"\\u0120the", 258},
                {"<|endoftext|>", 259}};
  enc = make_encoder(-1, dup, 4, &ne);
  CHECK(load_fails(enc, ne, base_bpe, LLM_EINVAL,
                   "encoder.json: tokens \"th\" and \"the\" both have id 256"));
  free(enc);
  /* A gap in the ids (0..258, 260). */
  xtok gap[] = {{"th", 256}, {"the", 257}, {"\\u0120the", 258}, {"<|endoftext|>", 260}};
  enc = make_encoder(-1, gap, 4, &ne);
  CHECK(load_fails(enc, ne, base_bpe, LLM_ERANGE,
                   "token \"<|endoftext|>\" has id 260 at byte"));
  CHECK(load_fails(enc, ne, base_bpe, LLM_ERANGE,
                   "with 260 tokens the ids must be 0..259, without gaps"));
  free(enc);
  xtok neg[] = {{"th", -1}};
  enc = make_encoder(-1, neg, 1, &ne);
  CHECK(load_fails(enc, ne, base_bpe, LLM_ERANGE, "has id -1"));
  free(enc);
  /* A missing byte token (byte 'A' replaced by "zz"). */
  enc = make_encoder('A', base_extra, 4, &ne);
  CHECK(load_fails(enc, ne, base_bpe, LLM_EINVAL,
                   "encoder.json has no token for byte 0x41 (written \"A\", "
                   "U+0041)"));
  free(enc);
  enc = make_encoder(' ', base_extra, 4, &ne);
  CHECK(load_fails(enc, ne, "#version: 0.2\n", LLM_EINVAL,
                   "no token for byte 0x20 (written \"\xc4\xa0\", U+0120)"));
  free(enc);
  /* Keys with code points outside the byte map. */
  xtok unm[] = {{"a b", 256}};
  enc = make_encoder(-1, unm, 1, &ne);
  CHECK(load_fails(enc, ne, "", LLM_EINVAL,
                   "encoder.json: token \"a b\" (id 256) contains U+0020, which "
                   "GPT-2's byte encoding never uses (byte 0x20 is written "
                   "U+0120)"));
  free(enc);
  xtok unm2[] = {{"\\u20ac", 256}};
  enc = make_encoder(-1, unm2, 1, &ne);
  CHECK(load_fails(enc, ne, "", LLM_EINVAL, "contains U+20AC"));
  free(enc);
  xtok unm3[] = {{"a\\u0000", 256}};
  enc = make_encoder(-1, unm3, 1, &ne);
  CHECK(load_fails(enc, ne, "", LLM_EINVAL, "contains U+0000"));
  free(enc);
  xtok empty[] = {{"", 256}};
  enc = make_encoder(-1, empty, 1, &ne);
  CHECK(load_fails(enc, ne, "", LLM_EINVAL, "empty token"));
  free(enc);
  /* Two keys that are different text but the same bytes cannot happen (the
  ** map is one-to-one), but the same key twice is a JSON duplicate. */
  xtok twice[] = {{"th", 256}, {"t\\u0068", 257}};
  enc = make_encoder(-1, twice, 2, &ne);
  CHECK(load_fails(enc, ne, "", LLM_EINVAL, "duplicate object key \"th\""));
  free(enc);
  /* A piece longer than the maximum. */
  {
    size_t klen = LLM_TOKENIZER_MAX_PIECE + 1;
    char *key = malloc(klen + 1);
    memset(key, 'a', klen);
    key[klen] = 0;
    /* Too long for make_encoder's buffer: written directly. */
    char *e2 = malloc(klen + 32);
    size_t o = (size_t)snprintf(e2, klen + 32, "{\"%s\":0}", key);
    CHECK(load_fails(e2, o, "", LLM_ERANGE, "4097 bytes long, more than the 4096"));
    free(e2);
    free(key);
  }
}

static void test_bad_merges(void) {
  size_t ne;
  char *enc = make_encoder(-1, base_extra, 4, &ne);
  /* Wrong version. */
  CHECK(load_fails(enc, ne, "#version: 0.3\nt h\n", LLM_EINVAL,
                   "vocab.bpe line 1: unsupported version \"0.3\" (expected "
                   "\"#version: 0.2\")"));
  CHECK(load_fails(enc, ne, "#version:\nt h\n", LLM_EINVAL,
                   "unsupported version \"\""));
  /* A merge naming an unknown token. */
  CHECK(load_fails(enc, ne, "#version: 0.2\nt h\nth q\n", LLM_EINVAL,
                   "vocab.bpe line 3: the merged token \"thq\" is not in "
                   "encoder.json"));
  CHECK(load_fails(enc, ne, "#version: 0.2\nt h\nthx e\n", LLM_EINVAL,
                   "vocab.bpe line 3: token \"thx\" is not in encoder.json"));
  /* Malformed lines. */
  CHECK(load_fails(enc, ne, "#version: 0.2\nth\n", LLM_EINVAL,
                   "vocab.bpe line 2: expected two tokens separated by one "
                   "space, found \"th\""));
  CHECK(load_fails(enc, ne, "#version: 0.2\nt  h\n", LLM_EINVAL,
                   "separated by one space"));
  CHECK(load_fails(enc, ne, "#version: 0.2\n t\n", LLM_EINVAL, "one space"));
  CHECK(load_fails(enc, ne, "#version: 0.2\nt \n", LLM_EINVAL, "one space"));
  CHECK(load_fails(enc, ne, "#version: 0.2\nt h x\n", LLM_EINVAL, "one space"));
  CHECK(load_fails(enc, ne, "#version: 0.2\nt h\n\nth e\n", LLM_EINVAL,
                   "vocab.bpe line 3 is blank but a merge follows on line 4"));
  CHECK(load_fails(enc, ne, "#version: 0.2\nt\th\n", LLM_EINVAL, "one space"));
  CHECK(load_fails(enc, ne, "#version: 0.2\nt \xc3\n", LLM_EINVAL,
                   "vocab.bpe line 2: token \"\\xC3\" is not valid UTF-8"));
  CHECK(load_fails(enc, ne, "#version: 0.2\nt \xe2\x82\xac\n", LLM_EINVAL,
                   "vocab.bpe line 2: token \"\xe2\x82\xac\" contains U+20AC"));
  /* The same token made twice. */
  CHECK(load_fails(enc, ne, "#version: 0.2\nt h\nt h\n", LLM_EINVAL,
                   "vocab.bpe lines 2 and 3 both make token \"th\" (id 256)"));
  /* A merge built on a token no merge makes (and that is not a byte). */
  CHECK(load_fails(enc, ne, "#version: 0.2\nth e\n", LLM_EINVAL,
                   "vocab.bpe line 2: merge into \"the\" uses \"th\" (id 256), "
                   "which is neither a single byte nor made by any merge"));
  /* A NUL inside the merge text is not in the map either. */
  {
    static const char nul_bpe[] = "#version: 0.2\nt \0\n";
    llm_tokenizer *t;
    llm_err err;
    int rc = try_load(enc, ne, nul_bpe, sizeof nul_bpe - 1, &t, &err);
    CHECK(rc == LLM_EINVAL && t == NULL &&
          strstr(err.msg, "vocab.bpe line 2: token \"\\x00\" contains U+0000"));
    if (rc != LLM_EINVAL) printf("  %s\n", err.msg);
    llm_tokenizer_free(t);
  }
  free(enc);
}

int main(void) {
  RUN(test_real_files);
  RUN(test_real_encode);
  RUN(test_small_valid);
  RUN(test_bad_encoder);
  RUN(test_bad_merges);
  return CHECK_DONE();
}
