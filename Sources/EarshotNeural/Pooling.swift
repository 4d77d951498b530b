import Foundation

/// How a classifier turns a sequence of encoder frames into one vector.
public enum Pooling: String, Codable, Sendable, CaseIterable {
  /// The mean over the sequence's real frames.
  case mean
  /// The element-wise maximum over the real frames (gradient to the first maximum).
  case max
  /// Attention pooling: scores `e_t = h_t . w + b` (a `Linear(features, 1)` named
  /// `attention`), weights `a = softmax_t(e)` over the real frames, output `sum_t a_t h_t`.
  case attention
  /// The mean and the maximum side by side: `[mean, max]`, twice the encoder's width.
  case meanMax = "mean-max"
  /// Statistics pooling with the maximum: `[mean, std, max]`, three times the encoder's
  /// width; `std = sqrt(mean_t (h_t - mean)^2 + 1e-5)` (how much each feature moves over
  /// the sequence: a steady texture against a crackling one).
  case meanStdMax = "mean-std-max"

  /// The width of the pooled vector for encoder frames of `features` values.
  public func outputWidth(features: Int) -> Int {
    switch self {
    case .meanMax: 2 * features
    case .meanStdMax: 3 * features
    default: features
    }
  }

  /// The variance floor under the standard deviation of `.meanStdMax`.
  public static let varianceFloor: Float = 1e-5
}

/// What ``pool(_:_:attention:)`` keeps for its backward.
public struct PoolingCache: Sendable {
  let input: SequenceBatch
  /// For `.max` and `.meanMax`: the frame index of each maximum, (B, D). For `.attention`:
  /// the weights a, (T, B) as rows t*B+b.
  var argmax: [Int] = []
  var weights: [Float] = []
  /// For `.meanStdMax`: each sequence's standard deviations, (B, D).
  var deviations: [Float] = []
}

/// Pools each sequence of `x` ((T*B, D), time-major) into one row: (B, D), or (B, 2D) for
/// `.meanMax` (the mean in columns 0..<D, the maximum in D..<2D), or (B, 3D) for
/// `.meanStdMax` (mean, standard deviation, maximum).
///
/// A sequence of length 0 pools to zeros. `attention` is required for `.attention`.
public func pool(_ x: SequenceBatch, _ pooling: Pooling, attention: Linear? = nil)
  -> (output: Matrix, cache: PoolingCache)
{
  let b = x.batchSize, d = x.features, width = pooling.outputWidth(features: d)
  var out = Matrix(rows: b, cols: width)
  var cache = PoolingCache(input: x)
  let xd = x.data.data
  // The mean of each sequence into columns `offset..<offset + d` of `out`.
  func poolMean(offset: Int) {
    for bb in 0..<b where x.lengths[bb] > 0 {
      let n = x.lengths[bb]
      for t in 0..<n {
        for j in 0..<d { out.data[bb * width + offset + j] += xd[(t * b + bb) * d + j] }
      }
      for j in 0..<d { out.data[bb * width + offset + j] /= Float(n) }
    }
  }
  // The maximum of each sequence into columns `offset..<offset + d`, its frame into the cache.
  func poolMax(offset: Int) {
    cache.argmax = [Int](repeating: -1, count: b * d)
    for bb in 0..<b where x.lengths[bb] > 0 {
      for j in 0..<d {
        var best = -Float.infinity, at = 0
        for t in 0..<x.lengths[bb] where xd[(t * b + bb) * d + j] > best {
          best = xd[(t * b + bb) * d + j]; at = t
        }
        out.data[bb * width + offset + j] = best
        cache.argmax[bb * d + j] = at
      }
    }
  }
  switch pooling {
  case .mean:
    poolMean(offset: 0)
  case .max:
    poolMax(offset: 0)
  case .meanMax:
    poolMean(offset: 0)
    poolMax(offset: d)
  case .meanStdMax:
    poolMean(offset: 0)
    cache.deviations = [Float](repeating: 0, count: b * d)
    for bb in 0..<b where x.lengths[bb] > 0 {
      let n = x.lengths[bb]
      for j in 0..<d {
        let mean = out.data[bb * width + j]
        var sum: Float = 0
        for t in 0..<n {
          let centred = xd[(t * b + bb) * d + j] - mean
          sum += centred * centred
        }
        let deviation = (sum / Float(n) + Pooling.varianceFloor).squareRoot()
        out.data[bb * width + d + j] = deviation
        cache.deviations[bb * d + j] = deviation
      }
    }
    poolMax(offset: 2 * d)
  case .attention:
    guard let attention else { preconditionFailure("pool: .attention needs the attention layer") }
    precondition(attention.inputSize == d && attention.outputSize == 1,
      "pool: attention layer is \(attention.outputSize)x\(attention.inputSize), expected 1x\(d)")
    let scores = attention(x.data)                  // (T*B, 1)
    var weights = [Float](repeating: 0, count: x.data.rows)
    for bb in 0..<b where x.lengths[bb] > 0 {
      let n = x.lengths[bb]
      var m = -Float.infinity
      for t in 0..<n { m = Swift.max(m, scores.data[t * b + bb]) }
      var s: Float = 0
      for t in 0..<n {
        let e = Foundation.exp(scores.data[t * b + bb] - m)
        weights[t * b + bb] = e
        s += e
      }
      for t in 0..<n {
        weights[t * b + bb] /= s
        let a = weights[t * b + bb]
        for j in 0..<d { out.data[bb * d + j] += a * xd[(t * b + bb) * d + j] }
      }
    }
    cache.weights = weights
  }
  return (out, cache)
}

