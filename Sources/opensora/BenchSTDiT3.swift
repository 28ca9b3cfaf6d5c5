// `opensora bench --component stdit3-xl2`: one STDiT3-XL/2 forward with random bf16 weights of the
// real shapes (configs/manifests/stdit3-xl2-v1.2.json), held in memory.

import Foundation
import STDiT
import TensorCore
import Weights

enum STDiT3Bench {
    /// Prints one JSON line: component, latent, batch, caption_tokens, seconds (best of `repeats`),
    /// cpu_seconds, gflops (STDiT3Config.forwardFLOPs / seconds), peak_rss_bytes (VmHWM), threads.
    static func run(latent: String, batch: Int, captionTokens: Int, repeats: Int) throws {
        let dims = latent.lowercased().split(separator: "x").compactMap { Int($0) }
        guard dims.count == 3, dims.allSatisfy({ $0 > 0 }) else { throw CLIError("--latent must be TxHxW with positive integers, got '\(latent)'") }
        guard batch >= 1 else { throw CLIError("--batch must be at least 1, got \(batch)") }
        let config = STDiT3Config.xl2
        guard (1...config.modelMaxLength).contains(captionTokens) else {
            throw CLIError("--caption-tokens must be in 1...\(config.modelMaxLength), got \(captionTokens)")
        }
        let store = try RandomBF16Store(shapes: try manifestShapes("stdit3-xl2-v1.2.json"), seed: 42)
        let model = try STDiT3(weights: store, config: config)

        // Conditional caption with `captionTokens` real tokens; batch 2 is the guidance batch
        // (cond + null caption), as the sampler calls it.
        let (t, h, w) = (dims[0], dims[1], dims[2])
        let condBatch = batch == 2 ? 1 : batch
        let mask = [[Bool]](repeating: (0..<config.modelMaxLength).map { $0 < captionTokens }, count: condBatch)
        var input = STDiT3Input(latent: randomTensor([condBatch, config.inChannels, t, h, w], seed: 1, scale: 1),
                                timesteps: [Float](repeating: 900, count: condBatch),
                                caption: randomTensor([condBatch, config.modelMaxLength, config.captionChannels], seed: 2, scale: 0.2),
                                captionMask: mask, fps: [24], height: Float(8 * h), width: Float(8 * w))
        if batch == 2 { input = try model.guidanceInput(input) }

        var best = Double.infinity, bestCPU = Double.infinity
        var out = Tensor(zeros: [0])
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = processCPUSeconds()
            out = try model(input)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            bestCPU = min(bestCPU, processCPUSeconds() - c0)
        }
        guard out.array.allSatisfy({ $0.isFinite }) else { throw CLIError("stdit3-xl2 produced non-finite values") }
        let flops = config.forwardFLOPs(batch: batch, frames: t, height: h, width: w, captionTokens: captionTokens)
        print(#"{"component":"stdit3-xl2","latent":[\#(t),\#(h),\#(w)],"batch":\#(batch),"caption_tokens":\#(captionTokens),"weights":"bf16","seconds":\#(best),"cpu_seconds":\#(bestCPU),"gflops":\#(flops / best / 1e9),"tflop":\#(flops / 1e12),"peak_rss_bytes":\#(peakRSSBytes()),"threads":\#(Runtime.threads)}"#)
    }

    /// Tensor names and shapes from configs/manifests/NAME.
    static func manifestShapes(_ file: String) throws -> [(String, [Int])] {
        var candidates = [FileManager.default.currentDirectoryPath + "/configs/manifests/" + file]
        if let m = WeightsManifest.locateDefault() {
            candidates.insert((m as NSString).deletingLastPathComponent + "/configs/manifests/" + file, at: 0)
        }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }),
              let data = FileManager.default.contents(atPath: path),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = obj["tensors"] as? [[String: Any]] else {
            throw CLIError("cannot read the tensor list configs/manifests/\(file) (run from the repository root)")
        }
        return list.compactMap { e in (e["name"] as? String).flatMap { n in (e["shape"] as? [Int]).map { (n, $0) } } }
    }

    static func randomTensor(_ shape: [Int], seed: UInt64, scale: Float) -> Tensor {
        var t = Tensor(uninitialized: shape)
        fillUniform(UnsafeMutableRawPointer(t.mutablePointer), count: t.count, seed: seed, scale: scale) { $0.bitPattern }
        return t
    }

    /// CPU time of all the process's threads (user + system): with other jobs on the machine,
    /// flops per CPU-second is steadier than per wall-second.
    static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Peak resident set size (VmHWM) in bytes, 0 where /proc is missing.
    static func peakRSSBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}

/// Uniform values in [-scale, scale) from a per-chunk xorshift, written through `encode`
/// (float32 bits, or the bf16 half of them).
func fillUniform<T>(_ dst: UnsafeMutableRawPointer, count: Int, seed: UInt64, scale: Float,
                    encode: @escaping @Sendable (Float) -> T) {
    let p = SendablePointer(dst.bindMemory(to: T.self, capacity: count))
    let chunks = 64
    parallelFor(chunks) { r in
        for c in r {
            var s = (seed &+ UInt64(c) &* 0x9E3779B97F4A7C15) | 1
            for i in (count * c / chunks)..<(count * (c + 1) / chunks) {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17
                let u = Float(s >> 40) * (1 / Float(1 << 24))              // [0, 1)
                p.p[i] = encode((2 * u - 1) * scale)
            }
        }
    }
}

/// Random bf16 weights of given shapes, in memory. Linear / conv weights get variance ~1/fan_in,
/// vectors small values, qk-norm weights 1, rope.freqs the real table.
final class RandomBF16Store: WeightStore, @unchecked Sendable {
    final class Buffer { let raw: UnsafeMutableRawPointer; init(bytes: Int) { raw = .allocate(byteCount: max(bytes, 2), alignment: 64) }; deinit { raw.deallocate() } }
    let sourceDescription = "<random bf16 weights>"
    private var tensors: [String: (info: TensorInfo, buffer: Buffer)] = [:]

    init(shapes: [(String, [Int])], seed: UInt64) throws {
        for (i, (name, shape)) in shapes.enumerated() {
            let n = shape.reduce(1, *)
            let buffer = Buffer(bytes: 2 * n)
            if name.hasSuffix("rope.freqs") {
                let d = 2 * n
                let p = buffer.raw.bindMemory(to: UInt16.self, capacity: n)
                for j in 0..<n { p[j] = floatToBF16(1 / Float(pow(10000, Double(2 * j) / Double(d)))) }
            } else if name.hasSuffix("_norm.weight") {
                fillUniform(buffer.raw, count: n, seed: seed &+ UInt64(i), scale: 0.1) { floatToBF16(1 + $0) }
            } else {
                let fanIn = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : 0
                let scale: Float = fanIn > 0 ? (3 / Float(fanIn)).squareRoot() : 0.05
                fillUniform(buffer.raw, count: n, seed: seed &+ UInt64(i), scale: scale) { floatToBF16($0) }
            }
            tensors[name] = (TensorInfo(name: name, dtype: .bf16, shape: shape), buffer)
        }
    }

    var names: [String] { tensors.keys.sorted() }
    func info(_ name: String) -> TensorInfo? { tensors[name]?.info }
    func weight(_ name: String) throws -> WeightTensor {
        guard let t = tensors[name] else { throw WeightsError.missingTensor(name: name, source: sourceDescription) }
        return WeightTensor(name: name, shape: t.info.shape, dtype: .bf16, raw: UnsafeRawPointer(t.buffer.raw), owner: t.buffer)
    }
}
