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

  /// One PCEN frame against the float64 definition (librosa's) over ratios from 1e-30 to 1e30
  /// of the bias, extreme gains and each branch: relative error under 2e-5 of each output,
  /// silence 0 even where (epsilon + M)^-gain overflows Float, and an energy past Float's range
  /// +inf. The cancelling forms it replaced were off by 1e-3 to 10% relative on small outputs.
  @Test(arguments: [(Float(0.98), Float(2), Float(0.5)), (0.8, 10, 0.25), (0.98, 2, 0), (0.5, 0, 0.5), (5, 2, 0.5), (0, 2, 1.5), (3, 0.5, 0.7), (0.8, 2, 1)])
  func pcenFrameMatchesTheDefinition(_ gain: Float, _ bias: Float, _ exponent: Float) {
    var energies: [Float] = [], smoothed: [Float] = []
    var x: Float = 1e-30
    while x < 1e30 {
      for m: Float in [1e-30, 1e-6, 1, 1e3, 1e12] { energies.append(x); smoothed.append(m) }
      x *= 3.7
    }
    let count = energies.count
    var out = energies
    let biasPower = exponent == 0 || bias == 0 ? 0 : Float(Foundation.pow(Double(bias), Double(exponent)))
    out.withUnsafeMutableBufferPointer { o in
      smoothed.withUnsafeBufferPointer { m in
        pcenInPlace(o.baseAddress!, smoothedPlusEpsilon: m.baseAddress!, count: count, gain: gain, bias: bias, exponent: exponent,
                    biasPower: biasPower)
      }
    }
    var worst = 0.0, checked = 0
    for i in 0..<count {
      let e = Double(energies[i]), m = Double(smoothed[i])
      let ratio = Foundation.exp(Foundation.log(e) - Double(gain) * Foundation.log(m))
      let r = Double(exponent), b = Double(bias)
      let want = r == 0 ? Foundation.log1p(ratio)
        : b == 0 ? Foundation.exp(r * Foundation.log(ratio))
        : Foundation.pow(b, r) * Foundation.expm1(r * Foundation.log1p(ratio / b))
      guard want.isFinite && want < 1e30 && want > 1e-30 else { continue }   // outside Float's comfortable range
      checked += 1
      worst = max(worst, abs(Double(out[i]) - want) / want)
    }
    #expect(checked > count / 3, "\(checked) of \(count) checked")
    #expect(worst < 2e-5, "gain \(gain), bias \(bias), exponent \(exponent): worst relative error \(worst)")

    var edge: [Float] = [0, .infinity, 1, 0, 0, 0, 0, 0]
    let big: [Float] = [1e-30, 1, 1, 1, 1, 1, 1, 1]
    edge.withUnsafeMutableBufferPointer { o in
      big.withUnsafeBufferPointer { pcenInPlace(o.baseAddress!, smoothedPlusEpsilon: $0.baseAddress!, count: 8, gain: 5, bias: bias,
                                                exponent: exponent, biasPower: biasPower) }
    }
    #expect(edge[0] == 0 && edge[1] == .infinity && edge[2].isFinite, "\(edge)")
  }
}
