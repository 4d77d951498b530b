import Foundation

/// Figures of one finished epoch, one line of `log.jsonl`.
public struct EpochMetrics: Equatable, Codable, Sendable {
  /// 1-based epoch number.
  public var epoch: Int
  /// Optimizer steps taken when the epoch ended (over the whole run).
  public var step: Int
  /// Mean CTC loss (per target token, as `reduction: .mean`) over the epoch's batches.
  public var trainLoss: Double
  /// Learning rate of the epoch's last step.
  public var learningRate: Float
  /// Validation word error rate, greedy decoding; nil without a validation set.
  public var validWER: Double?
  /// Validation character error rate.
  public var validCER: Double?
  /// Validation fraction of utterances recognised exactly.
  public var validUtteranceAccuracy: Double?
  /// Whether this epoch's model became `best.safetensors`.
  public var best: Bool
  /// Seconds spent training this epoch (validation excluded).
  public var seconds: Double
  /// Training utterances per second of this epoch.
  public var utterancesPerSecond: Double
}

/// What a run trains and validates on, so that a resumed run can tell that it is given the
/// same data: the clip counts and an FNV-1a hash of each clip's file name and text or label,
/// in order (file names, not paths: a run resumed from another folder, or with the data moved,
/// is the same run).
struct DataFingerprint: Equatable, Codable, Sendable {
  var trainingClips: Int
  var validationClips: Int
  var hash: String

  /// - Parameters: training, validation: (audio path, text or label) of every clip given.
  init(training: [(audio: String, target: String)], validation: [(audio: String, target: String)]) {
    var h = FNV1a()
    for (part, clips) in [("training", training), ("validation", validation)] {
      h.add(part + "\n")
      for clip in clips { h.add((clip.audio as NSString).lastPathComponent + "\t" + clip.target + "\n") }
    }
    trainingClips = training.count
    validationClips = validation.count
    hash = String(h.value, radix: 16)
  }

  /// Refuses to resume when `saved` (nil in checkpoints older than the fingerprint) differs
  /// from `self`: training on other clips, or scoring the epochs on other ones, would make the
  /// run's best epoch mean nothing.
  func checkResumable(saved: DataFingerprint?, checkpoint: String) throws {
    guard let saved, saved != self else { return }
    throw TrainingError.badCheckpoint(path: checkpoint, reason:
      "it was trained on other data (\(saved.trainingClips) training and \(saved.validationClips) validation clips, "
      + "\(self.trainingClips) and \(self.validationClips) now, or other files or texts); resume with the same "
      + "--train and validation (--valid, --valid-fold, --valid-speakers, --split-seed), or start a new --output")
  }
}

/// Everything besides tensors that a resumed run needs, stored as JSON in the checkpoint.
///
/// There is no generator state to store: every random draw comes from a generator seeded by
/// `mixSeed(seed, purpose, step or epoch, ...)`, so (options.seed, step) determines the rest
/// of the run.
struct TrainingState: RunState, Equatable {
  var formatVersion = 1
  var options: CTCTrainingOptions
  var tokens: [String]
  /// The clips trained and validated on; nil in checkpoints written before it was kept.
  var data: DataFingerprint? = nil
  /// Optimizer steps taken.
  var step = 0
  /// Epochs completed.
  var epoch = 0
  /// Batches of epoch `epoch` (0-based) already taken.
  var batchInEpoch = 0
  /// Loss sum and batch count of the current epoch so far.
  var epochLossSum = 0.0
  var epochBatches = 0
  var epochUtterances = 0
  var epochSeconds = 0.0
  /// Lowest validation WER (a character model: CER) so far.
  var bestWER: Double? = nil
  /// The best epoch's other rate (CER of a word model, WER of a character model): the tie-break.
  var bestTieBreak: Double? = nil
  var bestEpoch: Int? = nil
  var log: [EpochMetrics] = []
  /// Training seconds over all sessions.
  var trainingSeconds = 0.0
}

/// The checkpoint file: model tensors under `model/`, Adam moments under `adam.m/` and
/// `adam.v/`, the model's metadata, and `training_state` (``TrainingState`` JSON).
enum Checkpoint {
  static let stateKey = "training_state"
  static let adamStepKey = "adam_step"

  /// The training state (JSON under ``stateKey``) of the checkpoint at `path`.
  static func state<State: Decodable>(_ path: String) throws(TrainingError) -> State {
    guard let text = try metadata(path)[stateKey],
      let state = try? JSONDecoder().decode(State.self, from: Data(text.utf8))
    else {
      throw .badCheckpoint(path: path, reason: "no readable '\(stateKey)' metadata of this kind of run; not a checkpoint of this `earshot train --task`")
    }
    return state
  }
}

