import Foundation

/// Analysis window shapes.
public enum WindowKind: String, Codable, Sendable, CaseIterable {
  /// `0.5 - 0.5 cos(2 pi n / D)`; `scipy.signal.get_window("hann")`.
  case hann
  /// `0.54 - 0.46 cos(2 pi n / D)`; `scipy.signal.get_window("hamming")`.
  case hamming
  /// Kaldi's `(0.5 - 0.5 cos(2 pi n / (N - 1)))^0.85`; always symmetric.
  case povey
  /// All ones (`"boxcar"` in scipy).
  case rectangular

  /// The window's `length` coefficients, computed in Double.
  ///
  /// - Parameters:
  ///   - length: samples, >= 1.
  ///   - periodic: true divides by `length` (an FFT window, scipy's `fftbins=True`, librosa's
  ///     choice); false divides by `length - 1` (symmetric, Kaldi's choice). Ignored by `povey`.
  public func coefficients(length: Int, periodic: Bool = true) -> [Float] {
    precondition(length >= 1, "window length \(length) < 1")
    if length == 1 { return [1] }
    let denominator = Double(periodic && self != .povey ? length : length - 1)
    return (0..<length).map { n in
      let phase = 2 * Double.pi * Double(n) / denominator
      switch self {
      case .hann: return Float(0.5 - 0.5 * cos(phase))
      case .hamming: return Float(0.54 - 0.46 * cos(phase))
      case .povey: return Float(pow(0.5 - 0.5 * cos(phase), 0.85))
      case .rectangular: return 1
      }
    }
  }
}
