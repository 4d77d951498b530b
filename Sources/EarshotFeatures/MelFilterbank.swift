import Foundation

/// Triangular filters over FFT bins, stored sparsely: band m covers bins
/// `start[m] ..< start[m] + weights[m].count`.
public struct MelFilterbank: Equatable, Sendable {
  /// FFT bins per spectrum row (`fftSize / 2 + 1`).
  public let spectrumBins: Int
  /// First non-zero bin of each band.
  public let start: [Int]
  /// Non-zero weights of each band.
  public let weights: [[Float]]
  /// All bands' weights in one array: band m is `flatWeights[offsets[m] ..< offsets[m + 1]]`.
  let flatWeights: [Float]
  let offsets: [Int]

  /// Number of bands.
  public var bands: Int { start.count }
  /// Bands no FFT bin falls in (all weights zero), whose output is always zero: too many
  /// bands for the FFT's resolution (librosa warns of "empty filters" then).
  public var emptyBands: Int { weights.count { !$0.contains { $0 > 0 } } }

  /// librosa's filterbank: `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm)`,
  /// computed in Double and rounded to Float as librosa does.
  public init(sampleRate: Int, fftSize: Int, options: MelOptions) throws(FeatureError) {
    let nyquist = Float(sampleRate) / 2
    let maxFrequency = options.maxFrequency ?? nyquist
    guard options.melBands >= 1 && options.melBands <= FeatureExtractor.maximumMelBands else {
      throw .invalidOption(name: "melBands", value: "\(options.melBands)", expected: "1...\(FeatureExtractor.maximumMelBands)")
    }
    guard options.minFrequency >= 0, options.minFrequency < maxFrequency else {
      throw .invalidOption(
        name: "minFrequency", value: "\(options.minFrequency)", expected: "0 <= minFrequency < maxFrequency (\(maxFrequency))")
    }
    guard maxFrequency <= nyquist + 1e-3 || options.maxFrequency == nil else {
      throw .invalidOption(name: "maxFrequency", value: "\(maxFrequency)", expected: "<= sampleRate / 2 (\(nyquist))")
    }
    let htk = options.scale == .htk
    let bins = fftSize / 2 + 1
    let fftFrequencies = (0..<bins).map { Double($0) * Double(sampleRate) / Double(fftSize) }
    let lowMel = Self.hzToMel(Double(options.minFrequency), htk: htk)
    let highMel = Self.hzToMel(Double(maxFrequency), htk: htk)
    let count = options.melBands + 2
    let edges = (0..<count).map { i in
      Self.melToHz(lowMel + (highMel - lowMel) * Double(i) / Double(count - 1), htk: htk)
    }
    var start: [Int] = []
    var weights: [[Float]] = []
    for m in 0..<options.melBands {
      let lower = edges[m], center = edges[m + 1], upper = edges[m + 2]
      let scale = options.normalization == .slaney ? 2 / (upper - lower) : 1
      // Only bins strictly inside (lower, upper) can be non-zero: visit those (with a bin of
      // margin) instead of all `bins`, which cost bands x bins (minutes for 2^20-point FFTs).
      let candidates = Self.bins(from: lower, to: upper, frequencies: fftFrequencies)
      var row = [Float](repeating: 0, count: candidates.count)
      for k in candidates {
        let rising = (fftFrequencies[k] - lower) / (center - lower)
        let falling = (upper - fftFrequencies[k]) / (upper - center)
        row[k - candidates.lowerBound] = Float(max(0, min(rising, falling)) * scale)
      }
      Self.appendNonZero(row, offset: candidates.lowerBound, start: &start, weights: &weights)
    }
    self.spectrumBins = bins
    self.start = start
    self.weights = weights
    (flatWeights, offsets) = Self.pack(weights)
  }

  /// Kaldi's filterbank (`MelBanks` in kaldi-native-fbank): triangles on the
  /// `1127 ln(1 + f / 700)` scale over the first `paddedLength / 2` bins, peak 1.
  init(kaldiSampleRate sampleRate: Int, paddedLength: Int, options: KaldiFbankOptions) throws(FeatureError) {
    let nyquist = Float(sampleRate) / 2
    let high = options.highFrequency > 0 ? options.highFrequency : nyquist + options.highFrequency
    guard options.melBands >= 3 && options.melBands <= FeatureExtractor.maximumMelBands else {
      throw .invalidOption(
        name: "melBands", value: "\(options.melBands)", expected: "3...\(FeatureExtractor.maximumMelBands) for a Kaldi filterbank")
    }
    guard options.lowFrequency >= 0, options.lowFrequency < high, high <= nyquist else {
      throw .invalidOption(
        name: "lowFrequency/highFrequency", value: "\(options.lowFrequency)/\(options.highFrequency)",
        expected: "0 <= low < high <= Nyquist (\(nyquist) Hz); high <= 0 counts down from Nyquist")
    }
    func mel(_ f: Double) -> Double { 1127 * log(1 + f / 700) }
    let fftBins = paddedLength / 2
    let binWidth = Double(sampleRate) / Double(paddedLength)
    let lowMel = mel(Double(options.lowFrequency))
    let highMel = mel(Double(high))
    let delta = (highMel - lowMel) / Double(options.melBands + 1)
    // Bin k's frequency, and the inverse of `mel`, to find each triangle's bins.
    let fftFrequencies = (0..<fftBins).map { binWidth * Double($0) }
    func hz(_ m: Double) -> Double { 700 * (exp(m / 1127) - 1) }
    var start: [Int] = []
    var weights: [[Float]] = []
    for b in 0..<options.melBands {
      let left = lowMel + Double(b) * delta
      let center = left + delta
      let right = center + delta
      let candidates = Self.bins(from: hz(left), to: hz(right), frequencies: fftFrequencies)
      var row = [Float](repeating: 0, count: candidates.count)
      for k in candidates {
        let m = mel(fftFrequencies[k])
        if m > left && m < right {
          row[k - candidates.lowerBound] = Float(m <= center ? (m - left) / (center - left) : (right - m) / (right - center))
        }
      }
      Self.appendNonZero(row, offset: candidates.lowerBound, start: &start, weights: &weights)
    }
    self.spectrumBins = fftBins + 1
    self.start = start
    self.weights = weights
    (flatWeights, offsets) = Self.pack(weights)
  }

