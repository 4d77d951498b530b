@testable import Earshot
import Foundation
import Testing

/// (frames, tokens) log-softmax of seeded random logits.
func randomLogProbs(frames: Int, tokens: Int, seed: UInt64, sharpness: Double = 2) -> Matrix {
  var state = seed
  func next() -> Double {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Double(state >> 11) / Double(1 << 53)
  }
  var m = Matrix(rows: frames, cols: tokens)
  for t in 0..<frames {
    let logits = (0..<tokens).map { _ in next() * sharpness * 2 - sharpness }
    let norm = log(logits.map(exp).reduce(0, +))
    for k in 0..<tokens { m[t, k] = Float(logits[k] - norm) }
  }
  return m
}

/// Every alignment enumerated: label sequence -> total probability (blank 0).
func bruteForce(_ m: Matrix) -> [[Int]: Double] {
  var totals: [[Int]: Double] = [:]
  let frames = m.rows, tokens = m.cols
  var path = [Int](repeating: 0, count: frames)
  func visit(_ t: Int, _ logP: Double) {
    if t == frames {
      var labels: [Int] = []
      var previous = 0
      for k in path {
        if k != 0 && k != previous { labels.append(k) }
        previous = k
      }
      totals[labels, default: 0] += exp(logP)
      return
    }
    for k in 0..<tokens {
      path[t] = k
      visit(t + 1, logP + Double(m[t, k]))
    }
  }
  visit(0, 0)
  return totals
}

/// Prefix beam search written the plain way (blank 0): prefixes are token arrays in a
/// dictionary, probabilities kept as plain numbers in Double.
func plainPrefixSearch(_ m: Matrix, beam: Int, perFrame: Int, margin: Double? = nil) -> [(tokens: [Int], logProbability: Double)] {
  var prefixes: [[Int]: (blank: Double, nonBlank: Double)] = [[]: (1, 0)]
  for t in 0..<m.rows {
    let p = (0..<m.cols).map { exp(Double(m[t, $0])) }
    var allowed = Array((0..<m.cols).sorted { p[$0] > p[$1] }.prefix(perFrame))
    if !allowed.contains(0) { allowed.append(0) }
    // A token at most `margin` nats under the frame's best: probability >= best * e^-margin.
    if let margin { allowed = allowed.filter { $0 == 0 || p[$0] >= p.max()! * exp(-margin) } }
    var next: [[Int]: (blank: Double, nonBlank: Double)] = [:]
    for (prefix, s) in prefixes {
      for k in allowed {
        if k == 0 {
          next[prefix, default: (0, 0)].blank += (s.blank + s.nonBlank) * p[0]
        } else if k == prefix.last {
          next[prefix, default: (0, 0)].nonBlank += s.nonBlank * p[k]
          next[prefix + [k], default: (0, 0)].nonBlank += s.blank * p[k]
        } else {
          next[prefix + [k], default: (0, 0)].nonBlank += (s.blank + s.nonBlank) * p[k]
        }
      }
    }
    prefixes = Dictionary(uniqueKeysWithValues: next.sorted { $0.value.blank + $0.value.nonBlank > $1.value.blank + $1.value.nonBlank }.prefix(beam).map { ($0.key, $0.value) })
  }
  return prefixes.map { (tokens: $0.key, logProbability: log($0.value.blank + $0.value.nonBlank)) }
    .sorted { $0.logProbability > $1.logProbability }
}

@Suite("CTC decoding")
struct CTCDecoderTests {
  @Test func greedyCollapsesRepeatsAndDropsBlanks() throws {
    // Best path 1 1 0 1 2 2 0 -> tokens 1 1 2: the blank separates the two 1s.
    let path = [1, 1, 0, 1, 2, 2, 0]
    var m = Matrix(rows: path.count, cols: 3, repeating: log(0.1))
    for (t, k) in path.enumerated() { m[t, k] = log(0.8) }
    let h = try CTCDecoder(blank: 0).greedy(m)
    #expect(h.tokens == [1, 1, 2])
    #expect(abs(h.logProbability - 7 * log(0.8)) < 1e-5)
  }

