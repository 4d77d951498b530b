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
public func audioFiles(in folder: String) -> [String] { searchAudioFiles(in: folder).files }

/// ``audioFiles(in:)`` and what the search had to pass over, one "PATH: reason" line each,
/// sorted: sub-folders that cannot be read, and entries with an audio extension that cannot
/// be opened (a name that is not valid UTF-8, which Foundation cannot hand back as a path, or
/// a broken link). A missing `folder` is neither.
public func searchAudioFiles(in folder: String) -> (files: [String], skipped: [String]) {
  let prefix = folder.hasSuffix("/") ? folder : folder + "/"
  let manager = FileManager.default
  var found: [String] = [], skipped: [String] = []
  var visited: Set<String> = []
  func walk(_ relative: String) {
    let path = relative.isEmpty ? folder : prefix + relative
    guard visited.insert(URL(fileURLWithPath: path).resolvingSymlinksInPath().path).inserted else { return }
    let names: [String]
    do {
      names = try manager.contentsOfDirectory(atPath: path)
    } catch {
      if !relative.isEmpty { skipped.append("\(path): a folder that cannot be read, so its files are left out") }
      return
    }
    for name in names where !name.hasPrefix(".") {
      let child = relative.isEmpty ? name : relative + "/" + name
      let isAudio = audioFileExtensions.contains(URL(fileURLWithPath: name).pathExtension.lowercased())
      var isDirectory: ObjCBool = false
      guard manager.fileExists(atPath: prefix + child, isDirectory: &isDirectory) else {
        if isAudio {
          skipped.append(name.contains("\u{FFFD}")
            ? "\(prefix + child): left out: its name is not valid UTF-8 (shown with U+FFFD), so it cannot be opened; rename it"
            : "\(prefix + child): left out: it cannot be opened (a broken link?)")
        }
        continue
      }
      if isDirectory.boolValue {
        walk(child)
      } else if isAudio {
        found.append(child)
      }
    }
  }
  walk("")
  return (found.sorted().map { prefix + $0 }, skipped.sorted())
}
