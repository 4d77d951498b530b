import ArgumentParser
import Earshot
import Foundation
import Glibc

/// Sets the BLAS threads; at one, also stops the workers OpenBLAS started at load, which
/// would spin for about 0.1 s of CPU (see `Neural.stopIdleThreads`). Call before other
/// threads use BLAS.
func useBLASThreads(_ count: Int) {
  Neural.setThreads(count)
  if count == 1 { Neural.stopIdleThreads() }
}

/// The words of a `--vocabulary a,b,c` option (trimmed), nil when it is not given.
/// - Throws: `ValidationError` when the list has no word.
func vocabularyWords(_ option: String?) throws -> [String]? {
  guard let option else { return nil }
  let words = option.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
  guard !words.isEmpty else { throw ValidationError("--vocabulary needs at least one word") }
  return words
}

/// Speed factors from a comma-separated option such as `0.9,1,1.1` (nil when not given).
/// - Throws: `ValidationError` naming `option` when a part is not a number or nothing is given.
func speedList(_ text: String?, option: String) throws -> [Float]? {
  guard let text else { return nil }
  let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
  let speeds = parts.compactMap { Float($0) }
  guard !parts.isEmpty, speeds.count == parts.count, speeds.allSatisfy(\.isFinite) else {
    throw ValidationError("\(option) must be comma-separated numbers such as 0.9,1,1.1 (got \(text))")
  }
  return speeds
}

/// Classifier test-time speeds from an option (nil when not given): ``speedList(_:option:)``
/// plus `ClassificationModel.checkTestSpeeds` (0.5-2, at least one, none twice).
/// - Throws: `ValidationError` naming `option`.
func testSpeedList(_ text: String?, option: String) throws -> [Float]? {
  guard let speeds = try speedList(text, option: option) else { return nil }
  do { try ClassificationModel.checkTestSpeeds(speeds, source: option) } catch { throw ValidationError("\(error)") }
  return speeds
}

/// Writes one line to stderr.
func printError(_ message: String) {
  // Raw write, errors ignored: FileHandle.write would trap on a closed stderr.
  let write = { _ = writeAll(Data((message + "\n").utf8), to: STDERR_FILENO) }
  // With a bar on the terminal, the line starts on a line of its own (a worker's warning too):
  // the bar is cleared and the line written under the bar's lock, so no redraw comes between.
  if let bar = ProgressBar.drawing { bar.clearingLine(always: true, write) } else { write() }
}

/// Writes all of `data` to the file descriptor `fd`, through partial writes and EINTR;
/// returns nil, or the errno of the write that failed (EIO for one that wrote nothing).
func writeAll(_ data: Data, to fd: Int32) -> Int32? {
  data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int32? in
    var offset = 0
    while offset < raw.count {
      let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
      if n > 0 { offset += n; continue }
      let code = n < 0 ? errno : EIO
      if code != EINTR { return code }
    }
    return nil
  }
}

/// What is at a path: nothing, a folder, or something else (a file, a device, ...).
enum PathKind {
  case missing, folder, other

  init(_ path: String) {
    var isFolder: ObjCBool = false
    self = !FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) ? .missing : isFolder.boolValue ? .folder : .other
  }
}

/// Results on standard output. A write that fails (a full disk, a closed stream) ends the
/// command at once with one line on stderr and status 1, not a crash and not a quiet loss; a
/// reader that has gone away (`| head`) ends it quietly with 141, as SIGPIPE would (the CLI
/// ignores SIGPIPE so that this path, which removes a staged stdin file, runs).
enum StandardOutput {
  /// stdin staged in a temporary file (``AudioBatch``), removed if output ends the process.
  nonisolated(unsafe) static var stagedInput: String?

  static func write(_ text: String) { write(Data(text.utf8)) }

  static func write(_ data: Data) {
    guard let code = writeAll(data, to: STDOUT_FILENO) else { return }
    // _exit: other threads may be inside BLAS or FFTW, and stdout has nothing buffered.
    if let staged = stagedInput { unlink(staged) }
    if code == EPIPE { _exit(141) }
    printError("error: cannot write to standard output: \(String(cString: strerror(code)))")
    _exit(1)
  }
}

