/*
** test_jinja.c: the chat-template renderer (engine/text/jinja.h).
**
** Known cases first, with the expected text worked out by hand: the
** preprocessing and whitespace control, expressions, statements, filters,
** the JavaScript flavour of the oracle (none prints nothing, booleans
** print true/false), errors (unclosed blocks, unknown filters and
** statements, raise_exception's message, the line in messages), limits and
** out of memory. Then the oracle: it runs
**   node tests/oracle/jinja_oracle.js FILE
** (from the repository root), which renders with @huggingface/jinja the
** real chat templates of Llama 3, Qwen 3 and Gemma 3 and four common shapes
** over generated conversations, and one small template per feature, and
** compares every result byte for byte (for an error: that we fail too, and
** for raise_exception with the same message). Fails when node is missing.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc_fail.h"
#include "base.h"
#include "check.h"
#include "node_oracle.h"
#include "text/jinja.h"

#define ORACLE "tests/oracle/jinja_oracle.js"

/* Renders template with vars; returns a malloc'd NUL-terminated text, or
** NULL with err set. */
static char *render(const char *template, const char *vars, llm_err *err) {
  llm_jinja *t;
  if (llm_jinja_compile(template, strlen(template), &t, err) != LLM_OK) return NULL;
  llm_buf out = {0};
  int rc = llm_jinja_render(t, vars, strlen(vars), &out, err);
  llm_jinja_free(t);
  if (rc != LLM_OK) {
    llm_buf_free(&out);
    return NULL;
  }
  char *s = malloc(out.len + 1);
  if (out.len) memcpy(s, out.data, out.len);
  s[out.len] = 0;
  llm_buf_free(&out);
  return s;
}

/* Whether template renders to want with vars. */
static int renders(const char *template, const char *vars, const char *want) {
  llm_err err = {0};
  char *got = render(template, vars, &err);
  int ok = got && !strcmp(got, want);
  if (!ok) printf("  %s\n    gave [%s] (%s), want [%s]\n", template, got ? got : "", got ? "ok" : err.msg, want);
  free(got);
  return ok;
}

/* Whether template fails with code and a message containing part. */
static int fails(const char *template, const char *vars, int code, const char *part) {
  llm_err err = {0};
  char *got = render(template, vars, &err);
  int ok = !got && err.code == code && strstr(err.msg, part);
  if (!ok) printf("  %s\n    gave [%s], code %d, message [%s]; want code %d with [%s]\n", template,
                  got ? got : "", err.code, err.msg, code, part);
  free(got);
  return ok;
}

static const char *const MSGS =
    "{\"messages\": [{\"role\": \"system\", \"content\": \" sys \"}, {\"role\": \"user\", "
    "\"content\": \"hi\"}], \"add_generation_prompt\": true, \"bos_token\": \"<s>\"}";

static void test_text_and_whitespace(void) {
  CHECK(renders("", "{}", ""));
  CHECK(renders("plain\n", "{}", "plain"));           /* one trailing newline goes */
  CHECK(renders("plain\n\n", "{}", "plain\n"));
  CHECK(renders("{% if true %}\nA\n{% endif %}\nB", "{}", "A\nB")); /* trim_blocks */
  CHECK(renders("x\n    {% if true %}y{% endif %}", "{}", "x\ny"));   /* lstrip_blocks */
  CHECK(renders("x\n    {{ 'y' }}", "{}", "x\n    y"));              /* not for {{ */
  CHECK(renders("a  {{- 'b' -}}  c", "{}", "abc"));
  CHECK(renders("a \n {%- if true -%} \n b {%- endif %}", "{}", "ab"));
  CHECK(renders("a {#- note -#} b{# other #}c", "{}", "abc"));
  CHECK(renders("{% generation %}gen{% endgeneration %}", "{}", "gen"));
  CHECK(renders("{{ bos_token }}{{ messages[1].content }}", MSGS, "<s>hi"));
}

