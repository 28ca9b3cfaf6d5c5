// swift-tools-version:6.0
import PackageDescription
import Foundation

// Hot modules are built for AVX2+FMA (haswell). Set OPENSORA_PORTABLE=1 to build for baseline
// x86-64 (SSE2) instead, e.g. for an old CPU; expect elementwise kernels to run about 2x slower.
let portable = ProcessInfo.processInfo.environment["OPENSORA_PORTABLE"] == "1"
#if arch(x86_64)
let cpuFlags: [String] = portable ? [] : ["-target-cpu", "haswell"]
let cFlags: [String] = portable ? [] : ["-mavx2", "-mfma"]
#else
let cpuFlags: [String] = []
let cFlags: [String] = []
#endif
// The CLI refuses, before main, a CPU that lacks what the hot modules were built for.
let cpuCheck: [CSetting] = cpuFlags.isEmpty ? [] : [.define("OPENSORA_BUILT_FOR_X86_64_V3")]
let hot: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"] + cpuFlags, .when(configuration: .release)),
                           .unsafeFlags(cpuFlags, .when(configuration: .debug))]

let package = Package(
    name: "OpenSoraSwift",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "opensora", targets: ["opensora"]),
        .library(name: "OpenSora", targets: ["Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
    ],
    targets: [
        // System libraries (module.modulemap + pkg-config).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat libavcodec libavutil libswscale",
                       providers: [.apt(["libavcodec-dev", "libavformat-dev", "libavutil-dev", "libswscale-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // oneDNN's int8 GEMM for `--quantize int8` (Debian ships no pkg-config file; the module map links dnnl).
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // C++ shim with a C API over libsentencepiece.
        .target(name: "CSentencePiece",
                linkerSettings: [.linkedLibrary("sentencepiece"), .linkedLibrary("sentencepiece_train")]),
        // C shim over libjpeg (its error handling needs setjmp, which Swift cannot call).
        .target(name: "CJPEGShim", linkerSettings: [.linkedLibrary("jpeg")]),
        // The executable's start-up check of the CPU's features (compiled for baseline x86-64).
        .target(name: "CCPUCheck", cSettings: cpuCheck),
        // Activation quantisation and dequantisation around the int8 GEMM (AVX2 intrinsics).
        .target(name: "CInt8", cSettings: [.unsafeFlags(["-O3"] + cFlags)]),

        // Engine modules, lowest first. A module never imports one below it in this list.
        .target(name: "TensorCore", dependencies: ["CBLAS", "CDNNL", "CInt8"], swiftSettings: hot),
        .target(name: "Weights", dependencies: ["TensorCore"], swiftSettings: hot),
        .target(name: "T5", dependencies: ["TensorCore", "Weights", "CSentencePiece"], swiftSettings: hot),
        .target(name: "CLIP", dependencies: ["TensorCore", "Weights", "T5", "CZlib"], swiftSettings: hot),
        .target(name: "STDiT", dependencies: ["TensorCore", "Weights"], swiftSettings: hot),
        .target(name: "VAE", dependencies: ["TensorCore", "Weights"], swiftSettings: hot),
        .target(name: "MMDiT", dependencies: ["TensorCore", "Weights"], swiftSettings: hot),
        .target(name: "Samplers", dependencies: ["TensorCore"], swiftSettings: hot),
        .target(name: "VideoIO", dependencies: ["TensorCore", "CFFmpeg", "CPNG", "CJPEGShim"], swiftSettings: hot),
        .target(name: "Pipeline", dependencies: ["TensorCore", "Weights", "T5", "STDiT", "VAE", "Samplers", "VideoIO", "Yams", "MMDiT", "CLIP"],
                swiftSettings: hot),
        .target(name: "GoldenCheck", dependencies: ["TensorCore", "Weights", "T5", "CLIP", "STDiT", "VAE", "Samplers", "Pipeline", "VideoIO", "MMDiT"],
                swiftSettings: hot),
        // `opensora bench`: random weights of the real shapes, one JSON line per run.
        .target(name: "Benchmarks", dependencies: ["TensorCore", "Weights", "T5", "STDiT", "VAE", "MMDiT", "Samplers", "Pipeline"],
                swiftSettings: hot),
        .executableTarget(name: "opensora",
                          dependencies: ["CCPUCheck", "GoldenCheck", "Pipeline", "Benchmarks", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: hot),

        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
        .testTarget(name: "WeightsTests", dependencies: ["Weights"], exclude: ["range_server.py"]),
        .testTarget(name: "GoldenCheckTests", dependencies: ["GoldenCheck", "CLIP", "T5", "TensorCore", "Weights", "Pipeline", "Samplers", "VideoIO"]),
        .testTarget(name: "SamplersTests", dependencies: ["Samplers", "TensorCore"]),
        .testTarget(name: "VideoIOTests", dependencies: ["VideoIO", "TensorCore"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "TensorCore", "Weights", "MMDiT"]),
        .testTarget(name: "CLIPTests", dependencies: ["CLIP", "TensorCore", "Weights"]),
        .testTarget(name: "T5Tests", dependencies: ["T5", "TensorCore", "Weights"], exclude: ["Fixtures"]),
        .testTarget(name: "STDiTTests", dependencies: ["STDiT", "TensorCore", "Weights"]),
        .testTarget(name: "CLITests", dependencies: ["opensora", "TensorCore", "Weights", "VideoIO"]),
        .testTarget(name: "VAETests", dependencies: ["VAE", "TensorCore", "Weights"]),
        .testTarget(name: "MMDiTTests", dependencies: ["MMDiT", "STDiT", "TensorCore", "Weights"]),
        .testTarget(name: "DemoTests", dependencies: ["Pipeline", "GoldenCheck", "TensorCore", "Weights", "VideoIO"]),
    ],
    cxxLanguageStandard: .cxx17
)

// Fuzz targets (libFuzzer entry points, no main): declared only for `make fuzz`, which builds
// them with -sanitize=fuzzer,address.
if ProcessInfo.processInfo.environment["OPENSORA_FUZZ"] == "1" {
    let fuzzTargets: [(String, [Target.Dependency])] = [
        ("FuzzSafetensors", ["Weights"]),
        ("FuzzWeightIndex", ["Weights"]),
        ("FuzzImage", ["VideoIO"]),
        ("FuzzConfig", ["Pipeline"]),
        ("FuzzPickle", ["Weights"]),
        ("FuzzPrompt", ["Pipeline", "T5", "CLIP"]),
    ]
    package.targets.append(.target(name: "FuzzDriver", path: "Fuzz/FuzzDriver"))
    for (name, deps) in fuzzTargets {
        package.targets.append(.executableTarget(name: name, dependencies: deps + ["FuzzDriver"], path: "Fuzz/\(name)"))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
