/// One step of a minimum-edit alignment of a hypothesis to a reference.
public enum EditOperation<Element: Equatable & Sendable>: Equatable, Sendable {
  /// The reference element was recognised as it is.
  case match(Element)
  /// The reference element (first) was recognised as another (second).
  case substitution(Element, Element)
  /// The reference element was missed.
  case deletion(Element)
  /// The hypothesis has an element the reference does not.
  case insertion(Element)
}

/// Counts of a minimum-edit (Levenshtein) alignment.
public struct EditCounts: Equatable, Codable, Sendable {
  /// Reference elements (words or characters): the denominator of an error rate.
  public var reference = 0
  public var substitutions = 0
  public var deletions = 0
  public var insertions = 0
  public init() {}

  /// substitutions + deletions + insertions.
  public var errors: Int { substitutions + deletions + insertions }

  /// errors / reference; 0 for an empty reference with no insertions, else errors when the
  /// reference is empty (so that it is never NaN). Can exceed 1.
  public var rate: Double {
    reference == 0 ? Double(errors) : Double(errors) / Double(reference)
  }

  /// Adds another utterance's counts.
  public static func += (a: inout EditCounts, b: EditCounts) {
    a.reference += b.reference
    a.substitutions += b.substitutions
    a.deletions += b.deletions
    a.insertions += b.insertions
  }
}

/// Levenshtein alignment with unit costs for substitution, deletion and insertion.
public enum EditDistance {
  /// A minimum-cost alignment of `hypothesis` to `reference`, in reference order.
  ///
  /// Among equal-cost alignments, the backtrace prefers a match or substitution, then a
  /// deletion, then an insertion (as `jiwer` and Kaldi's `compute-wer` count them, the
  /// totals do not depend on this choice; only which word is blamed does).
  public static func align<E: Equatable & Sendable>(_ reference: [E], _ hypothesis: [E]) -> [EditOperation<E>] {
    let n = reference.count, m = hypothesis.count
    // cost[i][j]: edits turning reference[..<i] into hypothesis[..<j]; (n+1) x (m+1) row-major.
    var cost = [Int](repeating: 0, count: (n + 1) * (m + 1))
    let w = m + 1
    for i in 0...n { cost[i * w] = i }
    for j in 0...m { cost[j] = j }
    if n > 0 && m > 0 {
      for i in 1...n {
        for j in 1...m {
          let diagonal = cost[(i - 1) * w + j - 1] + (reference[i - 1] == hypothesis[j - 1] ? 0 : 1)
          cost[i * w + j] = min(diagonal, cost[(i - 1) * w + j] + 1, cost[i * w + j - 1] + 1)
        }
      }
    }
    var ops: [EditOperation<E>] = []
    var i = n, j = m
    while i > 0 || j > 0 {
      if i > 0 && j > 0 {
        let same = reference[i - 1] == hypothesis[j - 1]
        if cost[i * w + j] == cost[(i - 1) * w + j - 1] + (same ? 0 : 1) {
          ops.append(same ? .match(reference[i - 1]) : .substitution(reference[i - 1], hypothesis[j - 1]))
          i -= 1; j -= 1
          continue
        }
      }
      if i > 0 && cost[i * w + j] == cost[(i - 1) * w + j] + 1 {
        ops.append(.deletion(reference[i - 1]))
        i -= 1
      } else {
        ops.append(.insertion(hypothesis[j - 1]))
        j -= 1
      }
    }
    return ops.reversed()
  }

  /// The counts of ``align(_:_:)``.
  public static func counts<E: Equatable & Sendable>(_ reference: [E], _ hypothesis: [E]) -> EditCounts {
    counts(of: align(reference, hypothesis))
  }

  /// Counts the operations of an alignment.
  public static func counts<E>(of ops: [EditOperation<E>]) -> EditCounts {
    var c = EditCounts()
    for op in ops {
      switch op {
      case .match: c.reference += 1
      case .substitution: c.reference += 1; c.substitutions += 1
      case .deletion: c.reference += 1; c.deletions += 1
      case .insertion: c.insertions += 1
      }
    }
    return c
  }

  /// Word error counts of two texts split on spaces.
  public static func wordCounts(reference: String, hypothesis: String) -> EditCounts {
    counts(reference.split(separator: " ").map(String.init), hypothesis.split(separator: " ").map(String.init))
  }

  /// Character error counts of two texts (spaces are characters too).
  public static func characterCounts(reference: String, hypothesis: String) -> EditCounts {
    counts(Array(reference), Array(hypothesis))
  }
}

/// What a model got right and wrong on a set of utterances: WER, CER, utterance accuracy,
/// per-speaker WER, per-word errors and a substitution confusion table.
public struct EvaluationReport: Equatable, Codable, Sendable {
  /// Errors of one reference word (or of a word only ever inserted).
  public struct WordErrors: Equatable, Codable, Sendable {
    /// Times the word occurs in the references.
    public var count = 0
    public var substitutions = 0
    public var deletions = 0
    /// Times the word was inserted by the hypotheses.
    public var insertions = 0
    public init() {}
  }
  /// One utterance's outcome.
  public struct Utterance: Equatable, Codable, Sendable {
    public var audio: String
    public var speaker: String?
    public var reference: String
    public var hypothesis: String
  }

  /// Utterances scored.
  public var utterances = 0
  /// Utterances whose hypothesis equals the reference.
  public var correctUtterances = 0
  /// Word-level counts over all utterances.
  public var words = EditCounts()
  /// Character-level counts over all utterances.
  public var characters = EditCounts()
  /// Word-level counts per speaker (utterances without a speaker under "").
  public var speakers: [String: EditCounts] = [:]
  /// Errors per word.
  public var wordErrors: [String: WordErrors] = [:]
  /// confusion[reference word][hypothesis word]: substitutions counted.
  public var confusion: [String: [String: Int]] = [:]
  /// The wrongly recognised utterances, in the order added.
  public var errors: [Utterance] = []

  public init() {}

  /// Word error rate, (S + D + I) / N.
  public var wordErrorRate: Double { words.rate }
  /// Character error rate.
  public var characterErrorRate: Double { characters.rate }
  /// Fraction of utterances recognised exactly; 0 when there are none.
  public var utteranceAccuracy: Double { utterances == 0 ? 0 : Double(correctUtterances) / Double(utterances) }

  /// Scores one utterance (normalised texts).
  public mutating func add(reference: String, hypothesis: String, speaker: String? = nil, audio: String = "") {
    utterances += 1
    if reference == hypothesis {
      correctUtterances += 1
    } else {
      errors.append(Utterance(audio: audio, speaker: speaker, reference: reference, hypothesis: hypothesis))
    }
    let ops = EditDistance.align(reference.split(separator: " ").map(String.init),
                                 hypothesis.split(separator: " ").map(String.init))
    let c = EditDistance.counts(of: ops)
    words += c
    speakers[speaker ?? "", default: EditCounts()] += c
    characters += EditDistance.characterCounts(reference: reference, hypothesis: hypothesis)
    for op in ops {
      switch op {
      case .match(let r): wordErrors[r, default: WordErrors()].count += 1
      case .substitution(let r, let h):
        wordErrors[r, default: WordErrors()].count += 1
        wordErrors[r, default: WordErrors()].substitutions += 1
        confusion[r, default: [:]][h, default: 0] += 1
      case .deletion(let r):
        wordErrors[r, default: WordErrors()].count += 1
        wordErrors[r, default: WordErrors()].deletions += 1
      case .insertion(let h): wordErrors[h, default: WordErrors()].insertions += 1
      }
    }
  }
}
