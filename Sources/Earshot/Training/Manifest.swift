import Foundation

/// One utterance of a training or evaluation set: an audio file and what is said in it.
public struct ManifestEntry: Equatable, Codable, Sendable {
  /// Absolute or working-directory-relative path of the audio file.
  public var audio: String
  /// The normalised transcript (see ``Manifest/normalize(_:)``).
  public var text: String
  /// Who speaks, when known (per-speaker metrics group by it).
  public var speaker: String?

  public init(audio: String, text: String, speaker: String? = nil) {
    self.audio = audio
    self.text = text
    self.speaker = speaker
  }
}

/// Reads utterance lists: JSON Lines manifests and FSDD-style folders.
///
/// Basic usage:
/// ```swift
/// let train = try Manifest.load("data/train.jsonl")   // [ManifestEntry]
/// let fsdd = try Manifest.load("../shared/data/fsdd/recordings")
/// ```
/// A manifest has one JSON object per line, `{"audio": PATH, "text": "four seven one",
/// "speaker": "george"}` (`speaker` optional; `"text": ""` marks a recording with no speech,
/// such as background noise); relative audio paths are relative to the
/// manifest's folder; empty lines and lines starting with `#` are skipped. A folder is read
/// in the Free Spoken Digit Dataset convention `{digit}_{speaker}_{take}.wav` (or another
/// audio extension: `.flac`, `.ogg`, ...): the text is the digit's English word.
public enum Manifest {
  /// English words of the digits 0-9, the text of an FSDD clip.
  public static let digitWords = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

