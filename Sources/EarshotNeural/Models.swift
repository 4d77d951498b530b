import Foundation

/// The architecture of a ``SequenceModel`` or ``SequenceClassifier``, stored as JSON under the
/// `architecture` metadata key of its safetensors file.
public struct ModelArchitecture: Equatable, Codable, Sendable {
  /// What the head computes.
  public enum Kind: String, Codable, Sendable {
    /// Per-frame log-probabilities for CTC (``SequenceModel``).
    case ctc
    /// One label per sequence from pooled frames (``SequenceClassifier``).
    case classifier
  }
  /// Default `.ctc`.
  public var kind: Kind = .ctc
  /// Features per input frame (e.g. mel bands); default 80.
  public var inputSize = 80
  /// LSTM hidden features per direction; default 256.
  public var hiddenSize = 256
  /// Stacked bidirectional layers; default 3.
  public var numLayers = 3
  /// Classes of the output layer: tokens including the blank for CTC, labels for a
  /// classifier; default 29.
  public var outputSize = 29
  /// Dropout between LSTM layers in training, in [0, 1); default 0.
  public var dropout: Float = 0
  /// Pooling of a classifier; default `.mean`; ignored for CTC.
  public var pooling: Pooling = .mean
  /// Blank index of a CTC model; default 0; ignored for a classifier.
  public var blank = 0
  public init() {}

  private enum CodingKeys: String, CodingKey {
    case kind, inputSize, hiddenSize, numLayers, outputSize, dropout, pooling, blank
  }

  /// Decodes the JSON form; absent keys take the defaults above.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = ModelArchitecture()
    kind = try c.decodeIfPresent(Kind.self, forKey: .kind) ?? d.kind
    inputSize = try c.decodeIfPresent(Int.self, forKey: .inputSize) ?? d.inputSize
    hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
    numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? d.numLayers
    outputSize = try c.decodeIfPresent(Int.self, forKey: .outputSize) ?? d.outputSize
    dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? d.dropout
    pooling = try c.decodeIfPresent(Pooling.self, forKey: .pooling) ?? d.pooling
    blank = try c.decodeIfPresent(Int.self, forKey: .blank) ?? d.blank
  }

  /// The JSON form, keys sorted.
  public var json: String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self)
  }

  /// Checks the sizes; `path` names the file in the error.
  func validate(path: String) throws(ModelError) {
    func fail(_ r: String) -> ModelError { .badMetadata(path: path, key: ModelFile.architectureKey, reason: r) }
    guard inputSize >= 1 else { throw fail("inputSize is \(inputSize), expected >= 1") }
    guard hiddenSize >= 1 else { throw fail("hiddenSize is \(hiddenSize), expected >= 1") }
    guard numLayers >= 1 else { throw fail("numLayers is \(numLayers), expected >= 1") }
    guard outputSize >= 1 else { throw fail("outputSize is \(outputSize), expected >= 1") }
    guard dropout >= 0 && dropout < 1 else { throw fail("dropout is \(dropout), expected [0, 1)") }
    if kind == .ctc {
      guard blank >= 0 && blank < outputSize else { throw fail("blank is \(blank), expected 0..<\(outputSize)") }
    }
  }
}

/// A network stored as one safetensors model file (``SequenceModel``, ``SequenceClassifier``):
/// its parameters under their PyTorch names, plus `metadata`, `architecture` and
/// `format_version`. Loading checks the file's kind, sizes and tensors against `Self`.
public protocol StoredModel: Parameterized {
  /// The architecture kind files of this type hold.
  static var kind: ModelArchitecture.Kind { get }
  /// Sizes, kind and pooling.
  var architecture: ModelArchitecture { get }
  /// Free-form metadata saved with the model (the architecture and version keys are managed
  /// by ``ModelFile`` and overwritten on save).
  var metadata: [String: String] { get set }
  /// The network with all parameters zero.
  init(zerosWith architecture: ModelArchitecture)
}

