/*
** tokenizer.h: the tokenizers: byte-level BPE (GPT-2 family) and scored
** SentencePiece-style BPE (Llama family, as llama2.c runs it).
**
** BYTE-LEVEL BPE (llm_tokenizer_new). Every token is a byte string. Ids are
** dense 0..n_vocab-1. Three kinds:
**   BYTE     one per byte value 0..255 (in any id order: GPT-2 permutes them);
**   MERGE    created by merging the pair (left, right); its bytes are the
**            concatenation; rank orders merges (lower merges first);
**   SPECIAL  control tokens such as "<|endoftext|>": never produced from
**            text unless the caller allows special tokens explicitly.
**
** Build with llm_tokenizer_new, one llm_tokenizer_set per id, then
** llm_tokenizer_finish, which validates everything and builds the indexes.
** Encoding: pre-tokenize (pretok.h), map each piece's bytes to BYTE tokens,
** then repeatedly merge the adjacent pair with the lowest rank (leftmost on
** ties). Decoding concatenates the tokens' bytes, so encode then decode is
** the identity on every byte string.
**
** SCORED (llm_tokenizer_new_scored): SentencePiece BPE with byte fallback,
** exactly as llama2.c's run.c encodes. Every token has a piece (bytes, with
** SentencePiece's U+2581 already turned into a space) and a float score.
** Ids are fixed by role:
**   0, 1, 2     SPECIAL: <unk>, <s> (BOS), </s> (EOS);
**   3..258      BYTE: byte fallback, id = byte + 3, piece "<0xXX>" (two
**               upper-case hex digits), which decodes to that one byte;
**   259..       NORMAL: ordinary pieces (may be empty; duplicates allowed,
**               the lowest id wins).
** Encoding (BOS is not added: the caller does): a space (the "dummy
** prefix") goes before non-empty text; the text is cut into groups of one
** byte and the continuation bytes (10xxxxxx) after it, at most 4 bytes, as
** run.c does (for valid UTF-8: one code point each); a group that is a
** NORMAL piece becomes it, any other becomes its bytes' BYTE tokens; then
** the adjacent pair whose concatenated piece is a NORMAL token of the
** highest score (above -1e10, leftmost on ties) is merged, until none is
** left. BYTE and SPECIAL tokens never merge. Decoding gives the pieces'
** bytes, BYTE tokens their byte, and drops the leading space of a token
** decoded at the start (after nothing, or after BOS), so decode(encode(s))
** is s for every byte string s. With allow_special, "<unk>", "<s>" and
** "</s>" in the text become those tokens and plain text after "<s>" gets
** a dummy prefix again (dropped again when decoding).
**
** VOCABULARY TOKENIZERS (llm_tokenizer_new_vocab): the tokenizers of real
** models (GGUF files, Hugging Face tokenizer.json), kept as their files
** spell the vocabulary, so ids and pieces match llama.cpp and Hugging Face:
**   LLM_TOKENIZER_BPE   byte-level BPE: pieces in GPT-2's byte-to-character
**                       spelling ("Ġthe"); merges given as id pairs in rank
**                       order (llm_tokenizer_add_merge); text is split by the
**                       regex patterns (llm_tokenizer_set_patterns), each
**                       piece's bytes become the tokens of their characters,
**                       then merged lowest rank first. With IGNORE_MERGES a
**                       piece that is a whole token is that token. With
**                       CHARS (Hugging Face BPE without ByteLevel: Llama 2,
**                       Mistral, Gemma) the first symbols are characters,
**                       spelled as such, and a character with no token
**                       becomes its "<0xXX>" tokens (BYTE_FALLBACK) or UNK.
**   LLM_TOKENIZER_SPM   SentencePiece BPE as llama.cpp runs it: spaces become
**                       U+2581 ("▁"), a "▁" goes before text at the start and
**                       after a special token (ADD_SPACE_PREFIX), characters
**                       merge best score first into any token of the
**                       vocabulary, and what forms no token becomes its
**                       "<0xXX>" byte tokens.
**   LLM_TOKENIZER_WORDPIECE  BERT's WordPiece as llama.cpp runs it: NFD,
**                       lower case, control characters dropped, split at
**                       spaces and punctuation (each CJK ideograph alone);
**                       each word, with "▁" before it (word-initial pieces are
**                       spelled "▁word", continuations plain), is covered by
**                       longest matches, or becomes UNK when it cannot be;
**                       or as Hugging Face spells it (llm_tokenizer_set_
**                       wordpiece: continuations "##piece").
** A Hugging Face pipeline (llm_tokenizer_set_hf: normalizer, pre-tokenizer,
** decoder) replaces the built-in text handling of any of them.
** Token kinds: NORMAL, BYTE (SPM's "<0xXX>"), SPECIAL (control tokens: only
** parsed from text with allow_special), USER (user-defined: always parsed
** from text, before anything else) and UNUSED. Every piece must differ.
** Decoding gives each token's text: byte-level pieces mapped back to bytes,
** "▁" as a space (dropped at the start of a text or after a special token
** when the tokenizer adds a space prefix), byte tokens their byte, special
** and user tokens their text.
*/
#ifndef LLM_TOKENIZER_H
#define LLM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"

