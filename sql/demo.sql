-- demo.sql: the main job, run by `make demo` (sqlite3 demo.db < sql/demo.sql).
-- A tour of sqlite-llm in the sqlite3 shell: a tokenizer and a small
-- transformer trained inside the database. The corpus is text every Debian
-- machine has: the licence texts in /usr/share/common-licenses.

.load ./llm
.bail on
.headers on
.mode box

SELECT json_extract(llm_version(), '$.version') AS version,
       json_extract(llm_version(), '$.sqlite') AS sqlite,
       json_extract(llm_version(), '$.simd') AS simd;

-- 1. A corpus: one row per file, read with the shell's fsdir().
DROP TABLE IF EXISTS corpus;
CREATE TABLE corpus(name TEXT PRIMARY KEY, body TEXT);
INSERT INTO corpus
  SELECT substr(name, length('/usr/share/common-licenses/') + 1), CAST(data AS TEXT)
  FROM fsdir('/usr/share/common-licenses')
  WHERE data IS NOT NULL AND name NOT LIKE '%/' ;
SELECT count(*) AS files, sum(length(body)) AS characters FROM corpus;

-- 2. Train a byte-level BPE tokenizer of 2,000 tokens on it.
SELECT llm_tokenizer_drop('demo') AS dropped_old;
SELECT llm_tokenizer_train('demo', 'SELECT body FROM corpus', 2000) AS summary;

-- 3. What it learned: the longest word tokens, and the first merges.
SELECT id, quote(CAST(piece AS TEXT)) AS piece, rank
  FROM llm_vocab WHERE tokenizer = 'demo' AND kind = 'merge'
   AND CAST(piece AS TEXT) GLOB '*[A-Za-z][A-Za-z]*'
  ORDER BY length(piece) DESC, id LIMIT 6;
SELECT m.rank, quote(CAST(l.piece AS TEXT)) AS "left", quote(CAST(r.piece AS TEXT)) AS "right",
       quote(CAST(m.piece AS TEXT)) AS merged
  FROM llm_vocab m
  JOIN llm_vocab l ON l.tokenizer = m.tokenizer AND l.id = m.left_id
  JOIN llm_vocab r ON r.tokenizer = m.tokenizer AND r.id = m.right_id
 WHERE m.tokenizer = 'demo' AND m.kind = 'merge' ORDER BY m.rank LIMIT 5;

-- 4. Tokenize a sentence, token by token.
SELECT position, id, quote(piece) AS piece, start, "end"
  FROM llm_tokens('demo', 'This program is free software, distributed WITHOUT ANY WARRANTY.');

-- 5. Round trip, and how much the tokenizer compresses each file.
SELECT llm_detokenize('demo', llm_tokenize('demo', 'Permission is hereby granted, free of charge.')) AS round_trip;
SELECT name, length(CAST(body AS BLOB)) AS bytes, llm_token_count('demo', body) AS tokens,
       round(1.0 * length(CAST(body AS BLOB)) / llm_token_count('demo', body), 2) AS bytes_per_token
  FROM corpus ORDER BY bytes DESC LIMIT 6;

-- 6. A small GPT (4 layers, 128 wide, 64-token context) for this tokenizer,
--    trained on the same rows. Rows stream out as it trains; the weights are
--    checkpointed into llm_weights (zstd-compressed), so interrupting it
--    (Ctrl-C) and running the same statement again continues the run.
SELECT llm_model_drop('demo') AS dropped_old;
SELECT llm_model_create('demo', '{"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64}') AS parameters;
SELECT step, round(loss, 3) AS loss, round(val_loss, 3) AS val_loss, printf('%.2e', lr) AS lr,
       CAST(tokens_per_s AS INTEGER) AS tokens_per_s, round(elapsed_s, 1) AS seconds
  FROM llm_train('demo', 'SELECT body FROM corpus',
                 '{"steps": 600, "batch_size": 16, "lr": 2e-3, "warmup_steps": 50, "log_every": 50,
                   "eval_every": 200, "time_limit_s": 150}');

-- 7. What is stored: one row per tensor, and the training log.
SELECT role, count(*) AS tensors, sum(length(data)) AS compressed_bytes
  FROM llm_weights WHERE model = 'demo' GROUP BY role;
SELECT count(*) AS log_rows, min(loss) AS best_loss FROM llm_train_log WHERE model = 'demo';

-- 8. Generate from the trained model: greedy (temperature 0) and sampled
--    continuations of a few prompts. The same seed always gives the same text.
DROP TABLE IF EXISTS prompts;
CREATE TABLE prompts(id INTEGER PRIMARY KEY, prompt TEXT);
INSERT INTO prompts(prompt) VALUES ('This program is free software'),
  ('THE SOFTWARE IS PROVIDED'), ('Permission is hereby granted'), ('You may not');
