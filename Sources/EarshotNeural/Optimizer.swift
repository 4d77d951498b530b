import Foundation

/// Settings of ``Adam``; the defaults are PyTorch's `torch.optim.Adam`.
public struct AdamOptions: Equatable, Codable, Sendable {
  /// Step size; default 1e-3.
  public var learningRate: Float = 1e-3
  /// Decay of the first-moment average; default 0.9.
  public var beta1: Float = 0.9
  /// Decay of the second-moment average; default 0.999.
  public var beta2: Float = 0.999
  /// Added to the bias-corrected sqrt(v) in the denominator; default 1e-8.
  public var epsilon: Float = 1e-8
  /// Weight decay; default 0. Adam adds `weightDecay * p` to the gradient (L2); AdamW
  /// (`decoupledWeightDecay`) multiplies `p` by `1 - lr * weightDecay` before the step.
  public var weightDecay: Float = 0
  /// Whether weight decay is decoupled (AdamW); default false.
  public var decoupledWeightDecay = false
  public init() {}

  /// PyTorch `torch.optim.AdamW` defaults: weight decay 0.01, decoupled.
  public static var adamW: AdamOptions {
    var o = AdamOptions()
    o.weightDecay = 0.01
    o.decoupledWeightDecay = true
    return o
  }
}

/// Adam and AdamW with PyTorch's exact update (`torch.optim.Adam` / `AdamW`, single-tensor
/// path, `amsgrad=False`, `maximize=False`):
/// ```
/// g = grad (+ weightDecay * p for Adam);  p *= 1 - lr * weightDecay for AdamW
/// m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
/// p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
/// ```
/// Matches PyTorch within 1e-6 relative per step.
public struct Adam: Sendable {
  /// The settings; `learningRate` may be changed between steps (schedules do).
  public var options: AdamOptions
  /// Steps taken so far (t in the bias correction).
  public private(set) var step = 0
  /// First moments (m), one array per parameter in `namedParameters` order; empty before the
  /// first step. Saved by checkpoints so that training resumes exactly.
  public private(set) var firstMoments: [[Float]] = []
  /// Second moments (v), as `firstMoments`.
  public private(set) var secondMoments: [[Float]] = []

  /// An optimizer with no state yet; state is created on the first ``update(_:gradients:)``.
  public init(options: AdamOptions = AdamOptions()) { self.options = options }

  /// One step: updates every parameter of `model` from the same-shaped `gradients`.
  public mutating func update<Model: Parameterized>(_ model: inout Model, gradients: Model) {
    let params = model.namedParameters
    if firstMoments.isEmpty {
      firstMoments = params.map { [Float](repeating: 0, count: model[keyPath: $0.path].data.count) }
      secondMoments = firstMoments
    }
    precondition(firstMoments.count == params.count,
      "Adam: state has \(firstMoments.count) tensors, the model has \(params.count)")
    step += 1
    let o = options
    let lr = Double(o.learningRate)
    let bias1 = 1 - Foundation.pow(Double(o.beta1), Double(step))
    let bias2 = 1 - Foundation.pow(Double(o.beta2), Double(step))
    let stepSize = Float(lr / bias1)
    let bias2Sqrt = Float(bias2.squareRoot())
    let (b1, b2, eps, wd) = (o.beta1, o.beta2, o.epsilon, o.weightDecay)
    let decay = Float(1 - lr * Double(wd))
    for (k, p) in params.enumerated() {
      let g = gradients[keyPath: p.path]
      precondition(g.data.count == firstMoments[k].count,
        "Adam: gradient of \(p.name) has \(g.data.count) elements, the parameter \(firstMoments[k].count)")
      g.data.withUnsafeBufferPointer { gp in
        firstMoments[k].withUnsafeMutableBufferPointer { m in
          secondMoments[k].withUnsafeMutableBufferPointer { v in
            model[keyPath: p.path].data.withUnsafeMutableBufferPointer { w in
              // g = grad (+ wd p);  m += (g - m)(1 - b1) (torch: exp_avg.lerp_(grad, 1 - beta1));
              // v = b2 v + (1 - b2) g^2;  p -= stepSize m / (sqrt(v) / bias2Sqrt + eps)
              guard let wp = w.baseAddress else { return }
              Kernels.best.adamUpdate(wp, firstMoments: m.baseAddress!, secondMoments: v.baseAddress!,
                                      gradient: gp.baseAddress!, count: w.count, beta1: b1, beta2: b2,
                                      stepSize: stepSize, bias2Sqrt: bias2Sqrt, epsilon: eps,
                                      weightDecay: wd, decoupled: o.decoupledWeightDecay, decay: decay)
            }
          }
        }
      }
    }
  }

  /// Restores a saved state: `step` and the moments in `namedParameters` order.
  public mutating func restore(step: Int, firstMoments: [[Float]], secondMoments: [[Float]]) {
    precondition(firstMoments.count == secondMoments.count,
      "Adam.restore: \(firstMoments.count) first vs \(secondMoments.count) second moments")
    self.step = step
    self.firstMoments = firstMoments
    self.secondMoments = secondMoments
  }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_(parameters, maxNorm)`: the scale is
/// `min(1, maxNorm / (norm + 1e-6))`.
///
/// - Returns: the global norm before clipping.
@discardableResult
public func clipGradientNorm<Model: Parameterized>(_ gradients: inout Model, maxNorm: Float) -> Float {
  var total = 0.0
  for p in gradients.namedParameters { total += gradients[keyPath: p.path].sumOfSquares }
  let norm = Float(total.squareRoot())
  let coefficient = min(1, maxNorm / (norm + 1e-6))
  if coefficient < 1 {
    for p in gradients.namedParameters { gradients[keyPath: p.path].scale(by: coefficient) }
  }
  return norm
}

/// A learning rate that rises linearly for `warmupSteps`, then decays to `minimum` at
/// `totalSteps`.
public struct LearningRateSchedule: Equatable, Codable, Sendable {
  /// The shape of the decay after warm-up.
  public enum Decay: String, Codable, Sendable {
    /// Stays at the peak.
    case constant
    /// Straight line from the peak to `minimum` at `totalSteps`.
    case linear
    /// Half cosine from the peak to `minimum` at `totalSteps`.
    case cosine
    /// `peak * sqrt(warmupSteps / step)` (the Transformer schedule), floored at `minimum`.
    case inverseSquareRoot
  }
  /// Learning rate at the end of warm-up; default 1e-3.
  public var peak: Float = 1e-3
  /// Steps of linear warm-up from peak / warmupSteps to peak; default 0.
  public var warmupSteps = 0
  /// Step at which the decay reaches `minimum`; default 10_000.
  public var totalSteps = 10_000
  /// Default `.cosine`.
  public var decay: Decay = .cosine
  /// Floor of the decay; default 0.
  public var minimum: Float = 0
  public init() {}

  /// The rate for 0-based optimizer step `step`.
  public func learningRate(atStep step: Int) -> Float {
    if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
    let span = Swift.max(totalSteps - warmupSteps, 1)
    let progress = Float(Swift.min(Swift.max(step - warmupSteps, 0), span)) / Float(span)
    switch decay {
    case .constant: return peak
    case .linear: return minimum + (peak - minimum) * (1 - progress)
    case .cosine: return minimum + (peak - minimum) * 0.5 * (1 + Foundation.cos(Float.pi * progress))
    case .inverseSquareRoot:
      return Swift.max(minimum, peak * (Float(Swift.max(warmupSteps, 1)) / Float(step + 1)).squareRoot())
    }
  }
}
