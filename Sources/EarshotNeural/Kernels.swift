// The only file that imports CEarshotKernels: the vectorised C kernels, one build per
// instruction set (portable, AVX2 + FMA, AVX-512), picked once at run time.
import CEarshotKernels

/// One set of C kernels, all compiled for one instruction set.
struct Kernels: @unchecked Sendable {  // a pointer to a static, immutable table
  let table: UnsafePointer<ek_kernels>

  /// The fastest set this CPU supports (`EARSHOT_KERNELS=portable|avx2` caps it).
  static let best = Kernels(level: Int(ek_best_level()))
  /// Baseline vectors (SSE2 / NEON): the reference the faster sets are tested against.
  static let portable = Kernels(level: EK_LEVEL_PORTABLE)
  /// Every distinct set this CPU can run, portable first.
  static var available: [Kernels] {
    var all: [Kernels] = []
    for level in EK_LEVEL_PORTABLE...EK_LEVEL_AVX512 {
      let k = Kernels(level: level)
      if !all.contains(where: { $0.level == k.level }) { all.append(k) }
    }
    return all
  }

  /// The kernel set Earshot made OpenBLAS take when the program loaded, because OpenBLAS had
  /// fallen back to pre-AVX2 kernels on a CPU it does not know; nil where its choice stood.
  static var openBLASOverride: String? { ek_openblas_forced_core().map { String(cString: $0) } }

  /// `Neural.keepFreedMemory()`.
  static func keepFreedMemory() -> Bool { ek_keep_freed_memory() == 1 }

  /// The set for `level` (0 portable, 1 AVX2, 2 AVX-512), lowered to what the CPU supports.
  init(level: Int) { table = ek_kernels_for(Int32(level)) }

  /// The instruction-set level actually used.
  var level: Int { Int(table.pointee.level) }
  var name: String { ["portable", "avx2", "avx512"][level] }

  /// One LSTM cell for one sequence and step, in one pass over the gate row.
  ///
  /// `row` holds the pre-activations [i f g o] (4 h floats), to which `bias` (4 h floats, if
  /// given) is added first; then `c = f * c' + i * g`
  /// (`c = i * g` when `cellPrevious` is nil), `h = o * tanh(c)`. `cellPrevious` may equal
  /// `cell`. With `keepGates`, the activated gates go back into `row` and tanh(c) into
  /// `tanhCell` (what backward needs). sigmoid and tanh are within 5e-7 and 1e-6 of exact.
  @inline(__always)
  func lstmCellForward(
    _ row: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil, hiddenSize h: Int,
    cellPrevious cp: UnsafePointer<Float>?, cell c: UnsafeMutablePointer<Float>,
    tanhCell tc: UnsafeMutablePointer<Float>?, hidden hh: UnsafeMutablePointer<Float>, keepGates: Bool
  ) {
    table.pointee.lstm_cell_forward(row, bias, h, cp, c, tc, hh, keepGates ? 1 : 0)
  }

  /// Backward of one cell: from the activated gates (4h) and tanh(c) kept by forward, the
  /// output gradient and dh, dc from the next step; writes dGates (4h) and dc * f into dcNext.
  @inline(__always)
  func lstmCellBackward(
    gates: UnsafePointer<Float>, tanhCell: UnsafePointer<Float>, cellPrevious: UnsafePointer<Float>?,
    outputGradient: UnsafePointer<Float>, hiddenGradient: UnsafePointer<Float>,
    cellGradient: UnsafeMutablePointer<Float>, gateGradient: UnsafeMutablePointer<Float>, hiddenSize: Int
  ) {
    table.pointee.lstm_cell_backward(gates, tanhCell, cellPrevious, outputGradient, hiddenGradient,
                                     cellGradient, gateGradient, hiddenSize)
  }

  /// Floats of a packed (k, n) matrix.
  func packedCount(k: Int, n: Int) -> Int { ek_packed_count(table, k, n) }

  /// Packs B (k, n) for ``packedProduct``: B[kk, j] is `b[kk * ldb + j]`, or `b[j * ldb + kk]`
  /// when `transposed`.
  func pack(_ b: UnsafePointer<Float>, ldb: Int, transposed: Bool, k: Int, n: Int,
            into packed: UnsafeMutablePointer<Float>) {
    table.pointee.pack(b, ldb, transposed ? 1 : 0, k, n, packed)
  }

  /// y (rows, n) += x (rows, k) B, with B packed by ``pack``. Each element of y gets one sum in
  /// k order, whatever `reverse` (which only changes the order the column panels are visited).
  @inline(__always)
  func packedProduct(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, k: Int,
                     packed: UnsafePointer<Float>, n: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                     reverse: Bool = false) {
    table.pointee.packed_product(x, ldx, rows, k, packed, n, y, ldy, reverse ? 1 : 0)
  }
}

