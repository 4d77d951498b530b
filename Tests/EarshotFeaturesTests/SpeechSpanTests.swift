@testable import EarshotFeatures
import Foundation
import Testing

/// CMVN statistics from the speech span (`CMVNOptions.speechSpan`): the frames from the first to
/// the last within some dB of the loudest, widened by a margin.
@Suite("CMVN over the speech span")
struct SpeechSpanTests {
  /// Natural-log features whose frame levels (the mean over bins) sit at the given dB; the
  /// bins spread around the level so that the mean, not any one bin, decides.
  static func frames(_ levels: [Double]) -> FeatureMatrix {
    let perDecibel = log(10.0) / 10
    let values = levels.flatMap { db in [-1.5, 0.25, 1.25].map { Float(db * perDecibel + $0) } }
    return FeatureMatrix(frames: levels.count, bins: 3, values: values)
  }

  /// 30 frames of noise at -40 dB, one at -24 dB (inside 25 dB), 19 at 0 dB, one at -26 dB
  /// (outside), 29 at -40 dB: the span is frames 30...49, then the margin, cut to the utterance.
  @Test func spanRunsFromTheFirstToTheLastLoudFramePlusTheMargin() {
    let levels = [Double](repeating: -40, count: 30) + [-24] + [Double](repeating: 0, count: 19) + [-26]
      + [Double](repeating: -40, count: 29)
    let x = Self.frames(levels)
    let perDecibel = log(10.0) / 10
    #expect(CMVN.speechFrames(of: x, span: SpeechSpan(decibels: 25, marginFrames: 0), unitsPerDecibel: perDecibel) == 30..<50)
    #expect(CMVN.speechFrames(of: x, span: SpeechSpan(decibels: 25, marginFrames: 5), unitsPerDecibel: perDecibel) == 25..<55)
    #expect(CMVN.speechFrames(of: x, span: SpeechSpan(decibels: 27, marginFrames: 0), unitsPerDecibel: perDecibel) == 30..<51)
    #expect(CMVN.speechFrames(of: x, span: SpeechSpan(decibels: 23, marginFrames: 0), unitsPerDecibel: perDecibel) == 31..<50)
    #expect(CMVN.speechFrames(of: x, span: SpeechSpan(decibels: 25, marginFrames: 40), unitsPerDecibel: perDecibel) == 0..<80)
    // The same levels in decibel units give the same span.
    let decibels = FeatureMatrix(frames: x.frames, bins: 3, values: x.values.map { $0 / Float(perDecibel) })
    #expect(CMVN.speechFrames(of: decibels, span: SpeechSpan(decibels: 25, marginFrames: 0), unitsPerDecibel: 1) == 30..<50)
  }

  /// Noise alone before and after an utterance leaves its normalised frames as they are
  /// without it (the statistics come from the span; here the span is exactly the utterance),
  /// and the noise frames are normalised by the same statistics. Without a span the noise
  /// pulls them far off, which is what the span is for.
  @Test(arguments: [CMVNMode.utterance, .level])
  func noiseAroundTheSpeechLeavesItsNormalisationAlone(_ mode: CMVNMode) {
    var g = SplitMix64(seed: 11)
    let speechLevels = (0..<60).map { t in t == 0 || t == 59 ? 0.0 : -20 * g.uniform() }
    let noiseLevels = (0..<40).map { _ in -45 - 5 * g.uniform() }
    let speech = Self.frames(speechLevels)
    let padded = Self.frames(noiseLevels + speechLevels + noiseLevels)
    let span = CMVN.speechFrames(of: padded, span: SpeechSpan(decibels: 25, marginFrames: 0), unitsPerDecibel: log(10.0) / 10)
    #expect(span == 40..<100)

    func normalized(_ x: FeatureMatrix, _ frames: Range<Int>?) -> FeatureMatrix {
      var y = x
      if mode == .utterance {
        CMVN.utterance(&y, normalizeVariance: true, statisticsFrames: frames)
      } else {
        CMVN.level(&y, normalizeVariance: true, statisticsFrames: frames)
      }
      return y
    }
    let alone = normalized(speech, nil), withSpan = normalized(padded, span), withoutSpan = normalized(padded, nil)
    let inside = Array(withSpan.values[40 * 3..<100 * 3])
    #expect(zip(inside, alone.values).map { abs($0 - $1) }.max()! < 1e-5)
    let apart = zip(Array(withoutSpan.values[40 * 3..<100 * 3]), alone.values).map { abs($0 - $1) }.max()!
    #expect(apart > 0.5, "without the span the speech moved only \(apart)")

    // A noise frame's value, by hand: (x - mean) / std over the speech frames (bin 0, or all bins).
    let used = mode == .utterance ? stride(from: 0, to: speech.values.count, by: 3).map { speech.values[$0] } : speech.values
    let mean = used.reduce(0.0) { $0 + Double($1) } / Double(used.count)
    let std = sqrt(used.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(used.count))
    let expected = (Double(padded[5, 0]) - mean) / std
    #expect(abs(Double(withSpan[5, 0]) - expected) < 1e-4, "\(withSpan[5, 0]) against \(expected)")
  }

