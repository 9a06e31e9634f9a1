/*
** json_constrain.h: output constrained to a JSON schema. A schema is compiled
** once (llm_jcon_compile) into a small grammar; each generation keeps an
** llm_jcon_state, a byte-level automaton over that grammar. Before sampling a
** token, llm_jcon_mask says which tokens of the vocabulary may come next (the
** vocabulary is indexed once into a trie, llm_jcon_vocab_new); after it,
** llm_jcon_feed advances the state by the chosen token's bytes. Every state
** reached by allowed tokens can still be completed into a value valid
** against the schema (no dead ends), and llm_jcon_complete says when the
** value is complete.
**
** What is generated (a subset of what the schema allows, always valid):
** - compact JSON; the only whitespace is at most one space after ':' and
**   after ',' (so a model cannot loop on blanks);
** - object properties in the schema's order, required ones always present,
**   optional ones may be skipped; no other keys unless additionalProperties
**   is true or a schema (absent means none, as llama.cpp's grammar does);
**   `{"type":"object"}` alone is any object. Extra keys are plain strings
**   (no escapes, at most 32 characters) kept distinct from each other and
**   from the declared keys by a 64-bit filter (a collision only forbids a
**   key; the last character of a 32-character key is ASCII and picked so
**   that the key can close); at most 40 filter bits in use;
** - strings: valid UTF-8, no raw control characters, escapes \" \\ \/ \b \f
**   \n \r \t \uXXXX except surrogates (write the character itself);
**   minLength/maxLength count code points;
** - numbers: at most 15 digits (so values are exact doubles); an exponent
**   (at most 2 digits) only in numbers without minimum/maximum. With bounds,
**   every prefix allowed can still reach an in-range value and a number can
**   only end in range.
** - a string with a pattern: printable ASCII (see json_pattern.c for the
**   regular expressions supported); every character leaves a match of
**   minLength..maxLength possible.
** Supported keywords: type (a name or a list), properties, required,
** additionalProperties, items, minItems, maxItems, minLength, maxLength,
** pattern, minimum, maximum, enum, const, anyOf; annotations (title, description,
** default, examples, $schema, $comment, $id) are ignored. Any other keyword
** is an error naming it. Schemas nest at most LLM_JCON_MAX_DEPTH - 2 levels;
** an anyOf or type list has at most 16 choices (nested ones flattened).
**
** Cost: a mask walks the vocabulary trie from the state, pruning at the
** first refused byte, and is memoized per state (see json_mask.c), so the
** tokens inside a long string cost a cache look-up.
*/
#ifndef LLM_JSON_CONSTRAIN_H
#define LLM_JSON_CONSTRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"

#define LLM_JCON_MAX_DEPTH 24

/* A compiled schema: immutable, may be shared by many generations. */
typedef struct llm_jcon llm_jcon;

/* schema_json[0..n): a JSON Schema (text). NULL, empty or "true": any JSON
** value. On failure *out is NULL and err says why. */
int llm_jcon_compile(const char *schema_json, size_t n, llm_jcon **out,
                     llm_err *err);
/* The same from a parsed schema (NULL: any JSON value). */
struct llm_json;
int llm_jcon_compile_value(const struct llm_json *schema, llm_jcon **out,
                           llm_err *err);
void llm_jcon_free(llm_jcon *c);

/* The state of one generation (an opaque object of a few kilobytes). */
typedef struct llm_jcon_state llm_jcon_state;

/* A new state at the start of a value. c must outlive it. */
int llm_jcon_state_new(const llm_jcon *c, llm_jcon_state **out, llm_err *err);
void llm_jcon_state_free(llm_jcon_state *s);
/* Back to the start of a value. */
void llm_jcon_reset(llm_jcon_state *s);
/* Back to the start of a value of c, which may be another schema than the
** state's (the old one may have been freed). The masks the state cached
** are kept when c compiles the same schema, so a generator that runs the
** same schema over many rows computes each mask once. */
void llm_jcon_restart(llm_jcon_state *s, const llm_jcon *c);
/* Copies src into dst (both from the same llm_jcon). */
void llm_jcon_state_copy(llm_jcon_state *dst, const llm_jcon_state *src);

/* Feeds bytes[0..n). Returns 1 when they are a valid continuation, else 0
** and the state is unchanged. */
int llm_jcon_feed(llm_jcon_state *s, const uint8_t *bytes, size_t n);

/* 0: the text so far is not a complete value (generation must go on);
** LLM_JCON_MAY_STOP: it is complete but could also continue (a number);
** LLM_JCON_MUST_STOP: it is complete and nothing may follow. */
enum { LLM_JCON_MAY_STOP = 1, LLM_JCON_MUST_STOP = 2 };
int llm_jcon_complete(const llm_jcon_state *s);

/* A vocabulary indexed for masks: token id's bytes are pieces[id][0..lens[id])
** (a piece of length 0, e.g. a control token, is never allowed). It also
** holds the scratch space of a mask computation, so use one vocab for one
** mask at a time. It is reference-counted (not thread-safe): made with
** one reference, llm_jcon_vocab_ref adds one, llm_jcon_vocab_free drops
** one and frees it with the last. */
typedef struct llm_jcon_vocab llm_jcon_vocab;
int llm_jcon_vocab_new(const uint8_t *const *pieces, const size_t *lens,
                       int32_t n_vocab, llm_jcon_vocab **out, llm_err *err);
llm_jcon_vocab *llm_jcon_vocab_ref(llm_jcon_vocab *v);
void llm_jcon_vocab_free(llm_jcon_vocab *v);
/* The vocabulary of a tokenizer: each token's text in the middle of a text
** (control tokens, which stand for no text, are never allowed). */
struct llm_tokenizer;
int llm_jcon_vocab_of(const struct llm_tokenizer *t, llm_jcon_vocab **out,
                      llm_err *err);
int32_t llm_jcon_vocab_size(const llm_jcon_vocab *v);

/* allowed[id] = 1 when token id may come next in state s, else 0 (n_vocab
** entries). Returns LLM_OK. s keeps a cache of masks computed for v (kept
** across llm_jcon_reset, for the next generation with the same schema);
** a state must not outlive the vocabularies it was used with. */
int llm_jcon_mask(llm_jcon_state *s, llm_jcon_vocab *v, uint8_t *allowed);

/* The fewest bytes that complete the value from s (0 when it is complete). */
int64_t llm_jcon_rest(const llm_jcon_state *s);

/* llm_jcon_mask for a generation that may write at most budget more
** tokens (this one included): when that comes close to what the value
** still needs (llm_jcon_rest, plus what one token could open), only
** one-byte tokens after which the value can still end within the budget
** are allowed (the least needing ones when none can), so a value that a
** model keeps open is closed in time. */
int llm_jcon_mask_budget(llm_jcon_state *s, llm_jcon_vocab *v, int64_t budget,
                         uint8_t *allowed);

#endif
