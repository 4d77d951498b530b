import Foundation

/// Connectionist temporal classification loss (Graves et al. 2006) and its gradient.
///
/// For log-probabilities `y` of one sequence, (T, C), and a target `l` of length L, the
/// loss is `-log sum_paths prod_t exp(y[t, path_t])` over every frame-level path that
/// collapses to `l` (merge repeats, then drop blanks). Computed with the log-space
/// forward-backward recursion over the extended target (blank, l1, blank, ..., lL, blank), in
/// Double. Matches `torch.nn.functional.ctc_loss` (same `blank`, `reduction`,
/// `zero_infinity`) within 1e-5 relative.
public struct CTCLoss: Equatable, Sendable {
  /// How per-sequence losses become one number.
  public enum Reduction: String, Codable, Sendable {
    /// Each loss divided by its target length (at least 1), then the batch mean (PyTorch default).
    case mean
    /// The sum over the batch.
    case sum
    /// No reduction; the reported `loss` is the sum, and gradients are per sequence.
    case none
  }

  /// Index of the blank class; default 0.
  public var blank: Int = 0
  /// Default `.mean`, as PyTorch.
  public var reduction: Reduction = .mean
  /// Whether an impossible alignment (target longer than the input allows) gives loss 0 and
  /// gradient 0 instead of +infinity; default false, as PyTorch.
  public var zeroInfinity: Bool = false

  /// A loss with the given settings.
  public init(blank: Int = 0, reduction: Reduction = .mean, zeroInfinity: Bool = false) {
    self.blank = blank
    self.reduction = reduction
    self.zeroInfinity = zeroInfinity
  }

  /// The result of ``callAsFunction(_:targets:)``.
  public struct Result: Sendable {
    /// The reduced loss.
    public var loss: Float
    /// -log p(target | input) per sequence, before reduction (+inf when impossible, 0 with
    /// `zeroInfinity`).
    public var sequenceLosses: [Float]
    /// dloss/d(log-probabilities), (T*B, C), time-major, zero on padding rows.
    ///
    /// This is the true partial derivative, `-occupancy(t, c) * weight`. PyTorch's
    /// `ctc_loss` backward returns `exp(y) - occupancy` instead (the derivative with respect
    /// to logits through the log-softmax); passing this gradient through
    /// ``logSoftmaxBackward(output:gradient:)`` gives exactly that. When a loss is infinite
    /// and `zeroInfinity` is false, that sequence's gradient is zero (PyTorch gives NaN).
    public var gradient: Matrix
  }

  /// Loss and gradient for a batch.
  ///
  /// - Parameters:
  ///   - logProbabilities: (T*B, C) log-probabilities, time-major, each row log-normalised
  ///     (the output of ``logSoftmax(_:)``); `lengths` are the input lengths.
  ///   - targets: one label sequence per batch entry, labels in 0..<C and never `blank`.
  public func callAsFunction(_ logProbabilities: SequenceBatch, targets: [[Int]]) -> Result {
    let b = logProbabilities.batchSize
    precondition(targets.count == b, "CTCLoss: \(targets.count) targets for a batch of \(b)")
    let c = logProbabilities.features
    precondition(blank >= 0 && blank < c, "CTCLoss: blank \(blank) outside 0..<\(c)")
    var losses = [Float](repeating: 0, count: b)
    var gradient = Matrix(rows: logProbabilities.data.rows, cols: c)
    var total = 0.0
    for i in 0..<b {
      for l in targets[i] {
        precondition(l >= 0 && l < c && l != blank,
          "CTCLoss: target \(i) has label \(l); labels must be in 0..<\(c) and not the blank \(blank)")
      }
      let weight: Double
      switch reduction {
      case .mean: weight = 1 / Double(max(targets[i].count, 1)) / Double(b)
      case .sum, .none: weight = 1
      }
      let nll = sequence(i, logProbabilities, target: targets[i], weight: weight, into: &gradient)
      losses[i] = Float(nll)
      if nll.isInfinite && zeroInfinity { losses[i] = 0 }
      total += Double(losses[i]) * weight
    }
    return Result(loss: Float(total), sequenceLosses: losses, gradient: gradient)
  }

