/// A fully connected layer, `y = x W^T + b`, PyTorch `nn.Linear` layout.
public struct Linear: Parameterized, Sendable {
  /// Features per input row.
  public let inputSize: Int
  /// Features per output row.
  public let outputSize: Int
  /// W, (outputSize, inputSize) (PyTorch `weight`).
  public var weight: Matrix
  /// b, (1, outputSize) (PyTorch `bias`).
  public var bias: Matrix

  /// A layer with PyTorch's default initialisation: `kaiming_uniform_(a=sqrt(5))` for W and
  /// uniform bias, which both come to uniform(-1/sqrt(inputSize), 1/sqrt(inputSize)).
  public init(inputSize: Int, outputSize: Int, generator: inout SeededGenerator) {
    precondition(inputSize >= 1 && outputSize >= 1,
      "Linear: inputSize \(inputSize) and outputSize \(outputSize) must be >= 1")
    self.inputSize = inputSize
    self.outputSize = outputSize
    let k = 1 / Float(inputSize).squareRoot()
    weight = generator.uniformMatrix(rows: outputSize, cols: inputSize, -k, k)
    bias = generator.uniformMatrix(rows: 1, cols: outputSize, -k, k)
  }

  /// A layer with all parameters zero.
  public init(inputSize: Int, outputSize: Int) {
    self.inputSize = inputSize
    self.outputSize = outputSize
    weight = Matrix(rows: outputSize, cols: inputSize)
    bias = Matrix(rows: 1, cols: outputSize)
  }

  /// `weight` and `bias`.
  public var namedParameters: [NamedParameter<Linear>] {
    [NamedParameter(name: "weight", shape: [outputSize, inputSize], path: \.weight),
     NamedParameter(name: "bias", shape: [outputSize], path: \.bias)]
  }

  /// x: (n, inputSize) -> (n, outputSize).
  public func callAsFunction(_ x: Matrix) -> Matrix {
    precondition(x.cols == inputSize, "Linear: input has \(x.cols) features, the layer expects \(inputSize)")
    var y = Matrix(rows: x.rows, cols: outputSize)
    y.data.withUnsafeMutableBufferPointer { p in
      for r in 0..<x.rows {
        (p.baseAddress! + r * outputSize).update(from: bias.data, count: outputSize)
      }
    }
    y.accumulateProduct(x, weight, transposeB: true, beta: 1)
    return y
  }

  /// dy: (n, outputSize) -> dx: (n, inputSize); adds dW = dy^T x and db = sum of dy rows
  /// into `grads`. `x` is the forward input.
  public func backward(_ dy: Matrix, input x: Matrix, into grads: inout Linear) -> Matrix {
    precondition(dy.rows == x.rows && dy.cols == outputSize,
      "Linear.backward: gradient \(dy.shapeDescription), input \(x.shapeDescription)")
    grads.weight.accumulateProduct(dy, x, transposeA: true, beta: 1)
    for r in 0..<dy.rows {
      for c in 0..<outputSize { grads.bias.data[c] += dy.data[r * outputSize + c] }
    }
    return dy.multiplied(by: weight)
  }
}
