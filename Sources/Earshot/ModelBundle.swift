import Foundation

/// How the tokens of a CTC model spell text.
public enum TokenUnit: String, Codable, Sendable {
  /// Each token is a whole word; text is the tokens joined by single spaces.
  case word
  /// Each token is a character; the token `" "` separates words.
  case character
}

/// Metadata keys Earshot writes into model files beside `architecture` and `format_version`.
public enum ModelMetadataKey {
  /// `FeatureOptions` JSON: the exact front end the model was trained with.
  public static let features = "features"
  /// JSON array of strings, one per CTC output (the blank included, as `"<blank>"`).
  public static let tokens = "tokens"
  /// `word` or `character` (`TokenUnit`).
  public static let tokenUnit = "token_unit"
  /// JSON array of strings, one per classifier output.
  public static let labels = "labels"
  /// JSON object: recipe, data, seed, epochs, validation figures.
  public static let provenance = "provenance"
}

/// A CTC model with everything needed to turn audio into text: the network, its front end
/// and its tokens.
public struct TranscriptionModel: Sendable {
  /// The network.
  public var network: SequenceModel
  /// The features it was trained on (its sample rate is the one audio is resampled to).
  public var features: FeatureOptions
  /// One string per output; `tokens[network.architecture.blank]` is the blank.
  public var tokens: [String]
  /// How tokens spell text.
  public var unit: TokenUnit
  /// Where it was loaded from (a path or `builtin:NAME`).
  public var source: String

  public init(network: SequenceModel, features: FeatureOptions, tokens: [String], unit: TokenUnit, source: String = "memory") {
    self.network = network
    self.features = features
    self.tokens = tokens
    self.unit = unit
    self.source = source
  }

  /// Loads a model by shipped name (`digits`) or path.
  /// - Throws: `ModelError` for a malformed file, `PipelineError` for missing metadata.
  public init(named nameOrPath: String) throws {
    let path = try ModelCatalog.path(for: nameOrPath)
    let network = try SequenceModel(contentsOf: path)
    let features = try FeatureOptions(metadata: network.metadata, path: path)
    guard let tokenText = network.metadata[ModelMetadataKey.tokens],
      let tokens = try? JSONDecoder().decode([String].self, from: Data(tokenText.utf8))
    else { throw PipelineError.noFeatureOptions(path: path, reason: "no 'tokens' JSON array") }
    guard tokens.count == network.architecture.outputSize else {
      throw PipelineError.inputMismatch(what: "\(path): tokens", found: tokens.count, expected: network.architecture.outputSize)
    }
    let unit = network.metadata[ModelMetadataKey.tokenUnit].flatMap(TokenUnit.init(rawValue:)) ?? .word
    self.init(network: network, features: features, tokens: tokens, unit: unit, source: nameOrPath == path ? path : "builtin:\(nameOrPath)")
  }

  /// Writes the network with `features`, `tokens` and `token_unit` in its metadata.
  public func save(to path: String, provenance: String? = nil) throws {
    var network = network
    network.metadata[ModelMetadataKey.features] = features.json
    network.metadata[ModelMetadataKey.tokens] = String(decoding: try JSONEncoder().encode(tokens), as: UTF8.self)
    network.metadata[ModelMetadataKey.tokenUnit] = unit.rawValue
    if let provenance { network.metadata[ModelMetadataKey.provenance] = provenance }
    try network.save(to: path)
  }
}

/// Models shipped inside the library, selectable by name.
public enum ModelCatalog {
  /// Names of the shipped models present in this build.
  public static var names: [String] {
    guard let dir = directory else { return [] }
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
      .filter { $0.hasSuffix(".safetensors") }
      .map { String($0.dropLast(".safetensors".count)) }
      .sorted()
  }

  /// The folder holding the shipped models: the SwiftPM resource bundle, or the source tree
  /// when the bundle cannot be found (a binary copied away from its build folder).
  static var directory: String? {
    if let url = Bundle.module.url(forResource: "Models", withExtension: nil) { return url.path }
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Models").path
    return FileManager.default.fileExists(atPath: source) ? source : nil
  }

  /// A path for `nameOrPath`: an existing file is used as it is; otherwise a shipped name.
  public static func path(for nameOrPath: String) throws(PipelineError) -> String {
    var isFolder: ObjCBool = false
    // A folder of the same name (say, a training run called `digits`) is not a model file.
    if FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isFolder), !isFolder.boolValue { return nameOrPath }
    if let dir = directory {
      let candidate = URL(fileURLWithPath: dir).appendingPathComponent(nameOrPath + ".safetensors").path
      if FileManager.default.fileExists(atPath: candidate) { return candidate }
    }
    throw .unknownModel(name: nameOrPath, available: names)
  }
}
