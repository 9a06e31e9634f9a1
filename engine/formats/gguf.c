/*
** gguf.c: reading GGUF metadata (see gguf.h).
**
** One pass over the metadata: the header and its counts first (checked
** against the bytes the file has left, before anything is allocated),
** then each key/value pair and each tensor info, every string and array
** length checked against the rest of the file before its bytes are read.
** The tables grow as entries are actually read, so a lying count in a
** file that claims to be huge costs nothing before it is found out. Then
** the checks that need the whole directory: the data section's start,
** tensor bounds, overlaps, and duplicate keys and names (by sorting).
**
** Bytes come from memory directly, or through the read callback into a
** 64 KiB window. Strings go into one pool (g->pool), NUL-terminated; the
** tables hold pool offsets (the pool moves while it grows); the pointers
** the API hands out are set once the pool is final.
*/
#include "formats/gguf.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qtypes.h"

#define WHAT "GGUF"
#define CHUNK ((size_t)64 << 10)
#define DEFAULT_ALIGNMENT 32
#define HEADER_BYTES 24
#define MAX_DIMS 4
/* The fewest bytes a key/value pair takes: key length, a 1-byte key, value
** type, a 1-byte value. A tensor info: name length, a 1-byte name, n_dims,
** one dimension, type, offset. */
#define MIN_KV_BYTES (8 + 1 + 4 + 1)
#define MIN_TENSOR_BYTES (8 + 1 + 4 + 8 + 4 + 8)
#define N_TYPES 13

typedef struct kv {
  const char *key; /* set when the pool is final */
  size_t key_off, key_len;
  int type, arr_type; /* arr_type: -1 unless an array */
  uint64_t n;         /* array elements */
  uint64_t raw;       /* a scalar's little-endian bytes, zero-extended */
  size_t off;         /* string, numeric array: pool offset; string array:
                         index of its first offset in g->str_off */
  size_t len;         /* string bytes */
} kv;

typedef struct tensor_rec {
  llm_gguf_tensor t; /* t.name set when the pool is final */
  size_t name_off;
} tensor_rec;

struct llm_gguf {
  uint32_t version;
  uint64_t alignment, data_offset, file_size;
  kv *kvs;
  size_t n_kv, kv_cap;
  tensor_rec *tensors;
  size_t n_tensors, t_cap;
  llm_buf pool;
  /* each string array's strings lie one after the other in the pool: n+1
  ** offsets, the last one past the last string's NUL */
  size_t *str_off;
  size_t n_str, str_cap;
  const kv **kv_by_key;              /* sorted, for llm_gguf_find */
  const tensor_rec **t_by_name;      /* sorted, for llm_gguf_find_tensor */
};

/* Reading state. */
typedef struct parser {
  llm_gguf *g;
  llm_gguf_read_fn read;
  void *ctx;
  const uint8_t *mem; /* the whole file, when it is in memory */
  uint8_t *win;       /* else the chunk read last: [win_off, win_off+win_len) */
  uint64_t win_off;
  size_t win_len;
  uint64_t pos, size;
  char where[160]; /* what is being read, for messages */
  llm_err *err;
} parser;

static const char *const TYPE_NAMES[N_TYPES] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32",
    "bool", "string", "array", "u64", "i64", "f64"};
/* bytes of a scalar; 0 for string and array */
static const uint8_t TYPE_SIZE[N_TYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *llm_gguf_type_name(int type) {
  return type >= 0 && type < N_TYPES ? TYPE_NAMES[type] : "unknown";
}

static int is_int_type(int t) {
  return (t >= LLM_GGUF_U8 && t <= LLM_GGUF_I32) || t == LLM_GGUF_BOOL ||
         t == LLM_GGUF_U64 || t == LLM_GGUF_I64;
}

static int is_float_type(int t) { return t == LLM_GGUF_F32 || t == LLM_GGUF_F64; }

static uint64_t load_le(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = v << 8 | p[i];
  return v;
}

/* ---- text for messages ------------------------------------------------ */

/* Writes s[0..len) into dst (cap bytes, NUL-terminated) with C escapes
** for the unprintable, cut after max bytes of s with "...". */
static void quote(char *dst, size_t cap, const char *s, size_t len, size_t max) {
  size_t o = 0;
  for (size_t i = 0; i < len && i < max && o + 5 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 32 && c < 127 && c != '"' && c != '\\')
      dst[o++] = (char)c;
    else
      o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
  }
  if (len > max && o + 4 <= cap) {
    memcpy(dst + o, "...", 3);
    o += 3;
  }
  if (cap) dst[o < cap ? o : cap - 1] = 0;
}

/* ---- reading ---------------------------------------------------------- */

static uint64_t left(const parser *p) { return p->size - p->pos; }

static int truncated(parser *p, const char *what, uint64_t n) {
  return llm_fail(p->err, LLM_EINVAL,
                  WHAT ": truncated file: %s%s%s at byte %" PRIu64
                  " needs %" PRIu64 " bytes, %" PRIu64 " are left",
                  what, p->where[0] ? " of " : "", p->where, p->pos, n,
                  left(p));
}

