/*
** gguf_write.c: writing GGUF files (see gguf_write.h).
**
** Both metadata sections are encoded into buffers as things are added, in
** the bytes the file will hold: the key/value section (w->kvs) and the
** tensor infos (w->infos; a tensor's offset is known when it is added,
** because the alignment must be set before the first tensor). Writing is
** then the header, the two buffers, padding, and the tensor bytes fetched
** chunk by chunk from the caller.
**
** Every add checks everything first, then reserves all the bytes it needs
** (and the table slot), and only then encodes, so a failed add leaves the
** writer as it was. Duplicate keys and names are found by a linear search:
** a model has tens of keys and at most a few thousand tensors.
*/
#include "formats/gguf_write.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kernels/qtypes.h"

#define WHAT "GGUF writer"
#define VERSION 3
#define HEADER_BYTES 24
#define DEFAULT_ALIGNMENT 32
#define MAX_KEY_BYTES 65535
#define MAX_NAME_BYTES 63
#define MAX_DIMS 4
#define ALIGNMENT_KEY "general.alignment"
#define N_TYPES 13

/* Bytes of each scalar value type (LLM_GGUF_*); 0 for string and array. */
static const uint8_t TYPE_SIZE[N_TYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

/* Where a key or a tensor name lies in w->kvs or w->infos. */
typedef struct span {
  size_t at, len;
} span;

typedef struct tensor_rec {
  span name; /* in w->infos */
  uint64_t size, offset; /* offset: in the data section */
} tensor_rec;

struct llm_gguf_writer {
  llm_buf kvs;   /* the key/value section, as written */
  span *keys;    /* in kvs */
  size_t n_kv, key_cap;
  llm_buf infos; /* the tensor infos, as written */
  tensor_rec *tensors;
  size_t n_tensors, t_cap;
  uint64_t alignment;
  uint64_t data_size; /* the data section so far, each tensor padded */
};

/* Stores v little-endian in bytes bytes at p; returns p + bytes. */
static uint8_t *put_le(uint8_t *p, uint64_t v, size_t bytes) {
  for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
  return p + bytes;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t len) {
  p = put_le(p, len, 8);
  if (len) memcpy(p, s, len);
  return p + len;
}

/* A C value of size bytes at p, as the bits the file stores. */
static uint64_t load_native(const void *p, size_t size) {
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint64_t u64 = 0;
  switch (size) {
    case 1: memcpy(&u8, p, 1); return u8;
    case 2: memcpy(&u16, p, 2); return u16;
    case 4: memcpy(&u32, p, 4); return u32;
    default: memcpy(&u64, p, 8); return u64;
  }
}

static uint64_t pad_to(uint64_t x, uint64_t alignment) {
  return (x + alignment - 1) / alignment * alignment;
}

int llm_gguf_writer_new(llm_gguf_writer **out, llm_err *err) {
  *out = llm_calloc(1, sizeof **out);
  if (!*out) return llm_fail(err, LLM_ENOMEM, WHAT ": out of memory");
  (*out)->alignment = DEFAULT_ALIGNMENT;
  return LLM_OK;
}

void llm_gguf_writer_free(llm_gguf_writer *w) {
  if (!w) return;
  llm_buf_free(&w->kvs);
  llm_buf_free(&w->infos);
  llm_free(w->keys);
  llm_free(w->tensors);
  llm_free(w);
}

/* ---- metadata ---------------------------------------------------------- */

static int check_key(const llm_gguf_writer *w, const char *key, llm_err *err) {
  size_t len = key ? strlen(key) : 0;
  if (len == 0) return llm_fail(err, LLM_EINVAL, WHAT ": a key is empty");
  if (len > MAX_KEY_BYTES)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": the key \"%.60s...\" is %zu bytes long; at most %d are allowed",
                    key, len, MAX_KEY_BYTES);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)key[i];
    if (c < 0x20 || c > 0x7e)
      return llm_fail(err, LLM_EINVAL,
                      WHAT ": the key \"%.*s\" has byte 0x%02x at %zu; keys are "
                      "printable ASCII",
                      (int)(i < 60 ? i : 60), key, c, i);
  }
  for (size_t i = 0; i < w->n_kv; i++)
    if (w->keys[i].len == len && !memcmp(w->kvs.data + w->keys[i].at, key, len))
      return llm_fail(err, LLM_EINVAL, WHAT ": duplicate key \"%.200s\"", key);
  return LLM_OK;
}

