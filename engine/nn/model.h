/*
** model.h: the transformer: configuration, parameters and the training
** forward/backward pass over a batch of token sequences.
**
** Shapes use B (batch), T (time, <= block_size), C (n_embd), V
** (vocab_size), L (n_layer), NH (n_head), HS = C / NH (head size), H
** (n_hidden, the MLP width).
**
** All parameters live in one flat float32 buffer, described by a table of
** named tensors (name, shape, offset); gradients use the same layout in a
** second buffer. Tensors of the layers are stacked along a leading L axis
** ("blocks.attn.qkv.weight" is [L, 3C, C]), as in llm.c and llama2.c, so a
** whole model is a handful of tensors.
**
** Architectures (config.arch):
**   LLM_ARCH_GPT: GPT-2. Token + learned position embeddings (added);
**     per block: LayerNorm, causal multi-head self-attention (fused qkv
**     projection), residual; LayerNorm, MLP C -> H -> C with tanh-GELU,
**     residual; then a final LayerNorm and the output head tied to the
**     token embedding. Linear layers and LayerNorms have biases.
**   LLM_ARCH_LLAMA: the Llama family (llama2.c's layout). Token embedding
**     only; per block: RMSNorm, fused q/k/v projection, rotary position
**     embeddings on queries and keys (pairs of adjacent dimensions within
**     each head, theta rope_theta), causal attention with n_kv_head key and
**     value heads shared by groups of query heads, residual; RMSNorm, SwiGLU
**     MLP (w2 (silu(w1 x) * w3 x)) of width H, residual; a final RMSNorm and
**     the head, tied to the token embedding or separate. No biases.
**   LLM_ARCH_QWEN2, QWEN3, GEMMA3 (fine-tuning of imported models, nn/net.h
**     says what each adds): the Llama block with Qwen2's q/k/v biases, the
**     per-head q/k RMSNorm of Qwen3 and Gemma 3, Gemma's embeddings scaled
**     by sqrt(C), GeGLU (gelu in place of silu), norms of the attention's
**     and the MLP's outputs before their residual additions, and
**     sliding-window layers with their own rotary base. Rotary embeddings
**     turn pairs of adjacent dimensions (llama) or the two halves of the
**     first n_rot dimensions (the others); a head may be wider or narrower
**     than C / NH (head_dim: HD; QW = NH HD, KW = NKV HD).
**
** Tensor table for LLM_ARCH_GPT, in buffer order:
**   wte [V, C]             token embedding (also the output head)
**   wpe [block_size, C]    position embedding
**   blocks.ln1.weight [L, C], blocks.ln1.bias [L, C]
**   blocks.attn.qkv.weight [L, 3C, C], blocks.attn.qkv.bias [L, 3C]
**   blocks.attn.proj.weight [L, C, C], blocks.attn.proj.bias [L, C]
**   blocks.ln2.weight [L, C], blocks.ln2.bias [L, C]
**   blocks.mlp.fc.weight [L, H, C], blocks.mlp.fc.bias [L, H]
**   blocks.mlp.proj.weight [L, C, H], blocks.mlp.proj.bias [L, C]
**   lnf.weight [C], lnf.bias [C]
** Tensor table of the Llama family (HD = C / NH unless head_dim says):
**   wte [V, C]
**   blocks.attn_norm.weight [L, C]
**   blocks.attn.qkv.weight [L, QW + 2 KW, C]  wq rows, then wk, then wv
**   blocks.attn.qkv.bias [L, QW + 2 KW]       qwen2 only
**   blocks.attn.q_norm.weight [L, HD]         qwen3, gemma3
**   blocks.attn.k_norm.weight [L, HD]         qwen3, gemma3
**   blocks.attn.proj.weight [L, C, QW]        wo
**   blocks.attn_post_norm.weight [L, C]       gemma3
**   blocks.mlp_norm.weight [L, C]
**   blocks.mlp.fc.weight [L, 2H, C]           w1 (gate) rows, then w3 (up)
**   blocks.mlp.proj.weight [L, C, H]          w2
**   blocks.mlp_post_norm.weight [L, C]        gemma3
**   norm.weight [C]
**   lm_head.weight [V, C]                     only when the head is not tied
**   rope_freqs [n_rot / 2]                    with has_rope_freqs (Llama 3):
**                                             divides the rotary frequencies;
**                                             constant (its gradient is 0)
** Weight matrices are [out, in] (PyTorch's nn.Linear layout): y = x W^T + b.
*/
#ifndef LLM_MODEL_H
#define LLM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "pool.h"
#include "rng.h"

/* Architectures. GPT and LLAMA are trained here from scratch; QWEN2,
** QWEN3 and GEMMA3 come from GGUF files and fine-tune here; the encoders
** come from GGUF files and run for inference only. All run as
** configurations of the same forward pass (nn/net.h says what each adds). */
enum {
  LLM_ARCH_GPT = 0,
  LLM_ARCH_LLAMA = 1,
  LLM_ARCH_QWEN2 = 2,
  LLM_ARCH_QWEN3 = 3,
  LLM_ARCH_GEMMA3 = 4,
  LLM_ARCH_BERT = 5,
  LLM_ARCH_NOMIC_BERT = 6,
  LLM_ARCH_COUNT = 7
};

