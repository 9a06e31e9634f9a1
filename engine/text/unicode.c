/*
** unicode.c: general categories, lower-casing and the normalization forms
** NFC/NFD/NFKC/NFKD (UAX #15) over the generated tables of unicode_data.c.
**
** Normalization is the standard algorithm: full decomposition (the tables
** hold full decompositions, so there is no recursion; Hangul syllables are
** arithmetic), then canonical ordering (a stable sort of each run of
** non-starters by combining class), then, for NFC/NFKC, canonical
** composition (pairs from the table, Hangul arithmetic; composition
** exclusions are simply absent from the pairs).
**
** Speed: the input is cut before "boundaries", code points that nothing
** before them can interact with (UAX #15's quick check, as ICU does it; the
** generated records say which, per form). A boundary that the form leaves
** unchanged and that is followed by a boundary is copied through: so pure
** ASCII is a copy with no table lookup, and so is text already in the form
** (NFC Latin or Hangul under NFC, CJK under any). Only the pieces between
** such code points go through decomposition, ordering and composition, in
** place in the output array.
*/
#include "text/unicode.h"

#include <string.h>

#include "base.h"

/* Hangul syllable arithmetic (Unicode ch. 3.12). */
enum {
  H_SBASE = 0xAC00, H_LBASE = 0x1100, H_VBASE = 0x1161, H_TBASE = 0x11A7,
  H_LCOUNT = 19, H_VCOUNT = 21, H_TCOUNT = 28,
  H_NCOUNT = H_VCOUNT * H_TCOUNT, H_SCOUNT = H_LCOUNT * H_NCOUNT,
};

/* Runs of non-starters longer than this are sorted by counting, not by
** insertion, so that a hostile run of marks cannot take quadratic time. */
#define SHORT_RUN 16
/* Combining class ranks are 6 bits (LLM_UCD_CCC_MASK). */
#define N_CLASSES 64

/* The property record of cp (0, i.e. Cn and no flags, for non-code points):
** stage 1 picks a block of stage 2, which picks a block of stage 3, which
** holds the index of the record. */
#define MID_BITS (LLM_UCD_SHIFT1 - LLM_UCD_SHIFT2)
static uint32_t props(int32_t cp) {
  if ((uint32_t)cp > 0x10FFFF) return 0;
  uint32_t c = (uint32_t)cp;
  uint32_t mid = llm_ucd_stage1[c >> LLM_UCD_SHIFT1];
  uint32_t leaf = llm_ucd_stage2[(mid << MID_BITS) |
                                 ((c >> LLM_UCD_SHIFT2) & ((1u << MID_BITS) - 1))];
  return llm_ucd_props[llm_ucd_stage3[(leaf << LLM_UCD_SHIFT2) |
                                      (c & ((1u << LLM_UCD_SHIFT2) - 1))]];
}

static unsigned ccc_of(uint32_t p) {
  return (p & LLM_UCD_CCC_MASK) >> LLM_UCD_CCC_SHIFT;
}

/* Index of the entry of sorted keys[0..n) whose key >> shift is k, or -1. */
static long find32(const uint32_t *keys, size_t n, int shift, uint32_t k) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint32_t v = keys[mid] >> shift;
    if (v == k) return (long)mid;
    if (v < k) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

int llm_uni_category(int32_t cp) {
  if ((uint32_t)cp < 0x80) return llm_ucd_ascii_category[cp];
  return (int)(props(cp) & LLM_UCD_GC_MASK);
}

int llm_uni_is_mark(int32_t cp) {
  int c = llm_uni_category(cp);
  return c >= LLM_UC_Mn && c <= LLM_UC_Me;
}

int llm_uni_is_punct(int32_t cp) {
  int c = llm_uni_category(cp);
  return c >= LLM_UC_Pc && c <= LLM_UC_Po;
}

int llm_uni_is_symbol(int32_t cp) {
  int c = llm_uni_category(cp);
  return c >= LLM_UC_Sm && c <= LLM_UC_So;
}

