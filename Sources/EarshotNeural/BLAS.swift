// The only file that imports CBLAS: every BLAS call in EarshotNeural goes through here,
// and no C type leaves this file.
import CBLAS

/// Process-wide settings of the neural core.
public enum Neural {
  /// Sets how many threads BLAS uses for matrix products (OpenBLAS `openblas_set_num_threads`).
  ///
  /// - Parameter count: threads, >= 1; the default is every core OpenBLAS detects
  ///   (or `OPENBLAS_NUM_THREADS` when set). Affects the whole process.
  public static func setThreads(_ count: Int) {
    precondition(count >= 1, "Neural.setThreads: count must be >= 1 (got \(count))")
    openblas_set_num_threads(Int32(count))
  }

  /// Makes the C library keep freed memory for reuse instead of handing it back to the kernel
  /// (glibc: `mallopt` with `M_MMAP_THRESHOLD` 512 MB and `M_TRIM_THRESHOLD` `INT_MAX`). Affects
  /// the whole process, for good.
  ///
  /// A training step frees and allocates the same few hundred MB (activations, gates,
  /// gradients). By default glibc hands much of it back between steps, and the next step faults
  /// its pages in again and has them zeroed: about 17,000 page faults (66 MB) per step of the
  /// benchmark's 3 x 256 BiLSTM at batch 16 x 300 frames. Kept, the steps after the first two
  /// fault none on the thread that trains, and the process's resident memory stays near the
  /// peak of one step. The trainers call
  /// this when a run starts; a program that trains through the lower layers can too.
  /// - Returns: whether the setting took (false on C libraries other than glibc).
  @discardableResult
  public static func keepFreedMemory() -> Bool { Kernels.keepFreedMemory() }

  /// The number of threads BLAS currently uses.
  public static var threads: Int { Int(openblas_get_num_threads()) }

  /// The kernel set OpenBLAS runs (`openblas_get_corename`: "SkylakeX", "Haswell", "Zen", ...).
  ///
  /// A DYNAMIC_ARCH OpenBLAS chooses by CPU model and can fall back to SSE3 kernels
  /// ("Prescott") on a CPU newer than its build, several times slower (Debian 12's 0.3.21 on a
  /// family 6 model 207 Xeon: 22 against 135 GFLOP/s). Earshot then re-runs the choice with
  /// `OPENBLAS_CORETYPE` set to what the CPU supports when the program loads
  /// (`blasKernelsOverride` says so); a user's own `OPENBLAS_CORETYPE` always stands.
  public static var blasKernels: String { String(cString: openblas_get_corename()) }

  /// The kernel set ("SkylakeX" or "Haswell") Earshot made OpenBLAS use in place of its
  /// pre-AVX2 fallback, or nil where OpenBLAS's own choice stood.
  public static var blasKernelsOverride: String? { Kernels.openBLASOverride }

  /// Stops OpenBLAS's idle worker threads; the next multi-threaded product starts them again.
  ///
  /// OpenBLAS starts a worker per core while it loads, before `main`, and a worker that has
  /// nothing to do spins (`sched_yield`) for about 0.1 s of CPU before it sleeps. A program
  /// that uses one BLAS thread calls this after `setThreads(1)` (a later `setThreads`
  /// starts the workers again), before any other thread uses BLAS, never while one does.
  /// `earshot` does: on `earshot features` (MFCC of 600 s of audio, one thread, the other
  /// core busy) it saves about 100 ms of CPU and 50 ms of wall clock.
  public static func stopIdleThreads() {
    _ = blas_thread_shutdown_()
  }

  /// Runs `body` with single-threaded BLAS, then restores the thread count.
  ///
  /// For small products next to work that runs on its own threads: an OpenBLAS worker that
  /// has just run a job spins for a while before it sleeps, taking a core from that work.
  static func singleThreaded<R>(_ body: () -> R) -> R {
    let threads = threads
    guard threads > 1 else { return body() }
    setThreads(1)
    defer { setThreads(threads) }
    return body()
  }
}

/// Single-precision GEMM on raw row-major buffers:
/// `c = alpha * op(a) * op(b) + beta * c`, with `op(a)` (m, k), `op(b)` (k, n), `c` (m, n).
///
/// `lda`, `ldb`, `ldc` are the row strides (in elements) of the stored matrices.
@inline(__always)
func sgemm(
  transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
  alpha: Float, a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m == 0 || n == 0 { return }
  if k == 0 {
    // BLAS treats k == 0 as "scale c by beta"; do it here so the contract is explicit.
    for i in 0..<m {
      let row = c + i * ldc
      for j in 0..<n { row[j] = beta == 0 ? 0 : beta * row[j] }
    }
    return
  }
  cblas_sgemm(
    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Single-precision GEMV on a raw row-major matrix: `y = alpha * op(a) * x + beta * y`,
/// with `a` stored (rows, cols).
@inline(__always)
func sgemv(
  trans: Bool, rows: Int, cols: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
  x: UnsafePointer<Float>, beta: Float, y: UnsafeMutablePointer<Float>
) {
  if rows == 0 || cols == 0 { return }
  cblas_sgemv(
    CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(rows), Int32(cols), alpha, a,
    Int32(lda), x, 1, beta, y, 1)
}
