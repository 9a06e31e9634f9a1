/*
** jinja.c: the chat-template API of jinja.h, and what the other jinja_*.c
** files share: the arena every compile and render allocates from, errors
** (jfail unwinds to the API function with longjmp; the arena is then freed
** whole), growable texts, JavaScript's white space.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "formats/json.h"
#include "text/jinja_internal.h"
#include "text/utf8.h"

/* ---- arena --------------------------------------------------------------- */

/* Allocations are aligned to 8 bytes (what the values hold: pointers,
** 64-bit integers, doubles), as the embedder's allocator gives them:
** SQLite's gives 8, not max_align_t's 16. */
#define ALIGN 8
struct jchunk {
  jchunk *next;
  size_t size, used;
  double data[];
};

#define CHUNK_BYTES ((size_t)64 << 10)

void jfail(jarena *a, int code, const char *fmt, ...) {
  a->code = code;
  if (a->err) {
    int k = a->line > 0 ? snprintf(a->err->msg, sizeof a->err->msg, "chat template line %d: ", a->line)
                        : snprintf(a->err->msg, sizeof a->err->msg, "chat template: ");
    if (k < 0 || (size_t)k >= sizeof a->err->msg) k = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->err->msg + k, sizeof a->err->msg - (size_t)k, fmt, ap);
    va_end(ap);
    a->err->code = code;
  }
  longjmp(*a->jump, code);
}

void *ja_alloc(jarena *a, size_t n) {
  n = (n + ALIGN - 1) / ALIGN * ALIGN;
  if (n == 0) n = ALIGN;
  jchunk *c = a->chunks;
  if (!c || c->size - c->used < n) {
    size_t size = n > CHUNK_BYTES ? n : CHUNK_BYTES;
    if (n > a->limit || a->used > a->limit - n)
      jfail(a, LLM_ERANGE, "the template needs more than %zu MiB of memory", a->limit >> 20);
    c = llm_malloc(sizeof *c + size);
    if (!c) jfail(a, LLM_ENOMEM, "out of memory");
    c->size = size;
    c->used = 0;
    c->next = a->chunks;
    a->chunks = c;
    a->used += size;
  }
  void *p = (char *)c->data + c->used;
  c->used += n;
  memset(p, 0, n);
  return p;
}

char *ja_strdup(jarena *a, const char *s, size_t n) {
  char *p = ja_alloc(a, n + 1);
  if (n) memcpy(p, s, n);
  return p;
}

void ja_free_all(jarena *a) {
  while (a->chunks) {
    jchunk *next = a->chunks->next;
    llm_free(a->chunks);
    a->chunks = next;
  }
  a->used = 0;
}

void jsb_add(jarena *a, jsb *b, const char *s, size_t n) {
  if (n == 0) return;
  if (n > LLM_JINJA_MAX_OUTPUT || b->len > LLM_JINJA_MAX_OUTPUT - n)
    jfail(a, LLM_ERANGE, "the rendered text exceeds %zu MiB", LLM_JINJA_MAX_OUTPUT >> 20);
  if (b->cap - b->len < n) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap - b->len < n) cap *= 2;
    char *s2 = ja_alloc(a, cap);
    if (b->len) memcpy(s2, b->s, b->len);
    b->s = s2;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
}

void jsb_addz(jarena *a, jsb *b, const char *s) { jsb_add(a, b, s, strlen(s)); }

/* ---- JavaScript white space ---------------------------------------------- */

static int js_space_cp(uint32_t c) {
  if (c <= 32) return c == 32 || (c >= 9 && c <= 13);
  return c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

size_t js_space_len(const char *s, size_t n) {
  if (n == 0) return 0;
  int len;
  int32_t c = llm_utf8_decode((const uint8_t *)s, n, &len);
  return c >= 0 && js_space_cp((uint32_t)c) ? (size_t)len : 0;
}

size_t js_space_len_back(const char *s, size_t n) {
  size_t end = n;
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && end - start < 4 && ((unsigned char)s[start] & 0xC0) == 0x80) start--;
    size_t k = js_space_len(s + start, end - start);
    if (k != end - start) break;
    end = start;
  }
  return n - end;
}

/* ---- API ----------------------------------------------------------------- */

struct llm_jinja {
  jarena arena; /* owns the tree */
  jnodes program;
};

int llm_jinja_compile(const char *src, size_t n, llm_jinja **out, llm_err *err) {
  *out = NULL;
  llm_jinja *t = llm_calloc(1, sizeof *t);
  if (!t) return llm_fail(err, LLM_ENOMEM, "out of memory");
  jmp_buf jump;
  t->arena.limit = LLM_JINJA_MAX_MEMORY;
  t->arena.jump = &jump;
  t->arena.err = err;
  t->arena.line = 1;
  if (setjmp(jump)) {
    int code = t->arena.code;
    ja_free_all(&t->arena);
    llm_free(t);
    return code;
  }
  jtok *toks;
  size_t ntoks;
  jinja_tokenize(&t->arena, src ? src : "", src ? n : 0, &toks, &ntoks);
  t->program = jinja_parse(&t->arena, toks, ntoks);
  t->arena.jump = NULL;
  t->arena.err = NULL;
  *out = t;
  return LLM_OK;
}

void llm_jinja_free(llm_jinja *t) {
  if (!t) return;
  ja_free_all(&t->arena);
  llm_free(t);
}

/* A JSON value as a template value (as convertToRuntimeValues does with
** what JSON.parse gives: object keys that are array indices come first, in
** numeric order, as JavaScript orders an object's properties). */
static jval from_json(jarena *a, const llm_json *j);