/// The words (or, for a character model, characters) of `texts` outside `known`, sorted and
/// once each: what decoding can never output, so errors in every score.
func unitsOutside(_ known: Set<String>, in texts: [String], unit: TokenUnit) -> [String] {
  let units = texts.flatMap { text in unit == .word ? text.split(separator: " ").map(String.init) : text.map(String.init) }
  return Set(units.filter { !known.contains($0) }).sorted()
}

/// Up to ten units for a warning line, a space shown as "(space)".
func listUnits(_ units: [String]) -> String {
  units.prefix(10).map { $0 == " " ? "(space)" : $0 }.joined(separator: " ") + (units.count > 10 ? " ..." : "")
}

/// The widest --beam: a beam of 1,000 takes about 0.1 s per second of audio here, and the
/// time grows faster than the width; results stop changing long before.
let maximumBeam = 1000

/// Throws a usage error unless --beam is in 1...maximumBeam.
func checkBeam(_ beam: Int) throws {
  guard (1...maximumBeam).contains(beam) else {
    throw ValidationError("--beam must be in 1...\(maximumBeam) (got \(beam)); 8 is transcribe's default, 1 is greedy")
  }
}

/// Throws unless `-` (stdin) is among `inputs` at most once: it holds one recording.
func checkStdinOnce(_ inputs: [String]) throws {
  if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("- (stdin) can be given once; it holds one recording") }
}

/// Expands directories (recursively, sorted, audio extensions only); files are kept as given,
/// so that a bad file named on the command line is reported, not skipped. What a folder's
/// search passes over is printed as errors, and counted in `skipped`.
func expandInputs(_ inputs: [String], skipped: inout Int) -> [String] {
  expandInputsNamingOutputs(inputs, skipped: &skipped).map(\.path)
}

/// `expandInputs`, with each file's output stem: the path under the folder it was found in,
/// without its extension (`clips/yes/a.wav` from `clips` gives `yes/a`), so that Speech
/// Commands' `yes/a.wav` and `no/a.wav` get outputs of their own; the base name for a file
/// given itself; `stdin` for -.
func expandInputsNamingOutputs(_ inputs: [String], skipped: inout Int) -> [(path: String, stem: String)] {
  func stem(_ relative: String) -> String { (relative as NSString).deletingPathExtension }
  var files: [(path: String, stem: String)] = []
  for input in inputs {
    if input == "-" {
      files.append((input, "stdin"))
    } else if PathKind(input) == .folder {
      let prefix = input.hasSuffix("/") ? input : input + "/"
      let search = searchAudioFiles(in: input)
      for line in search.skipped { printError("error: " + line) }
      skipped += search.skipped.count
      files += search.files.map { ($0, stem(String($0.dropFirst(prefix.count)))) }
    } else {
      files.append((input, stem(URL(fileURLWithPath: input).lastPathComponent)))
    }
  }
  return files
}

/// A progress bar on stderr, drawn only when stderr is a terminal: files done and, where the
/// files' durations are known, seconds of audio done (moving inside a long file too, as its
/// pieces or windows finish) with the speed as a multiple of real time.
final class ProgressBar: @unchecked Sendable {
  private let durations: [Double]
  private var secondsDone: [Double]
  private let totalSeconds: Double
  private let label: String
  private var done = 0
  private var failed = 0
  private let start = Date()
  // Recursive: a line printed while results are written (clearingLine) clears the bar too.
  private let lock = NSRecursiveLock()
  private let enabled: Bool
  private var lastDraw = Date.distantPast

  /// The bar on the terminal now, for ``printError(_:)`` to take off the line first.
  nonisolated(unsafe) static weak var drawing: ProgressBar?

  /// - Parameters:
  ///   - durations: each file's length in seconds (0 where unknown).
  ///   - label: what the files are called on the bar ("files", "clips").
  ///   - enabled: draw at all; callers pass whether stderr is a terminal.
  init(durations: [Double], label: String, enabled: Bool) {
    self.durations = durations
    self.label = label
    secondsDone = [Double](repeating: 0, count: durations.count)
    totalSeconds = durations.reduce(0, +)
    // One short file has nothing to wait for; one long one does.
    self.enabled = enabled && (durations.count > 1 || totalSeconds >= Self.longSeconds)
    if self.enabled { Self.drawing = self }
  }