static void test_expressions(void) {
  CHECK(renders("{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7 // 2 }}|{{ 7 % 4 }}|{{ 2 ** 3 }}", "{}",
                "7|9|3|3|8"));
  CHECK(renders("{{ 7 / 2 }}|{{ 4 / 2 }}|{{ 1.0 }}|{{ 0.5 + 0.25 }}", "{}", "3.5|2.0|1.0|0.75"));
  CHECK(renders("{{ 'a' ~ 1 ~ true }}|{{ 'a' + 'b' }}", "{}", "a1true|ab"));
  CHECK(renders("{{ none }}|{{ undefined_name }}|{{ true }}|{{ False }}", "{}", "||true|false"));
  CHECK(renders("{{ [1, 'a'] }}|{{ {'k': none} }}|{{ x.y.z }}", "{}", "[1, \"a\"]|{\"k\": null}|"));
  CHECK(renders("{{ 'b' in 'abc' }}{{ 2 in [1, 2] }}{{ 'k' in {'k': 1} }}{{ 3 not in [3] }}", "{}",
                "truetruetruefalse"));
  CHECK(renders("{{ 1 == 1.0 }}{{ 'a' != 'a' }}{{ none == undefined_name }}", "{}", "truefalsetrue"));
  CHECK(renders("{{ 'y' if 1 > 2 else 'n' }}|{{ 0 or 'd' }}|{{ 'a' and 'b' }}|{{ not [] }}", "{}",
                "n|d|b|true"));
  CHECK(renders("{{ messages[1:] | length }}{{ messages[-1].role }}{{ 'abc'[::-1] }}{{ 'héllo'[1:3] }}",
                MSGS, "1usercbaél"));
  CHECK(renders("{{ 'A\\tb\\n\\'\\\"\\u00e9\\x41' }}", "{}", "A\tb\n'\"\xc3\xa9" "A"));
  CHECK(renders("{{ 'a' 'b' }}", "{}", "ab"));
}

static void test_filters_and_methods(void) {
  CHECK(renders("{{ ' x ' | trim }}|{{ 'ab' | upper }}|{{ 'AB' | lower }}|{{ [3, 4] | first }}"
                "{{ [3, 4] | last }}|{{ 'h\xc3\xa9' | length }}|{{ ['a', 'b'] | join(', ') }}",
                "{}", "x|AB|ab|34|2|a, b"));
  CHECK(renders("{{ {'a': [1, 2], 'b': 'x'} | tojson }}", "{}", "{\"a\": [1, 2], \"b\": \"x\"}"));
  CHECK(renders("{{ {'a': [1]} | tojson(indent=2) }}", "{}", "{\n  \"a\": [\n    1\n  ]\n}"));
  CHECK(renders("{{ 'a\"\\n\xc3\xa9' | tojson }}", "{}", "\"a\\\"\\n\xc3\xa9\""));
  CHECK(renders("{{ x | default('d') }}|{{ 'aXbX' | replace('X', '-') }}|{{ {'k': 1} | items }}", "{}",
                "d|a-b-|[[\"k\", 1]]"));
  CHECK(renders("{{ ' a '.strip() }}|{{ 'ab'.startswith('a') }}|{{ 'a,b'.split(',') }}|"
                "{{ {'k': 1}.get('k') }}{{ {'k': 1}.get('z', 2) }}|{{ {'k': 1}.keys() }}",
                "{}", "a|true|[\"a\", \"b\"]|12|[\"k\"]"));
  CHECK(renders("{{ '\\nx\\n'.strip('\\n') }}|{{ 'x' is string }}{{ {} is mapping }}{{ 1 is number }}"
                "{{ [] is iterable }}{{ none is none }}{{ y is defined }}",
                "{}", "x|truetruetruetruetruefalse"));
  CHECK(renders("{% for m in messages | selectattr('role', 'equalto', 'user') %}{{ m.content }}{% endfor %}",
                MSGS, "hi"));
  CHECK(renders("{{ {'b': 1, 'A': 2} | dictsort }}|{{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'c'] | sort(reverse=true) }}",
                "{}", "[[\"A\", 2], [\"b\", 1]]|[1, 2, 3]|[\"c\", \"b\", \"A\"]"));
  /* length and s[i] count UTF-16 units as JavaScript; half a pair is U+FFFD */
  CHECK(renders("{{ 'a\xf0\x9f\x98\x80' | length }}|{{ 'a\xf0\x9f\x98\x80'[1] }}|{{ 'a\xf0\x9f\x98\x80'[1:] }}",
                "{}", "3|\xef\xbf\xbd|\xf0\x9f\x98\x80"));
}

