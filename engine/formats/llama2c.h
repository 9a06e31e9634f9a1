/*
** llama2c.h: the file formats of Karpathy's llama2.c, read from memory.
**
** Tokenizer file (tokenizer.bin, tok512.bin, ...), little-endian:
**   int32 max_token_length
**   then per token:  float32 score, int32 length, length bytes
** The number of tokens is not in the file: the checkpoint's header gives
** it, or the tokens run to the end of the data. Ids 0..2 are <unk>, <s>,
** </s> (llama2.c's export writes the last two as "\n<s>\n" and
** "\n</s>\n", for printing: they are read back as "<s>" and "</s>"), ids
** 3..258 the byte-fallback tokens "<0x00>".."<0xFF>", then the pieces,
** with SentencePiece's U+2581 already turned into a space.
**
** Everything is validated (sizes, lengths, finite scores, the byte-token
** names, the count) before the tokenizer is allocated; errors name the
** token index and its byte offset.
*/
#ifndef LLM_LLAMA2C_H
#define LLM_LLAMA2C_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base.h"
#include "text/tokenizer.h"

/* Parses a tokenizer file data[0..len) into a scored tokenizer (see
** tokenizer.h). n_vocab: the number of tokens it must hold, exactly (the
** data must end after them), or -1 to read tokens until the end of the
** data, which must then fall exactly at a token's end. */
int llm_llama2c_tokenizer_parse(const uint8_t *data, size_t len,
                                int32_t n_vocab, llm_tokenizer **out,
                                llm_err *err);

/* Writes a scored tokenizer as a llama2.c tokenizer file, as llama2.c's
** own export does (<s> and </s> as "\n<s>\n" and "\n</s>\n",
** max_token_length the longest piece written), so a file read and written
** back comes out byte for byte the same. */
int llm_llama2c_tokenizer_write(FILE *f, const llm_tokenizer *t, llm_err *err);

#endif
