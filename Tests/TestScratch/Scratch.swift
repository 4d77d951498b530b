import Foundation

/// Scratch space for tests: every test's files go under one folder per test process,
/// removed when the process exits, so that runs do not pile up in the temporary directory
/// (they had left 1.6 GB in /tmp over a few dozen runs).
public enum Scratch {
  /// This process's folder, made on first use.
  public static let root: URL = {
    let url = folder
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: Scratch.folder) }
    return url
  }()

  private static var folder: URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("earshot-tests-\(getpid())")
  }

  /// A new empty folder under ``root``, its name starting with `prefix`.
  public static func folder(_ prefix: String) -> URL {
    let url = root.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// A path under ``root`` for a file that does not exist yet.
  public static func path(_ name: String) -> URL {
    root.appendingPathComponent("\(UUID().uuidString)-\(name)")
  }
}
