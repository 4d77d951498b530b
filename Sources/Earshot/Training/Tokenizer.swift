import Foundation

/// Maps transcripts to CTC label sequences and back: word or character tokens, blank at 0.
///
/// Basic usage:
/// ```swift
/// let tokenizer = Tokenizer(texts: ["four seven", "one"], unit: .word)
/// tokenizer.tokens                          // ["<blank>", "four", "one", "seven"]
/// let labels = try tokenizer.encode("seven one", path: "a.wav")   // [3, 2]
/// tokenizer.decode(labels)                  // "seven one"
/// ```
public struct Tokenizer: Equatable, Sendable {
  /// The blank's spelling in the `tokens` metadata.
  public static let blankToken = "<blank>"
  /// One string per CTC output; `tokens[0]` is the blank.
  public let tokens: [String]
  /// Whether tokens are words or characters (the space character `" "` separates words).
  public let unit: TokenUnit
  private let index: [String: Int]

  /// Tokens from a model file's metadata (`tokens[blank]` must be the blank; blank is 0 here).
  public init(tokens: [String], unit: TokenUnit) {
    self.tokens = tokens
    self.unit = unit
    var index: [String: Int] = [:]
    for (i, t) in tokens.enumerated() where i != 0 { index[t] = i }
    self.index = index
  }

  /// The tokens of `texts` (normalised transcripts): every distinct word (or character,
  /// space included), sorted, after the blank at index 0.
  public init(texts: [String], unit: TokenUnit) {
    var set = Set<String>()
    for text in texts {
      switch unit {
      case .word: for w in text.split(separator: " ") { set.insert(String(w)) }
      case .character: for c in text { set.insert(String(c)) }
      }
    }
    self.init(tokens: [Self.blankToken] + set.sorted(), unit: unit)
  }

  /// Labels (1..<tokens.count) of a normalised transcript.
  /// - Throws: ``TrainingError/unknownToken(path:token:known:)`` naming `path`.
  public func encode(_ text: String, path: String) throws(TrainingError) -> [Int] {
    var labels: [Int] = []
    let pieces: [String] = unit == .word ? text.split(separator: " ").map(String.init) : text.map { String($0) }
    for p in pieces {
      guard let i = index[p] else { throw .unknownToken(path: path, token: p, known: Array(tokens.dropFirst())) }
      labels.append(i)
    }
    return labels
  }

  /// The text of a label sequence: words joined by single spaces, or characters concatenated
  /// (spaces collapsed and trimmed). The blank and out-of-range labels are skipped.
  public func decode(_ labels: [Int]) -> String {
    let pieces = labels.compactMap { $0 > 0 && $0 < tokens.count ? tokens[$0] : nil }
    switch unit {
    case .word: return pieces.joined(separator: " ")
    case .character: return pieces.joined().split(separator: " ").joined(separator: " ")
    }
  }

  /// Frames CTC needs for `labels`: one per label plus one blank between equal neighbours.
  public static func minimumFrames(_ labels: [Int]) -> Int {
    var n = labels.count
    for i in labels.indices.dropFirst() where labels[i] == labels[i - 1] { n += 1 }
    return n
  }
}
