/*
** zblob.c: arrays of float32 / int32 stored as zstd-compressed BLOBs.
**
** A stored array is the little-endian bytes of its elements, compressed as
** one zstd frame that records its content size. Reading checks that size
** against what the caller expects before writing anything, so a truncated,
** corrupt or mismatched BLOB is an error, never a crash or a short read.
*/
#include <string.h>
#include <zstd.h>

#include "ext.h"

/* Compression level: fast, and float weights gain little from more. */
#define LEVEL 3

int llm_zblob_bind(sqlite3_stmt *st, int col, const void *data, size_t n,
                   llm_err *err) {
  size_t cap = ZSTD_compressBound(n);
  void *buf = sqlite3_malloc64(cap ? cap : 1);
  if (!buf) return llm_fail(err, LLM_ENOMEM, "out of memory compressing %zu bytes", n);
  size_t z = ZSTD_compress(buf, cap, data, n, LEVEL);
  if (ZSTD_isError(z)) {
    sqlite3_free(buf);
    return llm_fail(err, LLM_EIO, "zstd: %s", ZSTD_getErrorName(z));
  }
  if (z > 0x7fffffff) {
    sqlite3_free(buf);
    return llm_fail(err, LLM_ERANGE, "a compressed array of %zu bytes is too large for one BLOB", z);
  }
  if (sqlite3_bind_blob64(st, col, buf, z, sqlite3_free) != SQLITE_OK)
    return llm_fail(err, LLM_ENOMEM, "cannot bind a BLOB of %zu bytes", z);
  return LLM_OK;
}

int llm_zblob_size(const void *blob, size_t n, uint64_t *size, const char *what, llm_err *err) {
  unsigned long long z = blob && n ? ZSTD_getFrameContentSize(blob, n) : ZSTD_CONTENTSIZE_ERROR;
  if (z == ZSTD_CONTENTSIZE_ERROR || z == ZSTD_CONTENTSIZE_UNKNOWN)
    return llm_fail(err, LLM_EINVAL, "%s: the BLOB is not zstd data with a size (corrupt?)", what);
  *size = z;
  return LLM_OK;
}

int llm_zblob_read(const void *blob, size_t n, void *dst, size_t expected,
                   const char *what, llm_err *err) {
  if (!blob || n == 0)
    return llm_fail(err, LLM_EINVAL, "%s: the BLOB is empty", what);
  unsigned long long size = ZSTD_getFrameContentSize(blob, n);
  if (size == ZSTD_CONTENTSIZE_ERROR)
    return llm_fail(err, LLM_EINVAL, "%s: the BLOB is not zstd data (corrupt?)", what);
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size != expected)
    return llm_fail(err, LLM_EINVAL, "%s: the BLOB holds %lld bytes, expected %zu",
                    what, size == ZSTD_CONTENTSIZE_UNKNOWN ? -1LL : (long long)size, expected);
  size_t got = ZSTD_decompress(dst, expected, blob, n);
  if (ZSTD_isError(got))
    return llm_fail(err, LLM_EINVAL, "%s: the BLOB is corrupt (zstd: %s)", what, ZSTD_getErrorName(got));
  if (got != expected)
    return llm_fail(err, LLM_EINVAL, "%s: the BLOB is truncated (%zu of %zu bytes)", what, got, expected);
  return LLM_OK;
}
