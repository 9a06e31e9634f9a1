/* gpt2_vocab.c: encoder.json + vocab.bpe -> tokenizer (see gpt2_vocab.h). */
#include "text/gpt2_vocab.h"

#include <stdio.h>
#include <string.h>

#include "hashmap.h"
#include "formats/json.h"
#include "text/pretok.h"
#include "text/bytelevel.h"
#include "text/utf8.h"

/* Quotes a token's text for a message: at most ~40 bytes, cut at a
** character boundary, control bytes as \xNN. */
static const char *show(const void *text, size_t n, char out[96]) {
  const uint8_t *s = text;
  size_t o = 0, i = 0;
  out[o++] = '"';
  while (i < n && o < 60) {
    uint8_t c = s[i];
    if (c < 0x20 || c == 0x7f) {
      o += (size_t)snprintf(out + o, 8, "\\x%02X", c);
      i++;
    } else if (c < 0x80) {
      out[o++] = (char)c;
      i++;
    } else {
      int len;
      if (llm_utf8_decode(s + i, n - i, &len) < 0) {
        o += (size_t)snprintf(out + o, 8, "\\x%02X", c);
        i++;
      } else {
        memcpy(out + o, s + i, (size_t)len);
        o += (size_t)len;
        i += (size_t)len;
      }
    }
  }
  out[o++] = '"';
  if (i < n) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = 0;
  return out;
}

/* Explains why code point cp cannot appear in an encoded token. */
static void why_unmappable(int32_t cp, char out[96]) {
  if (cp >= 0 && cp < 256)
    snprintf(out, 96,
             "U+%04X, which GPT-2's byte encoding never uses (byte 0x%02X is "
             "written U+%04X)",
             (unsigned)cp, (unsigned)cp, (unsigned)llm_bytelevel_cp((uint8_t)cp));
  else
    snprintf(out, 96,
             "U+%04X, which GPT-2's byte encoding never uses (it only uses "
             "code points up to U+%04X)",
             (unsigned)cp, 256u + 67u);
}

/* Decodes an encoded token s[0..n) to bytes at out (room for n bytes).
** Returns LLM_OK, or LLM_EINVAL with *bad = the offending code point (-1 for
** invalid UTF-8). */
static int decode_token(const uint8_t *s, size_t n,
                        uint8_t *out, size_t *out_len, int32_t *bad) {
  size_t i = 0, o = 0;
  while (i < n) {
    int32_t cp = s[i];
    int len = 1;
    if (cp >= 0x80) cp = llm_utf8_decode(s + i, n - i, &len);
    i += (size_t)len;
    int b = llm_bytelevel_byte(cp);
    if (b < 0) {
      *bad = cp;
      return LLM_EINVAL;
    }
    out[o++] = (uint8_t)b;
  }
  *out_len = o;
  return LLM_OK;
}

typedef struct loader {
  llm_err *err;
  int32_t n;
  const llm_json *root;
  uint8_t *pool;     /* all tokens' bytes */
  size_t *off;       /* per id: offset in pool */
  uint32_t *len;     /* per id: length */
  size_t *member;    /* per id: index of its key in root (SIZE_MAX: unset) */
  uint64_t *hash;    /* per id: hash of its bytes */
  int32_t *table;    /* bytes -> id + 1 (0: empty), open addressing */
  size_t cap;
  uint8_t *kind;
  int32_t *left, *right, *rank, *line;
} loader;

static void loader_free(loader *L) {
  llm_free(L->pool);
  llm_free(L->off);
  llm_free(L->len);
  llm_free(L->member);
  llm_free(L->hash);
  llm_free(L->table);
  llm_free(L->kind);
  llm_free(L->left);
  llm_free(L->right);
  llm_free(L->rank);
  llm_free(L->line);
}

static const uint8_t *tok_bytes(const loader *L, int32_t id) {
  return L->pool + L->off[id];
}

/* The token's text as written in encoder.json, quoted for a message. */
static const char *show_key(const loader *L, int32_t id, char out[96]) {
  const llm_json_str *k = &L->root->keys[L->member[id]];
  return show(k->s, k->len, out);
}

static int32_t lookup(const loader *L, const uint8_t *s, size_t n) {
  uint64_t h = llm_hash_bytes(s, n);
  for (size_t i = (size_t)h & (L->cap - 1);; i = (i + 1) & (L->cap - 1)) {
    int32_t e = L->table[i];
    if (!e) return -1;
    int32_t id = e - 1;
    if (L->hash[id] == h && L->len[id] == n && !memcmp(tok_bytes(L, id), s, n))
      return id;
  }
}

static int nomem(loader *L, const char *what) {
  return llm_fail(L->err, LLM_ENOMEM, "out of memory loading %s", what);
}

