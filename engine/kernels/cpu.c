/* cpu.c: run-time detection of SIMD support (see cpu.h). */
#include "kernels/cpu.h"

#include "kernels/vec.h"

const char *llm_cpu_simd_level(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  return llm_simd_name(llm_simd_best());
#elif defined(__aarch64__)
  return "neon";
#else
  return "scalar";
#endif
}
