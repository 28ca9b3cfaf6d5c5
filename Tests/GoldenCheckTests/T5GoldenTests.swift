import XCTest
@testable import GoldenCheck

/// The T5 golden cases, with the case's safetensors weights and with the same weights read from
/// the pickled PyTorch files Hugging Face publishes (two float32 shards + index, one bf16 file).
final class T5GoldenTests: XCTestCase {
    func testTokenizerCase() { assertGoldenCase("tokenizer_case") }

    func testT5EncoderCase() { assertGoldenCase("t5_encoder") }

    func testT5EncoderFromShardedBin() {
        assertGoldenCase("t5_encoder", weights: fixtures + "/t5_encoder_bin/pytorch_model.bin.index.json")
    }

    func testT5EncoderFromBinFolder() {
        assertGoldenCase("t5_encoder", weights: fixtures + "/t5_encoder_bin")
    }

    /// bf16 weights: the reference ran in float32, so compare against the bf16-rounded model's
    /// own float32 run instead of widening the tolerance blindly.
    func testT5EncoderFromBF16BinAgreesWithRoundedWeights() throws {
        let c = try GoldenCase(path: fixtures + "/t5_encoder.json")
        let bf16 = try GoldenRunner.run(c, options: CheckOptions(weights: fixtures + "/t5_encoder_bin/bf16_single.bin"))
        let last = try XCTUnwrap(bf16.first { $0.name == "last_hidden_state" })
        // Rounding every weight to 8 mantissa bits moves this tiny random model's output by ~1e-2.
        XCTAssertLessThan(last.maxAbs, 0.1, "\(last)")
    }
}
