import EarshotFeatures
import Foundation
import Testing

/// A JSON value from the fixture manifest.
enum Param: Sendable, Equatable, Decodable {
  case number(Double)
  case string(String)
  case bool(Bool)
  case null

  init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let b = try? c.decode(Bool.self) {
      self = .bool(b)
    } else if let n = try? c.decode(Double.self) {
      self = .number(n)
    } else {
      self = .string(try c.decode(String.self))
    }
  }
}

/// One golden case written by `scripts/fixtures/features.py`.
struct FeatureFixture: Sendable, CustomTestStringConvertible {
  var name: String
  var function: String
  var reference: String
  var params: [String: Param]
  var signal: String?
  var audio: String?
  var sampleRate: Int?
  var expectedPath: String
  var inputPath: String?
  var shape: [Int]
  var rtolOfMax: Float?
  var atol: Float?

  var testDescription: String { name }

  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/features")

  static func manifest() throws -> [String: Any] {
    let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
  }

  /// Every case whose `function` is one of `functions`.
  static func all(_ functions: String...) throws -> [FeatureFixture] {
    let m = try manifest()
    let signals = m["signals"] as? [String: [String: Any]] ?? [:]
    let audio = m["audio_files"] as? [String: [String: Any]] ?? [:]
    return (m["cases"] as! [[String: Any]]).compactMap { c in
      guard let function = c["function"] as? String, functions.contains(function) else { return nil }
      let params = try! JSONDecoder().decode(
        [String: Param].self, from: JSONSerialization.data(withJSONObject: c["params"] ?? [:]))
      let signal = c["signal"] as? String
      let audioID = c["audio"] as? String
      let rate = signal.flatMap { signals[$0]?["sample_rate"] as? Int } ?? audioID.flatMap { audio[$0]?["sample_rate"] as? Int }
      return FeatureFixture(
        name: c["name"] as! String, function: function, reference: c["reference"] as? String ?? "",
        params: params, signal: signal.flatMap { signals[$0]?["file"] as? String },
        audio: audioID.flatMap { audio[$0]?["file"] as? String }, sampleRate: rate,
        expectedPath: c["expected"] as! String, inputPath: c["input"] as? String,
        shape: c["shape"] as! [Int], rtolOfMax: (c["rtol_of_max"] as? NSNumber)?.floatValue,
        atol: (c["atol"] as? NSNumber)?.floatValue)
    }
  }

  func load(_ relative: String) throws -> NumpyArray {
    try NumpyArray(contentsOf: Self.directory.appendingPathComponent(relative).path)
  }
  var expected: NumpyArray { get throws { try load(expectedPath) } }
  var input: [Float] { get throws { try load(signal!).values } }
  var audioPath: String { Self.directory.appendingPathComponent(audio!).path }

  func int(_ key: String) -> Int? { if case .number(let n) = params[key] { return Int(n) } else { return nil } }
  func float(_ key: String) -> Float? { if case .number(let n) = params[key] { return Float(n) } else { return nil } }
  func bool(_ key: String) -> Bool? { if case .bool(let b) = params[key] { return b } else { return nil } }
  func string(_ key: String) -> String? { if case .string(let s) = params[key] { return s } else { return nil } }

  /// The librosa-named parameters as `FeatureOptions`.
  func featureOptions(kind: FeatureKind) -> FeatureOptions {
    var o = FeatureOptions(kind: kind, sampleRate: int("sr") ?? sampleRate!)
    if let n = int("n_fft") { o.spectrogram.fftSize = n }
    o.spectrogram.windowLength = int("win_length")
    o.spectrogram.hopLength = int("hop_length")
    if let w = string("window") { o.spectrogram.window = WindowKind(rawValue: w)! }
    if let c = bool("center") { o.spectrogram.center = c }
    if let p = string("pad_mode") { o.spectrogram.padMode = PadMode(rawValue: p)! }
    if let p = float("power") { o.spectrogram.power = p }
    if let m = int("n_mels") { o.mel.melBands = m }
    if let f = float("fmin") { o.mel.minFrequency = f }
    o.mel.maxFrequency = float("fmax")
    if let htk = bool("htk") { o.mel.scale = htk ? .htk : .slaney }
    o.mel.normalization = string("norm") == "slaney" ? .slaney : .none
    if let a = float("amin") { o.log.floor = a }
    if let f = float("floor") { o.log.floor = f }
    if let r = float("ref") { o.log.reference = r }
    o.log.topDecibels = float("top_db")
    if let n = int("n_mfcc") { o.mfcc.mfccCount = n }
    if let l = float("lifter") { o.mfcc.lifter = l }
    if let g = float("pcen_gain") { o.pcen.gain = g }
    if let b = float("pcen_bias") { o.pcen.bias = b }
    if let r = float("pcen_power") { o.pcen.exponent = r }
    if let t = float("time_constant") { o.pcen.timeConstant = t }
    if let e = float("eps") { o.pcen.epsilon = e }
    if let s = float("scale") { o.pcen.inputScale = s }
    return o
  }
}

/// Fails with the largest difference and where it is, unless every element is within
/// `atol`, or within `rtolOfMax * max|expected|`.
func expectClose(
  _ got: [Float], _ expected: NumpyArray, rtolOfMax: Float?, atol: Float?, _ what: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(got.count == expected.values.count, "\(what): \(got.count) values, expected \(expected.values.count) (shape \(expected.shape))", sourceLocation: sourceLocation)
  guard got.count == expected.values.count else { return }
  let scale = expected.values.map(abs).max() ?? 0
  let tolerance = max(atol ?? 0, (rtolOfMax ?? 0) * scale)
  var worst: Float = 0
  var worstIndex = 0
  for i in 0..<got.count {
    let d = abs(got[i] - expected.values[i])
    if !(d <= worst) {
      worst = d
      worstIndex = i
    }
  }
  if ProcessInfo.processInfo.environment["EARSHOT_VERBOSE"] != nil {
    print("parity \(what): max |diff| \(worst) (tolerance \(tolerance), \(worst / max(tolerance, .leastNormalMagnitude) * 100)% of it)")
  }
  let columns = expected.shape.count == 2 ? expected.shape[1] : 1
  #expect(
    worst <= tolerance,
    "\(what): max |diff| \(worst) > \(tolerance) at [\(worstIndex / columns), \(worstIndex % columns)]: got \(got[worstIndex]), expected \(expected.values[worstIndex])",
    sourceLocation: sourceLocation)
}