static int out_of_memory(parser *p) {
  return llm_fail(p->err, LLM_ENOMEM, WHAT ": out of memory reading %s",
                  p->where[0] ? p->where : "the metadata");
}

/* The read callback failed with rc: keeps its message, says where. */
static int read_failed(parser *p, int rc, size_t n) {
  char why[sizeof p->err->msg];
  why[0] = 0;
  if (p->err) memcpy(why, p->err->msg, sizeof why);
  why[sizeof why - 1] = 0;
  return llm_fail(p->err, rc ? rc : LLM_EIO,
                  WHAT ": cannot read %zu bytes at byte %" PRIu64 " (%s): %s",
                  n, p->pos, p->where[0] ? p->where : "the metadata",
                  why[0] ? why : "read error");
}

/* Points *chunk at up to max (>= 1) of the bytes at pos, which the caller
** has checked are in the file, and moves pos past the *n it gives. */
static int take(parser *p, uint64_t max, const uint8_t **chunk, size_t *n) {
  if (p->mem) {
    *chunk = p->mem + p->pos;
    *n = max < SIZE_MAX ? (size_t)max : SIZE_MAX;
  } else {
    if (p->pos < p->win_off || p->pos - p->win_off >= p->win_len) {
      size_t want = left(p) < CHUNK ? (size_t)left(p) : CHUNK;
      if (!p->win && !(p->win = llm_malloc(CHUNK))) return out_of_memory(p);
      p->win_len = 0;
      int rc = p->read(p->ctx, p->pos, p->win, want, p->err);
      if (rc) return read_failed(p, rc, want);
      p->win_off = p->pos;
      p->win_len = want;
    }
    size_t at = (size_t)(p->pos - p->win_off), avail = p->win_len - at;
    *chunk = p->win + at;
    *n = max < avail ? (size_t)max : avail;
  }
  p->pos += *n;
  return LLM_OK;
}

static int get_bytes(parser *p, void *dst, size_t n, const char *what) {
  if (n > left(p)) return truncated(p, what, n);
  for (size_t done = 0; done < n;) {
    const uint8_t *c;
    size_t got;
    int rc = take(p, n - done, &c, &got);
    if (rc) return rc;
    memcpy((uint8_t *)dst + done, c, got);
    done += got;
  }
  return LLM_OK;
}

static int get_u32(parser *p, uint32_t *v, const char *what) {
  uint8_t b[4];
  int rc = get_bytes(p, b, 4, what);
  if (!rc) *v = (uint32_t)load_le(b, 4);
  return rc;
}

static int get_u64(parser *p, uint64_t *v, const char *what) {
  uint8_t b[8];
  int rc = get_bytes(p, b, 8, what);
  if (!rc) *v = load_le(b, 8);
  return rc;
}

/* Appends the next n bytes of the file (checked to be there) to the pool. */
static int to_pool(parser *p, uint64_t n) {
  if (n > SIZE_MAX - p->g->pool.len - 8) return out_of_memory(p);
  for (uint64_t done = 0; done < n;) {
    const uint8_t *c;
    size_t got;
    int rc = take(p, n - done, &c, &got);
    if (rc) return rc;
    if (llm_buf_append(&p->g->pool, c, got)) return out_of_memory(p);
    done += got;
  }
  return LLM_OK;
}

/* "what" or "what index" into buf, for messages. */
static const char *name_of(char *buf, size_t size, const char *what, uint64_t index) {
  if (index == UINT64_MAX)
    snprintf(buf, size, "%s", what);
  else
    snprintf(buf, size, "%s %" PRIu64, what, index);
  return buf;
}

/* Reads a string (u64 length, bytes) into the pool, NUL-terminated. what
** names it for messages, followed by index unless that is UINT64_MAX. */
static int get_string(parser *p, const char *what, uint64_t index, size_t *off,
                      size_t *len) {
  char name[64], lw[90];
  uint64_t at = p->pos, n;
  if (left(p) < 8) {
    snprintf(lw, sizeof lw, "the length of %s", name_of(name, sizeof name, what, index));
    return truncated(p, lw, 8);
  }
  int rc = get_u64(p, &n, "a string length");
  if (rc) return rc;
  if (n > left(p))
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": %s%s%s at byte %" PRIu64 " is %" PRIu64
                    " bytes long, longer than the rest of the file (%" PRIu64
                    " bytes): truncated or corrupt",
                    name_of(name, sizeof name, what, index), p->where[0] ? " of " : "",
                    p->where, at, n, left(p));
  *off = p->g->pool.len;
  *len = (size_t)n;
  rc = to_pool(p, n);
  if (!rc && llm_buf_append(&p->g->pool, "", 1)) rc = out_of_memory(p);
  return rc;
}

/* ---- key/value pairs ---------------------------------------------------- */

