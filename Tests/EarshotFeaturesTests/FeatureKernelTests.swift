@testable import EarshotFeatures
import Foundation
import Testing

/// The C feature kernels (CEarshotKernels, FeatureKernels.c): every instruction set this CPU
/// runs must give the bits of the scalar Swift path, frame by frame.
@Suite("Feature kernels")
struct FeatureKernelTests {
  static let cases: [(String, FeatureOptions)] = {
    func options(_ kind: FeatureKind, fft: Int, window: Int? = nil, hop: Int, bands: Int, configure: (inout FeatureOptions) -> Void = { _ in }) -> FeatureOptions {
      var o = FeatureOptions(kind: kind, sampleRate: 16_000)
      o.spectrogram.fftSize = fft
      o.spectrogram.windowLength = window
      o.spectrogram.hopLength = hop
      o.mel.melBands = bands
      configure(&o)
      return o
    }
    return [
      ("mel 512/400", options(.mel, fft: 512, window: 400, hop: 160, bands: 80)),
      ("mel magnitude, odd fft 257", options(.mel, fft: 257, hop: 100, bands: 26) { $0.spectrogram.power = 1 }),
      ("logmel dB, no top-dB", options(.logmel, fft: 512, window: 400, hop: 160, bands: 80) { $0.log.topDecibels = nil }),
      ("logmel ln, floor 1e-6, uncentred", options(.logmel, fft: 400, hop: 160, bands: 40) {
        $0.log.compression = .natural
        $0.log.floor = 1e-6
        $0.spectrogram.center = false
      }),
      ("mfcc lifter 22, reflect", options(.mfcc, fft: 1024, hop: 256, bands: 128) {
        $0.mfcc.lifter = 22
        $0.spectrogram.padMode = .reflect
      }),
      ("logmel dB, reference 2, 7 bands", options(.logmel, fft: 64, hop: 17, bands: 7) { $0.log.reference = 2 }),
      ("pcen, magnitude", options(.pcen, fft: 512, window: 400, hop: 160, bands: 40) { $0.spectrogram.power = 1 }),
    ]
  }()

  @Test(arguments: cases.indices)
  func everyLevelGivesTheScalarBits(_ index: Int) throws {
    let (name, options) = Self.cases[index]
    // Speech-like dynamics: a loud tone, quiet noise, then near-silence (the floor is reached).
    var rng = SplitMix64(seed: 7)
    let samples = (0..<9_973).map { i -> Float in
      let noise = Float(rng.nextGaussian()) * 1e-3
      if i < 4_000 { return Float(sin(Double(i) * 0.07)) * 0.5 + noise }
      return i < 8_000 ? noise : noise * 1e-6
    }
    let reference = try FeatureExtractor(options: options, kernels: nil)(samples)
    #expect(reference.frames > 2 * FeatureKernels.frameBlock, "\(name): too few frames to cover whole blocks")
    for kernels in FeatureKernels.available {
      let got = try FeatureExtractor(options: options, kernels: kernels)(samples)
      let differing = zip(got.values, reference.values).filter { $0.0.bitPattern != $0.1.bitPattern }.count
      #expect(got.frames == reference.frames && differing == 0, "\(name), level \(kernels.level): \(differing) values differ")
    }
  }

  @Test func logFloorGivesLogInPlaceBits() {
    var values: [Float] = []
    var x: Float = 1e-12
    while x < 1e9 {
      values.append(x)
      x *= 1.013
    }
    values += [0, -1, 1, 0.5, 1.414_213_5, 1.414_213_6]
    for tail in 0..<17 {
      var want = Array(values.dropLast(tail))
      want.withUnsafeMutableBufferPointer { logInPlace($0.baseAddress!, count: $0.count, floor: 1e-10) }
      for kernels in FeatureKernels.available {
        var got = Array(values.dropLast(tail))
        got.withUnsafeMutableBufferPointer { kernels.logFloor($0.baseAddress!, count: $0.count, floor: 1e-10) }
        #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "tail \(tail), level \(kernels.level)")
      }
    }
  }
}
