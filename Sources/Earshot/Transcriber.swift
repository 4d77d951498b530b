import Foundation

/// Decoding and segmentation settings for `Transcriber`.
public struct TranscriptionOptions: Equatable, Sendable {
  /// Prefix beam width; 1 decodes greedily.
  public var beamWidth = 8
  /// Only this many most likely tokens per frame extend the beam; nil tries all.
  public var tokensPerFrame: Int? = 8
  /// Tokens more than this many nats under a frame's most likely one do not extend the
  /// beam there (the blank always does); nil keeps them all. Default 10 (a probability
  /// ratio of e^-10): on the `digits` model's ten validation sets no transcript changed
  /// against no margin (nor at 6), and most frames, where the blank is all but certain,
  /// then extend nothing.
  public var pruneMargin: Double? = 10
  /// If set, only these words may be produced (case-insensitive; each must be one the model
  /// can output, or spelled with its characters: ``Transcriber/init(model:options:)`` throws otherwise).
  public var vocabulary: [String]? = nil
  /// Audio longer than this is cut at pauses into pieces of at most this length, seconds.
  public var maxSegmentSeconds: Double = 20
  /// Whole-file transcripts kept in ``Transcript/alternatives``, best first (the first is the
  /// transcript); above 1, the beam is at least this wide.
  public var nBest = 1
  /// Decode only the speech: each piece is split at pauses of at least `minimumPauseSeconds`
  /// (energy-based), and every stretch of speech, with `speechMarginSeconds` of its
  /// surroundings, is decoded on its own; leading and trailing silence is dropped. The models
  /// are trained on clips with short pauses, and per-utterance normalisation is thrown off by
  /// long silences. Default true. Either way, a piece that is digital silence (or a constant
  /// offset) holds no words.
  public var decodesSpeechOnly = true
  /// Shortest pause that separates two stretches of speech, seconds; default 0.5.
  public var minimumPauseSeconds: Double = 0.5
  /// Audio kept on each side of a stretch of speech, seconds; default 0.25.
  public var speechMarginSeconds: Double = 0.25
  /// Remove a large DC offset from each piece (``LevelNormalization/removingLargeOffset(_:)``)
  /// and scale each decoded stretch so its loudest sample is at -0.1 dBFS, by at most +60 dB,
  /// before its features (``LevelNormalization``): a quiet recording otherwise loses its
  /// softer sounds under the features' log floor. Default true.
  public var normalizesLevel = true
  /// Files: transcribe only this channel, counting from 1 (the left of a stereo file; a call
  /// recording with one speaker a side, say); nil (default) averages the channels.
  public var channel: Int? = nil
  /// The networks' arithmetic (``InferencePrecision``); default `.int8`: on the `digits`
  /// model's eleven validation sets (4,068 utterances) 10 transcripts changed against
  /// `.float32`, the error rates by at most 0.1 point either way, and transcription ran 2.2
  /// times as fast (AVX-512 VNNI; 1.3 times with AVX2).
  public var precision: InferencePrecision = .int8

  public init() {}
}

/// One recognised word placed in the file's time.
public struct TranscribedWord: Equatable, Sendable, Codable {
  /// The word, lower case.
  public var word: String
  /// Start in seconds from the beginning of the file.
  public var start: Double
  /// End in seconds from the beginning of the file.
  public var end: Double
  /// Mean posterior probability of the word's frames, 0...1.
  public var confidence: Double

  public init(word: String, start: Double, end: Double, confidence: Double) {
    self.word = word
    self.start = start
    self.end = end
    self.confidence = confidence
  }
}

/// One whole-file transcript of the n best (``TranscriptionOptions/nBest``).
public struct TranscriptAlternative: Equatable, Sendable {
  /// Lower-case words separated by single spaces.
  public var text: String
  /// Its score: the sum over the decoded pieces of the CTC log-probability the beam search
  /// gives the piece's words (an ensemble's: the members' summed CTC log-likelihoods).
  public var logProbability: Double

  public init(text: String, logProbability: Double) {
    self.text = text
    self.logProbability = logProbability
  }
}

