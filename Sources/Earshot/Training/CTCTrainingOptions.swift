import Foundation

/// Settings of a ``CTCTrainer`` run; the defaults train the shipped `digits` model
/// (a 2 x 128 BiLSTM over 40 log-mel bands at 8 kHz, word tokens).
public struct CTCTrainingOptions: TrainingRunOptions {
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
  /// Decoupled weight decay (AdamW, Loshchilov and Hutter 2019): each step multiplies every
  /// weight by `1 - lr * weightDecay` before Adam's update. nil (default): none. Optional so
  /// that checkpoints and models written before it existed still decode.
  public var weightDecay: Float? = nil
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
    try validateShared()
  }
}
