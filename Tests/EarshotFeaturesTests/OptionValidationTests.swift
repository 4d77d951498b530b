@testable import EarshotFeatures
import Foundation
import Testing

/// Absurd options and degenerate signals found by the `FuzzFeatures` fuzzer (Fuzz/): each is
/// rejected with `FeatureError.invalidOption` naming the option, or runs to finite features,
/// where it used to trap, hang, allocate gigabytes or return NaN or infinity.
extension FeatureOptions {
  fileprivate func with(_ change: (inout FeatureOptions) -> Void) -> FeatureOptions {
    var o = self
    change(&o)
    return o
  }
}

@Suite("Option validation and degenerate signals")
struct OptionValidationTests {
  static let speech = FeatureOptions.speechLogMel(sampleRate: 16_000)

  static func fbank(_ change: (inout KaldiFbankOptions) -> Void) -> FeatureOptions {
    var o = FeatureOptions(kind: .fbank, sampleRate: 16_000)
    change(&o.fbank)
    return o
  }

  static func spectral(_ kind: FeatureKind, _ change: (inout FeatureOptions) -> Void) -> FeatureOptions {
    var o = speech
    o.kind = kind
    change(&o)
    return o
  }

  /// (option the error must name, options).
  static let rejected: [(String, FeatureOptions)] = [
    // Int(NaN) and Int(1e30) trapped.
    ("frameLengthMilliseconds", fbank { $0.frameLengthMilliseconds = .nan }),
    ("frameLengthMilliseconds", fbank { $0.frameLengthMilliseconds = .infinity }),
    ("frameLengthMilliseconds", fbank { $0.frameLengthMilliseconds = 1e30 }),
    ("frameShiftMilliseconds", fbank { $0.frameShiftMilliseconds = -.infinity }),
    // 2^21 samples: a 2^21-point FFT and window per frame.
    ("frameLengthMilliseconds", fbank { $0.frameLengthMilliseconds = 131_072 }),
    // NaN or infinite features for finite input.
    ("dither", fbank { $0.dither = .infinity }),
    ("energyFloor", fbank { $0.energyFloor = .infinity }),
    ("inputScale", fbank { $0.inputScale = .nan }),
    ("lifter", spectral(.mfcc) { $0.mfcc.lifter = .infinity }),
    ("log.reference", spectral(.logmel) { $0.log.compression = .decibels; $0.log.reference = .infinity }),
    // A denormal or infinite floor passed `> 0` and then tripped logInPlace's precondition.
    ("log.floor", spectral(.logmel) { $0.log.floor = Float.leastNormalMagnitude / 2 }),
    ("log.floor", spectral(.mfcc) { $0.log.floor = .infinity }),
    // `melBands + 1` overflowed; 10^4 bands x 2^19 bins took minutes.
    ("melBands", fbank { $0.melBands = Int.max }),
    ("melBands", spectral(.mel) { $0.mel.melBands = 10_000 }),
    // frame start + frame length overflowed in the stream.
    ("hopLength", spectral(.power) { $0.spectrogram.hopLength = Int.max }),
    // A speech span needs log-mel levels and per-utterance statistics.
    ("cmvn.speechSpan", fbank { _ in }.with { $0.cmvn.mode = .utterance; $0.cmvn.speechSpan = SpeechSpan() }),
    ("cmvn.speechSpan", spectral(.logmel) { $0.cmvn.mode = .sliding; $0.cmvn.speechSpan = SpeechSpan() }),
    ("cmvn.speechSpan.decibels", spectral(.logmel) { $0.cmvn.mode = .utterance; $0.cmvn.speechSpan = SpeechSpan(decibels: 0) }),
    ("cmvn.speechSpan.decibels", spectral(.mfcc) { $0.cmvn.mode = .level; $0.cmvn.speechSpan = SpeechSpan(decibels: .nan) }),
    // PCEN: a zero epsilon divides by zero in silence; NaN or negative exponents give NaN.
    ("pcen.epsilon", spectral(.pcen) { $0.pcen.epsilon = 0 }),
    ("pcen.epsilon", spectral(.pcen) { $0.pcen.epsilon = 1e-40 }),
    ("pcen.gain", spectral(.pcen) { $0.pcen.gain = .nan }),
    ("pcen.exponent", spectral(.pcen) { $0.pcen.exponent = -0.5 }),
    ("pcen.bias", spectral(.pcen) { $0.pcen.bias = -1 }),
    ("pcen.timeConstant", spectral(.pcen) { $0.pcen.timeConstant = 0 }),
    ("pcen.inputScale", spectral(.pcen) { $0.pcen.inputScale = .infinity }),
  ]

  /// A front end without PCEN settings of its own writes no `pcen` key, so the JSON that model
  /// files carry is what it was before PCEN existed, and such JSON still decodes; settings
  /// that differ from the defaults are kept.
  @Test func pcenSettingsAreStoredOnlyWhenChanged() throws {
    let plain = FeatureOptions.speechLogMel(sampleRate: 16_000)
    let text = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
    #expect(!text.contains("pcen"), "\(text)")
    #expect(try JSONDecoder().decode(FeatureOptions.self, from: Data(text.utf8)) == plain)
    var tuned = plain
    tuned.kind = .pcen
    tuned.pcen.timeConstant = 0.06
    let decoded = try JSONDecoder().decode(FeatureOptions.self, from: try JSONEncoder().encode(tuned))
    #expect(decoded == tuned && decoded.pcen.timeConstant == 0.06)
    tuned.pcen = PCENOptions()
    #expect(tuned == { var o = plain; o.kind = .pcen; return o }())
    // JSON that spells out the defaults decodes as options that never set them.
    let spelled = text.dropLast() + #","pcen":\#(String(decoding: try JSONEncoder().encode(PCENOptions()), as: UTF8.self))}"#
    let fromSpelled = try JSONDecoder().decode(FeatureOptions.self, from: Data(spelled.utf8))
    let reencoded = String(decoding: try JSONEncoder().encode(fromSpelled), as: UTF8.self)
    #expect(fromSpelled == plain && !reencoded.contains("pcen"), "\(reencoded)")
  }

