import Foundation
import Testing
@testable import EarshotNeural

/// Forward, CTC loss and every gradient against a PyTorch autograd dump
/// (scripts/fixtures/neural.py, torch 2.11.0); tolerance 1e-4 relative to each tensor's
/// largest magnitude.
@Suite struct PyTorchFixtureTests {
  static func architecture(outputs: Int, kind: ModelArchitecture.Kind = .ctc, pooling: Pooling = .mean) -> ModelArchitecture {
    var a = ModelArchitecture()
    a.kind = kind
    a.inputSize = 5
    a.hiddenSize = 4
    a.numLayers = 2
    a.outputSize = outputs
    a.pooling = pooling
    return a
  }

  @Test func ctcBiLSTMMatchesPyTorch() throws {
    let f = try NeuralFixture("ctc-bilstm")
    var model = SequenceModel(zerosWith: Self.architecture(outputs: 6))
    f.loadParameters(into: &model)
    let lengths = f.ints("lengths")
    let batch = SequenceBatch(data: f.matrix("input"), lengths: lengths)
    var g = SeededGenerator(seed: 1)
    let (lp, cache) = model.forward(batch, training: true, generator: &g)
    expectClose(validRows(lp.data, lengths: lengths), validRows(f.matrix("log_probs"), lengths: lengths), "log_probs")
    // Inference path gives the same numbers.
    expectClose(validRows(model.logProbabilities(batch).data, lengths: lengths),
                validRows(f.matrix("log_probs"), lengths: lengths), "log_probs (inference)")

    let targets = splitTargets(f.ints("targets"), lengths: f.ints("target_lengths"))
    let ctc = CTCLoss(blank: 0, reduction: .mean)(lp, targets: targets)
    expectClose([ctc.loss], [f.scalar("loss")], "loss")
    expectClose(ctc.sequenceLosses, f.values("sequence_losses"), "sequence losses")

    var grads = model.zeroGradients()
    let dx = model.backward(ctc.gradient, cache: cache, into: &grads)
    for p in grads.namedParameters {
      expectClose(grads[keyPath: p.path].data, f.values("grad." + p.name), "grad.\(p.name)")
    }
    expectClose(dx, f.matrix("grad.input"), "grad.input")

    let norm = clipGradientNorm(&grads, maxNorm: 0.05)
    expectClose([norm], [f.scalar("clip.total_norm")], "clip_grad_norm_ total norm")
    for p in grads.namedParameters {
      expectClose(grads[keyPath: p.path].data, f.values("clipped." + p.name), "clipped.\(p.name)")
    }
  }

  @Test(arguments: [("mean", "plain"), ("mean", "zero_infinity"), ("sum", "plain"),
                    ("sum", "zero_infinity"), ("none", "plain"), ("none", "zero_infinity")])
  func ctcLossMatchesPyTorch(reduction: String, mode: String) throws {
    let f = try NeuralFixture("ctc-only")
    let lengths = f.ints("lengths")
    let batch = SequenceBatch(data: f.matrix("log_probs"), lengths: lengths)
    let targets = splitTargets(f.ints("targets"), lengths: f.ints("target_lengths"))
    let loss = CTCLoss(blank: 2, reduction: CTCLoss.Reduction(rawValue: reduction)!,
                       zeroInfinity: mode == "zero_infinity")
    let r = loss(batch, targets: targets)
    let key = "\(reduction).\(mode)"
    let expected = f.values("loss." + key)
    if reduction == "none" {
      #expect(r.sequenceLosses.map(\.isInfinite) == expected.map(\.isInfinite), "\(key): which losses are infinite")
      expectClose(r.sequenceLosses.map { $0.isFinite ? $0 : 0 }, expected.map { $0.isFinite ? $0 : 0 }, "loss.\(key)")
    } else if expected[0].isInfinite {
      #expect(r.loss.isInfinite, "loss.\(key): \(r.loss), expected inf")
    } else {
      expectClose([r.loss], expected, "loss.\(key)")
    }
    if mode == "zero_infinity" {
      // PyTorch reports w (p - q), our gradient through log-softmax.
      let viaSoftmax = logSoftmaxBackward(output: batch.data, gradient: r.gradient)
      expectClose(validRows(viaSoftmax, lengths: lengths), validRows(f.matrix("grad." + key), lengths: lengths), "grad.\(key)")
    }
  }

