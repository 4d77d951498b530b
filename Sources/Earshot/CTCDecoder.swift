import Foundation

/// A decoded token sequence with its score.
public struct CTCHypothesis: Equatable, Sendable {
  /// Token ids, repeats collapsed and blanks removed.
  public var tokens: [Int]
  /// Natural log of the probability of the sequence: the sum over all its CTC alignments
  /// for beam search, the single best path for greedy decoding.
  public var logProbability: Double
}

/// One token placed in time by forced alignment.
public struct AlignedToken: Equatable, Sendable {
  /// Token id.
  public var token: Int
  /// First frame the token is emitted on.
  public var startFrame: Int
  /// One past the last frame the token is emitted on.
  public var endFrame: Int
  /// Mean posterior probability of the token over its frames, 0...1 (when the rows are
  /// normalised log-probabilities).
  public var confidence: Double
}

/// Words a decoder may produce: for word-level token sets, a subset of tokens; for
/// character-level ones, whole words spelled by tokens and separated by `separator`.
public struct Vocabulary: Sendable {
  /// Allowed token sequences, each a whole word.
  fileprivate var trie = Trie()
  /// Token that ends a word (e.g. a space), or nil when every token is a word.
  public let separator: Int?

  /// - Parameters:
  ///   - words: each word as the token ids that spell it.
  ///   - separator: the word-separator token id, or nil for word-level tokens.
  public init(words: [[Int]], separator: Int? = nil) {
    self.separator = separator
    for w in words where !w.isEmpty { trie.insert(w) }
  }

  fileprivate struct Trie: Sendable {
    var children: [[Int: Int]] = [[:]]
    var terminal: [Bool] = [false]
    mutating func insert(_ word: [Int]) {
      var node = 0
      for t in word {
        if let next = children[node][t] {
          node = next
        } else {
          children.append([:])
          terminal.append(false)
          children[node][t] = children.count - 1
          node = children.count - 1
        }
      }
      terminal[node] = true
    }
  }

  /// The trie node after `token` from `node`, or nil if no word continues that way; the
  /// separator (or, without one, the end of a one-token word) returns to the root.
  fileprivate func advance(_ node: Int, _ token: Int) -> Int? {
    if let separator {
      if token == separator { return trie.terminal[node] || node == 0 ? 0 : nil }
      return trie.children[node][token]
    }
    guard let next = trie.children[node][token] else { return nil }
    return trie.terminal[next] && trie.children[next].isEmpty ? 0 : next
  }

  /// True when a sequence may end at `node` (between words or at a word's end).
  fileprivate func canEnd(at node: Int) -> Bool { node == 0 || trie.terminal[node] }
}

/// CTC decoding of per-frame log-probabilities: greedy, prefix beam search with optional
/// vocabulary constraint and n-best, and forced alignment for timestamps and confidences.
///
/// Basic usage:
/// ```swift
/// let decoder = CTCDecoder(blank: 0)
/// let best = try decoder.beamSearch(logProbs, beamWidth: 8).first!
/// let timed = try decoder.align(best.tokens, logProbs)
/// ```
///
/// Every method takes (frames, tokens) natural-log scores: 0 frames is fine, `-inf`
/// (probability 0) is fine and rows need not be normalised (then scores and confidences are
/// not probabilities), but there must be at least one token, `blank` must be one of them and
/// no score may be NaN or `+inf`: those throw `PipelineError.invalidDecoderInput`.
public struct CTCDecoder: Sendable {
  /// The blank token id.
  public var blank: Int

  public init(blank: Int = 0) { self.blank = blank }

  /// Throws unless `logProbs` has a column for `blank` and no NaN or `+inf`.
  func check(_ logProbs: Matrix) throws(PipelineError) {
    guard (0..<logProbs.cols).contains(blank) else {
      throw .invalidDecoderInput(
        name: "blank", value: "\(blank)", expected: "a token of the \(logProbs.shapeDescription) log-probabilities (0..<\(logProbs.cols))")
    }
    if let bad = logProbs.data.firstIndex(where: { $0.isNaN || $0 == .infinity }) {
      throw .invalidDecoderInput(
        name: "logProbs[\(bad / logProbs.cols), \(bad % logProbs.cols)]", value: "\(logProbs.data[bad])",
        expected: "a log-probability, finite or -inf")
    }
  }

