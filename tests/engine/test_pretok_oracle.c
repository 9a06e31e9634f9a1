/*
** test_pretok_oracle.c: llm_pretok_next against JavaScript's regex engine.
**
** Writes thousands of deterministic pseudo-random valid UTF-8 strings to a
** temporary file (one per line, as hex), runs
**   node tests/oracle/pretok_oracle.js FILE
** (from the repository root, where the tests run), which splits each with
** the GPT-2 pattern as a real regex and prints the byte offsets where the
** pieces end, and compares those with ours. Fails when node is missing.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "text/pretok.h"
#include "text/utf8.h"

#define NSTR 5000
#define MAXLEN 400 /* bytes per string */
#define ORACLE "tests/oracle/pretok_oracle.js"

typedef struct {
  uint8_t s[MAXLEN];
  size_t n;
} tstr;

static uint64_t xorshift(uint64_t *st) {
  uint64_t x = *st;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *st = x;
}

static uint32_t pick(uint64_t r, const uint32_t *set, size_t n) {
  return set[r % n];
}

/* One random code point (never a surrogate), or a contraction-like ASCII
** string appended directly; returns the bytes written to o (room >= 8). */
static size_t random_item(uint64_t *st, uint8_t *o) {
  static const char ascii[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
      "     ''''!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n\r";
  static const char *const contr[] = {
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'LL",
    "'r", "'l", "'v", "'e", " '", "''", "n't", "'s ", " 's",
  };
  static const uint32_t spaces[] = {
    ' ', ' ', ' ', ' ', '\t', '\n', '\r', 0x0B, 0x0C, 0x1C, 0x1F, 0x85,
    0xA0, 0x1680, 0x180E, 0x2000, 0x2003, 0x2007, 0x200A, 0x200B, 0x2028,
    0x2029, 0x202F, 0x205F, 0x2060, 0x3000, 0xFEFF,
  };
  static const uint32_t numbers[] = {
    0x660, 0x663, 0x669, 0x6F4, 0x966, 0x96F, 0xBD, 0xBC, 0xB2, 0xB3, 0xB9,
    0x2160, 0x2188, 0x2460, 0x3007, 0xFF10, 0xFF19, 0x1D7CE, 0x1D7FF,
    0x10107, 0x1F100,
  };
  uint64_t r = xorshift(st);
  uint64_t r2 = r >> 8;
  uint32_t cp;
  unsigned k = (unsigned)(r % 100);
  if (k < 30) {
    cp = (uint8_t)ascii[r2 % (sizeof ascii - 1)];
  } else if (k < 38) {
    const char *c = contr[r2 % (sizeof contr / sizeof *contr)];
    size_t l = strlen(c);
    memcpy(o, c, l);
    return l;
  } else if (k < 52) {
    cp = pick(r2, spaces, sizeof spaces / sizeof *spaces);
  } else if (k < 58) {
    cp = 0x80 + (uint32_t)(r2 % 0x80); /* Latin-1 */
  } else if (k < 63) {
    cp = 0x370 + (uint32_t)(r2 % 0x90); /* Greek */
  } else if (k < 68) {
    cp = 0x4E00 + (uint32_t)(r2 % 0x5200); /* CJK */
  } else if (k < 73) {
    cp = pick(r2, numbers, sizeof numbers / sizeof *numbers);
  } else if (k < 77) {
    cp = 0x1F300 + (uint32_t)(r2 % 0x800); /* emoji */
  } else if (k < 80) {
    cp = 0x300 + (uint32_t)(r2 % 0x70); /* combining marks */
  } else if (k < 92) {
    cp = (uint32_t)(r2 % 0xF800); /* any BMP code point but surrogates */
    if (cp >= 0xD800) cp += 0x800;
  } else {
    cp = 0x10000 + (uint32_t)(r2 % 0x100000); /* astral */
  }
  return (size_t)llm_utf8_encode(o, cp);
}

static void make_strings(tstr *t, size_t count) {
  static const char *const fixed[] = {
    "", "Hello world", "don't", "I'M", "  leading", "a  b", "a \tb",
    "tail   ", "x\n\ny", "123abc", " 123", "?!?'s", "$$$ money", "   ",
    "a\xc2\x85" "b", "a\xef\xbb\xbf" "b", "\xef\xbb\xbf" "abc",
    "a \xe2\x80\x8b" "b", "x \xc2\xa0 y", "\xe3\x80\x80\xe3\x80\x80x",
    "we're they've I'm you'll he'd", "'ll've", " 's", "a\x1f b",
  };
  size_t nf = sizeof fixed / sizeof *fixed, i = 0;
  for (; i < nf && i < count; i++) {
    t[i].n = strlen(fixed[i]);
    memcpy(t[i].s, fixed[i], t[i].n);
  }
  uint64_t st = 0xD1B54A32D192ED03ULL;
  for (; i < count; i++) {
    size_t items = xorshift(&st) % 60, n = 0;
    while (items-- && n + 8 <= MAXLEN) n += random_item(&st, t[i].s + n);
    t[i].n = n;
  }
}

/* Prints a string's pieces, given their end offsets, as code points. */
static void show_pieces(const char *who, const tstr *t, const size_t *ends,
                        size_t ne) {
  printf("  %-7s", who);
  size_t pos = 0;
  for (size_t k = 0; k < ne; k++) {
    printf(" [");
    for (size_t i = pos; i < ends[k] && i < t->n;) {
      int len;
      int32_t cp = llm_utf8_decode(t->s + i, t->n - i, &len);
      if (cp >= 0x21 && cp < 0x7F) printf("%c", (char)cp);
      else printf("<U+%04X>", (unsigned)cp);
      i += (size_t)len;
    }
    printf("]");
    pos = ends[k];
  }
  printf("\n");
}

static size_t our_ends(const tstr *t, size_t *ends, size_t cap) {
  size_t pos = 0, ne = 0;
  while (pos < t->n && ne < cap) {
    size_t end = llm_pretok_next(LLM_PRETOK_GPT2, t->s, t->n, pos);
    if (end <= pos || end > t->n) {
      ends[ne++] = (size_t)-1;
      break;
    }
    ends[ne++] = pos = end;
  }
  return ne;
}

static void test_oracle(void) {
  static tstr t[NSTR];
  static size_t ours[MAXLEN + 1], theirs[MAXLEN + 1];
  make_strings(t, NSTR);

  char path[] = "/tmp/llm_pretok_oracle_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  FILE *f = fdopen(fd, "w");
  CHECK(f != NULL);
  if (!f) {
    close(fd);
    unlink(path);
    return;
  }
  for (size_t i = 0; i < NSTR; i++) {
    for (size_t j = 0; j < t[i].n; j++) fprintf(f, "%02x", t[i].s[j]);
    fputc('\n', f);
  }
  CHECK(fclose(f) == 0);

  char cmd[200];
  snprintf(cmd, sizeof cmd, "node " ORACLE " %s", path);
  FILE *p = popen(cmd, "r");
  CHECK(p != NULL);
  if (!p) {
    unlink(path);
    return;
  }
  char *line = NULL;
  size_t cap = 0, got = 0, mismatches = 0, pieces = 0;
  while (got < NSTR && getline(&line, &cap, p) >= 0) {
    const tstr *s = &t[got];
    size_t nt = 0;
    char *q = line, *endp;
    for (;;) {
      unsigned long long v = strtoull(q, &endp, 10);
      if (endp == q || nt > MAXLEN) break;
      theirs[nt++] = (size_t)v;
      q = endp;
    }
    size_t no = our_ends(s, ours, MAXLEN + 1);
    pieces += no;
    if (no != nt || memcmp(ours, theirs, no * sizeof *ours)) {
      if (mismatches++ == 0) {
        printf("  first mismatch: string %zu, %zu bytes:", got, s->n);
        for (size_t j = 0; j < s->n; j++) printf(" %02x", s->s[j]);
        printf("\n");
        show_pieces("ours:", s, ours, no);
        show_pieces("oracle:", s, theirs, nt);
      }
    }
    got++;
  }
  free(line);
  int status = pclose(p);
  unlink(path);
  if (status != 0)
    printf("  `%s` failed (status %d): is node on PATH, and are we in the "
           "repository root?\n", cmd, status);
  CHECK(status == 0);
  if (got != NSTR) printf("  oracle answered %zu of %d strings\n", got, NSTR);
  CHECK(got == NSTR);
  if (mismatches) printf("  %zu of %zu strings differ\n", mismatches, got);
  CHECK(mismatches == 0);
  if (!mismatches && got == NSTR)
    printf("  %d strings, %zu pieces agree with the oracle\n", NSTR, pieces);
}

int main(void) {
  RUN(test_oracle);
  return CHECK_DONE();
}
