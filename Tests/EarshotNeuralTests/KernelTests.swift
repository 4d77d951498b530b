import Foundation
import Testing
@testable import EarshotNeural

/// The C kernels (CEarshotKernels): every instruction set this CPU runs against a Double
/// reference, and the dispatched set (`Kernels.best`) against the portable one.
@Suite struct KernelTests {
  static let kernelSets = Kernels.available.map { ($0.name, $0.level) }

  @Test(arguments: kernelSets)
  func activationsAreAccurate(name: String, level: Int) {
    let kernels = Kernels(level: level)
    // Pre-activations in all four gate blocks; with no previous cell and keepGates, the cell
    // writes back sigmoid (i, f, o) and tanh (g).
    var xs: [Float] = []
    var x: Float = -30
    while x < 30 { xs.append(x); x += 0.0137 }
    xs += [-100, 100, -88, 89, 0, -0.0]
    let h = xs.count
    var row = xs + xs + xs + xs
    var c = [Float](repeating: 0, count: h), tc = c, hh = c
    row.withUnsafeMutableBufferPointer { r in
      kernels.lstmCellForward(r.baseAddress!, hiddenSize: h, cellPrevious: nil, cell: &c, tanhCell: &tc,
                              hidden: &hh, keepGates: true)
    }
    var worstSigmoid = 0.0, worstTanh = 0.0
    for (j, x) in xs.enumerated() where abs(x) <= 30 {
      let s = 1 / (1 + Foundation.exp(-Double(x))), t = Foundation.tanh(Double(x))
      for gate in [0, 1, 3] { worstSigmoid = max(worstSigmoid, abs(Double(row[gate * h + j]) - s) / s) }
      worstTanh = max(worstTanh, abs(Double(row[2 * h + j]) - t))
    }
    #expect(worstSigmoid < 5e-7, "\(name): sigmoid relative error \(worstSigmoid)")
    #expect(worstTanh < 1e-6, "\(name): tanh absolute error \(worstTanh)")
    let at100 = h - 5, atMinus100 = h - 6
    #expect(row[atMinus100] == 0 && row[at100] == 1, "\(name): sigmoid(-100) \(row[atMinus100]), sigmoid(100) \(row[at100])")
    #expect(row[2 * h + atMinus100] == -1 && row[2 * h + at100] == 1)
  }

  /// The cell kernels of `kernels` on random inputs: forward (with and without a previous
  /// cell) and backward outputs, concatenated.
  func cellOutputs(_ kernels: Kernels, h: Int, seed: UInt64) -> [Float] {
    var gen = SeededGenerator(seed: seed)
    let pre = gen.normalMatrix(rows: 1, cols: 4 * h).data.map { 3 * $0 }
    let cPrev = gen.normalMatrix(rows: 1, cols: h).data
    let dOut = gen.normalMatrix(rows: 1, cols: h).data, dhNext = gen.normalMatrix(rows: 1, cols: h).data
    var out: [Float] = []
    for hasPrevious in [false, true] {
      var row = pre, c = [Float](repeating: 0, count: h), tc = c, hh = c
      cPrev.withUnsafeBufferPointer { cp in
        kernels.lstmCellForward(&row, hiddenSize: h, cellPrevious: hasPrevious ? cp.baseAddress! : nil,
                                cell: &c, tanhCell: &tc, hidden: &hh, keepGates: true)
      }
      var dcNext = gen.normalMatrix(rows: 1, cols: h).data
      var dGates = [Float](repeating: 0, count: 4 * h)
      cPrev.withUnsafeBufferPointer { cp in
        kernels.lstmCellBackward(gates: row, tanhCell: tc, cellPrevious: hasPrevious ? cp.baseAddress! : nil,
                                 outputGradient: dOut, hiddenGradient: dhNext, cellGradient: &dcNext,
                                 gateGradient: &dGates, hiddenSize: h)
      }
      // inference (keepGates false) must give the same c and h
      var row2 = pre, c2 = [Float](repeating: 0, count: h), hh2 = c2
      cPrev.withUnsafeBufferPointer { cp in
        kernels.lstmCellForward(&row2, hiddenSize: h, cellPrevious: hasPrevious ? cp.baseAddress! : nil,
                                cell: &c2, tanhCell: nil, hidden: &hh2, keepGates: false)
      }
      #expect(c2 == c && hh2 == hh, "\(kernels.name): h \(h): inference cell differs from training cell")
      out += row + c + tc + hh + dcNext + dGates
    }
    return out
  }