enum {
  LLM_TOKEN_BYTE = 0,
  LLM_TOKEN_MERGE = 1,
  LLM_TOKEN_SPECIAL = 2,
  LLM_TOKEN_NORMAL = 3, /* scored and vocabulary tokenizers' ordinary pieces */
  LLM_TOKEN_USER = 4,   /* user-defined: parsed from text before anything else */
  LLM_TOKEN_UNUSED = 5
};

/* What llm_tokenizer_type returns. */
enum {
  LLM_TOKENIZER_BPE = 0,
  LLM_TOKENIZER_SCORED = 1,
  LLM_TOKENIZER_SPM = 2,
  LLM_TOKENIZER_WORDPIECE = 3
};

/* Roles of special tokens (llm_tokenizer_set_role). */
enum {
  LLM_ROLE_BOS = 0, LLM_ROLE_EOS, LLM_ROLE_EOT, LLM_ROLE_EOM, LLM_ROLE_UNK,
  LLM_ROLE_SEP, LLM_ROLE_PAD, LLM_ROLE_CLS, LLM_ROLE_MASK, LLM_ROLE_COUNT
};

/* Options of vocabulary tokenizers (llm_tokenizer_set_flags). */
enum {
  LLM_TOK_ADD_BOS = 1,          /* ADD_SPECIAL encodes put BOS (WordPiece: CLS) first */
  LLM_TOK_ADD_EOS = 2,          /* ... and EOS (WordPiece: SEP) last */
  LLM_TOK_ADD_SPACE_PREFIX = 4, /* SPM: "▁" before text at the start and after specials;
                                   decoding drops a leading space there (any kind) */
  LLM_TOK_IGNORE_MERGES = 8,    /* BPE: a piece that is a token is not merged */
  LLM_TOK_CHARS = 16,           /* BPE: symbols are characters, not GPT-2's byte map */
  LLM_TOK_BYTE_FALLBACK = 32,   /* ... a character with no token becomes its <0xXX> tokens */
  LLM_TOK_FUSE_UNK = 64,        /* ... else UNK, one for a run of them */
  LLM_TOK_HF = 128              /* Hugging Face normalizer / pre-tokenizer / decoder attached */
};

/* How a special or user-defined token is parsed out of text (Hugging
** Face's added-token options): LSTRIP and RSTRIP take the whitespace
** before / after it along, SINGLE_WORD matches only where no letter, digit
** or '_' touches it; NORMALIZED tokens of a tokenizer with a Hugging Face
** normalizer are looked for in the normalized text, the others in the text
** as given; NOT_MODEL tokens (Hugging Face added tokens that the model's
** vocabulary lacks) are never produced by the model. */
enum { LLM_TOKF_LSTRIP = 1, LLM_TOKF_RSTRIP = 2, LLM_TOKF_SINGLE_WORD = 4,
       LLM_TOKF_NORMALIZED = 8, /* matched in the normalized text (HF pipelines) */
       LLM_TOKF_NOT_MODEL = 16  /* not in the model's vocabulary: only parsed from text */ };

