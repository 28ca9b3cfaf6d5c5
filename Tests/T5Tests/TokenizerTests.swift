import XCTest
import T5

final class TokenizerTests: XCTestCase {
    var tokenizer: T5Tokenizer!

    override func setUpWithError() throws {
        tokenizer = try T5Tokenizer(modelPath: goldenDir + "/tokenizer.model")
    }

    func testIdLayoutOfT5() {
        XCTAssertEqual(tokenizer.padId, 0)
        XCTAssertEqual(tokenizer.eosId, 1)
        XCTAssertEqual(tokenizer.unkId, 2)
        XCTAssertEqual(tokenizer.pieceCount, 512)
    }

    func testEmptyTextIsEosThenPadding() throws {
        let (ids, mask) = try tokenizer.encode("", maxLength: 5)
        XCTAssertEqual(ids, [1, 0, 0, 0, 0])
        XCTAssertEqual(mask, [1, 0, 0, 0, 0])
    }

    func testEosAppendedAndPadded() throws {
        let (ids, mask) = try tokenizer.encode("a cat", maxLength: 6)
        XCTAssertEqual(ids, [5, 55, 45, 1, 0, 0])
        XCTAssertEqual(mask, [1, 1, 1, 1, 0, 0])
    }

    func testTruncationKeepsEosLast() throws {
        let text = String(repeating: "a golden horse runs along the beach ", count: 40)
        let full = try tokenizer.tokenize(text)
        for n in [1, 2, 7, 300] {
            let (ids, mask) = try tokenizer.encode(text, maxLength: n)
            XCTAssertEqual(ids.count, n)
            XCTAssertEqual(ids.last, 1)
            XCTAssertEqual(Array(ids.dropLast()), Array(full.prefix(n - 1)))
            XCTAssertEqual(mask, [Int](repeating: 1, count: n))
        }
    }

    func testExactFitNeedsNoTruncation() throws {
        let pieces = try tokenizer.tokenize("a cat")               // 3 ids
        let (ids, mask) = try tokenizer.encode("a cat", maxLength: pieces.count + 1)
        XCTAssertEqual(ids, pieces + [1])
        XCTAssertEqual(mask, [1, 1, 1, 1])
    }

    func testSpecialTokenTextsBecomeTheirIds() throws {
        // The slow T5 tokenizer splits "</s>", "<pad>" and "<unk>" out of the text.
        XCTAssertEqual(try tokenizer.tokenize("</s> <pad> <unk>"), [1, 0, 2])
        // A trailing "</s>" already ends the ids: no second eos.
        let (ids, _) = try tokenizer.encode("a cat</s>", maxLength: 8)
        XCTAssertEqual(Array(ids.prefix(5)), [5, 55, 45, 1, 0])
    }

    func testExtraIdsMapAfterThePieces() throws {
        let t = try T5Tokenizer(modelPath: goldenDir + "/tokenizer.model", extraIds: 100)
        XCTAssertEqual(try t.tokenize("<extra_id_0>"), [611])
        XCTAssertEqual(try t.tokenize("<extra_id_10>"), [601])
        XCTAssertEqual(t.vocabularySize, 612)
    }

    func testNonASCIITextEncodes() throws {
        let ids = try tokenizer.tokenize("café 🐶 中文")
        XCTAssertFalse(ids.isEmpty)
        XCTAssertTrue(ids.allSatisfy { $0 >= 0 && $0 < 512 })
    }

    func testBatchRowsHaveTheSameLength() throws {
        let b = try tokenizer.encode(["a cat", "", "A red car drives down a busy street at night."], maxLength: 12)
        XCTAssertEqual(b.batchSize, 3)
        XCTAssertTrue(b.ids.allSatisfy { $0.count == 12 } && b.mask.allSatisfy { $0.count == 12 })
    }

    func testBadMaxLength() {
        XCTAssertThrowsError(try tokenizer.encode("x", maxLength: 0)) { e in
            XCTAssertEqual("\(e)", "tokenizer max length must be at least 1, got 0")
        }
    }

    func testMissingModelFile() {
        XCTAssertThrowsError(try T5Tokenizer(modelPath: "/nonexistent/spiece.model")) { e in
            XCTAssertEqual("\(e)", "/nonexistent/spiece.model: cannot load the SentencePiece tokenizer model: no such file")
        }
    }

    func testNotASentencePieceModel() {
        let path = goldenDir + "/t5_encoder.json"
        XCTAssertThrowsError(try T5Tokenizer(modelPath: path)) { e in
            XCTAssertTrue("\(e)".hasPrefix("\(path): cannot load the SentencePiece tokenizer model: not a SentencePiece model"), "\(e)")
        }
        XCTAssertThrowsError(try T5Tokenizer(modelPath: goldenDir)) { e in
            XCTAssertTrue("\(e)".contains("is a folder"), "\(e)")
        }
    }
}
