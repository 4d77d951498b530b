import Foundation

/// Seeded data augmentation for training: speed perturbation, room reverberation, gain,
/// additive background noise, a telephone line, digital-silence padding, vocal-tract-length
/// warping of the mel axis and SpecAugment masks.
/// Every draw comes from a ``SeededGenerator`` the caller passes, so a run is reproducible from
/// its seed.
public struct AugmentationOptions: Equatable, Codable, Sendable {
  /// Speed factors drawn uniformly per utterance (Ko et al. 2015); 1.1 is 10% faster (and
  /// higher-pitched, as resampling does). Default [0.9, 1.0, 1.1]; [1] turns it off.
  public var speeds: [Float] = [0.9, 1.0, 1.1]
  /// Gain in dB drawn uniformly in [-gainDecibels, +gainDecibels]; default 6; 0 turns it off.
  public var gainDecibels: Float = 6
  /// Folder of background-noise audio (any format, any rate; resampled once); nil: no noise.
  public var noiseFolder: String? = nil
  /// Probability that an utterance gets noise, in [0, 1]; default 0.5.
  public var noiseProbability: Float = 0.5
  /// Signal-to-noise ratio range in dB, drawn uniformly; default 5...30.
  public var minimumSNR: Float = 5
  public var maximumSNR: Float = 30
  /// Longest stretch of the noise alone added on each side of an utterance that gets noise,
  /// in seconds, drawn uniformly from 0 (the utterance is padded, then the noise plays over
  /// all of it, at an SNR measured on the utterance itself): a recording that starts and ends
  /// in a noisy room. Default 0 (off).
  public var maximumNoisePadSeconds: Float = 0
  /// SpecAugment (Park et al. 2019) time masks per utterance; default 2; 0 turns them off.
  public var timeMasks = 2
  /// Widest time mask in frames, also capped at 1/8 of the utterance per mask; default 8.
  public var maximumTimeMaskFrames = 8
  /// Frequency masks per utterance; default 2.
  public var frequencyMasks = 2
  /// Widest frequency mask in feature bins; default 6.
  public var maximumFrequencyMaskBins = 6
  /// Vocal tract length perturbation (Jaitly and Hinton 2013): the mel axis of each utterance
  /// is warped by a factor drawn uniformly in [1 - w, 1 + w], as if the speaker's formants were
  /// that much higher or lower. Mel and Kaldi fbank features only; default 0 (off).
  public var maximumFrequencyWarp: Float = 0
  /// Probability that an utterance is played in a simulated room: convolved with a synthetic
  /// impulse response (``Augmentation/roomResponse(sampleRate:reverberationTime:directToReverberant:preDelay:generator:)``)
  /// whose reverberation time (RT60) is drawn uniformly in `reverberationTimes` and whose
  /// direct-to-reverberant ratio in `directToReverberantDecibels`; default 0 (off).
  public var reverbProbability: Float = 0
  /// RT60 range in seconds; default 0.15...0.7 (a small office to a large living room).
  public var reverberationTimes: ClosedRange<Float> = 0.15...0.7
  /// Direct-to-reverberant energy ratio range in dB; default 0...12 (a phone at arm's length
  /// to a close talker).
  public var directToReverberantDecibels: ClosedRange<Float> = 0...12
  /// Probability that an utterance is heard through a telephone channel
  /// (``Augmentation/applyTelephone(_:sampleRate:generator:)``): band-limited by 4th-order
  /// Butterworth high- and low-pass filters, cut-offs drawn in 200...400 Hz and 3,000...3,600
  /// Hz (the low-pass kept under 0.45 x the sample rate), then G.711 mu-law coded (8 bits) at a
  /// level whose peak is drawn in -30...-1 dBFS, and scaled back; default 0 (off).
  public var telephoneProbability: Float = 0
  /// Probability that an utterance gets exact digital silence (zeros) added before and after
  /// it, each side up to `maximumSilenceSeconds` long, drawn uniformly; default 0 (off).
  public var silenceProbability: Float = 0
  /// Longest silence added on one side, in seconds; default 0.5.
  public var maximumSilenceSeconds: Float = 0.5
  /// CTC training only: connected strings built once at the start from the training clips,
  /// each 2...`maximumConnectedPieces` clips of one speaker joined with pauses (see
  /// ``connectedPauseSeconds``) and transcribed as their texts in order; they are added to the
  /// training set and augmented like any clip. Default 0 (none).
  public var connectedStrings = 0
  /// Most clips in one connected string, 2...50; default 10.
  public var maximumConnectedPieces = 10
  /// Longest pause between the clips of a connected string, in seconds (drawn uniformly from
  /// 0; each clip is first trimmed of its own leading and trailing silence); default 0.4.
  public var connectedPauseSeconds: Float = 0.4
  public init() {}

