/*
** gguf_model.h: a model in a GGUF file (llama.cpp's format) as the engine
** runs it: its configuration from the file's metadata, and its tensors
** for the net builder (nn/net.h).
**
** Architectures: llama, qwen2, qwen3, gemma3, gpt2, bert, nomic-bert (the
** message for another names them). The metadata keys read, with ARCH the
** value of general.architecture:
**   ARCH.context_length, .embedding_length, .block_count,
**   .feed_forward_length, .attention.head_count, .attention.head_count_kv,
**   .attention.key_length (= .value_length), .attention.layer_norm_rms_epsilon
**   (RMSNorm) or .attention.layer_norm_epsilon (LayerNorm),
**   .rope.freq_base, .rope.dimension_count, .rope.scaling.type (none or
**   linear) with .rope.scaling.factor, .attention.sliding_window with
**   .attention.sliding_window_pattern and .rope.freq_base_swa (gemma3),
**   .pooling_type (encoders).
** Every value is range-checked; a key with the wrong type, a per-layer
** array where one number is expected, or a feature the engine does not
** have (YaRN scaling, logit soft-capping) is an error naming the key.
*/
#ifndef LLM_GGUF_MODEL_H
#define LLM_GGUF_MODEL_H

#include "base.h"
#include "formats/gguf.h"
#include "nn/net.h"

/* The configuration of g's model; vocab_size is the rows of token_embd. */
int llm_gguf_model_config(const llm_gguf *g, llm_config *c, llm_err *err);

/* The lookup of llm_net_from_tensors over g's tensors. With file NULL the
** tensors have no data (for checking shapes before reading); otherwise
** file is the whole file in memory (of file_size bytes, checked against
** every tensor's extent by the reader). ctx is a llm_gguf_source. */
typedef struct llm_gguf_source {
  const llm_gguf *g;
  const uint8_t *file;
} llm_gguf_source;
int llm_gguf_net_find(void *ctx, const char *name, llm_net_tensor *t);

#endif
