import Foundation

@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation.cos(x) }

/// Vectorised exp for 8 floats: Cephes-style range reduction `x = n ln2 + r` and a degree-6
/// polynomial for `exp(r)`; relative error below 2e-7 over [-87, 88], and 0 / +inf beyond.
///
/// Computed as two 4-lane halves: with baseline x86-64 (SSE2) code, 8-lane masks are split
/// and repacked around every select, while 4-lane compares and selects map to single
/// instructions (cmpps, minps/maxps, and/andn/or).
@inline(__always)
func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
  SIMD8(lowHalf: exp4(x.lowHalf), highHalf: exp4(x.highHalf))
}

@inline(__always)
func exp4(_ x: SIMD4<Float>) -> SIMD4<Float> {
  let hi = SIMD4<Float>(repeating: 88.3762626647949)
  let lo = SIMD4<Float>(repeating: -87.3365447504019)
  // clamp with selects (SIMD.clamped is not inlined and costs a call per vector)
  var v = x.replacing(with: hi, where: x .> hi)
  v.replace(with: lo, where: v .< lo)
  // n = round(x / ln2), through the 1.5 * 2^23 trick (the integer lands in the low mantissa bits)
  let magic = SIMD4<Float>(repeating: 0x1.8p23)
  let t = v * 1.44269504088896341 + magic
  let n = t - magic
  let ni = unsafeBitCast(t, to: SIMD4<Int32>.self) &- unsafeBitCast(magic, to: SIMD4<Int32>.self)
  // r = x - n ln2, in two parts for accuracy
  v = v - n * 0.693359375
  v = v + n * 2.12194440e-4
  let r = v
  var p = SIMD4<Float>(repeating: 1.9875691500e-4)
  p = p * r + 1.3981999507e-3
  p = p * r + 8.3334519073e-3
  p = p * r + 4.1665795894e-2
  p = p * r + 1.6666665459e-1
  p = p * r + 5.0000001201e-1
  p = p * (r * r) + r + 1
  // scale by 2^n through the exponent bits
  let scale = unsafeBitCast((ni &+ 127) &<< 23, to: SIMD4<Float>.self)
  var result = p * scale
  result.replace(with: 0, where: x .< lo)
  result.replace(with: .infinity, where: x .> hi)
  return result
}

@inline(__always)
func sigmoid8(_ x: SIMD8<Float>) -> SIMD8<Float> {
  1 / (1 + exp8(-x))
}

/// tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|); absolute error below 3e-7.
@inline(__always)
func tanh8(_ x: SIMD8<Float>) -> SIMD8<Float> {
  let ax = x.replacing(with: -x, where: x .< 0)
  let e = exp8(-2 * ax)
  var t = (1 - e) / (1 + e)
  t.replace(with: -t, where: x .< 0)
  return t
}

@inline(__always) func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }

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

/// One LSTM cell for one sequence and step, in one pass over the gate row.
///
/// `row` holds the pre-activations [i f g o] (4 h floats); then
/// `c = f * c' + i * g` (`c = i * g` when `cellPrevious` is nil), `h = o * tanh(c)`.
/// `cellPrevious` may equal `cell` (the state updated in place). When `keepGates` is true the
/// activated gates are written back into `row` and tanh(c) into `tanhCell` (what backward needs).
@inline(__always)
func lstmCell(
  _ row: UnsafeMutablePointer<Float>, hiddenSize h: Int, cellPrevious cp: UnsafePointer<Float>?,
  cell c: UnsafeMutablePointer<Float>, tanhCell tc: UnsafeMutablePointer<Float>?,
  hidden hh: UnsafeMutablePointer<Float>, keepGates: Bool
) {
  var j = 0
  while j + 8 <= h {
    let i = sigmoid8(load8(row + j))
    let f = sigmoid8(load8(row + h + j))
    let g = tanh8(load8(row + 2 * h + j))
    let o = sigmoid8(load8(row + 3 * h + j))
    var cv = i * g
    if let cp { cv = f * load8(cp + j) + cv }
    let t = tanh8(cv)
    store8(cv, c + j)
    store8(o * t, hh + j)
    if keepGates {
      store8(i, row + j); store8(f, row + h + j); store8(g, row + 2 * h + j); store8(o, row + 3 * h + j)
      store8(t, tc! + j)
    }
    j += 8
  }
  while j < h {
    let i = sigmoid(row[j]), f = sigmoid(row[h + j])
    let g = Foundation.tanh(row[2 * h + j]), o = sigmoid(row[3 * h + j])
    var cv = i * g
    if let cp { cv = f * cp[j] + cv }
    let t = Foundation.tanh(cv)
    c[j] = cv
    hh[j] = o * t
    if keepGates {
      row[j] = i; row[h + j] = f; row[2 * h + j] = g; row[3 * h + j] = o
      tc![j] = t
    }
    j += 1
  }
}
