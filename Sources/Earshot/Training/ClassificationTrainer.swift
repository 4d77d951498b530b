import Foundation

/// Trains a ``ClassificationModel`` (stacked BiLSTM, mean/max/mean-max/mean-std-max/attention pooling, linear,
/// log-softmax) with cross-entropy on labelled clips.
///
/// Basic usage:
/// ```swift
/// let (train, valid) = ClassificationSplit.byFold(try ClassificationDataset.load("esc10"), validFold: 4)
/// var options = ClassificationTrainingOptions()
/// options.features = ClassificationTrainingOptions.soundFeatures
/// let trainer = try ClassificationTrainer(options: options, training: train, validation: valid)
/// let summary = try trainer.train(output: "runs/sounds")
/// // runs/sounds/best.safetensors: the epoch with the highest validation accuracy
/// ```
/// Loading decodes every clip once at the feature rate (in parallel) and keeps one waveform
/// per speed factor. Each step draws per clip a speed, gain and background noise (features
/// are then computed per step; without gain or noise they are computed once per speed),
/// a circular time shift, SpecAugment masks and, with `mixupProbability`, a partner clip of
/// the batch and a mixing weight; the loss is the (class-weighted) mean cross-entropy against
/// the mixed, label-smoothed targets. Adam with warm-up + cosine decay, gradients clipped.
///
/// The output folder gets `checkpoint.safetensors` (every epoch and every
/// `checkpointInterval` steps, atomically; resuming from it gives the same result as an
/// uninterrupted run), `last.safetensors`, `best.safetensors` (highest validation accuracy,
/// ties to the lower validation loss; the last epoch's without validation) and `log.jsonl`.
public final class ClassificationTrainer {
  /// The run's settings.
  public let options: ClassificationTrainingOptions
  /// Output labels in order.
  public let labels: [String]
  /// Training clips per label, in ``labels`` order.
  public private(set) var labelCounts: [Int] = []
  /// Training clips kept after loading.
  public var trainingCount: Int { clips.count }
  /// Validation clips kept after loading.
  public var validationCount: Int { validation.count }
  /// Clips (and noise files) left out, one line each: path and why.
  public private(set) var skipped: [String] = []
  /// Seconds spent loading.
  public private(set) var loadSeconds = 0.0
  /// Threads for loading and features (BLAS is set to this too).
  public let threads: Int
  /// Extra provenance stored in the saved models (e.g. the data and split).
  public var provenance: [String: String] = [:]

  struct Clip {
    var entry: ClassificationEntry
    var label: Int
    var audio: SpeedVariants
  }

  private var clips: [Clip] = []
  private var validation: [(entry: ClassificationEntry, label: Int, features: Matrix)] = []
  private var noise: [[Float]] = []
  private var classWeights: [Float] = []
  /// The clips given, for a resumed run to check.
  private let data: DataFingerprint
  private let extractor: FeatureExtractor
  /// The features' mel axis, for the vocal-tract warp; nil for features without one.
  private let melAxis: MelAxis?

