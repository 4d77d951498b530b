import ArgumentParser
import Earshot
import Foundation

@main
struct EarshotCLI: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "earshot",
    abstract: "Speech and sound recognition: audio in, features, models, text and labels out.",
    discussion: """
      Examples:
        earshot transcribe phone-number.wav              # the shipped digits model
        earshot transcribe calls/ --format json > calls.jsonl
        earshot info recording.flac
        earshot info --model commands                    # what a shipped model is
        earshot features speech.wav --kind mfcc --output feats/
        earshot features corpus/ --kind fbank --format kaldi-ark --output feats/
      """,
    version: "0.1.0",
    subcommands: [Transcribe.self, Classify.self, Info.self, Features.self, Logits.self, Train.self, Evaluate.self, Ensemble.self])

  /// Parses the command line with negative numbers attached to their options, so that
  /// `--top -1` reaches the option's own check ("--top must be >= 1 (got -1)") instead of
  /// ArgumentParser's "Missing value", which takes any word starting with a dash for an option.
  static func main() {
    // A reader that goes away (`| head`) makes writes fail with EPIPE, which StandardOutput
    // turns into a quiet exit after removing any staged stdin, instead of a kill by signal.
    signal(SIGPIPE, SIG_IGN)
    refuseArgumentsThatAreNotUTF8()
    let arguments = attachingNegativeNumbers(Array(CommandLine.arguments.dropFirst()))
    // `earshot help NAME` for a NAME that is no subcommand: ArgumentParser shows the top-level
    // help and exits 0, as if it had been found.
    var names: [String] = []
    for sub in configuration.subcommands { if let name = sub.configuration.commandName { names.append(name) } }
    if arguments.count >= 2, arguments[0] == "help", !names.contains(arguments[1]), arguments[1] != "help",
      !arguments[1].hasPrefix("-") {
      FileHandle.standardError.write(Data("Error: no subcommand '\(arguments[1])'; the subcommands are \(names.joined(separator: ", "))\n".utf8))
      exit(withError: ExitCode.validationFailure)
    }
    var command: ParsableCommand
    do {
      command = try parseAsRoot(arguments)
    } catch {
      exit(withError: error)
    }
    do {
      try command.run()
    } catch let error as ValidationError {
      // A check that needs the inputs (made in run(), not validate()) shows the subcommand's
      // usage, as validate()'s do, not the top-level one.
      let name = type(of: command).configuration.commandName ?? ""
      FileHandle.standardError.write(Data(("Error: \(error.message)\nUsage: " + usageString(for: type(of: command))
        + "\n  See 'earshot \(name) --help' for more information.\n").utf8))
      exit(withError: ExitCode.validationFailure)
    } catch {
      exit(withError: error)
    }
  }

  /// Exits with a usage error naming the first argument whose bytes are not valid UTF-8 (a
  /// file name from a Latin-1 system, say): Swift hands it on with U+FFFD in place of those
  /// bytes, so it would fail later as "no such file" without saying why.
  static func refuseArgumentsThatAreNotUTF8() {
    for i in 1..<Int(CommandLine.argc) {
      guard let raw = CommandLine.unsafeArgv[i], String(validatingCString: raw) == nil else { continue }
      let shown = String(decoding: UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self), count: strlen(raw)),
                         as: UTF8.self)
      FileHandle.standardError.write(Data(("Error: argument \(i) ('\(shown)', U+FFFD where its bytes are not UTF-8) is not valid UTF-8, "
        + "so it cannot be used as a file name here; rename it (a Latin-1 name: convmv -f latin1 -t utf8 --notest NAME), or give its folder, "
        + "where such names are reported one by one\n").utf8))
      exit(withError: ExitCode.validationFailure)
    }
  }

  /// `arguments` with each `--name -NUMBER` pair written `--name=-NUMBER` (a number, or a
  /// comma-separated list of them, that starts with a minus sign); nothing after `--` changes.
  static func attachingNegativeNumbers(_ arguments: [String]) -> [String] {
    func isNegativeNumber(_ word: String) -> Bool {
      word.count > 1 && word.first == "-" && word.dropFirst().allSatisfy { "0123456789.,eE+-".contains($0) }
        && word.dropFirst().contains(where: \.isNumber)
    }
    var result: [String] = []
    var index = 0
    while index < arguments.count {
      let word = arguments[index]
      if word == "--" { return result + arguments[index...] }
      if word.hasPrefix("--"), word.count > 2, !word.contains("="), index + 1 < arguments.count,
        isNegativeNumber(arguments[index + 1]) {
        result.append(word + "=" + arguments[index + 1])
        index += 2
      } else {
        result.append(word)
        index += 1
      }
    }
    return result
  }
}
