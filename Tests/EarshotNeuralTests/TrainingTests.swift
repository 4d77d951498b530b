import Foundation
import Testing
@testable import EarshotNeural

@Suite struct TrainingTests {
  /// A toy transcription task: each label (1 or 2) is shown for 2-3 frames as a noisy one-hot
  /// in features 1-2, separated by 1-2 "silence" frames (feature 0); the target is the label
  /// sequence. Repeated labels occur and need the silence between them.
  static func toyBatch(_ g: inout SeededGenerator, size: Int) -> (SequenceBatch, [[Int]]) {
    var sequences: [Matrix] = []
    var targets: [[Int]] = []
    for _ in 0..<size {
      let labels = (0..<(1 + Int(g.next() % 3))).map { _ in 1 + Int(g.next() % 2) }
      var rows: [[Float]] = []
      func frame(_ k: Int) -> [Float] {
        var f = (0..<3).map { _ in 0.2 * g.normal() }
        f[k] += 1
        return f
      }
      for l in labels {
        for _ in 0..<(1 + Int(g.next() % 2)) { rows.append(frame(0)) }
        for _ in 0..<(2 + Int(g.next() % 2)) { rows.append(frame(l)) }
      }
      rows.append(frame(0))
      sequences.append(Matrix(rows))
      targets.append(labels)
    }
    return (SequenceBatch(sequences: sequences), targets)
  }

  static var toyArchitecture: ModelArchitecture {
    var a = ModelArchitecture()
    a.inputSize = 3
    a.hiddenSize = 8
    a.numLayers = 1
    a.outputSize = 3
    return a
  }

  /// Trains for `steps` Adam steps and returns the first and last mean losses.
  static func train(seed: UInt64, steps: Int) -> (first: Float, last: Float, model: SequenceModel) {
    var g = SeededGenerator(seed: seed)
    var model = SequenceModel(architecture: toyArchitecture, generator: &g)
    var options = AdamOptions()
    options.learningRate = 0.03
    var adam = Adam(options: options)
    var grads = model.zeroGradients()
    var losses: [Float] = []
    for _ in 0..<steps {
      let (batch, targets) = toyBatch(&g, size: 8)
      let (lp, cache) = model.forward(batch, training: true, generator: &g)
      let ctc = CTCLoss()(lp, targets: targets)
      losses.append(ctc.loss)
      grads.zeroAll()
      _ = model.backward(ctc.gradient, cache: cache, into: &grads)
      clipGradientNorm(&grads, maxNorm: 5)
      adam.update(&model, gradients: grads)
    }
    let k = 5
    let first = losses.prefix(k).reduce(0, +) / Float(k)
    let last = losses.suffix(k).reduce(0, +) / Float(k)
    return (first, last, model)
  }

  @Test func learnsToyTranscriptionTask() {
    let (first, last, model) = Self.train(seed: 42, steps: 150)
    // The mean loss of the last 5 steps is at least 5 times lower than of the first 5.
    #expect(last * 5 < first, "CTC loss went from \(first) to \(last)")
    // Greedy decoding of a fresh batch gets most sequences right.
    var g = SeededGenerator(seed: 4242)
    let (batch, targets) = Self.toyBatch(&g, size: 16)
    let lp = model.logProbabilities(batch)
    var correct = 0
    for b in 0..<16 {
      let seq = SequenceBatch(data: lp.data, lengths: lp.lengths).sequence(b)
      var out: [Int] = [], prev = -1
      for t in 0..<seq.rows {
        let best = (0..<3).max { seq[t, $0] < seq[t, $1] }!
        if best != prev && best != 0 { out.append(best) }
        prev = best
      }
      if out == targets[b] { correct += 1 }
    }
    #expect(correct >= 12, "\(correct) of 16 toy sequences decoded correctly")
  }

  @Test func seededTrainingIsReproducible() {
    let a = Self.train(seed: 9, steps: 3)
    let b = Self.train(seed: 9, steps: 3)
    #expect(a.model.stateDict == b.model.stateDict)
    let c = Self.train(seed: 10, steps: 3)
    #expect(a.model.stateDict != c.model.stateDict)
  }