  /// Best path: the most likely token per frame, repeats collapsed, blanks dropped.
  /// - Parameter logProbs: (frames, tokens) natural-log probabilities.
  /// - Throws: `PipelineError.invalidDecoderInput` for input the type's summary rules out.
  public func greedy(_ logProbs: Matrix) throws(PipelineError) -> CTCHypothesis {
    try check(logProbs)
    var tokens: [Int] = []
    var score = 0.0
    var previous = blank
    for t in 0..<logProbs.rows {
      var best = 0
      for k in 1..<logProbs.cols where logProbs[t, k] > logProbs[t, best] { best = k }
      score += Double(logProbs[t, best])
      if best != blank && best != previous { tokens.append(best) }
      previous = best
    }
    return CTCHypothesis(tokens: tokens, logProbability: score)
  }

  /// CTC prefix beam search (Hannun et al., 2014): keeps the `beamWidth` most probable
  /// prefixes, each scored by the sum over all alignments that produce it.
  ///
  /// - Parameters:
  ///   - logProbs: (frames, tokens) natural-log probabilities.
  ///   - beamWidth: prefixes kept per frame, >= 1.
  ///   - tokensPerFrame: only the most likely this many tokens of each frame extend prefixes
  ///     (per-frame pruning); nil tries all.
  ///   - pruneMargin: tokens more than this many nats under the frame's most likely token
  ///     do not extend prefixes (per-frame pruning; the blank always does); nil keeps them.
  ///   - nBest: hypotheses returned at most, best first, >= 1.
  ///   - vocabulary: restricts output to its words; nil allows any sequence.
  /// - Throws: `PipelineError.invalidDecoderInput` for an option out of range or input the
  ///   type's summary rules out.
  public func beamSearch(
    _ logProbs: Matrix, beamWidth: Int = 8, tokensPerFrame: Int? = nil, pruneMargin: Double? = nil, nBest: Int = 1,
    vocabulary: Vocabulary? = nil
  ) throws(PipelineError) -> [CTCHypothesis] {
    for (name, value) in [("beamWidth", beamWidth), ("tokensPerFrame", tokensPerFrame ?? 1), ("nBest", nBest)]
    where value < 1 {
      throw .invalidDecoderInput(name: name, value: "\(value)", expected: ">= 1")
    }
    if let pruneMargin, !(pruneMargin >= 0) {
      throw .invalidDecoderInput(name: "pruneMargin", value: "\(pruneMargin)", expected: ">= 0, or nil for none")
    }
    try check(logProbs)
    let vocabularySize = logProbs.cols
    let keep = min(tokensPerFrame ?? vocabularySize, vocabularySize)
    var tree = PrefixTree(width: vocabularySize)
    var beam = [BeamEntry(prefix: 0, blank: 0, nonBlank: -.infinity)]
    var next: [BeamEntry] = []
    // Where a prefix (a node id, or a not yet created child) sits in `next`.
    var slot = IntMap(capacity: 4 * beamWidth)
    var candidates = Array(0..<vocabularySize)
    var row = [Double](repeating: 0, count: vocabularySize)
    for t in 0..<logProbs.rows {
      for k in 0..<vocabularySize { row[k] = Double(logProbs[t, k]) }
      if keep < vocabularySize {
        candidates = topIndices(row, count: keep)
        if !candidates.contains(blank) { candidates.append(blank) }
      }
      if let pruneMargin {
        let floor = row.max()! - pruneMargin
        if keep == vocabularySize {
          // Refilled in place: no allocation per frame.
          candidates.removeAll(keepingCapacity: true)
          for k in 0..<vocabularySize where k == blank || row[k] >= floor { candidates.append(k) }
        } else {
          candidates.removeAll { $0 != blank && row[$0] < floor }
        }
      }
      next.removeAll(keepingCapacity: true)
      slot.removeAll()
      func add(_ key: Int, word: Int32, blank: Double = -.infinity, nonBlank: Double = -.infinity) {
        if let i = slot[key] {
          next[i].blank = logAdd(next[i].blank, blank)
          next[i].nonBlank = logAdd(next[i].nonBlank, nonBlank)
        } else {
          slot.set(key, next.count)
          next.append(BeamEntry(prefix: key, blank: blank, nonBlank: nonBlank, word: word))
        }
      }
      for entry in beam {
        let total = entry.total
        let last = tree.token[entry.prefix]
        let word = tree.word[entry.prefix]
        for c in candidates {
          let p = row[c]
          if c == blank {
            add(entry.prefix, word: word, blank: total + p)
            continue
          }
          if c == last {
            // Repeat without a blank between collapses into the same prefix.
            add(entry.prefix, word: word, nonBlank: entry.nonBlank + p)
          }
          var node = word
          if let vocabulary {
            guard let advanced = vocabulary.advance(Int(node), c) else { continue }
            node = Int32(advanced)
          }
          // After the same token, only paths that ended in a blank start a new token.
          let from = c == last ? entry.blank : total
          add(tree.child(entry.prefix, c) ?? tree.pendingKey(entry.prefix, c), word: node, nonBlank: from + p)
        }
      }
      beam = best(next, count: beamWidth)
      for i in beam.indices where beam[i].prefix < 0 { beam[i].prefix = tree.create(beam[i].prefix, word: beam[i].word) }
    }
    return best(beam.filter { vocabulary?.canEnd(at: Int($0.word)) ?? true }, count: nBest)
      .map { CTCHypothesis(tokens: tree.tokens($0.prefix), logProbability: $0.total) }
  }

