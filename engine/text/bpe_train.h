/*
** bpe_train.h: learning byte-level BPE merges from text.
**
** Feed text with llm_bpe_trainer_add (any bytes; it is pre-tokenized with the
** trainer's mode and identical pieces are counted once with a multiplicity),
** then llm_bpe_trainer_run learns up to n_merges merges. Symbols 0..255 are
** the bytes; merge i creates symbol 256 + i from the pair (left, right).
** At each step the most frequent adjacent pair (counted over all pieces,
** weighted by multiplicity) is merged; ties go to the smallest (left, right)
** so the result is deterministic. Training stops early when the best pair
** occurs fewer than min_frequency times (or no pair is left).
**
** Pair counts are updated incrementally: each merge touches only the places
** where its pair occurs, so the cost grows with the corpus, not with
** corpus x merges.
*/
#ifndef LLM_BPE_TRAIN_H
#define LLM_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"

typedef struct llm_bpe_trainer llm_bpe_trainer;

typedef struct llm_bpe_merge {
  int32_t left, right; /* symbol ids merged */
  uint64_t count;      /* the pair's weighted count when it was merged */
} llm_bpe_merge;

/* mode: LLM_PRETOK_GPT2 or LLM_PRETOK_NONE (pretok.h). */
int llm_bpe_trainer_new(llm_bpe_trainer **out, int mode, llm_err *err);

int llm_bpe_trainer_add(llm_bpe_trainer *t, const uint8_t *text, size_t n,
                        llm_err *err);

/* Learns merges; *out (allocated with llm_malloc, freed by the caller with
** llm_free) receives *n_out <= n_merges merges in order. stop (may be NULL)
** is polled every few merges; when it fires, the result is LLM_EINTR. */
int llm_bpe_trainer_run(llm_bpe_trainer *t, int n_merges,
                        uint64_t min_frequency, const llm_stop *stop,
                        llm_bpe_merge **out, int *n_out, llm_err *err);

/* Statistics for the summary: distinct pieces and total bytes added. */
size_t llm_bpe_trainer_pieces(const llm_bpe_trainer *t);
uint64_t llm_bpe_trainer_bytes(const llm_bpe_trainer *t);

void llm_bpe_trainer_free(llm_bpe_trainer *t);

#endif
