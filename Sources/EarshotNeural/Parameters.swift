/// One trainable tensor of a layer or model: its PyTorch name, its PyTorch shape and where it
/// lives.
///
/// Weights are stored as (out, in) matrices and biases as (1, n) matrices; `shape` is what
/// PyTorch and safetensors call it (`[out, in]` or `[n]`).
public struct NamedParameter<Root> {
  /// The `state_dict` key, e.g. `"lstm.weight_ih_l0_reverse"`.
  public let name: String
  /// The PyTorch shape: `[rows, cols]` for weights, `[cols]` for biases.
  public let shape: [Int]
  /// Where the matrix lives inside `Root`.
  public let path: WritableKeyPath<Root, Matrix>

  /// A parameter named `name` at `path` with PyTorch shape `shape`.
  public init(name: String, shape: [Int], path: WritableKeyPath<Root, Matrix>) {
    self.name = name
    self.shape = shape
    self.path = path
  }

  /// The same parameter seen from an enclosing type, its name prefixed with `prefix`.
  public func lifted<Outer>(_ outer: WritableKeyPath<Outer, Root>, prefix: String) -> NamedParameter<Outer> {
    NamedParameter<Outer>(name: prefix + name, shape: shape, path: outer.appending(path: path))
  }
}

/// A layer or model with trainable tensors; its gradients are a value of the same type.
///
/// Optimizers, gradient clipping and safetensors I/O work on any `Parameterized` value.
public protocol Parameterized {
  /// Every trainable tensor, in a fixed order, with PyTorch names.
  var namedParameters: [NamedParameter<Self>] { get }
}

extension Parameterized {
  /// A copy with every parameter set to zero: the gradient accumulator for this value.
  public func zeroGradients() -> Self {
    var g = self
    for p in namedParameters { g[keyPath: p.path].zero() }
    return g
  }

  /// Sets every parameter to zero in place (call between optimizer steps on a gradient value).
  public mutating func zeroAll() {
    for p in namedParameters { self[keyPath: p.path].zero() }
  }

  /// Number of scalar parameters.
  public var parameterCount: Int {
    namedParameters.reduce(0) { $0 + self[keyPath: $1.path].data.count }
  }

  /// The parameters by PyTorch name.
  public var stateDict: [String: Matrix] {
    var d: [String: Matrix] = [:]
    for p in namedParameters { d[p.name] = self[keyPath: p.path] }
    return d
  }
}