/// The result for one recording.
public struct Transcript: Equatable, Sendable {
  /// Lower-case words separated by single spaces.
  public var text: String { words.map(\.word).joined(separator: " ") }
  /// Words with times and confidences.
  public var words: [TranscribedWord]
  /// Length of the audio in seconds.
  public var durationSeconds: Double
  /// Pieces the audio was decoded in, as (start, end) seconds.
  public var segments: [(start: Double, end: Double)]
  /// The ``TranscriptionOptions/nBest`` best whole-file transcripts, best first; the first
  /// is ``text``.
  public var alternatives: [TranscriptAlternative]

  public init(words: [TranscribedWord], durationSeconds: Double, segments: [(start: Double, end: Double)],
              alternatives: [TranscriptAlternative] = []) {
    self.words = words
    self.durationSeconds = durationSeconds
    self.segments = segments
    self.alternatives = alternatives
  }

  public static func == (a: Transcript, b: Transcript) -> Bool {
    a.words == b.words && a.durationSeconds == b.durationSeconds
      && a.segments.map { [$0.start, $0.end] } == b.segments.map { [$0.start, $0.end] }
      && a.alternatives == b.alternatives
  }
}

// Codable in the shape `earshot transcribe --format json` writes (snake_case keys, seconds),
// so an app can store or send a transcript.
extension TranscriptAlternative: Codable {
  private enum CodingKeys: String, CodingKey { case text, logProbability = "log_probability" }

  /// A log-probability of -infinity (a text no alignment fits) is written as null, as
  /// `earshot transcribe` writes it, and read back as -infinity.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(text, forKey: .text)
    try c.encode(logProbability.isFinite ? logProbability : nil, forKey: .logProbability)
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(text: try c.decode(String.self, forKey: .text),
              logProbability: try c.decodeIfPresent(Double.self, forKey: .logProbability) ?? -.infinity)
  }
}

extension Transcript: Codable {
  private enum CodingKeys: String, CodingKey { case text, duration, words, segments, alternatives }
  private struct Span: Codable { var start, end: Double }

  /// `text` is written for readers and ignored when decoding (it follows from `words`).
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(text, forKey: .text)
    try c.encode(durationSeconds, forKey: .duration)
    try c.encode(words, forKey: .words)
    try c.encode(segments.map { Span(start: $0.start, end: $0.end) }, forKey: .segments)
    try c.encode(alternatives, forKey: .alternatives)
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      words: try c.decode([TranscribedWord].self, forKey: .words),
      durationSeconds: try c.decode(Double.self, forKey: .duration),
      segments: try c.decodeIfPresent([Span].self, forKey: .segments)?.map { ($0.start, $0.end) } ?? [],
      alternatives: try c.decodeIfPresent([TranscriptAlternative].self, forKey: .alternatives) ?? [])
  }
}

/// Turns audio into text with a CTC model.
///
/// Basic usage:
/// ```swift
/// let transcriber = try Transcriber(model: TranscriptionModel(named: "digits"))
/// let transcript = try transcriber.transcribe(path: "phone-number.wav")
/// print(transcript.text)                        // "four one five five five five"
/// for w in transcript.words { print(w.word, w.start, w.end, w.confidence) }
/// ```
///
/// An ensemble model decodes each member and keeps the pooled hypothesis with the highest
/// summed CTC log-likelihood (``TranscriptionModel``).
///
/// Any format, rate and channel count is read, downmixed (or one ``TranscriptionOptions/channel``
/// taken) and resampled to the model's rate.
/// Audio longer than `maxSegmentSeconds` is streamed and cut at its quietest point near each
/// segment's end (energy-based pause detection), so memory stays bounded for hours of audio.
public final class Transcriber: Sendable {
  /// The model.
  public let model: TranscriptionModel
  /// Decoding settings.
  public let options: TranscriptionOptions
  /// One per member, in order.
  private let extractors: [FeatureExtractor]
  private let decoder: CTCDecoder
  private let vocabulary: Vocabulary?

