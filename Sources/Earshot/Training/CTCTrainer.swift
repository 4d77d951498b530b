import Foundation

/// Trains a CTC ``TranscriptionModel`` (stacked BiLSTM + linear + log-softmax) on manifests.
///
/// Basic usage:
/// ```swift
/// let trainer = try CTCTrainer(options: CTCTrainingOptions(),
///                              training: try Manifest.load("train.jsonl"),
///                              validation: try Manifest.load("valid.jsonl"))
/// let summary = try trainer.train(output: "runs/digits", progress: TrainingProgressPrinter().callAsFunction)
/// // runs/digits/best.safetensors is the model with the lowest validation WER
/// ```
/// Loading decodes every clip once, resampled to the feature rate, in parallel, and keeps the
/// samples of each speed-perturbed variant. Each step draws a speed, gain and noise per
/// utterance (features are then computed in parallel; without gain or noise they are
/// computed once per speed at load), applies SpecAugment, packs a length-bucketed batch,
/// and takes one Adam step on the mean CTC loss with gradients clipped to
/// `maxGradientNorm`, the learning rate following warm-up + cosine.
///
/// The output folder gets `checkpoint.safetensors` (after every epoch and every
/// `checkpointInterval` steps, written atomically), `last.safetensors`, `best.safetensors`
/// (lowest validation WER; the last epoch's model without a validation set) and `log.jsonl`.
public final class CTCTrainer {
  /// The run's settings.
  public let options: CTCTrainingOptions
  /// The tokens, derived from the training texts (sorted, blank first).
  public let tokenizer: Tokenizer
  /// Training utterances: clips kept after loading, plus the connected strings built from them.
  public var trainingCount: Int { clips.count }
  /// Connected strings built from the training clips (``AugmentationOptions/connectedStrings``).
  public private(set) var connectedCount = 0
  /// Validation clips kept after loading.
  public var validationCount: Int { validation.count }
  /// Clips (and noise files) left out, one line each: path and why.
  public private(set) var skipped: [String] = []
  /// Seconds spent loading clips and noise.
  public private(set) var loadSeconds = 0.0
  /// Threads for feature computation and BLAS.
  public let threads: Int
  /// Extra provenance stored in the saved models (e.g. the manifest paths).
  public var provenance: [String: String] = [:]

  struct Clip {
    var entry: ManifestEntry
    var labels: [Int]
    var audio: SpeedVariants
    /// Frames at speed 1 (the bucketing key).
    var frames: Int
  }

  private var clips: [Clip] = []
  private var validation: [(entry: ManifestEntry, features: Matrix)] = []
  private var noise: [[Float]] = []
  /// The clips given, for a resumed run to check.
  private let data: DataFingerprint
  private let extractor: FeatureExtractor
  /// The features' mel axis, for the vocal-tract warp; nil for features without one.
  private let melAxis: MelAxis?

