import Earshot
import Foundation
import TestScratch
import Testing

/// Runs the built `earshot` executable.
struct CLI {
  struct Result {
    var status: Int32
    var stdout: Data
    var stderr: String
    var text: String { String(decoding: stdout, as: UTF8.self) }
  }

  /// `earshot` sits next to the test bundle in the build folder.
  static let executable: URL = {
    let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [bundleDir.appendingPathComponent("earshot"), bundleDir.deletingLastPathComponent().appendingPathComponent("earshot")]
    where FileManager.default.isExecutableFile(atPath: candidate.path) {
      return candidate
    }
    return repository.appendingPathComponent(".build/debug/earshot")
  }()

  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let fixtures = repository.appendingPathComponent("Tests/Fixtures/features")

  /// util-linux's `script`, which runs a command on a pseudo-terminal (on every Debian).
  static let script = "/usr/bin/script"

  /// Runs a shell command line on a pseudo-terminal; returns its exit status and what it
  /// drew there (stdout and stderr not redirected by the command line).
  static func runOnTerminal(_ commandLine: String) throws -> (status: Int32, drawn: String) {
    let (status, drawn) = try capture(script, ["-qec", commandLine, "/dev/null"], stderr: false)
    return (status, drawn)
  }

  /// Runs a bash command line; returns its exit status and its stderr (stdout is dropped
  /// unless the line redirects it).
  static func runShell(_ commandLine: String) throws -> (status: Int32, stderr: String) {
    try capture("/bin/bash", ["-c", commandLine], stderr: true)
  }

  /// Runs `program arguments` with an empty stdin and returns its status and one stream:
  /// stderr (stdout dropped) or stdout (stderr inherited).
  private static func capture(_ program: String, _ arguments: [String], stderr: Bool) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let pipe = Pipe()
    if stderr {
      process.standardError = pipe
      process.standardOutput = FileHandle.nullDevice
    } else {
      process.standardOutput = pipe
    }
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
  }

  /// Runs `earshot arguments` (in `directory`, default the tests' own; `program` in place of
  /// the built `earshot`; `environment` added to the tests' own) and collects its output.
  static func run(_ arguments: [String], stdin: Data? = nil, in directory: String? = nil, program: URL? = nil,
                  environment extra: [String: String] = [:]) throws -> Result {
    let process = Process()
    process.executableURL = program ?? executable
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["COLUMNS"] = "100"
    environment.merge(extra) { _, new in new }
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    // Drain both pipes while the process runs so a large output cannot block it.
    // The semaphore orders the reader thread's write before the read below (TSan-clean).
    nonisolated(unsafe) var errData = Data()
    let errDone = DispatchSemaphore(value: 0)
    let errThread = Thread {
      errData = err.fileHandleForReading.readDataToEndOfFile()
      errDone.signal()
    }
    errThread.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    errDone.wait()
    return Result(status: process.terminationStatus, stdout: outData, stderr: String(decoding: errData, as: UTF8.self))
  }
}

/// `earshot features FILE --fft-size 512 --hop-length 160 --mel-bands 40 ARGUMENTS` written to a
/// new folder (the npy path, block by block where it can), read back.
func featuresToFolder(_ file: String, _ arguments: [String]) throws -> NumpyArray {
  let out = temporaryDirectory()
  let r = try CLI.run(["features", file, "--fft-size", "512", "--hop-length", "160", "--mel-bands", "40"]
                      + arguments + ["--output", out.path])
  #expect(r.status == 0, "\(arguments): \(r.stderr)")
  let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent + ".npy"
  return try NumpyArray(contentsOf: out.appendingPathComponent(name).path)
}

extension FeatureOptions {
  /// `featuresToFolder`'s front end in the library: 16 kHz, FFT 512, hop 160, 40 mel bands.
  static func speech512(_ kind: FeatureKind) -> FeatureOptions {
    var o = FeatureOptions(kind: kind, sampleRate: 16_000)
    o.spectrogram.fftSize = 512
    o.spectrogram.hopLength = 160
    o.mel.melBands = 40
    return o
  }
}

/// A fresh temporary directory per test (under the test process's scratch folder).
func temporaryDirectory() -> URL { Scratch.folder("cli") }

@Suite("earshot CLI, end to end")
struct CLITests {
  let audio = CLI.fixtures.appendingPathComponent("audio")

  @Test func infoPrintsOneLinePerFile() throws {
    let r = try CLI.run(["info", audio.appendingPathComponent("phrase-48000-stereo-s16.wav").path])
    #expect(r.status == 0)
    #expect(r.text.contains("48000 Hz, 2 ch, 49237 frames"), "\(r.text)")
    #expect(r.text.contains("WAV"))
    // A file cut short still shows its header; the reason is on stderr and the status is 1.
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let cut = dir.appendingPathComponent("cut.wav")
    try Data(contentsOf: audio.appendingPathComponent("phrase-48000-stereo-s16.wav")).prefix(44 + 4 * 1000).write(to: cut)
    let t = try CLI.run(["info", cut.path])
    #expect(t.status == 1 && t.text.contains("48000 Hz, 2 ch, 1000 frames") && t.stderr.contains("truncated"), "\(t.text) \(t.stderr)")
    let j = try CLI.run(["info", "--json", cut.path])
    let object = try #require(try JSONSerialization.jsonObject(with: j.stdout) as? [String: Any])
    #expect(object["frames"] as? Int == 1000 && (object["error"] as? String)?.contains("truncated") == true, "\(object)")
    // So is a compressed one, whose header states the full length.
    let cutFLAC = dir.appendingPathComponent("cut.flac")
    try Data(contentsOf: audio.appendingPathComponent("phrase-22050-mono-s16.flac")).prefix(3_000).write(to: cutFLAC)
    let f = try CLI.run(["info", cutFLAC.path])
    #expect(f.status == 1 && f.text.contains("22050 Hz, 1 ch") && f.stderr.contains("truncated"), "\(f.text) \(f.stderr)")
    // Audio files and models are described in the order given.
    let model = CLI.repository.appendingPathComponent("Sources/Earshot/Models/sounds.safetensors").path
    let clip = audio.appendingPathComponent("phrase-48000-stereo-s16.wav").path
    let mixed = try CLI.run(["info", "--json", clip, model, clip])
    let lines = mixed.text.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    #expect(mixed.status == 0 && lines.map { $0["model"] != nil } == [false, true, false], "\(mixed.text) \(mixed.stderr)")
  }

  /// `info --model` (JSON) on each shipped model: the outputs the issues name, and per network
  /// a parameter count that matches PyTorch's layout counted here (nn.LSTM: 4H x (in + H) weights
  /// and two 4H biases per direction and layer; fc over 2H, or 4H after mean-max pooling).
  @Test(arguments: ["digits", "commands", "sounds"])
  func infoDescribesAShippedModel(_ name: String) throws {
    let r = try CLI.run(["info", "--model", name, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
    let expected: [String: (task: String, key: String, outputs: Set<String>)] = [
      "digits": ("transcription", "words", ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]),
      "commands": ("classification", "labels", ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "unknown", "silence"]),
      "sounds": ("classification", "labels", ["dog_bark", "rain", "sea_waves", "baby_cry", "clock_tick", "person_sneeze",
                                               "helicopter", "chainsaw", "rooster", "fire_crackling"]),
    ]
    let e = expected[name]!
    #expect(object["task"] as? String == e.task)
    #expect(Set(object[e.key] as! [String]) == e.outputs)
    let networks = object["networks"] as! [[String: Any]]
    #expect(!networks.isEmpty)
    for n in networks {
      let features = n["features"] as! [String: Any]
      let input = (features["mel"] as! [String: Any])["melBands"] as! Int
      let h = n["hidden"] as! Int, layers = n["layers"] as! Int
      var count = 0
      for layer in 0..<layers { count += 2 * (4 * h * ((layer == 0 ? input : 2 * h) + h) + 8 * h) }
      let outputs = e.outputs.count + (e.task == "transcription" ? 1 : 0)   // CTC adds the blank
      let pooling = n["pooling"] as? String
      count += outputs * ((pooling == "mean-std-max" ? 6 : pooling == "mean-max" ? 4 : 2) * h + 1)
      if pooling == "attention" { count += 2 * h + 1 }
      #expect(n["parameters"] as? Int == count, "\(name): \(n)")
    }
    // The recipe is JSON to read: an object, and JSON text stored inside it expanded.
    let provenance = try #require(object["provenance"] as? [String: Any], "\(object["provenance"] ?? "none")")
    // The classifiers are ensembles made by their recipes: the recipe's own words on top.
    if name != "digits" { #expect(provenance["ensemble"] is String, "\(provenance)") }
    let text = try CLI.run(["info", "--model", name])
    #expect(text.status == 0 && text.text.hasPrefix(name) && text.text.contains("network 0: BiLSTM"), "\(text.text)")
    // Each network whose normalisation reads the speech span says so, whatever the mode.
    let spans = networks.filter { (($0["features"] as! [String: Any])["cmvn"] as? [String: Any])?["speechSpan"] != nil }.count
    #expect(text.text.components(separatedBy: "from the speech span").count - 1 == spans, "\(text.text)")
    if name == "digits" { #expect(spans == 3) }
  }

  /// A model file among audio inputs is described; an unknown model is an error that lists the shipped ones.
  @Test func infoTellsModelsFromAudio() throws {
    let model = CLI.repository.appendingPathComponent("Sources/Earshot/Models/sounds.safetensors").path
    let wav = audio.appendingPathComponent("phrase-48000-stereo-s16.wav").path
    let r = try CLI.run(["info", wav, model])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.text.contains("48000 Hz, 2 ch") && r.text.contains("classification, 10 labels"), "\(r.text)")
    let bad = try CLI.run(["info", "--model", "no-such-model"])
    #expect(bad.status == 1 && bad.stderr.contains("no-such-model") && bad.stderr.contains("digits"), "\(bad.stderr)")
    // A training run's folder: its models are described, not its checkpoint.
    let run = temporaryDirectory()
    try FileManager.default.copyItem(atPath: model, toPath: run.appendingPathComponent("best.safetensors").path)
    try Data("not a model".utf8).write(to: run.appendingPathComponent("checkpoint.safetensors"))
    let folder = try CLI.run(["info", run.path])
    #expect(folder.status == 0 && folder.text.hasPrefix(run.appendingPathComponent("best.safetensors").path)
            && folder.text.contains("10 labels") && !folder.text.contains("checkpoint"), "\(folder.text) \(folder.stderr)")
  }