/// Backward of ``pool(_:_:attention:)``: dy (B, D) ((B, 2D) for `.meanMax`, (B, 3D) for
/// `.meanStdMax`) -> dx (T*B, D),
/// zero on padding rows. Adds the attention layer's gradients into `attentionGradients` for
/// `.attention`.
public func poolBackward(_ dy: Matrix, _ pooling: Pooling, cache: PoolingCache,
                         attention: Linear? = nil, attentionGradients: inout Linear?) -> Matrix {
  let x = cache.input
  let b = x.batchSize, d = x.features, width = pooling.outputWidth(features: d)
  precondition(dy.rows == b && dy.cols == width, "poolBackward: gradient \(dy.shapeDescription), expected \(b)x\(width)")
  var dx = Matrix(rows: x.data.rows, cols: d)
  let xd = x.data.data
  // The mean's share, from columns `offset..<offset + d` of dy: spread evenly over the frames.
  func meanBackward(offset: Int) {
    for bb in 0..<b where x.lengths[bb] > 0 {
      let inv = 1 / Float(x.lengths[bb])
      for t in 0..<x.lengths[bb] {
        for j in 0..<d { dx.data[(t * b + bb) * d + j] += dy.data[bb * width + offset + j] * inv }
      }
    }
  }
  // The maximum's share: all to the frame that held it.
  func maxBackward(offset: Int) {
    for bb in 0..<b where x.lengths[bb] > 0 {
      for j in 0..<d { dx.data[(cache.argmax[bb * d + j] * b + bb) * d + j] += dy.data[bb * width + offset + j] }
    }
  }
  switch pooling {
  case .mean:
    meanBackward(offset: 0)
  case .max:
    maxBackward(offset: 0)
  case .meanMax:
    meanBackward(offset: 0)
    maxBackward(offset: d)
  case .meanStdMax:
    meanBackward(offset: 0)
    // forward was s = sqrt(mean_t (h_t - m)^2 + eps), so ds/dh_t = (h_t - m) / (n s): the
    // mean's own dependence on h_t drops out, as sum_t (h_t - m) = 0.
    for bb in 0..<b where x.lengths[bb] > 0 {
      let n = x.lengths[bb]
      for j in 0..<d {
        var mean: Float = 0
        for t in 0..<n { mean += xd[(t * b + bb) * d + j] }
        mean /= Float(n)
        let scale = dy.data[bb * width + d + j] / (Float(n) * cache.deviations[bb * d + j])
        for t in 0..<n { dx.data[(t * b + bb) * d + j] += (xd[(t * b + bb) * d + j] - mean) * scale }
      }
    }
    maxBackward(offset: 2 * d)
  case .attention:
    guard let attention else { preconditionFailure("poolBackward: .attention needs the attention layer") }
    // forward was y = sum_t a_t h_t, a = softmax(e), e_t = h_t . w + c
    var dScores = Matrix(rows: x.data.rows, cols: 1)
    for bb in 0..<b where x.lengths[bb] > 0 {
      let n = x.lengths[bb]
      var da = [Float](repeating: 0, count: n)
      var weighted: Float = 0
      for t in 0..<n {
        let a = cache.weights[t * b + bb]
        var dot: Float = 0
        for j in 0..<d {
          dx.data[(t * b + bb) * d + j] = a * dy.data[bb * d + j]   // dh_t += a_t dy
          dot += dy.data[bb * d + j] * xd[(t * b + bb) * d + j]
        }
        da[t] = dot                                                   // da_t = dy . h_t
        weighted += a * dot
      }
      for t in 0..<n {
        // softmax backward: de_t = a_t (da_t - sum_u a_u da_u)
        dScores.data[t * b + bb] = cache.weights[t * b + bb] * (da[t] - weighted)
      }
    }
    var g = attentionGradients ?? Linear(inputSize: d, outputSize: 1)
    dx.add(attention.backward(dScores, input: x.data, into: &g))
    attentionGradients = g
  }
  return dx
}

/// Mean negative log-likelihood of `labels` under row-wise log-probabilities (B, C), and its
/// gradient with respect to them; matches `torch.nn.functional.nll_loss` (and, after
/// ``logSoftmax(_:)``, `cross_entropy`) with the default 'mean' reduction.
public func negativeLogLikelihood(_ logProbabilities: Matrix, labels: [Int]) -> (loss: Float, gradient: Matrix) {
  let b = logProbabilities.rows, c = logProbabilities.cols
  precondition(labels.count == b, "negativeLogLikelihood: \(labels.count) labels for \(b) rows")
  var g = Matrix(rows: b, cols: c)
  var loss = 0.0
  for (i, l) in labels.enumerated() {
    precondition(l >= 0 && l < c, "negativeLogLikelihood: label \(l) of row \(i) outside 0..<\(c)")
    loss -= Double(logProbabilities.data[i * c + l])
    g.data[i * c + l] = -1 / Float(b)
  }
  return (Float(loss / Double(max(b, 1))), g)
}
