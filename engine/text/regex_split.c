/*
** regex_split.c: regular-expression pre-tokenization through PCRE2 (8-bit,
** UTF + UCP): Hugging Face's Split pre-tokenizer and llama.cpp's named
** pre-tokenizers (see regex_split.h).
**
** How a pattern is run
**   - Compiled once with PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF
**     (any byte string is a valid subject: invalid UTF-8 never matches a
**     pattern item, not even [^x] or \S, so it falls between matches),
**     PCRE2_DOLLAR_ENDONLY (`$` is the end of the piece, as in Rust, JS and
**     C++'s std::regex; not also before a final newline) and
**     PCRE2_NEVER_BACKSLASH_C (\C could end a piece inside a character).
**     Then JIT-compiled when PCRE2 can; otherwise, or when a match needs
**     more JIT stack than we give it, the interpreter runs it.
**   - \s and \S are rewritten as \p{White_Space} and \P{White_Space}
**     before compiling: PCRE2 10.42's \s also matches U+180E, which Unicode
**     stopped counting as a space in 6.3; Rust, Oniguruma and llama.cpp's
**     tables follow the White_Space property. \w is PCRE2's (letters,
**     numbers and underscore), which other engines' may not quite be
**     (marks, for one).
**   - All of PCRE2's memory comes from llm_malloc/llm_free through a
**     general context (the JIT's code and stack are mapped by PCRE2
**     itself). The match data lives in the llm_regex, so a split makes no
**     allocation but the growth of its output.
**   - Matches are iterated as Hugging Face's Split does (its Oniguruma
**     binding, onig 6.4): each piece is its own subject; after a match the
**     search resumes at its end; an empty match is dropped when it starts
**     where the previous match ended, and after an empty match the search
**     resumes one character further on.
**
** What llama.cpp does (src/unicode.cpp, unicode_regex_split, at commit
** c392e50, which made our test data), and where a plain Unicode regex
** engine given the same patterns would split differently:
**   1. It has no Unicode regex engine. The GPT-2 and llama3 patterns are
**      recognised by their exact text and run by hand-written matchers;
**      any other pattern goes to C++ std::regex (ECMAScript) in one of two
**      ways:
**      - if it contains \p{N} \p{L} \p{P} \p{M} or \p{S}, the text is
**        "collapsed" first: each code point becomes one byte (ASCII kept;
**        other whitespace 0x0B; letters 0xD2, numbers 0xD1, punctuation
**        0xD3, marks 0xD4, symbols 0xD5, anything else 0xD0) and \p{X}
**        becomes a class of that byte plus X's ASCII members;
**      - otherwise std::wregex runs on the code points, with every
**        non-ASCII whitespace character replaced by U+000B.
**   2. What that changes, for valid UTF-8 (compared over random strings
**      with llama.cpp's own code built from that commit):
**      a. In the wregex path a non-ASCII space is U+000B, so a character
**         class that lists or spans one does not match it there:
**         deepseek-llm's and deepseek-coder's CJK class [一-龥ࠀ-一가-퟿]
**         (its range U+0800..U+4E00 holds U+1680, U+2000..U+200A,
**         U+2028, U+2029, U+202F, U+205F, U+3000) and deepseek-llm's
**         punctuation class (its range "　-。" starts at U+3000).
**      b. The collapsed \p{S} lacks '~' (U+007E, a math symbol); only
**         deepseek-v3 uses \p{S}.
**      c. Unicode versions: llama.cpp's tables are Unicode 15.1, PCRE2
**         10.42's are 14.0. The code points whose class differs are all
**         characters assigned since, unassigned ("other") here: for L, N,
**         P and White_Space 5033 of them, none in the BMP (CJK extensions
**         H and I, Kawi, Nag Mundari, Kaktovik numerals, ...); for M and S
**         (deepseek-v3 only) 76 more, 8 in the BMP (U+0CF3, U+0ECE,
**         U+2FFC..U+2FFF, U+31EF).
**      Our named lists reproduce a and b (the table at the end: those
**      three patterns are rewritten, the rest are llama.cpp's text), so
**      they give llama.cpp's pieces, not those of the models' own
**      tokenizers, where the two differ.
**      Apart from c they give llama.cpp's pieces exactly: no difference
**      on 20000 random strings (all scripts, every kind of space, emoji)
**      for each distinct list, nor on llama.cpp's test strings.
**      The hand-written matchers agree with the regexes; GPT-2's text
**      there ends in \s+(?!\S) without OpenAI's final |\s+, which gives
**      the same pieces because unmatched text becomes a piece too (it is
**      a single whitespace character before a non-space, which |\s+
**      would have matched alone).
**   3. Invalid UTF-8: llama.cpp decodes leniently (overlong forms,
**      surrogates and values up to 0x1FFFFF pass as code points) and turns
**      each byte it cannot decode into U+FFFD, a symbol, which then groups
**      with punctuation (and is what gets tokenized); here such bytes
**      match nothing and stay as they are.
**   4. Each piece is matched on its own there too: lookaheads and `$` stop
**      at its end.
*/
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/regex_split.h"

