import Earshot
import Foundation
import Testing

/// A second small classifier unlike `fixtureClassificationModel`'s: max pooling, 20 log-mel
/// bands normalised by level, another seed. Same labels and sample rate.
func otherClassificationModel() -> ClassificationModel {
  let network = tinyClassifierNetwork(inputs: 20, hidden: 6, layers: 2, pooling: .max, seed: 11)
  var features = FeatureOptions(kind: .logmel, sampleRate: 16_000)
  features.spectrogram.fftSize = 400
  features.spectrogram.hopLength = 160
  features.mel.melBands = 20
  features.cmvn.mode = .level
  return ClassificationModel(network: network, features: features, labels: ["yes", "no", "up"])
}

@Suite("Classifier ensembles and earshot ensemble")
struct EnsembleTests {
  let wav = CLI.fixtures.appendingPathComponent("audio/phrase-22050-mono-s16.flac").path

  /// Each member's probabilities come from its own single-model `Classifier`; the ensemble
  /// read back from its file must give their mean for every label.
  @Test func ensembleFileAveragesItsMembers() throws {
    let (a, _) = try fixtureClassificationModel(pooling: .attention)
    let b = otherClassificationModel()
    let ensemble = try ClassificationModel(members: a.members + b.members, labels: a.labels)
    let path = temporaryDirectory().appendingPathComponent("ensemble.safetensors").path
    try ensemble.save(to: path, provenance: "{\"test\": true}")

    let loaded = try ClassificationModel(named: path)
    #expect(loaded.isEnsemble && loaded.members.count == 2 && loaded.labels == a.labels)
    #expect(loaded.members[1].features == b.features)
    for (original, back) in zip([a.network, b.network], loaded.members.map(\.network)) {
      #expect(back.architecture == original.architecture)
      #expect(back.namedParameters.map(\.name) == original.namedParameters.map(\.name))
      for p in original.namedParameters { #expect(back[keyPath: p.path].data == original[keyPath: p.path].data, "\(p.name)") }
    }

    let pa = try Classifier(model: a).classify(path: wav).ranked
    let pb = try Classifier(model: b).classify(path: wav).ranked
    let both = try Classifier(model: loaded).classify(path: wav)
    #expect(pa.first!.label != pb.first!.label || pa.first!.probability != pb.first!.probability)
    for label in a.labels {
      let expected = (pa.first { $0.label == label }!.probability + pb.first { $0.label == label }!.probability) / 2
      let found = both.ranked.first { $0.label == label }!.probability
      #expect(abs(found - expected) < 1e-12, "\(label): \(found) vs \(expected)")
    }
    #expect(both.ranked.map(\.probability) == both.ranked.map(\.probability).sorted(by: >))
  }

  @Test func membersMustFitTogether() throws {
    let (a, _) = try fixtureClassificationModel()
    // Member 1 has two outputs where member 0 has three (one per label).
    var architecture = otherClassificationModel().network.architecture
    architecture.outputSize = 2
    var generator = SeededGenerator(seed: 3)
    let two = ClassificationModel.Member(network: SequenceClassifier(architecture: architecture, generator: &generator),
                                         features: otherClassificationModel().features)
    #expect(throws: PipelineError.badEnsemble(path: "memory", reason: "member 1 has 2 outputs for 3 labels (yes,no,up)")) {
      try ClassificationModel(members: a.members + [two], labels: a.labels)
    }
    var slower = otherClassificationModel()
    slower.features.sampleRate = 8_000
    #expect {
      try ClassificationModel(members: a.members + slower.members, labels: a.labels)
    } throws: { error in "\(error)".contains("member 1 works at 8000 Hz, member 0 at 16000 Hz") }
    #expect(throws: PipelineError.badEnsemble(path: "memory", reason: "no members")) {
      try ClassificationModel(members: [], labels: a.labels)
    }
    // A plain model whose labels were changed after the fact is refused, not trapped on.
    var relabelled = a
    relabelled.labels = ["yes", "no"]
    #expect(throws: PipelineError.self) { try Classifier(model: relabelled) }
  }

  /// A plain model keeps the PyTorch-named layout: no ensemble keys, no member prefixes.
  @Test func plainModelFileIsUnchanged() throws {
    let (_, path) = try fixtureClassificationModel(pooling: .attention)
    let file = try SafeTensors(contentsOf: path)
    #expect(file.metadata[ModelFile.ensembleKey] == nil && file.metadata["member0"] == nil)
    #expect(file.metadata[ModelFile.architectureKey] != nil)
    #expect(file.tensors.keys.allSatisfy { $0.hasPrefix("lstm.") || $0.hasPrefix("fc.") || $0.hasPrefix("attention.") })
    #expect(try !ClassificationModel(named: path).isEnsemble)
  }

  @Test func malformedEnsembleFilesAreRefused() throws {
    let (a, _) = try fixtureClassificationModel()
    let ensemble = try ClassificationModel(members: a.members + otherClassificationModel().members, labels: a.labels)
    let dir = temporaryDirectory()
    let path = dir.appendingPathComponent("ensemble.safetensors").path
    try ensemble.save(to: path)
    // Read as one network, it says what it is instead of "architecture missing".
    #expect {
      _ = try SequenceClassifier(contentsOf: path)
    } throws: { error in "\(error)".contains("ensemble of 2 networks") }

    var stray = try SafeTensors(contentsOf: path)
    stray.tensors["extra"] = Tensor(shape: [1], values: [0])
    let strayPath = dir.appendingPathComponent("stray.safetensors").path
    try stray.write(to: strayPath)
    #expect(throws: ModelError.unexpectedTensor(path: strayPath, tensor: "extra")) { try ClassificationModel(named: strayPath) }

    var missing = try SafeTensors(contentsOf: path)
    missing.metadata[ModelFile.ensembleKey] = "3"
    let missingPath = dir.appendingPathComponent("missing.safetensors").path
    try missing.write(to: missingPath)
    #expect {
      _ = try ClassificationModel(named: missingPath)
    } throws: { error in "\(error)".contains("metadata 'member2' for member 2 of 3 is missing") }
  }

  @Test func cliCombinesClassifiesAndRefuses() throws {
    let (a, aPath) = try fixtureClassificationModel()
    let dir = temporaryDirectory()
    let bPath = dir.appendingPathComponent("b.safetensors").path
    let b = otherClassificationModel()
    try b.save(to: bPath)
    let out = dir.appendingPathComponent("both.safetensors").path
    let made = try CLI.run(["ensemble", aPath, bPath, "--output", out])
    #expect(made.status == 0 && !made.stderr.contains("warning"), "\(made.stderr)")
    // One network under two names (a copy; a run's best and last from one epoch) is said.
    let copy = dir.appendingPathComponent("copy.safetensors").path
    try FileManager.default.copyItem(atPath: aPath, toPath: copy)
    let copied = try CLI.run(["ensemble", aPath, bPath, copy, "--output", dir.appendingPathComponent("copied.safetensors").path])
    #expect(copied.status == 0 && copied.stderr.contains("warning: \(copy) holds the same network as \(aPath)"), "\(copied.stderr)")
    #expect(made.stderr.contains("2 networks"))

    let expected = try Classifier(model: ClassificationModel(members: a.members + b.members, labels: a.labels)).classify(path: wav)
    let r = try CLI.run(["classify", "--model", out, "--format", "json", "--top", "3", wav])
    #expect(r.status == 0, "\(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
    #expect(object["label"] as? String == expected.label)
    #expect(abs((object["confidence"] as! Double) - expected.confidence) < 1e-5)

    // An existing model at --output is replaced; any other file is kept.
    let again = try CLI.run(["ensemble", aPath, bPath, "--output", out])
    #expect(again.status == 0, "\(again.stderr)")
    let audio = dir.appendingPathComponent("keep.wav").path
    try FileManager.default.copyItem(atPath: wav, toPath: audio)
    let kept = try CLI.run(["ensemble", aPath, bPath, "--output", audio])
    #expect(kept.status == 64 && kept.stderr.contains("exists and is not a model"), "\(kept.stderr)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: audio)) == Data(contentsOf: URL(fileURLWithPath: wav)))
    let twice = try CLI.run(["ensemble", aPath, bPath, aPath, "--output", dir.appendingPathComponent("t.safetensors").path])
    #expect(twice.status == 64 && twice.stderr.contains("is given twice"), "\(twice.stderr)")
    let one = try CLI.run(["ensemble", aPath, "--output", out])
    #expect(one.status == 64 && one.stderr.contains("at least two"), "\(one.stderr)")
    let ctc = CLI.repository.appendingPathComponent("Tests/Fixtures/logits/model.safetensors").path
    let wrongKind = try CLI.run(["ensemble", aPath, ctc, "--output", dir.appendingPathComponent("y.safetensors").path])
    #expect(wrongKind.status == 1 && wrongKind.stderr.contains("is a transcription (CTC) model, not a classifier"), "\(wrongKind.stderr)")
    var relabelled = b
    relabelled.labels = ["up", "no", "yes"]
    let otherPath = dir.appendingPathComponent("relabelled.safetensors").path
    try relabelled.save(to: otherPath)
    let mismatch = try CLI.run(["ensemble", aPath, otherPath, "--output", dir.appendingPathComponent("x.safetensors").path])
    #expect(mismatch.status == 1 && mismatch.stderr.contains("same order"), "\(mismatch.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.safetensors").path))
    let seed = try CLI.run(["train", "--task", "classify", "--train", dir.path, "--init", out,
                            "--output", dir.appendingPathComponent("run").path])
    #expect(seed.status != 0 && seed.stderr.contains("choose the one to start from with --init-member 0...1"), "\(seed.stderr)")
  }
}