  /// The CTC log-likelihood of `tokens`: the log of the summed probability of every
  /// alignment that collapses to them (the forward algorithm, in Double); `-inf` when none
  /// fits in the frames. This is how an ensemble scores a hypothesis with each member's own
  /// frames, whatever frame each member puts its spikes on.
  /// - Throws: `PipelineError.invalidDecoderInput` when a token is the blank or out of range,
  ///   or for input the type's summary rules out.
  public func logLikelihood(_ tokens: [Int], _ logProbs: Matrix) throws(PipelineError) -> Double {
    try logLikelihoods([tokens], logProbs)[0]
  }

  /// `logLikelihood` of each of `candidates` under the same log-probabilities, in order:
  /// the input is checked and turned into probabilities once for all of them.
  /// - Throws: as `logLikelihood`.
  public func logLikelihoods(_ candidates: [[Int]], _ logProbs: Matrix) throws(PipelineError) -> [Double] {
    try check(logProbs)
    for tokens in candidates { try checkTokens(tokens, logProbs) }
    guard logProbs.rows > 0 else { return candidates.map { $0.isEmpty ? 0 : -.infinity } }
    // A probability under Double's normal range is raised to its least normal value; the
    // scaled pass counts every state that small, which bounds what this changes.
    let probabilities = logProbs.data.map { $0 == -.infinity ? 0 : max(exp(Double($0)), .leastNormalMagnitude) }
    return probabilities.withUnsafeBufferPointer { p in
      candidates.map { tokens in
        scaledLogLikelihood(tokens, probabilities: p, frames: logProbs.rows, cols: logProbs.cols)
          ?? logSpaceLogLikelihood(tokens, logProbs)
      }
    }
  }

  /// The forward algorithm in probability space: sums and products only, no exp or log per
  /// state (the log-space pass spends most of its time in them). The states are rescaled
  /// whenever a frame's total falls under 1e-100 (each rescale's log is added to the
  /// result). A state can still fall under Double's least normal value, 2.2e-308 of its
  /// frame's scale, where it loses precision or becomes 0; every alignment continues from
  /// a state with total probability at most 1, so each such state moves the likelihood by
  /// at most 3 x 2.2e-308 times its frame's scale. The scales only fall, so the first such
  /// state's scale times their count bounds the error. Returns the likelihood when that
  /// bound is under e^-30 of it (it then agrees with `logSpaceLogLikelihood` to rounding),
  /// nil otherwise (the log-space pass must answer: a path far less likely than others on
  /// the way, or none at all).
  func scaledLogLikelihood(_ tokens: [Int], probabilities p: UnsafeBufferPointer<Double>, frames: Int, cols: Int) -> Double? {
    let (labels, skips) = extendedSequence(tokens)
    let states = labels.count
    var alpha = [Double](repeating: 0, count: states)
    var next = alpha
    var logScale = 0.0
    var tinyStates = 0
    var firstTinyLogScale = 0.0
    alpha[0] = p[blank]
    if states > 1 { alpha[1] = p[labels[1]] }
    for s in 0..<min(states, 2) where alpha[s] < 4 * .leastNormalMagnitude { tinyStates += 1 }
    var total = alpha[0] + (states > 1 ? alpha[1] : 0)
    for t in 1..<frames {
      guard total > 0 else { return nil }
      // A state is reachable by frame t only if at most 2t + 1 states precede it.
      let reach = min(states, 2 * t + 2)
      if total < 1e-100 {
        let scale = 1 / total
        for s in 0..<reach { alpha[s] *= scale }
        logScale += Foundation.log(total)
      }
      let row = t * cols
      total = 0
      var tiny = 0
      for s in 0..<reach {
        var sum = alpha[s]
        if s >= 1 { sum += alpha[s - 1] }
        if skips[s] { sum += alpha[s - 2] }
        let value = sum * p[row + labels[s]]
        // Under 4 x the least normal value: a subnormal result, or a raised probability
        // (at most 3 x it, since the sum of three states is at most 3).
        if value < 4 * .leastNormalMagnitude && sum > 0 && p[row + labels[s]] > 0 { tiny += 1 }
        next[s] = value
        total += value
      }
      swap(&alpha, &next)
      if tiny > 0 {
        if tinyStates == 0 { firstTinyLogScale = logScale }
        tinyStates += tiny
      }
    }
    let end = states > 1 ? alpha[states - 1] + alpha[states - 2] : alpha[0]
    guard end > 0 else { return nil }
    let result = logScale + Foundation.log(end)
    if tinyStates > 0 {
      let bound = Foundation.log(3 * Double(tinyStates) * Double.leastNormalMagnitude) + firstTinyLogScale
      guard bound < result - 30 else { return nil }
    }
    return result
  }

