@testable import Earshot
import Foundation
import Testing

@Suite("Connected strings for CTC training")
struct ConnectedStringsTests {
  /// Leading and trailing stretches 35 dB below the loudest 10 ms are cut; the sound stays.
  @Test func trimmingCutsQuietEdgesOnly() {
    var g = SeededGenerator(seed: 4)
    let quiet = (0..<800).map { _ in 1e-4 * g.normal() }
    let tone = (0..<1600).map { i in 0.5 * Float(sin(2 * Double.pi * 440 * Double(i) / 8000)) }
    let clip = quiet + tone + quiet
    let kept = ConnectedStrings.trimmed(clip, sampleRate: 8000)
    #expect(kept.startIndex >= 720 && kept.startIndex <= 800, "\(kept.startIndex)")
    #expect(kept.endIndex >= 2400 && kept.endIndex <= 2480, "\(kept.endIndex)")
    let silent = [Float](repeating: 0, count: 300)
    #expect(ConnectedStrings.trimmed(silent, sampleRate: 8000).count == 300)
  }

  /// Pieces are constant "words" (value 0.1 * (j + 1), loud enough that trimming keeps
  /// them whole); pauses are faint noise. Every string must be 2-4 pieces of one speaker,
  /// their samples in order with at most 0.1 s between neighbours, and their texts joined.
  @Test func stringsJoinOneSpeakersClipsInOrder() {
    let words = ["zero", "one", "two", "three", "four", "five", "six", "seven"]
    let pieces = words.enumerated().map { j, w in
      ConnectedStrings.Piece(samples: [Float](repeating: 0.1 * Float(j + 1), count: 400 + 80 * j), text: w,
                             speaker: j % 2 == 0 ? "even" : "odd")
    }
    let built = ConnectedStrings.build(pieces, count: 60, maximumPieces: 4, maximumPauseSeconds: 0.1, sampleRate: 8000, seed: 9)
    #expect(built.count == 60)
    var sizes = Set<Int>()
    for b in built {
      sizes.insert(b.pieces.count)
      #expect((2...4).contains(b.pieces.count))
      #expect(b.pieces.allSatisfy { pieces[$0].speaker == b.speaker })
      #expect(b.text == b.pieces.map { pieces[$0].text }.joined(separator: " "))
      let loud = b.samples.filter { abs($0) > 0.05 }
      #expect(loud == b.pieces.flatMap { pieces[$0].samples })
      let pauses = b.samples.count - loud.count
      #expect(pauses <= (b.pieces.count - 1) * 800)
      #expect(b.samples.filter { abs($0) <= 0.05 }.allSatisfy { abs($0) < 0.01 })
      #expect(abs(b.samples.first!) > 0.05 && abs(b.samples.last!) > 0.05)
    }
    #expect(sizes == [2, 3, 4])
    #expect(Set(built.map(\.speaker)) == ["even", "odd"])
    let again = ConnectedStrings.build(pieces, count: 60, maximumPieces: 4, maximumPauseSeconds: 0.1, sampleRate: 8000, seed: 9)
    #expect(again == built)
    let other = ConnectedStrings.build(pieces, count: 60, maximumPieces: 4, maximumPauseSeconds: 0.1, sampleRate: 8000, seed: 10)
    #expect(other != built)
  }

  /// The trainer adds the strings to its training set; checkpoints written before the
  /// options existed still decode, with the feature off.
  @Test func trainerAddsStringsAndOldOptionsDecode() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 12, seed: 5, to: dir, name: "train")
    let entries = try Manifest.load(train)
    var options = ToneCorpus.options
    options.augmentation.connectedStrings = 10
    options.augmentation.maximumConnectedPieces = 3
    let trainer = try CTCTrainer(options: options, training: entries, threads: 2)
    #expect(trainer.trainingCount == 22 && trainer.connectedCount == 10)

    var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(AugmentationOptions())) as! [String: Any]
    for key in ["connectedStrings", "maximumConnectedPieces", "connectedPauseSeconds"] { #expect(json.removeValue(forKey: key) != nil) }
    let old = try JSONDecoder().decode(AugmentationOptions.self, from: JSONSerialization.data(withJSONObject: json))
    #expect(old == AugmentationOptions())
    #expect(AugmentationOptions().connectedStrings == 0 && AugmentationOptions().maximumConnectedPieces == 10
      && AugmentationOptions().connectedPauseSeconds == 0.4)

    let run = try CLI.run(["train", "--train", train, "--output", dir.appendingPathComponent("run").path, "--connected-strings", "6",
                           "--hidden", "4", "--layers", "1", "--batch-size", "6", "--epochs", "1", "--threads", "1"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.contains("loaded 18 training (6 of them connected strings) and 0 validation clips"), "\(run.stderr)")
    let saved = try CTCTrainer.savedOptions(output: dir.appendingPathComponent("run").path)
    #expect(saved.augmentation.connectedStrings == 6)

    let wrongTask = try CLI.run(["train", "--task", "classify", "--train", dir.path, "--output", dir.appendingPathComponent("x").path,
                                 "--connected-strings", "5"])
    #expect(wrongTask.status == 64 && wrongTask.stderr.contains("apply to --task ctc only"), "\(wrongTask.stderr)")
    let tooFew = try CLI.run(["train", "--train", train, "--output", dir.appendingPathComponent("y").path, "--connected-max-clips", "1"])
    #expect(tooFew.status == 64 && tooFew.stderr.contains("--connected-max-clips must be in 2...50"), "\(tooFew.stderr)")
  }
}

