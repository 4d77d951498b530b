import Foundation

/// Why an array file could not be read or written.
public enum ArrayFileError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file is not a `.npy` file or its header is malformed.
  case malformed(path: String, reason: String)
  /// The dtype or layout is one Earshot does not read.
  case unsupported(path: String, reason: String)
  /// The file could not be read or written.
  case io(path: String, reason: String)

  public var description: String {
    switch self {
    case .malformed(let path, let reason): return "\(path): not a valid .npy file: \(reason)"
    case .unsupported(let path, let reason): return "\(path): unsupported .npy: \(reason)"
    case .io(let path, let reason): return "\(path): \(reason)"
    }
  }
}

/// `localizedDescription` (Foundation's way to show an error) reads as `description` does.
extension ArrayFileError: LocalizedError {
  public var errorDescription: String? { description }
}

/// A NumPy `.npy` array read as Float32, with its shape.
///
/// Reads format versions 1-3, little-endian `f4`, `f8`, `i2`, `i4`, `i8`, `u1` in C or
/// Fortran order (Fortran is transposed to C order); writes version 1.0 `<f4`, C order,
/// which `numpy.load` reads.
public struct NumpyArray: Equatable, Sendable {
  /// Dimensions, outermost first.
  public var shape: [Int]
  /// `shape.reduce(1, *)` values, C order.
  public var values: [Float]

  public init(shape: [Int], values: [Float]) {
    precondition(shape.reduce(1, *) == values.count, "shape \(shape) holds \(shape.reduce(1, *)) values, got \(values.count)")
    self.shape = shape
    self.values = values
  }

  /// Reads `path`.
  public init(contentsOf path: String) throws(ArrayFileError) {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .io(path: path, reason: "cannot read the file")
    }
    try self.init(data: data, path: path)
  }

  /// Parses the bytes of a `.npy` file; `path` only names it in errors.
  public init(data: Data, path: String = "<data>") throws(ArrayFileError) {
    let bytes = [UInt8](data)
    guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
      throw .malformed(path: path, reason: "missing the \\x93NUMPY magic")
    }
    let major = bytes[6]
    let headerLength: Int
    let headerStart: Int
    switch major {
    case 1:
      headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
      headerStart = 10
    case 2, 3:
      guard bytes.count >= 12 else { throw .malformed(path: path, reason: "truncated header") }
      headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
      headerStart = 12
    default:
      throw .unsupported(path: path, reason: "format version \(major)")
    }
    guard headerStart + headerLength <= bytes.count,
      let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8)
    else { throw .malformed(path: path, reason: "header length \(headerLength) runs past the end") }
    func field(_ key: String) -> String? {
      guard let range = header.range(of: "'\(key)':") else { return nil }
      return String(header[range.upperBound...]).trimmingCharacters(in: .whitespaces)
    }
    guard let descrField = field("descr"), let quote = descrField.first, quote == "'" || quote == "\"",
      let descrEnd = descrField.dropFirst().firstIndex(of: quote)
    else { throw .malformed(path: path, reason: "no 'descr' in header \(header)") }
    let descr = String(descrField[descrField.index(after: descrField.startIndex)..<descrEnd])
    let fortran = field("fortran_order")?.hasPrefix("True") ?? false
    guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("),
      let close = shapeField.firstIndex(of: ")")
    else { throw .malformed(path: path, reason: "no 'shape' in header \(header)") }
    let shapeText = shapeField[shapeField.index(after: open)..<close]
    var shape: [Int] = []
    for part in shapeText.split(separator: ",") {
      let trimmed = part.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty { continue }
      guard let n = Int(trimmed), n >= 0 else { throw .malformed(path: path, reason: "shape entry '\(trimmed)'") }
      shape.append(n)
    }
    var count = 1
    for n in shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: n)
      guard !overflow else { throw .malformed(path: path, reason: "shape \(shape) overflows") }
      count = product
    }
    let dataStart = headerStart + headerLength
    let width: Int
    switch descr {
    case "<f4", "<i4": width = 4
    case "<f8", "<i8": width = 8
    case "<i2": width = 2
    case "|u1", "<u1", "|i1": width = 1
    default: throw .unsupported(path: path, reason: "dtype '\(descr)'; expected little-endian f4, f8, i2, i4, i8 or u1")
    }
    guard bytes.count - dataStart >= count * width else {
      throw .malformed(path: path, reason: "shape \(shape) needs \(count * width) bytes, the file has \(bytes.count - dataStart)")
    }
    var values = [Float](repeating: 0, count: count)
    bytes.withUnsafeBytes { raw in
      let base = raw.baseAddress! + dataStart
      for i in 0..<count {
        let p = base + i * width
        switch descr {
        case "<f4": values[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
        case "<f8": values[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))))
        case "<i2": values[i] = Float(Int16(littleEndian: p.loadUnaligned(as: Int16.self)))
        case "<i4": values[i] = Float(Int32(littleEndian: p.loadUnaligned(as: Int32.self)))
        case "<i8": values[i] = Float(Int64(littleEndian: p.loadUnaligned(as: Int64.self)))
        case "|i1": values[i] = Float(p.load(as: Int8.self))
        default: values[i] = Float(p.load(as: UInt8.self))
        }
      }
    }
    if fortran && shape.count > 1 {
      values = Self.fortranToC(values, shape: shape)
    }
    self.shape = shape
    self.values = values
  }

  private static func fortranToC(_ values: [Float], shape: [Int]) -> [Float] {
    var out = [Float](repeating: 0, count: values.count)
    var index = [Int](repeating: 0, count: shape.count)
    for i in 0..<values.count {
      // i walks C order; find the Fortran offset of the same index.
      var offset = 0, stride = 1
      for d in 0..<shape.count {
        offset += index[d] * stride
        stride *= shape[d]
      }
      out[i] = values[offset]
      var d = shape.count - 1
      while d >= 0 {
        index[d] += 1
        if index[d] < shape[d] { break }
        index[d] = 0
        d -= 1
      }
    }
    return out
  }

  /// The `.npy` header for a little-endian float32 C-order array of `shape`: magic, version
  /// 1.0, padded so that the data starts at a multiple of 64 bytes.
  public static func header(shape: [Int]) -> Data {
    let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
    var text = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
    let unpadded = 10 + text.utf8.count + 1
    text += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    let length = UInt16(text.utf8.count)
    data.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
    data.append(contentsOf: Array(text.utf8))
    return data
  }

  /// The whole file as bytes.
  public func data() -> Data {
    var data = Self.header(shape: shape)
    values.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
    return data
  }

  /// Writes the array atomically (temporary file, then rename).
  public func write(to path: String) throws(ArrayFileError) {
    do {
      try data().write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw .io(path: path, reason: "cannot write: \(error.localizedDescription)")
    }
  }
}

