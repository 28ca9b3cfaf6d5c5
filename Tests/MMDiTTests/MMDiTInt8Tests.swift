import MMDiT
import TensorCore
import Weights
import XCTest

/// `--quantize int8` on the MMDiT (docs/quantization.md): which linears run int8, repeatability,
/// and the float path left as it was.
final class MMDiTInt8Tests: XCTestCase {
    /// The blocks' projections and MLPs are int8, the modulation and everything outside the
    /// blocks are not: 2 double blocks x 2 streams x 6 + 2 single blocks x 4 linears of the tiny model.
    func testOnlyTheBlockProjectionsAndMLPsAreInt8() throws {
        let store = try SafetensorsFile(path: mmditWeights)
        let model = try MMDiT(weights: store, positional: tinyPositional, quantization: .int8)
        let c = model.config, (h, m) = (c.hiddenSize, c.mlpHidden)
        let perStream = 4 * h * h + 2 * h * m, perSingle = 2 * h * h + h * (h + m) + (h + m) * h
        XCTAssertEqual(model.int8WeightBytes, c.depth * 2 * perStream + c.depthSingleBlocks * perSingle)
        XCTAssertEqual(try MMDiT(weights: store, positional: tinyPositional).int8WeightBytes, 0)
    }

    /// Same inputs, same bytes run to run; across thread counts the float parts' OpenBLAS
    /// partition changes the last bits (as on the float path), which a row's quantisation may
    /// turn into one step of that row: the outputs agree to 1e-3. int8 must differ from float32.
    func testRepeatedCallsGiveTheSameBytes() throws {
        let model = try MMDiT(weights: try SafetensorsFile(path: mmditWeights), positional: tinyPositional, quantization: .int8)
        let (one, two) = try outputsAtOneAndTwoThreads(model)
        XCTAssertLessThan(one.maxAbsDifference(two), 1e-3)
        let float = try MMDiT(weights: try SafetensorsFile(path: mmditWeights), positional: tinyPositional)(try tinyInput(batch: 2))
        XCTAssertGreaterThan(float.maxAbsDifference(two), 1e-4, "int8 must change the computation")
    }
}

/// The tiny golden weights in an int8 checkpoint's layout (`opensora weights quantize`: block
/// linears as I8 + `<name>_scale`), in memory; the other tensors as they are.
final class Int8LayoutStore: WeightStore, @unchecked Sendable {
    let base: WeightStore
    private var tensors: [String: WeightTensor] = [:]

    init(_ base: WeightStore) throws {
        self.base = base
        for n in base.names {
            let w = try base.weight(n)
            guard Int8Checkpoint.isBlockLinear(n, shape: w.shape) else { tensors[n] = w; continue }
            let q = Int8Weight(quantizing: w)
            tensors[n] = WeightTensor(name: n, shape: w.shape, dtype: .i8, raw: UnsafeRawPointer(q.values), owner: q)
            tensors[n + Int8Weight.scaleSuffix] = WeightTensor(Tensor(shape: [q.outFeatures], data: q.scales), name: n + Int8Weight.scaleSuffix)
        }
    }

    var sourceDescription: String { "int8 layout of " + base.sourceDescription }
    var names: [String] { tensors.keys.sorted() }
    func info(_ name: String) -> TensorInfo? { tensors[name].map { TensorInfo(name: name, dtype: $0.dtype, shape: $0.shape) } }
    func weight(_ name: String) throws -> WeightTensor {
        guard let w = tensors[name] else { throw WeightsError.missingTensor(name: name, source: sourceDescription) }
        return w
    }
}

final class MMDiTInt8CheckpointTests: XCTestCase {
    /// An I8 weight runs int8 whatever the option says, and computes exactly what `--quantize int8`
    /// computes from the float weights (same values, same scales).
    func testInt8CheckpointRunsWhatTheOptionRuns() throws {
        let float = try SafetensorsFile(path: mmditWeights)
        let input = try tinyInput(batch: 2)
        let fromFile = try MMDiT(weights: try Int8LayoutStore(float), positional: tinyPositional)
        XCTAssertGreaterThan(fromFile.int8WeightBytes, 0)
        let atLoad = try MMDiT(weights: float, positional: tinyPositional, quantization: .int8)
        XCTAssertTrue(try fromFile(input).array == atLoad(input).array)
    }

    /// Building the model reads every int8 weight once (its column sums) and gives the pages back
    /// right away, so a mapped int8 checkpoint is not all resident before the first block runs.
    func testInt8WeightsGiveBackTheirPagesWhenBuilt() throws {
        let store = try ReleaseRecordingStore(try Int8LayoutStore(try SafetensorsFile(path: mmditWeights)))
        _ = try MMDiT(weights: store, positional: tinyPositional)
        let int8 = store.names.filter { store.info($0)?.dtype == .i8 }
        XCTAssertEqual(int8.count, 32)
        XCTAssertEqual(store.owner.released.sorted(), int8.sorted())
    }
}
