/*
** json_schema.c: compiles a JSON Schema (the subset listed in
** json_constrain.h) into the node graph of json_constrain_internal.h.
** Unsupported keywords are errors that name them: a constraint silently
** ignored would let the model write values the caller does not accept.
*/
#include <math.h>
#include <string.h>

#include "formats/json.h"
#include "text/json_constrain_internal.h"

/* The largest magnitude a generated number can have (15 digits). */
#define JC_NUM_LIMIT 999999999999999.0

typedef struct builder {
  jc_node *nodes;
  size_t n_nodes, cap_nodes;
  int32_t *kids;
  size_t n_kids, cap_kids;
  jc_text *lits;
  size_t n_lits, cap_lits;
  jc_prop *props;
  size_t n_props, cap_props;
  jc_regex *regexes;
  size_t n_regexes, cap_regexes;
  llm_buf text;
  int32_t any;            /* the "any value" node, built on first use */
  llm_err *err;
} builder;

static uint64_t key_bit(const char *key, size_t n) {
  uint64_t h = JC_HASH_INIT;
  for (size_t i = 0; i < n; i++) h = jc_hash_byte(h, (uint8_t)key[i]);
  return jc_hash_bit(h);
}

static int32_t oom(builder *b) {
  llm_fail(b->err, LLM_ENOMEM, "json_schema: out of memory");
  return -1;
}

static int32_t new_node(builder *b, int kind) {
  if (llm_grow((void **)&b->nodes, &b->cap_nodes, b->n_nodes + 1, sizeof(jc_node)))
    return oom(b);
  jc_node *n = &b->nodes[b->n_nodes];
  memset(n, 0, sizeof *n);
  n->kind = kind;
  n->item = -1;
  n->last_required = -1;
  return (int32_t)b->n_nodes++;
}

/* How many non-ANYOF nodes node id stands for. */
static size_t choices(const builder *b, int32_t id) {
  const jc_node *n = &b->nodes[id];
  size_t sum = 0;
  for (int32_t i = 0; n->kind == JC_ANYOF && i < n->count; i++)
    sum += choices(b, b->kids[n->first + i]);
  return n->kind == JC_ANYOF ? sum : 1;
}

/* An ANYOF node over kids[0..n) (or the single kid itself). */
static int32_t new_anyof(builder *b, const int32_t *kids, size_t n) {
  if (n == 1) return kids[0];
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += choices(b, kids[i]);
  if (total > JC_MAX_ALT) {
    llm_fail(b->err, LLM_ERANGE, "json_schema: anyOf/type list with more than %d choices "
             "(nested ones counted)", JC_MAX_ALT);
    return -1;
  }
  if (llm_grow((void **)&b->kids, &b->cap_kids, b->n_kids + n, sizeof(int32_t)))
    return oom(b);
  int32_t id = new_node(b, JC_ANYOF);
  if (id < 0) return -1;
  memcpy(b->kids + b->n_kids, kids, n * sizeof(int32_t));
  b->nodes[id].first = (int32_t)b->n_kids;
  b->nodes[id].count = (int32_t)n;
  b->n_kids += n;
  return id;
}

static int text_cmp(const builder *b, jc_text x, jc_text y) {
  size_t n = x.len < y.len ? x.len : y.len;
  int c = memcmp(b->text.data + x.off, b->text.data + y.off, n);
  return c ? c : (x.len > y.len) - (x.len < y.len);
}

/* A LIT node over the JSON values vals[0..n) (compact text, sorted, without
** duplicates, as the automaton's prefix matching needs). */
static int32_t new_lits(builder *b, const llm_json *const *vals, size_t n) {
  if (n == 0) {
    llm_fail(b->err, LLM_EINVAL, "json_schema: enum/const/type allows no value");
    return -1;
  }
  if (llm_grow((void **)&b->lits, &b->cap_lits, b->n_lits + n, sizeof(jc_text)))
    return oom(b);
  jc_text *lit = b->lits + b->n_lits;
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) {
    size_t off = b->text.len;
    if (llm_json_write(vals[i], &b->text)) return oom(b);
    jc_text t = {(uint32_t)off, (uint32_t)(b->text.len - off)};
    size_t at = kept;   /* insertion sort: enums are short */
    while (at > 0 && text_cmp(b, lit[at - 1], t) > 0) at--;
    if (at > 0 && text_cmp(b, lit[at - 1], t) == 0) continue;
    memmove(lit + at + 1, lit + at, (kept - at) * sizeof *lit);
    lit[at] = t;
    kept++;
  }
  int32_t id = new_node(b, JC_LIT);
  if (id < 0) return -1;
  b->nodes[id].first = (int32_t)b->n_lits;
  b->nodes[id].count = (int32_t)kept;
  b->n_lits += kept;
  return id;
}