  /// Shipped models are found in SwiftPM's resource folder beside the executable, whatever
  /// the package is called (a copied binary with its folder), or in the folder that
  /// EARSHOT_MODELS names, which then stands alone.
  @Test func modelsAreFoundBesideTheExecutableOrInEarshotModels() throws {
    let fm = FileManager.default
    let dir = temporaryDirectory()
    let binary = dir.appendingPathComponent("earshot")
    try fm.copyItem(at: CLI.executable, to: binary)
    let sounds = CLI.repository.appendingPathComponent("Sources/Earshot/Models/sounds.safetensors")
    let beside = dir.appendingPathComponent("app_Earshot.resources/Models")
    let named = dir.appendingPathComponent("models")
    for folder in [beside, named] { try fm.createDirectory(at: folder, withIntermediateDirectories: true) }
    try fm.copyItem(at: sounds, to: beside.appendingPathComponent("birds.safetensors"))
    try fm.copyItem(at: sounds, to: named.appendingPathComponent("owls.safetensors"))
    let found = try CLI.run(["info", "--model", "birds"], program: binary)
    #expect(found.status == 0 && found.text.contains("10 labels"), "\(found.stderr)")
    let environment = ["EARSHOT_MODELS": named.path]
    let owls = try CLI.run(["info", "--model", "owls"], program: binary, environment: environment)
    #expect(owls.status == 0 && owls.text.contains("10 labels"), "\(owls.stderr)")
    let birds = try CLI.run(["info", "--model", "birds"], program: binary, environment: environment)
    #expect(birds.status == 1 && birds.stderr.contains("shipped: owls"), "\(birds.stderr)")
    let none = try CLI.run(["info", "--model", "owls"], program: binary, environment: ["EARSHOT_MODELS": dir.appendingPathComponent("gone").path])
    #expect(none.status == 1 && none.stderr.contains("EARSHOT_MODELS=\(dir.path)/gone is not a folder"), "\(none.stderr)")
  }