/* encoder.json: ids, bytes and the lookup table. */
static int read_encoder(loader *L) {
  const llm_json *root = L->root;
  char a[96], b[96];
  if (root->type != LLM_JSON_OBJECT)
    return llm_fail(L->err, LLM_EINVAL,
                    "encoder.json: expected a JSON object mapping tokens to "
                    "ids, found a%s %s",
                    root->type == LLM_JSON_ARRAY || root->type == LLM_JSON_OBJECT
                        ? "n" : "",
                    llm_json_type_name(root->type));
  if (root->len == 0)
    return llm_fail(L->err, LLM_EINVAL, "encoder.json: the object is empty");
  if (root->len > (size_t)LLM_TOKENIZER_MAX_VOCAB)
    return llm_fail(L->err, LLM_ERANGE,
                    "encoder.json: %zu tokens, more than the %d supported",
                    root->len, LLM_TOKENIZER_MAX_VOCAB);
  int32_t n = (int32_t)root->len;
  L->n = n;
  size_t total = 0;
  for (int32_t k = 0; k < n; k++) total += root->keys[k].len;
  L->pool = llm_malloc(total ? total : 1);
  L->off = llm_malloc((size_t)n * sizeof *L->off);
  L->len = llm_malloc((size_t)n * sizeof *L->len);
  L->member = llm_malloc((size_t)n * sizeof *L->member);
  L->hash = llm_malloc((size_t)n * sizeof *L->hash);
  L->kind = llm_calloc((size_t)n, 1);
  L->left = llm_malloc((size_t)n * sizeof *L->left);
  L->right = llm_malloc((size_t)n * sizeof *L->right);
  L->rank = llm_malloc((size_t)n * sizeof *L->rank);
  L->line = llm_malloc((size_t)n * sizeof *L->line);
  L->cap = 16;
  while (L->cap < (size_t)n * 2) L->cap *= 2;
  L->table = llm_calloc(L->cap, sizeof *L->table);
  if (!L->pool || !L->off || !L->len || !L->member || !L->hash || !L->kind ||
      !L->left || !L->right || !L->rank || !L->line || !L->table)
    return nomem(L, "encoder.json");
  for (int32_t id = 0; id < n; id++) {
    L->member[id] = SIZE_MAX;
    L->left[id] = L->right[id] = L->rank[id] = L->line[id] = -1;
  }

  size_t used = 0;
  for (int32_t k = 0; k < n; k++) {
    const llm_json_str *key = &root->keys[k];
    const llm_json *val = &root->items[k];
    if (val->type != LLM_JSON_NUMBER || !val->is_int)
      return llm_fail(L->err, LLM_EINVAL,
                      "encoder.json: the id of token %s at byte %zu is not an "
                      "integer (found a %s)",
                      show(key->s, key->len, a), val->offset,
                      val->type == LLM_JSON_NUMBER ? "fractional or huge number"
                                                   : llm_json_type_name(val->type));
    if (val->i < 0 || val->i >= n)
      return llm_fail(L->err, LLM_ERANGE,
                      "encoder.json: token %s has id %lld at byte %zu; with %d "
                      "tokens the ids must be 0..%d, without gaps",
                      show(key->s, key->len, a), (long long)val->i,
                      val->offset, n, n - 1);
    int32_t id = (int32_t)val->i;
    if (L->member[id] != SIZE_MAX)
      return llm_fail(L->err, LLM_EINVAL,
                      "encoder.json: tokens %s and %s both have id %d (at byte "
                      "%zu); ids must be unique",
                      show_key(L, id, a), show(key->s, key->len, b), id,
                      val->offset);
    L->member[id] = (size_t)k;
    size_t blen = 0;
    int32_t bad = 0;
    if (decode_token((const uint8_t *)key->s, key->len, L->pool + used,
                     &blen, &bad)) {
      char why[96];
      if (bad < 0)
        return llm_fail(L->err, LLM_EINVAL,
                        "encoder.json: token %s (id %d) is not valid UTF-8",
                        show(key->s, key->len, a), id);
      why_unmappable(bad, why);
      return llm_fail(L->err, LLM_EINVAL,
                      "encoder.json: token %s (id %d) contains %s",
                      show(key->s, key->len, a), id, why);
    }
    if (blen == 0)
      return llm_fail(L->err, LLM_EINVAL,
                      "encoder.json: empty token \"\" (id %d at byte %zu)", id,
                      val->offset);
    if (blen > LLM_TOKENIZER_MAX_PIECE)
      return llm_fail(L->err, LLM_ERANGE,
                      "encoder.json: token %s (id %d) is %zu bytes long, more "
                      "than the %d supported",
                      show(key->s, key->len, a), id, blen,
                      LLM_TOKENIZER_MAX_PIECE);
    L->off[id] = used;
    L->len[id] = (uint32_t)blen;
    used += blen;
  }
  /* n keys with distinct ids in 0..n-1: every id is now defined. */
  int have[256] = {0};
  for (int32_t id = 0; id < n; id++) {
    const uint8_t *s = tok_bytes(L, id);
    uint64_t h = llm_hash_bytes(s, L->len[id]);
    L->hash[id] = h;
    size_t i = (size_t)h & (L->cap - 1);
    while (L->table[i]) {
      int32_t o = L->table[i] - 1;
      if (L->hash[o] == h && L->len[o] == L->len[id] &&
          !memcmp(tok_bytes(L, o), s, L->len[id]))
        return llm_fail(L->err, LLM_EINVAL,
                        "encoder.json: tokens %s (id %d) and %s (id %d) are "
                        "the same bytes",
                        show_key(L, o, a), o, show_key(L, id, b), id);
      i = (i + 1) & (L->cap - 1);
    }
    L->table[i] = id + 1;
    if (L->len[id] == 1) {
      have[s[0]] = 1;
      L->kind[id] = LLM_TOKEN_BYTE;
    } else {
      L->kind[id] = LLM_TOKEN_SPECIAL; /* until a merge makes it */
    }
  }
  for (int c = 0; c < 256; c++) {
    if (have[c]) continue;
    uint8_t enc[4];
    unsigned cp = llm_bytelevel_cp((uint8_t)c);
    size_t el = (size_t)llm_utf8_encode(enc, cp);
    return llm_fail(L->err, LLM_EINVAL,
                    "encoder.json has no token for byte 0x%02X (written %s, "
                    "U+%04X); all 256 single bytes are required",
                    c, show(enc, el, a), cp);
  }
  return LLM_OK;
}