/* A LIT node over literal JSON text (null, booleans). */
static int32_t new_lits_text(builder *b, const char *json_text) {
  llm_json_doc *doc = NULL;
  if (llm_json_parse(json_text, strlen(json_text), &doc, b->err)) return -1;
  const llm_json *root = llm_json_root(doc);
  const llm_json *vals[4];
  size_t n = 0;
  for (size_t i = 0; i < root->len && n < 4; i++) vals[n++] = &root->items[i];
  int32_t id = new_lits(b, vals, n);
  llm_json_free(doc);
  return id;
}

/* The node for any JSON value: refers to itself through arrays/objects. */
static int32_t any_node(builder *b) {
  if (b->any >= 0) return b->any;
  int32_t kids[5];
  if ((kids[0] = new_lits_text(b, "[null,true,false]")) < 0) return -1;
  if ((kids[1] = new_node(b, JC_NUM)) < 0) return -1;
  if ((kids[2] = new_node(b, JC_STR)) < 0) return -1;
  b->nodes[kids[2]].max = JC_UNBOUNDED;
  if ((kids[3] = new_node(b, JC_ARR)) < 0) return -1;
  if ((kids[4] = new_node(b, JC_OBJ)) < 0) return -1;
  if ((b->any = new_anyof(b, kids, 5)) < 0) return -1;
  b->nodes[kids[3]].max = JC_UNBOUNDED;
  b->nodes[kids[3]].item = b->any;
  b->nodes[kids[4]].item = b->any;
  return b->any;
}

static const char *const annotations[] = {
    "title", "description", "default", "examples", "$schema", "$comment", "$id", NULL};
static const char *const constraints[] = {
    "type", "properties", "required", "additionalProperties", "items", "minItems",
    "maxItems", "minLength", "maxLength", "minimum", "maximum", "enum", "const",
    "anyOf", "pattern", NULL};

static int in_list(const char *const *list, const llm_json_str *k) {
  for (size_t i = 0; list[i]; i++)
    if (strlen(list[i]) == k->len && !memcmp(list[i], k->s, k->len)) return 1;
  return 0;
}

/* A non-negative integer keyword, clamped to int32 (def when absent). */
static int get_count(builder *b, const llm_json *s, const char *kw, int32_t def,
                     int32_t *out) {
  const llm_json *v = llm_json_get(s, kw);
  *out = def;
  if (!v) return 0;
  if (v->type != LLM_JSON_NUMBER || !v->is_int || v->i < 0)
    return llm_fail(b->err, LLM_EINVAL, "json_schema: %s must be a non-negative integer", kw);
  *out = v->i > JC_UNBOUNDED ? JC_UNBOUNDED : (int32_t)v->i;
  return 0;
}

static int32_t compile(builder *b, const llm_json *s, int depth);

static int32_t compile_number(builder *b, const llm_json *s, int is_int) {
  const llm_json *lo = llm_json_get(s, "minimum"), *hi = llm_json_get(s, "maximum");
  if ((lo && lo->type != LLM_JSON_NUMBER) || (hi && hi->type != LLM_JSON_NUMBER)) {
    llm_fail(b->err, LLM_EINVAL, "json_schema: minimum/maximum must be numbers");
    return -1;
  }
  int32_t id = new_node(b, JC_NUM);
  if (id < 0) return -1;
  jc_node *n = &b->nodes[id];
  n->is_int = is_int;
  n->has_lo = lo != NULL;
  n->has_hi = hi != NULL;
  n->lo = lo ? (is_int ? ceil(lo->num) : lo->num) : -JC_NUM_LIMIT;
  n->hi = hi ? (is_int ? floor(hi->num) : hi->num) : JC_NUM_LIMIT;
  if (n->lo < -JC_NUM_LIMIT) n->lo = -JC_NUM_LIMIT;
  if (n->hi > JC_NUM_LIMIT) n->hi = JC_NUM_LIMIT;
  if (n->lo > n->hi) {
    llm_fail(b->err, LLM_EINVAL,
             "json_schema: no %s of at most 15 digits lies within minimum..maximum",
             is_int ? "integer" : "number");
    return -1;
  }
  return id;
}

