// Random bf16 weights of the real shapes for the benchmarks: tensor lists from
// configs/manifests/*.json, held in memory (RandomBF16Store) or written to a safetensors file.

import Foundation
import Pipeline
import TensorCore
import Weights

enum BenchManifest {
    /// Tensor names and shapes from configs/manifests/NAME.
    static func shapes(_ file: String) throws -> [(String, [Int])] {
        var candidates: [String] = []
        if let m = WeightsManifest.locateDefault() {
            candidates.append((m as NSString).deletingLastPathComponent + "/configs/manifests/" + file)
        }
        if let p = RepositoryFile.locate("configs/manifests/" + file) { candidates.append(p) }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }),
              let data = FileManager.default.contents(atPath: path),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = obj["tensors"] as? [[String: Any]] else {
            throw BenchmarkError("cannot read the tensor list configs/manifests/\(file) (run from the repository root)")
        }
        return list.compactMap { e in (e["name"] as? String).flatMap { n in (e["shape"] as? [Int]).map { (n, $0) } } }
    }

    /// Random bf16 tensors of a manifest's shapes written to one safetensors file.
    static func writeRandom(_ file: String, to path: String, seed: UInt64) throws {
        FileHandle.standardError.write(Data("writing random bf16 \(file) to \(path)\n".utf8))
        // One tensor in memory at a time (the 11B MMDiT is 23.8 GB), each the same bytes as
        // RandomBF16Store makes for it.
        let list = try shapes(file)
        try SafetensorsWriter().write(list.enumerated().map { i, entry in
            SafetensorsWriter.Item(name: entry.0, dtype: .bf16, shape: entry.1) {
                let n = entry.1.reduce(1, *)
                let buffer = RandomBF16Store.tensor(name: entry.0, shape: entry.1, seed: seed &+ UInt64(i))
                return Data(bytes: buffer.raw, count: 2 * n)
            }
        }, to: path)
    }

    /// Uniform values in [-scale, scale), as float32. shape: any
    static func randomTensor(_ shape: [Int], seed: UInt64, scale: Float) -> Tensor {
        var t = Tensor(uninitialized: shape)
        fillUniform(UnsafeMutableRawPointer(t.mutablePointer), count: t.count, seed: seed, scale: scale) { $0.bitPattern }
        return t
    }
}

/// "TxHxW" (latent frames x height / 8 x width / 8) -> [T, H, W].
func parseLatentSize(_ spec: String) throws -> [Int] {
    let dims = spec.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
    guard dims.count == 3, let t = dims[0], let h = dims[1], let w = dims[2], t > 0, h > 0, w > 0 else {
        throw BenchmarkError("--latent must be TxHxW with positive integers (latent frames x height/8 x width/8), got '\(spec)'")
    }
    for v in [t, h, w] { try InputLimits.require("--latent (each side)", v, in: InputLimits.latentSide) }
    guard t * h * w <= InputLimits.latentPositions else {
        throw BenchmarkError("--latent \(spec) has \(t * h * w) latent positions; the limit is \(InputLimits.latentPositions)")
    }
    return [t, h, w]
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
/// vectors small values, qk-norm weights 1, rope.freqs the real table. Each tensor repeats its
/// first `period` random values (a prime, so no two rows of a matrix narrower than it are alike):
/// a few seconds for a 1B-parameter model even in a debug build, and timing does not care.
final class RandomBF16Store: WeightStore, @unchecked Sendable {
    static let period = 65_537
    final class Buffer { let raw: UnsafeMutableRawPointer; init(bytes: Int) { raw = .allocate(byteCount: max(bytes, 2), alignment: 64) }; deinit { raw.deallocate() } }
    let sourceDescription = "<random bf16 weights>"
    private var tensors: [String: (info: TensorInfo, buffer: Buffer)] = [:]

    init(shapes: [(String, [Int])], seed: UInt64) throws {
        for (i, (name, shape)) in shapes.enumerated() {
            tensors[name] = (TensorInfo(name: name, dtype: .bf16, shape: shape),
                             Self.tensor(name: name, shape: shape, seed: seed &+ UInt64(i)))
        }
    }

    /// One tensor's random bf16 values (the `i`-th of a list gets seed + i).
    static func tensor(name: String, shape: [Int], seed: UInt64) -> Buffer {
        let n = shape.reduce(1, *)
        let buffer = Buffer(bytes: 2 * n)
        if name.hasSuffix("rope.freqs") {
            let d = 2 * n
            let p = buffer.raw.bindMemory(to: UInt16.self, capacity: n)
            for j in 0..<n { p[j] = floatToBF16(1 / Float(pow(10000, Double(2 * j) / Double(d)))) }
        } else if name.hasSuffix("_norm.weight") {
            fillUniform(buffer.raw, count: min(n, period), seed: seed, scale: 0.1) { floatToBF16(1 + $0) }
            repeatPrefix(buffer.raw, count: n)
        } else {
            let fanIn = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : 0
            let scale: Float = fanIn > 0 ? (3 / Float(fanIn)).squareRoot() : 0.05
            fillUniform(buffer.raw, count: min(n, period), seed: seed, scale: scale) { floatToBF16($0) }
            repeatPrefix(buffer.raw, count: n)
        }
        return buffer
    }

    /// Copies the first `period` bf16 values over the rest of the `count`.
    static func repeatPrefix(_ raw: UnsafeMutableRawPointer, count: Int) {
        var filled = min(count, period)
        while filled < count {
            let n = min(filled, count - filled)
            (raw + 2 * filled).copyMemory(from: raw, byteCount: 2 * n)
            filled += n
        }
    }

    var names: [String] { tensors.keys.sorted() }
    func info(_ name: String) -> TensorInfo? { tensors[name]?.info }
    func weight(_ name: String) throws -> WeightTensor {
        guard let t = tensors[name] else { throw WeightsError.missingTensor(name: name, source: sourceDescription) }
        return WeightTensor(name: name, shape: t.info.shape, dtype: .bf16, raw: UnsafeRawPointer(t.buffer.raw), owner: t.buffer)
    }
}
