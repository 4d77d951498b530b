import Foundation

/// Settings of a ``CTCTrainer`` run; the defaults train the shipped `digits` model
/// (a 2 x 128 BiLSTM over 40 log-mel bands at 8 kHz, word tokens).
public struct CTCTrainingOptions: Equatable, Codable, Sendable {
  /// The front end; its sample rate is the one clips are resampled to. Default
  /// ``digitFeatures``: `FeatureOptions.speechLogMel(sampleRate: 8000, melBands: 40)` with
  /// per-utterance CMVN.
  public var features: FeatureOptions = CTCTrainingOptions.digitFeatures
  /// Word tokens (default) or character tokens.
  public var tokenUnit: TokenUnit = .word
  /// LSTM features per direction; default 128.
  public var hiddenSize = 128
  /// Stacked bidirectional layers; default 2.
  public var layers = 2
  /// Dropout between LSTM layers in training, [0, 1); default 0.1.
  public var dropout: Float = 0.1
  /// Passes over the training set; default 30.
  public var epochs = 30
  /// Utterances per optimizer step; default 16.
  public var batchSize = 16
  /// Peak learning rate of Adam, reached after warm-up; default 2e-3.
  public var learningRate: Float = 2e-3
  /// Fraction of all steps spent in linear warm-up, [0, 1); default 0.05.
  public var warmupFraction: Float = 0.05
  /// Where the cosine decay ends, as a fraction of the peak; default 0.05.
  public var finalLearningRateFraction: Float = 0.05
  /// Global L2 norm the gradients are clipped to; default 5.
  public var maxGradientNorm: Float = 5
  /// Seeds initialisation, batch order, dropout and augmentation; default 0.
  public var seed: UInt64 = 0
  /// Augmentation of training clips (validation clips are never augmented).
  public var augmentation = AugmentationOptions()
  /// A checkpoint is written every this many optimizer steps, and after every epoch;
  /// default 200.
  public var checkpointInterval = 200
  public init() {}

  /// The digits front end: 40 natural-log mel bands, 25 ms Hann windows every 10 ms at
  /// 8 kHz (FFT 256), normalised per utterance (mean and variance).
  public static var digitFeatures: FeatureOptions {
    var f = FeatureOptions.speechLogMel(sampleRate: 8000, melBands: 40)
    f.cmvn.mode = .utterance
    return f
  }

  /// Checks every range.
  public func validate() throws(TrainingError) {
    func bad(_ name: String, _ value: Any, _ expected: String) -> TrainingError {
      .invalidOption(name: name, value: "\(value)", expected: expected)
    }
    guard hiddenSize >= 1 && hiddenSize <= 4096 else { throw bad("hiddenSize", hiddenSize, "1...4096") }
    guard layers >= 1 && layers <= 16 else { throw bad("layers", layers, "1...16") }
    guard dropout >= 0 && dropout < 1 else { throw bad("dropout", dropout, "[0, 1)") }
    guard epochs >= 1 else { throw bad("epochs", epochs, ">= 1") }
    guard batchSize >= 1 else { throw bad("batchSize", batchSize, ">= 1") }
    guard learningRate > 0 && learningRate.isFinite else { throw bad("learningRate", learningRate, "> 0") }
    guard warmupFraction >= 0 && warmupFraction < 1 else { throw bad("warmupFraction", warmupFraction, "[0, 1)") }
    guard finalLearningRateFraction >= 0 && finalLearningRateFraction <= 1 else {
      throw bad("finalLearningRateFraction", finalLearningRateFraction, "[0, 1]")
    }
    guard maxGradientNorm > 0 else { throw bad("maxGradientNorm", maxGradientNorm, "> 0") }
    guard checkpointInterval >= 1 else { throw bad("checkpointInterval", checkpointInterval, ">= 1") }
    try augmentation.validate()
    do {
      _ = try FeatureExtractor(options: features)
    } catch {
      throw bad("features", error, "valid FeatureOptions")
    }
  }

  /// The learning-rate schedule for `totalSteps` optimizer steps: linear warm-up, then a
  /// half cosine down to `finalLearningRateFraction * learningRate`.
  public func schedule(totalSteps: Int) -> LearningRateSchedule {
    var s = LearningRateSchedule()
    s.peak = learningRate
    s.warmupSteps = Int(Float(totalSteps) * warmupFraction)
    s.totalSteps = max(totalSteps, 1)
    s.decay = .cosine
    s.minimum = learningRate * finalLearningRateFraction
    return s
  }
}
