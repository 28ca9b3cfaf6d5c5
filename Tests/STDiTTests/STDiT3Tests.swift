import XCTest
@testable import STDiT
import TensorCore
import Weights

/// Folder holding the golden cases copied from the reference run (Tests/Fixtures/golden).
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/golden").path

/// The stdit3 golden case: its weights, io tensors and call-1 input.
struct STDiT3Case {
    let weights: SafetensorsFile
    let io: SafetensorsFile
    let model: STDiT3
    let input: STDiT3Input

    init() throws {
        weights = try SafetensorsFile(path: fixtures + "/stdit3.weights.safetensors")
        io = try SafetensorsFile(path: fixtures + "/stdit3.io.safetensors")
        model = try STDiT3(weights: weights)
        input = STDiT3Input(latent: try io.tensor("x"), timesteps: try io.tensor("timestep").array, caption: try io.tensor("y"),
                            captionMask: try rows(io, "mask"), fps: try io.tensor("fps").array,
                            height: try io.tensor("height")[flat: 0], width: try io.tensor("width")[flat: 0])
    }
}

func rows(_ io: SafetensorsFile, _ name: String) throws -> [[Bool]] {
    let shape = try io.shape(name), flat = try io.integers(name)
    return (0..<shape[0]).map { r in flat[(r * shape[1])..<((r + 1) * shape[1])].map { $0 != 0 } }
}

func assertClose(_ got: Tensor, _ expected: Tensor, _ tol: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, expected.count, "\(what): \(got.shape) vs \(expected.shape)", file: file, line: line)
    guard got.count == expected.count else { return }
    let d = got.maxAbsDifference(expected)
    XCTAssertLessThanOrEqual(d, tol, "\(what): max abs difference \(d)", file: file, line: line)
}

final class STDiT3Tests: XCTestCase {
    func testConfigIsInferredFromCheckpoint() throws {
        let w = try SafetensorsFile(path: fixtures + "/stdit3.weights.safetensors")
        let c = try STDiT3Config.inferred(from: w)
        XCTAssertEqual(c, STDiT3Config(inChannels: 4, outChannels: 8, patchSize: [1, 2, 2], hiddenSize: 64, depth: 2, numHeads: 4,
                                       mlpHidden: 256, captionChannels: 64, modelMaxLength: 16, inputSqSize: 512, qkNorm: true))
    }

    /// Every recorded intermediate of the reference, step by step.
    func testIntermediatesMatchReference() throws {
        let k = try STDiT3Case()
        let tol: Float = 1e-5
        let m = k.model
        let p = try m.prepare(k.input)
        let g = p.geometry
        assertClose(m.positionEmbedding(h: g.patchesH, w: g.patchesW, height: k.input.height, width: k.input.width),
                    try k.io.tensor("pos_emb"), 1e-6, "pos_emb")
        assertClose(m.trunk.tEmbedder(k.input.timesteps), try k.io.tensor("t_emb"), tol, "t_emb")
        assertClose(m.fpsEmbedder(k.input.fps), try k.io.tensor("fps_emb"), tol, "fps_emb")
        assertClose(p.t, try k.io.tensor("t_plus_fps"), tol, "t_plus_fps")
        assertClose(p.context.timestep, try k.io.tensor("t_mlp"), tol, "t_mlp")
        assertClose(p.tokens, try k.io.tensor("x_embed_plus_pos"), tol, "x_embed_plus_pos")

        // y_packed: the real tokens of every sample, one after the other.
        var packed = [Float]()
        let y = p.context.caption, length = y.shape[1], c = y.shape[2]
        for (b, mask) in k.input.captionMask!.enumerated() {
            for (j, real) in mask.prefix(length).enumerated() where real {
                packed += Array(y.array[((b * length + j) * c)..<((b * length + j + 1) * c)])
            }
        }
        assertClose(Tensor(shape: [1, packed.count / c, c], data: packed), try k.io.tensor("y_packed"), tol, "y_packed")

        var x = p.tokens
        m.spatialBlocks[0](&x, p.context)
        assertClose(x, try k.io.tensor("spatial_block0_out"), tol, "spatial_block0_out")
        m.temporalBlocks[0](&x, p.context)
        assertClose(x, try k.io.tensor("temporal_block0_out"), tol, "temporal_block0_out")
        for i in 1..<m.config.depth {
            m.spatialBlocks[i](&x, p.context)
            m.temporalBlocks[i](&x, p.context)
        }
        assertClose(m.trunk.finalLayer(x, t: p.t, t0: nil, frameMask: nil, grid: g.grid), try k.io.tensor("final_layer_out"), tol, "final_layer_out")
        assertClose(try m(k.input), try k.io.tensor("out"), tol, "out")

        var masked = k.input
        masked.frameMask = try rows(k.io, "x_mask")
        let pm = try m.prepare(masked)
        assertClose(pm.context.zeroTimestep!, try k.io.tensor("xmask_t0_mlp"), tol, "xmask_t0_mlp")
        var xm = pm.tokens
        m.spatialBlocks[0](&xm, pm.context)
        assertClose(xm, try k.io.tensor("xmask_spatial_block0_out"), tol, "xmask_spatial_block0_out")
        assertClose(try m(masked), try k.io.tensor("xmask_out"), tol, "xmask_out")
    }