static int check_value_type(parser *p, uint32_t t, uint64_t at, const char *what) {
  if (t < N_TYPES) return LLM_OK;
  return llm_fail(p->err, LLM_EINVAL,
                  WHAT ": %s has unknown %s %" PRIu32 " at byte %" PRIu64
                  " (0..12 are defined)",
                  p->where, what, t, at);
}

static int read_array(parser *p, kv *e) {
  uint64_t at = p->pos;
  uint32_t et;
  int rc = get_u32(p, &et, "the array's element type");
  if (rc) return rc;
  if (et == LLM_GGUF_ARRAY)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": %s at byte %" PRIu64
                    " is an array of arrays (nested arrays are not supported)",
                    p->where, at);
  if ((rc = check_value_type(p, et, at, "array element type"))) return rc;
  if ((rc = get_u64(p, &e->n, "the array's length"))) return rc;
  uint64_t min = et == LLM_GGUF_STRING ? 8 : TYPE_SIZE[et];
  if (e->n > left(p) / min)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": %s: an array of %" PRIu64 " %s needs at least %" PRIu64
                    " bytes but %" PRIu64 " are left (at byte %" PRIu64 ")",
                    p->where, e->n, TYPE_NAMES[et],
                    e->n > UINT64_MAX / min ? UINT64_MAX : e->n * min, left(p), p->pos);
  e->arr_type = (int)et;
  llm_gguf *g = p->g;
  if (et != LLM_GGUF_STRING) {
    static const uint8_t zeros[8] = {0};
    if (llm_buf_append(&g->pool, zeros, (8 - g->pool.len % 8) % 8))
      return out_of_memory(p);
    e->off = g->pool.len;
    return to_pool(p, e->n * min);
  }
  e->off = g->n_str;
  for (uint64_t j = 0; j <= e->n; j++) {
    size_t off = g->pool.len, len;
    if (j < e->n && (rc = get_string(p, "string", j, &off, &len))) return rc;
    if (llm_grow((void **)&g->str_off, &g->str_cap, g->n_str + 1, sizeof(size_t)))
      return out_of_memory(p);
    g->str_off[g->n_str++] = off;
  }
  return LLM_OK;
}

static int read_kv(parser *p, uint64_t index) {
  llm_gguf *g = p->g;
  kv e;
  memset(&e, 0, sizeof e);
  e.arr_type = -1;
  snprintf(p->where, sizeof p->where, "metadata entry %" PRIu64, index);
  uint64_t at = p->pos;
  int rc = get_string(p, "the key", UINT64_MAX, &e.key_off, &e.key_len);
  if (rc) return rc;
  if (e.key_len == 0)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": metadata entry %" PRIu64 " at byte %" PRIu64
                    " has an empty key",
                    index, at);
  char q[100];
  const char *key = (const char *)g->pool.data + e.key_off;
  quote(q, sizeof q, key, e.key_len, 60);
  if (memchr(key, 0, e.key_len))
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": metadata entry %" PRIu64 " at byte %" PRIu64
                    " has a key with a NUL byte: \"%s\"",
                    index, at, q);
  snprintf(p->where, sizeof p->where, "metadata entry %" PRIu64 " \"%s\"", index, q);
  uint32_t t;
  at = p->pos;
  if ((rc = get_u32(p, &t, "the value type"))) return rc;
  if ((rc = check_value_type(p, t, at, "value type"))) return rc;
  e.type = (int)t;
  if (t == LLM_GGUF_ARRAY) {
    rc = read_array(p, &e);
  } else if (t == LLM_GGUF_STRING) {
    rc = get_string(p, "the value", UINT64_MAX, &e.off, &e.len);
  } else {
    uint8_t b[8];
    rc = get_bytes(p, b, TYPE_SIZE[t], "the value");
    if (!rc) e.raw = load_le(b, TYPE_SIZE[t]);
  }
  if (rc) return rc;
  if (llm_grow((void **)&g->kvs, &g->kv_cap, g->n_kv + 1, sizeof(kv)))
    return out_of_memory(p);
  g->kvs[g->n_kv++] = e;
  return LLM_OK;
}

/* Index of the first kv named key (the pool is not final yet), or -1. */
static int64_t find_raw(const llm_gguf *g, const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; i < g->n_kv; i++)
    if (g->kvs[i].key_len == n &&
        !memcmp(g->pool.data + g->kvs[i].key_off, key, n))
      return (int64_t)i;
  return -1;
}

static int set_alignment(parser *p) {
  llm_gguf *g = p->g;
  g->alignment = DEFAULT_ALIGNMENT;
  int64_t i = find_raw(g, "general.alignment");
  if (i < 0) return LLM_OK;
  const kv *e = &g->kvs[i];
  if (e->type != LLM_GGUF_U32)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": general.alignment has type %s; it must be u32",
                    TYPE_NAMES[e->type]);
  if (e->raw == 0 || (e->raw & (e->raw - 1)))
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": general.alignment is %" PRIu64
                    "; it must be a power of two",
                    e->raw);
  g->alignment = e->raw;
  return LLM_OK;
}

