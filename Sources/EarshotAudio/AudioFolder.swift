import Foundation

/// File extensions treated as audio when a folder is searched.
public let audioFileExtensions: Set<String> = [
  "wav", "wave", "flac", "ogg", "oga", "opus", "aiff", "aif", "aifc", "au", "snd", "caf", "w64", "rf64", "mp3", "sph",
  "nist", "voc", "htk",
]

/// The audio files under `folder`, recursively, by extension (`audioFileExtensions`), sorted
/// by relative path; empty when the folder does not exist. Hidden files and folders (a name
/// starting with `.`, such as macOS's `._clip.wav` shadows) are skipped. Each path starts with `folder` as
/// written (`find`'s way: `clips` gives `clips/a.wav`, `.` gives `./a.wav`), so a relative
/// folder gives relative paths.
public func audioFiles(in folder: String) -> [String] {
  let prefix = folder.hasSuffix("/") ? folder : folder + "/"
  return ((FileManager.default.enumerator(atPath: folder)?.allObjects as? [String]) ?? [])
    .filter { audioFileExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }
    .filter { !$0.split(separator: "/").contains { $0.hasPrefix(".") } }
    .sorted()
    .map { prefix + $0 }
}
