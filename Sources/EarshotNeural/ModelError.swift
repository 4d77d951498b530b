import Foundation

/// Everything that can be wrong with a model file or its contents.
///
/// Each message names the file, the tensor or key, what was found and what was expected.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file cannot be opened, read or written; `reason` is the system's message.
  case cannotAccess(path: String, reason: String)
  /// The bytes are not a valid safetensors file (truncated, bad header, bad offsets...).
  case malformed(path: String, reason: String)
  /// A tensor has a dtype this reader does not convert.
  case unsupportedDType(path: String, tensor: String, dtype: String)
  /// A tensor the architecture needs is not in the file.
  case missingTensor(path: String, tensor: String)
  /// The file has a tensor the architecture does not use.
  case unexpectedTensor(path: String, tensor: String)
  /// A tensor's shape differs from the one the architecture implies.
  case shapeMismatch(path: String, tensor: String, found: [Int], expected: [Int])
  /// The metadata lacks a key or holds a value that cannot be used.
  case badMetadata(path: String, key: String, reason: String)

  public var description: String {
    func shape(_ s: [Int]) -> String { s.isEmpty ? "a scalar" : s.map(String.init).joined(separator: "x") }
    switch self {
    case let .cannotAccess(path, reason): return "\(path): \(reason)"
    case let .malformed(path, reason): return "\(path): not a valid safetensors file: \(reason)"
    case let .unsupportedDType(path, tensor, dtype):
      return "\(path): tensor '\(tensor)' has dtype \(dtype); expected F32, F16, BF16 or F64"
    case let .missingTensor(path, tensor):
      return "\(path): tensor '\(tensor)' is missing; the architecture in the metadata needs it"
    case let .unexpectedTensor(path, tensor):
      return "\(path): tensor '\(tensor)' is not part of the architecture in the metadata"
    case let .shapeMismatch(path, tensor, found, expected):
      return "\(path): tensor '\(tensor)' is \(shape(found)), the config says \(shape(expected))"
    case let .badMetadata(path, key, reason): return "\(path): metadata '\(key)': \(reason)"
    }
  }
}

/// `localizedDescription` (Foundation's way to show an error) reads as `description` does.
extension ModelError: LocalizedError {
  public var errorDescription: String? { description }
}
