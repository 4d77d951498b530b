// swift-tools-version:6.0
// Benchmark executable for scripts/bench/lstm: Earshot's BiLSTM inference and training step.
import PackageDescription

let package = Package(
  name: "EarshotLSTMBench",
  dependencies: [.package(name: "Earshot", path: "../../..")],
  targets: [
    .executableTarget(
      name: "lstm-bench",
      dependencies: [.product(name: "Earshot", package: "Earshot")]),
  ]
)
