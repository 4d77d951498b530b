import Foundation
import Testing
@testable import EarshotNeural

/// The 8-bit products (``QuantizedMatrix``, ``InferencePrecision/int8``): every build against
/// the arithmetic EarshotKernels.h documents, redone here in Swift with integer sums, and
/// against the float product within the documented bound.
@Suite struct QuantizedProductTests {
  /// Portable C, AVX2 and AVX-512 VNNI; a build the CPU lacks runs the next one down.
  static let levels: [Int32] = [0, 1, 2]

  /// y0 + x B as EarshotKernels.h defines it: B per column and x per row quantized by
  /// rounding to the nearest step (ties to even), sums in integers, then
  /// y + Float(sum - 128 sum q) * (scale_j * sx), one float operation at a time.
  static func documented(_ x: Matrix, _ b: Matrix, _ y0: Matrix) -> [Float] {
    let rows = x.rows, k = x.cols, n = b.cols
    var q = [Int](repeating: 0, count: k * n), scales = [Float](repeating: 0, count: n), offsets = [Int](repeating: 0, count: n)
    for j in 0..<n {
      let top = (0..<k).map { abs(b[$0, j]) }.max()!
      guard top > 0 else { continue }
      let inverse: Float = 127 / top
      scales[j] = top / 127
      for kk in 0..<k {
        q[kk * n + j] = min(max(Int((b[kk, j] * inverse).rounded(.toNearestOrEven)), -127), 127)
        offsets[j] += 128 * q[kk * n + j]
      }
    }
    var y = y0.data
    for r in 0..<rows {
      let top = (0..<k).map { abs(x[r, $0]) }.max()!
      let inverse: Float = top > 0 ? 127 / top : 0
      let u = (0..<k).map { Int((x[r, $0] * inverse).rounded(.toNearestOrEven)) + 128 }
      let sx = top / 127
      for j in 0..<n {
        var sum = 0
        for kk in 0..<k { sum += u[kk] * q[kk * n + j] }
        let d = Float(sum - offsets[j])
        let s = scales[j] * sx
        let t = d * s
        y[r * n + j] = y[r * n + j] + t
      }
    }
    return y
  }

  static func product(_ x: Matrix, _ b: Matrix, _ y0: Matrix, transposed: Bool, level: Int32) -> [Float] {
    let k = b.rows, n = b.cols
    let source = transposed ? b.transposed() : b
    let matrix = source.data.withUnsafeBufferPointer {
      QuantizedMatrix($0.baseAddress!, ldb: transposed ? k : n, transposed: transposed, k: k, n: n, level: level)
    }
    var y = y0.data
    x.data.withUnsafeBufferPointer { px in matrix.multiply(px.baseAddress!, ldx: k, rows: x.rows, into: &y, ldy: n) }
    return y
  }

  /// Every build gives the documented arithmetic bit for bit, for both storage orders of B;
  /// shapes cover partial panels (n not a multiple of 128, k not of 4), 1 to 9 rows (the
  /// builds' 4-, 2- and 1-row tiles) and a row longer than the kernels keep on the stack.
  @Test(arguments: [(1, 128, 512), (1, 7, 5), (2, 37, 130), (3, 16, 33), (4, 256, 512), (5, 64, 200),
                    (7, 1, 129), (9, 2_100, 20)])
  func everyBuildGivesTheDocumentedArithmetic(rows: Int, k: Int, n: Int) {
    var gen = SeededGenerator(seed: UInt64(rows * 7_919 + k * 31 + n))
    let x = gen.uniformMatrix(rows: rows, cols: k, -1, 1), b = gen.normalMatrix(rows: k, cols: n)
    let y0 = gen.normalMatrix(rows: rows, cols: n)
    let expected = Self.documented(x, b, y0)
    for level in Self.levels {
      for transposed in [false, true] {
        let y = Self.product(x, b, y0, transposed: transposed, level: level)
        let differing = zip(y, expected).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(differing == 0, "level \(level), transposed \(transposed): \(differing) of \(y.count) differ")
      }
    }
  }

  /// The float product within the header's bound: (max|x| / 254) sum|B_j| + (k / 2) max|x|
  /// scale_j, plus float rounding.
  @Test(arguments: [(1, 128, 512), (3, 256, 512), (2, 40, 130)])
  func staysWithinTheDocumentedBound(rows: Int, k: Int, n: Int) {
    var gen = SeededGenerator(seed: UInt64(k + n))
    let x = gen.uniformMatrix(rows: rows, cols: k, -1, 1), b = gen.normalMatrix(rows: k, cols: n)
    let y0 = Matrix(rows: rows, cols: n)
    let y = Self.product(x, b, y0, transposed: true, level: QuantizedMatrix.bestLevel)
    var worstRatio = 0.0, worstError = 0.0
    for r in 0..<rows {
      let top = (0..<k).map { Double(abs(x[r, $0])) }.max()!
      for j in 0..<n {
        let column = (0..<k).map { Double(abs(b[$0, j])) }
        let exact = (0..<k).reduce(0.0) { $0 + Double(x[r, $1]) * Double(b[$1, j]) }
        let bound = top / 254 * column.reduce(0, +) + Double(k) / 2 * top * column.max()! / 127
        let error = abs(Double(y[r * n + j]) - exact)
        #expect(error <= bound * 1.001 + 1e-5 * abs(exact), "row \(r), column \(j): error \(error), bound \(bound)")
        worstRatio = max(worstRatio, error / bound)
        worstError = max(worstError, error)
      }
    }
    // The bound is a worst case; rounding errors mostly cancel. A product that ignored the
    // scales or offsets would be off by far more than 1% of |sum|.
    #expect(worstRatio < 0.5, "worst error \(worstError) is \(worstRatio) of the bound")
  }