  /// A bias handed to the cell is added to the pre-activations before anything else: the
  /// same bits as adding it to the row beforehand, with and without a previous cell.
  @Test(arguments: [1, 13, 16, 37, 256])
  func cellAddsTheBiasFirst(hiddenSize h: Int) {
    var gen = SeededGenerator(seed: UInt64(100 + h))
    let pre = gen.normalMatrix(rows: 1, cols: 4 * h).data.map { 3 * $0 }
    let bias = gen.normalMatrix(rows: 1, cols: 4 * h).data
    let cPrev = gen.normalMatrix(rows: 1, cols: h).data
    for kernels in Kernels.available {
      for hasPrevious in [false, true] {
        var withBias = pre, added = zip(pre, bias).map { $0 + $1 }
        var c1 = [Float](repeating: 0, count: h), tc1 = c1, h1 = c1
        var c2 = c1, tc2 = c1, h2 = c1
        cPrev.withUnsafeBufferPointer { cp in
          let previous = hasPrevious ? cp.baseAddress! : nil
          kernels.lstmCellForward(&withBias, bias: bias, hiddenSize: h, cellPrevious: previous,
                                  cell: &c1, tanhCell: &tc1, hidden: &h1, keepGates: true)
          kernels.lstmCellForward(&added, hiddenSize: h, cellPrevious: previous,
                                  cell: &c2, tanhCell: &tc2, hidden: &h2, keepGates: true)
        }
        #expect(withBias == added && c1 == c2 && tc1 == tc2 && h1 == h2,
                "\(kernels.name), h \(h), previous cell \(hasPrevious)")
        #expect(withBias != pre)
      }
    }
  }

  @Test(arguments: [1, 3, 8, 12, 17, 37, 256])
  func dispatchedCellKernelsAgreeWithPortable(hiddenSize h: Int) {
    let reference = cellOutputs(.portable, h: h, seed: UInt64(h))
    for kernels in Kernels.available where kernels.level != Kernels.portable.level {
      let got = cellOutputs(kernels, h: h, seed: UInt64(h))
      expectClose(got, reference, rtol: 1e-6, atol: 1e-6, "\(kernels.name) vs portable, h \(h)")
    }
    #expect(Kernels.available.contains { $0.level == Kernels.best.level })
  }

  /// y (rows, n) = y0 + x B for every kernel set, against a Double reference, both panel
  /// orders and both storage orders of B.
  @Test(arguments: [(1, 256, 1024), (1, 7, 5), (2, 37, 130), (3, 16, 33), (5, 64, 200),
                    (8, 12, 48), (13, 1024, 256), (16, 256, 1024), (17, 9, 129)])
  func packedProductMatchesReference(rows: Int, k: Int, n: Int) {
    var gen = SeededGenerator(seed: UInt64(rows * 1000 + k + n))
    let x = gen.normalMatrix(rows: rows, cols: k), b = gen.normalMatrix(rows: k, cols: n)
    let y0 = gen.normalMatrix(rows: rows, cols: n)
    let bt = b.transposed()
    var expected = y0.data
    var scale = [Double](repeating: 0, count: rows * n)
    for r in 0..<rows {
      for j in 0..<n {
        var s = Double(y0[r, j]), a = abs(Double(y0[r, j]))
        for kk in 0..<k { s += Double(x[r, kk]) * Double(b[kk, j]); a += abs(Double(x[r, kk]) * Double(b[kk, j])) }
        expected[r * n + j] = Float(s)
        scale[r * n + j] = a
      }
    }
    var results: [[Float]] = []
    for kernels in Kernels.available {
      for transposed in [false, true] {
        let source = transposed ? bt : b
        let packed = source.data.withUnsafeBufferPointer {
          PackedMatrix($0.baseAddress!, ldb: transposed ? k : n, transposed: transposed, k: k, n: n, kernels: kernels)
        }
        for reverse in [false, true] {
          var y = y0.data
          x.data.withUnsafeBufferPointer { px in
            packed.multiply(px.baseAddress!, ldx: k, rows: rows, into: &y, ldy: n, reverse: reverse)
          }
          var worst = 0.0
          for i in 0..<y.count { worst = max(worst, abs(Double(y[i]) - Double(expected[i])) / (scale[i] + 1e-30)) }
          #expect(worst < 1e-6, "\(kernels.name), transposed \(transposed), reverse \(reverse): error \(worst) x sum|terms|")
          results.append(y)
        }
      }
    }
    // Within one kernel set, panel order and storage order change nothing.
    for (i, y) in results.enumerated() where i % 4 != 0 { #expect(y == results[i - i % 4]) }
  }

  /// The Adam kernel of every set against the scalar formula of ``Adam`` (same operations in
  /// the same order, no fused multiply-adds): equal bits, for every weight-decay mode.
  @Test(arguments: [(0 as Float, false), (0.01, false), (0.01, true)])
  func adamKernelMatchesScalarFormula(weightDecay wd: Float, decoupled: Bool) {
    var gen = SeededGenerator(seed: 7)
    let count = 1000 + 13
    let w0 = gen.normalMatrix(rows: 1, cols: count).data, g = gen.normalMatrix(rows: 1, cols: count).data
    let m0 = gen.normalMatrix(rows: 1, cols: count).data.map { 0.1 * $0 }
    let v0 = gen.normalMatrix(rows: 1, cols: count).data.map { 0.01 * $0 * $0 }
    let (b1, b2, step, b2s, eps, decay): (Float, Float, Float, Float, Float, Float) = (0.9, 0.999, 3e-3, 0.05, 1e-8, 0.99)
    var we = w0, me = m0, ve = v0
    for i in 0..<count {
      var gi = g[i]
      if wd != 0 { if decoupled { we[i] *= decay } else { gi += wd * we[i] } }
      me[i] += (gi - me[i]) * (1 - b1)
      ve[i] = ve[i] * b2 + (1 - b2) * gi * gi
      let denom = ve[i].squareRoot() / b2s + eps
      we[i] -= step * (me[i] / denom)
    }
    for kernels in Kernels.available {
      var w = w0, m = m0, v = v0
      kernels.adamUpdate(&w, firstMoments: &m, secondMoments: &v, gradient: g, count: count, beta1: b1,
                         beta2: b2, stepSize: step, bias2Sqrt: b2s, epsilon: eps, weightDecay: wd,
                         decoupled: decoupled, decay: decay)
      #expect(w == we && m == me && v == ve, "\(kernels.name): Adam differs from the scalar formula")
    }
  }
}

