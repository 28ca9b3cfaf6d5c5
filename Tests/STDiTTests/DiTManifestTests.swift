import Foundation
import STDiT
import TensorCore
import Weights
import XCTest

/// configs/manifests/dit-xl2-256.json (the published DiT-XL/2 256x256 state dict, from the golden
/// manifest) lists exactly DiTConfig.xl2_256's tensors, and the configuration read off those
/// shapes is DiT-XL/2's (heads from the published-width table).
final class DiTManifestTests: XCTestCase {
    /// Names and shapes only: what DiTConfig.inferred reads.
    final class ShapeStore: WeightStore, @unchecked Sendable {
        let shapes: [String: [Int]]
        init(_ shapes: [String: [Int]]) { self.shapes = shapes }
        var sourceDescription: String { "<manifest>" }
        var names: [String] { shapes.keys.sorted() }
        func info(_ name: String) -> TensorInfo? { shapes[name].map { TensorInfo(name: name, dtype: .f32, shape: $0) } }
        func weight(_ name: String) throws -> WeightTensor { throw WeightsError.missingTensor(name: name, source: sourceDescription) }
    }

    func manifest() throws -> [(String, [Int])] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("configs/manifests/dit-xl2-256.json"))
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(obj["num_tensors"] as? Int, 292)
        XCTAssertEqual(obj["total_parameters"] as? Int, 675_129_632)
        return try XCTUnwrap(obj["tensors"] as? [[String: Any]]).map { (try XCTUnwrap($0["name"] as? String), try XCTUnwrap($0["shape"] as? [Int])) }
    }

    func testManifestMatchesXL2Config() throws {
        let listed = try manifest()
        let expected = DiTConfig.xl2_256.parameterShapes()
        XCTAssertEqual(listed.map(\.0), expected.map(\.0))
        XCTAssertEqual(listed.map(\.1), expected.map(\.1))
        XCTAssertEqual(expected.map { $0.1.reduce(1, *) }.reduce(0, +), 675_129_632)
    }

    func testConfigReadOffTheCheckpointShapes() throws {
        var shapes = Dictionary(uniqueKeysWithValues: try manifest())
        XCTAssertEqual(try DiTConfig.inferred(from: ShapeStore(shapes)), .xl2_256)
        shapes["pos_embed"] = [1, 1024, 1152]
        XCTAssertEqual(try DiTConfig.inferred(from: ShapeStore(shapes)), .xl2_512)
        shapes["pos_embed"] = [1, 1000, 1152]
        XCTAssertThrowsError(try DiTConfig.inferred(from: ShapeStore(shapes))) { XCTAssertTrue("\($0)".contains("pos_embed"), "\($0)") }
    }

    /// Wrong labels and sizes are errors that name the problem, not crashes.
    func testBadInputs() throws {
        let config = DiTConfig(inChannels: 4, outChannels: 8, patchSize: 2, hiddenSize: 32, depth: 1, numHeads: 2,
                               mlpHidden: 64, numClasses: 3, inputSize: 4)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in config.parameterShapes() { tensors[name] = Tensor(repeating: 0.01, shape: shape) }
        tensors["pos_embed"] = config.positionTable().reshaped([1, config.tokens, 32])
        let model = try DiT(weights: MemoryStore(tensors), config: config)
        let x = Tensor(repeating: 0.1, shape: [2, 4, 4, 4])
        XCTAssertEqual(try model(x, timesteps: [10, 20], labels: [0, 3]).shape, [2, 8, 4, 4])
        XCTAssertThrowsError(try model(x, timesteps: [10, 20], labels: [0, 4])) { XCTAssertTrue("\($0)".contains("class label 4"), "\($0)") }
        XCTAssertThrowsError(try model(Tensor(repeating: 0, shape: [2, 4, 8, 8]), timesteps: [1, 2], labels: [0, 1])) {
            XCTAssertTrue("\($0)".contains("[B, 4, 4, 4]"), "\($0)")
        }
        XCTAssertThrowsError(try model(x, timesteps: [1], labels: [0, 1])) { XCTAssertTrue("\($0)".contains("1 timesteps"), "\($0)") }
    }
}
