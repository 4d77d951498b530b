import ArgumentParser
import Earshot
import Foundation

struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract: "Print the format, sample rate, channels and duration of audio files, or what a model is.",
    discussion: """
      One line per audio file: path, container, encoding, rate, channels, frames, seconds. \
      A file whose header the other commands refuse (no frames, cut short, an unsupported \
      rate or channel count) still gets its header line where libsndfile reads one (JSON: \
      with an "error" field); the reason goes to stderr, and the exit status is 1. info reads \
      headers, not samples: a NaN or infinite sample in a float file is found when another \
      command decodes it.

      A model (--model NAME|PATH, a .safetensors file among the inputs, or one in a folder \
      given, such as a training run's best and last) is described \
      instead: what it outputs (words or labels), its networks (size, pooling, parameters), \
      each network's front end (features, sample rate, frames, normalisation), its test-time \
      speeds and the recipe that made it.

      Examples:
        earshot info recording.flac calls/
        earshot info --model digits
        earshot info --model runs/sounds/best.safetensors --json
      """)

  @Flag(help: "Print JSON Lines instead of text.") var json = false
  @Option(help: "Describe a model: a shipped name (\(ModelCatalog.names.joined(separator: ", "))) or a .safetensors file.")
  var model: String?
  @Argument(help: "Audio files or directories (any format libsndfile reads); .safetensors files are described as models; - reads stdin (to its end first: it is staged in a temporary file).")
  var inputs: [String] = []

  func validate() throws {
    try checkStdinOnce(inputs)
    guard !inputs.isEmpty || model != nil else {
      throw ValidationError("give at least one audio file or directory, or --model NAME|PATH")
    }
  }

  func run() throws {
    var failures = 0
    func describeModel(_ name: String) {
      do {
        StandardOutput.write(try ModelDescription(named: name).render(json: json) + "\n")
      } catch {
        failures += 1
        printError("error: \(error)")
      }
    }
    if let model { describeModel(model) }
    // In the order given: models where a .safetensors file is named, audio files otherwise.
    let audioInputs = inputs.filter { !$0.isModelFile }
    let items: [(path: String, isModel: Bool)] = inputs.flatMap { input in
      input.isModelFile ? [(input, true)]
        : expandInputs([input], skipped: &failures).map { ($0, false) } + modelFiles(inFolder: input).map { ($0, true) }
    }
    // Files found for the audio inputs (folders: audio files and models in them).
    let found = items.filter { !$0.isModel || !inputs.contains($0.path) }
    if !audioInputs.isEmpty && found.isEmpty {
      failures += 1
      printError("error: no audio files found in \(audioInputs.joined(separator: " "))")
    }
    // stdin is staged in a temporary file and shown as "stdin".
    var staged: String?
    if items.contains(where: { $0.path == "-" }) {
      staged = try stdinToTemporaryFile()
    }
    defer { if let staged { unlink(staged) } }
    for (input, isModel) in items {
      if isModel {
        describeModel(input)
        continue
      }
      let path = input == "-" ? staged! : input
      let name = input == "-" ? "stdin" : input
      // A file Earshot cannot process still shows its header when libsndfile reads one.
      var problem: String?
      var info: AudioInfo?
      do {
        info = try AudioFile(path: path).info
      } catch {
        failures += 1
        problem = "\(error)".replacingOccurrences(of: path, with: name)
        info = AudioFile.header(path: path)
      }
      if let info {
        if json {
          StandardOutput.write(
            "{\"file\":\(FeatureWriter.jsonString(name)),\"container\":\(FeatureWriter.jsonString(info.container)),\"encoding\":\(FeatureWriter.jsonString(info.encoding)),\"sample_rate\":\(info.sampleRate),\"channels\":\(info.channels),\"frames\":\(info.frames),\"duration\":\(info.durationSeconds)"
              + (problem.map { ",\"error\":\(FeatureWriter.jsonString($0))" } ?? "") + "}\n"
          )
        } else {
          StandardOutput.write(String(format: "%@\t%@, %@, %d Hz, %d ch, %d frames, %.3f s\n", textField(name), info.container, info.encoding, info.sampleRate, info.channels, info.frames, info.durationSeconds))
        }
      }
      if let problem { printError("error: \(problem)") }
    }
    if failures > 0 { throw ExitCode.failure }
  }
}

