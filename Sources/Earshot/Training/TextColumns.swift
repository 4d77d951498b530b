/// Padding for the plain-text reports, counted in characters (`String.count`), so a name with
/// combining marks lines up and is never cut (Foundation's `padding(toLength:)` counts UTF-16
/// units and truncates).
extension String {
  /// `self` followed by spaces up to `width` characters; never shorter than `self`.
  func leftAligned(_ width: Int) -> String { self + String(repeating: " ", count: Swift.max(width - count, 0)) }
  /// Spaces, then `self`, up to `width` characters; never shorter than `self`.
  func rightAligned(_ width: Int) -> String { String(repeating: " ", count: Swift.max(width - count, 0)) + self }
}
