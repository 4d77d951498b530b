import Dispatch

/// A stacked bidirectional LSTM, PyTorch `nn.LSTM(inputSize, hiddenSize, numLayers,
/// bidirectional=True, dropout=dropout)` on packed sequences.
///
/// Layer `k` reads the concatenation [forward h, backward h] of layer `k-1`
/// ((T*B, 2 hiddenSize)); in training, dropout with probability `dropout` is applied to the
/// output of every layer but the last, as PyTorch does. Parameter names are PyTorch's:
/// `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`, with `_reverse` for
/// the backward direction.
public struct BiLSTM: Parameterized, Sendable {
  /// Features per input frame.
  public let inputSize: Int
  /// Hidden features per direction; the output has 2 hiddenSize features.
  public let hiddenSize: Int
  /// Number of stacked bidirectional layers.
  public var numLayers: Int { forwardLayers.count }
  /// Probability of zeroing an element between layers in training, in [0, 1); default 0.
  public var dropout: Float
  /// The forward direction of each layer.
  public var forwardLayers: [LSTM]
  /// The backward direction of each layer.
  public var backwardLayers: [LSTM]

  /// A network with PyTorch's default initialisation, layer by layer (forward then reverse
  /// direction).
  public init(inputSize: Int, hiddenSize: Int, numLayers: Int, dropout: Float = 0,
              generator: inout SeededGenerator) {
    precondition(numLayers >= 1, "BiLSTM: numLayers must be >= 1 (got \(numLayers))")
    precondition(dropout >= 0 && dropout < 1, "BiLSTM: dropout must be in [0, 1) (got \(dropout))")
    self.inputSize = inputSize
    self.hiddenSize = hiddenSize
    self.dropout = dropout
    forwardLayers = []
    backwardLayers = []
    for k in 0..<numLayers {
      let n = k == 0 ? inputSize : 2 * hiddenSize
      forwardLayers.append(LSTM(inputSize: n, hiddenSize: hiddenSize, reverse: false, generator: &generator))
      backwardLayers.append(LSTM(inputSize: n, hiddenSize: hiddenSize, reverse: true, generator: &generator))
    }
  }

  /// A network with all parameters zero (a gradient accumulator, or a target for loading).
  public init(inputSize: Int, hiddenSize: Int, numLayers: Int, dropout: Float = 0) {
    precondition(numLayers >= 1, "BiLSTM: numLayers must be >= 1 (got \(numLayers))")
    self.inputSize = inputSize
    self.hiddenSize = hiddenSize
    self.dropout = dropout
    forwardLayers = (0..<numLayers).map {
      LSTM(inputSize: $0 == 0 ? inputSize : 2 * hiddenSize, hiddenSize: hiddenSize, reverse: false)
    }
    backwardLayers = (0..<numLayers).map {
      LSTM(inputSize: $0 == 0 ? inputSize : 2 * hiddenSize, hiddenSize: hiddenSize, reverse: true)
    }
  }

  /// Features per output frame: 2 hiddenSize.
  public var outputSize: Int { 2 * hiddenSize }

  /// The arithmetic of inference (``callAsFunction(_:)``); training always runs in floats.
  /// Setting it sets every layer's ``LSTM/int8Products``: for ``InferencePrecision/int8``,
  /// the recurrent products of every layer and the input products of every layer but the
  /// first (whose input, the features, is not bounded as an LSTM's output is). Reading it
  /// reads the first layer's.
  public var inferencePrecision: InferencePrecision {
    get { forwardLayers[0].int8Products.contains(.recurrent) ? .int8 : .float32 }
    set {
      for k in 0..<numLayers {
        let products: LSTM.Int8Products = newValue == .float32 ? [] : k == 0 ? [.recurrent] : [.recurrent, .input]
        forwardLayers[k].int8Products = products
        backwardLayers[k].int8Products = products
      }
    }
  }

  public var namedParameters: [NamedParameter<BiLSTM>] {
    var all: [NamedParameter<BiLSTM>] = []
    for k in 0..<numLayers {
      let f: WritableKeyPath<BiLSTM, LSTM> = \BiLSTM.forwardLayers[k]
      let r: WritableKeyPath<BiLSTM, LSTM> = \BiLSTM.backwardLayers[k]
      for p in forwardLayers[k].namedParameters {
        all.append(NamedParameter(name: "\(p.name)_l\(k)", shape: p.shape,
                                  path: f.appending(path: p.path)))
      }
      for p in backwardLayers[k].namedParameters {
        all.append(NamedParameter(name: "\(p.name)_l\(k)_reverse", shape: p.shape,
                                  path: r.appending(path: p.path)))
      }
    }
    return all
  }

