/*
** unicode.h: the Unicode character data that tokenizer normalizers need:
** the general category of a code point (and group tests on it), the full
** lower-case mapping of one code point, and the four normalization forms
** NFC, NFD, NFKC and NFKD of a code point sequence, with a map from each
** output code point back to the input code point it came from.
**
** The data are generated tables (engine/text/unicode_data.c, written by
** tools/gen_unicode.js from Node's ICU; the Unicode version is stated at
** its top). Code points are int32_t; a value that is not a Unicode scalar
** value (negative, a surrogate, above U+10FFFF) is never an error: it has
** category Cn (Cs for surrogates), lower-cases to itself and passes
** through normalization unchanged, as a starter that never composes.
*/
#ifndef LLM_UNICODE_H
#define LLM_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* General categories (UAX #44), grouped by first letter so that the group
** tests below are range checks. */
enum {
  LLM_UC_Cn = 0, /* unassigned, and every value that is not a code point */
  LLM_UC_Lu, LLM_UC_Ll, LLM_UC_Lt, LLM_UC_Lm, LLM_UC_Lo,
  LLM_UC_Mn, LLM_UC_Mc, LLM_UC_Me,
  LLM_UC_Nd, LLM_UC_Nl, LLM_UC_No,
  LLM_UC_Pc, LLM_UC_Pd, LLM_UC_Ps, LLM_UC_Pe, LLM_UC_Pi, LLM_UC_Pf, LLM_UC_Po,
  LLM_UC_Sm, LLM_UC_Sc, LLM_UC_Sk, LLM_UC_So,
  LLM_UC_Zs, LLM_UC_Zl, LLM_UC_Zp,
  LLM_UC_Cc, LLM_UC_Cf, LLM_UC_Cs, LLM_UC_Co,
};

/* The general category of cp, one of LLM_UC_*; LLM_UC_Cn when cp < 0 or
** cp > 0x10FFFF. */
int llm_uni_category(int32_t cp);

/* Group tests on the category's first letter. */
int llm_uni_is_mark(int32_t cp);   /* M: Mn, Mc, Me */
int llm_uni_is_punct(int32_t cp);  /* P: Pc, Pd, Ps, Pe, Pi, Pf, Po */
int llm_uni_is_symbol(int32_t cp); /* S: Sm, Sc, Sk, So */
/* C: Cc, Cf, Cs, Co and Cn, so also unassigned code points and values that
** are not code points (as Python's BERT `category(c).startswith("C")` and
** llama.cpp's \p{C} flag). \t, \n and \r are Cc, hence control here: the
** BERT normalizers treat them as whitespace, and that exception is theirs. */
int llm_uni_is_control(int32_t cp);

/* The full lower-case mapping of cp alone, as Rust's char::to_lowercase or
** JavaScript's toLowerCase of a one-code-point string (no context, so
** U+03A3 'Σ' -> U+03C3 'σ'; U+0130 'İ' -> U+0069 U+0307). Writes 1..3 code
** points to out and returns how many; cp itself when it has no mapping. */
int llm_uni_lower(int32_t cp, int32_t out[3]);

/* A growable array of code points, with a parallel array src of the same
** length: src[k] is the index, in the input of the call that wrote the
** array, of the code point that cp[k] comes from. Zero-initialise it;
** release it with llm_cps_free. */
typedef struct llm_cps {
  int32_t *cp;
  size_t *src;
  size_t len, cap; /* both arrays hold cap elements, len of them in use */
} llm_cps;

void llm_cps_free(llm_cps *a);

/* Normalization forms (UAX #15). */
enum { LLM_NFC = 0, LLM_NFD, LLM_NFKC, LLM_NFKD };

/* Normalizes in[0..n) to form, replacing out's contents (its capacity is
** reused; in must not point into out). out->src[k] is the index in `in` of the input code point that
** output code point k comes from: all code points of a decomposition point
** to their source, a composed code point to the source of its starter
** (Hangul included). Returns LLM_OK; LLM_ENOMEM (then out->len is 0); or
** LLM_EINVAL for a form that is none of the four (a caller bug).
** Pure ASCII is copied through without table lookups, and text already in
** the form is mostly copied too. */
int llm_uni_normalize(int form, const int32_t *in, size_t n, llm_cps *out);

