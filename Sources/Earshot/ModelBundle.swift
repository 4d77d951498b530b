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
  /// Classifiers: JSON array of the speeds at which each clip is also heard, e.g.
  /// `[0.9, 1, 1.1]` (``ClassificationModel/testSpeeds``); absent means `[1]`.
  public static let testSpeeds = "test_speeds"
}

/// A CTC model with everything needed to turn audio into text: the network, its front end
/// and its tokens; or an ensemble of such networks that share the tokens.
///
/// An ensemble's networks (each with its own front end) are not averaged frame by frame
/// (each network places its spikes on slightly different frames): ``Transcriber`` decodes
/// each one and keeps, of all their best hypotheses, the one with the highest summed CTC
/// log-likelihood over the members. It is written as one file (see
/// ``save(to:provenance:)``), loads by name or path like a single model, and
/// `earshot ensemble` makes one from trained models.
public struct TranscriptionModel: Sendable {
  /// One network with the features it was trained on.
  public typealias Member = EnsembleMember<SequenceModel>

  /// The networks: one for a plain model; for an ensemble, all of them. Never empty.
  public private(set) var members: [Member]
  /// One string per output, shared by every member; `tokens[network.architecture.blank]` is
  /// the blank.
  public var tokens: [String]
  /// How tokens spell text.
  public var unit: TokenUnit
  /// Where it was loaded from (a path or `builtin:NAME`).
  public var source: String

  /// The first member's network (the only one of a plain model); setting it replaces member 0
  /// only.
  public var network: SequenceModel {
    get { members[0].network }
    set { members[0].network = newValue }
  }
  /// The first member's front end (its sample rate is the one audio is resampled to; every
  /// member shares it); setting it changes member 0 only.
  public var features: FeatureOptions {
    get { members[0].features }
    set { members[0].features = newValue }
  }
  /// The arithmetic of every member's inference (``InferencePrecision``); reads member 0's.
  public var inferencePrecision: InferencePrecision {
    get { members[0].network.inferencePrecision }
    set { for i in members.indices { members[i].network.inferencePrecision = newValue } }
  }
  /// Whether the model combines more than one network.
  public var isEnsemble: Bool { members.count > 1 }

  /// A plain model: one network, its front end and one token per output.
  public init(network: SequenceModel, features: FeatureOptions, tokens: [String], unit: TokenUnit, source: String = "memory") {
    members = [Member(network: network, features: features)]
    self.tokens = tokens
    self.unit = unit
    self.source = source
  }

  /// An ensemble (or, with one member, a plain model).
  /// - Throws: `PipelineError.badEnsemble` when there are no members, a member's outputs
  ///   are not one per token, the members' blanks differ, or they resample to different rates.
  public init(members: [Member], tokens: [String], unit: TokenUnit, source: String = "memory") throws(PipelineError) {
    try Self.check(members, tokens: tokens, source: source)
    self.members = members
    self.tokens = tokens
    self.unit = unit
    self.source = source
  }

  /// Throws unless there is a member, each has one output per token and the same blank, and
  /// all share a rate.
  static func check(_ members: [Member], tokens: [String], source: String) throws(PipelineError) {
    guard let first = members.first else { throw .badEnsemble(path: source, reason: "no members") }
    for (k, m) in members.enumerated() {
      let a = m.network.architecture
      guard a.outputSize == tokens.count else {
        throw .badEnsemble(path: source, reason: "member \(k) has \(a.outputSize) outputs for \(tokens.count) tokens "
          + "(\(tokens.joined(separator: ",")))")
      }
      guard a.blank == first.network.architecture.blank else {
        throw .badEnsemble(path: source, reason: "member \(k)'s blank is output \(a.blank), member 0's is output "
          + "\(first.network.architecture.blank); members must share tokens in the same order")
      }
      guard m.features.sampleRate == first.features.sampleRate else {
        throw .badEnsemble(path: source, reason: "member \(k) works at \(m.features.sampleRate) Hz, member 0 at "
          + "\(first.features.sampleRate) Hz; members must share a sample rate")
      }
    }
  }

