import Foundation
import TensorCore
import Weights
import XCTest

/// `weights quantize`, int8 files in generate and check, and `--quantize` on every command that
/// takes it: results, and one-line errors for bad input (docs/quantization.md).
final class QuantizeCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = scratchFolder("quantize") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let weights = "Tests/Fixtures/golden/stdit3.weights.safetensors"

    func assertOneLineError(_ r: CommandResult, _ needles: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") || $0.hasPrefix("Error:") }
        XCTAssertEqual(errors.count, 1, r.stderr, file: file, line: line)
        for n in needles { XCTAssertTrue(r.stderr.contains(n), "expected '\(n)' in: \(r.stderr)", file: file, line: line) }
    }

    func quantized() throws -> String {
        let out = dir + "/stdit3.int8.safetensors"
        let r = try runCLI(["weights", "quantize", weights, out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("28 int8 weights"), r.stdout)   // 2 x 2 blocks x 7 linears
        return out
    }

    func testQuantizedFileLayoutSizeAndAccuracy() throws {
        let out = try quantized()
        let f = try SafetensorsFile(path: out)
        XCTAssertEqual(f.info("spatial_blocks.0.mlp.fc1.weight")?.dtype, .i8)
        XCTAssertEqual(f.info("spatial_blocks.0.mlp.fc1.weight_scale")?.dtype, .f32)
        XCTAssertEqual(f.info("spatial_blocks.0.mlp.fc1.weight_scale")?.shape, [f.info("spatial_blocks.0.mlp.fc1.weight")!.shape[0]])
        XCTAssertEqual(f.info("spatial_blocks.0.mlp.fc1.bias")?.dtype, .bf16)
        XCTAssertEqual(f.info("x_embedder.proj.weight")?.dtype, .bf16, "embedders stay float")
        XCTAssertEqual(f.info("t_block.1.weight")?.dtype, .bf16)
        // The fixture is float32: int8 is about a quarter of it for the linears (half of bf16).
        let original = try FileManager.default.attributesOfItem(atPath: repoRoot + "/" + weights)[.size] as! Int
        let size = try FileManager.default.attributesOfItem(atPath: out)[.size] as! Int
        XCTAssertLessThan(Double(size), 0.4 * Double(original))
        // It loads directly and meets the int8 bound on the golden case.
        let ok = try runCLI(["check", "--quantize", "int8", "--weights", out, "Tests/Fixtures/golden/stdit3.json"])
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        XCTAssertTrue(ok.stdout.contains("rel_l2="), ok.stdout)
    }

    func testGenerateWithInt8FileAndWithQuantizeOption() throws {
        let q8 = try quantized()
        let text = try String(contentsOfFile: repoRoot + "/configs/tiny.yaml", encoding: .utf8)
        let cfg = dir + "/tiny-int8.yaml"
        try text.replacingOccurrences(of: "path: \(weights)", with: "path: \(q8)").write(toFile: cfg, atomically: true, encoding: .utf8)
        for (args, name) in [(["--config", cfg], "file"), (["--config", "configs/tiny.yaml", "--quantize", "int8"], "option"),
                             (["--config", "configs/tiny.yaml"], "float")] {
            let r = try runCLI(["generate", "--prompt", "a red ball", "--output", dir + "/\(name).mp4"] + args)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
        }
        let f = try Data(contentsOf: URL(fileURLWithPath: dir + "/float.mp4")), o = try Data(contentsOf: URL(fileURLWithPath: dir + "/option.mp4"))
        XCTAssertNotEqual(f, o, "--quantize int8 must change the computation")
    }

    func testCorruptInt8FileIsOneLineError() throws {
        let q8 = try quantized()
        let data = try Data(contentsOf: URL(fileURLWithPath: q8))
        let cut = dir + "/cut.safetensors"
        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: cut))
        let text = try String(contentsOfFile: repoRoot + "/configs/tiny.yaml", encoding: .utf8)
        let cfg = dir + "/tiny-cut.yaml"
        try text.replacingOccurrences(of: "path: \(weights)", with: "path: \(cut)").write(toFile: cfg, atomically: true, encoding: .utf8)
        assertOneLineError(try runCLI(["generate", "--config", cfg, "--prompt", "x", "--output", dir + "/w.mp4"]), [cut, "truncated"])
    }

    func testScalesOfWrongShapeIsOneLineError() throws {
        let q8 = try SafetensorsFile(path: try quantized())
        let bad = dir + "/bad-scales.safetensors"
        let target = "temporal_blocks.1.attn.qkv.weight_scale"
        let items = try q8.names.map { n -> SafetensorsWriter.Item in
            let w = try q8.weight(n)
            let shape = n == target ? [w.shape[0] - 1] : w.shape
            let bytes = Data(bytes: w.raw, count: shape.reduce(1, *) * w.dtype.byteSize)
            return SafetensorsWriter.Item(name: n, dtype: w.dtype, shape: shape) { bytes }
        }
        try SafetensorsWriter().write(items, to: bad)
        let text = try String(contentsOfFile: repoRoot + "/configs/tiny.yaml", encoding: .utf8)
        let cfg = dir + "/tiny-bad.yaml"
        try text.replacingOccurrences(of: "path: \(weights)", with: "path: \(bad)").write(toFile: cfg, atomically: true, encoding: .utf8)
        assertOneLineError(try runCLI(["generate", "--config", cfg, "--prompt", "x", "--output", dir + "/w.mp4"]), [bad, target, "shape"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/w.mp4"))
    }

    func testUnsupportedQuantizeIsOneLineErrorEverywhere() throws {
        assertOneLineError(try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "x", "--output", dir + "/v.mp4", "--quantize", "int4"]),
                           ["quantize", "int4"])
        assertOneLineError(try runCLI(["bench", "--component", "stdit3-xl2", "--quantize", "int4"]), ["--quantize int4"])
        assertOneLineError(try runCLI(["bench", "--component", "sgemm", "--quantize", "int8"]), ["--quantize does not apply"])
        // A pipeline run takes one mode; checked before its ~10 GB of random weights are written.
        assertOneLineError(try runCLI(["bench", "--component", "pipeline-v1.2", "--quantize", "none,int8"]), ["--quantize", "one mode"])
        assertOneLineError(try runCLI(["bench", "--component", "stdit3-xl2", "--steps", "2", "--quantize", "none,int8"]), ["--quantize", "sampling run", "one mode"])
        assertOneLineError(try runCLI(["bench", "--component", "pipeline-v1.2", "--quantize", "int4"]), ["--quantize int4"])
        assertOneLineError(try runCLI(["check", "--quantize", "int4", "Tests/Fixtures/golden/stdit3.json"]), ["--quantize int4"])
        assertOneLineError(try runCLI(["weights", "quantize", "--quantize", "int4", weights, dir + "/x.safetensors"]), ["--quantize int4"])
        let text = try String(contentsOfFile: repoRoot + "/configs/tiny.yaml", encoding: .utf8)
        let cfg = dir + "/tiny-q4.yaml"
        try (text + "\nquantize: int4\n").write(toFile: cfg, atomically: true, encoding: .utf8)
        assertOneLineError(try runCLI(["generate", "--config", cfg, "--prompt", "x", "--output", dir + "/v.mp4"]), ["quantize", "int4"])
    }

    func testInt8GEMMBenchReportsRates() throws {
        let r = try runCLI(["bench", "--component", "int8-gemm", "--shape", "64,96,128", "--repeat", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        for key in ["int8_gemm_one_thread_gops", "int8_linear_gops", "sgemm_gflops"] { XCTAssertGreaterThan(json[key] as? Double ?? 0, 0, key) }
    }
}