  /// One file longer than this (seconds) gets a bar of its own.
  static let longSeconds = 30.0

  /// The bar for audio files at `paths`, their durations read from the headers; drawn only
  /// when stderr is a terminal (the headers are read only then).
  convenience init(paths: [String], label: String = "files") {
    let terminal = isatty(STDERR_FILENO) != 0
    let durations = terminal ? paths.map { (try? AudioFile(path: $0).info.durationSeconds) ?? 0 } : paths.map { _ in 0 }
    self.init(durations: durations, label: label, enabled: terminal)
  }

  /// File `i` is done up to `seconds` of its audio.
  func update(file i: Int, seconds: Double) {
    lock.lock()
    defer { lock.unlock() }
    secondsDone[i] = min(max(secondsDone[i], seconds), durations[i])
    draw(final: false)
  }

  /// File `i` is finished (or failed).
  func finish(file i: Int, failed didFail: Bool) {
    lock.lock()
    defer { lock.unlock() }
    done += 1
    if didFail { failed += 1 }
    secondsDone[i] = durations[i]
    draw(final: done == durations.count)
  }

  /// Runs `body` (which writes results, or with `always` a line to stderr) with the bar off
  /// the line, so that nothing lands after the bar; the next update draws it again.
  func clearingLine<T>(always: Bool = false, _ body: () throws -> T) rethrows -> T {
    // Results are held off the bar only when they share the terminal; otherwise (files,
    // pipes) workers' updates never wait on the writing.
    guard enabled && (always || isatty(STDOUT_FILENO) != 0) else { return try body() }
    lock.lock()
    defer { lock.unlock() }
    FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    return try body()
  }

  private func draw(final: Bool) {
    guard enabled else { return }
    let now = Date()
    if !final && now.timeIntervalSince(lastDraw) < 0.1 { return }
    lastDraw = now
    let line = Self.line(
      filesDone: done, files: durations.count, label: label, failed: failed,
      secondsDone: secondsDone.reduce(0, +), totalSeconds: totalSeconds, elapsed: now.timeIntervalSince(start))
    FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K" + (final ? "\n" : "")).utf8))
  }

  /// One line of the bar. With audio durations (`totalSeconds` > 0) the bar fills with the
  /// audio done, and shows its speed as a multiple of real time; otherwise with the files.
  static func line(
    filesDone: Int, files: Int, label: String, failed: Int, secondsDone: Double, totalSeconds: Double, elapsed: Double
  ) -> String {
    let width = 30
    let byAudio = totalSeconds > 0
    let fraction = byAudio ? secondsDone / totalSeconds : (files > 0 ? Double(filesDone) / Double(files) : 1)
    let filled = min(width, max(0, Int(fraction * Double(width))))
    let bar = "[" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled) + "]"
    var parts = [bar]
    if byAudio { parts.append("\(clock(secondsDone)) / \(clock(totalSeconds)) audio") }
    parts.append("\(filesDone)/\(files) \(label)")
    if byAudio && elapsed > 0 && secondsDone > 0 { parts.append(String(format: "%.0fx real time", secondsDone / elapsed)) }
    parts.append("\(clock(elapsed)) elapsed")
    if fraction > 0 && fraction < 1 { parts.append("ETA \(clock(elapsed / fraction * (1 - fraction)))") }
    if failed > 0 { parts.append("\(failed) failed") }
    return parts.joined(separator: "  ")
  }

  /// Seconds as m:ss, or h:mm:ss from an hour.
  static func clock(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
  }
}