  /// Prepares one feature extractor per member and the vocabulary, if any.
  /// - Throws: `PipelineError.badEnsemble` when an ensemble's members do not fit the tokens
  ///   or each other, `PipelineError.invalidDecoderInput` for an option out of range (a beam
  ///   width, n-best count, tokens per frame or segment length under 1, a negative pause,
  ///   margin or prune margin, an empty vocabulary) or a vocabulary word the model cannot
  ///   output, `FeatureError` for a front end that cannot be built.
  public init(model: TranscriptionModel, options: TranscriptionOptions = TranscriptionOptions()) throws {
    try Self.check(options)
    try TranscriptionModel.check(model.members, tokens: model.tokens, source: model.source)
    var model = model
    model.inferencePrecision = options.precision
    self.model = model
    self.options = options
    extractors = try model.members.map { try FeatureExtractor(options: $0.features) }
    decoder = CTCDecoder(blank: model.network.architecture.blank)
    if let words = options.vocabulary {
      let blank = model.network.architecture.blank
      let spoken = model.tokens.enumerated().filter { $0.offset != blank }.map(\.element)
      switch model.unit {
      case .word:
        let resolved = words.map { Self.vocabularyToken($0, spoken: spoken) }
        let unknown = zip(words, resolved).filter { !spoken.contains($1) }.map(\.0)
        guard unknown.isEmpty else {
          throw PipelineError.invalidDecoderInput(
            name: "vocabulary", value: unknown.joined(separator: ","),
            expected: "words the model outputs: \(spoken.joined(separator: " "))")
        }
        vocabulary = Vocabulary(words: resolved.map { [model.tokens.firstIndex(of: $0)!] })
      case .character:
        // One prefix at a time cannot spell its way through a word list: greedy decoding
        // keeps the single best prefix, which soon fits no word, and ends with nothing.
        guard options.beamWidth >= 2 else {
          throw PipelineError.invalidDecoderInput(
            name: "beam width", value: "\(options.beamWidth)",
            expected: "at least 2 with a vocabulary on a character model (8 or more works best)")
        }
        let unknown = words.filter { $0.lowercased().contains { !spoken.contains(String($0)) || $0 == " " } }
        guard unknown.isEmpty else {
          throw PipelineError.invalidDecoderInput(
            name: "vocabulary", value: unknown.joined(separator: ","),
            expected: "single words spelled with the model's characters: \(spoken.filter { $0 != " " }.joined())")
        }
        let spelled = words.map { $0.lowercased().map { model.tokens.firstIndex(of: String($0))! } }
        vocabulary = Vocabulary(words: spelled, separator: model.tokens.firstIndex(of: " "))
      }
    } else {
      vocabulary = nil
    }
  }

  /// The token a vocabulary word stands for: itself in lower case where the model says it,
  /// else the word as references are normalised ("Oh" is zero, "5" is five).
  public static func vocabularyToken(_ word: String, spoken: [String]) -> String {
    spoken.contains(word.lowercased()) ? word.lowercased() : Manifest.normalize(word)
  }

  /// Throws `PipelineError.invalidDecoderInput` naming the first option out of range.
  static func check(_ o: TranscriptionOptions) throws {
    func bad(_ name: String, _ value: Any, _ expected: String) -> PipelineError {
      .invalidDecoderInput(name: name, value: "\(value)", expected: expected)
    }
    guard o.beamWidth >= 1 else { throw bad("beamWidth", o.beamWidth, ">= 1 (1 decodes greedily)") }
    guard o.nBest >= 1 else { throw bad("nBest", o.nBest, ">= 1") }
    if let k = o.tokensPerFrame, k < 1 { throw bad("tokensPerFrame", k, ">= 1, or nil for all") }
    if let m = o.pruneMargin, !(m >= 0) { throw bad("pruneMargin", m, ">= 0, or nil for none") }
    if let words = o.vocabulary, words.isEmpty { throw bad("vocabulary", "[]", "at least one word, or nil for any") }
    guard o.maxSegmentSeconds >= 1 && o.maxSegmentSeconds.isFinite else { throw bad("maxSegmentSeconds", o.maxSegmentSeconds, "finite and >= 1") }
    guard o.minimumPauseSeconds >= 0 && o.minimumPauseSeconds.isFinite else { throw bad("minimumPauseSeconds", o.minimumPauseSeconds, "finite and >= 0") }
    guard o.speechMarginSeconds >= 0 && o.speechMarginSeconds.isFinite else { throw bad("speechMarginSeconds", o.speechMarginSeconds, "finite and >= 0") }
    if let c = o.channel, c < 1 { throw bad("channel", c, ">= 1 (channels count from 1), or nil to average them") }
  }