  public init(from decoder: any Decoder) throws {
    // Files written before a field existed lack it: keep the default for those.
    let c = try decoder.container(keyedBy: CodingKeys.self)
    func read<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws {
      if let v = try c.decodeIfPresent(T.self, forKey: key) { value = v }
    }
    try read(.speeds, &speeds)
    try read(.gainDecibels, &gainDecibels)
    noiseFolder = try c.decodeIfPresent(String.self, forKey: .noiseFolder)
    try read(.noiseProbability, &noiseProbability)
    try read(.minimumSNR, &minimumSNR)
    try read(.maximumSNR, &maximumSNR)
    try read(.maximumNoisePadSeconds, &maximumNoisePadSeconds)
    try read(.timeMasks, &timeMasks)
    try read(.maximumTimeMaskFrames, &maximumTimeMaskFrames)
    try read(.frequencyMasks, &frequencyMasks)
    try read(.maximumFrequencyMaskBins, &maximumFrequencyMaskBins)
    try read(.maximumFrequencyWarp, &maximumFrequencyWarp)
    try read(.reverbProbability, &reverbProbability)
    try read(.reverberationTimes, &reverberationTimes)
    try read(.directToReverberantDecibels, &directToReverberantDecibels)
    try read(.telephoneProbability, &telephoneProbability)
    try read(.silenceProbability, &silenceProbability)
    try read(.maximumSilenceSeconds, &maximumSilenceSeconds)
    try read(.connectedStrings, &connectedStrings)
    try read(.maximumConnectedPieces, &maximumConnectedPieces)
    try read(.connectedPauseSeconds, &connectedPauseSeconds)
  }

  /// No augmentation at all.
  public static var none: AugmentationOptions {
    var o = AugmentationOptions()
    o.speeds = [1]
    o.gainDecibels = 0
    o.noiseFolder = nil
    o.timeMasks = 0
    o.frequencyMasks = 0
    return o
  }

  /// Whether the waveform changes per step beyond picking a speed (then features must be
  /// computed per step; otherwise they are computed once per speed).
  public var changesWaveform: Bool {
    gainDecibels > 0 || noiseFolder != nil || silenceProbability > 0 || reverbProbability > 0
      || telephoneProbability > 0
  }

