/* test_pretok.c: UTF-8 decoding, Unicode classes and the GPT-2 split. */
#include <stdio.h>
#include <string.h>

#include "base.h"
#include "check.h"
#include "text/pretok.h"
#include "text/utf8.h"

/* ---- UTF-8 decoding ---- */

static int dec(const char *s, size_t n, int32_t *cp) {
  int len = -7;
  *cp = llm_utf8_decode((const uint8_t *)s, n, &len);
  return len;
}

#define DEC_OK(str, want_cp, want_len)                  \
  do {                                                  \
    int32_t cp_;                                        \
    int len_ = dec(str, sizeof(str) - 1, &cp_);         \
    CHECK(cp_ == (int32_t)(want_cp) && len_ == (want_len)); \
  } while (0)

#define DEC_BAD(str)                            \
  do {                                          \
    int32_t cp_;                                \
    int len_ = dec(str, sizeof(str) - 1, &cp_); \
    CHECK(cp_ == -1 && len_ == 1);              \
  } while (0)

static void test_utf8_valid(void) {
  DEC_OK("\x00", 0, 1);
  DEC_OK("A", 'A', 1);
  DEC_OK("\x7f", 0x7F, 1);
  DEC_OK("\xc2\x80", 0x80, 2);       /* smallest 2-byte */
  DEC_OK("\xc3\xa9", 0xE9, 2);       /* é */
  DEC_OK("\xdf\xbf", 0x7FF, 2);      /* largest 2-byte */
  DEC_OK("\xe0\xa0\x80", 0x800, 3);  /* smallest 3-byte */
  DEC_OK("\xe4\xb8\xad", 0x4E2D, 3); /* 中 */
  DEC_OK("\xed\x9f\xbf", 0xD7FF, 3); /* just below the surrogates */
  DEC_OK("\xee\x80\x80", 0xE000, 3); /* just above them */
  DEC_OK("\xef\xbb\xbf", 0xFEFF, 3);
  DEC_OK("\xef\xbf\xbf", 0xFFFF, 3);
  DEC_OK("\xf0\x90\x80\x80", 0x10000, 4);
  DEC_OK("\xf0\x9f\x98\x80", 0x1F600, 4);
  DEC_OK("\xf4\x8f\xbf\xbf", 0x10FFFF, 4);
  /* only the first code point is decoded */
  DEC_OK("\xc3\xa9xyz", 0xE9, 2);
  DEC_OK("ab", 'a', 1);
}

static void test_utf8_invalid(void) {
  /* stray continuation bytes */
  DEC_BAD("\x80");
  DEC_BAD("\xbf");
  DEC_BAD("\x80\x80");
  /* overlong forms */
  DEC_BAD("\xc0\x80");
  DEC_BAD("\xc1\xbf");
  DEC_BAD("\xe0\x80\x80");
  DEC_BAD("\xe0\x9f\xbf");
  DEC_BAD("\xf0\x80\x80\x80");
  DEC_BAD("\xf0\x8f\xbf\xbf");
  /* surrogates */
  DEC_BAD("\xed\xa0\x80");
  DEC_BAD("\xed\xbf\xbf");
  DEC_BAD("\xed\xb0\x80");
  /* above U+10FFFF, and lead bytes that can never start a sequence */
  DEC_BAD("\xf4\x90\x80\x80");
  DEC_BAD("\xf5\x80\x80\x80");
  DEC_BAD("\xf7\xbf\xbf\xbf");
  DEC_BAD("\xf8\x88\x80\x80\x80");
  DEC_BAD("\xfc\x84\x80\x80\x80\x80");
  DEC_BAD("\xfe");
  DEC_BAD("\xff");
  /* truncated sequences: by the end of the input */
  DEC_BAD("\xc3");
  DEC_BAD("\xe4\xb8");
  DEC_BAD("\xe4");
  DEC_BAD("\xf0\x9f\x98");
  DEC_BAD("\xf0\x9f");
  DEC_BAD("\xf0");
  /* ... and by a byte that is not a continuation */
  DEC_BAD("\xc3" "A");
  DEC_BAD("\xe4\xb8" "A");
  DEC_BAD("\xe4" "\xc3\xa9");
  DEC_BAD("\xf0\x9f\x98" "A");
  DEC_BAD("\xf0\x9f\x98\xc0");
  /* n limits what is read even when the buffer goes on */
  {
    int32_t cp;
    CHECK(dec("\xc3\xa9", 1, &cp) == 1 && cp == -1);
    CHECK(dec("\xe4\xb8\xad", 2, &cp) == 1 && cp == -1);
    CHECK(dec("\xf0\x9f\x98\x80", 3, &cp) == 1 && cp == -1);
  }
}