  @Test func greedyRespectsANonZeroBlank() throws {
    let path = [2, 0, 0, 2, 1, 2]
    var m = Matrix(rows: path.count, cols: 3, repeating: log(0.1))
    for (t, k) in path.enumerated() { m[t, k] = log(0.8) }
    #expect(try CTCDecoder(blank: 2).greedy(m).tokens == [0, 1])
  }

  /// With a beam wide enough to keep every prefix, prefix beam search is exact: its n-best
  /// list and probabilities equal the brute-force sums over all alignments.
  @Test(arguments: [(4, 3, 1 as UInt64), (5, 3, 2), (5, 4, 3), (3, 5, 4)])
  func wideBeamEqualsBruteForce(_ frames: Int, _ tokens: Int, _ seed: UInt64) throws {
    let m = randomLogProbs(frames: frames, tokens: tokens, seed: seed)
    let exact = bruteForce(m).sorted { $0.value > $1.value }
    let got = try CTCDecoder().beamSearch(m, beamWidth: 1_000, nBest: 5)
    #expect(got.count == 5)
    for (h, e) in zip(got, exact.prefix(5)) {
      #expect(h.tokens == e.key)
      #expect(abs(exp(h.logProbability) - e.value) < 1e-9, "\(h.tokens): \(exp(h.logProbability)) vs \(e.value)")
    }
  }

  @Test func narrowBeamFindsTheBestOnPeakedPosteriors() throws {
    let m = randomLogProbs(frames: 8, tokens: 4, seed: 9, sharpness: 6)
    let exact = bruteForce(m).max { $0.value < $1.value }!.key
    let got = try CTCDecoder().beamSearch(m, beamWidth: 4, tokensPerFrame: 2).first!
    #expect(got.tokens == exact)
  }

