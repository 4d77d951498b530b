import Earshot
import Foundation
import Testing

@Suite("Classifier test-time speeds")
struct TestSpeedsTests {
  let wav = CLI.fixtures.appendingPathComponent("audio/phrase-22050-mono-s16.flac").path

  /// Hearing a clip at speed s is resampling it from the model's rate to rate / s and playing
  /// the result at the model's rate. A model with speeds [0.9, 1, 1.1] must give the mean of
  /// the plain model's probabilities on those three versions of the clip.
  @Test func probabilitiesAreTheMeanOverSpeeds() throws {
    let (plain, _) = try fixtureClassificationModel(pooling: .attention)
    let ensemble = try ClassificationModel(members: plain.members + otherClassificationModel().members, labels: plain.labels)
    var heard = ensemble
    heard.testSpeeds = [0.9, 1, 1.1]
    // At the recorded level: the level step (DC blocker) comes before the speed change.
    let result = try Classifier(model: heard, normalizesLevel: false).classify(path: wav)

    let asIs = try Classifier(model: ensemble, normalizesLevel: false)
    let clip = try AudioFile.loadMono(path: wav, sampleRate: 16_000).samples
    var expected = [String: Double]()
    for speed in [0.9, 1.0, 1.1] {
      let samples = speed == 1 ? clip : try Resampler.resample(clip, from: 16_000, to: Int((16_000 / speed).rounded()))
      // Played back at 16 kHz: that is the speed change.
      for (label, p) in try asIs.classify(samples: samples, sampleRate: 16_000).ranked { expected[label, default: 0] += p / 3 }
    }
    let once = try asIs.classify(path: wav)
    var moved = 0.0
    for (label, p) in result.ranked {
      #expect(abs(p - expected[label]!) < 1e-9, "\(label): \(p) vs \(expected[label]!)")
      moved = max(moved, abs(p - once.ranked.first { $0.label == label }!.probability))
    }
    // The speeds move the answer far more than the tolerance, so the check above can fail.
    #expect(moved > 1e-4, "largest change \(moved)")
    #expect(abs(result.ranked.map(\.probability).reduce(0, +) - 1) < 1e-6)
    #expect(result.end == once.end)
  }

  /// A clip longer than a minute hears its speeds one at a time (to hold one copy of its
  /// activations, not three) and must still get the mean over speeds and members.
  @Test func aLongClipGetsTheSameMeanOverSpeeds() throws {
    let (plain, _) = try fixtureClassificationModel(pooling: .attention)
    let ensemble = try ClassificationModel(members: plain.members + otherClassificationModel().members, labels: plain.labels)
    var heard = ensemble
    heard.testSpeeds = [0.9, 1, 1.1]
    let clip = try AudioFile.loadMono(path: wav, sampleRate: 16_000).samples
    var long: [Float] = []
    while long.count <= Int(61 * 16_000.0) { long += clip }
    #expect(Double(long.count) / 16_000 > Classifier.batchedSpeedsSeconds)
    let result = try Classifier(model: heard, normalizesLevel: false).classify(samples: long, sampleRate: 16_000)
    let asIs = try Classifier(model: ensemble, normalizesLevel: false)
    var expected = [String: Double]()
    for speed in [0.9, 1.0, 1.1] {
      let samples = speed == 1 ? long : try Resampler.resample(long, from: 16_000, to: Int((16_000 / speed).rounded()))
      for (label, p) in try asIs.classify(samples: samples, sampleRate: 16_000).ranked { expected[label, default: 0] += p / 3 }
    }
    for (label, p) in result.ranked {
      #expect(abs(p - expected[label]!) < 1e-9, "\(label): \(p) vs \(expected[label]!)")
    }
    #expect(abs(result.end - Double(long.count) / 16_000) < 1e-9)
  }