typedef struct llm_config {
  int32_t arch;
  int32_t n_layer, n_head, n_kv_head, n_embd, n_hidden;
  int32_t block_size, vocab_size;
  int32_t tied_head;  /* 1: the output head is the token embedding; -1: a
                      ** separate lm_head (Llama only); 0: default (1) */
  float norm_eps;     /* LayerNorm / RMSNorm epsilon */
  float rope_theta;   /* Llama only */
  /* Imported models only (0 for models trained here; nn/net.h): */
  int32_t head_dim;       /* width of a query/key/value head; 0: n_embd / n_head */
  int32_t n_rot;          /* rotary dimensions of a head; 0: head_dim */
  float rope_scale;       /* linear rotary scaling: positions divided by it; 0: 1 */
  float rope_theta_local; /* the rotary base of sliding-window layers; 0: rope_theta */
  int32_t sliding_window; /* keys a sliding-window layer attends to; 0: none */
  int32_t swa_period;     /* with a window: layer l is global when (l + 1) % swa_period == 0 */
  float attn_scale;       /* 0: 1 / sqrt(head_dim) */
  int32_t pooling;        /* the file's pooling of embeddings: LLM_POOL_* */
  int32_t n_token_types;  /* encoders: rows of the token type embedding */
  int32_t has_rope_freqs; /* a stacked model has a rope_freqs tensor */
} llm_config;

/* Whether layer l attends in a sliding window (config.sliding_window). */
int llm_config_layer_local(const llm_config *c, int l);

/* Poolings of embeddings: DEFAULT is the model's own (config.pooling, else
** MEAN); CLS takes the first token. */
enum { LLM_POOL_DEFAULT = 0, LLM_POOL_MEAN = 1, LLM_POOL_LAST = 2, LLM_POOL_CLS = 3 };

/* The name of an architecture ("gpt", "llama", "qwen2", ...: GGUF's
** general.architecture), and the id of a name (-1 when unknown). */
const char *llm_arch_name(int arch);
int llm_arch_by_name(const char *name);

/* Upper bounds checked by llm_config_check. */
#define LLM_MAX_LAYERS 256
#define LLM_MAX_EMBD 16384
#define LLM_MAX_BLOCK 65536      /* GPT's block_size (its position embedding) */
#define LLM_MAX_CONTEXT (1 << 24) /* the context of rotary models */

/* Fills the GPT defaults for fields left 0 (n_kv_head = n_head, n_hidden
** = 4 n_embd, norm_eps = 1e-5, tied_head = 1, rope_theta 10000) and checks
** everything: an architecture that trains, every size positive and within
** bounds, n_embd divisible by n_head (unless head_dim is set), n_head by
** n_kv_head, the parameter count representable. The Llama family's other
** fields keep 0 for their defaults (nn/net.h's llm_net_config_check fills
** them in for inference). */
int llm_config_check(llm_config *c, llm_err *err);

/* Number of parameters of a (checked) config. */
size_t llm_config_n_params(const llm_config *c);

typedef struct llm_tensor {
  char name[48];
  int ndim;
  int64_t shape[4];
  size_t offset; /* in floats, into the parameter buffer */
  size_t numel;
  int decay;     /* AdamW applies weight decay (ndim >= 2) */
} llm_tensor;

typedef struct llm_model llm_model;

/* Allocates a model with all parameters zero. */
int llm_model_new(const llm_config *c, llm_model **out, llm_err *err);
void llm_model_free(llm_model *m);

const llm_config *llm_model_config(const llm_model *m);
int llm_model_n_tensors(const llm_model *m);
const llm_tensor *llm_model_tensor(const llm_model *m, int i);
const llm_tensor *llm_model_find(const llm_model *m, const char *name);
float *llm_model_params(llm_model *m);
size_t llm_model_n_params(const llm_model *m);

/* GPT-2's initialisation: weights ~ N(0, 0.02), the residual projections
** (attn.proj, mlp.proj) ~ N(0, 0.02 / sqrt(2 L)), biases 0, norm gains 1. */
void llm_model_init(llm_model *m, llm_rng *rng);

/* Bytes the training of (B, T) on two threads needs: parameters,
** gradients (one copy per thread), AdamW moments and activations (an
** estimate within a few percent, for the caller's memory limit). */
size_t llm_model_train_bytes(const llm_config *c, int B, int T);

/* The largest single allocation the training buffers may ask for (default
** 1 GiB, as embedders cap it: SQLite at 2 GB). The activations of a big
** batch are spread over several allocations of at most this size; only an
** array bigger than it (one layer's attention scores of a huge batch) needs
** more. Takes effect when the buffers are next (re)allocated. */
void llm_model_set_max_alloc(llm_model *m, size_t bytes);

/* The training forward pass: inputs and targets are [B, T] token ids
** (checked to be in range; targets may be NULL, then no loss). Keeps the
** activations for llm_model_backward and sets *loss to the mean
** cross-entropy over all B*T positions. Buffers for (B, T) are allocated
** on first use and reused while they are big enough. */
int llm_model_forward(llm_model *m, const int32_t *inputs,
                      const int32_t *targets, int B, int T, llm_pool *pool,
                      float *loss, llm_err *err);

/* Gradients of the mean loss of the last forward (which needs targets)
** with respect to every parameter, written (not accumulated) into the
** gradient buffer. When B is a multiple of the pool's threads, each thread
** runs the forward and backward of its own B / threads sequences and the
** threads' gradients are summed (model.c); the results are the same bits
** for the same thread count, and close across thread counts. */
int llm_model_backward(llm_model *m, llm_pool *pool, llm_err *err);

/* The gradient buffer (same layout as the parameters; allocated by the
** first backward, NULL before). */
float *llm_model_grads(llm_model *m);

/* Logits [B, T, V] of the last forward. */
const float *llm_model_logits(const llm_model *m);

#endif
