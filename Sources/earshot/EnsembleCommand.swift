import ArgumentParser
import Earshot
import Foundation

struct Ensemble: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Combine classifiers trained for the same labels into one model that averages their probabilities.",
    discussion: """
      Each model keeps its own front end (say, one normalised per band and one by level), so
      models trained with different settings or seeds can be combined; they must have the
      same labels in the same order and the same sample rate. An input that is itself an
      ensemble adds all of its members. The output loads like any model (`earshot classify
      --model OUT`, `earshot evaluate --model OUT ...`); its cost is the sum of its members'.

      Validation accuracy of an ensemble is not the mean of its members': check it with
      `earshot evaluate` on held-out clips before shipping one.

      Example (three runs of `earshot train --task classify`):
        earshot ensemble runs/a/last.safetensors runs/b/last.safetensors runs/c/last.safetensors \\
          --output commands-ensemble.safetensors
      """)

  @Option(help: "Where to write the ensemble (.safetensors); written atomically.") var output: String
  @Option(help: "Free-form provenance text stored in the file (say, the recipe); default: the input paths.")
  var provenance: String?
  @Argument(help: "Classifier files or shipped names, at least two.") var models: [String]

  func validate() throws {
    guard models.count >= 2 else { throw ValidationError("give at least two models to combine (got \(models.count))") }
    let target = URL(fileURLWithPath: output).standardizedFileURL.path
    let inputs = models.map { URL(fileURLWithPath: (try? ModelCatalog.path(for: $0)) ?? $0).standardizedFileURL.path }
    if inputs.contains(target) { throw ValidationError("--output \(output) is one of the inputs; write the ensemble elsewhere") }
  }

  func run() throws {
    do {
      var members: [ClassificationModel.Member] = []
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
      }
      let ensemble = try ClassificationModel(members: members, labels: labels!, source: output)
      let note = provenance ?? "ensemble of " + models.joined(separator: ", ")
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      let text = String(decoding: try encoder.encode(["ensemble": note]), as: UTF8.self)
      try ensemble.save(to: output, provenance: text)
      printError("wrote \(output): \(members.count) networks, labels \(labels!.joined(separator: " "))")
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
  }
}
