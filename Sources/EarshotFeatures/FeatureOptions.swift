/// Which features a pipeline produces.
public enum FeatureKind: String, Codable, Sendable, CaseIterable {
  /// STFT magnitude `|X|`: (frames, fftSize/2+1).
  case stft
  /// Power spectrogram `|X|^2`: (frames, fftSize/2+1).
  case power
  /// Mel spectrogram: (frames, melBands), `librosa.feature.melspectrogram`.
  case mel
  /// Log-mel: (frames, melBands); dB as `librosa.power_to_db` or natural log with a floor.
  case logmel
  /// MFCC: (frames, mfccCount), `librosa.feature.mfcc` (orthonormal DCT-II of dB log-mel).
  case mfcc
  /// Kaldi filterbank: (frames, bins [+1 energy]), kaldi-native-fbank's `OnlineFbank`.
  case fbank
  /// Per-channel energy normalisation of the mel spectrogram: (frames, melBands),
  /// `librosa.pcen(S * pcen.inputScale)` of `librosa.feature.melspectrogram` (see
  /// ``PCENOptions``). An automatic gain control per band in place of a log: steady
  /// backgrounds are divided out, onsets stand out.
  case pcen
}

/// How `center` framing pads the ends of the signal.
public enum PadMode: String, Codable, Sendable, CaseIterable {
  /// Zeros (librosa >= 0.10's default).
  case constant
  /// Mirror without repeating the edge sample (`numpy.pad(mode="reflect")`).
  case reflect
}

/// Short-time Fourier transform framing. Defaults are librosa's `stft` defaults.
public struct SpectrogramOptions: Equatable, Codable, Sendable {
  /// FFT length in samples (librosa `n_fft`), 2...2^20; any size, not only powers of two.
  public var fftSize = 2048
  /// Window length in samples (librosa `win_length`), 1...fftSize; nil: `fftSize`. A shorter
  /// window is zero-padded on both sides to `fftSize`, centred, as librosa does.
  public var windowLength: Int? = nil
  /// Samples between frame starts (librosa `hop_length`), 1...2^20; nil: `windowLength / 4`.
  public var hopLength: Int? = nil
  /// Window shape.
  public var window: WindowKind = .hann
  /// Periodic (true, librosa) or symmetric (false) window.
  public var periodicWindow = true
  /// Pad `fftSize / 2` samples on both ends so frame t is centred at `t * hopLength`.
  public var center = true
  /// What `center` pads with.
  public var padMode: PadMode = .constant
  /// Exponent of the magnitude for `mel` (librosa `power`): 2 power, 1 magnitude.
  public var power: Float = 2

  public init() {}

  /// `windowLength` with its default applied.
  public var resolvedWindowLength: Int { windowLength ?? fftSize }
  /// `hopLength` with its default applied.
  public var resolvedHopLength: Int { hopLength ?? max(resolvedWindowLength / 4, 1) }
}

/// Mel scale variants.
public enum MelScale: String, Codable, Sendable, CaseIterable {
  /// Slaney's Auditory Toolbox scale: linear below 1 kHz, logarithmic above (librosa default).
  case slaney
  /// `2595 log10(1 + f / 700)` (librosa `htk=True`).
  case htk
}

/// Mel filter normalisation.
public enum MelNormalization: String, Codable, Sendable, CaseIterable {
  /// Each triangle divided by its width in Hz (`norm="slaney"`): constant energy per band.
  case slaney
  /// Triangles peak at 1 (`norm=None`).
  case none
}

/// A mel filterbank. Defaults are `librosa.filters.mel`'s.
public struct MelOptions: Equatable, Codable, Sendable {
  /// Number of mel bands (librosa `n_mels`), 1...4096.
  public var melBands = 128
  /// Lowest edge in Hz (librosa `fmin`), >= 0.
  public var minFrequency: Float = 0
  /// Highest edge in Hz (librosa `fmax`); nil: `sampleRate / 2`.
  public var maxFrequency: Float? = nil
  /// Mel scale.
  public var scale: MelScale = .slaney
  /// Filter normalisation.
  public var normalization: MelNormalization = .slaney

  public init() {}
}

