import Foundation

/// Scores of a classifier on labelled clips: a confusion matrix and what follows from it.
///
/// `confusion[r][p]` counts clips of reference label `r` predicted as `p`. Accuracy is the
/// trace over the total; precision of class c is `confusion[c][c] / sum_r confusion[r][c]`
/// (nil when c was never predicted); recall is `confusion[c][c] / sum_p confusion[c][p]`
/// (nil when c never occurs); F1 is their harmonic mean.
public struct ClassificationReport: Equatable, Codable, Sendable {
  /// Label names, row and column order.
  public var labels: [String]
  /// (reference, predicted) counts, `labels.count` x `labels.count`.
  public var confusion: [[Int]]
  /// The clips predicted wrongly, in the order counted (those added with their `audio`).
  public var errors: [Misclassified] = []
  /// Clips and right ones per speaker (those added with their `speaker`).
  public var speakers: [String: SpeakerCounts] = [:]

  /// One speaker's clips and how many were labelled right.
  public struct SpeakerCounts: Equatable, Codable, Sendable {
    public var clips = 0
    public var correct = 0
    /// Right over clips, 0 for none.
    public var accuracy: Double { clips == 0 ? 0 : Double(correct) / Double(clips) }
  }

  /// One clip with the wrong label.
  public struct Misclassified: Equatable, Codable, Sendable {
    public var audio: String
    public var reference: String
    public var predicted: String
  }

  /// Wrong clips the text report lists; the JSON form lists them all.
  public static let listedErrors = 20

  public init(labels: [String]) {
    self.labels = labels
    confusion = Array(repeating: Array(repeating: 0, count: labels.count), count: labels.count)
  }

  private enum CodingKeys: String, CodingKey { case labels, confusion, errors, speakers }

