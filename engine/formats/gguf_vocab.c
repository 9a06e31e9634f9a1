/*
** gguf_vocab.c: a GGUF file's tokenizer (see gguf_vocab.h).
*/
#include "formats/gguf_vocab.h"

#include <stdio.h>
#include <string.h>

#include "text/regex_split.h"

/* The special-token keys and the role each fills. */
static const struct {
  const char *key;
  int role;
} ROLE_KEYS[] = {
    {"tokenizer.ggml.bos_token_id", LLM_ROLE_BOS},
    {"tokenizer.ggml.eos_token_id", LLM_ROLE_EOS},
    {"tokenizer.ggml.eot_token_id", LLM_ROLE_EOT},
    {"tokenizer.ggml.eom_token_id", LLM_ROLE_EOM},
    {"tokenizer.ggml.unknown_token_id", LLM_ROLE_UNK},
    {"tokenizer.ggml.seperator_token_id", LLM_ROLE_SEP}, /* sic: llama.cpp's spelling */
    {"tokenizer.ggml.separator_token_id", LLM_ROLE_SEP},
    {"tokenizer.ggml.padding_token_id", LLM_ROLE_PAD},
    {"tokenizer.ggml.cls_token_id", LLM_ROLE_CLS},
    {"tokenizer.ggml.mask_token_id", LLM_ROLE_MASK},
};

/* The kind of a token of GGUF token type ty. */
static int kind_of_type(int64_t ty, int model) {
  switch (ty) {
    case 2: case 3: return LLM_TOKEN_SPECIAL; /* unknown, control */
    case 4: return LLM_TOKEN_USER;
    case 5: return LLM_TOKEN_UNUSED;
    case 6: return model == LLM_TOKENIZER_SPM ? LLM_TOKEN_BYTE : LLM_TOKEN_NORMAL;
    default: return LLM_TOKEN_NORMAL;
  }
}

/* An array key: its index with *n elements of type want, or -1 when absent
** (an error when required, or present with another type or length). */
static int64_t get_array(const llm_gguf *g, const char *key, int want,
                         uint64_t n_expect, int required, llm_err *err) {
  int64_t i = llm_gguf_find(g, key);
  if (i < 0) {
    if (required) llm_fail(err, LLM_EINVAL, "the file has no %s", key);
    return -1;
  }
  int at = llm_gguf_arr_type(g, i);
  int numeric = want != LLM_GGUF_STRING;
  int ok = llm_gguf_kv_type(g, i) == LLM_GGUF_ARRAY &&
           (numeric ? at != LLM_GGUF_STRING && at != LLM_GGUF_BOOL && at >= 0
                    : at == LLM_GGUF_STRING);
  if (!ok) {
    llm_fail(err, LLM_EINVAL, "%s is not an array of %s", key, numeric ? "numbers" : "strings");
    return -2;
  }
  if (n_expect != UINT64_MAX && llm_gguf_arr_n(g, i) != n_expect) {
    llm_fail(err, LLM_EINVAL, "%s has %llu entries, but tokenizer.ggml.tokens has %llu",
             key, (unsigned long long)llm_gguf_arr_n(g, i), (unsigned long long)n_expect);
    return -2;
  }
  return i;
}

static int model_type(const char *name, size_t len, llm_err *err) {
  if (len == 5 && !memcmp(name, "llama", 5)) return LLM_TOKENIZER_SPM;
  if (len == 4 && !memcmp(name, "gpt2", 4)) return LLM_TOKENIZER_BPE;
  if (len == 4 && !memcmp(name, "bert", 4)) return LLM_TOKENIZER_WORDPIECE;
  return -llm_fail(err, LLM_EINVAL,
                   "tokenizer.ggml.model is '%.*s', which is not supported (supported: "
                   "'llama' (SentencePiece), 'gpt2' (byte-level BPE), 'bert' (WordPiece))",
                   (int)(len < 60 ? len : 60), name);
}

static int set_tokens(const llm_gguf *g, llm_tokenizer *t, int type, int64_t ktok,
                      uint64_t n, llm_err *err) {
  int64_t kscore = get_array(g, "tokenizer.ggml.scores", LLM_GGUF_F32, n, 0, err);
  int64_t ktype = kscore < -1 ? -2 : get_array(g, "tokenizer.ggml.token_type", LLM_GGUF_I32, n, 0, err);
  if (kscore < -1 || ktype < -1) return err->code;
  for (uint64_t i = 0; i < n; i++) {
    size_t len;
    const char *s = llm_gguf_arr_str(g, ktok, i, &len);
    char empty[32];
    if (len == 0) { /* llama.cpp names empty tokens so */
      len = (size_t)snprintf(empty, sizeof empty, "[EMPTY_%llu]", (unsigned long long)i);
      s = empty;
    }
    float score = kscore >= 0 ? (float)llm_gguf_arr_float(g, kscore, i) : 0.0f;
    int kind = ktype >= 0 ? kind_of_type(llm_gguf_arr_int(g, ktype, i), type) : LLM_TOKEN_NORMAL;
    int rc = llm_tokenizer_set_token(t, (int32_t)i, kind, (const uint8_t *)s, len, score, err);
    if (rc) return rc;
  }
  return LLM_OK;
}

