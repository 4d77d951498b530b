@testable import Earshot
import Foundation
import Testing

/// A second small CTC model unlike `fixtureTranscriptionModel`'s: 20 log-mel bands
/// normalised by level, random weights from another seed. Same tokens and sample rate.
func otherTranscriptionModel(seed: UInt64 = 12) throws -> TranscriptionModel {
  let (fixture, _) = try fixtureTranscriptionModel()
  var architecture = ModelArchitecture()
  architecture.inputSize = 20
  architecture.hiddenSize = 6
  architecture.numLayers = 2
  architecture.outputSize = fixture.tokens.count
  var generator = SeededGenerator(seed: seed)
  var network = SequenceModel(architecture: architecture, generator: &generator)
  network.metadata[ModelMetadataKey.provenance] = "{\"seed\": \(seed)}"
  var features = FeatureOptions(kind: .logmel, sampleRate: 16_000)
  features.spectrogram.fftSize = 400
  features.spectrogram.hopLength = 160
  features.mel.melBands = 20
  features.cmvn.mode = .level
  return TranscriptionModel(network: network, features: features, tokens: fixture.tokens, unit: .word)
}

@Suite("CTC ensembles: TranscriptionModel members, Transcriber rescoring, earshot ensemble")
struct TranscriptionEnsembleTests {
  let wav = CLI.fixtures.appendingPathComponent("audio/phrase-48000-stereo-s16.wav").path

  @Test func ensembleFileKeepsEveryMember() throws {
    let (a, _) = try fixtureTranscriptionModel()
    let b = try otherTranscriptionModel()
    let ensemble = try TranscriptionModel(members: a.members + b.members, tokens: a.tokens, unit: .word)
    let path = temporaryDirectory().appendingPathComponent("ensemble.safetensors").path
    try ensemble.save(to: path, provenance: "{\"test\": true}")

    let loaded = try TranscriptionModel(named: path)
    #expect(loaded.isEnsemble && loaded.members.count == 2)
    #expect(loaded.tokens == a.tokens && loaded.unit == .word)
    #expect(loaded.members.map(\.features) == [a.features, b.features])
    for (original, back) in zip([a.network, b.network], loaded.members.map(\.network)) {
      #expect(back.architecture == original.architecture)
      for p in original.namedParameters { #expect(back[keyPath: p.path].data == original[keyPath: p.path].data, "\(p.name)") }
    }
    // Each member keeps its own provenance; the ensemble's sits on top.
    #expect(loaded.members[1].network.metadata[ModelMetadataKey.provenance] == "{\"seed\": 12}")
    let file = try SafeTensors(contentsOf: path)
    #expect(file.metadata[ModelMetadataKey.provenance] == "{\"test\": true}")
    #expect(file.tensors.keys.allSatisfy { $0.hasPrefix("member0.") || $0.hasPrefix("member1.") })
    // Read as one network, it says what it is.
    #expect {
      _ = try SequenceModel(contentsOf: path)
    } throws: { error in "\(error)".contains("ensemble of 2 networks") }
    // A plain model keeps the PyTorch-named layout.
    let (_, plainPath) = try fixtureTranscriptionModel()
    let plain = try SafeTensors(contentsOf: plainPath)
    #expect(plain.metadata[ModelFile.ensembleKey] == nil)
    #expect(plain.tensors.keys.allSatisfy { $0.hasPrefix("lstm.") || $0.hasPrefix("fc.") })
    #expect(try !TranscriptionModel(named: plainPath).isEnsemble)
  }

  /// Members whose front ends differ only in normalisation share one mel computation, and
  /// each still gets exactly its own features: normalising one member's copy leaves the
  /// shared values, and so the next member's, untouched.
  @Test func membersDifferingInNormalisationShareTheMelBands() throws {
    let level = try otherTranscriptionModel(seed: 12)
    func normalised(_ mode: CMVNMode, seed: UInt64) throws -> EnsembleMember<SequenceModel> {
      let model = try otherTranscriptionModel(seed: seed)
      var features = model.features
      features.cmvn.mode = mode
      return EnsembleMember(network: model.network, features: features)
    }
    let members = level.members + [try normalised(.utterance, seed: 13), try normalised(.none, seed: 14)] + level.members
    let ensemble = try TranscriptionModel(members: members, tokens: level.tokens, unit: .word)
    let samples = try AudioFile.loadMono(path: wav, sampleRate: 16_000).samples
    let piece = Array(samples.prefix(24_000))

    let transcriber = try Transcriber(model: ensemble)
    let logProbs = try transcriber.memberLogProbabilities(piece)
    // The networks as the transcriber runs them (its options' precision)
    for (k, member) in transcriber.model.members.enumerated() {
      let alone = member.network.logProbabilities(features: Matrix(try FeatureExtractor(options: member.features)(piece)))
      #expect(logProbs[k].rows == alone.rows && logProbs[k].data == alone.data, "member \(k)")
    }
    var shared = SharedFeatures()
    var byMember: [Matrix] = []
    for member in members {
      byMember.append(try shared.features(of: piece, extractor: FeatureExtractor(options: member.features)))
    }
    #expect(shared.frameLocalPasses == 1)
    // The three normalisations really differ, so a leak from one to another would show.
    #expect(byMember[0].data != byMember[1].data && byMember[1].data != byMember[2].data)
    #expect(byMember[3].data == byMember[0].data)
  }

