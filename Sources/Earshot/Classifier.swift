import Foundation

/// A classifier with its front end and label names: one network, or an ensemble of several
/// networks (each with its own front end) whose class probabilities are averaged.
///
/// An ensemble is written as one file (see ``save(to:provenance:)``) and loads by name or
/// path like a single model; `earshot ensemble` makes one from trained models.
public struct ClassificationModel: Sendable {
  /// One network with the features it was trained on.
  public typealias Member = EnsembleMember<SequenceClassifier>

  /// The networks: one for a plain model; for an ensemble, all of them (the probabilities
  /// they give are averaged, each member weighing the same). Never empty.
  public private(set) var members: [Member]
  /// One name per output, shared by every member.
  public var labels: [String]
  /// Where it was loaded from.
  public var source: String
  /// Test-time augmentation: the speeds at which ``Classifier`` hears each clip, the
  /// probabilities averaged over speeds as over members (a speed of 1.1 plays the clip 10%
  /// faster and higher, as training's speed perturbation does). `[1]`, the default, hears
  /// the clip as it is; each speed costs one more pass of every member. Stored in the file
  /// (``ModelMetadataKey/testSpeeds``); check values with ``checkTestSpeeds(_:source:)``.
  public var testSpeeds: [Float] = [1]

  /// The first member's network (the only one of a plain model); setting it replaces member 0
  /// only.
  public var network: SequenceClassifier {
    get { members[0].network }
    set { members[0].network = newValue }
  }
  /// The arithmetic of every member's inference (``InferencePrecision``); reads member 0's.
  public var inferencePrecision: InferencePrecision {
    get { members[0].network.inferencePrecision }
    set { for i in members.indices { members[i].network.inferencePrecision = newValue } }
  }
  /// The first member's front end; setting it changes member 0 only. Every member works at
  /// the same rate, `features.sampleRate` (``Classifier`` checks).
  public var features: FeatureOptions {
    get { members[0].features }
    set { members[0].features = newValue }
  }
  /// Whether the model averages more than one network.
  public var isEnsemble: Bool { members.count > 1 }

  /// A plain model: one network, its front end and one label per output.
  public init(network: SequenceClassifier, features: FeatureOptions, labels: [String], source: String = "memory") {
    members = [Member(network: network, features: features)]
    self.labels = labels
    self.source = source
  }

  /// An ensemble (or, with one member, a plain model).
  /// - Throws: `PipelineError.badEnsemble` when there are no members, a member's outputs
  ///   are not one per label, or the members resample to different rates.
  public init(members: [Member], labels: [String], source: String = "memory") throws(PipelineError) {
    try Self.check(members, labels: labels, source: source)
    self.members = members
    self.labels = labels
    self.source = source
  }

  /// The speeds ``testSpeeds`` accepts: at least one, each from 0.5 to 2, none twice.
  /// - Throws: `PipelineError.badTestSpeeds` naming the problem.
  public static func checkTestSpeeds(_ speeds: [Float], source: String) throws(PipelineError) {
    guard !speeds.isEmpty else { throw .badTestSpeeds(path: source, reason: "no speeds (give 1 to hear clips as they are)") }
    for s in speeds where !(s >= 0.5 && s <= 2) {
      throw .badTestSpeeds(path: source, reason: "speed \(s) is outside 0.5...2")
    }
    guard Set(speeds).count == speeds.count else { throw .badTestSpeeds(path: source, reason: "a speed appears twice in \(speeds)") }
  }

  /// Throws unless there is a member, each has one output per label, and all share a rate.
  static func check(_ members: [Member], labels: [String], source: String) throws(PipelineError) {
    guard let first = members.first else { throw .badEnsemble(path: source, reason: "no members") }
    for (k, m) in members.enumerated() {
      guard m.network.architecture.outputSize == labels.count else {
        throw .badEnsemble(path: source, reason: "member \(k) has \(m.network.architecture.outputSize) outputs for "
          + "\(labels.count) labels (\(labels.joined(separator: ",")))")
      }
      guard m.features.sampleRate == first.features.sampleRate else {
        throw .badEnsemble(path: source, reason: "member \(k) works at \(m.features.sampleRate) Hz, member 0 at "
          + "\(first.features.sampleRate) Hz; members must share a sample rate")
      }
    }
  }

