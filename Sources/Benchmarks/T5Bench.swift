// Benchmark of the T5 encoder at full size without the real weights: writes a random bf16
// checkpoint with the given names and shapes (T5-v1.1-XXL's, from the weights manifest) to a
// scratch folder, maps it, encodes one prompt of `tokens` tokens, and reports wall time and peak
// resident memory (VmHWM, which counts the mapped weight pages that were touched).

import Foundation
import TensorCore
import Weights
import T5

enum T5Benchmark {
    struct Result: Sendable {
        var config: T5Config
        var tokens: Int
        var checkpointBytes: Int
        var writeSeconds: Double
        var loadSeconds: Double
        var encodeSeconds: Double
        /// VmHWM before the checkpoint is opened and after encoding, bytes.
        var peakRSSBeforeLoad: Int
        var peakRSS: Int
        var outputChecksum: Double

        var json: String {
            #"{"component":"t5-xxl","tokens":\#(tokens),"layers":\#(config.layers),"d_model":\#(config.dModel),"checkpoint_bytes":\#(checkpointBytes),"#
                + #""write_seconds":\#(fmt(writeSeconds)),"load_seconds":\#(fmt(loadSeconds)),"encode_seconds":\#(fmt(encodeSeconds)),"#
                + #""peak_rss_before_load_bytes":\#(peakRSSBeforeLoad),"peak_rss_bytes":\#(peakRSS),"threads":\#(Runtime.threads),"checksum":\#(outputChecksum)}"#
        }
        private func fmt(_ v: Double) -> String { String(format: "%.3f", v) }
    }

    /// - Parameters:
    ///   - tensors: checkpoint names and shapes (e.g. the manifest's t5-v1_1-xxl list).
    ///   - directory: scratch folder for the ~9.5 GB checkpoint; removed afterwards unless `keep`.
    ///   - progress: receives one line per phase.
    static func run(tensors: [(name: String, shape: [Int])], tokens: Int = 300, directory: String,
                           keep: Bool = false, seed: UInt64 = 1, weightDType: DType = .bf16,
                           progress: (String) -> Void = { _ in }) throws -> Result {
        guard weightDType == .bf16 || weightDType == .f32 else { throw BenchmarkError("benchmark weights are bf16 or f32, not \(weightDType)") }
        guard tokens >= 1 else { throw BenchmarkError("benchmark needs at least one token, got \(tokens)") }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/t5-bench-\(getpid()).safetensors"
        defer { if !keep { try? FileManager.default.removeItem(atPath: path) } }

        let bytes = tensors.reduce(0) { $0 + $1.shape.reduce(weightDType.byteSize, *) }
        progress("writing a random \(weightDType.rawValue) checkpoint of \(tensors.count) tensors (\(bytes >> 20) MiB) to \(path)")
        var t0 = Date()
        let items = tensors.enumerated().map { i, t in
            SafetensorsWriter.Item(name: t.name, dtype: weightDType, shape: t.shape) {
                let half = randomBF16(count: t.shape.reduce(1, *), scale: initScale(name: t.name, shape: t.shape), seed: seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
                return weightDType == .bf16 ? half : widen(half)
            }
        }
        try SafetensorsWriter().write(items, to: path)
        let writeSeconds = Date().timeIntervalSince(t0)

        let before = peakResidentBytes()
        t0 = Date()
        let store = try Checkpoint.open(path)
        let encoder = try T5Encoder(weights: store)
        let loadSeconds = Date().timeIntervalSince(t0)
        progress("loaded \(encoder.config) in \(String(format: "%.2f", loadSeconds)) s; encoding \(tokens) tokens")

        var rng = SplitMix64(seed: seed)
        let vocab = min(encoder.config.vocabSize, 32000)
        let ids = (0..<tokens).map { $0 == tokens - 1 ? 1 : Int(rng.next() % UInt64(vocab - 3)) + 3 }
        t0 = Date()
        let out = try encoder(TokenBatch(ids: [ids], mask: [[Int](repeating: 1, count: tokens)]))
        let encodeSeconds = Date().timeIntervalSince(t0)
        let checksum = out.withData { $0.reduce(0.0) { $0 + Double($1) } }
        return Result(config: encoder.config, tokens: tokens, checkpointBytes: bytes, writeSeconds: writeSeconds,
                      loadSeconds: loadSeconds, encodeSeconds: encodeSeconds, peakRSSBeforeLoad: before,
                      peakRSS: peakResidentBytes(), outputChecksum: checksum)
    }

    /// Uniform weights with the variance of a fan-in-scaled init, so activations stay finite
    /// through 24 layers; norm weights are 1.
    static func initScale(name: String, shape: [Int]) -> Float {
        if name.hasSuffix("layer_norm.weight") { return 0 }
        if name.contains("relative_attention_bias") { return 0.5 }
        if name.hasSuffix("embed_tokens.weight") || name == "shared.weight" { return 1 }
        return Float(3.0 / Double(max(shape.last ?? 1, 1))).squareRoot()
    }

    /// `count` bf16 values uniform in [-scale, scale] (exactly 1 when scale is 0: norm weights).
    static func randomBF16(count: Int, scale: Float, seed: UInt64) -> Data {
        var data = Data(count: count * 2)
        data.withUnsafeMutableBytes { raw in
            let out = SendablePointer(raw.bindMemory(to: UInt16.self).baseAddress!)
            let chunks = max(1, count / (1 << 20))
            parallelFor(chunks) { r in
                for c in r {
                    var g = SplitMix64(seed: seed &+ UInt64(c))
                    let lo = count * c / chunks, hi = count * (c + 1) / chunks
                    if scale == 0 { for i in lo..<hi { out.p[i] = floatToBF16(1) }; continue }
                    for i in lo..<hi {
                        let u = Float(g.next() >> 40) * (1.0 / 16_777_216.0)      // [0, 1)
                        out.p[i] = floatToBF16((2 * u - 1) * scale)
                    }
                }
            }
        }
        return data
    }

    /// bf16 bytes -> the same values as f32 bytes.
    static func widen(_ half: Data) -> Data {
        var out = Data(count: half.count * 2)
        half.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                let s = src.bindMemory(to: UInt16.self), d = dst.bindMemory(to: Float.self)
                for i in 0..<s.count { d[i] = bf16ToFloat(s[i]) }
            }
        }
        return out
    }

    /// Peak resident set size of this process (VmHWM), bytes; 0 if unknown.
    static func peakResidentBytes() -> Int { ResourceUsage.peakRSSBytes() }
}