/* ---- tensor infos ------------------------------------------------------- */

static int read_shape(parser *p, llm_gguf_tensor *t) {
  uint64_t at = p->pos;
  int rc = get_u32(p, &t->n_dims, "the number of dimensions");
  if (rc) return rc;
  if (t->n_dims < 1 || t->n_dims > MAX_DIMS)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": %s has %" PRIu32 " dimensions (at byte %" PRIu64
                    "); 1..%d are allowed",
                    p->where, t->n_dims, at, MAX_DIMS);
  for (int d = 0; d < MAX_DIMS; d++) t->ne[d] = 1;
  for (uint32_t d = 0; d < t->n_dims; d++) {
    at = p->pos;
    if ((rc = get_u64(p, &t->ne[d], "a dimension"))) return rc;
    if (t->ne[d] == 0 || t->ne[d] > INT64_MAX)
      return llm_fail(p->err, LLM_EINVAL,
                      WHAT ": %s has dimension %" PRIu32 " = %" PRIu64
                      " (at byte %" PRIu64 "); 1..%" PRId64 " is allowed",
                      p->where, d, t->ne[d], at, INT64_MAX);
  }
  return LLM_OK;
}

/* Checks the type against the shape and sets t->size. */
static int size_tensor(parser *p, llm_gguf_tensor *t) {
  const llm_qtype *q = llm_qtype_get(t->type);
  if (!q)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": %s has unknown type id %" PRIu32, p->where, t->type);
  uint64_t n = t->ne[0];
  for (int d = 1; d < MAX_DIMS; d++) {
    if (n > (uint64_t)INT64_MAX / t->ne[d])
      return llm_fail(p->err, LLM_ERANGE,
                      WHAT ": %s: the element count %" PRIu64 " x %" PRIu64 " x %" PRIu64
                      " x %" PRIu64 " overflows",
                      p->where, t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
    n *= t->ne[d];
  }
  uint64_t row;
  if (llm_qtype_row_bytes(t->type, t->ne[0], &row) != LLM_OK)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": %s: its rows of %" PRIu64
                    " elements are not a multiple of %s's block size %" PRIu32,
                    p->where, t->ne[0], q->name, q->block);
  uint64_t rows = n / t->ne[0];
  if (row > UINT64_MAX / rows)
    return llm_fail(p->err, LLM_ERANGE,
                    WHAT ": %s: its size (%" PRIu64 " rows of %" PRIu64
                    " bytes) overflows",
                    p->where, rows, row);
  t->size = row * rows;
  return LLM_OK;
}

static int read_tensor(parser *p, uint64_t index) {
  llm_gguf *g = p->g;
  tensor_rec r;
  memset(&r, 0, sizeof r);
  snprintf(p->where, sizeof p->where, "tensor info %" PRIu64, index);
  uint64_t at = p->pos;
  int rc = get_string(p, "the name", UINT64_MAX, &r.name_off, &r.t.name_len);
  if (rc) return rc;
  if (r.t.name_len == 0)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": tensor info %" PRIu64 " at byte %" PRIu64
                    " has an empty name",
                    index, at);
  char q[100];
  const char *name = (const char *)g->pool.data + r.name_off;
  quote(q, sizeof q, name, r.t.name_len, 60);
  if (memchr(name, 0, r.t.name_len))
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": tensor info %" PRIu64 " at byte %" PRIu64
                    " has a name with a NUL byte: \"%s\"",
                    index, at, q);
  snprintf(p->where, sizeof p->where, "tensor %" PRIu64 " \"%s\"", index, q);
  if ((rc = read_shape(p, &r.t))) return rc;
  if ((rc = get_u32(p, &r.t.type, "the type"))) return rc;
  if ((rc = size_tensor(p, &r.t))) return rc;
  at = p->pos;
  if ((rc = get_u64(p, &r.t.offset, "the offset"))) return rc;
  if (r.t.offset % g->alignment)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": %s has offset %" PRIu64 " (at byte %" PRIu64
                    "), not a multiple of the alignment %" PRIu64,
                    p->where, r.t.offset, at, g->alignment);
  if (llm_grow((void **)&g->tensors, &g->t_cap, g->n_tensors + 1,
               sizeof(tensor_rec)))
    return out_of_memory(p);
  g->tensors[g->n_tensors++] = r;
  return LLM_OK;
}

/* ---- the whole directory ------------------------------------------------ */

static int by_offset(const void *a, const void *b) {
  const llm_gguf_tensor *x = &(*(const tensor_rec *const *)a)->t;
  const llm_gguf_tensor *y = &(*(const tensor_rec *const *)b)->t;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb) {
  int c = memcmp(a, b, na < nb ? na : nb);
  return c ? c : na < nb ? -1 : na > nb;
}

