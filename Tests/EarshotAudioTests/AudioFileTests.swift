@testable import EarshotAudio
import CSndFile
import Foundation
import TestScratch
import Testing

/// A fresh temporary directory per test (under the test process's scratch folder).
func temporaryDirectory() -> URL { Scratch.folder("audio") }

/// A canonical 44-byte-header PCM WAV with the given header fields and raw data bytes.
func wavBytes(sampleRate: UInt32, channels: UInt16, bitsPerSample: UInt16 = 16, format: UInt16 = 1, data: [UInt8], dataSizeField: UInt32? = nil) -> Data {
  var d = Data()
  func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
  func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
  d.append(contentsOf: Array("RIFF".utf8)); u32(UInt32(36 + data.count))
  d.append(contentsOf: Array("WAVE".utf8)); d.append(contentsOf: Array("fmt ".utf8)); u32(16)
  u16(format); u16(channels); u32(sampleRate)
  let blockAlign = UInt32(channels) * UInt32(bitsPerSample / 8)
  u32(sampleRate &* blockAlign); u16(UInt16(truncatingIfNeeded: blockAlign)); u16(bitsPerSample)
  d.append(contentsOf: Array("data".utf8)); u32(dataSizeField ?? UInt32(data.count))
  d.append(contentsOf: data)
  return d
}

@Suite("AudioFile")
struct AudioFileTests {
  /// Bytes in memory decode exactly as the file they came from, in every container, with
  /// resampling too; the header names what the caller called it.
  @Test(arguments: ["phrase-16000-mono-s16.aiff", "phrase-22050-mono-s16.flac", "phrase-44100-mono.ogg",
                    "phrase-48000-stereo-s16.wav", "phrase-8000-mono-s16.wav"])
  func bytesInMemoryDecodeAsTheFile(_ name: String) throws {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fixtures/features/audio/\(name)").path
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    let memory = try AudioFile(data: bytes, name: "upload")
    let file = try AudioFile(path: path)
    #expect(memory.info.path == "upload" && memory.info.frames == file.info.frames && memory.info.container == file.info.container)
    #expect(try memory.readAllMono() == file.readAllMono())
    #expect(try AudioFile.loadMono(data: bytes, sampleRate: 16_000) == AudioFile.loadMono(path: path, sampleRate: 16_000))
  }

  @Test func writeThenReadRoundTripsPCM16() throws {
    let dir = temporaryDirectory()
    let path = dir.appendingPathComponent("tone.wav").path
    let samples = (0..<16_000).map { Float(sin(2 * Double.pi * 440 * Double($0) / 16_000) * 0.5) }
    try writeWAV(samples, sampleRate: 16_000, to: path)
    let file = try AudioFile(path: path)
    #expect(file.info.sampleRate == 16_000)
    #expect(file.info.channels == 1)
    #expect(file.info.frames == 16_000)
    #expect(file.info.container.contains("WAV"))
    #expect(file.info.encoding.contains("16"))
    let back = try file.readAllMono()
    let worst = zip(samples, back).map { abs($0 - $1) }.max()!
    #expect(worst <= 1.0 / 32768 + 1e-7, "PCM16 quantisation error \(worst)")
  }