#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "text/utf8.h"

/* The JIT runs on 32 kB of the machine stack, which most patterns never
** fill; one that repeats a group (tekken's) needs some 40 bytes per
** character of a word. When it runs out, the match is retried on a JIT
** stack of its own, made then: 64 MB of address space (pages are used
** only when touched) is a word of about 1.5 million letters. Past that
** the interpreter takes over, with its frames on the heap up to
** HEAP_LIMIT_KIB (PCRE2's default, 20 GB, would let one absurd input take
** gigabytes before the match limit stops it); beyond, the split fails
** with LLM_ERANGE. */
#define JIT_STACK_START (32 * 1024)
#define JIT_STACK_MAX (64 * 1024 * 1024)
#define HEAP_LIMIT_KIB (64 * 1024)

struct llm_regex {
  pcre2_general_context *gctx; /* routes PCRE2's allocations to llm_malloc */
  pcre2_code *code;
  pcre2_match_data *md; /* one ovector pair: only the whole match is used */
  pcre2_match_context *mctx;
  pcre2_jit_stack *jit_stack; /* made when the machine stack is too small */
  int jit;                     /* the pattern was JIT-compiled */
};

static void *pcre_alloc(size_t n, void *data) {
  (void)data;
  return llm_malloc(n);
}

static void pcre_dealloc(void *p, void *data) {
  (void)data;
  llm_free(p);
}

/* ---- compiling ---------------------------------------------------------- */

/* Copies pattern p into b with \s and \S spelled as the White_Space
** property (see the top of the file). Escapes are skipped two bytes at a
** time so that "\\s" stays a backslash and an 's'; \Q...\E is literal. */
static int spell_spaces(llm_buf *b, const char *p, size_t n) {
  static const char ws[] = "\\p{White_Space}", nws[] = "\\P{White_Space}";
  size_t i = 0, done = 0; /* p[done..i) is still to be copied */
  while (i < n) {
    if (p[i] != '\\' || i + 1 >= n) {
      i++;
      continue;
    }
    char c = p[i + 1];
    if (c == 'Q') { /* quoted up to \E or the end */
      const char *e = NULL;
      for (size_t k = i + 2; k + 1 < n && !e; k++)
        if (p[k] == '\\' && p[k + 1] == 'E') e = p + k;
      i = e ? (size_t)(e - p) + 2 : n;
      continue;
    }
    if (c != 's' && c != 'S') {
      i += 2;
      continue;
    }
    if (llm_buf_append(b, p + done, i - done) ||
        llm_buf_append(b, c == 's' ? ws : nws, sizeof ws - 1))
      return LLM_ENOMEM;
    i += 2;
    done = i;
  }
  return llm_buf_append(b, p + done, n - done);
}

/* Appends to out (room cap, NUL-terminated) the characters of p[a..b),
** printable: control characters and bytes that are not UTF-8 as \xHH. */
static void excerpt(char *out, size_t cap, const char *p, size_t a,
                    size_t b) {
  size_t o = strlen(out);
  while (a < b) {
    int len;
    int32_t cp = llm_utf8_decode((const uint8_t *)p + a, b - a, &len);
    int plain = cp >= 0x20 && cp != 0x7F;
    size_t need = plain ? (size_t)len : 4;
    if (o + need + 1 > cap) break;
    if (plain) memcpy(out + o, p + a, (size_t)len);
    else snprintf(out + o, 5, "\\x%02X", (unsigned)(uint8_t)p[a]);
    o += need;
    a += (size_t)len;
  }
  out[o] = '\0';
}

