// swift-tools-version:6.0
// A Swift program that embeds the engine (docs/usage.md, "Embedding in Swift"). CI builds and runs
// it (`make example`), so the library's public API is checked from outside the package.
import PackageDescription

let package = Package(
    name: "embed",
    // From elsewhere: .package(url: "https://github.com/<you>/opensora-swift", branch: "main").
    // A path or a branch, not a version: the engine's hot modules use unsafe flags (-target-cpu
    // haswell, -Ounchecked), which SwiftPM refuses in version-pinned dependencies.
    dependencies: [.package(name: "opensora-swift", path: "../..")],
    targets: [
        .executableTarget(name: "embed", dependencies: [.product(name: "OpenSora", package: "opensora-swift")]),
    ]
)
