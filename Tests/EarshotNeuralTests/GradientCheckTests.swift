import Foundation
import Testing
@testable import EarshotNeural

/// Central finite differences of the real (Float) forward passes, with the scalar loss
/// accumulated in Double, against the real backward code, on tiny shapes. Each check uses
/// step 1e-2 and passes when |numeric - analytic| <= 1e-3 + 1e-2 |analytic| for every element.
@Suite struct GradientCheckTests {
  static let step: Float = 1e-2

  /// Compares `analytic` with central differences of `loss` over every element of `values`.
  static func check(_ what: String, values: inout [Float], analytic: [Float], step: Float = step,
                    loss: ([Float]) -> Double, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(values.count == analytic.count, "\(what): \(values.count) values, \(analytic.count) gradients")
    var worst = 0.0, at = 0, numericAt = 0.0
    for i in 0..<values.count {
      let v = values[i]
      values[i] = v + step
      let up = loss(values)
      values[i] = v - step
      let down = loss(values)
      values[i] = v
      let numeric = (up - down) / (2 * Double(step))
      let excess = abs(numeric - Double(analytic[i])) - (1e-3 + 1e-2 * abs(Double(analytic[i])))
      if excess > worst || i == 0 { worst = max(worst, excess); at = i; numericAt = numeric }
    }
    #expect(worst <= 0, "\(what): element \(at): numeric \(numericAt), analytic \(analytic.isEmpty ? 0 : analytic[at]) (excess over tolerance \(worst))",
            sourceLocation: sourceLocation)
  }

  /// Weighted sum of every row of `m`, padding rows included (their weights must not matter).
  static func weighted(_ m: Matrix, _ w: Matrix) -> Double {
    var s = 0.0
    for i in 0..<m.data.count { s += Double(m.data[i]) * Double(w.data[i]) }
    return s
  }

  static func parameters<M: Parameterized>(_ model: M, check grads: M, _ what: String,
                                           loss: (M) -> Double) {
    for p in model.namedParameters {
      var m = model
      var values = m[keyPath: p.path].data
      check("\(what) d/d \(p.name)", values: &values, analytic: grads[keyPath: p.path].data) { v in
        m[keyPath: p.path].data = v
        return loss(m)
      }
    }
  }

  @Test(arguments: [false, true])
  func lstmDirection(reverse: Bool) {
    var g = SeededGenerator(seed: 7)
    let lstm = LSTM(inputSize: 3, hiddenSize: 2, reverse: reverse, generator: &g)
    let lengths = [4, 2, 3]
    var input = g.normalMatrix(rows: 4 * 3, cols: 3)
    let w = g.normalMatrix(rows: 4 * 3, cols: 2)
    let (out, cache) = lstm.forward(SequenceBatch(data: input, lengths: lengths))
    var grads = lstm.zeroGradients()
    let dx = lstm.backward(w, cache: cache, into: &grads)
    Self.parameters(lstm, check: grads, "LSTM(reverse: \(reverse))") { m in
      Self.weighted(m(SequenceBatch(data: input, lengths: lengths)).data, w)
    }
    Self.check("LSTM(reverse: \(reverse)) d/d input", values: &input.data, analytic: dx.data) { v in
      Self.weighted(lstm(SequenceBatch(data: Matrix(rows: 12, cols: 3, data: v), lengths: lengths)).data, w)
    }
    #expect(validRows(out.data, lengths: lengths).count == 9 * 2)
  }

  @Test func stackedBiLSTM() {
    var g = SeededGenerator(seed: 8)
    let net = BiLSTM(inputSize: 3, hiddenSize: 2, numLayers: 2, generator: &g)
    let lengths = [3, 1]
    var input = g.normalMatrix(rows: 3 * 2, cols: 3)
    let w = g.normalMatrix(rows: 3 * 2, cols: 4)
    let (_, cache) = net.forward(SequenceBatch(data: input, lengths: lengths), training: true, generator: &g)
    var grads = net.zeroGradients()
    let dx = net.backward(w, cache: cache, into: &grads)
    Self.parameters(net, check: grads, "BiLSTM") { m in
      Self.weighted(m(SequenceBatch(data: input, lengths: lengths)).data, w)
    }
    Self.check("BiLSTM d/d input", values: &input.data, analytic: dx.data) { v in
      Self.weighted(net(SequenceBatch(data: Matrix(rows: 6, cols: 3, data: v), lengths: lengths)).data, w)
    }
  }

  @Test(arguments: Pooling.allCases)
  func pooling(_ pooling: Pooling) {
    var g = SeededGenerator(seed: 9)
    let lengths = [3, 2]
    var input = g.normalMatrix(rows: 3 * 2, cols: 4)
    // Max pooling has kinks where two frames tie: spread the values and use a smaller step so
    // no difference straddles one.
    let hasMax = pooling == .max || pooling == .meanMax || pooling == .meanStdMax
    if hasMax { input.scale(by: 10) }
    let h: Float = hasMax ? 1e-3 : Self.step
    let attention = Linear(inputSize: 4, outputSize: 1, generator: &g)
    let w = g.normalMatrix(rows: 2, cols: pooling.outputWidth(features: 4))
    let (_, cache) = pool(SequenceBatch(data: input, lengths: lengths), pooling, attention: attention)
    var ag: Linear? = nil
    let dx = poolBackward(w, pooling, cache: cache, attention: attention, attentionGradients: &ag)
    Self.check("\(pooling) pooling d/d input", values: &input.data, analytic: dx.data, step: h) { v in
      Self.weighted(pool(SequenceBatch(data: Matrix(rows: 6, cols: 4, data: v), lengths: lengths), pooling,
                         attention: attention).output, w)
    }
    if pooling == .attention, let ag {
      let x = input
      var weights = attention.weight.data
      Self.check("attention d/d weight", values: &weights, analytic: ag.weight.data) { v in
        var a = attention
        a.weight.data = v
        return Self.weighted(pool(SequenceBatch(data: x, lengths: lengths), .attention, attention: a).output, w)
      }
    }
  }

  @Test(arguments: [0, 3])
  func ctcWithRespectToLogProbabilities(blank: Int) {
    var g = SeededGenerator(seed: 10)
    let lengths = [5, 4, 3]
    // Any real matrix (not only normalised log-probabilities) is a valid CTC input.
    var logits = g.normalMatrix(rows: 5 * 3, cols: 4)
    let targets = blank == 0 ? [[1, 1], [2, 3, 2], [1]] : [[0, 0], [2, 1, 2], []]
    let ctc = CTCLoss(blank: blank, reduction: .mean)
    let r = ctc(SequenceBatch(data: logits, lengths: lengths), targets: targets)
    Self.check("CTC(blank: \(blank)) d/d log-probabilities", values: &logits.data, analytic: r.gradient.data) { v in
      let x = SequenceBatch(data: Matrix(rows: 15, cols: 4, data: v), lengths: lengths)
      let per = ctc(x, targets: targets).sequenceLosses
      // the same mean reduction, in Double
      return zip(per, targets).reduce(0.0) { $0 + Double($1.0) / Double(max($1.1.count, 1)) } / 3
    }
  }

  @Test func logSoftmaxAndLinear() {
    var g = SeededGenerator(seed: 11)
    let fc = Linear(inputSize: 3, outputSize: 4, generator: &g)
    var x = g.normalMatrix(rows: 2, cols: 3)
    let w = g.normalMatrix(rows: 2, cols: 4)
    let y = logSoftmax(fc(x))
    var grads = fc.zeroGradients()
    let dx = fc.backward(logSoftmaxBackward(output: y, gradient: w), input: x, into: &grads)
    Self.parameters(fc, check: grads, "Linear+logSoftmax") { m in Self.weighted(logSoftmax(m(x)), w) }
    Self.check("Linear+logSoftmax d/d input", values: &x.data, analytic: dx.data) { v in
      Self.weighted(logSoftmax(fc(Matrix(rows: 2, cols: 3, data: v))), w)
    }
  }
}
