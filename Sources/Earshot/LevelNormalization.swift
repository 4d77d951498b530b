/// The level step before the features. `Transcriber` scales each stretch of speech it decodes
/// so its loudest sample sits at ``peak``; `Classifier` raises a clip (or timeline window)
/// whose loudest sample is under ``minimumPeak`` to it and leaves louder ones as recorded.
///
/// The front ends take the log of the mel power over a fixed floor (1e-6), so in a quiet
/// recording the softer sounds fall under it and are lost: 30 dB under its recorded level,
/// the shipped `digits` model got 75% of isolated digits wrong, `commands` lost 39 of 525
/// clips and `sounds` 14 of 160 (docs/models.md).
public enum LevelNormalization {
  /// The peak `Transcriber` scales every stretch to: -0.1 dBFS.
  public static let peak: Float = 0.98855
  /// The peak `Classifier` raises quieter clips to: -20 dBFS.
  public static let minimumPeak: Float = 0.1
  /// The largest gain applied: +60 dB (quieter audio is raised by this much only).
  public static let maximumGain: Float = 1000

  /// `samples` scaled so the largest magnitude is `target`, by at most ``maximumGain``; with
  /// `raiseOnly`, audio already at least that loud is returned as it is. Digital silence is
  /// returned as it is.
  public static func apply(_ samples: [Float], target: Float = peak, raiseOnly: Bool = false) -> [Float] {
    let loudest = samples.reduce(Float(0)) { max($0, abs($1)) }
    guard loudest > 0 else { return samples }
    let gain = min(target / loudest, maximumGain)
    if raiseOnly && gain <= 1 { return samples }
    return samples.map { $0 * gain }
  }
}
