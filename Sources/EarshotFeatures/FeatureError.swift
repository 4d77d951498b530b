import Foundation

/// Why a feature pipeline could not be built or run.
public enum FeatureError: Error, Equatable, Sendable, CustomStringConvertible {
  /// An option is outside its allowed range; `expected` says what would be accepted.
  case invalidOption(name: String, value: String, expected: String)
  /// The signal is too short for the requested framing.
  case signalTooShort(samples: Int, needed: Int, reason: String)
  /// The signal gives too few frames for what follows the framing (deltas).
  case tooFewFrames(frames: Int, needed: Int, reason: String)
  /// A sample is NaN or infinite.
  case nonFiniteInput(index: Int)

  public var description: String {
    switch self {
    case .invalidOption(let name, let value, let expected):
      return "\(name) = \(value) is invalid; expected \(expected)"
    case .signalTooShort(let samples, let needed, let reason):
      return "signal has \(samples) samples, needs at least \(needed): \(reason)"
    case .tooFewFrames(let frames, let needed, let reason):
      return "signal gives \(frames) frames, needs at least \(needed): \(reason)"
    case .nonFiniteInput(let index):
      return "sample \(index) is NaN or infinite"
    }
  }
}

/// `localizedDescription` (Foundation's way to show an error) reads as `description` does.
extension FeatureError: LocalizedError {
  public var errorDescription: String? { description }
}
