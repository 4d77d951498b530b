@testable import Earshot
import Foundation
import TestScratch
import Testing

/// Two sound classes at 8 kHz, 0.3 s clips: "low" is a tone at 300-600 Hz, "high" a tone at
/// 1.8-2.6 kHz, each with faint noise and a random start, written ESC-style as
/// `DIR/{label}/{fold}-{n}-A.wav`.
enum ToneClasses {
  static let rate = 8000

  static func clip(_ label: String, _ g: inout SeededGenerator) -> [Float] {
    let f = label == "low" ? Double(g.uniform(300, 600)) : Double(g.uniform(1800, 2600))
    let lead = Int(g.next() % 600)
    let phase = Double(g.nextUnitFloat()) * 6.28
    return (0..<2400).map { i in
      let tone = i >= lead && i < lead + 1500 ? 0.3 * Float(sin(2 * Double.pi * f * Double(i) / Double(rate) + phase)) : 0
      return tone + 0.01 * g.normal()
    }
  }

  /// `perFold` clips per label in each of `folds`, numbered from `firstTake` (the "recording"
  /// in an ESC name); returns the folder.
  static func write(to dir: URL, folds: [Int], perFold: Int, seed: UInt64, firstTake: Int = 0) throws -> String {
    var g = SeededGenerator(seed: seed)
    for label in ["high", "low"] {
      let folder = dir.appendingPathComponent(label)
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      for fold in folds {
        for n in firstTake..<(firstTake + perFold) {
          try writeWAV(clip(label, &g), sampleRate: rate, to: folder.appendingPathComponent("\(fold)-\(n)-A.wav").path)
        }
      }
    }
    return dir.path
  }

  /// Small and fast options for a debug build.
  static var options: ClassificationTrainingOptions {
    var o = ClassificationTrainingOptions()
    o.features = FeatureOptions.speechLogMel(sampleRate: rate, melBands: 16)
    o.features.cmvn.mode = .utterance
    o.hiddenSize = 8
    o.layers = 1
    o.dropout = 0
    o.batchSize = 8
    o.learningRate = 0.02
    o.epochs = 8
    o.augmentation = .none
    return o
  }
}

@Suite(.serialized) struct ClassificationTrainingTests {
  /// 32 training clips, 8 epochs of a 1 x 8 BiLSTM; 16 clips of another fold validate.
  @Test func learnsTwoToneClasses() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try ToneClasses.write(to: dir.appendingPathComponent("data"), folds: [1, 2, 3], perFold: 8, seed: 3)
    let (train, valid) = ClassificationSplit.byFold(try ClassificationDataset.load(data), validFold: 3)
    #expect(train.count == 32 && valid.count == 16)
    var options = ToneClasses.options
    options.pooling = .attention
    options.labelSmoothing = 0.05
    options.mixupProbability = 0.2
    options.maximumTimeShiftSeconds = 0.05
    options.augmentation.timeMasks = 1
    options.augmentation.maximumTimeMaskFrames = 3
    let trainer = try ClassificationTrainer(options: options, training: train, validation: valid, threads: 2)
    #expect(trainer.labels == ["high", "low"])
    let summary = try trainer.train(output: dir.appendingPathComponent("run").path)
    let first = summary.log.first!.trainLoss, last = summary.log.last!.trainLoss
    // Chance is ln 2 = 0.69; a learnt model is far below it.
    #expect(last < first / 3, "training loss \(first) -> \(last)")
    #expect((summary.bestAccuracy ?? 0) >= 0.9, "\(summary.log.map { $0.validAccuracy ?? -1 })")
    // The saved best model scores the same clips the same way.
    let model = try ClassificationModel(named: summary.bestModel)
    #expect(model.labels == ["high", "low"])
    #expect(model.network.architecture.pooling == .attention)
    let evaluated = try ClassificationEvaluator(model: model, threads: 1).evaluate(valid)
    #expect(evaluated.failures.isEmpty)
    #expect(evaluated.report.accuracy == summary.bestAccuracy)
  }

  /// `weightDecay` reaches the optimizer as AdamW's decoupled decay: the same run (same seed,
  /// same batches) with a strong decay ends with far smaller weights, and out-of-range values
  /// are refused by name.
  @Test func weightDecayShrinksTheWeights() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let entries = try ClassificationDataset.load(
      try ToneClasses.write(to: dir.appendingPathComponent("data"), folds: [1], perFold: 8, seed: 3))
    func squaredNorm(weightDecay: Float?) throws -> Float {
      var options = ToneClasses.options
      options.epochs = 2
      options.weightDecay = weightDecay
      let run = dir.appendingPathComponent("run-\(weightDecay.map { "\($0)" } ?? "none")").path
      let network = try ClassificationTrainer(options: options, training: entries, threads: 1).train(output: run).network
      return network.namedParameters.reduce(0) { sum, p in network[keyPath: p.path].data.reduce(sum) { $0 + $1 * $1 } }
    }
    // lr 0.02 x 10: a step at the peak learning rate multiplies the weights by 0.8 (warm-up steps by less).
    let plain = try squaredNorm(weightDecay: nil), decayed = try squaredNorm(weightDecay: 10)
    #expect(decayed < 0.8 * plain, "squared weight norm \(plain) without decay, \(decayed) with")
    #expect(try squaredNorm(weightDecay: 0) == plain)
    var bad = ToneClasses.options
    bad.weightDecay = 50  // lr 0.02 x 50 = 1: every weight would be zeroed
    #expect(throws: TrainingError.invalidOption(name: "weightDecay", value: "50.0",
                                                expected: ">= 0 with learningRate * weightDecay < 1, or nil for none")) {
      try bad.validate()
    }
  }

  /// `cropSeconds`: every training view is that many frames, a contiguous run of the whole
  /// clip's frames, starting at different places from draw to draw.
  @Test func cropsAreWindowsOfTheWholeClip() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try ToneClasses.write(to: dir.appendingPathComponent("data"), folds: [1], perFold: 2, seed: 5)
    let entries = try ClassificationDataset.load(data)
    var options = ToneClasses.options
    let whole = try ClassificationTrainer(options: options, training: entries, threads: 1)
    options.cropSeconds = 0.1  // 10 frames of 10 ms; the clips have 31
    let cropped = try ClassificationTrainer(options: options, training: entries, threads: 1)
    var g = SeededGenerator(seed: 1)
    let full = try whole.trainingFeatures(0, generator: &g)
    #expect(full.rows == 31)
    var starts = Set<Int>()
    for seed in 0..<20 as Range<UInt64> {
      var g = SeededGenerator(seed: seed)
      let view = try cropped.trainingFeatures(0, generator: &g)
      #expect(view.rows == 10 && view.cols == full.cols)
      let start = (0...(full.rows - 10)).first { s in
        view.data[...] == full.data[(s * full.cols)..<((s + 10) * full.cols)]
      }
      #expect(start != nil, "draw \(seed) is not a window of the clip's frames")
      if let start { starts.insert(start) }
    }
    #expect(starts.count >= 5, "starts drawn: \(starts.sorted())")
    // Longer than the clip: the whole clip.
    options.cropSeconds = 1
    var g2 = SeededGenerator(seed: 1)
    #expect(try ClassificationTrainer(options: options, training: entries, threads: 1).trainingFeatures(0, generator: &g2) == full)
    options.cropSeconds = 0
    #expect(throws: TrainingError.self) { try options.validate() }
    options.cropSeconds = 0.01  // one frame
    #expect(throws: TrainingError.self) { try options.validate() }
  }

  /// Stopping after 5 steps and resuming gives bit-identical weights to one uninterrupted run.
  @Test func resumeIsExact() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try ToneClasses.write(to: dir.appendingPathComponent("data"), folds: [1], perFold: 12, seed: 4)
    let entries = try ClassificationDataset.load(data)
    var options = ToneClasses.options
    options.epochs = 2
    options.mixupProbability = 0.5
    options.balancing = .sampling
    let whole = try ClassificationTrainer(options: options, training: entries, threads: 1)
      .train(output: dir.appendingPathComponent("a").path)
    let b = dir.appendingPathComponent("b").path
    let stopped = try ClassificationTrainer(options: options, training: entries, threads: 1).train(output: b, maxSteps: 5)
    #expect(stopped.stoppedEarly && stopped.steps == 5)
    let resumed = try ClassificationTrainer(options: options, training: entries, threads: 1).train(output: b, resume: true)
    #expect(resumed.steps == whole.steps)
    #expect(resumed.network.stateDict == whole.network.stateDict)
    // Another split of the same clips is other data.
    options.epochs = 3
    #expect {
      _ = try ClassificationTrainer(options: options, training: Array(entries.dropLast(4)),
                                    validation: Array(entries.suffix(4)), threads: 1).train(output: b, resume: true)
    } throws: { "\($0)".contains("trained on other data (\(entries.count) training and 0 validation clips") }
  }
}

