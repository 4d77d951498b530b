// OpenBLAS's kernel choice on CPUs newer than its build.
//
// A DYNAMIC_ARCH OpenBLAS (Debian's, Ubuntu's) picks its kernels by CPU model when it loads.
// A model the build does not know can fall back to "Prescott", SSE3 kernels: Debian 12's
// OpenBLAS 0.3.21 does so on an Intel Xeon of family 6, model 207 (Emerald Rapids), where its
// sgemm then runs at 22 GFLOP/s on one core against 135 GFLOP/s with its SkylakeX kernels,
// and Earshot's LSTM ran 2-3x slower than PyTorch instead of faster.
//
// So when the program loads (after OpenBLAS has chosen, before `main` and any BLAS call), this
// file asks OpenBLAS which kernels it took; if they are a pre-AVX set and the CPU and the OS
// support AVX-512 or AVX2, it re-runs OpenBLAS's own choice with OPENBLAS_CORETYPE set to the
// matching kernel set, the variable OpenBLAS documents for forcing one. The entry points are
// looked up with dlsym, so an OpenBLAS without them (a build for one CPU) or a program without
// OpenBLAS simply skips this; a user's own OPENBLAS_CORETYPE is never overridden.
#define _GNU_SOURCE
#include "EarshotKernels.h"
#include "CPUFeatures.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <strings.h>

static const char *ek_forced_core = NULL;

const char *ek_openblas_core(void) {
  char *(*corename)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
  return corename ? corename() : NULL;
}

const char *ek_openblas_forced_core(void) { return ek_forced_core; }

#if defined(__x86_64__)
// OpenBLAS's kernel sets without AVX2 (its names, as `openblas_get_corename` spells them).
static int ek_core_lacks_avx2(const char *core) {
  static const char *const pre_avx2[] = {
    "Unknown", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2",
    "Penryn", "Dunnington", "Nehalem", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona",
    "Nano", "Bobcat", "Sandybridge",
  };
  for (size_t i = 0; i < sizeof pre_avx2 / sizeof pre_avx2[0]; i++)
    if (strcasecmp(core, pre_avx2[i]) == 0) return 1;
  return 0;
}

// The best OpenBLAS kernel set the CPU and the OS support.
static const char *ek_core_for_cpu(void) {
  int features = ek_cpu_features();
  if (features & EK_CPU_AVX512_SKX) return "SkylakeX";
  if (features & EK_CPU_AVX2_FMA) return "Haswell";
  return NULL;
}

__attribute__((constructor)) static void ek_choose_openblas_core(void) {
  if (getenv("OPENBLAS_CORETYPE")) return;
  const char *current = ek_openblas_core();
  void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
  void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
  if (!current || !quit || !init || !ek_core_lacks_avx2(current)) return;
  const char *wanted = ek_core_for_cpu();
  if (!wanted) return;
  // gotoblas_dynamic_init keeps a chosen table; quit clears it, init chooses again and reads
  // OPENBLAS_CORETYPE. No BLAS call can run yet: only OpenBLAS's idle workers exist.
  setenv("OPENBLAS_CORETYPE", wanted, 1);
  quit();
  init();
  const char *now = ek_openblas_core();
  if (now && strcasecmp(now, wanted) == 0) ek_forced_core = wanted;
}
#endif
