import EarshotAudio
import EarshotFeatures
import Foundation
import Testing

@Suite("Feature parity with librosa, scipy and kaldi-native-fbank")
struct ParityTests {
  @Test(arguments: try FeatureFixture.all("window"))
  func window(_ f: FeatureFixture) throws {
    let kind = WindowKind(rawValue: f.string("window")!)!
    let got = kind.coefficients(length: f.int("n")!, periodic: f.bool("periodic") ?? false)
    expectClose(got, try f.expected, rtolOfMax: f.rtolOfMax, atol: f.atol, f.name)
  }

  @Test(arguments: try FeatureFixture.all("mel_filters"))
  func melFilters(_ f: FeatureFixture) throws {
    var mel = MelOptions()
    mel.melBands = f.int("n_mels")!
    mel.minFrequency = f.float("fmin")!
    mel.maxFrequency = f.float("fmax")
    mel.scale = f.bool("htk")! ? .htk : .slaney
    mel.normalization = f.string("norm") == "slaney" ? .slaney : .none
    let bank = try MelFilterbank(sampleRate: f.int("sr")!, fftSize: f.int("n_fft")!, options: mel)
    expectClose(bank.denseMatrix(), try f.expected, rtolOfMax: f.rtolOfMax, atol: f.atol, f.name)
  }

  @Test(arguments: try FeatureFixture.all("stft_magnitude", "power", "mel", "logmel_db", "logmel_ln", "mfcc", "pcen"))
  func spectral(_ f: FeatureFixture) throws {
    let kind: FeatureKind
    var options: FeatureOptions
    switch f.function {
    case "stft_magnitude": kind = .stft
    case "power": kind = .power
    case "mel": kind = .mel
    case "mfcc": kind = .mfcc
    case "pcen": kind = .pcen
    default: kind = .logmel
    }
    options = f.featureOptions(kind: kind)
    if f.function == "logmel_ln" {
      options.log.compression = .natural
      options.log.topDecibels = nil
    }
    let samples: [Float]
    if f.audio != nil {
      samples = try AudioFile.loadMono(path: f.audioPath).samples
    } else {
      samples = try f.input
    }
    let got = try FeatureExtractor(options: options)(samples)
    let expected = try f.expected
    #expect([got.frames, got.bins] == expected.shape, "\(f.name): shape")
    expectClose(got.values, expected, rtolOfMax: f.rtolOfMax, atol: f.atol, f.name)
  }

  @Test(arguments: try FeatureFixture.all("fbank"))
  func kaldiFbank(_ f: FeatureFixture) throws {
    var options = FeatureOptions(kind: .fbank, sampleRate: f.int("samp_freq")!)
    var k = KaldiFbankOptions()
    k.frameLengthMilliseconds = f.float("frame_length_ms")!
    k.frameShiftMilliseconds = f.float("frame_shift_ms")!
    k.dither = f.float("dither")!
    k.preemphasis = f.float("preemph_coeff")!
    k.removeDCOffset = f.bool("remove_dc_offset")!
    k.window = ["povey": .povey, "hamming": .hamming, "hanning": .hann, "rectangular": .rectangular][f.string("window_type")!]!
    k.roundToPowerOfTwo = f.bool("round_to_power_of_two")!
    k.snipEdges = f.bool("snip_edges")!
    k.melBands = f.int("num_bins")!
    k.lowFrequency = f.float("low_freq")!
    k.highFrequency = f.float("high_freq")!
    k.useEnergy = f.bool("use_energy")!
    k.rawEnergy = f.bool("raw_energy")!
    k.energyFloor = f.float("energy_floor")!
    k.useLog = f.bool("use_log_fbank")!
    k.usePower = f.bool("use_power")!
    k.inputScale = f.float("input_scale")!
    options.fbank = k
    let got = try FeatureExtractor(options: options)(try f.input)
    let expected = try f.expected
    #expect([got.frames, got.bins] == expected.shape, "\(f.name): shape")
    expectClose(got.values, expected, rtolOfMax: f.rtolOfMax, atol: f.atol, f.name)
  }

