/*
** net.h: a model's weights as the inference forward pass (infer.h) reads
** them: per layer, matrices of any ggml type (nn/linear.h) and float32
** vectors, for every architecture the engine runs.
**
** One forward pass serves all architectures; an architecture is a set of
** traits (which norm, where the norms go, the MLP's activation and gate,
** the rotary style, causal or bidirectional attention, ...) plus the
** tensors it has. Optional tensors (biases, an untied head, rotary
** frequency factors) are simply NULL when absent.
**
**   arch        norm  place  MLP            rotary    attention  extras
**   gpt         LN    pre    GELU           absolute  causal     biases
**   llama       RMS   pre    SiLU gated     pairs     causal     rope_freqs
**   qwen2       RMS   pre    SiLU gated     halves    causal     q/k/v biases
**   qwen3       RMS   pre    SiLU gated     halves    causal     per-head q/k norms
**   gemma3      RMS   pre    GELU gated     halves    causal     q/k norms, norms after
**                                                                attention and MLP too,
**                                                                embeddings x sqrt(C),
**                                                                sliding-window layers
**   bert        LN    post   GELU           absolute  both ways  token types, biases,
**                                                                norm after embeddings
**   nomic-bert  LN    post   SiLU gated     halves    both ways  token types, fused qkv
** ("pairs" rotate dimensions (2i, 2i + 1) of a head, "halves" (i, i +
** n_rot / 2); "post" puts the norm after each residual addition.)
**
** Tensors are found by their GGUF names (llama.cpp's): token_embd,
** position_embd, token_types, token_embd_norm, output_norm, output,
** rope_freqs, and per layer blk.N.{attn_norm, attn_q, attn_k, attn_v,
** attn_qkv, attn_output, attn_q_norm, attn_k_norm, post_attention_norm,
** attn_output_norm, ffn_norm, ffn_gate, ffn_up, ffn_down, post_ffw_norm,
** layer_output_norm}.weight (and .bias). Matrices are [out, in]; GGUF
** lists dimensions innermost first, so a matrix's ne is {in, out}.
*/
#ifndef LLM_NET_H
#define LLM_NET_H

#include <stdint.h>

#include "base.h"
#include "nn/linear.h"
#include "nn/model.h"

enum { LLM_ROPE_NONE = 0, LLM_ROPE_PAIRS = 1, LLM_ROPE_HALVES = 2 };

typedef struct llm_arch_traits {
  const char *name;  /* GGUF's general.architecture */
  int layer_norm;    /* LayerNorm with bias; else RMSNorm */
  int post_norm;     /* norms after each residual addition (BERT) */
  int gated;         /* MLP: act(gate x) * (up x) */
  int gelu;          /* activation: GELU (tanh form); else SiLU (gated MLPs only) */
  int causal;        /* attention only to earlier tokens */
  int rope;          /* LLM_ROPE_*; NONE: learned absolute positions */
  int qk_norm;       /* per-head RMSNorm of queries and keys */
  int sandwich;      /* RMSNorm of the attention's and MLP's outputs too */
  int embd_scale;    /* token embeddings multiplied by sqrt(n_embd) */
  int embd_norm;     /* LayerNorm after the embeddings */
  int token_types;   /* a token type embedding (type 0) is added */
  int decoder;       /* generates text (else an encoder, for embeddings) */
} llm_arch_traits;

/* The traits of an architecture id (LLM_ARCH_*), or NULL. */
const llm_arch_traits *llm_arch_traits_get(int arch);

typedef struct llm_net_layer {
  /* pre-norm: before the attention; post-norm: after its residual */
  const float *attn_norm, *attn_norm_b;
  llm_wmat q, k, v, o;                  /* [NH HD, C], [NKV HD, C] x2, [C, NH HD] */
  const float *bq, *bk, *bv, *bo;
  const float *q_norm, *k_norm;         /* [HD] */
  const float *attn_post_norm;          /* sandwich */
  const float *ffn_norm, *ffn_norm_b;   /* as attn_norm, for the MLP */
  llm_wmat gate, up, down;              /* [H, C] x2, [C, H]; gate absent if not gated */
  const float *b_gate, *b_up, *b_down;
  const float *ffn_post_norm;           /* sandwich */
  int local;                            /* sliding-window attention */
} llm_net_layer;

typedef struct llm_net {
  llm_config cfg;
  const llm_arch_traits *tr;
  llm_wmat tok_embd, pos_embd, type_embd, output; /* [V, C], [P, C], [types, C], [V, C] */
  const float *embd_norm, *embd_norm_b, *out_norm, *out_norm_b;
  const float *rope_freqs; /* [n_rot / 2]: the frequencies are divided by these */
  llm_net_layer *layers;   /* n_layer of them */
  int64_t max_cols;        /* the widest matrix input (for llm_linear_scratch) */
} llm_net;

/* Fills the defaults of an inference configuration's unset fields
** (head_dim, n_rot, rope_theta, norm_eps, tied_head) and checks every
** field against the architecture. */
int llm_net_config_check(llm_config *c, llm_err *err);

/* The widths of a head and of the query and key/value projections. */
int llm_net_head_dim(const llm_config *c);

/* A tensor as a source of weights has it: data may be NULL when only the
** shapes are being checked (before a file's data is read). */
typedef struct llm_net_tensor {
  const void *data;
  uint32_t type;
  int n_dims;
  int64_t ne[4];
  int packed; /* data repacked (llm_net_pack): read it through llm_qpack_read */
} llm_net_tensor;

/* Looks up a tensor by GGUF name; returns 1 and fills *t when present. */
typedef int (*llm_net_find)(void *ctx, const char *name, llm_net_tensor *t);

/* Builds the views of a model from its tensors: every tensor the
** architecture needs must be present with the expected shape (matrices of
** a type the engine runs, vectors float32), and the optional ones, when
** present, too. The config is checked first (llm_net_config_check). */
int llm_net_from_tensors(llm_net *net, const llm_config *c, llm_net_find find, void *ctx, llm_err *err);

/* The views of a model trained here (its stacked float32 tensors). */
int llm_net_from_model(llm_net *net, const llm_model *m, llm_err *err);

/* The tensors of a net, by GGUF name, as a file of its architecture
** holds them (the inverse of llm_net_from_tensors): each is passed to
** visit(ctx, name, &t) with t.data its bytes (t.n_dims 1 for vectors, 2
** for matrices, ne GGUF's: {cols, rows}); GPT-2 and nomic-bert have their
** q, k, v as one attn_qkv (so the three must be adjacent: they are in
** every net the builders make of such files and of models trained here).
** The head is left out when tied. Stops at (and returns) the first
** non-zero return of visit. */
typedef int (*llm_net_visit)(void *ctx, const char *name, const llm_net_tensor *t);
int llm_net_tensors(const llm_net *net, llm_net_visit visit, void *ctx);

/* Repacks the layers' matrices and the head (with the token table when
** tied) in place for faster products where the CPU's kernels have a packed
** layout (nn/linear.h's llm_wmat_pack); the caller owns the weights' memory. q, k, v (and gate, up) are packed all
** or none, so that those adjacent still run as one product. 0, or -1 when
** out of memory (the net stays usable: some matrices may be packed). */
int llm_net_pack(llm_net *net, int simd);

/* Frees what the builders allocated (not the weights). */
void llm_net_free(llm_net *net);

#endif
