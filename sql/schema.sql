-- sqlite-llm storage schema.
--
-- The extension creates these tables itself, on its first write (never merely
-- by being loaded), with exactly this text. Everything it stores lives in
-- ordinary tables named llm_*, so it is portable, transactional and can be
-- inspected with plain SQL. Rows of a tokenizer are keyed by its name, rows
-- of a model by the model's name.

-- One row per tokenizer.
CREATE TABLE IF NOT EXISTS llm_tokenizers (
  name        TEXT PRIMARY KEY NOT NULL, -- what llm_tokenize(name, ...) takes
  kind        TEXT NOT NULL,             -- algorithm: 'bpe' (byte-level BPE), 'sentencepiece' (scored BPE with byte fallback, as llama2.c), 'spm' (SentencePiece BPE as llama.cpp) or 'wordpiece'
  source      TEXT NOT NULL,             -- 'trained' (llm_tokenizer_train), 'gpt2', 'llama2c' or 'gguf' (imported)
  pretokenize TEXT NOT NULL,             -- split before BPE: 'gpt2', 'none', or for 'gguf' byte-level BPE the pre-tokenizer's name (its patterns are in config)
  n_vocab     INTEGER NOT NULL,          -- number of ids, 0..n_vocab-1, special tokens included
  eot_id      INTEGER,                   -- id of <|endoftext|> ('sentencepiece': of </s>, 2), or NULL when there is none
  config      TEXT NOT NULL,             -- JSON: options it was built with and facts about its corpus; imported vocabularies: "patterns", "flags", "roles" (special ids), "chat_template"
  uid         INTEGER NOT NULL,          -- random stamp of this version; caches reload when it changes
  created_at  TEXT NOT NULL              -- UTC time of creation, ISO 8601
) STRICT;

-- One row per token of each tokenizer. A 'sentencepiece' tokenizer has
-- 'special' rows for ids 0, 1, 2 (<unk>, <s>, </s>), 'byte' rows for the
-- byte-fallback ids 3..258 (byte value + 3) whose piece is SentencePiece's
-- name for them, the text '<0xXX>', and 'normal' rows for its other pieces
-- (spaces as ' ', not U+2581); all with a score, none with rank or ids.
-- Tokenizers imported from GGUF keep their pieces as the file spells them
-- (byte-level BPE: 'Ġthe'; 'spm' and 'wordpiece': '▁the'), with kinds
-- 'normal', 'byte' ('spm': '<0xXX>'), 'special' (control), 'user'
-- (user-defined: always parsed from text) and 'unused', and a score; their
-- merges are in llm_merges.
CREATE TABLE IF NOT EXISTS llm_vocab (
  tokenizer TEXT NOT NULL,     -- llm_tokenizers.name
  id        INTEGER NOT NULL,  -- token id
  kind      TEXT NOT NULL,     -- 'byte' (one per byte value), 'merge', 'special', 'normal' ('sentencepiece' and imported), 'user' or 'unused' (imported)
  piece     BLOB NOT NULL,     -- the token's bytes (for 'special', its text; for a 'sentencepiece' 'byte', '<0xXX>')
  rank      INTEGER,           -- merges: order of application, lowest first; else NULL
  score     REAL,              -- 'sentencepiece': the piece's score (the best-scoring pair merges first); NULL for BPE
  left_id   INTEGER,           -- merges: the two token ids merged into this one; else NULL
  right_id  INTEGER,
  PRIMARY KEY (tokenizer, id)
) STRICT, WITHOUT ROWID;

-- The merges of imported byte-level BPE tokenizers, in the order they apply
-- (a token may be made by several merges, so they are not llm_vocab rows).
CREATE TABLE IF NOT EXISTS llm_merges (
  tokenizer TEXT NOT NULL,     -- llm_tokenizers.name
  rank      INTEGER NOT NULL,  -- order of application, lowest first
  left_id   INTEGER NOT NULL,  -- the two tokens merged (their concatenation is a token)
  right_id  INTEGER NOT NULL,
  PRIMARY KEY (tokenizer, rank)
) STRICT, WITHOUT ROWID;

