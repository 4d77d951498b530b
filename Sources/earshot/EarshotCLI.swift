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
}
