import ArgumentParser
import Earshot
import Foundation
import Synchronization

/// Token units as `earshot train --tokens` spells them.
enum TrainTokenUnit: String, CaseIterable, ExpressibleByArgument {
  case word, character
  var unit: TokenUnit { self == .word ? .word : .character }
}

/// The feature normalisations a model can be trained with (`CMVNMode`'s none and sliding are
/// for `earshot features`).
enum TrainingNormalization: String, CaseIterable, ExpressibleByArgument {
  case utterance, level

  var mode: CMVNMode { self == .utterance ? .utterance : .level }
}

/// What a trained network hears (the mel bands compressed one way or the other).
enum TrainingFeatures: String, CaseIterable, ExpressibleByArgument {
  case logmel, pcen
}

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train a CTC transcription model (BiLSTM + CTC) or a clip classifier from manifests.",
    discussion: """
      A manifest is JSON Lines, one utterance per line:
        {"audio": "clips/a.wav", "text": "four seven one", "speaker": "george"}
      (speaker optional; relative audio paths are relative to the manifest's folder; "text": "" \
      marks a recording with no speech, e.g. background noise, which teaches the model to stay \
      silent), or a \
      folder of FSDD-style {digit}_{speaker}_{take}.wav files. Texts are lower-cased, \
      punctuation other than ' and - is dropped, numerals are spelled digit by digit ("4 71": \
      "four seven one"), "oh" among digit words becomes "zero", spaces are collapsed. Word tokens are every word of the training texts, \
      sorted, after the blank (--tokens character: every character). Validation: --valid \
      gives a separate set, or --valid-speakers F holds out a fraction F of the speakers.

      Every clip is decoded once (resampled to 8 kHz for the default features, 40 log-mel \
      bands in 25 ms windows every 10 ms, normalised per utterance; --sample-rate, \
      --mel-bands, --window-ms and --hop-ms change them, e.g. 16000 for wideband speech). Each step augments: speed 0.9/1.0/1.1, gain \
      +-6 dB, background noise from --noise (half the utterances at 5-30 dB SNR; --noise-probability, --noise-snr, --noise-pad), SpecAugment \
      time and frequency masks; --frequency-warp, --silence, --reverb and --telephone add vocal \
      tract length perturbation, digital-silence padding, simulated rooms and a telephone line. --connected-strings N adds N utterances built \
      at the start from clips of one speaker joined with short pauses (digit strings from \
      isolated digits); every draw is seeded, and validation clips are never used. \
      Adam with linear warm-up (5% of steps) and cosine decay, \
      gradients clipped to norm 5, dropout between layers.

      Written to --output: checkpoint.safetensors (every epoch and every --checkpoint-every \
      steps, atomically), last.safetensors, best.safetensors (lowest validation WER, a character model's CER; the model \
      to ship; without --valid, the last epoch's) and log.jsonl (one line per epoch). \
      --resume continues from the checkpoint exactly where it stopped (same results as an \
      uninterrupted run); give the same options, except that --epochs may grow (the cosine \
      schedule is then stretched to the new total), and --threads and --max-minutes are free. \
      A NaN or infinite loss stops the run and keeps the last checkpoint.

      Examples:
        earshot train --task ctc --train free-spoken-digit-dataset/recordings \\
            --output runs/fsdd --epochs 2 --max-minutes 5
        earshot train --task ctc --train train.jsonl --valid valid.jsonl \\
            --output runs/digits --noise speech_commands/_background_noise_
        earshot train --task ctc --train train.jsonl --valid valid.jsonl \\
            --output runs/digits --resume
        earshot evaluate --model runs/digits/best.safetensors test.jsonl

      --task classify trains a clip classifier (BiLSTM, --pooling mean|max|mean-max|mean-std-max|attention, linear, \
      softmax) with cross-entropy. --train is a folder with one sub-folder per label \
      (DIR/{label}/*.wav|ogg; _unknown_ names the label unknown) or JSON Lines \
      {"audio": PATH, "label": "yes", "speaker": "...", "fold": 1} (speaker and fold optional; \
      otherwise read from Speech Commands names {speaker}_nohash_{n}.wav, FSDD names \
      {digit}_{speaker}_{take}.wav and ESC names {fold}-{recording}-{take}.ogg, whose recording \
      counts as the speaker). Validation never shares a source with training: --valid-fold N \
      holds out fold N, --valid-speakers F holds out a fraction F of the speakers (by a seeded \
      hash of the name; refused when no clip has a known speaker), or --valid gives a separate set. Classes are balanced by a weighted loss (default) or by \
      sampling (--balance); optional --label-smoothing, --mixup, --time-shift, and the same \
      speed/gain/noise/SpecAugment augmentation. Features: log-mel at --sample-rate with \
      --mel-bands, --window-ms and --hop-ms, normalised per clip: each band on its own (speech: \
      removes the microphone's colouring) or, with --cmvn level, all bands together (steady \
      sounds: keeps the spectral shape). best.safetensors is the epoch with the highest \
      validation accuracy. With --valid-fold or --valid-speakers the held-out clips are also \
      written to --output as validation.jsonl, a manifest for `earshot evaluate`; runs that \
      share a split (--split-seed) can be combined with `earshot ensemble` and scored on it. \
      --init MODEL fine-tunes a trained classifier on its own labels; with --new-head only its \
      encoder is kept and a new output layer learns this run's labels (transfer learning: \
      another task, or your own keywords, from an encoder trained on more data).

      Examples:
        earshot train --task classify --train ESC-10 --valid-fold 4 \\
            --output runs/sounds --mel-bands 64 --window-ms 40 --hop-ms 20 \\
            --mixup 0.5 --cmvn level
        earshot train --task classify --train commands.jsonl --valid-speakers 0.2 \\
            --labels yes,no,up,down,left,right,on,off,stop,go,unknown,silence \\
            --output runs/commands
        earshot train --task classify --train my-keywords/ --valid-speakers 0.2 \\
            --init commands --init-member 6 --new-head --output runs/keywords
        earshot evaluate --model runs/sounds/best.safetensors \\
            --confusion-png c.png esc10-fold5/
      """)

  @Option(help: "What to train: ctc (transcription) or classify (clip labels).") var task = "ctc"
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
  @Option(help: "Decoupled weight decay W (AdamW): every step multiplies each weight and bias by 1 - lr x W, lr being that step's learning rate; lr x W must stay under 1. 0.01 is PyTorch's AdamW default. (default: none)")
  var weightDecay: Float?
  @Option(help: "Token unit: word or character. (default: word)") var tokens: TrainTokenUnit?
  @Option(help: "Random seed: initialisation, batch order, dropout, augmentation. (default: 0)") var seed: UInt64?
  @Option(help: "Folder of background-noise audio mixed into training utterances (see --noise-snr, --noise-probability and --noise-pad).") var noise: String?
  // .unconditional: a negative range such as -5,10 is a value, not an option.
  @Option(parsing: .unconditional, help: ArgumentHelp(
    "With --noise: signal-to-noise ratio in dB, drawn uniformly per utterance from MIN,MAX (or one fixed value), within -20...60; the signal's power is the whole utterance's, pauses included. (default: 5,30)",
    valueName: "min,max"))
  var noiseSnr: String?
  @Option(help: ArgumentHelp("With --noise: probability that an utterance gets noise, in [0, 1]. (default: 0.5)", valueName: "p"))
  var noiseProbability: Float?
  @Option(help: ArgumentHelp(
    "With --noise: an utterance that gets noise also gets 0 to this many seconds of the noise alone before and after it, as a recording that starts and ends in a noisy room; at most 10. (default: 0)",
    valueName: "seconds"))
  var noisePad: Float?
  @Flag(help: "Turn all augmentation off (speed, gain, noise, silence, warp, reverb, telephone, SpecAugment).") var noAugmentation = false
  @Option(help: "Vocal tract length perturbation: warp the mel axis by a factor in [1-W, 1+W] per utterance, e.g. 0.1. (default: 0, off)")
  var frequencyWarp: Float?
  @Option(help: "Probability of padding an utterance with 0-0.5 s of digital silence on each side. (default: 0)")
  var silence: Float?
  @Option(help: "Probability of playing an utterance in a simulated room: convolved with a synthetic impulse response, RT60 0.15-0.7 s, direct-to-reverberant ratio 0-12 dB, level kept. (default: 0)")
  var reverb: Float?
  @Option(help: "Probability of hearing an utterance through a telephone line: band-limited to about 300-3,400 Hz (4th-order filters, cut-offs drawn in 200-400 Hz and 3,000-3,600 Hz, the upper under 0.45 x the sample rate) and G.711 mu-law coded (8 bits) at a peak drawn in -30 to -1 dBFS, level kept. (default: 0)")
  var telephone: Float?
  @Option(help: ArgumentHelp(
    "ctc: build this many connected strings when training starts: each joins 2 to --connected-max-clips training clips of one speaker (the manifest's \"speaker\", or FSDD's) with pauses, and is transcribed as their texts in order. (default: 0)",
    valueName: "n"))
  var connectedStrings: Int?
  @Option(help: "ctc: most clips in one connected string, 2-50. (default: 10)") var connectedMaxClips: Int?
  @Option(help: "ctc: longest pause between the clips of a connected string, seconds (each clip is first trimmed of its own silence). (default: 0.4)")
  var connectedMaxPause: Float?
  @Option(help: "Also write a checkpoint every this many steps. (default: 200)") var checkpointEvery: Int?
  @Option(help: "Threads for features and BLAS. (default: all cores)") var threads: Int?
  @Flag(help: "Continue the run in --output from its checkpoint.") var resume = false
  @Option(name: .customLong("init"), help: ArgumentHelp(
    "Fine-tune: start from this model's weights (a shipped name such as digits, or a path); its features, sizes and tokens or labels are used.",
    valueName: "model"))
  var initialModel: String?
  @Option(help: ArgumentHelp(
    "With --init of an ensemble (the shipped digits and commands models are ensembles): which of its networks to start from, 0-based.",
    valueName: "k"))
  var initMember: Int?
  @Flag(help: "classify, with --init: keep only the --init model's encoder (features, sizes, LSTM weights) and learn a new pooling and output layer for this run's labels (the data's, or --labels; --pooling defaults to the model's): transfer to other labels.")
  var newHead = false
  @Option(help: "Stop cleanly, after a checkpoint, after this many minutes of training (exit status 75 if no epoch has finished, so no model exists yet; --resume goes on). The learning-rate schedule is planned for --epochs, so a run stopped early has not decayed: size --epochs to the time.") var maxMinutes: Double?

  // --task classify only.
  @Option(help: "classify: pooling over frames: mean, max, mean-max (the two side by side), mean-std-max (with the standard deviation too) or attention. (default: mean)") var pooling: Pooling?
  @Option(help: "classify: class balancing: none, weighted-loss or sampling. (default: weighted-loss)") var balance: ClassBalancing?
  @Option(help: "classify: label smoothing epsilon in [0, 1). (default: 0)") var labelSmoothing: Float?
  @Option(help: "classify: probability of mixing a clip with another (mixup). (default: 0)") var mixup: Float?
  @Option(help: "classify: largest random circular time shift, seconds. (default: 0)") var timeShift: Float?
  @Option(help: ArgumentHelp(
    "classify: train on a random window of this many seconds of each clip, drawn anew every epoch (shorter clips whole); evaluation and classify use whole clips. For clips longer than their sound, e.g. 2 for ESC-10's 5 s clips. (default: whole clips)",
    valueName: "seconds"))
  var crop: Float?
  @Option(help: "classify: validate on this fold (ESC: first character of the file name), train on the rest.") var validFold: Int?
  @Option(help: "Validate on this fraction of the speakers (by a seeded hash of the name), train on the rest; the held-out clips are written to --output as validation.jsonl.") var validSpeakers: Double?
  @Option(help: "Seed of the --valid-speakers hash, so runs with different --seed values can share one split. (default: --seed)")
  var splitSeed: UInt64?
  @Option(help: "classify: more training clips (manifest or folder), added after the validation split and never validated on, e.g. synthetic speech.")
  var extraTrain: String?
  @Option(help: "classify: output labels in order, comma-separated. (default: the training labels, sorted)") var labels: String?
  @Option(help: "Feature sample rate in Hz: audio is resampled to it. (default: ctc 8000, classify 16000)") var sampleRate: Int?
  @Option(help: "What the network hears: logmel (natural-log mel bands) or pcen (per-channel energy normalisation of the magnitude mel bands with librosa's settings: a gain control per band, 0.4 s time constant, in place of the log). (default: logmel)")
  var features: TrainingFeatures?
  @Option(help: "Mel bands. (default: 40)") var melBands: Int?
  @Option(help: "Analysis window, milliseconds. (default: 25)") var windowMs: Double?
  @Option(help: "Frame shift, milliseconds. (default: 10)") var hopMs: Double?
  @Option(help: "classify: speed factors, comma-separated. (default: 0.9,1,1.1)") var speeds: String?
  @Option(help: "Feature normalisation per clip: utterance (each band on its own, removing the microphone's colouring) or level (all bands together, keeping the spectral shape, e.g. for steady sounds). (default: utterance)")
  var cmvn: TrainingNormalization?
  @Option(help: ArgumentHelp(
    "Take each clip's normalisation statistics from its speech span only: the frames from the first to the last within DB dB of the loudest, plus 20 frames each side. Noise alone before or after the speech then leaves them as for a tightly cut clip. The model file keeps it, so transcription and classification use it too. (default: every frame)",
    valueName: "DB"))
  var cmvnSpan: Double?

  /// The options that only `--task classify` takes, by flag name, when given.
  private var classifyOnly: [String] {
    var given: [String] = []
    if pooling != nil { given.append("--pooling") }
    if balance != nil { given.append("--balance") }
    if labelSmoothing != nil { given.append("--label-smoothing") }
    if mixup != nil { given.append("--mixup") }
    if timeShift != nil { given.append("--time-shift") }
    if crop != nil { given.append("--crop") }
    if validFold != nil { given.append("--valid-fold") }
    if labels != nil { given.append("--labels") }
    if extraTrain != nil { given.append("--extra-train") }
    if speeds != nil { given.append("--speeds") }
    if newHead { given.append("--new-head") }
    return given
  }

  func validate() throws {
    guard task == "ctc" || task == "classify" else { throw ValidationError("--task must be ctc or classify (got \(task))") }
    if task == "ctc", let first = classifyOnly.first { throw ValidationError("\(first) applies to --task classify only") }
    if let cmvnSpan, !(cmvnSpan > 0 && cmvnSpan <= 60) {
      throw ValidationError("--cmvn-span must be in (0, 60] dB (got \(cmvnSpan))")
    }
    if cmvnSpan != nil && features == .pcen {
      throw ValidationError("--cmvn-span finds the speech span in log-mel levels; it does not apply to --features pcen")
    }
    let splits = [validFold != nil, validSpeakers != nil, valid != nil].filter { $0 }.count
    if splits > 1 { throw ValidationError("give at most one of --valid, --valid-fold and --valid-speakers") }
    if splitSeed != nil && validSpeakers == nil { throw ValidationError("--split-seed applies with --valid-speakers only") }
    if let validSpeakers, !(validSpeakers > 0 && validSpeakers < 1) {
      throw ValidationError("--valid-speakers must be in (0, 1) (got \(validSpeakers))")
    }
    if task == "classify" {
      if tokens != nil { throw ValidationError("--tokens applies to --task ctc only") }
      if connectedStrings != nil || connectedMaxClips != nil || connectedMaxPause != nil {
        throw ValidationError("--connected-strings, --connected-max-clips and --connected-max-pause apply to --task ctc only")
      }
      if let labelSmoothing, !(labelSmoothing >= 0 && labelSmoothing < 1) {
        throw ValidationError("--label-smoothing must be in [0, 1) (got \(labelSmoothing))")
      }
      if let mixup, !(mixup >= 0 && mixup <= 1) { throw ValidationError("--mixup must be in [0, 1] (got \(mixup))") }
      if let timeShift, !(timeShift >= 0 && timeShift <= 10) { throw ValidationError("--time-shift must be in [0, 10] seconds (got \(timeShift))") }
      if let crop, !(crop > 0 && crop <= 3600) { throw ValidationError("--crop must be in (0, 3600] seconds (got \(crop))") }
      _ = try speedList(speeds, option: "--speeds")
    }
    if let sampleRate, !(1000...192_000).contains(sampleRate) {
      throw ValidationError("--sample-rate must be in 1000...192000 (got \(sampleRate))")
    }
    if let melBands, !(1...512).contains(melBands) { throw ValidationError("--mel-bands must be in 1...512 (got \(melBands))") }
    if let windowMs, !(windowMs > 0 && windowMs <= 1000) { throw ValidationError("--window-ms must be in (0, 1000] (got \(windowMs))") }
    if let hopMs, !(hopMs > 0 && hopMs <= 1000) { throw ValidationError("--hop-ms must be in (0, 1000] (got \(hopMs))") }
    guard FileManager.default.fileExists(atPath: train) else { throw ValidationError("--train \(train): no such file or folder") }
    if PathKind(output) == .other {
      throw ValidationError("--output \(output) is a file; it names the run's folder")
    }
    if let extraTrain, !FileManager.default.fileExists(atPath: extraTrain) {
      throw ValidationError("--extra-train \(extraTrain): no such file or folder")
    }
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
    if let weightDecay, !(weightDecay >= 0 && weightDecay * (learningRate ?? CTCTrainingOptions().learningRate) < 1) {
      throw ValidationError("--weight-decay must be >= 0 with --learning-rate times it under 1 (got \(weightDecay))")
    }
    if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be >= 1 (got \(checkpointEvery))") }
    if let threads, threads < 1 { throw ValidationError("--threads must be >= 1 (got \(threads))") }
    if initMember != nil && initialModel == nil { throw ValidationError("--init-member picks a network of the --init model; give --init") }
    if let initMember, initMember < 0 { throw ValidationError("--init-member must be >= 0 (got \(initMember))") }
    if initialModel != nil && resume {
      throw ValidationError("--init starts a new run; --resume continues one from its checkpoint (drop --init)")
    }
    if newHead && initialModel == nil { throw ValidationError("--new-head keeps the encoder of an --init model; give --init") }
    if initialModel != nil, let clash = [hidden != nil ? "--hidden" : nil, layers != nil ? "--layers" : nil,
                                         tokens != nil ? "--tokens" : nil, sampleRate != nil ? "--sample-rate" : nil,
                                         features != nil ? "--features" : nil,
                                         melBands != nil ? "--mel-bands" : nil, windowMs != nil ? "--window-ms" : nil,
                                         hopMs != nil ? "--hop-ms" : nil, pooling != nil && !newHead ? "--pooling" : nil,
                                         labels != nil && !newHead ? "--labels" : nil,
                                         cmvn != nil ? "--cmvn" : nil,
                                         cmvnSpan != nil ? "--cmvn-span" : nil].compactMap({ $0 }).first {
      throw ValidationError("\(clash) is taken from the --init model; leave it out"
        + (clash == "--labels" || clash == "--pooling" ? " (or add --new-head to learn new labels on its encoder)" : ""))
    }
    if let maxMinutes, !(maxMinutes > 0) { throw ValidationError("--max-minutes must be > 0 (got \(maxMinutes))") }
    if let noise {
      guard PathKind(noise) == .folder else {
        throw ValidationError("--noise \(noise): not a folder")
      }
      if noAugmentation { throw ValidationError("--noise and --no-augmentation contradict each other") }
    }
    if noise == nil && (noiseSnr != nil || noiseProbability != nil || noisePad != nil) {
      throw ValidationError("--noise-snr, --noise-probability and --noise-pad need --noise (a folder of background noise)")
    }
    if let noisePad, !(noisePad >= 0 && noisePad <= 10) {
      throw ValidationError("--noise-pad must be in [0, 10] seconds (got \(noisePad))")
    }
    _ = try noiseSNRRange()
    if let noiseProbability, !(noiseProbability >= 0 && noiseProbability <= 1) {
      throw ValidationError("--noise-probability must be in [0, 1] (got \(noiseProbability))")
    }
    if let frequencyWarp, !(frequencyWarp >= 0 && frequencyWarp <= 0.3) {
      throw ValidationError("--frequency-warp must be in [0, 0.3] (got \(frequencyWarp))")
    }
    if let silence, !(silence >= 0 && silence <= 1) { throw ValidationError("--silence must be in [0, 1] (got \(silence))") }
    if let reverb, !(reverb >= 0 && reverb <= 1) { throw ValidationError("--reverb must be in [0, 1] (got \(reverb))") }
    if let telephone, !(telephone >= 0 && telephone <= 1) {
      throw ValidationError("--telephone must be in [0, 1] (got \(telephone))")
    }
    if let connectedStrings, connectedStrings < 0 { throw ValidationError("--connected-strings must be >= 0 (got \(connectedStrings))") }
    if let connectedMaxClips, !(2...50).contains(connectedMaxClips) {
      throw ValidationError("--connected-max-clips must be in 2...50 (got \(connectedMaxClips))")
    }
    if let connectedMaxPause, !(connectedMaxPause >= 0 && connectedMaxPause <= 5) {
      throw ValidationError("--connected-max-pause must be in [0, 5] seconds (got \(connectedMaxPause))")
    }
    if noAugmentation && (frequencyWarp ?? 0 > 0 || silence ?? 0 > 0 || reverb ?? 0 > 0 || telephone ?? 0 > 0) {
      throw ValidationError("--frequency-warp, --silence, --reverb or --telephone and --no-augmentation contradict each other")
    }
  }

  func run() throws {
    // Said before any clip is loaded (the trainer checks again when it starts).
    if !resume, let file = TrainingError.existingRunFile(in: output) {
      printError("error: \(TrainingError.runExists(output: output, file: file))")
      throw ExitCode.failure
    }
    Self.stopOnInterrupt()
    if task == "classify" { return try runClassify() }
    do {
      let saved = resume ? try CTCTrainer.savedOptions(output: output) : nil
      var options = saved ?? CTCTrainingOptions()
      if let tokens { options.tokenUnit = tokens.unit }
      try applySharedFlags(to: &options)
      if let connectedStrings { options.augmentation.connectedStrings = connectedStrings }
      if let connectedMaxClips { options.augmentation.maximumConnectedPieces = connectedMaxClips }
      if let connectedMaxPause { options.augmentation.connectedPauseSeconds = connectedMaxPause }
      let initial = try initialModel.map { name in
        let model = try TranscriptionModel(named: name)
        let member = model.members[try initialMemberIndex(count: model.members.count)]
        return TranscriptionModel(network: member.network, features: member.features, tokens: model.tokens, unit: model.unit, source: model.source)
      }
      if let initial {
        options.features = initial.features
        options.hiddenSize = initial.network.architecture.hiddenSize
        options.layers = initial.network.architecture.numLayers
        options.tokenUnit = initial.unit
      }
      if let saved { try checkResumable(saved: saved, now: options) }

      var trainEntries = try Manifest.load(train)
      var validEntries = try valid.map { try Manifest.load($0) }
      var speakerSplitDescription: String?
      for folder in [train] + (valid.map { [$0] } ?? []) { warnAboutIgnoredFiles(inFolder: folder) }
      if let validSpeakers {
        let hashSeed = splitSeed ?? options.seed
        try checkSpeakers(unknown: trainEntries.filter { $0.speaker == nil }.count, of: trainEntries.count,
                          namedBy: "a manifest's \"speaker\", or an FSDD file name", otherwise: "--valid")
        let split = try speakerSplit(trainEntries, fraction: validSpeakers, seed: hashSeed) { $0.speaker ?? $0.audio }
        (trainEntries, validEntries) = (split.training, split.validation)
        speakerSplitDescription = split.description
        if !resume || !FileManager.default.fileExists(atPath: output + "/validation.jsonl") {
          try writeValidationManifest(split.validation)
        }
      }
      let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
      let tokens = resume ? try CTCTrainer.savedTokens(output: output) : initial?.tokens
      let trainer = try CTCTrainer(options: options, training: trainEntries, validation: validEntries,
                                   tokens: tokens, threads: threadCount)
      trainer.provenance["train"] = train
      if let valid { trainer.provenance["valid"] = valid }
      if let speakerSplitDescription { trainer.provenance["valid"] = speakerSplitDescription }
      for line in trainer.skipped.prefix(10) { printError("skipped: \(line)") }
      if trainer.skipped.count > 10 { printError("skipped \(trainer.skipped.count - 10) more") }
      if let validEntries {
        // Validation words the model cannot output are errors in every epoch's WER.
        let unknown = unitsOutside(Set(trainer.tokenizer.tokens), in: validEntries.map(\.text), unit: trainer.tokenizer.unit)
        if !unknown.isEmpty {
          printError("warning: validation texts hold \(unknown.count) \(trainer.tokenizer.unit == .word ? "word" : "character")(s) "
            + "that no training text has, so the model can never output them: " + listUnits(unknown))
        }
      }
      let built = trainer.connectedCount > 0 ? " (\(trainer.connectedCount) of them connected strings)" : ""
      printError(String(format: "loaded %d training%@ and %d validation clips in %.1f s; tokens: ",
                        trainer.trainingCount, built, trainer.validationCount, trainer.loadSeconds)
                 + trainer.tokenizer.tokens.joined(separator: " "))
      let summary = try trainer.train(output: output, resume: resume, maxMinutes: maxMinutes,
                                      initialNetwork: initial?.network,
                                      progress: TrainingProgressPrinter().callAsFunction)
      var line = "trained \(summary.epochs) of \(options.epochs) epochs (\(summary.steps) steps"
        + (summary.utterancesPerSecond > 0 ? String(format: ", %.1f utt/s)", summary.utterancesPerSecond) : "; none in this session)")
      if let wer = summary.bestWER, let epoch = summary.bestEpoch {
        line += String(format: "; best validation %@ %.2f%% at epoch %d", options.tokenUnit == .character ? "CER" : "WER", 100 * wer, epoch)
      }
      StandardOutput.write(line + "\n")
      try endRun(bestModel: summary.bestModel, checkpoint: summary.checkpoint, stoppedEarly: summary.stoppedEarly)
    } catch let error as ExitCode {
      throw error
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
  }
}

