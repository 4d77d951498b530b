import Foundation

/// How a classification run counters unequal class sizes.
public enum ClassBalancing: String, Codable, Sendable, CaseIterable {
  /// Plain mean cross-entropy over uniformly shuffled clips.
  case none
  /// Each clip's loss is weighted by `N / (C * n_label)` (N clips, C classes, n_label clips of its
  /// class) and the batch loss is the weighted mean.
  case weightedLoss = "weighted-loss"
  /// Each epoch draws N clips with replacement, a clip's chance proportional to `1 / n_label`.
  case sampling
}

/// Settings of a ``ClassificationTrainer`` run; the defaults suit 1-second keyword clips
/// (the shipped `commands` model's front end, a 2 x 128 BiLSTM, mean pooling); the network
/// and optimizer defaults equal ``CTCTrainingOptions``'s, so `earshot train --help` holds for both.
public struct ClassificationTrainingOptions: TrainingRunOptions {
  /// The front end; its sample rate is the one clips are resampled to. Default
  /// ``commandFeatures``.
  public var features: FeatureOptions = ClassificationTrainingOptions.commandFeatures
  /// The label order of the model's outputs; nil (default): the training labels, sorted.
  public var labels: [String]? = nil
  /// LSTM features per direction; default 128.
  public var hiddenSize = 128
  /// Stacked bidirectional layers; default 2.
  public var layers = 2
  /// Dropout between LSTM layers in training, [0, 1); default 0.1.
  public var dropout: Float = 0.1
  /// Pooling of the encoder frames; default `.mean`.
  public var pooling: Pooling = .mean
  /// Passes over the training set; default 30.
  public var epochs = 30
  /// Clips per optimizer step; default 16.
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
  /// Class balancing; default `.weightedLoss`.
  public var balancing: ClassBalancing = .weightedLoss
  /// Label smoothing epsilon in [0, 1): targets become `(1 - e) onehot + e / C`; default 0.
  public var labelSmoothing: Float = 0
  /// Probability that a clip is mixed with another of its batch (mixup, Zhang et al. 2018),
  /// [0, 1]; default 0.
  public var mixupProbability: Float = 0
  /// Mixup weight `lambda ~ Beta(alpha, alpha)`, taken as `max(lambda, 1 - lambda)` so the
  /// clip's own label dominates; > 0; default 0.4.
  public var mixupAlpha: Float = 0.4
  /// Largest random circular shift of a clip's frames, in seconds (uniform in +-this);
  /// default 0 (off).
  public var maximumTimeShiftSeconds: Float = 0
  /// Random crops: each training step sees a window of this many seconds of the clip, at a
  /// uniformly drawn start (clips no longer than that are used whole); validation and
  /// inference see whole clips. For clips much longer than the sound that labels them
  /// (ESC-10's 5 s): more distinct views per epoch and shorter sequences. nil (default): off.
  /// Optional so that checkpoints and models written before it existed still decode.
  public var cropSeconds: Float? = nil
  /// Seeds initialisation, batch order, dropout and augmentation; default 0.
  public var seed: UInt64 = 0
  /// Speed, gain, background noise and SpecAugment of training clips (validation clips are
  /// never augmented); default ``AugmentationOptions``'s defaults.
  public var augmentation = AugmentationOptions()
  /// A checkpoint every this many optimizer steps, and after every epoch; default 200.
  public var checkpointInterval = 200
  public init() {}

  /// The keyword front end: 40 natural-log mel bands, 25 ms Hann windows every 10 ms at
  /// 16 kHz (FFT 512), normalised per utterance (mean and variance).
  public static var commandFeatures: FeatureOptions {
    var f = FeatureOptions.speechLogMel(sampleRate: 16_000, melBands: 40)
    f.cmvn.mode = .utterance
    return f
  }

  /// The environmental-sound front end: 64 natural-log mel bands, 40 ms Hann windows every
  /// 20 ms at 16 kHz (FFT 1024), normalised per clip.
  public static var soundFeatures: FeatureOptions {
    var f = FeatureOptions.speechLogMel(sampleRate: 16_000, melBands: 64)
    f.spectrogram.fftSize = 1024
    f.spectrogram.windowLength = 640
    f.spectrogram.hopLength = 320
    f.cmvn.mode = .utterance
    return f
  }

  /// Checks every range.
  public func validate() throws(TrainingError) {
    func bad(_ name: String, _ value: Any, _ expected: String) -> TrainingError {
      .invalidOption(name: name, value: "\(value)", expected: expected)
    }
    try validateShared()
    guard augmentation.connectedStrings == 0 else {
      throw bad("augmentation.connectedStrings", augmentation.connectedStrings, "0: connected strings are for CTC training")
    }
    guard labelSmoothing >= 0 && labelSmoothing < 1 else { throw bad("labelSmoothing", labelSmoothing, "[0, 1)") }
    guard mixupProbability >= 0 && mixupProbability <= 1 else { throw bad("mixupProbability", mixupProbability, "[0, 1]") }
    guard mixupAlpha > 0 && mixupAlpha.isFinite else { throw bad("mixupAlpha", mixupAlpha, "> 0") }
    guard maximumTimeShiftSeconds >= 0 && maximumTimeShiftSeconds.isFinite else {
      throw bad("maximumTimeShiftSeconds", maximumTimeShiftSeconds, ">= 0")
    }
    if let cropSeconds {
      guard cropSeconds > 0 && cropSeconds.isFinite else { throw bad("cropSeconds", cropSeconds, "> 0, or nil for whole clips") }
      let hop = Float(features.spectrogram.resolvedHopLength) / Float(features.sampleRate)
      guard cropSeconds >= 2 * hop else { throw bad("cropSeconds", cropSeconds, "at least two frames (\(2 * hop) s)") }
    }
    if let labels {
      guard !labels.isEmpty, Set(labels).count == labels.count else { throw bad("labels", labels, "distinct names, at least one") }
    }
  }
}
