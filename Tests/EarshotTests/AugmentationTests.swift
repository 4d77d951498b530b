import Earshot
import Foundation
import Testing

/// Vocal tract length warping and silence padding.
@Suite struct AugmentationTests {
  /// librosa's filterbank (proven against librosa by the parity fixtures) peaks at each band's
  /// centre, so the axis must agree with it to within one FFT bin.
  @Test(arguments: [(8000, 256, 40, MelScale.slaney), (16000, 512, 64, .htk), (22050, 2048, 128, .slaney)])
  func melAxisCentresAreTheFilterbankPeaks(rate: Int, fft: Int, bands: Int, scale: MelScale) throws {
    var options = FeatureOptions(kind: .logmel, sampleRate: rate)
    options.spectrogram.fftSize = fft
    options.mel.melBands = bands
    options.mel.scale = scale
    options.mel.minFrequency = 20
    let axis = try #require(MelAxis(options))
    var mel = options.mel
    mel.normalization = .none
    let bank = try MelFilterbank(sampleRate: rate, fftSize: fft, options: mel)
    let binHz = Double(rate) / Double(fft)
    for c in 0..<bands where !bank.weights[c].isEmpty {
      let peak = bank.weights[c].indices.max { bank.weights[c][$0] < bank.weights[c][$1] }!
      let peakHz = Double(bank.start[c] + peak) * binHz
      #expect(abs(peakHz - axis.centre(ofBand: c)) <= binHz, "band \(c)")
      #expect(abs(axis.position(ofHz: axis.centre(ofBand: c)) - Double(c)) < 1e-9)
    }
  }

  @Test func kaldiFbankHasAnAxisAndMFCCHasNone() {
    var fbank = FeatureOptions(kind: .fbank, sampleRate: 16000)
    fbank.fbank.melBands = 23
    fbank.fbank.highFrequency = -400
    let axis = MelAxis(fbank)
    #expect(axis?.bands == 23)
    // Kaldi's top edge is the Nyquist frequency plus a negative high frequency.
    #expect(abs((axis?.position(ofHz: 7600) ?? 0) - 23) < 1e-9)
    #expect(MelAxis(FeatureOptions(kind: .mfcc, sampleRate: 16000)) == nil)
  }

  /// A formant at band 12 moves to the band centred `factor` times higher.
  @Test(arguments: [Float(1.15), 0.87])
  func warpMovesAFormantByTheFactor(factor: Float) {
    let axis = MelAxis(bands: 40, lowHz: 0, highHz: 4000, htk: false)
    var m = Matrix(rows: 3, cols: 40)
    for t in 0..<3 { m[t, 12] = 1 }
    Augmentation.warpFrequency(&m, axis: axis, factor: factor)
    let target = axis.centre(ofBand: 12) * Double(factor)
    let nearest = (0..<40).min { abs(axis.centre(ofBand: $0) - target) < abs(axis.centre(ofBand: $1) - target) }!
    for t in 0..<3 {
      let peak = (0..<40).max { m[t, $0] < m[t, $1] }!
      #expect(peak == nearest)
      #expect(m[t, peak] > 0.5)
    }
  }

  @Test func warpByOneChangesNothing() {
    var m = Matrix(rows: 2, cols: 8)
    for i in m.data.indices { m.data[i] = Float(i) }
    let before = m
    Augmentation.warpFrequency(&m, axis: MelAxis(bands: 8, lowHz: 0, highHz: 4000, htk: true), factor: 1)
    #expect(m == before)
  }

  @Test func silencePadsBothSidesWithExactZeros() {
    var o = AugmentationOptions.none
    o.silenceProbability = 1
    o.maximumSilenceSeconds = 0.25
    let x = [Float](repeating: 0.5, count: 800)
    var sawPadding = false
    for seed in 0..<20 as Range<UInt64> {
      var y = x
      var g = SeededGenerator(seed: seed)
      Augmentation.augmentWaveform(&y, sampleRate: 8000, options: o, noise: [], generator: &g)
      let before = y.firstIndex { $0 != 0 }!, after = y.count - 1 - y.lastIndex { $0 != 0 }!
      #expect(before <= 2000 && after <= 2000)
      #expect(Array(y[before..<(y.count - after)]) == x)
      sawPadding = sawPadding || before + after > 0
    }
    #expect(sawPadding)
  }

  @Test func outOfRangeOptionsAreRefused() {
    var o = AugmentationOptions()
    o.maximumFrequencyWarp = 0.5
    #expect(throws: TrainingError.self) { try o.validate() }
    o = AugmentationOptions()
    o.silenceProbability = 2
    #expect(throws: TrainingError.self) { try o.validate() }
  }

  /// Options saved before the warp and silence fields existed still load.
  @Test func optionsWithoutTheNewFieldsDecode() throws {
    let old = #"{"speeds":[1],"gainDecibels":3,"noiseProbability":0.5,"minimumSNR":5,"maximumSNR":30,"#
      + #""timeMasks":1,"maximumTimeMaskFrames":8,"frequencyMasks":2,"maximumFrequencyMaskBins":6}"#
    let o = try JSONDecoder().decode(AugmentationOptions.self, from: Data(old.utf8))
    #expect(o.gainDecibels == 3 && o.timeMasks == 1)
    #expect(o.maximumFrequencyWarp == 0 && o.silenceProbability == 0)
  }
}
