/*
** base.h: what every engine module shares: status codes, the error record,
** the allocator hooks and a growable byte buffer.
**
** The engine keeps no global state. Memory comes from llm_malloc/llm_realloc/
** llm_free, which the embedder defines at link time: ext/ maps them onto
** sqlite3_malloc64, the unit tests onto the C library.
*/
#ifndef LLM_BASE_H
#define LLM_BASE_H

#include <stddef.h>
#include <stdint.h>

enum {
  LLM_OK = 0,
  LLM_ENOMEM = 1,   /* an allocation failed */
  LLM_EINVAL = 2,   /* bad argument or malformed input data */
  LLM_ERANGE = 3,   /* a value or size is out of the supported range */
  LLM_EIO = 4,      /* a file could not be read or written */
  LLM_EINTR = 5,    /* stopped because the caller asked (llm_stop) */
};

/* A check that long-running engine work polls now and then; it stops with
** LLM_EINTR when fn(arg) returns non-zero. The extension maps it onto
** sqlite3_interrupt(), so Ctrl-C in the shell stops training. */
typedef struct llm_stop {
  int (*fn)(void *arg);
  void *arg;
} llm_stop;

/* An error: the status code and a message a user can act on. */
typedef struct llm_err {
  int code;
  char msg[400];
} llm_err;

/* Sets err (when not NULL) and returns code, so callers can write
** `return llm_fail(err, LLM_EINVAL, "...", ...);`. */
int llm_fail(llm_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Allocator hooks: defined by the embedder (see top of file). */
void *llm_malloc(size_t n);
void *llm_realloc(void *p, size_t n);
void llm_free(void *p);

/* Zero-filled allocation of n*size bytes, with overflow check. */
void *llm_calloc(size_t n, size_t size);

/* For a big array that is streamed again and again (the weights): on
** Linux the whole 2 MB pages inside it are first asked for as transparent
** huge pages, before any is touched. The calloc is zero-filled. */
void *llm_malloc_streamed(size_t bytes);
void *llm_calloc_streamed(size_t bytes);

/* Grows an array *p of *cap elements of elt_size bytes so that it holds at
** least need elements. Returns LLM_OK or LLM_ENOMEM (then *p is unchanged). */
int llm_grow(void **p, size_t *cap, size_t need, size_t elt_size);

/* A growable byte buffer. */
typedef struct llm_buf {
  uint8_t *data;
  size_t len, cap;
} llm_buf;

int llm_buf_append(llm_buf *b, const void *data, size_t n);
void llm_buf_free(llm_buf *b);

/* A growable array of int32 (token ids and similar). */
typedef struct llm_ids {
  int32_t *data;
  size_t len, cap;
} llm_ids;

int llm_ids_push(llm_ids *a, int32_t v);
void llm_ids_free(llm_ids *a);

#endif
