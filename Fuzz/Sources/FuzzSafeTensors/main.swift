import Earshot
import FuzzSupport

/// Any bytes as a safetensors file, then as a CTC model file: must throw or succeed, never
/// trap, hang or read out of bounds.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  if let file = try? SafeTensors(bytes: bytes, name: "fuzz.safetensors") {
    _ = file.metadata
  }
  return 0
}

@_cdecl("FuzzSafeTensors_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
  runLibFuzzer(argc, argv, fuzzSafeTensors)
}
