import XCTest
@testable import CLIP
import TensorCore
import Weights

/// CLIP text model behaviour the golden case does not isolate: config from the checkpoint,
/// the causal mask (pads after <|endoftext|> cannot move the pooled row), bad input.
final class CLIPTextModelTests: XCTestCase {
    /// A random tiny CLIP text tower: hidden 8, 2 layers, mlp 16, 10 positions, vocab 20.
    static func randomStore(layers: Int = 2) -> MemoryStore {
        var rng = SplitMix64(seed: 3)
        func t(_ shape: [Int], scale: Float = 0.3) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in (Float(rng.next() % 2001) / 1000 - 1) * scale })
        }
        var w: [String: Tensor] = ["text_model.embeddings.token_embedding.weight": t([20, 8]),
                                   "text_model.embeddings.position_embedding.weight": t([10, 8]),
                                   "text_model.final_layer_norm.weight": t([8]), "text_model.final_layer_norm.bias": t([8])]
        for i in 0..<layers {
            let p = "text_model.encoder.layers.\(i)."
            for n in ["q_proj", "k_proj", "v_proj", "out_proj"] { w[p + "self_attn.\(n).weight"] = t([8, 8]); w[p + "self_attn.\(n).bias"] = t([8]) }
            for n in ["layer_norm1", "layer_norm2"] { w[p + n + ".weight"] = t([8]); w[p + n + ".bias"] = t([8]) }
            w[p + "mlp.fc1.weight"] = t([16, 8]); w[p + "mlp.fc1.bias"] = t([16])
            w[p + "mlp.fc2.weight"] = t([8, 16]); w[p + "mlp.fc2.bias"] = t([8])
        }
        return MemoryStore(w, description: "random-clip")
    }

    func testConfigFromCheckpoint() throws {
        let m = try CLIPTextModel(weights: Self.randomStore(), heads: 2)
        XCTAssertEqual(m.config, CLIPTextConfig(vocabSize: 20, hidden: 8, positions: 10, layers: 2, intermediate: 16, heads: 2, eps: 1e-5))
        XCTAssertThrowsError(try CLIPTextModel(weights: Self.randomStore(), heads: 3)) { XCTAssertTrue("\($0)".contains("3 heads"), "\($0)") }
    }

    func testPadsAfterEndOfTextDoNotChangeThePooledRow() throws {
        let m = try CLIPTextModel(weights: Self.randomStore(), heads: 2)
        let a = try m([[18, 3, 4, 19, 19, 19, 19]]), b = try m([[18, 3, 4, 19, 7, 1, 2]])
        XCTAssertEqual(a.poolIndex, [3])
        XCTAssertEqual(b.poolIndex, [3])
        // Masked keys get exp(-87) ~ 1e-38 from the engine's clamped exp, not an exact 0: agreement to rounding.
        XCTAssertLessThanOrEqual(a.pooled.maxAbsDifference(b.pooled), 1e-6)
        // A token before the pooled position does change it.
        XCTAssertGreaterThan(try m([[18, 5, 4, 19, 19, 19, 19]]).pooled.maxAbsDifference(a.pooled), 1e-3)
        // Batch rows are independent.
        let both = try m([[18, 3, 4, 19, 19, 19, 19], [18, 5, 4, 19, 19, 19, 19]])
        XCTAssertLessThanOrEqual(both.pooled.slice(0..<1).maxAbsDifference(a.pooled), 1e-6)
    }

    /// Same bytes at one thread and at the default count.
    func testThreadCountDoesNotChangeTheOutput() throws {
        let m = try CLIPTextModel(weights: Self.randomStore(), heads: 2)
        let ids = [[18, 3, 4, 19, 19, 19, 19, 19, 19, 19], [18, 5, 19, 19, 19, 19, 19, 19, 19, 19]]
        let many = try m(ids).lastHiddenState.array
        let threads = Runtime.threads
        Runtime.setThreads(1)
        defer { Runtime.setThreads(threads) }
        XCTAssertEqual(try m(ids).lastHiddenState.array, many)
    }

    func testBadInput() throws {
        let m = try CLIPTextModel(weights: Self.randomStore(), heads: 2)
        XCTAssertThrowsError(try m([[1, 2, 20]])) { XCTAssertTrue("\($0)".contains("id 20"), "\($0)") }
        XCTAssertThrowsError(try m([[Int]](repeating: [1], count: 1).map { _ in [Int](repeating: 1, count: 11) })) { XCTAssertTrue("\($0)".contains("10 positions"), "\($0)") }
        XCTAssertThrowsError(try m([[1, 2], [1]])) { XCTAssertTrue("\($0)".contains("row 1"), "\($0)") }
        var w = Self.randomStore().tensors
        w["text_model.encoder.layers.1.mlp.fc2.weight"] = Tensor(repeating: 0, shape: [8, 15])
        XCTAssertThrowsError(try CLIPTextModel(weights: MemoryStore(w, description: "bad"), heads: 2)) {
            XCTAssertTrue("\($0)".contains("text_model.encoder.layers.1.mlp.fc2.weight"), "\($0)")
        }
    }
}