  /// Loads and checks every clip.
  ///
  /// - Parameters:
  ///   - options: validated here.
  ///   - training: utterances to learn from; clips that cannot be read, or are too short for
  ///     their transcript at the fastest speed, are skipped and listed in ``skipped``.
  ///   - validation: utterances scored after every epoch; nil or empty for none.
  ///   - tokens: the token list to use (a resumed run passes the checkpoint's); nil derives
  ///     it from the training texts.
  ///   - threads: worker threads, >= 1; default every core.
  public init(options: CTCTrainingOptions, training: [ManifestEntry], validation: [ManifestEntry]? = nil,
              tokens: [String]? = nil, threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
    try options.validate()
    guard threads >= 1 else { throw TrainingError.invalidOption(name: "threads", value: "\(threads)", expected: ">= 1") }
    guard !training.isEmpty else { throw TrainingError.emptyDataset(path: "training set", reason: "no utterances") }
    self.options = options
    self.threads = threads
    data = DataFingerprint(training: training.map { ($0.audio, $0.text) }, validation: (validation ?? []).map { ($0.audio, $0.text) })
    let start = Date()
    tokenizer = tokens.map { Tokenizer(tokens: $0, unit: options.tokenUnit) }
      ?? Tokenizer(texts: training.map(\.text), unit: options.tokenUnit)
    guard tokenizer.tokens.count > 1 else {
      throw TrainingError.emptyDataset(path: "training set", reason: "no words: every \"text\" is empty")
    }
    extractor = try FeatureExtractor(options: options.features)
    melAxis = MelAxis(options.features)
    let rate = options.features.sampleRate
    let speeds = options.augmentation.speeds
    let augmentation = options.augmentation
    let extractor = self.extractor
    let tokenizer = self.tokenizer
    let fastest = speeds.max() ?? 1
    // A training utterance (a clip or a connected string) with its speed variants, unless
    // even the fastest is too short for its tokens.
    func clip(_ entry: ManifestEntry, _ labels: [Int], _ samples: [Float]) throws -> Clip {
      let shortest = extractor.frameCount(forSamples: Int(Double(samples.count) / Double(fastest)))
      guard shortest >= Tokenizer.minimumFrames(labels) + 1 else {
        throw TrainingError.badClip(path: entry.audio, reason:
          "\(shortest) frames at speed \(fastest) cannot hold the \(labels.count) tokens of \"\(entry.text)\"")
      }
      let audio = try SpeedVariants(samples, sampleRate: rate, augmentation: augmentation, extractor: extractor)
      return Clip(entry: entry, labels: labels, audio: audio, frames: extractor.frameCount(forSamples: samples.count))
    }
    // Decode, resample and perturb every clip once, in parallel.
    // An unknown token is a data or configuration error, not a bad clip: it stops loading.
    clips = try loadEach(training.count, threads: threads, skipped: &skipped, set: "training set",
                         isFatal: { if case TrainingError.unknownToken = $0 { true } else { false } }) { i in
      let entry = training[i]
      let labels = try tokenizer.encode(entry.text, path: entry.audio)
      let samples = try AudioFile.loadMono(path: entry.audio, sampleRate: rate).samples
      guard !samples.isEmpty else { throw TrainingError.badClip(path: entry.audio, reason: "0 samples") }
      return try clip(entry, labels, samples)
    }
    if augmentation.connectedStrings > 0 {
      // From each clip at the speed closest to 1; the strings get their own speed variants.
      let plain = speeds.indices.min { abs(speeds[$0] - 1) < abs(speeds[$1] - 1) }!
      // Recordings without speech (empty texts) are not joined into strings.
      let speech = clips.indices.filter { !clips[$0].labels.isEmpty }
      let pieces = speech.map {
        ConnectedStrings.Piece(samples: clips[$0].audio.samples[plain], text: clips[$0].entry.text, speaker: clips[$0].entry.speaker)
      }
      let built = ConnectedStrings.build(
        pieces, count: augmentation.connectedStrings, maximumPieces: augmentation.maximumConnectedPieces,
        maximumPauseSeconds: augmentation.connectedPauseSeconds, sampleRate: rate, seed: options.seed)
      let first = clips.count
      clips += try loadEach(built.count, threads: threads, skipped: &skipped) { i in
        let b = built[i]
        let name = "connected string \(i + 1) (clips \(b.pieces.map { String(speech[$0] + 1) }.joined(separator: ",")))"
        return try clip(ManifestEntry(audio: name, text: b.text, speaker: b.speaker),
                        try tokenizer.encode(b.text, path: name), b.samples)
      }
      connectedCount = clips.count - first
    }
    if let validation {
      self.validation = try loadEach(validation.count, threads: threads, skipped: &skipped, set: "validation set") { i in
        let e = validation[i]
        let samples = try AudioFile.loadMono(path: e.audio, sampleRate: rate).samples
        return (entry: e, features: Matrix(try extractor(samples)))
      }
    }
    if let folder = options.augmentation.noiseFolder {
      noise = try Augmentation.loadNoise(folder: folder, sampleRate: rate, threads: threads, skipped: &skipped)
    }
    loadSeconds = Date().timeIntervalSince(start)
  }

  // MARK: - Batches and features

  /// The batches of epoch `epoch` (0-based): a seeded shuffle, cut into chunks of 32
  /// batches, each chunk sorted by length (so a batch holds similar lengths and pads
  /// little), cut into batches, whose order is shuffled again.
  func plan(epoch: Int) -> [[Int]] {
    var g = SeededGenerator(seed: mixSeed(options.seed, 0xBA7C, UInt64(epoch)))
    var order = Array(clips.indices)
    order.shuffle(using: &g)
    let b = options.batchSize
    let chunk = b * 32
    var batches: [[Int]] = []
    for start in stride(from: 0, to: order.count, by: chunk) {
      let part = order[start..<min(start + chunk, order.count)]
        .sorted { (clips[$0].frames, $0) < (clips[$1].frames, $1) }
      for s in stride(from: 0, to: part.count, by: b) {
        batches.append(Array(part[(part.startIndex + s)..<min(part.startIndex + s + b, part.endIndex)]))
      }
    }
    batches.shuffle(using: &g)
    return batches
  }

  /// Features of clip `index` for a training step, augmented with draws from `g`.
  func trainingFeatures(_ index: Int, generator g: inout SeededGenerator) throws -> Matrix {
    var m = try clips[index].audio.draw(extractor: extractor, augmentation: options.augmentation, noise: noise, generator: &g)
    Augmentation.augmentFeatures(&m, axis: melAxis, options: options.augmentation, generator: &g)
    return m
  }

  // MARK: - Training

