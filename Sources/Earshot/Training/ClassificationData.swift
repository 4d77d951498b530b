import Foundation

/// One labelled clip of a classification training or evaluation set.
public struct ClassificationEntry: Equatable, Codable, Sendable {
  /// Absolute or working-directory-relative path of the audio file.
  public var audio: String
  /// The class name.
  public var label: String
  /// Who speaks (or which source recording), when known: speaker-disjoint splits group by it.
  public var speaker: String?
  /// The cross-validation fold, when known (ESC: the first character of the file name).
  public var fold: Int?

  public init(audio: String, label: String, speaker: String? = nil, fold: Int? = nil) {
    self.audio = audio
    self.label = label
    self.speaker = speaker
    self.fold = fold
  }
}

/// Reads labelled clip lists: folders per label and JSON Lines manifests.
///
/// Basic usage:
/// ```swift
/// let esc = try ClassificationDataset.load("../shared/data/esc10")        // esc10/{label}/*.ogg
/// let (train, valid) = ClassificationSplit.byFold(esc, validFold: 4)
/// let commands = try ClassificationDataset.load("commands.jsonl")          // {"audio":..., "label":...}
/// ```
/// A folder holds one sub-folder per label, `DIR/{label}/*.wav|ogg|flac|...`, each with audio
/// files directly in it, and no audio files of its own (other files are ignored); a folder name
/// wrapped in underscores names its label without them (`_unknown_` is `unknown`, as in Speech
/// Commands), except Speech Commands' `_background_noise_` (long noise recordings for
/// `--noise`, not a class), which is skipped. A manifest has one JSON object per line: `{"audio": PATH, "label": "yes",
/// "speaker": "0a7c2a8d", "fold": 1}` (speaker and fold optional); relative audio paths are
/// relative to the manifest's folder; empty lines and lines starting with `#` are skipped.
/// Where the speaker or fold is not given it is read from the file name:
/// ``speaker(ofFileName:)`` and ``fold(ofFileName:)``.
public enum ClassificationDataset {
  /// Speech Commands' folder of long background recordings: noise to mix in, not a label.
  public static let backgroundNoiseFolder = "_background_noise_"