/* Flags of llm_tokenizer_encode. */
enum {
  LLM_ENCODE_ALLOW_SPECIAL = 1, /* special tokens' text becomes those tokens */
  LLM_ENCODE_ADD_SPECIAL = 2    /* add BOS/EOS (CLS/SEP) as the tokenizer's flags say */
};

/* Scored tokenizers: the fixed ids, and the number of ids with a role. */
enum {
  LLM_SCORED_UNK = 0,
  LLM_SCORED_BOS = 1,
  LLM_SCORED_EOS = 2,
  LLM_SCORED_BYTE0 = 3, /* id of byte 0x00; byte b is LLM_SCORED_BYTE0 + b */
  LLM_SCORED_MIN_VOCAB = 259
};

/* Largest vocabulary accepted (ids fit comfortably in int32). */
#define LLM_TOKENIZER_MAX_VOCAB (1 << 22)
/* Largest token, in bytes. */
#define LLM_TOKENIZER_MAX_PIECE 4096

typedef struct llm_tokenizer llm_tokenizer;

int llm_tokenizer_new(llm_tokenizer **out, int32_t n_vocab, int pretok_mode,
                      llm_err *err);

/* Defines token id. For BYTE: len 1, left = right = rank = -1. For MERGE:
** left/right are the merged ids, rank >= 0. For SPECIAL: len >= 1,
** left = right = rank = -1. */
int llm_tokenizer_set(llm_tokenizer *t, int32_t id, int kind,
                      const uint8_t *bytes, size_t len, int32_t left,
                      int32_t right, int32_t rank, llm_err *err);

/* A scored tokenizer of n_vocab ids (LLM_SCORED_MIN_VOCAB or more). */
int llm_tokenizer_new_scored(llm_tokenizer **out, int32_t n_vocab,
                             llm_err *err);

/* Defines token id of a scored tokenizer. kind must match the id's role
** (see the top of the file): SPECIAL with 1.. bytes, BYTE with the piece
** "<0xXX>" for byte id - 3, NORMAL with 0.. bytes; score must be finite. */
int llm_tokenizer_set_scored(llm_tokenizer *t, int32_t id, int kind,
                             const uint8_t *bytes, size_t len, float score,
                             llm_err *err);

/* A vocabulary tokenizer (LLM_TOKENIZER_BPE, _SPM or _WORDPIECE; see the top
** of the file) of n_vocab ids, defined by llm_tokenizer_set_token, then
** merges (BPE), patterns (BPE), roles and flags, then finished. */
int llm_tokenizer_new_vocab(llm_tokenizer **out, int type, int32_t n_vocab,
                            llm_err *err);

/* Defines token id of a vocabulary tokenizer: kind NORMAL, BYTE (SPM:
** "<0xXX>"), SPECIAL, USER or UNUSED; 1..LLM_TOKENIZER_MAX_PIECE bytes of
** text as the vocabulary spells it; a finite score (SPM's merge priority). */
int llm_tokenizer_set_token(llm_tokenizer *t, int32_t id, int kind,
                            const uint8_t *text, size_t len, float score,
                            llm_err *err);

/* Vocabulary tokenizers: indexes the tokens by their text once all are
** defined (finish does it too), so that llm_tokenizer_find works before
** finish; fails on two tokens with the same text. */
int llm_tokenizer_index(llm_tokenizer *t, llm_err *err);
/* The id of the token spelled s[0..n) as the vocabulary spells it (scored
** tokenizers: the lowest NORMAL id with that piece), or -1. */
int32_t llm_tokenizer_find(const llm_tokenizer *t, const uint8_t *s, size_t n);

