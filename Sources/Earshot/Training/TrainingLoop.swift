import Foundation
import Synchronization

// The loop that both trainers run: one optimizer step per batch (features, forward, loss,
// backward, clipping, Adam), checkpoints every few steps and after every epoch, exact
// resumption, and the stop conditions. A trainer supplies its task: batches, features, the
// loss, validation and what its files hold (``TrainingTask``).

/// A network the training loop can train: a forward pass with a cache and a backward pass that
/// accumulates parameter gradients.
protocol TrainableNetwork: Parameterized {
  associatedtype Output
  associatedtype Cache
  var architecture: ModelArchitecture { get }
  init(architecture: ModelArchitecture, generator: inout SeededGenerator)
  init(zerosWith architecture: ModelArchitecture)
  func forward(_ batch: SequenceBatch, training: Bool, generator: inout SeededGenerator) -> (logProbabilities: Output, cache: Cache)
  func backward(_ gradient: Matrix, cache: Cache, into grads: inout Self) -> Matrix
}

extension SequenceModel: TrainableNetwork {}
extension SequenceClassifier: TrainableNetwork {}

/// The settings that every training task has: network size, optimizer, schedule, seed,
/// augmentation and checkpoints.
public protocol TrainingRunOptions: Codable, Equatable, Sendable {
  /// The front end; its sample rate is the one clips are resampled to.
  var features: FeatureOptions { get set }
  var hiddenSize: Int { get set }
  var layers: Int { get set }
  var dropout: Float { get set }
  /// Passes over the training set (the one setting a resumed run may change).
  var epochs: Int { get set }
  var batchSize: Int { get set }
  var learningRate: Float { get set }
  var warmupFraction: Float { get }
  var finalLearningRateFraction: Float { get }
  var maxGradientNorm: Float { get set }
  var weightDecay: Float? { get set }
  var seed: UInt64 { get set }
  var augmentation: AugmentationOptions { get set }
  var checkpointInterval: Int { get set }
}

extension TrainingRunOptions {
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

  /// Checks the ranges of the shared settings, the augmentation and the front end.
  func validateShared() throws(TrainingError) {
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
    if let weightDecay {
      guard weightDecay >= 0 && learningRate * weightDecay < 1 else {
        throw bad("weightDecay", weightDecay, ">= 0 with learningRate * weightDecay < 1, or nil for none")
      }
    }
    guard checkpointInterval >= 1 else { throw bad("checkpointInterval", checkpointInterval, ">= 1") }
    try augmentation.validate()
    do {
      _ = try FeatureExtractor(options: features)
    } catch {
      throw bad("features", error, "valid FeatureOptions")
    }
  }

  /// Why a run trained with these options cannot go on with `other`: nil when they are the
  /// same but for `epochs`, the one setting a resumed run may change.
  public func resumeMismatch(with other: Self) -> String? {
    var same = self
    same.epochs = other.epochs
    return same == other ? nil
      : "it was trained with other options (\(same.differences(from: other))); resume with the same ones (only --epochs may change)"
  }

  /// "hiddenSize was 128, now 256; augmentation.reverbProbability was 0.0, now 0.3" for the
  /// settings that differ from `other`'s, nested settings by their dotted path.
  public func differences(from other: Self) -> String {
    var parts: [String] = []
    func compare(_ a: Any, _ b: Any, path: String) {
      let mine = Mirror(reflecting: a), theirs = Mirror(reflecting: b)
      // Two set optionals are compared by what they hold (a struct behind one too).
      if mine.displayStyle == .optional, theirs.displayStyle == .optional, let x = mine.children.first, let y = theirs.children.first {
        return compare(x.value, y.value, path: path)
      }
      if mine.displayStyle == .struct && !mine.children.isEmpty {
        for (x, y) in zip(mine.children, theirs.children) {
          compare(x.value, y.value, path: path.isEmpty ? x.label ?? "?" : path + "." + (x.label ?? "?"))
        }
      } else if "\(a)" != "\(b)" {
        func shown(_ v: Any) -> String {
          let m = Mirror(reflecting: v)
          if m.displayStyle == .optional { return m.children.first.map { shown($0.value) } ?? "none" }
          // A struct on one side only: its fields, without its type's name.
          if m.displayStyle == .struct { return "(" + m.children.map { "\($0.label ?? "?") \(shown($0.value))" }.joined(separator: ", ") + ")" }
          return "\(v)"
        }
        parts.append("\(path) was \(shown(a)), now \(shown(b))")
      }
    }
    compare(self, other, path: "")
    return parts.isEmpty ? "none found" : parts.joined(separator: "; ")
  }
}

