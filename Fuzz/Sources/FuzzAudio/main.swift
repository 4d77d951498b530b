import Earshot
import FuzzSupport
import Foundation

/// Any bytes as an audio file: decode, downmix, resample to 16 kHz, log-mel. Must throw or
/// succeed, never trap, hang or read out of bounds.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAudio(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  let path = "/tmp/earshot-fuzz-\(getpid()).bin"
  guard let handle = fopen(path, "wb") else { return 0 }
  fwrite(data, 1, size, handle)
  fclose(handle)
  defer { unlink(path) }
  guard let file = try? AudioFile(path: path), file.info.frames < 2_000_000 else { return 0 }
  guard var stream = try? MonoStream(file: file, sampleRate: 16_000) else { return 0 }
  var samples: [Float] = []
  while let block = try? stream.next() { samples += block }
  if let extractor = try? FeatureExtractor(options: .speechLogMel(sampleRate: 16_000)) {
    _ = try? extractor(samples)
  }
  return 0
}

@_cdecl("FuzzAudio_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
  runLibFuzzer(argc, argv, fuzzAudio)
}