extension StoredModel {
  /// Loads a model file written by ``save(to:)`` or `scripts/torch_export.py`.
  public init(contentsOf path: String) throws(ModelError) {
    try self.init(file: try SafeTensors(contentsOf: path), path: path)
  }

  /// A model from an already-read file (or one member of an ensemble file); `path` names it
  /// in errors.
  public init(file: SafeTensors, path: String) throws(ModelError) {
    let a = try ModelFile.architecture(of: file, path: path, kind: Self.kind)
    self.init(zerosWith: a)
    try ModelFile.load(&self, from: file, path: path)
    metadata = file.metadata
  }

  /// Writes the parameters (F32) and `metadata` plus `architecture` and `format_version`.
  public func save(to path: String) throws(ModelError) {
    try file().write(to: path)
  }

  /// The parameters and `metadata` (plus `architecture` and `format_version`) as a file value.
  public func file() -> SafeTensors {
    ModelFile.file(self, architecture: architecture, metadata: metadata)
  }
}

/// Metadata keys and the shared load/save code of model files.
public enum ModelFile {
  /// Metadata key of the ``ModelArchitecture`` JSON.
  public static let architectureKey = "architecture"
  /// Metadata key of the file-format version, currently "1".
  public static let versionKey = "format_version"
  /// The format version this code writes and reads.
  public static let version = "1"
  /// Metadata key of an ensemble file (several networks whose outputs are combined): the
  /// member count. Member k's tensors are named `member{k}.` + its own names, and its own
  /// metadata is the JSON object under `member{k}`. Read by `ClassificationModel` and
  /// `TranscriptionModel`.
  public static let ensembleKey = "ensemble"
  /// Keys for the caller's own metadata, by convention: "features" (the FeatureOptions JSON),
  /// "tokens" (CTC output symbols) or "labels" (classifier labels), "provenance".
  public static let conventionalKeys = ["features", "tokens", "labels", "provenance"]

  /// Throws unless `file`'s `format_version` (when present) is the one this code reads.
  public static func checkVersion(of file: SafeTensors, path: String) throws(ModelError) {
    if let v = file.metadata[versionKey], v != version {
      throw .badMetadata(path: path, key: versionKey, reason: "version \(v), this reader understands \(version)")
    }
  }

  /// Reads `path` and returns its architecture, checking kind and version.
  static func architecture(of file: SafeTensors, path: String, kind: ModelArchitecture.Kind)
    throws(ModelError) -> ModelArchitecture
  {
    try checkVersion(of: file, path: path)
    if let members = file.metadata[ensembleKey] {
      throw .badMetadata(path: path, key: ensembleKey, reason: "this file is an ensemble of \(members) networks, "
        + "not one; load it with ClassificationModel(named:) or TranscriptionModel(named:) (earshot classify, "
        + "transcribe or evaluate --model)")
    }
    guard let json = file.metadata[architectureKey] else {
      throw .badMetadata(path: path, key: architectureKey,
                         reason: "missing; export the model with scripts/torch_export.py or Earshot")
    }
    let a: ModelArchitecture
    do {
      a = try JSONDecoder().decode(ModelArchitecture.self, from: Data(json.utf8))
    } catch {
      throw .badMetadata(path: path, key: architectureKey, reason: "not valid architecture JSON: \(json)")
    }
    guard a.kind == kind else {
      throw .badMetadata(path: path, key: architectureKey, reason: "kind is \(a.kind.rawValue), expected \(kind.rawValue)")
    }
    try a.validate(path: path)
    return a
  }

