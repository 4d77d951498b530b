import Foundation

/// A named n-dimensional Float32 array, as stored in a safetensors file.
public struct Tensor: Equatable, Sendable {
  /// Dimensions, outermost first; `[]` is a scalar.
  public var shape: [Int]
  /// `shape.reduce(1, *)` values, row-major.
  public var values: [Float]

  /// A tensor over `values`, whose count must be the product of `shape`.
  public init(shape: [Int], values: [Float]) {
    precondition(shape.reduce(1, *) == values.count,
      "Tensor: \(values.count) values for shape \(shape)")
    self.shape = shape
    self.values = values
  }

  /// A 2-D tensor from a matrix, or 1-D (`[cols]`) when `vector` is true.
  public init(_ m: Matrix, vector: Bool = false) {
    self.init(shape: vector ? [m.data.count] : [m.rows, m.cols], values: m.data)
  }

  /// The values as a matrix: 2-D as is, 1-D as one row, n-D as (shape[0], the rest).
  public var matrix: Matrix {
    switch shape.count {
    case 0: return Matrix(rows: 1, cols: 1, data: values)
    case 1: return Matrix(rows: 1, cols: shape[0], data: values)
    default: return Matrix(rows: shape[0], cols: shape.dropFirst().reduce(1, *), data: values)
    }
  }
}

/// A safetensors file in memory: tensors by name plus the optional `__metadata__` map.
///
/// The format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {"key": "value"}}`, then the raw little-endian data; offsets are relative
/// to the end of the header. Reading accepts F32, F16, BF16 and F64 (converted to Float);
/// writing always writes F32, tensors sorted by name, header padded with spaces to 8 bytes.
/// Files written here load with `safetensors.torch.load_file`.
public struct SafeTensors: Sendable {
  /// The tensors by name.
  public var tensors: [String: Tensor]
  /// The `__metadata__` string map (empty when the file has none).
  public var metadata: [String: String]

  /// Largest header this reader accepts: 100 MB (the reference implementation's limit).
  public static let maxHeaderLength = 100_000_000

