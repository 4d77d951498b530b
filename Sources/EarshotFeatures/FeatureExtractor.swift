import CEarshotKernels
import Foundation

/// Turns samples into features as `FeatureOptions` describe; built once (FFT plan,
/// window, filterbank, DCT), then used from any number of threads.
///
/// Basic usage:
/// ```swift
/// var options = FeatureOptions(kind: .mfcc, sampleRate: 16_000)
/// options.spectrogram.fftSize = 512
/// options.spectrogram.hopLength = 160
/// let mfcc = try FeatureExtractor(options: options)
/// let features = try mfcc(samples)          // (frames, 20)
/// ```
///
/// Parity (tested against fixtures from `scripts/fixtures/features.py`): `stft`/`power`/`mel`
/// match librosa 0.11 within 1e-4 of the maximum; `logmel`, `mfcc` and `pcen` within 1e-3
/// absolute; `fbank` matches kaldi-native-fbank 1.23 within 1e-3.
public final class FeatureExtractor: @unchecked Sendable {
  /// Largest `fftSize`, `windowLength`, `hopLength` and Kaldi frame length or shift accepted,
  /// in samples: 2^20, about 65 s at 16 kHz. Larger values are rejected before anything is
  /// allocated.
  public static let maximumLength = 1 << 20
  /// Most mel bands accepted (`mel.melBands`, `fbank.melBands`).
  public static let maximumMelBands = 4096

  /// The options this extractor was built with.
  public let options: FeatureOptions
  /// Columns of the frame-local output (`makeStream()`), before `finalize`.
  public let frameBins: Int
  /// Columns of the final output, deltas included.
  public let outputBins: Int
  /// Samples between frames.
  public let hopLength: Int
  /// Samples of one analysis window: `fftSize`, or Kaldi's frame length for `fbank`.
  public var windowLength: Int { framing.frameLength }
  /// True when `finalize` needs the whole utterance (top-dB clamp, deltas, CMVN, or PCEN, whose
  /// smoother runs from the first frame), so that streamed frames must be collected before it
  /// runs. When false, `finalize` may still change the frames (MFCC's DCT), one at a time:
  /// apply it block by block. ``makeBlockFinalizer()`` streams PCEN too.
  public let needsWholeUtterance: Bool
  /// Whether every utterance-level step runs forward in time (no top-dB clamp, deltas or
  /// CMVN), so that ``makeBlockFinalizer()`` can finish blocks in order.
  private let finalizesForward: Bool
  /// For `logmel` in dB whose only utterance-level step is the top-dB clamp: the frame-local
  /// values are final once clamped to `max - topDecibels`, so they can be streamed to disk and
  /// clamped in a second pass. Nil otherwise.
  public let streamableTopDecibels: Float?
  /// `options` without the steps `finalize` applies (the top-dB clamp, deltas, CMVN): two
  /// extractors with equal `frameLocalOptions` make the same frame-local features
  /// (`frameLocal(_:)`), so one computation can serve both, each finalizing its own copy.
  public var frameLocalOptions: FeatureOptions {
    var o = options
    o.log.topDecibels = nil
    o.deltas = DeltaOptions()
    o.cmvn = CMVNOptions()
    return o
  }

  let framing: Framing
  /// The analysis window in float64: the spectral kinds multiply by it in float64, as
  /// librosa does (zero-padded to the FFT length); fbank by its float32 rounding, as Kaldi.
  private let window: [Double]
  private let fft: RealFFT
  private let filterbank: MelFilterbank?
  /// The mel (or Kaldi fbank) filterbank, nil for the kinds without one (stft, power).
  public var melFilterbank: MelFilterbank? { filterbank }
  /// The orthonormal DCT-II (lifter applied) as Float, transposed, (melBands, dctStride):
  /// row j holds band j's weight in each of the mfccCount coefficients, then zeros.
  private let dctBasis: [Float]
  private let baseBins: Int
  /// For mel, logmel and MFCC at power 1 or 2: the frame-parallel C kernels and what
  /// `melRows` does to each band. Nil for the other kinds, which go frame by frame.
  private let blockPath: (kernels: FeatureKernels, mode: FeatureKernels.RowMode)?

  /// Validates `options` and precomputes everything.
  ///
  /// For finite samples the features are finite (the log kinds floor at `log.floor`, or
  /// FLT_EPSILON for `fbank`) unless an intermediate overflows Float: samples far outside
  /// [-1, 1], `power` above 2, a Kaldi `inputScale` above 32768 or a PCEN `inputScale` far
  /// above 2^31 can reach it.
  /// - Throws: `FeatureError.invalidOption` naming the option, its value and the allowed range.
  public convenience init(options: FeatureOptions) throws(FeatureError) {
    try self.init(options: options, kernels: .best)
  }