extension Pooling: ExpressibleByArgument {}
extension ClassBalancing: ExpressibleByArgument {}

extension Train {
  /// The held-out clips as a manifest, `--output`/validation.jsonl, so that `earshot evaluate`
  /// (say, of an ensemble of several runs on one split) can score exactly them.
  func writeValidationManifest<Entry: Encodable>(_ entries: [Entry]) throws {
    try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var lines = Data()
    for e in entries {
      lines.append(try encoder.encode(e))
      lines.append(0x0A)
    }
    try writeAtomically(lines, to: URL(fileURLWithPath: output).appendingPathComponent("validation.jsonl").path)
  }

  /// Refuses a --valid-speakers split when no clip of --train has a known speaker (it would
  /// be clip by clip, one voice on both sides); warns when only some lack one. `namedBy`
  /// says where speakers come from for this task, `otherwise` what to use instead.
  func checkSpeakers(unknown: Int, of total: Int, namedBy: String, otherwise: String) throws {
    if unknown == total {
      throw ValidationError("--valid-speakers: no clip of \(train) has a known speaker (\(namedBy)), so the split "
        + "would be clip by clip and the same voice or recording would be on both sides; give speakers, or use \(otherwise)")
    }
    if unknown > 0 {
      printError("warning: \(unknown) of \(total) clips have no known speaker; each is its own \"speaker\" in the split")
    }
  }

