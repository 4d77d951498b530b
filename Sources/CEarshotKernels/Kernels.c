// Instantiates KernelBody.h per instruction set and picks one at run time.
#include "EarshotKernels.h"
#include "CPUFeatures.h"

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
int ek_cpu_features(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!(fma && osxsave && avx)) return 0;
  unsigned xlo, xhi;
  __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  if ((xlo & 0x6) != 0x6) return 0;  // XMM and YMM state
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  if (!((b >> 5) & 1)) return 0;  // AVX2
  int features = EK_CPU_AVX2_FMA;
  int f = (b >> 16) & 1, dq = (b >> 17) & 1, cd = (b >> 28) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
  if (f && vl && (xlo & 0xe6) == 0xe6) {  // + opmask, ZMM
    features |= EK_CPU_AVX512_F_VL;
    if (dq && cd && bw) features |= EK_CPU_AVX512_SKX;
  }
  return features;
}

static int ek_cpu_level(void) {
  int features = ek_cpu_features();
  if (features & EK_CPU_AVX512_F_VL) return EK_LEVEL_AVX512;
  if (features & EK_CPU_AVX2_FMA) return EK_LEVEL_AVX2;
  return EK_LEVEL_PORTABLE;
}
#else
int ek_cpu_features(void) { return 0; }
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
