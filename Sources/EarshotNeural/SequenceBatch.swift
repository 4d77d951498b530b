/// A batch of variable-length sequences in the time-major layout every layer here uses.
///
/// Frame `t` of sequence `b` is row `t * batchSize + b` of `data`, which is
/// (`maxLength * batchSize`, features) — PyTorch's (T, B, F) with `batch_first=False`,
/// flattened. Rows with `t >= lengths[b]` are padding: no layer reads them into a result,
/// and layer outputs hold zeros there (the LSTMs) or a value computed from zeros (a `Linear`
/// after an LSTM gives its bias there).
public struct SequenceBatch: Equatable, Sendable {
  /// (maxLength * batchSize, features), time-major.
  public var data: Matrix
  /// Frames in each sequence; every length is in 0...maxLength.
  public let lengths: [Int]

  /// Number of sequences.
  public var batchSize: Int { lengths.count }
  /// Number of frames of the longest sequence, the T of the layout.
  public var maxLength: Int { batchSize == 0 ? 0 : data.rows / batchSize }
  /// Features per frame.
  public var features: Int { data.cols }

  /// A batch over already time-major data; `data.rows` must be a multiple of `lengths.count`
  /// and every length at most `data.rows / lengths.count`.
  public init(data: Matrix, lengths: [Int]) {
    precondition(!lengths.isEmpty || data.rows == 0, "SequenceBatch: no lengths for \(data.rows) rows")
    if !lengths.isEmpty {
      precondition(data.rows % lengths.count == 0,
        "SequenceBatch: \(data.rows) rows is not a multiple of batch size \(lengths.count)")
      let t = data.rows / lengths.count
      for (b, n) in lengths.enumerated() {
        precondition(n >= 0 && n <= t, "SequenceBatch: lengths[\(b)] = \(n), frames per sequence = \(t)")
      }
    }
    self.data = data
    self.lengths = lengths
  }

  /// Packs utterances, each (frames, features), into one padded batch; padding rows are zero.
  public init(sequences: [Matrix]) {
    let features = sequences.first?.cols ?? 0
    let b = sequences.count
    let t = sequences.map(\.rows).max() ?? 0
    var m = Matrix(rows: t * b, cols: features)
    for (i, s) in sequences.enumerated() {
      precondition(s.cols == features,
        "SequenceBatch: sequence \(i) has \(s.cols) features, sequence 0 has \(features)")
      for r in 0..<s.rows {
        for c in 0..<features { m.data[(r * b + i) * features + c] = s.data[r * features + c] }
      }
    }
    self.init(data: m, lengths: sequences.map(\.rows))
  }

  /// Sequence `b` without padding, (lengths[b], features).
  public func sequence(_ b: Int) -> Matrix {
    var m = Matrix(rows: lengths[b], cols: features)
    let bs = batchSize
    for r in 0..<lengths[b] {
      for c in 0..<features { m.data[r * features + c] = data.data[(r * bs + b) * features + c] }
    }
    return m
  }

  /// Whether row `row` of `data` is a real frame (not padding).
  @inline(__always) public func isValid(row: Int) -> Bool {
    row / batchSize < lengths[row % batchSize]
  }
}
