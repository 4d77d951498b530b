/// A dense row-major single-precision matrix: element (r, c) is `data[r * cols + c]`.
///
/// A value type over one contiguous `[Float]` (copy-on-write). Sequence batches use the
/// time-major layout described on ``SequenceBatch``: row `t * batchSize + b`.
public struct Matrix: Equatable, Sendable, CustomStringConvertible {
  /// Number of rows.
  public private(set) var rows: Int
  /// Number of columns.
  public private(set) var cols: Int
  /// The `rows * cols` elements, row after row.
  public var data: [Float] {
    didSet {
      precondition(data.count == rows * cols,
        "Matrix.data: \(data.count) elements for a \(rows)x\(cols) matrix")
    }
  }

  /// A `rows` x `cols` matrix filled with `value` (default 0).
  public init(rows: Int, cols: Int, repeating value: Float = 0) {
    precondition(rows >= 0 && cols >= 0, "Matrix: negative shape \(rows)x\(cols)")
    self.rows = rows
    self.cols = cols
    self.data = [Float](repeating: value, count: rows * cols)
  }

  /// A `rows` x `cols` matrix over `data` (row-major, `rows * cols` elements).
  public init(rows: Int, cols: Int, data: [Float]) {
    precondition(rows >= 0 && cols >= 0, "Matrix: negative shape \(rows)x\(cols)")
    precondition(data.count == rows * cols,
      "Matrix: \(data.count) elements for a \(rows)x\(cols) matrix")
    self.rows = rows
    self.cols = cols
    self.data = data
  }

  /// A matrix from equal-length rows.
  public init(_ rowArrays: [[Float]]) {
    let cols = rowArrays.first?.count ?? 0
    for (i, r) in rowArrays.enumerated() {
      precondition(r.count == cols, "Matrix: row \(i) has \(r.count) elements, row 0 has \(cols)")
    }
    self.init(rows: rowArrays.count, cols: cols, data: rowArrays.flatMap { $0 })
  }

  /// Element at row `r`, column `c`.
  @inlinable public subscript(r: Int, c: Int) -> Float {
    get { data[r * cols + c] }
    set { data[r * cols + c] = newValue }
  }

  /// Row `r` as an array.
  public func row(_ r: Int) -> [Float] { Array(data[(r * cols)..<((r + 1) * cols)]) }

  /// Rows `range` as a new matrix.
  public func rows(_ range: Range<Int>) -> Matrix {
    Matrix(rows: range.count, cols: cols, data: Array(data[(range.lowerBound * cols)..<(range.upperBound * cols)]))
  }

  /// The shape as `"rowsxcols"`, the spelling used in error messages.
  public var shapeDescription: String { "\(rows)x\(cols)" }

  public var description: String { "Matrix(\(rows)x\(cols))" }

  /// The transpose, (cols, rows).
  public func transposed() -> Matrix {
    var t = Matrix(rows: cols, cols: rows)
    for r in 0..<rows { for c in 0..<cols { t.data[c * rows + r] = data[r * cols + c] } }
    return t
  }

  /// Changes the shape in place to `rows` x `cols`; the element count must not change.
  public mutating func reshape(rows: Int, cols: Int) {
    precondition(rows * cols == self.rows * self.cols,
      "Matrix.reshape: \(self.rows)x\(self.cols) has \(data.count) elements, \(rows)x\(cols) needs \(rows * cols)")
    self.rows = rows
    self.cols = cols
  }

  /// Sets every element to zero, keeping the storage.
  public mutating func zero() {
    data.withUnsafeMutableBufferPointer { p in p.update(repeating: 0) }
  }

  /// Largest absolute element-wise difference to `other` (same shape).
  public func maxAbsDifference(_ other: Matrix) -> Float {
    precondition(rows == other.rows && cols == other.cols,
      "maxAbsDifference: \(shapeDescription) vs \(other.shapeDescription)")
    var m: Float = 0
    for i in 0..<data.count { m = max(m, abs(data[i] - other.data[i])) }
    return m
  }

  /// Sum of squares of all elements, accumulated in Double.
  public var sumOfSquares: Double {
    var s = 0.0
    for v in data { s += Double(v) * Double(v) }
    return s
  }

  /// `self += alpha * other` element-wise (same shape).
  public mutating func add(_ other: Matrix, scaledBy alpha: Float = 1) {
    precondition(rows == other.rows && cols == other.cols,
      "Matrix.add: \(shapeDescription) vs \(other.shapeDescription)")
    let n = data.count
    data.withUnsafeMutableBufferPointer { d in
      other.data.withUnsafeBufferPointer { o in
        for i in 0..<n { d[i] += alpha * o[i] }
      }
    }
  }

  /// Multiplies every element by `alpha`.
  public mutating func scale(by alpha: Float) {
    data.withUnsafeMutableBufferPointer { d in for i in d.indices { d[i] *= alpha } }
  }
}

extension Matrix {
  /// Matrix product through BLAS: `alpha * op(self) * op(other)`, where `op` transposes when asked.
  ///
  /// `op(self)` is (m, k) and `op(other)` is (k, n); the result is (m, n).
  public func multiplied(
    by other: Matrix, transposeSelf: Bool = false, transposeOther: Bool = false, alpha: Float = 1
  ) -> Matrix {
    let m = transposeSelf ? cols : rows
    let n = transposeOther ? other.rows : other.cols
    var out = Matrix(rows: m, cols: n)
    out.accumulateProduct(self, other, transposeA: transposeSelf, transposeB: transposeOther,
                          alpha: alpha, beta: 0)
    return out
  }

  /// GEMM into `self`: `self = alpha * op(a) * op(b) + beta * self`.
  ///
  /// `op(a)` must be (rows, k) and `op(b)` (k, cols). `beta = 1` accumulates (the backward
  /// passes use this to add into gradients).
  public mutating func accumulateProduct(
    _ a: Matrix, _ b: Matrix, transposeA: Bool = false, transposeB: Bool = false,
    alpha: Float = 1, beta: Float = 1
  ) {
    let m = transposeA ? a.cols : a.rows
    let k = transposeA ? a.rows : a.cols
    let kb = transposeB ? b.cols : b.rows
    let n = transposeB ? b.rows : b.cols
    precondition(k == kb && m == rows && n == cols,
      "accumulateProduct: op(a) is \(m)x\(k), op(b) is \(kb)x\(n), result is \(shapeDescription)")
    let (lda, ldb, ldc) = (max(a.cols, 1), max(b.cols, 1), max(cols, 1))
    a.data.withUnsafeBufferPointer { pa in
      b.data.withUnsafeBufferPointer { pb in
        data.withUnsafeMutableBufferPointer { pc in
          guard let ca = pa.baseAddress, let cb = pb.baseAddress, let cc = pc.baseAddress else { return }
          sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, alpha: alpha,
                a: ca, lda: lda, b: cb, ldb: ldb, beta: beta, c: cc, ldc: ldc)
        }
      }
    }
  }
}
