/* cpu.c: run-time detection of SIMD support (see cpu.h). */
#include "kernels/cpu.h"

const char *llm_cpu_simd_level(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") ? "avx512+bf16" : "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2+fma";
  return "sse2";
#elif defined(__aarch64__)
  return "neon";
#else
  return "scalar";
#endif
}