  /// `kernels`: the instruction set of the mel kinds' block path; nil processes every frame
  /// alone through the scalar Swift code (the reference the tests hold the kernels to).
  init(options: FeatureOptions, kernels: FeatureKernels?) throws(FeatureError) {
    self.options = options
    let rate = options.sampleRate
    guard rate >= 1_000 && rate <= 768_000 else {
      throw .invalidOption(name: "sampleRate", value: "\(rate)", expected: "1000...768000 Hz")
    }
    if options.kind == .fbank {
      let k = options.fbank
      // Samples, checked in Float before the conversion to Int (which traps on NaN or overflow).
      func samples(_ milliseconds: Float, name: String, atLeast minimum: Int) throws(FeatureError) -> Int {
        let count = Float(rate) * milliseconds / 1000
        guard count >= Float(minimum) && count < Float(Self.maximumLength + 1) else {
          throw .invalidOption(
            name: name, value: "\(milliseconds)", expected: "\(minimum)...\(Self.maximumLength) samples at \(rate) Hz")
        }
        return Int(count)
      }
      let length = try samples(k.frameLengthMilliseconds, name: "frameLengthMilliseconds", atLeast: 2)
      let shift = try samples(k.frameShiftMilliseconds, name: "frameShiftMilliseconds", atLeast: 1)
      guard (0...1).contains(k.preemphasis) else {
        throw .invalidOption(name: "preemphasis", value: "\(k.preemphasis)", expected: "0...1")
      }
      for (name, value) in [("dither", k.dither), ("energyFloor", k.energyFloor)] where !(value >= 0 && value.isFinite) {
        throw .invalidOption(name: name, value: "\(value)", expected: "finite and >= 0 (0 disables it)")
      }
      guard k.inputScale.isFinite else {
        throw .invalidOption(name: "inputScale", value: "\(k.inputScale)", expected: "a finite factor (32768: int16 units)")
      }
      var padded = length
      if k.roundToPowerOfTwo {
        padded = 1
        while padded < length { padded *= 2 }
      }
      let snip = k.snipEdges
      framing = Framing(
        frameLength: length, hop: shift, firstStart: snip ? 0 : shift / 2 - length / 2, edge: .symmetric,
        frameCount: { n in snip ? (n >= length ? 1 + (n - length) / shift : 0) : (n + shift / 2) / shift })
      window = k.window.doubleCoefficients(length: length, periodic: false)
      fft = RealFFT(size: padded)
      filterbank = try MelFilterbank(kaldiSampleRate: rate, paddedLength: padded, options: k)
      baseBins = k.melBands + (k.useEnergy ? 1 : 0)
      frameBins = baseBins
      dctBasis = []
      hopLength = shift
      blockPath = nil
    } else {
      let s = options.spectrogram
      let windowLength = s.resolvedWindowLength
      let hop = s.resolvedHopLength
      guard s.fftSize >= 2 && s.fftSize <= Self.maximumLength else {
        throw .invalidOption(name: "fftSize", value: "\(s.fftSize)", expected: "2...\(Self.maximumLength) samples")
      }
      guard windowLength >= 1 && windowLength <= s.fftSize else {
        throw .invalidOption(name: "windowLength", value: "\(windowLength)", expected: "1...fftSize (\(s.fftSize))")
      }
      guard hop >= 1 && hop <= Self.maximumLength else {
        throw .invalidOption(name: "hopLength", value: "\(hop)", expected: "1...\(Self.maximumLength) samples")
      }
      guard s.power > 0 && s.power.isFinite else {
        throw .invalidOption(name: "power", value: "\(s.power)", expected: "> 0 (1 magnitude, 2 power)")
      }
      let fftSize = s.fftSize
      // librosa centres a short window inside the FFT frame: pad (fftSize - windowLength) / 2 left.
      var padded = [Double](repeating: 0, count: fftSize)
      let left = (fftSize - windowLength) / 2
      for (i, w) in s.window.doubleCoefficients(length: windowLength, periodic: s.periodicWindow).enumerated() {
        padded[left + i] = w
      }
      window = padded
      let center = s.center
      let pad = fftSize / 2
      framing = Framing(
        frameLength: fftSize, hop: hop, firstStart: center ? -pad : 0,
        edge: center ? (s.padMode == .reflect ? .reflect : .zero) : .zero,
        frameCount: { n in
          let length = center ? n + 2 * pad : n
          return length >= fftSize ? 1 + (length - fftSize) / hop : 0
        })
      fft = RealFFT(size: fftSize)
      hopLength = hop
      switch options.kind {
      case .stft, .power:
        filterbank = nil
        dctBasis = []
        baseBins = fftSize / 2 + 1
        frameBins = baseBins
      case .mel, .logmel, .mfcc, .pcen:
        let bank = try MelFilterbank(sampleRate: rate, fftSize: fftSize, options: options.mel)
        filterbank = bank
        frameBins = bank.bands
        if options.kind == .mfcc {
          let count = options.mfcc.mfccCount
          guard count >= 1 && count <= bank.bands else {
            throw .invalidOption(name: "mfccCount", value: "\(count)", expected: "1...melBands (\(bank.bands))")
          }
          guard options.mfcc.lifter >= 0 && options.mfcc.lifter.isFinite else {
            throw .invalidOption(name: "lifter", value: "\(options.mfcc.lifter)", expected: ">= 0 (0 disables it)")
          }
          dctBasis = Self.dctBasis(count: count, size: bank.bands, lifter: Double(options.mfcc.lifter))
          baseBins = count
        } else {
          dctBasis = []
          baseBins = bank.bands
        }
      case .fbank:
        preconditionFailure("handled above")
      }
      switch (options.kind, s.power, kernels) {
      case (.mel, 1, let k?), (.mel, 2, let k?), (.pcen, 1, let k?), (.pcen, 2, let k?): blockPath = (k, .copy)
      case (.logmel, 1, let k?), (.logmel, 2, let k?), (.mfcc, 1, let k?), (.mfcc, 2, let k?):
        blockPath = (k, options.log.compression == .natural ? .naturalLog : .scaledLog)
      default: blockPath = nil
      }
      if options.kind == .logmel || options.kind == .mfcc {
        guard options.log.floor.isNormal && options.log.floor > 0 else {
          throw .invalidOption(
            name: "log.floor", value: "\(options.log.floor)",
            expected: "a positive normal Float (\(Float.leastNormalMagnitude)...\(Float.greatestFiniteMagnitude))")
        }
        guard options.log.reference > 0 && options.log.reference.isFinite else {
          throw .invalidOption(name: "log.reference", value: "\(options.log.reference)", expected: "finite and > 0")
        }
        if let top = options.log.topDecibels, !(top >= 0) {
          throw .invalidOption(name: "log.topDecibels", value: "\(top)", expected: ">= 0, or nil for no clamp")
        }
      }
    }
    if options.kind == .pcen {
      let p = options.pcen
      for (name, value) in [("pcen.gain", p.gain), ("pcen.bias", p.bias), ("pcen.exponent", p.exponent)]
      where !(value >= 0 && value.isFinite) {
        throw .invalidOption(name: name, value: "\(value)", expected: "finite and >= 0")
      }
      for (name, value) in [("pcen.timeConstant", p.timeConstant), ("pcen.inputScale", p.inputScale)]
      where !(value > 0 && value.isFinite) {
        throw .invalidOption(name: name, value: "\(value)", expected: "finite and > 0")
      }
      guard p.epsilon.isNormal && p.epsilon > 0 else {
        throw .invalidOption(
          name: "pcen.epsilon", value: "\(p.epsilon)",
          expected: "a positive normal Float (\(Float.leastNormalMagnitude)...\(Float.greatestFiniteMagnitude))")
      }
    }
    let d = options.deltas
    guard (0...2).contains(d.order) else {
      throw .invalidOption(name: "deltas.order", value: "\(d.order)", expected: "0, 1 or 2")
    }
    guard d.order == 0 || (d.width >= 3 && d.width % 2 == 1) else {
      throw .invalidOption(name: "deltas.width", value: "\(d.width)", expected: "an odd number >= 3")
    }
    guard options.cmvn.mode != .sliding || options.cmvn.windowFrames >= 1 else {
      throw .invalidOption(name: "cmvn.windowFrames", value: "\(options.cmvn.windowFrames)", expected: ">= 1")
    }
    if let span = options.cmvn.speechSpan {
      guard options.kind == .logmel || options.kind == .mfcc else {
        throw .invalidOption(
          name: "cmvn.speechSpan", value: "\(span.decibels) dB, kind \(options.kind.rawValue)", expected: "kind logmel or mfcc")
      }
      guard options.cmvn.mode == .utterance || options.cmvn.mode == .level else {
        throw .invalidOption(
          name: "cmvn.speechSpan", value: "\(span.decibels) dB, mode \(options.cmvn.mode.rawValue)",
          expected: "mode utterance or level")
      }
      guard span.decibels > 0 && span.decibels.isFinite else {
        throw .invalidOption(name: "cmvn.speechSpan.decibels", value: "\(span.decibels)", expected: "finite and > 0")
      }
      guard span.marginFrames >= 0 else {
        throw .invalidOption(name: "cmvn.speechSpan.marginFrames", value: "\(span.marginFrames)", expected: ">= 0")
      }
    }
    outputBins = baseBins * (1 + d.order)
    let clamps = (options.kind == .logmel || options.kind == .mfcc) && options.log.compression == .decibels
      && options.log.topDecibels != nil
    finalizesForward = !clamps && d.order == 0 && options.cmvn.mode == .none
    needsWholeUtterance = !finalizesForward || options.kind == .pcen
    streamableTopDecibels = clamps && options.kind == .logmel && d.order == 0 && options.cmvn.mode == .none
      ? options.log.topDecibels : nil
  }

