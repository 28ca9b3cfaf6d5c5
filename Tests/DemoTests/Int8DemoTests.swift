import Foundation
import XCTest
import GoldenCheck
import Pipeline
import TensorCore

/// `--quantize int8` on the embedded demo model (docs/quantization.md): the behaviour test's
/// score on the 12 held-out prompts, and PSNR of the int8 videos against the float32 ones.
final class Int8DemoTests: XCTestCase {
    func generate(quantize: String) throws -> (videos: [GeneratedVideo], seconds: Double) {
        var config = try GenerationConfig.load(path: repoRoot + "/configs/demo.yaml")
        var o = ConfigOverrides()
        o.quantize = quantize
        o.batchSize = DemoBehaviourTests.prompts.count
        try config.apply(overrides: o)
        XCTAssertEqual(config.quantize.rawValue, quantize)
        let generator = try VideoGenerator(config: config)
        generator.writeOutputs = false
        let t0 = Date()
        let videos = try generator.generate(prompts: DemoBehaviourTests.prompts)
        return (videos, Date().timeIntervalSince(t0))
    }

    func testInt8DemoKeepsItsBehaviour() throws {
        let exact = try generate(quantize: "none"), int8 = try generate(quantize: "int8")
        var both = 0
        for (video, want) in zip(int8.videos, DemoBehaviourTests.heldOut) {
            let seen = ClipProbe.measure(video.frames)
            both += seen.colour == want.colour && seen.direction == want.direction ? 1 : 0
        }
        let got = concat(int8.videos.map(\.frames), axis: 0), ref = concat(exact.videos.map(\.frames), axis: 0)
        let psnr = VideoSimilarity.psnr(got, ref)
        print(String(format: "int8 demo: behaviour %d/12, PSNR vs float32 %.2f dB, %.1f s (float32 %.1f s)", both, psnr, int8.seconds, exact.seconds))
        XCTAssertGreaterThanOrEqual(Double(both) / 12, DemoBehaviourTests.requiredFraction)
        XCTAssertLessThan(psnr, 200, "int8 must change the videos (identical output means it did not run)")
        XCTAssertGreaterThan(psnr, 25, "int8 videos drifted far from float32")
    }
}
