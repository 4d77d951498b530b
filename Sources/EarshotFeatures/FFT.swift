import CFFTW
import Foundation

// The one file that talks to FFTW.

/// A real-input FFT of a fixed size in Double precision, planned once (under a lock: FFTW's
/// planner is not thread-safe) and executed freely from any thread with per-caller buffers.
///
/// Double, not Float: a Float32 FFT's rounding error is relative to the frame's loudest bin,
/// so quiet bins 60 dB down come out with ~1e-3 relative error, which the MFCC lifter then
/// multiplies by up to 12 (measured: 1.9e-3 against librosa, which also transforms in Double).
final class RealFFT: @unchecked Sendable {
  /// Input length in samples.
  let size: Int
  /// Output bins: `size / 2 + 1`.
  var bins: Int { size / 2 + 1 }
  private let plan: fftw_plan
  private static let plannerLock = NSLock()

  init(size: Int) {
    precondition(size >= 1, "FFT size \(size) < 1")
    self.size = size
    Self.plannerLock.lock()
    defer { Self.plannerLock.unlock() }
    let input = fftw_alloc_real(size)!
    let output = fftw_alloc_complex(size / 2 + 1)!
    // FFTW_ESTIMATE: planning costs microseconds, not the milliseconds FFTW_MEASURE spends
    // timing candidates, which would dominate short files.
    plan = fftw_plan_dft_r2c_1d(Int32(size), input, output, UInt32(FFTW_ESTIMATE))!
    fftw_free(input)
    fftw_free(output)
  }

  deinit {
    Self.plannerLock.lock()
    fftw_destroy_plan(plan)
    Self.plannerLock.unlock()
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

  /// Transforms the first `count` inputs of `buffers` into their outputs (the plan run on each
  /// frame's own arrays: same transform, same bits as `spectrum`).
  func transform(_ buffers: BlockBuffers, count: Int) {
    precondition(count <= buffers.count, "\(count) transforms, buffers hold \(buffers.count)")
    buffers.output.withMemoryRebound(to: fftw_complex.self, capacity: buffers.outputStride / 2 * buffers.count) { out in
      for f in 0..<count {
        fftw_execute_dft_r2c(plan, buffers.input + f * buffers.inputStride, out + f * (buffers.outputStride / 2))
      }
    }
  }

  /// Transforms `buffers.input` and writes `|X_k|^power` for k in 0...size/2 to `spectrum`.
  func spectrum(_ buffers: Buffers, power: Float, into spectrum: UnsafeMutablePointer<Float>) {
    fftw_execute_dft_r2c(plan, buffers.input, buffers.output)
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