  /// Loads a classifier or an ensemble of classifiers by shipped name (`commands`,
  /// `sounds`) or path.
  /// - Throws: `ModelError` for a malformed file, `PipelineError` for missing or
  ///   inconsistent metadata.
  public init(named nameOrPath: String) throws {
    let path = try ModelCatalog.path(for: nameOrPath)
    let file = try SafeTensors(contentsOf: path)
    if Checkpoint.isCheckpoint(file) { throw PipelineError.trainingCheckpoint(path: path) }
    let source = nameOrPath == path ? path : "builtin:\(nameOrPath)"
    func labels() throws(PipelineError) -> [String] {
      guard let text = file.metadata[ModelMetadataKey.labels],
        let labels = try? JSONDecoder().decode([String].self, from: Data(text.utf8))
      else { throw .noFeatureOptions(path: path, reason: "no 'labels' JSON array") }
      return labels
    }
    func testSpeeds() throws(PipelineError) -> [Float] {
      guard let text = file.metadata[ModelMetadataKey.testSpeeds] else { return [1] }
      guard let speeds = try? JSONDecoder().decode([Float].self, from: Data(text.utf8)) else {
        throw .badTestSpeeds(path: path, reason: "'\(ModelMetadataKey.testSpeeds)' is not a JSON array of numbers: \(text)")
      }
      try Self.checkTestSpeeds(speeds, source: path)
      return speeds
    }
    let ensemble = try EnsembleFile.members(of: file, path: path)
    try EnsembleFile.checkKind(of: ensemble ?? [(file, path)], name: nameOrPath, expected: .classifier)
    guard let memberFiles = ensemble else {
      // A plain model: the network first, so a CTC model is named as one.
      let network = try SequenceClassifier(file: file, path: path)
      let labels = try labels()
      guard labels.count == network.architecture.outputSize else {
        throw PipelineError.inputMismatch(what: "\(path): labels", found: labels.count, expected: network.architecture.outputSize)
      }
      let features = try FeatureOptions(metadata: network.metadata, path: path)
      self.init(network: network, features: features, labels: labels, source: source)
      self.testSpeeds = try testSpeeds()
      return
    }
    let members = try memberFiles.map { m in
      Member(network: try SequenceClassifier(file: m.file, path: m.name), features: try FeatureOptions(metadata: m.file.metadata, path: m.name))
    }
    try self.init(members: members, labels: try labels(), source: source)
    self.testSpeeds = try testSpeeds()
  }

  /// Writes the model with `features` and `labels` in its metadata. A plain model is a
  /// PyTorch-named file (`lstm.*`, `fc.*`); an ensemble holds member k's tensors under
  /// `member{k}.` and its metadata as a JSON object under the key `member{k}`, with the
  /// member count under `ensemble` and the labels, `provenance` and `test_speeds` (unless
  /// `[1]`) at the top.
  /// - Throws: `ModelError.cannotAccess` when the file cannot be written (written atomically:
  ///   nothing half-written is left at `path`).
  public func save(to path: String, provenance: String? = nil) throws {
    try Self.checkTestSpeeds(testSpeeds, source: path)
    let labelText = String(decoding: try JSONEncoder().encode(labels), as: UTF8.self)
    let speedText = testSpeeds == [1] ? nil : String(decoding: try JSONEncoder().encode(testSpeeds), as: UTF8.self)
    func file(of member: Member) -> SafeTensors {
      var network = member.network
      network.metadata[ModelMetadataKey.features] = member.features.json
      network.metadata[ModelMetadataKey.labels] = labelText
      return network.file()
    }
    guard isEnsemble else {
      var single = file(of: members[0])
      if let provenance { single.metadata[ModelMetadataKey.provenance] = provenance }
      // A loaded model's own metadata still holds the speeds it was read with.
      single.metadata[ModelMetadataKey.testSpeeds] = speedText
      try single.write(to: path)
      return
    }
    var metadata = [ModelMetadataKey.labels: labelText]
    if let provenance { metadata[ModelMetadataKey.provenance] = provenance }
    if let speedText { metadata[ModelMetadataKey.testSpeeds] = speedText }
    try EnsembleFile.file(members: members.map(file(of:)), metadata: metadata).write(to: path)
  }
}

