import XCTest
@testable import STDiT
import TensorCore
import Weights

/// STDiT (v1.0) and STDiT2 (v1.1): batching, checkpoint and input errors. (Outputs and
/// intermediates against the reference: STDiTGoldenTests and OlderVersionsTests.)
final class LegacySTDiTTests: XCTestCase {
    func stdit2Case() throws -> (weights: SafetensorsFile, io: SafetensorsFile, input: STDiT2Input) {
        let io = try SafetensorsFile(path: fixtures + "/stdit2.io.safetensors")
        let rows = try io.integers("mask"), l = try io.shape("mask")[1]
        let input = STDiT2Input(latent: try io.tensor("x"), timesteps: try io.tensor("timestep").array, caption: try io.tensor("y"),
                                captionMask: stride(from: 0, to: rows.count, by: l).map { rows[$0..<($0 + l)].map { $0 != 0 } },
                                numFrames: try io.tensor("num_frames").array, height: try io.tensor("height").array,
                                width: try io.tensor("width").array, aspectRatio: try io.tensor("ar").array, fps: try io.tensor("fps").array)
        return (try SafetensorsFile(path: fixtures + "/stdit2.weights.safetensors"), io, input)
    }

    func config(_ w: WeightStore) throws -> STDiTConfig {
        var c = try STDiTConfig.inferred(from: w, numHeads: 4)
        c.qkNormLegacy = true
        return c
    }

    func testSTDiT2BatchOfOneEqualsBatched() throws {
        let k = try stdit2Case()
        let model = try STDiT2(weights: k.weights, config: try config(k.weights))
        let both = try model(k.input)
        // The position scale follows sample 0's size: sample 1 alone matches when the sizes agree.
        XCTAssertEqual(k.input.height[0], k.input.height[1])
        var one = k.input
        one.latent = k.input.latent.slice(1..<2); one.timesteps = [k.input.timesteps[1]]
        one.caption = k.input.caption.slice(1..<2); one.captionMask = [k.input.captionMask![1]]
        one.numFrames = [k.input.numFrames[1]]; one.height = [k.input.height[1]]; one.width = [k.input.width[1]]
        one.aspectRatio = [k.input.aspectRatio[1]]; one.fps = [k.input.fps[1]]
        let single = try model(one)
        XCTAssertLessThan(single.maxAbsDifference(both.slice(1..<2)), 1e-5)
    }

    func testMissingAndMisshapedTensorsAreNamed() throws {
        let k = try stdit2Case()
        var tensors = [String: Tensor]()
        for n in k.weights.names { tensors[n] = try k.weights.tensor(n) }
        let c = try config(k.weights)
        tensors["blocks.1.scale_shift_table_temporal"] = nil
        XCTAssertThrowsError(try STDiT2(weights: MemoryStore(tensors, description: "ckpt"), config: c)) { e in
            XCTAssertEqual("\(e)", "ckpt: missing tensor 'blocks.1.scale_shift_table_temporal'")
        }
        tensors["blocks.1.scale_shift_table_temporal"] = try k.weights.tensor("blocks.1.scale_shift_table_temporal")
        tensors["csize_embedder.mlp.0.weight"] = Tensor(zeros: [72, 256])
        XCTAssertThrowsError(try STDiT2(weights: MemoryStore(tensors, description: "ckpt"), config: c)) { e in
            XCTAssertTrue("\(e)".contains("'csize_embedder.mlp.0.weight' has shape [72, 256]"), "\(e)")
        }

        let v1 = try SafetensorsFile(path: fixtures + "/stdit.weights.safetensors")
        var t1 = [String: Tensor]()
        for n in v1.names { t1[n] = try v1.tensor(n) }
        t1["pos_embed_temporal"] = nil
        XCTAssertThrowsError(try STDiTV1(weights: MemoryStore(t1, description: "ckpt"), numHeads: 4)) { e in
            XCTAssertTrue("\(e)".contains("pos_embed_temporal"), "\(e)")
        }
    }

    func testBadInputsAreRefused() throws {
        let k = try stdit2Case()
        let model = try STDiT2(weights: k.weights, config: try config(k.weights))
        var input = k.input
        input.timesteps = [1]
        XCTAssertThrowsError(try model(input)) { XCTAssertTrue("\($0)".contains("timestep"), "\($0)") }
        input = k.input
        input.fps = [24, 24, 24]
        XCTAssertThrowsError(try model(input)) { XCTAssertTrue("\($0)".contains("fps"), "\($0)") }
        XCTAssertThrowsError(try guidanceCaption(k.input.caption, mask: nil, null: model.nullCaption.reshaped([1, model.nullCaption.count]))) {
            XCTAssertTrue("\($0)".contains("null caption"), "\($0)")
        }
    }
}
