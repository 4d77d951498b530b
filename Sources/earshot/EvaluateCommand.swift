import ArgumentParser
import Earshot
import Foundation

/// How `earshot evaluate` prints its report.
enum EvaluationFormat: String, CaseIterable, ExpressibleByArgument {
  case text, json
}

struct Evaluate: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Score a model on a manifest: WER, CER, utterance accuracy, per speaker, per word, confusions (CTC); accuracy, precision, recall, confusion matrix (classifier).",
    discussion: """
      The manifest is JSON Lines ({"audio": ..., "text": ..., "speaker": ...}) or a folder of \
      FSDD-style {digit}_{speaker}_{take}.wav files. Reference texts are normalised as in \
      `earshot train` (lower case, no punctuation but ' and -, numerals spelled as digits, "oh" \
      among digit words -> "zero"). Word error rate is (S + D + I) / N over a \
      Levenshtein alignment of words; CER is the same over characters (spaces included). \
      Clips that cannot be read are named and counted on stderr and left out of the report \
      (exit status 1); when none can be read, no report is printed.

      A CTC model hears each clip as `earshot transcribe` does, so the report scores what \
      transcribe prints: split at pauses of 0.5 s (--min-pause), each stretch scaled to a \
      -0.1 dBFS peak (--keep-level turns it off), a prefix beam of 8 (--beam). The validation \
      WER that `earshot train` prints decodes each clip whole, at its recorded level, \
      greedily (quicker): `--min-pause 0 --keep-level --beam 1` reproduces it.

      Examples:
        earshot evaluate --model runs/digits/best.safetensors test.jsonl
        earshot evaluate --model digits --format json \\
            free-spoken-digit-dataset/recordings

      A classifier (e.g. the shipped commands and sounds models) is scored on a folder with one \
      sub-folder per label (DIR/{label}/*.wav|ogg; _unknown_ names the label unknown) or JSON \
      Lines {"audio": ..., "label": ...}: top-1 accuracy, per-class precision, recall, F1 and \
      support, and the confusion matrix (rows: reference, columns: predicted), which \
      --confusion-csv and --confusion-png also write to files. Clips whose label the model \
      does not have are left out and counted in one warning; --others-as scores them as one \
      of its labels instead (Speech Commands' 25 other words are the commands model's unknown).

        earshot evaluate --model commands --confusion-png confusion.png \\
            speech_commands
        earshot evaluate --model commands --others-as unknown speech_commands
      """)

  @Option(help: "Model file (.safetensors) or shipped model name.") var model: String
  @Option(help: "CTC only: prefix beam width (1 = greedy best path). (default: 8, as transcribe)") var beam: Int?
  @Option(help: "CTC only: only produce these words (comma-separated), as `earshot transcribe --vocabulary` does.")
  var vocabulary: String?
  @Option(help: "Report format: text or json.") var format: EvaluationFormat = .text
  @Option(help: "Threads (utterances in parallel). (default: all cores)") var threads: Int?
  @OptionGroup var speech: SpeechDetectionOptions
  @OptionGroup var channelOption: ChannelOption
  @Option(help: ArgumentHelp("The networks' arithmetic, as `earshot transcribe --precision` and `earshot classify --precision`. (default: int8, as those commands)",
                              valueName: "int8|float32"))
  var precision: InferencePrecision?
  @Option(help: "Classifier only: test-time speeds, as `earshot classify --speeds`. (default: the model's own)") var speeds: String?
  @Option(help: "Classifier only: score clips whose label the model does not have as this label (e.g. unknown) instead of leaving them out.")
  var othersAs: String?
  @Option(help: "Classifier only: write the confusion matrix as CSV here.") var confusionCsv: String?
  @Option(help: "Classifier only: write the confusion matrix as a PNG picture here.") var confusionPng: String?
  @Argument(help: "Manifest (.jsonl) or folder (FSDD-style for CTC, one sub-folder per label for a classifier).") var manifest: String

  func validate() throws {
    if let beam { try checkBeam(beam) }
    if let threads, threads < 1 { throw ValidationError("--threads must be >= 1 (got \(threads))") }
    _ = try vocabularyWords(vocabulary)
    _ = try testSpeedList(speeds, option: "--speeds")
  }

  func run() throws {
    do {
      // A missing or unreadable file fails with its own reason, not as "a CTC model".
      _ = try SafeTensors(contentsOf: try ModelCatalog.path(for: model))
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
    if ClassificationEvaluator.isClassifier(model) { return try runClassifier() }
    if confusionCsv != nil || confusionPng != nil || speeds != nil || othersAs != nil {
      printError("error: --speeds, --others-as, --confusion-csv and --confusion-png apply to classifiers; \(model) is a CTC model")
      throw ExitCode.validationFailure
    }
    let result: (report: EvaluationReport, failures: [String])
    let total: Int
    do {
      let loaded = try TranscriptionModel(named: model)
      let entries = try Manifest.load(manifest)
      warnAboutIgnoredFiles(inFolder: manifest)
      total = entries.count
      var evaluator = TranscriptionEvaluator(model: loaded, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
      if let beam { evaluator.beamWidth = beam }
      speech.apply(to: &evaluator.transcription)
      evaluator.transcription.channel = channelOption.channel
      if let precision { evaluator.transcription.precision = precision }
      evaluator.transcription.vocabulary = try vocabularyWords(vocabulary)
      // Reference words that cannot be output are errors in every score: say which.
      let texts = entries.map(\.text)
      let untokened = unitsOutside(Set(loaded.tokens), in: texts, unit: loaded.unit)
      if !untokened.isEmpty {
        printError("warning: the references hold \(untokened.count) \(loaded.unit == .word ? "word" : "character")(s) "
          + "that \(model) cannot output (not among its tokens), each an error: " + listUnits(untokened))
      }
      if let words = evaluator.transcription.vocabulary {
        let outside = unitsOutside(Set(words.map { Transcriber.vocabularyToken($0, spoken: loaded.tokens) }), in: texts, unit: .word)
          .filter { !untokened.contains($0) }
        if !outside.isEmpty {
          printError("warning: the references hold \(outside.count) word(s) outside --vocabulary, each an error: " + listUnits(outside))
        }
      }
      let bar = ProgressBar(paths: entries.map(\.audio), label: "clips")
      result = try evaluator.evaluate(entries) { i, failed in bar.finish(file: i, failed: failed) }
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
    try reportUnreadable(result.failures, of: total)
    switch format {
    case .text: StandardOutput.write(result.report.text)
    case .json: StandardOutput.write(result.report.json + "\n")
    }
    if !result.failures.isEmpty { throw ExitCode.failure }
  }
}

extension Evaluate {
  func runClassifier() throws {
    let ctcOnly = [(vocabulary != nil, "--vocabulary"), (beam != nil, "--beam"), (speech.minPause != SpeechDetectionOptions.defaultMinPause, "--min-pause")]
    if let (_, option) = ctcOnly.first(where: \.0) {
      printError("error: \(option) applies to CTC models; \(model) is a classifier")
      throw ExitCode.validationFailure
    }
    var loaded: ClassificationModel
    var entries: [ClassificationEntry]
    do {
      loaded = try ClassificationModel(named: model)
      if let speeds = try testSpeedList(speeds, option: "--speeds") { loaded.testSpeeds = speeds }
      entries = try ClassificationDataset.load(manifest)
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
    if let othersAs, !loaded.labels.contains(othersAs) {
      printError("error: --others-as \(othersAs) is not one of \(model)'s labels: \(loaded.labels.joined(separator: " "))")
      throw ExitCode.validationFailure
    }
    // Labels the model lacks: one line for all of them, not one error per clip.
    let known = Set(loaded.labels)
    let others = entries.filter { !known.contains($0.label) }.reduce(into: [String: Int]()) { $0[$1.label, default: 0] += 1 }
    if !others.isEmpty {
      let listed = others.sorted { $0.key < $1.key }.map { "'\($0.key)' (\($0.value))" }.joined(separator: ", ")
      if let othersAs {
        printError("note: \(others.values.reduce(0, +)) clips with labels \(model) does not have are scored as \(othersAs): \(listed)")
        entries = entries.map { known.contains($0.label) ? $0 : ClassificationEntry(audio: $0.audio, label: othersAs, speaker: $0.speaker, fold: $0.fold) }
      } else {
        entries = entries.filter { known.contains($0.label) }
        printError("warning: \(others.values.reduce(0, +)) clips with labels \(model) does not have are left out: \(listed); "
          + "its labels: \(loaded.labels.joined(separator: " ")) (--others-as LABEL scores them as one of them)")
        if entries.isEmpty {
          printError("error: no clip of \(manifest) has one of \(model)'s labels; nothing to score")
          throw ExitCode.failure
        }
      }
    }
    // The folders for the pictures and tables before any clip is scored: a typo must not
    // cost the whole run.
    for (option, path) in [("--confusion-csv", confusionCsv), ("--confusion-png", confusionPng)] {
      if let path { try createOutputFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path, for: option) }
    }
    // A run's best or last model is named with its run folder: every run's picture said "BEST".
    let source = URL(fileURLWithPath: loaded.source).deletingPathExtension()
    let name = ["best", "last"].contains(source.lastPathComponent)
      ? source.deletingLastPathComponent().lastPathComponent + "/" + source.lastPathComponent : source.lastPathComponent
    let total = entries.count
    let result: (report: ClassificationReport, failures: [String])
    do {
      var evaluator = ClassificationEvaluator(model: loaded, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
      evaluator.normalizesLevel = !speech.keepLevel
      evaluator.channel = channelOption.channel
      if let precision { evaluator.precision = precision }
      let bar = ProgressBar(paths: entries.map(\.audio), label: "clips")
      result = try evaluator.evaluate(entries) { i, failed in bar.finish(file: i, failed: failed) }
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
    try reportUnreadable(result.failures, of: total)
    switch format {
    case .text: StandardOutput.write(result.report.text)
    case .json: StandardOutput.write(result.report.json + "\n")
    }
    // After the report, so that a file that cannot be written loses nothing else.
    var written = true
    for (path, data) in [(confusionCsv, { Data(result.report.csv.utf8) }), (confusionPng, { result.report.png(title: name) })] {
      guard let path else { continue }
      do {
        try writeAtomically(data(), to: path)
      } catch {
        printError("error: cannot write \(path): \(error.localizedDescription)")
        written = false
      }
    }
    if !result.failures.isEmpty || !written { throw ExitCode.failure }
  }

  /// Names every clip that could not be read, then says how many the report leaves out; when
  /// none could be read there is nothing to score, and it throws instead of printing a report
  /// of zeros.
  func reportUnreadable(_ failures: [String], of total: Int) throws {
    guard !failures.isEmpty else { return }
    for f in failures { printError("error: \(f)") }
    if failures.count >= total {
      printError("error: none of the \(total) clips of \(manifest) could be read or scored; nothing to score")
      throw ExitCode.failure
    }
    printError("error: \(failures.count) of \(total) clips could not be read or scored; the report leaves them out")
  }
}
