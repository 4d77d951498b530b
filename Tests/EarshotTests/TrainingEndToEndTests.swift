import Earshot
import Foundation
import TestScratch
import Testing

/// A synthetic two-word language at 8 kHz: "low" is a 500 Hz tone, "high" a 2 kHz tone;
/// utterances of 1-2 words with faint noise and silences of varying length around them.
enum ToneCorpus {
  static let rate = 8000

  static func utterance(_ words: [String], _ g: inout SeededGenerator) -> [Float] {
    func silence() -> [Float] { (0..<(400 + Int(g.next() % 400))).map { _ in 0.005 * g.normal() } }
    var x = silence()
    for w in words {
      let f: Double = w == "low" ? 500 : 2000
      let n = 1200 + Int(g.next() % 400)
      let phase = Double(g.nextUnitFloat()) * 6.28
      x += (0..<n).map { i in 0.4 * Float(sin(2 * Double.pi * f * Double(i) / Double(rate) + phase)) + 0.005 * g.normal() }
      x += silence()
    }
    return x
  }

  /// Writes `count` clips and a manifest; returns the manifest path.
  static func write(count: Int, seed: UInt64, to dir: URL, name: String) throws -> String {
    var g = SeededGenerator(seed: seed)
    try FileManager.default.createDirectory(at: dir.appendingPathComponent(name), withIntermediateDirectories: true)
    var lines: [String] = []
    for i in 0..<count {
      let words = (0..<(1 + Int(g.next() % 2))).map { _ in g.next() % 2 == 0 ? "low" : "high" }
      let file = "\(name)/\(i).wav"
      try writeWAV(utterance(words, &g), sampleRate: rate, to: dir.appendingPathComponent(file).path)
      lines.append("{\"audio\": \"\(file)\", \"text\": \"\(words.joined(separator: " "))\", \"speaker\": \"s\(i % 3)\"}")
    }
    let manifest = dir.appendingPathComponent("\(name).jsonl")
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: manifest)
    return manifest.path
  }

  /// A background-noise folder with one white-noise clip.
  static func noiseFolder(in dir: URL) throws -> String {
    let folder = dir.appendingPathComponent("noise")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var g = SeededGenerator(seed: 77)
    try writeWAV((0..<8000).map { _ in 0.1 * g.normal() }, sampleRate: rate, to: folder.appendingPathComponent("white.wav").path)
    return folder.path
  }

  /// Small and fast options for a debug build.
  static var options: CTCTrainingOptions {
    var o = CTCTrainingOptions()
    o.features = FeatureOptions.speechLogMel(sampleRate: rate, melBands: 16)
    o.features.cmvn.mode = .utterance
    o.hiddenSize = 16
    o.layers = 1
    o.dropout = 0
    o.batchSize = 8
    o.learningRate = 0.02
    o.epochs = 30
    o.augmentation.timeMasks = 1
    o.augmentation.maximumTimeMaskFrames = 4
    o.augmentation.frequencyMasks = 1
    o.augmentation.maximumFrequencyMaskBins = 2
    return o
  }
}

func trainingTemporaryDirectory() -> URL { Scratch.folder("train") }