/* Decodes one side of a merge line for read_merges. */
static int merge_side(loader *L, int line_no, const uint8_t *s, size_t n,
                      uint8_t *out, size_t *out_len, int32_t *id) {
  char a[96], why[96];
  int32_t bad = 0;
  if (decode_token(s, n, out, out_len, &bad)) {
    if (bad < 0)
      return llm_fail(L->err, LLM_EINVAL,
                      "vocab.bpe line %d: token %s is not valid UTF-8", line_no,
                      show(s, n, a));
    why_unmappable(bad, why);
    return llm_fail(L->err, LLM_EINVAL, "vocab.bpe line %d: token %s contains %s",
                    line_no, show(s, n, a), why);
  }
  *id = lookup(L, out, *out_len);
  if (*id < 0)
    return llm_fail(L->err, LLM_EINVAL,
                    "vocab.bpe line %d: token %s is not in encoder.json",
                    line_no, show(s, n, a));
  return LLM_OK;
}

static int read_merges(loader *L, const uint8_t *s, size_t n) {
  char a[96], b[96];
  uint8_t *scratch = NULL;
  size_t scratch_cap = 0;
  int rc = LLM_OK;
  int line_no = 0, blank_line = 0;
  int32_t rank = 0;
  size_t pos = 0;
  while (pos < n && rc == LLM_OK) {
    const uint8_t *nl = memchr(s + pos, '\n', n - pos);
    size_t end = nl ? (size_t)(nl - s) : n, next = nl ? end + 1 : n;
    const uint8_t *ln = s + pos;
    size_t len = end - pos;
    pos = next;
    if (line_no == INT32_MAX) {
      rc = llm_fail(L->err, LLM_ERANGE, "vocab.bpe: too many lines");
      break;
    }
    line_no++;
    if (len && ln[len - 1] == '\r') len--;
    if (line_no == 1 && len && ln[0] == '#') {
      static const char tag[] = "#version:";
      size_t tl = sizeof tag - 1;
      if (len >= tl && !memcmp(ln, tag, tl)) {
        size_t v = tl;
        while (v < len && (ln[v] == ' ' || ln[v] == '\t')) v++;
        size_t ve = v;
        while (ve < len && ln[ve] != ' ' && ln[ve] != '\t') ve++;
        if (ve - v != 3 || memcmp(ln + v, "0.2", 3) != 0) {
          rc = llm_fail(L->err, LLM_EINVAL,
                        "vocab.bpe line 1: unsupported version %s (expected "
                        "\"#version: 0.2\")",
                        show(ln + v, ve - v, a));
        }
      }
      continue;
    }
    if (len == 0) {
      if (!blank_line) blank_line = line_no;
      continue;
    }
    if (blank_line) {
      rc = llm_fail(L->err, LLM_EINVAL,
                    "vocab.bpe line %d is blank but a merge follows on line %d "
                    "(blank lines are only allowed at the end)",
                    blank_line, line_no);
      break;
    }
    const uint8_t *sp = memchr(ln, ' ', len);
    size_t la = sp ? (size_t)(sp - ln) : 0;
    if (!sp || la == 0 || la + 1 == len ||
        memchr(ln + la + 1, ' ', len - la - 1)) {
      rc = llm_fail(L->err, LLM_EINVAL,
                    "vocab.bpe line %d: expected two tokens separated by one "
                    "space, found %s",
                    line_no, show(ln, len, a));
      break;
    }
    if (len > scratch_cap) {
      uint8_t *ns = llm_realloc(scratch, len);
      if (!ns) {
        rc = nomem(L, "vocab.bpe");
        break;
      }
      scratch = ns;
      scratch_cap = len;
    }
    size_t ba = 0, bb = 0;
    int32_t ida, idb;
    if ((rc = merge_side(L, line_no, ln, la, scratch, &ba, &ida))) break;
    if ((rc = merge_side(L, line_no, ln + la + 1, len - la - 1, scratch + ba,
                         &bb, &idb)))
      break;
    int32_t idm = lookup(L, scratch, ba + bb);
    if (idm < 0) {
      rc = llm_fail(L->err, LLM_EINVAL,
                    "vocab.bpe line %d: the merged token %s is not in "
                    "encoder.json",
                    line_no, show(scratch, ba + bb, a));
      break;
    }
    if (L->kind[idm] == LLM_TOKEN_MERGE) {
      rc = llm_fail(L->err, LLM_EINVAL,
                    "vocab.bpe lines %d and %d both make token %s (id %d)",
                    L->line[idm], line_no, show_key(L, idm, a), idm);
      break;
    }
    L->kind[idm] = LLM_TOKEN_MERGE;
    L->left[idm] = ida;
    L->right[idm] = idb;
    L->rank[idm] = rank++;
    L->line[idm] = line_no;
  }
  llm_free(scratch);
  if (rc) return rc;
  if (rank == 0)
    return llm_fail(L->err, LLM_EINVAL,
                    "vocab.bpe: no merges found (the file is empty or holds "
                    "only its header)");
  /* Each merge must combine tokens that text can produce. */
  for (int32_t id = 0; id < L->n; id++) {
    if (L->kind[id] != LLM_TOKEN_MERGE) continue;
    int32_t side[2] = {L->left[id], L->right[id]};
    for (int k = 0; k < 2; k++)
      if (L->kind[side[k]] == LLM_TOKEN_SPECIAL)
        return llm_fail(L->err, LLM_EINVAL,
                        "vocab.bpe line %d: merge into %s uses %s (id %d), "
                        "which is neither a single byte nor made by any merge",
                        L->line[id], show_key(L, id, a), show_key(L, side[k], b),
                        side[k]);
  }
  return LLM_OK;
}

