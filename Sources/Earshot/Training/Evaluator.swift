import Foundation

/// Scores a ``TranscriptionModel`` on a manifest: decodes every clip (greedy or prefix beam
/// search) and gathers an ``EvaluationReport``.
///
/// Basic usage:
/// ```swift
/// let model = try TranscriptionModel(named: "digits")
/// let result = try TranscriptionEvaluator(model: model).evaluate(try Manifest.load("test.jsonl"))
/// print(result.report.wordErrorRate, result.failures)
/// ```
public struct TranscriptionEvaluator: Sendable {
  /// The model scored.
  public let model: TranscriptionModel
  /// How clips are decoded: `Transcriber`'s options, so that a report scores what
  /// `earshot transcribe` prints (a beam of 8 by default).
  public var transcription = TranscriptionOptions()
  /// Prefix beam width (``transcription``'s); 1 is greedy (best path) decoding.
  public var beamWidth: Int {
    get { transcription.beamWidth }
    set { transcription.beamWidth = max(newValue, 1) }
  }
  /// Worker threads (utterances run in parallel, single-threaded BLAS each); default all cores.
  public var threads: Int

  /// - Parameter beamWidth: default `TranscriptionOptions().beamWidth`, the beam `Transcriber`
  ///   and `earshot transcribe` use.
  public init(model: TranscriptionModel, beamWidth: Int = TranscriptionOptions().beamWidth,
              threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
    self.model = model
    self.threads = max(threads, 1)
    self.beamWidth = beamWidth
  }

  /// The normalised transcript of one clip, as `earshot transcribe` gives it.
  public func transcribe(path: String, transcriber: Transcriber) throws -> String {
    let text = try transcriber.transcribe(path: path).text
    return model.unit == .word ? text : text.split(separator: " ").joined(separator: " ")
  }

  /// Scores every entry; a clip that cannot be read is listed in `failures` (one line each:
  /// path and reason) and left out of the report.
  /// - Parameter progress: called as each clip is done, with its index and whether it
  ///   failed, from the worker threads (in any order), e.g. for a progress bar.
  public func evaluate(
    _ entries: [ManifestEntry], progress: @Sendable (_ index: Int, _ failed: Bool) -> Void = { _, _ in }
  ) throws -> (report: EvaluationReport, failures: [String]) {
    let transcriber = try Transcriber(model: model, options: transcription)
    let saved = Neural.threads
    if threads > 1 { Neural.setThreads(1) }
    defer { Neural.setThreads(saved) }
    let outcomes: [Result<String, any Error>] = parallelMap(entries.count, threads: threads) { i in
      let outcome = Result { try transcribe(path: entries[i].audio, transcriber: transcriber) }
      progress(i, (try? outcome.get()) == nil)
      return outcome
    }
    var report = EvaluationReport()
    var failures: [String] = []
    for (e, r) in zip(entries, outcomes) {
      switch r {
      case .success(let hypothesis): report.add(reference: e.text, hypothesis: hypothesis, speaker: e.speaker, audio: e.audio)
      case .failure(let error): failures.append("\(error)".hasPrefix(e.audio) ? "\(error)" : "\(e.audio): \(error)")
      }
    }
    return (report, failures)
  }
}

extension EvaluationReport {
  /// Wrong utterances the text report lists; the JSON form lists them all.
  public static let listedErrors = 20

