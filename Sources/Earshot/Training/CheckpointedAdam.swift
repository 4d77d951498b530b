import Foundation

/// Adam whose moments can be saved and restored, for checkpoints that resume exactly.
///
/// The update is `EarshotNeural.Adam`'s (PyTorch `torch.optim.Adam`/`AdamW`), operation for
/// operation, so the two give bit-identical parameters (tested); `Adam` keeps its moments
/// private, hence this copy.
public struct CheckpointedAdam: Sendable {
  /// The settings; `learningRate` is set by the schedule before each step.
  public var options: AdamOptions
  /// Steps taken so far (t in the bias correction).
  public internal(set) var step = 0
  /// First and second moments, one array per parameter in `namedParameters` order.
  public internal(set) var firstMoments: [[Float]] = []
  public internal(set) var secondMoments: [[Float]] = []

  public init(options: AdamOptions = AdamOptions()) { self.options = options }

  /// One step: updates every parameter of `model` from the same-shaped `gradients`.
  public mutating func update<Model: Parameterized>(_ model: inout Model, gradients: Model) {
    let params = model.namedParameters
    if firstMoments.isEmpty {
      firstMoments = params.map { [Float](repeating: 0, count: model[keyPath: $0.path].data.count) }
      secondMoments = firstMoments
    }
    precondition(firstMoments.count == params.count,
      "CheckpointedAdam: state has \(firstMoments.count) tensors, the model has \(params.count)")
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
        "CheckpointedAdam: gradient of \(p.name) has \(g.data.count) elements, the parameter \(firstMoments[k].count)")
      g.data.withUnsafeBufferPointer { gp in
        firstMoments[k].withUnsafeMutableBufferPointer { m in
          secondMoments[k].withUnsafeMutableBufferPointer { v in
            model[keyPath: p.path].data.withUnsafeMutableBufferPointer { w in
              for i in 0..<w.count {
                var gi = gp[i]
                if wd != 0 {
                  if o.decoupledWeightDecay { w[i] *= decay } else { gi += wd * w[i] }
                }
                m[i] += (gi - m[i]) * (1 - b1)
                v[i] = v[i] * b2 + (1 - b2) * gi * gi
                let denom = v[i].squareRoot() / bias2Sqrt + eps
                w[i] -= stepSize * (m[i] / denom)
              }
            }
          }
        }
      }
    }
  }

  /// Restores a saved state (moments in `namedParameters` order).
  public mutating func restore(step: Int, firstMoments: [[Float]], secondMoments: [[Float]]) {
    precondition(firstMoments.count == secondMoments.count,
      "CheckpointedAdam.restore: \(firstMoments.count) first vs \(secondMoments.count) second moments")
    self.step = step
    self.firstMoments = firstMoments
    self.secondMoments = secondMoments
  }
}