/// What a run's checkpoint keeps besides tensors: its options, where it stands, the best
/// epoch so far and the log. Every random draw comes from a generator seeded by
/// `mixSeed(seed, purpose, step or epoch, ...)`, so no generator state needs saving.
protocol RunState: Codable {
  associatedtype Options: TrainingRunOptions
  associatedtype Metrics: Codable
  var options: Options { get set }
  /// Optimizer steps taken.
  var step: Int { get set }
  /// Epochs completed.
  var epoch: Int { get set }
  /// Batches of epoch `epoch` (0-based) already taken.
  var batchInEpoch: Int { get set }
  /// Loss sum, batches, utterances and training seconds of the current epoch so far.
  var epochLossSum: Double { get set }
  var epochBatches: Int { get set }
  var epochUtterances: Int { get set }
  var epochSeconds: Double { get set }
  /// Training seconds over all sessions.
  var trainingSeconds: Double { get set }
  /// Every finished epoch's metrics.
  var log: [Metrics] { get set }
}

extension RunState {
  /// Counts one optimizer step.
  mutating func recordStep(loss: Float, utterances: Int, seconds: Double) {
    step += 1
    batchInEpoch += 1
    epochLossSum += Double(loss)
    epochBatches += 1
    epochUtterances += utterances
    epochSeconds += seconds
    trainingSeconds += seconds
  }

  /// Mean training loss of the current epoch so far.
  var epochMeanLoss: Double { epochLossSum / Double(max(epochBatches, 1)) }

  /// Training utterances per second of the current epoch.
  var epochUtterancesPerSecond: Double { Double(epochUtterances) / max(epochSeconds, 1e-9) }

  /// Closes the current epoch.
  mutating func beginNextEpoch() {
    epoch += 1
    batchInEpoch = 0
    epochLossSum = 0
    epochBatches = 0
    epochUtterances = 0
    epochSeconds = 0
  }
}

/// The files of a run in its output folder.
struct RunFiles {
  let folder: String
  /// Written every `checkpointInterval` steps and after every epoch; `--resume` reads it.
  let checkpoint: String
  /// The model after the latest epoch, and the best one by validation.
  let last: String, best: String
  /// One JSON line per finished epoch.
  let log: String

  /// The files of `output`, created if needed.
  init(output: String) throws(TrainingError) {
    do {
      try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    } catch {
      throw .cannotWrite(path: output, reason: (error as NSError).localizedDescription)
    }
    folder = output
    let dir = URL(fileURLWithPath: output)
    checkpoint = dir.appendingPathComponent(Self.checkpointName).path
    last = dir.appendingPathComponent("last.safetensors").path
    best = dir.appendingPathComponent("best.safetensors").path
    log = dir.appendingPathComponent("log.jsonl").path
  }

  var hasCheckpoint: Bool { FileManager.default.fileExists(atPath: checkpoint) }

  /// The checkpoint's file name in a run folder.
  static let checkpointName = "checkpoint.safetensors"

  /// The first file of a run that `output` holds (its checkpoint, then its models and log),
  /// or nil: a new run there would replace it.
  static func existingFile(in output: String) -> String? {
    [checkpointName, "best.safetensors", "last.safetensors", "log.jsonl"].first {
      FileManager.default.fileExists(atPath: URL(fileURLWithPath: output).appendingPathComponent($0).path)
    }
  }

  /// Rewrites the log, atomically (a resumed run drops epochs finished after its checkpoint),
  /// with snake_case keys (`train_loss`, `valid_wer`) as all JSON Earshot writes for people.
  func writeLog<M: Encodable>(_ lines: [M]) throws(TrainingError) {
    let text = lines.map { jsonText($0, snakeCaseKeys: true) + "\n" }.joined()
    try writeAtomically(log) { t in try Data(text.utf8).write(to: URL(fileURLWithPath: t)) }
  }