/// The labels of one clip or window, most probable first.
public struct Classification: Equatable, Sendable {
  /// Start of the span in seconds of the file.
  public var start: Double
  /// End of the span in seconds of the file.
  public var end: Double
  /// (label, probability) pairs, sorted by probability, all labels.
  public var ranked: [(label: String, probability: Double)]

  /// The most probable label.
  public var label: String { ranked.first?.label ?? "" }
  /// Its probability.
  public var confidence: Double { ranked.first?.probability ?? 0 }

  public static func == (a: Classification, b: Classification) -> Bool {
    a.start == b.start && a.end == b.end && a.ranked.map(\.label) == b.ranked.map(\.label)
      && a.ranked.map(\.probability) == b.ranked.map(\.probability)
  }
}

// Codable in the shape `earshot classify --format json` writes, so an app can store or send
// a result.
extension Classification: Codable {
  private enum CodingKeys: String, CodingKey { case start, end, label, confidence, top }
  private struct Ranked: Codable { var label: String; var probability: Double }

  /// `label` and `confidence` are written for readers and ignored when decoding (they are
  /// `top`'s first entry). Decoding reads `earshot classify --format json` lines too: a
  /// whole-file line has no `start` and `end` (0 and 0 then), and its `top` holds only the
  /// `--top` labels written, so `ranked` holds only those.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(start, forKey: .start)
    try c.encode(end, forKey: .end)
    try c.encode(label, forKey: .label)
    try c.encode(confidence, forKey: .confidence)
    try c.encode(ranked.map { Ranked(label: $0.label, probability: $0.probability) }, forKey: .top)
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(start: try c.decodeIfPresent(Double.self, forKey: .start) ?? 0, end: try c.decodeIfPresent(Double.self, forKey: .end) ?? 0,
              ranked: try c.decode([Ranked].self, forKey: .top).map { ($0.label, $0.probability) })
  }
}

/// Labels audio with a classifier: a whole clip, or a timeline of windows for long recordings.
///
/// Basic usage:
/// ```swift
/// let classifier = try Classifier(model: ClassificationModel(named: "commands"))
/// let result = try classifier.classify(path: "clip.wav")
/// print(result.label, result.confidence)                 // "yes 0.97"
/// for w in try classifier.timeline(path: "street.ogg", window: 5, hop: 2.5) { print(w.start, w.label) }
/// ```
public final class Classifier: Sendable {
  /// The model.
  public let model: ClassificationModel
  /// Whether each clip (or window) loses its DC offset and, if its peak is then under
  /// -20 dBFS, is raised to it before its features (``LevelNormalization``); one past full
  /// scale (a float file's samples beyond +-1) is lowered to a full-scale peak.
  public let normalizesLevel: Bool
  /// One per member, in order.
  private let extractors: [FeatureExtractor]

  /// Prepares one feature extractor per member.
  /// - Parameters:
  ///   - normalizesLevel: remove a clip's (or window's) DC offset and raise it to a -20 dBFS
  ///     peak if it is quieter (default); false hears it as recorded.
  ///   - precision: the networks' arithmetic (``InferencePrecision``), set on every member of
  ///     ``model``; default ``defaultPrecision``.
  /// - Throws: `PipelineError.badEnsemble` when the members do not fit the labels or each
  ///   other, `FeatureError` for a front end that cannot be built.
  public init(model: ClassificationModel, normalizesLevel: Bool = true,
              precision: InferencePrecision = Classifier.defaultPrecision) throws {
    try ClassificationModel.check(model.members, labels: model.labels, source: model.source)
    try ClassificationModel.checkTestSpeeds(model.testSpeeds, source: model.source)
    var model = model
    model.inferencePrecision = precision
    self.model = model
    self.normalizesLevel = normalizesLevel
    extractors = try model.members.map { try FeatureExtractor(options: $0.features) }
  }

