/* test_utf8.c: llm_utf8_encode, and encode/decode as inverses.
** (llm_utf8_decode's case-by-case tests are in test_pretok.c.) */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "text/utf8.h"

static int enc_is(uint32_t cp, const char *want) {
  uint8_t out[4] = {0xAA, 0xAA, 0xAA, 0xAA};
  int len = llm_utf8_encode(out, cp);
  size_t wl = strlen(want);
  int ok = len == (int)wl && memcmp(out, want, wl) == 0;
  for (size_t k = wl; k < 4; k++) ok = ok && out[k] == 0xAA; /* no overrun */
  if (!ok) printf("  U+%04X: length %d\n", (unsigned)cp, len);
  return ok;
}

static void test_encode(void) {
  CHECK(enc_is('A', "A"));
  CHECK(enc_is(0x7F, "\x7f"));
  CHECK(enc_is(0x80, "\xc2\x80"));
  CHECK(enc_is(0xE9, "\xc3\xa9"));
  CHECK(enc_is(0x120, "\xc4\xa0"));
  CHECK(enc_is(0x7FF, "\xdf\xbf"));
  CHECK(enc_is(0x800, "\xe0\xa0\x80"));
  CHECK(enc_is(0x4E2D, "\xe4\xb8\xad"));
  CHECK(enc_is(0xD7FF, "\xed\x9f\xbf"));
  CHECK(enc_is(0xE000, "\xee\x80\x80"));
  CHECK(enc_is(0xFFFF, "\xef\xbf\xbf"));
  CHECK(enc_is(0x10000, "\xf0\x90\x80\x80"));
  CHECK(enc_is(0x1F600, "\xf0\x9f\x98\x80"));
  CHECK(enc_is(0x10FFFF, "\xf4\x8f\xbf\xbf"));
  /* U+0000 is one zero byte. */
  uint8_t z[4] = {0xAA, 0xAA, 0xAA, 0xAA};
  CHECK(llm_utf8_encode(z, 0) == 1 && z[0] == 0 && z[1] == 0xAA);
  /* No UTF-8 form: nothing is written. */
  CHECK(enc_is(0xD800, ""));
  CHECK(enc_is(0xDBFF, ""));
  CHECK(enc_is(0xDC00, ""));
  CHECK(enc_is(0xDFFF, ""));
  CHECK(enc_is(0x110000, ""));
  CHECK(enc_is(0x7FFFFFFF, ""));
  CHECK(enc_is(0xFFFFFFFF, ""));
}

/* Every scalar value encodes to the shortest form, which decodes back. */
static void test_roundtrip_all(void) {
  long bad = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
    uint8_t out[4];
    int len = llm_utf8_encode(out, cp);
    int want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      bad += len != 0;
      continue;
    }
    int dl = -7;
    int32_t back = llm_utf8_decode(out, (size_t)len, &dl);
    if (len != want || back != (int32_t)cp || dl != len) {
      if (bad < 5)
        printf("  U+%04X: len %d, back %d\n", (unsigned)cp, len, back);
      bad++;
    }
  }
  CHECK(bad == 0);
}

/* Every 1-, 2- and 3-byte string decodes either to a code point whose
** encoding is exactly its first *len bytes, or to -1 with *len = 1; and
** the valid ones are exactly the encodings (so none is missed). */
static void test_decode_exhaustive(void) {
  long bad = 0, valid3 = 0;
  for (uint32_t v = 0; v < (1u << 24); v++) {
    uint8_t s[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    int len = -7;
    int32_t cp = llm_utf8_decode(s, 3, &len);
    if (cp < 0) {
      bad += len != 1;
      continue;
    }
    uint8_t e[4];
    int el = llm_utf8_encode(e, (uint32_t)cp);
    if (el != len || memcmp(e, s, (size_t)el) != 0) bad++;
    if (len == 3) valid3++;
  }
  CHECK(bad == 0);
  /* U+0800..U+FFFF minus the 2048 surrogates, each once. */
  CHECK(valid3 == 0x10000 - 0x800 - 0x800);
}

int main(void) {
  RUN(test_encode);
  RUN(test_roundtrip_all);
  RUN(test_decode_exhaustive);
  return CHECK_DONE();
}
