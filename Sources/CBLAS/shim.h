#include <cblas.h>

/* OpenBLAS: stops the thread server's workers (its fork handler uses it); the next
   multi-threaded call starts them again. Not in cblas.h. */
int blas_thread_shutdown_(void);