  /// A human-readable summary: totals, per-speaker WER, per-word errors, the confusion
  /// table of substitutions (reference rows, hypothesis columns) and the first
  /// ``listedErrors`` wrong utterances.
  public var text: String {
    func pct(_ x: Double) -> String { String(format: "%.2f%%", 100 * x) }
    let counts = "\(words.substitutions) substitutions, \(words.deletions) deletions, \(words.insertions) insertions"
    // With no reference words (recordings without speech) a rate means nothing; every word is an insertion.
    let wordLine = words.reference == 0
      ? "none: no reference words, so every word produced is an insertion (\(words.insertions) insertions)"
      : "\(pct(wordErrorRate)) (\(counts) of \(words.reference) words)"
    var out = """
      utterances: \(utterances)
      WER: \(wordLine)
      CER: \(characters.reference == 0 ? "none (no reference characters)" : pct(characterErrorRate))
      utterance accuracy: \(pct(utteranceAccuracy)) (\(correctUtterances) of \(utterances))

      """
    // Name columns are as wide as their longest name (never cut: speaker ids such as
    // "festival:cmu_us_slt_arctic_hts:s1.0:p0" differ only at the end).
    func width(_ names: some Collection<String>, atLeast minimum: Int) -> Int { max(minimum, names.map(\.count).max() ?? 0) }
    if speakers.count > 1 || (speakers.count == 1 && speakers.keys.first != "") {
      out += "\nper speaker:\n"
      let names = speakers.keys.sorted()
      let shown = names.map { $0.isEmpty ? "(none)" : $0 }
      let speakerWidth = width(shown, atLeast: 14)
      for (s, name) in zip(names, shown) {
        let c = speakers[s]!
        out += "  \(name.leftAligned(speakerWidth)) " + (c.reference == 0
          ? "\(c.insertions) insertions, no reference words\n" : "WER \(pct(c.rate)) of \(c.reference) words\n")
      }
    }
    out += "\nper word (reference count, substitutions, deletions, insertions):\n"
    let wordWidth = width(wordErrors.keys, atLeast: 10)
    for w in wordErrors.keys.sorted() {
      let e = wordErrors[w]!
      out += "  \(w.leftAligned(wordWidth)) \(String(format: "%6d %6d %6d %6d", e.count, e.substitutions, e.deletions, e.insertions))\n"
    }
    let rows = confusion.keys.sorted()
    if !rows.isEmpty {
      let cols = Set(confusion.values.flatMap(\.keys)).sorted()
      let width = max(6, (cols + rows).map(\.count).max()! + 1)
      func cell(_ s: String) -> String { s.rightAligned(width) }
      out += "\nsubstitutions (rows: reference, columns: recognised):\n"
      out += cell("") + cols.map(cell).joined() + "\n"
      for r in rows {
        out += cell(r) + cols.map { c in cell(confusion[r]?[c].map(String.init) ?? ".") }.joined() + "\n"
      }
    }
    if !errors.isEmpty {
      let shown = errors.prefix(Self.listedErrors)
      out += "\n" + listHeading("wrong utterances", shown: shown.count, of: errors.count)
      for e in shown {
        out += "  \(e.audio)\n    reference:  \(e.reference)\n    recognised: \(e.hypothesis.isEmpty ? "(nothing)" : e.hypothesis)\n"
      }
    }
    return out
  }

  /// The JSON form: totals and rates, per speaker, per word, confusion and the errors. A rate
  /// over no reference words or characters (recordings without speech) is null: its edit
  /// counts still hold the insertions. Speakers as the text shows them: none when no
  /// utterance names one, otherwise utterances without one under "(none)".
  public var json: String {
    // A speaker really called "(none)" shares the entry with the unnamed ones, as in the text.
    let namedSpeakers: [String: EditCounts] = speakers.count == 1 && speakers.keys.first == "" ? [:]
      : Dictionary(speakers.map { ($0.key.isEmpty ? "(none)" : $0.key, $0.value) }, uniquingKeysWith: { a, b in
        var sum = a
        sum += b
        return sum
      })
    struct Summary: Encodable {
      var utterances: Int
      var wer: Rate
      var cer: Rate
      var utteranceAccuracy: Double
      var words: EditCounts
      var characters: EditCounts
      var speakers: [String: Speaker]
      var wordErrors: [String: EvaluationReport.WordErrors]
      var confusion: [String: [String: Int]]
      var errors: [EvaluationReport.Utterance]
      // snake_case, as every other JSON Earshot writes.
      enum CodingKeys: String, CodingKey {
        case utterances, wer, cer, words, characters, speakers, confusion, errors
        case utteranceAccuracy = "utterance_accuracy", wordErrors = "word_errors"
      }
    }
    struct Speaker: Encodable {
      var wer: Rate
      var words: Int
      var errors: Int
    }
    // A rate written as a number, or as an explicit null (a missing key would read as a
    // forgotten field).
    struct Rate: Encodable {
      var value: Double?
      init(_ counts: EditCounts) { value = counts.reference == 0 ? nil : counts.rate }
      func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
      }
    }
    let s = Summary(
      utterances: utterances, wer: Rate(words), cer: Rate(characters), utteranceAccuracy: utteranceAccuracy,
      words: words, characters: characters,
      speakers: namedSpeakers.mapValues { Speaker(wer: Rate($0), words: $0.reference, errors: $0.errors) },
      wordErrors: wordErrors, confusion: confusion, errors: errors)
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    return String(decoding: (try? e.encode(s)) ?? Data(), as: UTF8.self)
  }
}

/// "wrong clips (3):" or "wrong clips (the first 20 of 45; --format json lists all):", a line.
func listHeading(_ what: String, shown: Int, of total: Int) -> String {
  "\(what) (\(shown < total ? "the first \(shown) of \(total); --format json lists all" : "\(total)")):\n"
}
