// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "Earshot",
  products: [
    .library(name: "Earshot", targets: ["Earshot"]),
    .executable(name: "earshot", targets: ["earshot"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    // C libraries, one module each; only one Swift file per library imports it.
    .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
    .systemLibrary(name: "CSoxr", pkgConfig: "soxr", providers: [.apt(["libsoxr-dev"])]),
    .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
    .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

    .target(name: "EarshotAudio", dependencies: ["CSndFile", "CSoxr", "CEarshotKernels"]),
    .target(name: "EarshotFeatures", dependencies: ["CFFTW", "CEarshotKernels"]),
    // Vectorised float kernels, one build per instruction set, picked at run time.
    .target(name: "CEarshotKernels"),
    .target(name: "EarshotNeural", dependencies: ["CBLAS", "CEarshotKernels"]),
    .target(
      name: "Earshot",
      dependencies: ["EarshotAudio", "EarshotFeatures", "EarshotNeural"],
      resources: [.copy("Models")]),
    .executableTarget(
      name: "earshot",
      dependencies: ["Earshot", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

    // Scratch folders for the tests, removed when the test process exits.
    .target(name: "TestScratch", path: "Tests/TestScratch"),
    .testTarget(name: "EarshotAudioTests", dependencies: ["EarshotAudio", "EarshotFeatures", "TestScratch"]),
    .testTarget(name: "EarshotFeaturesTests", dependencies: ["EarshotFeatures", "EarshotAudio", "TestScratch"]),
    .testTarget(name: "EarshotNeuralTests", dependencies: ["EarshotNeural", "TestScratch"]),
    .testTarget(name: "EarshotTests", dependencies: ["Earshot", "TestScratch"], exclude: ["Snapshots"]),
  ]
)
