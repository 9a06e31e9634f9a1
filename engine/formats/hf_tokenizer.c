/*
** hf_tokenizer.c: a Hugging Face tokenizer.json as a vocabulary tokenizer
** (see hf_tokenizer.h).
*/
#include "formats/hf_tokenizer.h"

#include <string.h>

#include "text/hf_pipeline.h"

/* One id's token while the vocabulary is gathered. */
typedef struct entry {
  const char *s;
  size_t len;
  int kind;       /* LLM_TOKEN_* */
  unsigned flags; /* LLM_TOKF_* */
} entry;

static const llm_json *member(const llm_json *obj, const char *key, int type) {
  const llm_json *v = obj && obj->type == LLM_JSON_OBJECT ? llm_json_get(obj, key) : NULL;
  return v && v->type == type ? v : NULL;
}

static int flag_of(const llm_json *obj, const char *key) {
  const llm_json *v = member(obj, key, LLM_JSON_BOOL);
  return v && v->boolean;
}

/* Puts text s at id, checking that the id is free or holds the same text. */
static int put_entry(entry *e, int32_t n, int64_t id, const char *s, size_t len, const char *where,
                     llm_err *err) {
  if (id < 0 || id >= n)
    return llm_fail(err, LLM_ERANGE, "%s: id %lld is out of range", where, (long long)id);
  if (e[id].s && (e[id].len != len || memcmp(e[id].s, s, len)))
    return llm_fail(err, LLM_EINVAL, "%s: id %lld is used by both \"%.40s\" and \"%.40s\"", where,
                    (long long)id, e[id].s, s);
  e[id].s = s;
  e[id].len = len;
  return LLM_OK;
}

/* The vocabulary size: one more than the largest id of model.vocab and
** added_tokens. */
static int count_ids(const llm_json *vocab, const llm_json *added, int32_t *n, llm_err *err) {
  int64_t max = -1;
  for (size_t i = 0; i < vocab->len; i++) {
    const llm_json *v = &vocab->items[i];
    if (v->type != LLM_JSON_NUMBER || !v->is_int || v->i < 0 || v->i >= LLM_TOKENIZER_MAX_VOCAB)
      return llm_fail(err, LLM_EINVAL, "model.vocab[\"%.40s\"] is not a token id (0..%d)", vocab->keys[i].s,
                      LLM_TOKENIZER_MAX_VOCAB - 1);
    if (v->i > max) max = v->i;
  }
  for (size_t i = 0; added && i < added->len; i++) {
    const llm_json *id = member(&added->items[i], "id", LLM_JSON_NUMBER);
    if (!id || !id->is_int || id->i < 0 || id->i >= LLM_TOKENIZER_MAX_VOCAB)
      return llm_fail(err, LLM_EINVAL, "added_tokens[%zu] has no valid id", i);
    if (id->i > max) max = id->i;
  }
  if (max < 0) return llm_fail(err, LLM_EINVAL, "the vocabulary is empty");
  *n = (int32_t)(max + 1);
  return LLM_OK;
}

/* Gathers every id's text and kind from model.vocab and added_tokens. */
static int gather(const llm_json *vocab, const llm_json *added, int byte_fallback, entry *e, int32_t n,
                  llm_err *err) {
  for (size_t i = 0; i < vocab->len; i++) {
    int rc = put_entry(e, n, vocab->items[i].i, vocab->keys[i].s, vocab->keys[i].len, "model.vocab", err);
    if (rc) return rc;
    const char *s = vocab->keys[i].s;
    int is_byte = byte_fallback && vocab->keys[i].len == 6 && !memcmp(s, "<0x", 3) && s[5] == '>';
    e[vocab->items[i].i].kind = is_byte ? LLM_TOKEN_BYTE : LLM_TOKEN_NORMAL;
  }
  for (size_t i = 0; added && i < added->len; i++) {
    const llm_json *a = &added->items[i];
    const llm_json *content = member(a, "content", LLM_JSON_STRING);
    if (!content || !content->len) return llm_fail(err, LLM_EINVAL, "added_tokens[%zu] has no content", i);
    int64_t id = member(a, "id", LLM_JSON_NUMBER)->i;
    int in_model = e[id].s != NULL;
    int rc = put_entry(e, n, id, content->str, content->len, "added_tokens", err);
    if (rc) return rc;
    e[id].kind = flag_of(a, "special") ? LLM_TOKEN_SPECIAL : LLM_TOKEN_USER;
    e[id].flags = (flag_of(a, "lstrip") ? LLM_TOKF_LSTRIP : 0) | (flag_of(a, "rstrip") ? LLM_TOKF_RSTRIP : 0) |
                  (flag_of(a, "single_word") ? LLM_TOKF_SINGLE_WORD : 0) |
                  (flag_of(a, "normalized") ? LLM_TOKF_NORMALIZED : 0) | (in_model ? 0 : LLM_TOKF_NOT_MODEL);
  }
  for (int32_t id = 0; id < n; id++)
    if (!e[id].s) return llm_fail(err, LLM_EINVAL, "token id %d is in neither model.vocab nor added_tokens", id);
  return LLM_OK;
}