  /// A folder among the inputs is searched recursively for audio (other files skipped), and its
  /// files are named from the folder as the user wrote it: relative stays relative.
  @Test func foldersKeepThePathsAsWritten() throws {
    let dir = temporaryDirectory()
    let clips = dir.appendingPathComponent("clips/deeper")
    try FileManager.default.createDirectory(at: clips, withIntermediateDirectories: true)
    let wav = audio.appendingPathComponent("phrase-8000-mono-s16.wav")
    try FileManager.default.copyItem(at: wav, to: dir.appendingPathComponent("clips/b.wav"))
    try FileManager.default.copyItem(at: wav, to: clips.appendingPathComponent("a.WAV"))
    try Data("notes".utf8).write(to: dir.appendingPathComponent("clips/notes.txt"))
    // Hidden files and folders are not audio to search (macOS leaves `._name.wav` shadows).
    try Data("shadow".utf8).write(to: dir.appendingPathComponent("clips/._b.wav"))
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("clips/.cache"), withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: wav, to: dir.appendingPathComponent("clips/.cache/c.wav"))
    for (folder, expected) in [("clips", ["clips/b.wav", "clips/deeper/a.WAV"]), ("clips/", ["clips/b.wav", "clips/deeper/a.WAV"])] {
      let r = try CLI.run(["info", folder], in: dir.path)
      #expect(r.status == 0, "\(r.stderr)")
      let names = r.text.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
      #expect(names == expected, "\(r.text)")
    }
    // Hidden names above the searched folder (`..`, `./`) do not hide it.
    let above = try CLI.run(["info", "../clips/"], in: clips.path + "/..")
    #expect(above.text.split(separator: "\n").map { String($0.split(separator: "\t")[0]) } == ["../clips/b.wav", "../clips/deeper/a.WAV"], "\(above.text)")
    let here = try CLI.run(["info", "."], in: clips.path)
    #expect(here.text.hasPrefix("./a.WAV\t"), "\(here.text)")
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("empty"), withIntermediateDirectories: true)
    let empty = try CLI.run(["info", "empty"], in: dir.path)
    #expect(empty.status == 1 && empty.stderr.contains("no audio files found in empty"), "\(empty.stderr)")
  }

  /// `--kind mel` with explicit sizes through the whole CLI equals librosa's fixture.
  /// More mel bands than the FFT can fill: a warning that counts the bands whose output is
  /// zero in every frame, as the written features show them.
  @Test func emptyMelBandsAreCounted() throws {
    let out = temporaryDirectory()
    let wav = audio.appendingPathComponent("phrase-8000-mono-s16.wav")
    let r = try CLI.run(["features", wav.path, "--kind", "mel", "--mel-bands", "400", "--fft-size", "256", "--output", out.path])
    #expect(r.status == 0, "\(r.stderr)")
    let m = try NumpyArray(contentsOf: out.appendingPathComponent("phrase-8000-mono-s16.npy").path)
    let bands = m.shape[1], frames = m.shape[0]
    let silent = (0..<bands).count { b in (0..<frames).allSatisfy { m.values[$0 * bands + b] == 0 } }
    #expect(silent > 0)
    #expect(r.stderr.contains("warning: \(silent) of 400 mel bands are empty at 8000 Hz with 129 FFT bins"), "\(r.stderr)")
  }

  @Test func melThroughTheCLIEqualsLibrosa() throws {
    let manifest = try JSONSerialization.jsonObject(
      with: Data(contentsOf: CLI.fixtures.appendingPathComponent("manifest.json"))) as! [String: Any]
    let cases = (manifest["cases"] as! [[String: Any]]).filter { ($0["function"] as? String) == "mel" && $0["audio"] != nil }
    #expect(cases.count >= 3)
    let audioFiles = manifest["audio_files"] as! [String: [String: Any]]
    for c in cases {
      let p = c["params"] as! [String: Any]
      let file = CLI.fixtures.appendingPathComponent(audioFiles[c["audio"] as! String]!["file"] as! String)
      let out = temporaryDirectory()
      var args = [
        "features", file.path, "--kind", "mel", "--output", out.path,
        "--fft-size", "\(p["n_fft"]!)", "--hop-length", "\(p["hop_length"]!)", "--window-length", "\(p["win_length"]!)",
        "--mel-bands", "\(p["n_mels"]!)", "--pad-mode", "\(p["pad_mode"]!)",
      ]
      if let fmax = p["fmax"] as? NSNumber { args += ["--max-frequency", "\(fmax)"] }
      let r = try CLI.run(args)
      #expect(r.status == 0 && !r.stderr.contains("warning"), "\(r.stderr)")
      let got = try NumpyArray(contentsOf: out.appendingPathComponent(file.deletingPathExtension().lastPathComponent + ".npy").path)
      let expected = try NumpyArray(contentsOf: CLI.fixtures.appendingPathComponent(c["expected"] as! String).path)
      #expect(got.shape == expected.shape)
      let scale = expected.values.map(abs).max()!
      let worst = zip(got.values, expected.values).map { abs($0 - $1) }.max()!
      #expect(worst <= 1e-3 * scale, "\(c["name"]!): max diff \(worst) vs scale \(scale)")
    }
  }

  /// A batch with bad files: good ones get output, each bad one a line naming it, exit 1.
  @Test func badFilesAreReportedAndTheBatchGoesOn() throws {
    let dir = temporaryDirectory()
    let text = dir.appendingPathComponent("notes.wav")
    try Data("not audio".utf8).write(to: text)
    let empty = dir.appendingPathComponent("empty.wav")
    try Data().write(to: empty)
    let out = dir.appendingPathComponent("out")
    let good = audio.appendingPathComponent("phrase-8000-mono-s16.wav").path
    let r = try CLI.run(["features", text.path, good, empty.path, "/no/such/file.wav", dir.path + "/", "--output", out.path, "--kind", "mfcc", "--fft-size", "256", "--hop-length", "80"])
    #expect(r.status == 1)
    let lines = r.stderr.split(separator: "\n")
    #expect(lines.contains { $0.contains("notes.wav") && $0.contains("cannot open") }, "\(r.stderr)")
    #expect(lines.contains { $0.contains("empty.wav") }, "\(r.stderr)")
    #expect(lines.contains { $0.contains("/no/such/file.wav") && $0.contains("no such file") }, "\(r.stderr)")
    let written = try FileManager.default.contentsOfDirectory(atPath: out.path)
    #expect(written.contains("phrase-8000-mono-s16.npy"))
    #expect(!written.contains { $0.hasPrefix("notes") || $0.hasPrefix("empty") || $0.contains("tmp") })
    let m = try NumpyArray(contentsOf: out.appendingPathComponent("phrase-8000-mono-s16.npy").path)
    #expect(m.shape[1] == 20)
  }

  /// On a terminal, one long file gets a progress bar in seconds of audio that ends full,
  /// and so does `evaluate` over a manifest's clips; with stderr a pipe nothing is drawn.
  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: CLI.script)))
  func progressBarsOnATerminal() throws {
    let (_, model) = try fixtureTranscriptionModel()
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var rng = SeededGenerator(seed: 5)
    var samples: [Float] = []
    while samples.count < 40 * 16_000 {
      samples += (0..<16_000).map { _ in Float.random(in: -0.5...0.5, using: &rng) }
      samples += [Float](repeating: 0, count: 8_000)
    }
    samples = Array(samples.prefix(40 * 16_000))
    let long = dir.appendingPathComponent("long.wav").path, out = dir.appendingPathComponent("out.txt").path
    try writeWAV(samples, sampleRate: 16_000, to: long)
    func drawnLines(_ arguments: String) throws -> [String] {
      let (status, drawn) = try CLI.runOnTerminal("'\(CLI.executable.path)' \(arguments) > '\(out)'")
      #expect(status == 0, "\(drawn)")
      return drawn.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).map(String.init)
    }
    let transcribing = try drawnLines("transcribe --model '\(model)' '\(long)'")
    #expect(transcribing.contains { $0.contains("[==============================]  0:40 / 0:40 audio  1/1 files") }, "\(transcribing)")
    #expect(transcribing.contains { $0.contains("x real time") })
    #expect(try String(contentsOfFile: out, encoding: .utf8).hasSuffix("\n"))
    let piped = try CLI.run(["transcribe", "--model", model, long])
    #expect(piped.status == 0 && piped.stderr.isEmpty, "\(piped.stderr)")
    // A warning printed while the bar is drawn starts its own line (a clip shorter than one
    // Kaldi frame after a long file: the bar is on the line when the warning comes).
    let short = dir.appendingPathComponent("short.wav").path
    try writeWAV([Float](repeating: 0.1, count: 100), sampleRate: 16_000, to: short)
    let features = dir.appendingPathComponent("features").path
    let (warned, drawn) = try CLI.runOnTerminal("'\(CLI.executable.path)' features --kind fbank --threads 1 --output '\(features)' '\(long)' '\(short)'")
    let segments = drawn.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).map(String.init)
    #expect(warned == 0 && segments.contains { $0.contains("shorter than one analysis frame") }, "\(drawn)")
    #expect(segments.filter { $0.contains("warning:") }.allSatisfy { $0.hasPrefix("warning:") || $0.hasPrefix("\u{1B}[Kwarning:") }, "\(segments)")

    let clip = CLI.fixtures.appendingPathComponent("audio/phrase-48000-stereo-s16.wav").path
    let manifest = dir.appendingPathComponent("m.jsonl").path
    try (0..<3).map { _ in "{\"audio\": \"\(clip)\", \"text\": \"two\"}\n" }.joined().write(toFile: manifest, atomically: true, encoding: .utf8)
    let evaluating = try drawnLines("evaluate --model '\(model)' '\(manifest)'")
    #expect(evaluating.contains { $0.contains("[==============================]") && $0.contains("3/3 clips") }, "\(evaluating)")
    #expect(try String(contentsOfFile: out, encoding: .utf8).contains("utterances: 3"))

    // stdout on the same terminal: the bar leaves the line before each result is written, so
    // no result is glued after the bar.
    let first = CLI.repository.appendingPathComponent("samples/yes.wav").path
    let copy = dir.appendingPathComponent("copy.wav").path
    try FileManager.default.copyItem(atPath: CLI.repository.appendingPathComponent("samples/phone-415-555-2368.wav").path, toPath: copy)
    let (status, shared) = try CLI.runOnTerminal("'\(CLI.executable.path)' transcribe '\(first)' '\(copy)'")
    #expect(status == 0, "\(shared)")
    #expect(shared.contains("1/2 files"), "\(shared)")
    #expect(shared.contains("\r\u{1B}[K\(copy)\t"), "\(shared.debugDescription)")
  }

  /// A failed write to stdout (a full disk) is one error line and status 1 from every
  /// subcommand, not a crash and not a quiet loss; a reader that leaves early (`| head`)
  /// ends it quietly.
  @Test func failedStdoutIsAnError() throws {
    let samples = CLI.repository.appendingPathComponent("samples").path
    let sample = samples + "/yes.wav"
    let e = "'\(CLI.executable.path)'"
    for command in ["transcribe '\(sample)'", "transcribe --format json '\(sample)'", "classify '\(sample)'",
                    "info '\(sample)'", "info --model digits", "features --output - '\(sample)'"] {
      let r = try CLI.runShell("\(e) \(command) > /dev/full")
      #expect(r.status == 1 && r.stderr.contains("error: cannot write to standard output: No space left on device")
              && !r.stderr.contains("Fatal error"), "\(command): \(r.status) \(r.stderr)")
    }
    // More than a pipe holds (64 KiB): the reader is gone before the last write. stdin is
    // staged in a temporary file, which goes too.
    let phone = samples + "/phone-415-555-2368.wav"
    let early = try CLI.runShell("\(e) features --kind stft --output - - < '\(phone)' | head -c 1 > /dev/null; exit ${PIPESTATUS[0]}")
    #expect(early.status == 141 && early.stderr.isEmpty, "\(early.status) \(early.stderr)")
    let staged = try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)
      .filter { $0.hasPrefix("earshot-stdin-") }
    for name in staged {
      // A staged file may belong to another test's live process; only a dead one's is a leak.
      let pid = Int32(name.dropFirst("earshot-stdin-".count).prefix { $0 != "-" }) ?? 0
      #expect(pid == 0 || kill(pid, 0) == 0, "left behind: \(name)")
    }
  }

  /// SIGTERM while stdin is being staged ends the command with 143 and removes the staged
  /// file; classify, which writes no files, had no handler, and the file stayed. The signal
  /// goes once the staged file exists, not after a fixed second: under the parallel suite's
  /// load a debug build can take longer than that to start, and the kill then came before any
  /// handler. The writer holds stdin open (through a FIFO) 30 s more and is then killed with
  /// SIGKILL (this test's children start with SIGTERM blocked).
  @Test func sigtermRemovesStagedStdin() throws {
    let sample = CLI.repository.appendingPathComponent("samples/yes.wav").path
    let staged = "\"${TMPDIR:-/tmp}\"/earshot-stdin-$p-*"
    let script = "f=$(mktemp -u); mkfifo \"$f\"; (cat '\(sample)'; exec sleep 30) > \"$f\" 2>/dev/null & w=$!; "
      + "'\(CLI.executable.path)' classify - < \"$f\" & p=$!; "
      + "for i in $(seq 600); do ls \(staged) >/dev/null 2>&1 && break; sleep 0.1; done; "
      + "kill -TERM $p; wait $p; s=$?; kill -KILL $w; rm -f \"$f\"; "
      + "ls \(staged) 2>/dev/null && exit 99; exit $s"
    let r = try CLI.runShell(script)
    #expect(r.status == 143 && r.stderr.contains("interrupted"), "\(r.status) \(r.stderr)")
  }

  @Test func formatsRoundTrip() throws {
    let file = audio.appendingPathComponent("phrase-16000-mono-s16.aiff").path
    let common = ["features", file, "--kind", "logmel", "--fft-size", "512", "--hop-length", "160", "--mel-bands", "40"]
    let npyOut = temporaryDirectory()
    #expect(try CLI.run(common + ["--output", npyOut.path]).status == 0)
    let npy = try NumpyArray(contentsOf: npyOut.appendingPathComponent("phrase-16000-mono-s16.npy").path)

    let csv = try CLI.run(common + ["--format", "csv", "--output", "-"])
    #expect(csv.status == 0)
    let rows = csv.text.split(separator: "\n")
    #expect(rows.count == npy.shape[0])
    let first = rows[0].split(separator: ",").map { Float(String($0))! }
    #expect(first == Array(npy.values[0..<40]))

    let json = try CLI.run(common + ["--format", "json", "--output", "-"])
    let object = try JSONSerialization.jsonObject(with: json.stdout) as! [String: Any]
    #expect(object["shape"] as? [Int] == npy.shape)
    #expect(object["sample_rate"] as? Int == 16_000)

    let arkOut = temporaryDirectory()
    #expect(try CLI.run(common + ["--format", "kaldi-ark", "--output", arkOut.path]).status == 0)
    let scp = try String(contentsOf: arkOut.appendingPathComponent("feats.scp"), encoding: .utf8)
    #expect(scp.hasPrefix("phrase-16000-mono-s16 \(arkOut.path)/feats.ark:22\n"))
    let ark = try Data(contentsOf: arkOut.appendingPathComponent("feats.ark"))
    #expect(ark[22..<27] == Data([0, 66, 70, 77, 32]))  // "\0BFM "

    let pngOut = temporaryDirectory()
    #expect(try CLI.run(common + ["--format", "png", "--output", pngOut.path]).status == 0)
    let png = try Data(contentsOf: pngOut.appendingPathComponent("phrase-16000-mono-s16.png"))
    #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
  }

  /// --cmvn-span reaches the front end: the file equals the library's features with the same
  /// span, and a span that leaves out the quiet frames changes them.
  /// `--cmvn sliding --cmvn-mean-only` is the library's sliding CMVN without the variance step.
  @Test func slidingMeanOnlyMatchesTheLibrary() throws {
    let file = audio.appendingPathComponent("phrase-16000-mono-s16.aiff").path
    let got = try featuresToFolder(file, ["--kind", "mfcc", "--cmvn", "sliding", "--cmvn-window", "50", "--cmvn-mean-only"])
    let raw = try FeatureExtractor(options: .speech512(.mfcc))(try AudioFile.loadMono(path: file).samples)
    let expected = CMVN.sliding(raw, window: 50, normalizeVariance: false)
    #expect(got.shape == [expected.frames, expected.bins])
    #expect(zip(got.values, expected.values).map { abs($0 - $1) }.max()! < 1e-5)
    let scaled = CMVN.sliding(raw, window: 50, normalizeVariance: true)
    #expect(zip(got.values, scaled.values).map { abs($0 - $1) }.max()! > 0.1)
  }

  /// `--kind pcen` is the library's PCEN with librosa's example input (magnitude mel, the
  /// default here), its flags reach the options, and `--power 2` is honoured.
  @Test func pcenMatchesTheLibrary() throws {
    let file = audio.appendingPathComponent("phrase-16000-mono-s16.aiff").path
    let samples = try AudioFile.loadMono(path: file).samples
    var o = FeatureOptions.speech512(.pcen)
    o.spectrogram.power = 1
    let plain = try featuresToFolder(file, ["--kind", "pcen"])
    let library = try FeatureExtractor(options: o)(samples)
    #expect(plain.shape == [library.frames, library.bins])
    #expect(zip(plain.values, library.values).map { abs($0 - $1) }.max()! < 1e-5)

    let tuned = try featuresToFolder(file, ["--kind", "pcen", "--pcen-gain", "0.8", "--pcen-bias", "10", "--pcen-exponent", "0.25",
                                            "--pcen-time-constant", "0.06", "--pcen-eps", "1e-5", "--pcen-scale", "32768", "--power", "2"])
    o.pcen.gain = 0.8
    o.pcen.bias = 10
    o.pcen.exponent = 0.25
    o.pcen.timeConstant = 0.06
    o.pcen.epsilon = 1e-5
    o.pcen.inputScale = 32768
    o.spectrogram.power = 2
    let tunedLibrary = try FeatureExtractor(options: o)(samples)
    #expect(zip(tuned.values, tunedLibrary.values).map { abs($0 - $1) }.max()! < 1e-5)
    #expect(zip(tuned.values, plain.values).map { abs($0 - $1) }.max()! > 0.1)
  }

  @Test func cmvnSpanMatchesTheLibrary() throws {
    let file = audio.appendingPathComponent("phrase-16000-mono-s16.aiff").path
    let common = ["--kind", "logmel", "--log", "natural", "--top-db", "0", "--cmvn", "utterance"]
    let spanned = try featuresToFolder(file, common + ["--cmvn-span", "10", "--cmvn-span-margin", "3"])
    let plain = try featuresToFolder(file, common)

    var o = FeatureOptions.speech512(.logmel)
    o.log.compression = .natural
    o.log.topDecibels = nil
    o.cmvn.mode = .utterance
    o.cmvn.speechSpan = SpeechSpan(decibels: 10, marginFrames: 3)
    let samples = try AudioFile.loadMono(path: file).samples
    let library = try FeatureExtractor(options: o)(samples)
    #expect(spanned.shape == [library.frames, library.bins])
    #expect(zip(spanned.values, library.values).map { abs($0 - $1) }.max()! < 1e-5)
    #expect(zip(spanned.values, plain.values).map { abs($0 - $1) }.max()! > 0.1)
  }

  @Test func stdinIsAccepted() throws {
    let bytes = try Data(contentsOf: audio.appendingPathComponent("phrase-8000-mono-s16.wav"))
    let r = try CLI.run(["features", "-", "--kind", "power", "--fft-size", "256", "--format", "csv", "--output", "-"], stdin: bytes)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.text.split(separator: "\n").first?.split(separator: ",").count == 129)
    let wav = audio.appendingPathComponent("phrase-8000-mono-s16.wav").path
    let several = try CLI.run(["features", wav, wav, "--format", "csv", "--output", "-"])
    #expect(several.status == 64 && several.stderr.contains("takes one file, not 2") && several.text.isEmpty, "\(several.stderr)")
    let info = try CLI.run(["info", "-"], stdin: bytes)
    #expect(info.status == 0 && info.text.hasPrefix("stdin\t") && info.text.contains("8000 Hz, 1 ch"), "\(info.text) \(info.stderr)")
    let twice = try CLI.run(["features", "-", "-", "--output", "-"], stdin: bytes)
    #expect(twice.status == 64 && twice.stderr.contains("can be given once"), "\(twice.stderr)")
    // Nothing piped in is said as such (it was libsndfile's "Format not recognised").
    for command in [["transcribe", "-"], ["classify", "-"], ["info", "-"]] {
      let empty = try CLI.run(command, stdin: Data())
      #expect(empty.status == 1 && empty.stderr.contains("stdin: empty: no audio was piped in"), "\(command): \(empty.stderr)")
    }
  }

  @Test(arguments: [
    (["features", "x.wav", "--output", "o", "--threads", "0"], "--threads must be >= 1"),
    (["features", "x.wav", "--output", "o", "--fft-size", "1", "--kind", "mel"], "--fft-size = 1 is invalid"),
    (["features", "x.wav", "--output", "o", "--kind", "mfcc", "--mfcc-count", "500"], "--mfcc-count = 500 is invalid"),
    (["features", "x.wav", "--output", "-", "--format", "png"], "--format png needs an output folder"),
    (["features", "x.wav", "--output", "o", "--sample-rate", "5"], "--sample-rate must be 1000...768000"),
    (["features", "x.wav", "--output", "o", "--kind", "fbank", "--cmvn", "utterance", "--cmvn-span", "25"],
     "cmvn.speechSpan = 25.0 dB, kind fbank is invalid; expected kind logmel or mfcc"),
    (["features", "x.wav", "--output", "o", "--kind", "logmel", "--cmvn-span", "25"],
     "cmvn.speechSpan = 25.0 dB, mode none is invalid; expected mode utterance or level"),
    (["features", "x.wav", "--output", "o", "--kind", "logmel", "--cmvn", "level", "--cmvn-span", "25", "--cmvn-span-margin=-2"],
     "cmvn.speechSpan.marginFrames = -2 is invalid"),
    // A negative number after an option is its value, not an unknown option ("Missing value").
    (["features", "x.wav", "--output", "o", "--kind", "logmel", "--cmvn", "level", "--cmvn-span", "25", "--cmvn-span-margin", "-2"],
     "cmvn.speechSpan.marginFrames = -2 is invalid"),
    (["classify", "x.wav", "--top", "0"], "--top must be >= 1 (got 0)"),
    (["features", "x.wav", "--output", "o", "--kind", "logmel", "--log", "natural", "--top-db", "30"],
     "--top-db clamps decibels; it does not apply to --log natural"),
    (["features", "x.wav", "--output", "o", "--kind", "logmel", "--cmvn-mean-only"], "--cmvn-mean-only needs --cmvn utterance, sliding or level"),
    (["transcribe", "x.wav", "--beam", "-2"], "--beam must be in 1...1000 (got -2)"),
    (["transcribe", "x.wav", "--beam", "1000000"], "--beam must be in 1...1000 (got 1000000)"),
    (["evaluate", "--model", "m", "--beam", "1001", "x.jsonl"], "--beam must be in 1...1000 (got 1001)"),
    (["train", "--train", "/tmp", "--output", "o", "--weight-decay", "-1"], "--weight-decay must be >= 0"),
    (["train", "--train", "/tmp", "--output", "o", "--learning-rate", "0.01", "--weight-decay", "100"],
     "--weight-decay must be >= 0 with --learning-rate times it under 1 (got 100.0)"),
    (["classify", "x.wav", "--window", "inf"], "--window must be in (0, 31536000] seconds (got inf)"),
    (["classify", "x.wav", "--window", "1", "--hop", "1e9"], "--hop must be in (0, 31536000] seconds"),
    (["features", "x.wav", "--output", "o", "--kind", "logmel", "--top-db", "-1"], "--top-db must be >= 0 dB"),
    (["features", "x.wav", "--output", "o", "--kind", "logmel", "--top-db", "nan"], "--top-db must be >= 0 dB"),
    // An option the kind would ignore is refused, naming what applies.
    (["features", "x.wav", "--output", "o", "--kind", "fbank", "--hop-length", "320"], "--hop-length does not apply to --kind fbank (only to every kind but fbank, whose frames are --frame-length-ms and --frame-shift-ms)"),
    (["features", "x.wav", "--output", "o", "--kind", "fbank", "--no-center"], "--center/--no-center does not apply to --kind fbank"),
    (["features", "x.wav", "--output", "o", "--kind", "mel", "--top-db", "30"], "--top-db does not apply to --kind mel (only to logmel and mfcc)"),
    (["features", "x.wav", "--output", "o", "--kind", "logmel", "--preemphasis", "0"], "--preemphasis does not apply to --kind logmel (only to fbank)"),
    (["features", "x.wav", "--output", "o", "--kind", "stft", "--mel-bands", "40"], "--mel-bands does not apply to --kind stft"),
    (["features", "x.wav", "--output", "o", "--kind", "mfcc", "--use-energy"], "--use-energy does not apply to --kind mfcc"),
    (["features", "x.wav", "--output", "o", "--kind", "fbank", "--frame-shift-ms", "0"], "--frame-shift-ms = 0.0 is invalid"),
    (["features", "x.wav", "--output", "o", "--kind", "mel", "--pcen-gain", "0.5"], "--pcen-gain does not apply to --kind mel (only to pcen)"),
    (["features", "x.wav", "--output", "o", "--kind", "pcen", "--pcen-eps", "0"], "--pcen-eps = 0.0 is invalid; expected a positive normal Float"),
    (["features", "x.wav", "--output", "o", "--kind", "pcen", "--pcen-gain", "-1"], "--pcen-gain = -1.0 is invalid; expected finite and >= 0"),
    (["features", "x.wav", "--output", "o", "--kind", "pcen", "--top-db", "30"], "--top-db does not apply to --kind pcen"),
    (["classify", "x.wav", "--speeds", "-1,2"], "speed -1.0 is outside"),
    (["help", "bogus"], "no subcommand 'bogus'; the subcommands are transcribe, classify"),
  ])
  func badArgumentsExit64(_ arguments: [String], _ message: String) throws {
    let r = try CLI.run(arguments)
    #expect(r.status == 64)
    #expect(r.stderr.contains(message), "\(r.stderr)")
  }

  /// A check that needs the inputs (made after parsing) shows the subcommand's usage too.
  @Test func lateChecksShowTheSubcommandsUsage() throws {
    let samples = CLI.repository.appendingPathComponent("samples").path
    let r = try CLI.run(["transcribe", "--format", "srt", samples + "/yes.wav", samples + "/phone-415-555-2368.wav"])
    #expect(r.status == 64 && r.stderr.contains("--format srt with several files needs --output DIR"), "\(r.stderr)")
    #expect(r.stderr.contains("Usage: earshot transcribe [") && r.stderr.contains("See 'earshot transcribe --help'"), "\(r.stderr)")
  }

  /// `--help` is API: compare with the saved text (update it when options change).
  @Test func featuresHelpMatchesSnapshot() throws {
    let r = try CLI.run(["features", "--help"])
    #expect(r.status == 0)
    let snapshot = CLI.repository.appendingPathComponent("Tests/EarshotTests/Snapshots/features-help.txt")
    let saved = try String(contentsOf: snapshot, encoding: .utf8)
    #expect(r.text == saved, "help changed; if intended, run: earshot features --help > \(snapshot.path)")
  }
}

