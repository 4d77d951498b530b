import Testing
@testable import EarshotNeural

/// The cache-free inference path (``BiLSTM/callAsFunction(_:)``, ``LSTM/callAsFunction(_:)``)
/// against the training forward pass (itself checked against PyTorch fixtures), on shapes the
/// fixtures do not reach: sequences longer than one inference chunk, uneven lengths, hidden
/// sizes with and without a scalar tail, batch 1 (GEMV) and larger, 1 and 2 BLAS threads.
@Suite(.serialized) struct InferenceTests {
  @Test(arguments: [(12, [200, 37, 120]), (16, [300]), (8, [90, 90]), (5, [1, 260, 3, 70]), (10, [100]), (6, [256])])
  func inferenceMatchesTrainingForward(hiddenSize: Int, lengths: [Int]) {
    var g = SeededGenerator(seed: 7)
    let net = BiLSTM(inputSize: 6, hiddenSize: hiddenSize, numLayers: 2, generator: &g)
    let steps = lengths.max()!
    let input = SequenceBatch(data: g.normalMatrix(rows: steps * lengths.count, cols: 6), lengths: lengths)
    let saved = Neural.threads
    defer { Neural.setThreads(saved) }
    for threads in [1, 2] {
      Neural.setThreads(threads)
      let expected = net.forward(input, training: false, generator: &g).output.data
      let got = net(input).data
      expectClose(validRows(got, lengths: lengths), validRows(expected, lengths: lengths), rtol: 1e-6, atol: 1e-6,
                  "BiLSTM(hidden \(hiddenSize), lengths \(lengths), threads \(threads))")
      for r in 0..<got.rows where r / lengths.count >= lengths[r % lengths.count] {
        #expect(got.row(r).allSatisfy { $0 == 0 }, "padding row \(r) is not zero")
      }
      for layer in [net.forwardLayers[0], net.backwardLayers[0]] {
        expectClose(layer(input).data, layer.forward(input).output.data, rtol: 1e-6, atol: 1e-6,
                    "LSTM(reverse: \(layer.reverse), hidden \(hiddenSize), lengths \(lengths))")
      }
    }
  }

  /// Inference packs W_hh (and, for short inputs, W_ih) once and reuses them; a change to
  /// either (in place, through a key path as the optimiser writes, or by assignment) must be
  /// seen by the next call, and a copy made before the change keeps its own weights.
  @Test func changedWeightsAreRepacked() {
    var g = SeededGenerator(seed: 9)
    var layer = LSTM(inputSize: 4, hiddenSize: 8, generator: &g)
    let input = SequenceBatch(data: g.normalMatrix(rows: 30, cols: 4), lengths: [30])
    let before = layer(input).data
    let copy = layer
    layer[keyPath: \LSTM.weightHH].data[5] += 0.5
    expectClose(layer(input).data, layer.forward(input).output.data, rtol: 1e-6, atol: 1e-6, "after an in-place change")
    #expect(layer(input).data != before)
    layer.weightHH = g.normalMatrix(rows: 32, cols: 8)
    expectClose(layer(input).data, layer.forward(input).output.data, rtol: 1e-6, atol: 1e-6, "after an assignment")
    #expect(copy(input).data == before)
    let second = layer(input).data
    layer[keyPath: \LSTM.weightIH].data[3] -= 0.5
    expectClose(layer(input).data, layer.forward(input).output.data, rtol: 1e-6, atol: 1e-6, "after a change to W_ih")
    #expect(layer(input).data != second)
  }

  /// A classifier's log-probabilities (the encoder's inference path) equal its training
  /// forward pass without dropout, for every pooling, at batch 1 and with uneven lengths.
  @Test(arguments: Pooling.allCases)
  func classifierInferenceMatchesTrainingForward(pooling: Pooling) {
    var a = ModelArchitecture()
    a.kind = .classifier
    a.inputSize = 5
    a.hiddenSize = 7
    a.numLayers = 2
    a.outputSize = 4
    a.dropout = 0.3
    a.pooling = pooling
    var g = SeededGenerator(seed: 17)
    let model = SequenceClassifier(architecture: a, generator: &g)
    for lengths in [[40], [33, 12, 50]] {
      let batch = SequenceBatch(data: g.normalMatrix(rows: lengths.max()! * lengths.count, cols: 5), lengths: lengths)
      let expected = model.forward(batch, training: false, generator: &g).logProbabilities
      expectClose(model.logProbabilities(batch).data, expected.data, rtol: 1e-5, atol: 1e-6, "\(pooling), lengths \(lengths)")
    }
  }
}
