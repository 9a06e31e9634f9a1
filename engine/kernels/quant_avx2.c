/*
** quant_avx2.c: the avx2 level of the quantized dot products (see
** qkernels.h). (Being written.)
*/
#include "kernels/qkernels.h"

const llm_qkernel llm_qkernels_avx2[LLM_QTYPE_COUNT] = {{0}};
