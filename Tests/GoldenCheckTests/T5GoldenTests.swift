import XCTest
import GoldenCheck

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

    /// bf16 weights: checked as a chain (case weights vs the reference, then the .bin vs the
    /// case weights rounded to bf16), since the reference ran on float32 weights.
    func testT5EncoderFromBF16Bin() {
        assertGoldenCase("t5_encoder", weights: fixtures + "/t5_encoder_bin/bf16_single.bin")
    }
}
