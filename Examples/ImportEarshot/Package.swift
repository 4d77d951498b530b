// swift-tools-version:6.0
// Proves that another package can depend on Earshot and `import Earshot`.
import PackageDescription

let package = Package(
  name: "ImportEarshot",
  dependencies: [.package(name: "Earshot", path: "../..")],
  targets: [
    .executableTarget(name: "ImportEarshot", dependencies: [.product(name: "Earshot", package: "Earshot")])
  ]
)
