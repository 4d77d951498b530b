import Foundation

/// Starting a run from a trained model's weights (fine-tuning) instead of a fresh
/// initialisation.
enum WarmStart {
  /// `network` (freshly made for `architecture`) with every parameter taken from `initial`.
  /// Dropout is this run's; every size, the kind and the pooling must match.
  /// - Throws: `TrainingError.invalidOption` naming both architectures when they differ.
  static func load<N: Parameterized>(_ initial: N, architecture initialArchitecture: ModelArchitecture,
                                     into network: inout N, architecture: ModelArchitecture) throws(TrainingError) {
    var a = initialArchitecture
    a.dropout = architecture.dropout
    guard a == architecture else {
      throw .invalidOption(name: "initial model", value: initialArchitecture.json,
                           expected: "the architecture of this run, \(architecture.json) (dropout may differ)")
    }
    for p in network.namedParameters { network[keyPath: p.path] = initial[keyPath: p.path] }
  }

  /// What a run started from `metadata`'s model records as its origin.
  static func origin(of metadata: [String: String]) -> String {
    metadata[ModelMetadataKey.provenance].map { "weights of a model trained as " + $0 } ?? "weights of a trained model"
  }
}
