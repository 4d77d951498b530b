// Memory hints for the large buffers of whole recordings.
#include "EarshotKernels.h"

#include <stdint.h>
#if defined(__linux__)
#include <sys/mman.h>
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