/// Runs `work` for each index on `threads` threads; results are handed to `emit` in index
/// order, each as soon as it and all before it are done.
func forEachInOrder<Result>(
  count: Int, threads: Int, work: @escaping @Sendable (Int) -> Result, emit: (Int, Result) -> Void
) {
  let box = OrderedResults<Result>()
  let queue = DispatchQueue(label: "earshot.workers", attributes: .concurrent)
  let group = DispatchGroup()
  let counter = Counter()
  for _ in 0..<max(1, min(threads, count)) {
    queue.async(group: group) {
      while let i = counter.take(below: count) {
        let r = work(i)
        box.condition.lock()
        box.results[i] = r
        box.condition.signal()
        box.condition.unlock()
      }
    }
  }
  box.condition.lock()
  while box.next < count {
    if let r = box.results.removeValue(forKey: box.next) {
      let i = box.next
      box.next += 1
      box.condition.unlock()
      emit(i, r)
      box.condition.lock()
    } else {
      box.condition.wait()
    }
  }
  box.condition.unlock()
  group.wait()
}

/// Results that arrive in any order, handed out in index order.
final class OrderedResults<Result>: @unchecked Sendable {
  var results: [Int: Result] = [:]
  var next = 0
  let condition = NSCondition()
}

/// A shared work counter.
final class Counter: @unchecked Sendable {
  private var value = 0
  private let lock = NSLock()
  func take(below limit: Int) -> Int? {
    lock.lock()
    defer { lock.unlock() }
    guard value < limit else { return nil }
    value += 1
    return value - 1
  }
}

/// Copies stdin to its end into a new temporary file (mkstemp: `earshot-stdin-PID-XXXXXX`, mode 0600),
/// a block at a time so memory stays bounded, so that libsndfile can seek in it; returns its
/// path. The path is `StandardOutput.stagedInput` from the moment it exists, so that an
/// interrupt removes it. A failure is printed, and throws `ExitCode.failure`.
func stdinToTemporaryFile() throws -> String {
  do {
    return try stagingStdin()
  } catch {
    printError("error: \(error.localizedDescription)")
    throw ExitCode.failure
  }
}

private func stagingStdin() throws -> String {
  // Ctrl-C or SIGTERM while stdin is read (or later, in any command) removes the staged file.
  InterruptCleanup.install(outputFolder: nil)
  var template = Array(FileManager.default.temporaryDirectory.appendingPathComponent("earshot-stdin-\(getpid())-XXXXXX").path.utf8CString)
  let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
  guard fd >= 0 else {
    throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "stdin: cannot create a temporary file: \(String(cString: strerror(errno)))"])
  }
  let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  StandardOutput.stagedInput = path
  defer { close(fd) }
  var block = [UInt8](repeating: 0, count: 1 << 20)
  var total = 0
  while true {
    let got = block.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
    if got == 0 && total == 0 {
      unlink(path)
      StandardOutput.stagedInput = nil
      throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "stdin: empty: no audio was piped in (- reads a recording from stdin, e.g. < clip.wav)"])
    }
    if got == 0 { return path }
    if got > 0 { total += got }
    if got < 0 && errno == EINTR { continue }
    var written = 0
    while got > 0 && written < got {
      let n = block.withUnsafeBytes { write(fd, $0.baseAddress! + written, got - written) }
      if n < 0 && errno == EINTR { continue }
      if n == 0 { errno = ENOSPC }
      if n <= 0 { break }
      written += n
    }
    if got < 0 || written < got {
      let reason = String(cString: strerror(errno))
      unlink(path)
      StandardOutput.stagedInput = nil
      throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "stdin: cannot \(got < 0 ? "read it" : "stage it in \(path)"): \(reason)"])
    }
  }
}

/// The audio files of one CLI call: inputs expanded (directories walked), stdin staged in a
/// temporary file, names to show; runs per-file work in parallel and reports each failure as
/// one stderr line naming the file, while the rest go on.
final class AudioBatch: @unchecked Sendable {
  /// Paths to open, in input order.
  let paths: [String]
  /// What to call each file in output and errors ("stdin" for -).
  let names: [String]
  private let stdinPath: String?

  /// Each file's output name under an output folder, without extension (see
  /// `expandInputsNamingOutputs`).
  let stems: [String]

  /// Entries a folder's search passed over (printed already); each counts as a failure.
  let skipped: Int

