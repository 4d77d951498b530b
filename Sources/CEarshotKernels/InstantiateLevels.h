// Includes EK_BODY (a quoted file name the includer defines) once per instruction set, with
// EK_W (floats per vector), EK_SUFFIX, EK_LEVEL, N(name) (name_suffix) and W (EK_W) defined:
// portable, 4-lane vectors (SSE2 on x86-64, NEON on aarch64), no FMA; and on x86-64 AVX2+FMA
// (8 lanes) and AVX-512 (16 lanes), each wrapped in its target attribute so that the rest of
// the program needs no flags. No include guard on purpose.
#define EK_CAT2(a, b) a##_##b
#define EK_CAT(a, b) EK_CAT2(a, b)
#define N(name) EK_CAT(name, EK_SUFFIX)
#define W EK_W

#define EK_W 4
#define EK_SUFFIX portable
#define EK_LEVEL EK_LEVEL_PORTABLE
#include EK_BODY
#undef EK_W
#undef EK_SUFFIX
#undef EK_LEVEL

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define EK_W 8
#define EK_SUFFIX avx2
#define EK_LEVEL EK_LEVEL_AVX2
#include EK_BODY
#undef EK_W
#undef EK_SUFFIX
#undef EK_LEVEL
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx2,fma"))), apply_to = function)
#define EK_W 16
#define EK_SUFFIX avx512
#define EK_LEVEL EK_LEVEL_AVX512
#include EK_BODY
#undef EK_W
#undef EK_SUFFIX
#undef EK_LEVEL
#pragma clang attribute pop
#endif

#undef W
#undef N
#undef EK_CAT
#undef EK_CAT2