static void test_statements(void) {
  CHECK(renders("{% for x in [1, 2, 3] %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
                "{}", "11,22,33"));
  CHECK(renders("{% for x in [] %}x{% else %}empty{% endfor %}", "{}", "empty"));
  CHECK(renders("{% for x in [1, 2] %}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.length }};{% endfor %}",
                "{}", "22;12;"));
  CHECK(renders("{% for x in [1, 2, 3] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}", "{}", "1"));
  /* as the oracle: what a pass printed before break is dropped */
  CHECK(renders("{% for x in [1, 2] %}a{% break %}{% endfor %}", "{}", ""));
  CHECK(renders("{% set x = 1 %}{% for i in [5] %}{% set x = i %}{% endfor %}{{ x }}", "{}", "1"));
  CHECK(renders("{% set ns = namespace(x=1) %}{% for i in [5] %}{% set ns.x = i %}{% endfor %}{{ ns.x }}",
                "{}", "5"));
  CHECK(renders("{% set a, b = [1, 2] %}{{ b }}{{ a }}|{% set t %}[{{ 1 }}]{% endset %}{{ t }}", "{}", "21|[1]"));
  CHECK(renders("{% macro m(a, b='d') %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}{{ m(1, 2) }}{{ m(b=3, a=4) }}",
                "{}", "1d1243"));
  CHECK(renders("{% if 0 %}a{% elif 1 %}b{% else %}c{% endif %}", "{}", "b"));
  CHECK(renders("{% macro m(a, b) %}{{ a }}{{ b }}{% endmacro %}{{ m(*[1, 2]) }}{{ m(**{'b': 3, 'a': 4}) }}",
                "{}", "1243"));
  CHECK(renders("{% macro v(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ v(1, 2, k=3) }}", "{}",
                "1[2]{\"k\": 3}"));
  CHECK(renders("{% for i in range(3) %}{{ i }}{% endfor %}{{ range(2, 0, -1) }}", "{}", "012[2, 1]"));
  CHECK(renders("{% filter upper %}ab{% endfilter %}", "{}", "AB"));
}

static void test_errors(void) {
  CHECK(fails("{% if true %}open", "{}", LLM_EINVAL, "not closed"));
  CHECK(fails("{% for x in y %}", "{}", LLM_EINVAL, "not closed"));
  CHECK(fails("a\nb\n{% macro m() %}", "{}", LLM_EINVAL, "line 3"));
  CHECK(fails("{{ 1 | nosuchfilter }}", "{}", LLM_EINVAL, "nosuchfilter"));
  CHECK(fails("\n{{ 'x' | nosuch(1) }}", "{}", LLM_EINVAL, "line 2"));
  CHECK(fails("{% include 'x' %}", "{}", LLM_EINVAL, "unsupported statement {% include %}"));
  CHECK(fails("{% call m() %}{% endcall %}", "{}", LLM_EINVAL, "unsupported statement"));
  CHECK(fails("{{ x is nosuchtest }}", "{}", LLM_EINVAL, "unknown test: nosuchtest"));
  CHECK(fails("{{ 'unclosed }}", "{}", LLM_EINVAL, "string literal"));
  CHECK(fails("{{ 1 + }}", "{}", LLM_EINVAL, "line 1"));
  CHECK(fails("{{ (1 }}", "{}", LLM_EINVAL, "expected )"));
  CHECK(fails("{{ @ }}", "{}", LLM_EINVAL, "unexpected character"));
  CHECK(fails("x\n{{ raise_exception('Roles must alternate') }}", "{}", LLM_EINVAL,
              "line 2: raise_exception: Roles must alternate"));
  CHECK(fails("{{ none + 1 }}", "{}", LLM_EINVAL, "null"));
  CHECK(fails("{{ 'a' < 'b' }}", "{}", LLM_EINVAL, "unknown operator"));
  CHECK(fails("{{ x() }}", "{}", LLM_EINVAL, "not a function"));
  CHECK(fails("{{ 1 }}", "[1]", LLM_EINVAL, "expected a JSON object"));
  CHECK(fails("{{ 1 }}", "{\"true\": 1}", LLM_EINVAL, "already declared: true"));
  CHECK(fails("{{ 1 }}", "{bad json", LLM_EINVAL, ""));
  CHECK(fails("{% break %}", "{}", LLM_EINVAL, "outside a for loop"));
  CHECK(fails("{% macro m() %}{% endmacro %}{{ m(1) }}", "{}", LLM_EINVAL, "takes not more than 0"));
  CHECK(fails("{% set x.y = 1 %}", "{}", LLM_EINVAL, "non-namespace"));
  /* no error record: only the code */
  llm_jinja *t = (llm_jinja *)&t;
  CHECK(llm_jinja_compile("{% if", 5, &t, NULL) == LLM_EINVAL && t == NULL);
  CHECK(llm_jinja_compile("{{ x.y }}", 9, &t, NULL) == LLM_OK);
  llm_buf out = {0};
  CHECK(llm_jinja_render(t, "{\"x\": null}", 11, &out, NULL) == LLM_OK && out.len == 0);
  CHECK(llm_jinja_render(t, "{\"x\": 1}", 8, &out, NULL) == LLM_OK && out.len == 0);
  CHECK(llm_jinja_render(t, "{\"range\": 1}", 12, &out, NULL) == LLM_EINVAL);
  llm_jinja_free(t);
  llm_buf_free(&out);
  CHECK(fails("{{ 'a'.split('') }}", "{}", LLM_EINVAL, "empty separator"));
}