  /// Features of a whole utterance: (frames, outputBins); `finalize(frameLocal(samples))`.
  /// The samples must be at `options.sampleRate` (`import Earshot` adds a `MonoAudio`
  /// overload that resamples audio at any rate).
  /// - Throws: `FeatureError.signalTooShort` when `center` is off and the signal is shorter
  ///   than one frame (librosa raises there too) or deltas need more frames than there are,
  ///   `.nonFiniteInput` for NaN or Inf samples.
  public func callAsFunction(_ samples: [Float]) throws(FeatureError) -> FeatureMatrix {
    try finalize(frameLocal(samples))
  }

  /// Frame-local features of a whole utterance, before `finalize`: (frames, frameBins).
  /// - Throws: `FeatureError.signalTooShort` when `center` is off and the signal is shorter
  ///   than one frame, `.nonFiniteInput` for NaN or Inf samples.
  public func frameLocal(_ samples: [Float]) throws(FeatureError) -> FeatureMatrix {
    if let bad = samples.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteInput(index: bad) }
    if options.kind != .fbank && !options.spectrogram.center && samples.count < framing.frameLength {
      throw .signalTooShort(
        samples: samples.count, needed: framing.frameLength, reason: "center is off and fftSize is \(framing.frameLength)")
    }
    // The whole signal is at hand: frame it in place, no stream buffer.
    let count = framing.frameCount(samples.count)
    let scratch = makeScratch()
    // Every frame's row is written below, so the storage starts uninitialized (not zeroed).
    let values = [Float](unsafeUninitializedCapacity: count * frameBins) { out, initialized in
      ek_advise_huge_pages(out.baseAddress, out.count * 4)
      samples.withUnsafeBufferPointer { x in
        var frame = [Float](repeating: 0, count: framing.frameLength)
        var f = 0
        while f < count {
          let start = framing.firstStart + f * framing.hop
          let target = out.baseAddress! + f * frameBins
          if start >= 0 && start + framing.frameLength <= x.count {
            // Every frame from here to the last one that fits: read in place.
            let run = min((x.count - framing.frameLength - start) / framing.hop + 1, count - f)
            processFrames(x.baseAddress! + start, count: run, scratch: scratch, into: target)
            f += run
          } else {
            for j in 0..<framing.frameLength {
              frame[j] = framing.sourceIndex(start + j, count: x.count).map { x[$0] } ?? 0
            }
            frame.withUnsafeBufferPointer { processFrames($0.baseAddress!, count: 1, scratch: scratch, into: target) }
            f += 1
          }
        }
      }
      initialized = count * frameBins
    }
    return FeatureMatrix(frames: count, bins: frameBins, values: values)
  }

  /// Frames produced for a signal of `samples` samples.
  public func frameCount(forSamples samples: Int) -> Int { framing.frameCount(samples) }

  /// A streaming front end: feed blocks, get frame-local features as frames complete.
  public func makeStream() -> FeatureStream { FeatureStream(extractor: self) }

  /// Finishes a stream's frame-local blocks one by one, in order, where every utterance-level
  /// step runs forward in time: MFCC's DCT (frame by frame) and PCEN (its smoother carried from
  /// block to block), so that hours of features can go to disk in bounded memory. Nil when a
  /// step needs the whole utterance first (a top-dB clamp, deltas, CMVN). Each block comes out
  /// as the same rows of ``finalize(_:)`` on the whole utterance.
  public func makeBlockFinalizer() -> BlockFinalizer? {
    finalizesForward ? BlockFinalizer(extractor: self) : nil
  }

  /// The utterance-level steps on frame-local features from a stream: the top-dB clamp, the
  /// DCT for MFCC, deltas, CMVN. Returns (frames, outputBins).
  public func finalize(_ frameLocal: consuming FeatureMatrix) throws(FeatureError) -> FeatureMatrix {
    var pcen = PCENState(bands: frameBins)
    return try finalize(frameLocal, pcen: &pcen)
  }

  /// ``finalize(_:)`` with PCEN's smoother continuing from `pcen` (and left at the last
  /// frame's), for the blocks of one stream in order.
  func finalize(_ frameLocal: consuming FeatureMatrix, pcen: inout PCENState) throws(FeatureError) -> FeatureMatrix {
    precondition(frameLocal.bins == frameBins, "frame-local bins \(frameLocal.bins) != \(frameBins)")
    // Consumed, so the clamp below works in place instead of copying the whole matrix.
    var m = consume frameLocal
    // The span is found on the log-mel values as they come (before the clamp, the DCT and deltas).
    let statisticsFrames = options.cmvn.speechSpan.map { span in
      CMVN.speechFrames(of: m, span: span, unitsPerDecibel: logUnitsPerDecibel)
    }
    if (options.kind == .logmel || options.kind == .mfcc) && options.log.compression == .decibels,
      let top = options.log.topDecibels, !m.values.isEmpty
    {
      m.values.withUnsafeMutableBufferPointer { v in
        let floor = minimumAndMaximum(UnsafeBufferPointer(v)).1 - top
        for i in 0..<v.count { v[i] = v[i] < floor ? floor : v[i] }
      }
    }
    if options.kind == .mfcc { m = applyDCT(consume m) }
    if options.kind == .pcen { applyPCEN(&m, state: &pcen) }
    if options.deltas.order > 0 {
      guard m.frames >= options.deltas.width else {
        throw .tooFewFrames(
          frames: m.frames, needed: options.deltas.width,
          reason: "deltas of width \(options.deltas.width) need that many frames")
      }
      m = Deltas.append(to: m, order: options.deltas.order, width: options.deltas.width)
    }
    switch options.cmvn.mode {
    case .none: break
    case .utterance: CMVN.utterance(&m, normalizeVariance: options.cmvn.normalizeVariance, statisticsFrames: statisticsFrames)
    case .sliding: m = CMVN.sliding(m, window: options.cmvn.windowFrames, normalizeVariance: options.cmvn.normalizeVariance)
    case .level: CMVN.level(&m, normalizeVariance: options.cmvn.normalizeVariance, statisticsFrames: statisticsFrames)
    }
    return m
  }

  /// Each PCEN band's smoothed energy so far: librosa's default state (1) before the first frame.
  struct PCENState {
    var smoothed: [Double]
    init(bands: Int) { smoothed = [Double](repeating: 1, count: bands) }
  }

  /// Per-channel energy normalisation of mel rows in place (``PCENOptions``), continuing from
  /// `state` (and leaving it at the last frame's): each band's smoother runs in float64, frame
  /// by frame; the gain and the compression then go eight bands at a time in Float
  /// (``pcenInPlace``).
  private func applyPCEN(_ m: inout FeatureMatrix, state: inout PCENState) {
    let p = options.pcen
    let s = p.smoothing(hopSeconds: Double(hopLength) / Double(options.sampleRate))
    let scale = Double(p.inputScale), eps = Double(p.epsilon)
    let bands = m.bins, frames = m.frames
    var smoothed = state.smoothed
    defer { state.smoothed = smoothed }
    var smoothedPlusEpsilon = [Float](repeating: 0, count: bands)
    let biasPower = p.exponent == 0 || p.bias == 0 ? 0 : Float(Foundation.pow(Double(p.bias), Double(p.exponent)))
    m.values.withUnsafeMutableBufferPointer { v in
      smoothedPlusEpsilon.withUnsafeMutableBufferPointer { denominator in
        for t in 0..<frames {
          let row = v.baseAddress! + t * bands
          for j in 0..<bands {
            let e = Double(row[j]) * scale
            smoothed[j] = (1 - s) * smoothed[j] + s * e
            row[j] = Float(e)
            denominator[j] = Float(eps + smoothed[j])
          }
          pcenInPlace(row, smoothedPlusEpsilon: UnsafePointer(denominator.baseAddress!), count: bands,
                      gain: p.gain, bias: p.bias, exponent: p.exponent, biasPower: biasPower)
        }
      }
    }
  }

  /// Log-mel units per decibel of signal power: the features hold `log(|X|^power)`, in dB or
  /// natural log.
  var logUnitsPerDecibel: Double {
    let perPowerDecibel = options.log.compression == .decibels ? 1 : log(10.0) / 10
    return perPowerDecibel * Double(options.spectrogram.power) / 2
  }

  /// Per-thread scratch for `processFrame`.
  final class Scratch {
    let fft: RealFFT.Buffers
    var spectrum: [Float]
    var frame: [Float]
    /// The block path's transforms, (bins, frameBlock) spectra and (bands, frameBlock) mel
    /// values; empty without it.
    let fftBlock: RealFFT.BlockBuffers?
    var spectrumBlock: [Float]
    var melBlock: [Float]
    init(_ extractor: FeatureExtractor) {
      fft = extractor.fft.makeBuffers()
      spectrum = [Float](repeating: 0, count: extractor.fft.bins)
      frame = [Float](repeating: 0, count: extractor.framing.frameLength)
      let block = FeatureKernels.frameBlock
      let blocked = extractor.blockPath != nil
      fftBlock = blocked ? extractor.fft.makeBlockBuffers(count: block) : nil
      spectrumBlock = [Float](repeating: 0, count: blocked ? extractor.fft.bins * block : 0)
      melBlock = [Float](repeating: 0, count: blocked ? extractor.frameBins * block : 0)
    }
  }

  func makeScratch() -> Scratch { Scratch(self) }

  /// `count` frames of raw samples, frame f at `first + f * hopLength` (`framing.frameLength`
  /// samples each) -> `count` rows of `frameBins` frame-local values at `out`.
  ///
  /// The mel kinds go `frameBlock` frames at a time through the C kernels: window, FFT, power
  /// and filterbank frame-parallel, then log and the transpose to rows. The same operations in
  /// the same order as `processFrame`, so the same bits.
  func processFrames(_ first: UnsafePointer<Float>, count: Int, scratch: Scratch, into out: UnsafeMutablePointer<Float>) {
    guard let (kernels, mode) = blockPath.map({ ($0.kernels, $0.mode) }), let buffers = scratch.fftBlock,
      let bank = filterbank
    else {
      for f in 0..<count {
        processFrame(
          UnsafeBufferPointer(start: first + f * hopLength, count: framing.frameLength), scratch: scratch,
          into: out + f * frameBins)
      }
      return
    }
    let log = options.log
    let scale = Float(10 / M_LN10)
    let offset = mode == .scaledLog ? 10 * log10f(max(log.floor, log.reference)) : 0
    let magnitude = options.spectrogram.power == 1
    let n = fft.size
    let bands = bank.bands
    window.withUnsafeBufferPointer { w in
      bank.start.withUnsafeBufferPointer { start in
        bank.offsets.withUnsafeBufferPointer { offsets in
          bank.flatWeights.withUnsafeBufferPointer { weights in
            scratch.spectrumBlock.withUnsafeMutableBufferPointer { spectrum in
              scratch.melBlock.withUnsafeMutableBufferPointer { mel in
                var done = 0
                while done < count {
                  let m = min(FeatureKernels.frameBlock, count - done)
                  kernels.windowFrames(
                    first + done * hopLength, hop: hopLength, count: m, window: w.baseAddress!, length: n,
                    into: buffers.input, stride: buffers.inputStride)
                  fft.powerBlock(buffers, count: m, magnitude: magnitude, kernels: kernels, into: spectrum.baseAddress!)
                  kernels.melBlock(
                    spectrum.baseAddress!, bands: bands, start: start.baseAddress!, offsets: offsets.baseAddress!,
                    weights: weights.baseAddress!, into: mel.baseAddress!)
                  kernels.melRows(
                    mel.baseAddress!, bands: bands, count: m, mode: mode, floor: log.floor, scale: scale,
                    offset: offset, into: out + done * frameBins, stride: frameBins)
                  done += m
                }
              }
            }
          }
        }
      }
    }
  }

  /// One frame of raw samples -> `frameBins` frame-local values at `out`.
  func processFrame(_ samples: UnsafeBufferPointer<Float>, scratch: Scratch, into out: UnsafeMutablePointer<Float>) {
    if options.kind == .fbank { return processKaldiFrame(samples, scratch: scratch, into: out) }
    let n = fft.size
    let input = scratch.fft.input
    window.withUnsafeBufferPointer { w in
      for i in 0..<n { input[i] = Double(samples[i]) * w[i] }
    }
    switch options.kind {
    case .stft:
      fft.spectrum(scratch.fft, power: 1, into: out)
    case .power:
      fft.spectrum(scratch.fft, power: 2, into: out)
    default:
      scratch.spectrum.withUnsafeMutableBufferPointer { spectrum in
        fft.spectrum(scratch.fft, power: options.spectrogram.power, into: spectrum.baseAddress!)
        filterbank!.apply(spectrum.baseAddress!, into: out)
      }
      if options.kind == .logmel || options.kind == .mfcc { compress(out, count: frameBins) }
    }
  }

  private func compress(_ values: UnsafeMutablePointer<Float>, count: Int) {
    let log = options.log
    switch log.compression {
    case .natural:
      logInPlace(values, count: count, floor: log.floor)
    case .decibels:
      // 10 log10(max(floor, S)) - 10 log10(max(floor, ref)), as librosa; through the
      // vectorised natural log.
      let scale = Float(10 / M_LN10)
      let offset = 10 * log10f(max(log.floor, log.reference))
      logInPlace(values, count: count, floor: log.floor)
      for i in 0..<count { values[i] = scale * values[i] - offset }
    }
  }

  private func processKaldiFrame(_ samples: UnsafeBufferPointer<Float>, scratch: Scratch, into out: UnsafeMutablePointer<Float>) {
    let k = options.fbank
    let length = framing.frameLength
    scratch.frame.withUnsafeMutableBufferPointer { x in
      for i in 0..<length { x[i] = samples[i] * k.inputScale }
      if k.dither > 0 {
        // Deterministic per-frame dither: seeded from the frame's own samples.
        var rng = SplitMix64(seed: UInt64(bitPattern: Int64(x[0].bitPattern) &* 0x9E37_79B9 &+ Int64(length)))
        for i in 0..<length { x[i] += k.dither * rng.nextGaussian() }
      }
      if k.removeDCOffset {
        var sum: Float = 0
        for i in 0..<length { sum += x[i] }
        let mean = sum / Float(length)
        for i in 0..<length { x[i] -= mean }
      }
      var energy: Float = 0
      if k.useEnergy && k.rawEnergy {
        for i in 0..<length { energy += x[i] * x[i] }
      }
      if k.preemphasis != 0 {
        for i in stride(from: length - 1, to: 0, by: -1) { x[i] -= k.preemphasis * x[i - 1] }
        x[0] -= k.preemphasis * x[0]
      }
      let input = scratch.fft.input
      window.withUnsafeBufferPointer { w in
        for i in 0..<length { input[i] = Double(x[i] * Float(w[i])) }   // float32, as Kaldi
      }
      for i in length..<fft.size { input[i] = 0 }
      if k.useEnergy && !k.rawEnergy {
        for i in 0..<length { energy += Float(input[i] * input[i]) }
      }
      let melOut = k.useEnergy ? out + 1 : out
      scratch.spectrum.withUnsafeMutableBufferPointer { spectrum in
        fft.spectrum(scratch.fft, power: k.usePower ? 2 : 1, into: spectrum.baseAddress!)
        filterbank!.apply(spectrum.baseAddress!, into: melOut)
      }
      if k.useLog { logInPlace(melOut, count: k.melBands, floor: Float.ulpOfOne) }
      if k.useEnergy {
        var logEnergy = logf(max(energy, Float.ulpOfOne))
        if k.energyFloor > 0 { logEnergy = max(logEnergy, logf(k.energyFloor)) }
        out[0] = logEnergy
      }
    }
  }

  /// Lanes of the DCT's coefficient blocks; `dctBasis` rows are padded to a multiple of it.
  private static let dctLanes = 16

  /// MFCCs of (frames, melBands) log-mel rows, computed in place: the coefficients overwrite
  /// the front of the same storage, which is then cut to (frames, mfccCount).
  private func applyDCT(_ m: consuming FeatureMatrix) -> FeatureMatrix {
    var m = m
    let count = baseBins
    let size = m.bins
    precondition(count <= size, "mfccCount \(count) > melBands \(size)")
    // Bands outside, coefficients inside: each block of 16 coefficients sums in registers, in
    // band order, with a separate multiply and add, so every path gives the same bits. Float
    // is enough: the lifter-22 fixture measured 4.3e-4 of its 1e-3 budget (the Double FFT is
    // what it needed; a Double DCT gave 4.0e-4 at twice the cost).
    let lanes = Self.dctLanes
    let stride = dctBasis.count / size
    let frames = m.frames
    dctBasis.withUnsafeBytes { d in
      m.values.withUnsafeMutableBufferPointer { v in
        guard let x = v.baseAddress, frames > 0 else { return }
        if let kernels = blockPath?.kernels {
          kernels.dctRows(
            x, frames: frames, size: size, basis: d.baseAddress!.assumingMemoryBound(to: Float.self),
            stride: stride, count: count, into: x)
          return
        }
        // Frame f's coefficients go to f * count <= f * size, after its row has been read.
        var coefficients = [Float](repeating: 0, count: stride)
        for f in 0..<frames {
          let row = x + f * size
          for c0 in Swift.stride(from: 0, to: count, by: lanes) {
            var sum = SIMD16<Float>(repeating: 0)
            for j in 0..<size {
              let basis = d.loadUnaligned(fromByteOffset: (j * stride + c0) * 4, as: SIMD16<Float>.self)
              sum += basis * SIMD16(repeating: row[j])
            }
            for lane in 0..<lanes { coefficients[c0 + lane] = sum[lane] }
          }
          for c in 0..<count { x[f * count + c] = coefficients[c] }
        }
      }
    }
    m.values.removeLast(m.values.count - frames * count)
    return FeatureMatrix(frames: frames, bins: count, values: m.values)
  }

  /// Orthonormal DCT-II rows `sqrt(2/N) s_k cos(pi k (2n + 1) / 2N)` (s_0 = 1/sqrt 2), each
  /// scaled by the lifter `1 + (L/2) sin(pi (k + 1) / L)` when L > 0, as `librosa.feature.mfcc`;
  /// computed in Double, rounded to Float and stored transposed: (size, stride), where stride
  /// is `count` rounded up to a multiple of `dctLanes` and the padding is zero.
  static func dctBasis(count: Int, size: Int, lifter: Double) -> [Float] {
    let stride = (count + dctLanes - 1) / dctLanes * dctLanes
    var d = [Float](repeating: 0, count: size * stride)
    for k in 0..<count {
      let scale = sqrt(2 / Double(size)) * (k == 0 ? 1 / sqrt(2) : 1)
      let lift = lifter > 0 ? 1 + lifter / 2 * sin(Double.pi * Double(k + 1) / lifter) : 1
      for n in 0..<size {
        d[n * stride + k] = Float(scale * lift * cos(Double.pi * Double(k) * Double(2 * n + 1) / Double(2 * size)))
      }
    }
    return d
  }
}

