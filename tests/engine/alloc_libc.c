/* The engine's allocator hooks for the unit tests and fuzzers: the C library. */
#include <stdlib.h>

#include "../../engine/base.h"

void *llm_malloc(size_t n) { return malloc(n ? n : 1); }
void *llm_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
void llm_free(void *p) { free(p); }
