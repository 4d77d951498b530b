import ArgumentParser
import Earshot
import Foundation

/// Token units as `earshot train --tokens` spells them.
enum TrainTokenUnit: String, CaseIterable, ExpressibleByArgument {
  case word, character
  var unit: TokenUnit { self == .word ? .word : .character }
}

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a CTC transcription model (BiLSTM + CTC) from manifests.",
    discussion: """
      A manifest is JSON Lines, one utterance per line:
        {"audio": "clips/a.wav", "text": "four seven one", "speaker": "george"}
      (speaker optional; relative audio paths are relative to the manifest's folder), or a
      folder of FSDD-style {digit}_{speaker}_{take}.wav files. Texts are lower-cased, "oh"
      becomes "zero", spaces are collapsed. Word tokens are every word of the training texts,
      sorted, after the blank.

      Every clip is decoded once (resampled to 8 kHz for the default features, 40 log-mel
      bands with per-utterance normalisation). Each step augments: speed 0.9/1.0/1.1, gain
      +-6 dB, background noise from --noise at 5-30 dB SNR (half the utterances), SpecAugment
      time and frequency masks. Adam with linear warm-up (5% of steps) and cosine decay,
      gradients clipped to norm 5, dropout between layers.

      Written to --output: checkpoint.safetensors (every epoch and every --checkpoint-every
      steps, atomically), last.safetensors, best.safetensors (lowest validation WER; the model
      to ship; without --valid, the last epoch's) and log.jsonl (one line per epoch).
      --resume continues from the checkpoint exactly where it stopped (same results as an
      uninterrupted run); give the same options, except that --epochs may grow (the cosine
      schedule is then stretched to the new total), and --threads and --max-minutes are free.
      A NaN or infinite loss stops the run and keeps the last checkpoint.

      Examples:
        earshot train --task ctc --train ../shared/data/fsdd/recordings --output runs/fsdd \\
            --epochs 2 --max-minutes 5
        earshot train --task ctc --train train.jsonl --valid valid.jsonl --output runs/digits \\
            --noise ../shared/data/speech-commands/_silence_
        earshot train --task ctc --train train.jsonl --valid valid.jsonl --output runs/digits --resume
        earshot evaluate --model runs/digits/best.safetensors test.jsonl
      """)

  @Option(help: "What to train; only ctc (transcription) for now.") var task = "ctc"
  @Option(help: "Training manifest (.jsonl) or FSDD folder.") var train: String
  @Option(help: "Validation manifest or folder, scored after every epoch (greedy decoding).") var valid: String?
  @Option(help: "Output folder for checkpoints, models and log.jsonl.") var output: String
  @Option(help: "Passes over the training set. (default: 30)") var epochs: Int?
  @Option(help: "Utterances per step. (default: 16)") var batchSize: Int?
  @Option(help: "LSTM features per direction. (default: 128)") var hidden: Int?
  @Option(help: "Stacked bidirectional LSTM layers. (default: 2)") var layers: Int?
  @Option(help: "Dropout between LSTM layers, in [0, 1). (default: 0.1)") var dropout: Float?
  @Option(help: "Peak learning rate (Adam). (default: 0.002)") var learningRate: Float?
  @Option(help: "Gradient clipping: largest global L2 norm. (default: 5)") var clip: Float?
  @Option(help: "Token unit: word or character. (default: word)") var tokens: TrainTokenUnit?
  @Option(help: "Random seed: initialisation, batch order, dropout, augmentation. (default: 0)") var seed: UInt64?
  @Option(help: "Folder of background-noise audio mixed in at 5-30 dB SNR.") var noise: String?
  @Flag(help: "Turn all augmentation off (speed, gain, noise, SpecAugment).") var noAugmentation = false
  @Option(help: "Also write a checkpoint every this many steps. (default: 200)") var checkpointEvery: Int?
  @Option(help: "Threads for features and BLAS. (default: all cores)") var threads: Int?
  @Flag(help: "Continue the run in --output from its checkpoint.") var resume = false
  @Option(help: "Stop cleanly, after a checkpoint, after this many minutes of training.") var maxMinutes: Double?

  func validate() throws {
    guard task == "ctc" else { throw ValidationError("--task must be ctc (got \(task)); classifiers are not trainable here yet") }
    guard FileManager.default.fileExists(atPath: train) else { throw ValidationError("--train \(train): no such file or folder") }
    if let valid, !FileManager.default.fileExists(atPath: valid) {
      throw ValidationError("--valid \(valid): no such file or folder")
    }
    if let epochs, epochs < 1 { throw ValidationError("--epochs must be >= 1 (got \(epochs))") }
    if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be >= 1 (got \(batchSize))") }
    if let hidden, !(1...4096).contains(hidden) { throw ValidationError("--hidden must be in 1...4096 (got \(hidden))") }
    if let layers, !(1...16).contains(layers) { throw ValidationError("--layers must be in 1...16 (got \(layers))") }
    if let dropout, !(dropout >= 0 && dropout < 1) { throw ValidationError("--dropout must be in [0, 1) (got \(dropout))") }
    if let learningRate, !(learningRate > 0 && learningRate < 1) {
      throw ValidationError("--learning-rate must be in (0, 1) (got \(learningRate))")
    }
    if let clip, !(clip > 0) { throw ValidationError("--clip must be > 0 (got \(clip))") }
    if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be >= 1 (got \(checkpointEvery))") }
    if let threads, threads < 1 { throw ValidationError("--threads must be >= 1 (got \(threads))") }
    if let maxMinutes, !(maxMinutes > 0) { throw ValidationError("--max-minutes must be > 0 (got \(maxMinutes))") }
    if let noise {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: noise, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw ValidationError("--noise \(noise): not a folder")
      }
      if noAugmentation { throw ValidationError("--noise and --no-augmentation contradict each other") }
    }
  }

  func run() throws {
    do {
      var options = resume ? try CTCTrainer.savedOptions(output: output) : CTCTrainingOptions()
      if let epochs { options.epochs = epochs }
      if let batchSize { options.batchSize = batchSize }
      if let hidden { options.hiddenSize = hidden }
      if let layers { options.layers = layers }
      if let dropout { options.dropout = dropout }
      if let learningRate { options.learningRate = learningRate }
      if let clip { options.maxGradientNorm = clip }
      if let tokens { options.tokenUnit = tokens.unit }
      if let seed { options.seed = seed }
      if let checkpointEvery { options.checkpointInterval = checkpointEvery }
      if noAugmentation { options.augmentation = .none }
      if let noise { options.augmentation.noiseFolder = noise }

      let trainEntries = try Manifest.load(train)
      let validEntries = try valid.map { try Manifest.load($0) }
      let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
      let trainer = try CTCTrainer(options: options, training: trainEntries, validation: validEntries,
                                   tokens: resume ? try CTCTrainer.savedTokens(output: output) : nil, threads: threadCount)
      trainer.provenance["train"] = train
      if let valid { trainer.provenance["valid"] = valid }
      for line in trainer.skipped.prefix(10) { printError("skipped: \(line)") }
      if trainer.skipped.count > 10 { printError("skipped \(trainer.skipped.count - 10) more") }
      printError(String(format: "loaded %d training and %d validation clips in %.1f s; tokens: ",
                        trainer.trainingCount, trainer.validationCount, trainer.loadSeconds)
                 + trainer.tokenizer.tokens.joined(separator: " "))
      let summary = try trainer.train(output: output, resume: resume, maxMinutes: maxMinutes,
                                      progress: TrainingProgressPrinter().callAsFunction)
      var line = "trained \(summary.epochs) of \(options.epochs) epochs (\(summary.steps) steps, "
        + String(format: "%.1f utt/s)", summary.utterancesPerSecond)
      if let wer = summary.bestWER, let epoch = summary.bestEpoch {
        line += String(format: "; best validation WER %.2f%% at epoch %d", 100 * wer, epoch)
      }
      print(line)
      if FileManager.default.fileExists(atPath: summary.bestModel) {
        print("model: \(summary.bestModel)")
      } else {
        print("no epoch finished yet, so no model was written; the checkpoint is \(summary.checkpoint)")
      }
      if summary.stoppedEarly {
        print("stopped after --max-minutes \(maxMinutes ?? 0); continue with the same command and --resume")
      }
    } catch let error as ExitCode {
      throw error
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
  }
}