  /// Trains into `output` (created if needed) and returns what happened.
  ///
  /// From then on the process keeps freed memory for reuse (``Neural/keepFreedMemory()``), so
  /// that each step does not fault its buffers in anew.
  ///
  /// - Parameters:
  ///   - output: folder for checkpoints, models and `log.jsonl`.
  ///   - resume: continue from `output/checkpoint.safetensors` (the options must equal the
  ///     checkpoint's, except `epochs`, which may grow). Without it, an existing checkpoint
  ///     there is an error, so that no run is overwritten by accident.
  ///   - maxMinutes: stop cleanly, after a checkpoint, once this much time has passed.
  ///   - maxSteps: stop cleanly, after a checkpoint, after this many steps of this session.
  ///   - initialNetwork: start a new run from these weights (fine-tuning) instead of a fresh
  ///     initialisation; its sizes must be this run's. Ignored on resume.
  ///   - progress: called on the training thread for every step, epoch and checkpoint.
  /// - Throws: ``TrainingError/nonFiniteLoss(epoch:step:loss:checkpoint:)`` when the loss
  ///   diverges (the last checkpoint is kept), file and data errors.
  @discardableResult
  public func train(output: String, resume: Bool = false, maxMinutes: Double? = nil, maxSteps: Int? = nil,
                    initialNetwork: SequenceModel? = nil,
                    progress: ((TrainingEvent) -> Void)? = nil) throws -> TrainingSummary {
    let r = try TrainingLoop.run(self, output: output, resume: resume, maxMinutes: maxMinutes, maxSteps: maxSteps,
                                 initialNetwork: initialNetwork, progress: progress) { progress?(.epoch($0)) }
    return TrainingSummary(
      epochs: r.state.epoch, steps: r.state.step, bestWER: r.state.bestWER, bestEpoch: r.state.bestEpoch,
      stoppedEarly: r.stoppedEarly, log: r.state.log, utterancesPerSecond: r.utterancesPerSecond,
      bestModel: r.files.best, lastModel: r.files.last, checkpoint: r.files.checkpoint, network: r.network)
  }

  func model(_ network: SequenceModel) -> TranscriptionModel {
    TranscriptionModel(network: network, features: options.features, tokens: tokenizer.tokens, unit: tokenizer.unit)
  }

  func provenanceJSON(epoch: Int, step: Int, wer: Double?) -> String {
    var p = provenance
    p["trainer"] = "earshot CTCTrainer"
    p["options"] = jsonText(options)
    p["epoch"] = String(epoch)
    p["step"] = String(step)
    p["train_utterances"] = String(clips.count)
    if let wer { p["valid_wer"] = String(format: "%.4f", wer) }
    return jsonText(p)
  }

  /// Greedy-decodes the validation clips (batches of 32 similar lengths) and scores them.
  func evaluateValidation(_ network: SequenceModel) -> EvaluationReport {
    let order = validation.indices.sorted { (validation[$0].features.rows, $0) < (validation[$1].features.rows, $1) }
    let decoder = CTCDecoder(blank: 0)
    var report = EvaluationReport()
    for start in stride(from: 0, to: order.count, by: 32) {
      let part = Array(order[start..<min(start + 32, order.count)])
      let lp = network.logProbabilities(SequenceBatch(sequences: part.map { validation[$0].features }))
      for (b, i) in part.enumerated() {
        // A diverged network (NaN scores) decodes to nothing, scored as all deletions.
        let text = tokenizer.decode((try? decoder.greedy(lp.sequence(b)))?.tokens ?? [])
        let e = validation[i].entry
        report.add(reference: e.text, hypothesis: text, speaker: e.speaker, audio: e.audio)
      }
    }
    return report
  }

}

extension CTCTrainer: TrainingTask {
  var runOptions: CTCTrainingOptions { options }

  var architecture: ModelArchitecture {
    var a = ModelArchitecture()
    a.kind = .ctc
    a.inputSize = extractor.outputBins
    a.hiddenSize = options.hiddenSize
    a.numLayers = options.layers
    a.outputSize = tokenizer.tokens.count
    a.dropout = options.dropout
    a.blank = 0
    return a
  }

  func loss(batch: [Int], step: Int, features: inout [Matrix]) -> (SequenceBatch) -> (loss: Float, gradient: Matrix) {
    let targets = batch.map { clips[$0].labels }
    return { logProbabilities in
      let r = CTCLoss(blank: 0, reduction: .mean)(logProbabilities, targets: targets)
      return (r.loss, r.gradient)
    }
  }

  func newState(initialNetwork: SequenceModel?, scope: WarmStartScope) -> TrainingState {
    if let initialNetwork { provenance["initial_model"] = WarmStart.origin(of: initialNetwork.metadata, scope: scope) }
    return TrainingState(options: options, tokens: tokenizer.tokens, data: data)
  }

