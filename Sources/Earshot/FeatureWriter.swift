import Foundation

/// File formats `earshot features` writes.
public enum FeatureFileFormat: String, CaseIterable, Sendable {
  /// NumPy `.npy`, float32, shape (frames, bins): `numpy.load` reads it.
  case npy
  /// Comma-separated values, one frame per line.
  case csv
  /// JSON: `{"file", "sample_rate", "hop_length", "shape", "data": [[...], ...]}`.
  case json
  /// Kaldi binary archive (`FM` float matrices) plus a `.scp` index: `kaldiio` reads both.
  case kaldiArk = "kaldi-ark"
  /// A spectrogram picture with time and frequency axes and a colour scale.
  case png

  /// The file extension for one utterance's output.
  public var fileExtension: String {
    switch self {
    case .kaldiArk: return "ark"
    default: return rawValue
    }
  }
}

/// Serialises feature matrices; every writer produces bytes, and the caller decides where they
/// go (a file written atomically, or stdout).
public enum FeatureWriter {
  /// CSV text: `bins` comma-separated values per line, `frames` lines, shortest round-trip floats.
  public static func csv(_ m: FeatureMatrix) -> Data {
    var text = ""
    text.reserveCapacity(m.values.count * 10)
    for f in 0..<m.frames {
      text += m.row(f).map { "\($0)" }.joined(separator: ",")
      text += "\n"
    }
    return Data(text.utf8)
  }

  /// One JSON object (one line): the file name, rate, hop and the data as nested arrays.
  /// `channel`: the channel (counting from 1) the features are of alone, written as
  /// `"channel"` after `file`; nil (the channels averaged) writes none.
  public static func json(_ m: FeatureMatrix, file: String, channel: Int? = nil, sampleRate: Int, hopLength: Int, kind: String) -> Data {
    var object = "{\"file\":\(jsonString(file))\(jsonChannel(channel)),\"kind\":\(jsonString(kind)),\"sample_rate\":\(sampleRate),\"hop_length\":\(hopLength),\"shape\":[\(m.frames),\(m.bins)],\"data\":["
    for f in 0..<m.frames {
      if f > 0 { object += "," }
      object += "[" + m.row(f).map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ",") + "]"
    }
    object += "]}\n"
    return Data(object.utf8)
  }

  /// `,"channel":N` for output heard from channel N alone (counting from 1), placed after an
  /// object's `"file"` by every JSON writer; empty for the channels averaged (nil).
  public static func jsonChannel(_ channel: Int?) -> String {
    channel.map { ",\"channel\":\($0)" } ?? ""
  }

  /// A JSON string literal with everything RFC 8259 requires escaped.
  public static func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }

  /// One Kaldi binary archive entry: `key ␠ \0B FM ␠ \4 rows \4 cols data`. Returns the bytes
  /// and the offset (within them) where the matrix starts, which the `.scp` line points at.
  public static func kaldiEntry(_ m: FeatureMatrix, key: String) -> (bytes: Data, matrixOffset: Int) {
    var d = Data((key + " ").utf8)
    let offset = d.count
    d.append(contentsOf: [0, UInt8(ascii: "B")])
    d.append(contentsOf: Array("FM ".utf8))
    for n in [m.frames, m.bins] {
      d.append(4)
      withUnsafeBytes(of: Int32(n).littleEndian) { d.append(contentsOf: $0) }
    }
    m.values.withUnsafeBytes { d.append(contentsOf: $0) }
    return (d, offset)
  }

  /// A Kaldi utterance key for a file: its base name without extension, spaces replaced.
  public static func kaldiKey(for path: String) -> String {
    kaldiKey(name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
  }

  /// `name` as a Kaldi utterance key: a key ends at whitespace in ark and scp files, so any
  /// (space, tab, newline) becomes `_`; "utterance" for an empty name.
  public static func kaldiKey(name: String) -> String {
    name.isEmpty ? "utterance" : String(name.map { $0.isWhitespace ? "_" : $0 })
  }
}