  /// The arithmetic a classifier runs its networks in unless told: `.int8`. On the 2,778
  /// Speech Commands clips of `../shared/data` (`commands`) and the 320 ESC-10 clips
  /// (`sounds`) no label changed against `.float32` and no probability moved by more than
  /// 0.0014, and classification ran 2.1 and 1.9 times as fast (AVX-512 VNNI).
  public static let defaultPrecision = InferencePrecision.int8

  /// The longest analysis window of the model's front ends, in seconds: a shorter clip or
  /// timeline window is zero-padded to it.
  public var analysisWindowSeconds: Double {
    zip(extractors, model.members).map { Double($0.windowLength) / Double($1.features.sampleRate) }.max() ?? 0
  }

  /// Classifies a whole file (any format, rate and channel count).
  /// - Parameter channel: only this channel, counting from 1 (the left of a stereo file);
  ///   nil (default) averages the channels.
  public func classify(path: String, channel: Int? = nil) throws -> Classification {
    let audio = try AudioFile.loadMono(path: path, sampleRate: model.features.sampleRate, channel: channel)
    return try classifyAtModelRate(audio.samples, offsetSeconds: 0)
  }

  /// Classifies mono audio at any rate (resampled to the model's first).
  public func classify(_ audio: MonoAudio) throws -> Classification {
    try classify(samples: audio.samples, sampleRate: audio.sampleRate)
  }

  /// Samples at the model's rate, as before the rate was asked for.
  @available(*, deprecated, message: "say the samples' rate: classify(samples:sampleRate:) resamples to the model's")
  public func classify(samples: [Float], offsetSeconds: Double = 0) throws -> Classification {
    try classifyAtModelRate(samples, offsetSeconds: offsetSeconds)
  }

  /// Classifies mono samples recorded at `sampleRate` Hz; samples at another rate than the
  /// model's (`model.features.sampleRate`) are resampled to it first (soxr HQ). The
  /// probabilities are the mean over the model's ``ClassificationModel/testSpeeds`` and its
  /// members; members with the same front end share one feature computation.
  /// - Parameter offsetSeconds: where the samples start in a longer recording (the result's
  ///   `start`).
  /// - Throws: `AudioError.empty` for no samples, `.invalidSampleRate` for a rate outside
  ///   1,000-768,000 Hz.
  public func classify(samples: [Float], sampleRate: Int, offsetSeconds: Double = 0) throws -> Classification {
    try classifyAtModelRate(try samplesAtModelRate(samples, sampleRate: sampleRate), offsetSeconds: offsetSeconds)
  }

  /// Samples in memory resampled to the model's rate (soxr HQ) where theirs differs.
  /// - Throws: `AudioError.empty` for no samples (as for a file of none), `.invalidSampleRate`
  ///   for a rate outside 1,000-768,000 Hz.
  private func samplesAtModelRate(_ samples: [Float], sampleRate: Int) throws -> [Float] {
    guard !samples.isEmpty else { throw AudioError.empty(path: "samples") }
    guard supportedSampleRates.contains(sampleRate) else { throw AudioError.invalidSampleRate(path: "samples", sampleRate: sampleRate) }
    let rate = model.features.sampleRate
    return sampleRate == rate ? samples : try Resampler.resample(samples, from: sampleRate, to: rate)
  }

  /// A clip on its own, at the model's rate.
  func classifyAtModelRate(_ samples: [Float], offsetSeconds: Double) throws -> Classification {
    var loudest: Float = 0
    return try classifyAtModelRate(samples, offsetSeconds: offsetSeconds, loudest: &loudest)
  }