  /// Transcribes a file of any format libsndfile reads.
  /// - Parameter progress: called after each decoded piece with the seconds of the file
  ///   transcribed so far (increasing; the last call gives its whole duration), e.g. for a
  ///   progress bar on hours of audio. Called on the calling thread.
  public func transcribe(path: String, progress: (_ secondsDone: Double) -> Void = { _ in }) throws -> Transcript {
    let file = try AudioFile(path: path)
    var stream = try MonoStream(file: file, sampleRate: model.features.sampleRate, channel: options.channel)
    let rate = model.features.sampleRate
    let maxSamples = max(Int(options.maxSegmentSeconds * Double(rate)), rate)
    var pending: [Float] = []
    var offset = 0
    var decoded = Decoded()
    var segments: [(start: Double, end: Double)] = []
    func flush(_ count: Int) throws {
      let piece = Array(pending.prefix(count))
      let start = Double(offset) / Double(rate)
      decoded.append(try decode(piece, offsetSeconds: start), keep: nBest)
      segments.append((start, start + Double(piece.count) / Double(rate)))
      pending.removeFirst(count)
      offset += count
      progress(Double(offset) / Double(rate))
    }
    while let block = try stream.next() {
      pending += block
      while pending.count > maxSamples {
        try flush(Self.pauseIndex(in: pending, before: maxSamples, sampleRate: rate))
      }
    }
    if !pending.isEmpty || segments.isEmpty { try flush(pending.count) }
    return Transcript(words: decoded.words, durationSeconds: Double(offset) / Double(rate), segments: segments,
                      alternatives: decoded.alternatives)
  }

  /// Transcribes mono audio at any rate (resampled to the model's first).
  public func transcribe(_ audio: MonoAudio) throws -> Transcript {
    try transcribe(samples: audio.samples, sampleRate: audio.sampleRate)
  }

  /// Samples at the model's rate, as before the rate was asked for.
  @available(*, deprecated, message: "say the samples' rate: transcribe(samples:sampleRate:) resamples to the model's")
  public func transcribe(samples: [Float]) throws -> Transcript {
    try transcribe(samples: samples, sampleRate: model.features.sampleRate)
  }

  /// Transcribes mono samples recorded at `sampleRate` Hz, cutting long audio at pauses as
  /// `transcribe(path:)` does. Samples at another rate than the model's
  /// (`model.features.sampleRate`: 8 kHz for `digits`) are resampled to it first (soxr HQ).
  /// - Throws: `AudioError.invalidSampleRate` for a rate outside 1,000-768,000 Hz.
  public func transcribe(samples: [Float], sampleRate: Int) throws -> Transcript {
    let rate = model.features.sampleRate
    guard supportedSampleRates.contains(sampleRate) else { throw AudioError.invalidSampleRate(path: "samples", sampleRate: sampleRate) }
    let samples = sampleRate == rate ? samples : try Resampler.resample(samples, from: sampleRate, to: rate)
    let maxSamples = max(Int(options.maxSegmentSeconds * Double(rate)), rate)
    var start = 0
    var decoded = Decoded()
    var segments: [(start: Double, end: Double)] = []
    repeat {
      var end = samples.count
      if end - start > maxSamples {
        end = start + Self.pauseIndex(in: Array(samples[start..<(start + maxSamples)]), before: maxSamples, sampleRate: rate)
      }
      let s = Double(start) / Double(rate)
      decoded.append(try decode(Array(samples[start..<end]), offsetSeconds: s), keep: nBest)
      segments.append((s, Double(end) / Double(rate)))
      start = end
    } while start < samples.count
    return Transcript(words: decoded.words, durationSeconds: Double(samples.count) / Double(rate), segments: segments,
                      alternatives: decoded.alternatives)
  }

  /// Word hypotheses for one piece of audio, times offset to the file: each stretch of speech
  /// on its own (``TranscriptionOptions/decodesSpeechOnly``), or the whole piece.
  func decode(_ samples: [Float], offsetSeconds: Double) throws -> Decoded {
    // A large DC offset would hide the pauses and take the peak of the level step.
    let samples = options.normalizesLevel ? LevelNormalization.removingLargeOffset(samples) : samples
    // Digital silence holds no words, even decoded whole: no network here heard it in
    // training, and each names a digit for it.
    guard !Self.isDigitalSilence(samples) else { return Decoded() }
    guard options.decodesSpeechOnly else { return try decodeWhole(samples, offsetSeconds: offsetSeconds) }
    let rate = model.features.sampleRate
    var result = Decoded()
    for r in Self.speechRegions(samples, sampleRate: rate, minimumPauseSeconds: options.minimumPauseSeconds,
                                marginSeconds: options.speechMarginSeconds) {
      result.append(try decodeWhole(Array(samples[r]), offsetSeconds: offsetSeconds + Double(r.lowerBound) / Double(rate)),
                    keep: nBest)
    }
    return result
  }

