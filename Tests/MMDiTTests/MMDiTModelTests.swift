import MMDiT
import STDiT
import TensorCore
import Weights
import XCTest

/// The tiny golden model's inputs: a 2x4x6 latent (12 tokens), 5 text rows, zero cond.
func tinyInput(batch b: Int) throws -> MMDiTInput {
    let z = Tensor(repeating: 0.3, shape: [b, 16, 2, 4, 6])
    let p = try Packing.prepareIds(latent: z, t5: Tensor(repeating: 0.1, shape: [1, 5, 32]), clip: Tensor(repeating: 0.2, shape: [1, 16]))
    return MMDiTInput(img: p.img, imgIds: p.imgIds, txt: p.txt, txtIds: p.txtIds, timesteps: [Float](repeating: 0.4, count: b),
                      yVec: p.yVec, cond: Tensor(zeros: [b, 12, 68]))
}

let goldenFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/golden").path
let mmditWeights = goldenFolder + "/v2_mmdit/mmdit.weights.safetensors"
let tinyPositional = MMDiTConfig.Positional(axesDim: [4, 10, 10], theta: 10000)

/// The model's output on the tiny batch-2 input at 1 thread and at 2 threads, after asserting that
/// two calls at 2 threads give the same bytes.
func outputsAtOneAndTwoThreads(_ model: MMDiT, file: StaticString = #filePath, line: UInt = #line) throws -> (one: Tensor, two: Tensor) {
    let input = try tinyInput(batch: 2)
    let before = Runtime.threads
    defer { Runtime.setThreads(before) }
    Runtime.setThreads(1)
    let one = try model(input)
    Runtime.setThreads(2)
    let two = try model(input), again = try model(input)
    XCTAssertTrue(two.array == again.array, "two calls at 2 threads differ by \(two.maxAbsDifference(again))", file: file, line: line)
    return (one, two)
}

final class MMDiTModelTests: XCTestCase {
    func testConfigIsReadOffTheCheckpoint() throws {
        let c = try MMDiTConfig.inferred(from: try SafetensorsFile(path: mmditWeights), positional: tinyPositional)
        XCTAssertEqual(c, MMDiTConfig(inChannels: 64, vecInDim: 16, contextInDim: 32, hiddenSize: 96, mlpHidden: 384, numHeads: 4,
                                      depth: 2, depthSingleBlocks: 2, positional: tinyPositional, qkvBias: true, condEmbed: true, patchSize: 2))
        let p1 = try MMDiTConfig.inferred(from: try SafetensorsFile(path: goldenFolder + "/v2_mmdit/mmdit_p1.weights.safetensors"),
                                          positional: .init(axesDim: [4, 6, 6]))
        XCTAssertEqual([p1.inChannels, p1.patchSize, p1.condChannels, p1.numHeads], [128, 1, 129, 4])
    }

    /// The names and shapes the config generates (the manifest and the benchmarks use them) are
    /// exactly the reference state_dict's.
    func testParameterShapesAreTheReferenceStateDict() throws {
        let store = try SafetensorsFile(path: mmditWeights)
        let c = try MMDiTConfig.inferred(from: store, positional: tinyPositional)
        let generated = c.parameterShapes()
        XCTAssertEqual(generated.map(\.0).sorted(), store.names)
        for (name, shape) in generated { XCTAssertEqual(store.info(name)?.shape, shape, name) }
    }

    /// The real model's manifest (configs/manifests/opensora-v2-mmdit.json) is the generated list
    /// for the released sizes: 11.9 B parameters (22.1 GiB in bf16).
    func testRealManifestMatchesTheReleasedConfig() throws {
        let path = goldenFolder + "/../../../configs/manifests/opensora-v2-mmdit.json"
        let obj = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        let listed = (obj["tensors"] as! [[String: Any]]).map { ($0["name"] as! String, $0["shape"] as! [Int]) }
        let generated = MMDiTConfig.openSora2.parameterShapes()
        XCTAssertEqual(listed.map(\.0), generated.map(\.0))
        XCTAssertEqual(listed.map(\.1), generated.map(\.1))
        let params = generated.reduce(0) { $0 + $1.1.reduce(1, *) }
        XCTAssertEqual(Double(params) / 1e9, 11.89, accuracy: 0.01)
    }

