/*
** gguf_write.h: writing a GGUF file (version 3, little-endian), the format
** llama.cpp loads; the layout is described in formats/gguf.h.
**
** A writer collects the metadata and the tensor directory, then streams the
** file out through a callback; the tensor bytes are asked for only then, in
** chunks of at most LLM_GGUF_WRITE_CHUNK bytes, so a big tensor never has to
** be in memory as a whole:
**
**   llm_gguf_writer *w;
**   llm_gguf_writer_new(&w, &err);
**   llm_gguf_add_str(w, "general.architecture", "llama", 5, &err);
**   llm_gguf_add_u32(w, "llama.block_count", 6, &err);
**   llm_gguf_add_tensor(w, "token_embd.weight", 2, (uint64_t[]){288, 32000},
**                       LLM_QTYPE_F32, &err);
**   uint64_t bytes = llm_gguf_writer_size(w);
**   llm_gguf_write(w, write_to_file, fill_tensor, ctx, &err);
**   llm_gguf_writer_free(w);
**
** Keys and tensors are written in the order they were added; llama.cpp's
** gguf-py writer, given the same content in the same order, writes the same
** bytes (it adds general.architecture itself, as its first key). Values are
** encoded when added: the caller's buffers need not outlive the call.
**
** Checked when added (a failed add changes nothing): keys are 1..65535 bytes
** of printable ASCII (the GGUF specification's limit) and unique; tensor
** names are 1..63 bytes (ggml's GGML_MAX_NAME, 64 with the NUL) and
** unique; 1..4 dimensions, each >= 1; a type known to kernels/qtypes.h
** whose block divides ne[0]; the data section (each tensor padded) stays
** below 2^63 bytes. general.alignment, when added, must be a u32 power of
** two and come before the first tensor (the tensor offsets are assigned as
** tensors are added); the default is 32. Each tensor's data starts at a
** multiple of the alignment and is followed by zeros up to the next one,
** the last one included (as gguf-py and ggml write it).
*/
#ifndef LLM_GGUF_WRITE_H
#define LLM_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "formats/gguf.h" /* LLM_GGUF_U8 ... value types */

/* The most tensor bytes asked for in one fill call. */
#define LLM_GGUF_WRITE_CHUNK ((size_t)1 << 20)

typedef struct llm_gguf_writer llm_gguf_writer;

/* Appends n bytes to the output. Returns LLM_OK or an error code (and may
** fill err: the writer adds where it was). */
typedef int (*llm_gguf_write_fn)(void *ctx, const void *buf, size_t n,
                                 llm_err *err);

/* Fills dst with bytes [offset, offset + n) of tensor index (0-based, in the
** order added); n <= LLM_GGUF_WRITE_CHUNK. The chunks of a tensor are asked
** for in order, then the next tensor's. Returns LLM_OK or an error code. */
typedef int (*llm_gguf_fill_fn)(void *ctx, int64_t index, uint64_t offset,
                                void *dst, size_t n, llm_err *err);

int llm_gguf_writer_new(llm_gguf_writer **out, llm_err *err);
void llm_gguf_writer_free(llm_gguf_writer *w);

/* ---- metadata, in file order; each returns LLM_OK or an error ---- */

int llm_gguf_add_u8(llm_gguf_writer *w, const char *key, uint8_t v, llm_err *err);
int llm_gguf_add_i8(llm_gguf_writer *w, const char *key, int8_t v, llm_err *err);
int llm_gguf_add_u16(llm_gguf_writer *w, const char *key, uint16_t v, llm_err *err);
int llm_gguf_add_i16(llm_gguf_writer *w, const char *key, int16_t v, llm_err *err);
int llm_gguf_add_u32(llm_gguf_writer *w, const char *key, uint32_t v, llm_err *err);
int llm_gguf_add_i32(llm_gguf_writer *w, const char *key, int32_t v, llm_err *err);
int llm_gguf_add_u64(llm_gguf_writer *w, const char *key, uint64_t v, llm_err *err);
int llm_gguf_add_i64(llm_gguf_writer *w, const char *key, int64_t v, llm_err *err);
int llm_gguf_add_f32(llm_gguf_writer *w, const char *key, float v, llm_err *err);
int llm_gguf_add_f64(llm_gguf_writer *w, const char *key, double v, llm_err *err);
/* Written as 1 when v is non-zero, else 0. */
int llm_gguf_add_bool(llm_gguf_writer *w, const char *key, int v, llm_err *err);
/* len bytes of s, written as they are (GGUF strings are UTF-8, not
** NUL-terminated; s may hold NUL bytes). */
int llm_gguf_add_str(llm_gguf_writer *w, const char *key, const char *s,
                     size_t len, llm_err *err);

/* An array of n numbers of elem_type (any LLM_GGUF_* but string and array),
** read from elems as a C array of the matching type: uint8_t for U8, int32_t
** for I32, float for F32, ..., and uint8_t for BOOL (non-zero is written as
** 1). n may be 0; elems may then be NULL. */
int llm_gguf_add_array(llm_gguf_writer *w, const char *key, int elem_type,
                       const void *elems, uint64_t n, llm_err *err);
/* An array of n strings: strs[i], lens[i] bytes long (lens NULL: each is
** NUL-terminated). */
int llm_gguf_add_str_array(llm_gguf_writer *w, const char *key,
                           const char *const *strs, const size_t *lens,
                           uint64_t n, llm_err *err);

/* ---- tensors ---- */

/* Adds a tensor of n_dims dimensions ne[0..n_dims) (ne[0] is the row
** length, the fastest-varying) and ggml type (LLM_QTYPE_*). Its index for
** the fill callback is the number of tensors added before it. */
int llm_gguf_add_tensor(llm_gguf_writer *w, const char *name, uint32_t n_dims,
                        const uint64_t *ne, uint32_t type, llm_err *err);

int64_t llm_gguf_writer_n_tensors(const llm_gguf_writer *w);
/* Tensor i's size in bytes and its offset in the data section (relative to
** its start, as the file stores it); 0 when i is out of range. */
uint64_t llm_gguf_writer_tensor_size(const llm_gguf_writer *w, int64_t i);
uint64_t llm_gguf_writer_tensor_offset(const llm_gguf_writer *w, int64_t i);

/* The number of bytes llm_gguf_write will write with what was added so far. */
uint64_t llm_gguf_writer_size(const llm_gguf_writer *w);

/* Writes the file through write(ctx, ...), asking fill(ctx, ...) for the
** tensor bytes. The first callback error stops it; that error's code is
** returned, and err says where it happened and the callback's message. The
** writer is left as it was and may be written again. */
int llm_gguf_write(const llm_gguf_writer *w, llm_gguf_write_fn write,
                   llm_gguf_fill_fn fill, void *ctx, llm_err *err);

#endif
