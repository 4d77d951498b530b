import CFFTW
import Foundation

// The one file that talks to FFTW.

/// FFTW's planner (and wisdom) is not thread-safe: every plan of this file, Double or Float,
/// is made under this lock. Executing a plan needs no lock.
private let fftwPlannerLock = NSLock()

/// A real-input FFT of a fixed size in Double precision, planned once (under a lock: FFTW's
/// planner is not thread-safe) and executed freely from any thread with per-caller buffers.
///
/// Double, not Float: a Float32 FFT's rounding error is relative to the frame's loudest bin,
/// so quiet bins 60 dB down come out with ~1e-3 relative error, which the MFCC lifter then
/// multiplies by up to 12 (measured: 1.9e-3 against librosa, which also transforms in Double).
///
/// An even size n runs as FFTW's complex transform of n / 2 points (even samples as the real
/// parts, odd ones as the imaginary) followed by the split into the n / 2 + 1 bins of the real
/// input (`FeatureKernels.realSplit`): on this machine FFTW's complex 256-point transform takes
/// 19 ms for 60,000 frames where its 512-point real transform takes 30 ms. Odd sizes use FFTW's
/// real transform.
final class RealFFT: @unchecked Sendable {
  /// Input length in samples.
  let size: Int
  /// Output bins: `size / 2 + 1`.
  var bins: Int { size / 2 + 1 }
  private let plan: fftw_plan
  /// Whether `plan` is the complex transform of `size / 2` points (even sizes).
  private let halfComplex: Bool
  /// cos(pi k / half) and sin(pi k / half), k = 0...half, for the split; empty for odd sizes.
  private let cosine: [Double]
  private let sine: [Double]
  private let kernels = FeatureKernels.best
  /// Whether `fftwWisdom` went to FFTW yet (read and written under `fftwPlannerLock`).
  nonisolated(unsafe) private static var wisdomImported = false

  init(size: Int) {
    precondition(size >= 1, "FFT size \(size) < 1")
    self.size = size
    let half = size / 2
    halfComplex = size % 2 == 0
    if halfComplex {
      // Angles as pi * k / half, not 2 pi k / size: the same value, one rounding fewer.
      cosine = (0...half).map { cos(Double.pi * Double($0) / Double(half)) }
      sine = (0...half).map { sin(Double.pi * Double($0) / Double(half)) }
    } else {
      cosine = []
      sine = []
    }
    fftwPlannerLock.lock()
    defer { fftwPlannerLock.unlock() }
    if !Self.wisdomImported {
      _ = fftw_import_wisdom_from_string(fftwWisdom)
      Self.wisdomImported = true
    }
    let input = fftw_alloc_real(size)!
    let output = fftw_alloc_complex(half + 1)!
    // FFTW_ESTIMATE: planning costs microseconds, not the milliseconds FFTW_MEASURE spends
    // timing candidates, which would dominate short files; with the imported wisdom the common
    // sizes get FFTW_PATIENT plans all the same (60,000 256-point transforms: 15-16 ms instead
    // of 18). Out of place, as every execution is.
    if halfComplex {
      plan = input.withMemoryRebound(to: fftw_complex.self, capacity: half) { z in
        fftw_plan_dft_1d(Int32(half), z, output, FFTW_FORWARD, UInt32(FFTW_ESTIMATE))!
      }
    } else {
      plan = fftw_plan_dft_r2c_1d(Int32(size), input, output, UInt32(FFTW_ESTIMATE))!
    }
    fftw_free(input)
    fftw_free(output)
  }

  /// Hands FFTW the plans measured on this project's machine for the common sizes
  /// (FFTWisdom.swift), as the first `RealFFT` does; false where FFTW rejects them (another
  /// FFTW version or build), and FFTW_ESTIMATE then plans every size.
  static func importWisdom() -> Bool {
    fftwPlannerLock.lock()
    defer { fftwPlannerLock.unlock() }
    return fftw_import_wisdom_from_string(fftwWisdom) != 0
  }

