/*
** tokenizer_vocab.c: building the vocabulary tokenizers of real models
** (byte-level BPE, SentencePiece and WordPiece as llama.cpp and Hugging
** Face run them; see tokenizer.h): their tokens, merges, pre-tokenizer
** patterns, special roles, and the checks and indexes made when they are
** finished.
*/
#include <math.h>
#include <string.h>

#include "text/bytelevel.h"
#include "text/tokenizer_impl.h"
#include "text/utf8.h"

/* "▁" (U+2581), SentencePiece's and llama.cpp's WordPiece's space. */
static const uint8_t SPACE_MARK[3] = {0xE2, 0x96, 0x81};

int llm_tokenizer_set_token(llm_tokenizer *t, int32_t id, int kind,
                            const uint8_t *text, size_t len, float score,
                            llm_err *err) {
  int rc = llm_tok_check_settable(t, id, -1, err);
  if (rc) return rc;
  if (t->indexed) return llm_fail(err, LLM_EINVAL, "tokens are already indexed");
  if (kind != LLM_TOKEN_NORMAL && kind != LLM_TOKEN_BYTE &&
      kind != LLM_TOKEN_SPECIAL && kind != LLM_TOKEN_USER &&
      kind != LLM_TOKEN_UNUSED)
    return llm_fail(err, LLM_EINVAL, "token %d has unknown kind %d", id, kind);
  if (len == 0 || len > LLM_TOKENIZER_MAX_PIECE)
    return llm_fail(err, LLM_EINVAL, "token %d has %zu bytes (1..%d allowed)",
                    id, len, LLM_TOKENIZER_MAX_PIECE);
  if (!isfinite(score))
    return llm_fail(err, LLM_EINVAL, "token %d has score %g (must be finite)",
                    id, (double)score);
  t->score[id] = score;
  return llm_tok_store_token(t, id, kind, text, len, -1, -1, -1, err);
}

int llm_tokenizer_add_merge(llm_tokenizer *t, int32_t left, int32_t right,
                            llm_err *err) {
  if (!t->vocab || t->type != LLM_TOKENIZER_BPE || t->finished)
    return llm_fail(err, LLM_EINVAL, "merges belong to an unfinished BPE vocabulary tokenizer");
  int32_t rank = (int32_t)(t->merge_list.len / 2);
  if (!llm_tok_valid_id(t, left) || !llm_tok_valid_id(t, right))
    return llm_fail(err, LLM_EINVAL, "merge %d names token %d, which is not defined",
                    rank, llm_tok_valid_id(t, left) ? right : left);
  if (llm_ids_push(&t->merge_list, left) || llm_ids_push(&t->merge_list, right))
    return llm_fail(err, LLM_ENOMEM, "out of memory for merge %d", rank);
  return LLM_OK;
}

int llm_tokenizer_set_patterns(llm_tokenizer *t, const char *const *patterns,
                               int n, llm_err *err) {
  if (!t->vocab || t->type != LLM_TOKENIZER_BPE || t->finished || t->n_regex)
    return llm_fail(err, LLM_EINVAL, "patterns belong to an unfinished BPE vocabulary tokenizer, once");
  if (n < 0 || n > 64) return llm_fail(err, LLM_ERANGE, "%d patterns (0..64 allowed)", n);
  t->regex = llm_calloc((size_t)n + 1, sizeof *t->regex);
  t->pattern = llm_calloc((size_t)n + 1, sizeof *t->pattern);
  if (!t->regex || !t->pattern) return llm_fail(err, LLM_ENOMEM, "out of memory");
  for (int i = 0; i < n; i++) {
    size_t len = strlen(patterns[i]);
    llm_err e = {0};
    if (llm_regex_compile(&t->regex[t->n_regex], patterns[i], len, &e))
      return llm_fail(err, e.code, "pre-tokenizer pattern %d: %s", i + 1, e.msg);
    t->n_regex++;
    if (!(t->pattern[i] = llm_malloc(len + 1))) return llm_fail(err, LLM_ENOMEM, "out of memory");
    memcpy(t->pattern[i], patterns[i], len + 1);
  }
  return LLM_OK;
}