  /// Copies every parameter of `model` from `file`, checking names and shapes.
  static func load<M: Parameterized>(_ model: inout M, from file: SafeTensors, path: String) throws(ModelError) {
    let params = model.namedParameters
    let known = Set(params.map(\.name))
    for name in file.tensors.keys.sorted() where !known.contains(name) {
      throw .unexpectedTensor(path: path, tensor: name)
    }
    for p in params {
      guard let t = file.tensors[p.name] else { throw .missingTensor(path: path, tensor: p.name) }
      guard t.shape == p.shape else {
        throw .shapeMismatch(path: path, tensor: p.name, found: t.shape, expected: p.shape)
      }
      model[keyPath: p.path].data = t.values
    }
  }

  /// A safetensors value holding every parameter of `model` and the metadata.
  static func file<M: Parameterized>(_ model: M, architecture: ModelArchitecture, metadata: [String: String]) -> SafeTensors {
    var tensors: [String: Tensor] = [:]
    for p in model.namedParameters {
      tensors[p.name] = Tensor(shape: p.shape, values: model[keyPath: p.path].data)
    }
    var meta = metadata
    meta[architectureKey] = architecture.json
    meta[versionKey] = version
    return SafeTensors(tensors: tensors, metadata: meta)
  }
}

/// A CTC acoustic model: stacked BiLSTM (`lstm.*`), a `Linear` (`fc.*`) and log-softmax.
///
/// Basic usage:
/// ```swift
/// let model = try SequenceModel(contentsOf: "digits.safetensors")
/// let logProbs = model.logProbabilities(features: logMel)   // (frames, outputSize)
/// ```
/// Parameter names are those of a PyTorch module with attributes `lstm = nn.LSTM(...,
/// bidirectional=True)` and `fc = nn.Linear(2 * hidden, outputs)`; see
/// `scripts/torch_export.py`.
public struct SequenceModel: StoredModel, Sendable {
  public static let kind = ModelArchitecture.Kind.ctc
  /// Sizes and kind (`.ctc`).
  public let architecture: ModelArchitecture
  /// The encoder.
  public var lstm: BiLSTM
  /// Projection to the output classes, (outputSize, 2 hiddenSize).
  public var fc: Linear
  /// The arithmetic of inference (``BiLSTM/inferencePrecision``); default `.float32`.
  public var inferencePrecision: InferencePrecision {
    get { lstm.inferencePrecision }
    set { lstm.inferencePrecision = newValue }
  }
  /// Free-form metadata saved with the model (the architecture and version keys are managed
  /// here and overwritten on save).
  public var metadata: [String: String] = [:]

  /// A freshly initialised model (PyTorch default initialisation, reproducible from `generator`).
  public init(architecture: ModelArchitecture, generator: inout SeededGenerator) {
    var a = architecture
    a.kind = .ctc
    self.architecture = a
    lstm = BiLSTM(inputSize: a.inputSize, hiddenSize: a.hiddenSize, numLayers: a.numLayers,
                  dropout: a.dropout, generator: &generator)
    fc = Linear(inputSize: 2 * a.hiddenSize, outputSize: a.outputSize, generator: &generator)
  }

  /// A model with all parameters zero.
  public init(zerosWith architecture: ModelArchitecture) {
    var a = architecture
    a.kind = .ctc
    self.architecture = a
    lstm = BiLSTM(inputSize: a.inputSize, hiddenSize: a.hiddenSize, numLayers: a.numLayers, dropout: a.dropout)
    fc = Linear(inputSize: 2 * a.hiddenSize, outputSize: a.outputSize)
  }

  public var namedParameters: [NamedParameter<SequenceModel>] {
    lstm.namedParameters.map { $0.lifted(\SequenceModel.lstm, prefix: "lstm.") }
      + fc.namedParameters.map { $0.lifted(\SequenceModel.fc, prefix: "fc.") }
  }

  /// Log-probabilities of one utterance: features (frames, inputSize) -> (frames, outputSize).
  public func logProbabilities(features: Matrix) -> Matrix {
    logProbabilities(SequenceBatch(data: features, lengths: [features.rows])).data
  }

