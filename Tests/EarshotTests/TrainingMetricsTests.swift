import Earshot
import Foundation
import TestScratch
import Testing

/// Levenshtein alignment, WER/CER and the report, against hand-computed cases.
@Suite struct TrainingMetricsTests {
  func words(_ s: String) -> [String] { s.split(separator: " ").map(String.init) }

  @Test func oneSubstitutionInFourWords() {
    let c = EditDistance.wordCounts(reference: "four seven one two", hypothesis: "four seven nine two")
    #expect(c.reference == 4 && c.substitutions == 1 && c.deletions == 0 && c.insertions == 0)
    #expect(c.rate == 0.25)
  }

  @Test func deletionAndInsertion() {
    // "one two three" -> "one three": "two" deleted.
    let d = EditDistance.align(words("one two three"), words("one three"))
    #expect(d == [.match("one"), .deletion("two"), .match("three")])
    // "one two" -> "one two two three": two insertions, WER 2/2.
    let i = EditDistance.wordCounts(reference: "one two", hypothesis: "one two two three")
    #expect(i.insertions == 2 && i.substitutions == 0 && i.deletions == 0)
    #expect(i.rate == 1.0)
  }

  @Test func mixedErrorsCountMinimumEdits() {
    // ref: a b c d, hyp: a x c d f -> b->x (S), f inserted (I): 2 edits of 4.
    let c = EditDistance.wordCounts(reference: "a b c d", hypothesis: "a x c d f")
    #expect(c.substitutions == 1 && c.deletions == 0 && c.insertions == 1)
    #expect(c.rate == 0.5)
    // ref: a b c d e, hyp: a x c e -> b->x (S), d deleted (D); 2 edits of 5.
    let d = EditDistance.wordCounts(reference: "a b c d e", hypothesis: "a x c e")
    #expect(d.errors == 2 && d.substitutions == 1 && d.deletions == 1)
  }

  @Test func tiesPreferSubstitutions() {
    // ref a b c d e vs hyp a x c e f: both S+D+I and S+S+S cost 3; the backtrace takes the
    // diagonal, so three substitutions (b->x, d->e, e->f).
    let ops = EditDistance.align(["a", "b", "c", "d", "e"], ["a", "x", "c", "e", "f"])
    #expect(ops == [.match("a"), .substitution("b", "x"), .match("c"), .substitution("d", "e"), .substitution("e", "f")])
  }

  @Test func emptyReferenceAndHypothesis() {
    #expect(EditDistance.wordCounts(reference: "", hypothesis: "").rate == 0)
    let c = EditDistance.wordCounts(reference: "", hypothesis: "five")
    #expect(c.insertions == 1 && c.reference == 0 && c.rate == 1)
    let d = EditDistance.wordCounts(reference: "five six", hypothesis: "")
    #expect(d.deletions == 2 && d.rate == 1)
  }

  @Test func kittenToSittingIsThreeCharacterEdits() {
    // The classic: k->s, e->i, +g.
    let c = EditDistance.characterCounts(reference: "kitten", hypothesis: "sitting")
    #expect(c.errors == 3 && c.substitutions == 2 && c.insertions == 1 && c.reference == 6)
  }