int llm_tokenizer_set_token_flags(llm_tokenizer *t, int32_t id, unsigned flags,
                                  llm_err *err) {
  if (!llm_tok_valid_id(t, id) || t->finished)
    return llm_fail(err, LLM_EINVAL, "token %d is not defined, or the tokenizer is finished", id);
  if (flags & ~31u) return llm_fail(err, LLM_EINVAL, "unknown token flags 0x%x", flags);
  if (!t->tflags && !(t->tflags = llm_calloc((size_t)t->n_vocab, 1)))
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  t->tflags[id] = (uint8_t)flags;
  return LLM_OK;
}

unsigned llm_tokenizer_token_flags(const llm_tokenizer *t, int32_t id) {
  return t->tflags && llm_tok_valid_id(t, id) ? t->tflags[id] : 0;
}

int llm_tokenizer_set_template(llm_tokenizer *t, const int32_t *prefix, size_t n_prefix,
                               const int32_t *suffix, size_t n_suffix, llm_err *err) {
  t->prefix.len = t->suffix.len = 0;
  for (size_t i = 0; i < n_prefix + n_suffix; i++) {
    int32_t id = i < n_prefix ? prefix[i] : suffix[i - n_prefix];
    if (id < 0 || id >= t->n_vocab)
      return llm_fail(err, LLM_ERANGE, "template token id %d is out of range (0..%d)", id, t->n_vocab - 1);
    if (llm_ids_push(i < n_prefix ? &t->prefix : &t->suffix, id))
      return llm_fail(err, LLM_ENOMEM, "out of memory");
  }
  t->has_template = 1;
  return LLM_OK;
}

const int32_t *llm_tokenizer_template(const llm_tokenizer *t, int suffix, size_t *n) {
  const llm_ids *a = suffix ? &t->suffix : &t->prefix;
  *n = t->has_template ? a->len : 0;
  return t->has_template ? a->data : NULL;
}

int llm_tokenizer_set_wordpiece(llm_tokenizer *t, const char *prefix, int max_chars,
                                llm_err *err) {
  size_t n = strlen(prefix);
  if (t->type != LLM_TOKENIZER_WORDPIECE || n >= sizeof t->wp_prefix)
    return llm_fail(err, LLM_EINVAL, "WordPiece prefix '%.20s' is longer than %zu bytes, or not WordPiece",
                    prefix, sizeof t->wp_prefix - 1);
  memcpy(t->wp_prefix, prefix, n + 1);
  t->wp_max_chars = max_chars;
  return LLM_OK;
}

const char *llm_tokenizer_wordpiece(const llm_tokenizer *t, int *max_chars) {
  *max_chars = t->wp_max_chars;
  return t->type == LLM_TOKENIZER_WORDPIECE && t->wp_prefix[0] ? t->wp_prefix : NULL;
}

static const char *const ROLE_NAMES[LLM_ROLE_COUNT] = {
    "bos", "eos", "eot", "eom", "unk", "sep", "pad", "cls", "mask"};

const char *llm_tokenizer_role_name(int role) {
  return role >= 0 && role < LLM_ROLE_COUNT ? ROLE_NAMES[role] : NULL;
}

int llm_tokenizer_set_role(llm_tokenizer *t, int role, int32_t id,
                           llm_err *err) {
  if (role < 0 || role >= LLM_ROLE_COUNT)
    return llm_fail(err, LLM_EINVAL, "unknown special token role %d", role);
  if (id < -1 || id >= t->n_vocab)
    return llm_fail(err, LLM_ERANGE, "the %s token id %d is out of range (0..%d)",
                    ROLE_NAMES[role], id, t->n_vocab - 1);
  t->role[role] = id;
  return LLM_OK;
}

