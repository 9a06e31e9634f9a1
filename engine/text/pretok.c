/*
** pretok.c: GPT-2 pre-tokenization without a regex engine.
**
** The pattern
**   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
** is matched by hand. Every character falls in exactly one of four classes
** (letter, number, space, other), so at a position the match is decided by
** the first one or two characters:
**   - an ASCII apostrophe followed by s t m d / re ve ll: the contraction;
**   - U+0020 followed by a non-space character of class C: the space plus the
**     run of C characters after it;
**   - a letter/number/other character: the run of its class;
**   - a whitespace character: the whitespace run, minus its last character
**     when that leaves one or more and a non-space character follows (that
**     is \s+(?!\S) after backtracking); else the whole run (the final \s+).
** Invalid UTF-8 bytes are single "other" characters.
**
** The hot loops work on bytes: a 256-entry table gives the class of each
** ASCII byte and says "decode me" for bytes >= 0x80, and runs of ASCII
** letters or digits are skipped eight bytes at a time (bit tricks on a
** 64-bit word), which saves a mispredicted loop exit on most words.
** Measured on tinyshakespeare: about 390 MB/s (bench/pretok_bench.c).
*/
#include "text/pretok.h"

#include "text/unicode_tables.h"
#include "text/utf8.h"

enum { C_OTHER = 0, C_LETTER = 1, C_NUMBER = 2, C_SPACE = 3, C_MULTI = 4 };

#define L_ C_LETTER
#define N_ C_NUMBER
#define S_ C_SPACE
#define O_ C_OTHER
#define M_ C_MULTI
#define M16_ M_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_
static const uint8_t byte_class[256] = {
  /* 0x00 */ O_, O_, O_, O_, O_, O_, O_, O_, O_, S_, S_, S_, S_, S_, O_, O_,
  /* 0x10 */ O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_,
  /* 0x20 */ S_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_, O_,
  /* 0x30 */ N_, N_, N_, N_, N_, N_, N_, N_, N_, N_, O_, O_, O_, O_, O_, O_,
  /* 0x40 */ O_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_,
  /* 0x50 */ L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, O_, O_, O_, O_, O_,
  /* 0x60 */ O_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_,
  /* 0x70 */ L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, O_, O_, O_, O_, O_,
  M16_, M16_, M16_, M16_, M16_, M16_, M16_, M16_,
};
#undef L_
#undef N_
#undef S_
#undef O_
#undef M_
#undef M16_

static int in_ranges(const uint32_t *r, size_t nr, uint32_t cp) {
  if (nr == 0 || cp < r[0] || cp > r[2 * nr - 1]) return 0;
  size_t lo = 0, hi = nr; /* find the last range with r.lo <= cp */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (r[2 * mid] <= cp) lo = mid;
    else hi = mid;
  }
  return cp <= r[2 * lo + 1];
}

int llm_uni_is_letter(int32_t cp) {
  if (cp < 0) return 0;
  if (cp < 0x80) return byte_class[cp] == C_LETTER;
  return in_ranges(llm_uni_letter_ranges, llm_uni_letter_ranges_len,
                   (uint32_t)cp);
}

int llm_uni_is_number(int32_t cp) {
  if (cp < 0) return 0;
  if (cp < 0x80) return byte_class[cp] == C_NUMBER;
  return in_ranges(llm_uni_number_ranges, llm_uni_number_ranges_len,
                   (uint32_t)cp);
}

int llm_uni_is_space(int32_t cp) {
  if (cp < 0) return 0;
  if (cp < 0x80) return byte_class[cp] == C_SPACE;
  return in_ranges(llm_uni_space_ranges, llm_uni_space_ranges_len,
                   (uint32_t)cp);
}

/* Class of the (non-ASCII or invalid) character at s[i], s[i] >= 0x80;
** *next is set past it. */
static int class_multi(const uint8_t *s, size_t n, size_t i, size_t *next) {
  int len;
  int32_t cp = llm_utf8_decode(s + i, n - i, &len);
  *next = i + (size_t)len;
  if (cp < 0) return C_OTHER;
  if (llm_uni_is_letter(cp)) return C_LETTER;
  if (llm_uni_is_number(cp)) return C_NUMBER;
  if (llm_uni_is_space(cp)) return C_SPACE;
  return C_OTHER;
}

/* Class of the character at s[i] (i < n); *next is set past it. */
static inline int class_at(const uint8_t *s, size_t n, size_t i,
                           size_t *next) {
  int c = byte_class[s[i]];
  if (c != C_MULTI) {
    *next = i + 1;
    return c;
  }
  return class_multi(s, n, i, next);
}