/* ---- classes ---- */

static void test_classes_ascii(void) {
  for (int c = 0; c < 128; c++) {
    int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    int digit = c >= '0' && c <= '9';
    int space = c == ' ' || (c >= 9 && c <= 13);
    CHECK(llm_uni_is_letter(c) == letter);
    CHECK(llm_uni_is_number(c) == digit);
    CHECK(llm_uni_is_space(c) == space);
  }
  CHECK(!llm_uni_is_letter(-1) && !llm_uni_is_number(-1) &&
        !llm_uni_is_space(-1));
  CHECK(!llm_uni_is_letter(0x110000) && !llm_uni_is_number(0x110000) &&
        !llm_uni_is_space(0x110000));
  CHECK(!llm_uni_is_letter(INT32_MAX));
  /* U+001C..U+001F are not White_Space (Python's str.isspace says yes) */
  for (int c = 0x1C; c <= 0x1F; c++) CHECK(!llm_uni_is_space(c));
}

static void test_classes_unicode(void) {
  static const int32_t letters[] = {
    0xE9 /* é */, 0xDF /* ß */, 0xAA /* ª */, 0xB5 /* µ */, 0x3A9 /* Ω */,
    0x416 /* Ж */, 0x5D0 /* א */, 0x628 /* ب */, 0x4E2D /* 中 */,
    0x3042 /* あ */, 0xAC00 /* 가 */, 0x1E9E /* ẞ */, 0x2C6 /* ˆ (Lm) */,
    0x20000 /* CJK ext B */, 0x1D400 /* math bold A */,
  };
  static const int32_t numbers[] = {
    0x663 /* ٣ */, 0xBD /* ½ */, 0xB2 /* ² */, 0x2160 /* Ⅰ */,
    0x3007 /* 〇 */, 0xFF11 /* fullwidth 1 */, 0x966 /* ० */,
    0x1D7CE /* math bold 0 */, 0x2460 /* ① */,
  };
  static const int32_t spaces[] = {
    0x85, 0xA0, 0x1680, 0x2000, 0x2003, 0x200A, 0x2028, 0x2029,
    0x202F, 0x205F, 0x3000,
  };
  static const int32_t others[] = {
    0xFEFF, 0x200B, 0x200C, 0x200D, 0x180E, 0x2060, 0xD800, 0xDFFF,
    0xA9 /* © */, 0x2014 /* — */, 0x1F600 /* emoji */, 0x301 /* combining */,
    0xE000 /* private use */, 0xFFFF, 0x10FFFF, 0xA7 /* § */, 0xBF /* ¿ */,
    0xD7 /* × */, 0xF7 /* ÷ */, 0x80, 0x9F,
  };
  for (size_t i = 0; i < sizeof letters / sizeof *letters; i++) {
    CHECK(llm_uni_is_letter(letters[i]));
    CHECK(!llm_uni_is_number(letters[i]) && !llm_uni_is_space(letters[i]));
  }
  for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
    CHECK(llm_uni_is_number(numbers[i]));
    CHECK(!llm_uni_is_letter(numbers[i]) && !llm_uni_is_space(numbers[i]));
  }
  for (size_t i = 0; i < sizeof spaces / sizeof *spaces; i++) {
    CHECK(llm_uni_is_space(spaces[i]));
    CHECK(!llm_uni_is_letter(spaces[i]) && !llm_uni_is_number(spaces[i]));
  }
  for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
    CHECK(!llm_uni_is_letter(others[i]) && !llm_uni_is_number(others[i]) &&
          !llm_uni_is_space(others[i]));
  }
  /* no code point is in two classes */
  int overlap = 0;
  for (int32_t cp = 0; cp <= 0x10FFFF; cp++)
    overlap += llm_uni_is_letter(cp) + llm_uni_is_number(cp) +
                   llm_uni_is_space(cp) > 1;
  CHECK(overlap == 0);
}

/* ---- splitting ---- */