  /// Where the model is, or why there is none yet, and how to go on; then the exit: 130
  /// when interrupted, 75 (try again: --resume) when no epoch has finished, so no model
  /// exists for a command chained after this one.
  func endRun(bestModel: String, checkpoint: String, stoppedEarly: Bool) throws {
    let hasModel = FileManager.default.fileExists(atPath: bestModel)
    if hasModel {
      StandardOutput.write("model: \(bestModel)\n")
    } else {
      StandardOutput.write("no epoch finished yet, so no model was written; the checkpoint is \(checkpoint)\n")
    }
    if stoppedEarly && TrainingInterruption.isRequested {
      StandardOutput.write("interrupted; the checkpoint holds every step taken: continue with the same command and --resume\n")
    } else if stoppedEarly {
      StandardOutput.write("stopped after --max-minutes \(maxMinutes ?? 0); continue with the same command and --resume\n")
    }
    if TrainingInterruption.isRequested { throw ExitCode(128 + Self.interruptSignal.load(ordering: .acquiring)) }
    if !hasModel { throw ExitCode(75) }
  }

  /// Ctrl-C (SIGINT) or SIGTERM while training: the step in progress finishes and a checkpoint
  /// is written (then `run` exits with 128 + the signal: 130 for Ctrl-C, 143 for SIGTERM); a
  /// second signal, or one while the clips are still loading, quits at once.
  static func stopOnInterrupt() {
    InterruptSignals.handle { sig in
      interruptSignal.store(sig, ordering: .releasing)
      if TrainingInterruption.isRequested || !TrainingInterruption.request() {
        printError("interrupted")
        Glibc.exit(128 + sig)
      }
      printError("\ninterrupted: finishing this step and writing a checkpoint (press Ctrl-C again to quit at once)")
    }
  }
  /// The signal that asked training to stop (for the exit status).
  static let interruptSignal = Atomic<Int32>(SIGINT)