/// How `logmel` (and `mfcc`) compress the mel energies.
public enum LogCompression: String, Codable, Sendable, CaseIterable {
  /// `10 log10(max(floor, S)) - 10 log10(max(floor, reference))`, then clamped to
  /// `topDecibels` below the maximum: `librosa.power_to_db(S, ref, amin=floor, top_db)`.
  case decibels
  /// `ln(max(S, floor))`: the log-mel most neural front ends use.
  case natural
}

/// Log compression. Defaults are `librosa.power_to_db`'s.
public struct LogOptions: Equatable, Codable, Sendable {
  /// dB or natural log.
  public var compression: LogCompression = .decibels
  /// Smallest energy before the log (librosa `amin`), a positive normal Float (>= 1.2e-38).
  public var floor: Float = 1e-10
  /// Energy that maps to 0 dB (librosa `ref`), finite and > 0; decibels only.
  public var reference: Float = 1
  /// Clamp to this many dB below the utterance's maximum (librosa `top_db`); nil: no clamp.
  /// Decibels only; needs the whole utterance.
  public var topDecibels: Float? = 80

  public init() {}
}

/// Cepstral coefficients. Defaults are `librosa.feature.mfcc`'s.
public struct MFCCOptions: Equatable, Codable, Sendable {
  /// Coefficients kept (librosa `n_mfcc`), 1...melBands.
  public var mfccCount = 20
  /// Sinusoidal liftering `1 + (L/2) sin(pi k / L)` for k = 1...mfccCount (librosa `lifter`);
  /// finite, >= 0; 0 disables it.
  public var lifter: Float = 0

  public init() {}
}

/// Kaldi filterbank framing and processing. Defaults are kaldi-native-fbank's `FbankOptions`
/// except `dither`, which is 0 here so that results are deterministic.
public struct KaldiFbankOptions: Equatable, Codable, Sendable {
  /// Frame length in milliseconds: 2...2^20 samples at the sample rate.
  public var frameLengthMilliseconds: Float = 25
  /// Frame shift in milliseconds: 1...2^20 samples at the sample rate.
  public var frameShiftMilliseconds: Float = 10
  /// Pre-emphasis coefficient, 0...1: `x[i] -= c * x[i - 1]`.
  public var preemphasis: Float = 0.97
  /// Subtract each frame's mean before anything else.
  public var removeDCOffset = true
  /// Window shape (always symmetric, as Kaldi).
  public var window: WindowKind = .povey
  /// Only frames that fit wholly in the signal (true), or `round(n / shift)` frames with the
  /// ends mirrored (false).
  public var snipEdges = true
  /// Number of triangular mel bins, 3...4096.
  public var melBands = 23
  /// Lowest bin edge in Hz.
  public var lowFrequency: Float = 20
  /// Highest bin edge in Hz; <= 0 means Nyquist plus this value (e.g. -400).
  public var highFrequency: Float = 0
  /// Append log frame energy as column 0.
  public var useEnergy = false
  /// Lower bound for the energy (not its log), finite, >= 0; 0 disables it.
  public var energyFloor: Float = 0
  /// Energy measured before pre-emphasis and windowing (Kaldi's `raw_energy`).
  public var rawEnergy = true
  /// Power (true) or magnitude (false) spectrum.
  public var usePower = true
  /// Natural log of the bin energies (floored at FLT_EPSILON).
  public var useLog = true
  /// Pad the frame to a power of two before the FFT.
  public var roundToPowerOfTwo = true
  /// Gaussian dither amplitude (int16 units), finite, >= 0; 0 disables it.
  public var dither: Float = 0
  /// Samples are multiplied by this first: Kaldi works in int16 units, so 32768 turns
  /// [-1, 1] samples into what `compute-fbank-feats` sees. Finite.
  public var inputScale: Float = 32768

  public init() {}
}