/* Moves i back to the start of the UTF-8 character it is in. */
static size_t char_start(const char *p, size_t lo, size_t i) {
  while (i > lo && ((uint8_t)p[i] & 0xC0) == 0x80) i--;
  return i;
}

/* The error for a pattern PCRE2 refused: its message and the pattern
** around the offending offset. */
static int compile_error(llm_err *err, int code, const char *p, size_t n,
                         size_t off) {
  if (code == PCRE2_ERROR_HEAP_FAILED)
    return llm_fail(err, LLM_ENOMEM, "out of memory compiling a regex");
  char msg[160], before[120] = "", after[80] = "";
  if (pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof msg) < 0)
    snprintf(msg, sizeof msg, "PCRE2 error %d", code);
  if (off > n) off = n;
  size_t a = char_start(p, 0, off > 24 ? off - 24 : 0);
  size_t b = char_start(p, off, off + 16 < n ? off + 16 : n);
  if (a > 0) strcpy(before, "...");
  excerpt(before, sizeof before, p, a, off);
  excerpt(after, sizeof after, p, off, b);
  if (b < n) strcat(after, "...");
  return llm_fail(err, LLM_EINVAL,
                  "bad regular expression: %s, at byte %zu of the pattern "
                  "(marked by <-- HERE): %s <-- HERE %s",
                  msg, off, before, after);
}

static const uint32_t COMPILE_OPTIONS =
    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
    PCRE2_NEVER_BACKSLASH_C;

/* Compiles p[0..n) as given (not respelled) to report its own error. */
static int report_error(llm_regex *re, const char *p, size_t n, int code,
                        size_t off, llm_err *err) {
  pcre2_compile_context *cc = pcre2_compile_context_create(re->gctx);
  if (!cc) return llm_fail(err, LLM_ENOMEM, "out of memory compiling a regex");
  int code2;
  PCRE2_SIZE off2;
  pcre2_code *c = pcre2_compile((PCRE2_SPTR)p, n, COMPILE_OPTIONS, &code2,
                                &off2, cc);
  pcre2_compile_context_free(cc);
  if (c) { /* only the respelled form failed: should not happen */
    pcre2_code_free(c);
    return compile_error(err, code, p, n, off < n ? off : n);
  }
  return compile_error(err, code2, p, n, off2);
}

/* Compiles the respelled pattern into re->code. */
static int compile_code(llm_regex *re, const char *p, size_t n,
                        llm_err *err) {
  llm_buf b = {0};
  if (spell_spaces(&b, p, n)) {
    llm_buf_free(&b);
    return llm_fail(err, LLM_ENOMEM, "out of memory compiling a regex");
  }
  pcre2_compile_context *cc = pcre2_compile_context_create(re->gctx);
  if (!cc) {
    llm_buf_free(&b);
    return llm_fail(err, LLM_ENOMEM, "out of memory compiling a regex");
  }
  int code;
  PCRE2_SIZE off;
  re->code = pcre2_compile(b.data ? b.data : (PCRE2_SPTR) "", b.len,
                           COMPILE_OPTIONS, &code, &off, cc);
  pcre2_compile_context_free(cc);
  llm_buf_free(&b);
  if (re->code) return LLM_OK;
  if (code == PCRE2_ERROR_HEAP_FAILED)
    return llm_fail(err, LLM_ENOMEM, "out of memory compiling a regex");
  return report_error(re, p, n, code, off, err);
}

/* The JIT, when this PCRE2 has one and it accepts the pattern (it may be
** missing, or executable memory may be denied); else the interpreter. */
static void try_jit(llm_regex *re) {
  if (pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0) re->jit = 1;
}