  /// An in-memory file.
  public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  /// Reads and validates the file at `path`.
  public init(contentsOf path: String) throws(ModelError) {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw .cannotAccess(path: path, reason: (error as NSError).localizedDescription)
    }
    try self.init(bytes: [UInt8](data), name: path)
  }

  /// Parses safetensors bytes; `name` is the file name used in error messages.
  public init(bytes: [UInt8], name: String) throws(ModelError) {
    func bad(_ reason: String) -> ModelError { .malformed(path: name, reason: reason) }
    guard bytes.count >= 8 else { throw bad("\(bytes.count) bytes, shorter than the 8-byte header length") }
    var n: UInt64 = 0
    for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
    guard n <= UInt64(Self.maxHeaderLength) else {
      throw bad("header length \(n) exceeds the \(Self.maxHeaderLength)-byte limit")
    }
    let headerLength = Int(n)
    guard 8 + headerLength <= bytes.count else {
      throw bad("header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
    }
    let json: Any
    do {
      json = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)]))
    } catch {
      throw bad("header is not valid JSON")
    }
    guard let header = json as? [String: Any] else { throw bad("header is not a JSON object") }
    let dataStart = 8 + headerLength
    let dataLength = bytes.count - dataStart
    var tensors: [String: Tensor] = [:]
    var metadata: [String: String] = [:]
    for (key, value) in header {
      if key == "__metadata__" {
        guard let map = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
        for (k, v) in map {
          guard let s = v as? String else { throw bad("__metadata__ value for '\(k)' is not a string") }
          metadata[k] = s
        }
        continue
      }
      guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
            let shapeAny = entry["shape"] as? [Any], let offsetsAny = entry["data_offsets"] as? [Any]
      else { throw bad("tensor '\(key)' lacks dtype, shape or data_offsets") }
      let shape = shapeAny.compactMap { ($0 as? NSNumber).map { $0.intValue } }
      let offsets = offsetsAny.compactMap { ($0 as? NSNumber).map { $0.intValue } }
      guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 }) else {
        throw bad("tensor '\(key)' has shape \(shapeAny), expected non-negative integers")
      }
      guard offsets.count == 2, offsets.count == offsetsAny.count, offsets[0] >= 0, offsets[0] <= offsets[1] else {
        throw bad("tensor '\(key)' has data_offsets \(offsetsAny), expected [begin, end] with 0 <= begin <= end")
      }
      guard offsets[1] <= dataLength else {
        throw bad("tensor '\(key)' ends at byte \(offsets[1]) of the data, which has \(dataLength) bytes (truncated file?)")
      }
      let width: Int
      switch dtype {
      case "F32": width = 4
      case "F16", "BF16": width = 2
      case "F64": width = 8
      default: throw .unsupportedDType(path: name, tensor: key, dtype: dtype)
      }
      var count = 1
      for d in shape {
        let (p, overflow) = count.multipliedReportingOverflow(by: d)
        guard !overflow, p <= dataLength else { throw bad("tensor '\(key)' has shape \(shape), larger than the file") }
        count = p
      }
      guard offsets[1] - offsets[0] == count * width else {
        throw bad("tensor '\(key)' is \(dtype) \(shape) = \(count * width) bytes, its data_offsets span \(offsets[1] - offsets[0])")
      }
      let base = dataStart + offsets[0]
      var values = [Float](repeating: 0, count: count)
      bytes.withUnsafeBufferPointer { p in
        for i in 0..<count {
          let o = base + i * width
          switch dtype {
          case "F32":
            values[i] = Float(bitPattern: UInt32(p[o]) | UInt32(p[o + 1]) << 8 | UInt32(p[o + 2]) << 16 | UInt32(p[o + 3]) << 24)
          case "F16":
            values[i] = Float(Float16Bits(UInt16(p[o]) | UInt16(p[o + 1]) << 8))
          case "BF16":
            values[i] = Float(bitPattern: (UInt32(p[o]) | UInt32(p[o + 1]) << 8) << 16)
          default:
            var bits: UInt64 = 0
            for j in 0..<8 { bits |= UInt64(p[o + j]) << (8 * UInt64(j)) }
            values[i] = Float(Double(bitPattern: bits))
          }
        }
      }
      tensors[key] = Tensor(shape: shape, values: values)
    }
    self.init(tensors: tensors, metadata: metadata)
  }

  /// The file's bytes: F32 tensors sorted by name, header padded with spaces to 8 bytes.
  public func serialized() -> [UInt8] {
    var header = "{"
    var parts: [String] = []
    if !metadata.isEmpty {
      let entries = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
      parts.append("\"__metadata__\":{\(entries.joined(separator: ","))}")
    }
    var offset = 0
    let names = tensors.keys.sorted()
    for name in names {
      let t = tensors[name]!
      let end = offset + 4 * t.values.count
      parts.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
      offset = end
    }
    header += parts.joined(separator: ",") + "}"
    var headerBytes = Array(header.utf8)
    while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
    var out: [UInt8] = []
    out.reserveCapacity(8 + headerBytes.count + offset)
    let n = UInt64(headerBytes.count)
    for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
    out += headerBytes
    for name in names {
      for v in tensors[name]!.values {
        let b = v.bitPattern
        out += [UInt8(truncatingIfNeeded: b), UInt8(truncatingIfNeeded: b >> 8),
                UInt8(truncatingIfNeeded: b >> 16), UInt8(truncatingIfNeeded: b >> 24)]
      }
    }
    return out
  }

  /// Writes ``serialized()`` to `path` atomically.
  public func write(to path: String) throws(ModelError) {
    do {
      try Data(serialized()).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw .cannotAccess(path: path, reason: (error as NSError).localizedDescription)
    }
  }
}

/// IEEE half-precision bits to Float (normal, subnormal, inf and NaN), without relying on the
/// platform's `Float16`.
private func Float16Bits(_ h: UInt16) -> Float {
  let sign: Float = (h & 0x8000) != 0 ? -1 : 1
  let exponent = Int((h >> 10) & 0x1F)
  let mantissa = Float(h & 0x3FF)
  switch exponent {
  case 0: return sign * mantissa * 0x1p-24
  case 31: return mantissa == 0 ? sign * .infinity : .nan
  default: return sign * (1 + mantissa / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
  }
}

/// A JSON string literal for `s`, escaped by Foundation's encoder.
func jsonString(_ s: String) -> String {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.withoutEscapingSlashes]
  return String(decoding: (try? encoder.encode(s)) ?? Data("\"\"".utf8), as: UTF8.self)
}