@Suite("earshot features, streaming and names")
struct FeatureStreamingCLITests {
  /// Frame-local kinds stream to disk; the file must equal the library's whole-signal result.
  @Test(arguments: ["logmel", "fbank", "mel"])
  func streamedNpyEqualsTheLibrary(_ kind: String) throws {
    let wav = CLI.fixtures.appendingPathComponent("audio/phrase-48000-stereo-s16.wav").path
    let out = temporaryDirectory()
    // Each kind with the options it has: Kaldi frames for fbank, no log stage for mel.
    let framing = kind == "fbank" ? ["--frame-shift-ms", "20"] : ["--fft-size", "512", "--hop-length", "160"]
    let log = kind == "logmel" ? ["--log", "natural", "--top-db", "0"] : []
    let r = try CLI.run(["features", wav, "--kind", kind, "--sample-rate", "16000", "--mel-bands", "40", "--output", out.path] + framing + log)
    #expect(r.status == 0, "\(r.stderr)")
    let got = try NumpyArray(contentsOf: out.appendingPathComponent("phrase-48000-stereo-s16.npy").path)
    var options = FeatureOptions(kind: FeatureKind(rawValue: kind)!, sampleRate: 16_000)
    options.spectrogram.fftSize = 512
    options.spectrogram.hopLength = 160
    options.mel.melBands = 40
    options.fbank.melBands = 40
    options.fbank.frameShiftMilliseconds = 20
    options.log.compression = .natural
    options.log.topDecibels = nil
    let extractor = try FeatureExtractor(options: options)
    #expect(!extractor.needsWholeUtterance)
    let expected = try extractor(try AudioFile.loadMono(path: wav, sampleRate: 16_000).samples)
    #expect(got.shape == [expected.frames, expected.bins])
    #expect(got.values == expected.values)
    #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["phrase-48000-stereo-s16.npy"])
  }