  @Test(arguments: try FeatureFixture.all("delta"))
  func delta(_ f: FeatureFixture) throws {
    let input = try f.load(f.inputPath!).featureMatrix()!
    let got = Deltas.derivative(input, order: f.int("order")!, width: f.int("width")!)
    expectClose(got.values, try f.expected, rtolOfMax: f.rtolOfMax, atol: f.atol, f.name)
  }

  @Test(arguments: try FeatureFixture.all("cmvn"))
  func cmvn(_ f: FeatureFixture) throws {
    var x = try f.load(f.inputPath!).featureMatrix()!
    let variance = f.bool("variance") ?? f.bool("norm_vars") ?? false
    if f.string("mode") == "sliding" {
      x = CMVN.sliding(x, window: f.int("window") ?? f.int("cmn_window")!, normalizeVariance: variance)
    } else {
      CMVN.utterance(&x, normalizeVariance: variance)
    }
    expectClose(x.values, try f.expected, rtolOfMax: f.rtolOfMax, atol: f.atol, f.name)
  }

  /// Level normalisation is per-utterance CMVN of all values as one column (so it rests on
  /// the fixture-checked `CMVN.utterance`), and it keeps the differences between bins.
  @Test(arguments: try FeatureFixture.all("cmvn").filter { $0.string("mode") != "sliding" })
  func levelIsUtteranceCMVNOfAllValues(_ f: FeatureFixture) throws {
    let input = try f.load(f.inputPath!).featureMatrix()!
    for variance in [false, true] {
      var level = input
      CMVN.level(&level, normalizeVariance: variance)
      var column = FeatureMatrix(frames: input.frames * input.bins, bins: 1, values: input.values)
      CMVN.utterance(&column, normalizeVariance: variance)
      let worst = zip(level.values, column.values).map { abs($0 - $1) }.max() ?? 0
      #expect(worst == 0, "\(f.name): level differs from the flattened utterance CMVN by \(worst)")
      let scale = variance ? Double(level[0, 1] - level[0, 0]) / Double(input[0, 1] - input[0, 0]) : 1
      for t in [0, input.frames / 2, input.frames - 1] {
        #expect(abs(Double(level[t, 1] - level[t, 0]) - scale * Double(input[t, 1] - input[t, 0])) < 1e-4, "\(f.name) frame \(t)")
      }
    }
  }
}

@Suite("Decoding and resampling against librosa")
struct AudioParityTests {
  @Test(arguments: try FeatureFixture.all("decode"))
  func decode(_ f: FeatureFixture) throws {
    let audio = try AudioFile.loadMono(path: f.audioPath)
    #expect(audio.sampleRate == f.sampleRate)
    expectClose(audio.samples, try f.expected, rtolOfMax: f.rtolOfMax, atol: f.atol, f.name)
  }

  @Test(arguments: try FeatureFixture.all("resample"))
  func resample(_ f: FeatureFixture) throws {
    let got = try Resampler.resample(try f.input, from: f.int("orig_sr")!, to: f.int("target_sr")!)
    expectClose(got, try f.expected, rtolOfMax: f.rtolOfMax, atol: f.atol, f.name)
  }

  /// Streaming in odd-sized blocks gives what one call gives.
  @Test(arguments: try FeatureFixture.all("resample"))
  func resampleStreaming(_ f: FeatureFixture) throws {
    let input = try f.input
    let whole = try Resampler.resample(input, from: f.int("orig_sr")!, to: f.int("target_sr")!)
    let resampler = try Resampler(from: f.int("orig_sr")!, to: f.int("target_sr")!)
    var streamed: [Float] = []
    var i = 0
    while i < input.count {
      let n = min(777, input.count - i)
      streamed += try resampler.process(Array(input[i..<(i + n)]))
      i += n
    }
    streamed += try resampler.flush()
    #expect(streamed.count == whole.count)
    let diff = zip(streamed, whole).map { abs($0 - $1) }.max() ?? 0
    #expect(diff <= 1e-6, "\(f.name): streamed vs whole max diff \(diff)")
  }
}