  /// 16-bit PCM is read as integers and scaled by 1/32768 (libsndfile's float read does the
  /// same): every code comes back exactly, in WAV (little-endian) and AIFF (big-endian).
  @Test(arguments: ["wav", "aiff"])
  func everyPCM16CodeReadsExactly(_ container: String) throws {
    let dir = temporaryDirectory()
    let path = dir.appendingPathComponent("codes.\(container)").path
    let codes = (Int(Int16.min)...Int(Int16.max)).map { Int16($0) }
    var bytes = Data()
    for c in codes {
      let raw = container == "wav" ? UInt16(bitPattern: c).littleEndian : UInt16(bitPattern: c).bigEndian
      withUnsafeBytes(of: raw) { bytes.append(contentsOf: $0) }
    }
    if container == "wav" {
      try wavBytes(sampleRate: 16_000, channels: 1, data: [UInt8](bytes)).write(to: URL(fileURLWithPath: path))
    } else {
      // FORM/AIFF with COMM (1 channel, frames, 16 bits, 16 kHz as 80-bit extended) and SSND.
      var d = Data()
      func be32(_ v: UInt32) { withUnsafeBytes(of: v.bigEndian) { d.append(contentsOf: $0) } }
      func be16(_ v: UInt16) { withUnsafeBytes(of: v.bigEndian) { d.append(contentsOf: $0) } }
      d.append(contentsOf: Array("FORM".utf8)); be32(UInt32(4 + 26 + 16 + bytes.count))
      d.append(contentsOf: Array("AIFF".utf8))
      d.append(contentsOf: Array("COMM".utf8)); be32(18); be16(1); be32(UInt32(codes.count)); be16(16)
      d.append(contentsOf: [0x40, 0x0C, 0xFA, 0, 0, 0, 0, 0, 0, 0])  // 16000 as IEEE 754 extended
      d.append(contentsOf: Array("SSND".utf8)); be32(UInt32(8 + bytes.count)); be32(0); be32(0)
      d.append(bytes)
      try d.write(to: URL(fileURLWithPath: path))
    }
    let audio = try AudioFile.loadMono(path: path)
    #expect(audio.sampleRate == 16_000)
    #expect(audio.samples == codes.map { Float($0) / 32_768 }, "\(container): samples differ from code / 32768")
  }

  @Test func stereoIsAveragedToMono() throws {
    let path = temporaryDirectory().appendingPathComponent("stereo.wav").path
    // L = 0.5, R = -0.25 -> mono 0.125, exactly representable.
    let interleaved = (0..<1000).flatMap { _ in [Float(0.5), Float(-0.25)] }
    try writeWAV(interleaved, sampleRate: 8_000, channels: 2, encoding: .float32, to: path)
    let mono = try AudioFile.loadMono(path: path)
    #expect(mono.samples.count == 1000)
    #expect(mono.samples.allSatisfy { $0 == 0.125 })
  }

