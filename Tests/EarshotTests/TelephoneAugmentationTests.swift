@testable import Earshot
import Foundation
import Testing

/// The telephone channel of training augmentation: G.711 mu-law against Python's audioop,
/// the filters against scipy, the band limits by tones, and the seeded draw.
@Suite struct TelephoneAugmentationTests {
  /// Codes and decoded values from audioop (the Sun G.711 reference code):
  /// `scripts/fixtures/telephone.py`.
  @Test func muLawMatchesG711() {
    let samples: [Int16] = [
      0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 31, 33, 100, -100, 131, 255, 1000, -1000, 4063, 4064,
      8159, 8160, 16000, -16000, 32000, 32767, -32768, 32635, 32636, -32635, 12345, -12345
    ]
    let codes: [UInt8] = [
      255, 255, 126, 255, 126, 255, 126, 254, 126, 254, 126, 251, 251, 242, 114, 239, 231, 206, 78,
      175, 175, 159, 159, 144, 16, 128, 128, 0, 128, 128, 0, 151, 23
    ]
    #expect(samples.map(MuLaw.encode) == codes)
    let decoded: [Int16] = [
      -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956,
      -23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764,
      -15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412,
      -11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316,
      -7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140,
      -5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092,
      -3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004,
      -2876, -2748, -2620, -2492, -2364, -2236, -2108, -1980,
      -1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436,
      -1372, -1308, -1244, -1180, -1116, -1052, -988, -924,
      -876, -844, -812, -780, -748, -716, -684, -652,
      -620, -588, -556, -524, -492, -460, -428, -396,
      -372, -356, -340, -324, -308, -292, -276, -260,
      -244, -228, -212, -196, -180, -164, -148, -132,
      -120, -112, -104, -96, -88, -80, -72, -64,
      -56, -48, -40, -32, -24, -16, -8, 0,
      32124, 31100, 30076, 29052, 28028, 27004, 25980, 24956,
      23932, 22908, 21884, 20860, 19836, 18812, 17788, 16764,
      15996, 15484, 14972, 14460, 13948, 13436, 12924, 12412,
      11900, 11388, 10876, 10364, 9852, 9340, 8828, 8316,
      7932, 7676, 7420, 7164, 6908, 6652, 6396, 6140,
      5884, 5628, 5372, 5116, 4860, 4604, 4348, 4092,
      3900, 3772, 3644, 3516, 3388, 3260, 3132, 3004,
      2876, 2748, 2620, 2492, 2364, 2236, 2108, 1980,
      1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436,
      1372, 1308, 1244, 1180, 1116, 1052, 988, 924,
      876, 844, 812, 780, 748, 716, 684, 652,
      620, 588, 556, 524, 492, 460, 428, 396,
      372, 356, 340, 324, 308, 292, 276, 260,
      244, 228, 212, 196, 180, 164, 148, 132,
      120, 112, 104, 96, 88, 80, 72, 64,
      56, 48, 40, 32, 24, 16, 8, 0,
    ]
    #expect((0...255).map { MuLaw.decode(UInt8($0)) } == decoded)
  }

  /// The 4th-order Butterworth filters against scipy.signal.butter(4, ..., fs=8000,
  /// output="sos") run by sosfilt: the first 48 samples of each impulse response
  /// (`scripts/fixtures/telephone.py`).
  @Test func butterworthMatchesScipy() {
    let highPass300: [Double] = [
      7.344079979886e-01, -4.516809473147e-01, -3.076525871084e-01, -1.920163477775e-01,
      -1.016568765598e-01, -3.349238501436e-02, 1.550010422107e-02, 4.825295190734e-02,
      6.757199569041e-02, 7.609951990450e-02, 7.627908675946e-02, 7.032487131523e-02,
      6.019758360260e-02, 4.758839415812e-02, 3.391158863905e-02, 2.030602601176e-02,
      7.644906829404e-03, -3.447099501552e-03, -1.257065361163e-02, -1.952396494603e-02,
      -2.427201416719e-02, -2.691434761397e-02, -2.765290909989e-02, -2.676120309754e-02,
      -2.455586444818e-02, -2.137146290034e-02, -1.753911407335e-02, -1.336921749539e-02,
      -9.138409942314e-03, -5.080618072089e-03, -1.381924889332e-03, 1.821166471667e-03,
      4.440579779605e-03, 6.433185135189e-03, 7.795570709401e-03, 8.557634338856e-03,
      8.775524781588e-03, 8.524405104778e-03, 7.891439643933e-03, 6.969326901146e-03,
      5.850618814801e-03, 4.622986537940e-03, 3.365517914552e-03, 2.146065090850e-03,
      1.019604124632e-03, 2.752321473529e-05, -8.022773344384e-04, -1.454612322553e-03,
    ]
    let lowPass3400: [Double] = [
      5.365885311137e-01, 6.580280039052e-01, -2.256109933009e-01, -2.192433049181e-02,
      1.338502693921e-01, -1.550424709973e-01, 1.238906535344e-01, -7.065462063475e-02,
      1.670572068948e-02, 2.518779152699e-02, -4.965143446038e-02, 5.687981903824e-02,
      -5.057873991825e-02, 3.602839336108e-02, -1.852674938861e-02, 2.347892798712e-03,
      9.769555754931e-03, -1.668128904449e-02, 1.857531743554e-02, -1.653748818198e-02,
      1.207860473815e-02, -6.723333348449e-03, 1.719250812828e-03, 2.115531782964e-03,
      -4.419058633799e-03, 5.218976190531e-03, -4.812875861928e-03, 3.633616601818e-03,
      -2.129191160197e-03, 6.752160701616e-04, 4.733097777550e-04, -1.193610750418e-03,
      1.478773877147e-03, -1.404727172234e-03, 1.091614810478e-03, -6.683973956522e-04,
      2.462950378207e-04, 9.661329426010e-05, -3.200769162885e-04, 4.179481926168e-04,
      -4.092270591554e-04, 3.270867400721e-04, -2.085163284026e-04, 8.632110080316e-05,
      1.573178160847e-05, -8.465185026767e-05, 1.174477030375e-04, -1.187225119994e-04,
    ]
    for (expected, highPass, cutoff) in [(highPass300, true, 300.0), (lowPass3400, false, 3_400)] {
      var x = [Double](repeating: 0, count: expected.count)
      x[0] = 1
      for section in Augmentation.butterworth(highPass: highPass, cutoff: cutoff, sampleRate: 8_000) {
        section.filter(&x)
      }
      let worst = zip(x, expected).map { abs($0 - $1) }.max()!
      #expect(worst < 1e-9, "cut-off \(cutoff) Hz: largest difference \(worst)")
    }
  }

