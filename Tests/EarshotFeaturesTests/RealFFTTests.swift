@testable import EarshotFeatures
import Foundation
import Testing

/// `RealFFT`: even sizes run as a complex FFT of half the length and a split step
/// (`FeatureKernels.realSplit`), odd sizes as FFTW's real transform. Both must give the
/// spectrum of a plain discrete Fourier transform computed here in Double.
@Suite("Real FFT")
struct RealFFTTests {
  /// |X_k|^2, k = 0...n/2, by the definition (O(n^2), Double).
  static func directPower(_ x: [Double]) -> [Double] {
    let n = x.count
    return (0...(n / 2)).map { k in
      var re = 0.0, im = 0.0
      for (t, v) in x.enumerated() {
        let angle = -2 * Double.pi * Double(k * t % n) / Double(n)
        re += v * cos(angle)
        im += v * sin(angle)
      }
      return re * re + im * im
    }
  }

  @Test(arguments: [1, 2, 3, 4, 6, 8, 30, 34, 64, 257, 400, 512, 1024])
  func powerSpectrumMatchesTheDefinition(size: Int) {
    var rng = SplitMix64(seed: UInt64(size))
    let x = (0..<size).map { _ in Float(rng.nextGaussian()) }
    let fft = RealFFT(size: size)
    let buffers = fft.makeBuffers()
    for i in 0..<size { buffers.input[i] = Double(x[i]) }
    var got = [Float](repeating: .nan, count: fft.bins)
    got.withUnsafeMutableBufferPointer { fft.spectrum(buffers, power: 2, into: $0.baseAddress!) }
    let want = Self.directPower(x.map(Double.init))
    let scale = want.max()!
    let worst = zip(got, want).map { abs(Double($0) - $1) / scale }.max()!
    #expect(worst < 1e-6, "size \(size): largest difference \(worst) of the largest bin")
  }

  /// The split kernel of every instruction set gives the portable kernel's bits, for sizes
  /// that use the eight-pair vector loop, its remainder, or only the remainder.
  @Test func splitIsTheSameOnEveryLevel() {
    let portable = FeatureKernels(level: 0)
    for half in [1, 2, 3, 8, 17, 31, 32, 33, 128, 200, 256, 512] {
      var rng = SplitMix64(seed: UInt64(half))
      let z = (0..<(2 * half + 2)).map { _ in Double(rng.nextGaussian()) }
      let cosine = (0...half).map { cos(Double.pi * Double($0) / Double(half)) }
      let sine = (0...half).map { sin(Double.pi * Double($0) / Double(half)) }
      func split(_ kernels: FeatureKernels) -> [UInt64] {
        var out = z
        out.withUnsafeMutableBufferPointer { kernels.realSplit($0.baseAddress!, cosine: cosine, sine: sine, half: half) }
        return out.map(\.bitPattern)
      }
      let want = split(portable)
      for kernels in FeatureKernels.available {
        #expect(split(kernels) == want, "half \(half), level \(kernels.level)")
      }
    }
  }

  /// The shipped wisdom is well-formed for the FFTW version it names: that version takes it.
  /// (Another FFTW version rejects it, and RealFFT then plans with FFTW_ESTIMATE.)
  @Test func shippedWisdomIsTakenByItsFFTWVersion() throws {
    let named = try #require(fftwWisdom.split(separator: " ").first).dropFirst()  // "(fftw-3.3.10"
    let loaded = try #require(RealFFT.libraryVersion)
    guard loaded.hasPrefix(named + "-") || loaded == named else {
      print("note: FFTW here is \(loaded), the shipped wisdom is for \(named): not checked")
      return
    }
    #expect(RealFFT.importWisdom(), "\(loaded) rejects the shipped wisdom")
  }
}

/// `Convolution.convolve` (FFTW single precision) against the definition, in Double.
@Suite("Convolution")
struct ConvolutionTests {
  @Test(arguments: [(1, 1), (5, 3), (3, 5), (100, 1), (1_000, 517), (2_048, 2_049), (3_000, 1_100)])
  func matchesDirectSummation(lengths: (Int, Int)) {
    var rng = SplitMix64(seed: UInt64(lengths.0 * 31 + lengths.1))
    let x = (0..<lengths.0).map { _ in rng.nextGaussian() }
    let h = (0..<lengths.1).map { _ in rng.nextGaussian() }
    let got = Convolution.convolve(x, h)
    var want = [Double](repeating: 0, count: x.count + h.count - 1)
    for (i, a) in x.enumerated() { for (j, b) in h.enumerated() { want[i + j] += Double(a) * Double(b) } }
    #expect(got.count == want.count)
    let scale = want.map(abs).max()!
    let worst = zip(got, want).map { abs(Double($0) - $1) }.max()! / scale
    #expect(worst < 1e-5, "\(lengths): largest difference \(worst) of the largest value")
  }

  @Test func emptyInputGivesNothing() {
    #expect(Convolution.convolve([], [1, 2]).isEmpty)
    #expect(Convolution.convolve([1, 2], []).isEmpty)
  }
}