int llm_uni_is_control(int32_t cp) {
  int c = llm_uni_category(cp);
  return c == LLM_UC_Cn || c >= LLM_UC_Cc;
}

int llm_uni_lower(int32_t cp, int32_t out[3]) {
  if ((uint32_t)cp < 0x80) {
    out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    return 1;
  }
  out[0] = cp;
  if (!(props(cp) & LLM_UCD_LOWER)) return 1;
  long i = find32(llm_ucd_lower_key, llm_ucd_lower_len, 0, (uint32_t)cp);
  if (i < 0) return 1; /* cannot happen with consistent tables */
  uint32_t to = llm_ucd_lower_to[i];
  if (!(to & 0x80000000u)) {
    out[0] = (int32_t)to;
    return 1;
  }
  const uint32_t *seq = llm_ucd_lower_long + (to & 0x7FFFFFFFu);
  int n = (int)seq[0];
  for (int k = 0; k < n; k++) out[k] = (int32_t)seq[1 + k];
  return n;
}

void llm_cps_free(llm_cps *a) {
  llm_free(a->cp);
  llm_free(a->src);
  memset(a, 0, sizeof *a);
}

/* Makes room for need elements in both arrays of a. */
static int reserve(llm_cps *a, size_t need) {
  if (need <= a->cap) return LLM_OK;
  size_t cap = a->cap ? a->cap : 16;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) return LLM_ENOMEM;
    cap *= 2;
  }
  if (cap > SIZE_MAX / sizeof(size_t)) return LLM_ENOMEM;
  /* Each array is moved on its own; one that grew while the other failed is
  ** still valid and simply larger than a->cap says. */
  int32_t *cp = llm_realloc(a->cp, cap * sizeof *cp);
  if (!cp) return LLM_ENOMEM;
  a->cp = cp;
  size_t *src = llm_realloc(a->src, cap * sizeof *src);
  if (!src) return LLM_ENOMEM;
  a->src = src;
  a->cap = cap;
  return LLM_OK;
}

/* Appends in[from..to) unchanged. */
static int append_copy(llm_cps *out, const int32_t *in, size_t from, size_t to) {
  size_t n = to - from, len = out->len;
  if (reserve(out, len + n)) return LLM_ENOMEM;
  memcpy(out->cp + len, in + from, n * sizeof *in);
  for (size_t k = 0; k < n; k++) out->src[len + k] = from + k;
  out->len = len + n;
  return LLM_OK;
}

/* The full decomposition of cp when it has one under the form (compat:
** NFKD, else NFD), other than Hangul: its code points and length. */
static const uint32_t *table_decomp(int32_t cp, uint32_t p, int compat,
                                    size_t *len) {
  const uint32_t *keys = llm_ucd_canon_key;
  const uint16_t *at = llm_ucd_canon_at;
  size_t n = llm_ucd_canon_len;
  if (compat && (p & LLM_UCD_COMPAT)) {
    keys = llm_ucd_compat_key;
    at = llm_ucd_compat_at;
    n = llm_ucd_compat_len;
  } else if (!(p & LLM_UCD_CANON)) {
    return NULL;
  }
  long i = find32(keys, n, 5, (uint32_t)cp);
  if (i < 0) return NULL;
  *len = keys[i] & 31;
  return llm_ucd_decomp_pool + at[i];
}

/* Appends the decomposition of cp (from input index src): its full
** decomposition under the form, or cp itself. */
static int append_decomposed(llm_cps *out, int32_t cp, size_t src,
                             int compat) {
  if (reserve(out, out->len + LLM_UCD_MAX_DECOMP)) return LLM_ENOMEM;
  int32_t *o = out->cp + out->len;
  size_t n = 1;
  o[0] = cp;
  uint32_t s = (uint32_t)cp - H_SBASE;
  if (s < H_SCOUNT) {
    o[0] = (int32_t)(H_LBASE + s / H_NCOUNT);
    o[1] = (int32_t)(H_VBASE + s % H_NCOUNT / H_TCOUNT);
    n = 2;
    if (s % H_TCOUNT) o[n++] = (int32_t)(H_TBASE + s % H_TCOUNT);
  } else {
    size_t len;
    const uint32_t *d = table_decomp(cp, props(cp), compat, &len);
    if (d) {
      for (size_t k = 0; k < len; k++) o[k] = (int32_t)d[k];
      n = len;
    }
  }
  for (size_t k = 0; k < n; k++) out->src[out->len + k] = src;
  out->len += n;
  return LLM_OK;
}