static int32_t compile_object(builder *b, const llm_json *s, int depth) {
  const llm_json *props = llm_json_get(s, "properties");
  const llm_json *req = llm_json_get(s, "required");
  const llm_json *extra = llm_json_get(s, "additionalProperties");
  if ((props && props->type != LLM_JSON_OBJECT) || (req && req->type != LLM_JSON_ARRAY)) {
    llm_fail(b->err, LLM_EINVAL, "json_schema: properties must be an object, required an array");
    return -1;
  }
  size_t n = props ? props->len : 0;
  for (size_t r = 0; req && r < req->len; r++) {
    const llm_json *k = &req->items[r];
    if (k->type != LLM_JSON_STRING || !llm_json_getn(props, k->str, k->len)) {
      llm_fail(b->err, LLM_EINVAL, "json_schema: a required key is not a string listed in properties");
      return -1;
    }
  }
  int32_t item = -1;    /* absent/false: no extra keys, as llama.cpp does */
  if (extra && extra->type == LLM_JSON_BOOL ? extra->boolean : extra != NULL) {
    if ((item = compile(b, extra, depth + 1)) < 0) return -1;
  } else if (!extra && !props && !req) {
    if ((item = any_node(b)) < 0) return -1;   /* {"type":"object"}: any object */
  }
  jc_prop *tmp = n ? llm_calloc(n, sizeof *tmp) : NULL;
  if (n && !tmp) return oom(b);
  uint64_t filter = 0;
  int32_t last_required = -1, id = -1;
  for (size_t i = 0; i < n; i++) {
    const llm_json_str *k = &props->keys[i];
    if ((tmp[i].node = compile(b, &props->items[i], depth + 1)) < 0) goto done;
    size_t off = b->text.len;
    if (llm_json_write_str(k->s, k->len, &b->text)) { oom(b); goto done; }
    tmp[i].key = (jc_text){(uint32_t)off, (uint32_t)(b->text.len - off)};
    filter |= key_bit(k->s, k->len);
    for (size_t r = 0; req && r < req->len; r++)
      if (req->items[r].len == k->len && !memcmp(req->items[r].str, k->s, k->len))
        tmp[i].required = 1;
    if (tmp[i].required) last_required = (int32_t)i;
  }
  if (llm_grow((void **)&b->props, &b->cap_props, b->n_props + n, sizeof(jc_prop))) {
    oom(b);
    goto done;
  }
  if ((id = new_node(b, JC_OBJ)) < 0) goto done;
  if (n) memcpy(b->props + b->n_props, tmp, n * sizeof *tmp);
  jc_node *o = &b->nodes[id];
  o->first = (int32_t)b->n_props;
  o->count = (int32_t)n;
  o->item = item;
  o->last_required = last_required;
  o->key_filter = filter;
  b->n_props += n;
done:
  llm_free(tmp);
  return id;
}

/* A string's pattern: its index in b->regexes. */
static int32_t compile_pattern(builder *b, const llm_json *p, int32_t min, int32_t max) {
  if (p->type != LLM_JSON_STRING) {
    llm_fail(b->err, LLM_EINVAL, "json_schema: pattern must be a string");
    return -1;
  }
  /* completion lengths are tracked exactly up to 63 characters */
  if (min > 63) {
    llm_fail(b->err, LLM_EINVAL, "json_schema: minLength above 63 with a pattern is not supported");
    return -1;
  }
  if (llm_grow((void **)&b->regexes, &b->cap_regexes, b->n_regexes + 1, sizeof(jc_regex))) return oom(b);
  if (jc_regex_compile(p->str, p->len, &b->regexes[b->n_regexes], b->err)) return -1;
  if (!jc_regex_can_end(&b->regexes[b->n_regexes], 0, min, max)) {
    llm_fail(b->err, LLM_EINVAL, "json_schema: no string matching pattern \"%s\" has minLength..maxLength "
             "characters", p->str);
    return -1;
  }
  return (int32_t)b->n_regexes++;
}