  /// The loaded FFTW's version string, e.g. "fftw-3.3.10-sse2-avx" (its `fftw_version`).
  static var libraryVersion: String? {
    dlsym(nil, "fftw_version").map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }
  }

  deinit {
    fftwPlannerLock.lock()
    fftw_destroy_plan(plan)
    fftwPlannerLock.unlock()
  }

  /// Runs the plan on the `size` real samples at `input` (allocated by FFTW or 64-byte aligned,
  /// as the plan's arrays were): odd sizes leave the spectrum's `bins` values at `output`, even
  /// sizes the complex half-length transform that the split turns into them.
  private func runPlan(_ input: UnsafeMutablePointer<Double>, _ output: UnsafeMutablePointer<fftw_complex>) {
    guard halfComplex else { return fftw_execute_dft_r2c(plan, input, output) }
    input.withMemoryRebound(to: fftw_complex.self, capacity: size / 2) { fftw_execute_dft(plan, $0, output) }
  }

  /// `body(cosine, sine)` with the split's twiddle tables.
  private func withTwiddles<R>(_ body: (UnsafePointer<Double>, UnsafePointer<Double>) -> R) -> R {
    cosine.withUnsafeBufferPointer { c in sine.withUnsafeBufferPointer { s in body(c.baseAddress!, s.baseAddress!) } }
  }

  /// The spectrum of the `size` real samples at `input` into the `bins` complex values at
  /// `output`.
  private func execute(_ input: UnsafeMutablePointer<Double>, _ output: UnsafeMutablePointer<fftw_complex>) {
    runPlan(input, output)
    guard halfComplex else { return }
    let half = size / 2
    output.withMemoryRebound(to: Double.self, capacity: 2 * (half + 1)) { z in
      withTwiddles { kernels.realSplit(z, cosine: $0, sine: $1, half: half) }
    }
  }

  /// Scratch memory for one thread's transforms, aligned as FFTW's plan expects.
  final class Buffers {
    /// `size` real samples: fill before `power(into:)`.
    let input: UnsafeMutablePointer<Double>
    fileprivate let output: UnsafeMutablePointer<fftw_complex>
    fileprivate let bins: Int

    init(size: Int) {
      input = fftw_alloc_real(size)!
      input.initialize(repeating: 0, count: size)
      bins = size / 2 + 1
      output = fftw_alloc_complex(bins)!
    }
    deinit {
      fftw_free(input)
      fftw_free(output)
    }
  }

  func makeBuffers() -> Buffers { Buffers(size: size) }

  /// Scratch for `count` transforms at once: inputs `inputStride` doubles apart, outputs
  /// `outputStride` doubles apart, both strides multiples of 8 doubles (64 bytes) so that every
  /// frame keeps the alignment the plan was made for.
  final class BlockBuffers {
    /// `count` inputs of `size` real samples, frame f at `input + f * inputStride`.
    let input: UnsafeMutablePointer<Double>
    /// `count` outputs of `size / 2 + 1` complex values (re, im), frame f at
    /// `output + f * outputStride`.
    let output: UnsafeMutablePointer<Double>
    let inputStride: Int
    let outputStride: Int
    let count: Int

    init(size: Int, count: Int) {
      self.count = count
      inputStride = (size + 7) / 8 * 8
      outputStride = (2 * (size / 2 + 1) + 7) / 8 * 8
      input = fftw_alloc_real(inputStride * count)!
      input.initialize(repeating: 0, count: inputStride * count)
      output = fftw_alloc_real(outputStride * count)!
      output.initialize(repeating: 0, count: outputStride * count)
    }
    deinit {
      fftw_free(input)
      fftw_free(output)
    }
  }

  func makeBlockBuffers(count: Int) -> BlockBuffers { BlockBuffers(size: size, count: count) }

  /// The power (or, with `magnitude`, the magnitude) spectra of the first `count` <=
  /// `FeatureKernels.frameBlock` inputs of `buffers`, frame-parallel: `spectrum[k * frameBlock
  /// + f]` for bin k of frame f. The same bits as `spectrum(_:power:into:)` frame by frame.
  func powerBlock(
    _ buffers: BlockBuffers, count: Int, magnitude: Bool, kernels: FeatureKernels,
    into spectrum: UnsafeMutablePointer<Float>
  ) {
    precondition(count <= buffers.count, "\(count) transforms, buffers hold \(buffers.count)")
    let outputs = buffers.outputStride / 2
    buffers.output.withMemoryRebound(to: fftw_complex.self, capacity: outputs * buffers.count) { out in
      for f in 0..<count { runPlan(buffers.input + f * buffers.inputStride, out + f * outputs) }
    }
    guard halfComplex else {
      return kernels.powerBlock(
        buffers.output, stride: buffers.outputStride, bins: bins, count: count, magnitude: magnitude, into: spectrum)
    }
    withTwiddles {
      kernels.splitPowerBlock(
        buffers.output, stride: buffers.outputStride, cosine: $0, sine: $1, half: size / 2, count: count,
        magnitude: magnitude, into: spectrum)
    }
  }

  /// Transforms `buffers.input` and writes `|X_k|^power` for k in 0...size/2 to `spectrum`.
  func spectrum(_ buffers: Buffers, power: Float, into spectrum: UnsafeMutablePointer<Float>) {
    execute(buffers.input, buffers.output)
    let count = buffers.bins
    buffers.output.withMemoryRebound(to: Double.self, capacity: 2 * count) { z in
      if power == 2 {
        for k in 0..<count { spectrum[k] = Float(z[2 * k] * z[2 * k] + z[2 * k + 1] * z[2 * k + 1]) }
      } else if power == 1 {
        for k in 0..<count { spectrum[k] = Float((z[2 * k] * z[2 * k] + z[2 * k + 1] * z[2 * k + 1]).squareRoot()) }
      } else {
        let half = Double(power) / 2
        for k in 0..<count { spectrum[k] = Float(pow(z[2 * k] * z[2 * k] + z[2 * k + 1] * z[2 * k + 1], half)) }
      }
    }
  }
}