  @Test func reportAggregatesSpeakersWordsAndConfusions() {
    var r = EvaluationReport()
    r.add(reference: "four seven one", hypothesis: "four one one", speaker: "george")
    r.add(reference: "two", hypothesis: "two", speaker: "jackson")
    r.add(reference: "nine", hypothesis: "", speaker: "jackson")
    r.add(reference: "three", hypothesis: "three eight", speaker: "george")
    #expect(r.utterances == 4 && r.correctUtterances == 1)
    #expect(r.utteranceAccuracy == 0.25)
    // 6 reference words; 1 substitution (seven->one), 1 deletion (nine), 1 insertion (eight).
    #expect(r.words.reference == 6 && r.words.errors == 3)
    #expect(r.wordErrorRate == 0.5)
    #expect(r.speakers["george"] == { var c = EditCounts(); c.reference = 4; c.substitutions = 1; c.insertions = 1; return c }())
    #expect(r.speakers["jackson"]?.deletions == 1 && r.speakers["jackson"]?.reference == 2)
    #expect(r.confusion == ["seven": ["one": 1]])
    #expect(r.wordErrors["seven"]?.substitutions == 1 && r.wordErrors["seven"]?.count == 1)
    #expect(r.wordErrors["nine"]?.deletions == 1)
    #expect(r.wordErrors["eight"]?.insertions == 1 && r.wordErrors["eight"]?.count == 0)
    #expect(r.errors.count == 3)
    #expect(r.text.contains("WER: 50.00%"), "\(r.text)")
    #expect(r.text.contains("seven"))
    // The wrong utterances are named, with what was heard.
    #expect(r.text.contains("wrong utterances (3):\n"), "\(r.text)")
    #expect(r.text.contains("reference:  nine\n    recognised: (nothing)\n"), "\(r.text)")
    #expect(r.text.contains("reference:  four seven one\n    recognised: four one one\n"), "\(r.text)")
    var many = EvaluationReport()
    for k in 0..<25 { many.add(reference: "one", hypothesis: "two", speaker: nil, audio: "clip\(k).wav") }
    #expect(many.text.contains("wrong utterances (the first 20 of 25; --format json lists all):\n  clip0.wav\n"), "\(many.text)")
    #expect(many.text.contains("clip19.wav") && !many.text.contains("clip20.wav"))
    // Paths in the JSON read as written (no escaped slashes).
    var pathed = EvaluationReport()
    pathed.add(reference: "one", hypothesis: "two", audio: "calls/a.wav")
    #expect(pathed.json.contains("\"calls/a.wav\""), "\(pathed.json)")
    let json = try! JSONSerialization.jsonObject(with: Data(r.json.utf8)) as! [String: Any]
    #expect(json["wer"] as? Double == 0.5)
    #expect((json["confusion"] as? [String: [String: Int]])?["seven"]?["one"] == 1)
  }

  /// Recordings without speech have no reference words: every word produced is an insertion,
  /// the report says so instead of printing a rate over zero words, and a silent output is a
  /// correct utterance.
  @Test func reportOnRecordingsWithoutSpeechCountsInsertions() {
    var r = EvaluationReport()
    r.add(reference: "", hypothesis: "seven", speaker: "rain")
    r.add(reference: "", hypothesis: "two two", speaker: "rain")
    r.add(reference: "", hypothesis: "", speaker: "hum")
    #expect(r.words.reference == 0 && r.words.insertions == 3 && r.correctUtterances == 1)
    #expect(r.text.contains("WER: none: no reference words, so every word produced is an insertion (3 insertions)"), "\(r.text)")
    #expect(r.text.contains("CER: none (no reference characters)"), "\(r.text)")
    #expect(r.text.contains("rain           3 insertions, no reference words"), "\(r.text)")
    #expect(!r.text.contains("300.00%"), "\(r.text)")
    let json = try! JSONSerialization.jsonObject(with: Data(r.json.utf8)) as! [String: Any]
    #expect(json["wer"] is NSNull && json["cer"] is NSNull, "\(r.json)")
    #expect(((json["speakers"] as? [String: [String: Any]])?["rain"]?["wer"]) is NSNull, "\(r.json)")
    #expect((json["words"] as? [String: Int])?["insertions"] == 3, "\(r.json)")
    r.add(reference: "one", hypothesis: "one", speaker: "hum")
    #expect(r.text.contains("WER: 300.00% (0 substitutions, 0 deletions, 3 insertions of 1 words)"), "\(r.text)")
    let mixed = try! JSONSerialization.jsonObject(with: Data(r.json.utf8)) as! [String: Any]
    #expect(mixed["wer"] as? Double == 3, "\(r.json)")
    // snake_case keys, as all of Earshot's JSON; speakers as the text names them.
    #expect(mixed["utterance_accuracy"] is Double && mixed["word_errors"] is [String: Any], "\(r.json)")
    #expect(mixed["utteranceAccuracy"] == nil && mixed["wordErrors"] == nil, "\(r.json)")
    var anonymous = EvaluationReport()
    anonymous.add(reference: "one", hypothesis: "two", speaker: nil)
    let none = try! JSONSerialization.jsonObject(with: Data(anonymous.json.utf8)) as! [String: Any]
    #expect((none["speakers"] as? [String: Any])?.isEmpty == true, "\(anonymous.json)")
    anonymous.add(reference: "one", hypothesis: "one", speaker: "ann")
    let some = try! JSONSerialization.jsonObject(with: Data(anonymous.json.utf8)) as! [String: Any]
    #expect(Set((some["speakers"] as? [String: Any])?.keys ?? [:].keys) == ["(none)", "ann"], "\(anonymous.json)")
    // A speaker really called "(none)" joins the unnamed ones, as in the text (no trap).
    anonymous.add(reference: "one two", hypothesis: "one two", speaker: "(none)")
    let joined = try! JSONSerialization.jsonObject(with: Data(anonymous.json.utf8)) as! [String: Any]
    #expect(((joined["speakers"] as? [String: [String: Any]])?["(none)"]?["words"]) as? Int == 3, "\(anonymous.json)")
  }

