import XCTest
@testable import CLIP

let vocabularyPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/golden/v2_text/bpe_simple_vocab_16e6.txt.gz").path

/// The CLIP tokenizer's parts (the golden clip_tokenizer case checks whole prompts against transformers).
final class CLIPTokenizerTests: XCTestCase {
    static let tokenizer = try! CLIPTokenizer(vocabularyPath: vocabularyPath)

    func testVocabularyLayout() {
        let t = Self.tokenizer
        XCTAssertEqual(t.vocabulary.count, 49408)
        XCTAssertEqual(t.startOfText, 49406)
        XCTAssertEqual(t.endOfText, 49407)
        XCTAssertEqual(t.vocabulary.ids["!"], 0)            // the first printable byte
        XCTAssertEqual(t.vocabulary.ids["!</w>"], 256)
    }

    func testPreTokenizer() {
        XCTAssertEqual(CLIPTokenizer.preTokenize("don't stop-now 42x"), ["don", "'t", "stop", "-", "now", "4", "2", "x"])
        XCTAssertEqual(CLIPTokenizer.preTokenize("hi!!'s  <|endoftext|>é"), ["hi", "!!'", "s", "<|endoftext|>", "é"])
        XCTAssertEqual(CLIPTokenizer.whitespaceClean("  a \t\n b\u{3000}c  "), "a b c")
    }

    func testPaddingAndTruncation() throws {
        let t = Self.tokenizer
        let empty = try t.encode("")
        XCTAssertEqual(empty.ids, [49406, 49407] + [Int](repeating: 49407, count: 75))
        XCTAssertEqual(empty.mask, [1, 1] + [Int](repeating: 0, count: 75))
        let long = try t.encode(String(repeating: "cat ", count: 100))
        XCTAssertEqual(long.ids.count, 77)
        XCTAssertEqual(long.ids.first, 49406)
        XCTAssertEqual(long.ids.last, 49407)
        XCTAssertEqual(t.encodeUntruncated(String(repeating: "cat ", count: 100)).count, 102)
        XCTAssertThrowsError(try t.encode("a", maxLength: 1))
    }

    /// The one-line error for a missing vocabulary names the file.
    func testMissingVocabularyNamesTheFile() {
        XCTAssertThrowsError(try CLIPTokenizer(vocabularyPath: "/nonexistent/bpe_simple_vocab_16e6.txt.gz")) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("/nonexistent/bpe_simple_vocab_16e6.txt.gz"), s)
            XCTAssertFalse(s.contains("\n"), s)
        }
        XCTAssertThrowsError(try CLIPTokenizer(vocabularyPath: "/dev/zero")) { e in
            XCTAssertTrue("\(e)".contains("/dev/zero") && "\(e)".contains("character device"), "\(e)")
        }
        XCTAssertThrowsError(try CLIPTokenizer(vocabularyPath: NSTemporaryDirectory())) { e in
            XCTAssertTrue("\(e)".contains("vocab.json"), "\(e)")
        }
    }

    func testCorruptVocabularyIsRejected() throws {
        let path = NSTemporaryDirectory() + "clip-bad-\(getpid()).txt.gz"
        try Data("not gzip".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try CLIPTokenizer(vocabularyPath: path)) { XCTAssertTrue("\($0)".contains(path), "\($0)") }
    }

    /// Hugging Face's vocab.json + merges.txt give the same ids as the OpenAI .gz.
    func testHuggingFaceFilesGiveTheSameIds() throws {
        let gz = Self.tokenizer.vocabulary
        let dir = NSTemporaryDirectory() + "clip-hf-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try JSONSerialization.data(withJSONObject: gz.ids).write(to: URL(fileURLWithPath: dir + "/vocab.json"))
        let text = try CLIPVocabulary.gunzip(vocabularyPath)
        let merges = text.split(separator: "\n", omittingEmptySubsequences: false)[1...CLIPVocabulary.mergeCount]
        try ("#version: 0.2\n" + merges.joined(separator: "\n") + "\n").write(toFile: dir + "/merges.txt", atomically: true, encoding: .utf8)
        let hf = try CLIPTokenizer(vocabularyPath: dir + "/merges.txt")
        for prompt in ["A red car drives down a busy street at night. 24 FPS.", "café crème, naïve", "中文提示词"] {
            XCTAssertEqual(hf.encodeUntruncated(prompt), Self.tokenizer.encodeUntruncated(prompt), prompt)
        }
        // A vocab.json that lacks a merge's result is refused when loaded, naming the file and the symbol.
        var partial = gz.ids
        partial["the</w>"] = nil
        try JSONSerialization.data(withJSONObject: partial).write(to: URL(fileURLWithPath: dir + "/vocab.json"))
        XCTAssertThrowsError(try CLIPTokenizer(vocabularyPath: dir)) { e in
            XCTAssertTrue("\(e)".contains(dir + "/vocab.json") && "\(e)".contains("the</w>"), "\(e)")
        }
    }
}