int llm_regex_compile(llm_regex **out, const char *pattern, size_t len,
                      llm_err *err) {
  *out = NULL;
  if (!pattern && len) return llm_fail(err, LLM_EINVAL, "NULL regex pattern");
  if (!pattern) pattern = "";
  llm_regex *re = llm_calloc(1, sizeof *re);
  if (!re) return llm_fail(err, LLM_ENOMEM, "out of memory compiling a regex");
  re->gctx = pcre2_general_context_create(pcre_alloc, pcre_dealloc, NULL);
  if (!re->gctx) {
    llm_free(re);
    return llm_fail(err, LLM_ENOMEM, "out of memory compiling a regex");
  }
  int rc = compile_code(re, pattern, len, err);
  if (rc == LLM_OK) {
    re->md = pcre2_match_data_create(1, re->gctx);
    re->mctx = pcre2_match_context_create(re->gctx);
    if (!re->md || !re->mctx)
      rc = llm_fail(err, LLM_ENOMEM, "out of memory compiling a regex");
    else pcre2_set_heap_limit(re->mctx, HEAP_LIMIT_KIB);
  }
  if (rc != LLM_OK) {
    llm_regex_free(re);
    return rc;
  }
  try_jit(re);
  *out = re;
  return LLM_OK;
}

void llm_regex_free(llm_regex *re) {
  if (!re) return;
  pcre2_jit_stack_free(re->jit_stack);
  pcre2_match_context_free(re->mctx);
  pcre2_match_data_free(re->md);
  pcre2_code_free(re->code);
  pcre2_general_context_free(re->gctx);
  llm_free(re);
}

/* ---- matching ----------------------------------------------------------- */

/* A match that PCRE2 gave up on: out of memory, or past its limits on a
** pathological piece (n bytes). */
static int match_error(int rc, size_t n, llm_err *err) {
  if (rc == PCRE2_ERROR_NOMEMORY)
    return llm_fail(err, LLM_ENOMEM, "out of memory matching a regex");
  char msg[160];
  if (pcre2_get_error_message(rc, (PCRE2_UCHAR *)msg, sizeof msg) < 0)
    snprintf(msg, sizeof msg, "PCRE2 error %d", rc);
  return llm_fail(err, LLM_ERANGE,
                  "regex match failed on a piece of %zu bytes: %s", n, msg);
}

/* The leftmost match in p[0..n) that starts at or after `from`: sets
** *found, and [*ms, *me) when found. */
static int find(llm_regex *re, const uint8_t *p, size_t n, size_t from,
                int *found, size_t *ms, size_t *me, llm_err *err) {
  int rc = PCRE2_ERROR_JIT_STACKLIMIT;
  if (re->jit) {
    rc = pcre2_jit_match(re->code, p, n, from, 0, re->md, re->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !re->jit_stack) {
      re->jit_stack =
          pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, re->gctx);
      if (re->jit_stack) {
        pcre2_jit_stack_assign(re->mctx, NULL, re->jit_stack);
        rc = pcre2_jit_match(re->code, p, n, from, 0, re->md, re->mctx);
      }
    }
  }
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* no JIT, or too deep for it */
    rc = pcre2_match(re->code, p, n, from, PCRE2_NO_JIT, re->md, re->mctx);
  *found = 0;
  if (rc == PCRE2_ERROR_NOMATCH) return LLM_OK;
  if (rc < 0) return match_error(rc, n, err);
  const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
  /* \K can move a match's start; never before `from` nor past its end. */
  if (ov[0] < from || ov[0] > ov[1] || ov[1] > n)
    return llm_fail(err, LLM_EINVAL,
                    "regex match at unexpected offsets (is \\K used?)");
  *found = 1;
  *ms = ov[0];
  *me = ov[1];
  return LLM_OK;
}

/* Offset just past the character at i (an invalid byte counts as one),
** or n + 1 at the end: where the search goes on after an empty match. */
static size_t next_char(const uint8_t *p, size_t n, size_t i) {
  if (i >= n) return n + 1;
  int len;
  llm_utf8_decode(p + i, n - i, &len);
  return i + (size_t)len;
}

/* ---- Split behaviours --------------------------------------------------- */

/* Grows both arrays of s to hold need spans. */
static int spans_reserve(llm_spans *s, size_t need) {
  if (need <= s->cap) return LLM_OK;
  size_t c1 = s->cap, c2 = s->cap;
  if (llm_grow((void **)&s->start, &c1, need, sizeof(size_t)) ||
      llm_grow((void **)&s->end, &c2, need, sizeof(size_t)))
    return LLM_ENOMEM; /* cap unchanged: both still hold that many */
  s->cap = c1 < c2 ? c1 : c2;
  return LLM_OK;
}

