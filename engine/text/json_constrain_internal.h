/*
** json_constrain_internal.h: the compiled form of a schema, shared by the
** compiler (json_schema.c) and the automaton (json_constrain.c). A schema is
** a graph of nodes referring to each other by index (the "any value" node
** refers to itself through arrays and objects).
*/
#ifndef LLM_JSON_CONSTRAIN_INTERNAL_H
#define LLM_JSON_CONSTRAIN_INTERNAL_H

#include <stdint.h>

#include "text/json_constrain.h"

enum {
  JC_ANYOF,  /* one of kids[first .. first+count) */
  JC_LIT,    /* one of lits[first .. first+count), sorted byte-wise */
  JC_STR,    /* a string of min..max code points */
  JC_NUM,    /* a number (is_int: an integer), within lo..hi when bounded */
  JC_ARR,    /* min..max items of node item */
  JC_OBJ,    /* props[first .. first+count) in order, then extra keys */
};

/* The most parses followed at once (anyOf branches that start alike): an
** anyOf may have at most this many choices once nested ones are flattened. */
#define JC_MAX_ALT 16

/* Strings are at most this many code points when unbounded (a counter). */
#define JC_UNBOUNDED INT32_MAX

typedef struct jc_node {
  int kind;
  int32_t min_len;        /* bytes of its shortest value (json_budget.c) */
  int32_t first, count;   /* ANYOF, LIT, OBJ: a range of kids/lits/props */
  int32_t min, max;       /* STR: code points; ARR: items */
  int32_t item;           /* ARR: the item node; OBJ: extra keys' value node
                          ** or -1 when there are none; STR: its pattern
                          ** (index in llm_jcon.regexes) or -1 */
  int32_t last_required;  /* OBJ: the last required property (relative
                          ** index) or -1 */
  uint64_t key_filter;    /* OBJ: the declared keys' bits (see jc_hash_bit) */
  int is_int, has_lo, has_hi;  /* NUM */
  double lo, hi;               /* NUM */
} jc_node;

/* A string's pattern as a position automaton (json_pattern.c). */
typedef struct jc_regex {
  int32_t n_pos, nullable;
  uint64_t cls[64][2];    /* each position's characters (ASCII) */
  uint64_t follow[64];    /* the positions that may come after each */
  uint64_t first, last;
  uint64_t len[64];       /* bit r: r more characters can end a match */
  uint64_t big;           /* bit p: a completion of 64 or more exists */
  uint8_t cost[64][64];   /* the fewest bytes of a completion of r more
                          ** characters after position p (255: none) */
} jc_regex;

int jc_regex_compile(const char *pattern, size_t n, jc_regex *re, llm_err *err);
/* The positions after character c from set s (0: the start); 0: none. */
uint64_t jc_regex_step(const jc_regex *re, uint64_t s, int c);
int jc_regex_accepts(const jc_regex *re, uint64_t s);
/* Whether a completion of lo..hi more characters exists from s. */
int jc_regex_can_end(const jc_regex *re, uint64_t s, int64_t lo, int64_t hi);
/* The fewest bytes of a completion of at least lo characters from s (a
** character needing an escape is two bytes). */
int64_t jc_regex_shortest(const jc_regex *re, uint64_t s, int64_t lo);

typedef struct jc_text {
  uint32_t off, len;      /* in llm_jcon.text */
} jc_text;

typedef struct jc_prop {
  jc_text key;            /* the key as JSON text, quotes included */
  int32_t node;
  int required;
} jc_prop;

struct llm_jcon {
  jc_node *nodes;
  int32_t n_nodes, root;
  int32_t *kids;
  jc_text *lits;          /* literal values as compact JSON text */
  jc_prop *props;
  uint8_t *text;
  jc_regex *regexes;
  int32_t n_regexes;
  uint64_t hash;          /* of all the above: equal schemas compile equal */
};

/* Object keys are told apart by one bit of a 64-bit filter: the bit of the
** FNV-1a hash of the key's decoded bytes, fed one byte at a time. */
#define JC_HASH_INIT 0xcbf29ce484222325ull
static inline uint64_t jc_hash_byte(uint64_t h, uint8_t b) {
  return (h ^ b) * 0x100000001b3ull;
}
static inline uint64_t jc_hash_bit(uint64_t h) {
  return 1ull << ((h ^ (h >> 32)) & 63);
}

/* ---- the automaton's state (json_constrain.c) ---- */

/* One value (or key) being written. Fields by kind:
**   LIT/KEYLIT: n1 the first candidate matching so far, n3 bytes matched,
**     KEYLIT u the last candidate allowed;
**   STR/FREEKEY: n1 code points, n3 UTF-8 bytes still due or hex digits
**     seen, flags the range of the next UTF-8 byte or "\uD seen",
**     FREEKEY u the key's hash, STR with a pattern u its positions;
**   NUM: u the digits as an integer, n1 their count, nfrac how many are
**     after the point, n3 exponent digits, flags 1 when negative;
**   ARR: n1 items; OBJ: n1 the next declared property (relative), n3 the
**     node of the value after the current key, u the used keys' filter. */
typedef struct jc_frame {
  int32_t node;   /* VALUE: its node; KEYLIT/FREEKEY: the object's node */
  int32_t n1, n3;
  uint8_t kind, phase, flags, nfrac;
  uint64_t u;
} jc_frame;

typedef struct jc_stack {
  int32_t depth;
  jc_frame f[LLM_JCON_MAX_DEPTH];
} jc_stack;

struct jc_cache;

/* The parses still possible: s[0..n). */
struct llm_jcon_state {
  const llm_jcon *c;
  int32_t n, overflow;
  struct jc_cache *cache;   /* masks already computed (json_mask.c), or NULL;
                            ** not copied by llm_jcon_state_copy */
  jc_stack s[JC_MAX_ALT];
};

/* The frame kinds and the phases of each kind of value. */
enum { F_VALUE, F_KEYLIT, F_FREEKEY };
enum { S_OPEN, S_BODY, S_ESC, S_HEX, S_UTF8, S_DONE };
enum { A_OPEN, A_FIRST, A_AFTER, A_COMMA, A_SPACE, A_DONE, A_IN };
enum { N_START, N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };
enum { O_OPEN, O_FIRST, O_COLON, O_VSPACE, O_VALUE, O_AFTER, O_COMMA, O_KEY,
       O_DONE, O_IN_KEY, O_IN_VALUE };

/* out = in advanced by byte b (all of out is rewritten); 0 when b is not a
** valid continuation. */
int jc_feed_byte(const llm_jcon_state *in, uint8_t b, llm_jcon_state *out);

void jc_cache_free(struct jc_cache *cache);

/* 1e0 .. 1e15. */
extern const double jc_pow10[16];
/* Whether the magnitudes [a, b] (negative numbers when neg) meet number
** node n's bounds. */
int jc_num_meets(const jc_node *n, int neg, double a, double b);
/* Whether the number written in f is complete and within n's bounds. */
int jc_num_done(const jc_node *n, const jc_frame *f);

/* What a pattern string in an escape (f->phase S_ESC) needs to end. */
int64_t jc_pattern_escape_rest(const jc_regex *re, const jc_frame *f, int32_t min);

/* ---- budgets (json_budget.c) ---- */

/* Sets every node's min_len (nodes refer to each other: a fixpoint). */
void jc_min_lengths(llm_jcon *c);
/* The largest min_len of a node (at most 4096): how far one byte that
** opens a value can push the end away. */
int32_t jc_max_min_len(const llm_jcon *c);

#endif