  /// Through `FeatureExtractor`: white noise at -30 dB (0.3 s), 0 dB (0.5 s), -20 dB (0.3 s),
  /// -30 dB (0.4 s) at 16 kHz, 10 ms hop. The span (25 dB, no margin) is the 0 and -20 dB
  /// parts, frames 30..<110 give or take the windows' overlap, whether the log is natural or
  /// in decibels and whether the spectrogram is power or magnitude.
  @Test func extractorFindsTheSpanInAnyLogUnits() throws {
    var g = SplitMix64(seed: 5)
    func noise(_ seconds: Double, _ db: Double) -> [Float] {
      let a = Float(0.1 * pow(10, db / 20))
      return (0..<Int(seconds * 16_000)).map { _ in a * g.nextGaussian() }
    }
    let signal = noise(0.3, -30) + noise(0.5, 0) + noise(0.3, -20) + noise(0.4, -30)
    for (compression, power) in [(LogCompression.natural, Float(2)), (.decibels, 2), (.natural, 1)] {
      var o = FeatureOptions.speechLogMel(sampleRate: 16_000)
      o.log.compression = compression
      o.log.topDecibels = nil
      o.spectrogram.power = power
      o.cmvn.mode = .utterance
      o.cmvn.speechSpan = SpeechSpan(decibels: 25, marginFrames: 0)
      let extractor = try FeatureExtractor(options: o)
      let span = CMVN.speechFrames(
        of: try extractor.frameLocal(signal), span: o.cmvn.speechSpan!, unitsPerDecibel: extractor.logUnitsPerDecibel)
      #expect(abs(span.lowerBound - 30) <= 2 && abs(span.upperBound - 110) <= 2, "\(compression) power \(power): \(span)")
      // And the extractor's CMVN uses it: the -30 dB frames come out well under the span's mean.
      let features = try extractor(signal)
      let early = (0..<features.bins).map { Double(features[10, $0]) }.reduce(0, +) / Double(features.bins)
      #expect(early < -1.5, "\(compression) power \(power): frame 10 sits at \(early) deviations")
    }
  }

  /// Defaults are API: no span unless asked; a span's defaults are the shipped `digits` model's.
  @Test func defaults() {
    let o = CMVNOptions()
    #expect(o.mode == .none && o.normalizeVariance && o.windowFrames == 300 && o.speechSpan == nil)
    #expect(SpeechSpan().decibels == 25 && SpeechSpan().marginFrames == 20)
  }

  @Test func modelFilesWithoutASpanStillDecode() throws {
    let old = #"{"mode":"utterance","normalizeVariance":true,"windowFrames":300}"#
    let decoded = try JSONDecoder().decode(CMVNOptions.self, from: Data(old.utf8))
    #expect(decoded.speechSpan == nil && decoded.mode == .utterance)
    #expect(!String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self).contains("speechSpan"))
    var o = CMVNOptions()
    o.mode = .level
    o.speechSpan = SpeechSpan(decibels: 30, marginFrames: 7)
    #expect(try JSONDecoder().decode(CMVNOptions.self, from: JSONEncoder().encode(o)) == o)
  }
}

extension SplitMix64 {
  /// Uniform in [0, 1).
  mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
