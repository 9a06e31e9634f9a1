/*
** model_impl.h: what model.c (configuration, buffers, the batch's shards)
** and model_blocks.c (the forward and backward of the blocks) share: the
** tensor ids, the activations' and the backward's buffers, and the model
** object itself. Not for use outside nn/model*.c.
*/
#ifndef LLM_MODEL_IMPL_H
#define LLM_MODEL_IMPL_H

#include "nn/layers.h"
#include "nn/model.h"
#include "nn/net.h"

/* The GPT tensors, in buffer order (model.h). */
enum {
  T_WTE, T_WPE, T_LN1W, T_LN1B, T_QKVW, T_QKVB, T_PROJW, T_PROJB, T_LN2W,
  T_LN2B, T_FCW, T_FCB, T_FCPW, T_FCPB, T_LNFW, T_LNFB, T_COUNT
};
/* The Llama family's tensors, in buffer order (model.h); those an
** architecture or configuration does not have are left out. */
enum {
  L_WTE, L_ATTN_NORM, L_QKVW, L_QKVB, L_QNORM, L_KNORM, L_PROJW, L_ATTN_POST,
  L_MLP_NORM, L_FCW, L_FCPW, L_MLP_POST, L_NORM, L_HEAD, L_FREQS, L_COUNT
};
#define MAX_TENSORS 16 /* T_COUNT, L_COUNT and up */
_Static_assert(T_COUNT <= MAX_TENSORS && L_COUNT <= MAX_TENSORS, "tensor ids fit");

/* The activations of one (B, T). */
typedef struct acts {
  float *encoded;                 /* [N, C] */
  float *ln1, *ln1_mean, *ln1_rstd; /* [L, N, C], [L, N], [L, N] */
  float *qkv_lin, *hn_rstd;        /* per-head norms: [L, N, Q] before them, [L, N, NH + NKV] */
  float *qkv;                     /* [L, N, Q] what the attention reads */
  float *att;                     /* [L, B, NH, T, T] */
  float *atty;                    /* [L, N, QW] attention out, by head */
  float *attn_o, *attn_o_rstd;    /* sandwich: [L, N, C] before the norm, [L, N] */
  float *res2;                    /* [L, N, C] residual after attention */
  float *ln2, *ln2_mean, *ln2_rstd;
  float *fch, *fch_gelu;          /* [L, N, H] */
  float *mlp_o, *mlp_o_rstd;      /* sandwich: [L, N, C], [L, N] */
  float *res3;                    /* [L, N, C] residual after the MLP */
  float *lnf, *lnf_mean, *lnf_rstd; /* [N, C], [N], [N] */
  float *logits;                  /* [N, V] */
  float *lse, *losses;            /* [N] */
} acts;

/* The activations live in a few allocations ("chunks") of at most
** chunk_floats each (llm_model_set_max_alloc), an array larger than that
** in one of its own: a big batch needs several GB, and embedders cap one
** allocation (SQLite's allocator at 2 GB). */
#define ACT_CHUNK_DEFAULT ((size_t)1 << 28) /* floats: 1 GiB */
#define ACT_MAX_CHUNKS 24                   /* at least the arrays in acts */

typedef struct act_chunks {
  int n;
  void *mem[ACT_MAX_CHUNKS];
  float *base[ACT_MAX_CHUNKS]; /* mem, aligned to 64 bytes */
  size_t cap[ACT_MAX_CHUNKS];  /* floats */
} act_chunks;


/* Offsets of the backward's buffers. */
typedef struct grad_bufs {
  size_t dres;    /* [N, C] gradient of the residual stream */
  size_t dsmall;  /* [N, C] */
  size_t dbig;    /* [N, max(fc width, qkv width, V)] */
  size_t dmid;    /* Llama: [N, H] */
  size_t total;
} grad_bufs;

/* The sizes and choices of the Llama family's blocks, with the config's
** defaults filled in (the stored config keeps 0 for "the default"). */
typedef struct family {
  const llm_arch_traits *tr;
  int HD, QW, KW, Q, n_rot; /* head, query, key/value and fused widths */
  float att_scale;
} family;

struct llm_model {
  llm_config cfg;
  family f;
  llm_tensor tensors[MAX_TENSORS];
  int slot[MAX_TENSORS]; /* tensor id (T_* or L_*) -> index in tensors, or -1 */
  int n_tensors;
  size_t n_params;
  /* the rotary tables [rope_P, n_rot / 2, 2] of the global and (with
  ** another base) the sliding-window layers, for the positions trained */
  float *rope[2];
  int rope_P;
  float *params, *grads;
  void *params_mem; /* params is this, aligned to 64 bytes */
  int simd;

  /* The last forward: its shape, its tokens (copied: the caller's arrays
  ** need not outlive the call) and whether backward may run. */
  int B, T, has_targets, fwd_ok;
  int32_t *inputs, *targets;
  size_t tok_cap;
  acts a;
  act_chunks chunks;
  size_t chunk_floats;
  float *grad_mem, *gbuf;
  size_t grad_cap;
  float *att_mem, *att_scratch; /* attention's, per pool thread */
  size_t att_cap;
  /* the gradients of data-parallel shards 1.. (shard 0 writes grads) */
  float *sgrad_mem, *shard_grads;
  size_t sgrad_cap;
};

/* The widths of a config's activations: the fused queries, keys and
** values (3C for GPT, QW + 2 KW in the Llama family), the attention's
** output (C, QW), the MLP's first product (H for GPT, gate and up side by
** side, 2H, for the gated units), the per-head norms' rows (NH + NKV heads,
** or none) and the sandwich norms' (C, or none). */
typedef struct widths {
  size_t Q, QW, F, heads, sandwich;
} widths;
widths model_widths(const llm_config *c);

/* The backward's buffers, for the block functions. */
typedef struct bwd_bufs {
  float *dres, *dsmall, *dbig, *dmid;
} bwd_bufs;

/* Sequences [b0, b0 + nb) of the batch, as one thread (or the whole pool)
** runs them; see run_shards. */
typedef struct shard {
  int b0, nb;
  llm_exec x;         /* no pool when the shards run in parallel */
  float *att_scratch; /* the attention's, for x */
  float *grads;       /* where its backward writes the gradients */
  bwd_bufs g;         /* its own backward buffers */
} shard;

/* The whole forward of one shard's rows, up to each row's loss; the whole
** backward, every gradient of the batch's mean loss that these rows
** contribute, written to sh->grads (model_blocks.c). */
void model_shard_forward(llm_model *m, const shard *sh);
void model_shard_backward(llm_model *m, const shard *sh);

#endif
