/*
** regex_split.h: pre-tokenization by regular expressions, for the tokenizers
** of real models: Hugging Face's `Split` pre-tokenizer (pattern, behaviour,
** invert) and llama.cpp's named pre-tokenizers (the GGUF key
** tokenizer.ggml.pre), run by PCRE2.
**
** Patterns are UTF-8 and Unicode-aware: \p{L}, \s and \w follow Unicode
** (\s is exactly the White_Space property, as in Rust, Oniguruma and
** llama.cpp), and `$` matches only at the end of the piece being split.
** Any byte string can be split: bytes that are not valid UTF-8 match no
** pattern item, so they end up in the text between matches.
**
** An llm_regex holds its own match buffers: use one from one thread at a
** time (compile one per thread to split in parallel).
*/
#ifndef LLM_REGEX_SPLIT_H
#define LLM_REGEX_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"

typedef struct llm_regex llm_regex;

/* Compiles a pattern (UTF-8) with Unicode classes (\p{L}, \s, \w are
** Unicode-aware, like the Rust/Oniguruma/JS-with-u engines models were made
** with). Fails with an error that quotes the pattern's offending offset and
** PCRE2's message. */
int llm_regex_compile(llm_regex **out, const char *pattern, size_t len,
                      llm_err *err);
void llm_regex_free(llm_regex *re);

/* Hugging Face Split behaviours. */
enum {
  LLM_SPLIT_REMOVED = 0,
  LLM_SPLIT_ISOLATED,
  LLM_SPLIT_MERGED_WITH_PREVIOUS,
  LLM_SPLIT_MERGED_WITH_NEXT,
  LLM_SPLIT_CONTIGUOUS
};

/* A list of pieces of one text, as [start, end) byte offsets into it. */
typedef struct llm_spans {
  size_t *start, *end;
  size_t len, cap;
} llm_spans;

void llm_spans_free(llm_spans *s);
/* Appends [start, end). LLM_OK or LLM_ENOMEM. */
int llm_spans_push(llm_spans *s, size_t start, size_t end);

/* Splits each piece of `in` (spans into s[0..n)) by the pattern as Hugging
** Face's Split(pattern, behavior, invert) does, appending the resulting
** pieces (in order, empty pieces dropped) to out. With invert, the
** pattern's matches are the pieces to keep (and the gaps are what is
** removed/isolated/merged). Each piece is matched on its own, as its own
** subject (lookarounds and anchors do not see past it). out must not be in;
** on error out is left as it was. */
int llm_regex_split(llm_regex *re, const uint8_t *s, size_t n,
                    const llm_spans *in, int behavior, int invert,
                    llm_spans *out, llm_err *err);

/* llama.cpp's named pre-tokenizers (the GGUF key tokenizer.ggml.pre): the
** list of patterns applied one after another, each splitting every piece of
** the previous step with LLM_SPLIT_ISOLATED (matches and the text between
** matches both become pieces). NULL for an unknown name; *n_patterns is
** set. They give llama.cpp's pieces: three are rewritten from llama.cpp's
** text to do what its regex machinery does with them (see regex_split.c). */
const char *const *llm_pretok_patterns(const char *name, int *n_patterns);

/* The names llm_pretok_patterns knows, for error messages: a
** comma-separated list. */
const char *llm_pretok_names(void);

#endif