  /// The indices of `frequencies` (ascending) in `low...high`, widened by one on each side
  /// against rounding, clipped to the array; empty if `high < low`.
  private static func bins(from low: Double, to high: Double, frequencies: [Double]) -> Range<Int> {
    func firstIndex(notBelow value: Double) -> Int {
      var low = 0, high = frequencies.count
      while low < high {
        let middle = (low + high) / 2
        if frequencies[middle] < value { low = middle + 1 } else { high = middle }
      }
      return low
    }
    let first = max(firstIndex(notBelow: low) - 1, 0)
    let end = min(firstIndex(notBelow: high) + 2, frequencies.count)
    return first..<max(first, end)
  }

  /// Appends the non-zero stretch of `row` (whose element 0 is bin `offset`) as one band.
  private static func appendNonZero(_ row: [Float], offset: Int, start: inout [Int], weights: inout [[Float]]) {
    let first = row.firstIndex { $0 != 0 } ?? 0
    let last = row.lastIndex { $0 != 0 } ?? -1
    start.append(last >= first ? offset + first : 0)
    weights.append(last >= first ? Array(row[first...last]) : [])
  }

  private static func pack(_ weights: [[Float]]) -> ([Float], [Int]) {
    var offsets = [0]
    for w in weights { offsets.append(offsets.last! + w.count) }
    return (weights.flatMap { $0 }, offsets)
  }

  /// The dense (bands, spectrumBins) matrix, row-major: `librosa.filters.mel`'s layout.
  public func denseMatrix() -> [Float] {
    var dense = [Float](repeating: 0, count: bands * spectrumBins)
    for m in 0..<bands {
      for (j, w) in weights[m].enumerated() { dense[m * spectrumBins + start[m] + j] = w }
    }
    return dense
  }

  /// `out[m] = sum_k W[m, k] * spectrum[k]`.
  @inline(__always)
  func apply(_ spectrum: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
    flatWeights.withUnsafeBufferPointer { w in
      for m in 0..<start.count {
        let s = spectrum + start[m]
        let weights = w.baseAddress! + offsets[m]
        let n = offsets[m + 1] - offsets[m]
        // Four partial sums break the add-latency chain of one accumulator.
        var a: Float = 0, b: Float = 0, c: Float = 0, d: Float = 0
        var j = 0
        while j + 4 <= n {
          a += weights[j] * s[j]
          b += weights[j + 1] * s[j + 1]
          c += weights[j + 2] * s[j + 2]
          d += weights[j + 3] * s[j + 3]
          j += 4
        }
        while j < n {
          a += weights[j] * s[j]
          j += 1
        }
        out[m] = (a + b) + (c + d)
      }
    }
  }

  /// Hz to mel: HTK `2595 log10(1 + f/700)` or Slaney (linear to 1 kHz, then log steps of
  /// `ln(6.4) / 27`), as `librosa.hz_to_mel`.
  public static func hzToMel(_ hz: Double, htk: Bool) -> Double {
    if htk { return 2595 * log10(1 + hz / 700) }
    let fSp = 200.0 / 3
    let minLogHz = 1000.0
    let minLogMel = minLogHz / fSp
    let logStep = log(6.4) / 27
    return hz >= minLogHz ? minLogMel + log(hz / minLogHz) / logStep : hz / fSp
  }

  /// Mel to Hz, the inverse of `hzToMel`.
  public static func melToHz(_ mel: Double, htk: Bool) -> Double {
    if htk { return 700 * (pow(10, mel / 2595) - 1) }
    let fSp = 200.0 / 3
    let minLogHz = 1000.0
    let minLogMel = minLogHz / fSp
    let logStep = log(6.4) / 27
    return mel >= minLogMel ? minLogHz * exp(logStep * (mel - minLogMel)) : fSp * mel
  }
}
