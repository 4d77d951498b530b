import ArgumentParser
import Earshot
import Foundation

struct Logits: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "logits",
    abstract: "Run a CTC model and write its per-frame log-probabilities as .npy.",
    discussion: """
      The input is either features, a (frames, inputs) float32 .npy, or audio, which is \
      turned into features with the model's own FeatureOptions (its 'features' metadata). \
      The output is (frames, outputs) float32 log-probabilities: compare it with PyTorch's \
      to check a model converted by scripts/torch_export.py (in the Earshot repository).

      --model takes a file or a shipped model's name. The shipped digits model is an \
      ensemble: --member picks one of its networks.

      Examples:
        python3 scripts/torch_export.py --state-dict m.pt --output model.safetensors
        earshot logits --model model.safetensors --features x.npy --output y.npy
        earshot logits --model digits --member 0 --audio clip.wav --output y.npy
      """)

  @Option(help: "CTC model: a .safetensors file or a shipped model's name (digits).") var model: String
  @Option(help: "For an ensemble: which of its networks, from 0.") var member: Int?
  @Option(help: "Input features: a (frames, inputs) float32 .npy.") var features: String?
  @Option(help: "Input audio (any format libsndfile reads), featurised as the model says.") var audio: String?
  @Option(help: "Output .npy path, or - for stdout.") var output: String
  @Option(help: "BLAS threads. (default: all cores)") var threads: Int?
  @OptionGroup var channelOption: ChannelOption

  func validate() throws {
    guard (features == nil) != (audio == nil) else { throw ValidationError("give exactly one of --features or --audio") }
    if let threads, threads < 1 { throw ValidationError("--threads must be >= 1 (got \(threads))") }
    if let member, member < 0 { throw ValidationError("--member must be >= 0 (got \(member))") }
    if channelOption.channel != nil && audio == nil { throw ValidationError("--channel picks a channel of --audio; --features has none") }
  }

  func run() throws {
    useBLASThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
    if ClassificationEvaluator.isClassifier(model) {
      printError("error: \(model) is a classifier, not a CTC model: logits writes a CTC network's per-frame "
        + "log-probabilities; for a classifier's label probabilities use earshot classify --model \(model) --top K --format json")
      throw ExitCode.failure
    }
    do {
      let network = try SequenceModel(named: model, member: member)
      let input: Matrix
      let source: String
      if let features {
        let array = try NumpyArray(contentsOf: features)
        guard array.shape.count == 2 else {
          throw ValidationError("\(features): shape \(array.shape); expected (frames, inputs)")
        }
        input = Matrix(rows: array.shape[0], cols: array.shape[1], data: array.values)
        source = features
      } else {
        let options = try FeatureOptions(metadata: network.metadata, path: model + (member.map { " (member \($0))" } ?? ""))
        let samples = try AudioFile.loadMono(path: audio!, sampleRate: options.sampleRate, channel: channelOption.channel).samples
        input = Matrix(try FeatureExtractor(options: options)(samples))
        source = audio!
      }
      guard input.cols == network.architecture.inputSize else {
        throw PipelineError.inputMismatch(what: source, found: input.cols, expected: network.architecture.inputSize)
      }
      let out = network.logProbabilities(features: input)
      let array = NumpyArray(shape: [out.rows, out.cols], values: out.data)
      if output == "-" {
        StandardOutput.write(array.data())
      } else {
        try array.write(to: output)
      }
    } catch let error as ValidationError {
      throw error
    } catch PipelineError.noSuchMember(let name, let asked, let count) where asked == nil {
      throw ValidationError("\(name) is an ensemble of \(count) networks: choose one with --member 0 to \(count - 1)")
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
  }
}
