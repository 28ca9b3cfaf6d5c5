import Foundation
import XCTest
import Pipeline
import TensorCore
import Weights

/// The embedded demo model (configs/demo.yaml, models/demo) follows its prompt: for 12 prompts whose
/// combination of colour, shape, direction and background training never saw
/// (tools/train-demo/demo/synthetic.py HELD_OUT), the engine's video must show an object of the
/// prompt's colour whose centroid moves the prompt's way. The same measure on random T5 + STDiT3
/// weights (the trained VAE kept) is reported and must stay low.
final class DemoBehaviourTests: XCTestCase {
    /// Issue #11's goal. The shipped model (4000 + 4000 training steps) shows 12 of 12 here and in
    /// tools/train-demo/evaluate.py; random weights 1 of 12.
    static let requiredFraction = 0.8

    /// The held-out combinations, as the training tool recorded them (models/demo/training.json).
    static let heldOut: [(colour: String, shape: String, direction: String, background: String)] = {
        guard let data = FileManager.default.contents(atPath: repoRoot + "/models/demo/training.json"),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let rows = obj["held_out"] as? [[String]] else { return [] }
        return rows.filter { $0.count == 4 }.map { ($0[0], $0[1], $0[2], $0[3]) }
    }()
    static var prompts: [String] {
        heldOut.map { "a \($0.colour) \($0.shape) moving \($0.direction) on a \($0.background) background" }
    }

    func demoConfig() throws -> GenerationConfig {
        var c = try GenerationConfig.load(path: repoRoot + "/configs/demo.yaml")
        c.batchSize = Self.prompts.count
        return c
    }

    /// Fraction of prompts whose clip shows the right colour and direction, with a per-prompt listing.
    func score(_ config: GenerationConfig, label: String) throws -> (both: Double, colour: Double, direction: Double) {
        let generator = try VideoGenerator(config: config)
        generator.writeOutputs = false
        let videos = try generator.generate(prompts: Self.prompts)
        var both = 0, colour = 0, direction = 0
        for (video, want) in zip(videos, Self.heldOut) {
            let seen = ClipProbe.measure(video.frames)
            colour += seen.colour == want.colour ? 1 : 0
            direction += seen.direction == want.direction ? 1 : 0
            both += seen.colour == want.colour && seen.direction == want.direction ? 1 : 0
            print("\(label): \(video.prompt) -> \(seen.colour) \(seen.direction)")
        }
        let n = Double(videos.count)
        print(String(format: "%@: colour %d/%d, direction %d/%d, both %d/%d", label, colour, videos.count, direction, videos.count, both, videos.count))
        return (Double(both) / n, Double(colour) / n, Double(direction) / n)
    }

    func testDemoModelFollowsHeldOutPrompts() throws {
        XCTAssertEqual(Self.heldOut.count, 12, "models/demo/training.json lists no held-out prompts")
        let trained = try score(demoConfig(), label: "demo model")
        XCTAssertGreaterThanOrEqual(trained.both, Self.requiredFraction, "the demo model shows the prompt's colour and direction in too few clips")

        // Chance baseline: T5 and STDiT3 replaced by random tensors with each trained tensor's mean and std.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-random-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var random = try demoConfig()
        random.textEncoder.path = try writeRandomLike(random.textEncoder.path, to: dir + "/t5.safetensors", seed: 1)
        random.denoiser.path = try writeRandomLike(random.denoiser.path, to: dir + "/stdit3.safetensors", seed: 2)
        let baseline = try score(random, label: "random T5 + STDiT3")
        XCTAssertLessThan(baseline.both, 0.5, "the measure cannot tell a trained model from random weights")
        XCTAssertGreaterThan(trained.both, baseline.both)
    }

    /// Demo prompts reach the tokenizer as written: training saw exactly these strings.
    func testCaptionCleaningLeavesDemoPromptsAlone() throws {
        let config = try demoConfig()
        for p in Self.prompts { XCTAssertEqual(TextStage.preparePrompt(p, config: config), p) }
    }

