/* base.c: error records, checked allocation helpers, growable buffers. */
#include "base.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

int llm_fail(llm_err *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

void *llm_calloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  size_t bytes = n * size;
  void *p = llm_malloc(bytes ? bytes : 1);
  if (p) memset(p, 0, bytes);
  return p;
}

/* Decoding reads every weight once per token, 61 MB for a 15M model: with
** 4 KB pages that is 15,000 TLB misses a token, and the page walks stall
** the streaming loads (measured: ~10% of decode speed). The hint is only a
** hint: where the kernel has no huge pages to give, nothing changes. */
void *llm_malloc_streamed(size_t bytes) {
  void *p = llm_malloc(bytes ? bytes : 1);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
  uintptr_t hi = ((uintptr_t)p + bytes) & ~(huge - 1);
  if (p && hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#endif
  return p;
}

void *llm_calloc_streamed(size_t bytes) {
  void *p = llm_malloc_streamed(bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

int llm_grow(void **p, size_t *cap, size_t need, size_t elt_size) {
  if (need <= *cap) return LLM_OK;
  size_t ncap = *cap ? *cap : 16;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2) return LLM_ENOMEM;
    ncap *= 2;
  }
  if (ncap > SIZE_MAX / elt_size) return LLM_ENOMEM;
  void *np = llm_realloc(*p, ncap * elt_size);
  if (!np) return LLM_ENOMEM;
  *p = np;
  *cap = ncap;
  return LLM_OK;
}

int llm_buf_append(llm_buf *b, const void *data, size_t n) {
  if (n == 0) return LLM_OK;
  if (b->len + n < b->len) return LLM_ENOMEM;
  if (llm_grow((void **)&b->data, &b->cap, b->len + n, 1)) return LLM_ENOMEM;
  memcpy(b->data + b->len, data, n);
  b->len += n;
  return LLM_OK;
}

void llm_buf_free(llm_buf *b) {
  llm_free(b->data);
  memset(b, 0, sizeof *b);
}

int llm_ids_push(llm_ids *a, int32_t v) {
  if (llm_grow((void **)&a->data, &a->cap, a->len + 1, sizeof(int32_t)))
    return LLM_ENOMEM;
  a->data[a->len++] = v;
  return LLM_OK;
}

void llm_ids_free(llm_ids *a) {
  llm_free(a->data);
  memset(a, 0, sizeof *a);
}
