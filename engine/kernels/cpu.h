/* cpu.h: what the processor offers, for choosing and reporting SIMD paths. */
#ifndef LLM_CPU_H
#define LLM_CPU_H

/* The SIMD level in use (llm_simd_best: the widest both compiled in and
** supported by this CPU, unless LLM_SIMD names a lower one):
** "avx512+bf16", "avx512", "avx2+fma", "sse2", "neon" or "scalar". */
const char *llm_cpu_simd_level(void);

#endif
