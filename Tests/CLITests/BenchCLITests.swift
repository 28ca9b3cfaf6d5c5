import Foundation
import TensorCore
import XCTest

/// `opensora bench` for the v1.0 / v1.1 denoisers on a tiny latent (random XL/2 weights, a few
/// seconds), and the argument checks of the v1.1 pipeline run (a real one writes 11.5 GB of weights).
final class BenchCLITests: XCTestCase {
    /// Runs one bench; returns its single JSON line's object.
    func benchJSON(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let r = try runCLI(["bench"] + args)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one JSON line expected: \(r.stdout)", file: file, line: line)
        let obj = try JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as? [String: Any]
        return try XCTUnwrap(obj, "not a JSON object: \(r.stdout)", file: file, line: line)
    }

    /// The fields every denoiser bench reports, with the expected FLOP count (2 per multiply-add).
    func assertDenoiserReport(_ o: [String: Any], component: String, captionTokens: Int, tflop: Double,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(o["component"] as? String, component, file: file, line: line)
        XCTAssertEqual(o["latent"] as? [Int], [1, 4, 4], file: file, line: line)
        XCTAssertEqual(o["batch"] as? Int, 2, file: file, line: line)
        XCTAssertEqual(o["caption_tokens"] as? Int, captionTokens, file: file, line: line)
        XCTAssertEqual(o["weights"] as? String, "bf16", file: file, line: line)
        XCTAssertEqual(o["tflop"] as? Double ?? 0, tflop, accuracy: tflop * 1e-9, file: file, line: line)
        let seconds = o["seconds"] as? Double ?? 0, gflops = o["gflops"] as? Double ?? 0
        XCTAssertGreaterThan(seconds, 0, file: file, line: line)
        XCTAssertEqual(gflops, tflop * 1000 / seconds, accuracy: gflops * 1e-6, file: file, line: line)
        XCTAssertGreaterThan(o["cpu_seconds"] as? Double ?? 0, 0, file: file, line: line)
        XCTAssertGreaterThan(o["peak_rss_bytes"] as? Int ?? 0, 0, file: file, line: line)
        XCTAssertGreaterThan(o["threads"] as? Int ?? 0, 0, file: file, line: line)
        // The in-process sgemm reference and the ratio to it, as the performance goal is stated.
        let sgemm = o["sgemm_gflops"] as? Double ?? 0
        XCTAssertGreaterThan(sgemm, 0, file: file, line: line)
        XCTAssertEqual(o["fraction_of_sgemm"] as? Double ?? 0, gflops / sgemm, accuracy: 1e-9, file: file, line: line)
        XCTAssertTrue(o.keys.contains("blas_thread_timeout"), file: file, line: line)
        XCTAssertEqual(o["engine"] as? String, EngineVersion.number, file: file, line: line)
    }

    // Expected counts, by hand for XL/2 (C 1152, MLP 4608, 28 blocks, caption 4096) at latent
    // 1x4x4: 2 x 1 x 4 = 8 tokens, L caption tokens, products 2mnk. Per block: 2 self-attentions
    // (qkv + proj) 2 x 8 x 4C² x 2, the S x S and T x T products, cross-attention, MLP.
    static func legacyFLOPs(captionTokens l: Double, extraConditioning: Double) -> Double {
        let c = 1152.0, r = 8.0, b = 2.0
        func mm(_ m: Double, _ n: Double, _ k: Double) -> Double { 2 * m * n * k }
        let trunk = mm(r, c, 16) + mm(b * l, c, 4096) + mm(b * l, c, c) + mm(r, 32, c)
        let block = 2 * (mm(r, 3 * c, c) + mm(r, c, c)) + 2 * mm(r, 4, c) + 2 * mm(r, 1, c)
            + 2 * mm(r, c, c) + mm(b * l, 2 * c, c) + 2 * mm(r, l, c) + 2 * mm(r, 4608, c)
        let tEmbed = mm(b, c, 256) + mm(b, c, c) + mm(b, 6 * c, c)
        return trunk + tEmbed + extraConditioning + 28 * block
    }

    func testSTDiTV1Bench() throws {
        let o = try benchJSON(["--component", "stdit-xl2", "--latent", "1x4x4", "--sgemm-window", "0.2"])
        assertDenoiserReport(o, component: "stdit-xl2", captionTokens: 120,
                             tflop: Self.legacyFLOPs(captionTokens: 120, extraConditioning: 0) / 1e12)
    }

    func testSTDiT2Bench() throws {
        let c = 1152.0, b = 2.0
        func embedder(_ n: Double, _ w: Double) -> Double { 2 * n * w * 256 + 2 * n * w * w }
        // t_block_temp, csize (height and width), ar, fl, fps.
        let extra = 2 * b * 3 * c * c + embedder(2 * b, c / 3) + embedder(b, c / 3) + 2 * embedder(b, c)
        let o = try benchJSON(["--component", "stdit2-xl2", "--latent", "1x4x4", "--sgemm-window", "0.2"])
        assertDenoiserReport(o, component: "stdit2-xl2", captionTokens: 200,
                             tflop: Self.legacyFLOPs(captionTokens: 200, extraConditioning: extra) / 1e12)
    }