  /// A time constant far under one frame makes librosa's form of the smoothing coefficient
  /// cancel (1.11 at 1e-8 frames, 0 at 1e-9: NaN features); the stable form stays in (0, 1]
  /// and agrees with it elsewhere.
  @Test func pcenSmoothingStaysInRange() throws {
    for t: Float in [1e-12, 1e-9, 1e-6, 0.01, 0.4, 1e6] {
      var p = PCENOptions()
      p.timeConstant = t
      let s = p.smoothing(hopSeconds: 0.01)
      #expect(s > 0 && s <= 1, "\(t): \(s)")
      let frames = Double(t) / 0.01
      if frames > 1e-3 && frames < 1e4 {
        #expect(abs(s - ((1 + 4 * frames * frames).squareRoot() - 1) / (2 * frames * frames)) < 1e-12 * max(1, s))
      }
    }
    var o = FeatureOptions.speechLogMel(sampleRate: 16_000)
    o.kind = .pcen
    o.pcen.timeConstant = 1e-10
    let tone = (0..<4_000).map { Float(sin(Double($0) * 0.1)) * 0.5 }
    #expect(try FeatureExtractor(options: o)(tone).values.allSatisfy(\.isFinite))
  }

  @Test(arguments: rejected.indices)
  func absurdOptionIsRejectedByName(_ i: Int) {
    let (name, options) = Self.rejected[i]
    #expect {
      _ = try FeatureExtractor(options: options)
    } throws: { error in
      guard case .invalidOption(let found, _, _) = error as? FeatureError else { return false }
      return found == name
    }
  }

  @Test func limitsAreDocumentedValues() {
    #expect(FeatureExtractor.maximumLength == 1 << 20)
    #expect(FeatureExtractor.maximumMelBands == 4096)
  }

  /// Deltas wider than the frames a signal gives: the error counts frames, not samples.
  @Test func deltasNeedFramesAndSayFrames() throws {
    var o = Self.speech
    o.deltas.order = 1
    o.deltas.width = 9
    let extractor = try FeatureExtractor(options: o)
    #expect(throws: FeatureError.tooFewFrames(frames: 5, needed: 9, reason: "deltas of width 9 need that many frames")) {
      _ = try extractor([Float](repeating: 0.1, count: 640))
    }
    #expect(try extractor([Float](repeating: 0.1, count: 1280)).frames == 9)
  }

  /// Reflect padding of an empty signal read x[-2] (an index out of range).
  @Test(arguments: [PadMode.constant, .reflect])
  func emptySignalWithCentreIsOneFrameOfFloor(_ pad: PadMode) throws {
    var o = Self.speech
    o.spectrogram.padMode = pad
    let extractor = try FeatureExtractor(options: o)
    let features = try extractor([])
    #expect(features.frames == 1)
    #expect(features.values.allSatisfy { $0 == logf(1e-6) })
    let stream = extractor.makeStream()
    #expect(stream.finish().values == features.values)
  }

  /// Kaldi's mirror (x[-1] = x[0], x[n] = x[n - 1]) is 2n-periodic; it used to be found by
  /// reflecting until inside, O(|index| / n) steps.
  @Test func symmetricMirrorRepeatsTheEdges() {
    let framing = Framing(frameLength: 4, hop: 1, firstStart: 0, edge: .symmetric, frameCount: { _ in 0 })
    let got = (-7...9).map { framing.sourceIndex($0, count: 3) }
    #expect(got == [0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2])
    #expect(framing.sourceIndex(-(1 << 20), count: 1) == 0)
    #expect(framing.sourceIndex(5, count: 0) == nil)
  }

  /// The filterbank visits only each triangle's bins; the result is the dense computation's.
  @Test(arguments: [(MelScale.slaney, MelNormalization.slaney, 512), (.htk, .none, 2048), (.slaney, .none, 4096)])
  func sparseFilterbankEqualsDense(_ scale: MelScale, _ normalization: MelNormalization, _ bands: Int) throws {
    var options = MelOptions()
    options.scale = scale
    options.normalization = normalization
    options.melBands = bands
    options.minFrequency = 30
    let bank = try MelFilterbank(sampleRate: 16_000, fftSize: 1000, options: options)
    let dense = bank.denseMatrix()
    let fftFrequencies = (0..<501).map { Double($0) * 16 }
    let edges = (0..<(bands + 2)).map { i in
      let low = MelFilterbank.hzToMel(30, htk: scale == .htk), high = MelFilterbank.hzToMel(8_000, htk: scale == .htk)
      return MelFilterbank.melToHz(low + (high - low) * Double(i) / Double(bands + 1), htk: scale == .htk)
    }
    for m in stride(from: 0, to: bands, by: max(bands / 64, 1)) {
      let scale = normalization == .slaney ? 2 / (edges[m + 2] - edges[m]) : 1
      for k in 0..<501 {
        let rising = (fftFrequencies[k] - edges[m]) / (edges[m + 1] - edges[m])
        let falling = (edges[m + 2] - fftFrequencies[k]) / (edges[m + 2] - edges[m + 1])
        #expect(dense[m * 501 + k] == Float(max(0, min(rising, falling)) * scale), "band \(m), bin \(k)")
      }
    }
  }
}
