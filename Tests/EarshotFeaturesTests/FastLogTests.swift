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

  /// The vectorised exp against Double-precision exp over the whole Float range it covers,
  /// and its saturation beyond.
  @Test func expMatchesFoundationExp() {
    var worst = 0.0
    var x: Float = -87
    while x < 88 {
      let got = expVector(SIMD8<Float>((0..<8).map { x + Float($0) * 1e-3 }))
      for k in 0..<8 {
        let want = Foundation.exp(Double(x + Float(k) * 1e-3))
        worst = max(worst, abs(Double(got[k]) - want) / want)
      }
      x += 0.0173
    }
    #expect(worst < 3e-7, "worst relative error \(worst)")
    let edges = expVector(SIMD8<Float>(-200, -88, 89, 200, 0, 1, -1, .leastNormalMagnitude))
    #expect(edges[0] == 0 && edges[1] == 0 && edges[2] == .infinity && edges[3] == .infinity)
    #expect(edges[4] == 1 && abs(edges[5] - 2.718_281_8) < 1e-6 && abs(edges[6] - 0.367_879_44) < 1e-7 && edges[7] == 1)
  }
}
