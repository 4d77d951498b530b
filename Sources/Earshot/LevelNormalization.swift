/// The level step before the features. `Transcriber` removes a piece's DC offset where it is
/// a fault (``removingLargeOffset(_:)``) and scales each stretch of speech it decodes so its
/// loudest sample sits at ``peak``; `Classifier` removes a clip's (or timeline window's) DC
/// offset (``removingDC(_:)``), then raises it to ``minimumPeak`` if its loudest sample is
/// under that and leaves louder ones at their level (a timeline window: if the loudest
/// sample of the windows so far is under it, so that a quiet gap after a loud sound stays
/// quiet), and lowers one whose samples go past full scale (a float file's) to a full-scale
/// peak. (Removing every offset before
/// transcription was tried and cost the `digits` model's validation sets a little;
/// docs/models.md.)
///
/// The front ends take the log of the mel power over a fixed floor (1e-6), so in a quiet
/// recording the softer sounds fall under it and are lost: 30 dB under its recorded level,
/// the shipped `digits` model got 75% of isolated digits wrong, `commands` lost 39 of 525
/// clips and `sounds` 15 of 160 (docs/models.md).
public enum LevelNormalization {
  /// The peak `Transcriber` scales every stretch to: -0.1 dBFS.
  public static let peak: Float = 0.98855
  /// The peak `Classifier` raises quieter clips to: -20 dBFS.
  public static let minimumPeak: Float = 0.1
  /// The largest gain applied: +60 dB (quieter audio is raised by this much only).
  public static let maximumGain: Float = 1000

  /// `samples` scaled so the largest magnitude is `target`, by at most ``maximumGain``; with
  /// `raiseOnly`, audio already at least that loud keeps its level. Digital silence stays
  /// silent. (An offset is removed first, where wanted, by ``removingDC(_:)`` or
  /// ``removingLargeOffset(_:)``.)
  /// - Parameter reference: a peak to scale by when it is larger than the samples' own (a
  ///   timeline window by the loudest sample heard so far in its file).
  public static func apply(_ samples: [Float], target: Float = peak, raiseOnly: Bool = false, reference: Float = 0) -> [Float] {
    var y = samples
    let loudest = max(self.loudest(y), reference)
    guard loudest > 0 else { return y }
    let gain = min(target / loudest, maximumGain)
    if raiseOnly && gain <= 1 { return y }
    for i in y.indices { y[i] *= gain }
    return y
  }

  /// The largest magnitude in `samples` (0 for none).
  public static func loudest(_ samples: [Float]) -> Float {
    samples.reduce(Float(0)) { max($0, abs($1)) }
  }

  /// ``removingLargeOffset(_:)`` subtracts the mean only above this share of the peak.
  public static let largeOffset: Float = 0.05

  /// `samples` less their mean when the mean is a fault, more than ``largeOffset`` of the
  /// largest distance from it (speech and sound stay far under it: at most 1.5% in the
  /// `digits` validation recordings); otherwise as they are.
  public static func removingLargeOffset(_ samples: [Float]) -> [Float] {
    guard !samples.isEmpty else { return samples }
    var sum = 0.0
    for x in samples { sum += Double(x) }
    let mean = Float(sum / Double(samples.count))
    let spread = samples.reduce(Float(0)) { max($0, abs($1 - mean)) }
    guard abs(mean) > largeOffset * spread else { return samples }
    return samples.map { $0 - mean }
  }

  /// The pole of ``removingDC(_:)``: a cut-off of about 6 Hz at 8 kHz, 13 Hz at 16 kHz.
  public static let dcPole: Float = 0.995

  /// `samples` through a one-pole DC blocker, y[n] = x[n] - x[n-1] + ``dcPole`` y[n-1], started
  /// as if the first sample had always been there: a constant offset (which microphones add,
  /// and which the lowest mel band and the peak would take for sound) is gone from the first
  /// sample on, and digital silence stays exactly zero.
  public static func removingDC(_ samples: [Float]) -> [Float] {
    guard var previous = samples.first else { return samples }
    var out = [Float](repeating: 0, count: samples.count)
    var y: Float = 0
    for i in samples.indices {
      y = samples[i] - previous + dcPole * y
      previous = samples[i]
      out[i] = y
    }
    return out
  }
}