    func testV1CheckpointGivenAsMMDiTIsRefusedNamingFileAndTensor() {
        let stdit = goldenFolder + "/stdit3.weights.safetensors"
        XCTAssertThrowsError(try MMDiT(weights: try SafetensorsFile(path: stdit))) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains(stdit) && m.contains("missing tensor img_in.weight") && m.contains("x_embedder.proj.weight"), m)
            XCTAssertFalse(m.contains("\n"), m)
        }
    }

    func testMMDiTCheckpointGivenAsSTDiTIsRefusedNamingFileAndTensor() {
        XCTAssertThrowsError(try STDiT3(weights: try SafetensorsFile(path: mmditWeights))) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains(mmditWeights) && m.contains("x_embedder.proj.weight"), m)
            XCTAssertFalse(m.contains("\n"), m)
        }
    }

    func testFusedQKVAndGuidanceEmbedCheckpointsAreRefused() throws {
        let store = try SafetensorsFile(path: mmditWeights)
        for extra in ["double_blocks.0.img_attn.qkv.weight", "guidance_in.in_layer.weight"] {
            var tensors = [String: Tensor]()
            for n in store.names { tensors[n] = try store.tensor(n) }
            tensors[extra] = Tensor(zeros: [1])
            XCTAssertThrowsError(try MMDiT(weights: MemoryStore(tensors, description: "fused.safetensors"), positional: tinyPositional)) {
                XCTAssertTrue("\($0)".contains("fused.safetensors: unexpected tensor \(extra)"), "\($0)")
            }
        }
    }

    func testRoPEAxesThatDoNotFitTheHeadAreRefused() {
        XCTAssertThrowsError(try MMDiT(weights: try SafetensorsFile(path: mmditWeights))) {   // real axes, head_dim 24
            XCTAssertTrue("\($0)".contains("axes_dim [16, 56, 56] must be 3 even sizes summing to head_dim 24"), "\($0)")
        }
    }

    func testBadInputShapesAreRefusedBeforeCompute() throws {
        let model = try MMDiT(weights: try SafetensorsFile(path: mmditWeights), positional: tinyPositional)
        var input = try tinyInput(batch: 1)
        input.cond = Tensor(zeros: [1, 12, 64])
        XCTAssertThrowsError(try model(input)) { XCTAssertTrue("\($0)".contains("cond must be [1, 12, 68], got [1, 12, 64]"), "\($0)") }
        input = try tinyInput(batch: 1)
        input.cond = nil
        XCTAssertThrowsError(try model(input)) { XCTAssertTrue("\($0)".contains("cond [1, 12, 68] is required"), "\($0)") }
        input = try tinyInput(batch: 1)
        input.timesteps = [0.5, 0.5]
        XCTAssertThrowsError(try model(input)) { XCTAssertTrue("\($0)".contains("2 timesteps for a batch of 1"), "\($0)") }
    }

    /// Text tokens sit at (0, 0, 0): no rotation. Rotation pairs element j with j + D/2.
    func testRoPEIsRotateHalf() {
        let ids = Tensor(shape: [1, 2, 3], data: [0, 0, 0, 0, 1, 0])
        let table = RotaryTable(ids: ids, axesDim: [2, 2, 2], theta: 10000)
        var x = Tensor(shape: [1, 2, 6], data: [1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 0, 0])
        table.rotate(&x, heads: 1)
        XCTAssertEqual(Array(x.array[0..<6]), [1, 2, 3, 4, 5, 6])
        // Token 1: row 1 rotates angle 1 on channel pair (1, 4) only: x_1 = 0 -> 0, and the
        // t-axis pair (0, 3) has angle 0, so x_0 = 1 stays.
        XCTAssertEqual(x[flat: 6], 1, accuracy: 1e-7)
        XCTAssertEqual(x[flat: 6 + 3], 0, accuracy: 1e-7)
        var y = Tensor(shape: [1, 2, 6], data: [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        table.rotate(&y, heads: 1)
        XCTAssertEqual(y[flat: 7], Float(Foundation.cos(1.0)), accuracy: 1e-6)
        XCTAssertEqual(y[flat: 10], Float(Foundation.sin(1.0)), accuracy: 1e-6)
    }

    /// Same inputs, same bytes run to run at a thread count; across thread counts OpenBLAS's
    /// partition changes the last bits (docs/configuration.md), so those agree to 1e-5.
    func testRepeatedCallsGiveTheSameBytes() throws {
        let model = try MMDiT(weights: try SafetensorsFile(path: mmditWeights), positional: tinyPositional)
        let (one, two) = try outputsAtOneAndTwoThreads(model)
        XCTAssertLessThan(one.maxAbsDifference(two), 1e-5)
    }

}

/// Hands out another store's tensors with an owner that records which ones gave back their pages.
final class ReleaseRecordingStore: WeightStore, @unchecked Sendable {
    final class Owner: PageReleasable {
        var released: [String] = []
        let names: [UnsafeRawPointer: String]
        let base: AnyObject
        init(names: [UnsafeRawPointer: String], base: AnyObject) { self.names = names; self.base = base }
        func releasePages(_ start: UnsafeRawPointer, byteCount: Int) { released.append(names[start] ?? "?") }
    }
    let base: WeightStore
    var owner: Owner!
    var tensors: [String: WeightTensor] = [:]
    init(_ base: WeightStore) throws {
        self.base = base
        var byPointer: [UnsafeRawPointer: String] = [:]
        for n in base.names { let w = try base.weight(n); tensors[n] = w; byPointer[w.raw] = n }
        owner = Owner(names: byPointer, base: base)
    }
    var sourceDescription: String { base.sourceDescription }
    var names: [String] { base.names }
    func info(_ name: String) -> TensorInfo? { base.info(name) }
    func weight(_ name: String) throws -> WeightTensor {
        guard let w = tensors[name] else { throw WeightsError.missingTensor(name: name, source: sourceDescription) }
        return WeightTensor(name: name, shape: w.shape, dtype: w.dtype, raw: w.raw, owner: owner)
    }
}

final class MMDiTMemoryTests: XCTestCase {
    /// Every block tensor gives back its mapped pages once per forward, right after its block;
    /// the embedders and the final layer (used once, small) stay.
    func testEachBlockReleasesItsPagesAfterUse() throws {
        let store = try ReleaseRecordingStore(try SafetensorsFile(path: mmditWeights))
        let model = try MMDiT(weights: store, positional: tinyPositional)
        var releasedBefore: [String: Int] = [:]
        _ = try model(try tinyInput(batch: 1)) { stage, _ in
            if case let .doubleOutput(block, "img") = stage { releasedBefore["double\(block)"] = store.owner.released.count }
        }
        let blockTensors = store.names.filter { $0.hasPrefix("double_blocks.") || $0.hasPrefix("single_blocks.") }
        XCTAssertEqual(store.owner.released.sorted(), blockTensors.sorted())
        // Block 0's tensors are released before block 1 finishes.
        let block0 = blockTensors.filter { $0.hasPrefix("double_blocks.0.") }.count
        XCTAssertEqual(releasedBefore["double0"], block0)
        var kept = model
        kept.releasesPages = false
        store.owner.released = []
        _ = try kept(try tinyInput(batch: 1))
        XCTAssertEqual(store.owner.released, [])
    }
}