extension NumpyArray {
  /// Writes features as a (frames, bins) `<f4` array without copying them: the header, then
  /// the values' own bytes, to a temporary file that is renamed over `path` when complete.
  public static func write(_ features: FeatureMatrix, to path: String) throws(ArrayFileError) {
    let temporary = path + ".tmp-\(getpid())"
    let handle = try createFile(temporary, for: path)
    do {
      try handle.write(contentsOf: header(shape: [features.frames, features.bins]))
      try features.values.withUnsafeBytes { raw in
        guard let base = raw.baseAddress else { return }
        try handle.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: raw.count, deallocator: .none))
      }
      try handle.close()
    } catch {
      unlink(temporary)
      throw .io(path: path, reason: "cannot write: \(error.localizedDescription)")
    }
    guard moveIntoPlace(temporary, path) else {
      let reason = String(cString: strerror(errno))
      unlink(temporary)
      throw .io(path: path, reason: "cannot rename into place: \(reason)")
    }
  }

  /// A (frames, bins) array of the features.
  public init(_ features: FeatureMatrix) {
    self.init(shape: [features.frames, features.bins], values: features.values)
  }

  /// The array as (rows, columns) features; a 1-D array becomes one column.
  public func featureMatrix() -> FeatureMatrix? {
    switch shape.count {
    case 1: return FeatureMatrix(frames: shape[0], bins: 1, values: values)
    case 2: return FeatureMatrix(frames: shape[0], bins: shape[1], values: values)
    default: return nil
    }
  }
}