extension Kernels {
  /// One Adam / AdamW step over `count` parameters (see ``Adam``): updates `w`, the first
  /// moments `m` and the second moments `v` in place from `gradient`, in Optimizer.swift's
  /// operation order without fused multiply-adds, so every kernel set gives the same bits.
  @inline(__always)
  func adamUpdate(
    _ w: UnsafeMutablePointer<Float>, firstMoments m: UnsafeMutablePointer<Float>,
    secondMoments v: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, count: Int,
    beta1: Float, beta2: Float, stepSize: Float, bias2Sqrt: Float, epsilon: Float,
    weightDecay: Float, decoupled: Bool, decay: Float
  ) {
    table.pointee.adam_update(w, m, v, gradient, count, beta1, beta2, stepSize, bias2Sqrt, epsilon,
                              weightDecay, decoupled ? 1 : 0, decay)
  }
}

/// A packed copy of a weight matrix for ``Kernels/packedProduct``, 64-byte aligned.
final class PackedMatrix {
  let kernels: Kernels
  let k: Int
  let n: Int
  let pointer: UnsafeMutablePointer<Float>

  /// Packs B (k, n): B[kk, j] = `b[kk * ldb + j]`, or `b[j * ldb + kk]` when `transposed`.
  init(_ b: UnsafePointer<Float>, ldb: Int, transposed: Bool, k: Int, n: Int, kernels: Kernels = .best) {
    self.kernels = kernels
    self.k = k
    self.n = n
    let count = max(kernels.packedCount(k: k, n: n), 1)
    pointer = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
      .bindMemory(to: Float.self, capacity: count)
    kernels.pack(b, ldb: ldb, transposed: transposed, k: k, n: n, into: pointer)
  }
  deinit { pointer.deallocate() }

  /// y (rows, n) += x (rows, k) B.
  @inline(__always)
  func multiply(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, into y: UnsafeMutablePointer<Float>,
                ldy: Int, reverse: Bool = false) {
    kernels.packedProduct(x, ldx: ldx, rows: rows, k: k, packed: pointer, n: n, y: y, ldy: ldy, reverse: reverse)
  }
}

/// A weight matrix quantized to 8 bits per column for ``multiply(_:ldx:rows:into:ldy:)``, the
/// products of ``InferencePrecision/int8``: B[kk, j] is stored as an int8 step of
/// `max_kk |B[kk, j]| / 127`, each row of x becomes uint8 steps of `max|x| / 127` when
/// multiplied, and the sums are exact 32-bit integers. Four times a float FMA's work per
/// instruction on AVX-512 VNNI; the AVX2 and portable builds give the same bits elsewhere.
final class QuantizedMatrix {
  let k: Int
  let n: Int
  /// `EK_Q8_PORTABLE`, `EK_Q8_AVX2` or `EK_Q8_VNNI`, lowered to what the CPU has when multiplying.
  let level: Int32
  private let packed: UnsafeMutablePointer<Int8>
  private let scales: UnsafeMutablePointer<Float>
  private let offsets: UnsafeMutablePointer<Int32>

  /// The fastest implementation this CPU has (`EARSHOT_KERNELS=portable|avx2` caps it).
  static let bestLevel = ek_q8_best_level()
  /// The longest rows (k) whose sums of uint8 x int8 products fit an Int32.
  static let maxDepth = Int(Int32.max) / (255 * 127)

  /// Quantizes B (k, n): B[kk, j] = `b[kk * ldb + j]`, or `b[j * ldb + kk]` when `transposed`.
  init(_ b: UnsafePointer<Float>, ldb: Int, transposed: Bool, k: Int, n: Int, level: Int32 = QuantizedMatrix.bestLevel) {
    // 255 x 127 x k must fit an Int32 sum
    precondition(k <= QuantizedMatrix.maxDepth, "QuantizedMatrix: k = \(k) overflows 32-bit sums (at most \(QuantizedMatrix.maxDepth))")
    self.k = k
    self.n = n
    self.level = level
    let bytes = max(ek_q8_packed_bytes(k, n), 1), columns = max(ek_q8_columns(n), 1)
    packed = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64).bindMemory(to: Int8.self, capacity: bytes)
    scales = .allocate(capacity: columns)
    offsets = .allocate(capacity: columns)
    ek_q8_pack(b, ldb, transposed ? 1 : 0, k, n, packed, scales, offsets)
  }
  deinit {
    packed.deallocate()
    scales.deallocate()
    offsets.deallocate()
  }

  /// y (rows, n) += x (rows, k) B, in 8-bit steps (see the type); a row of x holding a NaN or
  /// an infinity makes its row of y NaN.
  @inline(__always)
  func multiply(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, into y: UnsafeMutablePointer<Float>, ldy: Int) {
    ek_q8_product(level, x, ldx, rows, k, packed, scales, offsets, n, y, ldy)
  }
}