/// Linear convolution through FFTW's single-precision real transforms: `x * h`, of length
/// `x.count + h.count - 1`. For long responses (a room's impulse response: thousands of taps)
/// where direct summation would cost `x.count * h.count` products. Plans are made once per
/// transform size (a power of two) and shared; any thread may call.
public enum Convolution {
  /// Forward and inverse plans per transform size (read and written under `fftwPlannerLock`).
  nonisolated(unsafe) private static var plans: [Int: (forward: fftwf_plan, inverse: fftwf_plan)] = [:]

  private static func plans(size: Int) -> (forward: fftwf_plan, inverse: fftwf_plan) {
    fftwPlannerLock.lock()
    defer { fftwPlannerLock.unlock() }
    if let p = plans[size] { return p }
    let real = fftwf_alloc_real(size)!
    let spectrum = fftwf_alloc_complex(size / 2 + 1)!
    defer {
      fftwf_free(real)
      fftwf_free(spectrum)
    }
    let flags = UInt32(FFTW_ESTIMATE | FFTW_DESTROY_INPUT)
    let p = (
      forward: fftwf_plan_dft_r2c_1d(Int32(size), real, spectrum, flags)!,
      inverse: fftwf_plan_dft_c2r_1d(Int32(size), spectrum, real, flags)!
    )
    plans[size] = p
    return p
  }

  /// `x * h`: `y[n] = sum_k x[k] h[n - k]`, `x.count + h.count - 1` values (empty when either
  /// is empty). Single precision: each value within about 1e-6 of the largest.
  public static func convolve(_ x: [Float], _ h: [Float]) -> [Float] {
    guard !x.isEmpty, !h.isEmpty else { return [] }
    let count = x.count + h.count - 1
    var size = 1
    while size < count { size *= 2 }
    let (forward, inverse) = plans(size: size)
    let bins = size / 2 + 1
    let a = fftwf_alloc_real(size)!, b = fftwf_alloc_real(size)!
    let fa = fftwf_alloc_complex(bins)!, fb = fftwf_alloc_complex(bins)!
    defer {
      fftwf_free(a)
      fftwf_free(b)
      fftwf_free(fa)
      fftwf_free(fb)
    }
    a.initialize(repeating: 0, count: size)
    b.initialize(repeating: 0, count: size)
    x.withUnsafeBufferPointer { a.update(from: $0.baseAddress!, count: x.count) }
    h.withUnsafeBufferPointer { b.update(from: $0.baseAddress!, count: h.count) }
    fftwf_execute_dft_r2c(forward, a, fa)
    fftwf_execute_dft_r2c(forward, b, fb)
    // The product of the spectra, scaled by 1 / size (FFTW's inverse is unnormalised).
    let scale = 1 / Float(size)
    fa.withMemoryRebound(to: Float.self, capacity: 2 * bins) { p in
      fb.withMemoryRebound(to: Float.self, capacity: 2 * bins) { q in
        for k in 0..<bins {
          let re = p[2 * k] * q[2 * k] - p[2 * k + 1] * q[2 * k + 1]
          let im = p[2 * k] * q[2 * k + 1] + p[2 * k + 1] * q[2 * k]
          p[2 * k] = re * scale
          p[2 * k + 1] = im * scale
        }
      }
    }
    fftwf_execute_dft_c2r(inverse, fa, a)
    return [Float](UnsafeBufferPointer(start: a, count: count))
  }
}