/* Eight bytes from s as a little-endian word (one load on most targets). */
static inline uint64_t load64le(const uint8_t *s) {
  return (uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 |
         (uint64_t)s[3] << 24 | (uint64_t)s[4] << 32 | (uint64_t)s[5] << 40 |
         (uint64_t)s[6] << 48 | (uint64_t)s[7] << 56;
}

/* Index of the lowest byte whose top bit is set in m (m != 0). */
static inline size_t first_byte(uint64_t m) {
#if defined(__GNUC__)
  return (size_t)__builtin_ctzll(m) >> 3;
#else
  size_t k = 0;
  while (!(m & 0x80)) m >>= 8, k++;
  return k;
#endif
}

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* Skips whole words of ASCII letters (cls C_LETTER) or digits (C_NUMBER)
** eight bytes at a time: each byte's top bit says whether it is in the
** class, so the end of a short run needs no data-dependent loop. */
static inline size_t skip_ascii_words(const uint8_t *s, size_t n, size_t i,
                                      int cls) {
  while (n - i >= 8) {
    uint64_t x = load64le(s + i), y, in;
    if (cls == C_LETTER) {
      y = (x | 0x20 * ONES) & ~HIGH; /* folds case; bytes are now < 0x80 */
      in = (y + (0x80 - 'a') * ONES) & ~(y + (0x80 - 'z' - 1) * ONES);
    } else {
      y = x & ~HIGH;
      in = (y + (0x80 - '0') * ONES) & ~(y + (0x80 - '9' - 1) * ONES);
    }
    uint64_t out = ~(in & ~x) & HIGH; /* not in the class, or not ASCII */
    if (out) return i + first_byte(out);
    i += 8;
  }
  return i;
}

/* End of the run of class cls (letter, number or other) starting at i. */
static inline size_t run_end(const uint8_t *s, size_t n, size_t i, int cls) {
  for (;;) {
    if (cls != C_OTHER) i = skip_ascii_words(s, n, i, cls);
    while (i < n && byte_class[s[i]] == cls) i++;
    if (i >= n || byte_class[s[i]] != C_MULTI) return i;
    size_t next;
    if (class_multi(s, n, i, &next) != cls) return i;
    i = next;
  }
}

/* The piece at pos when s[pos] starts a whitespace character ending at nx. */
static size_t space_piece(const uint8_t *s, size_t n, size_t pos, size_t nx) {
  size_t last = pos, j = nx;
  while (j < n) {
    size_t next;
    if (class_at(s, n, j, &next) != C_SPACE) break;
    last = j;
    j = next;
  }
  if (j >= n) return n;          /* \s+(?!\S) matches up to the end */
  return last > pos ? last : j;  /* leave the last one; else the final \s+ */
}

/* The contraction at pos (s[pos] is an apostrophe): its end, or 0. */
static size_t contraction(const uint8_t *s, size_t n, size_t pos) {
  if (pos + 1 >= n) return 0;
  uint8_t b1 = s[pos + 1];
  if (b1 == 's' || b1 == 't' || b1 == 'm' || b1 == 'd') return pos + 2;
  if (pos + 2 < n) {
    uint8_t b2 = s[pos + 2];
    if ((b1 == 'r' && b2 == 'e') || (b1 == 'v' && b2 == 'e') ||
        (b1 == 'l' && b2 == 'l'))
      return pos + 3;
  }
  return 0;
}

size_t llm_pretok_next(int mode, const uint8_t *s, size_t n, size_t pos) {
  if (pos >= n) return n;
  if (mode != LLM_PRETOK_GPT2) return n;
  uint8_t b = s[pos];
  int cls = byte_class[b];
  size_t start = pos + 1; /* past the first character, or past ' ?' + it */
  if (cls == C_LETTER) return run_end(s, n, start, C_LETTER);
  if (b == ' ') {
    if (start < n) {
      /* ' ?' takes the space when a non-space character follows. */
      size_t nx2;
      int c2 = class_at(s, n, start, &nx2);
      if (c2 == C_LETTER) return run_end(s, n, nx2, C_LETTER);
      if (c2 == C_NUMBER) return run_end(s, n, nx2, C_NUMBER);
      if (c2 == C_OTHER) return run_end(s, n, nx2, C_OTHER);
    }
    return space_piece(s, n, pos, start);
  }
  if (b == '\'') {
    size_t e = contraction(s, n, pos);
    if (e) return e;
  }
  if (cls == C_MULTI) cls = class_multi(s, n, pos, &start);
  switch (cls) {
  case C_LETTER: return run_end(s, n, start, C_LETTER);
  case C_NUMBER: return run_end(s, n, start, C_NUMBER);
  case C_OTHER: return run_end(s, n, start, C_OTHER);
  default: return space_piece(s, n, pos, start);
  }
}