/* Splits s[0..n) and compares with the NULL-terminated list want. */
static int split_is(const char *s, size_t n, const char *const *want) {
  const uint8_t *u = (const uint8_t *)s;
  size_t pos = 0, k = 0;
  int ok = 1;
  while (pos < n) {
    size_t end = llm_pretok_next(LLM_PRETOK_GPT2, u, n, pos);
    if (end <= pos || end > n) {
      printf("  bad end %zu at %zu\n", end, pos);
      return 0;
    }
    const char *w = want[k];
    if (!w || strlen(w) != end - pos || memcmp(w, s + pos, end - pos)) ok = 0;
    if (w) k++;
    pos = end;
  }
  if (want[k]) ok = 0;
  if (!ok) {
    printf("  split of \"%.*s\":", (int)n, s);
    for (pos = 0; pos < n;) {
      size_t end = llm_pretok_next(LLM_PRETOK_GPT2, u, n, pos);
      printf(" [%.*s]", (int)(end - pos), s + pos);
      pos = end;
    }
    printf("\n");
  }
  return ok;
}

#define SPLIT(str, ...)                                       \
  do {                                                        \
    static const char *const want_[] = {__VA_ARGS__, NULL};   \
    CHECK(split_is(str, sizeof(str) - 1, want_));             \
  } while (0)

static void test_split_words(void) {
  SPLIT("Hello world", "Hello", " world");
  SPLIT("Hello, world!", "Hello", ",", " world", "!");
  SPLIT("123abc", "123", "abc");
  SPLIT(" 123", " 123");
  SPLIT("abc123def", "abc", "123", "def");
  SPLIT("$$$ money", "$$$", " money");
  SPLIT("a", "a");
  SPLIT(" a", " a");
  SPLIT("...", "...");
  SPLIT(" ...x", " ...", "x");
  SPLIT("\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 42\xc2\xbd", /* Ünïcödé 42½ */
        "\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9", " 42\xc2\xbd");
  SPLIT("\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c", /* 你好世界 */
        "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c");
  SPLIT("x\xd9\xa3\xd9\xa4y", "x", "\xd9\xa3\xd9\xa4", "y"); /* x٣٤y */
  SPLIT("hi \xf0\x9f\x98\x80!", "hi", " \xf0\x9f\x98\x80!");
}

static void test_split_contractions(void) {
  SPLIT("don't", "don", "'t");
  SPLIT("I'M", "I", "'", "M");
  SPLIT("it's", "it", "'s");
  SPLIT("we're they've I'm you'll he'd", "we", "'re", " they", "'ve", " I",
        "'m", " you", "'ll", " he", "'d");
  SPLIT("'ll've", "'ll", "'ve");
  SPLIT("'sa", "'s", "a");
  SPLIT("'x", "'", "x");
  SPLIT("'", "'");
  SPLIT("'r", "'", "r");
  SPLIT("'l", "'", "l");
  SPLIT(" 's", " '", "s");
  SPLIT("?!?'s", "?!?'", "s");
  SPLIT("''s", "''", "s");
  SPLIT("don\xe2\x80\x99t", "don", "\xe2\x80\x99", "t"); /* U+2019 */
  SPLIT("'S 'RE", "'", "S", " '", "RE");
}

static void test_split_spaces(void) {
  SPLIT("  leading", " ", " leading");
  SPLIT("a  b", "a", " ", " b");
  SPLIT("a \tb", "a", " ", "\t", "b");
  SPLIT("tail   ", "tail", "   ");
  SPLIT("x\n\ny", "x", "\n", "\n", "y");
  SPLIT("x\ny", "x", "\n", "y");
  SPLIT("   ", "   ");
  SPLIT(" ", " ");
  SPLIT("\n", "\n");
  SPLIT(" \n", " \n");
  SPLIT("a \n b", "a", " \n", " b");
  SPLIT("a\t b", "a", "\t", " b");
  SPLIT("a   1", "a", "  ", " 1");
  SPLIT("a  !", "a", " ", " !");
  SPLIT("x  \n", "x", "  \n");
  SPLIT("a\xc2\xa0" "b", "a", "\xc2\xa0", "b");               /* U+00A0 */
  SPLIT("a \xc2\xa0" "b", "a", " ", "\xc2\xa0", "b");
  SPLIT("a\xc2\xa0 b", "a", "\xc2\xa0", " b");
  SPLIT(" \xe2\x80\x83x", " ", "\xe2\x80\x83", "x");          /* U+2003 */
  SPLIT("\xe3\x80\x80\xe3\x80\x80x", "\xe3\x80\x80", "\xe3\x80\x80", "x");
  SPLIT("a\xc2\x85" "b", "a", "\xc2\x85", "b");               /* U+0085 */
  SPLIT("a\xef\xbb\xbf" "b", "a", "\xef\xbb\xbf", "b");       /* U+FEFF */
  SPLIT("a \xef\xbb\xbf", "a", " \xef\xbb\xbf");
  SPLIT("a \xe2\x80\x8b" "b", "a", " \xe2\x80\x8b", "b");     /* U+200B */
  SPLIT("a\x1f" "b", "a", "\x1f", "b");
}