private extension String {
  var isModelFile: Bool { lowercased().hasSuffix(".safetensors") }
}

/// The model files directly in `folder` (a training run's best and last), sorted; not its
/// checkpoint, which is for `train --resume`. Empty for anything but a folder.
private func modelFiles(inFolder folder: String) -> [String] {
  guard folder != "-", PathKind(folder) == .folder, let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
  return names.filter { $0.isModelFile && !$0.hasPrefix(".") && $0 != "checkpoint.safetensors" }.sorted()
    .map { URL(fileURLWithPath: folder).appendingPathComponent($0).path }
}

/// What `earshot info --model` prints: a model's outputs, networks and front ends.
struct ModelDescription {
  struct Network {
    var architecture: ModelArchitecture
    var parameters: Int
    var features: FeatureOptions
  }
  var name: String
  var path: String
  var bytes: Int
  /// "transcription" (CTC) or "classification".
  var task: String
  /// Tokens without the blank (CTC) or labels.
  var outputs: [String]
  /// What a CTC model's outputs are: "words" or "characters" (a classifier's: "labels").
  var outputKind = "labels"
  var networks: [Network]
  var testSpeeds: [Float]
  var provenance: String?

  init(named name: String) throws {
    let path = try ModelCatalog.path(for: name)
    let file = try SafeTensors(contentsOf: path)
    self.name = name
    self.path = path
    bytes = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
    // At the top of the file both for an ensemble and for a plain model (whose network
    // metadata is the file's).
    provenance = file.metadata[ModelMetadataKey.provenance]
    // A classifier carries labels; anything else is read as a CTC model (whose error is the
    // one to show when the file is neither).
    if file.metadata[ModelMetadataKey.labels] != nil {
      let m = try ClassificationModel(named: path)
      task = "classification"
      outputs = m.labels
      networks = Self.networks(m.members)
      testSpeeds = m.testSpeeds
    } else {
      let m = try TranscriptionModel(named: path)
      task = "transcription"
      let blank = m.network.architecture.blank
      outputs = m.tokens.enumerated().filter { $0.offset != blank }.map(\.element)
      outputKind = m.unit == .character ? "characters" : "words"
      networks = Self.networks(m.members)
      testSpeeds = [1]
    }
  }

  /// Each member's sizes, parameter count and front end.
  private static func networks<N: StoredModel>(_ members: [EnsembleMember<N>]) -> [Network] {
    members.map { Network(architecture: $0.network.architecture, parameters: $0.network.parameterCount, features: $0.features) }
  }

  func render(json: Bool) -> String { json ? jsonLine : text }

  private var shipped: Bool { path != name }

  var text: String {
    let mb = String(format: "%.1f MB", Double(bytes) / 1_000_000)
    var lines = ["\(textField(name))\t\(shipped ? "shipped model, " : "")\(mb)"]
    let what = task == "transcription" ? "CTC transcription, \(outputs.count) \(outputKind)" : "classification, \(outputs.count) labels"
    lines.append("  \(what): \(outputs.map { $0 == " " ? "(space)" : $0 }.joined(separator: " "))")
    let total = networks.reduce(0) { $0 + $1.parameters }
    lines.append("  " + (networks.count == 1 ? "one network" : "an ensemble of \(networks.count) networks")
      + ", \(total.formatted()) parameters"
      + (testSpeeds == [1] ? "" : "; hears each clip at speeds \(testSpeeds.map { String(format: "%g", $0) }.joined(separator: ", ")) and averages"))
    for (k, n) in networks.enumerated() {
      let a = n.architecture
      let head = a.kind == .classifier ? ", \(a.pooling.rawValue) pooling" : ""
      lines.append("  network \(k): BiLSTM \(a.numLayers) x \(a.hiddenSize)\(head), \(n.parameters.formatted()) parameters; \(Self.frontEnd(n.features))")
    }
    if let provenance {
      // Provenance can run to kilobytes of JSON (a training run's options): a line here, all of it in --json.
      let limit = 240
      lines.append("  recipe: " + (provenance.count <= limit ? provenance : provenance.prefix(limit) + "... (--json has all of it)"))
    }
    if shipped { lines.append("  file: \(path)") }
    return lines.joined(separator: "\n")
  }