  /// ``classify(samples:sampleRate:offsetSeconds:)`` for samples at the model's rate.
  /// - Parameter loudest: with level normalisation, the loudest (DC-free) sample heard before
  ///   these in the same file: a clip is raised only as far as the louder of it and its own
  ///   peak allows, and `loudest` becomes that peak.
  func classifyAtModelRate(_ samples: [Float], offsetSeconds: Double, loudest: inout Float) throws -> Classification {
    let duration = Double(samples.count) / Double(model.features.sampleRate)
    var samples = samples
    if normalizesLevel {
      let centred = LevelNormalization.removingDC(samples)
      loudest = max(loudest, LevelNormalization.loudest(centred))
      samples = LevelNormalization.apply(centred, target: LevelNormalization.minimumPeak, raiseOnly: true, reference: loudest)
      // A float file can hold samples past full scale, which no clip the models learnt from
      // does: bring it back to a full-scale peak (a timeline window by the loudest so far).
      if loudest > 1 { samples = LevelNormalization.apply(centred, target: 1, reference: loudest) }
    }
    // Each member's features of the clip at every test speed (members with one front end
    // share them), then each member hears its speeds as one batch: one pass of the encoder
    // with (speeds x hidden) matrix products instead of one pass per speed. A long clip hears
    // one speed at a time instead, so that only one copy of the audio, its features and the
    // encoder's activations is held at once (they grow with its length).
    let rate = model.features.sampleRate
    let oneSpeedAtATime = samples.count > Int(Self.batchedSpeedsSeconds * Double(rate))
    var sums = [Double](repeating: 0, count: model.labels.count)
    for speeds in oneSpeedAtATime ? model.testSpeeds.map({ [$0] }) : [model.testSpeeds] {
      var features = [[Matrix]](repeating: [], count: model.members.count)
      for speed in speeds {
        let heard = try Augmentation.changeSpeed(samples, by: speed, sampleRate: rate)
        var shared = SharedFeatures()
        for (k, extractor) in extractors.enumerated() {
          // A clip shorter than one frame is zero-padded to one frame.
          let minimum = extractor.windowLength
          let padded = heard.count < minimum ? heard + [Float](repeating: 0, count: minimum - heard.count) : heard
          features[k].append(try shared.features(of: padded, extractor: extractor))
        }
      }
      for k in model.members.indices {
        let batch = SequenceBatch(sequences: features[k])   // a padded copy: the unpadded features can go
        features[k] = []
        let logProbabilities = model.members[k].network.logProbabilities(batch)
        for (i, logProb) in logProbabilities.data.enumerated() { sums[i % sums.count] += exp(Double(logProb)) }
      }
    }
    let count = Double(model.members.count * model.testSpeeds.count)
    let ranked = zip(model.labels, sums).map { (label: $0, probability: $1 / count) }
      .sorted { $0.probability > $1.probability }
    return Classification(start: offsetSeconds, end: offsetSeconds + duration, ranked: ranked)
  }

  /// Clips up to this long hear all their test speeds in one batch (faster); a longer one
  /// hears one speed at a time (less memory: about a third).
  public static let batchedSpeedsSeconds: Double = 60

  /// The longest timeline window or hop, in seconds: a year (beyond, window x rate would not
  /// fit an Int).
  public static let longestTimelineStep: Double = 31_536_000