  @Test func textKeepsLongSpeakerNamesAndWordsWhole() {
    // Two speaker ids that differ only after their 14th character, and a word longer than 10.
    var r = EvaluationReport()
    r.add(reference: "two", hypothesis: "zero", speaker: "festival:cmu_us_slt_arctic_hts:s0.9")
    r.add(reference: "two", hypothesis: "two", speaker: "festival:cmu_us_slt_arctic_hts:s1.1")
    r.add(reference: "extraordinarily", hypothesis: "two", speaker: "flite:awb")
    // The longest id, with combining accents (more UTF-16 units than characters).
    let accented = "festival:cmu_us_slt_arctic_hts:s1.1:ge\u{301}ne\u{301}ral"
    r.add(reference: "one", hypothesis: "one", speaker: accented)
    let lines = r.text.split(separator: "\n").map(String.init)
    let s09 = lines.first { $0.contains("festival:cmu_us_slt_arctic_hts:s0.9 ") }
    let s11 = lines.first { $0.contains("festival:cmu_us_slt_arctic_hts:s1.1 ") }
    #expect(s09?.contains("WER 100.00%") == true, "\(r.text)")
    #expect(s11?.contains("WER 0.00%") == true, "\(r.text)")
    #expect(lines.contains { $0.hasPrefix("  extraordinarily ") }, "\(r.text)")
    #expect(lines.contains { $0.hasPrefix("  \(accented) WER 0.00%") }, "\(r.text)")
    // One column: every speaker's "WER" starts at the same character.
    let offsets = lines.filter { $0.contains(" WER ") && $0.hasPrefix("  ") }
      .map { $0.distance(from: $0.startIndex, to: $0.range(of: " WER ")!.lowerBound) }
    #expect(offsets.count == 4 && Set(offsets).count == 1, "\(r.text)")
  }
}

/// A resumed run's option differences are named by path, with values and no type dumps.
@Test func optionDifferencesAreNamedByPath() {
  let a = CTCTrainingOptions()
  var b = a
  b.augmentation.reverbProbability = 0.3
  b.features.cmvn.speechSpan = SpeechSpan(decibels: 25)
  let text = a.differences(from: b)
  #expect(text.contains("augmentation.reverbProbability was 0.0, now 0.3"), "\(text)")
  #expect(text.contains("features.cmvn.speechSpan was none, now (decibels 25.0, marginFrames 20)"), "\(text)")
  #expect(!text.contains("SpeechSpan(") && !text.contains("Optional("), "\(text)")
  #expect(a.differences(from: a) == "none found")
}

/// Manifests, text normalisation and tokens.
@Suite struct TrainingManifestTests {
  @Test func normalisesText() {
    #expect(Manifest.normalize("  Four OH\tseven  ") == "four zero seven")
    #expect(Manifest.normalize("oh-no Ohio") == "oh-no ohio")
    // Punctuation, numerals, and "oh" only among digits.
    #expect(Manifest.normalize("Seven. Eight!") == "seven eight")
    #expect(Manifest.normalize("O.K.; don't \"stop\"") == "ok don't stop")
    #expect(Manifest.normalize("4 71, oh 9") == "four seven one zero nine")
    #expect(Manifest.normalize("Oh no, it's 4") == "oh no it's four")
    #expect(Manifest.normalize("oh") == "zero")
    // Phone numbers as people write them: hyphens and dashes between numerals or digit words.
    #expect(Manifest.normalize("(415) 555-2368") == "four one five five five five two three six eight")
    #expect(Manifest.normalize("Four-one-five, oh-2") == "four one five zero two")
    #expect(Manifest.normalize("555\u{2013}01") == "five five five zero one")
    #expect(Manifest.normalize("x-ray 3-d -5") == "x-ray 3-d five")
    #expect(Manifest.normalize("Ｆｏｕｒ ４ ﬁve") == "four four five")
    #expect(Manifest.normalize("two zero \u{2014} nine - five") == "two zero nine five")
    #expect(Manifest.normalize(" ... ") == "")
  }

