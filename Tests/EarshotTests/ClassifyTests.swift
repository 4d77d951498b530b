import Earshot
import Foundation
import Testing

/// A seeded random three-label classifier network of the given shape.
func tinyClassifierNetwork(inputs: Int, hidden: Int, layers: Int, pooling: Pooling, seed: UInt64) -> SequenceClassifier {
  var architecture = ModelArchitecture()
  architecture.kind = .classifier
  architecture.inputSize = inputs
  architecture.hiddenSize = hidden
  architecture.numLayers = layers
  architecture.outputSize = 3
  architecture.pooling = pooling
  var generator = SeededGenerator(seed: seed)
  return SequenceClassifier(architecture: architecture, generator: &generator)
}

/// A small seeded random classifier: labels mean nothing, every stage runs for real.
func fixtureClassificationModel(pooling: Pooling = .mean) throws -> (ClassificationModel, String) {
  let network = tinyClassifierNetwork(inputs: 13, hidden: 8, layers: 1, pooling: pooling, seed: 7)
  var features = FeatureOptions(kind: .mfcc, sampleRate: 16_000)
  features.spectrogram.fftSize = 512
  features.spectrogram.hopLength = 160
  features.mfcc.mfccCount = 13
  let model = ClassificationModel(network: network, features: features, labels: ["yes", "no", "up"])
  let path = temporaryDirectory().appendingPathComponent("classifier.safetensors").path
  try model.save(to: path)
  return (model, path)
}

@Suite("Classifier and earshot classify")
struct ClassifyTests {
  let wav = CLI.fixtures.appendingPathComponent("audio/phrase-22050-mono-s16.flac").path

  @Test(arguments: Pooling.allCases)
  func jsonMatchesTheLibrary(_ pooling: Pooling) throws {
    let (model, path) = try fixtureClassificationModel(pooling: pooling)
    let expected = try Classifier(model: model).classify(path: wav)
    #expect(abs(expected.ranked.map(\.probability).reduce(0, +) - 1) < 1e-5)
    let r = try CLI.run(["classify", "--model", path, "--format", "json", "--top", "2", wav])
    #expect(r.status == 0, "\(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
    #expect(object["label"] as? String == expected.label)
    let top = object["top"] as! [[String: Any]]
    #expect(top.map { $0["label"] as! String } == expected.ranked.prefix(2).map(\.label))
    // Text: --top 2 is the label and one runner-up; the default, the label alone.
    let text = try CLI.run(["classify", "--model", path, "--top", "2", wav])
    #expect(text.text.split(separator: "\t").count == 4 && text.text.contains("\t\(expected.ranked[1].label):"), "\(text.text)")
    #expect(try CLI.run(["classify", "--model", path, wav]).text.split(separator: "\t").count == 3)
    // The library's Codable form has the CLI's keys (less "file") and round-trips.
    let encoded = try JSONEncoder().encode(expected)
    let library = try JSONSerialization.jsonObject(with: encoded) as! [String: Any]
    #expect(Set(library.keys) == Set(object.keys).subtracting(["file"]).union(["start", "end"]), "\(library.keys)")
    #expect(try JSONDecoder().decode(Classification.self, from: encoded) == expected)
    // And it reads the CLI's own line (no start/end for a whole file; the --top labels only).
    let line = try JSONDecoder().decode(Classification.self, from: r.stdout)
    #expect(line.label == expected.label && line.ranked.count == 2 && abs(line.confidence - expected.confidence) < 1e-5)
    #expect(abs((object["confidence"] as! Double) - expected.confidence) < 1e-5)
  }

  /// A clip whose peak is under -20 dBFS is raised to it before its features; a louder one keeps
  /// its level. At -60 dB as recorded, the shipped model is no longer sure of "yes" (under half
  /// its probability: its PCEN networks still hear it, its log-mel ones lose it); raised, it is.
  @Test func quietClipsAreRaised() throws {
    var model = try ClassificationModel(named: "commands")
    model.testSpeeds = [1]
    let path = CLI.repository.appendingPathComponent("samples/yes.wav").path
    let x = try AudioFile.loadMono(path: path, sampleRate: model.features.sampleRate).samples
    let raising = try Classifier(model: model)
    let asRecorded = try Classifier(model: model, normalizesLevel: false)
    #expect(raising.normalizesLevel && !asRecorded.normalizesLevel)
    func same(_ a: Classification, _ b: Classification) {
      for (p, q) in zip(a.ranked, b.ranked) {
        #expect(p.label == q.label && abs(p.probability - q.probability) < 1e-4, "\(p) \(q)")
      }
    }
    // Louder than -20 dBFS: only its DC offset is removed.
    let centred = LevelNormalization.removingDC(x)
    let centredPeak = centred.map(abs).max()!
    #expect(centredPeak > LevelNormalization.minimumPeak)
    same(try raising.classify(samples: x, sampleRate: raising.model.features.sampleRate), try asRecorded.classify(samples: centred, sampleRate: asRecorded.model.features.sampleRate))
    let quiet = x.map { $0 * 1e-3 }
    let heard = try raising.classify(samples: quiet, sampleRate: raising.model.features.sampleRate)
    let reference = try asRecorded.classify(samples: centred.map { $0 * (LevelNormalization.minimumPeak / centredPeak) }, sampleRate: asRecorded.model.features.sampleRate)
    #expect(heard.label == "yes")
    same(heard, reference)
    let unraised = try asRecorded.classify(samples: quiet, sampleRate: asRecorded.model.features.sampleRate)
    let yes = { (c: Classification) in c.ranked.first { $0.label == "yes" }?.probability ?? 0 }
    #expect(yes(unraised) < 0.5 && yes(heard) > 0.8, "yes: \(yes(unraised)) as recorded, \(yes(heard)) raised")
  }

