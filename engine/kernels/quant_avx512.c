/*
** quant_avx512.c: the avx512 level of the quantized dot products (see
** qkernels.h). (Being written.)
*/
#include "kernels/qkernels.h"

const llm_qkernel llm_qkernels_avx512[LLM_QTYPE_COUNT] = {{0}};
