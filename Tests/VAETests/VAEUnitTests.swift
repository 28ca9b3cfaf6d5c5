import XCTest
@testable import VAE
import TensorCore
import Weights

/// A store that knows shapes only (config inference never reads data).
final class ShapeStore: WeightStore, @unchecked Sendable {
    let shapes: [String: [Int]]
    init(_ p: [(String, [Int])]) { shapes = Dictionary(p, uniquingKeysWith: { a, _ in a }) }
    var sourceDescription: String { "<shapes>" }
    var names: [String] { shapes.keys.sorted() }
    func info(_ name: String) -> TensorInfo? { shapes[name].map { TensorInfo(name: name, dtype: .f32, shape: $0) } }
    func weight(_ name: String) throws -> WeightTensor { throw WeightsError.other("shape-only store") }
}

/// Deterministic pseudo-random weights for every parameter (scaled like PyTorch's default init).
func randomStore(_ p: [(String, [Int])], seed: UInt64 = 1) -> MemoryStore {
    var state = seed
    var tensors: [String: Tensor] = [:]
    for (name, shape) in p {
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
        let bound = name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name.contains("norm") && name.hasSuffix(".weight")
            ? Float(0) : 1 / Float(fanIn).squareRoot()
        var t = Tensor(uninitialized: shape)
        let q = t.mutablePointer
        for i in 0..<t.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let u = Float(state >> 40) / Float(1 << 24)
            q[i] = bound == 0 ? 1 + 0.1 * (u - 0.5) : bound * (2 * u - 1)
        }
        tensors[name] = t
    }
    return MemoryStore(tensors)
}

/// HunyuanVideo's VAE at tiny widths (8, 16, 16, 16; 4 norm groups) with random weights.
func tinyHunyuanVAE() throws -> HunyuanVAE {
    var c = HunyuanVAEConfig.openSora2
    c.blockOutChannels = [8, 16, 16, 16]
    c.normGroups = 4
    return try HunyuanVAE(store: randomStore(c.parameterShapes()), config: c)
}

func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var state = seed
    var t = Tensor(uninitialized: shape)
    let q = t.mutablePointer
    for i in 0..<t.count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        q[i] = Float(state >> 40) / Float(1 << 23) - 1
    }
    return t
}

let tinySpatial = AutoencoderKLConfig(blockOutChannels: [8, 16], layersPerBlock: 1, normGroups: 4)
let tinyTemporal = TemporalVAEConfig(filters: 4, numResBlocks: 1, channelMultipliers: [1, 2, 2],
                                     temporalDownsample: [true, true], numGroups: 2)

final class VAEUnitTests: XCTestCase {
    func testCausalPadding() {
        XCTAssertEqual(causalPadding(kernel: 3, timeStride: 1), Padding3D(front: 2, back: 0, top: 1, bottom: 1, left: 1, right: 1))
        XCTAssertEqual(causalPadding(kernel: 3, timeStride: 2), Padding3D(front: 1, back: 0, top: 1, bottom: 1, left: 1, right: 1))
        XCTAssertEqual(causalPadding(kernel: 1, timeStride: 1), Padding3D())
    }

    /// A causal conv's frame t sees frames <= t only, and frame 0 sees two zero frames before it.
    func testCausalConvIsCausal() throws {
        let store = randomStore([("c.conv.weight", [3, 2, 3, 3, 3]), ("c.conv.bias", [3])])
        let conv = try causalConv(store, "c", in: 2, out: 3, kernel: 3, bias: true)
        let x = randomTensor([1, 2, 5, 4, 4], seed: 7)
        let y = conv(x)
        XCTAssertEqual(y.shape, [1, 3, 5, 4, 4])
        var x2 = x
        let p = x2.mutablePointer
        for c in 0..<2 { for i in 0..<16 { p[(c * 5 + 3) * 16 + i] += 1 } }   // change frame 3
        let y2 = conv(x2)
        for o in 0..<3 {
            for t in 0..<5 {
                let d = (0..<16).map { abs(y.pointer[(o * 5 + t) * 16 + $0] - y2.pointer[(o * 5 + t) * 16 + $0]) }.max()!
                if t < 3 { XCTAssertEqual(d, 0, "frame \(t) must not see frame 3") } else { XCTAssertGreaterThan(d, 0) }
            }
        }
        // Frame 0 by hand: only the last time tap (dt = 2) meets real data.
        let w = try store.tensor("c.conv.weight"), b = try store.tensor("c.conv.bias")
        var expect = b.pointer[1]
        for c in 0..<2 { for dh in 0..<3 { for dw in 0..<3 {
            let (ih, iw) = (1 + dh - 1, 2 + dw - 1)
            expect += w.pointer[(((1 * 2 + c) * 3 + 2) * 3 + dh) * 3 + dw] * x.pointer[(c * 5 + 0) * 16 + ih * 4 + iw]
        } } }
        XCTAssertEqual(y.pointer[(1 * 5 + 0) * 16 + 1 * 4 + 2], expect, accuracy: 1e-5)
    }