/* Checks the key, makes room for a pair whose value takes value_bytes
** (after its type), and writes the key and the type. *value gets where the
** value goes; the pair is committed (kvs.len, n_kv) before returning, so
** the caller must not fail after this. */
static int begin_kv(llm_gguf_writer *w, const char *key, int type,
                    size_t value_bytes, uint8_t **value, llm_err *err) {
  int rc = check_key(w, key, err);
  if (rc) return rc;
  if (type != LLM_GGUF_U32 && !strcmp(key, ALIGNMENT_KEY))
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": " ALIGNMENT_KEY " must have type u32, not %s",
                    llm_gguf_type_name(type));
  size_t len = strlen(key);
  size_t head = 8 + len + 4;
  if (value_bytes > SIZE_MAX - head || w->kvs.len > SIZE_MAX - head - value_bytes)
    return llm_fail(err, LLM_ERANGE, WHAT ": the value of \"%.200s\" is too large", key);
  if (llm_grow((void **)&w->kvs.data, &w->kvs.cap, w->kvs.len + head + value_bytes, 1) ||
      llm_grow((void **)&w->keys, &w->key_cap, w->n_kv + 1, sizeof(span)))
    return llm_fail(err, LLM_ENOMEM, WHAT ": out of memory adding \"%.200s\"", key);
  uint8_t *p = w->kvs.data + w->kvs.len;
  w->keys[w->n_kv++] = (span){w->kvs.len + 8, len};
  p = put_str(p, key, len);
  *value = put_le(p, (uint64_t)type, 4);
  w->kvs.len += head + value_bytes;
  return LLM_OK;
}

/* A scalar of type whose bits are raw. general.alignment also sets the
** alignment, so it is checked here. */
static int add_scalar(llm_gguf_writer *w, const char *key, int type,
                      uint64_t raw, llm_err *err) {
  int is_alignment = key && !strcmp(key, ALIGNMENT_KEY);
  if (is_alignment && type == LLM_GGUF_U32) {
    if (raw == 0 || (raw & (raw - 1)))
      return llm_fail(err, LLM_EINVAL,
                      WHAT ": " ALIGNMENT_KEY " is %" PRIu64 "; it must be a power of two",
                      raw);
    if (w->n_tensors)
      return llm_fail(err, LLM_EINVAL,
                      WHAT ": " ALIGNMENT_KEY " must be added before the first tensor");
  }
  uint8_t *p;
  int rc = begin_kv(w, key, type, TYPE_SIZE[type], &p, err);
  if (rc) return rc;
  put_le(p, raw, TYPE_SIZE[type]);
  if (is_alignment) w->alignment = raw;
  return LLM_OK;
}

int llm_gguf_add_u8(llm_gguf_writer *w, const char *key, uint8_t v, llm_err *err) {
  return add_scalar(w, key, LLM_GGUF_U8, v, err);
}
int llm_gguf_add_i8(llm_gguf_writer *w, const char *key, int8_t v, llm_err *err) {
  return add_scalar(w, key, LLM_GGUF_I8, (uint8_t)v, err);
}
int llm_gguf_add_u16(llm_gguf_writer *w, const char *key, uint16_t v, llm_err *err) {
  return add_scalar(w, key, LLM_GGUF_U16, v, err);
}
int llm_gguf_add_i16(llm_gguf_writer *w, const char *key, int16_t v, llm_err *err) {
  return add_scalar(w, key, LLM_GGUF_I16, (uint16_t)v, err);
}
int llm_gguf_add_u32(llm_gguf_writer *w, const char *key, uint32_t v, llm_err *err) {
  return add_scalar(w, key, LLM_GGUF_U32, v, err);
}
int llm_gguf_add_i32(llm_gguf_writer *w, const char *key, int32_t v, llm_err *err) {
  return add_scalar(w, key, LLM_GGUF_I32, (uint32_t)v, err);
}
int llm_gguf_add_u64(llm_gguf_writer *w, const char *key, uint64_t v, llm_err *err) {
  return add_scalar(w, key, LLM_GGUF_U64, v, err);
}
int llm_gguf_add_i64(llm_gguf_writer *w, const char *key, int64_t v, llm_err *err) {
  return add_scalar(w, key, LLM_GGUF_I64, (uint64_t)v, err);
}
int llm_gguf_add_f32(llm_gguf_writer *w, const char *key, float v, llm_err *err) {
  return add_scalar(w, key, LLM_GGUF_F32, load_native(&v, 4), err);
}
int llm_gguf_add_f64(llm_gguf_writer *w, const char *key, double v, llm_err *err) {
  return add_scalar(w, key, LLM_GGUF_F64, load_native(&v, 8), err);
}
int llm_gguf_add_bool(llm_gguf_writer *w, const char *key, int v, llm_err *err) {
  return add_scalar(w, key, LLM_GGUF_BOOL, v != 0, err);
}