  @Test func parsesLinesResolvingRelativePaths() throws {
    let text = """
      {"audio": "clips/a.wav", "text": "Four seven", "speaker": "george"}

      # a comment
      {"audio": "/abs/b.wav", "text": "oh"}
      {"audio": "noise.wav", "text": "  "}
      """
    let entries = try Manifest.parse(text, path: "/data/set/train.jsonl")
    #expect(entries == [
      ManifestEntry(audio: "/data/set/clips/a.wav", text: "four seven", speaker: "george"),
      ManifestEntry(audio: "/abs/b.wav", text: "zero", speaker: nil),
      ManifestEntry(audio: "/data/set/noise.wav", text: "", speaker: nil),
    ])
  }

  /// The classification parser says the same of its "label", and points CTC manifests at --task ctc.
  @Test func badLabelSaysWhatItFound() {
    #expect { _ = try ClassificationDataset.parse("{\"audio\": \"a.wav\", \"text\": \"yes\"}\n", path: "m.jsonl") } throws: {
      "\($0)".contains("but a \"text\": a manifest for train --task ctc?")
    }
    #expect { _ = try ClassificationDataset.parse("{\"audio\": \"a.wav\", \"label\": 0}\n", path: "m.jsonl") } throws: {
      "\($0)".contains("\"label\" is a number, expected a string")
    }
  }

  @Test(arguments: [
    ("{\"audio\": \"a.wav\", \"text\": \"one\"}\nnot json\n", 2, "not valid JSON"),
    ("{\"audio\": \"a.wav\", \"text\": \"one\"}\n\n{\"text\": \"two\"}\n", 3, "no \"audio\" string"),
    ("{\"audio\": \"a.wav\"}\n", 1, "no \"text\" string"),
    ("{\"audio\": \"a.wav\", \"text\": 5}\n", 1, "\"text\" is a number, expected a string"),
    ("{\"audio\": \"a.wav\", \"label\": \"yes\"}\n", 1, "but a \"label\": a manifest for train --task classify?"),
    ("{\"audio\": \"a.wav\", \"text\": \"one\", \"speaker\": 7}\n", 1, "\"speaker\" is not a string"),
    ("[1, 2]\n", 1, "expected a JSON object"),
  ])
  func badLineNamesItsNumber(_ text: String, _ line: Int, _ reason: String) {
    do {
      _ = try Manifest.parse(text, path: "m.jsonl")
      Issue.record("no error for \(text)")
    } catch {
      guard case let .badManifestLine(path, l, r) = error else { Issue.record("\(error)"); return }
      #expect(path == "m.jsonl" && l == line, "\(error)")
      #expect(r.contains(reason), "\(error)")
      #expect(error.description.hasPrefix("m.jsonl:\(line): "))
    }
  }

  @Test func readsFSDDFolder() throws {
    let dir = Scratch.path("fsdd")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    for name in ["7_george_12.wav", "0_theo_0.wav", "readme.txt", "x_y.wav"] {
      _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: Data())
    }
    let entries = try Manifest.load(dir.path)
    #expect(entries.map(\.text) == ["zero", "seven"])
    #expect(entries.map(\.speaker) == ["theo", "george"])
    #expect(entries[1].audio.hasSuffix("/7_george_12.wav"))
    // The audio files left out are listed (for a warning); other files and hidden ones are not.
    _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("._hidden.wav").path, contents: Data())
    _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("12_bob_0.flac").path, contents: Data())
    #expect(Manifest.ignoredFiles(inFolder: dir.path) == ["12_bob_0.flac", "x_y.wav"])
    #expect(Manifest.ignoredFiles(inFolder: dir.appendingPathComponent("absent").path).isEmpty)
  }

  /// The CTC folder reader and the classifiers' speaker split read FSDD names by one rule:
  /// a name one of them takes, the other takes with the same speaker.
  @Test func fsddNamesReadAlikeForBothTasks() throws {
    let dir = Scratch.path("fsdd")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let names = ["7_george_12.wav", "3_jackson_0.flac", "4_nicolas_x.wav", "07_theo_1.wav", "4__1.wav",
                 "4_lucas_.wav", "12_bob_0.wav", "+4_yweweler_2.wav", "5_theo_1.txt", "5_a_b_1.wav",
                 "十_bob_1.wav", "٣_bob_1.wav"]
    for name in names {
      _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: Data())
    }
    let ctc = Dictionary(uniqueKeysWithValues: try Manifest.load(dir.path).map {
      (URL(fileURLWithPath: $0.audio).lastPathComponent, $0.speaker)
    })
    #expect(ctc == ["7_george_12.wav": "george", "3_jackson_0.flac": "jackson"])
    // One clip in two formats is read once (the first name), the other copy named.
    _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("7_george_12.flac").path, contents: Data())
    #expect(try Manifest.load(dir.path).map { URL(fileURLWithPath: $0.audio).lastPathComponent } == ["3_jackson_0.flac", "7_george_12.flac"])
    #expect(Manifest.repeatedClips(inFolder: dir.path) == ["7_george_12.wav"])
    let r = try CLI.run(["evaluate", "--model", "digits", dir.path])
    #expect(r.stderr.contains("warning: 1 clip(s) in \(dir.path) are there in two formats; each is read once "
                              + "(the first by name), these are left out: 7_george_12.wav"), "\(r.stderr)")
    for name in names where name.hasSuffix(".wav") || name.hasSuffix(".flac") {
      #expect(ClassificationDataset.speaker(ofFileName: name) == ctc[name] ?? nil, "\(name)")
    }
  }

  /// Windows line ends (CRLF, one Swift Character) and old Mac ones (CR) split lines as LF
  /// does, for both manifest kinds; line numbers in errors count them the same way.
  @Test func manifestsWithCRLFLineEnds() throws {
    let dir = temporaryDirectory()
    let ctc = dir.appendingPathComponent("ctc.jsonl"), labels = dir.appendingPathComponent("labels.jsonl")
    try Data(#"{"audio": "a.wav", "text": "zero"}\#r\#n{"audio": "b.wav", "text": "seven"}\#r\#n"#.utf8).write(to: ctc)
    try Data(#"{"audio": "a.wav", "label": "yes"}\#r{"audio": "b.wav", "label": "no"}\#r\#n"#.utf8).write(to: labels)
    #expect(try Manifest.load(ctc.path).map(\.text) == ["zero", "seven"])
    #expect(try ClassificationDataset.load(labels.path).map(\.label) == ["yes", "no"])
    try Data("{\"audio\": \"a.wav\", \"text\": \"zero\"}\r\nnot json\r\n".utf8).write(to: ctc)
    #expect(throws: TrainingError.self) { try Manifest.load(ctc.path) }
    do { _ = try Manifest.load(ctc.path) } catch { #expect("\(error)".contains(":2:"), "\(error)") }
  }

  @Test func missingManifestIsAnError() {
    #expect(throws: TrainingError.self) { try Manifest.load("/nonexistent/train.jsonl") }
  }

  @Test func wordAndCharacterTokens() throws {
    let w = Tokenizer(texts: ["four seven", "one four"], unit: .word)
    #expect(w.tokens == ["<blank>", "four", "one", "seven"])
    #expect(try w.encode("seven one", path: "a") == [3, 2])
    #expect(w.decode([3, 0, 2]) == "seven one")
    #expect(throws: TrainingError.self) { try w.encode("nine", path: "a.wav") }
    let c = Tokenizer(texts: ["ab", "b a"], unit: .character)
    #expect(c.tokens == ["<blank>", " ", "a", "b"])
    #expect(try c.encode("ba", path: "a") == [3, 2])
    #expect(c.decode([3, 1, 1, 2]) == "b a")
    #expect(Tokenizer.minimumFrames([1, 1, 2, 2, 2]) == 8)
  }
}

/// Optimizer state and augmentation.
@Suite struct TrainingPartsTests {
  /// Five Adam steps straight through equal three steps, a save of the moments, a restore
  /// into a fresh optimizer and two more steps, bit for bit (what checkpoints rely on).
  @Test func adamRestoredFromSavedMomentsContinuesExactly() {
    var g = SeededGenerator(seed: 3)
    var a = ModelArchitecture()
    a.inputSize = 4; a.hiddenSize = 3; a.numLayers = 1; a.outputSize = 3
    let start = SequenceModel(architecture: a, generator: &g)
    var o = AdamOptions()
    o.learningRate = 0.01
    o.weightDecay = 0.01
    let gradients: [SequenceModel] = (0..<5).map { _ in
      var grads = start.zeroGradients()
      for p in grads.namedParameters {
        for i in 0..<grads[keyPath: p.path].data.count { grads[keyPath: p.path].data[i] = g.normal() }
      }
      return grads
    }
    var straight = start
    var through = Adam(options: o)
    for grads in gradients { through.update(&straight, gradients: grads) }

    var resumed = start
    var first = Adam(options: o)
    for grads in gradients.prefix(3) { first.update(&resumed, gradients: grads) }
    var second = Adam(options: o)
    second.restore(step: first.step, firstMoments: first.firstMoments, secondMoments: first.secondMoments)
    for grads in gradients.suffix(2) { second.update(&resumed, gradients: grads) }
    #expect(second.step == 5)
    for p in straight.namedParameters {
      #expect(straight[keyPath: p.path].data == resumed[keyPath: p.path].data, "\(p.name)")
    }
  }

  @Test func noiseIsMixedAtTheRequestedSNR() {
    var g = SeededGenerator(seed: 1)
    let signal = (0..<4000).map { i in 0.5 * Float(sin(Double(i) * 0.3)) }
    let noise = (0..<1000).map { _ in g.normal() }
    for snr: Float in [5, 20] {
      var x = signal
      Augmentation.addNoise(&x, noise: noise, offset: 300, snr: snr)
      var ps = 0.0, pn = 0.0
      for i in 0..<x.count {
        ps += Double(signal[i] * signal[i])
        pn += Double((x[i] - signal[i]) * (x[i] - signal[i]))
      }
      #expect(abs(10 * log10(ps / pn) - Double(snr)) < 0.01, "snr \(snr): got \(10 * log10(ps / pn))")
    }
  }

  /// With padding the utterance sits between stretches of the noise alone (the noise from
  /// `offset` on, unbroken), and the SNR is per sample: the signal's power over its own length
  /// against the noise's over the whole padded length.
  @Test func paddedNoisePlaysAloneAroundTheUtterance() {
    var g = SeededGenerator(seed: 2)
    let signal = (0..<4000).map { i in 0.5 * Float(sin(Double(i) * 0.3)) }
    let noise = (0..<1000).map { _ in g.normal() }
    var x = signal
    Augmentation.addNoise(&x, noise: noise, offset: 300, snr: 10, pad: (before: 1200, after: 700))
    #expect(x.count == 1200 + 4000 + 700)
    let added = (0..<x.count).map { i in x[i] - (1200..<5200 ~= i ? signal[i - 1200] : 0) }
    let scale = added[0] / noise[300]
    #expect(scale > 0)
    for i in 0..<x.count { #expect(abs(added[i] - scale * noise[(300 + i) % 1000]) < 1e-5, "sample \(i)") }
    let signalPower = signal.reduce(0.0) { $0 + Double($1 * $1) } / 4000
    let noisePower = added.reduce(0.0) { $0 + Double($1 * $1) } / Double(x.count)
    #expect(abs(10 * log10(signalPower / noisePower) - 10) < 0.01, "\(10 * log10(signalPower / noisePower))")
    // Without padding nothing changes: the same bits as before the option existed.
    var plain = signal, explicit = signal
    Augmentation.addNoise(&plain, noise: noise, offset: 300, snr: 10)
    Augmentation.addNoise(&explicit, noise: noise, offset: 300, snr: 10, pad: (0, 0))
    #expect(plain == explicit && plain.count == 4000)
  }

  @Test func speedAndGain() throws {
    let x = [Float](repeating: 0.25, count: 8000)
    #expect(try Augmentation.changeSpeed(x, by: 1.1, sampleRate: 8000).count == 7273)
    #expect(try Augmentation.changeSpeed(x, by: 0.9, sampleRate: 8000).count == 8889)
    var y = x
    Augmentation.applyGain(&y, decibels: 6.0206)
    #expect(abs(y[100] - 0.5) < 1e-4)
  }

  @Test func specAugmentMasksAreBounded() {
    var m = Matrix(rows: 80, cols: 20, repeating: 1)
    var o = AugmentationOptions()
    o.timeMasks = 2
    o.maximumTimeMaskFrames = 5
    o.frequencyMasks = 1
    o.maximumFrequencyMaskBins = 3
    var g = SeededGenerator(seed: 9)
    Augmentation.specAugment(&m, options: o, generator: &g)
    let zeroRows = (0..<80).filter { r in (0..<20).allSatisfy { m[r, $0] == 0 } }.count
    let zeroCols = (0..<20).filter { c in (0..<80).allSatisfy { m[$0, c] == 0 } }.count
    #expect(zeroRows <= 10 && zeroCols <= 3)
    let zeros = m.data.filter { $0 == 0 }.count
    #expect(zeros == zeroRows * 20 + zeroCols * 80 - zeroRows * zeroCols)
  }
}
