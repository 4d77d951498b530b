import Foundation

/// Time derivatives by Savitzky-Golay filtering, as `librosa.feature.delta(mode="interp")`
/// (= `scipy.signal.savgol_filter(x, width, polyorder=order, deriv=order, mode="interp")`).
public enum Deltas {
  /// `[x, delta_1 x, ..., delta_order x]` column blocks, each delta computed on `x` itself
  /// (as librosa's `delta(x, order=2)` does), not on the previous delta.
  /// - Parameters:
  ///   - order: 1 or 2.
  ///   - width: odd window length in frames, 3...frames.
  public static func append(to x: FeatureMatrix, order: Int, width: Int) -> FeatureMatrix {
    var out = x
    for d in 1...order { out = out.concatenatingColumns(derivative(x, order: d, width: width)) }
    return out
  }

  /// The `order`-th derivative of each column along time: (frames, bins).
  public static func derivative(_ x: FeatureMatrix, order: Int, width: Int) -> FeatureMatrix {
    precondition(width % 2 == 1 && width >= 3 && width <= x.frames, "width \(width) for \(x.frames) frames")
    precondition(order >= 1 && order < width, "order \(order)")
    let half = width / 2
    let interior = coefficients(positions: (-half...half).map(Double.init), at: 0, polyorder: order, deriv: order)
    // Edges ("interp"): fit one polynomial to the first (last) `width` frames and evaluate its
    // derivative at each of the first (last) `half` frames.
    let leftEdge = (0..<half).map {
      coefficients(positions: (0..<width).map(Double.init), at: Double($0), polyorder: order, deriv: order)
    }
    var out = FeatureMatrix(frames: x.frames, bins: x.bins)
    let frames = x.frames, bins = x.bins
    for t in 0..<frames {
      let weights: [Double]
      let first: Int
      var reversed = false
      if t < half {
        weights = leftEdge[t]
        first = 0
      } else if t >= frames - half {
        // Mirror of the left edge: position p from the end.
        weights = leftEdge[frames - 1 - t]
        first = frames - width
        reversed = true
      } else {
        weights = interior
        first = t - half
      }
      // Reversing time flips the sign of odd derivatives.
      let sign: Double = reversed && order % 2 == 1 ? -1 : 1
      for b in 0..<bins {
        var sum = 0.0
        for j in 0..<width {
          let frame = reversed ? first + width - 1 - j : first + j
          sum += weights[j] * Double(x[frame, b])
        }
        out[t, b] = Float(sign * sum)
      }
    }
    return out
  }

  /// Least-squares polynomial weights: `sum_j w_j y_j` is the `deriv`-th derivative at `z0`
  /// of the degree-`polyorder` polynomial fitted to (positions[j], y_j).
  static func coefficients(positions: [Double], at z0: Double, polyorder: Int, deriv: Int) -> [Double] {
    let p = polyorder + 1
    // Normal equations: (A^T A) c = A^T y, A[j][q] = z_j^q.
    var ata = [Double](repeating: 0, count: p * p)
    for z in positions {
      for r in 0..<p { for c in 0..<p { ata[r * p + c] += pow(z, Double(r + c)) } }
    }
    let inverse = invert(ata, size: p)
    // d^deriv/dz^deriv of sum_q c_q z^q at z0 = sum_q c_q q!/(q-deriv)! z0^(q-deriv).
    var g = [Double](repeating: 0, count: p)
    for q in deriv..<p {
      var factor = 1.0
      for i in 0..<deriv { factor *= Double(q - i) }
      g[q] = factor * pow(z0, Double(q - deriv))
    }
    return positions.map { z in
      var w = 0.0
      for r in 0..<p {
        var row = 0.0
        for c in 0..<p { row += inverse[r * p + c] * pow(z, Double(c)) }
        w += g[r] * row
      }
      return w
    }
  }