  /// Words of a piece of audio with its n best texts (best first; the first is the words');
  /// empty, it holds no word and one empty text scoring 0.
  struct Decoded {
    var words: [TranscribedWord] = []
    var alternatives = [TranscriptAlternative(text: "", logProbability: 0)]

    /// Adds the decoding of the audio that follows: its words, and the `keep` best pairings
    /// of the two lists of texts (``Transcriber/combine(_:_:keep:)``).
    mutating func append(_ later: Decoded, keep: Int) {
      words += later.words
      alternatives = Transcriber.combine(alternatives, later.alternatives, keep: keep)
    }
  }

  /// Whether no sample strays more than -90 dBFS (``digitalSilencePeak``) from the mean: digital
  /// silence, or a constant offset (a DC-only recording), which hold no speech whatever the
  /// level setting.
  static func isDigitalSilence(_ samples: [Float]) -> Bool {
    guard !samples.isEmpty else { return true }
    let mean = samples.reduce(0, +) / Float(samples.count)
    return !samples.contains { abs($0 - mean) > digitalSilencePeak }
  }

  /// -90 dBFS as a sample value: the level under which the speech detection also treats
  /// frames as digital silence.
  static let digitalSilencePeak: Float = 3.16e-5

  /// Alternatives kept: at least one.
  var nBest: Int { max(options.nBest, 1) }

  /// The `keep` best pairings of an alternative of `first` (earlier audio) with one of
  /// `second` (later audio): texts joined, scores added; best first, ties in the order of
  /// `first`, then `second`. Both lists must be sorted best first.
  static func combine(_ first: [TranscriptAlternative], _ second: [TranscriptAlternative], keep: Int)
    -> [TranscriptAlternative]
  {
    var pairs: [TranscriptAlternative] = []
    for a in first {
      for b in second {
        let text = a.text.isEmpty ? b.text : b.text.isEmpty ? a.text : a.text + " " + b.text
        pairs.append(TranscriptAlternative(text: text, logProbability: a.logProbability + b.logProbability))
      }
    }
    return bestFirst(pairs, keep: keep, score: \.logProbability)
  }

  /// The stretches of speech in `samples`, as sample ranges in order, each widened by
  /// `marginSeconds` on both sides, but not into digital silence (overlapping ones merged). A 10 ms frame is speech when
  /// louder than both 45 dB under the loudest frame and the smaller of (10th-percentile frame
  /// + 6 dB) and (loudest - 25 dB); speech separated by less than `minimumPauseSeconds` is one
  /// stretch, and stretches shorter than 50 ms (clicks) are dropped. Audio whose loudest frame
  /// is under -90 dBFS (digital silence) holds none.
  public static func speechRegions(_ samples: [Float], sampleRate: Int, minimumPauseSeconds: Double,
                                   marginSeconds: Double) -> [Range<Int>] {
    let hop = max(sampleRate / 100, 1)
    let frames = samples.count / hop
    guard frames >= 1 else { return samples.isEmpty ? [] : [0..<samples.count] }
    let energy: [Float] = (0..<frames).map { t in
      var sum: Float = 0
      for i in (t * hop)..<((t + 1) * hop) { sum += samples[i] * samples[i] }
      return 10 * log10(sum / Float(hop) + 1e-12)
    }
    let sorted = energy.sorted()
    let top = sorted.last!, floor = sorted[sorted.count / 10]
    guard top > -90 else { return [] }
    let threshold = max(top - 45, min(floor + 6, top - 25))
    // Runs of loud frames, [start, end) in frames, joined across short pauses.
    let gap = max(Int((minimumPauseSeconds * 100).rounded()), 1)
    var runs: [(start: Int, end: Int)] = []
    var t = 0
    while t < frames {
      guard energy[t] > threshold else { t += 1; continue }
      var end = t
      while end < frames && energy[end] > threshold { end += 1 }
      if let last = runs.last, t - last.end < gap { runs[runs.count - 1].end = end } else { runs.append((t, end)) }
      t = end
    }
    // The margins stop at digital silence, which no training clip holds.
    let margin = Int((marginSeconds * 100).rounded())
    var regions: [Range<Int>] = []
    for run in runs where run.end - run.start >= 5 {
      var first = run.start, last = run.end
      while first > 0 && run.start - first < margin && energy[first - 1] > -90 { first -= 1 }
      while last < frames && last - run.end < margin && energy[last] > -90 { last += 1 }
      let lo = first * hop
      let hi = last == frames ? samples.count : last * hop
      if let last = regions.last, lo <= last.upperBound {
        regions[regions.count - 1] = last.lowerBound..<max(hi, last.upperBound)
      } else {
        regions.append(lo..<hi)
      }
    }
    return regions
  }