  /// Inference: (T*B, inputSize) -> (T*B, 2 hiddenSize), no dropout; padding rows are zero.
  public func callAsFunction(_ x: SequenceBatch) -> SequenceBatch {
    var h = x
    for k in 0..<numLayers {
      // Both directions write straight into their column halves of [forward h, backward h].
      var out = Matrix(rows: h.data.rows, cols: 2 * hiddenSize)
      let layers = (forwardLayers[k], backwardLayers[k])
      let input = h, width = hiddenSize
      out.data.withUnsafeMutableBufferPointer { po in
        guard let base = po.baseAddress else { return }
        let p = UncheckedPointer(base)
        let threads = Neural.threads
        if threads >= 2 {
          // Concurrently, single-threaded BLAS each (as in bothDirections); disjoint columns.
          Neural.setThreads(1)
          DispatchQueue.concurrentPerform(iterations: 2) { i in
            if i == 0 { layers.0.infer(input, into: p.pointer, outputStride: 2 * width) }
            else { layers.1.infer(input, into: p.pointer + width, outputStride: 2 * width) }
          }
          Neural.setThreads(threads)
        } else {
          layers.0.infer(input, into: p.pointer, outputStride: 2 * width)
          layers.1.infer(input, into: p.pointer + width, outputStride: 2 * width)
        }
      }
      h = SequenceBatch(data: out, lengths: x.lengths)
    }
    return h
  }

  /// Runs both directions of layer `k`; with 2 or more BLAS threads, concurrently on two
  /// threads with single-threaded BLAS each (the recurrences are too small to split well).
  func bothDirections(_ k: Int, _ x: SequenceBatch)
    -> (forward: (output: SequenceBatch, cache: LSTMCache), backward: (output: SequenceBatch, cache: LSTMCache))
  {
    let threads = Neural.threads
    guard threads >= 2 else { return (forwardLayers[k].forward(x), backwardLayers[k].forward(x)) }
    let box = PairBox<(output: SequenceBatch, cache: LSTMCache)>()
    let layers = (forwardLayers[k], backwardLayers[k])
    Neural.setThreads(1)
    DispatchQueue.concurrentPerform(iterations: 2) { i in
      if i == 0 { box.first = layers.0.forward(x) } else { box.second = layers.1.forward(x) }
    }
    Neural.setThreads(threads)
    return (box.first!, box.second!)
  }

  /// Forward pass that keeps what backward needs; `generator` draws the dropout masks when
  /// `training` is true and `dropout > 0`.
  public func forward(_ x: SequenceBatch, training: Bool, generator: inout SeededGenerator)
    -> (output: SequenceBatch, cache: BiLSTMCache)
  {
    precondition(x.features == inputSize, "BiLSTM: input has \(x.features) features, the network expects \(inputSize)")
    let cache = BiLSTMCache()
    var h = x
    for k in 0..<numLayers {
      let ((f, fc), (r, rc)) = bothDirections(k, h)
      cache.forwardCaches.append(fc)
      cache.backwardCaches.append(rc)
      var out = concatenate(f.data, r.data)
      if training && dropout > 0 && k < numLayers - 1 {
        // Inverted dropout: keep with probability 1 - p and scale by 1 / (1 - p).
        let scale = 1 / (1 - dropout)
        var mask = Matrix(rows: out.rows, cols: out.cols)
        for i in 0..<mask.data.count {
          mask.data[i] = generator.nextUnitFloat() < dropout ? 0 : scale
          out.data[i] *= mask.data[i]
        }
        cache.masks.append(mask)
      } else {
        cache.masks.append(nil)
      }
      h = SequenceBatch(data: out, lengths: x.lengths)
    }
    return (h, cache)
  }