  /// Log-probabilities of a batch: (T*B, inputSize) -> (T*B, outputSize), time-major; padding
  /// rows hold log-softmax(fc.bias).
  public func logProbabilities(_ batch: SequenceBatch) -> SequenceBatch {
    precondition(batch.features == architecture.inputSize,
      "SequenceModel: input has \(batch.features) features, the model expects \(architecture.inputSize)")
    let h = lstm(batch)
    // The output layer is a small product: on one BLAS thread it leaves OpenBLAS's pool
    // asleep, which the two LSTM directions of the next call (one thread each) need.
    return SequenceBatch(data: logSoftmax(Neural.singleThreaded { fc(h.data) }), lengths: batch.lengths)
  }

  /// Training forward pass; the cache feeds ``backward(_:cache:into:)``.
  public func forward(_ batch: SequenceBatch, training: Bool, generator: inout SeededGenerator)
    -> (logProbabilities: SequenceBatch, cache: SequenceModelCache)
  {
    let (h, lc) = lstm.forward(batch, training: training, generator: &generator)
    let y = logSoftmax(fc(h.data))
    return (SequenceBatch(data: y, lengths: batch.lengths), SequenceModelCache(lstm: lc, encoded: h.data, output: y))
  }

  /// dL/d(log-probabilities) (T*B, outputSize) -> dL/d(input) (T*B, inputSize); adds every
  /// parameter gradient into `grads`. Padding rows of the gradient are ignored.
  public func backward(_ gradient: Matrix, cache: SequenceModelCache, into grads: inout SequenceModel) -> Matrix {
    let dz = logSoftmaxBackward(output: cache.output, gradient: gradient)
    let dh = fc.backward(dz, input: cache.encoded, into: &grads.fc)
    return lstm.backward(dh, cache: cache.lstm, into: &grads.lstm)
  }
}

/// What ``SequenceModel/forward(_:training:generator:)`` keeps for backward.
public struct SequenceModelCache {
  let lstm: BiLSTMCache
  let encoded: Matrix
  let output: Matrix
}

/// A sequence classifier: stacked BiLSTM (`lstm.*`), pooling over frames (attention pooling
/// has `attention.weight` (1, 2 hidden) and `attention.bias` (1)), `fc` to the labels and
/// log-softmax.
///
/// Basic usage:
/// ```swift
/// let model = try SequenceClassifier(contentsOf: "commands.safetensors")
/// let scores = model.logProbabilities(features: logMel)   // outputSize log-probabilities
/// ```
public struct SequenceClassifier: StoredModel, Sendable {
  public static let kind = ModelArchitecture.Kind.classifier
  /// Sizes, kind (`.classifier`) and pooling.
  public let architecture: ModelArchitecture
  /// The encoder (the same type as ``SequenceModel/lstm``).
  public var lstm: BiLSTM
  /// Attention scorer, (1, 2 hiddenSize); zero-sized and unused unless pooling is `.attention`.
  public var attention: Linear
  /// Projection to the labels, (outputSize, 2 hiddenSize), or (outputSize, 4 hiddenSize) after
  /// `.meanMax` pooling ((outputSize, 6 hiddenSize) after `.meanStdMax`).
  public var fc: Linear
  /// The arithmetic of inference (``BiLSTM/inferencePrecision``); default `.float32`.
  public var inferencePrecision: InferencePrecision {
    get { lstm.inferencePrecision }
    set { lstm.inferencePrecision = newValue }
  }
  /// Free-form metadata saved with the model.
  public var metadata: [String: String] = [:]

  /// A freshly initialised classifier (lstm, then attention when used, then fc).
  public init(architecture: ModelArchitecture, generator: inout SeededGenerator) {
    var a = architecture
    a.kind = .classifier
    self.architecture = a
    lstm = BiLSTM(inputSize: a.inputSize, hiddenSize: a.hiddenSize, numLayers: a.numLayers,
                  dropout: a.dropout, generator: &generator)
    attention = a.pooling == .attention
      ? Linear(inputSize: 2 * a.hiddenSize, outputSize: 1, generator: &generator)
      : Linear(inputSize: 2 * a.hiddenSize, outputSize: 1)
    fc = Linear(inputSize: a.pooling.outputWidth(features: 2 * a.hiddenSize), outputSize: a.outputSize,
                generator: &generator)
  }