  /// Checks the ranges.
  public func validate() throws(TrainingError) {
    // `name` must lie in `range`; the error says `expected` (the range, with its unit).
    func within<T: Comparable>(_ name: String, _ value: T, _ range: ClosedRange<T>, _ expected: String) throws(TrainingError) {
      guard range.contains(value) else { throw .invalidOption(name: name, value: "\(value)", expected: expected) }
    }
    guard !speeds.isEmpty, speeds.allSatisfy({ $0 >= 0.5 && $0 <= 2 }) else {
      throw .invalidOption(name: "speeds", value: "\(speeds)", expected: "one or more factors in 0.5...2")
    }
    try within("gainDecibels", gainDecibels, 0...40, "0...40")
    try within("noiseProbability", noiseProbability, 0...1, "0...1")
    try within("maximumNoisePadSeconds", maximumNoisePadSeconds, 0...10, "0...10 seconds")
    guard minimumSNR <= maximumSNR else {
      throw .invalidOption(name: "minimumSNR", value: "\(minimumSNR)", expected: "<= maximumSNR (\(maximumSNR))")
    }
    guard timeMasks >= 0, frequencyMasks >= 0, maximumTimeMaskFrames >= 0, maximumFrequencyMaskBins >= 0 else {
      throw .invalidOption(name: "masks", value: "\(timeMasks), \(frequencyMasks)", expected: ">= 0")
    }
    try within("maximumFrequencyWarp", maximumFrequencyWarp, 0...0.3, "0...0.3")
    try within("reverbProbability", reverbProbability, 0...1, "0...1")
    guard reverberationTimes.lowerBound >= 0.05 && reverberationTimes.upperBound <= 3 else {
      throw .invalidOption(name: "reverberationTimes", value: "\(reverberationTimes)", expected: "within 0.05...3 seconds")
    }
    guard directToReverberantDecibels.lowerBound >= -20 && directToReverberantDecibels.upperBound <= 40 else {
      throw .invalidOption(name: "directToReverberantDecibels", value: "\(directToReverberantDecibels)", expected: "within -20...40 dB")
    }
    try within("telephoneProbability", telephoneProbability, 0...1, "0...1")
    try within("silenceProbability", silenceProbability, 0...1, "0...1")
    try within("maximumSilenceSeconds", maximumSilenceSeconds, 0...10, "0...10 seconds")
    try within("connectedStrings", connectedStrings, 0...1_000_000, "0...1000000")
    try within("maximumConnectedPieces", maximumConnectedPieces, 2...50, "2...50")
    try within("connectedPauseSeconds", connectedPauseSeconds, 0...5, "0...5 seconds")
  }
}

/// The augmentation steps, each a pure function of its input and a generator.
public enum Augmentation {
  /// Every readable, non-empty audio file under `folder`, mono at `sampleRate`, for noise
  /// mixing; unreadable files are named in `skipped`.
  /// - Throws: `TrainingError.invalidOption` when the folder holds no usable audio.
  static func loadNoise(folder: String, sampleRate: Int, threads: Int, skipped: inout [String]) throws -> [[Float]] {
    let files = audioFiles(in: folder)
    guard !files.isEmpty else {
      throw TrainingError.invalidOption(name: "noiseFolder", value: folder, expected: "a folder holding audio files")
    }
    let noise = try loadEach(files.count, threads: threads, skipped: &skipped) { i in
      try AudioFile.loadMono(path: files[i], sampleRate: sampleRate).samples
    }.filter { !$0.isEmpty }
    guard !noise.isEmpty else {
      throw TrainingError.invalidOption(name: "noiseFolder", value: folder, expected: "at least one readable, non-empty audio file")
    }
    return noise
  }

  /// Speed perturbation: `samples` at `sampleRate` played `speed` times faster, by soxr
  /// resampling to `sampleRate / speed` (output length `ceil(n / speed)`).
  public static func changeSpeed(_ samples: [Float], by speed: Float, sampleRate: Int) throws -> [Float] {
    if speed == 1 { return samples }
    let target = Int((Double(sampleRate) / Double(speed)).rounded())
    return try Resampler.resample(samples, from: sampleRate, to: target)
  }

  /// Multiplies by `10^(decibels / 20)`.
  public static func applyGain(_ samples: inout [Float], decibels: Float) {
    let g = Foundation.pow(10, decibels / 20)
    samples.withUnsafeMutableBufferPointer { s in for i in s.indices { s[i] *= g } }
  }

