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
    doubleCoefficients(length: length, periodic: periodic).map(Float.init)
  }

  /// ``coefficients(length:periodic:)`` unrounded: librosa multiplies frames by a float64
  /// window, so the spectral kinds do too (float32 coefficients, or a float32 product, leave
  /// a floor of rounding noise about 144 dB under a frame's loudest bin).
  public func doubleCoefficients(length: Int, periodic: Bool = true) -> [Double] {
    precondition(length >= 1, "window length \(length) < 1")
    if length == 1 { return [1] }
    let denominator = Double(periodic && self != .povey ? length : length - 1)
    return (0..<length).map { n -> Double in
      let phase = 2 * Double.pi * Double(n) / denominator
      switch self {
      case .hann: return 0.5 - 0.5 * cos(phase)
      case .hamming: return 0.54 - 0.46 * cos(phase)
      case .povey: return pow(0.5 - 0.5 * cos(phase), 0.85)
      case .rectangular: return 1
      }
    }
  }
}