  /// Reads a label-per-folder tree or a JSON Lines manifest.
  /// - Throws: ``TrainingError`` naming the file or line, or `.emptyDataset` when nothing is listed.
  public static func load(_ path: String) throws(TrainingError) -> [ClassificationEntry] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw .cannotReadManifest(path: path, reason: "no such file or folder")
    }
    let entries = isDirectory.boolValue ? try folder(path) : try jsonLines(path)
    guard !entries.isEmpty else {
      throw .emptyDataset(path: path, reason: isDirectory.boolValue
        ? "no {label}/ sub-folders holding audio files" : "no entries (one JSON object per line expected)")
    }
    return entries
  }

  /// The label a folder name stands for: `_unknown_` -> `unknown`, others unchanged.
  public static func label(ofFolder name: String) -> String {
    if name.count > 2 && name.hasPrefix("_") && name.hasSuffix("_") { return String(name.dropFirst().dropLast()) }
    return name
  }

  /// The speaker (or source recording) of a file name, where the name says it:
  /// - Speech Commands: the word before `_nohash_`, after any word prefix
  ///   (`0a7c2a8d_nohash_0.wav` and `backward_0a7c2a8d_nohash_4.wav` are both `0a7c2a8d`);
  /// - FSDD `{digit}_{speaker}_{take}.wav`: the speaker (`4_george_12.wav` is `george`);
  /// - ESC `{fold}-{freesound id}-{take}.ogg`: the source recording, `freesound:{id}`
  ///   (`1-17367-A.ogg` is `freesound:17367`): the clips cut from one recording share it.
  /// nil for other names.
  public static func speaker(ofFileName name: String) -> String? {
    if let r = name.range(of: "_nohash_") {
      let before = name[..<r.lowerBound]
      guard let last = before.split(separator: "_").last, !last.isEmpty else { return nil }
      return String(last)
    }
    if let fsdd = FSDDName(name) { return fsdd.speaker }
    let stem = (name as NSString).deletingPathExtension
    let dashed = stem.split(separator: "-", omittingEmptySubsequences: false)
    if dashed.count == 3, fold(ofFileName: name) != nil, !dashed[1].isEmpty, dashed[1].allSatisfy(\.isNumber) {
      return "freesound:" + dashed[1]
    }
    return nil
  }

  /// The fold of an ESC file name `{fold}-{freesound id}-{take}.ogg`: its first character
  /// when that is a digit followed by `-`; nil otherwise.
  public static func fold(ofFileName name: String) -> Int? {
    let chars = Array(name)
    guard chars.count >= 2, chars[1] == "-", let d = chars[0].wholeNumberValue else { return nil }
    return d
  }

  /// Labels of `entries` that differ only in letter case (`Yes` and `yes`), each group
  /// sorted, groups in order of their first label: they train as separate classes, which is
  /// rarely what was meant (a folder or manifest typo).
  public static func labelsDifferingOnlyInCase(_ entries: [ClassificationEntry]) -> [[String]] {
    let groups = Dictionary(grouping: Set(entries.map(\.label)), by: { $0.lowercased() })
    return groups.values.filter { $0.count > 1 }.map { $0.sorted() }.sorted { $0[0] < $1[0] }
  }

  /// Parses JSON Lines text; `path` names the file in errors and anchors relative audio paths.
  public static func parse(_ text: String, path: String) throws(TrainingError) -> [ClassificationEntry] {
    let base = URL(fileURLWithPath: path).deletingLastPathComponent()
    var entries: [ClassificationEntry] = []
    var number = 0
    // LF, CRLF (one Character) or CR; not the other Unicode line breaks, which JSON strings may hold.
    for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
      number += 1
      let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
      if line.isEmpty || line.hasPrefix("#") { continue }
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) else {
        throw .badManifestLine(path: path, line: number, reason: "not valid JSON: \(line.prefix(80))")
      }
      guard let map = object as? [String: Any] else {
        throw .badManifestLine(path: path, line: number, reason: "expected a JSON object {\"audio\": ..., \"label\": ...}")
      }
      guard let audio = map["audio"] as? String, !audio.isEmpty else {
        throw .badManifestLine(path: path, line: number, reason: "no \"audio\" string")
      }
      // Spaces around a label are a typing slip, not another class ("yes " is "yes").
      guard let label = (map["label"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines), !label.isEmpty else {
        throw .badManifestLine(path: path, line: number, reason: map["label"] is String
          ? "an empty \"label\" (a classification manifest needs one per clip)"
          : Manifest.missingString("label", in: map, otherTask: ("text", "--task ctc")))
      }
      let name = URL(fileURLWithPath: audio).lastPathComponent
      var speaker = speaker(ofFileName: name)
      if let s = map["speaker"] {
        guard let s = s as? String else { throw .badManifestLine(path: path, line: number, reason: "\"speaker\" is not a string") }
        speaker = s
      }
      var fold = fold(ofFileName: name)
      if let f = map["fold"] {
        guard let f = f as? Int else { throw .badManifestLine(path: path, line: number, reason: "\"fold\" is not an integer") }
        fold = f
      }
      let resolved = audio.hasPrefix("/") ? audio : base.appendingPathComponent(audio).standardizedFileURL.path
      entries.append(ClassificationEntry(audio: resolved, label: label, speaker: speaker, fold: fold))
    }
    return entries
  }

  private static func jsonLines(_ path: String) throws(TrainingError) -> [ClassificationEntry] {
    try parse(try Manifest.text(of: path), path: path)
  }

  /// Audio files of each immediate sub-folder, sorted by label folder then file name.
  private static func folder(_ path: String) throws(TrainingError) -> [ClassificationEntry] {
    let fm = FileManager.default
    let labels: [String]
    do {
      labels = try fm.contentsOfDirectory(atPath: path).sorted()
    } catch {
      throw .cannotReadManifest(path: path, reason: (error as NSError).localizedDescription)
    }
    // Hidden files (macOS's `._clip.wav` shadows) are not clips.
    func isAudio(_ file: String) -> Bool {
      !file.hasPrefix(".") && audioFileExtensions.contains(URL(fileURLWithPath: file).pathExtension.lowercased())
    }
    // Checked as the folders are listed, so that a wrong folder (`/`, a folder of clips) fails
    // at its first non-label entry instead of after listing (and decoding) all it holds.
    if let loose = labels.first(where: isAudio) {
      throw .notLabelFolders(path: path, found: "it holds audio files itself (\(loose))")
    }
    let base = URL(fileURLWithPath: path)
    var entries: [ClassificationEntry] = []
    for name in labels where !name.hasPrefix(".") && name != backgroundNoiseFolder {
      let dir = base.appendingPathComponent(name)
      var isDirectory: ObjCBool = false
      guard fm.fileExists(atPath: dir.path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
      let files = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).sorted().filter(isAudio)
      guard !files.isEmpty else { throw .notLabelFolders(path: path, found: "its sub-folder \(name)/ holds no audio files") }
      for file in files {
        entries.append(ClassificationEntry(audio: dir.appendingPathComponent(file).path, label: label(ofFolder: name),
                                           speaker: speaker(ofFileName: file), fold: fold(ofFileName: file)))
      }
    }
    return entries
  }
}

