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
        let input = try tinyInput(batch: 2)
        let before = Runtime.threads
        defer { Runtime.setThreads(before) }
        Runtime.setThreads(1)
        let one = try model(input)
        Runtime.setThreads(2)
        let two = try model(input), again = try model(input)
        XCTAssertTrue(two.array == again.array, "two calls at 2 threads differ by \(two.maxAbsDifference(again))")
        XCTAssertLessThan(one.maxAbsDifference(two), 1e-3)
        let float = try MMDiT(weights: try SafetensorsFile(path: mmditWeights), positional: tinyPositional)(input)
        XCTAssertGreaterThan(float.maxAbsDifference(two), 1e-4, "int8 must change the computation")
    }
}
