import Foundation

/// Connected strings for CTC training: clips of one speaker joined, with short pauses, into
/// one utterance whose transcript is theirs in order, as a phone number is read digit by
/// digit. Built once when training starts, from the training clips only (never validation),
/// and then augmented like any clip.
enum ConnectedStrings {
  /// A training clip that can be a piece of a string.
  struct Piece {
    /// Samples at the feature rate.
    var samples: [Float]
    /// Its normalised transcript.
    var text: String
    /// Its speaker; pieces of one string share it (nil: the pool of clips with no speaker).
    var speaker: String?
  }

  /// One built string.
  struct Built: Equatable {
    /// The joined samples: trimmed pieces with pauses between them (none before or after).
    var samples: [Float]
    /// The pieces' texts joined by single spaces.
    var text: String
    /// Indices of the pieces used, in order.
    var pieces: [Int]
    /// Their speaker.
    var speaker: String?
  }

  /// `samples` without the leading and trailing stretch quieter than `floorDecibels` below its
  /// loudest 10 ms frame (RMS), so that a string's pauses are the ones drawn, not the clips'
  /// own silences. A clip with no sound at all is returned whole.
  static func trimmed(_ samples: [Float], sampleRate: Int, floorDecibels: Float = 35) -> ArraySlice<Float> {
    let frame = max(sampleRate / 100, 1)
    let count = (samples.count + frame - 1) / frame
    guard count > 0 else { return samples[...] }
    let energies = (0..<count).map { f -> Float in
      let part = samples[(f * frame)..<min((f + 1) * frame, samples.count)]
      return part.reduce(0) { $0 + $1 * $1 } / Float(part.count)
    }
    let loudest = energies.max()!
    guard loudest > 0 else { return samples[...] }
    let floor = loudest * pow(10, -floorDecibels / 10)
    let first = energies.firstIndex { $0 >= floor }!, last = energies.lastIndex { $0 >= floor }!
    return samples[(first * frame)..<min((last + 1) * frame, samples.count)]
  }

  /// Builds `count` strings. String `i` takes a random piece, then `2...maximumPieces` pieces
  /// in all from that piece's speaker (drawn with replacement), trims each, and puts between
  /// neighbours a pause of 0...`maximumPauseSeconds` of faint white noise (RMS 1e-4...1e-3,
  /// about -80 to -60 dBFS, as a quiet room). Each string has its own generator, seeded from
  /// `seed` and `i`, so the result does not depend on threads or on the other strings.
  static func build(_ pieces: [Piece], count: Int, maximumPieces: Int, maximumPauseSeconds: Float,
                    sampleRate: Int, seed: UInt64) -> [Built] {
    precondition(maximumPieces >= 2, "maximumPieces \(maximumPieces) < 2")
    guard !pieces.isEmpty, count > 0 else { return [] }
    var bySpeaker: [String: [Int]] = [:]
    for (i, p) in pieces.enumerated() { bySpeaker[p.speaker ?? "", default: []].append(i) }
    let trimmedPieces = pieces.map { trimmed($0.samples, sampleRate: sampleRate) }
    return (0..<count).map { i in
      var g = SeededGenerator(seed: mixSeed(seed, 0xC0_22EC, UInt64(i)))
      let first = Int(g.next() % UInt64(pieces.count))
      let group = bySpeaker[pieces[first].speaker ?? ""]!
      let n = 2 + Int(g.next() % UInt64(maximumPieces - 1))
      var chosen = [first]
      while chosen.count < n { chosen.append(group[Int(g.next() % UInt64(group.count))]) }
      var samples: [Float] = []
      for (k, index) in chosen.enumerated() {
        if k > 0 {
          let pause = Int(g.nextUnitFloat() * maximumPauseSeconds * Float(sampleRate))
          let level = g.uniform(1e-4, 1e-3)
          for _ in 0..<pause { samples.append(level * g.normal()) }
        }
        samples += trimmedPieces[index]
      }
      return Built(samples: samples, text: chosen.map { pieces[$0].text }.joined(separator: " "),
                   pieces: chosen, speaker: pieces[first].speaker)
    }
  }
}
