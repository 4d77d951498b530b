import Foundation

@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation.cos(x) }

/// Row-wise log-softmax: `y[r, c] = x[r, c] - log(sum_j exp(x[r, j]))`, computed stably.
///
/// Matches `torch.log_softmax(x, dim=-1)` within 1e-6.
public func logSoftmax(_ x: Matrix) -> Matrix {
  var y = x
  let cols = x.cols
  y.data.withUnsafeMutableBufferPointer { p in
    for r in 0..<x.rows {
      let row = p.baseAddress! + r * cols
      var m = -Float.infinity
      for c in 0..<cols { m = max(m, row[c]) }
      var s: Float = 0
      for c in 0..<cols { s += Foundation.exp(row[c] - m) }
      let lse = m + Foundation.log(s)
      for c in 0..<cols { row[c] -= lse }
    }
  }
  return y
}

/// Backward of ``logSoftmax(_:)``: `dx = dy - softmax(x) * sum_j dy[j]` per row,
/// where `softmax(x) = exp(y)` and `y` is the forward output.
public func logSoftmaxBackward(output y: Matrix, gradient dy: Matrix) -> Matrix {
  precondition(y.rows == dy.rows && y.cols == dy.cols,
    "logSoftmaxBackward: output \(y.shapeDescription), gradient \(dy.shapeDescription)")
  var dx = dy
  let cols = y.cols
  for r in 0..<y.rows {
    var s: Float = 0
    for c in 0..<cols { s += dy.data[r * cols + c] }
    for c in 0..<cols { dx.data[r * cols + c] -= Foundation.exp(y.data[r * cols + c]) * s }
  }
  return dx
}

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
  UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
