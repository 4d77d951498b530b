// What the CPU and the OS support, for the files that pick code paths by it (Kernels.c, the
// kernels' instruction set; OpenBLASCore.c, OpenBLAS's). Private to CEarshotKernels.
#ifndef EK_CPU_FEATURES_H
#define EK_CPU_FEATURES_H

enum {
  EK_CPU_AVX2_FMA = 1,     // AVX2 and FMA, with the YMM state saved (XCR0)
  EK_CPU_AVX512_F_VL = 2,  // also AVX-512 F and VL, with the opmask and ZMM state saved
  EK_CPU_AVX512_SKX = 4,   // also AVX-512 CD, DQ and BW: Skylake-X's set, OpenBLAS's SkylakeX kernels
};

// A mask of the EK_CPU_ flags; 0 off x86-64.
int ek_cpu_features(void);

#endif