/// OpenBLAS runs vector kernels wherever the CPU has them: a DYNAMIC_ARCH OpenBLAS that does
/// not know the CPU falls back to SSE3 kernels ("Prescott", several times slower), and
/// Earshot then makes it choose again (OpenBLASCore.c).
@Suite struct OpenBLASKernelTests {
  static let preAVX2 = [
    "unknown", "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2",
    "penryn", "dunnington", "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona",
    "nano", "bobcat", "sandybridge",
  ]

  @Test func openBLASUsesTheCPUsVectorUnits() {
    let core = Neural.blasKernels
    let userChoice = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] != nil
      && Neural.blasKernelsOverride == nil
    guard Kernels.best.level >= 1, !userChoice else { return }  // no AVX2, or the user chose
    #expect(!Self.preAVX2.contains(core.lowercased()),
            "OpenBLAS runs '\(core)' kernels on a CPU with \(Kernels.best.name)")
    if let forced = Neural.blasKernelsOverride {
      #expect(forced == core, "asked OpenBLAS for \(forced), it runs \(core)")
    }
  }

  @Test func theOverrideKeepsProducts() {
    // Whatever kernels run, a product of small integers is exact.
    let (m, n, k) = (37, 29, 53)
    let a = (0..<(m * k)).map { Float(($0 * 7) % 11) - 5 }
    let b = (0..<(k * n)).map { Float(($0 * 5) % 13) - 6 }
    var c = [Float](repeating: 0, count: m * n)
    sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
          beta: 0, c: &c, ldc: n)
    var worst: Float = 0
    for i in 0..<m {
      for j in 0..<n {
        var s: Float = 0
        for p in 0..<k { s += a[i * k + p] * b[p * n + j] }
        worst = max(worst, abs(s - c[i * n + j]))
      }
    }
    #expect(worst == 0, "sgemm differs from the direct sum by \(worst) with '\(Neural.blasKernels)' kernels")
  }
}

@Suite struct FreedMemoryTests {
  /// glibc takes both settings and says so; a second call changes nothing. What the setting
  /// saves a training step is measured by `scripts/bench/lstm` (`faults_per_step`); a
  /// test thread's own heap (glibc gives each thread an arena of 64 MB heaps, freed on its
  /// own terms) does not show it reliably.
  @Test func glibcKeepsFreedMemory() {
    #if canImport(Glibc)
    #expect(Neural.keepFreedMemory())
    #expect(Neural.keepFreedMemory())
    #endif
  }
}
