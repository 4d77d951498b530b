import Earshot

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

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

/// SwiftPM links an executable's entry point as `FuzzSafeTensors_main`; built with -parse-as-library
/// there is no Swift main, so this one hands over to libFuzzer's driver.
@_cdecl("FuzzSafeTensors_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
  var count = argc
  var arguments = argv
  return LLVMFuzzerRunDriver(&count, &arguments, fuzzSafeTensors)
}
