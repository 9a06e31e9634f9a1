/*
** hf_internal.h: what the three parts of the tokenizer.json pipeline
** (hf_normalize.c, hf_pretok.c, hf_decode.c) share, defined in hf_common.c:
**   - reading a component's JSON fields the way the reference's serde
**     derive does (a required field must be there with its type; an
**     optional one may be missing, or null where the reference allows it;
**     unknown fields are ignored), with messages that name the component
**     by its path in tokenizer.json;
**   - one character at a time over any bytes (an invalid byte is a
**     character of its own, HF_RAW + the byte);
**   - writing text with its alignment;
**   - patterns ({"String": ...} or {"Regex": ...}) and their matches;
**   - the five split behaviours over a sequence of match/gap events.
*/
#ifndef LLM_HF_INTERNAL_H
#define LLM_HF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "formats/json.h"
#include "text/hf_pipeline.h"
#include "text/regex_split.h"
#include "text/utf8.h"

/* Work memory a parsed component keeps between calls, unless a call needed
** more than this (then it is given back). */
#define HF_KEEP_BYTES ((size_t)4 << 20)

/* ---- JSON fields --------------------------------------------------------- */

/* Where a component sits in tokenizer.json, e.g. "pre_tokenizer" or
** "normalizer.normalizers[2]", and its type once known: every message
** starts with them. */
typedef struct hf_ctx {
  char path[128];
  const char *type;
} hf_ctx;

/* ctx for item i of the array field `field` of parent. */
void hf_ctx_child(hf_ctx *child, const hf_ctx *parent, const char *field,
                  size_t i);