extension Checkpoint {
  /// Whether `file` is a checkpoint (it carries the optimizer's step), not a model.
  static func isCheckpoint(_ file: SafeTensors) -> Bool { file.metadata[adamStepKey] != nil }

  /// Writes any model's tensors under `model/`, Adam moments under `adam.m/` and `adam.v/`,
  /// and `metadata` plus the Adam step, atomically.
  static func write<M: Parameterized>(to path: String, network: M, metadata: [String: String],
                                      adam: Adam) throws(TrainingError) {
    var tensors: [String: Tensor] = [:]
    for (k, p) in network.namedParameters.enumerated() {
      tensors["model/" + p.name] = Tensor(shape: p.shape, values: network[keyPath: p.path].data)
      if k < adam.firstMoments.count {
        tensors["adam.m/" + p.name] = Tensor(shape: p.shape, values: adam.firstMoments[k])
        tensors["adam.v/" + p.name] = Tensor(shape: p.shape, values: adam.secondMoments[k])
      }
    }
    var meta = metadata
    meta[adamStepKey] = String(adam.step)
    let file = SafeTensors(tensors: tensors, metadata: meta)
    try writeAtomically(path) { temporary in try file.write(to: temporary) }
  }

  /// Reads a checkpoint written by ``write(to:network:metadata:adam:)``: fills `network`
  /// (already built with the right architecture) and returns the Adam state and metadata.
  static func read<M: Parameterized>(_ path: String, into network: inout M) throws(TrainingError)
    -> (adam: Adam, metadata: [String: String])
  {
    func bad(_ reason: String) -> TrainingError { .badCheckpoint(path: path, reason: reason) }
    let file: SafeTensors
    do {
      file = try SafeTensors(contentsOf: path)
    } catch {
      throw bad("\(error)")
    }
    var first: [[Float]] = [], second: [[Float]] = []
    for p in network.namedParameters {
      guard let t = file.tensors["model/" + p.name], t.shape == p.shape else {
        throw bad("tensor 'model/\(p.name)' is missing or not \(p.shape)")
      }
      network[keyPath: p.path].data = t.values
      if let m = file.tensors["adam.m/" + p.name], let v = file.tensors["adam.v/" + p.name] {
        guard m.shape == p.shape, v.shape == p.shape else { throw bad("Adam moments of '\(p.name)' are not \(p.shape)") }
        first.append(m.values)
        second.append(v.values)
      }
    }
    guard first.isEmpty || first.count == network.namedParameters.count else {
      throw bad("Adam moments for \(first.count) of \(network.namedParameters.count) tensors")
    }
    var adam = Adam()
    adam.restore(step: Int(file.metadata[adamStepKey] ?? "0") ?? 0, firstMoments: first, secondMoments: second)
    return (adam, file.metadata)
  }

  /// The metadata of a checkpoint file, without interpreting its tensors.
  static func metadata(_ path: String) throws(TrainingError) -> [String: String] {
    guard FileManager.default.fileExists(atPath: path) else {
      let folder = (path as NSString).deletingLastPathComponent
      throw .badCheckpoint(path: path, reason: FileManager.default.fileExists(atPath: folder)
        ? "no checkpoint yet (the run stopped before writing one); start again without --resume"
        : "no run in \(folder); start it without --resume")
    }
    do {
      return try SafeTensors(contentsOf: path).metadata
    } catch {
      throw .badCheckpoint(path: path, reason: "\(error)")
    }
  }
}

/// Compact JSON of an encodable value, keys sorted.
func jsonText<T: Encodable>(_ value: T, snakeCaseKeys: Bool = false) -> String {
  let e = JSONEncoder()
  e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
  if snakeCaseKeys { e.keyEncodingStrategy = .convertToSnakeCase }
  return String(decoding: (try? e.encode(value)) ?? Data(), as: UTF8.self)
}

/// Writes `path` through `write(temporary)`, then fsyncs the file, renames it over `path`
/// and fsyncs the folder: after a crash, `path` is either the old or the new file, whole.
func writeAtomically(_ path: String, _ write: (String) throws -> Void) throws(TrainingError) {
  let temporary = path + ".tmp-\(getpid())"
  do {
    try write(temporary)
  } catch {
    unlink(temporary)
    throw .cannotWrite(path: path, reason: "\(error)")
  }
  let fd = open(temporary, O_RDONLY)
  if fd >= 0 {
    fsync(fd)
    close(fd)
  }
  guard rename(temporary, path) == 0 else {
    let reason = String(cString: strerror(errno))
    unlink(temporary)
    throw .cannotWrite(path: path, reason: reason)
  }
  let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
  let dfd = open(folder, O_RDONLY)
  if dfd >= 0 {
    fsync(dfd)
    close(dfd)
  }
}