@Suite(.serialized) struct TrainingEndToEndTests {
  /// Trains a 1 x 16 BiLSTM on 48 tone utterances for 30 epochs (180 steps) with every
  /// augmentation on, then scores 20 new utterances.
  @Test func learnsTheToneLanguage() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 48, seed: 1, to: dir, name: "train")
    let valid = try ToneCorpus.write(count: 20, seed: 2, to: dir, name: "valid")
    var options = ToneCorpus.options
    options.augmentation.noiseFolder = try ToneCorpus.noiseFolder(in: dir)
    let trainer = try CTCTrainer(options: options, training: try Manifest.load(train),
                                 validation: try Manifest.load(valid), threads: 2)
    #expect(trainer.tokenizer.tokens == ["<blank>", "high", "low"])
    #expect(trainer.trainingCount == 48 && trainer.validationCount == 20 && trainer.skipped.isEmpty)
    let output = dir.appendingPathComponent("run").path
    let summary = try trainer.train(output: output)
    let first = summary.log.first!.trainLoss, last = summary.log.last!.trainLoss
    // The epoch-mean CTC loss falls at least 10-fold (seed 0 gives about 26 -> 0.3).
    #expect(last * 10 < first, "loss \(first) -> \(last): \(summary.log.map(\.trainLoss))")
    #expect(summary.epochs == 30 && summary.log.count == 30)
    #expect(summary.bestWER != nil && summary.bestWER! <= 0.05, "\(summary.log.map { $0.validWER ?? -1 })")
    // The shipped file loads as a TranscriptionModel and scores at least 90% of new utterances right.
    let model = try TranscriptionModel(named: summary.bestModel)
    #expect(model.tokens == ["<blank>", "high", "low"] && model.unit == .word)
    #expect(model.features == options.features)
    let (report, failures) = try TranscriptionEvaluator(model: model, threads: 2).evaluate(try Manifest.load(valid))
    #expect(failures.isEmpty)
    #expect(report.utteranceAccuracy >= 0.9, "\(report.text)")
    // log.jsonl holds one JSON object per epoch.
    let log = try String(contentsOfFile: output + "/log.jsonl", encoding: .utf8).split(separator: "\n")
    #expect(log.count == 30)
    #expect(log.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] })
    // snake_case keys, as every JSON Earshot writes.
    let epoch1 = try JSONSerialization.jsonObject(with: Data(log[0].utf8)) as! [String: Any]
    #expect(epoch1["train_loss"] is Double && epoch1["valid_wer"] is Double && epoch1["utterances_per_second"] is Double, "\(epoch1.keys)")
    for f in ["best.safetensors", "last.safetensors", "checkpoint.safetensors"] {
      #expect(FileManager.default.fileExists(atPath: output + "/" + f), "\(f)")
    }
    // The checkpoint is for --resume; loaded as a model it says which files are models.
    #expect(throws: PipelineError.trainingCheckpoint(path: output + "/checkpoint.safetensors")) {
      try TranscriptionModel(named: output + "/checkpoint.safetensors")
    }
    // Starting again into the same folder without --resume is refused.
    #expect(throws: TrainingError.runExists(output: output, file: "checkpoint.safetensors")) { try trainer.train(output: output) }
    // A finished run whose checkpoint was deleted (to save space) is not overwritten either.
    try FileManager.default.removeItem(atPath: output + "/checkpoint.safetensors")
    #expect(throws: TrainingError.runExists(output: output, file: "best.safetensors")) { try trainer.train(output: output) }
  }

  /// 2 epochs in one go equal 1 epoch + resume, and a stop in the middle of an epoch + resume.
  @Test func resumeGivesTheSameParameters() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 20, seed: 5, to: dir, name: "train")
    let valid = try ToneCorpus.write(count: 6, seed: 6, to: dir, name: "valid")
    var options = ToneCorpus.options
    options.epochs = 2
    options.dropout = 0.2
    options.layers = 2
    options.hiddenSize = 8
    options.augmentation.noiseFolder = try ToneCorpus.noiseFolder(in: dir)
    func trainer() throws -> CTCTrainer {
      try CTCTrainer(options: options, training: try Manifest.load(train), validation: try Manifest.load(valid), threads: 2)
    }
    let whole = try trainer().train(output: dir.appendingPathComponent("whole").path)
    #expect(whole.steps == 6 && !whole.stoppedEarly)
    // A finished run cannot be resumed to fewer epochs than it has.
    options.epochs = 1
    #expect {
      _ = try trainer().train(output: dir.appendingPathComponent("whole").path, resume: true)
    } throws: { "\($0)".contains("it has finished 2 epochs; --epochs must be at least that (got 1)") }
    options.epochs = 2

    let split = dir.appendingPathComponent("split").path
    let half = try trainer().train(output: split, maxSteps: 3)
    #expect(half.stoppedEarly && half.epochs == 1 && half.steps == 3)
    let rest = try trainer().train(output: split, resume: true)
    #expect(rest.steps == 6 && rest.epochs == 2)

    let middle = dir.appendingPathComponent("middle").path
    let part = try trainer().train(output: middle, maxSteps: 2)
    #expect(part.stoppedEarly && part.epochs == 0 && part.steps == 2)
    let end = try trainer().train(output: middle, resume: true)

    for (name, other) in [("1 epoch + resume", rest.network), ("2 steps + resume", end.network)] {
      for p in whole.network.namedParameters {
        #expect(whole.network[keyPath: p.path].data == other[keyPath: p.path].data, "\(name): \(p.name)")
      }
    }
    #expect(rest.log.map(\.trainLoss) == whole.log.map(\.trainLoss))
    #expect(end.log.map(\.validWER) == whole.log.map(\.validWER))
    // Resuming with other options is refused, naming the difference (not --epochs, which
    // may change).
    options.hiddenSize = 9
    options.epochs += 3
    do {
      _ = try trainer().train(output: middle, resume: true)
      Issue.record("resumed with another hidden size")
    } catch {
      #expect("\(error)".contains("hiddenSize was 8, now 9") && !"\(error)".contains("epochs was"), "\(error)")
    }
    // Resuming on other data is refused: without the validation set (its epochs would all be
    // "best"), or with the validation clips as training clips.
    options.hiddenSize = 8
    for (training, validation, name) in [(train, nil, "no validation"), (valid, train, "sets swapped")] {
      do {
        _ = try CTCTrainer(options: options, training: try Manifest.load(training),
                           validation: try validation.map { try Manifest.load($0) }, threads: 2)
          .train(output: middle, resume: true)
        Issue.record("resumed on other data: \(name)")
      } catch {
        #expect("\(error)".contains("trained on other data (20 training and 6 validation clips"), "\(name): \(error)")
      }
    }
  }

  /// An absurd learning rate makes the loss non-finite: a clear error, and the checkpoint
  /// of the last good state stays.
  @Test func divergenceStopsWithAClearError() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 16, seed: 8, to: dir, name: "train")
    var options = ToneCorpus.options
    options.learningRate = 1e38
    options.warmupFraction = 0
    options.maxGradientNorm = 1e30
    options.checkpointInterval = 1
    options.augmentation = .none
    let trainer = try CTCTrainer(options: options, training: try Manifest.load(train), threads: 2)
    let output = dir.appendingPathComponent("run").path
    do {
      try trainer.train(output: output)
      Issue.record("training with learning rate 1e38 did not diverge")
    } catch let error as TrainingError {
      guard case let .nonFiniteLoss(_, step, _, checkpoint) = error else { Issue.record("\(error)"); return }
      #expect(step >= 1)
      #expect(checkpoint == output + "/checkpoint.safetensors")
      #expect(error.description.contains("diverged"))
      #expect(FileManager.default.fileExists(atPath: output + "/checkpoint.safetensors"))
    }
  }

  /// Recordings without speech (`"text": ""`) teach the network to stay silent: a 1 kHz hum,
  /// between the two "words" (500 Hz and 2 kHz) and never named, is trained as empty. New hum
  /// clips must then give no words while new tone utterances are still transcribed; strings
  /// are never built from the hum clips.
  @Test func emptyTextsTeachSilence() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    // hum(count, seed, name): clips of 0.2-0.4 s of 1 kHz between faint noise, with empty texts.
    func hum(_ count: Int, seed: UInt64, name: String) throws -> [ManifestEntry] {
      var g = SeededGenerator(seed: seed)
      try FileManager.default.createDirectory(at: dir.appendingPathComponent(name), withIntermediateDirectories: true)
      let lines = try (0..<count).map { i -> String in
        let n = 1600 + Int(g.next() % 1600)
        let pad = (0..<600).map { _ in 0.005 * g.normal() }
        let tone = (0..<n).map { j in 0.4 * Float(sin(2 * Double.pi * 1000 * Double(j) / 8000)) + 0.005 * g.normal() }
        try writeWAV(pad + tone + pad, sampleRate: ToneCorpus.rate, to: dir.appendingPathComponent("\(name)/\(i).wav").path)
        return "{\"audio\": \"\(name)/\(i).wav\", \"text\": \"\", \"speaker\": \"s\(i % 3)\"}"
      }
      let manifest = dir.appendingPathComponent("\(name).jsonl")
      try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: manifest)
      return try Manifest.load(manifest.path)
    }
    let tones = try Manifest.load(try ToneCorpus.write(count: 48, seed: 1, to: dir, name: "train"))
    let training = tones + (try hum(24, seed: 3, name: "hum"))
    #expect(training.suffix(24).allSatisfy { $0.text.isEmpty })
    var options = ToneCorpus.options
    options.augmentation.connectedStrings = 8
    let trainer = try CTCTrainer(options: options, training: training, threads: 2)
    #expect(trainer.tokenizer.tokens == ["<blank>", "high", "low"])
    #expect(trainer.trainingCount == 80 && trainer.connectedCount == 8)
    let summary = try trainer.train(output: dir.appendingPathComponent("run").path)
    let model = try TranscriptionModel(named: summary.lastModel)
    let evaluator = TranscriptionEvaluator(model: model, threads: 2)
    let (silent, _) = try evaluator.evaluate(try hum(10, seed: 4, name: "hum-new"))
    #expect(silent.words.insertions == 0 && silent.correctUtterances == 10, "\(silent.text)")
    let (spoken, _) = try evaluator.evaluate(try Manifest.load(try ToneCorpus.write(count: 20, seed: 2, to: dir, name: "valid")))
    #expect(spoken.utteranceAccuracy >= 0.9, "\(spoken.text)")

    let onlyHum = dir.appendingPathComponent("only-hum.jsonl")
    try Data("{\"audio\": \"hum/0.wav\", \"text\": \"\"}\n".utf8).write(to: onlyHum)
    #expect(throws: TrainingError.emptyDataset(path: "training set", reason: "no words: every \"text\" is empty")) {
      _ = try CTCTrainer(options: options, training: try Manifest.load(onlyHum.path), threads: 1)
    }
  }
}

