import Foundation

/// Renders features as a PNG picture: time left to right, bins bottom to top, a perceptual
/// colour map (viridis), labelled time and frequency axes and a colour bar.
public struct SpectrogramImage {
  /// What the rows mean, for the vertical axis labels.
  public enum Axis: Sendable {
    /// Linear frequency: bin k is `k * maxFrequency / (bins - 1)` Hz.
    case linearHz(maxFrequency: Double)
    /// Mel bands between two edges in Hz, on the given scale.
    case mel(minFrequency: Double, maxFrequency: Double, htk: Bool)
    /// Plain indices (coefficients).
    case index
  }

  /// The features to draw.
  public var features: FeatureMatrix
  /// Seconds between frames.
  public var frameSeconds: Double
  /// Vertical axis meaning.
  public var axis: Axis
  /// Convert values to dB (`10 log10`) first: for power and mel energies.
  public var toDecibels: Bool
  /// Title drawn at the top (ASCII).
  public var title: String

  public init(features: FeatureMatrix, frameSeconds: Double, axis: Axis, toDecibels: Bool, title: String) {
    self.features = features
    self.frameSeconds = frameSeconds
    self.axis = axis
    self.toDecibels = toDecibels
    self.title = title
  }

  /// The PNG file's bytes.
  public func png() -> Data {
    let plotWidth = max(min(features.frames, 1600), 400)
    let plotHeight = max(min(features.bins * 3, 480), 240)
    let left = 64, right = 90, top = 24, bottom = 40
    let width = left + plotWidth + right
    let height = top + plotHeight + bottom
    var canvas = Canvas(width: width, height: height, background: (255, 255, 255))

    // Values to colours.
    var values = features.values
    if toDecibels { values = values.map { 10 * log10(max($0, 1e-10)) } }
    let finite = values.filter(\.isFinite)
    var high = finite.max() ?? 1
    var low = finite.min() ?? 0
    if toDecibels { low = max(low, high - 80) }
    if high <= low { high = low + 1 }
    for x in 0..<plotWidth {
      let f0 = features.frames == 0 ? 0 : x * features.frames / plotWidth
      let f1 = max(f0 + 1, features.frames == 0 ? 0 : (x + 1) * features.frames / plotWidth)
      for y in 0..<plotHeight {
        let bin = (plotHeight - 1 - y) * features.bins / plotHeight
        var sum: Float = 0
        var n: Float = 0
        for f in f0..<min(f1, features.frames) {
          let v = values[f * features.bins + bin]
          if v.isFinite {
            sum += v
            n += 1
          }
        }
        let t = n > 0 ? Double((sum / n - low) / (high - low)) : 0
        canvas.set(left + x, top + y, Self.viridis(t))
      }
    }
    // Frame and ticks.
    canvas.rectangle(x: left - 1, y: top - 1, width: plotWidth + 2, height: plotHeight + 2, colour: (0, 0, 0))
    let duration = Double(features.frames) * frameSeconds
    let step = Self.niceStep(duration / 8)
    var t = 0.0
    while t <= duration + 1e-9 && step > 0 {
      let x = left + Int(t / max(duration, 1e-9) * Double(plotWidth - 1))
      canvas.fill(x: x, y: top + plotHeight + 1, width: 1, height: 5, colour: (0, 0, 0))
      canvas.text(Self.format(t), centreX: x, y: top + plotHeight + 9)
      t += step
    }
    canvas.text("TIME (S)", centreX: left + plotWidth / 2, y: top + plotHeight + 24)
    for i in 0...5 {
      let fraction = Double(i) / 5
      let y = top + plotHeight - 1 - Int(fraction * Double(plotHeight - 1))
      canvas.fill(x: left - 6, y: y, width: 5, height: 1, colour: (0, 0, 0))
      let label: String
      switch axis {
      case .linearHz(let maxHz): label = Self.format(fraction * maxHz)
      case .mel(let lo, let hi, let htk):
        let mel = MelFilterbank.hzToMel(lo, htk: htk) + fraction * (MelFilterbank.hzToMel(hi, htk: htk) - MelFilterbank.hzToMel(lo, htk: htk))
        label = Self.format(MelFilterbank.melToHz(mel, htk: htk))
      case .index: label = "\(Int((fraction * Double(features.bins - 1)).rounded()))"
      }
      canvas.text(label, rightX: left - 9, y: y - 3)
    }
    switch axis {
    case .index: canvas.text("BIN", rightX: left - 9, y: top - 16)
    default: canvas.text("HZ", rightX: left - 9, y: top - 16)
    }
    canvas.text(title.uppercased(), centreX: left + plotWidth / 2, y: 8)
    // Colour bar.
    let barX = left + plotWidth + 16
    for y in 0..<plotHeight {
      let colour = Self.viridis(Double(plotHeight - 1 - y) / Double(plotHeight - 1))
      canvas.fill(x: barX, y: top + y, width: 14, height: 1, colour: colour)
    }
    canvas.rectangle(x: barX - 1, y: top - 1, width: 16, height: plotHeight + 2, colour: (0, 0, 0))
    canvas.text(Self.format(Double(high)), leftX: barX + 20, y: top)
    canvas.text(Self.format(Double(low)), leftX: barX + 20, y: top + plotHeight - 7)
    if toDecibels { canvas.text("DB", leftX: barX + 20, y: top + plotHeight / 2) }
    return PNG.encode(width: width, height: height, rgb: canvas.pixels)
  }