  func checkResumable(_ state: TrainingState, checkpoint: String) throws {
    guard state.tokens == tokenizer.tokens else {
      throw TrainingError.badCheckpoint(path: checkpoint, reason:
        "its tokens \(state.tokens) differ from this training set's \(tokenizer.tokens)")
    }
    try data.checkResumable(saved: state.data, checkpoint: checkpoint)
  }

  var modelMetadata: [String: String] {
    [ModelMetadataKey.features: options.features.json, ModelMetadataKey.tokens: jsonText(tokenizer.tokens),
     ModelMetadataKey.tokenUnit: tokenizer.unit.rawValue]
  }

  /// Greedy-decodes the validation set, keeps the lowest WER (a character model: CER) as best,
  /// a tie broken by the other rate and then by the later epoch, which has trained longer
  /// (every epoch is best without validation).
  func finishEpoch(network: SequenceModel, state: inout TrainingState, learningRate: Float, files: RunFiles) throws -> EpochMetrics {
    let report = validation.isEmpty ? nil : evaluateValidation(network)
    let wer = report?.wordErrorRate
    let score = tokenizer.unit == .character ? report?.characterErrorRate : wer
    let tieBreak = tokenizer.unit == .character ? wer : report?.characterErrorRate
    let isBest = score.map { w in
      state.bestWER.map { best in w < best || w == best && (tieBreak ?? 0) <= (state.bestTieBreak ?? .infinity) } ?? true
    } ?? true
    let metrics = EpochMetrics(
      epoch: state.epoch + 1, step: state.step, trainLoss: state.epochMeanLoss, learningRate: learningRate,
      validWER: wer, validCER: report?.characterErrorRate, validUtteranceAccuracy: report?.utteranceAccuracy,
      best: isBest, seconds: state.epochSeconds, utterancesPerSecond: state.epochUtterancesPerSecond)
    let current = model(network)
    let provenance = provenanceJSON(epoch: state.epoch + 1, step: state.step, wer: wer)
    try files.saveModel(isBest: isBest) { path in try current.save(to: path, provenance: provenance) }
    if isBest {
      if score != nil { (state.bestWER, state.bestTieBreak) = (score, tieBreak) }
      state.bestEpoch = state.epoch + 1
    }
    state.log.append(metrics)
    return metrics
  }
}

/// Where a run stands after one step; see ``TrainingEvent/step(_:)``.
public struct TrainingProgress: Sendable {
  /// 1-based epoch and the number of epochs.
  public var epoch: Int, epochs: Int
  /// Batches done in this epoch and batches per epoch.
  public var batch: Int, batches: Int
  /// Optimizer steps done over the run, and planned.
  public var step: Int, totalSteps: Int
  /// Mean loss of this epoch so far.
  public var meanLoss: Double
  /// Learning rate of the step.
  public var learningRate: Float
  /// Training utterances per second in this session.
  public var utterancesPerSecond: Double
  /// Seconds of training left at this session's pace (validation excluded).
  public var etaSeconds: Double
}

/// What ``CTCTrainer/train(output:resume:maxMinutes:progress:)`` reports as it goes.
public enum TrainingEvent: Sendable {
  /// One optimizer step finished.
  case step(TrainingProgress)
  /// An epoch finished (validated, logged and checkpointed).
  case epoch(EpochMetrics)
  /// A checkpoint was written.
  case checkpoint(path: String, step: Int)
  /// `maxMinutes` or `maxSteps` stopped the run after writing `checkpoint`; `epoch` is 1-based.
  case stopped(epoch: Int, step: Int, checkpoint: String)
}

/// The outcome of a training run.
public struct TrainingSummary: Sendable {
  /// Epochs completed and optimizer steps taken (over all sessions of the run).
  public var epochs: Int, steps: Int
  /// Lowest validation WER (a character model's: CER, which picks its best epoch) and its
  /// epoch (nil without a validation set).
  public var bestWER: Double?, bestEpoch: Int?
  /// True when `maxMinutes` ended the run before its last epoch.
  public var stoppedEarly: Bool
  /// Every finished epoch's metrics.
  public var log: [EpochMetrics]
  /// Training utterances per second in this session.
  public var utterancesPerSecond: Double
  /// Paths of the written files.
  public var bestModel: String, lastModel: String, checkpoint: String
  /// The network as training left it.
  public var network: SequenceModel
}

extension CTCTrainer {
  /// The options of the run whose checkpoint is in `output` (for `--resume`).
  public static func savedOptions(output: String) throws -> CTCTrainingOptions {
    try savedState(output: output).options
  }

  /// The tokens of the run whose checkpoint is in `output`.
  public static func savedTokens(output: String) throws -> [String] {
    try savedState(output: output).tokens
  }

  static func savedState(output: String) throws -> TrainingState {
    try Checkpoint.state(URL(fileURLWithPath: output).appendingPathComponent("checkpoint.safetensors").path)
  }
}