  /// The forward algorithm in log space (log-add per state): exact over Double's whole
  /// range, and the reference the scaled pass is tested against.
  func logSpaceLogLikelihood(_ tokens: [Int], _ logProbs: Matrix) -> Double {
    let frames = logProbs.rows
    guard frames > 0 else { return tokens.isEmpty ? 0 : -.infinity }
    let (labels, skips) = extendedSequence(tokens)
    let states = labels.count
    var alpha = [Double](repeating: -.infinity, count: states)
    var next = alpha
    alpha[0] = Double(logProbs[0, blank])
    if states > 1 { alpha[1] = Double(logProbs[0, tokens[0]]) }
    for t in 1..<frames {
      // A state is reachable by frame t only if at most 2t + 1 states precede it.
      for s in 0..<min(states, 2 * t + 2) {
        var sum = alpha[s]
        if s >= 1 { sum = logAdd(sum, alpha[s - 1]) }
        if skips[s] { sum = logAdd(sum, alpha[s - 2]) }
        next[s] = sum == -.infinity ? -.infinity : sum + Double(logProbs[t, labels[s]])
      }
      swap(&alpha, &next)
    }
    return states > 1 ? logAdd(alpha[states - 1], alpha[states - 2]) : alpha[0]
  }

  /// The CTC topology of `tokens`: the extended sequence blank, t1, blank, t2, ..., blank
  /// (`labels`, 2n + 1 states), and for each state whether a path may reach it from two
  /// states back, skipping a blank (`skips`: a token unlike the one before it).
  private func extendedSequence(_ tokens: [Int]) -> (labels: [Int], skips: [Bool]) {
    var labels = [Int](repeating: blank, count: 2 * tokens.count + 1)
    var skips = [Bool](repeating: false, count: labels.count)
    for (i, token) in tokens.enumerated() {
      labels[2 * i + 1] = token
      skips[2 * i + 1] = i > 0 && tokens[i - 1] != token
    }
    return (labels, skips)
  }

  /// Throws unless every token is a non-blank column of `logProbs`.
  private func checkTokens(_ tokens: [Int], _ logProbs: Matrix) throws(PipelineError) {
    if let i = tokens.firstIndex(where: { !(0..<logProbs.cols).contains($0) || $0 == blank }) {
      throw .invalidDecoderInput(
        name: "tokens[\(i)]", value: "\(tokens[i])", expected: "a non-blank token in 0..<\(logProbs.cols), blank \(blank)")
    }
  }