/* SentencePiece's name of a byte token, "<0xXX>": the byte, or -1. */
static int byte_piece_value(const uint8_t *s, size_t n) {
  if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; i++) {
    int c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Whether pieces are spelled with GPT-2's byte map. */
static int byte_level(const llm_tokenizer *t) {
  return t->type == LLM_TOKENIZER_BPE && !(t->flags & LLM_TOK_CHARS);
}

/* Appends what token id decodes to (see tokenizer.h) to t->text. */
static int append_text(llm_tokenizer *t, int32_t id) {
  const uint8_t *p = tok_piece(t, id);
  size_t n = t->len[id];
  int kind = t->kind[id];
  if (llm_tok_is_special(kind)) return llm_buf_append(&t->text, p, n);
  if (kind == LLM_TOKEN_BYTE && !byte_level(t)) {
    uint8_t b = (uint8_t)byte_piece_value(p, n);
    return llm_buf_append(&t->text, &b, 1);
  }
  if (t->type == LLM_TOKENIZER_WORDPIECE && t->wp_prefix[0]) {
    /* Hugging Face WordPiece: "##ing" continues a word, others start one */
    size_t np = strlen(t->wp_prefix);
    if (n >= np && !memcmp(p, t->wp_prefix, np)) return llm_buf_append(&t->text, p + np, n - np);
    return llm_buf_append(&t->text, " ", 1) || llm_buf_append(&t->text, p, n);
  }
  for (size_t i = 0; i < n;) {
    int len;
    int32_t cp = llm_utf8_decode(p + i, n - i, &len);
    int rc;
    if (byte_level(t) && llm_bytelevel_byte(cp) >= 0) {
      uint8_t b = (uint8_t)llm_bytelevel_byte(cp);
      rc = llm_buf_append(&t->text, &b, 1);
    } else if (!byte_level(t) && len == 3 && !memcmp(p + i, SPACE_MARK, 3)) {
      rc = llm_buf_append(&t->text, " ", 1);
    } else { /* kept as it is spelled */
      rc = llm_buf_append(&t->text, p + i, (size_t)len);
    }
    if (rc) return rc;
    i += (size_t)len;
  }
  return LLM_OK;
}

/* The decoded text of every token. */
static int build_texts(llm_tokenizer *t, llm_err *err) {
  t->text.len = 0;
  if (!t->text_off && !(t->text_off = llm_calloc((size_t)t->n_vocab, sizeof(uint64_t))))
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  if (!t->text_len && !(t->text_len = llm_calloc((size_t)t->n_vocab, sizeof(uint32_t))))
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  for (int32_t id = 0; id < t->n_vocab; id++) {
    t->text_off[id] = t->text.len;
    if (append_text(t, id)) return llm_fail(err, LLM_ENOMEM, "out of memory");
    t->text_len[id] = (uint32_t)(t->text.len - t->text_off[id]);
  }
  return LLM_OK;
}

/* The token of each byte: byte-level BPE, the token spelled with the
** byte's character; SentencePiece, the "<0xXX>" BYTE token. */
static int build_byte_ids(llm_tokenizer *t, llm_err *err) {
  for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
  if (byte_level(t)) {
    for (int b = 0; b < 256; b++) {
      uint8_t enc[4];
      int k = llm_utf8_encode(enc, llm_bytelevel_cp((uint8_t)b));
      t->byte_id[b] = llm_tok_model_lookup(t, enc, (size_t)k);
    }
    return LLM_OK;
  }
  for (int32_t id = 0; id < t->n_vocab; id++) {
    if (t->kind[id] != LLM_TOKEN_BYTE) continue;
    int b = byte_piece_value(tok_piece(t, id), t->len[id]);
    if (b < 0)
      return llm_fail(err, LLM_EINVAL, "byte token %d is \"%.*s\", not <0xXX>", id,
                      (int)(t->len[id] < 40 ? t->len[id] : 40), (const char *)tok_piece(t, id));
    if (t->byte_id[b] >= 0)
      return llm_fail(err, LLM_EINVAL, "byte 0x%02X has two tokens (%d and %d)", b,
                      t->byte_id[b], id);
    t->byte_id[b] = id;
  }
  return LLM_OK;
}

/* The merges, each checked: its tokens' concatenation must be a token. */
static int build_merges(llm_tokenizer *t, llm_err *err) {
  llm_map_free(&t->merges);
  int32_t n = llm_tokenizer_n_merges(t);
  if (llm_map_reserve(&t->merges, (size_t)n)) return llm_fail(err, LLM_ENOMEM, "out of memory");
  for (int32_t r = 0; r < n; r++) {
    int32_t a = t->merge_list.data[2 * r], b = t->merge_list.data[2 * r + 1];
    size_t la = t->len[a], lb = t->len[b];
    t->work.len = 0;
    if (llm_buf_append(&t->work, tok_piece(t, a), la) ||
        llm_buf_append(&t->work, tok_piece(t, b), lb))
      return llm_fail(err, LLM_ENOMEM, "out of memory");
    int32_t id = llm_tok_lookup(t, t->work.data, la + lb);
    if (id < 0)
      return llm_fail(err, LLM_EINVAL,
                      "merge %d (tokens %d and %d) makes \"%.*s\", which is not a token",
                      r, a, b, (int)(la + lb < 60 ? la + lb : 60), (const char *)t->work.data);
    if (t->kind[id] == LLM_TOKEN_SPECIAL) continue; /* text never becomes a control token */
    int inserted;
    uint64_t *v = llm_map_put(&t->merges, llm_pair_key((uint32_t)a, (uint32_t)b),
                              ((uint64_t)(uint32_t)r << 32) | (uint32_t)id, &inserted);
    if (!v) return llm_fail(err, LLM_ENOMEM, "out of memory");
    /* a repeated pair keeps its first (lowest) rank, as a rank lookup does */
  }
  return LLM_OK;
}

int llm_tokenizer_index(llm_tokenizer *t, llm_err *err) {
  if (!t->vocab || t->finished)
    return llm_fail(err, LLM_EINVAL, "only an unfinished vocabulary tokenizer is indexed");
  if (t->indexed) return LLM_OK;
  llm_map_free(&t->lookup);
  if (llm_map_reserve(&t->lookup, (size_t)t->n_vocab))
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  for (int32_t id = 0; id < t->n_vocab; id++) {
    if (!t->is_set[id]) return llm_fail(err, LLM_EINVAL, "token id %d is not defined", id);
    int rc = llm_tok_lookup_insert(t, id, 1, err);
    if (rc) return rc;
  }
  t->indexed = 1;
  return LLM_OK;
}

int32_t llm_tokenizer_find(const llm_tokenizer *t, const uint8_t *s, size_t n) {
  return t->indexed || t->finished ? llm_tok_lookup(t, s, n) : -1;
}

int llm_tok_finish_vocab(llm_tokenizer *t, llm_err *err) {
  int rc = llm_tokenizer_index(t, err);
  if (rc) return rc;
  t->max_len = 0;
  int n_special = 0;
  for (int32_t id = 0; id < t->n_vocab; id++) {
    n_special += llm_tok_is_special(t->kind[id]);
    if ((int)t->len[id] > t->max_len) t->max_len = (int)t->len[id];
  }
  for (int r = 0; r < LLM_ROLE_COUNT; r++)
    if (t->role[r] >= t->n_vocab)
      return llm_fail(err, LLM_ERANGE, "the %s token id %d is out of range (0..%d)",
                      ROLE_NAMES[r], t->role[r], t->n_vocab - 1);
  rc = build_byte_ids(t, err);
  if (!rc) rc = build_merges(t, err);
  if (!rc) rc = build_texts(t, err);
  if (!rc) rc = llm_tok_build_specials(t, n_special, err);
  if (rc) return rc;
  t->finished = 1;
  return LLM_OK;
}