/* Stable insertion sort of a short run by combining class. */
static void sort_short(int32_t *cp, size_t *src, size_t n) {
  for (size_t i = 1; i < n; i++) {
    int32_t c = cp[i];
    size_t s = src[i];
    unsigned cc = ccc_of(props(c));
    size_t j = i;
    while (j > 0 && ccc_of(props(cp[j - 1])) > cc) {
      cp[j] = cp[j - 1];
      src[j] = src[j - 1];
      j--;
    }
    cp[j] = c;
    src[j] = s;
  }
}

/* Stable counting sort of out[at..at+n) by combining class, through the
** spare room past out->len. */
static int sort_long(llm_cps *out, size_t at, size_t n) {
  if (reserve(out, out->len + n)) return LLM_ENOMEM;
  int32_t *cp = out->cp + at, *tcp = out->cp + out->len;
  size_t *src = out->src + at, *tsrc = out->src + out->len;
  size_t start[N_CLASSES] = {0};
  for (size_t i = 0; i < n; i++) start[ccc_of(props(cp[i]))]++;
  size_t sum = 0;
  for (int c = 0; c < N_CLASSES; c++) {
    size_t k = start[c];
    start[c] = sum;
    sum += k;
  }
  memcpy(tcp, cp, n * sizeof *cp);
  memcpy(tsrc, src, n * sizeof *src);
  for (size_t i = 0; i < n; i++) {
    size_t to = start[ccc_of(props(tcp[i]))]++;
    cp[to] = tcp[i];
    src[to] = tsrc[i];
  }
  return LLM_OK;
}

/* Canonical ordering of out[from..len): each run of non-starters sorted. */
static int reorder(llm_cps *out, size_t from) {
  size_t i = from;
  while (i < out->len) {
    if (!(props(out->cp[i]) & LLM_UCD_CCC_MASK)) {
      i++;
      continue;
    }
    size_t j = i + 1;
    while (j < out->len && (props(out->cp[j]) & LLM_UCD_CCC_MASK)) j++;
    if (j - i <= SHORT_RUN) sort_short(out->cp + i, out->src + i, j - i);
    else if (sort_long(out, i, j - i)) return LLM_ENOMEM;
    i = j;
  }
  return LLM_OK;
}

