import Foundation
import XCTest
import Pipeline
import TensorCore
import VideoIO

/// The demo model with a reference image (issue 21, item 4): for the 12 held-out prompts, a first
/// frame drawn as the training renderer draws it (the prompt's shape and colour on its background,
/// placed so the prompt's motion stays in view) is given with mask_strategy "0". The clip must
/// still show the prompt's colour and direction (>= 80%, as without a reference), and its first
/// frame must match the image at >= 25 dB PSNR over the 12 first frames together (issue 21; the
/// model before the conditioning fine-tune reached 15.4 dB: docs/demo.md).
final class DemoConditioningTests: XCTestCase {
    func testWithAReferenceImageMotionStillFollowsThePrompt() throws {
        let held = DemoBehaviourTests.heldOut
        XCTAssertEqual(held.count, 12)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-i2v-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = try GenerationConfig.load(path: repoRoot + "/configs/demo.yaml")
        config.batchSize = held.count
        var references: [RGBImage] = []
        var prompts: [String] = []
        for (k, h) in held.enumerated() {
            let image = try Self.firstFrame(shape: h.shape, colour: h.colour, background: h.background, direction: h.direction,
                                            size: config.height)
            let path = dir + "/ref\(k).png"
            try PNGWriter.write(image, to: path)
            references.append(image)
            prompts.append(DemoBehaviourTests.prompts[k] + #"{"reference_path": "\#(path)", "mask_strategy": "0"}"#)
        }
        let generator = try VideoGenerator(config: config)
        generator.writeOutputs = false
        let videos = try generator.generate(prompts: prompts)

        var squaredError = 0.0, samples = 0, both = 0
        for (k, (video, want)) in zip(videos, held).enumerated() {
            let first = try RGBVideo(tensor: video.frames).frame(0)
            let se = zip(first.pixels, references[k].pixels).map { Double(Int($0) - Int($1)) }.reduce(0) { $0 + $1 * $1 }
            squaredError += se
            samples += first.pixels.count
            let seen = ClipProbe.measure(video.frames)
            both += seen.colour == want.colour && seen.direction == want.direction ? 1 : 0
            print(String(format: "reference image: %@ -> first frame PSNR %.1f dB, %@ %@", DemoBehaviourTests.prompts[k],
                         Self.psnr(se / Double(first.pixels.count)), seen.colour, seen.direction))
        }
        let psnr = Self.psnr(squaredError / Double(samples))
        let fraction = Double(both) / Double(videos.count)
        print(String(format: "reference image: first frames %.1f dB PSNR, colour and direction right in %d/%d", psnr, both, videos.count))
        XCTAssertGreaterThanOrEqual(psnr, Self.requiredPSNR, "the first frames do not match their reference images")
        XCTAssertGreaterThanOrEqual(fraction, DemoBehaviourTests.requiredFraction, "with a reference image the motion no longer follows the prompt")
    }

    /// Issue 21's goal for the first frame against its reference image, in dB.
    static let requiredPSNR = 25.0

    static func psnr(_ mse: Double) -> Double { 10 * log10(255 * 255 / max(mse, 1e-10)) }

    /// tools/train-demo/demo/synthetic.py's frame: anti-aliased shape (radius 8) on a plain background.
    static func firstFrame(shape: String, colour: String, background: String, direction: String, size: Int) throws -> RGBImage {
        let colours: [String: [Float]] = ["red": [220, 40, 40], "green": [40, 200, 60], "blue": [50, 90, 235], "yellow": [240, 220, 40], "white": [240, 240, 240]]
        let backgrounds: [String: [Float]] = ["black": [10, 10, 10], "gray": [120, 120, 120], "blue": [30, 50, 150], "green": [30, 110, 40], "purple": [100, 40, 120]]
        let fg = colours[colour]!, bg = backgrounds[background]!
        let s = Float(size)
        let (cx, cy): (Float, Float) = [
            "right": (0.28 * s, 0.5 * s), "left": (0.72 * s, 0.5 * s), "down": (0.5 * s, 0.28 * s), "up": (0.5 * s, 0.72 * s),
        ][direction] ?? (0.5 * s, 0.5 * s)
        let r: Float = 8
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            for x in 0..<size {
                let dx = Float(x) + 0.5 - cx, dy = Float(y) + 0.5 - cy
                let sdf: Float
                switch shape {
                case "circle": sdf = (dx * dx + dy * dy).squareRoot() - r
                case "square": sdf = max(abs(dx), abs(dy)) - r * 0.9
                default:  // upward equilateral triangle with circumradius r
                    let px: Float = abs(dx), py: Float = -dy
                    let bottom: Float = -py - r * 0.5
                    let sides: Float = (Float(3).squareRoot() * px + py) * 0.5 - r * 0.5
                    sdf = max(bottom, sides)
                }
                let a = min(max(0.5 - sdf, 0), 1)
                for c in 0..<3 {
                    // render() in [-1, 1], then (v + 1) * 127.5 rounded, as the PNG tool writes it
                    let back: Float = (bg[c] / 127.5 - 1) * (1 - a)
                    let v: Float = back + (fg[c] / 127.5 - 1) * a
                    let level: Float = ((v + 1) * 127.5).rounded()
                    pixels[(y * size + x) * 3 + c] = UInt8(min(max(level, 0), 255))
                }
            }
        }
        return try RGBImage(width: size, height: size, pixels: pixels)
    }
}
