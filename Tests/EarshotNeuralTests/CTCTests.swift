import Foundation
import Testing
@testable import EarshotNeural

/// CTC against brute-force enumeration of every frame-level path (T <= 5).
@Suite struct CTCBruteForceTests {
  /// -log of the summed probability of every path that collapses to `target`.
  static func bruteForce(_ lp: [[Double]], target: [Int], blank: Int) -> Double {
    let t = lp.count, c = lp.first?.count ?? 0
    var total = 0.0
    var path = [Int](repeating: 0, count: t)
    func visit(_ f: Int) {
      if f == t {
        // collapse: merge repeats, then drop blanks
        var out: [Int] = []
        var prev = -1
        for s in path {
          if s != prev && s != blank { out.append(s) }
          prev = s
        }
        if out == target {
          total += Foundation.exp(path.enumerated().reduce(0.0) { $0 + lp[$1.offset][$1.element] })
        }
        return
      }
      for s in 0..<c { path[f] = s; visit(f + 1) }
    }
    visit(0)
    return -Foundation.log(total)
  }

  @Test(arguments: [
    ([1, 1], 0), ([1, 2, 1], 0), ([2], 0), ([], 0), ([1, 1, 1], 0),  // repeats need blanks between
    ([0, 0], 2), ([3, 0, 3], 2), ([1], 3),
  ])
  func lossEqualsSumOverAlignments(target: [Int], blank: Int) {
    var g = SeededGenerator(seed: UInt64(target.count * 10 + blank))
    for frames in 1...5 {
      let logits = g.normalMatrix(rows: frames, cols: 4)
      let lp = logSoftmax(logits)
      let rows = (0..<frames).map { r in lp.row(r).map(Double.init) }
      let expected = Self.bruteForce(rows, target: target, blank: blank)
      let r = CTCLoss(blank: blank, reduction: .none)(SequenceBatch(data: lp, lengths: [frames]), targets: [target])
      if expected.isInfinite {
        #expect(r.sequenceLosses[0].isInfinite, "T=\(frames) target \(target): got \(r.sequenceLosses[0]), expected inf")
      } else {
        let got = Double(r.sequenceLosses[0])
        #expect(abs(got - expected) <= 1e-5 * max(1, abs(expected)),
                "T=\(frames) target \(target) blank \(blank): got \(got), brute force \(expected)")
      }
    }
  }

  @Test func zeroInfinityZeroesImpossibleSequences() {
    let lp = logSoftmax(Matrix(rows: 2, cols: 3, repeating: 0.5))
    let targets = [[1, 1]]  // needs 3 frames
    let plain = CTCLoss()(SequenceBatch(data: lp, lengths: [2]), targets: targets)
    #expect(plain.loss.isInfinite)
    let zeroed = CTCLoss(zeroInfinity: true)(SequenceBatch(data: lp, lengths: [2]), targets: targets)
    #expect(zeroed.loss == 0)
    #expect(zeroed.gradient.data.allSatisfy { $0 == 0 })
  }

  @Test func defaultsMatchPyTorch() {
    let d = CTCLoss()
    #expect(d.blank == 0)
    #expect(d.reduction == .mean)
    #expect(d.zeroInfinity == false)
  }
}