  /// Adds `noise` (looped from `offset` when shorter) scaled so that the power ratio of
  /// `samples` to the added noise is `snr` dB. Silent noise or a silent signal adds nothing.
  /// With `pad` (samples per side, before and after), `samples` is first extended by that
  /// much digital silence, so the noise also plays alone there; the SNR is still measured
  /// on the original samples.
  public static func addNoise(_ samples: inout [Float], noise: [Float], offset: Int, snr: Float,
                              pad: (before: Int, after: Int) = (0, 0)) {
    guard !samples.isEmpty, !noise.isEmpty else { return }
    let before = max(pad.before, 0), after = max(pad.after, 0)
    var signalPower = 0.0, noisePower = 0.0
    for v in samples { signalPower += Double(v) * Double(v) }
    let n = samples.count + before + after
    for i in 0..<n { let v = Double(noise[(offset + i) % noise.count]); noisePower += v * v }
    guard signalPower > 0, noisePower > 0 else { return }
    if n > samples.count {
      // Powers are compared per sample: the signal's over its own length, the noise's over all.
      signalPower *= Double(n) / Double(samples.count)
      samples = zeroPadded(samples, before: before, after: after)
    }
    // scale^2 * noisePower = signalPower / 10^(snr / 10)
    let scale = Float((signalPower / noisePower / Foundation.pow(10, Double(snr) / 10)).squareRoot())
    noise.withUnsafeBufferPointer { z in
      samples.withUnsafeMutableBufferPointer { s in
        for i in 0..<n { s[i] += scale * z[(offset + i) % z.count] }
      }
    }
  }

  /// SpecAugment masks on (frames, bins) features, set to 0 (the mean after CMVN):
  /// `timeMasks` spans of up to `min(maximumTimeMaskFrames, frames / 8)` frames and
  /// `frequencyMasks` spans of up to `maximumFrequencyMaskBins` bins, widths and starts
  /// uniform.
  public static func specAugment(_ features: inout Matrix, options: AugmentationOptions,
                                 generator g: inout SeededGenerator) {
    let frames = features.rows, bins = features.cols
    let widestTime = min(options.maximumTimeMaskFrames, frames / 8)
    if widestTime > 0 {
      for _ in 0..<options.timeMasks {
        let width = Int(g.next() % UInt64(widestTime + 1))
        let start = Int(g.next() % UInt64(frames - width + 1))
        for t in start..<(start + width) { for c in 0..<bins { features[t, c] = 0 } }
      }
    }
    let widestBand = min(options.maximumFrequencyMaskBins, bins)
    if widestBand > 0 {
      for _ in 0..<options.frequencyMasks {
        let width = Int(g.next() % UInt64(widestBand + 1))
        let start = Int(g.next() % UInt64(bins - width + 1))
        for t in 0..<frames { for c in start..<(start + width) { features[t, c] = 0 } }
      }
    }
  }

  /// A synthetic room impulse response at `sampleRate`: the direct sound (1 at time 0), then,
  /// from `preDelay` seconds on, Gaussian noise under an exponential envelope that falls 60 dB
  /// in `reverberationTime` seconds (Polack's statistical model of a diffuse field), scaled so
  /// that the direct sound's energy is `directToReverberant` dB above the tail's. The tail
  /// stops where it is 50 dB down.
  public static func roomResponse(
    sampleRate: Int, reverberationTime: Float, directToReverberant: Float, preDelay: Float,
    generator g: inout SeededGenerator
  ) -> [Float] {
    let rate = Float(sampleRate)
    let start = max(Int(preDelay * rate), 1)
    let length = start + max(Int(reverberationTime * 50 / 60 * rate), 1)
    var h = [Float](repeating: 0, count: length)
    h[0] = 1
    // Amplitude falls 60 dB (a factor 1000) in reverberationTime seconds.
    let decay = Foundation.log(Float(1000)) / (reverberationTime * rate)
    var energy: Float = 0
    for t in start..<length {
      h[t] = g.normal() * Foundation.exp(-decay * Float(t - start))
      energy += h[t] * h[t]
    }
    let scale = (1 / (energy * Foundation.pow(10, directToReverberant / 10))).squareRoot()
    for t in start..<length { h[t] *= scale }
    return h
  }