static int by_name(const void *a, const void *b) {
  const llm_gguf_tensor *x = &(*(const tensor_rec *const *)a)->t;
  const llm_gguf_tensor *y = &(*(const tensor_rec *const *)b)->t;
  return cmp_bytes(x->name, x->name_len, y->name, y->name_len);
}

static int by_key(const void *a, const void *b) {
  const kv *x = *(const kv *const *)a, *y = *(const kv *const *)b;
  return cmp_bytes(x->key, x->key_len, y->key, y->key_len);
}

/* Absolute offsets and the end of the file. */
static int place_tensors(parser *p) {
  llm_gguf *g = p->g;
  for (size_t i = 0; i < g->n_tensors; i++) {
    llm_gguf_tensor *t = &g->tensors[i].t;
    char q[100];
    quote(q, sizeof q, t->name, t->name_len, 60);
    uint64_t rel = t->offset;
    if (rel > g->file_size || g->data_offset > g->file_size - rel ||
        t->size > g->file_size - rel - g->data_offset)
      return llm_fail(p->err, LLM_EINVAL,
                      WHAT ": tensor %zu \"%s\" (%" PRIu64 " bytes at offset %" PRIu64
                      " of the data section, which starts at byte %" PRIu64
                      ") runs past the end of the file (%" PRIu64 " bytes)",
                      i, q, t->size, rel, g->data_offset, g->file_size);
    t->offset = g->data_offset + rel;
  }
  return LLM_OK;
}

static int check_overlaps(parser *p) {
  llm_gguf *g = p->g;
  const tensor_rec **s = g->t_by_name;
  qsort(s, g->n_tensors, sizeof *s, by_offset);
  for (size_t i = 1; i < g->n_tensors; i++) {
    const llm_gguf_tensor *a = &s[i - 1]->t, *b = &s[i]->t;
    if (a->offset + a->size <= b->offset) continue;
    char qa[100], qb[100];
    quote(qa, sizeof qa, a->name, a->name_len, 40);
    quote(qb, sizeof qb, b->name, b->name_len, 40);
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": tensors \"%s\" (bytes %" PRIu64 "..%" PRIu64
                    ") and \"%s\" (bytes %" PRIu64 "..%" PRIu64 ") overlap",
                    qa, a->offset, a->offset + a->size, qb, b->offset,
                    b->offset + b->size);
  }
  return LLM_OK;
}

static int check_names(parser *p) {
  llm_gguf *g = p->g;
  const tensor_rec **s = g->t_by_name;
  qsort(s, g->n_tensors, sizeof *s, by_name);
  for (size_t i = 1; i < g->n_tensors; i++) {
    if (by_name(&s[i - 1], &s[i])) continue;
    char q[100];
    quote(q, sizeof q, s[i]->t.name, s[i]->t.name_len, 60);
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": duplicate tensor name \"%s\" (tensors %zu and %zu)", q,
                    (size_t)(s[i - 1] - g->tensors), (size_t)(s[i] - g->tensors));
  }
  return LLM_OK;
}

static int check_keys(parser *p) {
  llm_gguf *g = p->g;
  const kv **s = g->kv_by_key;
  qsort(s, g->n_kv, sizeof *s, by_key);
  for (size_t i = 1; i < g->n_kv; i++) {
    if (by_key(&s[i - 1], &s[i])) continue;
    char q[100];
    quote(q, sizeof q, s[i]->key, s[i]->key_len, 60);
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": duplicate key \"%s\" (metadata entries %zu and %zu)",
                    q, (size_t)(s[i - 1] - g->kvs), (size_t)(s[i] - g->kvs));
  }
  return LLM_OK;
}

/* Gives back the slack of a grown array when it is worth it (a failure
** just keeps the slack). */
static void trim(void **p, size_t *cap, size_t len, size_t elt_size) {
  if (!*p || *cap - len <= *cap / 8) return;
  void *np = llm_realloc(*p, (len ? len : 1) * elt_size);
  if (!np) return;
  *p = np;
  *cap = len ? len : 1;
}

/* Once everything is read: pointers into the final pool, then the checks
** on the whole directory. */
static int finish(parser *p) {
  llm_gguf *g = p->g;
  p->where[0] = 0;
  uint64_t pad = (g->alignment - p->pos % g->alignment) % g->alignment;
  if (pad > UINT64_MAX - p->pos)
    return llm_fail(p->err, LLM_ERANGE, WHAT ": the data section's offset overflows");
  g->data_offset = p->pos + pad;
  trim((void **)&g->pool.data, &g->pool.cap, g->pool.len, 1);
  trim((void **)&g->str_off, &g->str_cap, g->n_str, sizeof *g->str_off);
  const char *pool = (const char *)g->pool.data;
  for (size_t i = 0; i < g->n_kv; i++) g->kvs[i].key = pool + g->kvs[i].key_off;
  for (size_t i = 0; i < g->n_tensors; i++)
    g->tensors[i].t.name = pool + g->tensors[i].name_off;
  g->kv_by_key = llm_calloc(g->n_kv, sizeof *g->kv_by_key);
  g->t_by_name = llm_calloc(g->n_tensors, sizeof *g->t_by_name);
  if (!g->kv_by_key || !g->t_by_name) return out_of_memory(p);
  for (size_t i = 0; i < g->n_kv; i++) g->kv_by_key[i] = &g->kvs[i];
  for (size_t i = 0; i < g->n_tensors; i++) g->t_by_name[i] = &g->tensors[i];
  int rc = place_tensors(p);
  if (!rc) rc = check_overlaps(p);
  if (!rc) rc = check_names(p);
  if (!rc) rc = check_keys(p);
  return rc;
}

