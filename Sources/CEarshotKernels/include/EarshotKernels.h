// Vectorised float kernels of EarshotNeural, compiled once per instruction set (portable,
// AVX2 + FMA, AVX-512) and picked at run time from what the CPU supports. Plain C, no
// unsafeFlags: the x86 variants use per-function target attributes.
#ifndef EARSHOT_KERNELS_H
#define EARSHOT_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set levels, in increasing order.
enum {
  EK_LEVEL_PORTABLE = 0,  // baseline vectors (SSE2 on x86-64, NEON on aarch64)
  EK_LEVEL_AVX2 = 1,      // AVX2 + FMA, 8 lanes
  EK_LEVEL_AVX512 = 2,    // AVX-512F, 16 lanes
};

/// One set of kernels, all for one instruction set.
typedef struct ek_kernels {
  /// The level these kernels were compiled for.
  int level;
  /// Columns per packed panel (see `pack`).
  long panel_width;

  /// One LSTM cell for one sequence and step. `row`: pre-activations [i f g o] (4h floats),
  /// to which `bias` (4h floats; NULL: none) is added first; c = f * c_prev + i * g (c = i * g
  /// when c_prev is NULL), hidden = o * tanh(c). c_prev may equal c. When keep_gates is
  /// non-zero, the activated gates go back into `row` and tanh(c) into `tanh_c`.
  void (*lstm_cell_forward)(float *row, const float *bias, long h, const float *c_prev, float *c,
                            float *tanh_c, float *hidden, int keep_gates);

  /// Backward of one LSTM cell for one sequence and step, from the activated gates [i f g o]
  /// and tanh(c) kept by forward. dh = d_out + dh_next; on return dc_next holds dc * f (the
  /// gradient reaching c_prev), and d_gates (4h) the gradients of the pre-activations.
  void (*lstm_cell_backward)(const float *gates, const float *tanh_c, const float *c_prev,
                             const float *d_out, const float *dh_next, float *dc_next,
                             float *d_gates, long h);

  /// Packs B, a (k, n) matrix, into panels of `panel_width` columns: panel p holds
  /// B[kk, p*w + j] at (p*k + kk)*w + j, zero past column n. B[kk, j] is b[kk*ldb + j], or
  /// b[j*ldb + kk] when `transposed` is non-zero. `packed` holds packed_count(k, n) floats
  /// and is best 64-byte aligned.
  void (*pack)(const float *b, long ldb, int transposed, long k, long n, float *packed);

  /// y[r, j] += sum_kk x[r, kk] * B[kk, j] for r < rows, j < n, with B packed by `pack`.
  /// Every y element is one sum in kk order, so the result does not depend on `reverse`,
  /// which walks the panels last to first (alternating it between calls keeps the panels
  /// used last, still in cache, first).
  void (*packed_product)(const float *x, long ldx, long rows, long k, const float *packed,
                         long n, float *y, long ldy, int reverse);

  /// One Adam / AdamW step over `count` parameters, PyTorch's single-tensor update in the
  /// same operation order as Optimizer.swift, without fused multiply-adds (so every level
  /// gives the same bits):
  ///   g = grad (+ weight_decay * w unless decoupled);  w *= decay when decoupled
  ///   m += (g - m) * (1 - beta1);  v = v * beta2 + (1 - beta2) * g * g
  ///   w -= step_size * (m / (sqrt(v) / bias2_sqrt + epsilon))
  void (*adam_update)(float *w, float *m, float *v, const float *grad, long count, float beta1,
                      float beta2, float step_size, float bias2_sqrt, float epsilon,
                      float weight_decay, int decoupled, float decay);
} ek_kernels;

/// The most capable level this CPU (and OS) supports. EARSHOT_KERNELS=portable|avx2|avx512
/// in the environment caps it (for measurements).
int ek_best_level(void);

/// The kernels of `level`, lowered to what the CPU supports.
const ek_kernels *ek_kernels_for(int level);

/// Asks the kernel (Linux) to back the whole 2 MiB pages inside [start, start + bytes) with
/// transparent huge pages; call before the memory is first written. A hint: nothing happens
/// where huge pages are off, on other systems, or for less than two such pages. A 10-minute
/// recording's 80 log-mel bands (19 MB) then cost about ten page faults instead of 4,700.
void ek_advise_huge_pages(void *start, long bytes);

/// glibc: keeps freed memory in the heap for reuse (mallopt M_MMAP_THRESHOLD 512 MB,
/// M_TRIM_THRESHOLD INT_MAX) for the whole process. 1 when both settings took; 0 on other C
/// libraries or when glibc refused one.
int ek_keep_freed_memory(void);

/// The kernel set OpenBLAS uses (`openblas_get_corename`, e.g. "SkylakeX", "Haswell",
/// "Zen"), or NULL when the process has no OpenBLAS.
const char *ek_openblas_core(void);

/// The kernel set Earshot made OpenBLAS use when the program loaded, because OpenBLAS had
/// fallen back to pre-AVX2 kernels on a CPU it does not know (see OpenBLASCore.c), or NULL
/// when it left OpenBLAS's own choice alone.
const char *ek_openblas_forced_core(void);

/// Floats that `pack` writes for a (k, n) matrix with these kernels.
long ek_packed_count(const ek_kernels *kernels, long k, long n);

#ifdef __cplusplus
}
#endif
#endif
