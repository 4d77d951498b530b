// swift-tools-version:6.0
// libFuzzer targets for Earshot's parsers. Not part of the main build (they need
// -sanitize=fuzzer); see README.md here for how to run them.
import PackageDescription

let package = Package(
  name: "EarshotFuzz",
  dependencies: [.package(name: "Earshot", path: "..")],
  targets: [
    // Reading typed values from the fuzzer's bytes, and the hand-over to libFuzzer's driver.
    .target(name: "FuzzSupport"),
    .executableTarget(
      name: "FuzzSafeTensors", dependencies: [.product(name: "Earshot", package: "Earshot"), "FuzzSupport"]),
    .executableTarget(
      name: "FuzzAudio", dependencies: [.product(name: "Earshot", package: "Earshot"), "FuzzSupport"]),
    .executableTarget(
      name: "FuzzFeatures", dependencies: [.product(name: "Earshot", package: "Earshot"), "FuzzSupport"]),
    .executableTarget(
      name: "FuzzCTCDecoding", dependencies: [.product(name: "Earshot", package: "Earshot"), "FuzzSupport"]),
  ]
)
