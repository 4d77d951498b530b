/// Reads typed values from a fuzzer's bytes, front to back; an exhausted input reads zeros.
///
/// Numbers come mostly from a list of interesting values (the caller's `typical`, plus the
/// edge cases every number shares), sometimes from raw bytes, so that the fuzzer reaches both
/// valid configurations and absurd ones.
public struct FuzzInput {
  private let bytes: UnsafeBufferPointer<UInt8>
  private var position = 0

  public init(_ data: UnsafePointer<UInt8>, _ size: Int) { bytes = UnsafeBufferPointer(start: data, count: size) }

  /// Bytes not read yet.
  public var remaining: Int { bytes.count - position }

  public mutating func byte() -> UInt8 {
    guard position < bytes.count else { return 0 }
    defer { position += 1 }
    return bytes[position]
  }

  public mutating func bool() -> Bool { byte() & 1 == 1 }

  /// `count` bytes as a little-endian unsigned integer.
  public mutating func bits(_ count: Int) -> UInt64 {
    var value: UInt64 = 0
    for i in 0..<count { value |= UInt64(byte()) << (8 * UInt64(i)) }
    return value
  }

  /// One of `choices`.
  public mutating func pick<T>(_ choices: [T]) -> T { choices[Int(byte()) % choices.count] }

  /// Mostly one of `typical` or an edge case (0, 1, -1, huge, Int.min, Int.max); sometimes
  /// 16 random bits; rarely any Int.
  public mutating func int(_ typical: [Int]) -> Int {
    let selector = byte()
    switch selector {
    case 0..<200: return (typical + [0, 1, -1, 1 << 30, Int.min, Int.max])[Int(selector) % (typical.count + 6)]
    case 200..<245: return Int(bits(2))
    default: return Int(truncatingIfNeeded: bits(8))
    }
  }

  /// Mostly one of `typical` or an edge case (0, -1, NaN, +-infinity, a denormal, the largest
  /// Float); sometimes any bit pattern.
  public mutating func float(_ typical: [Float]) -> Float {
    let edges: [Float] = [0, -1, .nan, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
    let selector = byte()
    if selector < 220 { return (typical + edges)[Int(selector) % (typical.count + edges.count)] }
    return Float(bitPattern: UInt32(truncatingIfNeeded: bits(4)))
  }

  /// A sample: mostly in [-1, 1], sometimes NaN, infinite, denormal or huge.
  public mutating func sample() -> Float {
    let b = byte()
    if b < 248 { return Float(Int(b) - 124) / 124 }
    return [Float.nan, .infinity, -.infinity, .leastNonzeroMagnitude, -Float.leastNormalMagnitude / 2, 1e30, 1e-30, 0][
      Int(b - 248)]
  }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

/// Hands the process over to libFuzzer's driver with `target` as the function under test.
///
/// SwiftPM links an executable's entry point as `<Target>_main`; built with
/// `-parse-as-library` there is no Swift main, so each target defines that symbol and calls this.
public func runLibFuzzer(
  _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
  _ target: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32 {
  var count = argc
  var arguments = argv
  return LLVMFuzzerRunDriver(&count, &arguments, target)
}

/// Stops the run with `message`: a broken contract is a crash libFuzzer records.
public func contractViolated(_ message: String) -> Never {
  fatalError("contract violated: \(message)")
}