/// Per-channel energy normalisation (Wang et al. 2017; librosa `pcen`): each mel band's energy
/// `E` (times `inputScale`) is divided by a smoothed copy of itself raised to `gain`, then
/// root-compressed: `(E / (epsilon + M)^gain + bias)^exponent - bias^exponent`, where
/// `M[t] = (1 - s) M[t-1] + s E[t]` (`M[-1] = 1`, as librosa's default filter state) and
/// `s` follows from `timeConstant`. Defaults are librosa's, with its documented input
/// scaling: samples in [-1, 1] are read as 32-bit integers (`S * 2**31`); librosa recommends
/// a magnitude mel spectrogram (`power` 1). Parity with librosa 0.11 is tested.
public struct PCENOptions: Equatable, Codable, Sendable {
  /// Exponent of the smoother in the denominator, 0...1 usually (librosa `gain`); >= 0.
  public var gain: Float = 0.98
  /// Added before root compression (librosa `bias`); >= 0.
  public var bias: Float = 2
  /// Root compression exponent (librosa `power`); >= 0, 0 takes `log1p` instead.
  public var exponent: Float = 0.5
  /// Time constant of the smoother in seconds (librosa `time_constant`); > 0.
  public var timeConstant: Float = 0.4
  /// Keeps the division finite (librosa `eps`); > 0.
  public var epsilon: Float = 1e-6
  /// The mel energies are multiplied by this first; > 0. 2^31 reads [-1, 1] samples as 32-bit
  /// integers, the scale librosa's defaults are meant for.
  public var inputScale: Float = 2_147_483_648

  /// The spectrum exponent librosa recommends under PCEN: 1, a magnitude mel spectrogram (the
  /// CLI's default for `--kind pcen` and `train --features pcen`; ``SpectrogramOptions/power``
  /// stays 2 unless set).
  public static let recommendedSpectrumPower: Float = 1

  public init() {}

  /// The smoother's coefficient `s` for frames every `hopSeconds` (librosa's `b`,
  /// `(sqrt(1 + 4 T^2) - 1) / (2 T^2)` with `T = timeConstant / hopSeconds`), computed as the
  /// equal `2 / (1 + sqrt(1 + 4 T^2))`, which stays in (0, 1] for any T (librosa's form
  /// cancels to 0 or past 1 for T under about 1e-8 frames).
  public func smoothing(hopSeconds: Double) -> Double {
    let t = Double(timeConstant) / hopSeconds
    return 2 / (1 + (1 + 4 * t * t).squareRoot())
  }
}

/// Time derivatives appended to the features.
public struct DeltaOptions: Equatable, Codable, Sendable {
  /// 0: none; 1: `[x, delta]`; 2: `[x, delta, delta-delta]`.
  public var order = 0
  /// Savitzky-Golay window in frames, odd, >= 3 (librosa `width`).
  public var width = 9

  public init() {}
}

/// Cepstral mean (and variance) normalisation.
public enum CMVNMode: String, Codable, Sendable, CaseIterable {
  /// Leave the features as they are.
  case none
  /// Over the whole utterance.
  case utterance
  /// Over a sliding window of `windowFrames` (Kaldi's `apply-cmvn-sliding --center=true`).
  case sliding
  /// One mean and deviation over every bin and frame of the utterance: removes the
  /// recording level but keeps the spectral shape, which per-bin normalisation flattens
  /// (for steady sounds such as rain or engines, the shape is most of what there is).
  case level
}

/// Normalisation per feature dimension. Defaults: off.
public struct CMVNOptions: Equatable, Codable, Sendable {
  /// Where the statistics come from.
  public var mode: CMVNMode = .none
  /// Also divide by the standard deviation (population; floored at 1e-10, or for `sliding`
  /// the variance floored at 1e-10, as Kaldi does).
  public var normalizeVariance = true
  /// Sliding window length in frames (Kaldi's `cmn_window`).
  public var windowFrames = 300
  /// Take the `utterance` or `level` statistics from the speech span alone, and normalise every
  /// frame by them; nil: from every frame. Log-mel and MFCC only. Noise alone before or after
  /// the speech (a recording that starts and ends in a room with rain) otherwise pulls the
  /// statistics towards the noise, and networks trained on tightly cut clips lose words.
  public var speechSpan: SpeechSpan? = nil

  public init() {}
}

/// The frames from the first to the last whose level is within `decibels` of the loudest
/// frame's, widened by `marginFrames` on each side. A frame's level is the mean over bands of
/// its log-mel values (before the DCT of MFCC), read as decibels of power.
public struct SpeechSpan: Equatable, Codable, Sendable {
  /// How far under the loudest frame a frame still counts as speech, > 0.
  public var decibels: Float = 25
  /// Frames added on each side of the span, >= 0.
  public var marginFrames = 20