  /// On long inputs, where pruning drops most prefixes and survivors are extended frame after
  /// frame, the decoder keeps the same prefixes as a plain dictionary-of-token-arrays search.
  @Test(arguments: [(40, 6, 4, 3, 21 as UInt64), (60, 11, 8, 8, 22), (30, 4, 2, 4, 23)])
  func prunedBeamMatchesAPlainPrefixSearch(_ frames: Int, _ tokens: Int, _ beam: Int, _ perFrame: Int, _ seed: UInt64) throws {
    let m = randomLogProbs(frames: frames, tokens: tokens, seed: seed, sharpness: 3)
    let got = try CTCDecoder().beamSearch(m, beamWidth: beam, tokensPerFrame: perFrame, nBest: beam)
    let want = plainPrefixSearch(m, beam: beam, perFrame: perFrame)
    #expect(got.map(\.tokens) == want.map(\.tokens))
    for (g, w) in zip(got, want) { #expect(abs(g.logProbability - w.logProbability) < 1e-9) }
  }

  /// With a margin, only tokens within it of each frame's best extend prefixes: the same
  /// prefixes as the plain search restricted alike, and a margin wide enough to keep every
  /// token changes nothing. The margins here prune: the results differ from no margin.
  @Test(arguments: [(40, 6, 4, 6, 1.0, 24 as UInt64), (60, 11, 8, 8, 2.5, 25), (30, 4, 3, 4, 0.5, 26)])
  func marginPrunedBeamMatchesAPlainPrefixSearch(
    _ frames: Int, _ tokens: Int, _ beam: Int, _ perFrame: Int, _ margin: Double, _ seed: UInt64
  ) throws {
    let m = randomLogProbs(frames: frames, tokens: tokens, seed: seed, sharpness: 3)
    let decoder = CTCDecoder()
    let got = try decoder.beamSearch(m, beamWidth: beam, tokensPerFrame: perFrame, pruneMargin: margin, nBest: beam)
    let want = plainPrefixSearch(m, beam: beam, perFrame: perFrame, margin: margin)
    #expect(got.map(\.tokens) == want.map(\.tokens))
    for (g, w) in zip(got, want) { #expect(abs(g.logProbability - w.logProbability) < 1e-9) }
    let unpruned = try decoder.beamSearch(m, beamWidth: beam, tokensPerFrame: perFrame, nBest: beam)
    #expect(got.map(\.logProbability) != unpruned.map(\.logProbability))
    let wide = try decoder.beamSearch(m, beamWidth: beam, tokensPerFrame: perFrame, pruneMargin: 1_000, nBest: beam)
    #expect(wide.map(\.tokens) == unpruned.map(\.tokens) && wide.map(\.logProbability) == unpruned.map(\.logProbability))
  }

  @Test func wordVocabularyKeepsOnlyAllowedTokens() throws {
    let m = randomLogProbs(frames: 10, tokens: 5, seed: 11, sharpness: 4)
    let vocabulary = Vocabulary(words: [[1], [3]])
    for h in try CTCDecoder().beamSearch(m, beamWidth: 16, nBest: 5, vocabulary: vocabulary) {
      #expect(h.tokens.allSatisfy { $0 == 1 || $0 == 3 }, "\(h.tokens)")
    }
  }

  @Test func characterVocabularySpellsOnlyWholeWords() throws {
    // blank 0, a 1, b 2, space 3; words "ab" and "ba". Posteriors favour "a a".
    let words = [[1, 2], [2, 1]]
    var m = Matrix(rows: 8, cols: 4, repeating: log(0.05))
    for (t, k) in [1, 0, 1, 0, 3, 2, 1, 0].enumerated() { m[t, k] = log(0.85) }
    let best = try CTCDecoder().beamSearch(m, beamWidth: 32, vocabulary: Vocabulary(words: words, separator: 3)).first!
    // Split into words at the separator; every word must be in the list.
    let spelled = best.tokens.split(separator: 3).map(Array.init)
    #expect(!spelled.isEmpty)
    #expect(spelled.allSatisfy { words.contains($0) }, "\(best.tokens)")
    #expect(try CTCDecoder().beamSearch(m, beamWidth: 32).first!.tokens == [1, 1, 3, 2, 1])
  }

  @Test func alignmentPlacesTokensWhereTheyAreSpoken() throws {
    // Frames: blank blank 1 1 1 blank 2 2 blank blank.
    let path = [0, 0, 1, 1, 1, 0, 2, 2, 0, 0]
    var m = Matrix(rows: path.count, cols: 3, repeating: log(0.05))
    for (t, k) in path.enumerated() { m[t, k] = log(0.9) }
    let aligned = try CTCDecoder().align([1, 2], m)!
    #expect(aligned.map(\.token) == [1, 2])
    #expect(aligned.map(\.startFrame) == [2, 6])
    #expect(aligned.map(\.endFrame) == [5, 8])
    #expect(aligned.allSatisfy { abs($0.confidence - 0.9) < 1e-6 })
  }

  @Test func alignmentOfRepeatsNeedsABlank() throws {
    let m = randomLogProbs(frames: 2, tokens: 3, seed: 5)
    #expect(try CTCDecoder().align([1, 1], m) == nil)
    #expect(try CTCDecoder().align([1, 1], randomLogProbs(frames: 3, tokens: 3, seed: 5))?.count == 2)
  }

  @Test func invalidInputThrowsInsteadOfTrapping() throws {
    let m = randomLogProbs(frames: 4, tokens: 3, seed: 7)
    // Each used to trap: index out of range, `1..<0`, the beamWidth precondition.
    #expect(throws: PipelineError.self) { try CTCDecoder(blank: 3).greedy(m) }
    #expect(throws: PipelineError.self) { try CTCDecoder(blank: -1).beamSearch(m) }
    #expect(throws: PipelineError.self) { try CTCDecoder().greedy(Matrix(rows: 2, cols: 0)) }
    #expect(throws: PipelineError.self) { try CTCDecoder().beamSearch(m, beamWidth: 0) }
    #expect(throws: PipelineError.self) { try CTCDecoder().beamSearch(m, tokensPerFrame: 0) }
    #expect(throws: PipelineError.self) { try CTCDecoder().beamSearch(m, nBest: 0) }
    #expect(throws: PipelineError.self) { try CTCDecoder().beamSearch(m, pruneMargin: -1) }
    #expect(throws: PipelineError.self) { try CTCDecoder().beamSearch(m, pruneMargin: .nan) }
    #expect(throws: PipelineError.self) { try CTCDecoder().align([1, 3], m) }
    #expect(throws: PipelineError.self) { try CTCDecoder().align([0], m) }
  }

  @Test func nanAndPositiveInfinityAreRejectedNegativeInfinityIsNot() throws {
    var m = randomLogProbs(frames: 4, tokens: 3, seed: 8)
    m[2, 1] = .nan
    #expect(throws: PipelineError.invalidDecoderInput(name: "logProbs[2, 1]", value: "nan", expected: "a log-probability, finite or -inf")) {
      try CTCDecoder().beamSearch(m)
    }
    m[2, 1] = .infinity
    #expect(throws: PipelineError.self) { try CTCDecoder().align([1], m) }
    m[2, 1] = -.infinity
    #expect(try CTCDecoder().greedy(m).logProbability.isFinite)
    #expect(try CTCDecoder().beamSearch(m, nBest: 3).allSatisfy { $0.logProbability.isFinite })
  }

  @Test func noFramesDecodeToNothing() throws {
    let m = Matrix(rows: 0, cols: 3)
    #expect(try CTCDecoder().greedy(m).tokens == [])
    #expect(try CTCDecoder().beamSearch(m, nBest: 3).map(\.tokens) == [[]])
    #expect(try CTCDecoder().align([], m) == [])
    #expect(try CTCDecoder().align([1], m) == nil)
  }

  /// The forward algorithm's likelihood of every label sequence equals the sum over its
  /// enumerated alignments, and a sequence that cannot fit in the frames scores -inf.
  @Test(arguments: [(4, 3, 31 as UInt64), (5, 3, 32), (5, 4, 33), (3, 5, 34), (1, 3, 35)])
  func logLikelihoodEqualsTheSumOverAlignments(frames: Int, tokens: Int, seed: UInt64) throws {
    let m = randomLogProbs(frames: frames, tokens: tokens, seed: seed)
    let exact = bruteForce(m)
    #expect(exact.count >= tokens)
    for (labels, probability) in exact {
      let found = try CTCDecoder().logLikelihood(labels, m)
      #expect(abs(found - log(probability)) < 1e-9 * max(1, abs(log(probability))), "\(labels): \(found) vs \(log(probability))")
    }
    // More labels than frames never fit; nor do k repeats of one token in fewer than 2k - 1
    // frames (a blank must separate them).
    #expect(try CTCDecoder().logLikelihood([Int](repeating: 1, count: frames + 1), m) == -.infinity)
    #expect(try CTCDecoder().logLikelihood([Int](repeating: 1, count: (frames + 1) / 2 + 1), m) == -.infinity)
    #expect(try CTCDecoder().logLikelihood([], Matrix(rows: 0, cols: 3)) == 0)
    #expect(try CTCDecoder().logLikelihood([2], Matrix(rows: 0, cols: 3)) == -.infinity)
    #expect(throws: PipelineError.self) { try CTCDecoder().logLikelihood([0], m) }
    #expect(throws: PipelineError.self) { try CTCDecoder().logLikelihood([tokens], m) }
  }

  /// `logLikelihoods` (the scaled forward pass, products rescaled, where it can vouch for
  /// its answer) equals the log-space pass on long inputs, where unscaled products would
  /// underflow after a few hundred frames: for sharp and flat posteriors, repeats, a
  /// non-zero blank, and hypotheses far less likely than the rest.
  @Test(arguments: [(0, 2.0), (0, 12.0), (3, 6.0)])
  func scaledForwardPassEqualsTheLogSpaceOne(blank: Int, sharpness: Double) throws {
    let decoder = CTCDecoder(blank: blank)
    let m = randomLogProbs(frames: 1_500, tokens: 6, seed: 37, sharpness: sharpness)
    let others = (0..<6).filter { $0 != blank }
    var rng = SeededGenerator(seed: 38)
    var candidates: [[Int]] = [[], [others[0]], [others[1], others[1]], others]
    for length in [5, 40, 200, 700] { candidates.append((0..<length).map { _ in others.randomElement(using: &rng)! }) }
    for (c, found) in zip(candidates, try decoder.logLikelihoods(candidates, m)) {
      let reference = decoder.logSpaceLogLikelihood(c, m)
      #expect(reference.isFinite && reference < -100, "\(c.count) tokens: \(reference)")
      #expect(abs(found - reference) <= 1e-9 * abs(reference), "\(c.count) tokens: \(found) vs \(reference)")
    }
    // More tokens than can fit: -inf.
    #expect(try decoder.logLikelihoods([Array(repeating: others[0], count: 751)], m) == [-.infinity])
  }

  /// On posteriors shaped like a network's (blank nearly certain between one-frame spikes),
  /// the scaled pass answers itself for the hypotheses a beam search proposes, and equals
  /// the log-space pass; where the answer is out of Double's range as a product (a frame at
  /// -900 for every label), it declines and `logLikelihoods` still gives the log-space value.
  @Test func scaledForwardPassAnswersForNetworkLikePosteriors() throws {
    let decoder = CTCDecoder()
    let truth = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
    var m = Matrix(rows: 400, cols: 11)
    var rng = SeededGenerator(seed: 39)
    for t in 0..<m.rows {
      let spike = t % 40 == 20 ? truth[t / 40] : nil
      var logits = (0..<11).map { _ in Double.random(in: -2...2, using: &rng) }
      logits[spike ?? 0] += 18
      let norm = log(logits.map(exp).reduce(0, +))
      for k in 0..<11 { m[t, k] = Float(logits[k] - norm) }
    }
    let probabilities = m.data.map { exp(Double($0)) }
    for c in [truth, Array(truth.dropLast()), truth.map { $0 == 1 ? 7 : $0 }, truth + truth] {
      let scaled = probabilities.withUnsafeBufferPointer { decoder.scaledLogLikelihood(c, probabilities: $0, frames: m.rows, cols: m.cols) }
      let reference = decoder.logSpaceLogLikelihood(c, m)
      #expect(scaled != nil, "\(c): declined")
      #expect(abs((scaled ?? 0) - reference) <= 1e-12 * max(1, abs(reference)), "\(c): \(String(describing: scaled)) vs \(reference)")
    }
    for k in 0..<m.cols { m[200, k] = -900 }
    let deep = m.data.map { $0 == -.infinity ? 0 : max(exp(Double($0)), .leastNormalMagnitude) }
    let scaled = deep.withUnsafeBufferPointer { decoder.scaledLogLikelihood(truth, probabilities: $0, frames: m.rows, cols: m.cols) }
    #expect(scaled == nil, "the scaled pass must decline, it gave \(String(describing: scaled))")
    let reference = decoder.logSpaceLogLikelihood(truth, m)
    #expect(reference.isFinite && reference < -900)
    #expect(try decoder.logLikelihoods([truth], m) == [reference])

    // A token at -800 in every frame (its probability raised to Double's least normal
    // value): the answer, near -800, is still the log-space one.
    var absent = Matrix(rows: 3, cols: 3, repeating: -800)
    for t in 0..<3 { absent[t, 0] = 0 }
    let once = try decoder.logLikelihoods([[1]], absent)[0]
    #expect(once == decoder.logSpaceLogLikelihood([1], absent) && once < -790, "\(once)")
  }

  /// With a blank other than 0, the likelihood is that of the same model with outputs
  /// reordered so the blank comes first.
  @Test func logLikelihoodRespectsANonZeroBlank() throws {
    let m = randomLogProbs(frames: 5, tokens: 3, seed: 36)
    // Column order 2, 0, 1: the blank (column 2) moves to 0, tokens 0 and 1 to 1 and 2.
    var moved = Matrix(rows: m.rows, cols: 3)
    for t in 0..<m.rows { for (to, from) in [2, 0, 1].enumerated() { moved[t, to] = m[t, from] } }
    for labels in [[0], [1, 0], [0, 0, 1], [1, 1]] {
      let found = try CTCDecoder(blank: 2).logLikelihood(labels, m)
      let expected = try CTCDecoder(blank: 0).logLikelihood(labels.map { $0 + 1 }, moved)
      #expect(abs(found - expected) < 1e-12, "\(labels)")
    }
  }
}