  static func niceStep(_ raw: Double) -> Double {
    guard raw > 0 else { return 0 }
    let magnitude = pow(10, floor(log10(raw)))
    for m in [1.0, 2, 5, 10] where m * magnitude >= raw { return m * magnitude }
    return 10 * magnitude
  }

  static func format(_ v: Double) -> String {
    if abs(v) >= 100 || v == v.rounded() { return "\(Int(v.rounded()))" }
    return String(format: abs(v) >= 10 ? "%.1f" : "%.2f", v)
  }

  /// Viridis, interpolated between 9 anchors; t in [0, 1].
  static func viridis(_ t: Double) -> (UInt8, UInt8, UInt8) {
    let anchors: [(Double, Double, Double)] = [
      (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
      (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
    ]
    let x = min(max(t.isFinite ? t : 0, 0), 1) * Double(anchors.count - 1)
    let i = min(Int(x), anchors.count - 2)
    let f = x - Double(i)
    let a = anchors[i], b = anchors[i + 1]
    return (UInt8(a.0 + (b.0 - a.0) * f), UInt8(a.1 + (b.1 - a.1) * f), UInt8(a.2 + (b.2 - a.2) * f))
  }
}

/// An RGB pixel buffer with a 5x7 bitmap font for labels.
struct Canvas {
  let width: Int
  let height: Int
  var pixels: [UInt8]

  init(width: Int, height: Int, background: (UInt8, UInt8, UInt8)) {
    self.width = width
    self.height = height
    pixels = [UInt8](repeating: 0, count: width * height * 3)
    for i in 0..<(width * height) {
      pixels[3 * i] = background.0
      pixels[3 * i + 1] = background.1
      pixels[3 * i + 2] = background.2
    }
  }

  mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
    guard x >= 0, y >= 0, x < width, y < height else { return }
    let i = 3 * (y * width + x)
    pixels[i] = c.0
    pixels[i + 1] = c.1
    pixels[i + 2] = c.2
  }

  mutating func fill(x: Int, y: Int, width w: Int, height h: Int, colour: (UInt8, UInt8, UInt8)) {
    for yy in y..<(y + h) { for xx in x..<(x + w) { set(xx, yy, colour) } }
  }

  mutating func rectangle(x: Int, y: Int, width w: Int, height h: Int, colour: (UInt8, UInt8, UInt8)) {
    fill(x: x, y: y, width: w, height: 1, colour: colour)
    fill(x: x, y: y + h - 1, width: w, height: 1, colour: colour)
    fill(x: x, y: y, width: 1, height: h, colour: colour)
    fill(x: x + w - 1, y: y, width: 1, height: h, colour: colour)
  }

  /// 5x7 glyphs, one row per string, '#' = ink.
  static let glyphs: [Character: [String]] = [
    "0": [" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "],
    "1": ["  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "],
    "2": [" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"],
    "3": ["#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "],
    "4": ["   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "],
    "5": ["#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "],
    "6": ["  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "],
    "7": ["#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "],
    "8": [" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "],
    "9": [" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "],
    ".": ["     ", "     ", "     ", "     ", "     ", " ##  ", " ##  "],
    "-": ["     ", "     ", "     ", " ### ", "     ", "     ", "     "],
    "(": ["   # ", "  #  ", " #   ", " #   ", " #   ", "  #  ", "   # "],
    ")": [" #   ", "  #  ", "   # ", "   # ", "   # ", "  #  ", " #   "],
    "A": [" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"],
    "B": ["#### ", "#   #", "#   #", "#### ", "#   #", "#   #", "#### "],
    "C": [" ### ", "#   #", "#    ", "#    ", "#    ", "#   #", " ### "],
    "D": ["###  ", "#  # ", "#   #", "#   #", "#   #", "#  # ", "###  "],
    "E": ["#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"],
    "F": ["#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    "],
    "G": [" ### ", "#   #", "#    ", "# ###", "#   #", "#   #", " ####"],
    "H": ["#   #", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"],
    "I": [" ### ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "],
    "J": ["  ###", "    #", "    #", "    #", "    #", "#   #", " ### "],
    "K": ["#   #", "#  # ", "# #  ", "##   ", "# #  ", "#  # ", "#   #"],
    "L": ["#    ", "#    ", "#    ", "#    ", "#    ", "#    ", "#####"],
    "M": ["#   #", "## ##", "# # #", "# # #", "#   #", "#   #", "#   #"],
    "N": ["#   #", "#   #", "##  #", "# # #", "#  ##", "#   #", "#   #"],
    "O": [" ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "],
    "P": ["#### ", "#   #", "#   #", "#### ", "#    ", "#    ", "#    "],
    "Q": [" ### ", "#   #", "#   #", "#   #", "# # #", "#  # ", " ## #"],
    "R": ["#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #"],
    "S": [" ####", "#    ", "#    ", " ### ", "    #", "    #", "#### "],
    "T": ["#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  "],
    "U": ["#   #", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "],
    "V": ["#   #", "#   #", "#   #", "#   #", "#   #", " # # ", "  #  "],
    "W": ["#   #", "#   #", "#   #", "# # #", "# # #", "# # #", " # # "],
    "X": ["#   #", "#   #", " # # ", "  #  ", " # # ", "#   #", "#   #"],
    "Y": ["#   #", "#   #", " # # ", "  #  ", "  #  ", "  #  ", "  #  "],
    "Z": ["#####", "    #", "   # ", "  #  ", " #   ", "#    ", "#####"],
    "%": ["##   ", "##  #", "   # ", "  #  ", " #   ", "#  ##", "   ##"],
    ":": ["     ", " ##  ", " ##  ", "     ", " ##  ", " ##  ", "     "],
    "/": ["     ", "    #", "   # ", "  #  ", " #   ", "#    ", "     "],
    "_": ["     ", "     ", "     ", "     ", "     ", "     ", "#####"],
    "'": ["  #  ", "  #  ", " #   ", "     ", "     ", "     ", "     "],
    "\"": [" # # ", " # # ", "     ", "     ", "     ", "     ", "     "],
    ",": ["     ", "     ", "     ", "     ", " ##  ", "  #  ", " #   "],
    "+": ["     ", "  #  ", "  #  ", "#####", "  #  ", "  #  ", "     "],
    "&": [" ##  ", "#  # ", "# #  ", " #   ", "# # #", "#  # ", " ## #"],
    "!": ["  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "     ", "  #  "],
    "?": [" ### ", "#   #", "    #", "   # ", "  #  ", "     ", "  #  "],
  ]

  /// A character's glyph: its own, its letter without accents (É is E), or an empty box for
  /// one the font lacks (so that a label in another script still shows where it is); nil for
  /// white space.
  static func glyph(_ ch: Character) -> [String]? {
    if ch.isWhitespace { return nil }
    if let g = glyphs[ch] { return g }
    let plain = String(ch).folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil).uppercased()
    if plain.count == 1, let g = glyphs[Character(plain)] { return g }
    return ["#####", "#   #", "#   #", "#   #", "#   #", "#   #", "#####"]
  }

  mutating func text(_ s: String, leftX: Int, y: Int, colour: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
    var x = leftX
    for ch in s {
      if let g = Self.glyph(ch) {
        for (row, line) in g.enumerated() {
          for (col, c) in line.enumerated() where c == "#" { set(x + col, y + row, colour) }
        }
      }
      x += 6
    }
  }
  mutating func text(_ s: String, centreX: Int, y: Int, colour: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
    text(s, leftX: centreX - s.count * 3, y: y, colour: colour)
  }
  mutating func text(_ s: String, rightX: Int, y: Int) { text(s, leftX: rightX - s.count * 6, y: y) }
  /// Text turned 90 degrees anticlockwise (read bottom to top), its baseline at `x + 6` and
  /// its first character ending at `bottomY`.
  mutating func verticalText(_ s: String, x: Int, bottomY: Int, colour: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
    var y = bottomY
    for ch in s {
      if let g = Self.glyph(ch) {
        for (row, line) in g.enumerated() {
          // Glyph pixel (col, row) goes to (x + row, y - col).
          for (col, c) in line.enumerated() where c == "#" { set(x + row, y - col, colour) }
        }
      }
      y -= 6
    }
  }
}

/// A minimal PNG encoder: 8-bit RGB, stored (uncompressed) deflate blocks.
enum PNG {
  static func encode(width: Int, height: Int, rgb: [UInt8]) -> Data {
    var raw = [UInt8]()
    raw.reserveCapacity(height * (1 + width * 3))
    for y in 0..<height {
      raw.append(0)  // filter: none
      raw += rgb[(y * width * 3)..<((y + 1) * width * 3)]
    }
    var zlib: [UInt8] = [0x78, 0x01]
    var offset = 0
    repeat {
      let n = min(65_535, raw.count - offset)
      let final: UInt8 = offset + n == raw.count ? 1 : 0
      zlib += [final, UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8((~n >> 8) & 0xff)]
      zlib += raw[offset..<(offset + n)]
      offset += n
    } while offset < raw.count
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in raw {
      a = (a + UInt32(byte)) % 65_521
      b = (b + a) % 65_521
    }
    zlib += bigEndian((b << 16) | a)
    var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    png += chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 2, 0, 0, 0])
    png += chunk("IDAT", zlib)
    png += chunk("IEND", [])
    return png
  }

  static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

  static let crcTable: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
  }

  static func chunk(_ type: String, _ body: [UInt8]) -> Data {
    let typed = Array(type.utf8) + body
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in typed { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
    return Data(bigEndian(UInt32(body.count)) + typed + bigEndian(~crc))
  }
}