/* ---- the header and the whole file ---------------------------------------- */

static int bad_magic(parser *p, const uint8_t *m) {
  char q[40];
  quote(q, sizeof q, (const char *)m, 4, 4);
  return llm_fail(p->err, LLM_EINVAL,
                  WHAT ": not a GGUF file: it starts with \"%s\" (bytes %02x %02x "
                  "%02x %02x), not \"GGUF\"",
                  q, m[0], m[1], m[2], m[3]);
}

static int check_version(parser *p, uint32_t v) {
  p->g->version = v;
  if (v == 2 || v == 3) return LLM_OK;
  if (v == 1)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": version 1 (with 32-bit counts) is not supported; "
                    "convert the file again with a recent llama.cpp");
  if (v == 0x02000000 || v == 0x03000000)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": this is a big-endian file (version %u byte-swapped); "
                    "only little-endian GGUF files are supported",
                    (unsigned)(v >> 24));
  return llm_fail(p->err, LLM_EINVAL,
                  WHAT ": unsupported version %" PRIu32 " (versions 2 and 3 are)", v);
}

static int read_header(parser *p, uint64_t *n_kv, uint64_t *n_tensors) {
  uint8_t h[HEADER_BYTES];
  snprintf(p->where, sizeof p->where, "the header");
  if (p->size < 4)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": the file is %" PRIu64 " bytes, too short to be a GGUF file",
                    p->size);
  int rc = get_bytes(p, h, 4, "the magic");
  if (rc) return rc;
  if (memcmp(h, "GGUF", 4)) return bad_magic(p, h);
  if ((rc = get_bytes(p, h + 4, 4, "the version"))) return rc;
  if ((rc = check_version(p, (uint32_t)load_le(h + 4, 4)))) return rc;
  if ((rc = get_bytes(p, h + 8, 16, "the counts"))) return rc;
  *n_tensors = load_le(h + 8, 8);
  *n_kv = load_le(h + 16, 8);
  uint64_t rest = left(p);
  if (*n_kv > rest / MIN_KV_BYTES || *n_tensors > rest / MIN_TENSOR_BYTES ||
      *n_kv * MIN_KV_BYTES > rest - *n_tensors * MIN_TENSOR_BYTES)
    return llm_fail(p->err, LLM_EINVAL,
                    WHAT ": the header announces %" PRIu64 " metadata entries and %" PRIu64
                    " tensors, more than the %" PRIu64
                    " bytes after it can hold (%d bytes an entry, %d a tensor at least): "
                    "truncated or corrupt",
                    *n_kv, *n_tensors, rest, MIN_KV_BYTES, MIN_TENSOR_BYTES);
  return LLM_OK;
}

static int parse(parser *p) {
  uint64_t n_kv = 0, n_tensors = 0;
  int rc = read_header(p, &n_kv, &n_tensors);
  for (uint64_t i = 0; !rc && i < n_kv; i++) rc = read_kv(p, i);
  if (!rc) rc = set_alignment(p);
  for (uint64_t i = 0; !rc && i < n_tensors; i++) rc = read_tensor(p, i);
  if (!rc) rc = finish(p);
  return rc;
}

static int open_with(parser *p, llm_gguf **out) {
  *out = NULL;
  llm_gguf *g = llm_calloc(1, sizeof *g);
  if (!g) return llm_fail(p->err, LLM_ENOMEM, WHAT ": out of memory");
  g->file_size = p->size;
  p->g = g;
  int rc = parse(p);
  llm_free(p->win);
  if (rc) {
    llm_gguf_free(g);
    return rc;
  }
  *out = g;
  return LLM_OK;
}

int llm_gguf_open(llm_gguf **out, llm_gguf_read_fn read, void *ctx,
                  uint64_t file_size, llm_err *err) {
  if (!read) {
    *out = NULL;
    return llm_fail(err, LLM_EINVAL, WHAT ": no read function");
  }
  parser p;
  memset(&p, 0, sizeof p);
  p.read = read;
  p.ctx = ctx;
  p.size = file_size;
  p.err = err;
  return open_with(&p, out);
}

int llm_gguf_open_memory(llm_gguf **out, const uint8_t *data, size_t len,
                         llm_err *err) {
  static const uint8_t empty[1] = {0};
  parser p;
  memset(&p, 0, sizeof p);
  p.mem = data ? data : empty;
  p.size = data ? len : 0;
  p.err = err;
  return open_with(&p, out);
}

