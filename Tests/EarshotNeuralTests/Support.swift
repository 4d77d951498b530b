import Foundation
import Testing
@testable import EarshotNeural

/// Directory of the committed neural fixtures (written by scripts/fixtures/neural.py).
let fixtureDirectory = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent()
  .appendingPathComponent("Fixtures/neural")

/// A fixture file: tensors by name plus its metadata.
struct NeuralFixture {
  let name: String
  let file: SafeTensors

  init(_ name: String) throws {
    self.name = name
    file = try SafeTensors(contentsOf: fixtureDirectory.appendingPathComponent(name + ".safetensors").path)
  }

  func tensor(_ key: String) -> Tensor {
    guard let t = file.tensors[key] else {
      Issue.record("\(name): no tensor '\(key)'")
      return Tensor(shape: [0], values: [])
    }
    return t
  }
  func matrix(_ key: String) -> Matrix { tensor(key).matrix }
  func values(_ key: String) -> [Float] { tensor(key).values }
  func ints(_ key: String) -> [Int] { values(key).map { Int($0) } }
  func scalar(_ key: String) -> Float { values(key).first ?? .nan }

  /// Copies every `param.<name>` tensor into the matching parameter of `model`.
  func loadParameters<M: Parameterized>(into model: inout M) {
    for p in model.namedParameters {
      let t = tensor("param." + p.name)
      #expect(t.shape == p.shape, "\(name): param.\(p.name) is \(t.shape), the model has \(p.shape)")
      if t.values.count == model[keyPath: p.path].data.count { model[keyPath: p.path].data = t.values }
    }
  }
}

/// Expects `got` to equal `expected` element-wise within `rtol` times the largest magnitude of
/// `expected` (plus `atol`); on failure, records the largest difference and where it is.
func expectClose(_ got: [Float], _ expected: [Float], rtol: Float = 1e-4, atol: Float = 1e-6,
                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
  guard got.count == expected.count else {
    Issue.record("\(what): \(got.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    return
  }
  let scale = expected.map { abs($0) }.max() ?? 0
  var worst: Float = 0, at = 0
  for i in 0..<got.count {
    let d = abs(got[i] - expected[i])
    if !(d <= worst) { worst = d; at = i }   // NaN counts as worst
  }
  let limit = rtol * scale + atol
  #expect(worst <= limit,
    "\(what): max |diff| \(worst) at index \(at) (got \(got.isEmpty ? 0 : got[at]), expected \(expected.isEmpty ? 0 : expected[at])), limit \(limit) = \(rtol) x max|expected| \(scale) + \(atol)",
    sourceLocation: sourceLocation)
}

func expectClose(_ got: Matrix, _ expected: Matrix, rtol: Float = 1e-4, atol: Float = 1e-6,
                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
  #expect(got.rows == expected.rows && got.cols == expected.cols,
          "\(what): shape \(got.shapeDescription), expected \(expected.shapeDescription)",
          sourceLocation: sourceLocation)
  expectClose(got.data, expected.data, rtol: rtol, atol: atol, what, sourceLocation: sourceLocation)
}

/// Rows of a time-major (T*B, F) matrix that are real frames, in order, as one array.
func validRows(_ m: Matrix, lengths: [Int]) -> [Float] {
  var out: [Float] = []
  let b = lengths.count
  for r in 0..<m.rows where r / b < lengths[r % b] { out += m.row(r) }
  return out
}

/// Splits a flat target tensor by target lengths.
func splitTargets(_ flat: [Int], lengths: [Int]) -> [[Int]] {
  var out: [[Int]] = []
  var i = 0
  for n in lengths { out.append(Array(flat[i..<(i + n)])); i += n }
  return out
}
