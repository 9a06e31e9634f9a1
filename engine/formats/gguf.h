/*
** gguf.h: reading the metadata of a GGUF file (llama.cpp's model format,
** versions 2 and 3): the key/value pairs and the tensor directory. The
** tensor data itself is never read: each tensor's absolute offset and size
** are given, for the caller to map or read.
**
** Layout (little-endian):
**   "GGUF", u32 version, u64 n_tensors, u64 n_kv
**   n_kv times:      key (u64 length, bytes), u32 value type, value
**   n_tensors times: name (string), u32 n_dims (1..4), n_dims u64 dims,
**                    u32 ggml type (kernels/qtypes.h), u64 offset (relative
**                    to the data section, a multiple of the alignment)
**   padding to general.alignment (a u32 key, default 32, a power of two)
**   the data section.
** Values: scalars of the types below, strings (u64 length, bytes, no NUL),
** arrays (u32 element type, u64 count, the elements; no arrays of arrays).
**
** Everything is checked while reading, before memory is committed to it:
** counts against the bytes left in the file, string lengths, types, keys
** (non-empty, unique, without NUL bytes, so that every key can be looked up
** by its C string), tensor shapes, types, alignment, bounds, overlaps and
** names (the same rules as keys). Errors name the key or tensor and the
** byte offset. The metadata is read through a callback in 64 KiB chunks;
** the reading may run ahead into the data section by up to one chunk.
**
** Strings (keys, values, array elements, tensor names) live in one pool:
** a 150,000-token vocabulary costs its bytes plus 9 bytes a token.
*/
#ifndef LLM_GGUF_H
#define LLM_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"

typedef struct llm_gguf llm_gguf;

/* Reads n bytes at absolute offset off of the source into buf; returns
** LLM_OK or an error code (and fills err). */
typedef int (*llm_gguf_read_fn)(void *ctx, uint64_t off, void *buf, size_t n,
                                llm_err *err);

/* Value types, as stored in the file. */
enum {
  LLM_GGUF_U8 = 0,
  LLM_GGUF_I8,
  LLM_GGUF_U16,
  LLM_GGUF_I16,
  LLM_GGUF_U32,
  LLM_GGUF_I32,
  LLM_GGUF_F32,
  LLM_GGUF_BOOL,
  LLM_GGUF_STRING,
  LLM_GGUF_ARRAY,
  LLM_GGUF_U64,
  LLM_GGUF_I64,
  LLM_GGUF_F64
};

typedef struct llm_gguf_tensor {
  const char *name; /* NUL-terminated */
  size_t name_len;
  uint32_t n_dims;
  uint64_t ne[4]; /* ne[0] is the row length (fastest-varying), unused dims are 1 */
  uint32_t type;   /* ggml type id (kernels/qtypes.h) */
  uint64_t offset; /* absolute byte offset in the file */
  uint64_t size;   /* bytes */
} llm_gguf_tensor;

/* Reads the metadata of a file of file_size bytes through read(ctx, ...).
** On failure *out is NULL and err says why. */
int llm_gguf_open(llm_gguf **out, llm_gguf_read_fn read, void *ctx,
                  uint64_t file_size, llm_err *err);

/* The same for a file in memory. data must outlive the llm_gguf. */
int llm_gguf_open_memory(llm_gguf **out, const uint8_t *data, size_t len,
                         llm_err *err);

void llm_gguf_free(llm_gguf *g);

uint32_t llm_gguf_version(const llm_gguf *g);
uint64_t llm_gguf_alignment(const llm_gguf *g);
/* Where the data section starts (absolute). In a file without tensors it
** may lie past the end of the file (the padding need not be written). */
uint64_t llm_gguf_data_offset(const llm_gguf *g);

/* ---- key/value pairs, by index 0..n_kv-1 (file order) ---- */

int64_t llm_gguf_n_kv(const llm_gguf *g);
/* The key (NUL-terminated); NULL when i is out of range. */
const char *llm_gguf_key(const llm_gguf *g, int64_t i);
/* The index of key, or -1. */
int64_t llm_gguf_find(const llm_gguf *g, const char *key);
/* LLM_GGUF_*; -1 when i is out of range. */
int llm_gguf_kv_type(const llm_gguf *g, int64_t i);
/* The element type of an array, else -1. */
int llm_gguf_arr_type(const llm_gguf *g, int64_t i);
/* The number of elements of an array, else 0. */
uint64_t llm_gguf_arr_n(const llm_gguf *g, int64_t i);

/* Typed getters by key. Return 1 when found with a fitting type, 0 when the
** key is absent; when the key exists with another type they fail (return
** -1) with an error naming the key, its type and the expected type.
** get_int accepts every integer type and bool (range-checked into int64: a
** u64 above INT64_MAX fails with LLM_ERANGE; a bool gives 0 or 1);
** get_float accepts f32/f64 (and integers); get_str gives a pointer valid
** while g lives (strings may contain NUL bytes, hence the length, which may
** be NULL; they are also NUL-terminated). The outputs are set only on 1. */
int llm_gguf_get_int(const llm_gguf *g, const char *key, int64_t *out, llm_err *err);
int llm_gguf_get_float(const llm_gguf *g, const char *key, double *out, llm_err *err);
int llm_gguf_get_str(const llm_gguf *g, const char *key, const char **s,
                     size_t *len, llm_err *err);

/* Array elements by kv index i: string element j (NUL-terminated, NULL when
** i is not a string array or j is out of range); numeric elements as int64
** (floats truncated toward zero and saturated, u64 above INT64_MAX
** saturated, bools 0/1) or double; 0 when i is not a numeric array or j is
** out of range; the raw little-endian element bytes of a numeric array
** (8-byte aligned; NULL for other kvs). */
const char *llm_gguf_arr_str(const llm_gguf *g, int64_t i, uint64_t j, size_t *len);
int64_t llm_gguf_arr_int(const llm_gguf *g, int64_t i, uint64_t j);
double llm_gguf_arr_float(const llm_gguf *g, int64_t i, uint64_t j);
const void *llm_gguf_arr_data(const llm_gguf *g, int64_t i);

/* ---- tensors, by index 0..n_tensors-1 (file order) ---- */

int64_t llm_gguf_n_tensors(const llm_gguf *g);
/* NULL when i is out of range. */
const llm_gguf_tensor *llm_gguf_tensor_at(const llm_gguf *g, int64_t i);
/* NULL when there is no tensor of that name. */
const llm_gguf_tensor *llm_gguf_find_tensor(const llm_gguf *g, const char *name);

/* ---- for messages ---- */

/* "u8", "i8", ..., "string", "array", or "unknown" (LLM_GGUF_*). */
const char *llm_gguf_type_name(int type);

/* Writes a short text of kv i's value into buf (always NUL-terminated when
** size > 0): numbers as numbers, strings quoted (cut after 60 bytes, C
** escapes for the unprintable), arrays as "[32000 x string]". Returns the
** length written (without the NUL). */
size_t llm_gguf_value_text(const llm_gguf *g, int64_t i, char *buf, size_t size);

#endif