  /// `samples` as heard in a simulated room: convolved with a `roomResponse` drawn from the
  /// options' ranges (pre-delay 2-20 ms), the reverberant tail kept, then scaled back to the
  /// input's RMS level.
  public static func applyReverb(_ samples: inout [Float], sampleRate: Int, options a: AugmentationOptions,
                                 generator g: inout SeededGenerator) {
    guard !samples.isEmpty else { return }
    let h = roomResponse(
      sampleRate: sampleRate,
      reverberationTime: g.uniform(a.reverberationTimes.lowerBound, a.reverberationTimes.upperBound),
      directToReverberant: g.uniform(a.directToReverberantDecibels.lowerBound, a.directToReverberantDecibels.upperBound),
      preDelay: g.uniform(0.002, 0.02), generator: &g)
    let before = samples.reduce(0) { $0 + Double($1) * Double($1) }
    var wet = Convolution.convolve(samples, h)
    let after = wet.reduce(0) { $0 + Double($1) * Double($1) }
    guard before > 0, after > 0 else { return }
    let scale = Float((before / Double(samples.count) / (after / Double(wet.count))).squareRoot())
    for i in wet.indices { wet[i] *= scale }
    samples = wet
  }

  /// The waveform steps of one training draw, in order: room reverberation, gain, background
  /// noise (one of `noise`, at a random offset and SNR, with the noise alone on both sides
  /// when `maximumNoisePadSeconds` is set), the telephone channel (the room and its noise
  /// reach the microphone before the line), digital silence on both sides.
  /// `sampleRate` is the rate of `samples`.
  public static func augmentWaveform(_ samples: inout [Float], sampleRate: Int, options a: AugmentationOptions,
                              noise: [[Float]], generator g: inout SeededGenerator) {
    if a.reverbProbability > 0 && g.nextUnitFloat() < a.reverbProbability {
      applyReverb(&samples, sampleRate: sampleRate, options: a, generator: &g)
    }
    if a.gainDecibels > 0 { applyGain(&samples, decibels: g.uniform(-a.gainDecibels, a.gainDecibels)) }
    if !noise.isEmpty && g.nextUnitFloat() < a.noiseProbability {
      let z = noise[Int(g.next() % UInt64(noise.count))]
      let offset = Int(g.next() % UInt64(z.count))
      let snr = g.uniform(a.minimumSNR, a.maximumSNR)
      let pad = a.maximumNoisePadSeconds > 0
        ? sides(upTo: a.maximumNoisePadSeconds, sampleRate: sampleRate, generator: &g) : (before: 0, after: 0)
      addNoise(&samples, noise: z, offset: offset, snr: snr, pad: pad)
    }
    if a.telephoneProbability > 0 && g.nextUnitFloat() < a.telephoneProbability {
      applyTelephone(&samples, sampleRate: sampleRate, generator: &g)
    }
    if a.silenceProbability > 0 && g.nextUnitFloat() < a.silenceProbability {
      let pad = sides(upTo: a.maximumSilenceSeconds, sampleRate: sampleRate, generator: &g)
      samples = zeroPadded(samples, before: pad.before, after: pad.after)
    }
  }

  /// `samples` as heard over a telephone line: high-passed at a cut-off drawn in 200...400 Hz
  /// and low-passed at one drawn in 3,000...3,600 Hz (at most 0.45 x `sampleRate`), each a
  /// 4th-order Butterworth filter, then scaled to a peak drawn in -30...-1 dBFS, G.711 mu-law
  /// coded and decoded (8 bits a sample: quantisation noise about 38 dB under the signal, more
  /// on the quietest sounds), and scaled back by the same factor. Silence stays silent.
  public static func applyTelephone(_ samples: inout [Float], sampleRate: Int, generator g: inout SeededGenerator) {
    // (Training rates are at least 1 kHz: above 800 Hz the 400 Hz high-pass is stable.)
    precondition(sampleRate >= 1_000, "applyTelephone needs a sample rate of at least 1000 Hz (got \(sampleRate))")
    guard !samples.isEmpty else { return }
    let low = g.uniform(200, 400)
    let high = min(g.uniform(3_000, 3_600), 0.45 * Float(sampleRate))
    let peakDecibels = g.uniform(-30, -1)
    var y = samples.map(Double.init)
    for section in butterworth(highPass: true, cutoff: Double(low), sampleRate: sampleRate)
      + butterworth(highPass: false, cutoff: Double(high), sampleRate: sampleRate) {
      section.filter(&y)
    }
    let peak = y.reduce(0) { max($0, abs($1)) }
    guard peak > 0 else { samples = [Float](repeating: 0, count: samples.count); return }
    let scale = Foundation.pow(10, Double(peakDecibels) / 20) / peak
    samples = y.map { v in
      let code = MuLaw.encode(Int16(clamping: Int((v * scale * 32_768).rounded())))
      return Float(Double(MuLaw.decode(code)) / 32_768 / scale)
    }
  }