  /// Prints an error and throws `ExitCode.failure` when the inputs hold no audio files.
  init(_ inputs: [String]) throws {
    var skipped = 0
    let found = expandInputsNamingOutputs(inputs, skipped: &skipped)
    self.skipped = skipped
    var files = found.map(\.path)
    if files.isEmpty {
      printError("error: no audio files found in \(inputs.joined(separator: " "))")
      throw ExitCode.failure
    }
    var staged: String?
    if let i = files.firstIndex(of: "-") {
      staged = try stdinToTemporaryFile()
      files[i] = staged!
    }
    stdinPath = staged
    StandardOutput.stagedInput = staged
    paths = files
    names = files.map { $0 == staged ? "stdin" : $0 }
    stems = found.map(\.stem)
  }

  deinit { if let stdinPath { unlink(stdinPath) } }

  var count: Int { paths.count }

  /// Runs `work(i, progress)` for every file on `threads` threads and hands the results to
  /// `emit` in input order; an error from either prints one line naming the file. Returns how
  /// many files failed. A progress bar is drawn when stderr is a terminal; `work` may call
  /// `progress` with the seconds of file `i` done so far, so that it moves inside long files.
  func run<Result>(
    threads: Int, work: @escaping @Sendable (Int, _ progress: (Double) -> Void) throws -> Result,
    emit: (Int, Result) throws -> Void
  ) -> Int {
    let progress = ProgressBar(paths: paths)
    var failures = 0
    forEachInOrder(count: count, threads: threads) { i -> Swift.Result<Result, Error> in
      Swift.Result { try work(i) { progress.update(file: i, seconds: $0) } }
    } emit: { i, outcome in
      do {
        let result = try outcome.get()
        try progress.clearingLine { try emit(i, result) }
        progress.finish(file: i, failed: false)
      } catch {
        failures += 1
        printError("error: \(describe(error, file: i))")   // takes the bar off the line first
        progress.finish(file: i, failed: true)
      }
    }
    failures += skipped
    if failures > 0 && count + skipped > 1 { printError("\(failures) of \(count + skipped) files failed") }
    return failures
  }

  /// The error's message naming the file once, by its display name.
  private func describe(_ error: Error, file i: Int) -> String {
    let message = "\(error)"
    return message.hasPrefix(paths[i])
      ? names[i] + message.dropFirst(paths[i].count) : "\(names[i]): \(message)"
  }
}

/// Creates the output folder of `option` (and its parents); prints why and fails when it cannot.
func createOutputFolder(_ path: String, for option: String = "--output") throws {
  if PathKind(path) == .other {
    printError("error: \(option): \(path) is a file, not a folder")
    throw ExitCode.failure
  }
  do {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  } catch {
    printError("error: \(option): cannot create the folder \(path): \(error.localizedDescription)")
    throw ExitCode.failure
  }
}

/// Each input's output name (also its Kaldi key, whitespace replaced) from its stem, fixed
/// up front so that two inputs with one name fail clearly (the second one) instead of
/// overwriting each other.
func outputNames(_ batch: AudioBatch) -> [Result<String, ValidationError>] {
  var owners: [String: String] = [:]
  return zip(batch.stems, batch.names).map { stem, name in
    let key = FeatureWriter.kaldiKey(name: stem)
    if let previous = owners[key] {
      return .failure(ValidationError("output name '\(key)' is already taken by \(previous); rename one of them"))
    }
    owners[key] = name
    return .success(key)
  }
}

/// The file for output `name` (from `outputNames`, perhaps with sub-folders) with `suffix`
/// in `folder`; its sub-folders are made.
func outputFile(in folder: String, name: String, suffix: String) throws -> String {
  let url = URL(fileURLWithPath: folder).appendingPathComponent("\(name).\(suffix)")
  if name.contains("/") {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
  }
  return url.path
}

/// Writes `data` to `path` through a temporary file named `path.tmp-PID` in the same folder,
/// renamed into place when complete, so an interrupted run leaves no partial output and
/// `InterruptCleanup` knows what to remove.
func writeAtomically(_ data: Data, to path: String) throws {
  let temporary = path + ".tmp-\(getpid())"
  guard let fd = TemporaryFiles.create(temporary) else {
    throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(path): cannot create \(temporary): \(String(cString: strerror(errno)))"])
  }
  let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
  do {
    try handle.write(contentsOf: data)
    try handle.close()
  } catch {
    unlink(temporary)
    throw error
  }
  guard moveIntoPlace(temporary, path) else {
    let reason = String(cString: strerror(errno))
    unlink(temporary)
    throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(path): \(reason)"])
  }
}