/// Finishes a stream's frame-local blocks in order (``FeatureExtractor/makeBlockFinalizer()``);
/// one per stream, not shared between threads.
public final class BlockFinalizer {
  private let extractor: FeatureExtractor
  private var pcen: FeatureExtractor.PCENState

  init(extractor: FeatureExtractor) {
    self.extractor = extractor
    pcen = FeatureExtractor.PCENState(bands: extractor.frameBins)
  }

  /// The next block's final rows: (frames, outputBins).
  public func callAsFunction(_ block: consuming FeatureMatrix) throws(FeatureError) -> FeatureMatrix {
    try extractor.finalize(block, pcen: &pcen)
  }
}

/// Incremental feature extraction over a stream of sample blocks, in bounded memory.
///
/// ```swift
/// let stream = extractor.makeStream()
/// var frames = FeatureMatrix(frames: 0, bins: extractor.frameBins)
/// for block in blocks { stream.feed(block, appendingTo: &frames) }
/// stream.finish(appendingTo: &frames)
/// let features = try extractor.finalize(consume frames)
/// ```
public final class FeatureStream {
  private let extractor: FeatureExtractor
  private var framer: Framer
  private let scratch: FeatureExtractor.Scratch

  init(extractor: FeatureExtractor) {
    self.extractor = extractor
    framer = Framer(framing: extractor.framing)
    scratch = extractor.makeScratch()
  }

