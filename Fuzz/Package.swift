// swift-tools-version:6.0
// libFuzzer targets for Earshot's parsers. Not part of the main build (they need
// -sanitize=fuzzer); see README.md here for how to run them.
import PackageDescription

let package = Package(
  name: "EarshotFuzz",
  dependencies: [.package(name: "Earshot", path: "..")],
  targets: [
    .executableTarget(name: "FuzzSafeTensors", dependencies: [.product(name: "Earshot", package: "Earshot")]),
    .executableTarget(name: "FuzzAudio", dependencies: [.product(name: "Earshot", package: "Earshot")]),
  ]
)
