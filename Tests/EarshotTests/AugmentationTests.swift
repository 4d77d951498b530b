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
    o = AugmentationOptions()
    o.reverbProbability = 1.5
    #expect(throws: TrainingError.self) { try o.validate() }
    o = AugmentationOptions()
    o.reverberationTimes = 0.01...0.5
    #expect(throws: TrainingError.self) { try o.validate() }
  }

  /// Options saved before the warp and silence fields existed still load.
  @Test func optionsWithoutTheNewFieldsDecode() throws {
    let old = #"{"speeds":[1],"gainDecibels":3,"noiseProbability":0.5,"minimumSNR":5,"maximumSNR":30,"#
      + #""timeMasks":1,"maximumTimeMaskFrames":8,"frequencyMasks":2,"maximumFrequencyMaskBins":6}"#
    let o = try JSONDecoder().decode(AugmentationOptions.self, from: Data(old.utf8))
    #expect(o.gainDecibels == 3 && o.timeMasks == 1)
    #expect(o.maximumFrequencyWarp == 0 && o.silenceProbability == 0 && o.reverbProbability == 0)
    #expect(o.telephoneProbability == 0)
  }

  /// The synthetic room response: the direct sound, silence until the pre-delay, a tail with
  /// the asked direct-to-reverberant ratio whose level falls 60 dB per RT60 (a line fitted to
  /// the log energy of 10 ms windows), and no more than 50 dB of it.
  @Test(arguments: [(Float(0.3), Float(6)), (0.7, 0), (0.15, 12)])
  func roomResponseHasTheAskedDecayAndRatio(rt60: Float, drr: Float) {
    let rate = 16_000
    var g = SeededGenerator(seed: 3)
    let h = Augmentation.roomResponse(sampleRate: rate, reverberationTime: rt60, directToReverberant: drr, preDelay: 0.01, generator: &g)
    let start = Int(0.01 * Float(rate))
    #expect(h[0] == 1)
    #expect(h[1..<start].allSatisfy { $0 == 0 })
    #expect(abs(h.count - start - Int(rt60 * 50 / 60 * Float(rate))) <= 1)
    let tail = h[start...].reduce(Float(0)) { $0 + $1 * $1 }
    #expect(abs(10 * log10(1 / tail) - drr) < 1e-3, "ratio \(10 * log10(1 / tail)) dB")
    // Energy per 10 ms window in dB against time: the slope is -60 dB per rt60.
    let window = rate / 100
    var times: [Double] = [], levels: [Double] = []
    var t = start
    while t + window <= h.count {
      let e = h[t..<(t + window)].reduce(Double(0)) { $0 + Double($1) * Double($1) }
      times.append(Double(t - start) / Double(rate))
      levels.append(10 * log10(e))
      t += window
    }
    let mt = times.reduce(0, +) / Double(times.count), ml = levels.reduce(0, +) / Double(levels.count)
    var covariance = 0.0, variance = 0.0
    for (time, level) in zip(times, levels) {
      covariance += (time - mt) * (level - ml)
      variance += (time - mt) * (time - mt)
    }
    let slope = covariance / variance
    let fitted = -60 / slope
    #expect(abs(fitted - Double(rt60)) / Double(rt60) < 0.1, "fitted RT60 \(fitted) s, asked \(rt60) s")
  }

  /// Reverberation: the dry signal convolved with the room's response, the tail kept, at the
  /// dry signal's RMS level; the same seed gives the same room.
  @Test func reverbConvolvesWithTheRoomAndKeepsTheLevel() throws {
    var o = AugmentationOptions.none
    o.reverbProbability = 1
    o.reverberationTimes = 0.25...0.25
    o.directToReverberantDecibels = 3...3
    var rng = SeededGenerator(seed: 9)
    let x = (0..<1_200).map { i in Float(sin(Double(i) * 0.3)) * (i < 600 ? 0.5 : 0) + 0.01 * rng.normal() }
    var y = x
    var g = SeededGenerator(seed: 5)
    Augmentation.augmentWaveform(&y, sampleRate: 8000, options: o, noise: [], generator: &g)
    // The same draws by hand: the reverb coin, RT60, ratio, pre-delay, then the response.
    var h = SeededGenerator(seed: 5)
    _ = h.nextUnitFloat()
    let rt60 = h.uniform(0.25, 0.25), drr = h.uniform(3, 3), delay = h.uniform(0.002, 0.02)
    let response = Augmentation.roomResponse(sampleRate: 8000, reverberationTime: rt60, directToReverberant: drr, preDelay: delay, generator: &h)
    #expect(y.count == x.count + response.count - 1)
    // Direct convolution in Double, scaled to x's RMS.
    var direct = [Double](repeating: 0, count: y.count)
    for (i, a) in x.enumerated() where a != 0 { for (j, b) in response.enumerated() { direct[i + j] += Double(a) * Double(b) } }
    let rms = { (v: [Double]) in (v.map { $0 * $0 }.reduce(0, +) / Double(v.count)).squareRoot() }
    let target = rms(x.map(Double.init))
    let scaled = direct.map { $0 * target / rms(direct) }
    let worst = zip(y, scaled).map { abs(Double($0) - $1) }.max()!
    #expect(worst < 1e-4, "largest difference from direct convolution \(worst)")
    #expect(abs(rms(y.map(Double.init)) - target) / target < 1e-4)
    var again = x
    var g2 = SeededGenerator(seed: 5)
    Augmentation.augmentWaveform(&again, sampleRate: 8000, options: o, noise: [], generator: &g2)
    #expect(again == y)
  }
}
