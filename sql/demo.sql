-- demo.sql: the main job, run by `make demo` (sqlite3 demo.db < sql/demo.sql).
-- A tour of sqlite-llm in the sqlite3 shell. The corpus is text every
-- Debian machine has: the licence texts in /usr/share/common-licenses.

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