  /// Loads and checks every clip.
  ///
  /// - Parameters:
  ///   - training: clips to learn from; unreadable clips are skipped and listed in ``skipped``;
  ///     a label outside `options.labels` is an error.
  ///   - validation: clips scored after every epoch; nil or empty for none. Never augmented.
  ///   - threads: worker threads, >= 1; default every core.
  public init(options: ClassificationTrainingOptions, training: [ClassificationEntry],
              validation: [ClassificationEntry]? = nil,
              threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
    try options.validate()
    guard threads >= 1 else { throw TrainingError.invalidOption(name: "threads", value: "\(threads)", expected: ">= 1") }
    guard !training.isEmpty else { throw TrainingError.emptyDataset(path: "training set", reason: "no clips") }
    self.options = options
    self.threads = threads
    let start = Date()
    data = DataFingerprint(training: training.map { ($0.audio, $0.label) }, validation: (validation ?? []).map { ($0.audio, $0.label) })
    labels = options.labels ?? Set(training.map(\.label)).sorted()
    // Checked before any audio is decoded: one label usually means a wrong --train folder
    // (its sub-folders are the labels), and decoding whatever it holds can take long.
    guard labels.count >= 2 else {
      throw TrainingError.emptyDataset(
        path: "training set",
        reason: "only \(labels.count) label (\(labels.joined(separator: ", "))); a classifier needs at least 2 - is --train the folder whose sub-folders are the labels?")
    }
    let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    for e in training + (validation ?? []) where index[e.label] == nil {
      throw TrainingError.unknownToken(path: e.audio, token: e.label, known: labels)
    }
    extractor = try FeatureExtractor(options: options.features)
    melAxis = MelAxis(options.features)
    let extractor = self.extractor
    let rate = options.features.sampleRate
    let augmentation = options.augmentation
    let minimum = extractor.windowLength  // shorter clips are padded to one window
    clips = try loadEach(training.count, threads: threads, skipped: &skipped, set: "training set") { i in
      let e = training[i]
      let samples = try AudioFile.loadMono(path: e.audio, sampleRate: rate).samples
      guard samples.count >= minimum else {
        throw TrainingError.badClip(path: e.audio, reason: "\(samples.count) samples, shorter than one frame (\(minimum))")
      }
      let audio = try SpeedVariants(samples, sampleRate: rate, augmentation: augmentation, extractor: extractor)
      return Clip(entry: e, label: index[e.label]!, audio: audio)
    }
    labelCounts = [Int](repeating: 0, count: labels.count)
    for c in clips { labelCounts[c.label] += 1 }
    if let empty = labelCounts.firstIndex(of: 0) {
      throw TrainingError.emptyDataset(path: "training set", reason: "label '\(labels[empty])' has no training clips")
    }
    let n = Float(clips.count), k = Float(labels.count)
    classWeights = options.balancing == .weightedLoss ? labelCounts.map { n / (k * Float($0)) }
      : [Float](repeating: 1, count: labels.count)
    if let validation {
      self.validation = try loadEach(validation.count, threads: threads, skipped: &skipped, set: "validation set") { i in
        let e = validation[i]
        var samples = try AudioFile.loadMono(path: e.audio, sampleRate: rate).samples
        if samples.count < minimum { samples += [Float](repeating: 0, count: minimum - samples.count) }
        return (entry: e, label: index[e.label]!, features: Matrix(try extractor(samples)))
      }
    }
    if let folder = options.augmentation.noiseFolder {
      noise = try Augmentation.loadNoise(folder: folder, sampleRate: rate, threads: threads, skipped: &skipped)
    }
    loadSeconds = Date().timeIntervalSince(start)
  }

  // MARK: - Batches and features

  /// The batches of epoch `epoch` (0-based): a seeded shuffle (or, with `.sampling`, a seeded
  /// draw with replacement, chance proportional to 1 / class size) cut into `batchSize` chunks.
  func plan(epoch: Int) -> [[Int]] {
    var g = SeededGenerator(seed: mixSeed(options.seed, 0xBA7C, UInt64(epoch)))
    var order: [Int]
    if options.balancing == .sampling {
      // Cumulative weights 1 / n_label per clip, then N draws by inverse CDF.
      var cumulative: [Double] = []
      var total = 0.0
      for c in clips {
        total += 1 / Double(labelCounts[c.label])
        cumulative.append(total)
      }
      order = (0..<clips.count).map { _ in
        let u = g.nextUnitDouble() * total
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
          let mid = (lo + hi) / 2
          if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return lo
      }
    } else {
      order = Array(clips.indices)
      order.shuffle(using: &g)
    }
    return stride(from: 0, to: order.count, by: options.batchSize).map {
      Array(order[$0..<min($0 + options.batchSize, order.count)])
    }
  }

  /// Features of clip `index` for a training step, augmented with draws from `g`: speed,
  /// gain, noise, random crop, circular time shift, SpecAugment.
  func trainingFeatures(_ index: Int, generator g: inout SeededGenerator) throws -> Matrix {
    let a = options.augmentation
    var m = try clips[index].audio.draw(extractor: extractor, augmentation: a, noise: noise, generator: &g)
    // Seconds as (fractional) frames of the front end.
    let hop = Float(max(extractor.hopLength, 1)), rate = Float(options.features.sampleRate)
    func frames(_ seconds: Float) -> Float { seconds * rate / hop }
    if let seconds = options.cropSeconds {
      let count = max(2, Int(frames(seconds).rounded()))
      if m.rows > count {
        let start = Int(g.next() % UInt64(m.rows - count + 1))
        m = m.rows(start ..< start + count)
      }
    }
    let widest = Int(frames(options.maximumTimeShiftSeconds))
    if widest > 0 && m.rows > 1 {
      let shift = Int(g.next() % UInt64(2 * widest + 1)) - widest
      m = Self.roll(m, by: shift)
    }
    Augmentation.augmentFeatures(&m, axis: melAxis, options: a, generator: &g)
    return m
  }

