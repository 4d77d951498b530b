import Foundation

/// Why audio could not be read, resampled or written.
///
/// Every case names the file (or parameter), what was found and, where possible, what to do.
public enum AudioError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The path does not exist.
  case notFound(path: String)
  /// The path is a directory, a FIFO or another thing that is not a regular file.
  case notAFile(path: String, kind: String)
  /// libsndfile could not open the file; `reason` is libsndfile's own message.
  case cannotOpen(path: String, reason: String)
  /// The file opened but holds no audio frames.
  case empty(path: String)
  /// The header's sample rate is outside 1,000...768,000 Hz.
  case invalidSampleRate(path: String, sampleRate: Int)
  /// The header's channel count is outside 1...64.
  case invalidChannelCount(path: String, channels: Int)
  /// A channel the file does not have was asked for (`channel` counts from 1).
  case noSuchChannel(path: String, channel: Int, channels: Int)
  /// Decoding failed part-way; `reason` is libsndfile's message.
  case readFailed(path: String, reason: String)
  /// The file ended before the frame count its header promised.
  case truncated(path: String, expectedFrames: Int, readFrames: Int)
  /// libsndfile cannot tell how many frames the file holds (a cut-off Ogg file, say).
  case unknownLength(path: String)
  /// A FLAC or Ogg file whose last frame, as its header states the length, cannot be
  /// reached: the file was cut short.
  case endMissing(path: String, expectedFrames: Int)
  /// A decoded sample is NaN or infinite.
  case nonFiniteSample(path: String, frame: Int)
  /// libsoxr refused the conversion.
  case resampleFailed(fromRate: Double, toRate: Double, reason: String)
  /// A requested sample rate is not usable.
  case invalidTargetRate(Int)
  /// Writing failed; `reason` is libsndfile's or the system's message.
  case writeFailed(path: String, reason: String)

  public var description: String {
    switch self {
    case .notFound(let path):
      return "\(path): no such file"
    case .notAFile(let path, let kind):
      return "\(path): is a \(kind), not an audio file"
    case .cannotOpen(let path, let reason):
      return "\(path): cannot open as audio: \(reason)"
    case .empty(let path):
      return "\(path): 0 audio frames; nothing to process"
    case .invalidSampleRate(let path, let rate):
      return "\(path): sample rate \(rate) Hz is out of range; expected 1000 to 768000 Hz"
    case .invalidChannelCount(let path, let channels):
      return "\(path): \(channels) channels is out of range; expected 1 to 64"
    case .noSuchChannel(let path, let channel, let channels):
      return "\(path): has \(channels) channel\(channels == 1 ? "" : "s"), so no channel \(channel); channels count from 1"
    case .readFailed(let path, let reason):
      return "\(path): decoding failed: \(reason)"
    case .truncated(let path, let expected, let read):
      return "\(path): truncated: the header promises \(expected) frames, only \(read) could be decoded"
    case .endMissing(let path, let expected):
      return "\(path): truncated: the header promises \(expected) frames, but the data ends before them"
    case .unknownLength(let path):
      return "\(path): its length cannot be read (a truncated or damaged file?); nothing was decoded"
    case .nonFiniteSample(let path, let frame):
      return "\(path): sample at frame \(frame) is NaN or infinite; the file is corrupt"
    case .resampleFailed(let from, let to, let reason):
      return "resampling \(Int(from)) Hz -> \(Int(to)) Hz failed: \(reason)"
    case .invalidTargetRate(let rate):
      return "target sample rate \(rate) Hz is out of range; expected 1000 to 768000 Hz"
    case .writeFailed(let path, let reason):
      return "\(path): cannot write: \(reason)"
    }
  }
}

/// `localizedDescription` (Foundation's way to show an error) reads as `description` does.
extension AudioError: LocalizedError {
  public var errorDescription: String? { description }
}

/// Sample rates Earshot accepts, in Hz.
public let supportedSampleRates = 1_000...768_000
/// Channel counts Earshot accepts.
public let supportedChannelCounts = 1...64