  /// The two biquad sections of a 4th-order Butterworth high- or low-pass filter at `cutoff`
  /// Hz (the bilinear transform, pre-warped at the cut-off, as scipy.signal.butter makes it;
  /// section Q values 1 / (2 cos(pi/8)) and 1 / (2 cos(3 pi/8))).
  static func butterworth(highPass: Bool, cutoff: Double, sampleRate: Int) -> [Biquad] {
    [Double.pi / 8, 3 * Double.pi / 8].map { 1 / (2 * Foundation.cos($0)) }.map { q in
      Biquad(highPass: highPass, cutoff: cutoff, q: q, sampleRate: Double(sampleRate))
    }
  }

  /// Lengths in samples of two stretches, before and after, each drawn uniformly in
  /// [0, `seconds`) (before first).
  static func sides(upTo seconds: Float, sampleRate: Int, generator g: inout SeededGenerator) -> (before: Int, after: Int) {
    let widest = seconds * Float(sampleRate)
    let before = Int(g.uniform(0, widest))
    return (before, Int(g.uniform(0, widest)))
  }

  /// `samples` between `before` and `after` zeros.
  static func zeroPadded(_ samples: [Float], before: Int, after: Int) -> [Float] {
    [Float](repeating: 0, count: before) + samples + [Float](repeating: 0, count: after)
  }

  /// The feature steps of one training draw: the vocal-tract warp (when `axis` is given and
  /// the option is on), then SpecAugment.
  public static func augmentFeatures(_ features: inout Matrix, axis: MelAxis?, options a: AugmentationOptions,
                              generator g: inout SeededGenerator) {
    if let axis, a.maximumFrequencyWarp > 0 {
      let w = a.maximumFrequencyWarp
      warpFrequency(&features, axis: axis, factor: g.uniform(1 - w, 1 + w))
    }
    specAugment(&features, options: a, generator: &g)
  }

  /// Vocal tract length perturbation on (frames, bands) mel features: output band `c`, centred
  /// at `f` Hz, takes the value the input had at `f / factor` Hz, linearly interpolated between
  /// neighbouring bands (clamped at the edges). A factor above 1 raises every formant.
  public static func warpFrequency(_ features: inout Matrix, axis: MelAxis, factor: Float) {
    let bands = features.cols
    guard bands > 1, bands == axis.bands, factor > 0, factor != 1 else { return }
    var lower = [Int](repeating: 0, count: bands), weight = [Float](repeating: 0, count: bands)
    for c in 0..<bands {
      let p = min(max(axis.position(ofHz: axis.centre(ofBand: c) / Double(factor)), 0), Double(bands - 1))
      lower[c] = min(Int(p), bands - 2)
      weight[c] = Float(p - Double(lower[c]))
    }
    var row = [Float](repeating: 0, count: bands)
    for t in 0..<features.rows {
      for c in 0..<bands { row[c] = features[t, c] }
      for c in 0..<bands {
        let w = weight[c]
        features[t, c] = (1 - w) * row[lower[c]] + w * row[lower[c] + 1]
      }
    }
  }
}

/// Where the bands of a mel feature matrix sit in frequency: band `c` is centred at the
/// `(c + 1)`-th of `bands + 2` points equally spaced in mel from the lowest to the highest edge
/// (librosa's and Kaldi's construction alike).
public struct MelAxis: Equatable, Sendable {
  public let bands: Int
  /// HTK-style mel (Kaldi's `1127 ln(1 + f / 700)` is the same curve) or Slaney's.
  public let htk: Bool
  let lowMel: Double
  let step: Double

