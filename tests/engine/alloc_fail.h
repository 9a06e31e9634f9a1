/*
** alloc_fail.h: fault injection for the test allocator (alloc_libc.c), to
** drive the engine through its out-of-memory paths. Test support only: the
** state is a global in alloc_libc.c, not in the engine.
*/
#ifndef LLM_ALLOC_FAIL_H
#define LLM_ALLOC_FAIL_H

/* Lets the next n allocations (llm_malloc / llm_realloc calls, counted from
** now) succeed, then makes every later one fail (return NULL; a failed
** llm_realloc leaves its block as it was). n < 0 disables the injection. */
void llm_test_fail_allocs_after(long n);

/* The same, but only the one allocation after the next n fails; the later
** ones succeed again. n < 0 disables the injection. */
void llm_test_fail_one_alloc_after(long n);

/* How many allocations have failed since the last call of either function
** above. */
long llm_test_allocs_failed(void);

#endif
