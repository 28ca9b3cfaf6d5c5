import XCTest
@testable import STDiT
import TensorCore
import Weights

/// STDiT2 (v1.1) and STDiT (v1.0) against the recorded intermediates of their golden cases.
final class OlderVersionsTests: XCTestCase {
    func testSTDiT2IntermediatesMatchReference() throws {
        let w = try SafetensorsFile(path: fixtures + "/stdit2.weights.safetensors")
        let io = try SafetensorsFile(path: fixtures + "/stdit2.io.safetensors")
        let config = try STDiTConfig.inferred(from: w)
        XCTAssertEqual(config.hiddenSize, 72)
        XCTAssertEqual(config.numHeads, 4)
        XCTAssertTrue(config.qkNormLegacy)
        let model = try STDiT2(weights: w)
        let input = STDiT2Input(latent: try io.tensor("x"), timesteps: try io.tensor("timestep").array, caption: try io.tensor("y"),
                                captionMask: try rows(io, "mask"), numFrames: try io.tensor("num_frames").array,
                                height: try io.tensor("height").array, width: try io.tensor("width").array,
                                aspectRatio: try io.tensor("ar").array, fps: try io.tensor("fps").array)
        let p = try model.prepare(input)
        assertClose(p.tokens, try io.tensor("x_embed_plus_pos"), 1e-5, "x_embed_plus_pos")
        var x = p.tokens
        model.blocks[0](&x, p.context)
        assertClose(x, try io.tensor("block0_out"), 1e-5, "block0_out")
        assertClose(try model(input), try io.tensor("out"), 1e-5, "out")

        // The legacy order matters: normalising first gives other numbers.
        var modern = config
        modern.qkNormLegacy = false
        XCTAssertGreaterThan(try STDiT2(weights: w, config: modern)(input).maxAbsDifference(try io.tensor("out")), 1e-4)
    }

    func testSTDiTV1IntermediatesMatchReference() throws {
        let w = try SafetensorsFile(path: fixtures + "/stdit.weights.safetensors")
        let io = try SafetensorsFile(path: fixtures + "/stdit.io.safetensors")
        let model = try STDiTV1(weights: w, numHeads: 4)
        XCTAssertEqual(model.config, STDiTConfig(inChannels: 4, outChannels: 8, patchSize: [1, 2, 2], hiddenSize: 64, depth: 2, numHeads: 4,
                                                 mlpHidden: 256, captionChannels: 64, modelMaxLength: 16, qkNorm: false))
        let input = STDiTV1Input(latent: try io.tensor("x"), timesteps: try io.tensor("timestep").array, caption: try io.tensor("y"),
                                 captionMask: try rows(io, "mask"))
        assertClose(try model(input), try io.tensor("out"), 1e-5, "out")
        var masked = input
        masked.frameMask = try rows(io, "x_mask")
        assertClose(try model(masked), try io.tensor("xmask_out"), 1e-5, "xmask_out")

        // The latent size is fixed by the position-embedding buffers.
        var wrong = input
        wrong.latent = Tensor(zeros: [2, 4, 3, 8, 8])
        XCTAssertThrowsError(try model(wrong)) { XCTAssertTrue("\($0)".contains("position embeddings are for 4 x 16")) }
    }
}
