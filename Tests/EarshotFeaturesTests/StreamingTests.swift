import EarshotFeatures
import Foundation
import TestScratch
import Testing

@Suite("Streaming equals whole-signal extraction")
struct StreamingTests {
  static let cases: [(String, FeatureOptions)] = {
    func spectral(_ kind: FeatureKind, center: Bool, pad: PadMode, fft: Int, hop: Int) -> FeatureOptions {
      var o = FeatureOptions(kind: kind, sampleRate: 16_000)
      o.spectrogram.fftSize = fft
      o.spectrogram.hopLength = hop
      o.spectrogram.center = center
      o.spectrogram.padMode = pad
      o.mel.melBands = 40
      return o
    }
    func kaldi(snip: Bool) -> FeatureOptions {
      var o = FeatureOptions(kind: .fbank, sampleRate: 16_000)
      o.fbank.snipEdges = snip
      o.fbank.useEnergy = true
      return o
    }
    return [
      ("mel centre zeros", spectral(.mel, center: true, pad: .constant, fft: 512, hop: 160)),
      ("logmel centre reflect", spectral(.logmel, center: true, pad: .reflect, fft: 400, hop: 160)),
      ("power uncentred", spectral(.power, center: false, pad: .constant, fft: 257, hop: 100)),
      ("mfcc centre reflect", spectral(.mfcc, center: true, pad: .reflect, fft: 1024, hop: 256)),
      ("fbank snip", kaldi(snip: true)),
      ("fbank no snip", kaldi(snip: false)),
    ]
  }()

  @Test(arguments: cases.indices)
  func streamedInOddBlocksEqualsWhole(_ index: Int) throws {
    let (name, options) = Self.cases[index]
    var rng = SystemRandomNumberGenerator()
    let samples = (0..<23_457).map { i in Float(sin(Double(i) * 0.05)) * 0.3 + Float.random(in: -0.05...0.05, using: &rng) }
    let extractor = try FeatureExtractor(options: options)
    let whole = try extractor(samples)
    for blockSize in [1, 97, 4_096, 50_000] {
      let stream = extractor.makeStream()
      var frames = FeatureMatrix(frames: 0, bins: extractor.frameBins)
      var i = 0
      while i < samples.count {
        let n = min(blockSize, samples.count - i)
        stream.feed(Array(samples[i..<(i + n)]), appendingTo: &frames)
        i += n
      }
      stream.finish(appendingTo: &frames)
      #expect(frames.frames == extractor.frameCount(forSamples: samples.count), "\(name), blocks of \(blockSize)")
      let streamed = try extractor.finalize(frames)
      #expect(streamed == whole, "\(name), blocks of \(blockSize): streamed differs from whole")
    }
  }
}

@Suite("NumpyStreamWriter")
struct NumpyStreamWriterTests {
  @Test func headerIsFixedWhenTheRowCountDiffers() throws {
    let path = Scratch.path("stream.npy").path
    let writer = try NumpyStreamWriter(path: path, columns: 3, expectedRows: 5)
    #expect(!FileManager.default.fileExists(atPath: path))
    try writer.append(FeatureMatrix(frames: 2, bins: 3, values: [1, 2, 3, 4, 5, 6]))
    try writer.append(FeatureMatrix(frames: 1, bins: 3, values: [7, 8, 9]))
    try writer.finish()
    let back = try NumpyArray(contentsOf: path)
    #expect(back.shape == [3, 3])
    #expect(back.values == [1, 2, 3, 4, 5, 6, 7, 8, 9])
  }

  /// The top-dB clamp after the fact rewrites only chunks holding a value below the floor; the
  /// file must read back as if every value had been clamped.
  @Test func clampEqualsClampingEveryValue() throws {
    let path = Scratch.path("clamp.npy").path
    let columns = 7
    let writer = try NumpyStreamWriter(path: path, columns: columns, expectedRows: 10)
    var rng = SystemRandomNumberGenerator()
    var all: [Float] = []
    // Blocks of odd sizes that straddle the 4096-value chunks; one long stretch stays above the floor.
    for (index, rows) in [1, 600, 333, 2_000, 5, 1_200].enumerated() {
      let values = (0..<(rows * columns)).map { _ in index == 3 ? Float.random(in: -40...0, using: &rng) : Float.random(in: -100...0, using: &rng) }
      all += values
      try writer.append(FeatureMatrix(frames: rows, bins: columns, values: values))
    }
    #expect(writer.maximum == all.max()!)
    try writer.clamp(below: -50)
    try writer.finish()
    let back = try NumpyArray(contentsOf: path)
    #expect(back.shape == [all.count / columns, columns])
    #expect(back.values == all.map { max($0, -50) })
    try? FileManager.default.removeItem(atPath: path)
  }

  /// A finished file replaces the one already at its path (by exchange, then the old one is
  /// removed): the folder then holds only the new file, with the new values.
  @Test func finishReplacesAnExistingFileAndLeavesNothingElse() throws {
    let dir = Scratch.path("replace")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("x.npy").path
    for (round, value) in [Float(1), 2, 3].enumerated() {
      let writer = try NumpyStreamWriter(path: path, columns: 2, expectedRows: 1)
      try writer.append(FeatureMatrix(frames: round + 1, bins: 2, values: [Float](repeating: value, count: 2 * (round + 1))))
      try writer.finish()
      #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["x.npy"], "round \(round)")
      let back = try NumpyArray(contentsOf: path)
      #expect(back.shape == [round + 1, 2] && back.values.allSatisfy { $0 == value }, "round \(round)")
    }
    // Into a folder that is not there: an error, and nothing created.
    #expect(!moveIntoPlace(dir.appendingPathComponent("none").path, dir.appendingPathComponent("missing/y.npy").path))
  }

  @Test func abortLeavesNothing() throws {
    let dir = Scratch.path("abort")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let writer = try NumpyStreamWriter(path: dir.appendingPathComponent("x.npy").path, columns: 2, expectedRows: 1)
    try writer.append(FeatureMatrix(frames: 1, bins: 2, values: [1, 2]))
    writer.abort()
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
  }
}

@Suite("FeatureMatrix.reserveFrames")
struct ReserveFramesTests {
  /// Room for a long recording's rows (64 MB, so the huge-page hint is given) keeps the rows
  /// already there, and appending up to the reservation does not move the storage.
  @Test func keepsRowsAndMakesRoom() {
    var m = FeatureMatrix(frames: 3, bins: 80, values: (0..<240).map(Float.init))
    m.reserveFrames(200_000)
    #expect(m.values == (0..<240).map(Float.init) && m.frames == 3)
    #expect(m.values.capacity >= 200_000 * 80)
    let before = m.values.withUnsafeBufferPointer { $0.baseAddress }
    m.values.append(contentsOf: repeatElement(7, count: 199_997 * 80))
    m.frames = 200_000
    #expect(m.values.withUnsafeBufferPointer { $0.baseAddress } == before)
    #expect(m[199_999, 79] == 7 && m[2, 79] == 239)
  }
}