  /// Rows moved `shift` places later, wrapping around: row t goes to (t + shift) mod rows.
  static func roll(_ m: Matrix, by shift: Int) -> Matrix {
    let n = m.rows, d = m.cols
    let s = ((shift % n) + n) % n
    if s == 0 { return m }
    var out = Matrix(rows: n, cols: d)
    for t in 0..<n {
      let to = (t + s) % n
      for j in 0..<d { out.data[to * d + j] = m.data[t * d + j] }
    }
    return out
  }

  /// A Beta(alpha, alpha) draw through two Gamma(alpha) draws (Marsaglia and Tsang, with the
  /// `U^(1/alpha)` boost for alpha < 1).
  static func beta(_ alpha: Float, generator g: inout SeededGenerator) -> Float {
    func gamma(_ a: Float) -> Float {
      if a < 1 { return gamma(a + 1) * Foundation.pow(max(g.nextUnitFloat(), 1e-12), 1 / a) }
      let d = a - 1.0 / 3, c = 1 / (9 * d).squareRoot()
      while true {
        let x = g.normal()
        let v0 = 1 + c * x
        if v0 <= 0 { continue }
        let v = v0 * v0 * v0
        let u = max(g.nextUnitFloat(), 1e-12)
        if Foundation.log(u) < 0.5 * x * x + d - d * v + d * Foundation.log(v) { return d * v }
      }
    }
    let x = gamma(alpha), y = gamma(alpha)
    return x + y > 0 ? x / (x + y) : 0.5
  }

  /// Mixes clips of the batch of step `step` (mixup, in place) and returns the soft targets
  /// (B, C) and loss weights.
  func mixBatch(_ batch: [Int], step: Int, features: inout [Matrix]) -> (targets: Matrix, weights: [Float]) {
    let c = labels.count
    var targets = Matrix(rows: batch.count, cols: c)
    var weights = [Float](repeating: 0, count: batch.count)
    var g = SeededGenerator(seed: mixSeed(options.seed, 0x313C, UInt64(step)))
    let original = features
    for (b, i) in batch.enumerated() {
      let own = clips[i].label
      var lambda: Float = 1
      var partner = own
      if options.mixupProbability > 0 && batch.count > 1 && g.nextUnitFloat() < options.mixupProbability {
        // Any other clip of the batch; its features as drawn for this step.
        let other = (b + 1 + Int(g.next() % UInt64(batch.count - 1))) % batch.count
        let l = Self.beta(options.mixupAlpha, generator: &g)
        lambda = max(l, 1 - l)
        partner = clips[batch[other]].label
        let x = original[b], y = original[other]
        var mixed = x
        let d = x.cols
        for t in 0..<x.rows {
          for j in 0..<d {
            let yv: Float = t < y.rows ? y.data[t * d + j] : 0
            mixed.data[t * d + j] = lambda * x.data[t * d + j] + (1 - lambda) * yv
          }
        }
        features[b] = mixed
      }
      let e = options.labelSmoothing
      for k in 0..<c { targets.data[b * c + k] = e / Float(c) }
      targets.data[b * c + own] += (1 - e) * lambda
      targets.data[b * c + partner] += (1 - e) * (1 - lambda)
      weights[b] = lambda * classWeights[own] + (1 - lambda) * classWeights[partner]
    }
    return (targets, weights)
  }

