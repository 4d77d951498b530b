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

// The shipped models load by name with no set-up.
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let transcriber = try Transcriber(model: TranscriptionModel(named: "digits"))
let text = try transcriber.transcribe(path: repository.appendingPathComponent("samples/phone-415-555-2368.wav").path).text
print("digits: \(text)")
let classifier = try Classifier(model: ClassificationModel(named: "commands"))
// Audio in memory at any rate: it is resampled to the model's.
let yes = try AudioFile.loadMono(path: repository.appendingPathComponent("samples/yes.wav").path, sampleRate: 44_100)
let label = try classifier.classify(yes).label
print("commands: \(label)")
// A file's bytes in memory (an upload, say), labelled window by window.
let bytes = try Data(contentsOf: repository.appendingPathComponent("samples/clock-tick.flac"))
let sounds = try Classifier(model: ClassificationModel(named: "sounds"))
let events = try sounds.timeline(AudioFile.loadMono(data: bytes, name: "clock-tick.flac"), window: 5, hop: 5)
print("sounds: \(events.map(\.label).joined(separator: " "))")
guard text == "four one five five five five two three six eight", label == "yes", events.map(\.label) == ["clock_tick"] else {
  print("unexpected results")
  exit(1)
}
