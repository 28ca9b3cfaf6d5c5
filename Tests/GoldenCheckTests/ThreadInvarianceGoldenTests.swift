import XCTest
import GoldenCheck
import TensorCore

/// Same inputs, same bytes at any thread count (docs/configuration.md), for every model family:
/// one golden case per engine path runs at 1 and at 3 threads (3 chunks the loops differently
/// from 2 and from the 4 per worker of the default), and every output's digest must be equal.
final class ThreadInvarianceGoldenTests: XCTestCase {
    override func tearDown() {
        Runtime.setThreads(ProcessInfo.processInfo.activeProcessorCount)
        super.tearDown()
    }

    /// (case, quantization): one per model and per kernel family the engine has.
    static let cases: [(String, Quantization)] = [
        ("t5_encoder", .none),
        ("stdit", .none), ("stdit2", .none), ("stdit3", .none), ("stdit3", .int8),
        ("vae_T13", .none),
        ("pipeline_e2e", .none),
        ("mask/mask_loop", .none),
        ("dit/dit_model", .none), ("dit/dit_vae_decode", .none),
        ("v2_vae/ae2d_T3", .none),
        ("v2_vae/hunyuan_vae_tiled_st_T33", .none),
        ("v2_vae/dc_ae_tiled_st_T20", .none),
        ("v2_text/v2_text_clip", .none), ("v2_text/v2_text_t5", .none),
        ("v2_mmdit/mmdit", .none), ("v2_mmdit/mmdit", .int8),
        ("v2_text/v2_sample_t2v", .none), ("v2_text/v2_sample_i2v_head", .none),
    ]

    func testEveryFamilyGivesTheSameBytesAtOneAndThreeThreads() throws {
        for (name, quantization) in Self.cases {
            let c = try GoldenCase(path: fixtures + "/" + name + ".json")
            let options = CheckOptions(quantization: quantization)
            Runtime.setThreads(1)
            let one = try GoldenRunner.run(c, options: options)
            Runtime.setThreads(3)
            let three = try GoldenRunner.run(c, options: options)
            let label = "\(name)\(quantization == .none ? "" : " (\(quantization.rawValue))")"
            XCTAssertEqual(one.map(\.name), three.map(\.name), label)
            XCTAssertTrue(one.contains { $0.digest != nil }, "\(label): no tensor output to compare")
            for (a, b) in zip(one, three) {
                XCTAssertEqual(a.digestText, b.digestText, "\(label) \(a.name): other bytes at 3 threads than at 1")
            }
        }
    }

    func testDigestIsOfTheBytes() {
        let a = Tensor(shape: [2, 2], data: [1, 2, 3, 4])
        let same = OutputCheck(name: "x", got: a, expected: a, tolerance: 0)
        XCTAssertEqual(same.digest, OutputCheck(name: "x", got: Tensor(shape: [2, 2], data: [1, 2, 3, 4]), expected: a, tolerance: 0).digest)
        // The last bit of one entry, and the shape, change the digest.
        let nudged = Tensor(shape: [2, 2], data: [1, 2, 3, Float(bitPattern: Float(4).bitPattern + 1)])
        XCTAssertNotEqual(same.digest, OutputCheck(name: "x", got: nudged, expected: a, tolerance: 1).digest)
        XCTAssertNotEqual(same.digest, OutputCheck(name: "x", got: a.reshaped([4]), expected: a.reshaped([4]), tolerance: 0).digest)
        XCTAssertNil(OutputCheck(name: "ids", mismatches: 0, total: 3).digest)
        XCTAssertEqual(OutputCheck(name: "ids", mismatches: 0, total: 3).digestText, "-")
    }
}
