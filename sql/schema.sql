-- sqlite-llm storage schema.
--
-- The extension creates these tables itself, on its first write (never merely
-- by being loaded), with exactly this text. Everything it stores lives in
-- ordinary tables named llm_*, so it is portable, transactional and can be
-- inspected with plain SQL. Later parts of the project add llm_models (one
-- row per model: its config and tokenizer), llm_weights (one row per named
-- tensor: shape, dtype, zstd-compressed data) and llm_train_log beside them,
-- keyed by the model's name the way llm_vocab is keyed by the tokenizer's.

-- One row per tokenizer.
CREATE TABLE IF NOT EXISTS llm_tokenizers (
  name        TEXT PRIMARY KEY NOT NULL, -- what llm_tokenize(name, ...) takes
  kind        TEXT NOT NULL,             -- algorithm: 'bpe' (byte-level BPE)
  source      TEXT NOT NULL,             -- 'trained' (llm_tokenizer_train) or 'gpt2' (imported)
  pretokenize TEXT NOT NULL,             -- split before BPE: 'gpt2' or 'none'
  n_vocab     INTEGER NOT NULL,          -- number of ids, 0..n_vocab-1, special tokens included
  eot_id      INTEGER,                   -- id of <|endoftext|>, or NULL when there is none
  config      TEXT NOT NULL,             -- JSON: options it was built with and facts about its corpus
  uid         INTEGER NOT NULL,          -- random stamp of this version; caches reload when it changes
  created_at  TEXT NOT NULL              -- UTC time of creation, ISO 8601
) STRICT;

-- One row per token of each tokenizer.
CREATE TABLE IF NOT EXISTS llm_vocab (
  tokenizer TEXT NOT NULL,     -- llm_tokenizers.name
  id        INTEGER NOT NULL,  -- token id
  kind      TEXT NOT NULL,     -- 'byte' (one per byte value), 'merge' or 'special'
  piece     BLOB NOT NULL,     -- the token's bytes (for 'special', its text)
  rank      INTEGER,           -- merges: order of application, lowest first; else NULL
  score     REAL,              -- score-based tokenizers (SentencePiece style); NULL for BPE
  left_id   INTEGER,           -- merges: the two token ids merged into this one; else NULL
  right_id  INTEGER,
  PRIMARY KEY (tokenizer, id)
) STRICT, WITHOUT ROWID;
