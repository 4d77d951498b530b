// swift-tools-version:6.0
// The in-process half of scripts/bench/features: times `import Earshot`'s library calls
// (AudioFile.loadMono + FeatureExtractor) on one file, best of N. Release builds only:
//   swift build -c release --package-path scripts/bench/features-swift
import PackageDescription

let package = Package(
  name: "EarshotFeaturesBench",
  dependencies: [
    .package(name: "Earshot", path: "../../.."),
  ],
  targets: [
    .executableTarget(
      name: "earshot-features-bench",
      dependencies: [.product(name: "Earshot", package: "Earshot")]),
  ]
)