  /// Gauss-Jordan inverse of a small symmetric positive definite matrix.
  private static func invert(_ m: [Double], size n: Int) -> [Double] {
    var a = m
    var inv = [Double](repeating: 0, count: n * n)
    for i in 0..<n { inv[i * n + i] = 1 }
    for col in 0..<n {
      let pivotRow = (col..<n).max { abs(a[$0 * n + col]) < abs(a[$1 * n + col]) }!
      if pivotRow != col {
        for k in 0..<n {
          a.swapAt(col * n + k, pivotRow * n + k)
          inv.swapAt(col * n + k, pivotRow * n + k)
        }
      }
      let pivot = a[col * n + col]
      for k in 0..<n {
        a[col * n + k] /= pivot
        inv[col * n + k] /= pivot
      }
      for r in 0..<n where r != col {
        let f = a[r * n + col]
        if f == 0 { continue }
        for k in 0..<n {
          a[r * n + k] -= f * a[col * n + k]
          inv[r * n + k] -= f * inv[col * n + k]
        }
      }
    }
    return inv
  }
}

/// Cepstral mean and variance normalisation per feature dimension.
public enum CMVN {
  /// Smallest standard deviation divided by (utterance and level normalisation).
  public static let minimumStandardDeviation: Float = 1e-10
  /// Smallest variance whose square root sliding normalisation divides by (Kaldi's floor).
  public static let minimumSlidingVariance = 1e-10

  /// `(x - mean) / max(std, 1e-10)` per bin (population std), the statistics taken over
  /// `statisticsFrames` (nil: all frames) and applied to every frame; mean only when
  /// `normalizeVariance` is false.
  public static func utterance(_ x: inout FeatureMatrix, normalizeVariance: Bool, statisticsFrames: Range<Int>? = nil) {
    guard x.frames > 0 else { return }
    let frames = x.frames, bins = x.bins
    let used = statisticsFrames ?? 0..<frames
    precondition(!used.isEmpty && used.lowerBound >= 0 && used.upperBound <= frames, "statistics frames \(used) of \(frames)")
    x.values.withUnsafeMutableBufferPointer { v in
      for b in 0..<bins {
        normalize(v, count: frames, statistics: used, at: { $0 * bins + b }, normalizeVariance: normalizeVariance)
      }
    }
  }

  /// `(x - mean) / max(std, 1e-10)` with one mean and population std over every bin of the
  /// `statisticsFrames` (nil: all frames), applied to every frame; mean only when
  /// `normalizeVariance` is false.
  public static func level(_ x: inout FeatureMatrix, normalizeVariance: Bool, statisticsFrames: Range<Int>? = nil) {
    let count = x.values.count
    guard count > 0 else { return }
    let bins = x.bins
    let used = statisticsFrames ?? 0..<x.frames
    precondition(!used.isEmpty && used.lowerBound >= 0 && used.upperBound <= x.frames, "statistics frames \(used) of \(x.frames)")
    x.values.withUnsafeMutableBufferPointer { v in
      normalize(
        v, count: count, statistics: used.lowerBound * bins..<used.upperBound * bins, at: { $0 },
        normalizeVariance: normalizeVariance)
    }
  }

  /// The frames whose statistics `utterance` and `level` use under `span`: from the first to
  /// the last frame whose level (the mean of its values, `unitsPerDecibel` of them per dB) is
  /// within `span.decibels` of the loudest frame's, widened by `span.marginFrames` each side
  /// and cut to the utterance. `x` must have at least one frame.
  public static func speechFrames(of x: FeatureMatrix, span: SpeechSpan, unitsPerDecibel: Double) -> Range<Int> {
    precondition(x.frames > 0, "no frames")
    let frames = x.frames, bins = x.bins
    var levels = [Double](repeating: 0, count: frames)
    x.values.withUnsafeBufferPointer { v in
      for t in 0..<frames {
        var sum = 0.0
        for b in 0..<bins { sum += Double(v[t * bins + b]) }
        levels[t] = sum / Double(bins)
      }
    }
    let threshold = levels.max()! - Double(span.decibels) * unitsPerDecibel
    let first = levels.firstIndex { $0 >= threshold }!
    let last = levels.lastIndex { $0 >= threshold }!
    return max(0, first - span.marginFrames)..<min(frames, last + 1 + span.marginFrames)
  }