/* BPE vocabulary tokenizers: the next merge (rank = merges added before it):
** tokens left and right, whose concatenation must be a token. */
int llm_tokenizer_add_merge(llm_tokenizer *t, int32_t left, int32_t right,
                            llm_err *err);

/* BPE vocabulary tokenizers: the pre-tokenizer, regular expressions applied
** one after another, each splitting every piece of the previous one into
** its matches and the text between them. Compiled here; an error names the
** pattern that does not compile. */
int llm_tokenizer_set_patterns(llm_tokenizer *t, const char *const *patterns,
                               int n, llm_err *err);
int llm_tokenizer_n_patterns(const llm_tokenizer *t);
const char *llm_tokenizer_pattern(const llm_tokenizer *t, int i);

/* A special or user token's LLM_TOKF_* flags (before finish). */
int llm_tokenizer_set_token_flags(llm_tokenizer *t, int32_t id, unsigned flags,
                                  llm_err *err);
unsigned llm_tokenizer_token_flags(const llm_tokenizer *t, int32_t id);

/* The token that plays a role (LLM_ROLE_*), or -1 for none. */
int llm_tokenizer_set_role(llm_tokenizer *t, int role, int32_t id,
                           llm_err *err);
int32_t llm_tokenizer_role(const llm_tokenizer *t, int role);
const char *llm_tokenizer_role_name(int role);

/* What an ADD_SPECIAL encoding puts before and after the text (Hugging
** Face's TemplateProcessing); without one, BOS and EOS as the flags say. */
int llm_tokenizer_set_template(llm_tokenizer *t, const int32_t *prefix, size_t n_prefix,
                               const int32_t *suffix, size_t n_suffix, llm_err *err);
/* The template's ids (NULL when there is none). */
const int32_t *llm_tokenizer_template(const llm_tokenizer *t, int suffix, size_t *n);

/* Hugging Face WordPiece: continuation pieces start with prefix ("##");
** words of more than max_chars characters are UNK. */
int llm_tokenizer_set_wordpiece(llm_tokenizer *t, const char *prefix, int max_chars,
                                llm_err *err);
/* The prefix set so (NULL when none), and *max_chars. */
const char *llm_tokenizer_wordpiece(const llm_tokenizer *t, int *max_chars);

/* Attaches the parts of a Hugging Face pipeline (text/hf_pipeline.h; any
** may be NULL), owned by the tokenizer from then on, also when this fails;
** sets LLM_TOK_HF. Plain text then goes normalizer, pre-tokenizer, model;
** llm_tokenizer_decode runs the decoder over the tokens' pieces. */
struct llm_hf_norm;
struct llm_hf_pretok;
struct llm_hf_decoder;
int llm_tokenizer_set_hf(llm_tokenizer *t, struct llm_hf_norm *norm,
                         struct llm_hf_pretok *pre, struct llm_hf_decoder *dec,
                         llm_err *err);
/* Whether the attached pre-tokenizer is byte-level (then so is the BPE). */
int llm_tokenizer_hf_bytelevel(const llm_tokenizer *t);

/* LLM_TOK_* options. */
void llm_tokenizer_set_flags(llm_tokenizer *t, unsigned flags);
unsigned llm_tokenizer_flags(const llm_tokenizer *t);
/* Merges of a BPE vocabulary tokenizer, in rank order. */
int32_t llm_tokenizer_n_merges(const llm_tokenizer *t);
void llm_tokenizer_merge_at(const llm_tokenizer *t, int32_t rank,
                            int32_t *left, int32_t *right);

int llm_tokenizer_finish(llm_tokenizer *t, llm_err *err);

void llm_tokenizer_free(llm_tokenizer *t);

