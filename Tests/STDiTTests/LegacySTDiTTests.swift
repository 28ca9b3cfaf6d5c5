import XCTest
@testable import STDiT
import TensorCore
import Weights

/// STDiT (v1.0) and STDiT2 (v1.1): intermediates of the golden cases, checkpoint and input errors.
/// (The outputs themselves are checked by the golden runner: LegacyGoldenTests.)
final class LegacySTDiTTests: XCTestCase {
    func load(_ name: String) throws -> (weights: SafetensorsFile, io: SafetensorsFile, input: LegacySTDiTInput) {
        let io = try SafetensorsFile(path: fixtures + "/\(name).io.safetensors")
        let input = LegacySTDiTInput(latent: try io.tensor("x"), timesteps: try io.tensor("timestep").array, caption: try io.tensor("y"),
                                     captionMask: try rows(io, "mask"))
        return (try SafetensorsFile(path: fixtures + "/\(name).weights.safetensors"), io, input)
    }

    func resolution(_ io: SafetensorsFile) throws -> MultiResolutionInfo {
        MultiResolutionInfo(height: try io.tensor("height").array, width: try io.tensor("width").array, aspectRatio: try io.tensor("ar").array,
                            numFrames: try io.tensor("num_frames").array, fps: try io.tensor("fps").array)
    }

    func testConfigsAreInferredFromCheckpoints() throws {
        let v1 = try STDiTV1Config.inferred(from: try load("stdit").weights, numHeads: 4)
        XCTAssertEqual(v1.sizes, LegacySTDiTSizes(inChannels: 4, outChannels: 8, patchSize: [1, 2, 2], hiddenSize: 64, depth: 2, numHeads: 4,
                                                  mlpHidden: 256, captionChannels: 64, modelMaxLength: 16))
        let v2 = try STDiT2Config.inferred(from: try load("stdit2").weights)
        XCTAssertEqual(v2, STDiT2Config(sizes: LegacySTDiTSizes(inChannels: 4, outChannels: 8, patchSize: [1, 2, 2], hiddenSize: 72, depth: 2,
                                                                numHeads: 4, mlpHidden: 288, captionChannels: 64, modelMaxLength: 16),
                                        inputSqSize: 512, qkNorm: true, qkNormLegacy: true))
    }

    /// v1.0: the embedded tokens, t_block's output and block 0's output, with the temporal table.
    func testSTDiTV1Intermediates() throws {
        let k = try load("stdit")
        let model = try STDiTV1(weights: k.weights, config: STDiTV1Config.inferred(from: k.weights, numHeads: 4))
        let g = try checkLegacyInput(k.input, inChannels: 4, captionChannels: 64, patch: [1, 2, 2])
        var x = addingRowEmbedding(model.xEmbedder(k.input.latent).reshaped([g.grid.tokens, 64]), model.spatialPosition, every: 1)
        assertClose(x, try k.io.tensor("x_embed_plus_pos"), 1e-6, "x_embed_plus_pos")
        let tMlp = model.tBlock(silu(model.tEmbedder(k.input.timesteps)))
        assertClose(tMlp, try k.io.tensor("t_mlp"), 1e-6, "t_mlp")
        let (caption, mask) = model.yEmbedder.embed(k.input.caption, mask: k.input.captionMask)
        let ctx = BlockContext(grid: g.grid, timestep: tMlp, zeroTimestep: nil, frameMask: nil, caption: caption, captionMask: mask, rope: nil)
        model.blocks[0](&x, ctx, temporalPosition: model.temporalPosition)
        assertClose(x, try k.io.tensor("block0_out"), 1e-5, "block0_out")
    }

    /// v1.1: the embedded tokens with the per-call position embedding (scale from sample 0's size).
    func testSTDiT2EmbeddedTokens() throws {
        let k = try load("stdit2")
        let model = try STDiT2(weights: k.weights)
        let r = try resolution(k.io)
        let g = try checkLegacyInput(k.input, inChannels: 4, captionChannels: 64, patch: [1, 2, 2])
        let scale = (Double(r.height[0]) * Double(r.width[0])).squareRoot() / 512
        let base = Int(Double(g.grid.spatial).squareRoot().rounded(.toNearestOrEven))
        let pos = positionEmbedding2D(dim: 72, h: g.patchesH, w: g.patchesW, scale: scale, baseSize: base)
        let x = addingRowEmbedding(model.xEmbedder(k.input.latent).reshaped([g.grid.tokens, 72]), pos, every: 1)
        assertClose(x, try k.io.tensor("x_embed_plus_pos"), 1e-6, "x_embed_plus_pos")
    }

