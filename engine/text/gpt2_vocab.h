/*
** gpt2_vocab.h: loading a GPT-2 style tokenizer from its two files,
** encoder.json and vocab.bpe (as shipped by OpenAI and used by RoBERTa and
** other byte-level BPE models).
**
** encoder.json is a JSON object mapping each token to its id. Tokens are
** byte strings written with GPT-2's reversible byte-to-character map: bytes
** 33..126, 161..172 and 174..255 stand for themselves (as code points), the
** other 68 bytes (0..32, 127..160, 173), in increasing order, become the code
** points U+0100, U+0101, ... (so a space is written 'Ġ' U+0120).
**
** vocab.bpe starts with a "#version: 0.2" line (any first line starting with
** '#' is a header; a version other than 0.2 is rejected), then holds one
** merge per line, "A B": two tokens in the same encoding separated by one
** space; the merge rank is its 0-based index among the merge lines. Blank
** lines may only end the file; a CR before the LF is tolerated.
**
** The loaded tokenizer (pre-tokenization LLM_PRETOK_GPT2) has:
**   BYTE    the 256 one-byte tokens (exactly one per byte value);
**   MERGE   each token that is the concatenation A+B of a merge line, with
**           left = id(A), right = id(B) and the line's rank;
**   SPECIAL every other token (GPT-2: "<|endoftext|>" = 50256).
** Ids must be exactly 0..n-1. A merge must name tokens that exist, and no
** token may be produced by two merges.
*/
#ifndef LLM_GPT2_VOCAB_H
#define LLM_GPT2_VOCAB_H

#include <stddef.h>

#include "base.h"
#include "text/tokenizer.h"

/* Builds a finished tokenizer from the contents of encoder.json
** (encoder_json[0..n_enc)) and vocab.bpe (vocab_bpe[0..n_bpe)). On failure
** *out is NULL and err names the file, line or byte, and the problem. */
int llm_gpt2_vocab_load(const char *encoder_json, size_t n_enc,
                        const char *vocab_bpe, size_t n_bpe,
                        llm_tokenizer **out, llm_err *err);

#endif
