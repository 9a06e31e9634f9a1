/*
** llama2c_ckpt.h: llama2.c model checkpoints, read into and written from a
** Llama-architecture llm_model.
**
** Two formats, both little-endian float32:
**   legacy (version 0): a header of seven int32 (dim, hidden_dim,
**     n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative
**     vocab_size means the classifier is not shared with the embedding),
**     then token embedding [V, dim], attention RMSNorm weights [L, dim],
**     wq [L, dim, dim], wk [L, kv_dim, dim], wv [L, kv_dim, dim], wo [L,
**     dim, dim], FFN RMSNorm weights [L, dim], w1 [L, hidden, dim], w2 [L,
**     dim, hidden], w3 [L, hidden, dim], the final RMSNorm [dim], two
**     legacy RoPE tables [seq_len, head_size / 2] (skipped), then the
**     classifier [V, dim] when not shared;
**   version 1: uint32 magic 0x616b3432 ("ak42"), int32 version 1, the
**     seven int32 (vocab_size positive), a uint8 shared-classifier flag, zero
**     padding to 256 bytes, then attention norms, FFN norms, the final norm,
**     the token embedding, wq, wk, wv, wo, w1, w2, w3 (each for all layers),
**     and the classifier when not shared.
** wq/wk/wv go to the model's fused blocks.attn.qkv.weight and w1/w3 to
** blocks.mlp.fc.weight (model.h); the rest map one to one.
**
** Everything in the header is checked, and the file's size must be exactly
** what the header implies, before anything large is allocated.
*/
#ifndef LLM_LLAMA2C_CKPT_H
#define LLM_LLAMA2C_CKPT_H

#include <stdint.h>
#include <stdio.h>

#include "base.h"
#include "nn/model.h"

/* Bytes a header takes at most (llm_llama2c_parse_header reads this many,
** or the whole file when it is shorter). */
#define LLM_LLAMA2C_HEADER_MAX 256

typedef struct llm_llama2c_info {
  int version;        /* 0 legacy, 1 */
  llm_config config;  /* the Llama config it describes (checked) */
  uint64_t data_offset, file_size;
} llm_llama2c_info;

/* Parses head[0..n) (the file's first bytes) for a file of file_size bytes. */
int llm_llama2c_parse_header(const uint8_t *head, size_t n, uint64_t file_size,
                             llm_llama2c_info *info, llm_err *err);

/* Reads the tensors of a checkpoint whose header gave info into m (made
** from info->config). Rejects non-finite weights. */
int llm_llama2c_read_weights(FILE *f, const llm_llama2c_info *info, llm_model *m,
                             llm_err *err);

/* Writes a Llama-architecture model in the legacy format. */
int llm_llama2c_write(FILE *f, const llm_model *m, llm_err *err);

#endif
