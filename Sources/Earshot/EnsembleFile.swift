import Foundation

/// One network of a model with the features it was trained on: the member type of
/// ``ClassificationModel`` (`Network` = `SequenceClassifier`) and ``TranscriptionModel``
/// (`SequenceModel`).
public struct EnsembleMember<Network: Sendable>: Sendable {
  /// The network.
  public var network: Network
  /// Its front end.
  public var features: FeatureOptions

  /// A member: `network` reads features made by `features`.
  public init(network: Network, features: FeatureOptions) {
    self.network = network
    self.features = features
  }
}

/// Features for the members of an ensemble: each distinct front end computed once, and
/// front ends that differ only in the utterance-level steps (CMVN, deltas, the top-dB clamp)
/// share the frame-local pass (STFT, mel bands, log), which is most of the work.
struct SharedFeatures {
  private var frameLocal: [(options: FeatureOptions, features: FeatureMatrix)] = []
  private var computed: [(options: FeatureOptions, features: Matrix)] = []
  /// Frame-local passes run so far.
  var frameLocalPasses: Int { frameLocal.count }

  /// The features of `samples` under `extractor`'s options, computed on first use. Calls on
  /// one value pass the same clip (a classifier pads a short clip to each member's window
  /// length; members with equal options, which the caches are keyed by, pad alike).
  mutating func features(of samples: [Float], extractor: FeatureExtractor) throws -> Matrix {
    let options = extractor.options
    if let done = computed.first(where: { $0.options == options }) { return done.features }
    let key = extractor.frameLocalOptions
    let local: FeatureMatrix
    if let done = frameLocal.first(where: { $0.options == key }) {
      local = done.features
    } else {
      local = try extractor.frameLocal(samples)
      frameLocal.append((key, local))
    }
    // `finalize` works on its own copy (copy on write); the shared frame-local values stay.
    let features = Matrix(try extractor.finalize(local))
    computed.append((options, features))
    return features
  }
}

/// The layout of an ensemble file, shared by ``ClassificationModel`` and
/// ``TranscriptionModel``: member k's tensors are named `member{k}.` + its own names, its own
/// metadata (architecture, features, tokens or labels) is a JSON object of strings under the
/// key `member{k}`, and the member count is under `ensemble` (`ModelFile.ensembleKey`), with
/// the shared tokens or labels and the provenance at the top.
enum EnsembleFile {
  static func memberKey(_ k: Int) -> String { "member\(k)" }

  /// The members of an ensemble file, each as a plain model file named for errors
  /// (`PATH (member k)`); nil for a plain model file.
  /// - Throws: `PipelineError.badEnsemble` for a bad count or member metadata,
  ///   `ModelError.unexpectedTensor` for a tensor no member claims, `ModelError` for a
  ///   format version this code does not read.
  /// Throws `PipelineError.wrongModelKind` when the first network of `members` declares
  /// another kind than `expected` (a file without a readable architecture is left to the
  /// network's own loader, which names what is wrong).
  static func checkKind(of members: [(file: SafeTensors, name: String)], name: String,
                        expected: ModelArchitecture.Kind) throws(PipelineError) {
    guard let json = members.first?.file.metadata[ModelFile.architectureKey],
      let architecture = try? JSONDecoder().decode(ModelArchitecture.self, from: Data(json.utf8))
    else { return }
    if architecture.kind != expected { throw .wrongModelKind(name: name, kind: architecture.kind.rawValue) }
  }

  static func members(of file: SafeTensors, path: String) throws -> [(file: SafeTensors, name: String)]? {
    guard let countText = file.metadata[ModelFile.ensembleKey] else { return nil }
    try ModelFile.checkVersion(of: file, path: path)
    guard let count = Int(countText), count >= 1 else {
      throw PipelineError.badEnsemble(path: path, reason: "'\(ModelFile.ensembleKey)' is '\(countText)', expected a member count >= 1")
    }
    var members: [(file: SafeTensors, name: String)] = []
    var claimed = 0
    for k in 0..<count {
      let key = memberKey(k)
      guard let text = file.metadata[key],
        let metadata = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))
      else {
        throw PipelineError.badEnsemble(path: path, reason: "metadata '\(key)' for member \(k) of \(count) is missing or not a JSON object of strings")
      }
      let prefix = key + "."
      var tensors: [String: Tensor] = [:]
      for (name, tensor) in file.tensors where name.hasPrefix(prefix) { tensors[String(name.dropFirst(prefix.count))] = tensor }
      claimed += tensors.count
      members.append((SafeTensors(tensors: tensors, metadata: metadata), "\(path) (member \(k))"))
    }
    if claimed != file.tensors.count {
      let stray = file.tensors.keys.sorted().first { name in !(0..<count).contains { name.hasPrefix(memberKey($0) + ".") } }
      throw ModelError.unexpectedTensor(path: path, tensor: stray ?? "?")
    }
    return members
  }

  /// One ensemble file holding `members` (plain model files), with `metadata` at the top.
  static func file(members: [SafeTensors], metadata: [String: String]) throws -> SafeTensors {
    var tensors: [String: Tensor] = [:]
    var top = metadata
    top[ModelFile.ensembleKey] = String(members.count)
    top[ModelFile.versionKey] = ModelFile.version
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    for (k, member) in members.enumerated() {
      for (name, tensor) in member.tensors { tensors[memberKey(k) + "." + name] = tensor }
      top[memberKey(k)] = String(decoding: try encoder.encode(member.metadata), as: UTF8.self)
    }
    return SafeTensors(tensors: tensors, metadata: top)
  }

  /// What the networks of a plain or ensemble file are (an ensemble's: member 0's); nil when
  /// the file does not say.
  static func kind(of file: SafeTensors) -> ModelArchitecture.Kind? {
    var metadata = file.metadata
    if file.metadata[ModelFile.ensembleKey] != nil {
      guard let text = file.metadata[memberKey(0)],
        let member = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))
      else { return nil }
      metadata = member
    }
    guard let json = metadata[ModelFile.architectureKey],
      let a = try? JSONDecoder().decode(ModelArchitecture.self, from: Data(json.utf8))
    else { return nil }
    return a.kind
  }
}

extension SequenceModel {
  /// One network of a CTC model file or shipped model (`digits`): the file's network, or
  /// member `member` (from 0) of an ensemble. Needs no tokens, so a network converted by
  /// `scripts/torch_export.py` loads too.
  /// - Throws: `PipelineError.noSuchMember` for an ensemble without `member`, or a `member`
  ///   the file does not hold; `PipelineError.unknownModel`, `ModelError` as the plain loaders.
  public init(named nameOrPath: String, member: Int?) throws {
    let path = try ModelCatalog.path(for: nameOrPath)
    let file = try SafeTensors(contentsOf: path)
    guard let members = try EnsembleFile.members(of: file, path: path) else {
      if let member, member != 0 { throw PipelineError.noSuchMember(name: nameOrPath, asked: member, count: 1) }
      try self.init(file: file, path: path)
      return
    }
    guard let member, members.indices.contains(member) else {
      throw PipelineError.noSuchMember(name: nameOrPath, asked: member, count: members.count)
    }
    try self.init(file: members[member].file, path: members[member].name)
  }
}
