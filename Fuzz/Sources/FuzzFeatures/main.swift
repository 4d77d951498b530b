import Earshot
import FuzzSupport

/// Random `FeatureOptions` (every field, absurd values included) and a short random signal:
/// building the extractor must throw `FeatureError` or succeed; a built extractor must run
/// the signal (whole and streamed in random blocks) to the same features, of the announced
/// shape, finite where no Float can overflow, or throw `FeatureError` for NaN, infinite or
/// too-short input. Absurd allocations and hangs fail through libFuzzer's limits; valid
/// options whose output is merely huge for their signal are skipped.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFeatures(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  var input = FuzzInput(data, size)
  let options = input.featureOptions()
  let blockSize = max(1, input.int([1, 7, 160, 1000]) & 0xFFF)
  var samples: [Float] = []
  while input.remaining > 0 && samples.count < 4096 { samples.append(input.sample()) }
  guard let extractor = try? FeatureExtractor(options: options) else { return 0 }
  // Valid options can still ask for a lot: a 2^20-point FFT every 2 samples is 2^19 bins a
  // frame, gigabytes for a few thousand samples, honestly. That is the caller's choice, not
  // a bug, so such inputs stop here (under 2^22 FFT input samples runs in about a second).
  let frameLength = options.kind == .fbank
    ? Int(Float(options.sampleRate) * options.fbank.frameLengthMilliseconds / 1000) : options.spectrogram.fftSize
  guard extractor.frameCount(forSamples: samples.count) * max(frameLength, extractor.outputBins) <= 1 << 22 else { return 0 }
  let whole: FeatureMatrix
  do {
    whole = try extractor(samples)
  } catch {
    switch error {
    case .nonFiniteInput(let index):
      if samples[index].isFinite { contractViolated("sample \(index) = \(samples[index]) reported non-finite") }
    case .signalTooShort: break
    case .invalidOption: contractViolated("\(error) only after the extractor was built")
    }
    return 0
  }
  if whole.bins != extractor.outputBins || whole.values.count != whole.frames * whole.bins {
    contractViolated("shape \(whole.frames)x\(whole.bins), \(whole.values.count) values; outputBins \(extractor.outputBins)")
  }
  if whole.frames != extractor.frameCount(forSamples: samples.count) {
    contractViolated("\(whole.frames) frames, frameCount says \(extractor.frameCount(forSamples: samples.count))")
  }
  // No intermediate can overflow Float when samples are in [-1, 1], |X|^power <= (2^20)^2 and
  // the Kaldi scale keeps int16 units.
  let bounded = samples.allSatisfy { abs($0) <= 1 } && options.spectrogram.power <= 2
    && abs(options.fbank.inputScale) <= 32768
  if bounded, let bad = whole.values.firstIndex(where: { !$0.isFinite }) {
    contractViolated("value \(whole.values[bad]) at \(bad) for finite input")
  }
  let stream = extractor.makeStream()
  var frameLocal = FeatureMatrix(frames: 0, bins: extractor.frameBins)
  for start in stride(from: 0, to: samples.count, by: blockSize) {
    stream.feed(Array(samples[start..<min(start + blockSize, samples.count)]), appendingTo: &frameLocal)
  }
  stream.finish(appendingTo: &frameLocal)
  guard let streamed = try? extractor.finalize(frameLocal) else {
    contractViolated("finalize threw on streamed frames of a signal the whole-utterance call accepted")
  }
  if streamed.frames != whole.frames || zip(streamed.values, whole.values).contains(where: { $0 != $1 && !($0.isNaN && $1.isNaN) }) {
    contractViolated("streamed \(streamed.frames) frames differ from the whole-utterance \(whole.frames)")
  }
  return 0
}

extension FuzzInput {
  mutating func featureOptions() -> FeatureOptions {
    var o = FeatureOptions()
    o.kind = pick(FeatureKind.allCases)
    o.sampleRate = int([8_000, 16_000, 22_050, 44_100, 999, 1_000, 768_000, 768_001])
    var s = SpectrogramOptions()
    s.fftSize = int([2, 3, 64, 400, 512, 2048, 1 << 20, 1 << 20 + 1])
    s.windowLength = bool() ? nil : int([1, 2, 63, 400, 512, 2049])
    s.hopLength = bool() ? nil : int([1, 2, 160, 512, 1 << 20, 1 << 21])
    s.window = pick(WindowKind.allCases)
    s.periodicWindow = bool()
    s.center = bool()
    s.padMode = pick(PadMode.allCases)
    s.power = float([1, 2, 0.5, 3])
    o.spectrogram = s
    var m = MelOptions()
    m.melBands = int([1, 2, 23, 40, 80, 128, 4096, 4097, 10_000])
    m.minFrequency = float([20, 300, 8_000, 11_025])
    m.maxFrequency = bool() ? nil : float([4_000, 7_600, 8_000, 8_000.0005, 11_025, 20])
    m.scale = pick(MelScale.allCases)
    m.normalization = pick(MelNormalization.allCases)
    o.mel = m
    var l = LogOptions()
    l.compression = pick(LogCompression.allCases)
    l.floor = float([1e-10, 1e-6, 1e-38, .leastNormalMagnitude / 4, 1])
    l.reference = float([1, 1e-10, 100])
    l.topDecibels = bool() ? nil : float([80, 1, -80])
    o.log = l
    var c = MFCCOptions()
    c.mfccCount = int([13, 20, 40, 128])
    c.lifter = float([22, 0.5])
    o.mfcc = c
    var k = KaldiFbankOptions()
    k.frameLengthMilliseconds = float([25, 0.1, 1000, 100_000])
    k.frameShiftMilliseconds = float([10, 0.01, 1000, 100_000])
    k.preemphasis = float([0.97, 1])
    k.removeDCOffset = bool()
    k.window = pick(WindowKind.allCases)
    k.snipEdges = bool()
    k.melBands = int([3, 23, 80, 4096, 4097])
    k.lowFrequency = float([20, 4_000])
    k.highFrequency = float([-400, 7_600, 8_000, 8_001])
    k.useEnergy = bool()
    k.energyFloor = float([1, 1e-30])
    k.rawEnergy = bool()
    k.usePower = bool()
    k.useLog = bool()
    k.roundToPowerOfTwo = bool()
    k.dither = float([1, 0.1])
    k.inputScale = float([32_768, 1, 1e30])
    o.fbank = k
    var d = DeltaOptions()
    d.order = int([1, 2, 3])
    d.width = int([3, 5, 9, 2, 4])
    o.deltas = d
    var n = CMVNOptions()
    n.mode = pick(CMVNMode.allCases)
    n.normalizeVariance = bool()
    n.windowFrames = int([3, 300])
    o.cmvn = n
    return o
  }
}

@_cdecl("FuzzFeatures_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
  runLibFuzzer(argc, argv, fuzzFeatures)
}
