import Foundation

/// Renders transcripts as JSON Lines and subtitles.
public enum TranscriptWriter {
  /// One JSON object and a newline:
  /// `{"file","text","duration","words":[{"word","start","end","confidence"}]}`, plus
  /// `"alternatives":[{"text","log_probability"}]` (best first) when `alternatives` is true,
  /// and `"channel":N` after `file` when the transcript is of channel N (counting from 1) alone.
  public static func jsonLine(_ t: Transcript, file: String, channel: Int? = nil, alternatives: Bool = false) -> String {
    func number(_ x: Double) -> String { String(format: "%.3f", x) }
    let words = t.words.map {
      "{\"word\":\(FeatureWriter.jsonString($0.word)),\"start\":\(number($0.start)),\"end\":\(number($0.end)),\"confidence\":\(String(format: "%.4f", $0.confidence))}"
    }
    var line = "{\"file\":\(FeatureWriter.jsonString(file))\(FeatureWriter.jsonChannel(channel)),\"text\":\(FeatureWriter.jsonString(t.text)),\"duration\":\(number(t.durationSeconds)),\"words\":[\(words.joined(separator: ","))]"
    if alternatives {
      // -inf (a text no alignment fits) is not JSON: null.
      let items = t.alternatives.map {
        "{\"text\":\(FeatureWriter.jsonString($0.text)),\"log_probability\":\($0.logProbability.isFinite ? String(format: "%.4f", $0.logProbability) : "null")}"
      }
      line += ",\"alternatives\":[\(items.joined(separator: ","))]"
    }
    return line + "}\n"
  }

  /// Subtitle cues: words grouped until a pause longer than `pause` seconds or a cue longer
  /// than `maxCue` seconds; SRT (`HH:MM:SS,mmm`) or WebVTT (`HH:MM:SS.mmm`).
  public static func subtitles(_ t: Transcript, webVTT: Bool, pause: Double = 0.8, maxCue: Double = 6) -> String {
    var cues: [[TranscribedWord]] = []
    for w in t.words {
      if let last = cues.last?.last, let first = cues.last?.first, w.start - last.end <= pause, w.end - first.start <= maxCue {
        cues[cues.count - 1].append(w)
      } else {
        cues.append([w])
      }
    }
    func stamp(_ seconds: Double) -> String {
      let ms = Int((seconds * 1000).rounded())
      return String(format: "%02d:%02d:%02d%@%03d", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, webVTT ? "." : ",", ms % 1000)
    }
    var out = webVTT ? "WEBVTT\n\n" : ""
    for (i, cue) in cues.enumerated() {
      if !webVTT { out += "\(i + 1)\n" }
      out += "\(stamp(cue.first!.start)) --> \(stamp(cue.last!.end))\n"
      out += cue.map(\.word).joined(separator: " ") + "\n\n"
    }
    return out
  }
}