/* The merges "A B" (split at the first space after the first byte, as
** llama.cpp does), each naming two tokens. */
static int set_merges(const llm_gguf *g, llm_tokenizer *t, llm_err *err) {
  int64_t k = get_array(g, "tokenizer.ggml.merges", LLM_GGUF_STRING, UINT64_MAX, 1, err);
  if (k < 0) return err->code;
  uint64_t n = llm_gguf_arr_n(g, k);
  if (n > (uint64_t)INT32_MAX) return llm_fail(err, LLM_ERANGE, "too many merges (%llu)", (unsigned long long)n);
  for (uint64_t r = 0; r < n; r++) {
    size_t len;
    const char *s = llm_gguf_arr_str(g, k, r, &len);
    const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
    if (!sp)
      return llm_fail(err, LLM_EINVAL, "merge %llu (\"%.*s\") is not two tokens separated by a space",
                      (unsigned long long)r, (int)(len < 60 ? len : 60), s);
    size_t la = (size_t)(sp - s);
    int32_t a = llm_tokenizer_find(t, (const uint8_t *)s, la);
    int32_t b = llm_tokenizer_find(t, (const uint8_t *)sp + 1, len - la - 1);
    if (a < 0 || b < 0)
      return llm_fail(err, LLM_EINVAL, "merge %llu (\"%.*s\") names \"%.*s\", which is not a token",
                      (unsigned long long)r, (int)(len < 60 ? len : 60), s,
                      a < 0 ? (int)la : (int)(len - la - 1), a < 0 ? s : sp + 1);
    int rc = llm_tokenizer_add_merge(t, a, b, err);
    if (rc) return rc;
  }
  return LLM_OK;
}

static int set_pretokenizer(const llm_gguf *g, llm_tokenizer *t,
                            llm_gguf_vocab_info *info, llm_err *err) {
  const char *pre;
  size_t len;
  int got = llm_gguf_get_str(g, "tokenizer.ggml.pre", &pre, &len, err);
  if (got < 0) return err->code;
  if (!got) pre = "default";
  int n;
  const char *const *patterns = llm_pretok_patterns(pre, &n);
  if (!patterns)
    return llm_fail(err, LLM_EINVAL, "tokenizer.ggml.pre is '%.60s', an unknown pre-tokenizer (supported: %s)",
                    pre, llm_pretok_names());
  info->pre = pre;
  return llm_tokenizer_set_patterns(t, patterns, n, err);
}