  /// Frame-local features of the frames that `block` completed: (newFrames, frameBins).
  public func feed(_ block: [Float]) -> FeatureMatrix {
    var out = FeatureMatrix(frames: 0, bins: extractor.frameBins)
    out.values.reserveCapacity((block.count / extractor.hopLength + 1) * extractor.frameBins)
    feed(block, appendingTo: &out)
    return out
  }

  /// Appends the rows of the frames that `block` completed to `features` (frameBins wide);
  /// reserve its capacity from `FeatureExtractor.frameCount(forSamples:)` to avoid regrowth.
  public func feed(_ block: [Float], appendingTo features: inout FeatureMatrix) {
    precondition(features.bins == extractor.frameBins, "bins \(features.bins) != \(extractor.frameBins)")
    framer.feed(block) { first, count in emit(first, count: count, into: &features.values) }
    features.frames = features.values.count / features.bins
  }

  /// The frames that need the end of the signal (padding or mirroring past it).
  public func finish() -> FeatureMatrix {
    var out = FeatureMatrix(frames: 0, bins: extractor.frameBins)
    finish(appendingTo: &out)
    return out
  }

  /// Appends the final frames to `features`.
  public func finish(appendingTo features: inout FeatureMatrix) {
    precondition(features.bins == extractor.frameBins, "bins \(features.bins) != \(extractor.frameBins)")
    framer.finish { first, count in emit(first, count: count, into: &features.values) }
    features.frames = features.values.count / features.bins
  }

  /// Appends the rows of `count` frames, frame f at `first + f * hopLength`.
  private func emit(_ first: UnsafePointer<Float>, count: Int, into out: inout [Float]) {
    let bins = extractor.frameBins
    let base = out.count
    out.append(contentsOf: repeatElement(0, count: bins * count))
    out.withUnsafeMutableBufferPointer { o in
      extractor.processFrames(first, count: count, scratch: scratch, into: o.baseAddress! + base)
    }
  }
}

extension FeatureMatrix {
  /// Appends the rows of `other` (same `bins`).
  public mutating func append(_ other: FeatureMatrix) {
    precondition(bins == other.bins, "bins \(bins) != \(other.bins)")
    values += other.values
    frames += other.frames
  }
}

/// A small, fast, seedable generator (SplitMix64) for dither.
struct SplitMix64 {
  private var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// A standard normal sample (Box-Muller).
  mutating func nextGaussian() -> Float {
    let u1 = Double(next() >> 11 + 1) / Double(1 << 53)
    let u2 = Double(next() >> 11) / Double(1 << 53)
    return Float(sqrt(-2 * log(u1)) * cos(2 * Double.pi * u2))
  }
}