@Suite struct ClassificationSplitTests {
  /// Hidden files (macOS `._clip.wav` shadows) in a folder of label folders are not clips,
  /// and one at the top does not make it "a folder of clips".
  @Test func labelFoldersSkipHiddenFiles() throws {
    let dir = temporaryDirectory()
    for label in ["yes", "no"] {
      try FileManager.default.createDirectory(at: dir.appendingPathComponent(label), withIntermediateDirectories: true)
      try Data("audio".utf8).write(to: dir.appendingPathComponent("\(label)/a.wav"))
      try Data("shadow".utf8).write(to: dir.appendingPathComponent("\(label)/._a.wav"))
    }
    try Data("shadow".utf8).write(to: dir.appendingPathComponent("._top.wav"))
    // Speech Commands' long background recordings are noise, not a class.
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("_background_noise_"), withIntermediateDirectories: true)
    try Data("audio".utf8).write(to: dir.appendingPathComponent("_background_noise_/white.wav"))
    let entries = try ClassificationDataset.load(dir.path)
    #expect(entries.map(\.label) == ["no", "yes"])
    #expect(entries.allSatisfy { $0.audio.hasSuffix("/a.wav") })
  }

  /// Spaces around a manifest's label are dropped; a label of spaces only is no label.
  @Test func labelsAreTrimmed() throws {
    let entries = try ClassificationDataset.parse(#"""
      {"audio": "a.wav", "label": "yes "}
      {"audio": "b.wav", "label": " yes"}
      {"audio": "c.wav", "label": "no"}
      """#, path: "/data/m.jsonl")
    #expect(entries.map(\.label) == ["yes", "yes", "no"])
    #expect(throws: TrainingError.self) { try ClassificationDataset.parse(#"{"audio": "a.wav", "label": "  "}"#, path: "/m.jsonl") }
  }

  @Test func namesGiveSpeakerAndFold() {
    #expect(ClassificationDataset.speaker(ofFileName: "0a7c2a8d_nohash_0.wav") == "0a7c2a8d")
    #expect(ClassificationDataset.speaker(ofFileName: "backward_0c540988_nohash_4.wav") == "0c540988")
    #expect(ClassificationDataset.speaker(ofFileName: "1024.wav") == nil)
    // FSDD names carry the speaker, ESC names the source recording (its clips share it).
    #expect(ClassificationDataset.speaker(ofFileName: "4_george_12.wav") == "george")
    #expect(ClassificationDataset.speaker(ofFileName: "1-17367-A.ogg") == "freesound:17367")
    #expect(ClassificationDataset.speaker(ofFileName: "3-17367-B.ogg") == "freesound:17367")
    for other in ["12_bob_0.wav", "4_george_x.wav", "4__1.wav", "x-17367-A.ogg", "1-abc-A.ogg", "1-2.ogg"] {
      #expect(ClassificationDataset.speaker(ofFileName: other) == nil, "\(other)")
    }
    #expect(ClassificationDataset.fold(ofFileName: "4-181286-A.ogg") == 4)
    #expect(ClassificationDataset.fold(ofFileName: "x4-1.ogg") == nil)
    #expect(ClassificationDataset.label(ofFolder: "_unknown_") == "unknown")
    #expect(ClassificationDataset.label(ofFolder: "dog_bark") == "dog_bark")
  }

  @Test func foldSplitKeepsEachFoldOnOneSide() {
    let entries = (0..<40).map { i in
      ClassificationEntry(audio: "\(i % 4 + 1)-\(i)-A.ogg", label: "c\(i % 3)", fold: i % 4 + 1)
    }
    let (train, valid) = ClassificationSplit.byFold(entries, validFold: 4)
    #expect(valid.count == 10 && train.count == 30)
    #expect(valid.allSatisfy { $0.fold == 4 })
    #expect(train.allSatisfy { $0.fold != 4 })
  }

  @Test func speakerSplitNeverSharesASpeaker() {
    var entries: [ClassificationEntry] = []
    for s in 0..<200 {
      for w in ["yes", "no", "up"] { entries.append(ClassificationEntry(audio: "\(w)/spk\(s)_nohash_0.wav", label: w, speaker: "spk\(s)")) }
    }
    let (train, valid) = ClassificationSplit.bySpeaker(entries, fraction: 0.2, seed: 1)
    let a = Set(train.compactMap(\.speaker)), b = Set(valid.compactMap(\.speaker))
    #expect(a.isDisjoint(with: b))
    #expect(a.count + b.count == 200)
    #expect((25...55).contains(b.count), "\(b.count) of 200 speakers validate, expected about 40")
    // Membership depends only on the name and seed, not on the other entries.
    let again = ClassificationSplit.bySpeaker(Array(entries.prefix(30)), fraction: 0.2, seed: 1)
    #expect(Set(again.validation.compactMap(\.speaker)) == b.intersection(Set(entries.prefix(30).compactMap(\.speaker))))
  }

  /// On the real Speech Commands copy, when present: no speaker on both sides.
  @Test func speechCommandsSplitHasNoLeak() throws {
    let path = CLI.repository.deletingLastPathComponent().appendingPathComponent("shared/data/speech-commands").path
    guard FileManager.default.fileExists(atPath: path) else {
      print("skipped: \(path) is absent")
      return
    }
    let entries = try ClassificationDataset.load(path)
    #expect(Set(entries.map(\.label)).isSuperset(of: ["yes", "unknown", "silence"]))
    let (train, valid) = ClassificationSplit.bySpeaker(entries, fraction: 0.2, seed: 1)
    #expect(!valid.isEmpty && !train.isEmpty)
    let trainSpeakers = Set(train.compactMap(\.speaker)), validSpeakers = Set(valid.compactMap(\.speaker))
    #expect(trainSpeakers.isDisjoint(with: validSpeakers))
    // Every word clip has a speaker, "_unknown_" word prefixes stripped.
    #expect(entries.filter { $0.label != "silence" }.allSatisfy { $0.speaker != nil && !$0.speaker!.contains("_") })
  }
}

@Suite struct ClassificationReportTests {
  /// Labels a, b, c; references and predictions chosen so every figure is easy by hand:
  /// confusion rows (reference) a: [3, 1, 0], b: [0, 2, 2], c: [1, 0, 0].
  func report() -> ClassificationReport {
    var r = ClassificationReport(labels: ["a", "b", "c"])
    let pairs = [(0, 0), (0, 0), (0, 0), (0, 1), (1, 1), (1, 1), (1, 2), (1, 2), (2, 0)]
    for (ref, hyp) in pairs { r.add(reference: ref, predicted: hyp) }
    return r
  }

  @Test func figuresMatchHandComputedValues() throws {
    let r = report()
    #expect(r.confusion == [[3, 1, 0], [0, 2, 2], [1, 0, 0]])
    #expect(r.total == 9 && r.correct == 5)
    #expect(abs(r.accuracy - 5.0 / 9) < 1e-12)
    // precision: a 3/(3+0+1), b 2/(1+2+0), c 0/(0+2+0)
    #expect(abs(r.precision(0)! - 0.75) < 1e-12)
    #expect(abs(r.precision(1)! - 2.0 / 3) < 1e-12)
    #expect(r.precision(2)! == 0)
    // recall: a 3/4, b 2/4, c 0/1
    #expect(abs(r.recall(0)! - 0.75) < 1e-12)
    #expect(abs(r.recall(1)! - 0.5) < 1e-12)
    #expect(r.recall(2)! == 0)
    // F1 of b: 2 (2/3)(1/2) / (2/3 + 1/2) = 4/7
    #expect(abs(r.f1(1)! - 4.0 / 7) < 1e-12)
    #expect(r.f1(2)! == 0)
    var empty = ClassificationReport(labels: ["x", "y"])
    empty.add(reference: 0, predicted: 0)
    #expect(empty.precision(1) == nil && empty.recall(1) == nil)
    // Undefined rates are null in the JSON, not missing keys.
    let classes = (try JSONSerialization.jsonObject(with: Data(empty.json.utf8)) as! [String: Any])["classes"] as! [[String: Any]]
    #expect(classes[1]["precision"] is NSNull && classes[1]["recall"] is NSNull && classes[1]["f1"] is NSNull, "\(empty.json)")
  }

  /// Wrong clips are named with both labels, in the text (the first 20) and the JSON (all);
  /// a report saved before the list existed still loads.
  @Test func wrongClipsAreListed() throws {
    var r = ClassificationReport(labels: ["rain", "sea_waves"])
    r.add(reference: 0, predicted: 0, audio: "a.ogg")
    r.add(reference: 0, predicted: 1, audio: "b.ogg")
    for k in 0..<21 { r.add(reference: 1, predicted: 0, audio: "w\(k).ogg") }
    #expect(r.errors.count == 22 && r.errors[0] == .init(audio: "b.ogg", reference: "rain", predicted: "sea_waves"))
    #expect(r.text.contains("wrong clips (the first 20 of 22; --format json lists all):\n  b.ogg: rain, heard as sea_waves\n"), "\(r.text)")
    #expect(r.text.contains("w18.ogg") && !r.text.contains("w19.ogg"))
    let json = try JSONSerialization.jsonObject(with: Data(r.json.utf8)) as! [String: Any]
    #expect((json["errors"] as? [[String: Any]])?.count == 22)
    let old = try JSONDecoder().decode(ClassificationReport.self, from: Data(#"{"labels": ["a", "b"], "confusion": [[1, 0], [0, 1]]}"#.utf8))
    #expect(old.errors.isEmpty && old.speakers.isEmpty && old.correct == 2)
    // Per speaker, worst first, where clips have speakers.
    var bySpeaker = ClassificationReport(labels: ["yes", "no"])
    for (speaker, right) in [("ann", true), ("ann", true), ("bob", false), ("bob", true)] {
      bySpeaker.add(reference: 0, predicted: right ? 0 : 1, audio: "x.wav", speaker: speaker)
    }
    #expect(bySpeaker.speakers["bob"] == .init(clips: 2, correct: 1))
    #expect(bySpeaker.text.contains("per speaker (accuracy, clips), worst first:\n  bob              50.00%      2\n  ann             100.00%      2\n"),
            "\(bySpeaker.text)")
    let speakers = (try JSONSerialization.jsonObject(with: Data(bySpeaker.json.utf8)) as! [String: Any])["speakers"] as? [String: [String: Any]]
    #expect(speakers?["bob"]?["accuracy"] as? Double == 0.5)
  }

  @Test func textKeepsLabelsWithCombiningMarksWhole() {
    // The longest label has more UTF-16 units than characters.
    let accented = "cafe\u{301}_ambiance_tre\u{300}s"
    var r = ClassificationReport(labels: ["rain", accented])
    r.add(reference: 1, predicted: 1)
    r.add(reference: 0, predicted: 1)
    let lines = r.text.split(separator: "\n").map(String.init)
    let row = lines.first { $0.hasPrefix(accented + " ") && $0.contains("%") }
    #expect(row != nil, "\(r.text)")
    // The header and per-label rows line up: all end (at "support") on the same character.
    let header = lines.first { $0.hasPrefix("label") }!, rain = lines.first { $0.hasPrefix("rain ") && $0.contains("%") }!
    #expect(header.count == rain.count && header.count == row?.count, "\(r.text)")
  }

  /// Labels are drawn in the picture whatever their script: accents folded, punctuation the
  /// font has, and an empty box for a letter it lacks (they were left out, so "нет" had no name).
  @Test func pictureLabelsKeepEveryCharacter() {
    #expect(Canvas.glyph("é") == Canvas.glyphs["E"] && Canvas.glyph("Ü") == Canvas.glyphs["U"])
    #expect(Canvas.glyph("'") != nil && Canvas.glyph(",") != nil && Canvas.glyph("?") != nil)
    let box = Canvas.glyph("н")
    #expect(box != nil && Canvas.glyph("上") == box && Canvas.glyphs.values.allSatisfy { $0 != box })
    #expect(Canvas.glyph(" ") == nil)
  }

  @Test func csvAndTextAndPNG() throws {
    let r = report()
    #expect(r.csv == "reference,a,b,c\na,3,1,0\nb,0,2,2\nc,1,0,0\n")
    #expect(r.text.contains("accuracy: 55.56% (5 of 9)"))
    #expect(r.text.contains("\nc             0.00%      0.00%      0.00%        1\n"))
    #expect(r.text.contains("\n     b     0     2     2\n"))
    #expect(r.text.contains("\na            75.00%     75.00%     75.00%        4\n"))
    let png = r.png(title: "test")
    #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    let json = try JSONSerialization.jsonObject(with: Data(r.json.utf8)) as! [String: Any]
    #expect(json["correct"] as? Int == 5)
    #expect((json["confusion"] as? [[Int]]) == [[3, 1, 0], [0, 2, 2], [1, 0, 0]])
  }
}

@Suite(.serialized) struct ClassificationCLITests {
  /// Labels that differ only in case are found (they would train as separate classes), and
  /// train warns about them by name.
  @Test func labelsDifferingOnlyInCaseAreNamed() throws {
    let entries = ["Yes", "yes", "no", "YES", "No", "up"].map { ClassificationEntry(audio: "a.wav", label: $0) }
    #expect(ClassificationDataset.labelsDifferingOnlyInCase(entries) == [["No", "no"], ["YES", "Yes", "yes"]])
    #expect(ClassificationDataset.labelsDifferingOnlyInCase(Array(entries.suffix(1))).isEmpty)

    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try ToneClasses.write(to: dir.appendingPathComponent("data"), folds: [1], perFold: 4, seed: 3)
    let clips = try ClassificationDataset.load(data)
    let manifest = dir.appendingPathComponent("m.jsonl")
    try clips.enumerated().map { i, c in
      #"{"audio": "\#(c.audio)", "label": "\#(i % 2 == 0 ? c.label : c.label.uppercased())"}"#
    }.joined(separator: "\n").write(to: manifest, atomically: true, encoding: .utf8)
    let t = try CLI.run(["train", "--task", "classify", "--train", manifest.path, "--output", dir.appendingPathComponent("run").path,
                         "--sample-rate", "8000", "--mel-bands", "16", "--hidden", "4", "--layers", "1", "--epochs", "1",
                         "--no-augmentation", "--threads", "1"])
    let first = clips[0].label
    #expect(t.status == 0, "\(t.stderr)")
    #expect(t.stderr.contains("warning: labels '\(first.uppercased())' and '\(first)' differ only in case"), "\(t.stderr)")
  }

  /// `earshot train --task classify` then `earshot evaluate` on the trained model, through the
  /// built binary.
  @Test func trainAndEvaluateThroughTheCLI() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try ToneClasses.write(to: dir.appendingPathComponent("data"), folds: [1, 2], perFold: 10, seed: 5)
    let run = dir.appendingPathComponent("run").path
    let t = try CLI.run(["train", "--task", "classify", "--train", data, "--valid-fold", "2", "--output", run,
                         "--sample-rate", "8000", "--mel-bands", "16", "--hidden", "8", "--layers", "1", "--dropout", "0",
                         "--batch-size", "8", "--learning-rate", "0.02", "--epochs", "8", "--no-augmentation",
                         "--threads", "2"])
    #expect(t.status == 0, "\(t.stderr)")
    #expect(t.text.contains("best validation accuracy"), "\(t.text)")
    #expect(t.stderr.contains("loaded 20 training and 20 validation clips"), "\(t.stderr)")
    let model = run + "/best.safetensors"
    // Missing folders on the way to the outputs are made.
    let csv = dir.appendingPathComponent("figures/tables/c.csv").path, png = dir.appendingPathComponent("c.png").path
    let e = try CLI.run(["evaluate", "--model", model, "--confusion-csv", csv, "--confusion-png", png, data])
    #expect(e.status == 0, "\(e.stderr)")
    let report = try ClassificationEvaluator(model: ClassificationModel(named: model), threads: 1)
      .evaluate(try ClassificationDataset.load(data)).report
    #expect(e.text == report.text)
    #expect(report.accuracy >= 0.85, "\(report.text)")
    #expect(try String(contentsOfFile: csv, encoding: .utf8) == report.csv)
    #expect(Array(try Data(contentsOf: URL(fileURLWithPath: png)).prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
    // A label the model lacks: one warning and the clips left out, or scored as one of its
    // labels with --others-as.
    let more = dir.appendingPathComponent("more")
    try FileManager.default.copyItem(atPath: data, toPath: more.path)
    try FileManager.default.copyItem(at: more.appendingPathComponent("low"), to: more.appendingPathComponent("hum"))
    let left = try CLI.run(["evaluate", "--model", model, more.path])
    #expect(left.status == 0 && left.stderr.contains("warning: 20 clips with labels") && left.stderr.contains("'hum' (20)")
            && left.text == report.text, "\(left.stderr)")
    let mapped = try CLI.run(["evaluate", "--model", model, "--others-as", "low", more.path])
    #expect(mapped.status == 0 && mapped.text.contains("clips: 60"), "\(mapped.text) \(mapped.stderr)")
    let wrong = try CLI.run(["evaluate", "--model", model, "--others-as", "noise", more.path])
    #expect(wrong.status == 64 && wrong.stderr.contains("--others-as noise is not one of"), "\(wrong.stderr)")
    let checkpoint = try CLI.run(["classify", "--model", run + "/checkpoint.safetensors", data])
    #expect(checkpoint.status == 1 && checkpoint.stderr.contains("a training checkpoint"), "\(checkpoint.stderr)")
    // ensemble never writes over a checkpoint (the file --resume needs).
    let over = try CLI.run(["ensemble", model, run + "/last.safetensors", "--output", run + "/checkpoint.safetensors"])
    #expect(over.status == 64 && over.stderr.contains("exists and is not a model"), "\(over.stderr)")
    // An output that cannot be written (under a file) fails before any clip is scored.
    let blocked = try CLI.run(["evaluate", "--model", model, "--confusion-csv", png + "/c.csv", data])
    #expect(blocked.status == 1 && blocked.stderr.contains("is a file") && blocked.text.isEmpty, "\(blocked.stderr)")
    // A CTC-only option is refused for a classifier, and vice versa.
    let bad = try CLI.run(["train", "--task", "ctc", "--train", data, "--output", run, "--pooling", "max"])
    #expect(bad.status == 64 && bad.stderr.contains("--pooling applies to --task classify only"), "\(bad.stderr)")
  }

  /// --extra-train clips join the training side only; --init fine-tunes a trained classifier
  /// with its own features, sizes and labels.
  @Test func extraTrainingClipsAndFineTuning() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try ToneClasses.write(to: dir.appendingPathComponent("data"), folds: [1, 2], perFold: 10, seed: 5)
    let extra = try ToneClasses.write(to: dir.appendingPathComponent("extra"), folds: [3], perFold: 10, seed: 6, firstTake: 100)
    let run = dir.appendingPathComponent("run").path
    let t = try CLI.run(["train", "--task", "classify", "--train", data, "--valid-fold", "2", "--extra-train", extra,
                         "--output", run, "--sample-rate", "8000", "--mel-bands", "16", "--hidden", "8", "--layers", "1",
                         "--batch-size", "8", "--epochs", "1", "--threads", "2", "--cmvn", "level"])
    #expect(t.status == 0, "\(t.stderr)")
    #expect(t.stderr.contains("loaded 40 training and 20 validation clips"), "\(t.stderr)")
    // The held-out clips, as a manifest: exactly fold 2's 20 clips, none of the extra ones.
    let held = try ClassificationDataset.load(run + "/validation.jsonl")
    #expect(held.count == 20 && held.allSatisfy { $0.fold == 2 && !$0.audio.hasPrefix(extra) })
    #expect(Set(held.map(\.audio)).count == 20)
    #expect(try ClassificationModel(named: run + "/best.safetensors").features.cmvn.mode == .level)
    // Extra clips from a validation source (here fold 2's recordings 0-9 again) are left out.
    let same = try ToneClasses.write(to: dir.appendingPathComponent("same"), folds: [3], perFold: 10, seed: 7)
    let leak = try CLI.run(["train", "--task", "classify", "--train", data, "--valid-fold", "2", "--extra-train", same,
                            "--output", run + "-leak", "--sample-rate", "8000", "--mel-bands", "16", "--hidden", "4", "--layers", "1",
                            "--batch-size", "8", "--epochs", "1", "--threads", "2"])
    #expect(leak.status == 0 && leak.stderr.contains("note: 20 --extra-train clips of 10 validation speaker(s) are left out")
            && leak.stderr.contains("loaded 20 training and 20 validation clips"), "\(leak.stderr)")
    // A fold that does not exist names the ones that do; label folders given to CTC training
    // point at --task classify.
    let noFold = try CLI.run(["train", "--task", "classify", "--train", data, "--valid-fold", "7", "--output", run + "-7"])
    #expect(noFold.status == 1 && noFold.stderr.contains("holds no clips; its folds are 1, 2"), "\(noFold.stderr)")
    let ctc = try CLI.run(["train", "--task", "ctc", "--train", data, "--output", run + "-ctc"])
    #expect(ctc.status == 1 && ctc.stderr.contains("a folder of label sub-folders is for --task classify"), "\(ctc.stderr)")
    let sliding = try CLI.run(["train", "--task", "classify", "--train", data, "--output", run + "-x", "--cmvn", "sliding"])
    #expect(sliding.status == 64 && sliding.stderr.contains("Please provide one of 'utterance' and 'level'"), "\(sliding.stderr)")
    // Clips whose speaker nothing tells cannot be split by speaker (it would be clip by clip).
    let anonymous = dir.appendingPathComponent("anonymous.jsonl")
    let lines = try ClassificationDataset.load(data).enumerated().map { i, e in
      let link = dir.appendingPathComponent("clip\(i).wav")
      try? FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: e.audio)
      return "{\"audio\": \"\(link.path)\", \"label\": \"\(e.label)\"}"
    }
    try lines.joined(separator: "\n").write(to: anonymous, atomically: true, encoding: .utf8)
    let bySpeaker = try CLI.run(["train", "--task", "classify", "--train", anonymous.path, "--valid-speakers", "0.3",
                                 "--output", run + "-z"])
    #expect(bySpeaker.status == 1 && bySpeaker.stderr.contains("no clip of") && bySpeaker.stderr.contains("has a known speaker"),
            "\(bySpeaker.stderr)")
    let unsplit = try CLI.run(["train", "--task", "classify", "--train", data, "--output", run + "-y", "--split-seed", "2"])
    #expect(unsplit.status == 64 && unsplit.stderr.contains("--split-seed applies with --valid-speakers only"), "\(unsplit.stderr)")
    let tuned = dir.appendingPathComponent("tuned").path
    let f = try CLI.run(["train", "--task", "classify", "--train", data, "--valid-fold", "2", "--init", run + "/best.safetensors",
                         "--output", tuned, "--epochs", "1", "--threads", "2"])
    #expect(f.status == 0, "\(f.stderr)")
    let model = try ClassificationModel(named: tuned + "/best.safetensors")
    #expect(model.network.architecture.hiddenSize == 8 && model.features.mel.melBands == 16)
    #expect(model.features.cmvn.mode == .level)
    #expect(model.network.metadata[ModelMetadataKey.provenance]?.contains("initial_model") == true)
  }

  /// `.encoder` takes exactly the `lstm.` weights and leaves the fresh pooling and output
  /// layer; the sizes it needs must match, the head's may not.
  @Test func warmStartOfTheEncoderOnly() throws {
    var a = ModelArchitecture()
    a.kind = .classifier; a.inputSize = 6; a.hiddenSize = 5; a.numLayers = 2; a.outputSize = 4; a.pooling = .attention
    var b = a
    b.outputSize = 3; b.pooling = .max
    var g1 = SeededGenerator(seed: 1), g2 = SeededGenerator(seed: 2)
    let initial = SequenceClassifier(architecture: a, generator: &g1)
    let fresh = SequenceClassifier(architecture: b, generator: &g2)
    var network = fresh
    try WarmStart.load(initial, architecture: a, into: &network, architecture: b, scope: .encoder)
    var encoder = 0
    for p in network.namedParameters {
      if p.name.hasPrefix("lstm.") {
        encoder += 1
        #expect(network[keyPath: p.path].data == initial[keyPath: p.path].data, "\(p.name)")
        #expect(network[keyPath: p.path].data != fresh[keyPath: p.path].data, "\(p.name)")
      } else {
        #expect(network[keyPath: p.path].data == fresh[keyPath: p.path].data, "\(p.name)")
      }
    }
    #expect(encoder == 16)  // 2 layers x 2 directions x 4 tensors
    // The whole network needs the head to match too; the encoder needs its sizes to.
    #expect(throws: TrainingError.self) { try WarmStart.load(initial, architecture: a, into: &network, architecture: b) }
    var wider = b
    wider.hiddenSize = 6
    var g3 = SeededGenerator(seed: 3)
    var other = SequenceClassifier(architecture: wider, generator: &g3)
    #expect(throws: TrainingError.self) {
      try WarmStart.load(initial, architecture: a, into: &other, architecture: wider, scope: .encoder)
    }
  }

  /// --init MODEL --new-head keeps the model's front end and encoder and learns other labels
  /// with a new head; without --new-head other labels are refused, with a hint.
  @Test func newHeadLearnsOtherLabelsOnATrainedEncoder() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try ToneClasses.write(to: dir.appendingPathComponent("data"), folds: [1], perFold: 6, seed: 11)
    let run = dir.appendingPathComponent("run").path
    let t = try CLI.run(["train", "--task", "classify", "--train", data, "--output", run, "--sample-rate", "8000",
                         "--mel-bands", "16", "--hidden", "8", "--layers", "1", "--pooling", "attention",
                         "--batch-size", "4", "--epochs", "1", "--threads", "2", "--cmvn", "level"])
    #expect(t.status == 0, "\(t.stderr)")
    // The same clips under three new labels.
    var lines = ""
    for (i, file) in try FileManager.default.subpathsOfDirectory(atPath: data).filter({ $0.hasSuffix(".wav") }).sorted().enumerated() {
      lines += "{\"audio\": \"\(data)/\(file)\", \"label\": \"\(["a", "b", "c"][i % 3])\"}\n"
    }
    let manifest = dir.appendingPathComponent("new.jsonl").path
    try lines.write(toFile: manifest, atomically: true, encoding: .utf8)
    let tuned = dir.appendingPathComponent("tuned").path
    let base = ["train", "--task", "classify", "--train", manifest, "--init", run + "/best.safetensors", "--epochs", "1",
                "--batch-size", "4", "--threads", "2", "--learning-rate", "1e-9"]
    let f = try CLI.run(base + ["--new-head", "--pooling", "max", "--output", tuned])
    #expect(f.status == 0, "\(f.stderr)")
    let before = try ClassificationModel(named: run + "/best.safetensors")
    let after = try ClassificationModel(named: tuned + "/best.safetensors")
    #expect(after.labels == ["a", "b", "c"])
    #expect(after.network.architecture.pooling == .max && after.network.architecture.outputSize == 3)
    #expect(after.network.architecture.hiddenSize == 8 && after.features == before.features)
    for p in after.network.namedParameters where p.name.hasPrefix("lstm.") {
      let x = after.network[keyPath: p.path].data, y = before.network[keyPath: p.path].data
      #expect(zip(x, y).allSatisfy { abs($0 - $1) < 1e-6 }, "\(p.name) moved more than a 1e-9 learning rate can")
    }
    #expect(after.network.metadata[ModelMetadataKey.provenance]?.contains("encoder of a model trained as") == true)
    // Other labels on the whole network are refused, pointing at --new-head; --new-head needs
    // --init and a classifier.
    let labels = try CLI.run(base + ["--labels", "a,b,c", "--output", tuned + "-2"])
    #expect(labels.status == 64 && labels.stderr.contains("--labels is taken from the --init model")
      && labels.stderr.contains("add --new-head"), "\(labels.stderr)")
    // Labels the model will not have are listed at once, with the option that causes it.
    let kept = try CLI.run(base + ["--output", tuned + "-5"])
    #expect(kept.status == 1 && kept.stderr.contains("labels the model will not have: 'a' (") && kept.stderr.contains("add --new-head"),
            "\(kept.stderr)")
    let short = try CLI.run(["train", "--task", "classify", "--train", manifest, "--labels", "a,b", "--output", tuned + "-6"])
    #expect(short.status == 1 && short.stderr.contains("'c' (") && short.stderr.contains("add them to --labels"), "\(short.stderr)")
    let alone = try CLI.run(["train", "--task", "classify", "--train", manifest, "--new-head", "--output", tuned + "-3"])
    #expect(alone.status == 64 && alone.stderr.contains("--new-head keeps the encoder of an --init model"), "\(alone.stderr)")
    let ctc = try CLI.run(["train", "--train", manifest, "--init", "digits", "--init-member", "0", "--new-head",
                           "--output", tuned + "-4"])
    #expect(ctc.status == 64 && ctc.stderr.contains("--new-head applies to --task classify only"), "\(ctc.stderr)")
  }

  /// --split-seed fixes the held-out speakers whatever --seed is; without it the split
  /// follows --seed, as before. validation.jsonl lists the held-out clips.
  @Test func splitSeedKeepsTheValidationSpeakers() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try ToneClasses.write(to: dir.appendingPathComponent("data"), folds: [1, 2], perFold: 10, seed: 8)
    func heldOut(_ name: String, _ extra: [String]) throws -> [String] {
      let run = dir.appendingPathComponent(name).path
      let t = try CLI.run(["train", "--task", "classify", "--train", data, "--valid-speakers", "0.5", "--output", run,
                           "--sample-rate", "8000", "--mel-bands", "16", "--hidden", "4", "--layers", "1",
                           "--batch-size", "8", "--epochs", "1", "--threads", "1"] + extra)
      #expect(t.status == 0, "\(t.stderr)")
      // The split says what it gave, not only the fraction asked for.
      let held = try ClassificationDataset.load(run + "/validation.jsonl")
      #expect(t.stderr.contains(" speakers of \(data), \(held.count) of 40 clips ("), "\(t.stderr)")
      return held.map(\.audio).sorted()
    }
    let a = try heldOut("a", ["--seed", "1", "--split-seed", "7"])
    let b = try heldOut("b", ["--seed", "2", "--split-seed", "7"])
    let c = try heldOut("c", ["--seed", "2"])
    #expect(!a.isEmpty && a.count < 40)
    #expect(a == b)
    #expect(c != a)
    let speakers = Set(try ClassificationDataset.load(data).map(\.audio))
    #expect(Set(a).isSubset(of: speakers))
    // Resuming run "a" on run "c"'s split is refused, and "a"'s validation.jsonl stays.
    let run = dir.appendingPathComponent("a").path
    let other = try CLI.run(["train", "--task", "classify", "--train", data, "--valid-speakers", "0.5", "--output", run,
                             "--sample-rate", "8000", "--mel-bands", "16", "--hidden", "4", "--layers", "1",
                             "--batch-size", "8", "--epochs", "2", "--threads", "1", "--seed", "1", "--split-seed", "2", "--resume"])
    #expect(other.status == 1 && other.stderr.contains("trained on other data"), "\(other.stderr)")
    #expect(try ClassificationDataset.load(run + "/validation.jsonl").map(\.audio).sorted() == a)
  }

  /// The shipped `commands` model hears the project's own espeak-ng "yes".
  @Test func shippedCommandsModelHearsYes() throws {
    guard ModelCatalog.names.contains("commands") else {
      print("skipped: no shipped commands model")
      return
    }
    let sample = CLI.repository.appendingPathComponent("samples/yes.wav").path
    let r = try CLI.run(["classify", sample])
    #expect(r.status == 0, "\(r.stderr)")
    // "samples/yes.wav<TAB>yes<TAB>0.9876"
    let fields = r.text.split(separator: "\n").first?.split(separator: "\t").map(String.init) ?? []
    #expect(fields.count >= 2 && fields[1] == "yes", "\(r.text)")
  }

  /// The shipped `sounds` model hears the project's own sox clock ticks (a 44.1 kHz FLAC) as a
  /// clock, for the whole clip and in every window of a timeline.
  @Test func shippedSoundsModelHearsTheClock() throws {
    guard ModelCatalog.names.contains("sounds") else {
      print("skipped: no shipped sounds model")
      return
    }
    let sample = CLI.repository.appendingPathComponent("samples/clock-tick.flac").path
    let whole = try CLI.run(["classify", "--model", "sounds", sample])
    #expect(whole.status == 0, "\(whole.stderr)")
    let fields = whole.text.split(separator: "\n").first?.split(separator: "\t").map(String.init) ?? []
    #expect(fields.count >= 2 && fields[1] == "clock_tick", "\(whole.text)")
    // "samples/clock-tick.flac<TAB>start<TAB>end<TAB>label<TAB>probability" per window.
    let timeline = try CLI.run(["classify", "--model", "sounds", "--window", "2", "--hop", "1", sample])
    let labels = timeline.text.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
    #expect(labels.count == 4 && labels.allSatisfy { $0.count >= 4 && $0[3] == "clock_tick" }, "\(timeline.text)")
  }
}

@Suite struct ClassificationDataGuardTests {
  /// A --train folder with a single label folder fails before any audio is decoded.
  @Test func oneLabelIsRefusedUpFront() throws {
    let dir = Scratch.path("one-label")
    let label = dir.appendingPathComponent("only")
    try FileManager.default.createDirectory(at: label, withIntermediateDirectories: true)
    try Data("not audio".utf8).write(to: label.appendingPathComponent("a.wav"))
    let r = try CLI.run(["train", "--task", "classify", "--train", dir.path, "--output", dir.appendingPathComponent("run").path])
    #expect(r.status == 1)
    #expect(r.stderr.contains("only 1 label (only); a classifier needs at least 2"), "\(r.stderr)")
  }

  /// A folder of files (each path relative to a fresh temporary folder, contents irrelevant).
  static func tree(_ files: [String]) throws -> URL {
    let dir = Scratch.path("label-tree")
    for file in files {
      let url = dir.appendingPathComponent(file)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try Data("not audio".utf8).write(to: url)
    }
    return dir
  }

  /// `--train /` used to list every folder under the root for clips (and, with two of them
  /// holding audio, train on them); it stops at the first sub-folder without audio.
  @Test func rootIsNotALabelTree() throws {
    let error = #expect(throws: TrainingError.self) { try ClassificationDataset.load("/") }
    guard case .notLabelFolders(let path, let found)? = error else {
      Issue.record("expected notLabelFolders, got \(String(describing: error))")
      return
    }
    #expect(path == "/")
    #expect(found.hasPrefix("its sub-folder ") && found.hasSuffix("/ holds no audio files"), "\(found)")
  }

  @Test func looseClipsAreNotALabelTree() throws {
    let dir = try Self.tree(["a.wav", "b.wav", "notes.txt"])
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(throws: TrainingError.notLabelFolders(path: dir.path, found: "it holds audio files itself (a.wav)")) {
      try ClassificationDataset.load(dir.path)
    }
  }

  @Test func aSubFolderWithoutClipsIsNamed() throws {
    let dir = try Self.tree(["dog/1-1-A.wav", "cat/1-2-A.wav", "meta/esc10.csv", "LICENSE"])
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(throws: TrainingError.notLabelFolders(path: dir.path, found: "its sub-folder meta/ holds no audio files")) {
      try ClassificationDataset.load(dir.path)
    }
    try FileManager.default.removeItem(at: dir.appendingPathComponent("meta"))
    #expect(try ClassificationDataset.load(dir.path).map(\.label) == ["cat", "dog"])
  }

  @Test func cliRefusesTheRootAtOnce() throws {
    let out = Scratch.path("root-run")
    let r = try CLI.run(["train", "--task", "classify", "--train", "/", "--output", out.path])
    #expect(r.status == 1)
    #expect(r.stderr.contains("/: not a classification folder: its sub-folder "), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out.path))
  }
}
