import CSndFile
import Foundation

// The one file that talks to libsndfile. No libsndfile type leaves it.

/// Audio file metadata, as read from the header.
public struct AudioInfo: Equatable, Sendable {
  /// The path the file was opened from (for audio opened from memory, the name given).
  public var path: String
  /// Frames per second, in Hz.
  public var sampleRate: Int
  /// Interleaved channels per frame.
  public var channels: Int
  /// Frames (samples per channel) in the file.
  public var frames: Int
  /// Container, e.g. "WAV (Microsoft)".
  public var container: String
  /// Sample encoding, e.g. "Signed 16 bit PCM".
  public var encoding: String
  /// Length in seconds: `frames / sampleRate`.
  public var durationSeconds: Double { sampleRate > 0 ? Double(frames) / Double(sampleRate) : 0 }
}

/// A readable audio file: any format libsndfile decodes (WAV, FLAC, Ogg Vorbis, Opus, AIFF, ...).
///
/// Samples come out as Float32 in [-1, 1] (libsndfile's normalisation: 16-bit PCM is divided
/// by 32768), which is what `soundfile.read(dtype="float32")` and `librosa.load` return.
///
/// Basic usage:
/// ```swift
/// let file = try AudioFile(path: "speech.flac")
/// print(file.info.sampleRate, file.info.channels)
/// while let block = try file.readMono(maxFrames: 65_536) { consume(block) }
/// ```
public final class AudioFile {
  /// The header of the open file.
  public let info: AudioInfo
  /// The channel ``readMono(maxFrames:)`` returns, counting from 1 (the left of a stereo
  /// file); nil (default) averages all channels. Set with ``selectChannel(_:)``.
  public private(set) var selectedChannel: Int?
  private var handle: OpaquePointer?
  private var framesRead = 0
  private var interleaved: [Float] = []
  /// 16-bit PCM: read as integers and scaled here (the same bits as libsndfile's float read,
  /// which multiplies by 1/32768, without its extra copy; integers need no finiteness check).
  private let pcm16: Bool
  /// An MP3's frame count is libsndfile's estimate: its data may end a little before it.
  private let lengthIsEstimate: Bool
  private var endReached = false
  private var shorts: [Int16] = []
  /// The bytes of a file opened from memory, read through libsndfile's virtual I/O.
  private let memory: MemoryBytes?