    func testStridedCausalConvHalvesTime() throws {
        let store = randomStore([("c.conv.weight", [2, 2, 3, 3, 3]), ("c.conv.bias", [2])])
        let conv = try causalConv(store, "c", in: 2, out: 2, kernel: 3, bias: true, timeStride: 2)
        XCTAssertEqual(conv(randomTensor([1, 2, 8, 3, 3], seed: 3)).shape, [1, 2, 4, 3, 3])
    }

    func testDepthToTime() {
        // Channels (c, s) = (0,0),(0,1),(1,0),(1,1); 2 frames; 1x1 pixels.
        let x = Tensor(shape: [1, 4, 2, 1, 1], data: [0, 1, 10, 11, 20, 21, 30, 31])
        let y = depthToTime(x, factor: 2)
        XCTAssertEqual(y.shape, [1, 2, 4, 1, 1])
        XCTAssertEqual(y.array, [0, 10, 1, 11, 20, 30, 21, 31])
    }

    func testConfigInferenceRoundTripsRealShapes() throws {
        let real = AutoencoderKLConfig.stableDiffusion
        XCTAssertEqual(try AutoencoderKLConfig.infer(from: ShapeStore(real.parameterShapes())), real)
        XCTAssertEqual(try AutoencoderKLConfig.infer(from: ShapeStore(tinySpatial.parameterShapes()), normGroups: 4), tinySpatial)
        let temporal = TemporalVAEConfig.openSoraV12
        XCTAssertEqual(try TemporalVAEConfig.infer(from: ShapeStore(temporal.parameterShapes())), temporal)
        XCTAssertEqual(try TemporalVAEConfig.infer(from: ShapeStore(tinyTemporal.parameterShapes()), numGroups: 2), tinyTemporal)
        // The real OpenSoraVAE_V1_2 has 517 tensors, shift and scale included.
        XCTAssertEqual(real.parameterShapes().count + temporal.parameterShapes().count + 2, 517)
        XCTAssertEqual(temporal.latentFrames(17), 5)
        XCTAssertEqual(temporal.latentFrames(1), 1)
    }

    func testMisShapedTensorIsReportedByName() throws {
        var p = tinySpatial.parameterShapes()
        let i = p.firstIndex { $0.0 == "decoder.up_blocks.1.resnets.0.conv2.weight" }!
        p[i].1 = [8, 8, 3, 1]
        XCTAssertThrowsError(try AutoencoderKL(store: randomStore(p), config: tinySpatial)) { e in
            XCTAssertEqual("\(e)", "<memory>: tensor 'decoder.up_blocks.1.resnets.0.conv2.weight' has shape [8, 8, 3, 1], expected [8, 8, 3, 3]")
        }
        var t = tinyTemporal.parameterShapes()
        t.removeAll { $0.0 == "decoder.conv_blocks.1.conv.bias" }
        XCTAssertThrowsError(try TemporalVAE(store: randomStore(t), config: tinyTemporal)) { e in
            XCTAssertEqual("\(e)", "<memory>: missing tensor 'decoder.conv_blocks.1.conv.bias'")
        }
        XCTAssertThrowsError(try AutoencoderKL(store: randomStore(tinySpatial.parameterShapes()), config: {
            var c = tinySpatial; c.normGroups = 3; return c }())) { e in
            XCTAssertTrue("\(e)".contains("cannot be split into 3 norm groups"), "\(e)")
        }
    }

    func testBadInputsThrow() throws {
        let vae = try SpatialVideoVAE(store: randomStore(tinySpatial.parameterShapes()), normGroups: 4)
        XCTAssertThrowsError(try vae.encode(Tensor(zeros: [1, 3, 1, 5, 8])))      // H not a multiple of 2
        XCTAssertThrowsError(try vae.decode(Tensor(zeros: [1, 3, 1, 2, 2])))      // wrong channels
        let t = try TemporalVAE(store: randomStore(tinyTemporal.parameterShapes()), config: tinyTemporal)
        XCTAssertThrowsError(try t.decode(Tensor(zeros: [1, 4, 1, 2, 2]), numFrames: 0))
    }