  @Test(arguments: Pooling.allCases)
  func classifierMatchesPyTorch(pooling: Pooling) throws {
    let f = try NeuralFixture("classifier-\(pooling.rawValue)")
    var model = SequenceClassifier(zerosWith: Self.architecture(outputs: 3, kind: .classifier, pooling: pooling))
    f.loadParameters(into: &model)
    let batch = SequenceBatch(data: f.matrix("input"), lengths: f.ints("lengths"))
    var g = SeededGenerator(seed: 1)
    let (lp, cache) = model.forward(batch, training: true, generator: &g)
    expectClose(lp, f.matrix("log_probs"), "log_probs")
    let (loss, dlp) = negativeLogLikelihood(lp, labels: f.ints("labels"))
    expectClose([loss], [f.scalar("loss")], "loss")
    var grads = model.zeroGradients()
    let dx = model.backward(dlp, cache: cache, into: &grads)
    for p in grads.namedParameters {
      expectClose(grads[keyPath: p.path].data, f.values("grad." + p.name), "grad.\(p.name)")
    }
    expectClose(dx, f.matrix("grad.input"), "grad.input")
  }

  /// Two tensors "w" (3, 4) and "b" (4) as a Parameterized value.
  struct Pair: Parameterized {
    var w = Matrix(rows: 3, cols: 4)
    var b = Matrix(rows: 1, cols: 4)
    var namedParameters: [NamedParameter<Pair>] {
      [NamedParameter(name: "w", shape: [3, 4], path: \.w), NamedParameter(name: "b", shape: [4], path: \.b)]
    }
  }

  @Test(arguments: ["adam", "adamw"])
  func optimizerMatchesPyTorch(name: String) throws {
    let f = try NeuralFixture("optimizers")
    func pair(_ prefix: String) -> Pair {
      var p = Pair()
      p.w.data = f.values(prefix + ".w")
      p.b.data = f.values(prefix + ".b")
      return p
    }
    var options = AdamOptions()
    options.learningRate = 0.1
    options.beta1 = 0.8
    options.beta2 = 0.95
    options.epsilon = 1e-3
    options.weightDecay = 0.05
    options.decoupledWeightDecay = name == "adamw"
    var adam = Adam(options: options)
    var params = pair("start")
    for step in 1...3 {
      adam.update(&params, gradients: pair("grad\(step)"))
      let expected = pair("\(name).step\(step)")
      expectClose(params.w.data, expected.w.data, rtol: 1e-5, "\(name) step \(step) w")
      expectClose(params.b.data, expected.b.data, rtol: 1e-5, "\(name) step \(step) b")
    }
    #expect(adam.step == 3)
  }
}

/// A file written by scripts/torch_export.py loads as a ``SequenceModel`` and reproduces
/// PyTorch's log-probabilities within 1e-4 relative.
@Test func exportedModelLoadsAndMatchesPyTorch() throws {
  let path = fixtureDirectory.appendingPathComponent("exported-ctc.safetensors").path
  let model = try SequenceModel(contentsOf: path)
  #expect(model.architecture.inputSize == 5 && model.architecture.hiddenSize == 4)
  #expect(model.architecture.numLayers == 2 && model.architecture.outputSize == 6)
  #expect(model.metadata["tokens"] == #"["<blank>", "a", "b", "c", "d", "e"]"#)
  let f = try NeuralFixture("exported-ctc-expected")
  expectClose(model.logProbabilities(features: f.matrix("input")), f.matrix("log_probs"), "log_probs")
}