  /// Weighted soft cross-entropy `L = sum_b w_b (-sum_c q_bc lp_bc) / sum_b w_b` and
  /// dL/dlp = `-w_b q_bc / sum w` (B, C). With one-hot targets and unit weights this is
  /// ``negativeLogLikelihood(_:labels:)``.
  static func crossEntropy(_ logProbabilities: Matrix, targets: Matrix, weights: [Float]) -> (loss: Float, gradient: Matrix) {
    precondition(logProbabilities.rows == targets.rows && logProbabilities.cols == targets.cols && weights.count == targets.rows,
      "crossEntropy: log-probabilities \(logProbabilities.shapeDescription), targets \(targets.shapeDescription), \(weights.count) weights")
    let c = targets.cols
    let total = max(weights.reduce(0, +), 1e-12)
    var gradient = Matrix(rows: targets.rows, cols: c)
    var loss = 0.0
    for b in 0..<targets.rows {
      for k in 0..<c {
        let q = targets.data[b * c + k]
        guard q != 0 else { continue }
        loss -= Double(weights[b] * q * logProbabilities.data[b * c + k])
        gradient.data[b * c + k] = -weights[b] * q / total
      }
    }
    return (Float(loss / Double(total)), gradient)
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
  ///     checkpoint's, except `epochs`, which may grow). Without it an existing checkpoint is
  ///     an error, so no run is overwritten by accident.
  ///   - maxMinutes: stop cleanly, after a checkpoint, once this much time has passed.
  ///   - maxSteps: stop cleanly, after a checkpoint, after this many steps of this session.
  ///   - initialNetwork: start a new run from these weights (fine-tuning) instead of a fresh
  ///     initialisation; its sizes must be this run's. Ignored on resume.
  ///   - initialScope: what `initialNetwork` gives: every weight (`.wholeNetwork`, the same
  ///     labels) or only its encoder (`.encoder`: other labels, a fresh pooling and output
  ///     layer).
  ///   - progress: step, checkpoint and stop events (the printer of the CTC trainer works).
  ///   - epochEnded: called after each epoch is validated, saved and logged.
  @discardableResult
  public func train(output: String, resume: Bool = false, maxMinutes: Double? = nil, maxSteps: Int? = nil,
                    initialNetwork: SequenceClassifier? = nil, initialScope: WarmStartScope = .wholeNetwork,
                    progress: ((TrainingEvent) -> Void)? = nil,
                    epochEnded: ((ClassificationEpochMetrics) -> Void)? = nil) throws -> ClassificationTrainingSummary {
    let r = try TrainingLoop.run(self, output: output, resume: resume, maxMinutes: maxMinutes, maxSteps: maxSteps,
                                 initialNetwork: initialNetwork, initialScope: initialScope,
                                 progress: progress, epochEnded: epochEnded)
    return ClassificationTrainingSummary(
      epochs: r.state.epoch, steps: r.state.step, bestAccuracy: r.state.bestAccuracy, bestEpoch: r.state.bestEpoch,
      bestReport: r.state.bestReport, stoppedEarly: r.stoppedEarly, log: r.state.log,
      utterancesPerSecond: r.utterancesPerSecond, trainingSeconds: r.state.trainingSeconds,
      bestModel: r.files.best, lastModel: r.files.last, checkpoint: r.files.checkpoint, network: r.network)
  }

  func provenanceJSON(epoch: Int, step: Int, accuracy: Double?) -> String {
    var p = provenance
    p["trainer"] = "earshot ClassificationTrainer"
    p["options"] = jsonText(options)
    p["epoch"] = String(epoch)
    p["step"] = String(step)
    p["train_clips"] = String(clips.count)
    p["valid_clips"] = String(validation.count)
    if let accuracy { p["valid_accuracy"] = String(format: "%.4f", accuracy) }
    return jsonText(p)
  }

  /// Scores the validation clips (batches of 32 similar lengths): the report and mean loss.
  func evaluateValidation(_ network: SequenceClassifier) -> (report: ClassificationReport, loss: Double) {
    let order = validation.indices.sorted { (validation[$0].features.rows, $0) < (validation[$1].features.rows, $1) }
    var report = ClassificationReport(labels: labels)
    var loss = 0.0
    for start in stride(from: 0, to: order.count, by: 32) {
      let part = Array(order[start..<min(start + 32, order.count)])
      let lp = network.logProbabilities(SequenceBatch(sequences: part.map { validation[$0].features }))
      for (b, i) in part.enumerated() {
        let row = lp.row(b)
        let predicted = row.indices.max { row[$0] < row[$1] } ?? 0
        report.add(reference: validation[i].label, predicted: predicted, audio: validation[i].entry.audio,
                   speaker: validation[i].entry.speaker)
        loss -= Double(row[validation[i].label])
      }
    }
    return (report, loss / Double(max(validation.count, 1)))
  }

  /// The options of the run whose checkpoint is in `output` (for `--resume`).
  public static func savedOptions(output: String) throws -> ClassificationTrainingOptions {
    let state: ClassificationTrainingState = try Checkpoint.state(
      URL(fileURLWithPath: output).appendingPathComponent("checkpoint.safetensors").path)
    return state.options
  }
}

extension ClassificationTrainer: TrainingTask {
  var runOptions: ClassificationTrainingOptions { options }

  var architecture: ModelArchitecture {
    var a = ModelArchitecture()
    a.kind = .classifier
    a.inputSize = extractor.outputBins
    a.hiddenSize = options.hiddenSize
    a.numLayers = options.layers
    a.outputSize = labels.count
    a.dropout = options.dropout
    a.pooling = options.pooling
    return a
  }

  func loss(batch: [Int], step: Int, features: inout [Matrix]) -> (Matrix) -> (loss: Float, gradient: Matrix) {
    let (targets, weights) = mixBatch(batch, step: step, features: &features)
    return { Self.crossEntropy($0, targets: targets, weights: weights) }
  }

  func newState(initialNetwork: SequenceClassifier?, scope: WarmStartScope) -> ClassificationTrainingState {
    if let initialNetwork { provenance["initial_model"] = WarmStart.origin(of: initialNetwork.metadata, scope: scope) }
    return ClassificationTrainingState(options: options, labels: labels, data: data)
  }

