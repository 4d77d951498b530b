import Foundation

/// A training clip's samples at the feature rate, once per speed factor, and the features of
/// each when no augmentation changes the waveform from step to step (then they are computed
/// once, at load).
struct SpeedVariants {
  /// Samples per `AugmentationOptions.speeds` entry.
  let samples: [[Float]]
  /// Features per speed; empty when they are computed per step.
  let features: [Matrix]

  init(_ samples: [Float], sampleRate: Int, augmentation: AugmentationOptions, extractor: FeatureExtractor) throws {
    self.samples = try augmentation.speeds.map { try Augmentation.changeSpeed(samples, by: $0, sampleRate: sampleRate) }
    features = augmentation.changesWaveform ? [] : try self.samples.map { Matrix(try extractor($0)) }
  }

  /// One training draw: a speed, then (unless cached) gain, noise and silence on the
  /// waveform, and its features.
  func draw(extractor: FeatureExtractor, augmentation: AugmentationOptions, noise: [[Float]],
            generator g: inout SeededGenerator) throws -> Matrix {
    let speed = Int(g.next() % UInt64(samples.count))
    if !features.isEmpty { return features[speed] }
    var x = samples[speed]
    Augmentation.augmentWaveform(&x, sampleRate: extractor.options.sampleRate, options: augmentation, noise: noise, generator: &g)
    return Matrix(try extractor(x))
  }
}
