import Foundation

/// How much of a trained model a run starts from.
public enum WarmStartScope: Sendable {
  /// Every weight (fine-tuning on the same labels or tokens): every size, the kind and the
  /// pooling must match.
  case wholeNetwork
  /// Only the encoder, the `lstm.` weights (transfer to other labels): the input size, the
  /// hidden size, the layers and the kind must match; the pooling and output layer keep this
  /// run's fresh initialisation.
  case encoder
}

/// Starting a run from a trained model's weights (fine-tuning) instead of a fresh
/// initialisation.
enum WarmStart {
  /// The `state_dict` prefix of the encoder's parameters.
  static let encoderPrefix = "lstm."

  /// `network` (freshly made for `architecture`) with the parameters `scope` names taken from
  /// `initial`. Dropout is this run's.
  /// - Throws: `TrainingError.invalidOption` naming both architectures when they differ in
  ///   what `scope` takes.
  static func load<N: Parameterized>(_ initial: N, architecture initialArchitecture: ModelArchitecture,
                                     into network: inout N, architecture: ModelArchitecture,
                                     scope: WarmStartScope = .wholeNetwork) throws(TrainingError) {
    var a = initialArchitecture
    a.dropout = architecture.dropout
    if scope == .encoder {
      a.outputSize = architecture.outputSize
      a.pooling = architecture.pooling
    }
    guard a == architecture else {
      throw .invalidOption(name: "initial model", value: initialArchitecture.json,
                           expected: "the architecture of this run, \(architecture.json) ("
                             + (scope == .encoder ? "dropout, pooling and outputs may differ)" : "dropout may differ)"))
    }
    for p in network.namedParameters where scope == .wholeNetwork || p.name.hasPrefix(encoderPrefix) {
      network[keyPath: p.path] = initial[keyPath: p.path]
    }
  }

  /// What a run started from `metadata`'s model records as its origin.
  static func origin(of metadata: [String: String], scope: WarmStartScope = .wholeNetwork) -> String {
    let part = scope == .encoder ? "encoder" : "weights"
    return metadata[ModelMetadataKey.provenance].map { "\(part) of a model trained as " + $0 } ?? "\(part) of a trained model"
  }
}
