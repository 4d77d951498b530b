@testable import Earshot
import Foundation
import Testing

/// The telephone channel of training augmentation: G.711 mu-law against Python's audioop,
/// the band limits by tones, and the seeded draw.
@Suite struct TelephoneAugmentationTests {
  /// Codes and decoded values from audioop (the Sun G.711 reference code):
  /// `python3 scripts/fixtures/mulaw.py`.
  @Test func muLawMatchesG711() {
    let samples: [Int16] = [0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 31, 33, 100, -100, 131, 255, 1000, -1000, 4063, 4064, 8159, 8160, 16000, -16000, 32000, 32767, -32768, 32635, 32636, -32635, 12345, -12345]
    let codes: [UInt8] = [255, 255, 126, 255, 126, 255, 126, 254, 126, 254, 126, 251, 251, 242, 114, 239, 231, 206, 78, 175, 175, 159, 159, 144, 16, 128, 128, 0, 128, 128, 0, 151, 23]
    #expect(samples.map(MuLaw.encode) == codes)
    let decoded: [Int16] = [
      -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956, -23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764,
      -15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412, -11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316,
      -7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140, -5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092,
      -3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004, -2876, -2748, -2620, -2492, -2364, -2236, -2108, -1980,
      -1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436, -1372, -1308, -1244, -1180, -1116, -1052, -988, -924,
      -876, -844, -812, -780, -748, -716, -684, -652, -620, -588, -556, -524, -492, -460, -428, -396,
      -372, -356, -340, -324, -308, -292, -276, -260, -244, -228, -212, -196, -180, -164, -148, -132,
      -120, -112, -104, -96, -88, -80, -72, -64, -56, -48, -40, -32, -24, -16, -8, 0,
      32124, 31100, 30076, 29052, 28028, 27004, 25980, 24956, 23932, 22908, 21884, 20860, 19836, 18812, 17788, 16764,
      15996, 15484, 14972, 14460, 13948, 13436, 12924, 12412, 11900, 11388, 10876, 10364, 9852, 9340, 8828, 8316,
      7932, 7676, 7420, 7164, 6908, 6652, 6396, 6140, 5884, 5628, 5372, 5116, 4860, 4604, 4348, 4092,
      3900, 3772, 3644, 3516, 3388, 3260, 3132, 3004, 2876, 2748, 2620, 2492, 2364, 2236, 2108, 1980,
      1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436, 1372, 1308, 1244, 1180, 1116, 1052, 988, 924,
      876, 844, 812, 780, 748, 716, 684, 652, 620, 588, 556, 524, 492, 460, 428, 396,
      372, 356, 340, 324, 308, 292, 276, 260, 244, 228, 212, 196, 180, 164, 148, 132,
      120, 112, 104, 96, 88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 0,
    ]
    #expect((0...255).map { MuLaw.decode(UInt8($0)) } == decoded)
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
    #expect(line(speech) == line(speech))
    #expect(line([Float](repeating: 0, count: 100)) == [Float](repeating: 0, count: 100))
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