  /// Each member's log-probabilities are what the member alone computes, and the ensemble
  /// keeps, of the pooled n-best lists, the hypothesis with the highest summed CTC
  /// log-likelihood; that beats each member's own best under the same sum.
  @Test func ensembleKeepsTheBestPooledHypothesis() throws {
    let (a, _) = try fixtureTranscriptionModel()
    let b = try otherTranscriptionModel()
    let ensemble = try TranscriptionModel(members: a.members + b.members, tokens: a.tokens, unit: .word)
    let transcriber = try Transcriber(model: ensemble)
    let samples = try AudioFile.loadMono(path: wav, sampleRate: 16_000).samples
    let piece = Array(samples.prefix(16_000))
    let logProbs = try transcriber.memberLogProbabilities(piece)
    #expect(logProbs.count == 2)
    for (k, member) in transcriber.model.members.enumerated() {
      let alone = member.network.logProbabilities(features: Matrix(try FeatureExtractor(options: member.features)(piece)))
      #expect(logProbs[k].rows == alone.rows && logProbs[k].data == alone.data, "member \(k)")
    }
    let decoder = CTCDecoder()
    let lists = try logProbs.map { try decoder.beamSearch($0, beamWidth: 8, tokensPerFrame: 8, nBest: 8).map(\.tokens) }
    func summed(_ tokens: [Int]) throws -> Double { try logProbs.reduce(0) { try $0 + decoder.logLikelihood(tokens, $1) } }
    let chosen = try transcriber.bestHypotheses(logProbs)[0].tokens
    #expect(lists.contains { $0.contains(chosen) })
    let best = try summed(chosen)
    #expect(best.isFinite)
    for h in lists.joined() { #expect(try summed(h) <= best, "\(h) scores over the chosen \(chosen)") }
    // The members disagree, so the test can tell a member's own best from the pooled best.
    #expect(lists[0].first != lists[1].first)

    // Greedy: each member's best path is a candidate, and the pooled best is kept.
    var greedyOptions = TranscriptionOptions()
    greedyOptions.beamWidth = 1
    let greedy = try Transcriber(model: ensemble, options: greedyOptions)
    let paths = try logProbs.map { try decoder.greedy($0).tokens }
    let greedyChoice = try greedy.bestHypotheses(logProbs)[0].tokens
    #expect(paths.contains(greedyChoice))
    for p in paths { #expect(try summed(p) <= summed(greedyChoice)) }

    // Whole files decode, with times in order and confidences that are probabilities.
    let t = try transcriber.transcribe(path: wav)
    for w in t.words { #expect(w.start < w.end && (0...1).contains(w.confidence), "\(w)") }
  }

  @Test func membersMustFitTogether() throws {
    let (a, _) = try fixtureTranscriptionModel()
    var architecture = try otherTranscriptionModel().network.architecture
    architecture.outputSize = 5
    var generator = SeededGenerator(seed: 3)
    let five = TranscriptionModel.Member(network: SequenceModel(architecture: architecture, generator: &generator),
                                         features: try otherTranscriptionModel().features)
    #expect(throws: PipelineError.badEnsemble(path: "memory", reason: "member 1 has 5 outputs for 7 tokens "
      + "(<blank>,zero,one,two,three,four,five)")) {
      try TranscriptionModel(members: a.members + [five], tokens: a.tokens, unit: .word)
    }
    architecture.outputSize = 7
    architecture.blank = 3
    let otherBlank = TranscriptionModel.Member(network: SequenceModel(architecture: architecture, generator: &generator),
                                               features: try otherTranscriptionModel().features)
    #expect {
      try TranscriptionModel(members: a.members + [otherBlank], tokens: a.tokens, unit: .word)
    } throws: { error in "\(error)".contains("member 1's blank is output 3, member 0's is output 0") }
    var slower = try otherTranscriptionModel()
    slower.features.sampleRate = 8_000
    #expect {
      try TranscriptionModel(members: a.members + slower.members, tokens: a.tokens, unit: .word)
    } throws: { error in "\(error)".contains("member 1 works at 8000 Hz, member 0 at 16000 Hz") }
    #expect(throws: PipelineError.badEnsemble(path: "memory", reason: "no members")) {
      try TranscriptionModel(members: [], tokens: a.tokens, unit: .word)
    }
    var retokenised = a
    retokenised.tokens = ["<blank>", "zero"]
    #expect(throws: PipelineError.self) { try Transcriber(model: retokenised) }
  }

  @Test func cliCombinesTranscribesAndRefuses() throws {
    let (a, aPath) = try fixtureTranscriptionModel()
    let dir = temporaryDirectory()
    let b = try otherTranscriptionModel()
    let bPath = dir.appendingPathComponent("b.safetensors").path
    try b.save(to: bPath)
    let out = dir.appendingPathComponent("pair.safetensors").path
    let made = try CLI.run(["ensemble", aPath, bPath, "--output", out, "--provenance", "{\"recipe\": \"test\"}"])
    #expect(made.status == 0 && made.stderr.contains("2 networks"), "\(made.stderr)")
    // A JSON object is stored as it is.
    #expect(try SafeTensors(contentsOf: out).metadata[ModelMetadataKey.provenance] == "{\"recipe\": \"test\"}")

    let expected = try Transcriber(model: TranscriptionModel(members: a.members + b.members, tokens: a.tokens, unit: .word))
      .transcribe(path: wav)
    let r = try CLI.run(["transcribe", "--model", out, "--format", "json", wav])
    #expect(r.status == 0, "\(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
    #expect(object["text"] as? String == expected.text)
    // The pair differs from its first member alone (else the test could not tell).
    #expect(try Transcriber(model: a).transcribe(path: wav).text != expected.text)

    let manifest = dir.appendingPathComponent("m.jsonl")
    try "{\"audio\": \"\(wav)\", \"text\": \"\(expected.text)\"}\n".write(to: manifest, atomically: true, encoding: .utf8)
    let scored = try CLI.run(["evaluate", "--model", out, "--beam", "8", manifest.path])
    #expect(scored.status == 0 && String(decoding: scored.stdout, as: UTF8.self).contains("WER: 0.00%"), "\(scored.stderr)")

    let (_, classifierPath) = try fixtureClassificationModel()
    let wrongKind = try CLI.run(["ensemble", aPath, classifierPath, "--output", dir.appendingPathComponent("y.safetensors").path])
    #expect(wrongKind.status == 1 && wrongKind.stderr.contains("is a classifier, not a transcription (CTC) model"), "\(wrongKind.stderr)")
    var retokenised = b
    retokenised.tokens = ["<blank>", "one", "zero", "two", "three", "four", "five"]
    let otherPath = dir.appendingPathComponent("retokenised.safetensors").path
    try retokenised.save(to: otherPath)
    let mismatch = try CLI.run(["ensemble", aPath, otherPath, "--output", dir.appendingPathComponent("x.safetensors").path])
    #expect(mismatch.status == 1 && mismatch.stderr.contains("same order") && mismatch.stderr.contains("keep_tokens.py"),
            "\(mismatch.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.safetensors").path))
    let seed = try CLI.run(["train", "--train", manifest.path, "--init", out, "--output", dir.appendingPathComponent("run").path])
    #expect(seed.status != 0 && seed.stderr.contains("choose the one to start from with --init-member 0...1"), "\(seed.stderr)")
    let range = try CLI.run(["train", "--train", manifest.path, "--init", out, "--init-member", "2",
                             "--output", dir.appendingPathComponent("run").path])
    #expect(range.status != 0 && range.stderr.contains("has 2 networks (0...1)"), "\(range.stderr)")
    // Member 1 (20 log-mel bands in, 6 per direction) seeds a fine-tune.
    let run = dir.appendingPathComponent("tuned").path
    let tuned = try CLI.run(["train", "--train", manifest.path, "--init", out, "--init-member", "1", "--epochs", "1",
                             "--threads", "1", "--output", run])
    #expect(tuned.status == 0, "\(tuned.stderr)")
    let result = try TranscriptionModel(named: run + "/last.safetensors")
    #expect(result.network.architecture.inputSize == 20 && result.network.architecture.hiddenSize == 6)
    #expect(result.features == b.features && result.tokens == a.tokens)
    let logits = try CLI.run(["logits", "--model", out, "--audio", wav, "--output", dir.appendingPathComponent("l.npy").path])
    #expect(logits.status != 0 && logits.stderr.contains("ensemble of 2 networks"), "\(logits.stderr)")
  }
}