  /// One channel instead of the average: `selectChannel`, `loadMono(channel:)` and
  /// `MonoStream(channel:)` give that channel's samples exactly; a channel the file lacks is
  /// refused by name; nil goes back to the average.
  @Test func oneChannelCanBeSelected() throws {
    let path = temporaryDirectory().appendingPathComponent("sides.wav").path
    let left = (0..<1000).map { Float($0 % 7) / 10 }, right = (0..<1000).map { -Float($0 % 5) / 8 }
    try writeWAV(zip(left, right).flatMap { [$0, $1] }, sampleRate: 8_000, channels: 2, encoding: .float32, to: path)
    #expect(try AudioFile.loadMono(path: path, channel: 1).samples == left)
    #expect(try AudioFile.loadMono(path: path, channel: 2).samples == right)
    #expect(try AudioFile.loadMono(path: path).samples == zip(left, right).map { ($0 + $1) * 0.5 })
    let file = try AudioFile(path: path)
    try file.selectChannel(2)
    #expect(file.selectedChannel == 2)
    #expect(try file.readMono(maxFrames: 10) == Array(right.prefix(10)))
    try file.selectChannel(nil)
    #expect(try file.readMono(maxFrames: 10) == (10..<20).map { (left[$0] + right[$0]) * 0.5 })
    var stream = try MonoStream(file: file, channel: 1)
    #expect(try stream.next() == Array(left.dropFirst(20)))
    #expect(throws: AudioError.noSuchChannel(path: path, channel: 3, channels: 2)) { try file.selectChannel(3) }
    #expect(throws: AudioError.noSuchChannel(path: path, channel: 0, channels: 2)) { try AudioFile.loadMono(path: path, channel: 0) }
    #expect(AudioError.noSuchChannel(path: "a.wav", channel: 2, channels: 1).description
      == "a.wav: has 1 channel, so no channel 2; channels count from 1")
    let mono = temporaryDirectory().appendingPathComponent("mono.wav").path
    try writeWAV(left, sampleRate: 8_000, encoding: .float32, to: mono)
    #expect(try AudioFile.loadMono(path: mono, channel: 1).samples == left)
    #expect(throws: AudioError.noSuchChannel(path: mono, channel: 2, channels: 1)) { try AudioFile.loadMono(path: mono, channel: 2) }
  }

  /// `downmixLoss`: 0 dB for identical channels, about 3 dB for unrelated ones, infinite for
  /// a channel and its inverse, nil for mono or silence.
  @Test func downmixLossFindsCancellingChannels() throws {
    let dir = temporaryDirectory()
    var g = SystemRandomNumberGenerator()
    let a = (0..<20_000).map { _ in Float.random(in: -0.5...0.5, using: &g) }
    let b = (0..<20_000).map { _ in Float.random(in: -0.5...0.5, using: &g) }
    func loss(_ sides: [[Float]]) throws -> Double? {
      let path = dir.appendingPathComponent("\(UUID().uuidString).wav").path
      try writeWAV((0..<sides[0].count).flatMap { f in sides.map { $0[f] } }, sampleRate: 8_000, channels: sides.count,
                   encoding: .float32, to: path)
      return try AudioFile.downmixLoss(path: path)
    }
    #expect(abs(try #require(try loss([a, a]))) < 1e-9)
    #expect(abs(try #require(try loss([a, b])) - 10 * log10(2.0)) < 0.2)
    #expect(try loss([a, a.map { -$0 }]) == .infinity)
    #expect(try #require(try loss([a, a.map { -0.9 * $0 }])) > 20)
    #expect(try loss([a]) == nil)
    #expect(try loss([[Float](repeating: 0, count: 100), [Float](repeating: 0, count: 100)]) == nil)
  }

  @Test func blocksConcatenateToTheWholeFile() throws {
    let path = temporaryDirectory().appendingPathComponent("noise.wav").path
    var rng = SystemRandomNumberGenerator()
    let samples = (0..<10_001).map { _ in Float.random(in: -0.9...0.9, using: &rng) }
    try writeWAV(samples, sampleRate: 22_050, encoding: .float32, to: path)
    let file = try AudioFile(path: path)
    var blocks: [[Float]] = []
    while let block = try file.readMono(maxFrames: 999) { blocks.append(block) }
    #expect(blocks.count == 11)
    #expect(blocks.flatMap { $0 } == samples)
  }

  @Test func streamingResampleMatchesWholeFileResample() throws {
    let path = temporaryDirectory().appendingPathComponent("x.wav").path
    let samples = (0..<44_100).map { Float(sin(Double($0) * 0.01) * 0.3) }
    try writeWAV(samples, sampleRate: 44_100, encoding: .float32, to: path)
    let whole = try Resampler.resample(samples, from: 44_100, to: 16_000)
    var stream = try MonoStream(file: try AudioFile(path: path), sampleRate: 16_000, blockFrames: 4_097)
    var streamed: [Float] = []
    while let block = try stream.next() { streamed += block }
    #expect(streamed.count == 16_000)
    #expect(streamed.count == whole.count)
    #expect(zip(streamed, whole).map { abs($0 - $1) }.max()! <= 1e-6)
  }

  /// The vectorised scan finds the first NaN or infinity wherever it is, lanes and tail alike.
  @Test func firstNonFiniteFindsEveryPosition() {
    for count in [0, 1, 15, 16, 17, 100] {
      let clean = (0..<count).map { Float($0) * 1e30 - 3e31 }
      #expect(AudioFile.firstNonFinite(clean) == nil, "clean, \(count) samples")
      for position in 0..<count {
        for bad in [Float.nan, .infinity, -.infinity] {
          var samples = clean
          samples[position] = bad
          if position + 1 < count { samples[count - 1] = .nan }
          #expect(AudioFile.firstNonFinite(samples) == position, "\(bad) at \(position) of \(count)")
        }
      }
    }
  }

  @Test func writeRejectsBadRates() {
    #expect(throws: AudioError.invalidTargetRate(0)) {
      try writeWAV([0], sampleRate: 0, to: "/tmp/never.wav")
    }
  }
}