/// Train/validation splits that never put the same source on both sides.
public enum ClassificationSplit {
  /// Clips of fold `validFold` validate, all others train. Clips without a fold train.
  public static func byFold(_ entries: [ClassificationEntry], validFold: Int)
    -> (training: [ClassificationEntry], validation: [ClassificationEntry])
  {
    (entries.filter { $0.fold != validFold }, entries.filter { $0.fold == validFold })
  }

  /// About `fraction` of the speakers validate, chosen by a seeded hash of the speaker name
  /// (so a speaker's clips are all on one side, and a clip's side does not depend on which
  /// other clips are listed). Clips without a speaker are grouped by their file name.
  /// - Parameter fraction: in [0, 1].
  public static func bySpeaker(_ entries: [ClassificationEntry], fraction: Double, seed: UInt64 = 0)
    -> (training: [ClassificationEntry], validation: [ClassificationEntry])
  {
    bySpeaker(entries, fraction: fraction, seed: seed) { $0.speaker ?? URL(fileURLWithPath: $0.audio).lastPathComponent }
  }

  /// The same split for any kind of entry (a transcription manifest's, say), each grouped
  /// under the name `speaker` gives it.
  public static func bySpeaker<Entry>(_ entries: [Entry], fraction: Double, seed: UInt64 = 0,
                                      speaker: (Entry) -> String) -> (training: [Entry], validation: [Entry])
  {
    precondition((0...1).contains(fraction), "bySpeaker: fraction \(fraction) is outside [0, 1]")
    var training: [Entry] = [], validation: [Entry] = []
    for e in entries {
      if isValidationSpeaker(speaker(e), fraction: fraction, seed: seed) { validation.append(e) } else { training.append(e) }
    }
    return (training, validation)
  }

  /// Whether `speaker` falls in the validation share: FNV-1a of the name, mixed with `seed`,
  /// mapped to [0, 1) and compared with `fraction`.
  public static func isValidationSpeaker(_ speaker: String, fraction: Double, seed: UInt64 = 0) -> Bool {
    let u = Double(mixSeed(FNV1a.hash(speaker), seed) >> 11) * 0x1p-53
    return u < fraction
  }
}

/// 64-bit FNV-1a over UTF-8 bytes (Fowler, Noll, Vo): a stable hash of names, the same in
/// every process and build (Swift's `Hasher` is seeded per process).
struct FNV1a {
  private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

  /// Mixes in the UTF-8 bytes of `text`.
  mutating func add(_ text: String) {
    for byte in text.utf8 {
      value ^= UInt64(byte)
      value = value &* 0x0000_0100_0000_01B3
    }
  }

  /// The hash of `text` alone.
  static func hash(_ text: String) -> UInt64 {
    var h = FNV1a()
    h.add(text)
    return h.value
  }
}
