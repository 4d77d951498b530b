// Memory hints for the large buffers of whole recordings.
#include "EarshotKernels.h"

#include <limits.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void ek_advise_huge_pages(void *start, long bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t first = ((uintptr_t)start + huge - 1) / huge * huge;
  uintptr_t end = ((uintptr_t)start + (uintptr_t)(bytes > 0 ? bytes : 0)) / huge * huge;
  if (end >= first + 2 * huge) (void)madvise((void *)first, end - first, MADV_HUGEPAGE);
#else
  (void)start;
  (void)bytes;
#endif
}

int ek_keep_freed_memory(void) {
#if defined(__GLIBC__)
  // Blocks under 512 MB come from the heap (glibc's default threshold starts at 128 kB and
  // moves with what is freed), and the heap's free top is never handed back to the kernel: a
  // block freed in one training step is reused by the next instead of being unmapped and
  // faulted in (and zeroed) again.
  int fixed = mallopt(M_MMAP_THRESHOLD, 512 * 1024 * 1024);
  int kept = mallopt(M_TRIM_THRESHOLD, INT_MAX);
  return fixed == 1 && kept == 1;
#else
  return 0;
#endif
}