  /// log-mel in dB with librosa's top_db clamp streams too (clamped in a second pass).
  /// MFCC without an utterance-level step streams to disk block by block, each block through
  /// the DCT: the file equals the library's whole-utterance result (it held the log-mel bands,
  /// uncosined, before). 8 s at 16 kHz is several read blocks.
  @Test func streamedMFCCEqualsTheLibrary() throws {
    let wav = temporaryDirectory().appendingPathComponent("chirp.wav").path
    let samples = (0..<128_000).map { i -> Float in
      let t = Float(i) / 16_000
      return 0.3 * sin(2 * .pi * (100 + 300 * t) * t) + 0.05 * sin(Float(i) * 0.37)
    }
    try writeWAV(samples, sampleRate: 16_000, encoding: .float32, to: wav)
    let got = try featuresToFolder(wav, ["--kind", "mfcc", "--log", "natural", "--mfcc-count", "13"])
    var options = FeatureOptions.speech512(.mfcc)
    options.mfcc.mfccCount = 13
    options.log.compression = .natural
    let extractor = try FeatureExtractor(options: options)
    #expect(!extractor.needsWholeUtterance)
    let expected = try extractor(samples)
    #expect(got.shape == [expected.frames, 13])
    #expect(got.values.elementsEqual(expected.values), "the streamed MFCC differ from the library's")
  }

