@testable import EarshotFeatures
import Foundation
import Testing

@Suite("Vectorised log")
struct FastLogTests {
  /// Against Double-precision log over 24 binades and the floor; every tail length.
  @Test func matchesFoundationLog() {
    var values: [Float] = []
    var x: Float = 1e-9
    while x < 1e12 {
      values.append(x)
      x *= 1.000_37
    }
    values += [0, 1e-30, Float.leastNormalMagnitude, 1, 2, 0.5, 1.414_213_5, 1.414_213_6]
    for tail in 0..<8 {
      var v = Array(values.dropLast(tail))
      let floor: Float = 1e-10
      v.withUnsafeMutableBufferPointer { logInPlace($0.baseAddress!, count: $0.count, floor: floor) }
      var worst = 0.0
      for (got, input) in zip(v, values) {
        let want = Foundation.log(Double(max(input, floor)))
        worst = max(worst, abs(Double(got) - want) / max(abs(want), 1))
      }
      #expect(worst < 5e-7, "tail \(tail): worst relative error \(worst)")
    }
  }
}
