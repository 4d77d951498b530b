import ArgumentParser
import Earshot
import Foundation

struct Ensemble: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ensemble",
    abstract: "Combine models trained for the same labels or tokens into one model.",
    discussion: """
      Classifiers: the ensemble averages their class probabilities. They must have the same \
      labels in the same order.

      CTC models (transcription): each network is decoded on its own, and of all their best \
      hypotheses (--beam of each) the ensemble keeps the one with the highest summed CTC \
      log-likelihood; times come from the first model. Networks place their spikes on \
      different frames, so their frames are never averaged. They must have the same tokens in \
      the same order (the Earshot repository's scripts/train/keep_tokens.py cuts a model's extra tokens).

      Each model keeps its own front end (say, one normalised per band and one by level), so \
      models trained with different settings or seeds can be combined; all must share a \
      sample rate. An input that is itself an ensemble adds all of its members. The output \
      loads like any model (`earshot classify`, `transcribe` or `evaluate --model OUT`); its \
      cost is the sum of its members'.

      An ensemble is not always better than its best member: check it with `earshot \
      evaluate` on held-out clips before shipping one.

      Classifiers: --test-speeds stores test-time speeds in the output, so that `earshot \
      classify` and `evaluate` hear each clip at those speeds and average (see `classify \
      --help`); with it, a single model (or ensemble) may be given, to restamp it (its \
      provenance is kept unless --provenance replaces it). Without it the output hears clips \
      as they are.

      Examples (runs of `earshot train`):
        earshot ensemble runs/a/last.safetensors runs/b/last.safetensors \\
          runs/c/last.safetensors --output commands-ensemble.safetensors
        earshot ensemble digits runs/digits-2/best.safetensors \\
          --output digits-pair.safetensors
        earshot ensemble runs/a/last.safetensors runs/b/last.safetensors \\
          --test-speeds 0.9,1,1.1 --output pair-tta.safetensors
      """)

  @Option(help: "Where to write the ensemble (.safetensors); written atomically.") var output: String
  @Option(help: "Provenance stored in the file (say, the recipe): a JSON object as it is, other text as {\"ensemble\": TEXT}; default: the input paths.")
  var provenance: String?
  @Option(help: "Classifiers: test-time speeds stored in the output, comma-separated, e.g. 0.9,1,1.1. (default: none)")
  var testSpeeds: String?
  @Argument(help: "Model files or shipped names, at least two (one with --test-speeds), all classifiers or all CTC models.") var models: [String]

  func validate() throws {
    let speeds = try testSpeedList(testSpeeds, option: "--test-speeds")
    guard models.count >= (speeds == nil ? 2 : 1) else {
      throw ValidationError("give at least two models to combine, or one with --test-speeds (got \(models.count))")
    }
    let target = URL(fileURLWithPath: output).standardizedFileURL.path
    let inputs = models.map { URL(fileURLWithPath: (try? ModelCatalog.path(for: $0)) ?? $0).standardizedFileURL.path }
    if inputs.contains(target) { throw ValidationError("--output \(output) is one of the inputs; write the ensemble elsewhere") }
    // An existing model is replaced (re-running a recipe); anything else there (an audio
    // file, a training checkpoint) is kept.
    let there = PathKind(output)
    if there == .folder
      || there == .other && (try? ClassificationModel(named: output)) == nil && (try? TranscriptionModel(named: output)) == nil {
      throw ValidationError("--output \(output) exists and is not a model (.safetensors); it is not replaced: remove it or write elsewhere")
    }
    for (k, path) in inputs.enumerated() where inputs[..<k].contains(path) {
      throw ValidationError("\(models[k]) is given twice; an ensemble of a network with itself only weighs it twice")
    }
  }

  func run() throws {
    let classifiers = ClassificationEvaluator.isClassifier(models[0])
    if !classifiers && testSpeeds != nil {
      do {
        // A missing or unreadable file fails with its own reason, not as "not a classifier".
        _ = try SafeTensors(contentsOf: try ModelCatalog.path(for: models[0]))
      } catch {
        printError("error: \(error)")
        throw ExitCode.failure
      }
      printError("error: --test-speeds applies to classifiers; \(models[0]) is not one")
      throw ExitCode.validationFailure
    }
    do {
      let report = try classifiers ? combineClassifiers() : combineTranscriptionModels()
      printError(report)
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
  }

  /// The provenance stored in the file: --provenance as it is when it is a JSON object, else
  /// {"ensemble": TEXT}.
  var note: String {
    if let provenance, (try? JSONSerialization.jsonObject(with: Data(provenance.utf8))) is [String: Any] { return provenance }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try! encoder.encode(["ensemble": provenance ?? "ensemble of " + models.joined(separator: ", ")]), as: UTF8.self)
  }

  /// Two inputs holding one network (a run's best and last files saved at the same epoch, a
  /// copy) are combined anyway, but said: that network counts twice.
  func warnAboutRepeatedNetworks(_ networks: [(input: String, tensors: [String: Tensor])]) {
    for (k, n) in networks.enumerated() {
      if let earlier = networks[..<k].first(where: { $0.tensors == n.tensors }) {
        printError("warning: \(n.input) holds the same network as \(earlier.input) (identical weights, say a run's best and last "
          + "from one epoch); the ensemble weighs it twice")
      }
    }
  }

  /// Writes the classifier ensemble; returns the line that reports it.
  func combineClassifiers() throws -> String {
    var members: [ClassificationModel.Member] = []
    var networks: [(input: String, tensors: [String: Tensor])] = []
    var labels: [String]? = nil
    var first = ""
    for name in models {
      // A CTC model, a missing or a malformed file each fail here with their own reason.
      let model = try ClassificationModel(named: name)
      if let labels, model.labels != labels {
        throw PipelineError.badEnsemble(path: name, reason: "labels \(model.labels.joined(separator: ",")) differ from \(first)'s "
          + "\(labels.joined(separator: ",")); members must share labels in the same order (train with --labels)")
      }
      if labels == nil { labels = model.labels; first = name }
      members += model.members
      networks += model.members.map { (name, $0.network.file().tensors) }
    }
    warnAboutRepeatedNetworks(networks)
    var combined = try ClassificationModel(members: members, labels: labels!, source: output)
    let speeds = try testSpeedList(testSpeeds, option: "--test-speeds") ?? [1]
    combined.testSpeeds = speeds
    // Restamping one model keeps its own provenance unless --provenance replaces it.
    let kept = models.count == 1 && provenance == nil
      ? try SafeTensors(contentsOf: try ModelCatalog.path(for: models[0])).metadata[ModelMetadataKey.provenance] : nil
    try combined.save(to: output, provenance: kept ?? note)
    let heard = speeds == [1] ? "" : ", heard at speeds \(speeds.map { "\($0)" }.joined(separator: ","))"
    return "wrote \(output): \(members.count) network\(members.count == 1 ? "" : "s"), labels \(labels!.joined(separator: " "))\(heard)"
  }

  /// Writes the CTC ensemble; returns the line that reports it.
  func combineTranscriptionModels() throws -> String {
    var members: [TranscriptionModel.Member] = []
    var networks: [(input: String, tensors: [String: Tensor])] = []
    var shared: (tokens: [String], unit: TokenUnit, name: String)? = nil
    for name in models {
      // A classifier, a missing or a malformed file each fail here with their own reason.
      let model = try TranscriptionModel(named: name)
      if let shared, model.tokens != shared.tokens || model.unit != shared.unit {
        throw PipelineError.badEnsemble(path: name, reason: "tokens \(model.tokens.joined(separator: ",")) (\(model.unit.rawValue)) "
          + "differ from \(shared.name)'s \(shared.tokens.joined(separator: ",")) (\(shared.unit.rawValue)); members must share "
          + "tokens in the same order (the Earshot repository's scripts/train/keep_tokens.py cuts a model down to some of its tokens)")
      }
      if shared == nil { shared = (model.tokens, model.unit, name) }
      members += model.members
      networks += model.members.map { (name, $0.network.file().tensors) }
    }
    warnAboutRepeatedNetworks(networks)
    try TranscriptionModel(members: members, tokens: shared!.tokens, unit: shared!.unit, source: output)
      .save(to: output, provenance: note)
    return "wrote \(output): \(members.count) networks, tokens \(shared!.tokens.joined(separator: " "))"
  }
}