@Suite("Noise and normalisation options of earshot train")
struct NoiseOptionTests {
  /// --noise-snr, --noise-probability and --noise-pad reach the run's saved options (one value fixes the
  /// SNR), --cmvn-span the model file; without --noise, malformed or out of range, with --init
  /// (--cmvn-span), they are refused before training.
  @Test func noiseOptionsReachTheRunOrAreRefused() throws {
    let dir = trainingTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try ToneCorpus.write(count: 6, seed: 3, to: dir, name: "train")
    let noise = dir.appendingPathComponent("noise")
    try FileManager.default.createDirectory(at: noise, withIntermediateDirectories: true)
    var g = SeededGenerator(seed: 8)
    try writeWAV((0..<8000).map { _ in 0.1 * g.normal() }, sampleRate: 8000, to: noise.appendingPathComponent("white.wav").path)
    let tiny = ["--hidden", "4", "--layers", "1", "--batch-size", "6", "--epochs", "1", "--threads", "1"]

    for (snr, low, high, probability, pad) in [("0,25", Float(0), Float(25), "0.75", "1.5"), ("12", 12, 12, "1", "0"), ("-5,10", -5, 10, "0.5", "0.2")] {
      let out = dir.appendingPathComponent("run-\(snr)").path
      let run = try CLI.run(["train", "--train", train, "--output", out, "--noise", noise.path,
                             "--noise-snr", snr, "--noise-probability", probability, "--noise-pad", pad] + tiny)
      #expect(run.status == 0, "\(run.stderr)")
      let saved = try CTCTrainer.savedOptions(output: out).augmentation
      #expect(saved.noiseFolder == noise.path && saved.minimumSNR == low && saved.maximumSNR == high
        && saved.noiseProbability == Float(probability)! && saved.maximumNoisePadSeconds == Float(pad)!, "\(saved)")
    }
    let plain = dir.appendingPathComponent("plain").path
    #expect(try CLI.run(["train", "--train", train, "--output", plain, "--noise", noise.path] + tiny).status == 0)
    let defaults = try CTCTrainer.savedOptions(output: plain).augmentation
    #expect(defaults.minimumSNR == 5 && defaults.maximumSNR == 30 && defaults.noiseProbability == 0.5
      && defaults.maximumNoisePadSeconds == 0)
    #expect(try TranscriptionModel(named: plain + "/last.safetensors").features.cmvn.speechSpan == nil)

    // --cmvn-span reaches the model file (and so every later reader of it).
    let spanned = dir.appendingPathComponent("span").path
    let spanRun = try CLI.run(["train", "--train", train, "--output", spanned, "--cmvn-span", "30", "--cmvn", "level"] + tiny)
    #expect(spanRun.status == 0, "\(spanRun.stderr)")
    let features = try TranscriptionModel(named: spanned + "/last.safetensors").features
    #expect(features.cmvn.speechSpan == SpeechSpan(decibels: 30, marginFrames: 20) && features.cmvn.mode == .level)

    for (arguments, message) in [
      (["--noise-snr", "0,20"], "--noise-snr, --noise-probability and --noise-pad need --noise"),
      (["--noise-probability", "0.3"], "--noise-snr, --noise-probability and --noise-pad need --noise"),
      (["--noise-pad", "1"], "--noise-snr, --noise-probability and --noise-pad need --noise"),
      (["--noise", noise.path, "--noise-pad", "11"], "--noise-pad must be in [0, 10] seconds"),
      (["--noise", noise.path, "--noise-snr", "20,0"], "--noise-snr must lie within -20...60 dB with MIN <= MAX"),
      (["--noise", noise.path, "--noise-snr", "0,90"], "--noise-snr must lie within -20...60 dB"),
      (["--noise", noise.path, "--noise-snr", "low"], "--noise-snr must be MIN,MAX in dB"),
      (["--noise", noise.path, "--noise-snr", "1,2,3"], "--noise-snr must be MIN,MAX in dB"),
      (["--noise", noise.path, "--noise-probability", "1.5"], "--noise-probability must be in [0, 1]"),
      (["--cmvn-span", "0"], "--cmvn-span must be in (0, 60] dB"),
      (["--cmvn-span", "61"], "--cmvn-span must be in (0, 60] dB"),
    ] {
      let out = dir.appendingPathComponent("refused").path
      let r = try CLI.run(["train", "--train", train, "--output", out] + arguments + tiny)
      #expect(r.status == 64 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
      #expect(!FileManager.default.fileExists(atPath: out), "\(arguments) started a run")
    }
    let fromInit = try CLI.run(["train", "--train", train, "--output", dir.appendingPathComponent("init").path,
                                "--init", "digits", "--cmvn-span", "25"])
    #expect(fromInit.status == 64 && fromInit.stderr.contains("--cmvn-span is taken from the --init model"), "\(fromInit.stderr)")
  }
}