  @Test func speedsAreStoredAndChecked() throws {
    let dir = temporaryDirectory()
    var (plain, _) = try fixtureClassificationModel()
    plain.testSpeeds = [1, 1.1]
    var ensemble = try ClassificationModel(members: plain.members + otherClassificationModel().members, labels: plain.labels)
    ensemble.testSpeeds = [0.9, 1, 1.1]
    for (name, model) in [("plain", plain), ("ensemble", ensemble)] {
      let path = dir.appendingPathComponent("\(name).safetensors").path
      try model.save(to: path)
      #expect(try ClassificationModel(named: path).testSpeeds == model.testSpeeds, "\(name)")
      #expect(try SafeTensors(contentsOf: path).metadata[ModelMetadataKey.testSpeeds] != nil)
    }
    // The default, [1], writes nothing: files made before test speeds existed are unchanged.
    let (_, defaultPath) = try fixtureClassificationModel()
    #expect(try SafeTensors(contentsOf: defaultPath).metadata[ModelMetadataKey.testSpeeds] == nil)
    #expect(try ClassificationModel(named: defaultPath).testSpeeds == [1])

    for (text, reason) in [("[]", "no speeds"), ("[0.9, 3]", "outside 0.5...2"), ("[1, 1]", "appears twice"),
                           ("\"fast\"", "not a JSON array of numbers")] {
      var file = try SafeTensors(contentsOf: defaultPath)
      file.metadata[ModelMetadataKey.testSpeeds] = text
      let path = dir.appendingPathComponent("bad.safetensors").path
      try file.write(to: path)
      #expect {
        _ = try ClassificationModel(named: path)
      } throws: { error in "\(error)".contains(reason) && "\(error)".contains(path) }
    }
    plain.testSpeeds = [0]
    #expect(throws: PipelineError.self) { try Classifier(model: plain) }
    #expect(throws: PipelineError.self) { try plain.save(to: dir.appendingPathComponent("never.safetensors").path) }
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("never.safetensors").path))
  }

  @Test func cliStoresOverridesAndRefuses() throws {
    let (plain, path) = try fixtureClassificationModel(pooling: .attention)
    let dir = temporaryDirectory()
    let out = dir.appendingPathComponent("heard.safetensors").path
    let made = try CLI.run(["ensemble", path, "--test-speeds", "0.9,1,1.1", "--output", out])
    #expect(made.status == 0 && made.stderr.contains("1 network,") && made.stderr.contains("speeds 0.9,1.0,1.1"), "\(made.stderr)")
    #expect(try ClassificationModel(named: out).testSpeeds == [0.9, 1, 1.1])
    // Restamped with speed 1, a model with speeds hears clips as they are again (its loaded
    // metadata once carried the old speeds into the new file).
    let off = dir.appendingPathComponent("off.safetensors").path
    #expect(try CLI.run(["ensemble", out, "--test-speeds", "1", "--output", off]).status == 0)
    #expect(try ClassificationModel(named: off).testSpeeds == [1])
    #expect(try SafeTensors(contentsOf: off).metadata[ModelMetadataKey.testSpeeds] == nil)
    // Restamping one model keeps its provenance; --provenance replaces it.
    let stamped = dir.appendingPathComponent("stamped.safetensors").path
    try plain.save(to: stamped, provenance: "{\"recipe\": \"x\"}")
    let restamped = dir.appendingPathComponent("restamped.safetensors").path
    #expect(try CLI.run(["ensemble", stamped, "--test-speeds", "1.1,1", "--output", restamped]).status == 0)
    #expect(try SafeTensors(contentsOf: restamped).metadata[ModelMetadataKey.provenance] == "{\"recipe\": \"x\"}")
    #expect(try CLI.run(["ensemble", stamped, "--test-speeds", "1.1,1", "--provenance", "new", "--output", restamped]).status == 0)
    #expect(try SafeTensors(contentsOf: restamped).metadata[ModelMetadataKey.provenance] == "{\"ensemble\":\"new\"}")

    func confidence(_ arguments: [String]) throws -> Double {
      let r = try CLI.run(["classify", "--format", "json"] + arguments + [wav])
      #expect(r.status == 0, "\(r.stderr)")
      return (try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any])["confidence"] as! Double
    }
    var heard = plain
    heard.testSpeeds = [0.9, 1, 1.1]
    let withSpeeds = try Classifier(model: heard).classify(path: wav).confidence
    let asIs = try Classifier(model: plain).classify(path: wav).confidence
    #expect(abs(withSpeeds - asIs) > 1e-4)
    #expect(abs(try confidence(["--model", out]) - withSpeeds) < 1e-5)
    #expect(abs(try confidence(["--model", out, "--speeds", "1"]) - asIs) < 1e-5)
    #expect(abs(try confidence(["--model", path, "--speeds", "0.9, 1, 1.1"]) - withSpeeds) < 1e-5)

    for bad in ["0.9,,1.1", "fast", "0.2", "1,1"] {
      let r = try CLI.run(["classify", "--model", out, "--speeds", bad, wav])
      #expect(r.status == 64 && r.stderr.contains("--speeds"), "\(bad): \(r.stderr)")
    }
    let ctc = CLI.repository.appendingPathComponent("Tests/Fixtures/logits/model.safetensors").path
    let wrongKind = try CLI.run(["ensemble", ctc, "--test-speeds", "1.1", "--output", dir.appendingPathComponent("x.safetensors").path])
    #expect(wrongKind.status == 64 && wrongKind.stderr.contains("applies to classifiers"), "\(wrongKind.stderr)")
    let missing = try CLI.run(["ensemble", dir.appendingPathComponent("none.safetensors").path, "--test-speeds", "1.1",
                               "--output", dir.appendingPathComponent("x.safetensors").path])
    #expect(missing.status == 1 && missing.stderr.contains("no such model file"), "\(missing.stderr)")
    let evaluated = try CLI.run(["evaluate", "--model", ctc, "--speeds", "1.1", dir.path])
    #expect(evaluated.status == 64 && evaluated.stderr.contains("apply to classifiers"), "\(evaluated.stderr)")
  }

  /// A float file can hold samples far past full scale, which no clip the models learnt from
  /// does: a clip is brought back to a full-scale peak first, so 10x or 1000x louder copies of
  /// a full-scale clip are heard as it is.
  @Test func samplesPastFullScaleAreBroughtBack() throws {
    let (plain, _) = try fixtureClassificationModel(pooling: .attention)
    let classifier = try Classifier(model: plain)
    let clip = try AudioFile.loadMono(path: wav, sampleRate: 16_000).samples
    let peak = clip.map(abs).max()!
    let fullScale = clip.map { $0 / peak }
    let heard = try [Float(1), 10, 1000].map { g in try classifier.classify(samples: fullScale.map { $0 * g }, sampleRate: 16_000) }
    var worst = 0.0
    for r in heard.dropFirst() {
      for (a, b) in zip(r.ranked, heard[0].ranked) {
        #expect(a.label == b.label)
        worst = max(worst, abs(a.probability - b.probability))
      }
    }
    #expect(worst < 1e-5, "largest change \(worst)")
  }
}
