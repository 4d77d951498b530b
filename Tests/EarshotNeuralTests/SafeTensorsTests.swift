import Foundation
import TestScratch
import Testing
@testable import EarshotNeural

@Suite struct SafeTensorsTests {
  static func temporaryPath(_ name: String) -> String {
    Scratch.root.appendingPathComponent("neural-\(name)").path
  }

  /// Bytes of a file with JSON `header` and raw `data`.
  static func file(header: String, data: [UInt8]) -> [UInt8] {
    let h = Array(header.utf8)
    var out: [UInt8] = []
    let n = UInt64(h.count)
    for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
    return out + h + data
  }

  static func message(_ bytes: [UInt8]) -> String? {
    do {
      _ = try SafeTensors(bytes: bytes, name: "bad.safetensors")
      return nil
    } catch {
      return error.description
    }
  }

  @Test func roundTripKeepsTensorsAndMetadata() throws {
    var g = SeededGenerator(seed: 3)
    let file = SafeTensors(
      tensors: ["a.weight": Tensor(g.normalMatrix(rows: 3, cols: 2)),
                "a.bias": Tensor(shape: [2], values: [1.5, -2]),
                "scalar": Tensor(shape: [], values: [7])],
      metadata: ["tokens": "[\"_\", \"a\"]", "quote\"key": "line\nbreak"])
    let bytes = file.serialized()
    // Header length is a multiple of 8 and the header starts with '{'.
    let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    #expect(n % 8 == 0)
    #expect(bytes[8] == UInt8(ascii: "{"))
    let back = try SafeTensors(bytes: bytes, name: "x")
    #expect(back.tensors == file.tensors)
    #expect(back.metadata == file.metadata)
  }