  /// RMS level in dB of `x` after its first 0.1 s at 8 kHz (the filters' onset).
  static func level(_ x: [Float]) -> Double {
    let tail = x.dropFirst(800)
    return 10 * log10(tail.reduce(0) { $0 + Double($1) * Double($1) } / Double(tail.count))
  }

  /// At 8 kHz, for several seeds (cut-offs and levels): a 1 kHz tone keeps its level (within
  /// 0.5 dB: the filters pass it and the scaling is undone), tones at 100 Hz and 3,950 Hz
  /// lose at least 20 dB, the same seed gives the same samples, and silence stays silent.
  @Test(arguments: [UInt64(1), 2, 3, 4, 5])
  func theLineKeepsTheVoiceBandOnly(seed: UInt64) {
    func tone(_ hz: Double) -> [Float] { (0..<8_000).map { Float(0.5 * sin(2 * Double.pi * hz * Double($0) / 8_000)) } }
    func line(_ x: [Float]) -> [Float] {
      var y = x
      var g = SeededGenerator(seed: seed)
      Augmentation.applyTelephone(&y, sampleRate: 8_000, generator: &g)
      return y
    }
    let speech = tone(1_000)
    #expect(abs(Self.level(line(speech)) - Self.level(speech)) < 0.5)
    for hz in [100.0, 3_950] {
      let x = tone(hz)
      #expect(Self.level(line(x)) < Self.level(x) - 20, "\(hz) Hz")
    }
    #expect(line([Float](repeating: 0, count: 100)) == [Float](repeating: 0, count: 100))
  }

  /// The line's samples lie on the mu-law grid: with the draws made by hand (cut-offs, then
  /// the level), each output sample scaled to the drawn peak is a decoded mu-law value, and
  /// the coding moves the filtered signal by no more than half a step of its segment.
  @Test func theLineIsMuLawCoded() {
    let x = (0..<4_000).map { Float(0.4 * sin(Double($0) * 0.9) + 0.2 * sin(Double($0) * 0.13)) }
    var y = x
    var g = SeededGenerator(seed: 11)
    Augmentation.applyTelephone(&y, sampleRate: 8_000, generator: &g)
    var h = SeededGenerator(seed: 11)
    let low = h.uniform(200, 400), high = h.uniform(3_000, 3_600), peakDecibels = h.uniform(-30, -1)
    var filtered = x.map(Double.init)
    for section in Augmentation.butterworth(highPass: true, cutoff: Double(low), sampleRate: 8_000)
      + Augmentation.butterworth(highPass: false, cutoff: Double(high), sampleRate: 8_000) {
      section.filter(&filtered)
    }
    let scale = pow(10, Double(peakDecibels) / 20) / filtered.map(abs).max()! * 32_768
    let grid = Set((0...255).map { Int(MuLaw.decode(UInt8($0))) })
    var offGrid = 0, worst = 0.0
    for (out, clean) in zip(y, filtered) {
      let level = Double(out) * scale
      if !grid.contains(Int(level.rounded())) || abs(level - level.rounded()) > 0.01 { offGrid += 1 }
      // A segment's step is 2^(segment + 3) for magnitudes up to 2^(segment + 8): at most 1/16 of it.
      worst = max(worst, abs(level - clean * scale) / max(abs(clean * scale), 256))
    }
    #expect(offGrid == 0)
    #expect(worst <= 1.0 / 16, "largest coding error \(worst) of the magnitude")
  }

  /// The coin is drawn only when the option is on, so runs without it draw as before; with
  /// probability 1 the waveform step is the line itself; out-of-range probabilities are refused.
  @Test func augmentWaveformAppliesTheLine() {
    let x = (0..<4_000).map { Float(0.3 * sin(Double($0) * 0.7)) }
    var off = x
    var g = SeededGenerator(seed: 7)
    Augmentation.augmentWaveform(&off, sampleRate: 8_000, options: .none, noise: [], generator: &g)
    var fresh = SeededGenerator(seed: 7)
    #expect(off == x && g.next() == fresh.next())
    var o = AugmentationOptions.none
    o.telephoneProbability = 1
    #expect(o.changesWaveform)
    var on = x
    var a = SeededGenerator(seed: 7)
    Augmentation.augmentWaveform(&on, sampleRate: 8_000, options: o, noise: [], generator: &a)
    var direct = x
    var b = SeededGenerator(seed: 7)
    _ = b.nextUnitFloat()
    Augmentation.applyTelephone(&direct, sampleRate: 8_000, generator: &b)
    #expect(on == direct && on != x)
    o.telephoneProbability = 1.5
    #expect(throws: TrainingError.self) { try o.validate() }
  }
}
