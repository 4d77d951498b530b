// The only file of EarshotFeatures that imports CEarshotKernels: the vectorised C kernels of
// the spectrogram -> mel -> log path, one build per instruction set, picked once at run time.
import CEarshotKernels

/// One set of feature kernels, all compiled for one instruction set. Every set gives the same
/// bits as the others and as the scalar Swift code they replace (no fused multiply-adds, the
/// same summation order).
struct FeatureKernels: @unchecked Sendable {  // a pointer to a static, immutable table
  let table: UnsafePointer<ek_feature_kernels>

  /// Frames per block of the frame-parallel kernels.
  static let frameBlock = Int(EK_FRAME_BLOCK)
  /// The fastest set this CPU supports (`EARSHOT_KERNELS=portable|avx2` caps it).
  static let best = FeatureKernels(level: Int(ek_best_level()))
  /// Every distinct set this CPU can run, portable first.
  static var available: [FeatureKernels] {
    var all: [FeatureKernels] = []
    for level in Int(EK_LEVEL_PORTABLE)...Int(EK_LEVEL_AVX512) {
      let k = FeatureKernels(level: level)
      if !all.contains(where: { $0.level == k.level }) { all.append(k) }
    }
    return all
  }

  /// The set for `level` (0 portable, 1 AVX2, 2 AVX-512), lowered to what the CPU supports.
  init(level: Int) { table = ek_feature_kernels_for(Int32(level)) }

  /// The instruction-set level actually used.
  var level: Int { Int(table.pointee.level) }

  /// `out[f * ldout + i] = Double(x[f * hop + i]) * window[i]` for f < count, i < n.
  @inline(__always)
  func windowFrames(
    _ x: UnsafePointer<Float>, hop: Int, count: Int, window: UnsafePointer<Double>, length n: Int,
    into out: UnsafeMutablePointer<Double>, stride ldout: Int
  ) {
    table.pointee.window_frames(x, hop, count, window, n, out, ldout)
  }

  /// The last step of a real FFT of even length `2 * half` done as a complex FFT of length
  /// `half`, in place: `z` holds that FFT's `half` values (re, im) and room for one more, and
  /// ends with the real input's `half + 1` bins. `cosine[k] = cos(pi k / half)`, `sine[k] =
  /// sin(pi k / half)`, k <= half.
  @inline(__always)
  func realSplit(
    _ z: UnsafeMutablePointer<Double>, cosine: UnsafePointer<Double>, sine: UnsafePointer<Double>, half: Int
  ) {
    table.pointee.real_split(z, cosine, sine, half)
  }

  /// `realSplit` then `powerBlock` in one pass over `count` <= `frameBlock` complex FFTs of
  /// length `half` (frame f at `z + f * stride` doubles, left unchanged): bins 0...half of
  /// each frame, frame-parallel, `spectrum[k * frameBlock + f]`. The same bits as the two.
  @inline(__always)
  func splitPowerBlock(
    _ z: UnsafePointer<Double>, stride ldz: Int, cosine: UnsafePointer<Double>, sine: UnsafePointer<Double>,
    half: Int, count: Int, magnitude: Bool, into spectrum: UnsafeMutablePointer<Float>
  ) {
    table.pointee.split_power_block(z, ldz, cosine, sine, half, count, magnitude ? 1 : 0, spectrum)
  }

  /// |X_k|^2 (or |X_k| with `magnitude`) of `count` <= `frameBlock` spectra of `bins` complex
  /// values (frame f at `z + f * stride` doubles), frame-parallel: `spectrum[k * frameBlock + f]`.
  @inline(__always)
  func powerBlock(
    _ z: UnsafePointer<Double>, stride ldz: Int, bins: Int, count: Int, magnitude: Bool,
    into spectrum: UnsafeMutablePointer<Float>
  ) {
    table.pointee.power_block(z, ldz, bins, count, magnitude ? 1 : 0, spectrum)
  }

  /// The sparse filterbank over a frame-parallel spectrum block: (bins, frameBlock) ->
  /// (bands, frameBlock); band m covers bins `start[m] ..< start[m] + offsets[m + 1] - offsets[m]`.
  @inline(__always)
  func melBlock(
    _ spectrum: UnsafePointer<Float>, bands: Int, start: UnsafePointer<Int>, offsets: UnsafePointer<Int>,
    weights: UnsafePointer<Float>, into mel: UnsafeMutablePointer<Float>
  ) {
    table.pointee.mel_block(spectrum, bands, start, offsets, weights, mel)
  }

  /// What `melRows` does to each value.
  enum RowMode: Int32 {
    /// The value itself.
    case copy = 0
    /// `ln(max(v, floor))`.
    case naturalLog = 1
    /// `scale * ln(max(v, floor)) - offset`.
    case scaledLog = 2
  }

  /// Frame-parallel (bands, frameBlock) -> `count` time-major rows at `out` (`ldout` apart),
  /// through `mode`.
  @inline(__always)
  func melRows(
    _ mel: UnsafePointer<Float>, bands: Int, count: Int, mode: RowMode, floor: Float, scale: Float, offset: Float,
    into out: UnsafeMutablePointer<Float>, stride ldout: Int
  ) {
    table.pointee.mel_rows(mel, bands, count, mode.rawValue, floor, scale, offset, out, ldout)
  }

  /// `y[f * count + c] = sum_j basis[j * stride + c] * x[f * size + j]`, summed in order of j
  /// with a separate multiply and add; `stride` is a multiple of 16, the basis zero past `count`.
  @inline(__always)
  func dctRows(
    _ x: UnsafePointer<Float>, frames: Int, size: Int, basis: UnsafePointer<Float>, stride: Int, count: Int,
    into y: UnsafeMutablePointer<Float>
  ) {
    table.pointee.dct_rows(x, frames, size, basis, stride, count, y)
  }

  /// `ln(max(x, floor))` for `count` values in place; the same bits as `logInPlace`.
  @inline(__always)
  func logFloor(_ values: UnsafeMutablePointer<Float>, count: Int, floor: Float) {
    table.pointee.log_floor(values, count, floor)
  }
}
