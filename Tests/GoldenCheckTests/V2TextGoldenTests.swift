import XCTest
@testable import GoldenCheck

/// Open-Sora 2.0's text conditioner and sampler against the reference (Tests/Fixtures/golden/v2_text,
/// see its README): tokenizer ids exactly, embedder outputs and sampler steps at each case's tolerance.
final class V2TextGoldenTests: XCTestCase {
    func testCLIPTokenizerIds() { assertGoldenCase("v2_text/v2_text_clip_tok") }
    func testCLIPEmbedder() { assertGoldenCase("v2_text/v2_text_clip") }
    func testT5EmbedderAttendsToPads() { assertGoldenCase("v2_text/v2_text_t5") }

    // Replay: the recorded raw outputs of the three branches stand in for the MMDiT; the checker
    // runs the sampler computing every branch (bit-exact here) and skipping zero-weight branches.
    func testSamplerTextToVideo() { assertGoldenCase("v2_text/v2_sample_t2v", replay: true) }
    func testSamplerImageToVideoHead() { assertGoldenCase("v2_text/v2_sample_i2v_head", replay: true) }

    /// The skipping run reports the forwards it made; t2v and i2v_head over 12 steps.
    func testSkippingSavesForwardsOnTheCases() throws {
        for (name, made) in [("v2_sample_t2v", 23), ("v2_sample_i2v_head", 34)] {
            let c = try GoldenCase(path: fixtures + "/v2_text/\(name).json")
            let results = try GoldenRunner.run(c, options: CheckOptions(replay: true))
            XCTAssertTrue(results.contains { $0.name.hasPrefix("forwards made \(made) of the reference's 36 [skipping]") && $0.passed },
                          "\(name): \(results.filter { $0.name.hasPrefix("forwards") })")
        }
    }

    /// Without --replay the MMDiT (the mmdit fixture, linked beside the sampler cases) runs every
    /// step from the engine's own T5 and CLIP embeddings.
    func testSamplerTextToVideoWithTheModel() { assertGoldenCase("v2_text/v2_sample_t2v") }
    func testSamplerImageToVideoHeadWithTheModel() { assertGoldenCase("v2_text/v2_sample_i2v_head") }

    func testTamperedTokenizerCaseFails() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("v2text-tamper-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = fixtures + "/v2_text/"
        for f in ["v2_text_clip_tok.io.safetensors", "bpe_simple_vocab_16e6.txt.gz"] {
            try FileManager.default.copyItem(atPath: src + f, toPath: dir.appendingPathComponent(f).path)
        }
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: src + "v2_text_clip_tok.json"))) as! [String: Any]
        var untruncated = json["ids_untruncated"] as! [[Int]]
        untruncated[1][1] += 1
        json["ids_untruncated"] = untruncated
        let path = dir.appendingPathComponent("v2_text_clip_tok.json").path
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        let results = try GoldenRunner.run(try GoldenCase(path: path))
        XCTAssertEqual(results.filter { !$0.passed }.map(\.name), ["p1.ids_untruncated"])
    }
}
