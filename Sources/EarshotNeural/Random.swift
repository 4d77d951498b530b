/// A seeded, reproducible random number generator: xoshiro256** seeded through SplitMix64.
///
/// The same seed gives the same stream on every platform and Swift version (the system
/// generator does not promise that). Used for initialisation, dropout masks and shuffling.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var s0, s1, s2, s3: UInt64

  /// A generator whose whole stream is determined by `seed`.
  public init(seed: UInt64) {
    var x = seed
    func splitMix() -> UInt64 {
      x &+= 0x9E37_79B9_7F4A_7C15
      var z = x
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
  }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    let result = rotl(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 45)
    return result
  }

  @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  /// A uniform Float in [0, 1) with 24 random bits.
  public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

  /// A uniform Double in [0, 1) with 53 random bits.
  public mutating func nextUnitDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// A uniform Float in [low, high).
  public mutating func uniform(_ low: Float, _ high: Float) -> Float {
    low + (high - low) * nextUnitFloat()
  }

  /// A standard normal sample (Box-Muller), mean 0, variance 1.
  public mutating func normal() -> Float {
    let u1 = max(nextUnitDouble(), 0x1p-60)
    let u2 = nextUnitDouble()
    return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
  }

  /// A `rows` x `cols` matrix of uniform samples in [low, high).
  public mutating func uniformMatrix(rows: Int, cols: Int, _ low: Float, _ high: Float) -> Matrix {
    var m = Matrix(rows: rows, cols: cols)
    for i in 0..<m.data.count { m.data[i] = uniform(low, high) }
    return m
  }

  /// A `rows` x `cols` matrix of standard normal samples.
  public mutating func normalMatrix(rows: Int, cols: Int) -> Matrix {
    var m = Matrix(rows: rows, cols: cols)
    for i in 0..<m.data.count { m.data[i] = normal() }
    return m
  }
}