  /// Writes the epoch's model as `last`, and as `best` too when it is.
  func saveModel(isBest: Bool, _ save: (String) throws -> Void) throws(TrainingError) {
    try writeAtomically(last, save)
    if isBest { try writeAtomically(best, save) }
  }
}

/// A stop asked for from outside a running training loop (a Ctrl-C handler, another
/// thread): the loop finishes its step, writes a checkpoint and returns as if `maxMinutes`
/// had run out (`stoppedEarly`), so `resume` goes on from exactly there.
public enum TrainingInterruption {
  private static let requested = Atomic<Bool>(false)
  private static let running = Atomic<Int>(0)

  /// Asks every running training loop to stop after its current step. Returns whether one
  /// is running (false: nothing will act on it, e.g. while the clips are still loading).
  @discardableResult
  public static func request() -> Bool {
    requested.store(true, ordering: .sequentiallyConsistent)
    return running.load(ordering: .sequentiallyConsistent) > 0
  }

  /// Whether a stop was asked for (until ``reset()``).
  public static var isRequested: Bool { requested.load(ordering: .sequentiallyConsistent) }

  /// Forgets an earlier request, so that later runs in this process train on.
  public static func reset() { requested.store(false, ordering: .sequentiallyConsistent) }

  static func enter() { running.add(1, ordering: .sequentiallyConsistent) }
  static func leave() { running.subtract(1, ordering: .sequentiallyConsistent) }
}

/// This session's share of a run: when it must stop and how fast it goes.
struct TrainingSession {
  private let start = Date()
  private let maxSteps: Int?
  private let deadline: Double?
  private(set) var steps = 0, utterances = 0, seconds = 0.0

  init(maxMinutes: Double?, maxSteps: Int?) {
    self.maxSteps = maxSteps
    deadline = maxMinutes.map { $0 * 60 }
  }

  mutating func record(utterances: Int, seconds: Double) {
    steps += 1
    self.utterances += utterances
    self.seconds += seconds
  }

  /// Whether `maxSteps` or `maxMinutes` has been reached, or ``TrainingInterruption`` asked.
  var shouldStop: Bool {
    if TrainingInterruption.isRequested { return true }
    if let maxSteps, steps >= maxSteps { return true }
    if let deadline, Date().timeIntervalSince(start) >= deadline { return true }
    return false
  }

  var utterancesPerSecond: Double { Double(utterances) / max(seconds, 1e-9) }

  /// Seconds that `steps` more steps take at this session's pace.
  func secondsFor(steps remaining: Int) -> Double { Double(remaining) * seconds / Double(max(steps, 1)) }
}

/// What a trainer supplies to ``TrainingLoop``.
protocol TrainingTask: AnyObject {
  associatedtype Network: TrainableNetwork
  associatedtype State: RunState
  var runOptions: State.Options { get }
  var threads: Int { get }
  /// The network this run trains (sizes from the options and the data).
  var architecture: ModelArchitecture { get }
  /// The batches of epoch `epoch` (0-based), as clip indices.
  func plan(epoch: Int) -> [[Int]]
  /// The features of clip `index` for a training step, augmented with draws from `generator`.
  func trainingFeatures(_ index: Int, generator: inout SeededGenerator) throws -> Matrix
  /// The loss of step `step` as a function of the network's output; may change the batch's
  /// features first (mixup).
  func loss(batch: [Int], step: Int, features: inout [Matrix]) -> (Network.Output) -> (loss: Float, gradient: Matrix)
  /// The state of a new run (recording `initialNetwork`'s origin, and what of it `scope`
  /// took, when given).
  func newState(initialNetwork: Network?, scope: WarmStartScope) -> State
  /// Checks that a checkpoint's state fits this run beyond its options (tokens, labels).
  func checkResumable(_ state: State, checkpoint: String) throws
  /// The model metadata a checkpoint carries besides the architecture and the state.
  var modelMetadata: [String: String] { get }
  /// Scores the epoch's network, saves it through `files.saveModel`, updates the best
  /// figures in `state`, appends the epoch's metrics to `state.log` and returns them.
  func finishEpoch(network: Network, state: inout State, learningRate: Float, files: RunFiles) throws -> State.Metrics
}

