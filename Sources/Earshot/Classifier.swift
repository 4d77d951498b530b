import Foundation

/// A classifier with its front end and label names.
public struct ClassificationModel: Sendable {
  /// The network.
  public var network: SequenceClassifier
  /// The features it was trained on.
  public var features: FeatureOptions
  /// One name per output.
  public var labels: [String]
  /// Where it was loaded from.
  public var source: String

  public init(network: SequenceClassifier, features: FeatureOptions, labels: [String], source: String = "memory") {
    self.network = network
    self.features = features
    self.labels = labels
    self.source = source
  }

  /// Loads a classifier by shipped name (`commands`, `sounds`) or path.
  public init(named nameOrPath: String) throws {
    let path = try ModelCatalog.path(for: nameOrPath)
    let network = try SequenceClassifier(contentsOf: path)
    let features = try FeatureOptions(metadata: network.metadata, path: path)
    guard let text = network.metadata[ModelMetadataKey.labels],
      let labels = try? JSONDecoder().decode([String].self, from: Data(text.utf8))
    else { throw PipelineError.noFeatureOptions(path: path, reason: "no 'labels' JSON array") }
    guard labels.count == network.architecture.outputSize else {
      throw PipelineError.inputMismatch(what: "\(path): labels", found: labels.count, expected: network.architecture.outputSize)
    }
    self.init(network: network, features: features, labels: labels, source: nameOrPath == path ? path : "builtin:\(nameOrPath)")
  }

  /// Writes the network with `features` and `labels` in its metadata.
  public func save(to path: String, provenance: String? = nil) throws {
    var network = network
    network.metadata[ModelMetadataKey.features] = features.json
    network.metadata[ModelMetadataKey.labels] = String(decoding: try JSONEncoder().encode(labels), as: UTF8.self)
    if let provenance { network.metadata[ModelMetadataKey.provenance] = provenance }
    try network.save(to: path)
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
  private let extractor: FeatureExtractor

  public init(model: ClassificationModel) throws {
    self.model = model
    extractor = try FeatureExtractor(options: model.features)
  }

  /// Classifies a whole file (any format, rate and channel count).
  public func classify(path: String) throws -> Classification {
    let audio = try AudioFile.loadMono(path: path, sampleRate: model.features.sampleRate)
    return try classify(samples: audio.samples, offsetSeconds: 0)
  }

  /// Classifies samples at the model's rate.
  public func classify(samples: [Float], offsetSeconds: Double = 0) throws -> Classification {
    let rate = Double(model.features.sampleRate)
    var padded = samples
    // A clip shorter than one frame is zero-padded to one frame.
    let minimum = model.features.kind == .fbank
      ? Int(Float(model.features.sampleRate) * model.features.fbank.frameLengthMilliseconds / 1000)
      : model.features.spectrogram.fftSize
    if padded.count < minimum { padded += [Float](repeating: 0, count: minimum - padded.count) }
    let features = try extractor(padded)
    let logProbs = model.network.logProbabilities(features: Matrix(features))
    let ranked = zip(model.labels, logProbs).map { (label: $0, probability: exp(Double($1))) }
      .sorted { $0.probability > $1.probability }
    return Classification(start: offsetSeconds, end: offsetSeconds + Double(samples.count) / rate, ranked: ranked)
  }

  /// Labels windows of `window` seconds every `hop` seconds across a file, streaming it in
  /// bounded memory; the last window ends at the end of the file.
  public func timeline(path: String, window: Double, hop: Double) throws -> [Classification] {
    precondition(window > 0 && hop > 0, "window \(window) and hop \(hop) must be > 0")
    let rate = model.features.sampleRate
    let windowSamples = max(Int(window * Double(rate)), 1)
    let hopSamples = max(Int(hop * Double(rate)), 1)
    var stream = try MonoStream(file: try AudioFile(path: path), sampleRate: rate)
    var buffer: [Float] = []
    var bufferStart = 0
    var nextStart = 0
    var results: [Classification] = []
    var total = 0
    while let block = try stream.next() {
      buffer += block
      total += block.count
      while nextStart + windowSamples <= total {
        let from = nextStart - bufferStart
        results.append(try classify(samples: Array(buffer[from..<(from + windowSamples)]), offsetSeconds: Double(nextStart) / Double(rate)))
        nextStart += hopSamples
      }
      // Keep a window's worth before the end for the final, end-aligned window.
      let keepFrom = max(min(nextStart, total - windowSamples), bufferStart)
      if keepFrom - bufferStart > 0 {
        buffer.removeFirst(keepFrom - bufferStart)
        bufferStart = keepFrom
      }
    }
    // A last, partial window so the end of the file is covered (or the whole of a short file).
    if results.isEmpty || (results.last!.end * Double(rate)).rounded() < Double(total) {
      let start = max(total - windowSamples, 0)
      let from = start - bufferStart
      if from >= 0 {
        results.append(try classify(samples: Array(buffer[from...]), offsetSeconds: Double(start) / Double(rate)))
      }
    }
    return results
  }
}