  /// A long file classified whole gets one note about --window (once a run); a timeline or a
  /// short clip does not.
  @Test func longFilesGetATimelineHint() throws {
    let (_, path) = try fixtureClassificationModel()
    let long = temporaryDirectory().appendingPathComponent("long.wav").path
    let tone = (0..<(8_000 * 31)).map { 0.1 * sin(Float($0) * 0.3) }
    try writeWAV(tone, sampleRate: 8_000, to: long)
    let whole = try CLI.run(["classify", "--model", path, long, long])
    #expect(whole.status == 0 && whole.stderr.components(separatedBy: "note: ").count == 2 && whole.stderr.contains("is 31.0 s long"), "\(whole.stderr)")
    let timeline = try CLI.run(["classify", "--model", path, "--window", "10", long])
    #expect(timeline.status == 0 && !timeline.stderr.contains("note:"), "\(timeline.stderr)")
    #expect(try CLI.run(["classify", "--model", path, wav]).stderr.isEmpty)
  }

  /// Windows every hop seconds, in file time; a last window ends at the end of the file.
  @Test func timelineCoversTheFile() throws {
    let (model, path) = try fixtureClassificationModel()
    let windows = try Classifier(model: model).timeline(path: wav, window: 0.3, hop: 0.2)
    let duration = 22_618.0 / 22_050
    // Full windows start at 0, 0.2, 0.4, 0.6 (0.8 + 0.3 > 1.026 s); then one ends at the end.
    #expect(windows.count == 5)
    for (i, w) in windows.dropLast().enumerated() {
      #expect(abs(w.start - 0.2 * Double(i)) < 1e-9)
      #expect(abs(w.end - w.start - 0.3) < 1e-9)
    }
    #expect(abs(windows.last!.end - duration) < 1e-3)
    #expect(abs(windows.last!.end - windows.last!.start - 0.3) < 1e-3)
    // The progress hook: each full window's end, then the file's end.
    var reported: [Double] = []
    let again = try Classifier(model: model).timeline(path: wav, window: 0.3, hop: 0.2) { reported.append($0) }
    #expect(again.map(\.label) == windows.map(\.label))
    #expect(reported.count == windows.count)
    for (seconds, w) in zip(reported.dropLast(), windows.dropLast()) { #expect(abs(seconds - w.end) < 1e-3) }
    #expect(abs(try #require(reported.last) - duration) < 1e-3)
    // Audio in memory gets the same windows: at the model's rate exactly, at another rate
    // after resampling (soxr, whole rather than in blocks).
    let classifier = try Classifier(model: model)
    let atModelRate = try AudioFile.loadMono(path: wav, sampleRate: model.features.sampleRate)
    #expect(try classifier.timeline(atModelRate, window: 0.3, hop: 0.2) == windows)
    let asRecorded = try classifier.timeline(try AudioFile.loadMono(path: wav), window: 0.3, hop: 0.2)
    #expect(asRecorded.map(\.start) == windows.map(\.start))
    for (a, b) in zip(asRecorded, windows) { #expect(abs(a.confidence - b.confidence) < 1e-3 && a.label == b.label) }
    #expect(throws: PipelineError.self) { try classifier.timeline(atModelRate, window: 0, hop: 0.2) }
    // No samples is an error, as a file of none is (it was one window of zero padding).
    #expect(throws: AudioError.empty(path: "samples")) { try classifier.timeline(MonoAudio(samples: [], sampleRate: 16_000), window: 1, hop: 1) }
    #expect(throws: AudioError.empty(path: "samples")) { try classifier.classify(samples: [], sampleRate: 16_000) }
    let r = try CLI.run(["classify", "--model", path, "--window", "0.3", "--hop", "0.2", wav])
    #expect(r.status == 0, "\(r.stderr)")
    let tiny = try CLI.run(["classify", "--model", path, "--window", "0.01", wav])
    #expect(tiny.status == 64 && tiny.stderr.contains("is shorter than one analysis frame") && tiny.stderr.contains("(0.032 s)"),
            "\(tiny.stderr)")
    #expect(r.text.split(separator: "\n").count == 5)
    #expect(r.text.hasPrefix("\(wav)\t0.00\t0.30\t\(windows[0].label)\t"))
    // Hop longer than the window: the grid's next start (1.0 s) is inside the file, so a last
    // window covers the tail; at hop 0.6 the next start (1.2 s) is past the end, and the tail
    // (0.8-1.026 s) lies in a gap, like 0.2-0.6 s: no extra window.
    let sparse = try Classifier(model: model).timeline(path: wav, window: 0.2, hop: 0.5)
    #expect(sparse.map { ($0.start * 1000).rounded() } == [0, 500, (1000 * (duration - 0.2)).rounded()])
    let gapped = try Classifier(model: model).timeline(path: wav, window: 0.2, hop: 0.6)
    #expect(gapped.map { ($0.start * 1000).rounded() } == [0, 600])
    #expect(abs(gapped.last!.end - 0.8) < 1e-9)
  }

  /// A timeline window is raised by the loudest sample so far in its file, not its own: a
  /// quiet pause after a loud sound stays quiet (raised on its own, its noise became a
  /// "word"); a quiet start, with nothing louder before it, is raised as a clip is.
  @Test func timelineWindowsAreRaisedByTheFileSoFar() throws {
    let (model, _) = try fixtureClassificationModel()
    let rate = model.features.sampleRate
    var rng = SeededGenerator(seed: 11)
    let quiet = (0..<rate).map { _ in 1e-4 * Float.random(in: -1...1, using: &rng) }
    let loud = (0..<rate).map { n in 0.5 * Float(sin(2 * Double.pi * 440 * Double(n) / Double(rate))) }
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("quiet-loud-quiet.wav").path
    try writeWAV(quiet + loud + quiet, sampleRate: rate, encoding: .float32, to: path)
    let raising = try Classifier(model: model)
    let asRecorded = try Classifier(model: model, normalizesLevel: false)
    let windows = try raising.timeline(path: path, window: 1, hop: 1)
    try #require(windows.count == 3)
    func probabilities(_ c: Classification) -> [Double] { model.labels.map { l in c.ranked.first { $0.label == l }!.probability } }
    func close(_ a: Classification, _ b: Classification) -> Bool { zip(probabilities(a), probabilities(b)).allSatisfy { abs($0 - $1) < 1e-5 } }
    // The first quiet second: raised as a clip alone. The pause after the tone: as it is.
    #expect(close(windows[0], try raising.classify(samples: quiet, sampleRate: rate)))
    #expect(close(windows[2], try asRecorded.classify(samples: LevelNormalization.removingDC(quiet), sampleRate: rate)))
    #expect(!close(windows[2], try raising.classify(samples: quiet, sampleRate: rate)))
  }

  @Test func shortClipIsPaddedNotRejected() throws {
    let (model, _) = try fixtureClassificationModel()
    let result = try Classifier(model: model).classify(samples: [Float](repeating: 0.1, count: 100), sampleRate: model.features.sampleRate)
    #expect(result.ranked.count == 3)
  }

  /// Samples at any rate are resampled to the model's: `yes.wav` read at 22.05 kHz is still
  /// "yes", about as sure as from the file.
  @Test func samplesAtAnyRateAreResampled() throws {
    let classifier = try Classifier(model: ClassificationModel(named: "commands"))
    let path = CLI.repository.appendingPathComponent("samples/yes.wav").path
    let heard = try classifier.classify(try AudioFile.loadMono(path: path, sampleRate: 22_050))
    #expect(heard.label == "yes")
    #expect(abs(heard.confidence - (try classifier.classify(path: path)).confidence) < 0.05)
  }

  /// A timeline needs a positive window and hop: an error, not a crash.
  @Test func timelineRefusesAnEmptyWindow() throws {
    let (model, _) = try fixtureClassificationModel()
    let classifier = try Classifier(model: model)
    #expect(throws: PipelineError.badTimeline(window: 0, hop: 1)) { try classifier.timeline(path: wav, window: 0, hop: 1) }
    #expect(throws: PipelineError.self) { try classifier.timeline(path: wav, window: 1, hop: -1) }
  }

  @Test func badFilesAndArguments() throws {
    let (_, path) = try fixtureClassificationModel()
    let r = try CLI.run(["classify", "--model", path, "/no/such.wav", wav])
    #expect(r.status == 1)
    #expect(r.stderr.contains("/no/such.wav: no such file"), "\(r.stderr)")
    #expect(r.text.hasPrefix(wav + "\t"))
    let usage = try CLI.run(["classify", "--hop", "1", wav])
    #expect(usage.status == 64)
    #expect(usage.stderr.contains("--hop needs --window"))
  }
}