int llm_gguf_add_str(llm_gguf_writer *w, const char *key, const char *s,
                     size_t len, llm_err *err) {
  if (!s && len)
    return llm_fail(err, LLM_EINVAL, WHAT ": the value of \"%.200s\" is NULL",
                    key ? key : "");
  uint8_t *p;
  int rc = begin_kv(w, key, LLM_GGUF_STRING, len > SIZE_MAX - 8 ? SIZE_MAX : 8 + len,
                    &p, err);
  if (rc) return rc;
  put_str(p, s, len);
  return LLM_OK;
}

/* An array's value: element type and count, then (*elems) the elements. */
static int begin_array(llm_gguf_writer *w, const char *key, int elem_type,
                       uint64_t n, size_t elem_bytes, uint8_t **elems,
                       llm_err *err) {
  uint8_t *p;
  size_t bytes = elem_bytes > SIZE_MAX - 12 ? SIZE_MAX : 12 + elem_bytes;
  int rc = begin_kv(w, key, LLM_GGUF_ARRAY, bytes, &p, err);
  if (rc) return rc;
  p = put_le(p, (uint64_t)elem_type, 4);
  *elems = put_le(p, n, 8);
  return LLM_OK;
}

int llm_gguf_add_array(llm_gguf_writer *w, const char *key, int elem_type,
                       const void *elems, uint64_t n, llm_err *err) {
  if (elem_type < 0 || elem_type >= N_TYPES || TYPE_SIZE[elem_type] == 0)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": \"%.200s\": %s is not a numeric array element type "
                    "(strings have their own call)",
                    key ? key : "", llm_gguf_type_name(elem_type));
  if (n && !elems)
    return llm_fail(err, LLM_EINVAL, WHAT ": the elements of \"%.200s\" are NULL",
                    key ? key : "");
  size_t size = TYPE_SIZE[elem_type];
  uint8_t *p;
  /* a size that cannot be makes begin_kv fail ("too large") */
  int rc = begin_array(w, key, elem_type, n, n > SIZE_MAX / size ? SIZE_MAX : (size_t)n * size,
                       &p, err);
  if (rc) return rc;
  const uint8_t *src = elems;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t raw = load_native(src + i * size, size);
    p = put_le(p, elem_type == LLM_GGUF_BOOL ? raw != 0 : raw, size);
  }
  return LLM_OK;
}

int llm_gguf_add_str_array(llm_gguf_writer *w, const char *key,
                           const char *const *strs, const size_t *lens,
                           uint64_t n, llm_err *err) {
  if (n && !strs)
    return llm_fail(err, LLM_EINVAL, WHAT ": the strings of \"%.200s\" are NULL",
                    key ? key : "");
  size_t bytes = 0;
  for (uint64_t i = 0; i < n && bytes < SIZE_MAX; i++) {
    if (!strs[i] && (!lens || lens[i]))
      return llm_fail(err, LLM_EINVAL,
                      WHAT ": string %" PRIu64 " of \"%.200s\" is NULL", i,
                      key ? key : "");
    size_t len = lens ? lens[i] : strlen(strs[i]);
    bytes = len > SIZE_MAX - 8 - bytes ? SIZE_MAX : bytes + 8 + len;
  }
  uint8_t *p;
  int rc = begin_array(w, key, LLM_GGUF_STRING, n, bytes, &p, err);
  if (rc) return rc;
  for (uint64_t i = 0; i < n; i++)
    p = put_str(p, strs[i], lens ? lens[i] : strlen(strs[i]));
  return LLM_OK;
}

/* ---- tensors ------------------------------------------------------------ */

static int check_name(const llm_gguf_writer *w, const char *name, llm_err *err) {
  size_t len = name ? strlen(name) : 0;
  if (len == 0) return llm_fail(err, LLM_EINVAL, WHAT ": a tensor name is empty");
  if (len > MAX_NAME_BYTES)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": the tensor name \"%.200s\" is %zu bytes long; at most %d "
                    "are allowed",
                    name, len, MAX_NAME_BYTES);
  for (size_t i = 0; i < w->n_tensors; i++) {
    const span *s = &w->tensors[i].name;
    if (s->len == len && !memcmp(w->infos.data + s->at, name, len))
      return llm_fail(err, LLM_EINVAL, WHAT ": duplicate tensor name \"%s\"", name);
  }
  return LLM_OK;
}