/// Ctrl-C and SIGTERM handled on a thread of their own (the self-pipe trick): `sigaction`
/// installs a C handler at once that only writes the signal's number to a pipe, and a thread
/// that reads the pipe runs `handler` there. A Dispatch signal source, used before, first set
/// the signal to SIG_IGN and registered later on Dispatch's manager thread: a SIGTERM in
/// between was dropped, and under load (a 2-core CI machine) the command then ran on to exit 0.
enum InterruptSignals {
  /// The pipe's write end, for the C handler (set before any handler is installed).
  nonisolated(unsafe) static var pipeWriteEnd: Int32 = -1

  /// Installs the handlers for SIGINT and SIGTERM; once per process (a second call would
  /// leave the first handler's thread waiting on a pipe nobody writes).
  static func handle(_ handler: @escaping @Sendable (Int32) -> Void) {
    precondition(pipeWriteEnd < 0, "InterruptSignals.handle called twice")
    var ends: [Int32] = [-1, -1]
    guard pipe(&ends) == 0 else { return }
    pipeWriteEnd = ends[1]
    let readEnd = ends[0]
    let reader = Thread {
      var sig: Int32 = 0
      while true {
        let n = read(readEnd, &sig, MemoryLayout<Int32>.size)
        if n == MemoryLayout<Int32>.size {
          handler(sig)
        } else if !(n < 0 && errno == EINTR) {
          return
        }
      }
    }
    reader.start()
    // A parent may have started this process with them blocked (Foundation's Process, from
    // a Dispatch thread, passes that thread's mask on): unblocked here, in the thread that
    // runs the command and those it starts, so that the handler can run.
    var unblock = sigset_t()
    sigemptyset(&unblock)
    for sig in [SIGINT, SIGTERM] { sigaddset(&unblock, sig) }
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    for sig in [SIGINT, SIGTERM] {
      var action = sigaction()
      // Async-signal-safe: one write(2) of four bytes to a pipe.
      action.__sigaction_handler.sa_handler = { sig in
        var value = sig
        _ = write(InterruptSignals.pipeWriteEnd, &value, MemoryLayout<Int32>.size)
      }
      sigemptyset(&action.sa_mask)
      action.sa_flags = SA_RESTART
      sigaction(sig, &action, nil)
    }
  }
}

/// On Ctrl-C (SIGINT) or SIGTERM: removes this process's temporary output files
/// (`*.tmp-PID*`) from the output folder and a staged stdin file, says so on stderr and exits
/// with 128 + the signal (130 for Ctrl-C, 143 for SIGTERM). Finished outputs stay; no partial
/// file is left behind.
enum InterruptCleanup {
  nonisolated(unsafe) private static var installed = false
  nonisolated(unsafe) private static var outputFolder: String?

  /// Installs the handlers once; a later call only names the output folder (stdin staging
  /// installs them before a command knows its folder).
  static func install(outputFolder folder: String?) {
    if let folder { outputFolder = folder }
    guard !installed else { return }
    installed = true
    let marker = ".tmp-\(getpid())"
    InterruptSignals.handle { sig in
      // No new temporary file after this; the ones that exist are all in the folder now.
      TemporaryFiles.close()
      var removed = 0
      if let folder = InterruptCleanup.outputFolder, let names = try? FileManager.default.subpathsOfDirectory(atPath: folder) {
        // ".tmp-PID" at the end or before "-": not another process's ".tmp-PIDx".
        for name in names where name.hasSuffix(marker) || name.contains(marker + "-") {
          if unlink(URL(fileURLWithPath: folder).appendingPathComponent(name).path) == 0 { removed += 1 }
        }
      }
      if let staged = StandardOutput.stagedInput { unlink(staged) }
      printError(InterruptCleanup.outputFolder == nil ? "interrupted" : "interrupted; \(removed) unfinished output file(s) removed")
      exit(128 + sig)
    }
  }
}

