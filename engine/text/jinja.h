/*
** jinja.h: renders chat templates, the Jinja subset that Hugging Face chat
** templates use, byte for byte as @huggingface/jinja (transformers.js)
** renders them.
**
**   llm_jinja *t;
**   if (llm_jinja_compile(src, n, &t, &err) == LLM_OK) {
**     llm_buf out = {0};
**     rc = llm_jinja_render(t, "{\"messages\": [...], \"add_generation_prompt\": true}",
**                           len, &out, &err);
**     ...
**     llm_buf_free(&out);
**     llm_jinja_free(t);
**   }
**
** Compiling applies what transformers does to every chat template: one
** trailing newline dropped, trim_blocks and lstrip_blocks on, and the
** {% generation %} markers removed. Rendering takes the variables from a
** JSON object; numbers that are integers become integers, the rest floats.
**
** The semantics are those of @huggingface/jinja, not Python's Jinja, where
** they differ: `{{ none }}` and undefined print nothing, booleans print
** "true"/"false", str.strip('x') ignores its argument and strips white
** space, `break`/`continue` drop what the loop body printed in that pass.
**
** Supported: if/elif/else, for (with else, loop.*, `for x in xs if c`,
** tuple unpacking, break/continue), set (also ns.attr and block set),
** macro (defaults, keyword arguments, varargs/kwargs, calls with *list and
** **dict), filter blocks,
** comments, whitespace control; expressions, tests, filters and methods as
** in @huggingface/jinja (see jinja_lib.c for the list), raise_exception,
** range, namespace and strftime_now (the current UTC time). Not supported,
** with an error naming the construct and the line: {% call %}, printing a
** macro or function, and anything outside the subset.
** Case mapping (upper, lower, title, capitalize) is ASCII only. Strings are
** UTF-8 here and UTF-16 in the oracle: length and s[i] count UTF-16 units
** as it does (half a surrogate pair is U+FFFD), slices count code points
** as it does. Known differences: `loop` is one object per for statement
** (a `loop` kept in a variable changes with the loop), strftime_now uses
** UTC (the oracle local time), break/continue inside a macro or set block
** is an error.
**
** Safety: templates come from downloaded files. Nothing crashes or exits;
** nesting, output size, work (evaluation steps) and memory are bounded by
** the limits below, each an LLM_ERANGE error. Errors name the line of the
** template; a raise_exception(msg) gives an LLM_EINVAL error whose message
** ends with msg.
*/
#ifndef LLM_JINJA_H
#define LLM_JINJA_H

#include <stddef.h>

#include "base.h"

#define LLM_JINJA_MAX_DEPTH 200             /* nested expressions, calls, blocks */
#define LLM_JINJA_MAX_OUTPUT ((size_t)16 << 20)   /* bytes of any rendered text */
#define LLM_JINJA_MAX_MEMORY ((size_t)256 << 20)  /* working memory of a render */
#define LLM_JINJA_MAX_STEPS 5000000L        /* evaluation steps of a render */

typedef struct llm_jinja llm_jinja; /* a compiled template */

/* Compiles the template src[0..n), which must be valid UTF-8. On failure
** *out is NULL and err names the line and the problem. */
int llm_jinja_compile(const char *src, size_t n, llm_jinja **out, llm_err *err);

/* Renders t with the variables of the JSON object vars_json[0..n) and
** appends the text to out (not NUL-terminated). On failure out keeps its
** length. The template is not changed: renders may run in parallel. */
int llm_jinja_render(const llm_jinja *t, const char *vars_json, size_t n,
                     llm_buf *out, llm_err *err);

void llm_jinja_free(llm_jinja *t);

#endif