int llm_gpt2_vocab_load(const char *encoder_json, size_t n_enc,
                        const char *vocab_bpe, size_t n_bpe,
                        llm_tokenizer **out, llm_err *err) {
  *out = NULL;
  llm_err e;
  memset(&e, 0, sizeof e);
  loader L;
  memset(&L, 0, sizeof L);
  L.err = &e;
  llm_json_doc *doc = NULL;
  llm_tokenizer *t = NULL;
  int rc;
  if ((!encoder_json && n_enc) || (!vocab_bpe && n_bpe)) {
    rc = llm_fail(&e, LLM_EINVAL, "GPT-2 vocabulary: missing input");
    goto done;
  }
  rc = llm_json_parse(encoder_json, n_enc, &doc, &e);
  if (rc) {
    char msg[sizeof e.msg];
    memcpy(msg, e.msg, sizeof msg);
    llm_fail(&e, rc, "encoder.json: %s", msg);
    goto done;
  }
  L.root = llm_json_root(doc);
  if ((rc = read_encoder(&L))) goto done;
  if ((rc = read_merges(&L, (const uint8_t *)vocab_bpe, n_bpe))) goto done;
  /* The tree is no longer needed: free it before the tokenizer copies. */
  llm_json_free(doc);
  doc = NULL;
  L.root = NULL;
  if ((rc = llm_tokenizer_new(&t, L.n, LLM_PRETOK_GPT2, &e))) goto prefixed;
  for (int32_t id = 0; id < L.n; id++)
    if ((rc = llm_tokenizer_set(t, id, L.kind[id], tok_bytes(&L, id), L.len[id],
                                L.left[id], L.right[id], L.rank[id], &e)))
      goto prefixed;
  if ((rc = llm_tokenizer_finish(t, &e))) goto prefixed;
  goto done;
prefixed: {
  char msg[sizeof e.msg];
  memcpy(msg, e.msg, sizeof msg);
  llm_fail(&e, rc, "GPT-2 vocabulary: %s", msg);
}
done:
  llm_json_free(doc);
  loader_free(&L);
  if (rc) {
    llm_tokenizer_free(t);
    if (err) *err = e;
    return rc;
  }
  *out = t;
  return LLM_OK;
}