/// Writes a (rows, columns) `<f4` `.npy` file row block by row block, in bounded memory: a
/// temporary file gets a header for the expected row count, then the rows; `finish()` fixes
/// the header if the count differed and renames the file into place. Until then no file
/// exists at `path`.
public final class NumpyStreamWriter {
  /// Where the finished file goes.
  public let path: String
  /// Values per row.
  public let columns: Int
  private let temporary: String
  private let handle: FileHandle
  private var headerLength: Int
  private(set) public var rows = 0
  private var finished = false

  /// - Parameter expectedRows: the row count to put in the header first (fixed later if wrong).
  public init(path: String, columns: Int, expectedRows: Int) throws(ArrayFileError) {
    self.path = path
    self.columns = columns
    temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let header = NumpyArray.header(shape: [expectedRows, columns])
    headerLength = header.count
    handle = try createFile(temporary, for: path)
    do { try handle.write(contentsOf: header) } catch {
      unlink(temporary)
      throw .io(path: path, reason: "cannot write: \(error.localizedDescription)")
    }
  }

  deinit { if !finished { abort() } }

  /// Appends `matrix`'s rows (its `bins` must equal `columns`).
  public func append(_ matrix: FeatureMatrix) throws(ArrayFileError) {
    precondition(matrix.bins == columns, "bins \(matrix.bins) != columns \(columns)")
    do {
      try matrix.values.withUnsafeBytes { raw in
        guard let base = raw.baseAddress else { return }
        try handle.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: raw.count, deallocator: .none))
      }
    } catch {
      throw .io(path: path, reason: "cannot write: \(error.localizedDescription)")
    }
    rows += matrix.frames
    matrix.values.withUnsafeBufferPointer { v in
      var i = 0
      while i < v.count {
        // The part of `v` in the current chunk of the file's values.
        let chunk = (valuesWritten + i) / Self.chunkValues
        let end = min(v.count, (chunk + 1) * Self.chunkValues - valuesWritten)
        let (low, high) = minimumAndMaximum(UnsafeBufferPointer(rebasing: v[i..<end]))
        if chunk == chunkMinimum.count { chunkMinimum.append(low) } else { chunkMinimum[chunk] = min(chunkMinimum[chunk], low) }
        if high > maximum { maximum = high }
        i = end
      }
    }
    valuesWritten += matrix.values.count
  }

  /// Largest value appended so far (-infinity before any).
  public private(set) var maximum = -Float.infinity

  /// Values per chunk of the data whose minimum `append` records (16 KiB), so that `clamp`
  /// rewrites only the chunks that hold a value below its floor.
  static let chunkValues = 4096
  /// The smallest value of each chunk of `chunkValues` values written so far.
  private var chunkMinimum: [Float] = []
  private var valuesWritten = 0

  /// Raises every value below `floor` to it, in place (librosa's `top_db` clamp after the
  /// fact): reads and rewrites only the 16 KiB chunks whose minimum is below `floor`. Call
  /// before `finish()`.
  public func clamp(below floor: Float) throws(ArrayFileError) {
    let fd = handle.fileDescriptor
    var buffer = [Float](repeating: 0, count: Self.chunkValues)
    for chunk in chunkMinimum.indices where chunkMinimum[chunk] < floor {
      let first = chunk * Self.chunkValues
      let count = min(Self.chunkValues, valuesWritten - first)
      let offset = off_t(headerLength + first * 4)
      let failure: String? = buffer.withUnsafeMutableBytes { raw in
        let bytes = count * 4
        guard pread(fd, raw.baseAddress, bytes, offset) == bytes else { return "cannot read back: \(String(cString: strerror(errno)))" }
        let values = raw.bindMemory(to: Float.self)
        for i in 0..<count where values[i] < floor { values[i] = floor }
        guard pwrite(fd, raw.baseAddress, bytes, offset) == bytes else { return "cannot write: \(String(cString: strerror(errno)))" }
        return nil
      }
      if let failure { throw .io(path: path, reason: "clamping below \(floor): \(failure)") }
      chunkMinimum[chunk] = floor
    }
  }

  /// Fixes the header's row count and renames the file into place.
  public func finish() throws(ArrayFileError) {
    do {
      let header = NumpyArray.header(shape: [rows, columns])
      if header.count == headerLength {
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: header)
        try handle.close()
      } else {
        // A row count with more digits can need a longer header: rewrite the data after it.
        try handle.close()
        var data = try Data(contentsOf: URL(fileURLWithPath: temporary))
        data.replaceSubrange(0..<headerLength, with: header)
        try data.write(to: URL(fileURLWithPath: temporary))
      }
    } catch {
      abort()
      throw .io(path: path, reason: "cannot finish: \(error.localizedDescription)")
    }
    guard moveIntoPlace(temporary, path) else {
      let reason = String(cString: strerror(errno))
      abort()
      throw .io(path: path, reason: "cannot rename into place: \(reason)")
    }
    finished = true
  }

  /// Removes the temporary file; nothing is left at `path`.
  public func abort() {
    try? handle.close()
    unlink(temporary)
    finished = true
  }
}