/* The special ids, add_bos/add_eos and add_space_prefix, with llama.cpp's
** defaults for each model. */
static int set_roles_and_flags(const llm_gguf *g, llm_tokenizer *t, int type,
                               const char *pre, llm_err *err) {
  int32_t n = llm_tokenizer_n_vocab(t);
  unsigned flags = 0;
  if (type == LLM_TOKENIZER_SPM) {
    flags = LLM_TOK_ADD_BOS | LLM_TOK_ADD_SPACE_PREFIX;
    if (n > 2) {
      llm_tokenizer_set_role(t, LLM_ROLE_UNK, 0, err);
      llm_tokenizer_set_role(t, LLM_ROLE_BOS, 1, err);
      llm_tokenizer_set_role(t, LLM_ROLE_EOS, 2, err);
    }
  } else if (type == LLM_TOKENIZER_WORDPIECE) {
    flags = LLM_TOK_ADD_BOS | LLM_TOK_ADD_EOS; /* [CLS] text [SEP] */
    static const struct { int role; int32_t id; } bert[] = {
        {LLM_ROLE_CLS, 101}, {LLM_ROLE_UNK, 100}, {LLM_ROLE_SEP, 102}, {LLM_ROLE_PAD, 0}, {LLM_ROLE_MASK, 103}};
    for (size_t i = 0; i < sizeof bert / sizeof bert[0]; i++)
      if (bert[i].id < n) llm_tokenizer_set_role(t, bert[i].role, bert[i].id, err);
  } else if (pre && (!strcmp(pre, "llama3") || !strcmp(pre, "llama-v3") ||
                     !strcmp(pre, "llama-bpe") || !strcmp(pre, "falcon3") ||
                     !strcmp(pre, "tekken"))) {
    flags = LLM_TOK_ADD_BOS | LLM_TOK_IGNORE_MERGES;
  } else if (pre && !strcmp(pre, "chameleon")) {
    flags = LLM_TOK_ADD_BOS;
  }
  for (size_t i = 0; i < sizeof ROLE_KEYS / sizeof ROLE_KEYS[0]; i++) {
    int64_t v;
    int got = llm_gguf_get_int(g, ROLE_KEYS[i].key, &v, err);
    if (got < 0) return err->code;
    /* an id outside the vocabulary (files write 0xFFFFFFFF for "none")
    ** leaves the default, as llama.cpp does */
    if (!got || v < 0 || v >= n) continue;
    llm_tokenizer_set_role(t, ROLE_KEYS[i].role, (int32_t)v, err);
  }
  /* llama.cpp starts a WordPiece text with the bos id (files write [CLS]'s
  ** id there) and never reads cls_token_id */
  if (type == LLM_TOKENIZER_WORDPIECE && llm_tokenizer_role(t, LLM_ROLE_BOS) >= 0)
    llm_tokenizer_set_role(t, LLM_ROLE_CLS, llm_tokenizer_role(t, LLM_ROLE_BOS), err);
  static const struct { const char *key; unsigned flag; } flag_keys[] = {
      {"tokenizer.ggml.add_bos_token", LLM_TOK_ADD_BOS},
      {"tokenizer.ggml.add_eos_token", LLM_TOK_ADD_EOS},
      {"tokenizer.ggml.add_space_prefix", LLM_TOK_ADD_SPACE_PREFIX}};
  for (size_t i = 0; i < sizeof flag_keys / sizeof flag_keys[0]; i++) {
    int64_t v;
    int got = llm_gguf_get_int(g, flag_keys[i].key, &v, err);
    if (got < 0) return err->code;
    if (got && (flag_keys[i].flag != LLM_TOK_ADD_SPACE_PREFIX || type == LLM_TOKENIZER_SPM))
      flags = v ? flags | flag_keys[i].flag : flags & ~flag_keys[i].flag;
  }
  llm_tokenizer_set_flags(t, flags);
  return LLM_OK;
}

int llm_gguf_vocab_load(const llm_gguf *g, llm_tokenizer **out,
                        llm_gguf_vocab_info *info, llm_err *err) {
  *out = NULL;
  memset(info, 0, sizeof *info);
  const char *model;
  size_t model_len;
  int got = llm_gguf_get_str(g, "tokenizer.ggml.model", &model, &model_len, err);
  if (got < 0) return err->code;
  if (!got) return llm_fail(err, LLM_EINVAL, "the file has no tokenizer (no tokenizer.ggml.model key)");
  int type = model_type(model, model_len, err);
  if (type < 0) return err->code;
  info->model = model;
  int64_t ktok = get_array(g, "tokenizer.ggml.tokens", LLM_GGUF_STRING, UINT64_MAX, 1, err);
  if (ktok < 0) return err->code;
  uint64_t n = llm_gguf_arr_n(g, ktok);
  if (n == 0 || n > LLM_TOKENIZER_MAX_VOCAB)
    return llm_fail(err, LLM_ERANGE, "tokenizer.ggml.tokens has %llu entries (1..%d allowed)",
                    (unsigned long long)n, LLM_TOKENIZER_MAX_VOCAB);
  llm_tokenizer *t;
  int rc = llm_tokenizer_new_vocab(&t, type, (int32_t)n, err);
  if (rc) return rc;
  rc = set_tokens(g, t, type, ktok, n, err);
  if (!rc && type == LLM_TOKENIZER_BPE) rc = llm_tokenizer_index(t, err);
  if (!rc && type == LLM_TOKENIZER_BPE) rc = set_merges(g, t, err);
  if (!rc && type == LLM_TOKENIZER_BPE) rc = set_pretokenizer(g, t, info, err);
  if (!rc) rc = set_roles_and_flags(g, t, type, info->pre, err);
  if (!rc) rc = llm_tokenizer_finish(t, err);
  if (rc) {
    llm_tokenizer_free(t);
    return rc;
  }
  int64_t kt = llm_gguf_find(g, "tokenizer.chat_template");
  if (kt >= 0 && llm_gguf_kv_type(g, kt) == LLM_GGUF_STRING &&
      llm_gguf_get_str(g, "tokenizer.chat_template", &info->chat_template,
                       &info->chat_template_len, err) < 0) {
    llm_tokenizer_free(t);
    return err->code;
  }
  *out = t;
  return LLM_OK;
}