  /// A row of zeros adds nothing; a row holding a NaN or an infinity makes its outputs NaN
  /// (as a float product would) and leaves the other rows alone; so does such a weight column.
  @Test func zeroAndNonFiniteRowsAndColumns() {
    var gen = SeededGenerator(seed: 5)
    let k = 37, n = 130
    var x = gen.uniformMatrix(rows: 4, cols: k, -1, 1)
    let b = gen.normalMatrix(rows: k, cols: n), y0 = gen.normalMatrix(rows: 4, cols: n)
    for kk in 0..<k { x[0, kk] = 0 }
    x[1, 5] = .nan
    x[2, 36] = -.infinity
    for level in Self.levels {
      let y = Self.product(x, b, y0, transposed: false, level: level)
      #expect(Array(y[0..<n]) == Array(y0.data[0..<n]), "level \(level): a zero row changed y")
      let nonFinite = y[n..<(3 * n)].allSatisfy { $0.isNaN }
      #expect(nonFinite, "level \(level): a NaN or infinity did not make NaN")
      let finite = !y[(3 * n)...].contains { $0.isNaN }
      #expect(finite, "level \(level): a finite row got NaN")
    }
    // A weight column holding a NaN or an infinity makes that column NaN in every row (a zero
    // row too: 0 x NaN), and no other.
    for bad in [Float.nan, -.infinity] {
      var weights = b
      weights[3, 7] = bad
      var x = gen.uniformMatrix(rows: 3, cols: k, -1, 1)
      for kk in 0..<k { x[0, kk] = 0 }
      for level in Self.levels {
        let y = Self.product(x, weights, Matrix(rows: 3, cols: n), transposed: true, level: level)
        let nanColumns = Set((0..<y.count).filter { y[$0].isNaN }.map { $0 % n })
        let perRow = (0..<y.count).filter { y[$0].isNaN }.count
        #expect(nanColumns == [7] && perRow == 3, "level \(level), weight \(bad): NaN in columns \(nanColumns), \(perRow) elements")
      }
    }
  }

  /// `.int8` quantizes the recurrent products everywhere and the input products above the
  /// first layer; the output stays close to the float network's, and `.float32` is the float
  /// network again.
  @Test func int8InferenceFollowsTheFloatNetwork() {
    var gen = SeededGenerator(seed: 11)
    var net = BiLSTM(inputSize: 20, hiddenSize: 32, numLayers: 3, generator: &gen)
    var features = gen.normalMatrix(rows: 90 * 2, cols: 20)
    for i in 0..<features.data.count { features.data[i] *= 3 }   // unbounded input to layer 0
    let batch = SequenceBatch(data: features, lengths: [90, 61])
    let reference = net(batch)
    #expect(net.inferencePrecision == .float32)
    net.inferencePrecision = .int8
    #expect(net.forwardLayers.map(\.int8Products) == [[.recurrent], [.recurrent, .input], [.recurrent, .input]])
    #expect(net.backwardLayers.map(\.int8Products) == net.forwardLayers.map(\.int8Products))
    let quantized = net(batch)
    let worst = zip(quantized.data.data, reference.data.data).map { abs($0 - $1) }.max()!
    #expect(worst > 0, "int8 inference gave the float network's output exactly: nothing was quantized")
    #expect(worst < 0.05, "int8 inference is \(worst) away from float32 (outputs lie in (-1, 1))")
    net.inferencePrecision = .float32
    let cleared = net.forwardLayers.allSatisfy { $0.int8Products.isEmpty }
    #expect(cleared)
    #expect(net(batch) == reference)
  }

  /// New weights are quantized anew, as float inference repacks them.
  @Test func changedWeightsAreRequantized() {
    var gen = SeededGenerator(seed: 12)
    var net = BiLSTM(inputSize: 8, hiddenSize: 16, numLayers: 2, generator: &gen)
    net.inferencePrecision = .int8
    let batch = SequenceBatch(data: gen.normalMatrix(rows: 40, cols: 8), lengths: [40])
    let before = net(batch)   // quantizes every layer's weights
    let other = BiLSTM(inputSize: 8, hiddenSize: 16, numLayers: 2, generator: &gen)
    net.forwardLayers[1].weightHH = other.forwardLayers[1].weightHH
    net.backwardLayers[1].weightIH = other.backwardLayers[1].weightIH
    var fresh = BiLSTM(inputSize: 8, hiddenSize: 16, numLayers: 2)
    for p in net.namedParameters { fresh[keyPath: p.path] = net[keyPath: p.path] }
    fresh.inferencePrecision = .int8
    let after = net(batch)
    #expect(after != before)
    #expect(after == fresh(batch))
  }
}
