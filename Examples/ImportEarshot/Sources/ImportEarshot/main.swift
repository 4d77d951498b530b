import Foundation
import Earshot

// One second of a 440 Hz tone at 16 kHz -> 80 log-mel bands every 10 ms.
let samples: [Float] = (0..<16_000).map { n in
  let phase: Double = 2 * Double.pi * 440 * Double(n) / 16_000
  return Float(0.5 * sin(phase))
}
let extractor = try FeatureExtractor(options: .speechLogMel(sampleRate: 16_000))
let features = try extractor(samples)
// The loudest band should hold 440 Hz.
var loudest = 0
for b in 0..<features.bins where features[50, b] > features[50, loudest] { loudest = b }
print("log-mel: \(features.frames) frames x \(features.bins) bands; loudest band \(loudest)")