    /// Runs a bench that must fail before any work; returns its error line.
    func benchError(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try runCLI(["bench"] + args)
        XCTAssertNotEqual(r.status, 0, "should fail: \(args)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, "one error line expected: \(r.stderr)", file: file, line: line)
        return String(errors.first ?? "")
    }

    func testBadLatentIsNamed() throws {
        for component in ["stdit-xl2", "stdit2-xl2", "pipeline-v1.1"] {
            for latent in ["16x64", "0x4x4", "4x4xa", "1x4x4x4", ""] {
                let e = try benchError(["--component", component, "--latent", latent])
                XCTAssertTrue(e.contains("--latent must be TxHxW") && e.contains("'\(latent)'"), "\(component) \(latent): \(e)")
            }
        }
    }

    func testBadDenoiserOptions() throws {
        XCTAssertTrue(try benchError(["--component", "stdit-xl2", "--latent", "1x4x4", "--caption-tokens", "121"])
            .contains("--caption-tokens must be in 1...120 for stdit-xl2"))
        XCTAssertTrue(try benchError(["--component", "stdit2-xl2", "--latent", "1x4x4", "--batch", "0"])
            .contains("--batch must be at least 1"))
        XCTAssertTrue(try benchError(["--component", "stdit3-xl2", "--latent", "1x4x4", "--sgemm-window", "0"])
            .contains("--sgemm-window must be positive"))
    }

    /// pipeline-v1.1's options and configs/opensora-v1.1.yaml are checked before any weights are
    /// written (no scratch folder is left either).
    func testPipelineV11ArgumentsCheckedFirst() throws {
        let scratch = { listing(NSTemporaryDirectory()).filter { $0.hasPrefix("opensora-pipeline-bench-") } }
        let before = scratch()
        XCTAssertTrue(try benchError(["--component", "pipeline-v1.1", "--latent", "51x30x53", "--steps", "0"])
            .contains("--steps must be at least 1, got 0"))
        // Past the option checks: the v1.1 config (IDDPM, 1000 timesteps) rejects 1001 steps.
        XCTAssertTrue(try benchError(["--component", "pipeline-v1.1", "--latent", "51x30x53", "--steps", "1001"])
            .contains("scheduler.num_sampling_steps"))
        XCTAssertEqual(scratch(), before)
    }

    /// pipeline-v2 (the 11B MMDiT, 35 GB of random weights) checks its latent and
    /// configs/opensora-v2.0-256px.yaml before writing anything.
    func testPipelineV2ArgumentsCheckedFirst() throws {
        let scratch = { listing(NSTemporaryDirectory()).filter { $0.hasPrefix("opensora-pipeline-bench-") } }
        let before = scratch()
        XCTAssertTrue(try benchError(["--component", "pipeline-v2", "--latent", "9x31x32"])
            .contains("--latent for pipeline-v2 needs an even height and width"))
        // The v2 pipeline has no step cache: the config refuses the key, as `generate --cache` does.
        XCTAssertTrue(try benchError(["--component", "pipeline-v2", "--latent", "9x32x32", "--cache", "pab"])
            .contains("cache"))
        XCTAssertTrue(try benchError(["--component", "pipeline-v2", "--latent", "9x32x32", "--steps", "0"])
            .contains("--steps must be at least 1, got 0"))
        XCTAssertEqual(scratch(), before)
    }

    func testUnknownComponentListsTheNewOnes() throws {
        let e = try benchError(["--component", "stdit4-xl2"])
        for name in ["stdit3-xl2", "stdit2-xl2", "stdit-xl2", "pipeline-v1.2", "pipeline-v1.1", "pipeline-v2"] {
            XCTAssertTrue(e.contains(name), e)
        }
        let help = try runCLI(["bench", "--help"])
        for name in ["stdit2-xl2", "stdit-xl2", "pipeline-v1.1", "51x30x53", "16x64x64"] {
            XCTAssertTrue(help.stdout.contains(name), "bench --help should mention \(name)")
        }
    }

    /// `bench --component attention --shape`: one JSON line named "custom" whose GFLOP/s is the
    /// two products' 4 x B x Nq x Nk x heads x D over the best time.
    func testAttentionShape() throws {
        let o = try benchJSON(["--component", "attention", "--shape", "2,9,13,3,8", "--repeat", "2"])
        XCTAssertEqual(o["component"] as? String, "attention")
        XCTAssertEqual(o["name"] as? String, "custom")
        XCTAssertEqual(o["shape"] as? [Int], [2, 9, 13, 3, 8])
        let seconds = o["seconds"] as? Double ?? 0, gflops = o["gflops"] as? Double ?? 0
        XCTAssertGreaterThan(seconds, 0)
        XCTAssertEqual(gflops, 4.0 * 2 * 9 * 13 * 3 * 8 / seconds / 1e9, accuracy: gflops * 1e-6)
    }
}