extension TrainingTask {
  /// The training features of the batch of step `step` on up to `threads` threads; each
  /// clip's draws come from its own generator keyed by (step, position in the batch).
  func batchFeatures(_ batch: [Int], step: Int, threads: Int) throws -> [Matrix] {
    try parallelMap(batch.count, threads: threads) { b in
      var g = SeededGenerator(seed: mixSeed(runOptions.seed, 0xA06, UInt64(step), UInt64(b)))
      return try trainingFeatures(batch[b], generator: &g)
    }
  }
}

/// Where a run ended.
struct TrainingOutcome<Network, State> {
  var network: Network
  var state: State
  var stoppedEarly: Bool
  /// Training utterances per second in this session.
  var utterancesPerSecond: Double
  var files: RunFiles
}

enum TrainingLoop {
  /// Trains `task` into `output`; see ``CTCTrainer/train(output:resume:maxMinutes:maxSteps:initialNetwork:progress:)``.
  static func run<Task: TrainingTask>(
    _ task: Task, output: String, resume: Bool, maxMinutes: Double?, maxSteps: Int?,
    initialNetwork: Task.Network?, initialScope: WarmStartScope = .wholeNetwork, progress: ((TrainingEvent) -> Void)?,
    epochEnded: ((Task.State.Metrics) -> Void)?
  ) throws -> TrainingOutcome<Task.Network, Task.State> {
    let files = try RunFiles(output: output)
    let options = task.runOptions
    // Each step frees and allocates the same buffers; keep them instead of faulting them in anew.
    Neural.keepFreedMemory()
    var network: Task.Network
    var adam = Adam()
    var state: Task.State
    if resume {
      guard files.hasCheckpoint else {
        throw TrainingError.badCheckpoint(path: files.checkpoint, reason: "no checkpoint; start without --resume")
      }
      (network, adam, state) = try readCheckpoint(files.checkpoint)
      if let reason = state.options.resumeMismatch(with: options) {
        throw TrainingError.badCheckpoint(path: files.checkpoint, reason: reason)
      }
      guard network.architecture == task.architecture else {
        throw TrainingError.badCheckpoint(path: files.checkpoint, reason:
          "architecture \(network.architecture.json), expected \(task.architecture.json)")
      }
      try task.checkResumable(state, checkpoint: files.checkpoint)
      guard state.epoch <= options.epochs else {
        throw TrainingError.badCheckpoint(path: files.checkpoint, reason:
          "it has finished \(state.epoch) epochs; --epochs must be at least that (got \(options.epochs))")
      }
      state.options = options
    } else {
      if let file = RunFiles.existingFile(in: output) { throw TrainingError.runExists(output: output, file: file) }
      var g = SeededGenerator(seed: mixSeed(options.seed, 0x1417))
      network = Task.Network(architecture: task.architecture, generator: &g)
      if let initialNetwork {
        try WarmStart.load(initialNetwork, architecture: initialNetwork.architecture,
                           into: &network, architecture: task.architecture, scope: initialScope)
      }
      state = task.newState(initialNetwork: initialNetwork, scope: initialScope)
    }
    // A resumed run's log on disk may hold an epoch finished after its checkpoint.
    try files.writeLog(state.log)

    var adamOptions = AdamOptions()
    adamOptions.learningRate = options.learningRate
    if let decay = options.weightDecay, decay > 0 {
      adamOptions.weightDecay = decay
      adamOptions.decoupledWeightDecay = true
    }
    adam.options = adamOptions
    Neural.setThreads(task.threads)
    let totalSteps = options.epochs * task.plan(epoch: 0).count
    let schedule = options.schedule(totalSteps: totalSteps)
    var gradients = network.zeroGradients()
    var session = TrainingSession(maxMinutes: maxMinutes, maxSteps: maxSteps)
    TrainingInterruption.enter()
    defer { TrainingInterruption.leave() }
    var stoppedEarly = false
    var wroteCheckpoint = files.hasCheckpoint

    func saveCheckpoint() throws {
      var metadata = task.modelMetadata
      metadata[ModelFile.architectureKey] = network.architecture.json
      metadata[Checkpoint.stateKey] = jsonText(state)
      try Checkpoint.write(to: files.checkpoint, network: network, metadata: metadata, adam: adam)
      wroteCheckpoint = true
      progress?(.checkpoint(path: files.checkpoint, step: state.step))
    }
    func diverged(_ value: Float) -> TrainingError {
      .nonFiniteLoss(epoch: state.epoch + 1, step: state.step, loss: value,
                     checkpoint: wroteCheckpoint ? files.checkpoint : nil)
    }

    var prefetch: FeaturePrefetch? = nil
    defer { _ = try? prefetch?.wait() }
    epochs: while state.epoch < options.epochs {
      let batches = task.plan(epoch: state.epoch)
      while state.batchInEpoch < batches.count {
        let stepStart = Date()
        let batch = batches[state.batchInEpoch]
        let step = state.step
        // Prefetched during the previous step when the waveform changes per step, else
        // computed now; the draws depend only on (step, position), so either gives the same.
        var features: [Matrix]
        if let p = prefetch, p.step == step {
          features = try p.wait()
        } else {
          features = try task.batchFeatures(batch, step: step, threads: task.threads)
        }
        prefetch = nil
        if state.batchInEpoch + 1 < batches.count && options.augmentation.changesWaveform {
          let next = batches[state.batchInEpoch + 1]
          prefetch = FeaturePrefetch(step: step + 1) { [unowned task] in
            try task.batchFeatures(next, step: step + 1, threads: 1)
          }
        }
        let lossOf = task.loss(batch: batch, step: step, features: &features)
        var g = SeededGenerator(seed: mixSeed(options.seed, 0xD20, UInt64(step)))
        let (output, cache) = network.forward(SequenceBatch(sequences: features), training: true, generator: &g)
        let result = lossOf(output)
        guard result.loss.isFinite else { throw diverged(result.loss) }
        gradients.zeroAll()
        _ = network.backward(result.gradient, cache: cache, into: &gradients)
        let norm = clipGradientNorm(&gradients, maxNorm: options.maxGradientNorm)
        guard norm.isFinite else { throw diverged(norm) }
        adam.options.learningRate = schedule.learningRate(atStep: step)
        adam.update(&network, gradients: gradients)

        let seconds = Date().timeIntervalSince(stepStart)
        state.recordStep(loss: result.loss, utterances: batch.count, seconds: seconds)
        session.record(utterances: batch.count, seconds: seconds)
        progress?(.step(TrainingProgress(
          epoch: state.epoch + 1, epochs: options.epochs, batch: state.batchInEpoch, batches: batches.count,
          step: state.step, totalSteps: totalSteps, meanLoss: state.epochMeanLoss,
          learningRate: adam.options.learningRate, utterancesPerSecond: session.utterancesPerSecond,
          etaSeconds: session.secondsFor(steps: totalSteps - state.step))))

        let stop = session.shouldStop
        if state.batchInEpoch < batches.count && (state.step % options.checkpointInterval == 0 || stop) {
          try saveCheckpoint()
        }
        if stop && state.batchInEpoch < batches.count {
          stoppedEarly = true
          progress?(.stopped(epoch: state.epoch + 1, step: state.step, checkpoint: files.checkpoint))
          break epochs
        }
      }

      let metrics = try task.finishEpoch(network: network, state: &state, learningRate: adam.options.learningRate, files: files)
      state.beginNextEpoch()
      try saveCheckpoint()
      try files.writeLog(state.log)
      epochEnded?(metrics)
      if session.shouldStop && state.epoch < options.epochs {
        stoppedEarly = true
        progress?(.stopped(epoch: state.epoch, step: state.step, checkpoint: files.checkpoint))
        break
      }
    }
    return TrainingOutcome(network: network, state: state, stoppedEarly: stoppedEarly,
                           utterancesPerSecond: session.utterancesPerSecond, files: files)
  }

  /// The network, optimizer and state of a checkpoint written by this loop.
  static func readCheckpoint<Network: TrainableNetwork, State: RunState>(_ path: String) throws(TrainingError)
    -> (Network, Adam, State)
  {
    let state: State = try Checkpoint.state(path)
    let metadata = try Checkpoint.metadata(path)
    guard let text = metadata[ModelFile.architectureKey],
      let architecture = try? JSONDecoder().decode(ModelArchitecture.self, from: Data(text.utf8))
    else { throw .badCheckpoint(path: path, reason: "no readable 'architecture' metadata") }
    var network = Network(zerosWith: architecture)
    let (adam, _) = try Checkpoint.read(path, into: &network)
    return (network, adam, state)
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