/// Creates (or truncates) `temporary` for reading and writing with open(2), so that no helper
/// file of Foundation's own is made beside it; `path` names the final file in errors.
func createFile(_ temporary: String, for path: String) throws(ArrayFileError) -> FileHandle {
  guard let fd = TemporaryFiles.create(temporary) else {
    throw .io(path: path, reason: "cannot create \(temporary): \(String(cString: strerror(errno)))")
  }
  return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
}

/// Moves the finished file `temporary` to `path`, replacing any file there; false, with
/// `errno` set, when that fails (`temporary` is then left as it was).
///
/// Where `path` exists the two names are exchanged (`renameat2` with `RENAME_EXCHANGE`) and
/// the old file, now at `temporary`, is removed. A plain rename over an existing file makes
/// ext4 start writing the new file out at once (its `auto_da_alloc` rule) and wait for any
/// write-back of the old one: 13-17 ms per 19 MB output when a run overwrites the last run's
/// files, against about 3 ms for the exchange (measured on this project's machine). The
/// trade: after a power cut (not a crash or Ctrl-C), an output replaced within the last
/// seconds may be found empty, as a new file would be. Where the exchange is not supported,
/// a plain rename.
public func moveIntoPlace(_ temporary: String, _ path: String) -> Bool {
  if let exchange = renameExchange, exchange(AT_FDCWD, temporary, AT_FDCWD, path, 2 /* RENAME_EXCHANGE */) == 0 {
    unlink(temporary)
    return true
  }
  return rename(temporary, path) == 0
}

/// glibc's `renameat2`, looked up at run time: Swift's Glibc module does not declare it.
private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
private let renameExchange: RenameAt2? = dlsym(nil, "renameat2").map { unsafeBitCast($0, to: RenameAt2.self) }

/// The gate every temporary output file of this process goes through, so that an interrupt
/// handler can stop new ones before it removes the unfinished ones: a file being created
/// while the handler scans the folder would otherwise survive it.
public enum TemporaryFiles {
  private static let lock = NSLock()
  nonisolated(unsafe) private static var isClosed = false

  /// Creates (or truncates) `path` for reading and writing, mode 0644, and returns its file
  /// descriptor; nil, with `errno` set, when that fails or after ``close()`` (`EINTR`).
  public static func create(_ path: String) -> Int32? {
    lock.lock()
    defer { lock.unlock() }
    guard !isClosed else {
      errno = EINTR
      return nil
    }
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
    return fd >= 0 ? fd : nil
  }

  /// From now on ``create(_:)`` creates nothing; every file it created has been created by
  /// the time this returns.
  public static func close() {
    lock.lock()
    isClosed = true
    lock.unlock()
  }
}

/// The smallest and largest of `values` (+infinity, -infinity when empty), sixteen lanes at a
/// time. NaN is not expected (the features of finite audio are finite).
func minimumAndMaximum(_ values: UnsafeBufferPointer<Float>) -> (Float, Float) {
  var low = SIMD16<Float>(repeating: .infinity)
  var high = SIMD16<Float>(repeating: -.infinity)
  var i = 0
  let raw = UnsafeRawPointer(values.baseAddress)
  while i + 16 <= values.count {
    let v = raw!.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
    // Compare and select (pointwiseMin/Max's NaN rules make them 20x slower here).
    low = low.replacing(with: v, where: v .< low)
    high = high.replacing(with: v, where: v .> high)
    i += 16
  }
  var lo = low.min(), hi = high.max()
  while i < values.count {
    lo = min(lo, values[i])
    hi = max(hi, values[i])
    i += 1
  }
  return (lo, hi)
}
