import Foundation
import XCTest
import TensorCore
import Weights

/// `generate --shard`, resumable runs, `--save-latents` and `decode`, with the tiny fixture models
/// (configs/tiny.yaml). The union of the shards must equal one run byte for byte: PNG and MP4
/// files and the saved float32 latents.
final class ScaleOutCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = scratchFolder("scale") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let prompts = ["a red ball", "a blue cube on a table", "waves at night", "a cat", "a dog runs"]
    /// 5 prompts x 2 samples = 10 videos in batches of 3 (the last has 1), one frame each.
    var pngRun: [String] {
        ["generate", "--config", "configs/tiny.yaml", "--batch-size", "3", "--num-sample", "2", "--num-frames", "1"]
            + prompts.flatMap { ["--prompt", $0] }
    }

    func files(_ folder: String, suffix: String) -> [String: Data] {
        var out: [String: Data] = [:]
        for name in listing(folder) where name.hasSuffix(suffix) { out[name] = FileManager.default.contents(atPath: folder + "/" + name) }
        return out
    }

    func testShardsTogetherEqualOneRun() throws {
        let one = try runCLI(pngRun + ["--output", dir + "/one/v.png"])
        XCTAssertEqual(one.status, 0, one.stderr)
        for i in 0..<3 {
            let r = try runCLI(pngRun + ["--output", dir + "/shards/v.png", "--shard", "\(i)/3"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let expected = files(dir + "/one", suffix: ".png"), got = files(dir + "/shards", suffix: ".png")
        XCTAssertEqual(expected.count, 10)
        XCTAssertEqual(Set(got.keys), Set(expected.keys))
        for (name, data) in expected { XCTAssertEqual(got[name], data, "\(name) differs between the shards and one run") }
        // One manifest per shard, each naming its own videos.
        XCTAssertEqual(listing(dir + "/shards").filter { $0.hasSuffix(".jsonl") },
                       ["v.manifest.shard-0-of-3.jsonl", "v.manifest.shard-1-of-3.jsonl", "v.manifest.shard-2-of-3.jsonl"])
        // Records: index, prompt, seed (run seed 42 + index), config digest, file with size and hash, stage timings.
        let text = try String(contentsOfFile: dir + "/shards/v.manifest.shard-1-of-3.jsonl", encoding: .utf8)
        let records = try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let videos = records.filter { $0["event"] as? String == "video" }
        XCTAssertEqual(records.filter { $0["event"] as? String == "run" }.map { $0["engine"] as? String }, [EngineVersion.number])
        XCTAssertEqual(videos.map { $0["index"] as! Int }, [3, 4, 5])      // shard 1 of 3: batch [3, 4, 5] of 4 batches
        for r in videos {
            let g = r["index"] as! Int
            XCTAssertEqual(r["seed"] as? Int, 42 + g)
            XCTAssertEqual(r["prompt"] as? String, prompts[g / 2])
            XCTAssertEqual(r["file"] as? String, String(format: "v_%04d-%d.png", g / 2, g % 2))
            XCTAssertEqual((r["sha256"] as? String)?.count, 64)
            XCTAssertEqual((r["config_digest"] as? String)?.count, 64)
            XCTAssertEqual(Set((r["seconds"] as? [String: Double] ?? [:]).keys), ["text-encoder (run)", "denoise", "decode", "write"])
        }
    }

    func testShardedLatentsOfFullVideosEqualOneRun() throws {
        let run = ["generate", "--config", "configs/tiny.yaml", "--batch-size", "2", "--save-latents"] + prompts.prefix(3).flatMap { ["--prompt", $0] }
        XCTAssertEqual(try runCLI(run + ["--output", dir + "/one/v.mp4"]).status, 0)
        for i in 0..<2 { XCTAssertEqual(try runCLI(run + ["--output", dir + "/shards/v.mp4", "--shard", "\(i)/2"]).status, 0) }
        for name in ["v_0000", "v_0001", "v_0002"] {
            let a = try SafetensorsFile(path: dir + "/one/\(name).latent.safetensors").tensor("latent")
            let b = try SafetensorsFile(path: dir + "/shards/\(name).latent.safetensors").tensor("latent")
            XCTAssertEqual(a.shape, [4, 5, 4, 6])
            XCTAssertEqual(a.array, b.array, "\(name): latent differs")
            let video = try XCTUnwrap(FileManager.default.contents(atPath: dir + "/shards/\(name).mp4"), "\(name).mp4 missing")
            XCTAssertEqual(video, FileManager.default.contents(atPath: dir + "/one/\(name).mp4"), "\(name).mp4 differs between the shards and one run")
        }
    }

    func testRerunMakesOnlyMissingOrDamagedVideos() throws {
        let run = pngRun + ["--output", dir + "/v.png", "--resumable"]
        XCTAssertEqual(try runCLI(run).status, 0)
        let first = files(dir, suffix: ".png")
        try FileManager.default.removeItem(atPath: dir + "/v_0001-1.png")
        try Data("damaged".utf8).write(to: URL(fileURLWithPath: dir + "/v_0003-0.png"))
        let again = try runCLI(run)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("8 finished earlier, 2 to make"), again.stderr)
        XCTAssertEqual(again.stdout.split(separator: "\n").sorted(), ["wrote \(dir!)/v_0001-1.png", "wrote \(dir!)/v_0003-0.png"])
        XCTAssertEqual(files(dir, suffix: ".png"), first)
        let nothing = try runCLI(run)
        XCTAssertEqual(nothing.status, 0, nothing.stderr)
        XCTAssertEqual(nothing.stdout, "")
        XCTAssertTrue(nothing.stderr.contains("10 finished earlier, 0 to make"), nothing.stderr)
    }

    /// An output folder (a trailing '/', made by the run; or an existing folder) holds the videos
    /// and the manifest, named `sample...`, and a rerun finds them.
    func testFolderOutputsResume() throws {
        for output in [dir! + "/made/", dir!] {
            let run = Array(pngRun.prefix(9)) + ["--prompt", "a red ball", "--prompt", "a cat", "--output", output, "--resumable"]
            let first = try runCLI(run)
            XCTAssertEqual(first.status, 0, first.stderr)
            let folder = output.hasSuffix("/") ? String(output.dropLast()) : output
            XCTAssertEqual(listing(folder).filter { $0.hasPrefix("sample") }.sorted(),
                           ["sample.manifest.jsonl", "sample_0000-0.png", "sample_0000-1.png", "sample_0001-0.png", "sample_0001-1.png"])
            let again = try runCLI(run)
            XCTAssertEqual(again.status, 0, again.stderr)
            XCTAssertTrue(again.stderr.contains("4 finished earlier, 0 to make"), again.stderr)
        }
    }

    func testSavedLatentsAreDecodedNotDenoisedAgain() throws {
        let run = ["generate", "--config", "configs/tiny.yaml", "--prompt", "a red ball", "--num-frames", "1", "--output", dir + "/v.png", "--save-latents"]
        XCTAssertEqual(try runCLI(run).status, 0)
        let first = FileManager.default.contents(atPath: dir + "/v.png")
        try FileManager.default.removeItem(atPath: dir + "/v.png")          // killed after denoising
        let again = try runCLI(run + ["--verbose"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("1 to make (1 from saved latents)"), again.stderr)
        XCTAssertFalse(again.stderr.contains("denoise "), "denoised again: \(again.stderr)")
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/v.png"), first)
        // `opensora decode` from another folder gives the same bytes.
        let decoded = try runCLI(["decode", dir + "/v.latent.safetensors", "-o", dir + "/decoded.png"])
        XCTAssertEqual(decoded.status, 0, decoded.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/decoded.png"), first)
        // Not a latent file: one line naming it; nothing written.
        let bad = try runCLI(["decode", dir + "/v.png", "-o", dir + "/bad.png"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.hasPrefix("error: \(dir!)/v.png"), bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.png"))
    }

    // MARK: bad input: one line, nothing written or overwritten

    func assertRefused(_ args: [String], _ message: String, environment: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) throws {
        let before = listing(dir).map { ($0, FileManager.default.contents(atPath: dir + "/" + $0)) }
        let r = try runCLI(args, environment: environment)
        XCTAssertEqual(r.status, 1, file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.contains(message), r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)", file: file, line: line)
        let after = listing(dir).map { ($0, FileManager.default.contents(atPath: dir + "/" + $0)) }
        XCTAssertTrue(before.elementsEqual(after) { $0.0 == $1.0 && $0.1 == $1.1 }, "files changed: \(after.map(\.0))", file: file, line: line)
    }

    func testBadShardSpecs() throws {
        let run = pngRun + ["--output", dir + "/v.png"]
        try assertRefused(run + ["--shard", "3/3"], "shard index 3 is out of range for 3 shards")
        try assertRefused(run + ["--shard=-1/3"], "out of range")
        try assertRefused(run + ["--shard", "1/0"], "the shard count must be at least 1")
        try assertRefused(run + ["--shard", "1-3"], "expected I/N")
        try assertRefused(run + ["--shard", "a/3"], "shard index 'a'")
        try assertRefused(run + ["--shard", "auto"], "neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set")
        try assertRefused(run + ["--shard", "auto"], "pass --shard auto/N or set OPENSORA_SHARD_COUNT", environment: ["JOB_COMPLETION_INDEX": "1"])
        try assertRefused(run + ["--shard", "auto/2"], "shard index 2 is out of range", environment: ["JOB_COMPLETION_INDEX": "2"])
        XCTAssertEqual(listing(dir), [])
    }

    func testOutputsOfAnotherConfigOrPromptListAreNotMixed() throws {
        let run = pngRun + ["--output", dir + "/v.png", "--resumable"]
        XCTAssertEqual(try runCLI(run).status, 0)
        try assertRefused(run + ["--cfg-scale", "5"], "were made with another config")
        var otherPrompts = run
        otherPrompts[otherPrompts.firstIndex(of: prompts[1])!] = "a green tree"
        try assertRefused(otherPrompts, "but this run has 'a green tree'")
        // Told to, it makes them again under the new config.
        let replaced = try runCLI(run + ["--cfg-scale", "5", "--discard-other-config"])
        XCTAssertEqual(replaced.status, 0, replaced.stderr)
        XCTAssertEqual(replaced.stdout.split(separator: "\n").count, 10)
        XCTAssertEqual(try runCLI(run + ["--cfg-scale", "5"]).stdout, "")
        // --overwrite remakes everything under the command's config; later reruns resume it.
        XCTAssertEqual(try runCLI(run + ["--overwrite"]).stdout.split(separator: "\n").count, 10)
        let resumed = try runCLI(run)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(resumed.stdout, "")
    }
}