int llm_spans_push(llm_spans *s, size_t start, size_t end) {
  if (spans_reserve(s, s->len + 1)) return LLM_ENOMEM;
  s->start[s->len] = start;
  s->end[s->len++] = end;
  return LLM_OK;
}

void llm_spans_free(llm_spans *s) {
  if (!s) return;
  llm_free(s->start);
  llm_free(s->end);
  memset(s, 0, sizeof *s);
}

/* The fold Hugging Face's Split applies to the list of (segment, is_match)
** of one piece, done as the segments come. Offsets are within the piece;
** base places them in the text. */
typedef struct {
  llm_spans *out;
  size_t base;
  int behavior;
  int have_pend, prev_match; /* a piece still open to merging */
  size_t pend_a, pend_b;
} folder;

/* Appends [a, b) unless empty. */
static int emit(folder *f, size_t a, size_t b) {
  if (a == b) return LLM_OK;
  if (spans_reserve(f->out, f->out->len + 1)) return LLM_ENOMEM;
  f->out->start[f->out->len] = f->base + a;
  f->out->end[f->out->len] = f->base + b;
  f->out->len++;
  return LLM_OK;
}

static int flush(folder *f) {
  int rc = f->have_pend ? emit(f, f->pend_a, f->pend_b) : LLM_OK;
  f->have_pend = 0;
  return rc;
}

/* Opens a new pending piece [a, b) after emitting the previous one. */
static int open_piece(folder *f, size_t a, size_t b) {
  int rc = flush(f);
  f->have_pend = 1;
  f->pend_a = a;
  f->pend_b = b;
  return rc;
}

/* Takes the next segment [a, b) of the piece (is_match already inverted
** when asked). */
static int fold(folder *f, size_t a, size_t b, int is_match) {
  int rc = LLM_OK;
  switch (f->behavior) {
  case LLM_SPLIT_REMOVED:
    return is_match ? LLM_OK : emit(f, a, b);
  case LLM_SPLIT_ISOLATED:
    return emit(f, a, b);
  case LLM_SPLIT_CONTIGUOUS: /* runs of the same kind become one piece */
    if (f->have_pend && is_match == f->prev_match) f->pend_b = b;
    else rc = open_piece(f, a, b);
    break;
  case LLM_SPLIT_MERGED_WITH_PREVIOUS: /* a match joins the gap before it */
    if (f->have_pend && is_match && !f->prev_match) f->pend_b = b;
    else rc = open_piece(f, a, b);
    break;
  default: /* MERGED_WITH_NEXT: a match waits for the gap after it */
    if (f->have_pend && !is_match) {
      f->have_pend = 0;
      rc = emit(f, f->pend_a, b);
    } else if (is_match) {
      rc = open_piece(f, a, b);
    } else {
      rc = emit(f, a, b);
    }
    break;
  }
  f->prev_match = is_match;
  return rc;
}

/* Splits one piece p[0..n) (n > 0) into segments and folds them. */
static int split_piece(llm_regex *re, const uint8_t *p, size_t n, int invert,
                       folder *f, llm_err *err) {
  size_t pos = 0, prev = 0, last_end = 0;
  int have_last = 0, rc = LLM_OK;
  while (pos <= n && rc == LLM_OK) {
    int found;
    size_t ms, me;
    rc = find(re, p, n, pos, &found, &ms, &me, err);
    if (rc != LLM_OK) return rc;
    if (!found) break;
    if (ms == me && have_last && ms == last_end) { /* right after a match */
      pos = next_char(p, n, ms);
      continue;
    }
    if (prev != ms) rc = fold(f, prev, ms, invert);
    if (rc == LLM_OK) rc = fold(f, ms, me, !invert);
    prev = last_end = me;
    have_last = 1;
    pos = ms == me ? next_char(p, n, me) : me;
  }
  if (rc == LLM_OK && prev != n) rc = fold(f, prev, n, invert);
  if (rc == LLM_OK) rc = flush(f);
  if (rc == LLM_ENOMEM) llm_fail(err, rc, "out of memory splitting text");
  return rc;
}

