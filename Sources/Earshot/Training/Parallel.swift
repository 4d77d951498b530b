import Dispatch
import Foundation

/// `body(0..<count)` on up to `threads` threads; results in index order. Each index is
/// computed by exactly one thread and each slot written once, so the result does not depend
/// on scheduling.
func parallelMap<T>(_ count: Int, threads: Int, _ body: (Int) throws -> T) rethrows -> [T] {
  if count == 0 { return [] }
  let workers = max(1, min(threads, count))
  if workers == 1 { return try (0..<count).map(body) }
  let slots = Slots<T>(count)
  withoutActuallyEscaping(body) { body in
    let shared = UncheckedBox(body)
    DispatchQueue.concurrentPerform(iterations: workers) { w in
      var i = w
      while i < count {
        slots.set(i, Result { try shared.value(i) })
        i += workers
      }
    }
  }
  return try slots.values.map { try $0!.get() }
}

/// `body(0..<count)` on up to `threads` threads, for loading data: the results that
/// succeeded, in index order; each failure's description is appended to `skipped`, except
/// that a failure for which `isFatal` holds is thrown.
/// - Parameter set: the data set's name ("training set", "validation set"): when it has
///   clips and none of them loads, `TrainingError.emptyDataset` says so, with the first reason.
func loadEach<T>(_ count: Int, threads: Int, skipped: inout [String], set: String? = nil,
                 isFatal: (any Error) -> Bool = { _ in false }, _ body: (Int) throws -> T) throws -> [T] {
  let results: [Result<T, any Error>] = parallelMap(count, threads: threads) { i in Result { try body(i) } }
  var kept: [T] = []
  var first: String?
  for r in results {
    switch r {
    case .success(let value): kept.append(value)
    case .failure(let error):
      if isFatal(error) { throw error }
      skipped.append("\(error)")
      first = first ?? "\(error)"
    }
  }
  if let set, count > 0, kept.isEmpty, let first {
    // The commonest manifest mistake: paths written from the working directory.
    let hint = first.contains("no such file") ? " (a manifest's relative paths are read from the manifest's own folder)" : ""
    throw TrainingError.emptyDataset(path: set, reason: "none of its \(count) clips could be used; the first: \(first)\(hint)")
  }
  return kept
}

/// Result slots written by disjoint indices from several threads.
private final class Slots<T>: @unchecked Sendable {
  private let storage: UnsafeMutablePointer<Result<T, any Error>?>
  private let count: Int
  init(_ n: Int) {
    count = n
    storage = .allocate(capacity: n)
    storage.initialize(repeating: nil, count: n)
  }
  deinit {
    storage.deinitialize(count: count)
    storage.deallocate()
  }
  /// Writes slot `i`; no other thread touches it.
  func set(_ i: Int, _ r: Result<T, any Error>) { storage[i] = r }
  var values: [Result<T, any Error>?] { Array(UnsafeBufferPointer(start: storage, count: count)) }
}

/// A value handed to `concurrentPerform` iterations that only read it.
private struct UncheckedBox<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}

/// A 64-bit mix of several values (SplitMix64 finaliser), for deriving independent seeds:
/// every random draw of a training run comes from `SeededGenerator(seed: mixSeed(seed, ...))`
/// keyed by what it is for and the step, so the run's random state is (seed, step).
func mixSeed(_ values: UInt64...) -> UInt64 {
  var h: UInt64 = 0x243F_6A88_85A3_08D3
  for v in values {
    h ^= v &+ 0x9E37_79B9_7F4A_7C15 &+ (h << 6) &+ (h >> 2)
    var z = h
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    h = z ^ (z >> 31)
  }
  return h
}