/// A file name as one field of a tab-separated text line: tabs, newlines and carriage returns
/// written as \t, \n and \r, so that an odd name cannot add a column or a line (JSON output
/// escapes them its own way).
func textField(_ name: String) -> String {
  guard name.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\r" }) else { return name }
  return name.replacingOccurrences(of: "\t", with: "\\t").replacingOccurrences(of: "\n", with: "\\n")
    .replacingOccurrences(of: "\r", with: "\\r")
}

/// Which channel of a multichannel file `transcribe`, `classify`, `features`, `evaluate` and
/// `logits` hear.
struct ChannelOption: ParsableArguments {
  @Option(help: ArgumentHelp(
    "Hear only this channel of each file, counting from 1 (1 is the left of a stereo file: a call recorded with one speaker a side, say; Kaldi's --channel counts from 0); a file without it is an error. (default: the channels averaged)",
    valueName: "n"))
  var channel: Int?

  func validate() throws {
    if let channel, !(1...64).contains(channel) {
      throw ValidationError("--channel must be in 1...64 (got \(channel)); channels count from 1")
    }
  }
}

/// A multichannel file whose channels cancel when averaged (one wired with its polarity
/// reversed, say) is silence to a model: says so, and what to do, on stderr, when the average
/// is at least 20 dB under the channels. Reads the file again: for files that came out silent.
func noteCancellingChannels(path: String, name: String) {
  guard let loss = try? AudioFile.downmixLoss(path: path), loss >= 20 else { return }
  let amount = loss.isFinite ? "\(Int(loss.rounded())) dB below them" : "silence"
  printError("note: \(name): its channels cancel when averaged (the average is \(amount): one is the other "
    + "inverted?); --channel 1 hears the first alone")
}

/// How `transcribe` and `evaluate` find the speech in a recording.
struct SpeechDetectionOptions: ParsableArguments {
  @Option(help: ArgumentHelp(
    "Decode each stretch of speech on its own, splitting at pauses this long, and drop silence around it; 0 decodes the audio whole.",
    valueName: "seconds"))
  var minPause: Double = Self.defaultMinPause
  /// The pause length used when --min-pause is not given, seconds.
  static let defaultMinPause = 0.5
  @Flag(help: "Hear the audio as recorded: no DC-offset removal and no scaling of each stretch of speech to a -0.1 dBFS peak (for a classifier in evaluate: no raising of clips that peak under -20 dBFS).")
  var keepLevel = false

  func validate() throws {
    guard minPause >= 0 && minPause <= 60 else { throw ValidationError("--min-pause must be in 0...60 seconds (got \(minPause))") }
  }

  /// `options` with these settings.
  func apply(to options: inout TranscriptionOptions) {
    options.decodesSpeechOnly = minPause > 0
    if minPause > 0 { options.minimumPauseSeconds = minPause }
    options.normalizesLevel = !keepLevel
  }
}

/// `--precision`'s help in `transcribe` and `classify`.
let precisionHelp = "The networks' arithmetic: int8 (the LSTM products on LSTM outputs in 8-bit integers: about twice as fast with AVX-512 VNNI, 1.3x with AVX2) or float32 (as trained)."

extension InferencePrecision: ExpressibleByArgument {}

/// Warns on stderr about audio files that an FSDD-style folder manifest leaves out.
func warnAboutIgnoredFiles(inFolder path: String) {
  let repeated = Manifest.repeatedClips(inFolder: path)
  if !repeated.isEmpty {
    printError("warning: \(repeated.count) clip(s) in \(path) are there in two formats; each is read once (the first by "
      + "name), these are left out: " + repeated.prefix(5).joined(separator: " ") + (repeated.count > 5 ? " ..." : ""))
  }
  let ignored = Manifest.ignoredFiles(inFolder: path)
  guard !ignored.isEmpty else { return }
  printError("warning: \(ignored.count) audio file(s) in \(path) are not named {digit}_{speaker}_{take}.wav (FSDD; any audio extension) and are left out: "
    + ignored.prefix(5).joined(separator: " ") + (ignored.count > 5 ? " ..." : ""))
}