int llm_regex_split(llm_regex *re, const uint8_t *s, size_t n,
                    const llm_spans *in, int behavior, int invert,
                    llm_spans *out, llm_err *err) {
  if (!re || !in || !out || out == in)
    return llm_fail(err, LLM_EINVAL, "llm_regex_split: bad arguments");
  if (behavior < LLM_SPLIT_REMOVED || behavior > LLM_SPLIT_CONTIGUOUS)
    return llm_fail(err, LLM_EINVAL, "unknown split behavior %d", behavior);
  size_t len0 = out->len;
  for (size_t k = 0; k < in->len; k++) {
    size_t a = in->start[k], b = in->end[k];
    if (a > b || b > n) {
      out->len = len0;
      return llm_fail(err, LLM_EINVAL,
                      "piece %zu [%zu, %zu) is outside the %zu-byte text", k,
                      a, b, n);
    }
    if (a == b) continue;
    folder f = {out, a, behavior, 0, 0, 0, 0};
    int rc = split_piece(re, s + a, b - a, invert != 0, &f, err);
    if (rc != LLM_OK) {
      out->len = len0;
      return rc;
    }
  }
  return LLM_OK;
}

/* ---- llama.cpp's named pre-tokenizers ----------------------------------- */

/* The patterns as llama.cpp writes them in src/llama-vocab.cpp (commit
** c392e50), with its "adapted" llama3 and qwen2 forms ((?i:'s|...) spelled
** '[sS]... because std::regex has no inline flags), except for three
** rewritten to do what llama.cpp does with them (point 2 at the top):
** CJK_PAT and deepseek-llm's punctuation class skip whitespace, and
** deepseek-v3's treats '~' as neither punctuation nor symbol. */
#define GPT2_PAT                                                            \
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|"      \
  "\\s+(?!\\S)"
#define LLAMA3_PAT                                                          \
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|"              \
  "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
  "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_PAT                                                           \
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|"              \
  "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"      \
  "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define PORO_PAT " ?[^(\\s|.,!?…。，、।۔،)]+"
/* llama.cpp: "[一-龥ࠀ-一가-퟿]+" */
#define CJK_PAT "(?:(?!\\s)[一-龥ࠀ-一가-퟿])+"