/* Checks the shape and type; *size gets the tensor's bytes. */
static int size_tensor(const char *name, uint32_t n_dims, const uint64_t *ne,
                       uint32_t type, uint64_t *size, llm_err *err) {
  if (n_dims < 1 || n_dims > MAX_DIMS || !ne)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": tensor \"%s\" has %" PRIu32 " dimensions; 1..%d are allowed",
                    name, n_dims, MAX_DIMS);
  uint64_t n = 1;
  for (uint32_t d = 0; d < n_dims; d++) {
    if (ne[d] == 0 || ne[d] > INT64_MAX)
      return llm_fail(err, LLM_EINVAL,
                      WHAT ": tensor \"%s\" has dimension %" PRIu32 " = %" PRIu64
                      "; 1..%" PRId64 " is allowed",
                      name, d, ne[d], INT64_MAX);
    if (n > (uint64_t)INT64_MAX / ne[d])
      return llm_fail(err, LLM_ERANGE,
                      WHAT ": tensor \"%s\": its element count overflows", name);
    n *= ne[d];
  }
  const llm_qtype *q = llm_qtype_get(type);
  if (!q)
    return llm_fail(err, LLM_EINVAL, WHAT ": tensor \"%s\" has unknown type id %" PRIu32,
                    name, type);
  uint64_t row;
  int rc = llm_qtype_row_bytes(type, ne[0], &row);
  if (rc == LLM_EINVAL)
    return llm_fail(err, LLM_EINVAL,
                    WHAT ": tensor \"%s\": its rows of %" PRIu64
                    " elements are not a multiple of %s's block size %" PRIu32,
                    name, ne[0], q->name, q->block);
  uint64_t rows = n / ne[0];
  if (rc || row > (uint64_t)INT64_MAX / rows)
    return llm_fail(err, LLM_ERANGE, WHAT ": tensor \"%s\": its size overflows", name);
  *size = row * rows;
  return LLM_OK;
}

int llm_gguf_add_tensor(llm_gguf_writer *w, const char *name, uint32_t n_dims,
                        const uint64_t *ne, uint32_t type, llm_err *err) {
  uint64_t size = 0;
  int rc = check_name(w, name, err);
  if (!rc) rc = size_tensor(name, n_dims, ne, type, &size, err);
  if (rc) return rc;
  uint64_t padded = pad_to(size, w->alignment);
  if (padded > (uint64_t)INT64_MAX - w->data_size)
    return llm_fail(err, LLM_ERANGE,
                    WHAT ": tensor \"%s\" (%" PRIu64 " bytes) makes the data section "
                    "larger than 2^63 bytes",
                    name, size);
  size_t len = strlen(name);
  size_t bytes = 8 + len + 4 + 8 * (size_t)n_dims + 4 + 8;
  if (llm_grow((void **)&w->infos.data, &w->infos.cap, w->infos.len + bytes, 1) ||
      llm_grow((void **)&w->tensors, &w->t_cap, w->n_tensors + 1, sizeof(tensor_rec)))
    return llm_fail(err, LLM_ENOMEM, WHAT ": out of memory adding tensor \"%s\"", name);
  uint8_t *p = w->infos.data + w->infos.len;
  w->tensors[w->n_tensors++] = (tensor_rec){{w->infos.len + 8, len}, size, w->data_size};
  p = put_str(p, name, len);
  p = put_le(p, n_dims, 4);
  for (uint32_t d = 0; d < n_dims; d++) p = put_le(p, ne[d], 8);
  p = put_le(p, type, 4);
  put_le(p, w->data_size, 8);
  w->infos.len += bytes;
  w->data_size += padded;
  return LLM_OK;
}

int64_t llm_gguf_writer_n_tensors(const llm_gguf_writer *w) {
  return (int64_t)w->n_tensors;
}

uint64_t llm_gguf_writer_tensor_size(const llm_gguf_writer *w, int64_t i) {
  return i >= 0 && (size_t)i < w->n_tensors ? w->tensors[i].size : 0;
}

uint64_t llm_gguf_writer_tensor_offset(const llm_gguf_writer *w, int64_t i) {
  return i >= 0 && (size_t)i < w->n_tensors ? w->tensors[i].offset : 0;
}

