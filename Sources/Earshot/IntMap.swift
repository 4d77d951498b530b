/// An `Int` -> `Int` map with open addressing and linear probing, for the prefix beam
/// search's inner loop: Swift's `Dictionary` hashes `Int` keys with SipHash, which took about
/// 7% of a connected-strings transcription. No removal of single keys; ``removeAll()`` clears
/// in O(1) (a generation stamp per slot).
struct IntMap {
  private var keys: [Int]
  private var values: [Int]
  /// A slot is used when its stamp equals `generation`.
  private var stamps: [UInt32]
  private var generation: UInt32 = 1
  private var mask: Int
  /// Keys stored.
  private(set) var count = 0

  /// An empty map with room for `capacity` keys before it grows.
  init(capacity: Int = 8) {
    var size = 16
    while size < 2 * capacity { size *= 2 }
    keys = [Int](repeating: 0, count: size)
    values = [Int](repeating: 0, count: size)
    stamps = [UInt32](repeating: 0, count: size)
    mask = size - 1
  }

  @inline(__always)
  private func home(_ key: Int) -> Int {
    // Fibonacci hashing: the high bits of key * 2^64/phi.
    Int(truncatingIfNeeded: (UInt64(bitPattern: Int64(key)) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
  }

  /// The value stored for `key`, or nil.
  subscript(key: Int) -> Int? {
    var i = home(key)
    while stamps[i] == generation {
      if keys[i] == key { return values[i] }
      i = (i + 1) & mask
    }
    return nil
  }

  /// Stores `value` for `key`, replacing any earlier value.
  mutating func set(_ key: Int, _ value: Int) {
    if 2 * (count + 1) > keys.count { grow() }
    var i = home(key)
    while stamps[i] == generation {
      if keys[i] == key {
        values[i] = value
        return
      }
      i = (i + 1) & mask
    }
    stamps[i] = generation
    keys[i] = key
    values[i] = value
    count += 1
  }

  /// Forgets every key, keeping the storage.
  mutating func removeAll() {
    count = 0
    if generation == .max {
      for i in stamps.indices { stamps[i] = 0 }
      generation = 1
    } else {
      generation += 1
    }
  }

  private mutating func grow() {
    var bigger = IntMap(capacity: keys.count)
    for i in stamps.indices where stamps[i] == generation { bigger.set(keys[i], values[i]) }
    self = bigger
  }
}