  /// Reads reports saved before `errors` existed (a training checkpoint's best epoch) too.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    labels = try c.decode([String].self, forKey: .labels)
    confusion = try c.decode([[Int]].self, forKey: .confusion)
    errors = try c.decodeIfPresent([Misclassified].self, forKey: .errors) ?? []
    speakers = try c.decodeIfPresent([String: SpeakerCounts].self, forKey: .speakers) ?? [:]
  }

  /// Counts one clip; a wrong one with its `audio` is listed in ``errors``, and one with its
  /// `speaker` counts in ``speakers``.
  public mutating func add(reference: Int, predicted: Int, audio: String? = nil, speaker: String? = nil) {
    precondition(labels.indices.contains(reference) && labels.indices.contains(predicted),
      "ClassificationReport.add: reference \(reference) or prediction \(predicted) outside 0..<\(labels.count)")
    confusion[reference][predicted] += 1
    if let audio, reference != predicted {
      errors.append(Misclassified(audio: audio, reference: labels[reference], predicted: labels[predicted]))
    }
    if let speaker {
      speakers[speaker, default: SpeakerCounts()].clips += 1
      if reference == predicted { speakers[speaker]!.correct += 1 }
    }
  }

  /// Clips counted.
  public var total: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }
  /// Clips predicted correctly.
  public var correct: Int { labels.indices.reduce(0) { $0 + confusion[$1][$1] } }
  /// Top-1 accuracy, 0 when empty.
  public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }
  /// Clips of reference class `c`.
  public func support(_ c: Int) -> Int { confusion[c].reduce(0, +) }
  /// Clips predicted as `c`.
  public func predictions(_ c: Int) -> Int { confusion.reduce(0) { $0 + $1[c] } }
  /// Precision of class `c`; nil when it was never predicted.
  public func precision(_ c: Int) -> Double? {
    let n = predictions(c)
    return n == 0 ? nil : Double(confusion[c][c]) / Double(n)
  }
  /// Recall of class `c`; nil when it never occurs.
  public func recall(_ c: Int) -> Double? {
    let n = support(c)
    return n == 0 ? nil : Double(confusion[c][c]) / Double(n)
  }
  /// F1 of class `c`; nil when precision or recall is undefined, 0 when both are 0.
  public func f1(_ c: Int) -> Double? {
    guard let p = precision(c), let r = recall(c) else { return nil }
    return p + r == 0 ? 0 : 2 * p * r / (p + r)
  }

  /// Accuracy, per-class precision/recall/F1/support, the confusion matrix and the first
  /// ``listedErrors`` wrong clips, as text.
  public var text: String {
    func pct(_ x: Double?) -> String { x.map { String(format: "%.2f%%", 100 * $0) } ?? "-" }
    let name = max(8, (labels.map(\.count).max() ?? 0) + 1)
    func left(_ s: String) -> String { s.leftAligned(name) }
    var out = "clips: \(total)\naccuracy: \(pct(accuracy)) (\(correct) of \(total))\n\n"
    out += left("label") + "  precision     recall         F1  support\n"
    for c in labels.indices {
      func right(_ s: String, _ w: Int) -> String { s.rightAligned(w) }
      out += left(labels[c]) + " " + [pct(precision(c)), pct(recall(c)), pct(f1(c))].map { right($0, 10) }.joined(separator: " ")
        + " " + right(String(support(c)), 8) + "\n"
    }
    let width = max(6, (labels.map(\.count).max() ?? 0) + 1)
    func cell(_ s: String) -> String { s.rightAligned(width) }
    out += "\nconfusion (rows: reference, columns: predicted):\n"
    out += cell("") + labels.map(cell).joined() + "\n"
    for r in labels.indices {
      out += cell(labels[r]) + labels.indices.map { cell(String(confusion[r][$0])) }.joined() + "\n"
    }
    // Worst first: a speaker-disjoint validation shows whom the model does not hear. Only
    // where speakers have two clips or more on average (ESC's "speakers" are recordings).
    if speakers.count > 1 && 2 * speakers.count <= speakers.values.reduce(0, { $0 + $1.clips }) {
      out += "\nper speaker (accuracy, clips), worst first:\n"
      let ranked = speakers.sorted { ($0.value.accuracy, $0.key) < ($1.value.accuracy, $1.key) }
      let width = max(14, ranked.map(\.key.count).max() ?? 0)
      for (name, c) in ranked {
        out += "  \(name.leftAligned(width)) \(pct(c.accuracy).rightAligned(8)) \(String(c.clips).rightAligned(6))\n"
      }
    }
    if !errors.isEmpty {
      let shown = errors.prefix(Self.listedErrors)
      out += "\n" + listHeading("wrong clips", shown: shown.count, of: errors.count)
      for e in shown { out += "  \(e.audio): \(e.reference), heard as \(e.predicted)\n" }
    }
    return out
  }

  /// The confusion matrix as CSV: a header `reference,{labels...}`, then one row per reference
  /// label. Labels holding commas or quotes are quoted.
  public var csv: String {
    func field(_ s: String) -> String {
      s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
    var out = (["reference"] + labels).map(field).joined(separator: ",") + "\n"
    for r in labels.indices {
      out += ([field(labels[r])] + confusion[r].map(String.init)).joined(separator: ",") + "\n"
    }
    return out
  }

  /// The JSON form: totals, per-class figures (an undefined rate is null), the confusion
  /// matrix and the wrong clips.
  public var json: String {
    struct PerClass: Encodable {
      var label: String
      var precision: Double?
      var recall: Double?
      var f1: Double?
      var support: Int
      // A rate that is undefined is written as null: a missing key would read as a forgotten field.
      func encode(to encoder: any Encoder) throws {
        enum Key: String, CodingKey { case label, precision, recall, f1, support }
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(label, forKey: .label)
        try c.encode(precision, forKey: .precision)
        try c.encode(recall, forKey: .recall)
        try c.encode(f1, forKey: .f1)
        try c.encode(support, forKey: .support)
      }
    }
    struct Summary: Encodable {
      var clips: Int
      var correct: Int
      var accuracy: Double
      var classes: [PerClass]
      var labels: [String]
      var confusion: [[Int]]
      var errors: [Misclassified]
      var speakers: [String: SpeakerSummary]
    }
    struct SpeakerSummary: Encodable {
      var clips: Int
      var accuracy: Double
    }
    let s = Summary(clips: total, correct: correct, accuracy: accuracy,
                    classes: labels.indices.map { PerClass(label: labels[$0], precision: precision($0), recall: recall($0),
                                                            f1: f1($0), support: support($0)) },
                    labels: labels, confusion: confusion, errors: errors,
                    speakers: speakers.mapValues { SpeakerSummary(clips: $0.clips, accuracy: $0.accuracy) })
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    return String(decoding: (try? e.encode(s)) ?? Data(), as: UTF8.self)
  }

  /// The confusion matrix as a PNG picture: one square per (reference row, predicted column),
  /// shaded by the row's fraction (white 0, dark blue 1) with its count written in it, label
  /// names on both axes, the accuracy in the title.
  public func png(title: String = "confusion") -> Data {
    let n = max(labels.count, 1)
    let nameWidth = 6 * (labels.map(\.count).max() ?? 1) + 12
    let cellSize = max(28, 6 * String(confusion.flatMap { $0 }.max() ?? 0).count + 8)
    let left = nameWidth + 16, top = nameWidth + 40
    let width = left + n * cellSize + 20, height = top + n * cellSize + 20
    var canvas = Canvas(width: width, height: height, background: (255, 255, 255))
    canvas.text((title + String(format: " - accuracy %.2f", 100 * accuracy) + "%").uppercased(), leftX: 8, y: 8)
    canvas.text("PREDICTED", centreX: left + n * cellSize / 2, y: 24)
    for r in labels.indices {
      let rowTotal = max(support(r), 1)
      for c in labels.indices {
        let v = confusion[r][c]
        let f = Double(v) / Double(rowTotal)
        // White to dark blue (8, 48, 107).
        let colour = (UInt8(255 - f * 247), UInt8(255 - f * 207), UInt8(255 - f * 148))
        let x = left + c * cellSize, y = top + r * cellSize
        canvas.fill(x: x, y: y, width: cellSize, height: cellSize, colour: colour)
        canvas.rectangle(x: x, y: y, width: cellSize + 1, height: cellSize + 1, colour: (160, 160, 160))
        let ink: (UInt8, UInt8, UInt8) = f > 0.5 ? (255, 255, 255) : (0, 0, 0)
        canvas.text(String(v), centreX: x + cellSize / 2, y: y + cellSize / 2 - 3, colour: ink)
      }
      canvas.text(labels[r].uppercased(), rightX: left - 6, y: top + r * cellSize + cellSize / 2 - 3)
    }
    // Column names, written bottom to top.
    for c in labels.indices {
      canvas.verticalText(labels[c].uppercased(), x: left + c * cellSize + cellSize / 2 - 3, bottomY: top - 6)
    }
    canvas.rectangle(x: left - 1, y: top - 1, width: n * cellSize + 3, height: n * cellSize + 3, colour: (0, 0, 0))
    return PNG.encode(width: width, height: height, rgb: canvas.pixels)
  }
}