/* The primary composite of starter a (record pa) and b (record pb), or -1. */
static int32_t compose_pair(int32_t a, uint32_t pa, int32_t b, uint32_t pb) {
  if (!(pa & LLM_UCD_FIRST) || !(pb & LLM_UCD_SECOND)) return -1;
  uint32_t l = (uint32_t)a - H_LBASE, v = (uint32_t)b - H_VBASE;
  if (l < H_LCOUNT && v < H_VCOUNT)
    return (int32_t)(H_SBASE + (l * H_VCOUNT + v) * H_TCOUNT);
  uint32_t s = (uint32_t)a - H_SBASE, t = (uint32_t)b - H_TBASE;
  if (s < H_SCOUNT && s % H_TCOUNT == 0 && t > 0 && t < H_TCOUNT)
    return a + (int32_t)t;
  uint64_t key = (uint64_t)(uint32_t)a << 21 | (uint32_t)b;
  size_t lo = 0, hi = llm_ucd_comp_len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (llm_ucd_comp_key[mid] == key) return (int32_t)llm_ucd_comp_to[mid];
    if (llm_ucd_comp_key[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/* Canonical composition of the ordered out[from..len), in place. A code
** point joins the last starter when nothing between them blocks it: the
** last code point kept between them (the one with the highest class, as
** the run is ordered) has a lower class, or there is none. */
static void compose(llm_cps *out, size_t from) {
  int32_t *cp = out->cp;
  size_t *src = out->src, n = out->len;
  if (from >= n) return;
  size_t starter = from, w = from + 1;
  uint32_t sp = props(cp[from]);
  /* last: class of the last code point kept; 256 while no starter was seen
  ** (a leading non-starter has no FIRST flag, so nothing joins it). */
  unsigned last = ccc_of(sp) ? 256 : 0;
  for (size_t r = from + 1; r < n; r++) {
    int32_t c = cp[r];
    uint32_t p = props(c);
    unsigned cc = ccc_of(p);
    if (last < cc || last == 0) {
      int32_t comp = compose_pair(cp[starter], sp, c, p);
      if (comp >= 0) {
        cp[starter] = comp;
        sp = props(comp);
        continue;
      }
    }
    if (cc == 0) {
      starter = w;
      sp = p;
    }
    last = cc;
    cp[w] = c;
    src[w] = src[r];
    w++;
  }
  out->len = w;
}

/* Normalizes the piece in[from..to) onto the end of out. */
static int piece(llm_cps *out, const int32_t *in, size_t from, size_t to,
                 int compat, int comp) {
  size_t base = out->len;
  for (size_t k = from; k < to; k++)
    if (append_decomposed(out, in[k], k, compat)) return LLM_ENOMEM;
  if (reorder(out, base)) return LLM_ENOMEM;
  if (comp) compose(out, base);
  return LLM_OK;
}

/* The record of cp as far as the boundary tests go: ASCII has no flags
** there (the generator checks), so it needs no lookup. */
static uint32_t quick_props(int32_t cp) {
  return (uint32_t)cp < 0x80 ? 0 : props(cp);
}

/* Length of the run of ASCII at the start of in[0..n), eight at a time (a
** negative value has high bits set, so it ends the run too). */
static size_t ascii_run(const int32_t *in, size_t n) {
  size_t k = 0;
  while (k + 8 <= n) {
    uint32_t m = 0;
    for (size_t t = 0; t < 8; t++) m |= (uint32_t)in[k + t];
    if (m >= 0x80) break;
    k += 8;
  }
  while (k < n && (uint32_t)in[k] < 0x80) k++;
  return k;
}

static int normalize(int form, const int32_t *in, size_t n, llm_cps *out) {
  int compat = form == LLM_NFKC || form == LLM_NFKD;
  int comp = form == LLM_NFC || form == LLM_NFKC;
  uint32_t no_bb = LLM_UCD_NO_BB << form, changes = LLM_UCD_CHANGES << form;
  out->len = 0;
  if (reserve(out, n)) return LLM_ENOMEM;
  size_t i = 0;
  while (i < n) {
    /* Copy while in[j] is unchanged alone and followed by a boundary (or
    ** the end): nothing around it can change it, as it is a boundary too
    ** (it followed one; or it is in[i], the start of the input or the
    ** boundary that ended the previous piece). */
    size_t j = i;
    uint32_t pj = quick_props(in[i]);
    while (j < n) {
      if ((uint32_t)in[j] < 0x80) /* ASCII followed by ASCII passes */
        j += ascii_run(in + j, n - j) - 1;
      uint32_t pn = j + 1 < n ? quick_props(in[j + 1]) : 0;
      if ((pj & changes) || (pn & no_bb)) break;
      pj = pn;
      j++;
    }
    if (append_copy(out, in, i, j)) return LLM_ENOMEM;
    if (j == n) break;
    /* in[j..to) up to the next boundary is normalized on its own. */
    size_t to = j + 1;
    while (to < n && (quick_props(in[to]) & no_bb)) to++;
    if (piece(out, in, j, to, compat, comp)) return LLM_ENOMEM;
    i = to;
  }
  return LLM_OK;
}

int llm_uni_normalize(int form, const int32_t *in, size_t n, llm_cps *out) {
  if (form != LLM_NFC && form != LLM_NFD && form != LLM_NFKC &&
      form != LLM_NFKD) {
    out->len = 0;
    return LLM_EINVAL;
  }
  int rc = normalize(form, in, n, out);
  if (rc) out->len = 0;
  return rc;
}