/// One hostile input: what to write and which error it must raise.
struct BadInput: Sendable, CustomTestStringConvertible {
  var name: String
  var bytes: Data?
  var check: @Sendable (AudioError) -> Bool
  var testDescription: String { name }

  static let all: [BadInput] = {
    let pcm = [UInt8](repeating: 0x10, count: 3200)
    var nanFloats = Data()
    for i in 0..<100 {
      let v: Float = i == 37 ? .nan : 0.1
      withUnsafeBytes(of: v.bitPattern.littleEndian) { nanFloats.append(contentsOf: $0) }
    }
    // Fixed pseudo-random bytes (an LCG), so the case is the same on every run.
    var state: UInt32 = 12_345
    let noise = Data((0..<4096).map { _ -> UInt8 in
      state = state &* 1_664_525 &+ 1_013_904_223
      return UInt8(truncatingIfNeeded: state >> 24)
    })
    let full = wavBytes(sampleRate: 16_000, channels: 1, data: pcm)
    return [
      BadInput(name: "empty file", bytes: Data()) { if case .cannotOpen = $0 { true } else { false } },
      BadInput(name: "text", bytes: Data("hello, this is not audio\n".utf8)) { if case .cannotOpen = $0 { true } else { false } },
      BadInput(name: "random bytes", bytes: Data([0x00, 0x01]) + noise) { if case .cannotOpen = $0 { true } else { false } },
      BadInput(name: "header only", bytes: wavBytes(sampleRate: 16_000, channels: 1, data: [])) {
        if case .empty = $0 { true } else if case .cannotOpen = $0 { true } else { false }
      },
      BadInput(name: "rate 0", bytes: wavBytes(sampleRate: 0, channels: 1, data: pcm)) {
        if case .invalidSampleRate = $0 { true } else if case .cannotOpen = $0 { true } else { false }
      },
      BadInput(name: "rate 1", bytes: wavBytes(sampleRate: 1, channels: 1, data: pcm)) {
        if case .invalidSampleRate(_, 1) = $0 { true } else { false }
      },
      BadInput(name: "rate 1e9", bytes: wavBytes(sampleRate: 1_000_000_000, channels: 1, data: pcm)) {
        if case .invalidSampleRate = $0 { true } else if case .cannotOpen = $0 { true } else { false }
      },
      BadInput(name: "channels 0", bytes: wavBytes(sampleRate: 16_000, channels: 0, data: pcm)) {
        if case .invalidChannelCount = $0 { true } else if case .cannotOpen = $0 { true } else { false }
      },
      BadInput(name: "channels 255", bytes: wavBytes(sampleRate: 16_000, channels: 255, data: [UInt8](repeating: 0, count: 510 * 4))) {
        if case .invalidChannelCount(_, 255) = $0 { true } else if case .cannotOpen = $0 { true } else { false }
      },
      BadInput(name: "NaN float samples", bytes: wavBytes(sampleRate: 16_000, channels: 1, bitsPerSample: 32, format: 3, data: [UInt8](nanFloats))) {
        if case .nonFiniteSample(_, 37) = $0 { true } else { false }
      },
      BadInput(name: "truncated data chunk", bytes: full.prefix(44 + 1000)) {
        if case .truncated(_, 1600, 500) = $0 { true } else { false }
      },
      // An Ogg Vorbis file cut off before its last page: libsndfile cannot tell its length.
      BadInput(name: "cut-off Ogg", bytes: try! Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/features/audio/phrase-44100-mono.ogg")).prefix(6_000)) {
        if case .unknownLength = $0 { true } else { false }
      },
      // A FLAC file cut short: its header states the length, the seek to its last frame fails.
      BadInput(name: "cut-short FLAC", bytes: try! Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/features/audio/phrase-22050-mono-s16.flac")).prefix(3_000)) {
        if case .endMissing(_, let frames) = $0 { frames > 10_000 } else { false }
      },
      // Containers phones record and libsndfile never reads: the message says what and how to convert.
      BadInput(name: "M4A", bytes: Data([0, 0, 0, 0x20]) + Data("ftypM4A ".utf8) + noise) {
        if case .cannotOpen(_, let reason) = $0 { reason.contains("an MP4 file") && reason.contains("ffmpeg -i") } else { false }
      },
      BadInput(name: "AMR", bytes: Data("#!AMR\n".utf8) + noise) {
        if case .cannotOpen(_, let reason) = $0 { reason.contains("an AMR file") && reason.contains("ffmpeg -i") } else { false }
      },
      BadInput(name: "ADTS AAC", bytes: Data([0xFF, 0xF1, 0x50, 0x80]) + noise) {
        if case .cannotOpen(_, let reason) = $0 { reason.contains("AAC (ADTS)") } else { false }
      },
      BadInput(name: "missing file", bytes: nil) { if case .notFound = $0 { true } else { false } },
    ]
  }()
}