    /// The shipped model stays small (the budget: 30 MB in all).
    func testDemoModelFilesFitTheBudget() throws {
        let dir = repoRoot + "/models/demo"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        let total = try files.reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: dir + "/" + $1)[.size] as? Int) ?? 0) }
        XCTAssertLessThanOrEqual(total, 30_000_000, "models/demo holds \(total) bytes")
        for name in ["t5.safetensors", "stdit3.safetensors", "vae.safetensors", "spiece.model"] {
            XCTAssertTrue(files.contains(name), "models/demo/\(name) is missing")
        }
    }

    /// A safetensors file with the names and shapes of `path`, each tensor drawn from a normal
    /// distribution with that tensor's own mean and standard deviation (float32).
    func writeRandomLike(_ path: String, to out: String, seed: UInt64) throws -> String {
        let store = try Checkpoint.open(path)
        var rng = SplitMix64(seed: seed)
        let items = try store.names.sorted().map { name -> SafetensorsWriter.Item in
            let values = try store.tensor(name).array
            let mean = values.reduce(0, +) / Float(max(values.count, 1))
            let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(max(values.count, 1))).squareRoot()
            let random = values.map { _ in mean + std * rng.nextGaussian() }
            return SafetensorsWriter.Item(name: name, dtype: .f32, shape: store.info(name)!.shape) {
                random.withUnsafeBytes { Data($0) }
            }
        }
        try SafetensorsWriter().write(items, to: out)
        return out
    }
}

/// The colour of the object in a clip and the direction its centroid moves; the same measure as
/// tools/train-demo/demo/probe.py. Background: per-channel median of each frame's border; object
/// pixels: summed |RGB difference| > 90 (0...765 scale); colour: the palette entry nearest the mean
/// object pixel; direction: the larger axis of the centroid's move from the first to the last quarter.
enum ClipProbe {
    static let palette: [(String, [Float])] = [
        ("red", [220, 40, 40]), ("green", [40, 200, 60]), ("blue", [50, 90, 235]),
        ("yellow", [240, 220, 40]), ("white", [240, 240, 240]),
    ]
    static let threshold: Float = 90

    /// frames: [3, T, H, W] in [-1, 1].
    static func measure(_ frames: Tensor) -> (colour: String, direction: String) {
        let (t, h, w) = (frames.shape[1], frames.shape[2], frames.shape[3])
        let data = frames.array
        func pixel(_ k: Int, _ y: Int, _ x: Int) -> [Float] {
            (0..<3).map { c in ((min(max(data[((c * t + k) * h + y) * w + x], -1), 1) + 1) * 127.5).rounded() }
        }
        var centroids: [(Float, Float)?] = []
        var sum: [Float] = [0, 0, 0]
        var count = 0
        for k in 0..<t {
            var border: [[Float]] = []
            for x in 0..<w { border.append(pixel(k, 0, x)); border.append(pixel(k, h - 1, x)) }
            for y in 0..<h { border.append(pixel(k, y, 0)); border.append(pixel(k, y, w - 1)) }
            let background = (0..<3).map { c in median(border.map { $0[c] }) }
            var sx: Float = 0, sy: Float = 0, n = 0
            for y in 0..<h {
                for x in 0..<w {
                    let p = pixel(k, y, x)
                    guard zip(p, background).map({ abs($0 - $1) }).reduce(0, +) > threshold else { continue }
                    sx += Float(x); sy += Float(y); n += 1
                    for c in 0..<3 { sum[c] += p[c] }
                }
            }
            count += n
            centroids.append(n > 0 ? (sx / Float(n), sy / Float(n)) : nil)
        }
        guard count > 0 else { return ("none", "none") }
        let meanPixel = sum.map { $0 / Float(count) }
        let colour = palette.min { a, b in distance(a.1, meanPixel) < distance(b.1, meanPixel) }!.0
        let q = max(1, t / 4)
        let first = centroids.prefix(q).compactMap { $0 }, last = centroids.suffix(q).compactMap { $0 }
        guard !first.isEmpty, !last.isEmpty else { return (colour, "none") }
        func mean(_ v: [Float]) -> Float { v.reduce(0, +) / Float(v.count) }
        let dx = mean(last.map(\.0)) - mean(first.map(\.0)), dy = mean(last.map(\.1)) - mean(first.map(\.1))
        if max(abs(dx), abs(dy)) < 4 { return (colour, "still") }
        if abs(dx) >= abs(dy) { return (colour, dx > 0 ? "right" : "left") }
        return (colour, dy > 0 ? "down" : "up")
    }

    static func median(_ v: [Float]) -> Float {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func distance(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) }
}

/// Normal draws for the baseline weights (Box-Muller).
extension SplitMix64 {
    mutating func nextGaussian() -> Float {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-300), u2 = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