/* One merge: "a b" or ["a", "b"]. */
static int add_merge(llm_tokenizer *t, const llm_json *m, size_t r, llm_err *err) {
  const char *a, *b;
  size_t la, lb;
  if (m->type == LLM_JSON_STRING) {
    const char *sp = memchr(m->str, ' ', m->len);
    if (!sp || memchr(sp + 1, ' ', m->len - (size_t)(sp - m->str) - 1))
      return llm_fail(err, LLM_EINVAL, "model.merges[%zu] (\"%.60s\") is not two tokens separated by a space", r,
                      m->str);
    a = m->str;
    la = (size_t)(sp - m->str);
    b = sp + 1;
    lb = m->len - la - 1;
  } else if (m->type == LLM_JSON_ARRAY && m->len == 2 && m->items[0].type == LLM_JSON_STRING &&
             m->items[1].type == LLM_JSON_STRING) {
    a = m->items[0].str;
    la = m->items[0].len;
    b = m->items[1].str;
    lb = m->items[1].len;
  } else {
    return llm_fail(err, LLM_EINVAL, "model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", r);
  }
  int32_t ia = llm_tokenizer_find(t, (const uint8_t *)a, la), ib = llm_tokenizer_find(t, (const uint8_t *)b, lb);
  if (ia < 0 || ib < 0)
    return llm_fail(err, LLM_EINVAL, "model.merges[%zu] names \"%.*s\", which is not a token", r,
                    ia < 0 ? (int)(la < 60 ? la : 60) : (int)(lb < 60 ? lb : 60), ia < 0 ? a : b);
  return llm_tokenizer_add_merge(t, ia, ib, err);
}

/* The ids of a TemplateProcessing's special tokens before and after $A. */
static int template_ids(const llm_json *pp, llm_ids *prefix, llm_ids *suffix, llm_err *err) {
  const llm_json *single = member(pp, "single", LLM_JSON_ARRAY);
  const llm_json *specials = member(pp, "special_tokens", LLM_JSON_OBJECT);
  if (!single) return llm_fail(err, LLM_EINVAL, "post_processor TemplateProcessing has no \"single\" template");
  int after = 0;
  for (size_t i = 0; i < single->len; i++) {
    const llm_json *item = &single->items[i];
    if (member(item, "Sequence", LLM_JSON_OBJECT)) {
      after = 1;
      continue;
    }
    const llm_json *st = member(item, "SpecialToken", LLM_JSON_OBJECT);
    const llm_json *name = st ? member(st, "id", LLM_JSON_STRING) : NULL;
    const llm_json *def = name ? member(specials, name->str, LLM_JSON_OBJECT) : NULL;
    const llm_json *ids = def ? member(def, "ids", LLM_JSON_ARRAY) : NULL;
    if (!ids) return llm_fail(err, LLM_EINVAL, "post_processor template item %zu names no special token with ids", i);
    for (size_t k = 0; k < ids->len; k++) {
      if (ids->items[k].type != LLM_JSON_NUMBER || !ids->items[k].is_int || ids->items[k].i < 0 ||
          ids->items[k].i > INT32_MAX)
        return llm_fail(err, LLM_EINVAL, "post_processor special token \"%.40s\" has a bad id", name->str);
      if (llm_ids_push(after ? suffix : prefix, (int32_t)ids->items[k].i)) return LLM_ENOMEM;
    }
  }
  return LLM_OK;
}

/* A [name, id] pair of BertProcessing / RobertaProcessing. */
static int pair_id(const llm_json *pp, const char *key, llm_ids *to, llm_err *err) {
  const llm_json *v = member(pp, key, LLM_JSON_ARRAY);
  if (!v || v->len != 2 || v->items[1].type != LLM_JSON_NUMBER || !v->items[1].is_int ||
      v->items[1].i < 0 || v->items[1].i > INT32_MAX)
    return llm_fail(err, LLM_EINVAL, "post_processor has no [token, id] \"%s\"", key);
  return llm_ids_push(to, (int32_t)v->items[1].i) ? LLM_ENOMEM : LLM_OK;
}