  /// Word hypotheses for `samples` decoded as one utterance, times offset to the file.
  /// Times come from member 0's frames; an ensemble's confidences are the mean of its
  /// members' (each aligned on its own frames).
  func decodeWhole(_ samples: [Float], offsetSeconds: Double) throws -> Decoded {
    let hopLength = extractors[0].hopLength
    let hop = Double(hopLength) / Double(model.features.sampleRate)
    // Pieces shorter than one analysis window hold no speech.
    guard samples.count >= hopLength else { return Decoded() }
    let samples = options.normalizesLevel ? LevelNormalization.apply(samples) : samples
    let logProbs = try memberLogProbabilities(samples)
    guard logProbs[0].rows > 0 else { return Decoded() }
    let ranked = try bestHypotheses(logProbs)
    guard let tokens = ranked.first?.tokens, var aligned = try decoder.align(tokens, logProbs[0]) else { return Decoded() }
    let alternatives = ranked.map { TranscriptAlternative(text: text(of: $0.tokens), logProbability: $0.logProbability) }
    if logProbs.count > 1 {
      var sums = aligned.map(\.confidence)
      var count = 1.0
      for lp in logProbs.dropFirst() {
        guard let other = try decoder.align(tokens, lp) else { continue }
        for i in sums.indices { sums[i] += other[i].confidence }
        count += 1
      }
      for i in aligned.indices { aligned[i].confidence = sums[i] / count }
    }
    // Group tokens into words: (text, first frame, one past the last frame, confidence).
    var spans: [(word: String, start: Int, end: Int, confidence: Double)] = []
    switch model.unit {
    case .word:
      spans = aligned.map { (model.tokens[$0.token], $0.startFrame, $0.endFrame, $0.confidence) }
    case .character:
      var current: [AlignedToken] = []
      func close() {
        guard let first = current.first, let last = current.last else { return }
        spans.append(
          (current.map { model.tokens[$0.token] }.joined(), first.startFrame, last.endFrame,
           current.map(\.confidence).reduce(0, +) / Double(current.count)))
        current = []
      }
      for a in aligned {
        if model.tokens[a.token] == " " { close() } else { current.append(a) }
      }
      close()
    }
    // Only frames that start (or are centred) inside the piece: a word placed in the overhang
    // past its end would be clamped to zero length.
    let inside = min(logProbs[0].rows, (samples.count - 1) / hopLength + 1)
    spans = Self.widen(spans, energy: Self.frameEnergy(samples, hop: hopLength, frames: inside))
    // Frame t is centred at t * hop (or starts there, uncentred): frames [s, e) span s * hop
    // to e * hop, clamped to the piece (centred frames overhang its end).
    let pieceEnd = offsetSeconds + Double(samples.count) / Double(model.features.sampleRate)
    func time(_ frame: Int) -> Double { min(offsetSeconds + Double(frame) * hop, pieceEnd) }
    let words = spans.map { TranscribedWord(word: $0.word, start: time($0.start), end: time($0.end), confidence: $0.confidence) }
    return Decoded(words: words, alternatives: alternatives)
  }

  /// The text a token sequence spells: words joined by single spaces.
  func text(of tokens: [Int]) -> String {
    switch model.unit {
    case .word: return tokens.map { model.tokens[$0] }.joined(separator: " ")
    case .character: return tokens.map { model.tokens[$0] }.joined().split(separator: " ").joined(separator: " ")
    }
  }

