import CFFTW
import Foundation

// The one file that talks to FFTW.

/// A real-input FFT of a fixed size, planned once (under a lock: FFTW's planner is not
/// thread-safe) and executed freely from any thread with per-caller buffers.
final class RealFFT: @unchecked Sendable {
  /// Input length in samples.
  let size: Int
  /// Output bins: `size / 2 + 1`.
  var bins: Int { size / 2 + 1 }
  private let plan: fftwf_plan
  private static let plannerLock = NSLock()

  init(size: Int) {
    precondition(size >= 1, "FFT size \(size) < 1")
    self.size = size
    Self.plannerLock.lock()
    defer { Self.plannerLock.unlock() }
    let input = fftwf_alloc_real(size)!
    let output = fftwf_alloc_complex(size / 2 + 1)!
    // FFTW_ESTIMATE: planning costs microseconds, not the milliseconds FFTW_MEASURE spends
    // timing candidates, which would dominate short files.
    plan = fftwf_plan_dft_r2c_1d(Int32(size), input, output, UInt32(FFTW_ESTIMATE))!
    fftwf_free(input)
    fftwf_free(output)
  }

  deinit {
    Self.plannerLock.lock()
    fftwf_destroy_plan(plan)
    Self.plannerLock.unlock()
  }

  /// Scratch memory for one thread's transforms, aligned as FFTW's plan expects.
  final class Buffers {
    /// `size` real samples: fill before `power(into:)`.
    let input: UnsafeMutablePointer<Float>
    fileprivate let output: UnsafeMutablePointer<fftwf_complex>
    fileprivate let bins: Int

    init(size: Int) {
      input = fftwf_alloc_real(size)!
      input.initialize(repeating: 0, count: size)
      bins = size / 2 + 1
      output = fftwf_alloc_complex(bins)!
    }
    deinit {
      fftwf_free(input)
      fftwf_free(output)
    }
  }

  func makeBuffers() -> Buffers { Buffers(size: size) }

  /// Transforms `buffers.input` and writes `|X_k|^power` for k in 0...size/2 to `spectrum`.
  func spectrum(_ buffers: Buffers, power: Float, into spectrum: UnsafeMutablePointer<Float>) {
    fftwf_execute_dft_r2c(plan, buffers.input, buffers.output)
    let count = buffers.bins
    buffers.output.withMemoryRebound(to: Float.self, capacity: 2 * count) { z in
      if power == 2 {
        for k in 0..<count { spectrum[k] = z[2 * k] * z[2 * k] + z[2 * k + 1] * z[2 * k + 1] }
      } else if power == 1 {
        for k in 0..<count { spectrum[k] = (z[2 * k] * z[2 * k] + z[2 * k + 1] * z[2 * k + 1]).squareRoot() }
      } else {
        let half = power / 2
        for k in 0..<count { spectrum[k] = powf(z[2 * k] * z[2 * k] + z[2 * k + 1] * z[2 * k + 1], half) }
      }
    }
  }
}
