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
  /// Training clips kept after loading.
  public var trainingCount: Int { clips.count }
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
    /// Samples at the feature rate, one array per `augmentation.speeds` entry.
    var variants: [[Float]]
    /// Features per variant when they do not change per step; else empty.
    var cached: [Matrix]
    /// Frames at speed 1 (the bucketing key).
    var frames: Int
  }

  private var clips: [Clip] = []
  private var validation: [(entry: ManifestEntry, features: Matrix)] = []
  private var noise: [[Float]] = []
  private let extractor: FeatureExtractor

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
    let start = Date()
    tokenizer = tokens.map { Tokenizer(tokens: $0, unit: options.tokenUnit) }
      ?? Tokenizer(texts: training.map(\.text), unit: options.tokenUnit)
    extractor = try FeatureExtractor(options: options.features)
    let rate = options.features.sampleRate
    let speeds = options.augmentation.speeds
    let cache = !options.augmentation.changesWaveform
    let extractor = self.extractor
    let tokenizer = self.tokenizer
    let fastest = speeds.max() ?? 1
    // Decode, resample and perturb every clip once, in parallel.
    let loaded: [Result<Clip, any Error>] = parallelMap(training.count, threads: threads) { i in
      Result {
        let entry = training[i]
        let labels = try tokenizer.encode(entry.text, path: entry.audio)
        let samples = try AudioFile.loadMono(path: entry.audio, sampleRate: rate).samples
        guard !samples.isEmpty else { throw TrainingError.badClip(path: entry.audio, reason: "0 samples") }
        let variants = try speeds.map { try Augmentation.changeSpeed(samples, by: $0, sampleRate: rate) }
        let cached = cache ? try variants.map { Matrix(try extractor($0)) } : []
        let frames = extractor.frameCount(forSamples: samples.count)
        let shortest = extractor.frameCount(forSamples: Int(Double(samples.count) / Double(fastest)))
        guard shortest >= Tokenizer.minimumFrames(labels) + 1 else {
          throw TrainingError.badClip(path: entry.audio, reason:
            "\(shortest) frames at speed \(fastest) cannot hold the \(labels.count) tokens of \"\(entry.text)\"")
        }
        return Clip(entry: entry, labels: labels, variants: variants, cached: cached, frames: frames)
      }
    }
    for r in loaded {
      switch r {
      case .success(let c): clips.append(c)
      case .failure(let e):
        // An unknown token is a data or configuration error, not a bad clip: stop.
        if case TrainingError.unknownToken = e { throw e }
        skipped.append("\(e)")
      }
    }
    guard !clips.isEmpty else {
      throw TrainingError.emptyDataset(path: "training set", reason: "every clip was skipped; first: \(skipped.first ?? "")")
    }
    if let validation {
      let v: [Result<(entry: ManifestEntry, features: Matrix), any Error>] = parallelMap(validation.count, threads: threads) { i in
        Result {
          let e = validation[i]
          let samples = try AudioFile.loadMono(path: e.audio, sampleRate: rate).samples
          return (e, Matrix(try extractor(samples)))
        }
      }
      for r in v {
        switch r {
        case .success(let x): self.validation.append(x)
        case .failure(let e): skipped.append("\(e)")
        }
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

  /// Features of the clips of the batch of optimizer step `step`, on up to `threads` threads.
  func batchFeatures(_ batch: [Int], step: Int, threads: Int) throws -> [Matrix] {
    try parallelMap(batch.count, threads: threads) { b in
      var g = SeededGenerator(seed: mixSeed(options.seed, 0xA06, UInt64(step), UInt64(b)))
      return try trainingFeatures(batch[b], generator: &g)
    }
  }

  /// Features of clip `index` for a training step, augmented with draws from `g`.
  func trainingFeatures(_ index: Int, generator g: inout SeededGenerator) throws -> Matrix {
    let a = options.augmentation
    let clip = clips[index]
    let speed = Int(g.next() % UInt64(clip.variants.count))
    var m: Matrix
    if !clip.cached.isEmpty {
      m = clip.cached[speed]
    } else {
      var x = clip.variants[speed]
      if a.gainDecibels > 0 { Augmentation.applyGain(&x, decibels: g.uniform(-a.gainDecibels, a.gainDecibels)) }
      if !noise.isEmpty && g.nextUnitFloat() < a.noiseProbability {
        let z = noise[Int(g.next() % UInt64(noise.count))]
        let offset = Int(g.next() % UInt64(z.count))
        Augmentation.addNoise(&x, noise: z, offset: offset, snr: g.uniform(a.minimumSNR, a.maximumSNR))
      }
      m = Matrix(try extractor(x))
    }
    Augmentation.specAugment(&m, options: a, generator: &g)
    return m
  }

  // MARK: - Training

  /// Trains into `output` (created if needed) and returns what happened.
  ///
  /// - Parameters:
  ///   - output: folder for checkpoints, models and `log.jsonl`.
  ///   - resume: continue from `output/checkpoint.safetensors` (the options must equal the
  ///     checkpoint's, except `epochs`, which may grow). Without it, an existing checkpoint
  ///     there is an error, so that no run is overwritten by accident.
  ///   - maxMinutes: stop cleanly, after a checkpoint, once this much time has passed.
  ///   - maxSteps: stop cleanly, after a checkpoint, after this many steps of this session.
  ///   - progress: called on the training thread for every step, epoch and checkpoint.
  /// - Throws: ``TrainingError/nonFiniteLoss(epoch:step:loss:checkpoint:)`` when the loss
  ///   diverges (the last checkpoint is kept), file and data errors.
  @discardableResult
  public func train(output: String, resume: Bool = false, maxMinutes: Double? = nil, maxSteps: Int? = nil,
                    progress: ((TrainingEvent) -> Void)? = nil) throws -> TrainingSummary {
    let fm = FileManager.default
    do {
      try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
    } catch {
      throw TrainingError.cannotWrite(path: output, reason: (error as NSError).localizedDescription)
    }
    let dir = URL(fileURLWithPath: output)
    let checkpointPath = dir.appendingPathComponent("checkpoint.safetensors").path
    let lastPath = dir.appendingPathComponent("last.safetensors").path
    let bestPath = dir.appendingPathComponent("best.safetensors").path
    let logPath = dir.appendingPathComponent("log.jsonl").path

    var architecture = ModelArchitecture()
    architecture.kind = .ctc
    architecture.inputSize = extractor.outputBins
    architecture.hiddenSize = options.hiddenSize
    architecture.numLayers = options.layers
    architecture.outputSize = tokenizer.tokens.count
    architecture.dropout = options.dropout
    architecture.blank = 0

    var network: SequenceModel
    var adam = Adam()
    var state: TrainingState
    if resume {
      guard fm.fileExists(atPath: checkpointPath) else {
        throw TrainingError.badCheckpoint(path: checkpointPath, reason: "no checkpoint; start without --resume")
      }
      let c = try Checkpoint.read(checkpointPath)
      var saved = c.state.options
      saved.epochs = options.epochs
      guard saved == options else {
        throw TrainingError.badCheckpoint(path: checkpointPath, reason:
          "it was trained with other options (\(Self.differences(c.state.options, options))); resume with the same ones")
      }
      guard c.state.tokens == tokenizer.tokens else {
        throw TrainingError.badCheckpoint(path: checkpointPath, reason:
          "its tokens \(c.state.tokens) differ from this training set's \(tokenizer.tokens)")
      }
      guard c.network.architecture == architecture else {
        throw TrainingError.badCheckpoint(path: checkpointPath, reason: "architecture \(c.network.architecture.json), expected \(architecture.json)")
      }
      network = c.network
      adam = c.adam
      state = c.state
      state.options = options
      // The log on disk may hold an epoch finished after the checkpoint: rewrite it.
      try writeLog(state.log, to: logPath)
    } else {
      guard !fm.fileExists(atPath: checkpointPath) else {
        throw TrainingError.badCheckpoint(path: checkpointPath, reason:
          "a run already lives in \(output); add --resume to continue it, or choose another --output")
      }
      var g = SeededGenerator(seed: mixSeed(options.seed, 0x1417))
      network = SequenceModel(architecture: architecture, generator: &g)
      state = TrainingState(options: options, tokens: tokenizer.tokens)
      try writeLog([], to: logPath)
    }

    var adamOptions = AdamOptions()
    adamOptions.learningRate = options.learningRate
    adam.options = adamOptions
    Neural.setThreads(threads)

    let batchesPerEpoch = plan(epoch: 0).count
    let totalSteps = options.epochs * batchesPerEpoch
    let schedule = options.schedule(totalSteps: totalSteps)
    let loss = CTCLoss(blank: 0, reduction: .mean)
    var gradients = network.zeroGradients()
    let sessionStart = Date()
    var sessionSteps = 0, sessionUtterances = 0, sessionSeconds = 0.0
    var stoppedEarly = false
    var wroteCheckpoint = fm.fileExists(atPath: checkpointPath)
    let deadline = maxMinutes.map { $0 * 60 }
    func shouldStop() -> Bool {
      if let maxSteps, sessionSteps >= maxSteps { return true }
      if let deadline, Date().timeIntervalSince(sessionStart) >= deadline { return true }
      return false
    }

    func model(_ n: SequenceModel) -> TranscriptionModel {
      TranscriptionModel(network: n, features: options.features, tokens: tokenizer.tokens, unit: tokenizer.unit)
    }
    func provenanceJSON(epoch: Int, wer: Double?) -> String {
      var p = provenance
      p["trainer"] = "earshot CTCTrainer"
      p["options"] = jsonText(options)
      p["epoch"] = String(epoch)
      p["step"] = String(state.step)
      p["train_utterances"] = String(clips.count)
      if let wer { p["valid_wer"] = String(format: "%.4f", wer) }
      return jsonText(p)
    }
    func saveCheckpoint() throws {
      try Checkpoint.write(to: checkpointPath, model: model(network), adam: adam, state: state)
      wroteCheckpoint = true
      progress?(.checkpoint(path: checkpointPath, step: state.step))
    }

    var prefetch: FeaturePrefetch? = nil
    defer { _ = try? prefetch?.wait() }
    epochs: while state.epoch < options.epochs {
      let batches = plan(epoch: state.epoch)
      while state.batchInEpoch < batches.count {
        let stepStart = Date()
        let batch = batches[state.batchInEpoch]
        let step = state.step
        // Features of the batch, in parallel; each utterance's draws from its own generator.
        // Features of the batch: prefetched during the previous step when possible, else
        // computed now in parallel. Either way each utterance's draws come from its own
        // generator keyed by (step, position), so the result does not depend on which.
        let features: [Matrix]
        if let p = prefetch, p.step == step {
          features = try p.wait()
        } else {
          features = try batchFeatures(batch, step: step, threads: threads)
        }
        prefetch = nil
        if state.batchInEpoch + 1 < batches.count && options.augmentation.changesWaveform {
          let next = batches[state.batchInEpoch + 1]
          prefetch = FeaturePrefetch(step: step + 1) { [unowned self] in try self.batchFeatures(next, step: step + 1, threads: 1) }
        }
        let input = SequenceBatch(sequences: features)
        var g = SeededGenerator(seed: mixSeed(options.seed, 0xD20, UInt64(step)))
        let (logProbs, cache) = network.forward(input, training: true, generator: &g)
        let result = loss(logProbs, targets: batch.map { clips[$0].labels })
        guard result.loss.isFinite else {
          throw TrainingError.nonFiniteLoss(epoch: state.epoch + 1, step: step, loss: result.loss,
                                            checkpoint: wroteCheckpoint ? checkpointPath : nil)
        }
        gradients.zeroAll()
        _ = network.backward(result.gradient, cache: cache, into: &gradients)
        let norm = clipGradientNorm(&gradients, maxNorm: options.maxGradientNorm)
        guard norm.isFinite else {
          throw TrainingError.nonFiniteLoss(epoch: state.epoch + 1, step: step, loss: norm,
                                            checkpoint: wroteCheckpoint ? checkpointPath : nil)
        }
        adam.options.learningRate = schedule.learningRate(atStep: step)
        adam.update(&network, gradients: gradients)

        let seconds = Date().timeIntervalSince(stepStart)
        state.step += 1
        state.batchInEpoch += 1
        state.epochLossSum += Double(result.loss)
        state.epochBatches += 1
        state.epochUtterances += batch.count
        state.epochSeconds += seconds
        state.trainingSeconds += seconds
        sessionSteps += 1
        sessionUtterances += batch.count
        sessionSeconds += seconds
        let rate = Double(sessionUtterances) / max(sessionSeconds, 1e-9)
        let remainingSteps = totalSteps - state.step
        progress?(.step(TrainingProgress(
          epoch: state.epoch + 1, epochs: options.epochs, batch: state.batchInEpoch, batches: batches.count,
          step: state.step, totalSteps: totalSteps, meanLoss: state.epochLossSum / Double(state.epochBatches),
          learningRate: adam.options.learningRate, utterancesPerSecond: rate,
          etaSeconds: Double(remainingSteps) * sessionSeconds / Double(max(sessionSteps, 1)))))

        let stop = shouldStop()
        if state.batchInEpoch < batches.count && (state.step % options.checkpointInterval == 0 || stop) {
          try saveCheckpoint()
        }
        if stop && state.batchInEpoch < batches.count {
          stoppedEarly = true
          progress?(.stopped(epoch: state.epoch + 1, step: state.step, checkpoint: checkpointPath))
          break epochs
        }
      }

      // End of epoch: validate, keep the best, log, checkpoint.
      let report = validation.isEmpty ? nil : evaluateValidation(network)
      let wer = report?.wordErrorRate
      let isBest: Bool
      if let wer {
        isBest = state.bestWER.map { wer < $0 } ?? true
      } else {
        isBest = true
      }
      let metrics = EpochMetrics(
        epoch: state.epoch + 1, step: state.step, trainLoss: state.epochLossSum / Double(max(state.epochBatches, 1)),
        learningRate: adam.options.learningRate, validWER: wer, validCER: report?.characterErrorRate,
        validUtteranceAccuracy: report?.utteranceAccuracy, best: isBest, seconds: state.epochSeconds,
        utterancesPerSecond: Double(state.epochUtterances) / max(state.epochSeconds, 1e-9))
      let current = model(network)
      try writeAtomically(lastPath) { t in try current.save(to: t, provenance: provenanceJSON(epoch: state.epoch + 1, wer: wer)) }
      if isBest {
        if wer != nil {
          state.bestWER = wer
        }
        state.bestEpoch = state.epoch + 1
        try writeAtomically(bestPath) { t in try current.save(to: t, provenance: provenanceJSON(epoch: state.epoch + 1, wer: wer)) }
      }
      state.log.append(metrics)
      state.epoch += 1
      state.batchInEpoch = 0
      state.epochLossSum = 0
      state.epochBatches = 0
      state.epochUtterances = 0
      state.epochSeconds = 0
      try saveCheckpoint()
      try writeLog(state.log, to: logPath)
      progress?(.epoch(metrics))
      if shouldStop() && state.epoch < options.epochs {
        stoppedEarly = true
        progress?(.stopped(epoch: state.epoch, step: state.step, checkpoint: checkpointPath))
        break
      }
    }
    return TrainingSummary(
      epochs: state.epoch, steps: state.step, bestWER: state.bestWER, bestEpoch: state.bestEpoch,
      stoppedEarly: stoppedEarly, log: state.log,
      utterancesPerSecond: Double(sessionUtterances) / max(sessionSeconds, 1e-9),
      bestModel: bestPath, lastModel: lastPath, checkpoint: checkpointPath, network: network)
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

  private func writeLog(_ log: [EpochMetrics], to path: String) throws {
    let text = log.map { jsonText($0) + "\n" }.joined()
    try writeAtomically(path) { t in try Data(text.utf8).write(to: URL(fileURLWithPath: t)) }
  }

  /// "hiddenSize 128 vs 256, ..." for the options that differ.
  static func differences(_ a: CTCTrainingOptions, _ b: CTCTrainingOptions) -> String {
    let ma = Mirror(reflecting: a).children, mb = Mirror(reflecting: b).children
    var parts: [String] = []
    for (x, y) in zip(ma, mb) where "\(x.value)" != "\(y.value)" {
      parts.append("\(x.label ?? "?") was \(x.value), now \(y.value)")
    }
    return parts.isEmpty ? "none found" : parts.joined(separator: "; ")
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
  /// Lowest validation WER and its epoch (nil WER without a validation set).
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
    try Checkpoint.read(URL(fileURLWithPath: output).appendingPathComponent("checkpoint.safetensors").path).state.options
  }

  /// The tokens of the run whose checkpoint is in `output`.
  public static func savedTokens(output: String) throws -> [String] {
    try Checkpoint.read(URL(fileURLWithPath: output).appendingPathComponent("checkpoint.safetensors").path).state.tokens
  }
}

/// The next batch's features, computed on a background thread while the current step runs
/// (the trainer's data are only read meanwhile).
final class FeaturePrefetch: @unchecked Sendable {
  let step: Int
  private let group = DispatchGroup()
  private var result: Result<[Matrix], any Error>?

  init(step: Int, _ work: @escaping () throws -> [Matrix]) {
    self.step = step
    let box = UncheckedWork(work)
    DispatchQueue.global().async(group: group) { self.result = Result { try box.work() } }
  }

  /// Blocks until the features are ready.
  func wait() throws -> [Matrix] {
    group.wait()
    return try result!.get()
  }
}

private struct UncheckedWork: @unchecked Sendable {
  let work: () throws -> [Matrix]
  init(_ work: @escaping () throws -> [Matrix]) { self.work = work }
}