void llm_gguf_free(llm_gguf *g) {
  if (!g) return;
  llm_free(g->kvs);
  llm_free(g->tensors);
  llm_buf_free(&g->pool);
  llm_free(g->str_off);
  llm_free(g->kv_by_key);
  llm_free(g->t_by_name);
  llm_free(g);
}

/* ---- the getters -------------------------------------------------------- */

uint32_t llm_gguf_version(const llm_gguf *g) { return g->version; }
uint64_t llm_gguf_alignment(const llm_gguf *g) { return g->alignment; }
uint64_t llm_gguf_data_offset(const llm_gguf *g) { return g->data_offset; }
int64_t llm_gguf_n_kv(const llm_gguf *g) { return (int64_t)g->n_kv; }
int64_t llm_gguf_n_tensors(const llm_gguf *g) { return (int64_t)g->n_tensors; }

static const kv *kv_at(const llm_gguf *g, int64_t i) {
  return i >= 0 && (uint64_t)i < g->n_kv ? &g->kvs[i] : NULL;
}

const char *llm_gguf_key(const llm_gguf *g, int64_t i) {
  const kv *e = kv_at(g, i);
  return e ? e->key : NULL;
}

int64_t llm_gguf_find(const llm_gguf *g, const char *key) {
  if (!key) return -1;
  size_t n = strlen(key), lo = 0, hi = g->n_kv;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const kv *e = g->kv_by_key[mid];
    int c = cmp_bytes(e->key, e->key_len, key, n);
    if (c == 0) return (int64_t)(e - g->kvs);
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

int llm_gguf_kv_type(const llm_gguf *g, int64_t i) {
  const kv *e = kv_at(g, i);
  return e ? e->type : -1;
}

int llm_gguf_arr_type(const llm_gguf *g, int64_t i) {
  const kv *e = kv_at(g, i);
  return e ? e->arr_type : -1;
}

uint64_t llm_gguf_arr_n(const llm_gguf *g, int64_t i) {
  const kv *e = kv_at(g, i);
  return e && e->type == LLM_GGUF_ARRAY ? e->n : 0;
}

/* A value of integer type t (raw: its bytes, zero-extended) as int64; 0
** when it does not fit (a u64 above INT64_MAX). */
static int raw_to_int(int t, uint64_t raw, int64_t *v) {
  unsigned bits = TYPE_SIZE[t] * 8u;
  int is_signed = t == LLM_GGUF_I8 || t == LLM_GGUF_I16 ||
                  t == LLM_GGUF_I32 || t == LLM_GGUF_I64;
  if (t == LLM_GGUF_BOOL) {
    *v = raw != 0;
  } else if (!is_signed) {
    if (raw > (uint64_t)INT64_MAX) return 0;
    *v = (int64_t)raw;
  } else if (raw >> (bits - 1) & 1) { /* negative: -(2^bits - raw) */
    uint64_t mag = bits == 64 ? ~raw + 1 : ((uint64_t)1 << bits) - raw;
    *v = mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)mag;
  } else {
    *v = (int64_t)raw;
  }
  return 1;
}

static double raw_to_double(int t, uint64_t raw) {
  if (t == LLM_GGUF_F32) {
    uint32_t u = (uint32_t)raw;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
  }
  if (t == LLM_GGUF_F64) {
    double d;
    memcpy(&d, &raw, sizeof d);
    return d;
  }
  int64_t v;
  if (raw_to_int(t, raw, &v)) return (double)v;
  return (double)raw; /* a u64 above INT64_MAX */
}

/* "u32", "string", "array of string". */
static void describe(const kv *e, char *buf, size_t size) {
  if (e->type == LLM_GGUF_ARRAY)
    snprintf(buf, size, "array of %s", TYPE_NAMES[e->arr_type]);
  else
    snprintf(buf, size, "%s", TYPE_NAMES[e->type]);
}

static int wrong_type(const kv *e, const char *expected, llm_err *err) {
  char have[32], q[100];
  describe(e, have, sizeof have);
  quote(q, sizeof q, e->key, e->key_len, 60);
  llm_fail(err, LLM_EINVAL, WHAT ": key \"%s\" has type %s, expected %s", q,
           have, expected);
  return -1;
}

int llm_gguf_get_int(const llm_gguf *g, const char *key, int64_t *out, llm_err *err) {
  const kv *e = kv_at(g, llm_gguf_find(g, key));
  if (!e) return 0;
  if (!is_int_type(e->type)) return wrong_type(e, "an integer", err);
  int64_t v;
  if (!raw_to_int(e->type, e->raw, &v)) {
    char q[100];
    quote(q, sizeof q, e->key, e->key_len, 60);
    llm_fail(err, LLM_ERANGE, WHAT ": key \"%s\" is %" PRIu64 ", out of int64 range",
             q, e->raw);
    return -1;
  }
  *out = v;
  return 1;
}