  /// --noise-snr as (min, max) dB, nil when not given: "MIN,MAX" or one value for both.
  /// - Throws: `ValidationError` for anything else, a range outside -20...60 dB, or MIN > MAX.
  func noiseSNRRange() throws -> (Float, Float)? {
    guard let noiseSnr else { return nil }
    let values = noiseSnr.split(separator: ",", omittingEmptySubsequences: false)
      .map { Float($0.trimmingCharacters(in: .whitespaces)) }
    guard (1...2).contains(values.count), let low = values.first!, let high = values.last!,
          low.isFinite, high.isFinite else {
      throw ValidationError("--noise-snr must be MIN,MAX in dB such as 0,20, or one value (got \(noiseSnr))")
    }
    guard low >= -20, high <= 60, low <= high else {
      throw ValidationError("--noise-snr must lie within -20...60 dB with MIN <= MAX (got \(noiseSnr))")
    }
    return (low, high)
  }

  /// The flags both tasks share: network size, optimizer, seed, checkpoints, the front end's
  /// (`applyFeatureFlags`, `applyNormalizationFlags`) and augmentation's (`applyAugmentationFlags`).
  func applySharedFlags<Options: TrainingRunOptions>(to options: inout Options) throws {
    if let epochs { options.epochs = epochs }
    if let batchSize { options.batchSize = batchSize }
    if let hidden { options.hiddenSize = hidden }
    if let layers { options.layers = layers }
    if let dropout { options.dropout = dropout }
    if let learningRate { options.learningRate = learningRate }
    if let clip { options.maxGradientNorm = clip }
    // 0 is none, as a run started without the flag stored it (so --resume matches).
    if let weightDecay { options.weightDecay = weightDecay > 0 ? weightDecay : nil }
    if let seed { options.seed = seed }
    if let checkpointEvery { options.checkpointInterval = checkpointEvery }
    applyFeatureFlags(to: &options.features)
    applyNormalizationFlags(to: &options.features)
    try applyAugmentationFlags(to: &options.augmentation)
  }