static void test_limits(void) {
  /* unbounded recursion, output, loops and nesting all stop with errors */
  CHECK(fails("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "{}", LLM_ERANGE, "nested deeper"));
  CHECK(fails("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(100) %}"
              "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
              "{}", LLM_ERANGE, "exceeds"));
  CHECK(fails("{% for i in range(1000000) %}{% if i > 5 and i < 3 %}{% endif %}{% endfor %}", "{}",
              LLM_ERANGE, "steps"));
  CHECK(fails("{{ range(100000000) }}", "{}", LLM_ERANGE, "range()"));
  CHECK(fails("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(19) %}"
              "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{% for i in range(100000) %}"
              "{% if 'y' in ns.s %}{% endif %}{% endfor %}",
              "{}", LLM_ERANGE, "steps")); /* work on long strings counts */
  CHECK(fails("{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}", "{}",
              LLM_ERANGE, ""));
  char deep[2 * 1000 + 16];
  size_t k = 0;
  k += (size_t)sprintf(deep + k, "{{ ");
  for (int i = 0; i < 1000; i++) deep[k++] = '(';
  deep[k++] = '1';
  for (int i = 0; i < 1000; i++) deep[k++] = ')';
  strcpy(deep + k, " }}");
  CHECK(fails(deep, "{}", LLM_ERANGE, "nesting"));
}

static void test_out_of_memory(void) {
  static const char *const tpl =
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
      "{{ m.role | upper }}: {{ m.content | trim | tojson }}{% endfor %}{{ ns.n }}";
  int ok_at_some_point = 0, all_clean = 1;
  for (long n = 0; n < 200 && !ok_at_some_point; n++) {
    llm_test_fail_allocs_after(n);
    llm_err err = {0};
    char *got = render(tpl, MSGS, &err);
    llm_test_fail_allocs_after(-1);
    if (got) ok_at_some_point = !strcmp(got, "SYSTEM: \"sys\"USER: \"hi\"2");
    else all_clean &= err.code == LLM_ENOMEM;
    free(got);
  }
  CHECK(ok_at_some_point);
  CHECK(all_clean);
}

/* ---- the oracle ---------------------------------------------------------- */

static char *read_exact(FILE *f, size_t n) {
  char *s = malloc(n + 1);
  if (!s || fread(s, 1, n, f) != n) {
    free(s);
    return NULL;
  }
  s[n] = 0;
  return s;
}

static void test_oracle(void) {
  char path[64];
  FILE *f = node_oracle_run(ORACLE, path);
  CHECK(f != NULL);
  if (!f) return;
  char magic[32];
  CHECK(fgets(magic, sizeof magic, f) && !strcmp(magic, "JINJA-ORACLE 1\n"));
  int cases = 0, same = 0, errors = 0, shown = 0;
  size_t nn, nt, nv, nr;
  int status;
  while (fscanf(f, "%zu %zu %zu %d %zu", &nn, &nt, &nv, &status, &nr) == 5) {
    fgetc(f); /* the newline */
    char *name = read_exact(f, nn), *tpl = read_exact(f, nt), *vars = read_exact(f, nv),
         *want = read_exact(f, nr);
    fgetc(f);
    CHECK(name && tpl && vars && want);
    if (!name || !tpl || !vars || !want) break;
    cases++;
    errors += !status;
    llm_err err = {0};
    llm_jinja *t = NULL;
    llm_buf out = {0};
    int rc = llm_jinja_compile(tpl, nt, &t, &err);
    if (rc == LLM_OK) rc = llm_jinja_render(t, vars, nv, &out, &err);
    int ok;
    if (status) {
      ok = rc == LLM_OK && out.len == nr && (nr == 0 || !memcmp(out.data, want, nr));
    } else { /* we fail too; a raised message must be the same */
      const char *raised = rc != LLM_OK ? strstr(err.msg, "raise_exception: ") : NULL;
      ok = rc != LLM_OK && (!raised || !strcmp(raised + strlen("raise_exception: "), want));
    }
    same += ok;
    if (!ok && shown++ < 10)
      printf("  %s: oracle %s [%s]\n    we %s [%.*s]\n", name, status ? "rendered" : "failed", want,
             rc == LLM_OK ? "rendered" : "failed", rc == LLM_OK ? (int)out.len : (int)strlen(err.msg),
             rc == LLM_OK ? (const char *)out.data : err.msg);
    llm_buf_free(&out);
    llm_jinja_free(t);
    free(name);
    free(tpl);
    free(vars);
    free(want);
  }
  fclose(f);
  unlink(path);
  printf("  oracle: %d of %d cases the same (%d of them errors in the oracle)\n", same, cases, errors);
  CHECK(cases >= 300);
  CHECK(same == cases);
}

int main(void) {
  RUN(test_text_and_whitespace);
  RUN(test_expressions);
  RUN(test_filters_and_methods);
  RUN(test_statements);
  RUN(test_errors);
  RUN(test_limits);
  RUN(test_out_of_memory);
  RUN(test_oracle);
  return CHECK_DONE();
}
