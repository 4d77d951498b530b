import ArgumentParser
import Earshot
import Foundation

/// Output formats of `earshot transcribe`.
enum TranscriptFormat: String, CaseIterable, ExpressibleByArgument {
  case text, json, srt, vtt
}

struct Transcribe: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "transcribe",
    abstract: "Transcribe audio files to text.",
    discussion: """
      Reads any format libsndfile reads, at any rate from 1 to 768 kHz and up to 64 channels \
      (the channels averaged, or one taken with --channel, and resampled to the model's rate). Long \
      recordings are cut at pauses and decoded piece by piece in bounded memory; times are \
      in seconds of the file. A large DC offset is \
      removed and each stretch of speech is scaled so its loudest sample is at -0.1 dBFS \
      before its features, so quiet recordings are heard as well as loud ones (--keep-level: \
      as recorded). On a terminal, several files or one long one get a progress bar on \
      stderr: audio done, speed (x real time) and time left.

      Formats:
        text  the transcript; with several files or a folder, "FILE<TAB>transcript" per line
        json  JSON Lines, one object per file:
              {"file", "text", "duration",
               "words": [{"word", "start", "end", "confidence"}]}
              with --channel N, also "channel": N after "file"
              with --nbest N, also "alternatives": [{"text", "log_probability"}],
              the N best whole-file transcripts, best first (the first is "text")
        srt, vtt  subtitles (one cue per pause-separated group of words); with
              several files, give --output DIR to get one file each

      Examples:
        earshot transcribe samples/phone-415-555-2368.wav
        earshot transcribe calls/ --format json > calls.jsonl
        earshot transcribe talk.flac --format srt --output subtitles/
        earshot transcribe call.wav --format json --nbest 5
      """)

  @Option(help: "Model: a shipped transcription model (digits) or a .safetensors path.")
  var model = "digits"
  @Option(help: "Beam width of the CTC prefix search (1 = greedy).")
  var beam = 8
  @Option(help: "Only produce these words (comma-separated).")
  var vocabulary: String?
  @Option(help: "With --format json: also list this many best whole-file transcripts (the beam is at least as wide).")
  var nbest = 1
  @Option(help: "Output format: text, json, srt or vtt.")
  var format: TranscriptFormat = .text
  @Option(help: "Write one file per input into this folder (made if missing) instead of stdout, named after the input (a folder's files keep their sub-folders: clips/yes/a.wav gives DIR/yes/a.txt); - is stdout.")
  var output: String?

  /// The --output folder; nil for stdout (no --output, or -).
  var folder: String? { output == "-" ? nil : output }
  @Option(help: "Files transcribed at once. (default: all cores)")
  var threads: Int?
  @OptionGroup var speech: SpeechDetectionOptions
  @OptionGroup var channelOption: ChannelOption
  @Option(help: ArgumentHelp(precisionHelp, valueName: "int8|float32"))
  var precision: InferencePrecision = TranscriptionOptions().precision
  @Argument(help: "Audio files or directories; - reads stdin (to its end first: it is staged in a temporary file).")
  var inputs: [String]

  func validate() throws {
    try checkStdinOnce(inputs)
    guard !inputs.isEmpty else { throw ValidationError("give at least one audio file or directory") }
    try checkBeam(beam)
    guard (1...100).contains(nbest) else { throw ValidationError("--nbest must be in 1...100 (got \(nbest))") }
    if nbest > 1 && format != .json { throw ValidationError("--nbest lists alternatives in --format json only") }
    if let threads, threads < 1 { throw ValidationError("--threads must be >= 1 (got \(threads))") }
    _ = try vocabularyWords(vocabulary)
    if let folder, PathKind(folder) == .missing,
      ["txt", "json", "jsonl", "srt", "vtt"].contains(URL(fileURLWithPath: folder).pathExtension.lowercased()) {
      throw ValidationError("--output names a folder that gets one file per input; \(folder) looks like a file name: "
        + "leave --output out and redirect stdout (> \(folder)), or name a folder")
    }
  }

  func run() throws {
    let transcriber: Transcriber
    do {
      var options = TranscriptionOptions()
      options.beamWidth = beam
      options.nBest = nbest
      speech.apply(to: &options)
      options.channel = channelOption.channel
      options.precision = precision
      options.vocabulary = try vocabularyWords(vocabulary)
      transcriber = try Transcriber(model: TranscriptionModel(named: model), options: options)
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
    let batch = try AudioBatch(inputs)
    if (format == .srt || format == .vtt) && batch.count > 1 && folder == nil {
      throw ValidationError("--format \(format.rawValue) with several files needs --output DIR")
    }
    if let folder { try createOutputFolder(folder) }
    let outputNames = outputNames(batch)
    InterruptCleanup.install(outputFolder: folder)
    let workers = threads ?? ProcessInfo.processInfo.activeProcessorCount
    // Files run in parallel; each network call then uses one BLAS thread.
    useBLASThreads(workers > 1 && batch.count > 1 ? 1 : workers)
    // Text lines name their file when there are several, or the files came from a folder.
    let named = batch.count > 1 || inputs.contains { $0 != "-" && PathKind($0) == .folder }
    let averaged = channelOption.channel == nil
    let failures = batch.run(threads: workers) { i, progress in
      if folder != nil { _ = try outputNames[i].get() }
      let transcript = try transcriber.transcribe(path: batch.paths[i], progress: progress)
      if averaged && transcript.words.isEmpty { noteCancellingChannels(path: batch.paths[i], name: batch.names[i]) }
      return transcript
    } emit: { i, transcript in
      let rendered = render(transcript, name: batch.names[i], several: named)
      if let output = folder {
        let base = try outputNames[i].get()
        let suffix = format == .text ? "txt" : format.rawValue
        try writeAtomically(Data(rendered.utf8), to: try outputFile(in: output, name: base, suffix: suffix))
      } else {
        StandardOutput.write(rendered)
      }
    }
    if failures > 0 { throw ExitCode.failure }
  }

  func render(_ t: Transcript, name: String, several: Bool) -> String {
    switch format {
    case .text:
      return several && folder == nil ? "\(textField(name))\t\(t.text)\n" : t.text + "\n"
    case .json:
      return TranscriptWriter.jsonLine(t, file: name, channel: channelOption.channel, alternatives: nbest > 1)
    case .srt:
      return TranscriptWriter.subtitles(t, webVTT: false)
    case .vtt:
      return TranscriptWriter.subtitles(t, webVTT: true)
    }
  }
}
