import Foundation

/// Why a model and its input do not fit together.
public enum PipelineError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The model file's `features` metadata is missing or not a `FeatureOptions` JSON.
  case noFeatureOptions(path: String, reason: String)
  /// Features have a different width than the model's input.
  case inputMismatch(what: String, found: Int, expected: Int)
  /// Neither a file nor a shipped model has this name.
  case unknownModel(name: String, available: [String])
  /// The folder named by the environment variable `variable` (``ModelCatalog/environmentKey``)
  /// is not a folder.
  case modelsFolderMissing(variable: String, path: String)
  /// A CTC decoder option or its log-probabilities are out of range.
  case invalidDecoderInput(name: String, value: String, expected: String)
  /// An ensemble's members do not fit together, or its file is inconsistent.
  case badEnsemble(path: String, reason: String)
  /// One network of `name` was asked for: none or `asked` (out of range), of `count`.
  case noSuchMember(name: String, asked: Int?, count: Int)
  /// A classifier's test-time speeds are unusable (none, out of 0.5...2, or repeated).
  case badTestSpeeds(path: String, reason: String)
  /// A model of the other kind: `kind` is `ctc` (transcription) or `classifier`.
  case wrongModelKind(name: String, kind: String)
  /// A training checkpoint was given where a model belongs.
  case trainingCheckpoint(path: String)
  /// A timeline's window or hop is not a positive number of seconds, at most a year.
  case badTimeline(window: Double, hop: Double)
  /// A folder was named where a model file was expected (and no shipped model has its name);
  /// `runModel` is its best.safetensors where it holds one (a training run).
  case modelIsFolder(path: String, runModel: String?)

  public var description: String {
    switch self {
    case .noFeatureOptions(let path, let reason):
      return "\(path): the model carries no usable 'features' metadata (\(reason)); give features (.npy) instead of audio"
    case .inputMismatch(let what, let found, let expected):
      return "\(what): \(found) features per frame, the model expects \(expected)"
    case .unknownModel(let name, let available):
      let list = available.isEmpty
        ? "no shipped models found: keep the folder that swift build writes beside the executable "
          + "(NAME_Earshot.resources, NAME being the Earshot package's identity: Earshot_Earshot.resources in a build of its repository), "
          + "or name a folder of .safetensors files in EARSHOT_MODELS"
        : "shipped: \(available.joined(separator: ", "))"
      return "\(name): no such model file or shipped model (\(list))"
    case .modelsFolderMissing(let variable, let path):
      return "\(variable)=\(path) is not a folder; point it at a folder of NAME.safetensors files, or unset it"
    case .invalidDecoderInput(let name, let value, let expected):
      return "CTC decoding: \(name) = \(value) is invalid; expected \(expected)"
    case .badEnsemble(let path, let reason):
      return "\(path): not a usable ensemble: \(reason)"
    case .noSuchMember(let name, let asked, let count):
      let members = count == 1 ? "one network, member 0" : "\(count) networks, members 0 to \(count - 1)"
      return asked.map { "\(name): no member \($0); it holds \(members)" }
        ?? "\(name): an ensemble of \(members); say which one"
    case .badTestSpeeds(let path, let reason):
      return "\(path): unusable test speeds: \(reason)"
    case .wrongModelKind(let name, let kind):
      return kind == ModelArchitecture.Kind.ctc.rawValue
        ? "\(name) is a transcription (CTC) model, not a classifier"
        : "\(name) is a classifier, not a transcription (CTC) model"
    case .modelIsFolder(let path, let runModel):
      return "\(path) is a folder, not a model file" + (runModel.map { "; a training run's model is \($0)" } ?? " (.safetensors)")
    case .trainingCheckpoint(let path):
      return "\(path): a training checkpoint (for train --resume), not a model; "
        + "use best.safetensors or last.safetensors of the same run"
    case .badTimeline(let window, let hop):
      return "timeline: window \(window) s and hop \(hop) s must both be positive numbers of seconds, at most a year"
    }
  }
}

/// `localizedDescription` (Foundation's way to show an error) reads as `description` does.
extension PipelineError: LocalizedError {
  public var errorDescription: String? { description }
}

extension FeatureOptions {
  /// The JSON stored under a model file's `features` metadata key.
  public var json: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try! encoder.encode(self), as: UTF8.self)
  }

  /// Decodes the `features` metadata of a model file.
  public init(metadata: [String: String], path: String) throws(PipelineError) {
    guard let text = metadata["features"] else { throw .noFeatureOptions(path: path, reason: "no 'features' key") }
    do {
      self = try JSONDecoder().decode(FeatureOptions.self, from: Data(text.utf8))
    } catch {
      throw .noFeatureOptions(path: path, reason: "\(error)")
    }
  }
}

extension FeatureExtractor {
  /// Features of mono audio at any rate: resampled to `options.sampleRate` first (soxr HQ),
  /// so a front end never hears audio at a rate it was not planned for.
  /// - Throws: `AudioError` when the rate cannot be resampled, `FeatureError` as for samples.
  public func callAsFunction(_ audio: MonoAudio) throws -> FeatureMatrix {
    let rate = options.sampleRate
    return try self(audio.sampleRate == rate ? audio.samples : Resampler.resample(audio.samples, from: audio.sampleRate, to: rate))
  }
}

extension Matrix {
  /// The features as a (frames, bins) matrix.
  public init(_ features: FeatureMatrix) {
    self.init(rows: features.frames, cols: features.bins, data: features.values)
  }
}
