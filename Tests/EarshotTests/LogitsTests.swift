import Earshot
import Foundation
import Testing

@Suite("earshot logits")
struct LogitsTests {
  let fixtures = CLI.repository.appendingPathComponent("Tests/Fixtures/logits")

  /// A PyTorch BiLSTM exported by scripts/torch_export.py gives PyTorch's log-probabilities.
  @Test func exportedPyTorchModelMatchesPyTorch() throws {
    let out = temporaryDirectory().appendingPathComponent("y.npy").path
    let r = try CLI.run([
      "logits", "--model", fixtures.appendingPathComponent("model.safetensors").path,
      "--features", fixtures.appendingPathComponent("input.npy").path, "--output", out, "--threads", "1",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let got = try NumpyArray(contentsOf: out)
    let expected = try NumpyArray(contentsOf: fixtures.appendingPathComponent("expected.npy").path)
    #expect(got.shape == expected.shape)
    let worst = zip(got.values, expected.values).map { abs($0 - $1) }.max() ?? .infinity
    #expect(worst <= 1e-4, "max |diff| \(worst)")
  }

  /// Audio in: featurised with the FeatureOptions stored in the model, same as the library.
  @Test func audioUsesTheModelsOwnFeatures() throws {
    var model = try SequenceModel(contentsOf: fixtures.appendingPathComponent("model.safetensors").path)
    var options = FeatureOptions(kind: .mfcc, sampleRate: 16_000)
    options.spectrogram.fftSize = 512
    options.spectrogram.hopLength = 160
    options.mfcc.mfccCount = 12
    model.metadata["features"] = options.json
    let dir = temporaryDirectory()
    let modelPath = dir.appendingPathComponent("m.safetensors").path
    try model.save(to: modelPath)
    let wav = CLI.fixtures.appendingPathComponent("audio/phrase-8000-mono-s16.wav").path
    let out = dir.appendingPathComponent("y.npy").path
    let r = try CLI.run(["logits", "--model", modelPath, "--audio", wav, "--output", out])
    #expect(r.status == 0, "\(r.stderr)")
    let got = try NumpyArray(contentsOf: out)
    let samples = try AudioFile.loadMono(path: wav, sampleRate: 16_000).samples
    let expected = try SequenceModel(contentsOf: modelPath).logProbabilities(
      features: Matrix(try FeatureExtractor(options: options)(samples)))
    #expect(got.shape == [expected.rows, expected.cols])
    #expect(got.values == expected.data)
  }

  @Test func mismatchedFeaturesAreAClearError() throws {
    let dir = temporaryDirectory()
    let x = dir.appendingPathComponent("x.npy").path
    try NumpyArray(shape: [5, 3], values: [Float](repeating: 0, count: 15)).write(to: x)
    let r = try CLI.run([
      "logits", "--model", fixtures.appendingPathComponent("model.safetensors").path, "--features", x, "--output",
      dir.appendingPathComponent("y.npy").path,
    ])
    #expect(r.status == 1)
    #expect(r.stderr.contains("3 features per frame, the model expects 12"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("y.npy").path))
  }

  @Test func audioWithoutFeatureMetadataIsAClearError() throws {
    let r = try CLI.run([
      "logits", "--model", fixtures.appendingPathComponent("model.safetensors").path, "--audio",
      CLI.fixtures.appendingPathComponent("audio/phrase-8000-mono-s16.wav").path, "--output", "-",
    ])
    #expect(r.status == 1)
    #expect(r.stderr.contains("no usable 'features' metadata"), "\(r.stderr)")
  }

  /// An ensemble (the shipped digits model) gives one member's log-probabilities with
  /// --member, the same as that member of the loaded ensemble; without it, a clear error.
  @Test func ensembleMemberByNumber() throws {
    let wav = CLI.repository.appendingPathComponent("samples/phone-415-555-2368.wav").path
    let dir = temporaryDirectory()
    let out = dir.appendingPathComponent("y.npy").path
    let ensemble = try TranscriptionModel(named: "digits")
    try #require(ensemble.members.count > 1)
    let member = ensemble.members.count - 1
    let r = try CLI.run(["logits", "--model", "digits", "--member", "\(member)", "--audio", wav, "--output", out])
    #expect(r.status == 0, "\(r.stderr)")
    let samples = try AudioFile.loadMono(path: wav, sampleRate: ensemble.members[member].features.sampleRate).samples
    let expected = ensemble.members[member].network.logProbabilities(
      features: Matrix(try FeatureExtractor(options: ensemble.members[member].features)(samples)))
    let got = try NumpyArray(contentsOf: out)
    #expect(got.shape == [expected.rows, expected.cols])
    #expect(got.values == expected.data)

    let none = try CLI.run(["logits", "--model", "digits", "--audio", wav, "--output", out + "2"])
    #expect(none.status != 0)
    #expect(none.stderr.contains("an ensemble of \(ensemble.members.count) networks: choose one with --member"), "\(none.stderr)")
    let beyond = try CLI.run(["logits", "--model", "digits", "--member", "\(ensemble.members.count)", "--audio", wav, "--output", out + "3"])
    #expect(beyond.status == 1)
    #expect(beyond.stderr.contains("digits: no member \(ensemble.members.count)"), "\(beyond.stderr)")
    let plain = try CLI.run([
      "logits", "--model", fixtures.appendingPathComponent("model.safetensors").path, "--member", "1",
      "--features", fixtures.appendingPathComponent("input.npy").path, "--output", out + "4",
    ])
    #expect(plain.status == 1)
    #expect(plain.stderr.contains("no member 1; it holds one network"), "\(plain.stderr)")
    // A classifier is named as one at once, with or without --member.
    for extra in [[], ["--member", "0"]] {
      let classifier = try CLI.run(["logits", "--model", "commands", "--audio", wav, "--output", out + "5"] + extra)
      #expect(classifier.status == 1 && classifier.stderr.contains("commands is a classifier, not a CTC model"), "\(classifier.stderr)")
    }
    for suffix in ["2", "3", "4", "5"] { #expect(!FileManager.default.fileExists(atPath: out + suffix)) }
  }
}