static int index_key(const char *k, size_t n, uint32_t *idx) {
  if (n == 0 || n > 10 || (n > 1 && k[0] == '0')) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (k[i] < '0' || k[i] > '9') return 0;
    v = v * 10 + (uint64_t)(k[i] - '0');
  }
  if (v >= 0xFFFFFFFFu) return 0;
  *idx = (uint32_t)v;
  return 1;
}

static void dict_from_json(jarena *a, jdict *d, const llm_json *j) {
  uint32_t prev = 0;
  for (int have_prev = 0;;) { /* the index keys, smallest first */
    size_t best = j->len;
    uint32_t best_idx = 0, idx;
    for (size_t i = 0; i < j->len; i++)
      if (index_key(j->keys[i].s, j->keys[i].len, &idx) && (!have_prev || idx > prev) &&
          (best == j->len || idx < best_idx)) {
        best = i;
        best_idx = idx;
      }
    if (best == j->len) break;
    jdict_set(a, d, j->keys[best].s, j->keys[best].len, from_json(a, &j->items[best]));
    prev = best_idx;
    have_prev = 1;
  }
  uint32_t idx;
  for (size_t i = 0; i < j->len; i++)
    if (!index_key(j->keys[i].s, j->keys[i].len, &idx))
      jdict_set(a, d, j->keys[i].s, j->keys[i].len, from_json(a, &j->items[i]));
}

static jval from_json(jarena *a, const llm_json *j) {
  switch (j->type) {
  case LLM_JSON_BOOL: return jv_bool(j->boolean);
  case LLM_JSON_NUMBER:
    return jv_num(isfinite(j->num) && floor(j->num) == j->num ? JV_INT : JV_FLOAT, j->num);
  case LLM_JSON_STRING: return jv_str(j->str, j->len);
  case LLM_JSON_ARRAY: {
    jval v = jv_list(a, j->len);
    jlist *l = v.p;
    for (size_t i = 0; i < j->len; i++) l->v[i] = from_json(a, &j->items[i]);
    return v;
  }
  case LLM_JSON_OBJECT: {
    jval v = jv_dict(a, JV_DICT);
    dict_from_json(a, v.p, j);
    return v;
  }
  default: return (jval){.t = JV_NONE};
  }
}

/* The program's variables: the globals, then those of the JSON object;
** like the oracle, a variable given twice is an error. */
static void declare(jrender *r, jenv *g, const char *k, size_t kn, jval v) {
  if (jdict_get(&g->vars, k, kn)) jfail(r->a, LLM_EINVAL, "variable already declared: %.*s", (int)(kn > 100 ? 100 : kn), k);
  jdict_set(r->a, &g->vars, k, kn, v);
}

static jenv *globals(jrender *r, const llm_json *vars) {
  jenv *g = ja_alloc(r->a, sizeof *g);
  static const struct { const char *name; int b; } consts[] = {
    {"false", 0}, {"true", 1}, {"False", 0}, {"True", 1}};
  for (size_t i = 0; i < sizeof consts / sizeof *consts; i++)
    declare(r, g, consts[i].name, strlen(consts[i].name), jv_bool(consts[i].b));
  declare(r, g, "none", 4, (jval){.t = JV_NONE});
  declare(r, g, "None", 4, (jval){.t = JV_NONE});
  declare(r, g, "namespace", 9, jv_func(r->a, JB_NAMESPACE, JV_UNDEFINED));
  declare(r, g, "raise_exception", 15, jv_func(r->a, JB_RAISE, JV_UNDEFINED));
  declare(r, g, "range", 5, jv_func(r->a, JB_RANGE, JV_UNDEFINED));
  declare(r, g, "strftime_now", 12, jv_func(r->a, JB_STRFTIME, JV_UNDEFINED));
  jdict d = {0};
  dict_from_json(r->a, &d, vars);
  for (size_t i = 0; i < d.n; i++) declare(r, g, d.k[i], d.kn[i], d.v[i]);
  return g;
}

int llm_jinja_render(const llm_jinja *t, const char *vars_json, size_t n, llm_buf *out,
                     llm_err *err) {
  llm_json_doc *doc = NULL;
  int rc = llm_json_parse(vars_json ? vars_json : "", vars_json ? n : 0, &doc, err);
  if (rc != LLM_OK) return rc;
  const llm_json *root = llm_json_root(doc);
  if (root->type != LLM_JSON_OBJECT) {
    int type = root->type;
    llm_json_free(doc);
    return llm_fail(err, LLM_EINVAL, "chat template variables: expected a JSON object, got %s",
                    llm_json_type_name(type));
  }
  /* On the heap: what changes after setjmp must not live in this frame. */
  jarena *arena = llm_calloc(1, sizeof *arena);
  jrender *r = llm_calloc(1, sizeof *r);
  jsb *text = llm_calloc(1, sizeof *text);
  if (!arena || !r || !text) {
    llm_free(arena);
    llm_free(r);
    llm_free(text);
    llm_json_free(doc);
    return llm_fail(err, LLM_ENOMEM, "out of memory");
  }
  jmp_buf jump;
  if (setjmp(jump)) {
    int code = arena->code;
    ja_free_all(arena);
    llm_free(arena);
    llm_free(r);
    llm_free(text);
    llm_json_free(doc);
    return code;
  }
  *arena = (jarena){.limit = LLM_JINJA_MAX_MEMORY, .jump = &jump, .err = err, .line = 0};
  r->a = arena;
  r->out = text;
  jinja_render_program(r, &t->program, globals(r, root));
  rc = llm_buf_append(out, text->s, text->len);
  ja_free_all(arena);
  llm_free(arena);
  llm_free(r);
  llm_free(text);
  llm_json_free(doc);
  return rc == LLM_OK ? LLM_OK : llm_fail(err, rc, "out of memory");
}