  /// Folds compatibility characters (NFKC: full-width letters and digits, ligatures);
  /// lower-cases; drops punctuation other than apostrophes and hyphens (`"Seven."` ->
  /// `"seven"`, `"o.k.;"` -> `"ok"`); spells numerals digit by digit (`"4 71"` -> `"four seven
  /// one"`); splits a word at its hyphens (or other dashes) when every part is a numeral or a
  /// digit word (`"555-2368"`, `"four-one-five"`; `"x-ray"` stays); in a text of digit words
  /// only, reads the word "oh" as "zero" (`"four oh seven"` -> `"four zero seven"`, but
  /// `"oh no"` stays); turns tabs and newlines into spaces and collapses runs of spaces.
  public static func normalize(_ text: String) -> String {
    // Compatibility forms first: full-width "Ｆｏｕｒ ４" and the ligature in "ﬁve" are plain letters.
    let kept = String(text.precomposedStringWithCompatibilityMapping.lowercased().unicodeScalars.compactMap { c -> Character? in
      if c.properties.generalCategory == .dashPunctuation { return "-" }
      let dropped = c != "'" && c != "-" && (CharacterSet.punctuationCharacters.contains(c) || CharacterSet.symbols.contains(c))
      return dropped ? nil : Character(c)
    })
    func isNumeral(_ word: Substring) -> Bool { word.allSatisfy { $0.isASCII && $0.isNumber } }
    func isDigitWord(_ word: Substring) -> Bool { word == "oh" || digitWords.contains(String(word)) }
    let pieces: [String] = kept.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).flatMap { word in
      let parts = word.split(separator: "-")
      let split = word.contains("-") && !parts.isEmpty && parts.allSatisfy { isNumeral($0) || isDigitWord($0) } ? parts : [word]
      return split.flatMap { part in isNumeral(part) ? part.map { digitWords[$0.wholeNumberValue!] } : [String(part)] }
    }
    // A dash between words ("two - nine", "two — nine") is no word.
    let words = pieces.filter { !$0.allSatisfy { $0 == "-" } }
    let digitsOnly = !words.isEmpty && words.allSatisfy { $0 == "oh" || digitWords.contains($0) }
    return words.map { digitsOnly && $0 == "oh" ? "zero" : $0 }.joined(separator: " ")
  }

  /// Why a manifest line has no string under `key`: the key is missing, or holds another type;
  /// a line with `otherTask`'s key instead is a manifest for that task.
  static func missingString(_ key: String, in map: [String: Any], otherTask: (key: String, task: String)) -> String {
    if let value = map[key] {
      let kind = value is NSNull ? "null" : value is NSNumber ? "a number" : value is [Any] ? "an array" : "an object"
      return "\"\(key)\" is \(kind), expected a string (in quotes)"
    }
    if map[otherTask.key] != nil {
      return "no \"\(key)\" string, but a \"\(otherTask.key)\": a manifest for train \(otherTask.task)?"
    }
    return "no \"\(key)\" string"
  }

  /// Reads a JSON Lines manifest or an FSDD folder.
  /// - Throws: ``TrainingError/badManifestLine(path:line:reason:)`` naming the first bad line,
  ///   ``TrainingError/cannotReadManifest(path:reason:)``, or `.emptyDataset` when nothing is listed.
  public static func load(_ path: String) throws(TrainingError) -> [ManifestEntry] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw .cannotReadManifest(path: path, reason: "no such file or folder")
    }
    let entries = isDirectory.boolValue ? try folder(path) : try jsonLines(path)
    guard !entries.isEmpty else {
      // Sub-folders of audio are a classifier's label folders (Speech Commands, ESC-10).
      let subfolders = isDirectory.boolValue && ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).contains {
        var isFolder: ObjCBool = false
        return !$0.hasPrefix(".") && FileManager.default.fileExists(atPath: path + "/" + $0, isDirectory: &isFolder) && isFolder.boolValue
      }
      throw .emptyDataset(path: path, reason: isDirectory.boolValue
        ? "no {digit}_{speaker}_{take}.wav files" + (subfolders ? "; a folder of label sub-folders is for --task classify" : "")
        : "no entries (one JSON object per line expected)")
    }
    return entries
  }

  /// Parses JSON Lines text; `path` names the file in errors and anchors relative audio paths.
  public static func parse(_ text: String, path: String) throws(TrainingError) -> [ManifestEntry] {
    let base = URL(fileURLWithPath: path).deletingLastPathComponent()
    var entries: [ManifestEntry] = []
    var number = 0
    // LF, CRLF (one Character) or CR; not the other Unicode line breaks, which JSON strings may hold.
    for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
      number += 1
      let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
      if line.isEmpty || line.hasPrefix("#") { continue }
      let object: Any
      do {
        object = try JSONSerialization.jsonObject(with: Data(line.utf8))
      } catch {
        throw .badManifestLine(path: path, line: number, reason: "not valid JSON: \(line.prefix(80))")
      }
      guard let map = object as? [String: Any] else {
        throw .badManifestLine(path: path, line: number, reason: "expected a JSON object {\"audio\": ..., \"text\": ...}")
      }
      guard let audio = map["audio"] as? String, !audio.isEmpty else {
        throw .badManifestLine(path: path, line: number, reason: "no \"audio\" string")
      }
      guard let rawText = map["text"] as? String else {
        throw .badManifestLine(path: path, line: number, reason: Self.missingString("text", in: map, otherTask: ("label", "--task classify")))
      }
      // An empty text is a recording with no speech: training learns to stay silent on it,
      // and evaluation counts every word produced for it as an insertion.
      let text = normalize(rawText)
      var speaker: String? = nil
      if let s = map["speaker"] {
        guard let s = s as? String else {
          throw .badManifestLine(path: path, line: number, reason: "\"speaker\" is not a string")
        }
        speaker = s
      }
      let resolved = audio.hasPrefix("/") ? audio : base.appendingPathComponent(audio).standardizedFileURL.path
      entries.append(ManifestEntry(audio: resolved, text: text, speaker: speaker))
    }
    return entries
  }

  private static func jsonLines(_ path: String) throws(TrainingError) -> [ManifestEntry] {
    try parse(try text(of: path), path: path)
  }

  /// A manifest file's contents as UTF-8 text; shared by the CTC and classification readers.
  static func text(of path: String) throws(TrainingError) -> String {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw .cannotReadManifest(path: path, reason: (error as NSError).localizedDescription)
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw .cannotReadManifest(path: path, reason: "not UTF-8 text")
    }
    return text
  }

  /// `{digit}_{speaker}_{take}.{ext}` audio files of a folder (not recursive), sorted by name.
  private static func folder(_ path: String) throws(TrainingError) -> [ManifestEntry] {
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: path)
    } catch {
      throw .cannotReadManifest(path: path, reason: (error as NSError).localizedDescription)
    }
    let base = URL(fileURLWithPath: path)
    return fsddFiles(names).kept.compactMap { name in
      fsddClip(name).map { ManifestEntry(audio: base.appendingPathComponent(name).path, text: $0.text, speaker: $0.speaker) }
    }
  }

  /// The FSDD-named files among `names`, sorted: one per clip (`kept`), and the other copies
  /// of clips that are there in more than one format (`4_george_0.wav` beside
  /// `4_george_0.flac`: the first by name is kept), so that no clip counts twice.
  private static func fsddFiles(_ names: [String]) -> (kept: [String], repeated: [String]) {
    var seen = Set<String>()
    var kept: [String] = [], repeated: [String] = []
    for name in names.sorted() where fsddClip(name) != nil {
      let stem = URL(fileURLWithPath: name).deletingPathExtension().lastPathComponent
      if seen.insert(stem).inserted { kept.append(name) } else { repeated.append(name) }
    }
    return (kept, repeated)
  }

  /// The files of the folder `path` that ``load(_:)`` skips as second copies of a clip in
  /// another format (see above); empty for a file or a missing folder.
  public static func repeatedClips(inFolder path: String) -> [String] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return [] }
    return fsddFiles(names).repeated
  }

  /// The text and speaker of an FSDD file name (see ``FSDDName``); nil for other names.
  static func fsddClip(_ name: String) -> (text: String, speaker: String)? {
    FSDDName(name).map { (digitWords[$0.digit], $0.speaker) }
  }

  /// The audio files directly in the folder `path` that ``load(_:)`` leaves out, as their
  /// names are not `{digit}_{speaker}_{take}.wav` (hidden files aside); empty for a file or
  /// a missing folder.
  public static func ignoredFiles(inFolder path: String) -> [String] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return [] }
    return names.sorted().filter { name in
      !name.hasPrefix(".") && audioFileExtensions.contains(URL(fileURLWithPath: name).pathExtension.lowercased())
        && fsddClip(name) == nil
    }
  }
}

/// A Free Spoken Digit Dataset file name, `{digit}_{speaker}_{take}.{ext}`: one digit 0-9, a
/// speaker name and a take number (`4_george_12.wav`), with an audio extension. The one rule
/// for both the CTC folder reader and the classifiers' speaker split.
struct FSDDName {
  let digit: Int
  let speaker: String

  init?(_ fileName: String) {
    let url = URL(fileURLWithPath: fileName)
    guard audioFileExtensions.contains(url.pathExtension.lowercased()) else { return nil }
    let parts = url.deletingPathExtension().lastPathComponent.split(separator: "_", omittingEmptySubsequences: false)
    // An ASCII digit: wholeNumberValue would read 十 as 10 and ٣ as 3.
    guard parts.count == 3, parts[0].count == 1, let code = parts[0].first?.asciiValue, (48...57).contains(code),
      !parts[1].isEmpty, !parts[2].isEmpty, parts[2].allSatisfy({ $0.isASCII && $0.isNumber })
    else { return nil }
    self.digit = Int(code - 48)
    self.speaker = String(parts[1])
  }
}