static void test_split_invalid(void) {
  SPLIT("\xff\xfe abc", "\xff\xfe", " abc");
  SPLIT("ab\x80" "cd", "ab", "\x80", "cd");
  SPLIT(" \xc3", " \xc3");
  SPLIT("\xc3 ", "\xc3", " ");
  SPLIT("\xe4\xb8" "a", "\xe4\xb8", "a");
  SPLIT("\xed\xa0\x80!x", "\xed\xa0\x80!", "x");
  SPLIT("1\xc0\xaf" "2", "1", "\xc0\xaf", "2");
  SPLIT("\xf0\x9f\x98", "\xf0\x9f\x98");
  SPLIT("x'\xff", "x", "'\xff");
}

static void test_modes(void) {
  const uint8_t *s = (const uint8_t *)"Hello world  ";
  CHECK(llm_pretok_next(LLM_PRETOK_NONE, s, 13, 0) == 13);
  CHECK(llm_pretok_next(LLM_PRETOK_NONE, s, 13, 5) == 13);
  CHECK(llm_pretok_next(LLM_PRETOK_GPT2, s, 13, 5) == 11);
  CHECK(llm_pretok_next(LLM_PRETOK_GPT2, s, 13, 11) == 13);
  CHECK(llm_pretok_next(LLM_PRETOK_GPT2, s, 13, 13) == 13);
  /* a piece never reads beyond n */
  CHECK(llm_pretok_next(LLM_PRETOK_GPT2, s, 3, 0) == 3);
  CHECK(llm_pretok_next(LLM_PRETOK_GPT2, (const uint8_t *)"'re", 2, 0) == 1);
  CHECK(llm_pretok_next(LLM_PRETOK_GPT2, (const uint8_t *)"\xc3\xa9", 1, 0) ==
        1);
}

/* ---- a literal reference, and random strings ---- */

typedef struct {
  int cls; /* 0 other, 1 letter, 2 number, 3 space */
  size_t next;
} rchar;

static rchar ref_char(const uint8_t *s, size_t n, size_t i) {
  int len;
  int32_t cp = llm_utf8_decode(s + i, n - i, &len);
  rchar c = {0, i + (size_t)len};
  if (cp >= 0) {
    if (llm_uni_is_letter(cp)) c.cls = 1;
    else if (llm_uni_is_number(cp)) c.cls = 2;
    else if (llm_uni_is_space(cp)) c.cls = 3;
  }
  return c;
}

/* End of a maximal run of class cls from i (i itself when none). */
static size_t ref_run(const uint8_t *s, size_t n, size_t i, int cls) {
  while (i < n) {
    rchar c = ref_char(s, n, i);
    if (c.cls != cls) break;
    i = c.next;
  }
  return i;
}

/* The pattern's alternatives tried one after the other, as a backtracking
** regex engine would. */
static size_t ref_next(const uint8_t *s, size_t n, size_t pos) {
  static const char *const contr[] = {"'s", "'t", "'re", "'ve",
                                      "'m", "'ll", "'d"};
  for (int k = 0; k < 7; k++) {
    size_t l = strlen(contr[k]);
    if (n - pos >= l && !memcmp(s + pos, contr[k], l)) return pos + l;
  }
  for (int cls = 1; cls <= 3; cls++) { /* letter, number, other */
    int want = cls == 3 ? 0 : cls;
    if (s[pos] == ' ') {
      size_t e = ref_run(s, n, pos + 1, want);
      if (e > pos + 1) return e;
    }
    size_t e = ref_run(s, n, pos, want);
    if (e > pos) return e;
  }
  /* \s+(?!\S): greedy, then give back one character at a time */
  size_t ends[400], k = 0, i = pos;
  while (i < n && k < 400) {
    rchar c = ref_char(s, n, i);
    if (c.cls != 3) break;
    ends[k++] = i = c.next;
  }
  for (size_t j = k; j > 0; j--) {
    size_t e = ends[j - 1];
    if (e == n || ref_char(s, n, e).cls == 3) return e;
  }
  if (k > 0) return ends[k - 1]; /* \s+ */
  return (size_t)-1;             /* cannot happen */
}