  /// Normalises the `count` values at indices `at(0..<count)` of `v` by the mean and floored
  /// population std of those at `at(statistics)`, both summed in Double in index order.
  @inline(__always)
  private static func normalize(
    _ v: UnsafeMutableBufferPointer<Float>, count: Int, statistics: Range<Int>, at index: (Int) -> Int,
    normalizeVariance: Bool
  ) {
    var sum = 0.0, squares = 0.0
    for i in statistics {
      let value = Double(v[index(i)])
      sum += value
      squares += value * value
    }
    let n = Double(statistics.count)
    let mean = sum / n
    let std = max(sqrt(max(squares / n - mean * mean, 0)), Double(minimumStandardDeviation))
    for i in 0..<count {
      let centered = Double(v[index(i)]) - mean
      v[index(i)] = Float(normalizeVariance ? centered / std : centered)
    }
  }

  /// Kaldi's `apply-cmvn-sliding --center=true --cmn-window=window`: frame t is normalised by
  /// the statistics of `window` frames around it, the window shifted (not shrunk) at the
  /// ends, and shrunk only when the utterance is shorter than the window; the variance is
  /// floored at 1e-10 (Kaldi's floor), and a one-frame window gives 0.
  ///
  /// The window sums come from per-block sums (blocks of about `sqrt(window / 2)` frames) plus
  /// the frames at the window's ends, never from differences of running sums: after a loud
  /// stretch those keep no digits for a quiet window, whose variance then came out as 0.
  public static func sliding(_ x: FeatureMatrix, window: Int, normalizeVariance: Bool) -> FeatureMatrix {
    let frames = x.frames, bins = x.bins
    guard frames > 0 else { return x }
    let block = max(Int(Double(window / 2).squareRoot()), 1)
    let blocks = (frames + block - 1) / block
    var blockSums = [Double](repeating: 0, count: blocks * bins), blockSquares = blockSums
    for t in 0..<frames {
      let k = (t / block) * bins
      for b in 0..<bins {
        let v = Double(x[t, b])
        blockSums[k + b] += v
        blockSquares[k + b] += v * v
      }
    }
    var out = x
    var sums = [Double](repeating: 0, count: bins), squares = sums
    for t in 0..<frames {
      var start = t - window / 2
      var end = start + window
      if start < 0 {
        end -= start
        start = 0
      }
      if end > frames {
        start = max(start - (end - frames), 0)
        end = frames
      }
      // [start, firstBlock * block) frame by frame, whole blocks, then [lastBlock * block, end).
      let firstBlock = (start + block - 1) / block, lastBlock = max(end / block, firstBlock)
      for b in 0..<bins { (sums[b], squares[b]) = (0, 0) }
      func addFrames(_ range: Range<Int>) {
        for f in range {
          for b in 0..<bins {
            let v = Double(x[f, b])
            sums[b] += v
            squares[b] += v * v
          }
        }
      }
      if firstBlock * block >= end {
        addFrames(start..<end)
      } else {
        addFrames(start..<firstBlock * block)
        for k in firstBlock..<lastBlock {
          for b in 0..<bins {
            sums[b] += blockSums[k * bins + b]
            squares[b] += blockSquares[k * bins + b]
          }
        }
        addFrames(lastBlock * block..<end)
      }
      let count = Double(end - start)
      for b in 0..<bins {
        let mean = sums[b] / count
        var v = Double(x[t, b]) - mean
        if normalizeVariance {
          let variance = squares[b] / count - mean * mean
          v = count == 1 ? 0 : v / max(variance, minimumSlidingVariance).squareRoot()
        }
        out[t, b] = Float(v)
      }
    }
    return out
  }
}