    func testSTDiT2BatchOfOneEqualsBatched() throws {
        let k = try load("stdit2")
        let model = try STDiT2(weights: k.weights)
        let r = try resolution(k.io)
        let both = try model(k.input, resolution: r)
        // The position scale follows sample 0's size: sample 1 alone matches only when the sizes agree.
        XCTAssertEqual(r.height[0], r.height[1])
        XCTAssertEqual(r.width[0], r.width[1])
        var one = k.input
        one.latent = k.input.latent.slice(1..<2); one.timesteps = [k.input.timesteps[1]]
        one.caption = k.input.caption.slice(1..<2); one.captionMask = [k.input.captionMask![1]]
        let single = try model(one, resolution: MultiResolutionInfo(height: [r.height[1]], width: [r.width[1]], aspectRatio: [r.aspectRatio[1]],
                                                                  numFrames: [r.numFrames[1]], fps: [r.fps[1]]))
        assertClose(single, both.slice(1..<2), 1e-5, "sample 1 alone")
    }

    func testMissingAndMisshapedTensorsAreNamed() throws {
        let k = try load("stdit2")
        var tensors = [String: Tensor]()
        for n in k.weights.names { tensors[n] = try k.weights.tensor(n) }
        let config = try STDiT2Config.inferred(from: k.weights)
        tensors["blocks.1.scale_shift_table_temporal"] = nil
        XCTAssertThrowsError(try STDiT2(weights: MemoryStore(tensors, description: "ckpt"), config: config)) { e in
            XCTAssertEqual("\(e)", "ckpt: missing tensor 'blocks.1.scale_shift_table_temporal'")
        }
        tensors["blocks.1.scale_shift_table_temporal"] = try k.weights.tensor("blocks.1.scale_shift_table_temporal")
        tensors["csize_embedder.mlp.0.weight"] = Tensor(zeros: [72, 256])
        XCTAssertThrowsError(try STDiT2(weights: MemoryStore(tensors, description: "ckpt"), config: config)) { e in
            XCTAssertEqual("\(e)", "ckpt: tensor 'csize_embedder.mlp.0.weight' has shape [72, 256], expected [24, 256]")
        }

        let v1 = try load("stdit")
        var t1 = [String: Tensor]()
        for n in v1.weights.names { t1[n] = try v1.weights.tensor(n) }
        t1["pos_embed_temporal"] = nil
        XCTAssertThrowsError(try STDiTV1(weights: MemoryStore(t1, description: "ckpt"), config: STDiTV1Config.inferred(from: v1.weights, numHeads: 4))) { e in
            XCTAssertEqual("\(e)", "ckpt: missing tensor 'pos_embed_temporal'")
        }
    }

    func testBadInputsAreRefused() throws {
        let k = try load("stdit2")
        let model = try STDiT2(weights: k.weights)
        let r = try resolution(k.io)
        var bad = r
        bad.fps = [24, 24, 24]
        XCTAssertThrowsError(try model(k.input, resolution: bad)) { XCTAssertEqual("\($0)", "STDiT input: 3 fps values for a batch of 2") }
        var input = k.input
        input.timesteps = [1]
        XCTAssertThrowsError(try model(input, resolution: r)) { XCTAssertEqual("\($0)", "STDiT input: 1 timesteps for a batch of 2") }

        let v1 = try load("stdit")
        let stdit = try STDiTV1(weights: v1.weights, config: STDiTV1Config.inferred(from: v1.weights, numHeads: 4))
        input = v1.input
        input.latent = Tensor(zeros: [2, 4, 4, 8, 6])
        XCTAssertThrowsError(try stdit(input)) { XCTAssertTrue("\($0)".contains("fixed input size"), "\($0)") }
        XCTAssertThrowsError(try v1.input.doubledForGuidance(nullCaption: Tensor(zeros: [5, 64]))) { XCTAssertTrue("\($0)".contains("null caption")) }
    }
}