  /// Opens `path` for reading and validates its header.
  /// - Throws: `AudioError` naming the file and the reason (libsndfile's message included).
  public convenience init(path: String) throws(AudioError) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw .notFound(path: path)
    }
    if isDirectory.boolValue { throw .notAFile(path: path, kind: "directory") }
    if let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType,
      type != .typeRegular, type != .typeSymbolicLink
    {
      // A FIFO or device would block or never end; refuse rather than hang.
      throw .notAFile(path: path, kind: type == .typeCharacterSpecial ? "device" : type == .typeSocket ? "socket" : "FIFO or special file")
    }
    var sfInfo = SF_INFO()
    guard let handle = sf_open(path, Int32(SFM_READ), &sfInfo) else {
      let head = FileHandle(forReadingAtPath: path).flatMap { try? $0.read(upToCount: 12) } ?? Data()
      throw .cannotOpen(path: path, reason: Self.openFailure(head: head, path: path))
    }
    try self.init(opened: handle, sfInfo: sfInfo, path: path, memory: nil)
  }

  /// Opens an audio file held in memory (bytes from a network or a pipe, say: any format
  /// ``init(path:)`` reads), with the same checks.
  /// - Parameter name: what errors and ``info`` call it (its `path`).
  /// - Throws: `AudioError` naming `name` and the reason.
  ///
  /// ```swift
  /// let file = try AudioFile(data: downloaded, name: "upload.flac")
  /// ```
  public convenience init(data: Data, name: String = "memory") throws(AudioError) {
    let memory = MemoryBytes(data)
    var io = SF_VIRTUAL_IO(
      get_filelen: { MemoryBytes.from($0).length },
      seek: { offset, whence, user in MemoryBytes.from(user).seek(offset, whence: whence) },
      read: { pointer, count, user in MemoryBytes.from(user).read(into: pointer, count: count) },
      write: { _, _, _ in 0 },
      tell: { MemoryBytes.from($0).position })
    var sfInfo = SF_INFO()
    guard let handle = sf_open_virtual(&io, Int32(SFM_READ), &sfInfo, Unmanaged.passUnretained(memory).toOpaque()) else {
      throw .cannotOpen(path: name, reason: Self.openFailure(head: data.prefix(12), path: name))
    }
    try self.init(opened: handle, sfInfo: sfInfo, path: name, memory: memory)
  }

  /// libsndfile's message for a file it could not open, and, when the file's first bytes show
  /// a container libsndfile never reads (what phones and browsers record: MP4/M4A/3GP, AMR,
  /// ADTS AAC, WebM, WMA), what it is and how to convert it.
  static func openFailure(head: Data, path: String) -> String {
    let message = String(cString: sf_strerror(nil))
    let b = [UInt8](head.prefix(12))
    let kind: String
    if b.count >= 8 && b[4..<8].elementsEqual("ftyp".utf8) {
      kind = "an MP4 file (M4A, 3GP; AAC or AMR audio)"
    } else if b.starts(with: "#!AMR".utf8) {
      kind = "an AMR file"
    } else if b.count >= 2 && b[0] == 0xFF && b[1] & 0xF6 == 0xF0 {
      kind = "an AAC (ADTS) stream"
    } else if b.starts(with: [0x1A, 0x45, 0xDF, 0xA3]) {
      kind = "a WebM/Matroska file"
    } else if b.starts(with: [0x30, 0x26, 0xB2, 0x75]) {
      kind = "a WMA/ASF file"
    } else {
      return message
    }
    // Quoted for a shell when it holds anything but plain path characters.
    let quoted = { (p: String) in p.allSatisfy { $0.isLetter || $0.isNumber || "/._-+".contains($0) } ? p : "'\(p)'" }
    let stem = (path as NSString).deletingPathExtension
    let said = message.hasSuffix(".") ? String(message.dropLast()) : message
    return "\(said): this is \(kind), which libsndfile cannot decode; convert it first, e.g. ffmpeg -i \(quoted(path)) \(quoted(stem + ".wav"))"
  }

  /// The checks both openings share, on a file libsndfile has opened; closes it on failure.
  private init(opened handle: OpaquePointer, sfInfo: SF_INFO, path: String, memory: MemoryBytes?) throws(AudioError) {
    self.memory = memory
    // libsndfile's "length unknown" (SF_COUNT_MAX): an Ogg file cut off before its last page.
    guard sfInfo.frames < sf_count_t(Int64.max) else {
      sf_close(handle)
      throw .unknownLength(path: path)
    }
    let info = Self.info(sfInfo, path: path)
    guard supportedSampleRates.contains(info.sampleRate) else {
      sf_close(handle)
      throw .invalidSampleRate(path: path, sampleRate: info.sampleRate)
    }
    guard supportedChannelCounts.contains(info.channels) else {
      sf_close(handle)
      throw .invalidChannelCount(path: path, channels: info.channels)
    }
    guard info.frames > 0 else {
      sf_close(handle)
      throw .empty(path: path)
    }
    if let declared = Self.truncatedDataBytes(handle), declared.actual > 0 {
      sf_close(handle)
      let expected = Int(Double(info.frames) * Double(declared.declared) / Double(declared.actual))
      throw .truncated(path: path, expectedFrames: expected, readFrames: info.frames)
    }
    // FLAC and Ogg state their length up front and are only found cut short when decoding
    // reaches the cut: seek to the last frame now, so that a truncated file is refused (and
    // described as such by `earshot info`) before any work. (An MP3's length is libsndfile's
    // estimate, which a whole file may not reach: not checked.)
    let major = Int32(sfInfo.format) & Int32(SF_FORMAT_TYPEMASK)
    if [SF_FORMAT_FLAC, SF_FORMAT_OGG].map(Int32.init).contains(major) {
      var last = [Float](repeating: 0, count: info.channels)
      let reached = sf_seek(handle, sfInfo.frames - 1, SEEK_SET) == sfInfo.frames - 1
        && sf_readf_float(handle, &last, 1) == 1 && sf_seek(handle, 0, SEEK_SET) == 0
      if !reached {
        sf_close(handle)
        throw .endMissing(path: path, expectedFrames: info.frames)
      }
    }
    self.handle = handle
    self.info = info
    pcm16 = Int32(sfInfo.format) & Int32(SF_FORMAT_SUBMASK) == Int32(SF_FORMAT_PCM_16)
    lengthIsEstimate = major == Int32(SF_FORMAT_MPEG)
  }

  deinit { if let handle { sf_close(handle) } }

  /// The header of a regular file libsndfile can open, as it stands: none of the checks
  /// that ``init(path:)`` makes for decoding (rate, channels, length, truncation), so that
  /// `earshot info` can describe the files it cannot process. nil when libsndfile cannot
  /// open it, or its length is unknown.
  public static func header(path: String) -> AudioInfo? {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
      ((try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType) == .typeRegular
    else { return nil }
    var sfInfo = SF_INFO()
    guard let handle = sf_open(path, Int32(SFM_READ), &sfInfo) else { return nil }
    defer { sf_close(handle) }
    guard sfInfo.frames < sf_count_t(Int64.max) else { return nil }
    return info(sfInfo, path: path)
  }

  /// libsndfile's header of the file at `path` as an ``AudioInfo``.
  private static func info(_ sfInfo: SF_INFO, path: String) -> AudioInfo {
    let (container, encoding) = formatNames(Int32(sfInfo.format))
    return AudioInfo(path: path, sampleRate: Int(sfInfo.samplerate), channels: Int(sfInfo.channels),
                     frames: Int(sfInfo.frames), container: container, encoding: encoding)
  }

  /// Makes ``readMono(maxFrames:)`` return one channel, counting from 1 (1 is the left of a
  /// stereo file: a call recording with one speaker a side, say), or, with nil, the average
  /// of all channels.
  /// - Throws: `AudioError.noSuchChannel` unless `1...info.channels` holds `channel`.
  public func selectChannel(_ channel: Int?) throws(AudioError) {
    if let channel, !(1...info.channels).contains(channel) {
      throw .noSuchChannel(path: info.path, channel: channel, channels: info.channels)
    }
    selectedChannel = channel
  }

  /// Reads up to `maxFrames` frames, downmixed to mono by averaging the channels (as
  /// `librosa.to_mono` does), or the ``selectedChannel``. Returns nil at the end of the file.
  /// - Throws: `AudioError.nonFiniteSample` for NaN/Inf samples, `.truncated` when the data
  ///   ends before the header's frame count, `.readFailed` on a decoding error.
  public func readMono(maxFrames: Int = 65_536) throws(AudioError) -> [Float]? {
    guard let block = try readInterleaved(maxFrames: maxFrames) else { return nil }
    let channels = info.channels
    if channels == 1 { return block }
    let frames = block.count / channels
    if let channel = selectedChannel {
      return (0..<frames).map { block[$0 * channels + channel - 1] }
    }
    var mono = [Float](repeating: 0, count: frames)
    let scale = 1 / Float(channels)
    block.withUnsafeBufferPointer { src in
      mono.withUnsafeMutableBufferPointer { dst in
        for f in 0..<frames {
          var sum: Float = 0
          for c in 0..<channels { sum += src[f * channels + c] }
          dst[f] = sum * scale
        }
      }
    }
    return mono
  }

  /// Reads up to `maxFrames` frames as interleaved samples (frame-major: L R L R ...).
  /// Returns nil at the end of the file.
  public func readInterleaved(maxFrames: Int = 65_536) throws(AudioError) -> [Float]? {
    guard let handle else { return nil }
    let wanted = endReached ? 0 : min(maxFrames, info.frames - framesRead)
    guard wanted > 0 else { return nil }
    let channels = info.channels
    var buffer = [Float](repeating: 0, count: wanted * channels)
    let got: sf_count_t
    if pcm16 {
      if shorts.count < wanted * channels { shorts = [Int16](repeating: 0, count: wanted * channels) }
      got = shorts.withUnsafeMutableBufferPointer { sf_readf_short(handle, $0.baseAddress, sf_count_t(wanted)) }
      if got > 0 {
        shorts.withUnsafeBufferPointer { s in
          buffer.withUnsafeMutableBufferPointer { b in
            for i in 0..<(Int(got) * channels) { b[i] = Float(s[i]) * (1 / 32_768) }
          }
        }
      }
    } else {
      got = buffer.withUnsafeMutableBufferPointer { sf_readf_float(handle, $0.baseAddress, sf_count_t(wanted)) }
    }
    if got < 0 || sf_error(handle) != 0 && got == 0 {
      throw .readFailed(path: info.path, reason: String(cString: sf_strerror(handle)))
    }
    if got == 0 {
      if lengthIsEstimate && framesRead > 0 {
        endReached = true
        return nil
      }
      throw .truncated(path: info.path, expectedFrames: info.frames, readFrames: framesRead)
    }
    if Int(got) < wanted { buffer.removeLast((wanted - Int(got)) * channels) }
    if !pcm16, let bad = Self.firstNonFinite(buffer) {
      throw .nonFiniteSample(path: info.path, frame: framesRead + bad / channels)
    }
    framesRead += Int(got)
    return buffer
  }

  /// The index of the first NaN or infinity in `samples`, or nil. Sixteen lanes at a time:
  /// `x * 0` is 0 for every finite x and NaN otherwise, so a sum of them flags a block.
  static func firstNonFinite(_ samples: [Float]) -> Int? {
    let clean: Bool = samples.withUnsafeBufferPointer { v in
      var sum = SIMD16<Float>()
      var i = 0
      let raw = UnsafeRawPointer(v.baseAddress)
      while i + 16 <= v.count {
        sum += raw!.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * 0
        i += 16
      }
      var tail: Float = 0
      while i < v.count {
        tail += v[i] * 0
        i += 1
      }
      return sum.sum() + tail == 0
    }
    return clean ? nil : samples.firstIndex { !$0.isFinite }
  }

  /// Reads the rest of the file as ``readMono(maxFrames:)`` does.
  public func readAllMono() throws(AudioError) -> [Float] {
    var all: [Float] = []
    all.reserveCapacity(info.frames - framesRead)
    while let block = try readMono(maxFrames: 1 << 18) { all += block }
    return all
  }

  /// A file's bytes in memory and a read position: the state behind libsndfile's virtual
  /// I/O callbacks, which receive it as their `user_data` pointer.
  private final class MemoryBytes {
    let bytes: Data
    var position: sf_count_t = 0
    var length: sf_count_t { sf_count_t(bytes.count) }

    init(_ bytes: Data) { self.bytes = bytes }

    static func from(_ user: UnsafeMutableRawPointer?) -> MemoryBytes { Unmanaged<MemoryBytes>.fromOpaque(user!).takeUnretainedValue() }

    func seek(_ offset: sf_count_t, whence: Int32) -> sf_count_t {
      let base: sf_count_t = whence == SEEK_CUR ? position : whence == SEEK_END ? length : 0
      guard base + offset >= 0 else { return -1 }
      position = base + offset
      return position
    }

    func read(into pointer: UnsafeMutableRawPointer?, count: sf_count_t) -> sf_count_t {
      let n = max(0, min(count, length - position))
      if n > 0, let pointer {
        bytes.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress! + Int(position), byteCount: Int(n)) }
      }
      position += n
      return n
    }
  }

  /// libsndfile fixes up a data chunk that promises more bytes than the file holds and logs
  /// "data : 3200 (should be 1000)". Returns both sizes for a real truncation; nil when the
  /// header is fine or holds a streaming placeholder size (0, 0x7FFFFFFF, 0xFFFFFFFF, ...),
  /// which recorders writing to a pipe leave behind.
  private static func truncatedDataBytes(_ handle: OpaquePointer) -> (declared: Int, actual: Int)? {
    var log = [CChar](repeating: 0, count: 8192)
    sf_command(handle, Int32(SFC_GET_LOG_INFO), &log, Int32(log.count))
    let text = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    for line in text.split(separator: "\n") where line.hasPrefix("data") || line.hasPrefix("SSND") {
      guard line.contains("(should be ") else { continue }
      let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
      guard numbers.count >= 2, let declared = numbers.first, let actual = numbers.last else { continue }
      let placeholder = declared == 0 || declared >= 0x7FFF_0000
      if !placeholder && declared > actual { return (declared, actual) }
    }
    return nil
  }

  /// Human-readable container and encoding names, from libsndfile's format tables.
  private static func formatNames(_ format: Int32) -> (container: String, encoding: String) {
    func lookup(_ value: Int32, countCommand: Int32, getCommand: Int32) -> String {
      var count: Int32 = 0
      sf_command(nil, countCommand, &count, Int32(MemoryLayout<Int32>.size))
      for i in 0..<count {
        var entry = SF_FORMAT_INFO()
        entry.format = i
        sf_command(nil, getCommand, &entry, Int32(MemoryLayout<SF_FORMAT_INFO>.size))
        if entry.format == value, let name = entry.name { return String(cString: name) }
      }
      return String(format: "0x%x", value)
    }
    let container = lookup(
      format & Int32(SF_FORMAT_TYPEMASK), countCommand: Int32(SFC_GET_FORMAT_MAJOR_COUNT),
      getCommand: Int32(SFC_GET_FORMAT_MAJOR))
    let encoding = lookup(
      format & Int32(SF_FORMAT_SUBMASK), countCommand: Int32(SFC_GET_FORMAT_SUBTYPE_COUNT),
      getCommand: Int32(SFC_GET_FORMAT_SUBTYPE))
    return (container, encoding)
  }
}

