import Foundation

/// File extensions treated as audio when a folder is searched.
public let audioFileExtensions: Set<String> = [
  "wav", "wave", "flac", "ogg", "oga", "opus", "aiff", "aif", "aifc", "au", "snd", "caf", "w64", "rf64", "mp3", "sph",
  "nist", "voc", "htk",
]

/// The audio files under `folder`, recursively, by extension (`audioFileExtensions`), sorted
/// by relative path; empty when the folder does not exist.
public func audioFiles(in folder: String) -> [String] {
  let base = URL(fileURLWithPath: folder)
  return ((FileManager.default.enumerator(atPath: folder)?.allObjects as? [String]) ?? [])
    .filter { audioFileExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }
    .sorted()
    .map { base.appendingPathComponent($0).path }
}
