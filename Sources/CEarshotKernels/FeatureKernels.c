// Instantiates FeatureKernelBody.h per instruction set and picks one at run time (the CPU
// check is ek_kernels_for's, in Kernels.c).
#include "EarshotFeatureKernels.h"
#include "EarshotKernels.h"

#include <string.h>

// No fused multiply-adds anywhere here: every level must round as the scalar code does.
#pragma clang fp contract(off)

// Eight-lane float and double vectors, whatever the level (the compiler splits them as needed).
typedef float ek_v8f __attribute__((vector_size(32)));
typedef double ek_v8d __attribute__((vector_size(64)));

#define EK_W 4
#define EK_SUFFIX portable
#define EK_LEVEL EK_LEVEL_PORTABLE
#include "FeatureKernelBody.h"
#undef EK_W
#undef EK_SUFFIX
#undef EK_LEVEL

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define EK_W 8
#define EK_SUFFIX avx2
#define EK_LEVEL EK_LEVEL_AVX2
#include "FeatureKernelBody.h"
#undef EK_W
#undef EK_SUFFIX
#undef EK_LEVEL
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx2,fma"))), apply_to = function)
#define EK_W 16
#define EK_SUFFIX avx512
#define EK_LEVEL EK_LEVEL_AVX512
#include "FeatureKernelBody.h"
#undef EK_W
#undef EK_SUFFIX
#undef EK_LEVEL
#pragma clang attribute pop
#endif

const ek_feature_kernels *ek_feature_kernels_for(int level) {
  // ek_kernels_for lowers the level to what this CPU and OS support.
  level = ek_kernels_for(level)->level;
#if defined(__x86_64__)
  if (level >= EK_LEVEL_AVX512) return &feature_kernels_avx512;
  if (level >= EK_LEVEL_AVX2) return &feature_kernels_avx2;
#endif
  return &feature_kernels_portable;
}
