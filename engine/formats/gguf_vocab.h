/*
** gguf_vocab.h: the tokenizer stored in a GGUF file's metadata (a whole
** model or a vocabulary-only file), as a vocabulary tokenizer (see
** text/tokenizer.h) that encodes as llama.cpp does.
**
** Keys read (all under "tokenizer."): ggml.model ("llama" -> SentencePiece,
** "gpt2" -> byte-level BPE, "bert" -> WordPiece), ggml.tokens, ggml.scores,
** ggml.token_type (1 normal, 2 unknown and 3 control -> special, 4
** user-defined, 5 unused, 6 byte), ggml.merges ("gpt2": "A B" per line),
** ggml.pre (the pre-tokenizer's name; llama.cpp's list, see
** text/regex_split.h), the special ids ggml.{bos,eos,eot,eom,unknown,
** seperator,padding,cls,mask}_token_id, ggml.add_bos_token,
** ggml.add_eos_token, ggml.add_space_prefix, and chat_template. Defaults
** where a key is absent are llama.cpp's.
*/
#ifndef LLM_GGUF_VOCAB_H
#define LLM_GGUF_VOCAB_H

#include "base.h"
#include "formats/gguf.h"
#include "text/tokenizer.h"

/* What else the file says about its tokenizer; the strings point into the
** llm_gguf (valid while it lives). */
typedef struct llm_gguf_vocab_info {
  const char *model;         /* tokenizer.ggml.model */
  const char *pre;           /* the pre-tokenizer's name ("gpt2" only), or NULL */
  const char *chat_template; /* tokenizer.chat_template, or NULL */
  size_t chat_template_len;
} llm_gguf_vocab_info;

/* Builds the finished tokenizer of GGUF file g. Every problem (no
** tokenizer, an unknown model or pre-tokenizer, arrays of different
** lengths, duplicate pieces, merges naming unknown pieces, ids out of
** range) is an error naming the key and the problem. */
int llm_gguf_vocab_load(const llm_gguf *g, llm_tokenizer **out,
                        llm_gguf_vocab_info *info, llm_err *err);

#endif