static const char *const P_DEFAULT[] = {
  "[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_PAT, "\\p{N}+", "[0-9][0-9][0-9]",
};
static const char *const P_LLAMA3[] = {LLAMA3_PAT};
static const char *const P_DEEPSEEK_LLM[] = {
  "[\r\n]",
  "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ"
  "-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ"
  "-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝ"
  "Ὗ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-"
  "ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎ"
  "ↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎ"
  "ꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-"
  "𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
  /* llama.cpp: "\\s?[!-/:-~！-／：-～‘-‟　-。]+" */
  "\\s?(?:(?!\\s)[!-/:-~！-／：-～‘-‟　-。])+",
  "\\s+$",
  CJK_PAT,
  "\\p{N}+",
};
static const char *const P_DEEPSEEK_V3[] = {
  "\\p{N}{1,3}",
  "[一-龥぀-ゟ゠-ヿ]+",
  /* llama.cpp: [^\r\n\p{L}\p{P}\p{S}]? and [\p{P}\p{S}]+ where we have
  ** (?:~|[^...])? and (?:(?!~)[...])+ */
  "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|"
  "(?:~|[^\r\n\\p{L}\\p{P}\\p{S}])?[\\p{L}\\p{M}]+|"
  " ?(?:(?!~)[\\p{P}\\p{S}])+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
};
static const char *const P_DEEPSEEK_CODER[] = {
  "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK_PAT, "\\p{N}",
};
static const char *const P_FALCON[] = {
  "[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_PAT, "[0-9][0-9][0-9]",
};
static const char *const P_STARCODER[] = {"\\p{N}", GPT2_PAT};
static const char *const P_GPT2[] = {GPT2_PAT};
static const char *const P_QWEN2[] = {QWEN2_PAT};
static const char *const P_PORO[] = {PORO_PAT};
static const char *const P_VIKING[] = {PORO_PAT, "\\p{N}"};
static const char *const P_TEKKEN[] = {
  "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|"
  "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|"
  "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
static const char *const P_CHAMELEON[] = {
  "<sentinel:[0-9]+>",
  "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
  "([\\t\\n]|    |  )",
  "\\p{N}",
  "[\\p{P}!-/:-@\\[-`{-~]",
  GPT2_PAT,
};

#define LIST(a) a, (int)(sizeof a / sizeof *a)

/* Name -> patterns, grouped as llama.cpp maps names to its pre-tokenizer
** types. Keep llm_pretok_names() in step. */
static const struct {
  const char *name;
  const char *const *patterns;
  int n;
} NAMED[] = {
  {"default", LIST(P_DEFAULT)},
  {"llama3", LIST(P_LLAMA3)},
  {"llama-v3", LIST(P_LLAMA3)},
  {"llama-bpe", LIST(P_LLAMA3)},
  {"falcon3", LIST(P_LLAMA3)},
  {"dbrx", LIST(P_LLAMA3)},
  {"smaug-bpe", LIST(P_LLAMA3)},
  {"chatglm-bpe", LIST(P_LLAMA3)},
  {"deepseek-llm", LIST(P_DEEPSEEK_LLM)},
  {"deepseek-coder", LIST(P_DEEPSEEK_CODER)},
  {"deepseek-v3", LIST(P_DEEPSEEK_V3)},
  {"falcon", LIST(P_FALCON)},
  {"starcoder", LIST(P_STARCODER)},
  {"refact", LIST(P_STARCODER)},
  {"command-r", LIST(P_STARCODER)},
  {"smollm", LIST(P_STARCODER)},
  {"codeshell", LIST(P_STARCODER)},
  {"exaone", LIST(P_STARCODER)},
  {"minerva-7b", LIST(P_STARCODER)},
  {"gpt-2", LIST(P_GPT2)},
  {"phi-2", LIST(P_GPT2)},
  {"jina-es", LIST(P_GPT2)},
  {"jina-de", LIST(P_GPT2)},
  {"gigachat", LIST(P_GPT2)},
  {"jina-v1-en", LIST(P_GPT2)},
  {"jina-v2-es", LIST(P_GPT2)},
  {"jina-v2-de", LIST(P_GPT2)},
  {"jina-v2-code", LIST(P_GPT2)},
  {"roberta-bpe", LIST(P_GPT2)},
  {"mpt", LIST(P_GPT2)},
  {"olmo", LIST(P_GPT2)},
  {"jais", LIST(P_GPT2)},
  {"qwen2", LIST(P_QWEN2)},
  {"deepseek-r1-qwen", LIST(P_QWEN2)},
  {"megrez", LIST(P_QWEN2)},
  {"stablelm2", LIST(P_QWEN2)},
  {"poro-chat", LIST(P_PORO)},
  {"bloom", LIST(P_PORO)},
  {"gpt3-finnish", LIST(P_PORO)},
  {"viking", LIST(P_VIKING)},
  {"tekken", LIST(P_TEKKEN)},
  {"chameleon", LIST(P_CHAMELEON)},
};

const char *const *llm_pretok_patterns(const char *name, int *n_patterns) {
  *n_patterns = 0;
  if (!name) return NULL;
  for (size_t i = 0; i < sizeof NAMED / sizeof *NAMED; i++) {
    if (strcmp(NAMED[i].name, name) == 0) {
      *n_patterns = NAMED[i].n;
      return NAMED[i].patterns;
    }
  }
  return NULL;
}

const char *llm_pretok_names(void) {
  return "default, llama3, llama-v3, llama-bpe, falcon3, dbrx, smaug-bpe, "
         "chatglm-bpe, deepseek-llm, deepseek-coder, deepseek-v3, falcon, "
         "starcoder, refact, command-r, smollm, codeshell, exaone, "
         "minerva-7b, gpt-2, phi-2, jina-es, jina-de, gigachat, jina-v1-en, "
         "jina-v2-es, jina-v2-de, jina-v2-code, roberta-bpe, mpt, olmo, "
         "jais, qwen2, deepseek-r1-qwen, megrez, stablelm2, poro-chat, "
         "bloom, gpt3-finnish, viking, tekken, chameleon";
}