  /// Loads a model or an ensemble by shipped name (`digits`) or path.
  /// - Throws: `ModelError` for a malformed file, `PipelineError` for missing or
  ///   inconsistent metadata.
  public init(named nameOrPath: String) throws {
    let path = try ModelCatalog.path(for: nameOrPath)
    let file = try SafeTensors(contentsOf: path)
    if Checkpoint.isCheckpoint(file) { throw PipelineError.trainingCheckpoint(path: path) }
    let source = nameOrPath == path ? path : "builtin:\(nameOrPath)"
    let memberFiles = try EnsembleFile.members(of: file, path: path) ?? [(file, path)]
    try EnsembleFile.checkKind(of: memberFiles, name: nameOrPath, expected: .ctc)
    // The network first, so a classifier is named as one.
    let members = try memberFiles.map { m in
      Member(network: try SequenceModel(file: m.file, path: m.name), features: try FeatureOptions(metadata: m.file.metadata, path: m.name))
    }
    // Tokens sit at the top of an ensemble file, in the network's metadata of a plain one.
    guard let tokenText = file.metadata[ModelMetadataKey.tokens],
      let tokens = try? JSONDecoder().decode([String].self, from: Data(tokenText.utf8))
    else { throw PipelineError.noFeatureOptions(path: path, reason: "no 'tokens' JSON array") }
    let unit = file.metadata[ModelMetadataKey.tokenUnit].flatMap(TokenUnit.init(rawValue:)) ?? .word
    if file.metadata[ModelFile.ensembleKey] == nil {
      guard tokens.count == members[0].network.architecture.outputSize else {
        throw PipelineError.inputMismatch(what: "\(path): tokens", found: tokens.count, expected: members[0].network.architecture.outputSize)
      }
    }
    try self.init(members: members, tokens: tokens, unit: unit, source: source)
  }

  /// Writes the model with `features`, `tokens` and `token_unit` in its metadata: a plain
  /// model as a PyTorch-named file (`lstm.*`, `fc.*`), an ensemble in the layout
  /// `ClassificationModel` uses (member k's tensors under `member{k}.`, its metadata under
  /// `member{k}`, the count under `ensemble`, tokens and provenance at the top).
  /// - Throws: `ModelError.cannotAccess` when the file cannot be written (written atomically:
  ///   nothing half-written is left at `path`).
  public func save(to path: String, provenance: String? = nil) throws {
    let shared = [
      ModelMetadataKey.tokens: String(decoding: try JSONEncoder().encode(tokens), as: UTF8.self),
      ModelMetadataKey.tokenUnit: unit.rawValue,
    ]
    // Each member keeps its own provenance; the given one goes on top.
    func file(of member: Member) -> SafeTensors {
      var network = member.network
      network.metadata[ModelMetadataKey.features] = member.features.json
      network.metadata.merge(shared) { _, new in new }
      return network.file()
    }
    guard isEnsemble else {
      var single = file(of: members[0])
      if let provenance { single.metadata[ModelMetadataKey.provenance] = provenance }
      try single.write(to: path)
      return
    }
    var top = shared
    if let provenance { top[ModelMetadataKey.provenance] = provenance }
    try EnsembleFile.file(members: members.map(file(of:)), metadata: top).write(to: path)
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

  /// Environment variable naming a folder of `NAME.safetensors` files that replaces the
  /// shipped models' folder (for a binary installed without its resource folder).
  public static let environmentKey = "EARSHOT_MODELS"

  /// `EARSHOT_MODELS` as the process started, nil when unset or empty.
  static let configuredFolder: String? = ProcessInfo.processInfo.environment[environmentKey].flatMap { $0.isEmpty ? nil : $0 }

  /// The folder holding the shipped models, or nil. In order: the folder named by
  /// `EARSHOT_MODELS`; SwiftPM's resource folder for this target (`PACKAGE_Earshot.resources`,
  /// copied there by `swift build`) beside the executable, symbolic links to the executable
  /// followed; the source tree this library was built from. (SwiftPM's `Bundle.module` is not
  /// used: it stops the process when its folder is missing.)
  static let directory: String? = {
    let fm = FileManager.default
    func isFolder(_ path: String) -> Bool {
      var folder: ObjCBool = false
      return fm.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }
    if let given = configuredFolder { return isFolder(given) ? given : nil }
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    for folder in [executable, Bundle.main.bundleURL] {
      let bundles = ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix("_Earshot.resources") }
      for bundle in bundles.sorted() {
        let models = folder.appendingPathComponent(bundle).appendingPathComponent("Models").path
        if isFolder(models) { return models }
      }
    }
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Models").path
    return isFolder(source) ? source : nil
  }()

  /// A path for `nameOrPath`: an existing file is used as it is; otherwise a shipped name.
  public static func path(for nameOrPath: String) throws(PipelineError) -> String {
    var isFolder: ObjCBool = false
    // A folder of the same name (say, a training run called `digits`) is not a model file.
    if FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isFolder), !isFolder.boolValue { return nameOrPath }
    if directory == nil, let given = configuredFolder {
      throw .modelsFolderMissing(variable: environmentKey, path: given)
    }
    if let dir = directory {
      let candidate = URL(fileURLWithPath: dir).appendingPathComponent(nameOrPath + ".safetensors").path
      if FileManager.default.fileExists(atPath: candidate) { return candidate }
    }
    if isFolder.boolValue {
      let run = URL(fileURLWithPath: nameOrPath).appendingPathComponent("best.safetensors").path
      throw .modelIsFolder(path: nameOrPath, runModel: FileManager.default.fileExists(atPath: run) ? run : nil)
    }
    throw .unknownModel(name: nameOrPath, available: names)
  }
}