    /// Sample i of a batch gives what it gives alone; the guidance batch is cond + null caption.
    func testBatchOfOneEqualsBatched() throws {
        let k = try STDiT3Case()
        var masked = k.input
        masked.frameMask = try rows(k.io, "x_mask")
        let batched = try k.model(masked)
        for i in 0..<2 {
            var one = masked
            one.latent = masked.latent.slice(i..<(i + 1))
            one.timesteps = [masked.timesteps[i]]
            one.caption = masked.caption.slice(i..<(i + 1))
            one.captionMask = [masked.captionMask![i]]
            one.frameMask = [masked.frameMask![i]]
            one.fps = [masked.fps[i]]
            assertClose(try k.model(one), batched.slice(i..<(i + 1)), 1e-6, "sample \(i)")

            // Guidance batch [cond, null] of this sample: the one guidance caption (STDiT/Guidance.swift).
            let guided = try guidanceCaption(one.caption, mask: one.captionMask, null: k.model.nullCaption)
            var cfg = one
            cfg.latent = concat([one.latent, one.latent], axis: 0)
            cfg.timesteps = one.timesteps + one.timesteps
            cfg.caption = guided.caption
            cfg.captionMask = guided.mask
            cfg.frameMask = one.frameMask.map { $0 + $0 }
            cfg.fps = one.fps + one.fps
            XCTAssertEqual(cfg.batch, 2)
            let out = try k.model(cfg)
            assertClose(out.slice(0..<1), batched.slice(i..<(i + 1)), 1e-6, "cfg cond half \(i)")
            var null = one
            null.caption = k.model.nullCaption.toTensor().reshaped([1, 16, 64])
            assertClose(out.slice(1..<2), try k.model(null), 1e-6, "cfg null half \(i)")
        }
    }

    /// H and W that are not multiples of the patch are zero-padded and the output cropped.
    func testPatchPaddingEqualsExplicitZeroPadding() throws {
        let k = try STDiT3Case()
        var odd = k.input
        odd.latent = narrow(narrow(k.input.latent, axis: 3, 0..<7), axis: 4, 0..<9)    // [2, 4, 3, 7, 9]
        var padded = odd
        padded.latent = pad(pad(odd.latent, axis: 3, before: 0, after: 1), axis: 4, before: 0, after: 1)
        let a = try k.model(odd), b = try k.model(padded)
        XCTAssertEqual(a.shape, [2, 8, 3, 7, 9])
        assertClose(a, narrow(narrow(b, axis: 3, 0..<7), axis: 4, 0..<9), 0, "cropped")
    }

    /// A bf16 safetensors checkpoint (the published format) loads without conversion and gives
    /// the float32 result to bf16 accuracy.
    func testBF16CheckpointRuns() throws {
        let k = try STDiT3Case()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stdit3-bf16-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsWriter().write(try k.weights.names.map { SafetensorsWriter.item($0, try k.weights.tensor($0), as: .bf16) }, to: path)
        let bf16 = try SafetensorsFile(path: path)
        XCTAssertEqual(bf16.info("spatial_blocks.0.attn.qkv.weight")?.dtype, .bf16)
        let model = try STDiT3(weights: bf16)
        XCTAssertEqual(model.spatialBlocks[0].attn.qkv.weight.dtype, .bf16)
        let expected = try k.io.tensor("out")
        let d = try model(k.input).maxAbsDifference(expected)
        XCTAssertGreaterThan(d, 0)
        XCTAssertLessThan(d, 0.05)
    }

    func testMissingTensorIsNamed() throws {
        let k = try STDiT3Case()
        var tensors = [String: Tensor]()
        for n in k.weights.names { tensors[n] = try k.weights.tensor(n) }
        tensors["temporal_blocks.1.cross_attn.kv_linear.bias"] = nil
        let config = try STDiT3Config.inferred(from: k.weights)
        XCTAssertThrowsError(try STDiT3(weights: MemoryStore(tensors, description: "ckpt"), config: config)) { e in
            XCTAssertEqual("\(e)", "ckpt: missing tensor 'temporal_blocks.1.cross_attn.kv_linear.bias'")
        }
    }

    func testMisshapedTensorIsNamed() throws {
        let k = try STDiT3Case()
        var tensors = [String: Tensor]()
        for n in k.weights.names { tensors[n] = try k.weights.tensor(n) }
        tensors["spatial_blocks.0.mlp.fc2.weight"] = Tensor(zeros: [64, 255])
        XCTAssertThrowsError(try STDiT3(weights: MemoryStore(tensors, description: "ckpt"))) { e in
            XCTAssertEqual("\(e)", "ckpt: tensor 'spatial_blocks.0.mlp.fc2.weight' has shape [64, 255], expected [64, 256]")
        }
        tensors["spatial_blocks.0.mlp.fc2.weight"] = try k.weights.tensor("spatial_blocks.0.mlp.fc2.weight")
        tensors["rope.freqs"] = Tensor(zeros: [7])
        XCTAssertThrowsError(try STDiT3(weights: MemoryStore(tensors, description: "ckpt"))) { e in
            XCTAssertEqual("\(e)", "ckpt: tensor 'rope.freqs' has shape [7], expected [8]")
        }
    }

    func testBadInputsAreRefused() throws {
        let k = try STDiT3Case()
        var bad = k.input
        bad.timesteps = [1]
        XCTAssertThrowsError(try k.model(bad)) { XCTAssertEqual("\($0)", "STDiT input: 1 timesteps for a batch of 2") }
        bad = k.input
        bad.frameMask = [[true], [true]]
        XCTAssertThrowsError(try k.model(bad)) { XCTAssertTrue("\($0)".contains("x_mask")) }
        bad = k.input
        bad.captionMask![1] = [Bool](repeating: false, count: 16)
        XCTAssertThrowsError(try k.model(bad)) { XCTAssertEqual("\($0)", "STDiT input: caption mask of sample 1 selects no tokens") }
        bad = k.input
        bad.latent = Tensor(zeros: [2, 3, 3, 8, 10])
        XCTAssertThrowsError(try k.model(bad))
        XCTAssertThrowsError(try guidanceCaption(Tensor(zeros: [2, 5, 64]), mask: nil, null: k.model.nullCaption))
    }
}