  /// Each member's (frames, tokens) log-probabilities for `samples`; members with the same
  /// front end share one feature computation.
  func memberLogProbabilities(_ samples: [Float]) throws -> [Matrix] {
    var shared = SharedFeatures()
    return try zip(model.members, extractors).map { member, extractor in
      let features = try shared.features(of: samples, extractor: extractor)
      return features.rows > 0 ? member.network.logProbabilities(features: features) : Matrix(rows: 0, cols: model.tokens.count)
    }
  }

  /// The ``nBest`` best token sequences with their scores, best first: of one network, its
  /// best path (greedy decoding, one sequence) or its beam search's n best; of an ensemble,
  /// every member's `max(beamWidth, nBest)` best hypotheses (its best path when greedy)
  /// pooled and ranked by the sum of the members' CTC log-likelihoods.
  func bestHypotheses(_ logProbs: [Matrix]) throws -> [CTCHypothesis] {
    let greedy = options.beamWidth <= 1 && vocabulary == nil && nBest == 1
    let width = max(options.beamWidth, nBest)
    func hypotheses(_ lp: Matrix, count: Int) throws -> [CTCHypothesis] {
      if greedy { return [try decoder.greedy(lp)] }
      return try decoder.beamSearch(lp, beamWidth: width, tokensPerFrame: options.tokensPerFrame, pruneMargin: options.pruneMargin, nBest: count, vocabulary: vocabulary)
    }
    guard logProbs.count > 1 else { return try hypotheses(logProbs[0], count: nBest) }
    var candidates: [[Int]] = []
    for lp in logProbs {
      for h in try hypotheses(lp, count: width) where !candidates.contains(h.tokens) { candidates.append(h.tokens) }
    }
    var scores = [Double](repeating: 0, count: candidates.count)
    for lp in logProbs {
      for (i, score) in try decoder.logLikelihoods(candidates, lp).enumerated() { scores[i] += score }
    }
    let scored = zip(candidates, scores).map { CTCHypothesis(tokens: $0, logProbability: $1) }
    return bestFirst(scored, keep: nBest, score: \.logProbability)
  }

  /// Log energy (dB) of the `hop` samples around each frame centre.
  static func frameEnergy(_ samples: [Float], hop: Int, frames: Int) -> [Float] {
    (0..<frames).map { t in
      let lo = max(t * hop - hop / 2, 0), hi = min(t * hop + hop - hop / 2, samples.count)
      var sum: Float = 1e-10
      if lo < hi { for i in lo..<hi { sum += samples[i] * samples[i] } }
      return 10 * log10(sum / Float(max(hi - lo, 1)))
    }
  }

  /// CTC emits each word as a one- or two-frame spike; a person expects the word's extent.
  /// Frames louder than a threshold (6 dB over the piece's 10th-percentile frame, and at most
  /// 40 dB under its loudest) are speech.
  ///
  /// A network that fires ahead of its words (`afterEarlySpikes`) is recognised by its first
  /// spike coming before the first speech (or within 20 ms of it), or by a third of its spikes
  /// falling in pauses. Otherwise each word grows from its spike over speech frames, never
  /// past the quietest frame between it and its neighbour's spike.
  static func widen(
    _ spans: [(word: String, start: Int, end: Int, confidence: Double)], energy: [Float]
  ) -> [(word: String, start: Int, end: Int, confidence: Double)] {
    guard !spans.isEmpty, !energy.isEmpty else { return spans }
    let sorted = energy.sorted()
    let floor = sorted[sorted.count / 10]
    let threshold = max(floor + 6, sorted.last! - 40)
    let speech = energy.map { $0 > threshold }
    let spikes = spans.map { min($0.start, energy.count - 1) }
    // (Not when the words outnumber the frames after the first spike: each needs one.)
    if let firstSpeech = speech.firstIndex(of: true), spikes[0] + spans.count <= energy.count,
      spikes[0] <= firstSpeech + 2 || 3 * spikes.filter({ !speech[$0] }).count >= spikes.count
    {
      return afterEarlySpikes(spans, energy: energy, speech: speech)
    }
    func quietest(_ range: Range<Int>) -> Int {
      guard !range.isEmpty else { return range.lowerBound }
      return range.min { energy[$0] < energy[$1] }!
    }
    var bounds = [0]
    for i in 1..<spans.count {
      let lo = min(spans[i - 1].end, energy.count), hi = min(max(spans[i].start, lo), energy.count)
      bounds.append(quietest(lo..<hi))
    }
    bounds.append(energy.count)
    return spans.enumerated().map { i, span in
      var start = min(span.start, energy.count)
      var end = min(max(span.end, start), energy.count)
      while start > bounds[i] && speech[start - 1] { start -= 1 }
      while end < bounds[i + 1] && speech[end] { end += 1 }
      return (span.word, start, max(end, start + 1), span.confidence)
    }
  }