int32_t llm_tokenizer_n_vocab(const llm_tokenizer *t);
/* Bytes the tokenizer holds (its tables, indexes and caches; an estimate
** within the allocator's rounding). */
size_t llm_tokenizer_memory(const llm_tokenizer *t);
/* LLM_TOKENIZER_*. */
int llm_tokenizer_type(const llm_tokenizer *t);
/* The name of an LLM_TOKENIZER_* type as llm_tokenizers.kind spells it
** ("bpe", "sentencepiece", "spm", "wordpiece"), or NULL. */
const char *llm_tokenizer_type_name(int type);
int llm_tokenizer_pretok(const llm_tokenizer *t);
int llm_tokenizer_kind(const llm_tokenizer *t, int32_t id);
const uint8_t *llm_tokenizer_piece(const llm_tokenizer *t, int32_t id,
                                   size_t *len);
/* For MERGE tokens; -1 otherwise. */
int32_t llm_tokenizer_left(const llm_tokenizer *t, int32_t id);
int32_t llm_tokenizer_right(const llm_tokenizer *t, int32_t id);
int32_t llm_tokenizer_rank(const llm_tokenizer *t, int32_t id);
/* Scored tokenizers: the token's score; 0 otherwise. */
float llm_tokenizer_score(const llm_tokenizer *t, int32_t id);
/* Beginning and end of a sequence: 1 and 2 for scored tokenizers; for BPE
** both are the id of "<|endoftext|>", or -1 when there is none; for
** vocabulary tokenizers their BOS (WordPiece: CLS) and EOS (WordPiece: SEP)
** roles. */
int32_t llm_tokenizer_bos_id(const llm_tokenizer *t);
int32_t llm_tokenizer_eos_id(const llm_tokenizer *t);
/* Whether generating id ends the generation: the EOS, EOT and EOM roles,
** and the special tokens that end a turn in common chat formats
** ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", ...). */
int llm_tokenizer_is_eog(const llm_tokenizer *t, int32_t id);
/* The id of the special token spelled s[0..n), or -1. */
int32_t llm_tokenizer_special_id(const llm_tokenizer *t, const uint8_t *s,
                                 size_t n);

/* Appends the ids of s[0..n) to out. flags: LLM_ENCODE_ALLOW_SPECIAL makes
** occurrences of special tokens' text those tokens (otherwise they are
** plain text; user-defined tokens always are); LLM_ENCODE_ADD_SPECIAL adds
** BOS/EOS as the tokenizer's flags say (scored tokenizers: BOS). */
int llm_tokenizer_encode(llm_tokenizer *t, const uint8_t *s, size_t n,
                         int flags, llm_ids *out, llm_err *err);

/* As llm_tokenizer_encode, and spans (emptied first) gets for each id the
** [start, end) byte offsets in s of the text it stands for, also when the
** tokenizer normalizes the text (lower case, NFC, ...): a special token
** its text, tokens a template adds an empty span at 0 or n. */
struct llm_spans;
int llm_tokenizer_encode_spans(llm_tokenizer *t, const uint8_t *s, size_t n, int flags,
                               llm_ids *out, struct llm_spans *spans, llm_err *err);

/* Appends the bytes of the given ids to out; fails on an id out of range.
** The first id is decoded as at the start of a text (prev = -1). */
int llm_tokenizer_decode(const llm_tokenizer *t, const int32_t *ids, size_t n,
                         llm_buf *out, llm_err *err);

/* The text that token id stands for when it follows token prev (-1: at the
** start of a text): for BPE its piece; for scored tokenizers the piece, a
** BYTE token's byte, without the leading space at the start or after BOS.
** Points into the tokenizer (valid while it lives); NULL for a bad id. */
const uint8_t *llm_tokenizer_token_text(const llm_tokenizer *t, int32_t prev,
                                        int32_t id, size_t *len);

/* The text of id after an ordinary token (in the middle of a text). */
const uint8_t *llm_tokenizer_token_text_mid(const llm_tokenizer *t,
                                            int32_t id, size_t *len);

/* Appends the text of id after prev (as llm_tokenizer_token_text): for
** streaming, decoding one token at a time gives the same bytes as
** llm_tokenizer_decode of the whole array. */
int llm_tokenizer_decode_next(const llm_tokenizer *t, int32_t prev,
                              int32_t id, llm_buf *out, llm_err *err);

#endif