  /// --features, --sample-rate, --mel-bands, --window-ms and --hop-ms, for either task: the
  /// front end rebuilt from the given values and, for the rest, the task's defaults (a new
  /// --sample-rate alone takes 25 ms windows every 10 ms at that rate).
  func applyFeatureFlags(to f: inout FeatureOptions) {
    guard features != nil || sampleRate != nil || melBands != nil || windowMs != nil || hopMs != nil else { return }
    let rate = sampleRate ?? f.sampleRate
    var g = FeatureOptions.speechLogMel(sampleRate: rate, melBands: melBands ?? f.mel.melBands)
    let window = windowMs.map { Int(($0 * Double(rate) / 1000).rounded()) }
      ?? (sampleRate == nil ? f.spectrogram.resolvedWindowLength : rate / 40)
    var fft = 1
    while fft < window { fft *= 2 }
    g.spectrogram.windowLength = window
    g.spectrogram.fftSize = fft
    g.spectrogram.hopLength = hopMs.map { max(Int(($0 * Double(rate) / 1000).rounded()), 1) }
      ?? (sampleRate == nil ? f.spectrogram.hopLength : rate / 100)
    g.cmvn.mode = .utterance
    if features == .pcen {
      g.kind = .pcen
      g.spectrogram.power = PCENOptions.recommendedSpectrumPower
    }
    f = g
  }