  /// PCEN streams to disk too, its smoother carried from block to block: the file equals the
  /// library's whole-utterance PCEN bit for bit. 8 s at 16 kHz is several read blocks.
  @Test func streamedPCENEqualsTheLibrary() throws {
    let wav = temporaryDirectory().appendingPathComponent("chirp.wav").path
    let samples = (0..<128_000).map { i -> Float in
      let t = Float(i) / 16_000
      return (i / 16_000) % 2 == 0 ? 0.3 * sin(2 * .pi * (100 + 300 * t) * t) : 0.01 * sin(Float(i) * 0.37)
    }
    try writeWAV(samples, sampleRate: 16_000, encoding: .float32, to: wav)
    let got = try featuresToFolder(wav, ["--kind", "pcen", "--pcen-time-constant", "0.2"])
    var options = FeatureOptions.speech512(.pcen)
    options.spectrogram.power = 1
    options.pcen.timeConstant = 0.2
    let extractor = try FeatureExtractor(options: options)
    #expect(extractor.needsWholeUtterance && extractor.makeBlockFinalizer() != nil)
    let expected = try extractor(samples)
    #expect(got.shape == [expected.frames, expected.bins])
    #expect(got.values.elementsEqual(expected.values), "the streamed PCEN differs from the library's")
    // With deltas it needs the whole utterance: no block finalizer.
    options.deltas.order = 1
    #expect(try FeatureExtractor(options: options).makeBlockFinalizer() == nil)
  }

  @Test func streamedDecibelsWithTopDbEqualTheLibrary() throws {
    let wav = CLI.fixtures.appendingPathComponent("audio/phrase-22050-mono-s16.flac").path
    let out = temporaryDirectory()
    let r = try CLI.run(["features", wav, "--kind", "logmel", "--top-db", "30", "--fft-size", "512", "--hop-length", "128", "--output", out.path])
    #expect(r.status == 0, "\(r.stderr)")
    let got = try NumpyArray(contentsOf: out.appendingPathComponent("phrase-22050-mono-s16.npy").path)
    var options = FeatureOptions(kind: .logmel, sampleRate: 22_050)
    options.spectrogram.fftSize = 512
    options.spectrogram.hopLength = 128
    options.log.topDecibels = 30
    let extractor = try FeatureExtractor(options: options)
    #expect(extractor.streamableTopDecibels == 30)
    let expected = try extractor(try AudioFile.loadMono(path: wav).samples)
    #expect(got.shape == [expected.frames, expected.bins])
    #expect(got.values == expected.values)
    #expect(got.values.min()! == got.values.max()! - 30)
  }

  /// Speech Commands repeats file names in every label folder: a folder's files keep their
  /// sub-folders in the output names and Kaldi keys; to stdout, JSON needs no names at all.
  @Test func folderInputsKeepTheirSubfolders() throws {
    let dir = temporaryDirectory()
    let corpus = dir.appendingPathComponent("corpus")
    let source = CLI.fixtures.appendingPathComponent("audio/phrase-8000-mono-s16.wav")
    for label in ["no", "yes"] {
      try FileManager.default.createDirectory(at: corpus.appendingPathComponent(label), withIntermediateDirectories: true)
      try FileManager.default.copyItem(at: source, to: corpus.appendingPathComponent("\(label)/x y.wav"))
    }
    let out = dir.appendingPathComponent("out")
    let npy = try CLI.run(["features", corpus.path + "/", "--kind", "fbank", "--output", out.path, "--threads", "1"])
    #expect(npy.status == 0, "\(npy.stderr)")
    for label in ["no", "yes"] {
      #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("\(label)/x_y.npy").path), "\(label)")
    }
    let ark = try CLI.run(["features", corpus.path, "--kind", "fbank", "--format", "kaldi-ark", "--output", out.path])
    #expect(ark.status == 0, "\(ark.stderr)")
    let scp = try String(contentsOf: out.appendingPathComponent("feats.scp"), encoding: .utf8)
    #expect(scp.split(separator: "\n").map { $0.split(separator: " ")[0] } == ["no/x_y", "yes/x_y"], "\(scp)")
    let json = try CLI.run(["features", corpus.appendingPathComponent("no/x y.wav").path, corpus.appendingPathComponent("yes/x y.wav").path,
                            "--kind", "fbank", "--format", "json", "--output", "-"])
    #expect(json.status == 0 && json.text.split(separator: "\n").count == 2, "\(json.stderr)")
  }

  /// `--channel N` hears one side of a stereo file: transcribe, classify and features give
  /// exactly what they give for that side written as a mono file, the two sides differ, and
  /// a channel the file lacks is an error for that file alone.
  @Test func channelPicksOneSideOfAStereoFile() throws {
    let f = try StereoCall()
    let (stereo, left, right, quiet, yesRight) = (f.stereo, f.left, f.right, f.quiet, f.yesRight)
    func json(_ arguments: [String]) throws -> String {
      let r = try CLI.run(arguments)
      #expect(r.status == 0, "\(arguments): \(r.stderr)")
      // The file's name aside, the objects must be the same.
      return r.text.replacingOccurrences(of: stereo, with: "F").replacingOccurrences(of: left, with: "F")
        .replacingOccurrences(of: right, with: "F")
    }
    let one = try json(["transcribe", "--format", "json", "--channel", "1", stereo])
    let two = try json(["transcribe", "--format", "json", "--channel", "2", stereo])
    // The JSON names the channel heard (and only then); otherwise it is the mono file's.
    #expect(one.hasPrefix(#"{"file":"F","channel":1,"text""#) && two.hasPrefix(#"{"file":"F","channel":2,"#), "\(one)\n\(two)")
    #expect(one.replacingOccurrences(of: #","channel":1"#, with: "") == (try json(["transcribe", "--format", "json", left])))
    #expect(two.replacingOccurrences(of: #","channel":2"#, with: "") == (try json(["transcribe", "--format", "json", right])))
    #expect(!(try json(["transcribe", "--format", "json", stereo])).contains("channel"))
    #expect(one != two && one.contains("four one five") && two.contains("eight six seven"), "\(one)\n\(two)")
    let missing = try CLI.run(["transcribe", "--channel", "2", left, stereo])
    #expect(missing.status == 1 && missing.stderr.contains("left.wav: has 1 channel, so no channel 2"), "\(missing.stderr)")
    #expect(missing.text.contains("eight six seven"), "the other file goes on: \(missing.text)")
    let third = try CLI.run(["transcribe", "--channel", "3", stereo])
    #expect(third.status == 1 && third.stderr.contains("call.wav: has 2 channels, so no channel 3"), "\(third.stderr)")

    let heard = try CLI.run(["classify", "--format", "json", "--top", "3", "--channel", "2", quiet])
    let alone = try CLI.run(["classify", "--format", "json", "--top", "3", yesRight])
    #expect(heard.status == 0 && heard.text.contains(#""label":"yes""#), "\(heard.text) \(heard.stderr)")
    #expect(heard.text.replacingOccurrences(of: quiet, with: "F") == alone.text.replacingOccurrences(of: yesRight, with: "F")
      .replacingOccurrences(of: #""F","label""#, with: #""F","channel":2,"label""#), "\(heard.text)")
    // A timeline of the right side equals the mono file's, and not the averaged file's (the
    // average is the same clip 6 dB down: its probabilities differ).
    let timeline = try CLI.run(["classify", "--format", "json", "--window", "0.5", "--channel", "2", "--keep-level", quiet])
    let monoTimeline = try CLI.run(["classify", "--format", "json", "--window", "0.5", "--keep-level", yesRight])
    let averaged = try CLI.run(["classify", "--format", "json", "--window", "0.5", "--keep-level", quiet])
    #expect(timeline.status == 0 && timeline.text.contains(#""label":"yes""#), "\(timeline.text) \(timeline.stderr)")
    #expect(timeline.text.replacingOccurrences(of: #","channel":2"#, with: "").replacingOccurrences(of: quiet, with: "F")
      == monoTimeline.text.replacingOccurrences(of: yesRight, with: "F"))
    #expect(timeline.text.split(separator: "\n").allSatisfy { $0.contains(#","channel":2,"start""#) }, "\(timeline.text)")
    #expect(timeline.text != averaged.text)

    let fromStereo = temporaryDirectory(), fromMono = temporaryDirectory()
    for (input, out) in [(stereo, fromStereo), (right, fromMono)] {
      let extra = input == stereo ? ["--channel", "2"] : []
      let r = try CLI.run(["features", input, "--kind", "logmel", "--output", out.path] + extra)
      #expect(r.status == 0, "\(r.stderr)")
    }
    let a = try Data(contentsOf: fromStereo.appendingPathComponent("call.npy"))
    let b = try Data(contentsOf: fromMono.appendingPathComponent("right.npy"))
    #expect(a == b)
    let named = try CLI.run(["features", stereo, "--kind", "logmel", "--format", "json", "--output", "-", "--channel", "2"])
    #expect(named.status == 0 && named.text.hasPrefix(#"{"file":"\#(stereo)","channel":2,"kind""#), "\(named.text.prefix(200))")
    let zero = try CLI.run(["features", stereo, "--kind", "logmel", "--output", fromStereo.path, "--channel", "0"])
    #expect(zero.status == 64 && zero.stderr.contains("--channel must be in 1...64 (got 0)"), "\(zero.stderr)")
  }

