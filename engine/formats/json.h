/*
** json.h: a small strict RFC 8259 JSON parser.
**
** llm_json_parse builds a read-only tree owned by an llm_json_doc. It is
** strict: no comments, no trailing commas, no single quotes, no NaN or
** Infinity, no leading zeros, no byte order mark, no trailing non-whitespace.
** The input must be valid UTF-8; strings must not hold raw control
** characters (< 0x20); escapes are resolved, \uXXXX surrogate pairs combine
** and a lone surrogate escape is an error. Objects keep their key order and
** reject duplicate keys (compared after escapes are resolved). Nesting is
** limited to LLM_JSON_MAX_DEPTH arrays/objects. Every error message names
** the byte offset where the problem was found.
**
** llm_json_parse_int_array parses a JSON array of integers straight into an
** llm_ids without building a tree: the fast path for long lists of token ids.
*/
#ifndef LLM_JSON_H
#define LLM_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"

enum {
  LLM_JSON_NULL = 0,
  LLM_JSON_BOOL = 1,
  LLM_JSON_NUMBER = 2,
  LLM_JSON_STRING = 3,
  LLM_JSON_ARRAY = 4,
  LLM_JSON_OBJECT = 5,
};

/* Appends v as compact JSON to out (numbers that are not integers with 17
** significant digits, so they read back the same). LLM_OK or LLM_ENOMEM. */
struct llm_json;
int llm_json_write(const struct llm_json *v, llm_buf *out);

/* Appends s[0..n) as a JSON string (quoted, escaped) to out. */
int llm_json_write_str(const char *s, size_t n, llm_buf *out);

/* Deepest nesting of arrays and objects accepted. */
#define LLM_JSON_MAX_DEPTH 64

/* A decoded string: UTF-8, NUL-terminated, len bytes (it may itself contain
** NUL bytes, from \u0000). */
typedef struct llm_json_str {
  const char *s;
  size_t len;
} llm_json_str;

typedef struct llm_json llm_json;
struct llm_json {
  int type;         /* LLM_JSON_* */
  int boolean;      /* BOOL: 0 or 1 */
  int is_int;       /* NUMBER: the value is an integer that fits int64 */
  int64_t i;        /* NUMBER: the value when is_int, else 0 */
  double num;       /* NUMBER: the value as a double (nearest) */
  const char *str;  /* STRING: the decoded text (NUL-terminated) */
  size_t len;       /* STRING: its length in bytes; ARRAY/OBJECT: count */
  llm_json *items;  /* ARRAY: the elements; OBJECT: the values, in order */
  llm_json_str *keys; /* OBJECT: the keys, parallel to items */
  size_t offset;    /* byte offset of the value in the input */
};

typedef struct llm_json_doc llm_json_doc;

/* Parses text[0..n). On success *out owns the tree (free it with
** llm_json_free); on failure *out is NULL and err says what and where. */
int llm_json_parse(const char *text, size_t n, llm_json_doc **out,
                   llm_err *err);

/* The root value of a parsed document. */
const llm_json *llm_json_root(const llm_json_doc *doc);

void llm_json_free(llm_json_doc *doc);

/* The value for key in object obj, or NULL (also when obj is NULL or not an
** object). llm_json_getn takes a length, for keys that contain NUL bytes. */
const llm_json *llm_json_get(const llm_json *obj, const char *key);
const llm_json *llm_json_getn(const llm_json *obj, const char *key,
                              size_t key_len);

/* "null", "boolean", "number", "string", "array", "object" (for messages). */
const char *llm_json_type_name(int type);

/* Parses text[0..n), which must be a JSON array (strict, as above) whose
** elements are all integers within [min, max] (the range is further limited
** to int32), and appends them to out. Numbers such as 2.0 or 1e3 that are
** exact integers are accepted; 1.5 is not. On failure out is left as it
** was on entry (its length restored) and err names the element and byte. */
int llm_json_parse_int_array(const char *text, size_t n, llm_ids *out,
                             int64_t min, int64_t max, llm_err *err);

#endif
