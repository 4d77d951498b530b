import ArgumentParser
import Earshot
import Foundation

struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract: "Print the format, sample rate, channels and duration of audio files.",
    discussion: "One line per file: path, container, encoding, rate, channels, frames, seconds. Unreadable files are reported on stderr and the exit status is 1.")

  @Flag(help: "Print JSON Lines instead of text.") var json = false
  @Argument(help: "Audio files or directories (any format libsndfile reads).") var inputs: [String]

  func validate() throws {
    guard !inputs.isEmpty else { throw ValidationError("give at least one audio file or directory") }
  }

  func run() throws {
    var failures = 0
    for path in expandInputs(inputs) {
      do {
        let info = try AudioFile(path: path).info
        if json {
          print(
            "{\"file\":\(FeatureWriter.jsonString(path)),\"container\":\(FeatureWriter.jsonString(info.container)),\"encoding\":\(FeatureWriter.jsonString(info.encoding)),\"sample_rate\":\(info.sampleRate),\"channels\":\(info.channels),\"frames\":\(info.frames),\"duration\":\(info.durationSeconds)}"
          )
        } else {
          print(String(format: "%@\t%@, %@, %d Hz, %d ch, %d frames, %.3f s", path, info.container, info.encoding, info.sampleRate, info.channels, info.frames, info.durationSeconds))
        }
      } catch {
        failures += 1
        printError("error: \(error)")
      }
    }
    if failures > 0 { throw ExitCode.failure }
  }
}
