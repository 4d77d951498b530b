import CSoxr

// The one file that talks to libsoxr.

/// Streaming sample-rate conversion with libsoxr at high quality (`SOXR_HQ`, 20-bit),
/// the resampler behind `librosa.resample(res_type="soxr_hq")`.
///
/// Feed blocks with `process(_:)`, then call `flush()` once; the concatenated output equals
/// `Resampler.resample(_:from:to:)` on the whole signal.
public final class Resampler {
  /// Input rate in Hz.
  public let inputRate: Int
  /// Output rate in Hz.
  public let outputRate: Int
  private let handle: soxr_t?
  private var inputFrames = 0
  private var outputFrames = 0

  /// - Parameters:
  ///   - inputRate: Hz of the samples fed in, 1,000...768,000.
  ///   - outputRate: Hz of the samples wanted, 1,000...768,000.
  public init(from inputRate: Int, to outputRate: Int) throws(AudioError) {
    guard supportedSampleRates.contains(inputRate) else { throw .invalidTargetRate(inputRate) }
    guard supportedSampleRates.contains(outputRate) else { throw .invalidTargetRate(outputRate) }
    self.inputRate = inputRate
    self.outputRate = outputRate
    if inputRate == outputRate {
      handle = nil
      return
    }
    var error: soxr_error_t?
    var io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
    var quality = soxr_quality_spec(UInt(SOXR_HQ), 0)
    var runtime = soxr_runtime_spec(1)
    let created = soxr_create(Double(inputRate), Double(outputRate), 1, &error, &io, &quality, &runtime)
    if let error {
      throw .resampleFailed(fromRate: Double(inputRate), toRate: Double(outputRate), reason: String(cString: error))
    }
    handle = created
  }

  deinit { if let handle { soxr_delete(handle) } }

  /// Output frames for `inputFrames` input frames: `ceil(inputFrames * outputRate / inputRate)`,
  /// the length `librosa.resample` trims or pads to.
  public static func outputLength(inputFrames: Int, from inputRate: Int, to outputRate: Int) -> Int {
    (inputFrames * outputRate + inputRate - 1) / inputRate
  }

  /// Resamples one block; the output may be shorter or longer than its share (soxr buffers).
  public func process(_ block: [Float]) throws(AudioError) -> [Float] {
    inputFrames += block.count
    guard let handle else {
      outputFrames += block.count
      return block
    }
    let capacity = Int((Double(block.count) * Double(outputRate) / Double(inputRate)).rounded(.up)) + 64
    return try run(handle, block, capacity: capacity, flush: false)
  }

  /// Drains what soxr holds back and pads or trims so that the total output has
  /// `outputLength(inputFrames:from:to:)` frames.
  public func flush() throws(AudioError) -> [Float] {
    let total = Self.outputLength(inputFrames: inputFrames, from: inputRate, to: outputRate)
    var tail: [Float] = []
    if let handle {
      tail = try run(handle, [], capacity: max(total - outputFrames, 0) + 1024, flush: true)
    }
    // soxr may deliver one frame more or fewer than the exact length; librosa's fix_length
    // trims or zero-pads to it, and so do we.
    let have = outputFrames
    if have > total {
      tail.removeLast(min(have - total, tail.count))
    } else if have < total {
      tail += [Float](repeating: 0, count: total - have)
    }
    outputFrames = total
    return tail
  }

  private func run(_ handle: soxr_t, _ block: [Float], capacity: Int, flush: Bool) throws(AudioError) -> [Float] {
    var output = [Float](repeating: 0, count: capacity)
    var produced = 0
    var consumed = 0
    var error: soxr_error_t?
    block.withUnsafeBufferPointer { input in
      output.withUnsafeMutableBufferPointer { out in
        var inputDone = 0
        var outputDone = 0
        // A nil input pointer tells soxr the stream has ended (flush).
        error = soxr_process(
          handle, flush ? nil : UnsafeRawPointer(input.baseAddress), flush ? 0 : input.count, &inputDone,
          out.baseAddress, out.count, &outputDone)
        consumed = inputDone
        produced = outputDone
        if flush {
          // Keep draining until soxr has nothing more.
          while error == nil && outputDone > 0 && produced < out.count {
            outputDone = 0
            error = soxr_process(handle, nil, 0, nil, out.baseAddress! + produced, out.count - produced, &outputDone)
            produced += outputDone
          }
        }
      }
    }
    if let error {
      throw .resampleFailed(fromRate: Double(inputRate), toRate: Double(outputRate), reason: String(cString: error))
    }
    precondition(flush || consumed == block.count, "soxr consumed \(consumed) of \(block.count) frames")
    output.removeLast(capacity - produced)
    outputFrames += produced
    return output
  }

  /// Resamples a whole signal; the result has `outputLength(inputFrames:from:to:)` frames.
  /// Matches `librosa.resample(y, orig_sr=from, target_sr=to, res_type="soxr_hq")` within 1e-4.
  public static func resample(_ samples: [Float], from inputRate: Int, to outputRate: Int) throws(AudioError) -> [Float] {
    let resampler = try Resampler(from: inputRate, to: outputRate)
    var out = try resampler.process(samples)
    out += try resampler.flush()
    return out
  }
}