  @Test func readsHalfBFloatAndDouble() throws {
    // 1.5 and -2 in each dtype, little-endian.
    let f16: [UInt8] = [0x00, 0x3E, 0x00, 0xC0]
    let bf16: [UInt8] = [0xC0, 0x3F, 0x00, 0xC0]
    var f64: [UInt8] = []
    for v in [1.5, -2.0] { for i in 0..<8 { f64.append(UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt64(i)))) } }
    let header = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"d":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}}"#
    let st = try SafeTensors(bytes: Self.file(header: header, data: f16 + bf16 + f64), name: "x")
    #expect(st.tensors["h"]?.values == [1.5, -2])
    #expect(st.tensors["b"]?.values == [1.5, -2])
    #expect(st.tensors["d"]?.values == [1.5, -2])
  }

  @Test func badFilesThrowNamedErrors() {
    let ok = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
    let data = [UInt8](repeating: 0, count: 8)
    #expect(Self.message(Self.file(header: ok, data: data)) == nil)
    // Too short for the length field.
    #expect(Self.message([1, 2, 3])?.contains("shorter than the 8-byte header length") == true)
    // Header length past the end.
    var past = Self.file(header: ok, data: data)
    past[0] = 200
    #expect(Self.message(past)?.contains("runs past the end") == true)
    // Huge header length.
    var huge = past
    for i in 0..<8 { huge[i] = 0xFF }
    #expect(Self.message(huge)?.contains("exceeds") == true)
    // Truncated data.
    #expect(Self.message(Self.file(header: ok, data: [0, 0, 0]))?.contains("ends at byte 8 of the data, which has 3 bytes") == true)
    // Wrong dtype.
    let i64 = #"{"t":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#
    #expect(Self.message(Self.file(header: i64, data: data)) ==
            "bad.safetensors: tensor 't' has dtype I64; expected F32, F16, BF16 or F64")
    // Offsets that do not match the shape.
    let mismatch = #"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
    #expect(Self.message(Self.file(header: mismatch, data: data))?.contains("span 8") == true)
    // Reversed offsets, missing fields, not JSON.
    let reversed = #"{"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#
    #expect(Self.message(Self.file(header: reversed, data: data))?.contains("data_offsets") == true)
    #expect(Self.message(Self.file(header: #"{"t":{"dtype":"F32"}}"#, data: data))?.contains("lacks") == true)
    #expect(Self.message(Self.file(header: "{nope", data: data))?.contains("not valid JSON") == true)
    // A shape whose element count overflows.
    let overflow = #"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#
    #expect(Self.message(Self.file(header: overflow, data: data))?.contains("larger than the file") == true)
  }

  @Test func missingFileThrows() {
    #expect(throws: ModelError.self) { try SafeTensors(contentsOf: "/nonexistent/x.safetensors") }
  }

  static var tinyArchitecture: ModelArchitecture {
    var a = ModelArchitecture()
    a.inputSize = 4
    a.hiddenSize = 3
    a.numLayers = 2
    a.outputSize = 5
    return a
  }

  @Test func sequenceModelSavesAndLoads() throws {
    var g = SeededGenerator(seed: 5)
    var model = SequenceModel(architecture: Self.tinyArchitecture, generator: &g)
    model.metadata = ["tokens": "[\"_\",\"a\",\"b\",\"c\",\"d\"]", "provenance": "test"]
    let path = Self.temporaryPath("seq.safetensors")
    defer { try? FileManager.default.removeItem(atPath: path) }
    try model.save(to: path)
    let back = try SequenceModel(contentsOf: path)
    #expect(back.architecture == model.architecture)
    #expect(back.stateDict == model.stateDict)
    #expect(back.metadata["tokens"] == model.metadata["tokens"])
    #expect(back.metadata[ModelFile.versionKey] == "1")
    let x = g.normalMatrix(rows: 6, cols: 4)
    #expect(back.logProbabilities(features: x) == model.logProbabilities(features: x))
    // PyTorch names and 1-D biases.
    let file = try SafeTensors(contentsOf: path)
    #expect(file.tensors["lstm.weight_ih_l1_reverse"]?.shape == [12, 6])
    #expect(file.tensors["lstm.bias_hh_l0"]?.shape == [12])
    #expect(file.tensors["fc.weight"]?.shape == [5, 6])
    #expect(file.tensors.count == 2 * 2 * 4 + 2)
  }

  @Test func modelLoadErrorsNameTensorAndShapes() throws {
    var g = SeededGenerator(seed: 6)
    let model = SequenceModel(architecture: Self.tinyArchitecture, generator: &g)
    let path = Self.temporaryPath("digits.safetensors")
    defer { try? FileManager.default.removeItem(atPath: path) }
    var file = ModelFile.file(model, architecture: model.architecture, metadata: [:])

    file.tensors["lstm.weight_ih_l0"] = Tensor(shape: [12, 8], values: [Float](repeating: 0, count: 96))
    try file.write(to: path)
    #expect(throws: ModelError.shapeMismatch(path: path, tensor: "lstm.weight_ih_l0", found: [12, 8], expected: [12, 4])) {
      try SequenceModel(contentsOf: path)
    }
    #expect(ModelError.shapeMismatch(path: "digits.safetensors", tensor: "lstm.weight_ih_l0", found: [512, 40], expected: [512, 80]).description
            == "digits.safetensors: tensor 'lstm.weight_ih_l0' is 512x40, the config says 512x80")

    file = ModelFile.file(model, architecture: model.architecture, metadata: [:])
    file.tensors["fc.bias"] = nil
    try file.write(to: path)
    #expect(throws: ModelError.missingTensor(path: path, tensor: "fc.bias")) { try SequenceModel(contentsOf: path) }

    file = ModelFile.file(model, architecture: model.architecture, metadata: [:])
    file.tensors["extra"] = Tensor(shape: [1], values: [0])
    try file.write(to: path)
    #expect(throws: ModelError.unexpectedTensor(path: path, tensor: "extra")) { try SequenceModel(contentsOf: path) }

    file = ModelFile.file(model, architecture: model.architecture, metadata: [:])
    file.metadata[ModelFile.architectureKey] = nil
    try file.write(to: path)
    #expect(throws: ModelError.self) { try SequenceModel(contentsOf: path) }

    // A CTC file is not a classifier.
    file = ModelFile.file(model, architecture: model.architecture, metadata: [:])
    try file.write(to: path)
    do {
      _ = try SequenceClassifier(contentsOf: path)
      Issue.record("loading a CTC model as a classifier did not throw")
    } catch {
      #expect(error.description.contains("kind is ctc, expected classifier"))
    }
  }

  @Test func classifierSavesAndLoadsWithAttention() throws {
    var a = Self.tinyArchitecture
    a.kind = .classifier
    a.pooling = .attention
    var g = SeededGenerator(seed: 12)
    let model = SequenceClassifier(architecture: a, generator: &g)
    let path = Self.temporaryPath("cls.safetensors")
    defer { try? FileManager.default.removeItem(atPath: path) }
    try model.save(to: path)
    let back = try SequenceClassifier(contentsOf: path)
    #expect(back.stateDict == model.stateDict)
    #expect(back.stateDict["attention.weight"]?.cols == 6)
    let x = g.normalMatrix(rows: 5, cols: 4)
    #expect(back.logProbabilities(features: x) == model.logProbabilities(features: x))
  }

  @Test func architectureDefaultsAndPartialJSON() throws {
    let d = ModelArchitecture()
    #expect(d.kind == .ctc && d.inputSize == 80 && d.hiddenSize == 256 && d.numLayers == 3)
    #expect(d.outputSize == 29 && d.dropout == 0 && d.pooling == .mean && d.blank == 0)
    let a = try JSONDecoder().decode(ModelArchitecture.self, from: Data(#"{"hiddenSize": 8}"#.utf8))
    #expect(a.hiddenSize == 8 && a.inputSize == 80)
  }
}
