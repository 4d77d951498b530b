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

#define EK_BODY "FeatureKernelBody.h"
#include "InstantiateLevels.h"
#undef EK_BODY

const ek_feature_kernels *ek_feature_kernels_for(int level) {
  // ek_kernels_for lowers the level to what this CPU and OS support.
  level = ek_kernels_for(level)->level;
#if defined(__x86_64__)
  if (level >= EK_LEVEL_AVX512) return &feature_kernels_avx512;
  if (level >= EK_LEVEL_AVX2) return &feature_kernels_avx2;
#endif
  return &feature_kernels_portable;
}
