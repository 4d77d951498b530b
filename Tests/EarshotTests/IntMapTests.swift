@testable import Earshot
import Testing

@Suite("IntMap") struct IntMapTests {
  /// Seeded random sets, overwrites and clears, negative and colliding keys, through several
  /// growths and generations: every lookup agrees with a Dictionary doing the same.
  @Test func behavesLikeADictionary() {
    var g = SeededGenerator(seed: 5)
    var map = IntMap(capacity: 2)
    var reference: [Int: Int] = [:]
    for round in 0..<40 {
      // Keys in a narrow range collide and overwrite; multiples of 2^32 share low bits.
      for _ in 0..<Int.random(in: 1...300, using: &g) {
        let key = Bool.random(using: &g) ? Int.random(in: -50...50, using: &g) : Int.random(in: -4...4, using: &g) << 32
        let value = Int.random(in: 0..<1_000, using: &g)
        map.set(key, value)
        reference[key] = value
      }
      #expect(map.count == reference.count, "round \(round)")
      for key in -60...60 { #expect(map[key] == reference[key], "round \(round), key \(key)") }
      for key in (-5...5).map({ $0 << 32 }) { #expect(map[key] == reference[key], "round \(round), key \(key)") }
      if round % 3 == 2 {
        map.removeAll()
        reference.removeAll()
        #expect(map.count == 0 && map[0] == nil)
      }
    }
  }
}
