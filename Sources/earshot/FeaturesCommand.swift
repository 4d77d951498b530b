import ArgumentParser
import Earshot
import Foundation

extension FeatureKind: ExpressibleByArgument {}
extension WindowKind: ExpressibleByArgument {}
extension PadMode: ExpressibleByArgument {}
extension CMVNMode: ExpressibleByArgument {}
extension LogCompression: ExpressibleByArgument {}
extension MelNormalization: ExpressibleByArgument {}
extension MelScale: ExpressibleByArgument {}
extension FeatureFileFormat: ExpressibleByArgument {}

struct Features: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "features",
    abstract: "Compute spectrograms, mel, log-mel, MFCC, PCEN or Kaldi fbank features of audio files.",
    discussion: """
      Defaults follow librosa (n_fft 2048, hop 512, 128 Slaney mel bands, power 2, centred \
      frames with zero padding) so that `--kind mel` equals librosa.feature.melspectrogram \
      at the file's own rate; `--kind fbank` follows Kaldi (25 ms povey frames every 10 ms, \
      23 bins, snip edges, dither 0). `--kind pcen` is librosa.pcen of the mel spectrogram \
      as librosa's example computes it: magnitude (--power 1) and samples read as 32-bit \
      integers (--pcen-scale 2^31). Output is time-major: (frames, bins).

      Examples:
        earshot features a.wav --kind logmel --fft-size 512 --window-length 400 \\
            --hop-length 160 --mel-bands 80 --sample-rate 16000 --output feats/
        earshot features corpus/ --kind fbank --mel-bands 80 --format kaldi-ark \\
            --output feats/
        earshot features a.wav --kind mel --format png --output pictures/
        earshot features birds.flac --kind pcen --sample-rate 22050 --hop-length 512 \\
            --pcen-time-constant 0.06 --output feats/

      Formats: npy (float32, one <name>.npy per file), csv, json (one object per file; \
      with --channel N it names the channel), \
      kaldi-ark (feats.ark + feats.scp in the output folder; kaldiio reads them), png \
      (a picture with axes and a colour scale). --output - writes to stdout (not png). \
      Output names (and Kaldi keys) follow the input: a.wav gives a.npy; a folder's files \
      keep their sub-folders (corpus/yes/a.wav gives feats/yes/a.npy, key yes/a). A file \
      that cannot be read prints one line on stderr; the rest go on; exit status 1.
      """)

  @Option(help: "What to compute: stft (magnitude), power, mel, logmel, mfcc, pcen (per-channel energy normalised mel) or fbank.")
  var kind: FeatureKind = .mel
  @Option(help: "Output folder, or - for stdout.")
  var output: String
  @Option(help: "Output format: npy, csv, json, kaldi-ark or png.")
  var format: FeatureFileFormat = .npy
  @Option(help: "Resample to this rate (Hz) first, with soxr HQ. (default: each file's own rate)")
  var sampleRate: Int?
  @Option(help: "FFT size in samples (librosa n_fft). (default: 2048)")
  var fftSize: Int?
  @Option(help: "Window length in samples, <= fft size. (default: the fft size)")
  var windowLength: Int?
  @Option(help: "Hop length in samples. (default: window length / 4)")
  var hopLength: Int?
  @Option(help: "Window: hann, hamming, povey or rectangular. (default: hann; fbank: povey)")
  var window: WindowKind?
  @Flag(inversion: .prefixedNo, help: "Centre frames on t * hop, padding the ends (librosa center). (default: --center)")
  var center: Bool?
  @Option(help: "Padding for centred frames: constant (zeros) or reflect. (default: constant)")
  var padMode: PadMode?
  @Option(help: "Spectrum exponent for mel, logmel, mfcc and pcen: 2 power, 1 magnitude. (default: 2; pcen: 1)")
  var power: Float?
  @Option(help: "Mel bands (fbank: bins). (default: 128; fbank: 23)")
  var melBands: Int?
  @Option(help: "Lowest mel edge in Hz. (default: 0; fbank: 20)")
  var minFrequency: Float?
  @Option(help: "Highest mel edge in Hz. (default: Nyquist)")
  var maxFrequency: Float?
  @Option(help: "Mel scale: slaney or htk. (default: slaney)")
  var melScale: MelScale?
  @Option(help: "Mel filter normalisation: slaney (area) or none. (default: slaney)")
  var melNorm: MelNormalization?
  @Option(help: "Log for logmel and mfcc: decibels (librosa power_to_db) or natural (ln). (default: decibels)")
  var log: LogCompression?
  @Option(help: "logmel and mfcc: clamp dB values to this far below the maximum; 0 disables. (default: 80)")
  var topDb: Float?
  @Option(help: "logmel and mfcc: floor before the log (librosa amin). (default: 1e-10)")
  var logFloor: Float?
  @Option(help: "MFCC coefficients kept. (default: 20)")
  var mfccCount: Int?
  @Option(help: "MFCC lifter; 0 disables it. (default: 0)")
  var lifter: Float?
  @Option(help: "Append derivatives: 0 none, 1 delta, 2 delta and delta-delta.")
  var deltas = 0
  @Option(help: "Delta window in frames (odd, >= 3).")
  var deltaWidth = 9
  @Option(help: "Normalisation: none, utterance (per bin), sliding (per bin, Kaldi's centred window) or level (one mean and deviation over all bins: keeps the spectral shape).")
  var cmvn: CMVNMode = .none
  @Option(help: "Sliding CMVN window in frames.")
  var cmvnWindow = 300
  @Flag(help: "CMVN: subtract the mean only, do not divide by the deviation (Kaldi's --norm-vars=false, the default of its apply-cmvn tools).")
  var cmvnMeanOnly = false
  @Option(help: ArgumentHelp(
    "utterance or level CMVN: take the statistics from the speech span only, the frames from the first to the last within DB dB of the loudest (logmel, mfcc). (default: every frame)",
    valueName: "DB"))
  var cmvnSpan: Float?
  @Option(help: "Frames added on each side of the --cmvn-span span.")
  var cmvnSpanMargin = 20
  @Option(help: "pcen: exponent of the smoothed energy it divides by (librosa gain). (default: 0.98)")
  var pcenGain: Float?
  @Option(help: "pcen: added before root compression (librosa bias). (default: 2)")
  var pcenBias: Float?
  @Option(help: "pcen: root compression exponent, 0 for log1p (librosa power). (default: 0.5)")
  var pcenExponent: Float?
  @Option(help: ArgumentHelp("pcen: time constant of the energy smoother (librosa time_constant). (default: 0.4)", valueName: "seconds"))
  var pcenTimeConstant: Float?
  @Option(help: "pcen: keeps the division finite (librosa eps). (default: 1e-6)")
  var pcenEps: Float?
  @Option(help: "pcen: mel energies are multiplied by this first; 2147483648 (2^31) reads samples as 32-bit integers. (default: 2147483648)")
  var pcenScale: Float?
  @Option(help: "fbank: frame length in milliseconds (Kaldi frame-length). (default: 25)")
  var frameLengthMs: Float?
  @Option(help: "fbank: frame shift in milliseconds (Kaldi frame-shift). (default: 10)")
  var frameShiftMs: Float?
  @Flag(help: "fbank: prepend the log frame energy as column 0.")
  var useEnergy = false
  @Flag(inversion: .prefixedNo, help: "fbank: only frames that fit wholly in the signal (Kaldi snip-edges). (default: --snip-edges)")
  var snipEdges: Bool?
  @Option(help: "fbank: pre-emphasis coefficient. (default: 0.97)")
  var preemphasis: Float?
  @Option(help: "Files processed at once. (default: all cores)")
  var threads: Int?
  @OptionGroup var channelOption: ChannelOption
  @Argument(help: "Audio files or directories (any format libsndfile reads); - reads stdin (to its end first: it is staged in a temporary file).")
  var inputs: [String]

  func validate() throws {
    try checkStdinOnce(inputs)
    guard !inputs.isEmpty else { throw ValidationError("give at least one audio file or directory") }
    if let threads, threads < 1 { throw ValidationError("--threads must be >= 1 (got \(threads))") }
    if output == "-" && format == .png { throw ValidationError("--format png needs an output folder, not -") }
    if let topDb, !(topDb >= 0 && topDb.isFinite) {
      throw ValidationError("--top-db must be >= 0 dB, 0 to disable (got \(topDb))")
    }
    try checkOptionsApply()
    if let rate = sampleRate, !(1_000...768_000).contains(rate) {
      throw ValidationError("--sample-rate must be 1000...768000 Hz (got \(rate))")
    }
    // Build with a nominal rate so that option errors surface before any file is read. Without
    // --sample-rate each file keeps its own: options that fit 16 kHz or the highest rate read
    // (a mel edge at 11025 Hz for 44.1 kHz files, say) pass here, and a file whose rate does
    // not fit them is refused on its own.
    func failure(atRate rate: Int) -> FeatureError? {
      do {
        _ = try FeatureExtractor(options: options(sampleRate: rate))
        return nil
      } catch {
        return error
      }
    }
    if let error = failure(atRate: sampleRate ?? 16_000), sampleRate != nil || failure(atRate: 768_000) != nil {
      throw ValidationError(Self.namedByFlag(error))
    }
  }

  /// The library's fields that `features` sets from flags, and those flags.
  static let flags = [
    "frameShiftMilliseconds": "--frame-shift-ms", "frameLengthMilliseconds": "--frame-length-ms",
    "fftSize": "--fft-size", "windowLength": "--window-length", "hopLength": "--hop-length",
    "mfccCount": "--mfcc-count", "melBands": "--mel-bands", "lifter": "--lifter", "power": "--power",
    "preemphasis": "--preemphasis", "log.floor": "--log-floor", "deltas.width": "--delta-width",
    "deltas.order": "--deltas", "minFrequency": "--min-frequency", "maxFrequency": "--max-frequency",
    "lowFrequency/highFrequency": "--min-frequency/--max-frequency",
    "pcen.gain": "--pcen-gain", "pcen.bias": "--pcen-bias", "pcen.exponent": "--pcen-exponent",
    "pcen.timeConstant": "--pcen-time-constant", "pcen.epsilon": "--pcen-eps", "pcen.inputScale": "--pcen-scale",
  ]

  /// `error`'s description, an invalid option named by its flag instead of the library's field.
  static func namedByFlag(_ error: FeatureError) -> String {
    let message = "\(error)"
    if case .invalidOption(let name, _, _) = error, let flag = flags[name], message.hasPrefix(name + " ") {
      return flag + message.dropFirst(name.count)
    }
    return message
  }

  /// Refuses an option that the chosen --kind would ignore, naming the kinds it applies to.
  func checkOptionsApply() throws {
    let groups: [(given: [(String, Bool)], kinds: Set<FeatureKind>, applies: String)] = [
      ([("--fft-size", fftSize != nil), ("--window-length", windowLength != nil), ("--hop-length", hopLength != nil),
        ("--center/--no-center", center != nil), ("--pad-mode", padMode != nil)],
       [.stft, .power, .mel, .logmel, .mfcc, .pcen], "every kind but fbank, whose frames are --frame-length-ms and --frame-shift-ms"),
      ([("--mel-bands", melBands != nil), ("--min-frequency", minFrequency != nil), ("--max-frequency", maxFrequency != nil)],
       [.mel, .logmel, .mfcc, .pcen, .fbank], "mel, logmel, mfcc, pcen and fbank"),
      ([("--power", power != nil), ("--mel-scale", melScale != nil), ("--mel-norm", melNorm != nil)],
       [.mel, .logmel, .mfcc, .pcen], "mel, logmel, mfcc and pcen"),
      ([("--pcen-gain", pcenGain != nil), ("--pcen-bias", pcenBias != nil), ("--pcen-exponent", pcenExponent != nil),
        ("--pcen-time-constant", pcenTimeConstant != nil), ("--pcen-eps", pcenEps != nil), ("--pcen-scale", pcenScale != nil)],
       [.pcen], "pcen"),
      ([("--log", log != nil), ("--top-db", topDb != nil), ("--log-floor", logFloor != nil)], [.logmel, .mfcc], "logmel and mfcc"),
      ([("--mfcc-count", mfccCount != nil), ("--lifter", lifter != nil)], [.mfcc], "mfcc"),
      ([("--frame-length-ms", frameLengthMs != nil), ("--frame-shift-ms", frameShiftMs != nil), ("--use-energy", useEnergy),
        ("--snip-edges/--no-snip-edges", snipEdges != nil), ("--preemphasis", preemphasis != nil)], [.fbank], "fbank"),
    ]
    for group in groups where !group.kinds.contains(kind) {
      if let (option, _) = group.given.first(where: { $0.1 }) {
        throw ValidationError("\(option) does not apply to --kind \(kind.rawValue) (only to \(group.applies))")
      }
    }
    if let topDb, topDb > 0, log == .natural {
      throw ValidationError("--top-db clamps decibels; it does not apply to --log natural (--log-floor bounds natural logs)")
    }
    if cmvnMeanOnly && cmvn == .none {
      throw ValidationError("--cmvn-mean-only needs --cmvn utterance, sliding or level")
    }
  }

  /// The pipeline for one sample rate.
  func options(sampleRate rate: Int) -> FeatureOptions {
    var o = FeatureOptions(kind: kind, sampleRate: rate)
    if let fftSize { o.spectrogram.fftSize = fftSize }
    o.spectrogram.windowLength = windowLength
    o.spectrogram.hopLength = hopLength
    if let window { o.spectrogram.window = window }
    if let center { o.spectrogram.center = center }
    if let padMode { o.spectrogram.padMode = padMode }
    if let power { o.spectrogram.power = power } else if kind == .pcen { o.spectrogram.power = PCENOptions.recommendedSpectrumPower }
    if let melBands { o.mel.melBands = melBands }
    if let minFrequency { o.mel.minFrequency = minFrequency }
    o.mel.maxFrequency = maxFrequency
    if let melScale { o.mel.scale = melScale }
    if let melNorm { o.mel.normalization = melNorm }
    if let log { o.log.compression = log }
    if let logFloor { o.log.floor = logFloor }
    if let topDb { o.log.topDecibels = topDb > 0 ? topDb : nil }
    if let mfccCount { o.mfcc.mfccCount = mfccCount }
    if let lifter { o.mfcc.lifter = lifter }
    if let pcenGain { o.pcen.gain = pcenGain }
    if let pcenBias { o.pcen.bias = pcenBias }
    if let pcenExponent { o.pcen.exponent = pcenExponent }
    if let pcenTimeConstant { o.pcen.timeConstant = pcenTimeConstant }
    if let pcenEps { o.pcen.epsilon = pcenEps }
    if let pcenScale { o.pcen.inputScale = pcenScale }
    o.deltas.order = deltas
    o.deltas.width = deltaWidth
    o.cmvn.mode = cmvn
    o.cmvn.windowFrames = cmvnWindow
    o.cmvn.normalizeVariance = !cmvnMeanOnly
    if let cmvnSpan { o.cmvn.speechSpan = SpeechSpan(decibels: cmvnSpan, marginFrames: cmvnSpanMargin) }
    if kind == .fbank {
      if let melBands { o.fbank.melBands = melBands }
      if let minFrequency { o.fbank.lowFrequency = minFrequency }
      if let maxFrequency { o.fbank.highFrequency = maxFrequency }
      if let window { o.fbank.window = window }
      if let frameLengthMs { o.fbank.frameLengthMilliseconds = frameLengthMs }
      if let frameShiftMs { o.fbank.frameShiftMilliseconds = frameShiftMs }
      o.fbank.useEnergy = useEnergy
      if let snipEdges { o.fbank.snipEdges = snipEdges }
      if let preemphasis { o.fbank.preemphasis = preemphasis }
    }
    return o
  }

  /// One file's result.
  enum Outcome {
    case features(FeatureMatrix, sampleRate: Int, hop: Int)
    /// Already written to its .npy file while it was computed.
    case written
  }

  func run() throws {
    // Features never touch BLAS; one OpenBLAS thread keeps its idle workers from spinning.
    useBLASThreads(1)
    let batch = try AudioBatch(inputs)
    let toStdout = output == "-"
    if toStdout && batch.count > 1 && (format == .npy || format == .csv) {
      // Several arrays back to back could not be told apart.
      printError("error: --format \(format.rawValue) to stdout (--output -) takes one file, not \(batch.count); "
        + "give --output DIR, or --format json or kaldi-ark, which hold several")
      throw ExitCode.validationFailure
    }
    InterruptCleanup.install(outputFolder: toStdout ? nil : output)
    if !toStdout { try createOutputFolder(output) }
    var rates: [Int] = []
    let extractors = ExtractorCache(make: { rate in
      // Called under the cache's lock, for a rate not built yet (again after a failed build).
      if !rates.contains(rate) { rates.append(rate) }
      if rates.count == 2 && rates.last == rate {
        printError("warning: the files have several sample rates (\(rates[0]) and \(rates[1]) Hz at least): each file's "
          + "features cover its own band (0 to half its rate), so their bins do not match; give --sample-rate to resample all to one")
      }
      let extractor: FeatureExtractor
      do {
        extractor = try FeatureExtractor(options: self.options(sampleRate: rate))
      } catch let error as FeatureError {
        throw ValidationError("at \(rate) Hz, " + Self.namedByFlag(error))
      }
      if let bank = extractor.melFilterbank, bank.emptyBands > 0 {
        printError("warning: \(bank.emptyBands) of \(bank.bands) mel bands are empty at \(rate) Hz with \(bank.spectrumBins) FFT bins "
          + "(their values are the floor); use fewer --mel-bands or a larger --fft-size")
      }
      return extractor
    })
    let targetRate = sampleRate
    let outputNames = outputNames(batch)
    // Names matter only where they are written: files in a folder, Kaldi keys.
    let named = !toStdout || format == .kaldiArk
    let name = { @Sendable (i: Int) throws -> String in named ? try outputNames[i].get() : "" }
    let streamNpy = format == .npy && !toStdout
    let outputFolder = output
    var ark = Data()
    var scp = ""
    let arkPath = toStdout ? "-" : URL(fileURLWithPath: output).appendingPathComponent("feats.ark").path
    let channel = channelOption.channel
    let failures = batch.run(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount) { i, _ -> Outcome in
      let base = try name(i)
      let file = try AudioFile(path: batch.paths[i])
      let rate = targetRate ?? file.info.sampleRate
      let extractor = try extractors.get(rate)
      var stream = try MonoStream(file: file, sampleRate: rate, channel: channel)
      let features = extractor.makeStream()
      let expected = Resampler.outputLength(inputFrames: file.info.frames, from: file.info.sampleRate, to: rate)
      let expectedFrames = extractor.frameCount(forSamples: expected)
      if expectedFrames == 0 {
        printError("warning: \(batch.names[i]): \(expected) samples at \(rate) Hz is shorter than one analysis frame "
          + "(\(extractor.windowLength) samples): no frames")
      }
      let topDecibels = extractor.streamableTopDecibels
      let finalizer = extractor.makeBlockFinalizer()
      if streamNpy && (finalizer != nil || topDecibels != nil) {
        // Features go to disk block by block: memory stays bounded for hours. Where every
        // utterance-level step runs forward in time (MFCC's DCT, PCEN), each block is finished
        // in order; a dB top clamp (logmel), which needs the utterance's maximum, is applied
        // in a second pass.
        let path = try outputFile(in: outputFolder, name: base, suffix: "npy")
        let writer = try NumpyStreamWriter(path: path, columns: extractor.outputBins, expectedRows: expectedFrames)
        func append(_ block: FeatureMatrix) throws { try writer.append(finalizer.map { try $0(block) } ?? block) }
        while let block = try stream.next() { try append(features.feed(block)) }
        try append(features.finish())
        if let topDecibels, writer.rows > 0 { try writer.clamp(below: writer.maximum - topDecibels) }
        try writer.finish()
        return .written
      }
      var frames = FeatureMatrix(frames: 0, bins: extractor.frameBins)
      frames.reserveFrames(expectedFrames)
      while let block = try stream.next() { features.feed(block, appendingTo: &frames) }
      features.finish(appendingTo: &frames)
      return .features(try extractor.finalize(consume frames), sampleRate: rate, hop: extractor.hopLength)
    } emit: { i, outcome in
      guard case .features(let m, let rate, let hop) = outcome else { return }
      try write(
        m, name: batch.names[i], base: try name(i), sampleRate: rate, hop: hop, toStdout: toStdout,
        ark: &ark, scp: &scp, arkPath: arkPath)
    }
    if format == .kaldiArk && !ark.isEmpty {
      if toStdout {
        StandardOutput.write(ark)
      } else {
        try writeAtomically(ark, to: arkPath)
        try writeAtomically(Data(scp.utf8), to: URL(fileURLWithPath: output).appendingPathComponent("feats.scp").path)
      }
    }
    if failures > 0 { throw ExitCode.failure }
  }

  private func write(
    _ m: FeatureMatrix, name: String, base: String, sampleRate: Int, hop: Int, toStdout: Bool,
    ark: inout Data, scp: inout String, arkPath: String
  ) throws {
    let bytes: Data
    switch format {
    case .kaldiArk:
      let entry = FeatureWriter.kaldiEntry(m, key: base)
      scp += "\(base) \(arkPath):\(ark.count + entry.matrixOffset)\n"
      ark.append(entry.bytes)
      return
    case .npy:
      if !toStdout {
        // Header and raw values straight to the file: no second 4-bytes-per-value copy.
        try NumpyArray.write(m, to: try outputFile(in: output, name: base, suffix: "npy"))
        return
      }
      bytes = NumpyArray(m).data()
    case .csv: bytes = FeatureWriter.csv(m)
    case .json: bytes = FeatureWriter.json(m, file: name, channel: channelOption.channel, sampleRate: sampleRate, hopLength: hop, kind: kind.rawValue)
    case .png: bytes = picture(m, sampleRate: sampleRate, hop: hop, name: name)
    }
    if toStdout {
      StandardOutput.write(bytes)
    } else {
      try writeAtomically(bytes, to: try outputFile(in: output, name: base, suffix: format.fileExtension))
    }
  }

  private func picture(_ m: FeatureMatrix, sampleRate: Int, hop: Int, name: String) -> Data {
    let o = options(sampleRate: sampleRate)
    let axis: SpectrogramImage.Axis
    switch kind {
    case .stft, .power: axis = .linearHz(maxFrequency: Double(sampleRate) / 2)
    case .mel, .logmel, .pcen:
      axis = .mel(
        minFrequency: Double(o.mel.minFrequency), maxFrequency: Double(o.mel.maxFrequency ?? Float(sampleRate) / 2),
        htk: o.mel.scale == .htk)
    case .fbank, .mfcc: axis = .index
    }
    let title = "\(URL(fileURLWithPath: name).lastPathComponent) \(kind.rawValue)"
    return SpectrogramImage(
      features: m, frameSeconds: Double(hop) / Double(sampleRate), axis: axis,
      toDecibels: kind == .power || kind == .mel || kind == .stft, title: title
    ).png()
  }
}

/// One extractor per sample rate, built on first use, shared by all threads.
final class ExtractorCache: @unchecked Sendable {
  private var cache: [Int: FeatureExtractor] = [:]
  private let lock = NSLock()
  private let make: (Int) throws -> FeatureExtractor

  init(make: @escaping (Int) throws -> FeatureExtractor) { self.make = make }

  func get(_ rate: Int) throws -> FeatureExtractor {
    lock.lock()
    defer { lock.unlock() }
    if let e = cache[rate] { return e }
    let e = try make(rate)
    cache[rate] = e
    return e
  }
}
