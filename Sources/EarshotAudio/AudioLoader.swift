import Foundation
import CEarshotKernels

/// Mono audio at a known sample rate: what the feature and model layers consume.
public struct MonoAudio: Equatable, Sendable {
  /// Samples in [-1, 1].
  public var samples: [Float]
  /// Hz.
  public var sampleRate: Int
  /// Seconds: `samples.count / sampleRate`.
  public var durationSeconds: Double { Double(samples.count) / Double(sampleRate) }

  public init(samples: [Float], sampleRate: Int) {
    self.samples = samples
    self.sampleRate = sampleRate
  }
}

extension AudioFile {
  /// Loads a whole file as mono, resampled to `sampleRate` (nil keeps the file's rate):
  /// `librosa.load(path, sr=sampleRate, mono=True, res_type="soxr_hq")`.
  /// - Parameter channel: only this channel, counting from 1 (see ``selectChannel(_:)``);
  ///   nil (default) averages them.
  public static func loadMono(path: String, sampleRate: Int? = nil, channel: Int? = nil) throws(AudioError) -> MonoAudio {
    try loadMono(try AudioFile(path: path), sampleRate: sampleRate, channel: channel)
  }

  /// ``loadMono(path:sampleRate:channel:)`` for a file's bytes in memory (see ``init(data:name:)``).
  public static func loadMono(data: Data, name: String = "memory", sampleRate: Int? = nil, channel: Int? = nil) throws(AudioError) -> MonoAudio {
    try loadMono(try AudioFile(data: data, name: name), sampleRate: sampleRate, channel: channel)
  }

  private static func loadMono(_ file: AudioFile, sampleRate: Int?, channel: Int?) throws(AudioError) -> MonoAudio {
    var stream = try MonoStream(file: file, sampleRate: sampleRate, channel: channel)
    var samples: [Float] = []
    samples.reserveCapacity(
      Resampler.outputLength(inputFrames: file.info.frames, from: file.info.sampleRate, to: stream.sampleRate))
    // Huge pages for a long recording's buffer (38 MB for 10 minutes at 16 kHz).
    let capacity = samples.capacity
    samples.withUnsafeMutableBufferPointer { ek_advise_huge_pages($0.baseAddress, capacity * 4) }
    while let block = try stream.next() { samples += block }
    return MonoAudio(samples: samples, sampleRate: stream.sampleRate)
  }
}

extension AudioFile {
  /// How far the average of a file's channels falls below their mean power, in dB, over the
  /// whole file: 0 for identical channels, about 3 for unrelated ones of equal power, and
  /// large (infinite for an exact copy) when one channel is another inverted, whose average
  /// is silence. nil for a mono file or digital silence. Reads the whole file.
  public static func downmixLoss(path: String) throws(AudioError) -> Double? {
    let file = try AudioFile(path: path)
    let channels = file.info.channels
    guard channels > 1 else { return nil }
    var mixPower = 0.0, channelPower = 0.0
    while let block = try file.readInterleaved(maxFrames: 1 << 16) {
      for f in 0..<(block.count / channels) {
        var sum = 0.0
        for c in 0..<channels {
          let x = Double(block[f * channels + c])
          sum += x
          channelPower += x * x
        }
        mixPower += (sum / Double(channels)) * (sum / Double(channels))
      }
    }
    channelPower /= Double(channels)
    guard channelPower > 0 else { return nil }
    return mixPower > 0 ? 10 * log10(channelPower / mixPower) : .infinity
  }
}

/// Blocks of mono samples at a chosen rate, read from a file in bounded memory.
///
/// ```swift
/// var stream = try MonoStream(file: AudioFile(path: "long.flac"), sampleRate: 16_000)
/// while let block = try stream.next() { features.feed(block) }
/// ```
public struct MonoStream {
  /// The file being read.
  public let file: AudioFile
  /// Hz of the blocks returned.
  public let sampleRate: Int
  private let resampler: Resampler?
  private let blockFrames: Int
  private var finished = false

  /// - Parameters:
  ///   - sampleRate: output rate in Hz; nil keeps the file's own rate.
  ///   - blockFrames: input frames decoded per block (default 65,536).
  ///   - channel: only this channel, counting from 1 (``AudioFile/selectChannel(_:)``); nil
  ///     (default) keeps the file's selection (all channels averaged unless one was selected).
  /// - Throws: `AudioError.noSuchChannel` for a channel the file lacks, resampler errors.
  public init(file: AudioFile, sampleRate: Int? = nil, blockFrames: Int = 65_536, channel: Int? = nil) throws(AudioError) {
    if let channel { try file.selectChannel(channel) }
    self.file = file
    self.blockFrames = max(blockFrames, 1)
    let rate = sampleRate ?? file.info.sampleRate
    self.sampleRate = rate
    resampler = rate == file.info.sampleRate ? nil : try Resampler(from: file.info.sampleRate, to: rate)
  }

  /// The next block of mono samples, or nil at the end. Blocks may be empty while the
  /// resampler fills its delay line.
  public mutating func next() throws(AudioError) -> [Float]? {
    if finished { return nil }
    guard let block = try file.readMono(maxFrames: blockFrames) else {
      finished = true
      return try resampler?.flush()
    }
    return try resampler?.process(block) ?? block
  }
}