/* Fails with "tokenizer.json <path> (<type>): <message>". */
int hf_fail(const hf_ctx *c, llm_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* node must be an object with a string "type"; sets c->type to it. */
int hf_get_type(const llm_json *node, hf_ctx *c, llm_err *err);

/* How a field may be given: HF_REQUIRED (present and not null), HF_OPTIONAL
** (missing -> default; null is an error, as serde's #[serde(default)]),
** HF_NULLABLE (missing or null -> default, as an Option). */
enum { HF_REQUIRED, HF_OPTIONAL, HF_NULLABLE };

int hf_get_bool(const llm_json *o, const char *key, int how, int dflt,
                int *out, const hf_ctx *c, llm_err *err);
/* A string; *out points into the JSON tree (NUL-terminated). */
int hf_get_str(const llm_json *o, const char *key, const char **out,
               size_t *len, const hf_ctx *c, llm_err *err);
/* A string of exactly one character (serde's char). */
int hf_get_char(const llm_json *o, const char *key, int32_t *out,
                const hf_ctx *c, llm_err *err);
/* A non-negative integer (serde's usize). */
int hf_get_size(const llm_json *o, const char *key, size_t *out,
                const hf_ctx *c, llm_err *err);
/* An array; *out is the field's value. */
int hf_get_array(const llm_json *o, const char *key, const llm_json **out,
                 const hf_ctx *c, llm_err *err);
/* A copy of a string made with llm_malloc (NUL-terminated). */
char *hf_strdup(const char *s, size_t len);

/* ---- characters ---------------------------------------------------------- */

/* An invalid byte b is the character HF_RAW + b: above U+10FFFF, so the
** Unicode functions treat it as a non-character that nothing changes. */
#define HF_RAW 0x110000

/* The character at s[i] (i < n) and its length in bytes: a code point,
** or HF_RAW + s[i] for a byte that does not start valid UTF-8. */
static inline int32_t hf_char(const uint8_t *s, size_t n, size_t i,
                              int *len) {
  if (s[i] < 0x80) {
    *len = 1;
    return s[i];
  }
  int32_t c = llm_utf8_decode(s + i, n - i, len);
  return c < 0 ? HF_RAW + s[i] : c;
}

/* Encodes c (a code point, or HF_RAW + byte) into o; returns its length. */
int hf_encode(uint8_t o[4], int32_t c);

/* White_Space (Rust's char::is_whitespace). */
int hf_is_space(int32_t c);
/* The BERT punctuation test: ASCII punctuation or general category P. */
int hf_is_punct(int32_t c);

/* ---- text with alignment ------------------------------------------------- */

/* Output text and (when a is not NULL) its alignment, written together. */
typedef struct hf_out {
  llm_buf *b;
  llm_align *a;
} hf_out;

int hf_align_reserve(llm_align *a, size_t need);
/* Appends bytes p[0..n) all aligned to [as, ae). */
int hf_put(hf_out *o, const void *p, size_t n, size_t as, size_t ae);
/* Appends character c aligned to [as, ae). */
int hf_put_char(hf_out *o, int32_t c, size_t as, size_t ae);
/* Appends s[from..to) with its alignment sa (identity-by-character when sa
** is NULL: each character aligned to itself). */
int hf_put_copy(hf_out *o, const uint8_t *s, size_t n, const llm_align *sa,
                size_t from, size_t to);
/* The alignment of byte i of a text: sa's entry, or the character around
** it when sa is NULL. */
void hf_align_at(const uint8_t *s, size_t n, const llm_align *sa, size_t i,
                 size_t *as, size_t *ae);

/* ---- patterns ------------------------------------------------------------ */

typedef struct hf_pattern {
  llm_regex *re; /* {"Regex": ...}, or NULL for {"String": ...} */
  char *lit;     /* the literal (NUL-terminated) */
  size_t lit_len;
} hf_pattern;

int hf_get_pattern(const llm_json *o, const char *key, hf_pattern *p,
                   const hf_ctx *c, llm_err *err);
void hf_pattern_free(hf_pattern *p);

/* Appends to m the matches of p in s[0..n) as the reference finds them
** (leftmost, non-overlapping; an empty literal matches at every character
** boundary; a regex's empty matches are left out). */
int hf_pattern_find(const hf_pattern *p, const uint8_t *s, size_t n,
                    llm_spans *m, llm_err *err);

/* ---- split behaviours ---------------------------------------------------- */

int hf_spans_push(llm_spans *s, size_t a, size_t b);

/* Folds the events of one piece (consecutive spans, each a match or the
** text between matches, in order) into pieces by a behaviour
** (LLM_SPLIT_*), as the reference's NormalizedString::split does; empty
** pieces are dropped. Feed hf_fold_event, then hf_fold_end. */
typedef struct hf_fold {
  llm_spans *out;
  int behavior;
  int have, prev_match; /* a piece [ls, le) not yet emitted; last flag */
  size_t ls, le;
} hf_fold;

void hf_fold_init(hf_fold *f, llm_spans *out, int behavior);
int hf_fold_event(hf_fold *f, size_t a, size_t b, int is_match);
int hf_fold_end(hf_fold *f);

/* Parses a behaviour name ("Isolated", ...). */
int hf_get_behavior(const llm_json *o, const char *key, int how, int dflt,
                    int *out, const hf_ctx *c, llm_err *err);

/* The fields of a Metaspace pre-tokenizer or decoder: replacement (one
** character), prepend_scheme ("always", the default, "first" or "never"),
** split (default true) and the legacy add_prefix_space, which may only be
** false with "never" (the reference's rule). */
enum { HF_PREPEND_ALWAYS, HF_PREPEND_FIRST, HF_PREPEND_NEVER };
int hf_get_metaspace(const llm_json *o, int32_t *repl, int *scheme,
                     int *split, const hf_ctx *c, llm_err *err);
/* The fields of a ByteLevel pre-tokenizer or decoder: add_prefix_space and
** trim_offsets (both required), use_regex (default true). */
int hf_get_bytelevel(const llm_json *o, int *prefix, int *use_regex,
                     const hf_ctx *c, llm_err *err);

/* Appends to out the UTF-8 of s[0..n) with each maximal ill-formed
** subsequence replaced by U+FFFD, as Rust's String::from_utf8_lossy. */
int hf_utf8_lossy(llm_buf *out, const uint8_t *s, size_t n);

#endif