@Suite("Hostile audio input")
struct HostileAudioTests {
  /// Each bad file throws a typed error whose message names the file; none crashes.
  @Test(arguments: BadInput.all)
  func badInputThrowsNamingTheFile(_ input: BadInput) throws {
    let dir = temporaryDirectory()
    let path = dir.appendingPathComponent("bad.wav").path
    if let bytes = input.bytes { try bytes.write(to: URL(fileURLWithPath: path)) }
    do {
      let audio = try AudioFile.loadMono(path: path)
      Issue.record("\(input.name) decoded \(audio.samples.count) samples instead of failing")
    } catch {
      #expect(input.check(error), "\(input.name): unexpected error \(error)")
      #expect(error.description.contains(path), "\(input.name): message does not name the file: \(error)")
    }
  }

  /// The same bad bytes from memory fail the same way, named as the caller names them.
  @Test(arguments: BadInput.all.filter { $0.bytes != nil })
  func badBytesInMemoryThrowTheSame(_ input: BadInput) throws {
    do {
      let audio = try AudioFile.loadMono(data: input.bytes!, name: "upload.wav")
      Issue.record("\(input.name) decoded \(audio.samples.count) samples instead of failing")
    } catch {
      #expect(input.check(error), "\(input.name): unexpected error \(error)")
      #expect(error.description.contains("upload.wav"), "\(input.name): message does not name it: \(error)")
    }
  }

  /// An MP3 decodes to the end of its data: libsndfile's frame count for one is an estimate
  /// that whole files (sox's, say) do not always reach, and such a file was refused as
  /// truncated at its end. Here the file's last frames are cut, so its header promises more.
  @Test func mp3DecodesToTheEndOfItsData() throws {
    let path = temporaryDirectory().appendingPathComponent("tone.mp3").path
    var info = SF_INFO()
    info.samplerate = 44_100
    info.channels = 2
    info.format = Int32(SF_FORMAT_MPEG) | Int32(SF_FORMAT_MPEG_LAYER_III)
    let handle = try #require(sf_open(path, Int32(SFM_WRITE), &info), "this libsndfile cannot write MP3")
    var samples = (0..<(44_100 * 2 * 2)).map { Float(0.3 * sin(Double($0 / 2) * 0.05)) }
    _ = sf_writef_float(handle, &samples, sf_count_t(samples.count / 2))
    sf_close(handle)
    let whole = try Data(contentsOf: URL(fileURLWithPath: path))
    try whole.prefix(whole.count - 2_000).write(to: URL(fileURLWithPath: path))
    let file = try AudioFile(path: path)
    let audio = try file.readAllMono()
    #expect(audio.count > 40_000 && audio.count < file.info.frames, "\(audio.count) of \(file.info.frames)")
  }

  /// A recorder writing to a pipe leaves a placeholder data size; that file still decodes.
  @Test func streamingPlaceholderSizeIsNotTruncation() throws {
    let path = temporaryDirectory().appendingPathComponent("piped.wav").path
    try wavBytes(sampleRate: 8_000, channels: 1, data: [UInt8](repeating: 0x10, count: 800), dataSizeField: 0x7FFF_FFFF)
      .write(to: URL(fileURLWithPath: path))
    #expect(try AudioFile.loadMono(path: path).samples.count == 400)
  }

