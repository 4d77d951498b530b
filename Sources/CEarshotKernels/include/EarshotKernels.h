// Vectorised float kernels of EarshotNeural, compiled once per instruction set (portable,
// AVX2 + FMA, AVX-512) and picked at run time from what the CPU supports. Plain C, no
// unsafeFlags: the x86 variants use per-function target attributes.
#ifndef EARSHOT_KERNELS_H
#define EARSHOT_KERNELS_H

#include <stdint.h>

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

// 8-bit products (inference only). B (k, n) is stored as int8 per column j: q = rint(B[kk, j] /
// scale_j) with scale_j = max_kk |B[kk, j]| / 127; each row of x as uint8 u = rint(x * 127 /
// max|x|) + 128 with the row's scale sx = max|x| / 127. Then
//   y[r, j] += (sum_kk u[kk] q[kk, j] - 128 sum_kk q[kk, j]) * (scale_j * sx)
// with the sum exact in int32 (k up to 66,000). Each y element is within
// (max|x| / 254) sum_kk |B[kk, j]| + (k / 2) max|x| scale_j of the float product (half a step
// of each rounding, x's and B's), plus the float rounding of the last three operations.

/// Implementations of `ek_q8_product`.
enum {
  EK_Q8_PORTABLE = 0,  // plain C (4-lane vectors)
  EK_Q8_AVX2 = 1,      // AVX2 (vpmaddwd)
  EK_Q8_VNNI = 2,      // AVX-512 VNNI (vpdpbusd)
};

/// The fastest implementation this CPU supports; EARSHOT_KERNELS=portable|avx2 caps it. All
/// give the same bits.
int ek_q8_best_level(void);

/// Columns of the scales and offsets `ek_q8_pack` writes: n rounded up to 128.
long ek_q8_columns(long n);

/// Bytes of a packed (k, n) matrix: ek_q8_columns(n) times k rounded up to 4.
long ek_q8_packed_bytes(long k, long n);

/// Quantizes B (k, n) for `ek_q8_product`: B[kk, j] is b[kk*ldb + j], or b[j*ldb + kk] when
/// `transposed` is non-zero. `packed` (ek_q8_packed_bytes, best 64-byte aligned) holds panels
/// of 128 columns, each 4 k values of a column in 4 adjacent bytes; `scales` and `offsets`
/// (ek_q8_columns each) get scale_j and 128 sum_kk q[kk, j]. A column of zeros gets scale 0;
/// one holding a NaN or an infinity gets scale NaN (its outputs are NaN).
void ek_q8_pack(const float *b, long ldb, int transposed, long k, long n, int8_t *packed,
                float *scales, int32_t *offsets);

/// y (rows, n) += x (rows, k) B, B quantized by `ek_q8_pack`, each row of x quantized on the
/// fly (a row holding a NaN or an infinity makes its y row NaN). `level`: an EK_Q8_ value,
/// lowered to what the CPU supports.
void ek_q8_product(int level, const float *x, long ldx, long rows, long k, const int8_t *packed,
                   const float *scales, const int32_t *offsets, long n, float *y, long ldy);

#ifdef __cplusplus
}
#endif
#endif