int llm_gguf_get_float(const llm_gguf *g, const char *key, double *out, llm_err *err) {
  const kv *e = kv_at(g, llm_gguf_find(g, key));
  if (!e) return 0;
  if (!is_int_type(e->type) && !is_float_type(e->type))
    return wrong_type(e, "a number (f32, f64 or an integer)", err);
  *out = raw_to_double(e->type, e->raw);
  return 1;
}

int llm_gguf_get_str(const llm_gguf *g, const char *key, const char **s,
                     size_t *len, llm_err *err) {
  const kv *e = kv_at(g, llm_gguf_find(g, key));
  if (!e) return 0;
  if (e->type != LLM_GGUF_STRING) return wrong_type(e, "string", err);
  *s = (const char *)g->pool.data + e->off;
  if (len) *len = e->len;
  return 1;
}

/* kv i when it is an array of numbers with an element j, else NULL. */
static const kv *numeric_elem(const llm_gguf *g, int64_t i, uint64_t j, uint64_t *raw) {
  const kv *e = kv_at(g, i);
  if (!e || e->type != LLM_GGUF_ARRAY || e->arr_type == LLM_GGUF_STRING || j >= e->n)
    return NULL;
  size_t sz = TYPE_SIZE[e->arr_type];
  *raw = load_le(g->pool.data + e->off + (size_t)j * sz, sz);
  return e;
}

const char *llm_gguf_arr_str(const llm_gguf *g, int64_t i, uint64_t j, size_t *len) {
  const kv *e = kv_at(g, i);
  if (!e || e->arr_type != LLM_GGUF_STRING || j >= e->n) return NULL;
  const size_t *o = g->str_off + e->off + j;
  if (len) *len = o[1] - o[0] - 1;
  return (const char *)g->pool.data + o[0];
}

int64_t llm_gguf_arr_int(const llm_gguf *g, int64_t i, uint64_t j) {
  uint64_t raw;
  const kv *e = numeric_elem(g, i, j, &raw);
  if (!e) return 0;
  if (is_float_type(e->arr_type)) {
    double d = raw_to_double(e->arr_type, raw);
    if (isnan(d)) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
  }
  int64_t v;
  return raw_to_int(e->arr_type, raw, &v) ? v : INT64_MAX;
}

double llm_gguf_arr_float(const llm_gguf *g, int64_t i, uint64_t j) {
  uint64_t raw;
  const kv *e = numeric_elem(g, i, j, &raw);
  return e ? raw_to_double(e->arr_type, raw) : 0.0;
}

const void *llm_gguf_arr_data(const llm_gguf *g, int64_t i) {
  const kv *e = kv_at(g, i);
  if (!e || e->type != LLM_GGUF_ARRAY || e->arr_type == LLM_GGUF_STRING) return NULL;
  return g->pool.data + e->off;
}

const llm_gguf_tensor *llm_gguf_tensor_at(const llm_gguf *g, int64_t i) {
  return i >= 0 && (uint64_t)i < g->n_tensors ? &g->tensors[i].t : NULL;
}

const llm_gguf_tensor *llm_gguf_find_tensor(const llm_gguf *g, const char *name) {
  if (!name) return NULL;
  size_t n = strlen(name), lo = 0, hi = g->n_tensors;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const llm_gguf_tensor *t = &g->t_by_name[mid]->t;
    int c = cmp_bytes(t->name, t->name_len, name, n);
    if (c == 0) return t;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

size_t llm_gguf_value_text(const llm_gguf *g, int64_t i, char *buf, size_t size) {
  const kv *e = kv_at(g, i);
  char tmp[300];
  if (!e) {
    snprintf(tmp, sizeof tmp, "(no such entry)");
  } else if (e->type == LLM_GGUF_ARRAY) {
    snprintf(tmp, sizeof tmp, "[%" PRIu64 " x %s]", e->n, TYPE_NAMES[e->arr_type]);
  } else if (e->type == LLM_GGUF_STRING) {
    char q[260];
    quote(q, sizeof q, (const char *)g->pool.data + e->off, e->len, 60);
    snprintf(tmp, sizeof tmp, "\"%s\"", q);
  } else if (e->type == LLM_GGUF_BOOL) {
    snprintf(tmp, sizeof tmp, "%s", e->raw ? "true" : "false");
  } else if (is_float_type(e->type)) {
    snprintf(tmp, sizeof tmp, "%.9g", raw_to_double(e->type, e->raw));
  } else {
    int64_t v;
    if (raw_to_int(e->type, e->raw, &v))
      snprintf(tmp, sizeof tmp, "%" PRId64, v);
    else
      snprintf(tmp, sizeof tmp, "%" PRIu64, e->raw);
  }
  size_t n = strlen(tmp);
  if (size == 0) return 0;
  if (n >= size) n = size - 1;
  memcpy(buf, tmp, n);
  buf[n] = 0;
  return n;
}