/// `earshot train` and `earshot evaluate` through the built binary.
@Suite struct TrainingCLITests {
  @Test func badArgumentsExit64() throws {
    let r = try CLI.run(["train", "--task", "ctc", "--train", "/nonexistent.jsonl", "--output", "/tmp/x"])
    #expect(r.status == 64, "\(r.stderr)")
    #expect(r.stderr.contains("--train /nonexistent.jsonl"))
    let e = try CLI.run(["train", "--task", "bogus", "--train", "/nonexistent.jsonl", "--output", "/tmp/x"])
    #expect(e.status == 64 && e.stderr.contains("bogus"), "\(e.stderr)")
    let b = try CLI.run(["evaluate", "--model", "m", "--beam", "0", "x.jsonl"])
    #expect(b.status == 64 && b.stderr.contains("--beam must be in 1...1000"))
    let h = try CLI.run(["train", "--help"])
    #expect(h.status == 0 && h.text.contains("--max-minutes") && h.text.contains("--resume"))
  }

  /// `--vocabulary` reaches the decoder: allowed only "one", the shipped digits model can get
  /// at most the one "one" of a ten-digit phone number right; without it, nearly all.
  @Test func evaluateHonoursTheVocabulary() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let manifest = dir.appendingPathComponent("phone.jsonl").path
    let audio = CLI.repository.appendingPathComponent("samples/phone-415-555-2368.wav").path
    let line = #"{"audio": "\#(audio)", "text": "four one five five five five two three six eight"}"#
    try Data((line + "\n").utf8).write(to: URL(fileURLWithPath: manifest))
    func wer(_ extra: [String]) throws -> Double {
      let r = try CLI.run(["evaluate", "--model", "digits", "--beam", "8", "--format", "json"] + extra + [manifest])
      #expect(r.status == 0, "\(r.stderr)")
      let json = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
      return try #require(json?["wer"] as? Double)
    }
    #expect(try wer([]) <= 0.2)
    #expect(try wer(["--vocabulary", "one"]) >= 0.9)
    let c = try CLI.run(["evaluate", "--model", "commands", "--vocabulary", "yes", manifest])
    #expect(c.status == 64 && c.stderr.contains("applies to CTC models"), "\(c.stderr)")
    for option in [["--beam", "8"], ["--min-pause", "0"]] {
      let r = try CLI.run(["evaluate", "--model", "commands"] + option + [manifest])
      #expect(r.status == 64 && r.stderr.contains("\(option[0]) applies to CTC models"), "\(r.stderr)")
    }
    let e = try CLI.run(["evaluate", "--model", "digits", "--vocabulary", ",", manifest])
    #expect(e.status == 64 && e.stderr.contains("at least one word"), "\(e.stderr)")
    let unknown = try CLI.run(["transcribe", "--vocabulary", "five,banana", audio])
    #expect(unknown.status == 1 && unknown.stderr.contains("banana") && unknown.stderr.contains("outputs: eight five four nine"), "\(unknown.stderr)")
  }

  /// `evaluate` scores what `transcribe` prints: by default it decodes as transcribe does (a
  /// beam of 8), not greedily. The fixture (`scripts/fixtures/speech.sh`) is a phone number
  /// whose greedy transcript loses a word that the beam keeps.
  @Test func evaluateDecodesAsTranscribeDoes() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let audio = CLI.repository.appendingPathComponent("Tests/Fixtures/speech/phone-4870108.wav").path
    let printed = try CLI.run(["transcribe", audio]).text.trimmingCharacters(in: .whitespacesAndNewlines)
    let greedy = try CLI.run(["transcribe", "--beam", "1", audio]).text.trimmingCharacters(in: .whitespacesAndNewlines)
    try #require(printed != greedy, "the fixture no longer tells greedy decoding from the beam: both give '\(printed)'")
    let manifest = dir.appendingPathComponent("printed.jsonl").path
    try Data((#"{"audio": "\#(audio)", "text": "\#(printed)"}"# + "\n").utf8).write(to: URL(fileURLWithPath: manifest))
    func wer(_ extra: [String]) throws -> Double {
      let r = try CLI.run(["evaluate", "--model", "digits", "--format", "json"] + extra + [manifest])
      #expect(r.status == 0, "\(r.stderr)")
      let json = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
      return try #require(json?["wer"] as? Double)
    }
    #expect(try wer([]) == 0)
    #expect(try wer(["--beam", "1"]) > 0)
    let c = try CLI.run(["evaluate", "--model", "commands", "--beam", "1", manifest])
    #expect(c.status == 64 && c.stderr.contains("--beam applies to CTC models"), "\(c.stderr)")
  }

  /// Clips that cannot be read are named, counted and left out of the report; when none can
  /// be read there is no report of zeros, only the error.
  @Test func evaluateCountsUnreadableClips() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let audio = CLI.repository.appendingPathComponent("samples/phone-415-555-2368.wav").path
    let good = #"{"audio": "\#(audio)", "text": "four one five five five five two three six eight"}"#
    let missing = #"{"audio": "\#(dir.path)/gone.wav", "text": "one"}"#
    let some = dir.appendingPathComponent("some.jsonl").path, none = dir.appendingPathComponent("none.jsonl").path
    try Data((good + "\n" + missing + "\n").utf8).write(to: URL(fileURLWithPath: some))
    try Data((missing + "\n" + missing + "\n").utf8).write(to: URL(fileURLWithPath: none))
    let r = try CLI.run(["evaluate", "--model", "digits", "--format", "json", some])
    #expect(r.status == 1 && r.stderr.contains("gone.wav") && r.stderr.contains("1 of 2 clips could not be read or scored"), "\(r.stderr)")
    let json = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
    #expect(json?["utterances"] as? Int == 1)
    let n = try CLI.run(["evaluate", "--model", "digits", none])
    #expect(n.status == 1 && n.stderr.contains("none of the 2 clips") && n.text.isEmpty, "\(n.stderr) / \(n.text)")
    // A mistyped model with a classifier's option is named as missing, not as a CTC model.
    let typo = try CLI.run(["evaluate", "--model", "comands", "--speeds", "1", some])
    #expect(typo.status == 1 && typo.stderr.contains("comands: no such model file or shipped model"), "\(typo.stderr)")
  }

  /// Ctrl-C while training: the step in progress ends, a checkpoint is written, the run
  /// says how to go on and exits with 130; --resume then goes on from that step.
  @Test func ctrlCWritesACheckpoint() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 16, seed: 12, to: dir, name: "train")
    let output = dir.appendingPathComponent("run").path
    let arguments = ["train", "--task", "ctc", "--train", train, "--output", output, "--epochs", "5000", "--hidden", "8",
                     "--layers", "1", "--batch-size", "8", "--threads", "1", "--checkpoint-every", "100000"]
    let process = Process()
    process.executableURL = CLI.executable
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // The first epoch's checkpoint: training is under way (5,000 epochs take minutes).
    let checkpoint = output + "/checkpoint.safetensors"
    for _ in 0..<600 where !FileManager.default.fileExists(atPath: checkpoint) { usleep(50_000) }
    #expect(FileManager.default.fileExists(atPath: checkpoint))
    usleep(200_000)
    kill(process.processIdentifier, SIGINT)
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 130, "\(stderr)")
    #expect(stderr.contains("writing a checkpoint") && stdout.contains("interrupted;") && stdout.contains("--resume"),
            "\(stdout) / \(stderr)")
    // "stopped in epoch E at step S": the checkpoint holds S steps, and resuming starts there.
    let stopped = try #require(stderr.split(separator: "\n").first { $0.hasPrefix("stopped in epoch") })
    let step = try #require(Int(stopped.split(separator: " ")[6].trimmingCharacters(in: .punctuationCharacters)))
    #expect(step > 0)
    // 16 clips in batches of 8: two steps an epoch. This session takes only the steps left.
    let epochs = step / 2 + 2
    // Resuming with another option is refused before any clip loads, naming it by its path.
    let other = try CLI.run(arguments.filter { $0 != "5000" }.map { $0 == "--epochs" ? "--epochs=\(epochs)" : $0 } + ["--resume", "--reverb", "0.3"])
    #expect(other.status == 1 && other.stderr.contains("augmentation.reverbProbability was 0.0, now 0.3")
            && !other.stderr.contains("loaded") && !other.stderr.contains("AugmentationOptions("), "\(other.stderr)")
    // --weight-decay 0 is the default (none) the run was started with, so it may be repeated.
    let resumed = try CLI.run(arguments.filter { $0 != "5000" }.map { $0 == "--epochs" ? "--epochs=\(epochs)" : $0 }
                              + ["--resume", "--weight-decay", "0"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.text.contains("trained \(epochs) of \(epochs) epochs (\(2 * epochs) steps"), "\(resumed.text)")
  }

  /// evaluate names the reference words that cannot be output: outside the model's tokens,
  /// or outside --vocabulary.
  @Test func evaluateNamesUnreachableReferenceWords() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let clip = CLI.repository.appendingPathComponent("samples/phone-415-555-2368.wav").path
    let manifest = dir.appendingPathComponent("m.jsonl")
    try (#"{"audio": "\#(clip)", "text": "four one five five five five two three six eight"}"# + "\n"
      + #"{"audio": "\#(clip)", "text": "four banana"}"# + "\n").write(to: manifest, atomically: true, encoding: .utf8)
    let r = try CLI.run(["evaluate", "--model", "digits", "--beam", "4", "--vocabulary", "four,one,five", manifest.path])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("1 word(s) that digits cannot output (not among its tokens), each an error: banana"), "\(r.stderr)")
    #expect(r.stderr.contains("4 word(s) outside --vocabulary, each an error: eight six three two"), "\(r.stderr)")
    let plain = try CLI.run(["evaluate", "--model", "digits", manifest.path])
    #expect(plain.status == 0 && !plain.stderr.contains("--vocabulary"), "\(plain.stderr)")
  }

  /// A run stopped by --max-minutes before any epoch finished has no model: it says so and
  /// exits 75, so `train && evaluate` stops there; --resume finishes it (status 0). An
  /// --output that is a file is refused before any clip is loaded.
  @Test func noModelYetIsNotSuccess() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 64, seed: 19, to: dir, name: "train")
    let output = dir.appendingPathComponent("run").path
    let arguments = ["train", "--task", "ctc", "--train", train, "--output", output, "--epochs", "1",
                     "--hidden", "4", "--layers", "1", "--batch-size", "4", "--threads", "1"]
    let stopped = try CLI.run(arguments + ["--max-minutes", "0.000001"])
    #expect(stopped.status == 75, "\(stopped.text) \(stopped.stderr)")
    #expect(stopped.text.contains("no epoch finished yet, so no model was written"), "\(stopped.text)")
    let resumed = try CLI.run(arguments + ["--resume"])
    #expect(resumed.status == 0 && resumed.text.contains("model: \(output)/best.safetensors"), "\(resumed.text) \(resumed.stderr)")
    let file = try CLI.run(["train", "--task", "ctc", "--train", train, "--output", train])
    #expect(file.status == 64 && file.stderr.contains("--output \(train) is a file"), "\(file.stderr)")
  }

  /// A validation set none of whose clips loads stops the run before training (it trained
  /// with no validation, every epoch "best"), and says where relative paths are read from;
  /// a run's models without its checkpoint are not overwritten either.
  @Test func unreadableValidationSetIsAnError() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 8, seed: 23, to: dir, name: "train")
    let valid = dir.appendingPathComponent("valid.jsonl")
    try Data("{\"audio\": \"elsewhere/0.wav\", \"text\": \"low\"}\n{\"audio\": \"elsewhere/1.wav\", \"text\": \"high\"}\n".utf8).write(to: valid)
    let output = dir.appendingPathComponent("run").path
    let r = try CLI.run(["train", "--task", "ctc", "--train", train, "--valid", valid.path, "--output", output, "--epochs", "1",
                         "--hidden", "4", "--layers", "1", "--threads", "1"])
    #expect(r.status == 1 && r.stderr.contains("validation set: nothing to use: none of its 2 clips could be used")
            && r.stderr.contains("read from the manifest's own folder"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: output + "/best.safetensors"))
    let done = try CLI.run(["train", "--task", "ctc", "--train", train, "--output", output, "--epochs", "1",
                            "--hidden", "4", "--layers", "1", "--threads", "1"])
    #expect(done.status == 0, "\(done.stderr)")
    try FileManager.default.removeItem(atPath: output + "/checkpoint.safetensors")
    let again = try CLI.run(["train", "--task", "ctc", "--train", train, "--output", output, "--epochs", "1",
                             "--hidden", "4", "--layers", "1", "--threads", "1"])
    #expect(again.status == 1 && again.stderr.contains("already holds a run's best.safetensors, but no checkpoint"), "\(again.stderr)")
  }

  /// Epochs that score the same on validation (a plateau, a small set) leave the later one as
  /// best, not the first and least trained.
  @Test func tiesGoToTheLaterEpoch() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 8, seed: 29, to: dir, name: "train")
    let valid = try ToneCorpus.write(count: 4, seed: 31, to: dir, name: "valid")
    let output = dir.appendingPathComponent("run").path
    let r = try CLI.run(["train", "--task", "ctc", "--train", train, "--valid", valid, "--output", output, "--epochs", "3",
                         "--learning-rate", "1e-9", "--hidden", "4", "--layers", "1", "--threads", "1"])
    #expect(r.status == 0 && r.text.contains("at epoch 3"), "\(r.text) \(r.stderr)")
  }

  /// --sample-rate, --mel-bands, --window-ms and --hop-ms shape a CTC model's features as a
  /// classifier's; the model carries them, and transcribe resamples to its rate.
  @Test func ctcFeatureOptions() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 8, seed: 17, to: dir, name: "train")
    let output = dir.appendingPathComponent("run").path
    let r = try CLI.run(["train", "--task", "ctc", "--train", train, "--output", output, "--epochs", "1",
                         "--hidden", "4", "--layers", "1", "--batch-size", "8", "--threads", "1",
                         "--sample-rate", "16000", "--mel-bands", "24", "--window-ms", "32", "--hop-ms", "16"])
    #expect(r.status == 0, "\(r.stderr)")
    let f = try TranscriptionModel(named: output + "/last.safetensors").features
    #expect(f.sampleRate == 16_000 && f.mel.melBands == 24)
    #expect(f.spectrogram.resolvedWindowLength == 512 && f.spectrogram.fftSize == 512 && f.spectrogram.hopLength == 256)
    let clip = try Manifest.load(train)[0].audio
    let t = try CLI.run(["transcribe", "--model", output + "/last.safetensors", clip])
    #expect(t.status == 0, "\(t.stderr)")
    let bad = try CLI.run(["train", "--task", "ctc", "--train", train, "--output", output + "-2", "--mel-bands", "0"])
    #expect(bad.status == 64 && bad.stderr.contains("--mel-bands must be in 1...512"), "\(bad.stderr)")

    // --features pcen: the model hears PCEN of the magnitude mel bands, and transcribes with it.
    let pcen = dir.appendingPathComponent("pcen").path
    let p = try CLI.run(["train", "--task", "ctc", "--train", train, "--output", pcen, "--epochs", "1",
                         "--hidden", "4", "--layers", "1", "--batch-size", "8", "--threads", "1", "--features", "pcen"])
    #expect(p.status == 0, "\(p.stderr)")
    // A trained model's recipe is JSON to read: the options, stored as JSON text, expanded.
    let info = try CLI.run(["info", "--model", pcen + "/last.safetensors", "--json"])
    let recipe = (try JSONSerialization.jsonObject(with: info.stdout) as? [String: Any])?["provenance"] as? [String: Any]
    #expect(recipe?["options"] is [String: Any], "\(info.text)")
    let g = try TranscriptionModel(named: pcen + "/last.safetensors").features
    #expect(g.kind == .pcen && g.spectrogram.power == 1 && g.pcen == PCENOptions() && g.mel.melBands == 40)
    #expect(try CLI.run(["transcribe", "--model", pcen + "/last.safetensors", clip]).status == 0)
    // info names the PCEN settings where they are not librosa's.
    #expect(try CLI.run(["info", "--model", pcen + "/last.safetensors"]).text.contains("PCEN mel, 40 bands"))
    var tuned = try TranscriptionModel(named: pcen + "/last.safetensors")
    tuned.features.pcen.timeConstant = 0.06
    try tuned.save(to: pcen + "/tuned.safetensors")
    let described = try CLI.run(["info", "--model", pcen + "/tuned.safetensors"]).text
    #expect(described.contains("PCEN mel (gain 0.98, bias 2, exponent 0.5, time constant 0.06 s, eps 1e-06, input x 2.14748e+09), 40 bands"),
            "\(described)")
    let span = try CLI.run(["train", "--task", "ctc", "--train", train, "--output", pcen + "-2", "--features", "pcen", "--cmvn-span", "25"])
    #expect(span.status == 64 && span.stderr.contains("does not apply to --features pcen"), "\(span.stderr)")
  }

  /// --valid-speakers for a CTC run: whole speakers held out, written as validation.jsonl;
  /// clips with no speaker at all are refused.
  @Test func ctcValidatesOnHeldOutSpeakers() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 30, seed: 13, to: dir, name: "train")
    let output = dir.appendingPathComponent("run").path
    // Three speakers (s0, s1, s2): a split seed that holds out one or two of them.
    let seed = try #require((0..<100).first { k in
      (1...2).contains(["s0", "s1", "s2"].filter { ClassificationSplit.isValidationSpeaker($0, fraction: 0.4, seed: UInt64(k)) }.count)
    })
    let r = try CLI.run(["train", "--task", "ctc", "--train", train, "--valid-speakers", "0.4", "--split-seed", "\(seed)",
                         "--output", output, "--epochs", "1", "--hidden", "8", "--layers", "1", "--batch-size", "8",
                         "--threads", "1"])
    #expect(r.status == 0, "\(r.stderr)")
    let all = try Manifest.load(train), held = try Manifest.load(output + "/validation.jsonl")
    let heldSpeakers = Set(held.compactMap(\.speaker))
    #expect(!held.isEmpty && held.count < all.count)
    // Exactly the clips of the held-out speakers, and the hash picks them (not the order).
    #expect(Set(held.map(\.audio)) == Set(all.filter { heldSpeakers.contains($0.speaker!) }.map(\.audio)))
    #expect(heldSpeakers == Set(all.compactMap(\.speaker).filter {
      ClassificationSplit.isValidationSpeaker($0, fraction: 0.4, seed: UInt64(seed)) }))
    #expect(r.stderr.contains("loaded \(all.count - held.count) training and \(held.count) validation clips"), "\(r.stderr)")
    let anonymous = dir.appendingPathComponent("anonymous.jsonl")
    try all.map { #"{"audio": "\#($0.audio)", "text": "\#($0.text)"}"# }.joined(separator: "\n")
      .write(to: anonymous, atomically: true, encoding: .utf8)
    let refused = try CLI.run(["train", "--task", "ctc", "--train", anonymous.path, "--valid-speakers", "0.4",
                               "--output", output + "-2"])
    #expect(refused.status == 1 && refused.stderr.contains("has a known speaker"), "\(refused.stderr)")
    #expect(!r.stderr.contains("warning"), "\(r.stderr)")
    // A validation word that no training text has is named.
    let odd = dir.appendingPathComponent("odd.jsonl")
    try (#"{"audio": "\#(all[0].audio)", "text": "banana"}"# + "\n").write(to: odd, atomically: true, encoding: .utf8)
    let warned = try CLI.run(["train", "--task", "ctc", "--train", train, "--valid", odd.path, "--output", output + "-3",
                              "--epochs", "1", "--hidden", "8", "--layers", "1", "--batch-size", "8", "--threads", "1"])
    #expect(warned.status == 0 && warned.stderr.contains("1 word(s) that no training text has") && warned.stderr.contains(": banana"),
            "\(warned.stderr)")
  }

  /// A character model keeps the epoch with the lowest CER as best, and `info` calls its
  /// outputs characters.
  @Test func characterModelsAreJudgedByCER() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 16, seed: 14, to: dir, name: "train")
    let output = dir.appendingPathComponent("run").path
    let r = try CLI.run(["train", "--task", "ctc", "--tokens", "character", "--train", train, "--valid", train,
                         "--output", output, "--epochs", "6", "--hidden", "8", "--layers", "1", "--batch-size", "8",
                         "--threads", "1", "--learning-rate", "0.02"])
    #expect(r.status == 0 && r.text.contains("best validation CER"), "\(r.text) \(r.stderr)")
    let log = try String(contentsOfFile: output + "/log.jsonl", encoding: .utf8).split(separator: "\n").map {
      try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
    // Best by CER; a tie broken by WER, then by the later epoch.
    var lowest = (cer: Double.infinity, wer: Double.infinity)
    for line in log {
      let cer = line["valid_cer"] as! Double, wer = line["valid_wer"] as! Double
      let best = cer < lowest.cer || cer == lowest.cer && wer <= lowest.wer
      #expect((line["best"] as! Bool) == best, "\(line)")
      if best { lowest = (cer, wer) }
    }
    let info = try CLI.run(["info", "--model", output + "/best.safetensors"])
    #expect(info.text.contains("characters: (space)") || info.text.contains(" characters: "), "\(info.text)")
  }

  @Test func trainsAndEvaluatesThroughTheCLI() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 16, seed: 11, to: dir, name: "train")
    let output = dir.appendingPathComponent("run").path
    // The default (digits) front end on 8 kHz tones; 1 epoch of a tiny model.
    let r = try CLI.run(["train", "--task", "ctc", "--train", train, "--valid", train, "--output", output,
                         "--epochs", "1", "--hidden", "8", "--layers", "1", "--batch-size", "8", "--threads", "2"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.text.contains("model: \(output)/best.safetensors"), "\(r.text)")
    #expect(r.stderr.contains("epoch 1: loss"), "\(r.stderr)")
    let again = try CLI.run(["train", "--task", "ctc", "--train", train, "--output", output, "--epochs", "1"])
    #expect(again.status == 1 && again.stderr.contains("--resume"), "\(again.stderr)")
    // ... before the clips are loaded.
    #expect(!again.stderr.contains("loaded"), "\(again.stderr)")
    let nothing = try CLI.run(["train", "--task", "ctc", "--train", train, "--output", output + "-new", "--resume"])
    #expect(nothing.status == 1 && nothing.stderr.contains("cannot resume: no run in \(output)-new; start it without --resume"),
            "\(nothing.stderr)")
    let e = try CLI.run(["evaluate", "--model", output + "/best.safetensors", "--format", "json", train])
    #expect(e.status == 0, "\(e.stderr)")
    let json = try JSONSerialization.jsonObject(with: e.stdout) as? [String: Any]
    #expect(json?["utterances"] as? Int == 16)
    #expect(json?["wer"] is Double && json?["speakers"] is [String: Any])
    let t = try CLI.run(["evaluate", "--model", output + "/best.safetensors", train])
    #expect(t.status == 0 && t.text.contains("WER:") && t.text.contains("utterance accuracy:"), "\(t.text)")
    #expect(try TranscriptionModel(named: output + "/best.safetensors").features.cmvn.mode == .utterance)
    // --cmvn: the model carries the normalisation it was trained with.
    let level = dir.appendingPathComponent("level").path
    let l = try CLI.run(["train", "--task", "ctc", "--train", train, "--output", level, "--cmvn", "level",
                         "--epochs", "1", "--hidden", "8", "--layers", "1", "--batch-size", "8", "--threads", "1"])
    #expect(l.status == 0, "\(l.stderr)")
    #expect(try TranscriptionModel(named: level + "/last.safetensors").features.cmvn.mode == .level)
    let sliding = try CLI.run(["train", "--task", "ctc", "--train", train, "--output", level + "2", "--cmvn", "sliding"])
    #expect(sliding.status == 64 && sliding.stderr.contains("Please provide one of 'utterance' and 'level'"), "\(sliding.stderr)")
  }

  /// A warm start begins from the given weights: one step at a tiny learning rate stays next
  /// to them, while a fresh start lands far away; other sizes are refused.
  @Test func warmStartBeginsFromTheGivenWeights() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let entries = try Manifest.load(try ToneCorpus.write(count: 8, seed: 5, to: dir, name: "train"))
    var options = ToneCorpus.options
    options.learningRate = 1e-6
    var architecture = ModelArchitecture()
    architecture.inputSize = 16
    architecture.hiddenSize = 16
    architecture.numLayers = 1
    architecture.outputSize = 3
    var g = SeededGenerator(seed: 999)
    let initial = SequenceModel(architecture: architecture, generator: &g)
    func largestChange(_ n: SequenceModel) -> Float {
      zip(n.namedParameters, initial.namedParameters).map { p, q in
        zip(n[keyPath: p.path].data, initial[keyPath: q.path].data).map { abs($0 - $1) }.max() ?? 0
      }.max() ?? 0
    }
    let warm = try CTCTrainer(options: options, training: entries, threads: 1)
      .train(output: dir.appendingPathComponent("warm").path, maxSteps: 1, initialNetwork: initial)
    #expect(largestChange(warm.network) < 1e-4)
    let fresh = try CTCTrainer(options: options, training: entries, threads: 1)
      .train(output: dir.appendingPathComponent("fresh").path, maxSteps: 1)
    #expect(largestChange(fresh.network) > 0.05)
    architecture.hiddenSize = 8
    var h = SeededGenerator(seed: 1)
    let other = SequenceModel(architecture: architecture, generator: &h)
    #expect(throws: TrainingError.self) {
      try CTCTrainer(options: options, training: entries, threads: 1)
        .train(output: dir.appendingPathComponent("other").path, maxSteps: 1, initialNetwork: other)
    }
  }

  @Test func initFlagsAreChecked() throws {
    let sizes = try CLI.run(["train", "--train", "/", "--output", "/tmp/x", "--init", "digits", "--hidden", "64"])
    #expect(sizes.status == 64 && sizes.stderr.contains("--hidden is taken from the --init model"), "\(sizes.stderr)")
    let both = try CLI.run(["train", "--train", "/", "--output", "/tmp/x", "--init", "digits", "--resume"])
    #expect(both.status == 64 && both.stderr.contains("drop --init"), "\(both.stderr)")
    let kind = try CLI.run(["train", "--train", "/nonexistent-folder-for-init-test", "--output", "/tmp/x", "--init", "commands"])
    #expect(kind.status != 0)
  }
}