/* What an encoding with special tokens adds (the post-processor). */
static int post_processor(const llm_json *pp, llm_ids *prefix, llm_ids *suffix, llm_err *err) {
  if (!pp || pp->type == LLM_JSON_NULL) return LLM_OK;
  const llm_json *type = member(pp, "type", LLM_JSON_STRING);
  if (!type) return llm_fail(err, LLM_EINVAL, "post_processor has no type");
  if (!strcmp(type->str, "ByteLevel")) return LLM_OK;
  if (!strcmp(type->str, "TemplateProcessing")) return template_ids(pp, prefix, suffix, err);
  if (!strcmp(type->str, "BertProcessing") || !strcmp(type->str, "RobertaProcessing")) {
    int rc = pair_id(pp, "cls", prefix, err);
    return rc ? rc : pair_id(pp, "sep", suffix, err);
  }
  if (!strcmp(type->str, "Sequence")) {
    const llm_json *list = member(pp, "processors", LLM_JSON_ARRAY);
    for (size_t i = 0; list && i < list->len; i++) {
      int rc = post_processor(&list->items[i], prefix, suffix, err);
      if (rc) return rc;
    }
    return LLM_OK;
  }
  return llm_fail(err, LLM_EINVAL, "post_processor type '%.40s' is not supported (supported: TemplateProcessing, "
                  "BertProcessing, RobertaProcessing, ByteLevel, Sequence)", type->str);
}

int llm_hf_tokenizer_attach(const llm_json *obj, llm_tokenizer *t, llm_err *err) {
  llm_hf_norm *norm = NULL;
  llm_hf_pretok *pre = NULL;
  llm_hf_decoder *dec = NULL;
  const llm_json *v;
  int rc = LLM_OK;
  if ((v = llm_json_get(obj, "normalizer")) && v->type != LLM_JSON_NULL) rc = llm_hf_norm_parse(v, &norm, err);
  if (!rc && (v = llm_json_get(obj, "pre_tokenizer")) && v->type != LLM_JSON_NULL)
    rc = llm_hf_pretok_parse(v, &pre, err);
  if (!rc && (v = llm_json_get(obj, "decoder")) && v->type != LLM_JSON_NULL) rc = llm_hf_decoder_parse(v, &dec, err);
  if (rc) {
    llm_hf_norm_free(norm);
    llm_hf_pretok_free(pre);
    llm_hf_decoder_free(dec);
    return rc;
  }
  return llm_tokenizer_set_hf(t, norm, pre, dec, err);
}

/* The model's options: flags, UNK, WordPiece's prefix. */
static int model_options(const llm_json *model, int type, int byte_level, llm_tokenizer *t, llm_err *err) {
  const llm_json *unk = member(model, "unk_token", LLM_JSON_STRING);
  if (unk) {
    int32_t id = llm_tokenizer_find(t, (const uint8_t *)unk->str, unk->len);
    if (id < 0) return llm_fail(err, LLM_EINVAL, "model.unk_token \"%.40s\" is not a token", unk->str);
    llm_tokenizer_set_role(t, LLM_ROLE_UNK, id, err);
  }
  const llm_json *prefix = member(model, "continuing_subword_prefix", LLM_JSON_STRING);
  if (type == LLM_TOKENIZER_WORDPIECE) {
    const llm_json *max = member(model, "max_input_chars_per_word", LLM_JSON_NUMBER);
    return llm_tokenizer_set_wordpiece(t, prefix ? prefix->str : "##", max && max->is_int ? (int)max->i : 100, err);
  }
  const llm_json *suffix = member(model, "end_of_word_suffix", LLM_JSON_STRING);
  const llm_json *dropout = member(model, "dropout", LLM_JSON_NUMBER);
  if ((prefix && prefix->len) || (suffix && suffix->len))
    return llm_fail(err, LLM_EINVAL, "BPE with a continuing_subword_prefix or end_of_word_suffix is not supported");
  if (dropout && dropout->num != 0.0)
    return llm_fail(err, LLM_EINVAL, "BPE dropout (%g) is not supported: it makes encoding random", dropout->num);
  unsigned flags = llm_tokenizer_flags(t);
  if (flag_of(model, "ignore_merges")) flags |= LLM_TOK_IGNORE_MERGES;
  if (!byte_level) flags |= LLM_TOK_CHARS;
  if (flag_of(model, "byte_fallback")) flags |= LLM_TOK_BYTE_FALLBACK;
  if (flag_of(model, "fuse_unk")) flags |= LLM_TOK_FUSE_UNK;
  llm_tokenizer_set_flags(t, flags);
  return LLM_OK;
}