/* The node for s restricted to one type name. */
static int32_t compile_type(builder *b, const llm_json *s, const llm_json *name, int depth) {
  const char *t = name->type == LLM_JSON_STRING ? name->str : "";
  if (!strcmp(t, "null")) return new_lits_text(b, "[null]");
  if (!strcmp(t, "boolean")) return new_lits_text(b, "[false,true]");
  if (!strcmp(t, "integer") || !strcmp(t, "number"))
    return compile_number(b, s, !strcmp(t, "integer"));
  if (!strcmp(t, "object")) return compile_object(b, s, depth);
  int32_t min, max;
  if (!strcmp(t, "string") || !strcmp(t, "array")) {
    int str = t[0] == 's';
    if (get_count(b, s, str ? "minLength" : "minItems", 0, &min) ||
        get_count(b, s, str ? "maxLength" : "maxItems", JC_UNBOUNDED, &max))
      return -1;
    if (min > max) {
      llm_fail(b->err, LLM_EINVAL, "json_schema: %s > %s", str ? "minLength" : "minItems",
               str ? "maxLength" : "maxItems");
      return -1;
    }
    int32_t item = -1;
    if (!str) {
      const llm_json *items = llm_json_get(s, "items");
      if ((item = items ? compile(b, items, depth + 1) : any_node(b)) < 0) return -1;
    } else if (llm_json_get(s, "pattern") && (item = compile_pattern(b, llm_json_get(s, "pattern"), min, max)) < 0) {
      return -1;
    }
    int32_t id = new_node(b, str ? JC_STR : JC_ARR);
    if (id < 0) return -1;
    b->nodes[id].min = min;
    b->nodes[id].max = max;
    b->nodes[id].item = item;
    return id;
  }
  llm_fail(b->err, LLM_EINVAL, "json_schema: unknown type \"%s\"", t);
  return -1;
}

/* Whether JSON value v is of the type named name. */
static int has_type(const llm_json *v, const llm_json *name) {
  static const char *const names[] = {"null", "boolean", "number", "string", "array", "object"};
  if (name->type != LLM_JSON_STRING) return 0;
  if (!strcmp(name->str, "integer")) return v->type == LLM_JSON_NUMBER && v->is_int;
  return !strcmp(name->str, names[v->type]);
}

/* enum/const: their values, kept when of one of the listed types. */
static int32_t compile_enum(builder *b, const llm_json *s, const llm_json *type) {
  const llm_json *en = llm_json_get(s, "enum"), *cn = llm_json_get(s, "const");
  if (en && en->type != LLM_JSON_ARRAY) {
    llm_fail(b->err, LLM_EINVAL, "json_schema: enum must be an array");
    return -1;
  }
  size_t n = en ? en->len : 1;
  const llm_json **vals = llm_calloc(n, sizeof *vals);
  if (!vals) return oom(b);
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) {
    const llm_json *v = en ? &en->items[i] : cn;
    int ok = !type;
    for (size_t t = 0; type && !ok && t < (type->type == LLM_JSON_ARRAY ? type->len : 1); t++)
      ok = has_type(v, type->type == LLM_JSON_ARRAY ? &type->items[t] : type);
    if (ok) vals[kept++] = v;
  }
  int32_t id = new_lits(b, vals, kept);
  llm_free(vals);
  return id;
}