  /// dy: (T*B, 2 hiddenSize) -> dx: (T*B, inputSize); adds every parameter gradient into `grads`.
  public func backward(_ dy: Matrix, cache: BiLSTMCache, into grads: inout BiLSTM) -> Matrix {
    var d = dy
    for k in stride(from: numLayers - 1, through: 0, by: -1) {
      if let mask = cache.masks[k] {
        for i in 0..<d.data.count { d.data[i] *= mask.data[i] }
      }
      let (df, dr) = split(d, at: hiddenSize)
      let threads = Neural.threads
      if threads >= 2 {
        // Both directions concurrently, as in forward; each adds into its own gradients.
        let box = PairBox<(Matrix, LSTM)>()
        let layers = (forwardLayers[k], backwardLayers[k])
        let start = (grads.forwardLayers[k], grads.backwardLayers[k])
        let caches = UncheckedPair(cache.forwardCaches[k], cache.backwardCaches[k])
        Neural.setThreads(1)
        DispatchQueue.concurrentPerform(iterations: 2) { i in
          if i == 0 {
            var g = start.0
            box.first = (layers.0.backward(df, cache: caches.first, into: &g), g)
          } else {
            var g = start.1
            box.second = (layers.1.backward(dr, cache: caches.second, into: &g), g)
          }
        }
        Neural.setThreads(threads)
        grads.forwardLayers[k] = box.first!.1
        grads.backwardLayers[k] = box.second!.1
        var dx = box.first!.0
        dx.add(box.second!.0)
        d = dx
      } else {
        var dx = forwardLayers[k].backward(df, cache: cache.forwardCaches[k], into: &grads.forwardLayers[k])
        dx.add(backwardLayers[k].backward(dr, cache: cache.backwardCaches[k], into: &grads.backwardLayers[k]))
        d = dx
      }
    }
    return d
  }
}

/// What ``BiLSTM/forward(_:training:generator:)`` keeps for backward.
public final class BiLSTMCache {
  var forwardCaches: [LSTMCache] = []
  var backwardCaches: [LSTMCache] = []
  var masks: [Matrix?] = []
}

/// [a b] column-wise: (n, p) and (n, q) -> (n, p + q).
func concatenate(_ a: Matrix, _ b: Matrix) -> Matrix {
  precondition(a.rows == b.rows, "concatenate: \(a.shapeDescription) and \(b.shapeDescription)")
  let n = a.cols + b.cols
  var out = Matrix(rows: a.rows, cols: n)
  out.data.withUnsafeMutableBufferPointer { po in
    a.data.withUnsafeBufferPointer { pa in
      b.data.withUnsafeBufferPointer { pb in
        for r in 0..<a.rows {
          (po.baseAddress! + r * n).update(from: pa.baseAddress! + r * a.cols, count: a.cols)
          (po.baseAddress! + r * n + a.cols).update(from: pb.baseAddress! + r * b.cols, count: b.cols)
        }
      }
    }
  }
  return out
}

/// Columns [0, k) and [k, cols) of `m`.
func split(_ m: Matrix, at k: Int) -> (Matrix, Matrix) {
  var a = Matrix(rows: m.rows, cols: k)
  var b = Matrix(rows: m.rows, cols: m.cols - k)
  let q = m.cols - k
  m.data.withUnsafeBufferPointer { pm in
    a.data.withUnsafeMutableBufferPointer { pa in
      b.data.withUnsafeMutableBufferPointer { pb in
        for r in 0..<m.rows {
          (pa.baseAddress! + r * k).update(from: pm.baseAddress! + r * m.cols, count: k)
          (pb.baseAddress! + r * q).update(from: pm.baseAddress! + r * m.cols + k, count: q)
        }
      }
    }
  }
  return (a, b)
}

/// Two result slots written by the two iterations of a `concurrentPerform` (each slot by
/// exactly one iteration, read only after it returns).
final class PairBox<T>: @unchecked Sendable {
  var first: T?
  var second: T?
}

/// An output buffer shared by the two iterations of a `concurrentPerform`, which write
/// disjoint columns of it.
struct UncheckedPointer: @unchecked Sendable {
  let pointer: UnsafeMutablePointer<Float>
  init(_ p: UnsafeMutablePointer<Float>) { pointer = p }
}

/// Two caches handed to the two iterations of a `concurrentPerform`; each is used by one.
struct UncheckedPair: @unchecked Sendable {
  let first: LSTMCache
  let second: LSTMCache
  init(_ a: LSTMCache, _ b: LSTMCache) { first = a; second = b }
}

/// The arithmetic of a network's inference.
public enum InferencePrecision: String, CaseIterable, Codable, Sendable {
  /// 32-bit floats throughout: the network matches PyTorch within 1e-5.
  case float32
  /// The LSTM products whose inputs are LSTM outputs, bounded in (-1, 1) (every layer's
  /// recurrent product and the input products above the first layer), in 8-bit integers with
  /// a scale per weight column and per input row (``LSTM/Int8Products``); features, cells and
  /// the output layer stay in floats. These products run about 3.5 times as fast as float
  /// ones with AVX-512 VNNI and somewhat faster with AVX2; other CPUs get the same numbers
  /// from plain C, somewhat slower than float.
  case int8
}