static int model_type(const llm_json *model, llm_err *err) {
  const llm_json *type = member(model, "type", LLM_JSON_STRING);
  if (!type && member(model, "merges", LLM_JSON_ARRAY)) return LLM_TOKENIZER_BPE; /* old files omit it */
  if (type && !strcmp(type->str, "BPE")) return LLM_TOKENIZER_BPE;
  if (type && !strcmp(type->str, "WordPiece")) return LLM_TOKENIZER_WORDPIECE;
  return -llm_fail(err, LLM_EINVAL, "model type '%.40s' is not supported (supported: BPE, WordPiece)%s",
                   type ? type->str : "(none)",
                   type && !strcmp(type->str, "Unigram") ? "; Unigram models (T5, ALBERT, XLM-R) are not" : "");
}

static int build(const llm_json *root, const llm_json *model, int type, llm_tokenizer **out, llm_err *err) {
  const llm_json *vocab = member(model, "vocab", LLM_JSON_OBJECT);
  const llm_json *added = member(root, "added_tokens", LLM_JSON_ARRAY);
  if (!vocab) return llm_fail(err, LLM_EINVAL, "model.vocab is not an object of token ids");
  int32_t n = 0;
  int rc = count_ids(vocab, added, &n, err);
  if (rc) return rc;
  entry *e = llm_calloc((size_t)n, sizeof *e);
  llm_tokenizer *t = NULL;
  llm_ids prefix = {0}, suffix = {0};
  if (!e) return llm_fail(err, LLM_ENOMEM, "out of memory for %d tokens", n);
  rc = gather(vocab, added, flag_of(model, "byte_fallback"), e, n, err);
  if (!rc) rc = llm_tokenizer_new_vocab(&t, type, n, err);
  for (int32_t id = 0; id < n && !rc; id++) {
    rc = llm_tokenizer_set_token(t, id, e[id].kind, (const uint8_t *)e[id].s, e[id].len, 0.0f, err);
    if (!rc && e[id].flags) rc = llm_tokenizer_set_token_flags(t, id, e[id].flags, err);
  }
  if (!rc) rc = llm_tokenizer_index(t, err);
  const llm_json *merges = member(model, "merges", LLM_JSON_ARRAY);
  if (!rc && type == LLM_TOKENIZER_BPE && !merges) rc = llm_fail(err, LLM_EINVAL, "model.merges is missing");
  for (size_t r = 0; !rc && type == LLM_TOKENIZER_BPE && r < merges->len; r++)
    rc = add_merge(t, &merges->items[r], r, err);
  if (!rc) rc = llm_hf_tokenizer_attach(root, t, err);
  if (!rc) rc = model_options(model, type, llm_tokenizer_hf_bytelevel(t), t, err);
  if (!rc) rc = post_processor(llm_json_get(root, "post_processor"), &prefix, &suffix, err);
  if (!rc) rc = llm_tokenizer_set_template(t, prefix.data, prefix.len, suffix.data, suffix.len, err);
  if (!rc && prefix.len) llm_tokenizer_set_role(t, LLM_ROLE_BOS, prefix.data[0], err);
  if (!rc && suffix.len) llm_tokenizer_set_role(t, LLM_ROLE_EOS, suffix.data[suffix.len - 1], err);
  if (!rc) rc = llm_tokenizer_finish(t, err);
  llm_ids_free(&prefix);
  llm_ids_free(&suffix);
  llm_free(e);
  if (rc) {
    llm_tokenizer_free(t);
    return rc;
  }
  *out = t;
  return LLM_OK;
}

int llm_hf_tokenizer_build(const llm_json *root, llm_tokenizer **out, llm_err *err) {
  *out = NULL;
  if (!root || root->type != LLM_JSON_OBJECT) return llm_fail(err, LLM_EINVAL, "tokenizer.json is not an object");
  const llm_json *model = member(root, "model", LLM_JSON_OBJECT);
  if (!model) return llm_fail(err, LLM_EINVAL, "tokenizer.json has no \"model\" object");
  int type = model_type(model, err);
  if (type < 0) return err->code;
  return build(root, model, type, out, err);
}
