import Foundation
import Weights
import XCTest

/// `opensora weights quantize` on an Open-Sora 2.0 MMDiT checkpoint (the tiny golden weights):
/// the int8 layout, its size, and the file loading straight into the MMDiT within the int8 bound.
final class MMDiTQuantizeCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = scratchFolder("quantize-mmdit") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let weights = "Tests/Fixtures/golden/v2_mmdit/mmdit.weights.safetensors"

    func testQuantizedMMDiTLayoutSizeAndAccuracy() throws {
        let out = dir + "/mmdit.int8.safetensors"
        let r = try runCLI(["weights", "quantize", weights, out])
        XCTAssertEqual(r.status, 0, r.stderr)
        // 2 double blocks x 2 streams x (q, k, v, proj, mlp.0, mlp.2) + 2 single blocks x (q, k, v_mlp, linear2).
        XCTAssertTrue(r.stdout.contains("32 int8 weights"), r.stdout)
        let source = try SafetensorsFile(path: repoRoot + "/" + weights)
        let expected = Int8Checkpoint.fileBytes(source.names.map { ($0, source.info($0)!.shape) })
        XCTAssertTrue(r.stdout.contains("\(expected) bytes of data"), "\(expected): \(r.stdout)")

        let f = try SafetensorsFile(path: out)
        for name in ["double_blocks.0.img_attn.q_proj.weight", "double_blocks.1.txt_attn.proj.weight", "double_blocks.0.txt_mlp.2.weight",
                     "single_blocks.0.v_mlp.weight", "single_blocks.1.linear2.weight"] {
            XCTAssertEqual(f.info(name)?.dtype, .i8, name)
            XCTAssertEqual(f.info(name + "_scale")?.dtype, .f32, name)
            XCTAssertEqual(f.info(name + "_scale")?.shape, [f.info(name)!.shape[0]], name)
        }
        // Modulation, embedders, norms and the final layer stay float (bf16), as under --quantize int8.
        for name in ["double_blocks.0.img_mod.lin.weight", "single_blocks.1.modulation.lin.weight", "img_in.weight", "cond_in.weight",
                     "txt_in.weight", "final_layer.linear.weight", "double_blocks.0.img_attn.q_proj.bias",
                     "single_blocks.0.norm.query_norm.scale"] {
            XCTAssertEqual(f.info(name)?.dtype, .bf16, name)
            XCTAssertNil(f.info(name + "_scale"), name)
        }

        // It loads directly into the MMDiT and meets the int8 bound on the golden case.
        let ok = try runCLI(["check", "--quantize", "int8", "--weights", out, "Tests/Fixtures/golden/v2_mmdit/mmdit.json"])
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        XCTAssertTrue(ok.stdout.contains("PASS mmdit") && ok.stdout.contains("rel_l2="), ok.stdout)
    }

    func testBenchQuantizeValueIsOneLineError() throws {
        let r = try runCLI(["bench", "--component", "mmdit-v2", "--blocks", "1", "--quantize", "int4"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--quantize int4"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }
}