static int32_t compile(builder *b, const llm_json *s, int depth) {
  if (s->type == LLM_JSON_BOOL && s->boolean) return any_node(b);
  if (s->type != LLM_JSON_OBJECT) {
    llm_fail(b->err, LLM_EINVAL, "json_schema: a schema must be an object or true");
    return -1;
  }
  if (depth >= LLM_JCON_MAX_DEPTH - 1) {
    llm_fail(b->err, LLM_ERANGE, "json_schema: nested deeper than %d", LLM_JCON_MAX_DEPTH - 2);
    return -1;
  }
  size_t n_constraints = 0;
  for (size_t i = 0; i < s->len; i++) {
    if (in_list(constraints, &s->keys[i])) n_constraints++;
    else if (!in_list(annotations, &s->keys[i])) {
      llm_fail(b->err, LLM_EINVAL, "json_schema: unsupported keyword \"%s\"", s->keys[i].s);
      return -1;
    }
  }
  const llm_json *type = llm_json_get(s, "type");
  const llm_json *any_of = llm_json_get(s, "anyOf");
  if (llm_json_get(s, "enum") || llm_json_get(s, "const")) {
    if (n_constraints > 1 + (type != NULL)) {
      llm_fail(b->err, LLM_EINVAL, "json_schema: enum/const combined with keywords other than type");
      return -1;
    }
    return compile_enum(b, s, type);
  }
  if (any_of) {
    if (n_constraints > 1 || any_of->type != LLM_JSON_ARRAY || any_of->len == 0) {
      llm_fail(b->err, LLM_EINVAL, "json_schema: anyOf must be a non-empty array and alone");
      return -1;
    }
    int32_t kids[JC_MAX_ALT];
    if (any_of->len > JC_MAX_ALT) {
      llm_fail(b->err, LLM_ERANGE, "json_schema: anyOf has more than %d choices", JC_MAX_ALT);
      return -1;
    }
    for (size_t i = 0; i < any_of->len; i++)
      if ((kids[i] = compile(b, &any_of->items[i], depth + 1)) < 0) return -1;
    return new_anyof(b, kids, any_of->len);
  }
  if (type && type->type == LLM_JSON_ARRAY) {
    int32_t kids[7];
    if (type->len == 0 || type->len > 7) {
      llm_fail(b->err, LLM_EINVAL, "json_schema: a type list must have 1 to 7 names");
      return -1;
    }
    for (size_t i = 0; i < type->len; i++)
      if ((kids[i] = compile_type(b, s, &type->items[i], depth)) < 0) return -1;
    return new_anyof(b, kids, type->len);
  }
  if (type) return compile_type(b, s, type, depth);
  if (n_constraints == 0) return any_node(b);
  static const struct { const char *kw, *type; } implied[] = {
      {"properties", "object"}, {"required", "object"}, {"additionalProperties", "object"},
      {"items", "array"}, {"minItems", "array"}, {"maxItems", "array"},
      {"minLength", "string"}, {"maxLength", "string"}, {"pattern", "string"}, {"minimum", "number"},
      {"maximum", "number"}};
  for (size_t i = 0; i < sizeof implied / sizeof implied[0]; i++)
    if (llm_json_get(s, implied[i].kw)) {
      llm_json name = {.type = LLM_JSON_STRING, .str = implied[i].type};
      name.len = strlen(name.str);
      return compile_type(b, s, &name, depth);
    }
  return any_node(b);
}

void llm_jcon_free(llm_jcon *c) {
  if (!c) return;
  llm_free(c->nodes);
  llm_free(c->kids);
  llm_free(c->lits);
  llm_free(c->props);
  llm_free(c->text);
  llm_free(c->regexes);
  llm_free(c);
}

/* FNV-1a over n bytes, continuing from h. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = jc_hash_byte(h, ((const uint8_t *)p)[i]);
  return h;
}

int llm_jcon_compile_value(const llm_json *schema, llm_jcon **out, llm_err *err) {
  llm_err local;
  *out = NULL;
  if (!err) err = &local;   /* the code is returned from it */
  builder b = {.any = -1, .err = err};
  llm_json any = {.type = LLM_JSON_BOOL, .boolean = 1};
  int32_t root = compile(&b, schema ? schema : &any, 0);
  llm_jcon *c = root >= 0 ? llm_calloc(1, sizeof *c) : NULL;
  if (!c) {
    if (root >= 0) oom(&b);
    llm_free(b.nodes);
    llm_free(b.kids);
    llm_free(b.lits);
    llm_free(b.props);
    llm_free(b.regexes);
    llm_buf_free(&b.text);
    return err->code;
  }
  *c = (llm_jcon){b.nodes, (int32_t)b.n_nodes, root, b.kids, b.lits, b.props, b.text.data,
                  b.regexes, (int32_t)b.n_regexes, 0};
  jc_min_lengths(c);
  /* nodes are zeroed before they are filled (new_node): no stray padding */
  uint64_t h = hash_bytes(JC_HASH_INIT, &root, sizeof root);
  h = hash_bytes(h, b.nodes, b.n_nodes * sizeof *b.nodes);
  h = hash_bytes(h, b.kids, b.n_kids * sizeof *b.kids);
  h = hash_bytes(h, b.lits, b.n_lits * sizeof *b.lits);
  h = hash_bytes(h, b.props, b.n_props * sizeof *b.props);
  h = hash_bytes(h, b.text.data, b.text.len);
  h = hash_bytes(h, b.regexes, b.n_regexes * sizeof *b.regexes);
  c->hash = h;
  *out = c;
  return LLM_OK;
}

int llm_jcon_compile(const char *schema_json, size_t n, llm_jcon **out, llm_err *err) {
  llm_err local;
  *out = NULL;
  if (!err) err = &local;
  if (!schema_json || n == 0) schema_json = "true", n = 4;
  llm_json_doc *doc = NULL;
  int rc = llm_json_parse(schema_json, n, &doc, err);
  if (rc) return rc;
  rc = llm_jcon_compile_value(llm_json_root(doc), out, err);
  llm_json_free(doc);
  return rc;
}
