/*
** unicode_tables.h: internal to pretok.c. The generated range tables in
** unicode_tables.c (see tools/gen_unicode.js): sorted, disjoint, inclusive
** [lo, hi] code point pairs; each _len counts pairs.
*/
#ifndef LLM_UNICODE_TABLES_H
#define LLM_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

extern const uint32_t llm_uni_letter_ranges[];
extern const size_t llm_uni_letter_ranges_len;
extern const uint32_t llm_uni_number_ranges[];
extern const size_t llm_uni_number_ranges_len;
extern const uint32_t llm_uni_space_ranges[];
extern const size_t llm_uni_space_ranges_len;

#endif