  /// --cmvn and --cmvn-span, for either task.
  func applyNormalizationFlags(to f: inout FeatureOptions) {
    if let cmvn { f.cmvn.mode = cmvn.mode }
    if let cmvnSpan { f.cmvn.speechSpan = SpeechSpan(decibels: Float(cmvnSpan)) }
  }

  /// --no-augmentation, --noise, --noise-snr, --noise-probability, --noise-pad, --frequency-warp, --silence, --reverb and --telephone, for either task.
  func applyAugmentationFlags(to a: inout AugmentationOptions) throws {
    if noAugmentation { a = .none }
    if let noise { a.noiseFolder = noise }
    if let snr = try noiseSNRRange() { (a.minimumSNR, a.maximumSNR) = snr }
    if let noiseProbability { a.noiseProbability = noiseProbability }
    if let noisePad { a.maximumNoisePadSeconds = noisePad }
    if let frequencyWarp { a.maximumFrequencyWarp = frequencyWarp }
    if let silence { a.silenceProbability = silence }
    if let reverb { a.reverbProbability = reverb }
    if let telephone { a.telephoneProbability = telephone }
  }

  /// The classification options from the defaults (or the checkpoint on --resume) and the flags.
  /// `initial` is the --init model, whose features and sizes are kept, and with its whole
  /// network (no --new-head) its pooling and labels.
  func classificationOptions(initial: ClassificationModel? = nil) throws -> ClassificationTrainingOptions {
    let saved = resume ? try ClassificationTrainer.savedOptions(output: output) : nil
    var options = saved ?? ClassificationTrainingOptions()
    if let pooling { options.pooling = pooling }
    if let balance { options.balancing = balance }
    if let labelSmoothing { options.labelSmoothing = labelSmoothing }
    if let mixup { options.mixupProbability = mixup }
    if let timeShift { options.maximumTimeShiftSeconds = timeShift }
    if let crop { options.cropSeconds = crop }
    if let labels {
      options.labels = labels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
    // Before the shared flags: --no-augmentation turns these speeds off too.
    if let speeds = try speedList(speeds, option: "--speeds") { options.augmentation.speeds = speeds }
    try applySharedFlags(to: &options)
    if let initial {
      options.features = initial.features
      options.hiddenSize = initial.network.architecture.hiddenSize
      options.layers = initial.network.architecture.numLayers
      if !newHead {
        options.pooling = initial.network.architecture.pooling
        options.labels = initial.labels
      } else if pooling == nil {
        options.pooling = initial.network.architecture.pooling
      }
    }
    if let saved { try checkResumable(saved: saved, now: options) }
    return options
  }

  /// Which network of the --init model (of `count`) training starts from.
  func initialMemberIndex(count: Int) throws -> Int {
    if count > 1 && initMember == nil {
      throw ValidationError("--init \(initialModel!) is an ensemble of \(count) networks; choose the one to start from "
        + "with --init-member 0...\(count - 1) (the Earshot repository's docs/models.md describes each)")
    }
    let k = initMember ?? 0
    guard k < count else {
      throw ValidationError("--init-member \(k) is out of range: --init \(initialModel!) has "
        + (count == 1 ? "one network (member 0)" : "\(count) networks (0...\(count - 1))"))
    }
    return k
  }

  /// Whole speakers held out for validation (`ClassificationSplit.bySpeaker`), with a line
  /// that says what the split gave: "3 of 31 speakers of DATA, 240 of 1,200 clips (20%; hash, seed 1)".
  /// - Throws: `ValidationError` when either side is empty.
  func speakerSplit<Entry>(_ all: [Entry], fraction: Double, seed: UInt64, speaker: (Entry) -> String) throws
    -> (training: [Entry], validation: [Entry], description: String)
  {
    let split = ClassificationSplit.bySpeaker(all, fraction: fraction, seed: seed, speaker: speaker)
    let speakers = Set(all.map(speaker)).count
    guard !split.validation.isEmpty, !split.training.isEmpty else {
      throw ValidationError(String(format: "--valid-speakers %g of the speakers of \(train) leaves %@ empty; ", fraction,
                                   split.training.isEmpty ? "training" : "validation")
        + "there are \(speakers) speakers; try another fraction or --split-seed")
    }
    let held = Set(split.validation.map(speaker)).count
    let description = "\(held) of \(speakers) speakers of \(train), \(split.validation.count) of \(all.count) clips "
      + String(format: "(%.0f%%; hash, seed \(seed))", 100 * Double(split.validation.count) / Double(all.count))
    return (split.training, split.validation, description)
  }

  /// Refuses clips whose labels the model will not have, all at once, naming the option
  /// that causes it: --labels, --init without --new-head, or a split that left a label's
  /// clips in validation only.
  func checkLabels(training: [ClassificationEntry], validation: [ClassificationEntry], labels: [String],
                   initial: ClassificationModel?) throws {
    let known = Set(labels)
    func counts(_ entries: [ClassificationEntry]) -> [String: Int] {
      entries.filter { !known.contains($0.label) }.reduce(into: [:]) { $0[$1.label, default: 0] += 1 }
    }
    let (inTraining, inValidation) = (counts(training), counts(validation))
    guard !inTraining.isEmpty || !inValidation.isEmpty else { return }
    let listed = Set(inTraining.keys).union(inValidation.keys).sorted().map { label in
      "'\(label)' (" + [inTraining[label].map { "\($0) training" }, inValidation[label].map { "\($0) validation" }]
        .compactMap { $0 }.joined(separator: ", ") + " clips)"
    }
    let fix: String
    if initial != nil && !newHead {
      fix = "the --init model's labels are kept; add --new-head to learn this data's labels on its encoder"
    } else if self.labels != nil {
      fix = "add them to --labels, or leave --labels out to take the training data's"
    } else if validSpeakers != nil {
      fix = "the --valid-speakers split put every speaker of these labels in validation; try a smaller fraction or another --split-seed"
    } else if let validFold {
      fix = "fold \(validFold) holds labels the other folds lack"
    } else {
      fix = "the validation data holds labels the training data lacks"
    }
    throw ValidationError("labels the model will not have: \(listed.joined(separator: ", ")); its labels are "
      + "\(labels.joined(separator: " ")); \(fix)")
  }

  /// A resumed run must train on as it began: said before any clip is loaded.
  func checkResumable<Options: TrainingRunOptions>(saved: Options, now: Options) throws {
    if let reason = saved.resumeMismatch(with: now) {
      throw ValidationError("--resume: \(output): \(reason), or start a new run in another --output")
    }
  }

  func runClassify() throws {
    do {
      let initial = try initialModel.map { name in
        let model = try ClassificationModel(named: name)
        let member = model.members[try initialMemberIndex(count: model.members.count)]
        return ClassificationModel(network: member.network, features: member.features, labels: model.labels, source: model.source)
      }
      let options = try classificationOptions(initial: initial)
      let all = try ClassificationDataset.load(train)
      let noiseFolder = URL(fileURLWithPath: train).appendingPathComponent(ClassificationDataset.backgroundNoiseFolder).path
      if PathKind(noiseFolder) == .folder && noise == nil {
        printError("note: \(noiseFolder) is not a label (long background recordings); --noise \(noiseFolder) mixes it into training clips")
      }
      var training = all
      var validation: [ClassificationEntry]? = nil
      var split = "none"
      if let validFold {
        (training, validation) = ClassificationSplit.byFold(all, validFold: validFold)
        split = "fold \(validFold) of \(train)"
      } else if let validSpeakers {
        let hashSeed = splitSeed ?? options.seed
        try checkSpeakers(unknown: all.filter { $0.speaker == nil }.count, of: all.count,
                          namedBy: "a manifest's \"speaker\", or a Speech Commands, FSDD or ESC file name",
                          otherwise: "--valid-fold or --valid")
        let held = try speakerSplit(all, fraction: validSpeakers, seed: hashSeed) { $0.speaker ?? URL(fileURLWithPath: $0.audio).lastPathComponent }
        (training, validation, split) = (held.training, held.validation, held.description)
      } else if let valid {
        validation = try ClassificationDataset.load(valid)
        split = valid
      }
      if let extraTrain {
        var extra = try ClassificationDataset.load(extraTrain)
        // Validation never shares a source with training, extra clips included.
        let held = Set((validation ?? []).compactMap(\.speaker))
        let shared = Set(extra.compactMap(\.speaker)).intersection(held).sorted()
        if !shared.isEmpty {
          let before = extra.count
          extra.removeAll { $0.speaker.map(held.contains) ?? false }
          printError("note: \(before - extra.count) --extra-train clips of \(shared.count) validation speaker(s) are left out, "
            + "so that validation stays unheard in training (\(shared.prefix(5).joined(separator: ", "))\(shared.count > 5 ? ", ..." : ""))")
        }
        training += extra
        split += "; plus \(extraTrain) in training only"
      }
      if let v = validation, v.isEmpty {
        let folds = Set(all.compactMap(\.fold)).sorted().map(String.init).joined(separator: ", ")
        throw TrainingError.emptyDataset(path: train, reason: "the validation split (\(split)) holds no clips"
          + (validFold != nil ? (folds.isEmpty ? "; no clip names its fold ({fold}-{id}-{take}.wav)" : "; its folds are \(folds)") : ""))
      }
      try checkLabels(training: training, validation: validation ?? [], labels: options.labels ?? Set(training.map(\.label)).sorted(),
                      initial: initial)
      for group in ClassificationDataset.labelsDifferingOnlyInCase(training + (validation ?? [])) {
        printError("warning: labels \(group.map { "'\($0)'" }.joined(separator: " and ")) differ only in case and train as "
          + "\(group.count) classes; rename one (folder or manifest \"label\") if they are the same")
      }
      let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
      let trainer = try ClassificationTrainer(options: options, training: training, validation: validation, threads: threadCount)
      // A resumed run keeps the manifest it has (a resume on another split is refused below,
      // and must not overwrite it first).
      if let validation, valid == nil, !resume || !FileManager.default.fileExists(atPath: output + "/validation.jsonl") {
        try writeValidationManifest(validation)
      }
      trainer.provenance["train"] = train
      trainer.provenance["validation"] = split
      for line in trainer.skipped.prefix(10) { printError("skipped: \(line)") }
      if trainer.skipped.count > 10 { printError("skipped \(trainer.skipped.count - 10) more") }
      printError(String(format: "loaded %d training and %d validation clips in %.1f s (validation: %@); labels: ",
                        trainer.trainingCount, trainer.validationCount, trainer.loadSeconds, split)
                 + zip(trainer.labels, trainer.labelCounts).map { "\($0) (\($1))" }.joined(separator: " "))
      let printer = TrainingProgressPrinter(unit: "clips")
      let terminal = isatty(STDERR_FILENO) != 0
      let summary = try trainer.train(output: output, resume: resume, maxMinutes: maxMinutes,
                                      initialNetwork: initial?.network, initialScope: newHead ? .encoder : .wholeNetwork,
                                      progress: printer.callAsFunction) { m in
        var line = "epoch \(m.epoch): loss \(String(format: "%.4f", m.trainLoss))"
        if let a = m.validAccuracy, let l = m.validLoss { line += String(format: ", valid accuracy %.2f%%, valid loss %.4f", 100 * a, l) }
        line += String(format: ", lr %.2g, %.0f s, %.1f clips/s", m.learningRate, m.seconds, m.utterancesPerSecond)
        if m.best { line += " (best)" }
        printError((terminal ? "\r\u{1B}[K" : "") + line)
      }
      var line = "trained \(summary.epochs) of \(options.epochs) epochs (\(summary.steps) steps, "
        + (summary.utterancesPerSecond > 0 ? String(format: "%.1f clips/s, ", summary.utterancesPerSecond) : "none in this session, ")
        + String(format: "%.0f s of training)", summary.trainingSeconds)
      if let a = summary.bestAccuracy, let epoch = summary.bestEpoch {
        line += String(format: "; best validation accuracy %.2f%% at epoch %d", 100 * a, epoch)
      }
      StandardOutput.write(line + "\n")
      if let report = summary.bestReport { StandardOutput.write("validation (\(split)), best epoch:\n" + report.text) }
      try endRun(bestModel: summary.bestModel, checkpoint: summary.checkpoint, stoppedEarly: summary.stoppedEarly)
    } catch let error as ExitCode {
      throw error
    } catch {
      printError("error: \(error)")
      throw ExitCode.failure
    }
  }
}