/* ---- writing ------------------------------------------------------------- */

static uint64_t data_offset(const llm_gguf_writer *w) {
  return pad_to(HEADER_BYTES + (uint64_t)w->kvs.len + w->infos.len, w->alignment);
}

uint64_t llm_gguf_writer_size(const llm_gguf_writer *w) {
  return data_offset(w) + w->data_size;
}

/* The output while writing: the callback, and how far it got. */
typedef struct sink {
  llm_gguf_write_fn write;
  void *ctx;
  uint64_t pos;
  llm_err *err;
} sink;

/* A callback failed with rc: keeps its message, says what was being done. */
static int callback_failed(llm_err *err, int rc, const llm_err *why,
                           const char *doing) {
  return llm_fail(err, rc, WHAT ": %s failed: %s", doing,
                  why->msg[0] ? why->msg : "(the callback gave no reason)");
}

static int emit(sink *s, const void *buf, size_t n, const char *what) {
  if (n == 0) return LLM_OK;
  llm_err why = {0};
  int rc = s->write(s->ctx, buf, n, &why);
  if (rc) {
    char doing[200];
    snprintf(doing, sizeof doing, "writing %s (%zu bytes at byte %" PRIu64 ")",
             what, n, s->pos);
    return callback_failed(s->err, rc, &why, doing);
  }
  s->pos += n;
  return LLM_OK;
}

/* Zeros up to the next multiple of the alignment. */
static int emit_padding(sink *s, uint64_t alignment) {
  static const uint8_t zeros[4096];
  uint64_t n = pad_to(s->pos, alignment) - s->pos;
  while (n) {
    size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
    int rc = emit(s, zeros, k, "padding");
    if (rc) return rc;
    n -= k;
  }
  return LLM_OK;
}

/* Tensor i's bytes, fetched through fill a chunk at a time into buf. */
static int emit_tensor(sink *s, const llm_gguf_writer *w, size_t i,
                       llm_gguf_fill_fn fill, uint8_t *buf, size_t buf_size) {
  const tensor_rec *t = &w->tensors[i];
  char what[120];
  snprintf(what, sizeof what, "tensor %zu \"%.*s\"", i, (int)t->name.len,
           (const char *)w->infos.data + t->name.at);
  for (uint64_t off = 0; off < t->size;) {
    size_t n = t->size - off < buf_size ? (size_t)(t->size - off) : buf_size;
    llm_err why = {0};
    int rc = fill(s->ctx, (int64_t)i, off, buf, n, &why);
    if (rc) {
      char doing[200];
      snprintf(doing, sizeof doing,
               "getting bytes %" PRIu64 "..%" PRIu64 " of %s (%" PRIu64 " bytes)",
               off, off + n, what, t->size);
      return callback_failed(s->err, rc, &why, doing);
    }
    if ((rc = emit(s, buf, n, what))) return rc;
    off += n;
  }
  return emit_padding(s, w->alignment);
}

int llm_gguf_write(const llm_gguf_writer *w, llm_gguf_write_fn write,
                   llm_gguf_fill_fn fill, void *ctx, llm_err *err) {
  sink s = {write, ctx, 0, err};
  uint8_t head[HEADER_BYTES];
  uint8_t *p = put_le(head, 0x46554747, 4); /* "GGUF" */
  p = put_le(p, VERSION, 4);
  p = put_le(p, w->n_tensors, 8);
  put_le(p, w->n_kv, 8);
  int rc = emit(&s, head, sizeof head, "the header");
  if (!rc) rc = emit(&s, w->kvs.data, w->kvs.len, "the metadata");
  if (!rc) rc = emit(&s, w->infos.data, w->infos.len, "the tensor infos");
  if (!rc) rc = emit_padding(&s, w->alignment);
  if (rc || !w->n_tensors) return rc;
  uint64_t largest = 0;
  for (size_t i = 0; i < w->n_tensors; i++)
    if (w->tensors[i].size > largest) largest = w->tensors[i].size;
  size_t buf_size = largest < LLM_GGUF_WRITE_CHUNK ? (size_t)largest : LLM_GGUF_WRITE_CHUNK;
  uint8_t *buf = llm_malloc(buf_size);
  if (!buf) return llm_fail(err, LLM_ENOMEM, WHAT ": out of memory for the tensor data");
  for (size_t i = 0; i < w->n_tensors && !rc; i++)
    rc = emit_tensor(&s, w, i, fill, buf, buf_size);
  llm_free(buf);
  return rc;
}