  func checkResumable(_ state: ClassificationTrainingState, checkpoint: String) throws {
    guard state.labels == labels else {
      throw TrainingError.badCheckpoint(path: checkpoint, reason: "its labels \(state.labels) differ from this run's \(labels)")
    }
    try data.checkResumable(saved: state.data, checkpoint: checkpoint)
  }

  var modelMetadata: [String: String] {
    [ModelMetadataKey.features: options.features.json, ModelMetadataKey.labels: jsonText(labels)]
  }

  /// Scores the validation clips; the best epoch has the highest accuracy, ties going to the
  /// lower validation loss (every epoch is best without validation).
  func finishEpoch(network: SequenceClassifier, state: inout ClassificationTrainingState, learningRate: Float,
                   files: RunFiles) throws -> ClassificationEpochMetrics {
    let scored = validation.isEmpty ? nil : evaluateValidation(network)
    let accuracy = scored?.report.accuracy
    var isBest = true
    if let scored, let best = state.bestAccuracy {
      isBest = scored.report.accuracy > best
        || (scored.report.accuracy == best && scored.loss < (state.bestLoss ?? .infinity))
    }
    let metrics = ClassificationEpochMetrics(
      epoch: state.epoch + 1, step: state.step, trainLoss: state.epochMeanLoss, learningRate: learningRate,
      validAccuracy: accuracy, validLoss: scored?.loss, best: isBest, seconds: state.epochSeconds,
      utterancesPerSecond: state.epochUtterancesPerSecond)
    let current = ClassificationModel(network: network, features: options.features, labels: labels)
    let provenance = provenanceJSON(epoch: state.epoch + 1, step: state.step, accuracy: accuracy)
    try files.saveModel(isBest: isBest) { path in try current.save(to: path, provenance: provenance) }
    if isBest {
      state.bestAccuracy = accuracy
      state.bestLoss = scored?.loss
      state.bestEpoch = state.epoch + 1
      state.bestReport = scored?.report
    }
    state.log.append(metrics)
    return metrics
  }
}

/// Figures of one finished classification epoch, one line of `log.jsonl`.
public struct ClassificationEpochMetrics: Equatable, Codable, Sendable {
  /// 1-based epoch.
  public var epoch: Int
  /// Optimizer steps taken when it ended.
  public var step: Int
  /// Mean training loss (augmented, mixed, smoothed targets) over the epoch's batches.
  public var trainLoss: Double
  /// Learning rate of the epoch's last step.
  public var learningRate: Float
  /// Validation top-1 accuracy and mean negative log-likelihood; nil without validation.
  public var validAccuracy: Double?
  public var validLoss: Double?
  /// Whether this epoch's model became `best.safetensors`.
  public var best: Bool
  /// Seconds spent training in the epoch (validation excluded).
  public var seconds: Double
  /// Training clips per second.
  public var utterancesPerSecond: Double
}

/// Everything besides tensors that a resumed classification run needs.
struct ClassificationTrainingState: RunState, Equatable {
  var formatVersion = 1
  var options: ClassificationTrainingOptions
  var labels: [String]
  /// The clips trained and validated on; nil in checkpoints written before it was kept.
  var data: DataFingerprint? = nil
  var step = 0
  var epoch = 0
  var batchInEpoch = 0
  var epochLossSum = 0.0
  var epochBatches = 0
  var epochUtterances = 0
  var epochSeconds = 0.0
  var bestAccuracy: Double? = nil
  var bestLoss: Double? = nil
  var bestEpoch: Int? = nil
  var bestReport: ClassificationReport? = nil
  var log: [ClassificationEpochMetrics] = []
  var trainingSeconds = 0.0
}

/// The outcome of a classification run.
public struct ClassificationTrainingSummary: Sendable {
  /// Epochs completed and optimizer steps taken (over all sessions).
  public var epochs: Int, steps: Int
  /// Highest validation accuracy, its epoch and its full report (nil without validation).
  public var bestAccuracy: Double?, bestEpoch: Int?
  public var bestReport: ClassificationReport?
  /// True when `maxMinutes` or `maxSteps` ended the run early.
  public var stoppedEarly: Bool
  /// Every finished epoch's metrics.
  public var log: [ClassificationEpochMetrics]
  /// Training clips per second in this session, and training seconds over all sessions.
  public var utterancesPerSecond: Double, trainingSeconds: Double
  /// Paths of the written files.
  public var bestModel: String, lastModel: String, checkpoint: String
  /// The network as training left it.
  public var network: SequenceClassifier
}