  /// evaluate (CTC and classifier) and logits hear the side --channel names, as its mono file.
  @Test func evaluateAndLogitsHearTheChannel() throws {
    let f = try StereoCall()
    let (dir, stereo, right, quiet) = (f.dir, f.stereo, f.right, f.quiet)
    // The stereo clip with --channel 2 scores as the mono one does; with --channel 1 it is
    // the phone number, wrong against this reference.
    func wer(_ audio: String, _ extra: [String]) throws -> Double {
      let manifest = dir.appendingPathComponent("\(UUID().uuidString).jsonl").path
      try Data((#"{"audio": "\#(audio)", "text": "eight six seven five three zero nine"}"# + "\n").utf8)
        .write(to: URL(fileURLWithPath: manifest))
      let r = try CLI.run(["evaluate", "--model", "digits", "--format", "json"] + extra + [manifest])
      #expect(r.status == 0, "\(r.stderr)")
      let json = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
      return try #require(json?["wer"] as? Double)
    }
    let rightSide = try wer(stereo, ["--channel", "2"]), mono = try wer(right, []), leftSide = try wer(stereo, ["--channel", "1"])
    #expect(rightSide == mono && rightSide < 0.2 && leftSide > rightSide + 0.3, "\(rightSide) \(mono) \(leftSide)")
    let labels = dir.appendingPathComponent("yes.jsonl").path
    try Data((#"{"audio": "\#(quiet)", "label": "yes"}"# + "\n").utf8).write(to: URL(fileURLWithPath: labels))
    for (side, accuracy) in [("2", 1.0), ("1", 0.0)] {
      let r = try CLI.run(["evaluate", "--model", "commands", "--format", "json", "--channel", side, labels])
      let json = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
      #expect(json?["accuracy"] as? Double == accuracy, "--channel \(side): \(r.text) \(r.stderr)")
    }
    let logitsStereo = dir.appendingPathComponent("s.npy").path, logitsMono = dir.appendingPathComponent("m.npy").path
    for (input, out, extra) in [(stereo, logitsStereo, ["--channel", "2"]), (right, logitsMono, [])] {
      let r = try CLI.run(["logits", "--model", "digits", "--member", "0", "--audio", input, "--output", out] + extra)
      #expect(r.status == 0, "\(r.stderr)")
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: logitsStereo)) == Data(contentsOf: URL(fileURLWithPath: logitsMono)))
    let noAudio = try CLI.run(["logits", "--model", "digits", "--features", logitsMono, "--output", "-", "--channel", "1"])
    #expect(noAudio.status == 64 && noAudio.stderr.contains("--channel picks a channel of --audio"), "\(noAudio.stderr)")
  }

  /// Channels that cancel when averaged: no words (or `silence` from classify), and a note that
  /// says what to do; none for an ordinary stereo file or with --channel.
  @Test func cancellingChannelsGetANote() throws {
    let f = try StereoCall()
    let inverted = try f.write([f.sides[0], f.sides[0].map { -$0 }], "inverted.wav")
    let cancelled = try CLI.run(["transcribe", inverted])
    #expect(cancelled.status == 0 && cancelled.text == "\n", "\(cancelled.text)")
    #expect(cancelled.stderr.contains("inverted.wav: its channels cancel when averaged (the average is silence"), "\(cancelled.stderr)")
    let first = try CLI.run(["transcribe", "--channel", "1", inverted])
    #expect(first.text.contains("four one five") && !first.stderr.contains("cancel"), "\(first.text) \(first.stderr)")
    let ordinary = try CLI.run(["transcribe", f.samples.appendingPathComponent("two-zero-nine-five-44k-stereo.wav").path])
    #expect(!ordinary.stderr.contains("cancel"), "\(ordinary.stderr)")
    // classify: a whole clip heard as silence gets the same note.
    let yes = try AudioFile.loadMono(path: f.yesRight).samples
    let invertedYes = try f.write([yes, yes.map { -$0 }], "inverted-yes.wav")
    let silent = try CLI.run(["classify", invertedYes])
    #expect(silent.text.contains("silence") && silent.stderr.contains("inverted-yes.wav: its channels cancel"), "\(silent.text) \(silent.stderr)")
    let heard = try CLI.run(["classify", "--channel", "1", invertedYes])
    #expect(heard.text.contains("\tyes\t") && !heard.stderr.contains("cancel"), "\(heard.text) \(heard.stderr)")
  }

  /// What a folder's search passes over is named and fails the run: a file whose name is not
  /// valid UTF-8 (Foundation cannot open it) and a broken link, each with an audio extension;
  /// the folder's other files go on. They used to vanish without a word (exit status 0).
  @Test func folderEntriesThatCannotBeOpenedAreNamed() throws {
    let dir = temporaryDirectory()
    let sample = CLI.repository.appendingPathComponent("samples/yes.wav").path
    try FileManager.default.copyItem(atPath: sample, toPath: dir.appendingPathComponent("ok.wav").path)
    // "bad\xFF.wav": a Latin-1 byte, made with link(2) on the raw bytes.
    let raw = Array(dir.path.utf8) + Array("/bad".utf8) + [0xFF] + Array(".wav".utf8) + [0]
    let linked = raw.map { CChar(bitPattern: $0) }.withUnsafeBufferPointer { link(sample, $0.baseAddress!) }
    try #require(linked == 0)
    try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("gone.wav").path, withDestinationPath: "/nonexistent.wav")
    for command in [["transcribe"], ["classify"], ["info"], ["features", "--output", "-"]] {
      let r = try CLI.run(command + [dir.path])
      #expect(r.status == 1, "\(command): \(r.status) \(r.stderr)")
      #expect(r.stderr.contains("its name is not valid UTF-8") && r.stderr.contains("gone.wav: left out: it cannot be opened"), "\(command): \(r.stderr)")
      #expect(!r.stdout.isEmpty, "\(command): ok.wav goes on")
    }
  }

  /// A file named directly whose name is not valid UTF-8 is refused as such, naming the
  /// argument (it reached the reader with U+FFFD in it and failed as "no such file").
  @Test func argumentsThatAreNotUTF8AreNamed() throws {
    let exe = CLI.executable.path
    for command in ["transcribe", "classify", "info", "features --output -"] {
      let r = try CLI.runShell("'\(exe)' \(command) \"$(printf 'caf\\351.wav')\"")
      #expect(r.status == 64, "\(command): \(r.status) \(r.stderr)")
      #expect(r.stderr.contains("Error: argument ") && r.stderr.contains("('caf\u{FFFD}.wav', U+FFFD") && r.stderr.contains("is not valid UTF-8"), "\(command): \(r.stderr)")
    }
  }

  /// A tab or newline in a file name is written as \t or \n in the tab-separated text lines,
  /// so each file is still one line of the same columns (it added a column or split a line).
  @Test func oddNamesKeepTextLinesWhole() throws {
    let dir = temporaryDirectory()
    let sample = CLI.repository.appendingPathComponent("samples/yes.wav").path
    for name in ["a\tb.wav", "c\nd.wav"] {
      try FileManager.default.copyItem(atPath: sample, toPath: dir.appendingPathComponent(name).path)
    }
    for (command, columns) in [(["classify"], 3), (["info"], 2), (["transcribe"], 2)] {
      let r = try CLI.run(command + [dir.path])
      let lines = r.text.split(separator: "\n")
      #expect(r.status == 0 && lines.count == 2, "\(command): \(r.text)")
      #expect(lines.allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false).count == columns }, "\(command): \(r.text)")
      #expect(r.text.contains("a\\tb.wav") && r.text.contains("c\\nd.wav"), "\(command): \(r.text)")
    }
  }

  /// A clip shorter than one Kaldi frame gets no frames, and a warning saying why.
  @Test func clipShorterThanAFrameIsNamed() throws {
    let short = temporaryDirectory().appendingPathComponent("short.wav").path
    try writeWAV([Float](repeating: 0.1, count: 160), sampleRate: 16_000, to: short)
    let r = try CLI.run(["features", short, "--kind", "fbank", "--format", "json", "--output", "-"])
    #expect(r.status == 0 && r.text.contains("\"shape\":[0,23]"), "\(r.text)")
    #expect(r.stderr.contains("160 samples at 16000 Hz is shorter than one analysis frame (400 samples): no frames"), "\(r.stderr)")
  }

  /// Files at several rates give bins over different bands: said once, unless --sample-rate.
  @Test func mixedRatesAreNamed() throws {
    let files = ["phrase-8000-mono-s16.wav", "phrase-16000-mono-s16.aiff", "phrase-22050-mono-s16.flac"].map { CLI.fixtures.appendingPathComponent("audio/" + $0).path }
    let mixed = try CLI.run(["features", "--kind", "fbank", "--format", "kaldi-ark", "--output", "-"] + files)
    #expect(mixed.status == 0 && mixed.stderr.components(separatedBy: "several sample rates").count == 2, "\(mixed.stderr)")
    let one = try CLI.run(["features", "--kind", "fbank", "--format", "kaldi-ark", "--output", "-", "--sample-rate", "16000"] + files)
    #expect(one.status == 0 && one.stderr.isEmpty, "\(one.stderr)")
    // One rate whose front end cannot be built (a frame shift under one sample at 8 kHz) is
    // still one rate.
    let eight = [files[0], files[0]]
    let failed = try CLI.run(["features", "--kind", "fbank", "--frame-shift-ms", "0.07", "--format", "json", "--output", "-"] + eight)
    #expect(failed.status == 1 && !failed.stderr.contains("several sample rates"), "\(failed.stderr)")
  }

  /// Without --sample-rate, band edges are checked against each file's own rate: 9 kHz fits
  /// 22.05 kHz audio (it was refused against a nominal 16 kHz), an 8 kHz file is refused on
  /// its own, by flag; an edge no rate allows is refused before any file is read.
  @Test func bandEdgesFitEachFilesRate() throws {
    let files = ["phrase-22050-mono-s16.flac", "phrase-8000-mono-s16.wav"].map { CLI.fixtures.appendingPathComponent("audio/" + $0).path }
    for kind in ["mel", "fbank"] {
      let r = try CLI.run(["features", "--kind", kind, "--min-frequency", "9000", "--format", "json", "--output", "-"] + files)
      #expect(r.status == 1 && r.text.split(separator: "\n").count == 1, "\(kind): \(r.stderr)")
      #expect(r.stderr.contains("phrase-8000-mono-s16.wav: at 8000 Hz, --min-frequency"), "\(kind): \(r.stderr)")
    }
    let never = try CLI.run(["features", "--kind", "mel", "--max-frequency", "500000", "--output", "-"] + files)
    #expect(never.status == 64 && never.stderr.contains("--max-frequency = 500000.0 is invalid"), "\(never.stderr)")
  }

  @Test func sameBaseNameTwiceFailsTheSecondOnly() throws {
    let dir = temporaryDirectory()
    let a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b")
    try FileManager.default.createDirectory(at: a, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: b, withIntermediateDirectories: true)
    let source = CLI.fixtures.appendingPathComponent("audio/phrase-8000-mono-s16.wav")
    try FileManager.default.copyItem(at: source, to: a.appendingPathComponent("x.wav"))
    try FileManager.default.copyItem(at: source, to: b.appendingPathComponent("x.wav"))
    let out = dir.appendingPathComponent("out")
    let r = try CLI.run(["features", a.appendingPathComponent("x.wav").path, b.appendingPathComponent("x.wav").path, "--output", out.path])
    #expect(r.status == 1)
    #expect(r.stderr.contains("output name 'x' is already taken by \(a.appendingPathComponent("x.wav").path)"), "\(r.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["x.npy"])
  }
}

@Suite("Interrupting a batch")
struct InterruptTests {
  /// Ctrl-C part-way through: exit 130 (or 0 if it had already finished), no temporary files,
  /// every output present is complete.
  @Test func sigintLeavesOnlyCompleteFiles() throws {
    let dir = temporaryDirectory()
    let inputs = dir.appendingPathComponent("in")
    try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
    let tone = (0..<8_000).map { Float(sin(Double($0) * 0.2)) * 0.3 }
    for i in 0..<400 { try writeWAV(tone, sampleRate: 8_000, to: inputs.appendingPathComponent("c\(i).wav").path) }
    let out = dir.appendingPathComponent("out")
    let process = Process()
    process.executableURL = CLI.executable
    process.arguments = ["features", inputs.path, "--kind", "mfcc", "--threads", "1", "--output", out.path]
    process.standardError = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    usleep(400_000)
    process.interrupt()
    process.waitUntilExit()
    #expect([130, 0].contains(process.terminationStatus), "exit status \(process.terminationStatus)")
    let written = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
    #expect(!written.contains { $0.contains(".tmp-") }, "temporary files left: \(written.filter { $0.contains(".tmp-") })")
    for name in written {
      let array = try NumpyArray(contentsOf: out.appendingPathComponent(name).path)
      #expect(array.shape[1] == 20, "\(name)")
    }
  }
}

/// A stereo "call" made from the samples: the phone number on the left, another number on the
/// right (both as long as the file), each side also as a mono file; and "yes" on the right
/// of a file whose left is silent.
struct StereoCall {
  let dir = temporaryDirectory()
  let samples = CLI.repository.appendingPathComponent("samples")
  let sides: [[Float]]
  let stereo: String, left: String, right: String
  let quiet: String, yesRight: String