  /// The header as it stands, for files decoding refuses (no frames, cut short, a rate out
  /// of range); nil for what libsndfile cannot open and for folders.
  @Test func headerOfFilesThatCannotBeProcessed() throws {
    let dir = temporaryDirectory()
    let pcm = [UInt8](repeating: 0x10, count: 3200)
    func header(_ bytes: Data, _ name: String) throws -> AudioInfo? {
      let path = dir.appendingPathComponent(name).path
      try bytes.write(to: URL(fileURLWithPath: path))
      #expect(throws: AudioError.self) { try AudioFile(path: path) }
      return AudioFile.header(path: path)
    }
    let truncated = try #require(try header(wavBytes(sampleRate: 16_000, channels: 1, data: pcm).prefix(44 + 1000), "cut.wav"))
    #expect(truncated.sampleRate == 16_000 && truncated.channels == 1 && truncated.frames == 500)
    #expect(try header(wavBytes(sampleRate: 16_000, channels: 1, data: []), "empty.wav")?.frames ?? 0 == 0)
    #expect(try header(wavBytes(sampleRate: 100, channels: 2, data: pcm), "slow.wav")?.sampleRate == 100)
    #expect(try header(Data("not audio".utf8), "text.wav") == nil)
    #expect(AudioFile.header(path: dir.path) == nil)
    #expect(AudioFile.header(path: dir.appendingPathComponent("absent.wav").path) == nil)
  }

  @Test func directoryIsRejected() {
    let dir = temporaryDirectory()
    #expect(throws: AudioError.notAFile(path: dir.path, kind: "directory")) { try AudioFile(path: dir.path) }
  }

  @Test func fifoIsRejectedWithoutBlocking() throws {
    let path = temporaryDirectory().appendingPathComponent("pipe.wav").path
    #expect(mkfifo(path, 0o600) == 0)
    #expect {
      try AudioFile(path: path)
    } throws: { error in
      if case AudioError.notAFile(_, let kind) = error { kind.contains("FIFO") } else { false }
    }
  }

  @Test func errorMessagesAreReadable() {
    #expect(AudioError.empty(path: "a.wav").description == "a.wav: 0 audio frames; nothing to process")
    #expect(
      AudioError.invalidSampleRate(path: "b.wav", sampleRate: 0).description
        == "b.wav: sample rate 0 Hz is out of range; expected 1000 to 768000 Hz")
  }
}

@Suite("Audio folders")
struct AudioFolderTests {
  /// Files are found through links to folders and files, once each, hidden names skipped,
  /// paths as written; a link cycle ends.
  @Test func linksAreFollowedAndCyclesEnd() throws {
    let root = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: root) }
    let data = root.appendingPathComponent("data"), labels = root.appendingPathComponent("labels")
    let fm = FileManager.default
    try fm.createDirectory(at: data.appendingPathComponent("yes"), withIntermediateDirectories: true)
    try fm.createDirectory(at: labels, withIntermediateDirectories: true)
    for name in ["yes/a.wav", "yes/b.FLAC", "yes/notes.txt", "yes/._a.wav", "c.ogg"] {
      try Data().write(to: data.appendingPathComponent(name))
    }
    try fm.createSymbolicLink(atPath: labels.appendingPathComponent("yes").path, withDestinationPath: data.appendingPathComponent("yes").path)
    try fm.createSymbolicLink(atPath: labels.appendingPathComponent("one.ogg").path, withDestinationPath: data.appendingPathComponent("c.ogg").path)
    try fm.createSymbolicLink(atPath: labels.appendingPathComponent("loop").path, withDestinationPath: labels.path)
    #expect(audioFiles(in: labels.path) == [labels.path + "/one.ogg", labels.path + "/yes/a.wav", labels.path + "/yes/b.FLAC"])
    #expect(audioFiles(in: data.path + "/") == [data.path + "/c.ogg", data.path + "/yes/a.wav", data.path + "/yes/b.FLAC"])
    #expect(audioFiles(in: root.appendingPathComponent("absent").path).isEmpty)
  }
}
