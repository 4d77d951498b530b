import ArgumentParser
import Earshot
import Foundation

struct Classify: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "classify",
    abstract: "Label audio files: speech commands or environmental sounds.",
    discussion: """
      Each file gets its --top most probable labels (default 1) with their probabilities. \
      With --window and --hop, long recordings get a timeline of labels instead (sound \
      event detection), one line or JSON object per window. On a terminal, several files \
      or one long timeline get a progress bar on stderr (audio done, speed, time left).

      Formats:
        text  FILE<TAB>label<TAB>probability[<TAB>label2:p2 ...]
              (timeline: FILE<TAB>start<TAB>end<TAB>label<TAB>probability)
        json  JSON Lines:
              {"file", "label", "confidence", "top": [{"label", "probability"}]}
              (timeline: adds "start" and "end" to each object)
              with --channel N, each object also has "channel": N after "file"

      Each clip (or window) first loses any DC offset and, if its loudest sample is under \
      -20 dBFS, is raised to that peak, so quiet recordings are heard as well as loud ones \
      (a timeline window is raised only while the loudest sample of the windows so far is \
      under -20 dBFS, so a pause after a loud sound stays quiet); a float file's clip with \
      samples past full scale is lowered to a full-scale peak (--keep-level: as recorded). \
      --speeds hears each clip (or window) at several speeds and averages the probabilities \
      (test-time augmentation: 1.1 plays it 10% faster and higher, as training's speed \
      perturbation does); each speed costs one more pass. A model can carry its own speeds \
      (`earshot ensemble --test-speeds`); the shipped commands and sounds models use 0.9,1,1.1. \
      --speeds 1 hears clips only as they are.

      Examples:
        earshot classify clip.wav --model commands
        earshot classify recordings/ --model sounds --top 3 --format json
        earshot classify street.ogg --model sounds --window 5 --hop 2.5
      """)

  @Option(help: "Model: a shipped name (commands, sounds) or a .safetensors path.")
  var model = "commands"
  @Option(help: "Show this many labels, the most probable first (the model's label count or more shows all).")
  var top = 1
  @Option(help: "Output format: text or json.")
  var format: TextOrJSON = .text
  @Option(help: "Timeline mode: window length in seconds (a last window ends at the end of the file; a file shorter than this is one window).")
  var window: Double?
  @Option(help: "Timeline mode: seconds between window starts. (default: the window length)")
  var hop: Double?
  @Option(help: "Test-time speeds, comma-separated, each 0.5-2 (e.g. 0.9,1,1.1; 1 = as recorded). (default: the model's own)")
  var speeds: String?
  @Option(help: "Files classified at once. (default: all cores)")
  var threads: Int?
  @Flag(help: "Hear each clip (or window) as recorded: keep its DC offset, and do not raise one that peaks under -20 dBFS to that peak.")
  var keepLevel = false
  @OptionGroup var channelOption: ChannelOption
  @Option(help: ArgumentHelp(precisionHelp, valueName: "int8|float32"))
  var precision: InferencePrecision = Classifier.defaultPrecision
  @Argument(help: "Audio files or directories; - reads stdin (to its end first: it is staged in a temporary file).")
  var inputs: [String]

  enum TextOrJSON: String, CaseIterable, ExpressibleByArgument { case text, json }

  /// A file longer than this, classified whole, gets a note on stderr about --window, seconds.
  static let longClipSeconds = 30.0

  func validate() throws {
    try checkStdinOnce(inputs)
    guard !inputs.isEmpty else { throw ValidationError("give at least one audio file or directory") }
    guard top >= 1 else { throw ValidationError("--top must be >= 1 (got \(top))") }
    if let threads, threads < 1 { throw ValidationError("--threads must be >= 1 (got \(threads))") }
    let longest = Classifier.longestTimelineStep
    for (option, value) in [("--window", window), ("--hop", hop)] {
      if let value, !(value > 0 && value <= longest) {
        throw ValidationError("\(option) must be in (0, \(Int(longest))] seconds (got \(value))")
      }
    }
    if hop != nil && window == nil { throw ValidationError("--hop needs --window") }
    _ = try testSpeedList(speeds, option: "--speeds")
  }

  func run() throws {
    let classifier: Classifier
    do {
      var loaded = try ClassificationModel(named: model)
      if let speeds = try testSpeedList(speeds, option: "--speeds") { loaded.testSpeeds = speeds }
      classifier = try Classifier(model: loaded, normalizesLevel: !keepLevel, precision: precision)
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
    // A window shorter than one analysis frame would be zero-padded into one: nothing to hear.
    let frameSeconds = classifier.analysisWindowSeconds
    if let window, window < frameSeconds {
      printError("error: --window \(window) s is shorter than one analysis frame of \(model) (\(String(format: "%.3f", frameSeconds)) s); "
        + "a timeline window should hold a sound, e.g. 1 s for commands, 5 s for sounds")
      throw ExitCode.validationFailure
    }
    let batch = try AudioBatch(inputs)
    let workers = threads ?? ProcessInfo.processInfo.activeProcessorCount
    useBLASThreads(workers > 1 && batch.count > 1 ? 1 : workers)
    let window = window, hop = hop ?? window, channel = channelOption.channel
    var hinted = false
    let failures = batch.run(threads: workers) { i, progress -> [Classification] in
      if let window, let hop {
        return try classifier.timeline(path: batch.paths[i], window: window, hop: hop, channel: channel, progress: progress)
      }
      let result = try classifier.classify(path: batch.paths[i], channel: channel)
      if channel == nil && result.label == "silence" { noteCancellingChannels(path: batch.paths[i], name: batch.names[i]) }
      return [result]
    } emit: { i, results in
      let text = results.map { render($0, name: batch.names[i], timeline: window != nil) }.joined()
      StandardOutput.write(text)
      if window == nil && !hinted, let r = results.first, r.end - r.start > Self.longClipSeconds {
        hinted = true
        printError("note: \(batch.names[i]) is \(String(format: "%.1f", r.end - r.start)) s long and gets one label for all of it; "
          + "--window SECONDS --hop SECONDS labels it piece by piece (a timeline), e.g. --window 5 --hop 2.5")
      }
    }
    if failures > 0 { throw ExitCode.failure }
  }

  func render(_ r: Classification, name: String, timeline: Bool) -> String {
    let runnersUp = r.ranked.dropFirst().prefix(top - 1)
    switch format {
    case .text:
      var line = timeline
        ? "\(textField(name))\t\(String(format: "%.2f", r.start))\t\(String(format: "%.2f", r.end))\t\(r.label)\t\(String(format: "%.4f", r.confidence))"
        : "\(textField(name))\t\(r.label)\t\(String(format: "%.4f", r.confidence))"
      for (label, p) in runnersUp { line += "\t\(label):\(String(format: "%.4f", p))" }
      return line + "\n"
    case .json:
      let topList = r.ranked.prefix(top).map {
        "{\"label\":\(FeatureWriter.jsonString($0.label)),\"probability\":\(String(format: "%.6f", $0.probability))}"
      }
      let times = timeline ? ",\"start\":\(String(format: "%.3f", r.start)),\"end\":\(String(format: "%.3f", r.end))" : ""
      let heard = FeatureWriter.jsonChannel(channelOption.channel)
      return "{\"file\":\(FeatureWriter.jsonString(name))\(heard)\(times),\"label\":\(FeatureWriter.jsonString(r.label)),\"confidence\":\(String(format: "%.6f", r.confidence)),\"top\":[\(topList.joined(separator: ","))]}\n"
    }
  }
}
