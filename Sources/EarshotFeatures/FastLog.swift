/// Natural logarithm of `max(x, floor)` for each of `count` values, in place, eight lanes at
/// a time: `x = m * 2^e` with m in [sqrt(1/2), sqrt(2)), `ln m = 2 atanh(s)`,
/// `s = (m - 1) / (m + 1)`, by its odd series to s^11 (|s| <= 0.172, truncation < 1e-9).
/// Max relative error against `Foundation.log` in tests: 2.4e-7 (about 2 ulp), enough for the
/// 1e-3 dB parity budget; 8-15x faster than `logf` per value.
///
/// `floor` must be a positive normal number; NaN and infinity are not expected (the audio
/// layer rejects them).
@inline(__always)
func logInPlace(_ values: UnsafeMutablePointer<Float>, count: Int, floor: Float) {
  precondition(floor.isNormal && floor > 0, "floor \(floor) must be a positive normal number")
  let lanes = 8
  var i = 0
  let floorVector = SIMD8<Float>(repeating: floor)
  while i + lanes <= count {
    let x = UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
    let y = logVector(x.replacing(with: floorVector, where: x .< floorVector))
    UnsafeMutableRawPointer(values + i).storeBytes(of: y, as: SIMD8<Float>.self)
    i += lanes
  }
  if i < count {
    var x = SIMD8<Float>(repeating: 1)
    for j in 0..<(count - i) { x[j] = max(values[i + j], floor) }
    let y = logVector(x)
    for j in 0..<(count - i) { values[i + j] = y[j] }
  }
}

@inline(__always)
func logVector(_ x: SIMD8<Float>) -> SIMD8<Float> {
  let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
  var exponent = SIMD8<Int32>(truncatingIfNeeded: (bits &>> 23) & 0xFF) &- 127
  // Mantissa with exponent 0: in [1, 2).
  var mantissa = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F80_0000, to: SIMD8<Float>.self)
  // Move it into [sqrt(1/2), sqrt(2)) so that |s| stays small.
  let big = mantissa .> SIMD8<Float>(repeating: 1.414_213_5)
  mantissa = mantissa.replacing(with: mantissa * 0.5, where: big)
  exponent = exponent.replacing(with: exponent &+ 1, where: big)
  let s = (mantissa - 1) / (mantissa + 1)
  let s2 = s * s
  var series = SIMD8<Float>(repeating: 1.0 / 11)
  series = series * s2 + 1.0 / 9
  series = series * s2 + 1.0 / 7
  series = series * s2 + 1.0 / 5
  series = series * s2 + 1.0 / 3
  series = series * s2 + 1
  let e = SIMD8<Float>(exponent)
  // ln 2 split in two so that e * ln 2 keeps full precision for large exponents.
  return e * 0.693_145_751_953_125 + (2 * s * series + e * 1.428_606_765_330_187e-6)
}