-- One row per model.
CREATE TABLE IF NOT EXISTS llm_models (
  name        TEXT PRIMARY KEY NOT NULL, -- what llm_train(name, ...) and friends take
  tokenizer   TEXT NOT NULL,             -- llm_tokenizers.name of its tokenizer
  arch        TEXT NOT NULL,             -- block variant: 'gpt' (GPT-2)
  config      TEXT NOT NULL,             -- JSON: n_layer, n_head, n_embd, block_size, vocab_size, ...
  n_params    INTEGER NOT NULL,          -- number of parameters
  step        INTEGER NOT NULL,          -- optimizer steps behind the stored weights (0: fresh)
  uid         INTEGER NOT NULL,          -- random stamp, new at every checkpoint; caches reload when it changes
  created_at  TEXT NOT NULL,             -- UTC, ISO 8601
  updated_at  TEXT NOT NULL              -- UTC time of the last checkpoint
) STRICT;

-- One row per tensor of a model: its parameters, and during training the
-- AdamW moments beside them.
CREATE TABLE IF NOT EXISTS llm_weights (
  model  TEXT NOT NULL,  -- llm_models.name
  role   TEXT NOT NULL,  -- 'param', or 'adam_m' / 'adam_v' (optimizer moments)
  name   TEXT NOT NULL,  -- tensor name, e.g. 'blocks.attn.qkv.weight'
  shape  TEXT NOT NULL,  -- JSON array of dimensions, e.g. [4, 384, 128]
  dtype  TEXT NOT NULL,  -- element type: 'f32' (IEEE float32, little-endian), or for models imported
                         -- from GGUF any ggml type, as llama.cpp stores it: 'f16', 'bf16', 'q8_0',
                         -- 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q2_k' .. 'q6_k' (blocks of 32 or 256)
  data   BLOB NOT NULL,  -- the elements in row-major order, zstd-compressed (the first piece of a
                         -- tensor too big for one BLOB; the rest are in llm_weight_parts)
  UNIQUE (model, role, name)
) STRICT;

-- The further pieces of tensors bigger than one BLOB may be (SQLite's limit,
-- 1 GB by default): piece 1, 2, ... of the tensor whose piece 0 is in
-- llm_weights. The uncompressed pieces, in order, are the tensor's bytes.
CREATE TABLE IF NOT EXISTS llm_weight_parts (
  model  TEXT NOT NULL,     -- llm_weights.model
  role   TEXT NOT NULL,     -- llm_weights.role
  name   TEXT NOT NULL,     -- llm_weights.name
  part   INTEGER NOT NULL,  -- 1, 2, ...
  data   BLOB NOT NULL,     -- zstd-compressed bytes
  PRIMARY KEY (model, role, name, part)
) STRICT;

-- The resumable state of a model's training run (one row per model).
CREATE TABLE IF NOT EXISTS llm_train_state (
  model        TEXT PRIMARY KEY NOT NULL, -- llm_models.name
  step         INTEGER NOT NULL,          -- steps done, matching the stored weights
  options      TEXT NOT NULL,             -- JSON: the run's options (its total steps, lr, seed, ...)
  tokens_seen  INTEGER NOT NULL,          -- training tokens processed so far
  elapsed_s    REAL NOT NULL,             -- training time so far, seconds
  updated_at   TEXT NOT NULL              -- UTC time of the checkpoint
) STRICT;

-- A model's training corpus, tokenized once: a resumed run reuses it.
CREATE TABLE IF NOT EXISTS llm_corpus (
  model          TEXT PRIMARY KEY NOT NULL, -- llm_models.name
  corpus_sql     TEXT NOT NULL,             -- the query it came from
  tokenizer_uid  INTEGER NOT NULL,          -- llm_tokenizers.uid it was tokenized with
  n_tokens       INTEGER NOT NULL,          -- number of tokens
  data           BLOB NOT NULL              -- int32 little-endian token ids, zstd-compressed
) STRICT;

-- One row per logged interval of training.
CREATE TABLE IF NOT EXISTS llm_train_log (
  model         TEXT NOT NULL,    -- llm_models.name
  step          INTEGER NOT NULL, -- steps done at this row
  loss          REAL NOT NULL,    -- mean training loss since the previous row
  val_loss      REAL,             -- validation loss, when it was evaluated at this step
  lr            REAL NOT NULL,    -- learning rate of the last step
  tokens_per_s  REAL NOT NULL,    -- training throughput since the previous row
  elapsed_s     REAL NOT NULL,    -- training time of the whole run so far
  at            TEXT NOT NULL     -- UTC time of the row
) STRICT;
CREATE INDEX IF NOT EXISTS llm_train_log_model ON llm_train_log(model, step);