-- (newlines are shown as spaces here)
SELECT id, prompt,
       replace(llm_generate('demo', prompt, '{"max_tokens": 20, "temperature": 0}'), char(10), ' ') AS greedy
  FROM prompts;
SELECT id, replace(llm_generate('demo', prompt, '{"max_tokens": 20, "temperature": 0.8, "top_p": 0.9,
                                                  "seed": 7}'), char(10), ' ') AS sampled
  FROM prompts;
-- The same over the whole table at once: llm_generate_rows keeps several
-- sequences in flight (continuous batching) and gives each row exactly the
-- text llm_generate gives it alone.
SELECT key AS id, finish, n_tokens,
       replace(text, char(10), ' ') = replace(llm_generate('demo', prompt, '{"max_tokens": 20, "temperature": 0.8,
                                             "top_p": 0.9, "seed": 7}'), char(10), ' ') AS same_as_alone
  FROM llm_generate_rows('demo', 'SELECT id, prompt FROM prompts',
                         '{"max_tokens": 20, "temperature": 0.8, "top_p": 0.9, "seed": 7, "batch": 4}')
  JOIN prompts ON prompts.id = key;

-- Structured output: with a JSON schema the text is always a valid value of
-- that shape (the model never saw JSON: the sampler only lets through tokens
-- that can continue the value), so json_extract never fails on it.
WITH answers AS (
  SELECT id, llm_generate('demo', prompt, '{"max_tokens": 60, "seed": 3, "json_schema": {
           "type": "object", "required": ["license", "version", "copyleft"], "additionalProperties": false,
           "properties": {"license": {"type": "string", "maxLength": 16},
                          "version": {"type": "integer", "minimum": 1, "maximum": 3},
                          "copyleft": {"type": "boolean"}}}}') AS answer
    FROM prompts)
SELECT id, answer, answer ->> '$.version' AS version FROM answers;

-- 9. Embed passages: split each licence into windows of 64 tokens, store a
--    vector per window beside its text, then find the passages nearest to a
--    question (cosine distance; sqlite-vec can read the same BLOBs).
DROP TABLE IF EXISTS passages;
CREATE TABLE passages(id INTEGER PRIMARY KEY, file TEXT, start INTEGER, text TEXT, emb BLOB);
INSERT INTO passages(file, start, text)
  SELECT c.name, k.start, k.text FROM corpus c, llm_chunks('demo', c.body, 64) k;
-- (llm_embed_rows: the texts run through the model in batches of 16)
CREATE TEMP TABLE passage_vecs AS
  SELECT key, embedding FROM llm_embed_rows('demo', 'SELECT id, text FROM passages');
UPDATE passages SET emb = (SELECT embedding FROM passage_vecs WHERE key = passages.id);
SELECT count(*) AS passages, length(emb) / 4 AS dimensions FROM passages;
WITH q(v) AS (SELECT llm_embed('demo', 'there is no warranty for the program'))
SELECT file, start, round(llm_cosine_distance(emb, q.v), 4) AS distance,
       replace(substr(text, 1, 70), char(10), ' ') AS passage
  FROM passages, q ORDER BY distance LIMIT 5;

-- 10. Score text: perplexity is lower on text like the licences than on the
--     same words shuffled.
SELECT round(llm_perplexity('demo', 'Everyone is permitted to copy and distribute verbatim copies'), 1)
       AS licence_like,
       round(llm_perplexity('demo', 'copies verbatim distribute and copy to permitted is Everyone'), 1)
       AS shuffled;

-- 11. Share the model with llama.cpp and Ollama: write it as a GGUF file
--     (with its tokenizer), and import that file back as a second model, the
--     way any GGUF file is imported (llm_import(name, 'gguf', path) also takes
--     the Llama, Qwen, Gemma, BERT ... files people download, quantized or
--     not). Both give the same text.
SELECT llm_export('demo', 'gguf', 'demo.gguf') AS gguf_bytes;
SELECT llm_model_drop('demo_gguf'), llm_tokenizer_drop('demo_gguf');
SELECT json_extract(llm_import('demo_gguf', 'gguf', 'demo.gguf'), '$.arch') AS imported_arch;
SELECT llm_generate('demo', 'This program is free software', '{"max_tokens": 12, "temperature": 0}')
     = llm_generate('demo_gguf', 'This program is free software', '{"max_tokens": 12, "temperature": 0}')
       AS same_text;