  init() throws {
    func load(_ name: String) throws -> [Float] {
      try AudioFile.loadMono(path: CLI.repository.appendingPathComponent("samples/\(name)").path, sampleRate: 16_000).samples
    }
    let phone = try load("phone-415-555-2368.wav"), other = try load("eight-six-seven-five-three-zero-nine-8k.wav")
    let yes = try load("yes.wav")
    let frames = max(phone.count, other.count)
    sides = [phone, other].map { $0 + [Float](repeating: 0, count: frames - $0.count) }
    stereo = try Self.write(sides, dir.appendingPathComponent("call.wav").path)
    left = try Self.write([sides[0]], dir.appendingPathComponent("left.wav").path)
    right = try Self.write([sides[1]], dir.appendingPathComponent("right.wav").path)
    quiet = try Self.write([[Float](repeating: 0, count: yes.count), yes], dir.appendingPathComponent("yes-right.wav").path)
    yesRight = try Self.write([yes], dir.appendingPathComponent("yes-mono.wav").path)
  }

  /// Writes equal-length channels as a float WAV at 16 kHz in the fixture's folder.
  func write(_ channels: [[Float]], _ name: String) throws -> String {
    try Self.write(channels, dir.appendingPathComponent(name).path)
  }

  static func write(_ channels: [[Float]], _ path: String) throws -> String {
    try writeWAV((0..<channels[0].count).flatMap { f in channels.map { $0[f] } }, sampleRate: 16_000,
                 channels: channels.count, encoding: .float32, to: path)
    return path
  }
}
