import Foundation

/// File extensions treated as audio when a folder is searched.
public let audioFileExtensions: Set<String> = [
  "wav", "wave", "flac", "ogg", "oga", "opus", "aiff", "aif", "aifc", "au", "snd", "caf", "w64", "rf64", "mp3", "sph",
  "nist", "voc", "htk",
]

/// The audio files under `folder`, recursively, by extension (`audioFileExtensions`), sorted
/// by relative path; empty when the folder does not exist. Hidden files and folders (a name
/// starting with `.`, such as macOS's `._clip.wav` shadows) are skipped. Symbolic links to
/// folders and files are followed (a folder reached twice, as through a link cycle, is read
/// once). Each path starts with `folder` as written (`find -L`'s way: `clips` gives
/// `clips/a.wav`, `.` gives `./a.wav`), so a relative folder gives relative paths.
public func audioFiles(in folder: String) -> [String] {
  let prefix = folder.hasSuffix("/") ? folder : folder + "/"
  let manager = FileManager.default
  var found: [String] = []
  var visited: Set<String> = []
  func walk(_ relative: String) {
    let path = relative.isEmpty ? folder : prefix + relative
    guard visited.insert(URL(fileURLWithPath: path).resolvingSymlinksInPath().path).inserted,
      let names = try? manager.contentsOfDirectory(atPath: path)
    else { return }
    for name in names where !name.hasPrefix(".") {
      let child = relative.isEmpty ? name : relative + "/" + name
      var isDirectory: ObjCBool = false
      guard manager.fileExists(atPath: prefix + child, isDirectory: &isDirectory) else { continue }
      if isDirectory.boolValue {
        walk(child)
      } else if audioFileExtensions.contains(URL(fileURLWithPath: name).pathExtension.lowercased()) {
        found.append(child)
      }
    }
  }
  walk("")
  return found.sorted().map { prefix + $0 }
}