  /// Forced alignment (Viterbi over the CTC topology): where each token of `tokens` is
  /// emitted, and its mean posterior over those frames. Returns nil when `tokens` cannot fit
  /// in the frames (a repeat needs a blank between) or every path through them has
  /// probability 0.
  /// - Throws: `PipelineError.invalidDecoderInput` when a token is the blank or out of range,
  ///   or for input the type's summary rules out.
  public func align(_ tokens: [Int], _ logProbs: Matrix) throws(PipelineError) -> [AlignedToken]? {
    try check(logProbs)
    try checkTokens(tokens, logProbs)
    let frames = logProbs.rows
    if tokens.isEmpty { return [] }
    let (labels, skips) = extendedSequence(tokens)
    let states = labels.count
    var score = [Double](repeating: -.infinity, count: states)
    var back = [[Int32]](repeating: [Int32](repeating: -1, count: states), count: frames)
    guard frames > 0 else { return nil }
    score[0] = Double(logProbs[0, blank])
    if states > 1 { score[1] = Double(logProbs[0, tokens[0]]) }
    for t in 1..<frames {
      var next = [Double](repeating: -.infinity, count: states)
      for s in 0..<states {
        var best = score[s]
        var from = s
        if s >= 1 && score[s - 1] > best {
          best = score[s - 1]
          from = s - 1
        }
        if skips[s] && score[s - 2] > best {
          best = score[s - 2]
          from = s - 2
        }
        if best > -.infinity {
          next[s] = best + Double(logProbs[t, labels[s]])
          back[t][s] = Int32(from)
        }
      }
      score = next
    }
    var s = states > 1 && score[states - 2] > score[states - 1] ? states - 2 : states - 1
    guard score[s] > -.infinity else { return nil }
    var path = [Int](repeating: 0, count: frames)
    for t in stride(from: frames - 1, through: 0, by: -1) {
      path[t] = s
      if t > 0 { s = Int(back[t][s]) }
    }
    var aligned: [AlignedToken] = []
    var t = 0
    while t < frames {
      let state = path[t]
      if state % 2 == 1 {
        var end = t
        var sum = 0.0
        while end < frames && path[end] == state {
          sum += exp(Double(logProbs[end, labels[state]]))
          end += 1
        }
        aligned.append(AlignedToken(token: labels[state], startFrame: t, endFrame: end, confidence: sum / Double(end - t)))
        t = end
      } else {
        t += 1
      }
    }
    return aligned
  }
}

/// A prefix of a beam search, with the log-probabilities of its alignments that end in a
/// blank and in its last token.
private struct BeamEntry {
  /// Node id in the `PrefixTree`, or a `pendingKey` for a child not yet created.
  var prefix: Int
  var blank: Double
  var nonBlank: Double
  /// Vocabulary trie node the prefix ends at (0 without a vocabulary).
  var word: Int32 = 0
  var total: Double { logAdd(blank, nonBlank) }
}

/// The prefixes of a beam search as a tree (node 0 is the empty prefix), so that a prefix is
/// one integer: extending and merging prefixes never copies or hashes token arrays. Only
/// prefixes that survive pruning become nodes, at most the beam width per frame.
private struct PrefixTree {
  let width: Int
  var parent: [Int] = [-1]
  var token: [Int] = [-1]
  var word: [Int32] = [0]
  /// `parent * width + token` -> child node.
  var children = IntMap(capacity: 64)

  init(width: Int) { self.width = width }

  func child(_ node: Int, _ token: Int) -> Int? { children[node * width + token] }

  /// A negative key naming the child `token` of `node` before it exists.
  func pendingKey(_ node: Int, _ token: Int) -> Int { -(node * width + token) - 1 }

  /// Creates the child a `pendingKey` names and returns its node id.
  mutating func create(_ pendingKey: Int, word: Int32) -> Int {
    let code = -pendingKey - 1
    let id = parent.count
    parent.append(code / width)
    token.append(code % width)
    self.word.append(word)
    children.set(code, id)
    return id
  }

  /// The token ids from the root to `node`.
  func tokens(_ node: Int) -> [Int] {
    var result: [Int] = []
    var n = node
    while n > 0 {
      result.append(token[n])
      n = parent[n]
    }
    return result.reversed()
  }
}

/// The `count` entries with the highest totals, best first (ties keep their order).
private func best(_ entries: [BeamEntry], count: Int) -> [BeamEntry] {
  topIndices(entries.map(\.total), count: count).map { entries[$0] }
}

/// Indices of the `count` largest values, largest first.
private func topIndices(_ values: [Double], count: Int) -> [Int] {
  var kept: [Int] = []
  kept.reserveCapacity(count + 1)
  for (k, v) in values.enumerated() {
    if kept.count == count, !(v > values[kept[count - 1]]) { continue }
    var i = kept.count
    while i > 0 && values[kept[i - 1]] < v { i -= 1 }
    kept.insert(k, at: i)
    if kept.count > count { kept.removeLast() }
  }
  return kept
}

/// `log(exp(a) + exp(b))` without overflow.
@inline(__always)
func logAdd(_ a: Double, _ b: Double) -> Double {
  if a == -.infinity { return b }
  if b == -.infinity { return a }
  return max(a, b) + log1p(exp(-abs(a - b)))
}