  var jsonLine: String {
    func string(_ s: String) -> String { FeatureWriter.jsonString(s) }
    let nets = networks.map { n in
      "{\"layers\":\(n.architecture.numLayers),\"hidden\":\(n.architecture.hiddenSize),"
        + (n.architecture.kind == .classifier ? "\"pooling\":\(string(n.architecture.pooling.rawValue))," : "")
        + "\"parameters\":\(n.parameters),\"features\":\(n.features.json)}"
    }
    return "{\"model\":\(string(name)),\"file\":\(string(path)),\"bytes\":\(bytes),\"task\":\(string(task)),"
      + "\"\(outputKind)\":[\(outputs.map(string).joined(separator: ","))],"
      + "\"test_speeds\":[\(testSpeeds.map { String(format: "%g", $0) }.joined(separator: ","))],"
      + "\"networks\":[\(nets.joined(separator: ","))],\"provenance\":\(provenance.map(Self.expandedJSON) ?? "null")}"
  }

  /// The provenance as JSON to read, not to unescape: where the stored text is a JSON
  /// object, it is written as one, and so are its string values that hold JSON objects or
  /// arrays (a recipe's options are stored as JSON text inside it); other text as a string.
  static func expandedJSON(_ text: String) -> String {
    func parse(_ s: String) -> Any? {
      guard s.first == "{" || s.first == "[" else { return nil }
      return try? JSONSerialization.jsonObject(with: Data(s.utf8))
    }
    func expand(_ value: Any) -> Any {
      if let s = value as? String, let inner = parse(s) { return expand(inner) }
      if let d = value as? [String: Any] { return d.mapValues(expand) }
      if let a = value as? [Any] { return a.map(expand) }
      return value
    }
    guard let object = parse(text),
      let data = try? JSONSerialization.data(withJSONObject: expand(object), options: [.sortedKeys, .withoutEscapingSlashes])
    else { return FeatureWriter.jsonString(text) }
    return String(decoding: data, as: UTF8.self)
  }

  /// "log-mel, 40 bands, 16000 Hz, 25 ms windows every 10 ms, CMVN per band".
  static func frontEnd(_ f: FeatureOptions) -> String {
    let rate = Double(f.sampleRate)
    func ms(_ samples: Int) -> String { String(format: "%g ms", (Double(samples) / rate * 1000 * 10).rounded() / 10) }
    var parts: [String]
    switch f.kind {
    case .fbank:
      parts = ["Kaldi fbank, \(f.fbank.melBands) bands", "\(f.sampleRate) Hz",
               String(format: "%g ms windows every %g ms", f.fbank.frameLengthMilliseconds, f.fbank.frameShiftMilliseconds)]
    default:
      let bins: String
      switch f.kind {
      case .mfcc: bins = "MFCC, \(f.mfcc.mfccCount) coefficients"
      case .mel, .logmel: bins = "\(f.kind == .logmel ? "log-mel" : "mel"), \(f.mel.melBands) bands"
      case .pcen:
        let p = f.pcen
        let changed = p == PCENOptions() ? "" : String(format: " (gain %g, bias %g, exponent %g, time constant %g s, eps %g, input x %g)",
                                                       p.gain, p.bias, p.exponent, p.timeConstant, p.epsilon, p.inputScale)
        bins = "PCEN mel\(changed), \(f.mel.melBands) bands"
      default: bins = "\(f.kind.rawValue), \(f.spectrogram.fftSize / 2 + 1) bins"
      }
      parts = [bins, "\(f.sampleRate) Hz",
               "\(ms(f.spectrogram.resolvedWindowLength)) windows every \(ms(f.spectrogram.resolvedHopLength))"]
    }
    if f.deltas.order > 0 { parts.append("deltas to order \(f.deltas.order)") }
    let span = f.cmvn.speechSpan.map { ", statistics from the speech span (frames within \(String(format: "%g", $0.decibels)) dB of the loudest, \($0.marginFrames)-frame margins)" } ?? ""
    switch f.cmvn.mode {
    case .none: break
    case .utterance: parts.append("CMVN per band over the utterance" + span)
    case .sliding: parts.append("CMVN per band over a sliding \(f.cmvn.windowFrames)-frame window")
    case .level: parts.append("level normalisation (one mean and deviation for all bands)" + span)
    }
    return parts.joined(separator: ", ")
  }
}