/// Sample encodings `AudioWriter` can write.
public enum WAVEncoding: String, Codable, Sendable, CaseIterable {
  /// Signed 16-bit PCM; samples are clipped to [-1, 1].
  case pcm16
  /// IEEE Float32.
  case float32
}

/// Writes a mono or multi-channel WAV file atomically (temporary file, then rename).
///
/// - Parameters:
///   - samples: interleaved samples in [-1, 1].
///   - sampleRate: Hz, 1,000...768,000.
///   - channels: 1...64.
public func writeWAV(
  _ samples: [Float], sampleRate: Int, channels: Int = 1, encoding: WAVEncoding = .pcm16, to path: String
) throws(AudioError) {
  guard supportedSampleRates.contains(sampleRate) else { throw .invalidTargetRate(sampleRate) }
  guard supportedChannelCounts.contains(channels), samples.count % channels == 0 else {
    throw .invalidChannelCount(path: path, channels: channels)
  }
  var info = SF_INFO()
  info.samplerate = Int32(sampleRate)
  info.channels = Int32(channels)
  info.format = Int32(SF_FORMAT_WAV) | Int32(encoding == .pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT)
  let temporary = path + ".tmp-\(getpid())"
  guard let handle = sf_open(temporary, Int32(SFM_WRITE), &info) else {
    throw .writeFailed(path: path, reason: String(cString: sf_strerror(nil)))
  }
  // libsndfile clips float -> int conversion only when asked; ask, so 1.2 becomes 32767.
  sf_command(handle, Int32(SFC_SET_CLIPPING), nil, Int32(SF_TRUE))
  let frames = samples.count / channels
  let written = samples.withUnsafeBufferPointer { sf_writef_float(handle, $0.baseAddress, sf_count_t(frames)) }
  let reason = String(cString: sf_strerror(handle))
  sf_write_sync(handle)
  sf_close(handle)
  guard written == frames else {
    unlink(temporary)
    throw .writeFailed(path: path, reason: reason)
  }
  guard rename(temporary, path) == 0 else {
    let message = String(cString: strerror(errno))
    unlink(temporary)
    throw .writeFailed(path: path, reason: message)
  }
}