    /// Micro-batching frames changes nothing beyond float rounding (GEMM blocking differs):
    /// GroupNorm statistics are per frame.
    func testMicroBatchesDoNotChangeNumbers() throws {
        let store = randomStore(tinySpatial.parameterShapes())
        let whole = try SpatialVideoVAE(store: store, normGroups: 4, microBatchSize: nil)
        let split = try SpatialVideoVAE(store: store, normGroups: 4, microBatchSize: 2)
        let z = randomTensor([2, 4, 3, 3, 4], seed: 11)
        XCTAssertLessThan(try whole.decode(z).maxAbsDifference(try split.decode(z)), 1e-5)
        let x = randomTensor([1, 3, 3, 6, 8], seed: 5)
        XCTAssertLessThan(try whole.encode(x).maxAbsDifference(try split.encode(x)), 1e-5)
    }

    func testPipelineFrameBookkeeping() throws {
        var p = tinySpatial.parameterShapes().map { ("spatial_vae.module." + $0.0, $0.1) }
        p += tinyTemporal.parameterShapes().map { ("temporal_vae." + $0.0, $0.1) }
        let vae = try VideoVAE(store: randomStore(p), spatialNormGroups: 4, temporalNormGroups: 2, microFrameSize: 17, microBatchSize: 4)
        XCTAssertEqual(vae.encodeChunks(frames: 51), [0..<17, 17..<34, 34..<51])
        XCTAssertEqual(vae.latentFrames(51), 15)
        XCTAssertEqual(vae.latentFrames(20), 6)                  // 5 + ceil(3 / 4)
        let chunks = vae.decodeChunks(latentFrames: 6, numFrames: 20)
        XCTAssertEqual(chunks.map(\.latents), [0..<5, 5..<6])
        XCTAssertEqual(chunks.map(\.numFrames), [17, 3])
        let z = randomTensor([1, 4, 6, 2, 2], seed: 9)
        XCTAssertEqual(try vae.decode(z, numFrames: 20).shape, [1, 3, 20, 4, 4])
        let x = randomTensor([1, 3, 20, 4, 4], seed: 2)
        XCTAssertEqual(try vae.encode(x).shape, [1, 4, 6, 2, 2])
        // A single image encodes to one latent frame and decodes back to one frame.
        let img = randomTensor([1, 3, 1, 4, 4], seed: 4)
        let zi = try vae.encode(img)
        XCTAssertEqual(zi.shape, [1, 4, 1, 2, 2])
        XCTAssertEqual(try vae.decode(zi, numFrames: 1).shape, [1, 3, 1, 4, 4])
    }
}

final class VAELegacyNamesTests: XCTestCase {
    /// sd-vae-ft-ema style checkpoints name the attention query/key/value/proj_attn (and some
    /// store them as 1x1 convs); both load and give the same numbers as the modern names.
    func testLegacyAttentionNames() throws {
        let modern = randomStore(tinySpatial.parameterShapes())
        var legacy: [String: Tensor] = [:]
        let rename = ["to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"]
        for (name, t) in modern.tensors {
            var n = name, v = t
            for (new, old) in rename where name.contains("attentions.0.\(new).") {
                n = name.replacingOccurrences(of: ".\(new).", with: ".\(old).")
                if name.hasSuffix(".weight") && new == "to_v" { v = t.reshaped(t.shape + [1, 1]) }
            }
            legacy[n] = v
        }
        let a = try SpatialVideoVAE(store: modern, normGroups: 4), b = try SpatialVideoVAE(store: MemoryStore(legacy), normGroups: 4)
        let z = randomTensor([1, 4, 2, 3, 3], seed: 21)
        XCTAssertEqual(try a.decode(z).maxAbsDifference(try b.decode(z)), 0)
    }

    func testVideoAutoencoderSizes() throws {
        var p = tinySpatial.parameterShapes().map { ("spatial_vae.module." + $0.0, $0.1) }
        p += tinyTemporal.parameterShapes().map { ("temporal_vae." + $0.0, $0.1) }
        let codecs: [any VideoAutoencoder] = [
            try SpatialVideoVAE(store: randomStore(tinySpatial.parameterShapes()), normGroups: 4),
            try VideoVAE(store: randomStore(p), spatialNormGroups: 4, temporalNormGroups: 2),
        ]
        XCTAssertEqual(codecs[0].latentSize(frames: 51, height: 8, width: 12), [51, 4, 6])
        XCTAssertEqual(codecs[1].latentSize(frames: 51, height: 8, width: 12), [15, 4, 6])
        XCTAssertEqual(codecs[1].latentSize(frames: 1, height: 8, width: 12), [1, 4, 6])
        XCTAssertThrowsError(try codecs[0].decode(Tensor(zeros: [1, 4, 2, 2, 2]), numFrames: 3))
        XCTAssertThrowsError(try codecs[1].encode(Tensor(zeros: [1, 3, 0, 4, 4]), sampling: .mode))
    }
}