  /// Labels windows of `window` seconds every `hop` seconds across a file, streaming it in
  /// bounded memory. Where the next window on the hop grid would run past the end of the
  /// file, a last one ends at the end of the file instead (a file shorter than a window is
  /// one window); a tail that falls in the gap between windows (hop > window) is left out,
  /// as the other gaps are. With level normalisation a window is raised only while the
  /// windows so far are quieter than -20 dBFS (by their loudest sample, not its own alone),
  /// so a quiet pause after a loud sound is heard as quiet, not raised into a sound of its own.
  /// - Parameters:
  ///   - channel: only this channel, counting from 1; nil (default) averages the channels.
  ///   - progress: called after each window with the seconds of the file read and labelled
  ///     so far (never decreasing; the last call gives its whole duration), e.g. for a
  ///     progress bar on hours of audio. Called on the calling thread.
  /// - Throws: `PipelineError.badTimeline` unless window and hop are positive, `AudioError`
  ///   for a file that cannot be read or lacks the channel.
  public func timeline(
    path: String, window: Double, hop: Double, channel: Int? = nil, progress: (_ secondsDone: Double) -> Void = { _ in }
  ) throws -> [Classification] {
    try Self.checkTimeline(window: window, hop: hop)
    var stream = try MonoStream(file: try AudioFile(path: path), sampleRate: model.features.sampleRate, channel: channel)
    return try timeline(blocks: { try stream.next() }, window: window, hop: hop, progress: progress)
  }

  /// ``timeline(path:window:hop:progress:)`` for mono audio in memory at any rate (resampled
  /// to the model's first), e.g. a microphone's recording; times are seconds of `audio`.
  /// - Throws: `PipelineError.badTimeline` unless window and hop are positive,
  ///   `AudioError.empty` for no samples.
  public func timeline(
    _ audio: MonoAudio, window: Double, hop: Double, progress: (_ secondsDone: Double) -> Void = { _ in }
  ) throws -> [Classification] {
    try Self.checkTimeline(window: window, hop: hop)
    var samples: [Float]? = try samplesAtModelRate(audio.samples, sampleRate: audio.sampleRate)
    return try timeline(blocks: { defer { samples = nil }; return samples }, window: window, hop: hop, progress: progress)
  }

  private static func checkTimeline(window: Double, hop: Double) throws {
    guard window > 0, hop > 0, window <= longestTimelineStep, hop <= longestTimelineStep else {
      throw PipelineError.badTimeline(window: window, hop: hop)
    }
  }

  /// The timeline of the samples `blocks` hands out, at the model's rate, until it returns nil.
  private func timeline(
    blocks: () throws -> [Float]?, window: Double, hop: Double, progress: (_ secondsDone: Double) -> Void
  ) throws -> [Classification] {
    let rate = model.features.sampleRate
    let windowSamples = max(Int(window * Double(rate)), 1)
    let hopSamples = max(Int(hop * Double(rate)), 1)
    var buffer: [Float] = []
    var bufferStart = 0
    var nextStart = 0
    var results: [Classification] = []
    var total = 0
    // The loudest sample so far: a window is raised no further than it allows.
    var loudest: Float = 0
    while let block = try blocks() {
      buffer += block
      total += block.count
      while nextStart + windowSamples <= total {
        let from = nextStart - bufferStart
        results.append(try classifyAtModelRate(Array(buffer[from..<(from + windowSamples)]), offsetSeconds: Double(nextStart) / Double(rate),
                                               loudest: &loudest))
        progress(Double(nextStart + windowSamples) / Double(rate))
        nextStart += hopSamples
      }
      // Keep a window's worth before the end for the final, end-aligned window.
      let keepFrom = max(min(nextStart, total - windowSamples), bufferStart)
      if keepFrom - bufferStart > 0 {
        buffer.removeFirst(keepFrom - bufferStart)
        bufferStart = keepFrom
      }
    }
    // A last window, ending at the end of the file, so the tail is labelled (or the whole of a
    // short file); not when the tail lies in a gap the hop leaves between windows (hop > window).
    if results.isEmpty || ((results.last!.end * Double(rate)).rounded() < Double(total) && nextStart < total) {
      let start = max(total - windowSamples, 0)
      let from = start - bufferStart
      if from >= 0 {
        results.append(try classifyAtModelRate(Array(buffer[from...]), offsetSeconds: Double(start) / Double(rate), loudest: &loudest))
      }
    }
    progress(Double(total) / Double(rate))
    return results
  }
}