  /// A classifier with all parameters zero.
  public init(zerosWith architecture: ModelArchitecture) {
    var a = architecture
    a.kind = .classifier
    self.architecture = a
    lstm = BiLSTM(inputSize: a.inputSize, hiddenSize: a.hiddenSize, numLayers: a.numLayers, dropout: a.dropout)
    attention = Linear(inputSize: 2 * a.hiddenSize, outputSize: 1)
    fc = Linear(inputSize: a.pooling.outputWidth(features: 2 * a.hiddenSize), outputSize: a.outputSize)
  }

  public var namedParameters: [NamedParameter<SequenceClassifier>] {
    var all = lstm.namedParameters.map { $0.lifted(\SequenceClassifier.lstm, prefix: "lstm.") }
    if architecture.pooling == .attention {
      all += attention.namedParameters.map { $0.lifted(\SequenceClassifier.attention, prefix: "attention.") }
    }
    return all + fc.namedParameters.map { $0.lifted(\SequenceClassifier.fc, prefix: "fc.") }
  }

  /// Log-probabilities of the labels for one utterance (frames, inputSize) -> outputSize values.
  public func logProbabilities(features: Matrix) -> [Float] {
    logProbabilities(SequenceBatch(data: features, lengths: [features.rows])).data
  }

  /// Log-probabilities of the labels for a batch: (B, outputSize). The encoder runs its
  /// inference path (no backward caches, packed weights reused between calls).
  public func logProbabilities(_ batch: SequenceBatch) -> Matrix {
    precondition(batch.features == architecture.inputSize,
      "SequenceClassifier: input has \(batch.features) features, the model expects \(architecture.inputSize)")
    let (pooled, _) = pool(lstm(batch), architecture.pooling, attention: attention)
    return logSoftmax(fc(pooled))
  }

  /// Training forward pass.
  public func forward(_ batch: SequenceBatch, training: Bool, generator: inout SeededGenerator)
    -> (logProbabilities: Matrix, cache: SequenceClassifierCache)
  {
    precondition(batch.features == architecture.inputSize,
      "SequenceClassifier: input has \(batch.features) features, the model expects \(architecture.inputSize)")
    let (h, lc) = lstm.forward(batch, training: training, generator: &generator)
    let (pooled, pc) = pool(h, architecture.pooling, attention: attention)
    let y = logSoftmax(fc(pooled))
    return (y, SequenceClassifierCache(lstm: lc, pooling: pc, pooled: pooled, output: y))
  }

  /// dL/d(log-probabilities) (B, outputSize) -> dL/d(input) (T*B, inputSize); adds every
  /// parameter gradient into `grads`.
  public func backward(_ gradient: Matrix, cache: SequenceClassifierCache, into grads: inout SequenceClassifier) -> Matrix {
    let dz = logSoftmaxBackward(output: cache.output, gradient: gradient)
    let dp = fc.backward(dz, input: cache.pooled, into: &grads.fc)
    var ga: Linear? = grads.attention
    let dh = poolBackward(dp, architecture.pooling, cache: cache.pooling, attention: attention, attentionGradients: &ga)
    if let ga { grads.attention = ga }
    return lstm.backward(dh, cache: cache.lstm, into: &grads.lstm)
  }
}

/// What ``SequenceClassifier/forward(_:training:generator:)`` keeps for backward.
public struct SequenceClassifierCache {
  let lstm: BiLSTMCache
  let pooling: PoolingCache
  let pooled: Matrix
  let output: Matrix
}
