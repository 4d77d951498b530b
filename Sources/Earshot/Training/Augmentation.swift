import Foundation

/// Seeded data augmentation for training: speed perturbation, gain, additive background noise
/// and SpecAugment masks. Every draw comes from a ``SeededGenerator`` the caller passes, so a
/// run is reproducible from its seed.
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
  /// SpecAugment (Park et al. 2019) time masks per utterance; default 2; 0 turns them off.
  public var timeMasks = 2
  /// Widest time mask in frames, also capped at 1/8 of the utterance per mask; default 8.
  public var maximumTimeMaskFrames = 8
  /// Frequency masks per utterance; default 2.
  public var frequencyMasks = 2
  /// Widest frequency mask in feature bins; default 6.
  public var maximumFrequencyMaskBins = 6
  public init() {}

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
  public var changesWaveform: Bool { gainDecibels > 0 || noiseFolder != nil }

  /// Checks the ranges.
  public func validate() throws(TrainingError) {
    guard !speeds.isEmpty, speeds.allSatisfy({ $0 >= 0.5 && $0 <= 2 }) else {
      throw .invalidOption(name: "speeds", value: "\(speeds)", expected: "one or more factors in 0.5...2")
    }
    guard gainDecibels >= 0 && gainDecibels <= 40 else {
      throw .invalidOption(name: "gainDecibels", value: "\(gainDecibels)", expected: "0...40")
    }
    guard (0...1).contains(noiseProbability) else {
      throw .invalidOption(name: "noiseProbability", value: "\(noiseProbability)", expected: "0...1")
    }
    guard minimumSNR <= maximumSNR else {
      throw .invalidOption(name: "minimumSNR", value: "\(minimumSNR)", expected: "<= maximumSNR (\(maximumSNR))")
    }
    guard timeMasks >= 0, frequencyMasks >= 0, maximumTimeMaskFrames >= 0, maximumFrequencyMaskBins >= 0 else {
      throw .invalidOption(name: "masks", value: "\(timeMasks), \(frequencyMasks)", expected: ">= 0")
    }
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
    let loaded: [Result<[Float], any Error>] = parallelMap(files.count, threads: threads) { i in
      Result { try AudioFile.loadMono(path: files[i], sampleRate: sampleRate).samples }
    }
    var noise: [[Float]] = []
    for r in loaded {
      switch r {
      case .success(let s) where !s.isEmpty: noise.append(s)
      case .success: break
      case .failure(let e): skipped.append("\(e)")
      }
    }
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
  public static func addNoise(_ samples: inout [Float], noise: [Float], offset: Int, snr: Float) {
    guard !samples.isEmpty, !noise.isEmpty else { return }
    var signalPower = 0.0, noisePower = 0.0
    for v in samples { signalPower += Double(v) * Double(v) }
    let n = samples.count
    for i in 0..<n { let v = Double(noise[(offset + i) % noise.count]); noisePower += v * v }
    guard signalPower > 0, noisePower > 0 else { return }
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
}