static uint64_t xorshift(uint64_t *st) {
  uint64_t x = *st;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *st = x;
}

static size_t random_bytes(uint64_t *st, uint8_t *out, size_t cap) {
  static const char ascii[] = "  \t\n\r'''sStTrRevVmMlLdD abcxyzXYZ0129.,;!?-$";
  static const char *const multi[] = {
    "\xc3\xa9", "\xc3\x9f", "\xe4\xb8\xad", "\xd9\xa3", "\xc2\xbd",
    "\xc2\xa0", "\xe2\x80\x83", "\xe3\x80\x80", "\xc2\x85", "\xef\xbb\xbf",
    "\xe2\x80\x8b", "\xf0\x9f\x98\x80", "\xe2\x80\x99", "\xe2\x80\xa8",
    "\xf0\xa0\x80\x80", "\xc2\xa9",
  };
  static const char *const bad[] = {
    "\x80", "\xbf", "\xc0", "\xc1\x81", "\xff", "\xfe", "\xf5", "\xc3",
    "\xe4\xb8", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x9f\x98",
    "\xe0\x80\xaf",
  };
  size_t len = 0, want = xorshift(st) % 40;
  while (len + 4 <= cap && want--) {
    uint64_t r = xorshift(st);
    const char *p;
    char one[2] = {0, 0};
    switch (r % 10) {
    case 0: case 1: case 2: case 3: case 4:
      one[0] = ascii[(r >> 8) % (sizeof ascii - 1)];
      p = one;
      break;
    case 5: case 6: case 7:
      p = multi[(r >> 8) % (sizeof multi / sizeof *multi)];
      break;
    case 8:
      p = bad[(r >> 8) % (sizeof bad / sizeof *bad)];
      break;
    default: /* any byte */
      one[0] = (char)(r >> 8);
      if (!one[0]) one[0] = ' ';
      p = one;
      break;
    }
    /* often repeat the item, for long runs of one class */
    size_t l = strlen(p), rep = (r >> 16) % 3 ? 1 : 1 + (r >> 20) % 24;
    while (rep-- && len + l <= cap) {
      memcpy(out + len, p, l);
      len += l;
    }
  }
  return len;
}

static void test_random_against_reference(void) {
  uint64_t st = 0x9E3779B97F4A7C15ULL;
  uint8_t buf[400];
  int shown = 0;
  for (int iter = 0; iter < 200000; iter++) {
    size_t n = random_bytes(&st, buf, sizeof buf);
    /* an exact-size copy, so AddressSanitizer sees any read past n */
    uint8_t *exact = llm_malloc(n);
    CHECK(exact != NULL);
    if (!exact) return;
    memcpy(exact, buf, n);
    size_t pos = 0;
    while (pos < n) {
      size_t end = llm_pretok_next(LLM_PRETOK_GPT2, exact, n, pos);
      size_t ref = ref_next(buf, n, pos);
      /* pieces are non-empty, inside the text, and chain from 0 to n, so
      ** they concatenate back to the input */
      int good = end > pos && end <= n && end == ref;
      if (!good) {
        CHECK(good);
        if (shown++ < 3) {
          printf("  iter %d at %zu: got %zu, reference %zu; bytes:", iter,
                 pos, end, ref);
          for (size_t i = 0; i < n; i++) printf(" %02x", buf[i]);
          printf("\n");
        }
        break;
      }
      pos = end;
    }
    llm_free(exact);
  }
}

int main(void) {
  RUN(test_utf8_valid);
  RUN(test_utf8_invalid);
  RUN(test_classes_ascii);
  RUN(test_classes_unicode);
  RUN(test_split_words);
  RUN(test_split_contractions);
  RUN(test_split_spaces);
  RUN(test_split_invalid);
  RUN(test_modes);
  RUN(test_random_against_reference);
  return CHECK_DONE();
}
