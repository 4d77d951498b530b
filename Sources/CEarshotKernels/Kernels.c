// Instantiates KernelBody.h per instruction set and picks one at run time.
#include "EarshotKernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#define EK_VPP 8  // vectors per packed panel

#define EK_BODY "KernelBody.h"
#include "InstantiateLevels.h"
#undef EK_BODY

#if defined(__x86_64__)
// What the CPU and the OS (saved register state, XCR0) support.
static int ek_cpu_level(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return EK_LEVEL_PORTABLE;
  int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!(fma && osxsave && avx)) return EK_LEVEL_PORTABLE;
  unsigned xlo, xhi;
  __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  if ((xlo & 0x6) != 0x6) return EK_LEVEL_PORTABLE;  // XMM and YMM state
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return EK_LEVEL_PORTABLE;
  int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512vl = (b >> 31) & 1;
  if (!avx2) return EK_LEVEL_PORTABLE;
  if (avx512f && avx512vl && (xlo & 0xe6) == 0xe6) return EK_LEVEL_AVX512;  // + opmask, ZMM
  return EK_LEVEL_AVX2;
}
#else
static int ek_cpu_level(void) { return EK_LEVEL_PORTABLE; }
#endif

int ek_best_level(void) {
  int level = ek_cpu_level();
  const char *cap = getenv("EARSHOT_KERNELS");
  if (cap) {
    if (strcmp(cap, "portable") == 0 && level > EK_LEVEL_PORTABLE) level = EK_LEVEL_PORTABLE;
    if (strcmp(cap, "avx2") == 0 && level > EK_LEVEL_AVX2) level = EK_LEVEL_AVX2;
  }
  return level;
}

const ek_kernels *ek_kernels_for(int level) {
  int cpu = ek_cpu_level();
  if (level > cpu) level = cpu;
#if defined(__x86_64__)
  if (level >= EK_LEVEL_AVX512) return &kernels_avx512;
  if (level >= EK_LEVEL_AVX2) return &kernels_avx2;
#endif
  return &kernels_portable;
}

long ek_packed_count(const ek_kernels *kernels, long k, long n) {
  long w = kernels->panel_width;
  return (n + w - 1) / w * w * k;
}