  /// Word extents for a network that fires ahead of its words (a bidirectional network may:
  /// the shipped digits networks fire 0.15-0.5 s early, in the pause before a word or during
  /// the word before it, measured on strings of a held-out speaker's clips). Word i begins
  /// where speech resumes after the longest pause between its spike and the next spike (a
  /// stop consonant's closure is a shorter pause inside a word), or, in speech without a
  /// pause, at the dip there (at the spike where the energy only fades); it ends at the last
  /// speech before the next word.
  /// Needs `spans.count` frames from the first spike on.
  static func afterEarlySpikes(
    _ spans: [(word: String, start: Int, end: Int, confidence: Double)], energy: [Float], speech: [Bool]
  ) -> [(word: String, start: Int, end: Int, confidence: Double)] {
    let frames = energy.count, words = spans.count
    var onsets: [Int] = []
    for i in spans.indices {
      // Room for the words after this one: onsets stay distinct and inside the frames.
      let lo = min(max(spans[i].start, (onsets.last ?? -1) + 1), frames - (words - i))
      let hi = i + 1 < words ? max(spans[i + 1].start, lo + 1) : frames
      let window = lo..<min(hi, frames - (words - 1 - i))
      // The onset after the longest pause in the window, the later of equals.
      var onset: Int?
      var longest = 0
      var quietRun = lo == 0 || !speech[lo - 1] ? 1 : 0  // the recording starts after silence
      for t in window {
        if !speech[t] {
          quietRun += 1
          continue
        }
        if quietRun > 0 && quietRun >= longest {
          onset = t
          longest = quietRun
        }
        quietRun = 0
      }
      // No pause: the quietest frame, where it is a dip between two words (speech rises 6 dB
      // or more after it). Without a rise after it, it is the word's own fading tail: the
      // spike came on time, at a word that follows the one before without a pause, and the
      // word begins there.
      // (Up to the window's last speech: the last word's window runs on into the silence.)
      let speaking = window.lowerBound..<max((window.last { speech[$0] } ?? 0) + 1, window.lowerBound + 1)
      let quietest = speaking.min { energy[$0] < energy[$1] }!
      let rises = speaking[(quietest + 1)...].contains { energy[$0] >= energy[quietest] + 6 }
      onsets.append(onset ?? (rises ? quietest : window.lowerBound))
    }
    return spans.indices.map { i in
      var end = i + 1 < words ? onsets[i + 1] : frames
      while end > onsets[i] + 1 && !speech[end - 1] { end -= 1 }
      return (spans[i].word, onsets[i], end, spans[i].confidence)
    }
  }

  /// Where to cut `samples` so that the first piece is at most `limit` long: the middle of the
  /// quietest 100 ms window in the last quarter of the allowed span.
  static func pauseIndex(in samples: [Float], before limit: Int, sampleRate: Int) -> Int {
    let span = min(limit, samples.count)
    let window = max(sampleRate / 10, 1)
    let searchStart = max(span - max(span / 4, window), 0)
    var best = span
    var bestEnergy = Float.infinity
    var i = searchStart
    while i + window <= span {
      var energy: Float = 0
      for j in i..<(i + window) { energy += samples[j] * samples[j] }
      if energy < bestEnergy {
        bestEnergy = energy
        best = i + window / 2
      }
      i += window / 2
    }
    return max(best, 1)
  }
}

/// The `keep` items with the highest scores, highest first; equal scores keep their order.
private func bestFirst<T>(_ items: [T], keep: Int, score: (T) -> Double) -> [T] {
  Array(items.enumerated().sorted { a, b in
    let x = score(a.element), y = score(b.element)
    return x != y ? x > y : a.offset < b.offset
  }.prefix(keep).map(\.element))
}
