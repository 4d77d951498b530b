import Earshot
import FuzzSupport

/// Random log-posteriors (0...200 frames, 1...40 tokens; -inf, NaN, +inf and unnormalised
/// values included), blank index, beam width, pruning, n-best, vocabulary and forced
/// alignment through `CTCDecoder`: each call returns well-formed hypotheses (tokens in range,
/// never the blank, n-best sorted best first, no NaN score) and alignments (the tokens asked
/// for, in order, frames increasing and in range), or throws `PipelineError` for input it
/// documents as invalid. Hangs fail through libFuzzer's timeout.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCTCDecoding(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  var input = FuzzInput(data, size)
  let frames = Int(input.byte()) % 201
  let tokens = Int(input.byte()) % 41  // 0 tokens is a shape the decoder must reject
  let decoder = CTCDecoder(blank: input.int([0, 1, tokens - 1, tokens]))
  let beamWidth = input.int([1, 2, 8, 32]) % 33  // the cost grows with it; 0 and negatives stay
  let tokensPerFrame: Int? = input.bool() ? nil : input.int([1, 2, 5, 40])
  let nBest = input.int([1, 3, 10, 100]) % 101
  let vocabulary: Vocabulary? = input.bool() ? nil : input.vocabulary(tokens: tokens)
  let target = (0..<(Int(input.byte()) % 12)).map { _ in input.int([0, 1, 2, tokens - 1, tokens]) }
  var logProbs = Matrix(rows: frames, cols: tokens)
  let normalised = input.bool()
  for t in 0..<frames {
    for k in 0..<tokens {
      logProbs[t, k] = normalised ? -Float(input.byte()) / 16 : input.float([-1, -30, 5, -1e30])
    }
  }
  let probabilities = logProbs.data.allSatisfy { $0 <= 0 }

  if let best = try? decoder.greedy(logProbs) {
    check([best], tokens: tokens, blank: decoder.blank, nBest: 1)
  }
  if let hypotheses = try? decoder.beamSearch(
    logProbs, beamWidth: beamWidth, tokensPerFrame: tokensPerFrame, nBest: nBest, vocabulary: vocabulary)
  {
    check(hypotheses, tokens: tokens, blank: decoder.blank, nBest: nBest)
  }
  if let aligned = (try? decoder.align(target, logProbs)) ?? nil {
    if aligned.map(\.token) != target { contractViolated("aligned \(aligned.map(\.token)), asked for \(target)") }
    var previousEnd = 0
    for a in aligned {
      guard a.startFrame >= previousEnd, a.startFrame < a.endFrame, a.endFrame <= frames else {
        contractViolated("token at frames \(a.startFrame)..<\(a.endFrame) after \(previousEnd), of \(frames)")
      }
      guard a.confidence >= 0, !probabilities || a.confidence <= 1 + 1e-9 else {
        contractViolated("confidence \(a.confidence)")
      }
      previousEnd = a.endFrame
    }
  }
  return 0
}

/// Hypotheses are at most `nBest`, sorted best first, with tokens in range and never blank.
func check(_ hypotheses: [CTCHypothesis], tokens: Int, blank: Int, nBest: Int) {
  if hypotheses.count > nBest { contractViolated("\(hypotheses.count) hypotheses for nBest \(nBest)") }
  for (i, h) in hypotheses.enumerated() {
    if h.logProbability.isNaN || h.logProbability == .infinity { contractViolated("score \(h.logProbability)") }
    if i > 0 && h.logProbability > hypotheses[i - 1].logProbability { contractViolated("n-best not sorted") }
    if let bad = h.tokens.first(where: { !(0..<tokens).contains($0) || $0 == blank }) {
      contractViolated("token \(bad) of \(tokens), blank \(blank)")
    }
  }
}

extension FuzzInput {
  /// Up to 8 words of 1...4 token ids (some out of range), with or without a separator.
  mutating func vocabulary(tokens: Int) -> Vocabulary {
    let words = (0..<(Int(byte()) % 9)).map { _ in
      (0..<(1 + Int(byte()) % 4)).map { _ in Int(byte()) % (tokens + 2) - 1 }
    }
    return Vocabulary(words: words, separator: bool() ? nil : int([1, 2, tokens - 1]))
  }
}

@_cdecl("FuzzCTCDecoding_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
  runLibFuzzer(argc, argv, fuzzCTCDecoding)
}