  public init(bands: Int, lowHz: Double, highHz: Double, htk: Bool) {
    self.bands = bands
    self.htk = htk
    lowMel = MelFilterbank.hzToMel(lowHz, htk: htk)
    step = (MelFilterbank.hzToMel(highHz, htk: htk) - lowMel) / Double(bands + 1)
  }

  /// The axis of `options`' features, or nil when they have no mel axis (stft, power, mfcc).
  public init?(_ options: FeatureOptions) {
    let nyquist = Double(options.sampleRate) / 2
    switch options.kind {
    case .mel, .logmel, .pcen:
      let m = options.mel
      self.init(bands: m.melBands, lowHz: Double(m.minFrequency), highHz: Double(m.maxFrequency ?? Float(nyquist)),
                htk: m.scale == .htk)
    case .fbank:
      let k = options.fbank
      let high = k.highFrequency > 0 ? Double(k.highFrequency) : nyquist + Double(k.highFrequency)
      self.init(bands: k.melBands, lowHz: Double(k.lowFrequency), highHz: high, htk: true)
    case .stft, .power, .mfcc:
      return nil
    }
  }

  /// The centre of band `c` in Hz.
  public func centre(ofBand c: Int) -> Double {
    MelFilterbank.melToHz(lowMel + Double(c + 1) * step, htk: htk)
  }

  /// The fractional band index at `hz` (0 at band 0's centre; may fall outside 0..<bands).
  public func position(ofHz hz: Double) -> Double {
    (MelFilterbank.hzToMel(max(hz, 0), htk: htk) - lowMel) / step - 1
  }
}

/// One second-order IIR section (R. Bristow-Johnson's audio EQ cookbook), coefficients
/// normalised by a0, run in transposed direct form II from rest.
struct Biquad {
  let b0, b1, b2, a1, a2: Double

  init(highPass: Bool, cutoff: Double, q: Double, sampleRate: Double) {
    let w = 2 * Double.pi * cutoff / sampleRate
    let alpha = Foundation.sin(w) / (2 * q), c = Foundation.cos(w)
    let a0 = 1 + alpha
    let edge = highPass ? (1 + c) / 2 : (1 - c) / 2
    b0 = edge / a0
    b1 = (highPass ? -(1 + c) : 1 - c) / a0
    b2 = edge / a0
    a1 = -2 * c / a0
    a2 = (1 - alpha) / a0
  }

  /// Filters `x` in place.
  func filter(_ x: inout [Double]) {
    var s1 = 0.0, s2 = 0.0
    for i in x.indices {
      let input = x[i]
      let output = b0 * input + s1
      s1 = b1 * input - a1 * output + s2
      s2 = b2 * input - a2 * output
      x[i] = output
    }
  }
}

/// G.711 mu-law companding (ITU-T G.711, as telephone networks code speech), as the Sun
/// reference code (and Python's audioop) does it: a 16-bit sample, cut to 14 bits, to 8 bits
/// (sign, 3-bit segment, 4-bit step; bits inverted) and back to 16 bits.
enum MuLaw {
  static func encode(_ sample: Int16) -> UInt8 {
    var magnitude = Int(sample) >> 2
    let mask = magnitude < 0 ? 0x7F : 0xFF
    magnitude = min(abs(magnitude), 8_159) + 0x21
    // The segment: the first whose top, (0x40 << segment) - 1, is not below the magnitude.
    var segment = 0
    while segment < 8 && magnitude >= 0x40 << segment { segment += 1 }
    guard segment < 8 else { return UInt8(0x7F ^ mask) }
    return UInt8(((segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)) ^ mask)
  }

  static func decode(_ code: UInt8) -> Int16 {
    let c = Int(~code)
    let magnitude = ((((c & 0x0F) << 3) + 0x84) << ((c >> 4) & 0x07)) - 0x84
    return Int16(c & 0x80 != 0 ? -magnitude : magnitude)
  }
}
