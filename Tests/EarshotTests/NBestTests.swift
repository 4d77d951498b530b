@testable import Earshot
import Foundation
import Testing

@Suite("n-best transcripts")
struct NBestTests {
  let wav = CLI.fixtures.appendingPathComponent("audio/phrase-48000-stereo-s16.wav").path

  /// Pieces decoded one after another: the kept pairings are the best of all combinations,
  /// found by enumerating every combination of three seeded lists.
  @Test func combiningPiecesKeepsTheBestCombinations() {
    var g = SeededGenerator(seed: 21)
    for trial in 0..<20 {
      let lists: [[TranscriptAlternative]] = (0..<3).map { piece in
        (0..<Int.random(in: 1...4, using: &g)).map { k in
          TranscriptAlternative(text: k == 0 && piece == 1 ? "" : "p\(piece)w\(k)", logProbability: -Double.random(in: 0...10, using: &g))
        }.sorted { $0.logProbability > $1.logProbability }
      }
      let keep = Int.random(in: 1...6, using: &g)
      var kept = [TranscriptAlternative(text: "", logProbability: 0)]
      for list in lists { kept = Transcriber.combine(kept, list, keep: keep) }
      var all: [TranscriptAlternative] = []
      for a in lists[0] {
        for b in lists[1] {
          for c in lists[2] {
            all.append(TranscriptAlternative(text: [a.text, b.text, c.text].filter { !$0.isEmpty }.joined(separator: " "),
                                             logProbability: a.logProbability + b.logProbability + c.logProbability))
          }
        }
      }
      let expected = all.sorted { $0.logProbability > $1.logProbability }.prefix(keep)
      #expect(kept.count == expected.count, "trial \(trial)")
      for (k, e) in zip(kept, expected) {
        #expect(k.text == e.text && abs(k.logProbability - e.logProbability) < 1e-9, "trial \(trial): \(k) vs \(e)")
      }
    }
  }

  /// One piece: the alternatives are the beam search's n best for the model's own
  /// log-probabilities, the first is the transcript, and asking for them changes nothing else.
  @Test func alternativesAreTheBeamsBest() throws {
    let (model, _) = try fixtureTranscriptionModel()
    var options = TranscriptionOptions()
    options.decodesSpeechOnly = false
    let plain = try Transcriber(model: model, options: options)
    options.nBest = 4
    let transcriber = try Transcriber(model: model, options: options)
    let samples = Array(try AudioFile.loadMono(path: wav, sampleRate: 16_000).samples.prefix(16_000))
    let t = try transcriber.transcribe(samples: samples, sampleRate: 16_000)
    #expect(t.alternatives.count == 4)
    #expect(t.alternatives[0].text == t.text)
    #expect(t.words == (try plain.transcribe(samples: samples, sampleRate: 16_000)).words)
    // The transcriber hears the piece scaled to its normalised peak (TranscriptionOptions.normalizesLevel).
    let heard = LevelNormalization.apply(samples)
    let lp = plain.model.network.logProbabilities(features: Matrix(try FeatureExtractor(options: model.features)(heard)))
    let beam = try CTCDecoder().beamSearch(lp, beamWidth: 8, tokensPerFrame: 8, nBest: 4)
    #expect(t.alternatives.map(\.text) == beam.map { $0.tokens.map { model.tokens[$0] }.joined(separator: " ") })
    for (a, b) in zip(t.alternatives, beam) { #expect(abs(a.logProbability - b.logProbability) < 1e-9) }
    #expect(Set(t.alternatives.map(\.text)).count == 4)
  }

  /// An ensemble ranks its alternatives by the members' summed CTC log-likelihoods.
  @Test func ensembleAlternativesAreRankedBySummedLikelihood() throws {
    let (a, _) = try fixtureTranscriptionModel()
    let b = try otherTranscriptionModel()
    let ensemble = try TranscriptionModel(members: a.members + b.members, tokens: a.tokens, unit: .word)
    var options = TranscriptionOptions()
    options.decodesSpeechOnly = false
    options.nBest = 5
    let transcriber = try Transcriber(model: ensemble, options: options)
    let samples = Array(try AudioFile.loadMono(path: wav, sampleRate: 16_000).samples.prefix(16_000))
    let t = try transcriber.transcribe(samples: samples, sampleRate: 16_000)
    #expect(t.alternatives.count == 5 && t.alternatives[0].text == t.text)
    let logProbs = try transcriber.memberLogProbabilities(LevelNormalization.apply(samples))
    for alternative in t.alternatives {
      let tokens = alternative.text.split(separator: " ").map { a.tokens.firstIndex(of: String($0))! }
      let summed = try logProbs.reduce(0) { try $0 + CTCDecoder().logLikelihood(tokens, $1) }
      #expect(abs(summed - alternative.logProbability) < 1e-9)
    }
    #expect(t.alternatives.map(\.logProbability) == t.alternatives.map(\.logProbability).sorted(by: >))
  }

  @Test func cliListsAlternativesInJSON() throws {
    let (_, path) = try fixtureTranscriptionModel()
    let r = try CLI.run(["transcribe", "--model", path, "--format", "json", "--nbest", "3", wav])
    #expect(r.status == 0, "\(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
    let alternatives = object["alternatives"] as! [[String: Any]]
    #expect(alternatives.count == 3)
    #expect(alternatives[0]["text"] as? String == object["text"] as? String)
    let scores = alternatives.map { $0["log_probability"] as! Double }
    #expect(scores == scores.sorted(by: >))
    let plain = try CLI.run(["transcribe", "--model", path, "--format", "json", wav])
    #expect(!String(decoding: plain.stdout, as: UTF8.self).contains("alternatives"))
    let text = try CLI.run(["transcribe", "--model", path, "--nbest", "3", wav])
    #expect(text.status == 64 && text.stderr.contains("--format json only"), "\(text.stderr)")
    let zero = try CLI.run(["transcribe", "--model", path, "--format", "json", "--nbest", "0", wav])
    #expect(zero.status == 64 && zero.stderr.contains("--nbest must be in 1...100"), "\(zero.stderr)")
  }
}
