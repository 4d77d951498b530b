import ArgumentParser
import Earshot
import Foundation

/// How `earshot evaluate` prints its report.
enum EvaluationFormat: String, CaseIterable, ExpressibleByArgument {
  case text, json
}

struct Evaluate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Score a CTC model on a manifest: WER, CER, utterance accuracy, per speaker, per word, confusions.",
    discussion: """
      The manifest is JSON Lines ({"audio": ..., "text": ..., "speaker": ...}) or a folder of
      FSDD-style {digit}_{speaker}_{take}.wav files. Reference texts are normalised as in
      `earshot train` (lower case, "oh" -> "zero"). Word error rate is (S + D + I) / N over a
      Levenshtein alignment of words; CER is the same over characters (spaces included).
      Clips that cannot be read are reported on stderr and left out (exit status 1).

      Examples:
        earshot evaluate --model runs/digits/best.safetensors test.jsonl
        earshot evaluate --model digits --beam 8 --format json ../shared/data/fsdd/recordings
      """)

  @Option(help: "Model file (.safetensors) or shipped model name.") var model: String
  @Option(help: "Prefix beam width (1 = greedy best path).") var beam = 1
  @Option(help: "Report format: text or json.") var format: EvaluationFormat = .text
  @Option(help: "Threads (utterances in parallel). (default: all cores)") var threads: Int?
  @Argument(help: "Manifest (.jsonl) or FSDD-style folder.") var manifest: String

  func validate() throws {
    guard beam >= 1 else { throw ValidationError("--beam must be >= 1 (got \(beam))") }
    if let threads, threads < 1 { throw ValidationError("--threads must be >= 1 (got \(threads))") }
  }

  func run() throws {
    let result: (report: EvaluationReport, failures: [String])
    do {
      let loaded = try TranscriptionModel(named: model)
      let entries = try Manifest.load(manifest)
      let evaluator = TranscriptionEvaluator(model: loaded, beamWidth: beam,
                                             threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
      result = try evaluator.evaluate(entries)
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
    for f in result.failures { printError("error: \(f)") }
    switch format {
    case .text: print(result.report.text, terminator: "")
    case .json: print(result.report.json)
    }
    if !result.failures.isEmpty { throw ExitCode.failure }
  }
}
