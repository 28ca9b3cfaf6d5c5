import XCTest
import T5
import TensorCore
import Weights

final class T5EncoderTests: XCTestCase {
    func goldenWeights() throws -> SafetensorsFile { try SafetensorsFile(path: goldenDir + "/t5_encoder.weights.safetensors") }

    /// A writable float32 copy of the golden weights.
    func memoryCopy() throws -> MemoryStore {
        let s = try goldenWeights()
        var d: [String: Tensor] = [:]
        for n in s.names { d[n] = try s.tensor(n) }
        return MemoryStore(d, description: "test-store")
    }

    let tokens = TokenBatch(ids: [[5, 55, 45, 1, 0, 0], [7, 9, 1, 0, 0, 0]], mask: [[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]])

    func testConfigInferredFromShapes() throws {
        let c = try T5Config.infer(from: goldenWeights())
        XCTAssertEqual(c, T5Config(vocabSize: 512, dModel: 64, heads: 4, dKV: 16, dFF: 128, layers: 2, buckets: 32))
    }

    func testBucketsMatchTransformers() {
        // transformers' _relative_position_bucket(bidirectional, 32 buckets, max_distance 128)
        let cases: [(Int, Int)] = [(0, 0), (1, 17), (-1, 1), (7, 23), (-7, 7), (8, 24), (-8, 8), (16, 26), (-64, 14),
                                   (64, 30), (127, 31), (-200, 15), (200, 31)]
        for (rel, bucket) in cases {
            XCTAssertEqual(RelativePositionBias.bucket(rel, buckets: 32, maxDistance: 128), bucket, "relative position \(rel)")
        }
    }

    func testPaddingDoesNotChangeRealTokens() throws {
        // Real tokens never attend to padding, so extra padding leaves their outputs unchanged.
        let enc = try T5Encoder(weights: goldenWeights())
        let short = try enc(TokenBatch(ids: [[5, 55, 45, 1]], mask: [[1, 1, 1, 1]]))
        let long = try enc(TokenBatch(ids: [[5, 55, 45, 1, 0, 0, 0, 0]], mask: [[1, 1, 1, 1, 0, 0, 0, 0]]))
        // The position bias of the padded length differs only for padded keys, which are masked.
        XCTAssertLessThan(short.maxAbsDifference(narrow(long, axis: 1, 0..<4)), 1e-5)
    }

    func testBatchRowsAreIndependent() throws {
        let enc = try T5Encoder(weights: goldenWeights())
        let both = try enc(tokens)
        let second = try enc(TokenBatch(ids: [tokens.ids[1]], mask: [tokens.mask[1]]))
        XCTAssertLessThan(second.maxAbsDifference(both[1].reshaped([1, 6, 64])), 1e-5)
    }

    func testBF16BinMatchesRoundedWeights() throws {
        // The bf16 .bin holds the golden weights rounded to bf16: the encoder must give the
        // same numbers as on those rounded weights held in float32.
        let rounded = try memoryCopy()
        for (n, t) in rounded.tensors {
            rounded.tensors[n] = t.array.withUnsafeBufferPointer { b in
                Tensor(shape: t.shape, data: b.map { bf16ToFloat(floatToBF16($0)) })
            }
        }
        let bin = try Checkpoint.open(goldenDir + "/t5_encoder_bin/bf16_single.bin")
        let a = try T5Encoder(weights: bin)(tokens), b = try T5Encoder(weights: rounded)(tokens)
        XCTAssertLessThan(a.maxAbsDifference(b), 1e-5)
    }

    func testMissingBlockIsNamed() throws {
        let s = try memoryCopy()
        // Blocks 0 and 2, no block 1.
        for (n, t) in s.tensors where n.hasPrefix("encoder.block.1.") {
            s.tensors[n] = nil
            s.tensors[n.replacingOccurrences(of: "encoder.block.1.", with: "encoder.block.2.")] = t
        }
        XCTAssertThrowsError(try T5Encoder(weights: s)) { e in
            XCTAssertEqual("\(e)", "test-store: not a usable T5 encoder checkpoint: encoder block 1 is missing (blocks 0...2 expected, found [0, 2])")
        }
    }

    func testMissingTensorIsNamed() throws {
        let s = try memoryCopy()
        s.tensors["encoder.block.1.layer.1.DenseReluDense.wo.weight"] = nil
        XCTAssertThrowsError(try T5Encoder(weights: s)) { e in
            XCTAssertEqual("\(e)", "test-store: missing tensor 'encoder.block.1.layer.1.DenseReluDense.wo.weight'")
        }
    }

    func testWrongModelWidthIsNamed() throws {
        let s = try memoryCopy()
        s.tensors["encoder.block.1.layer.0.SelfAttention.k.weight"] = Tensor(zeros: [64, 32])
        XCTAssertThrowsError(try T5Encoder(weights: s)) { e in
            XCTAssertEqual("\(e)", "test-store: tensor 'encoder.block.1.layer.0.SelfAttention.k.weight' has shape [64, 32], expected [64, 64]")
        }
        XCTAssertThrowsError(try T5Encoder(weights: try goldenWeights(), config: .xxl)) { e in
            XCTAssertTrue("\(e)".contains("expected T5Config(vocab 32128, d_model 4096"), "\(e)")
        }
    }

    func testNotAT5Checkpoint() throws {
        let s = MemoryStore(["foo.weight": Tensor(zeros: [2])], description: "x.safetensors")
        XCTAssertThrowsError(try T5Encoder(weights: s)) { e in XCTAssertTrue("\(e)".contains("no token embedding"), "\(e)") }
    }

    func testBadInputsAreRefused() throws {
        let enc = try T5Encoder(weights: goldenWeights())
        XCTAssertThrowsError(try enc(TokenBatch(ids: [[600, 1]], mask: [[1, 1]]))) { e in
            XCTAssertEqual("\(e)", "T5 encoder input: row 0: token id 600 is outside the vocabulary (0..<512)")
        }
        XCTAssertThrowsError(try enc(TokenBatch(ids: [[5, 1]], mask: [[1]])))
        XCTAssertThrowsError(try enc(TokenBatch(ids: [[5, 1]], mask: [[0, 0]])))
        XCTAssertThrowsError(try enc(TokenBatch(ids: [], mask: [])))
    }
}

extension T5EncoderTests {
    func testSkipPaddingKeepsRealTokensAndZeroesTheRest() throws {
        let enc = try T5Encoder(weights: goldenWeights())
        let full = try enc(tokens), trimmed = try enc.encode(tokens, skipPadding: true)
        XCTAssertEqual(trimmed.shape, full.shape)
        for b in 0..<2 {
            for l in 0..<6 {
                let row = (b * 6 + l) * 64
                for d in 0..<64 {
                    if l < 4 { XCTAssertEqual(trimmed[flat: row + d], full[flat: row + d], accuracy: 1e-5) }
                    else { XCTAssertEqual(trimmed[flat: row + d], 0) }
                }
            }
        }
    }
}
