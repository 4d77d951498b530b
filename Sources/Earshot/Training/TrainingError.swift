import Foundation

/// Why training or evaluation could not go on.
///
/// Each message names the file (and line) or option, what was found, what was expected and,
/// where possible, the fix.
public enum TrainingError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A manifest file or folder cannot be read.
  case cannotReadManifest(path: String, reason: String)
  /// A manifest line is not a usable entry; `line` is 1-based.
  case badManifestLine(path: String, line: Int, reason: String)
  /// A manifest (or the clips left after loading) holds nothing to train or evaluate on.
  case emptyDataset(path: String, reason: String)
  /// A folder given as a classification set is not one sub-folder of clips per label.
  case notLabelFolders(path: String, found: String)
  /// A clip cannot be decoded or featurised.
  case badClip(path: String, reason: String)
  /// A transcript uses a word or character the model has no token for.
  case unknownToken(path: String, token: String, known: [String])
  /// An option is outside its allowed range.
  case invalidOption(name: String, value: String, expected: String)
  /// The loss became NaN or infinite; the last good checkpoint is kept.
  case nonFiniteLoss(epoch: Int, step: Int, loss: Float, checkpoint: String?)
  /// A checkpoint cannot be read, or does not fit the run it should continue.
  case badCheckpoint(path: String, reason: String)
  /// The output folder already holds a run (`file`: its checkpoint, a model or its log) and
  /// resuming was not asked for.
  case runExists(output: String, file: String)
  /// A file cannot be written; `reason` is the system's message.
  case cannotWrite(path: String, reason: String)

  public var description: String {
    switch self {
    case let .cannotReadManifest(path, reason): return "\(path): cannot read the manifest: \(reason)"
    case let .badManifestLine(path, line, reason): return "\(path):\(line): \(reason)"
    case let .emptyDataset(path, reason): return "\(path): nothing to use: \(reason)"
    case let .notLabelFolders(path, found):
      return "\(path): not a classification folder: \(found); expected one sub-folder of audio files per label "
        + "(\(path)/{label}/*.wav), or a .jsonl manifest"
    case let .badClip(path, reason): return "\(path): \(reason)"
    case let .unknownToken(path, token, known):
      let list = known.count > 40 ? known.prefix(40).joined(separator: " ") + " ..." : known.joined(separator: " ")
      return "\(path): '\(token)' is not among the model's outputs (\(list)); train with it or drop the clip"
    case let .invalidOption(name, value, expected): return "\(name) = \(value) is invalid; expected \(expected)"
    case let .nonFiniteLoss(epoch, step, loss, checkpoint):
      let keep = checkpoint.map { "the last good checkpoint is \($0)" } ?? "no checkpoint was written yet"
      return "loss is \(loss) at epoch \(epoch), step \(step): training diverged; \(keep). "
        + "Lower --learning-rate or the gradient clip, then --resume or start again"
    case let .badCheckpoint(path, reason): return "\(path): cannot resume: \(reason)"
    case let .runExists(output, file):
      return file == RunFiles.checkpointName
        ? "\(output) already holds a run (\(file)); add --resume to continue it (a finished run trains on only with a larger "
          + "--epochs), or choose another --output"
        : "\(output) already holds a run's \(file), but no checkpoint to continue from; choose another --output, "
          + "or move the run's files (best/last.safetensors, log.jsonl) away first"
    case let .cannotWrite(path, reason): return "\(path): cannot write: \(reason)"
    }
  }
}

extension TrainingError {
  /// The first file of a finished or unfinished run in `output` (its checkpoint, models or
  /// log), or nil: where a new run would replace something, training refuses with
  /// ``runExists(output:file:)``.
  public static func existingRunFile(in output: String) -> String? { RunFiles.existingFile(in: output) }
}

/// `localizedDescription` (Foundation's way to show an error) reads as `description` does.
extension TrainingError: LocalizedError {
  public var errorDescription: String? { description }
}