  @Test func paddingNeverChangesResults() {
    var g = SeededGenerator(seed: 21)
    var arch = Self.toyArchitecture
    arch.numLayers = 2
    let model = SequenceModel(architecture: arch, generator: &g)
    let sequences = [g.normalMatrix(rows: 6, cols: 3), g.normalMatrix(rows: 2, cols: 3), g.normalMatrix(rows: 4, cols: 3)]
    let targets = [[1, 2], [1], [2, 2]]
    var batch = SequenceBatch(sequences: sequences)
    // Garbage in the padding rows.
    for r in 0..<batch.data.rows where !batch.isValid(row: r) {
      for c in 0..<3 { batch.data[r, c] = 1e3 * g.normal() }
    }
    let (lp, cache) = model.forward(batch, training: false, generator: &g)
    let ctc = CTCLoss(reduction: .sum)(lp, targets: targets)
    var grads = model.zeroGradients()
    let dx = model.backward(ctc.gradient, cache: cache, into: &grads)
    var summed = model.zeroGradients()
    for (b, s) in sequences.enumerated() {
      let single = SequenceBatch(sequences: [s])
      let (lps, cs) = model.forward(single, training: false, generator: &g)
      expectClose(lps.data, SequenceBatch(data: lp.data, lengths: lp.lengths).sequence(b), rtol: 1e-6, "log-probs of sequence \(b)")
      let r = CTCLoss(reduction: .sum)(lps, targets: [targets[b]])
      expectClose([r.loss], [ctc.sequenceLosses[b]], rtol: 1e-6, "loss of sequence \(b)")
      let dxs = model.backward(r.gradient, cache: cs, into: &summed)
      expectClose(dxs, SequenceBatch(data: dx, lengths: batch.lengths).sequence(b), rtol: 1e-5, "input gradient of sequence \(b)")
    }
    for p in grads.namedParameters {
      expectClose(grads[keyPath: p.path].data, summed[keyPath: p.path].data, rtol: 1e-5, "batch vs summed \(p.name)")
    }
    // Padding rows get zero input gradient.
    for r in 0..<dx.rows where !batch.isValid(row: r) { #expect(dx.row(r).allSatisfy { $0 == 0 }) }
  }

  @Test func dropoutOnlyInTrainingAndBetweenLayers() {
    var g = SeededGenerator(seed: 31)
    var net = BiLSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, dropout: 0.5, generator: &g)
    let x = SequenceBatch(data: g.normalMatrix(rows: 10, cols: 3), lengths: [5, 5])
    let inference = net(x)
    let (eval, _) = net.forward(x, training: false, generator: &g)
    #expect(eval == inference)
    let (train, cache) = net.forward(x, training: true, generator: &g)
    #expect(train != inference)
    #expect(cache.masks[0] != nil && cache.masks[1] == nil)
    let zeros = cache.masks[0]!.data.filter { $0 == 0 }.count
    #expect(zeros > 10 && zeros < 70, "\(zeros) of 80 dropped at p = 0.5")
    #expect(cache.masks[0]!.data.allSatisfy { $0 == 0 || $0 == 2 })
    net.dropout = 0
    let (noDrop, _) = net.forward(x, training: true, generator: &g)
    #expect(noDrop == inference)
  }

  @Test func adamDefaultsArePyTorchs() {
    let o = AdamOptions()
    #expect(o.learningRate == 1e-3 && o.beta1 == 0.9 && o.beta2 == 0.999 && o.epsilon == 1e-8)
    #expect(o.weightDecay == 0 && o.decoupledWeightDecay == false)
    let w = AdamOptions.adamW
    #expect(w.weightDecay == 0.01 && w.decoupledWeightDecay)
  }

  @Test func learningRateSchedule() {
    var s = LearningRateSchedule()
    #expect(s.peak == 1e-3 && s.warmupSteps == 0 && s.totalSteps == 10_000 && s.decay == .cosine && s.minimum == 0)
    s.peak = 1
    s.warmupSteps = 4
    s.totalSteps = 14
    s.decay = .linear
    #expect(s.learningRate(atStep: 0) == 0.25)
    #expect(s.learningRate(atStep: 3) == 1)
    #expect(abs(s.learningRate(atStep: 9) - 0.5) < 1e-6)
    #expect(s.learningRate(atStep: 14) == 0)
    #expect(s.learningRate(atStep: 100) == 0)
    s.decay = .cosine
    #expect(abs(s.learningRate(atStep: 9) - 0.5) < 1e-6)
    s.decay = .inverseSquareRoot
    #expect(abs(s.learningRate(atStep: 15) - 0.5) < 1e-6)
  }

  @Test func clipLeavesSmallGradientsAlone() {
    var l = Linear(inputSize: 2, outputSize: 1)
    l.weight.data = [3, 0]
    l.bias.data = [4]
    let n = clipGradientNorm(&l, maxNorm: 10)
    #expect(n == 5 && l.weight.data == [3, 0] && l.bias.data == [4])
    let n2 = clipGradientNorm(&l, maxNorm: 1)
    #expect(n2 == 5)
    #expect(abs(l.bias.data[0] - 0.8) < 1e-6)
  }

  @Test func initialisationIsPyTorchsUniform() {
    var g = SeededGenerator(seed: 1)
    let lstm = LSTM(inputSize: 10, hiddenSize: 16, generator: &g)
    let k: Float = 0.25
    for m in [lstm.weightIH, lstm.weightHH, lstm.biasIH, lstm.biasHH] {
      #expect(m.data.allSatisfy { abs($0) <= k })
      #expect(m.data.map { abs($0) }.max()! > 0.9 * k)
    }
    let fc = Linear(inputSize: 100, outputSize: 50, generator: &g)
    #expect(fc.weight.data.allSatisfy { abs($0) <= 0.1 })
    #expect(fc.weight.data.map { abs($0) }.max()! > 0.09)
  }
}