  /// Forward-backward for sequence `index`; writes `-weight * occupancy` into its rows of
  /// `gradient` and returns the negative log-likelihood.
  private func sequence(_ index: Int, _ batch: SequenceBatch, target: [Int], weight: Double,
                        into gradient: inout Matrix) -> Double {
    let b = batch.batchSize, c = batch.features
    let t = batch.lengths[index]
    let s = 2 * target.count + 1
    let lp = batch.data.data
    func y(_ frame: Int, _ label: Int) -> Double { Double(lp[(frame * b + index) * c + label]) }
    // Extended target l': blank, l1, blank, l2, ..., lL, blank.
    var ext = [Int](repeating: blank, count: s)
    for (k, l) in target.enumerated() { ext[2 * k + 1] = l }
    if t == 0 { return target.isEmpty ? 0 : .infinity }
    let neg = -Double.infinity
    var alpha = [Double](repeating: neg, count: t * s)
    var beta = [Double](repeating: neg, count: t * s)
    // A transition s-2 -> s is allowed when l'(s) is a label different from l'(s-2).
    func skip(_ k: Int) -> Bool { k >= 2 && ext[k] != blank && ext[k] != ext[k - 2] }
    alpha[0] = y(0, ext[0])
    if s > 1 { alpha[1] = y(0, ext[1]) }
    for f in 1..<max(t, 1) {
      for k in 0..<s {
        var a = alpha[(f - 1) * s + k]
        if k >= 1 { a = logAdd(a, alpha[(f - 1) * s + k - 1]) }
        if skip(k) { a = logAdd(a, alpha[(f - 1) * s + k - 2]) }
        alpha[f * s + k] = a == neg ? neg : a + y(f, ext[k])
      }
    }
    beta[(t - 1) * s + s - 1] = y(t - 1, ext[s - 1])
    if s > 1 { beta[(t - 1) * s + s - 2] = y(t - 1, ext[s - 2]) }
    for f in stride(from: t - 2, through: 0, by: -1) {
      for k in 0..<s {
        var v = beta[(f + 1) * s + k]
        if k + 1 < s { v = logAdd(v, beta[(f + 1) * s + k + 1]) }
        if k + 2 < s && skip(k + 2) { v = logAdd(v, beta[(f + 1) * s + k + 2]) }
        beta[f * s + k] = v == neg ? neg : v + y(f, ext[k])
      }
    }
    var logLikelihood = alpha[(t - 1) * s + s - 1]
    if s > 1 { logLikelihood = logAdd(logLikelihood, alpha[(t - 1) * s + s - 2]) }
    let nll = -logLikelihood
    guard nll.isFinite else { return .infinity }
    // occupancy(f, c) = sum_{k: l'(k) = c} exp(alpha + beta - y(f, c) + nll)
    // (alpha and beta both include the emission at f, hence one - y).
    var occupancy = [Double](repeating: neg, count: c)
    for f in 0..<t {
      for j in 0..<c { occupancy[j] = neg }
      for k in 0..<s {
        occupancy[ext[k]] = logAdd(occupancy[ext[k]], alpha[f * s + k] + beta[f * s + k])
      }
      let row = (f * b + index) * c
      for j in 0..<c where occupancy[j] != neg {
        gradient.data[row + j] = Float(-weight * Foundation.exp(occupancy[j] - y(f, j) + nll))
      }
    }
    return nll
  }
}

/// log(exp(a) + exp(b)) without overflow; -inf is the additive identity.
@inline(__always)
func logAdd(_ a: Double, _ b: Double) -> Double {
  if a == -.infinity { return b }
  if b == -.infinity { return a }
  let m = max(a, b)
  return m + Foundation.log1p(Foundation.exp(-abs(a - b)))
}
