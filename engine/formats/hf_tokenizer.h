/*
** hf_tokenizer.h: a Hugging Face tokenizer.json as a vocabulary tokenizer
** (text/tokenizer.h) that encodes as the Hugging Face tokenizers library
** does.
**
** Read: model (BPE: vocab, merges as "a b" strings or ["a", "b"] pairs,
** unk_token, byte_fallback, fuse_unk, ignore_merges; WordPiece: vocab,
** unk_token, continuing_subword_prefix, max_input_chars_per_word),
** added_tokens (id, content, special, lstrip, rstrip, single_word,
** normalized),
** normalizer, pre_tokenizer and decoder (text/hf_pipeline.h), and
** post_processor (TemplateProcessing, BertProcessing, RobertaProcessing,
** ByteLevel, Sequence: what an encoding with special tokens adds). A
** ByteLevel pre-tokenizer makes the BPE byte-level; without one its
** symbols are characters, with byte fallback to "<0xXX>" tokens (Llama 2,
** Mistral, Gemma). Unigram and WordLevel models are refused by name.
*/
#ifndef LLM_HF_TOKENIZER_H
#define LLM_HF_TOKENIZER_H

#include "base.h"
#include "formats/json.h"
#include "text/tokenizer.h"

/* Builds the finished tokenizer that root (the parsed tokenizer.json)
** describes. Every problem is an error naming the field: an unsupported
** model, ids used twice or missing, merges naming unknown pieces, a regex
** that does not compile, an unknown normalizer, pre-tokenizer or decoder. */
int llm_hf_tokenizer_build(const llm_json *root, llm_tokenizer **out, llm_err *err);

/* Attaches the pipeline (normalizer, pre_tokenizer, decoder) described in
** obj, an object with those members (tokenizer.json's root, or the copy a
** stored tokenizer keeps), to an unfinished vocabulary tokenizer. */
int llm_hf_tokenizer_attach(const llm_json *obj, llm_tokenizer *t, llm_err *err);

#endif