/*
** Internal: the generated tables behind the functions above (defined in
** unicode_data.c, read only by unicode.c; tools/gen_unicode.js documents
** how each is derived). The generator writes data for exactly this layout.
**
** Properties: each code point has a 32-bit record,
**   llm_ucd_props[llm_ucd_stage3[(b << 4) | (cp & 15)]], where
**   b = llm_ucd_stage2[(llm_ucd_stage1[cp >> 9] << 5) | ((cp >> 4) & 31)]
** (a three-stage table; identical blocks of 16 entries of stage 3, and of 32
** of stage 2, are stored once). */
#define LLM_UCD_SHIFT1 9 /* stage 1: cp >> 9 */
#define LLM_UCD_SHIFT2 4 /* stage 2: (cp >> 4) & 31; stage 3: cp & 15 */
#define LLM_UCD_GC_MASK 0x1Fu   /* bits 0..4: the general category */
#define LLM_UCD_CCC_SHIFT 5     /* bits 5..10: canonical combining class */
#define LLM_UCD_CCC_MASK 0x7E0u /* as a rank, order-preserving; 0 for a
                                   starter or a code point that has a
                                   canonical decomposition */
#define LLM_UCD_CANON 0x800u    /* has a canonical decomposition */
#define LLM_UCD_COMPAT 0x1000u  /* NFKD differs from NFD */
#define LLM_UCD_LOWER 0x2000u   /* lower-cases to something else */
#define LLM_UCD_FIRST 0x4000u   /* first of some composition pair */
#define LLM_UCD_SECOND 0x8000u  /* second of some composition pair */
/* Per form (shifted left by LLM_NFC..LLM_NFKD): NO_BB when something before
** cp may interact with it under the form (the first code point of its
** decomposition is a non-starter or, for NFC/NFKC, the second of a pair);
** CHANGES when cp alone is not in that form. A code point with neither,
** followed by one without NO_BB, is its own normal form in any context. */
#define LLM_UCD_NO_BB 0x10000u
#define LLM_UCD_CHANGES 0x100000u
#define LLM_UCD_MAX_DECOMP 18   /* longest full decomposition (U+FDFA) */

extern const uint8_t llm_ucd_ascii_category[128];
extern const uint32_t llm_ucd_props[];
extern const uint8_t llm_ucd_stage1[];  /* 0x110000 >> 9 entries */
extern const uint16_t llm_ucd_stage2[];
extern const uint8_t llm_ucd_stage3[];

/* Full decompositions (Hangul syllables excluded: they are arithmetic).
** The _key arrays hold cp << 5 | length, sorted; _at the offset of the
** code points in llm_ucd_decomp_pool. "canon" is NFD of each code point
** that has one; "compat" is NFKD of each code point whose NFKD differs
** from its NFD. */
extern const uint32_t llm_ucd_decomp_pool[];
extern const uint32_t llm_ucd_canon_key[];
extern const uint16_t llm_ucd_canon_at[];
extern const size_t llm_ucd_canon_len;
extern const uint32_t llm_ucd_compat_key[];
extern const uint16_t llm_ucd_compat_at[];
extern const size_t llm_ucd_compat_len;

/* Canonical composition pairs (Hangul excluded): key first << 21 | second,
** sorted, and the composite. */
extern const uint64_t llm_ucd_comp_key[];
extern const uint32_t llm_ucd_comp_to[];
extern const size_t llm_ucd_comp_len;

/* Lower-case mappings of non-ASCII code points: sorted keys and the
** mapping; a value with bit 31 set is instead an offset into
** llm_ucd_lower_long, which holds a length then that many code points. */
extern const uint32_t llm_ucd_lower_key[];
extern const uint32_t llm_ucd_lower_to[];
extern const size_t llm_ucd_lower_len;
extern const uint32_t llm_ucd_lower_long[];

#endif