/// Scores a ``ClassificationModel`` on labelled clips.
///
/// Basic usage:
/// ```swift
/// let model = try ClassificationModel(named: "sounds")
/// let result = try ClassificationEvaluator(model: model).evaluate(try ClassificationDataset.load("esc10"))
/// print(result.report.text)
/// ```
public struct ClassificationEvaluator: Sendable {
  /// The model scored.
  public let model: ClassificationModel
  /// Worker threads (clips in parallel, single-threaded BLAS each); default all cores.
  public var threads: Int
  /// Remove each clip's DC offset and raise a clip whose peak is then under -20 dBFS to it
  /// before its features, as ``Classifier`` does by default; default true.
  public var normalizesLevel = true
  /// Hear only this channel of each clip, counting from 1; nil (default) averages them.
  public var channel: Int? = nil
  /// The networks' arithmetic; default ``Classifier/defaultPrecision``, as ``Classifier``.
  public var precision = Classifier.defaultPrecision

  public init(model: ClassificationModel, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
    self.model = model
    self.threads = max(threads, 1)
  }

  /// Classifies every clip; a clip that cannot be read, or whose label the model does not
  /// have, is listed in `failures` (path and reason) and left out of the report.
  /// - Parameter progress: called as each clip is done, with its index and whether it
  ///   failed, from the worker threads (in any order), e.g. for a progress bar.
  public func evaluate(
    _ entries: [ClassificationEntry], progress: @Sendable (_ index: Int, _ failed: Bool) -> Void = { _, _ in }
  ) throws -> (report: ClassificationReport, failures: [String]) {
    let classifier = try Classifier(model: model, normalizesLevel: normalizesLevel, precision: precision)
    let index = Dictionary(uniqueKeysWithValues: model.labels.enumerated().map { ($1, $0) })
    let saved = Neural.threads
    if threads > 1 { Neural.setThreads(1) }
    defer { Neural.setThreads(saved) }
    let outcomes: [Result<Int, any Error>] = parallelMap(entries.count, threads: threads) { i in
      let outcome = Result {
        let e = entries[i]
        guard index[e.label] != nil else {
          throw TrainingError.unknownToken(path: e.audio, token: e.label, known: model.labels)
        }
        return index[try classifier.classify(path: e.audio, channel: channel).label]!
      }
      progress(i, (try? outcome.get()) == nil)
      return outcome
    }
    var report = ClassificationReport(labels: model.labels)
    var failures: [String] = []
    for (e, r) in zip(entries, outcomes) {
      switch r {
      case .success(let predicted): report.add(reference: index[e.label]!, predicted: predicted, audio: e.audio, speaker: e.speaker)
      case .failure(let error): failures.append("\(error)".hasPrefix(e.audio) ? "\(error)" : "\(e.audio): \(error)")
      }
    }
    return (report, failures)
  }

  /// Whether the model file at `nameOrPath` (a path or shipped name) is a classifier or an
  /// ensemble of classifiers.
  public static func isClassifier(_ nameOrPath: String) -> Bool {
    guard let path = try? ModelCatalog.path(for: nameOrPath),
      let file = try? SafeTensors(contentsOf: path)
    else { return false }
    return EnsembleFile.kind(of: file) == .classifier
  }
}