  public init(decibels: Float = 25, marginFrames: Int = 20) {
    self.decibels = decibels
    self.marginFrames = marginFrames
  }
}

/// Everything needed to turn samples into features, Codable so that a model file carries
/// the exact front end it was trained with.
///
/// Defaults reproduce librosa's defaults (22,050 Hz, `n_fft=2048`, `hop_length=512`,
/// 128 Slaney mel bands, power 2, `center=True`, zero padding), so `FeatureOptions()` with
/// `kind = .mel` is `librosa.feature.melspectrogram(y=y, sr=22050)`.
public struct FeatureOptions: Equatable, Codable, Sendable {
  /// What to compute.
  public var kind: FeatureKind = .mel
  /// Sample rate in Hz the samples are expected at.
  public var sampleRate = 22_050
  /// Framing and FFT (not used by `fbank`).
  public var spectrogram = SpectrogramOptions()
  /// Mel filterbank (for `mel`, `logmel`, `mfcc`, `pcen`).
  public var mel = MelOptions()
  /// Log compression (for `logmel`, `mfcc`).
  public var log = LogOptions()
  /// Cepstra (for `mfcc`).
  public var mfcc = MFCCOptions()
  /// Per-channel energy normalisation (for `pcen`; `mel` sets its bands).
  public var pcen: PCENOptions {
    get { storedPCEN ?? PCENOptions() }
    set { storedPCEN = newValue == PCENOptions() ? nil : newValue }
  }
  /// `pcen` where it is not the default: absent from the JSON of front ends that leave it be,
  /// so model files written before it existed decode, and their JSON does not change.
  private var storedPCEN: PCENOptions? = nil
  /// Kaldi filterbank (for `fbank`).
  public var fbank = KaldiFbankOptions()
  /// Appended derivatives.
  public var deltas = DeltaOptions()
  /// Normalisation, applied last (after deltas).
  public var cmvn = CMVNOptions()

  private enum CodingKeys: String, CodingKey {
    case kind, sampleRate, spectrogram, mel, log, mfcc, fbank, deltas, cmvn
    case storedPCEN = "pcen"
  }

  /// Decodes the synthesized encoding; `pcen` may be absent (front ends written before it
  /// existed) and, when it spells out the defaults, is held as absent, so that the options
  /// equal (and encode as) those that never set it.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    kind = try c.decode(FeatureKind.self, forKey: .kind)
    sampleRate = try c.decode(Int.self, forKey: .sampleRate)
    spectrogram = try c.decode(SpectrogramOptions.self, forKey: .spectrogram)
    mel = try c.decode(MelOptions.self, forKey: .mel)
    log = try c.decode(LogOptions.self, forKey: .log)
    mfcc = try c.decode(MFCCOptions.self, forKey: .mfcc)
    fbank = try c.decode(KaldiFbankOptions.self, forKey: .fbank)
    deltas = try c.decode(DeltaOptions.self, forKey: .deltas)
    cmvn = try c.decode(CMVNOptions.self, forKey: .cmvn)
    pcen = try c.decodeIfPresent(PCENOptions.self, forKey: .storedPCEN) ?? PCENOptions()
  }

  public init() {}

  public init(kind: FeatureKind, sampleRate: Int) {
    self.kind = kind
    self.sampleRate = sampleRate
  }

  /// A common speech front end: `melBands` natural-log mel bands over 25 ms Hann windows
  /// every 10 ms, FFT size the next power of two.
  public static func speechLogMel(sampleRate: Int, melBands: Int = 80) -> FeatureOptions {
    var o = FeatureOptions(kind: .logmel, sampleRate: sampleRate)
    let window = sampleRate / 40
    var fft = 1
    while fft < window { fft *= 2 }
    o.spectrogram.fftSize = fft
    o.spectrogram.windowLength = window
    o.spectrogram.hopLength = sampleRate / 100
    o.mel.melBands = melBands
    o.log.compression = .natural
    o.log.floor = 1e-6
    o.log.topDecibels = nil
    return o
  }
}
