import Foundation
import XCTest

/// Issue 17's hostile and careless inputs, one row per defect (the item number in each row's
/// name): the CLI must answer each with a one-line error naming the culprit (or do the right
/// thing), never hang, crash or grow without bound, and leave nothing behind.
final class HostileInputTests: XCTestCase {
    var dir: String!
    override func setUp() { dir = scratchFolder("hostile") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let golden = "Tests/Fixtures/golden"
    var t5Args: [String] { ["--t5", golden + "/t5_encoder.weights.safetensors", "--tokenizer", golden + "/tokenizer.model"] }

    struct Row {
        let name: String
        let args: [String]
        /// Expected exit status; nil = any failure (non-zero).
        var status: Int32? = nil
        /// Fragments stderr (or, for status 0, stdout + stderr) must contain.
        let mentions: [String]
        var environment: [String: String] = [:]
    }

    /// Runs the CLI like `runCLI`, but kills it after `timeout` seconds: a row that hangs fails
    /// instead of stopping the suite. `signal` is sent after `signalAfter` seconds.
    func run(_ args: [String], environment: [String: String] = [:], timeout: Double = 60,
             signal: Int32? = nil, signalAfter: Double = 1.5) throws -> (CommandResult, timedOut: Bool) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: opensoraBinary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: repoRoot)
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let pid = p.processIdentifier
        let watchdog = Watchdog()
        if let signal {
            DispatchQueue.global().asyncAfter(deadline: .now() + signalAfter) { if p.isRunning { kill(pid, signal) } }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
            if p.isRunning { watchdog.fire(); kill(pid, SIGKILL) }
        }
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (CommandResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                              stderr: String(decoding: e, as: UTF8.self)), watchdog.fired)
    }

    func check(_ rows: [Row], file: StaticString = #filePath, line: UInt = #line) throws {
        for row in rows {
            let (r, timedOut) = try run(row.args, environment: row.environment, timeout: 60)
            XCTAssertFalse(timedOut, "\(row.name): hung (killed after 60 s)", file: file, line: line)
            if let status = row.status {
                XCTAssertEqual(r.status, status, "\(row.name): \(r.stderr)", file: file, line: line)
            } else {
                XCTAssertNotEqual(r.status, 0, "\(row.name) should fail", file: file, line: line)
                // An error, not a crash: one line, and no backtrace.
                XCTAssertFalse(r.stderr.contains("Fatal error"), "\(row.name) crashed: \(r.stderr)", file: file, line: line)
                let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
                XCTAssertEqual(errors.count, 1, "\(row.name): one error line expected: \(r.stderr)", file: file, line: line)
            }
            let text = row.status == 0 ? r.stdout + r.stderr : r.stderr
            for m in row.mentions {
                XCTAssertTrue(text.contains(m), "\(row.name): '\(text)' should mention '\(m)'", file: file, line: line)
            }
        }
    }

    /// configs/tiny.yaml with lines replaced, written to the scratch folder.
    func tinyConfig(_ replacements: [(String, String)]) throws -> String {
        var text = try String(contentsOfFile: repoRoot + "/configs/tiny.yaml", encoding: .utf8)
        for (old, new) in replacements {
            XCTAssertTrue(text.contains(old), "tiny.yaml no longer contains '\(old)'")
            text = text.replacingOccurrences(of: old, with: new)
        }
        let path = dir + "/config-\(UUID().uuidString.prefix(6)).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// tiny.yaml without its prompt list, so a prompt file is read.
    func promptlessConfig() throws -> String {
        try tinyConfig([("prompt:\n  - A small boat sails across a calm lake.\n  - a robot dances in the rain\n", "")])
    }

    func makeFIFO(_ name: String) -> String {
        let path = dir + "/" + name
        XCTAssertEqual(mkfifo(path, 0o644), 0)
        return path
    }

    func generate(_ args: [String]) -> [String] {
        ["generate", "--config", "configs/tiny.yaml", "--prompt", "x"] + args
    }

    // 1, 2: every size typed is bounded before allocation.
    func testItems1And2SizesAreBounded() throws {
        try check([
            Row(name: "1 encode-text --max-length 100000000", args: ["encode-text"] + t5Args + ["--max-length", "100000000", "a red ball"],
                mentions: ["--max-length", "4096"]),
            Row(name: "2 bench --shape 100000000,100000,100000", args: ["bench", "--shape", "100000000,100000,100000"],
                mentions: ["--shape", "100000000"]),
            Row(name: "2 bench --shape 100000,100000,100000 (each side allowed, product too big)",
                args: ["bench", "--shape", "100000,100000,100000"], mentions: ["--shape", "GiB"]),
            Row(name: "2 bench attention --shape", args: ["bench", "--component", "attention", "--shape", "1,1000000,1000000,1,64"],
                mentions: ["--shape", "GiB"]),
            Row(name: "2 bench conv --shape", args: ["bench", "--component", "conv", "--shape", "1000,1000,1000,1000,1000,1000,3"],
                mentions: ["--shape", "GiB"]),
            Row(name: "2 bench --latent", args: ["bench", "--component", "stdit3-xl2", "--latent", "100000x100000x100000"],
                mentions: ["--latent"]),
            Row(name: "2 bench --batch", args: ["bench", "--component", "stdit3-xl2", "--batch", "100000000"], mentions: ["--batch"]),
            Row(name: "2 generate --threads", args: generate(["--threads", "100000000"]), mentions: ["--threads"]),
            Row(name: "2 encode-text prompt count", args: ["encode-text"] + t5Args + [String](repeating: "x", count: 1025),
                mentions: ["number of prompts"]),
        ])
    }

    // 3: a FIFO anywhere a file is read is refused before open() (which would block forever).
    func testItem3FIFOsAreRefused() throws {
        let fifo = makeFIFO("pipe")
        try check([
            Row(name: "3 denoiser path: FIFO", args: generate(["--config", try tinyConfig([("path: Tests/Fixtures/golden/stdit3.weights.safetensors", "path: \(fifo)")]), "--output", dir + "/o.mp4"]),
                mentions: [fifo, "FIFO"]),
            Row(name: "3 VAE path: FIFO", args: generate(["--config", try tinyConfig([("path: Tests/Fixtures/golden/vae_T1.weights.safetensors", "path: \(fifo)")]), "--output", dir + "/o.mp4"]),
                mentions: [fifo, "FIFO"]),
            Row(name: "3 tokenizer: FIFO", args: generate(["--config", try tinyConfig([("tokenizer: Tests/Fixtures/golden/tokenizer.model", "tokenizer: \(fifo)")]), "--output", dir + "/o.mp4"]),
                mentions: [fifo, "FIFO"]),
            Row(name: "3 --image FIFO", args: generate(["--image", fifo, "--output", dir + "/o.mp4"]), mentions: [fifo, "FIFO"]),
            Row(name: "3 weights inspect FIFO", args: ["weights", "inspect", fifo], mentions: [fifo, "FIFO"]),
            Row(name: "3 weights verify FIFO", args: ["weights", "verify", fifo], mentions: [fifo, "FIFO"]),
            Row(name: "3 weights verify --manifest FIFO", args: ["weights", "verify", golden + "/t5_encoder.weights.safetensors", "--manifest", fifo],
                mentions: [fifo, "FIFO"]),
            Row(name: "3 encode-text --t5 FIFO", args: ["encode-text", "--t5", fifo, "--tokenizer", golden + "/tokenizer.model", "x"], mentions: [fifo, "FIFO"]),
            Row(name: "3 encode-text --tokenizer FIFO", args: ["encode-text", "--t5", golden + "/t5_encoder.weights.safetensors", "--tokenizer", fifo, "x"],
                mentions: [fifo, "FIFO"]),
        ])
        XCTAssertEqual(listing(dir).filter { $0.hasSuffix(".mp4") || $0.hasPrefix(".") }, [])
    }

    // 4: tokenizer /dev/zero and --extra-ids are bounded.
    func testItem4TokenizerInputsAreBounded() throws {
        try check([
            Row(name: "4 tokenizer: /dev/zero", args: generate(["--config", try tinyConfig([("tokenizer: Tests/Fixtures/golden/tokenizer.model", "tokenizer: /dev/zero")]), "--output", dir + "/o.mp4"]),
                mentions: ["/dev/zero", "character device"]),
            Row(name: "4 encode-text --extra-ids 1000000000", args: ["encode-text"] + t5Args + ["--extra-ids", "1000000000", "x"],
                mentions: ["--extra-ids", "1000"]),
        ])
    }

    // 5: a prompt file's size is checked before it is read; long lines are refused.
    func testItem5PromptFileSizeCheckedFirst() throws {
        let config = try promptlessConfig()
        let huge = dir + "/huge.txt"
        XCTAssertTrue(FileManager.default.createFile(atPath: huge, contents: nil))
        XCTAssertEqual(truncate(huge, 1 << 30), 0)   // sparse: 1 GB by stat, nothing on disk
        let longLine = dir + "/long.txt"
        try ("short prompt\n" + String(repeating: "a", count: 200_000) + "\n").write(toFile: longLine, atomically: true, encoding: .utf8)
        let t0 = Date()
        try check([
            Row(name: "5 1 GB prompt file", args: ["generate", "--config", config, "--prompt-path", huge, "--output", dir + "/o.mp4"],
                mentions: [huge, "1073741824 bytes", "limit"]),
            Row(name: "5 200 KB line", args: ["generate", "--config", config, "--prompt-path", longLine, "--output", dir + "/o.mp4"],
                mentions: [longLine, "line 2", "200000 bytes"]),
        ])
        XCTAssertLessThan(Date().timeIntervalSince(t0), 30, "the size must be checked before reading")
    }

    // 6: an existing output needs --overwrite; an output that is an input is always refused.
    func testItem6OutputsNeverReplaceInputs() throws {
        let input = dir + "/in.safetensors"
        try FileManager.default.copyItem(atPath: repoRoot + "/" + golden + "/t5_encoder.weights.safetensors", toPath: input)
        let original = try Data(contentsOf: URL(fileURLWithPath: input))
        let existing = dir + "/existing.safetensors"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: existing))
        let tokenizer = dir + "/tok.model"
        try FileManager.default.copyItem(atPath: repoRoot + "/" + golden + "/tokenizer.model", toPath: tokenizer)
        let tokenizerBytes = try Data(contentsOf: URL(fileURLWithPath: tokenizer))
        let image = dir + "/ref.png"
        try FileManager.default.copyItem(atPath: repoRoot + "/Tests/Fixtures/images/pattern_37x23.png", toPath: image)
        let imageBytes = try Data(contentsOf: URL(fileURLWithPath: image))
        try check([
            Row(name: "6 weights convert in in", args: ["weights", "convert", input, input], mentions: [input, "is the input"]),
            Row(name: "6 weights convert in in --overwrite", args: ["weights", "convert", input, input, "--overwrite"], mentions: [input, "is the input"]),
            Row(name: "6 weights convert onto an existing file", args: ["weights", "convert", input, existing], mentions: [existing, "already exists"]),
            Row(name: "6 encode-text --output its tokenizer", args: ["encode-text", "--t5", input, "--tokenizer", tokenizer, "--output", tokenizer, "--overwrite", "x"],
                mentions: [tokenizer, "is the input"]),
            Row(name: "6 encode-text --output its checkpoint", args: ["encode-text", "--t5", input, "--tokenizer", tokenizer, "--output", input, "--overwrite", "x"],
                mentions: [input, "is the input"]),
            Row(name: "6 encode-text --output existing", args: ["encode-text", "--t5", input, "--tokenizer", tokenizer, "--output", existing, "x"],
                mentions: [existing, "already exists"]),
            Row(name: "6 generate --output its --image", args: generate(["--image", image, "--output", image, "--num-frames", "1", "--overwrite"]),
                mentions: [image, "is the input"]),
            Row(name: "6 vae reconstruct -o its input", args: ["vae", "reconstruct", "--vae", "ae2d", "--weights", repoRoot + "/" + golden + "/v2_vae/ae2d_T1.weights.safetensors",
                                                               image, "-o", image, "--overwrite"], mentions: [image, "is the input"]),
            Row(name: "6 vae encode -o its weights", args: ["vae", "encode", "--vae", "ae2d", "--weights", input, image, "-o", input, "--overwrite"],
                mentions: [input, "is the input"]),
            Row(name: "6 vae encode -o existing", args: ["vae", "encode", "--vae", "ae2d", "--weights", input, image, "-o", existing],
                mentions: [existing, "already exists"]),
            Row(name: "6 vae decode -o its latent", args: ["vae", "decode", "--vae", "ae2d", "--weights", repoRoot + "/" + golden + "/v2_vae/ae2d_T1.weights.safetensors",
                                                           input, "-o", input, "--overwrite"], mentions: [input, "is the input"]),
            Row(name: "6 decode -o its latent", args: ["decode", input, "-o", input, "--overwrite"], mentions: [input, "is the input"]),
            Row(name: "6 generate-image -o its weights", args: ["generate-image", "--weights", image, "-o", image, "--overwrite"],
                mentions: [image, "is the input"]),
        ])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: input)), original)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: tokenizer)), tokenizerBytes)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: image)), imageBytes)
        XCTAssertEqual(try String(contentsOfFile: existing, encoding: .utf8), "precious")
        // With --overwrite an existing output that is not an input is replaced.
        try check([Row(name: "6 weights convert --overwrite", args: ["weights", "convert", input, existing, "--overwrite"], status: 0, mentions: ["wrote \(existing)"])])
        XCTAssertEqual(listing(dir).filter { $0.contains("partial") }, [])
    }

    // 7: SIGTERM and SIGHUP are handled as SIGINT: partial output removed, 128 + signal.
    func testItem7TerminationSignalsCleanUp() throws {
        for (sig, status) in [(SIGTERM, Int32(143)), (SIGHUP, Int32(129))] {
            let out = dir + "/new/deep/video.mp4"
            let (r, timedOut) = try run(generate(["--output", out, "--num-sampling-steps", "1000"]), signal: sig)
            XCTAssertFalse(timedOut)
            XCTAssertEqual(r.status, status, r.stderr)
            XCTAssertTrue(r.stderr.contains("partial output removed"), r.stderr)
            XCTAssertEqual(listing(dir), [], "signal \(sig): nothing may be left behind")
        }
    }

    // 7: the same while the output is being written: `weights convert` of a 64 MB checkpoint,
    // signalled once its temporary file exists.
    func testItem7SignalDuringTheWriteRemovesTheTemporary() throws {
        let input = dir + "/big.safetensors"
        let floats = 1 << 24
        var header = Data(#"{"w":{"dtype":"F32","shape":[\#(floats)],"data_offsets":[0,\#(floats * 4)]}}"#.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var length = UInt64(header.count).littleEndian
        XCTAssertTrue(FileManager.default.createFile(atPath: input, contents: Data(bytes: &length, count: 8) + header))
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: input))
        try h.seekToEnd()
        try h.write(contentsOf: Data(repeating: 0x3F, count: floats * 4))
        try h.close()
        for (sig, status) in [(SIGTERM, Int32(143)), (SIGHUP, Int32(129)), (SIGINT, Int32(130))] {
            // A conversion that finishes before its temporary file is seen is run again (3 tries).
            var signalled = false
            for _ in 0..<3 where !signalled {
                let out = dir + "/out/converted.safetensors"
                try? FileManager.default.removeItem(atPath: dir + "/out")
                try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
                let p = Process()
                p.executableURL = URL(fileURLWithPath: opensoraBinary)
                p.arguments = ["weights", "convert", input, out, "--dtype", "f16"]
                p.standardOutput = Pipe()
                p.standardError = Pipe()
                try p.run()
                // Wait for the temporary file, then signal: no guess about timing.
                let deadline = Date().addingTimeInterval(60)
                while p.isRunning && Date() < deadline {
                    if listing(dir + "/out").contains(where: { $0.contains(".partial") }) { signalled = true; kill(p.processIdentifier, sig); break }
                    usleep(2_000)
                }
                p.waitUntilExit()
                if signalled {
                    XCTAssertEqual(p.terminationStatus, status, "signal \(sig)")
                    XCTAssertEqual(listing(dir + "/out"), [], "signal \(sig): the temporary file must go")
                }
            }
            XCTAssertTrue(signalled, "signal \(sig): the conversion never showed its temporary file in 3 runs")
        }
    }

    // 8: folders made for the output go again when the run fails.
    func testItem8FailedRunLeavesNoFolders() throws {
        try check([
            Row(name: "8 --image missing with a new output folder", args: generate(["--output", dir + "/new/deep/x.mp4", "--image", dir + "/missing.png"]),
                mentions: ["missing.png"]),
        ])
        XCTAssertEqual(listing(dir), [])
        // A failure while writing (RLIMIT_FSIZE stands in for a full disk).
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -f 2; exec \"$0\" generate --config configs/tiny.yaml --prompt x --output \"$1\"", opensoraBinary, dir + "/made/here/x.mp4"]
        p.currentDirectoryURL = URL(fileURLWithPath: repoRoot)
        p.standardError = Pipe()
        p.standardOutput = Pipe()
        try p.run()
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertEqual(listing(dir), [], "folders made for a failed write must go")
    }

    // 9: a run that fails on its second video reports the first, which it keeps.
    func testItem9KeptFilesAreReported() throws {
        XCTAssertEqual(symlink(dir + "/nowhere/target.mp4", dir + "/x_0001.mp4"), 0)   // dangling: the second write fails
        let (r, _) = try run(["generate", "--config", "configs/tiny.yaml", "--prompt", "a", "--prompt", "b", "--output", dir + "/x.mp4"])
        XCTAssertNotEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("x_0001.mp4"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/x_0000.mp4"))
        XCTAssertTrue(r.stdout.contains("wrote \(dir!)/x_0000.mp4"), "the kept file must be reported: \(r.stdout)")
    }

    // 12: an empty or blank prompt is an error.
    func testItem12EmptyPrompts() throws {
        try check([
            Row(name: "12 --prompt ''", args: ["generate", "--config", "configs/tiny.yaml", "--prompt", "", "--output", dir + "/o.mp4"], mentions: ["prompt", "empty"]),
            Row(name: "12 --prompt '   '", args: ["generate", "--config", "configs/tiny.yaml", "--prompt", " \t ", "--output", dir + "/o.mp4"], mentions: ["prompt", "empty"]),
            Row(name: "12 config prompt ''", args: ["generate", "--config", try tinyConfig([("  - a robot dances in the rain", "  - \"  \"")]), "--output", dir + "/o.mp4"],
                mentions: ["prompt 2", "empty"]),
        ])
        XCTAssertEqual(listing(dir).filter { $0.hasSuffix(".mp4") }, [])
    }

    // 13: an --image path with ';' in it is one file.
    func testItem13SemicolonInImagePath() throws {
        let image = dir + "/we;ird.jpg"
        try FileManager.default.copyItem(atPath: repoRoot + "/Tests/Fixtures/images/photo_40x30.jpg", toPath: image)
        try check([
            Row(name: "13 --image 'we;ird.jpg'", args: generate(["--image", image, "--output", dir + "/o.png", "--num-frames", "1"]), status: 0,
                mentions: ["wrote \(dir!)/o.png"]),
            Row(name: "13 --image 'mi;ssing.png' names the whole path", args: generate(["--image", dir + "/mi;ssing.png", "--output", dir + "/p.png"]),
                mentions: ["mi;ssing.png", "no such file"]),
        ])
    }

    // 14: a trailing slash names a folder.
    func testItem14OutputFolder() throws {
        try check([Row(name: "14 --output dir/", args: generate(["--output", dir + "/", "--num-frames", "1"]), status: 0, mentions: ["wrote \(dir!)/sample.png"])])
        XCTAssertEqual(listing(dir), ["sample.png"])
    }

    // 16: negative numbers reach the range checks; --seed -1 draws a seed and says which.
    func testItem16NegativeNumbers() throws {
        try check([
            Row(name: "16 --seed -1", args: generate(["--seed", "-1", "--num-frames", "1", "--output", dir + "/s.png"]), status: 0,
                mentions: ["random seed", "wrote"]),
            Row(name: "16 --num-frames -5", args: generate(["--num-frames", "-5", "--output", dir + "/o.mp4"]), mentions: ["num_frames", "-5"]),
            Row(name: "16 --cfg-scale -3", args: generate(["--cfg-scale", "-3", "--output", dir + "/o.mp4"]), mentions: ["cfg_scale", "-3"]),
            Row(name: "16 --seed -2", args: generate(["--seed", "-2", "--output", dir + "/o.mp4"]), mentions: ["seed", "-2"]),
            Row(name: "16 --fps -1", args: generate(["--fps", "-1", "--output", dir + "/o.mp4"]), mentions: ["fps", "-1"]),
            Row(name: "16 --num-sampling-steps -4", args: generate(["--num-sampling-steps", "-4", "--output", dir + "/o.mp4"]), mentions: ["num_sampling_steps", "-4"]),
            Row(name: "16 --batch-size -1", args: generate(["--batch-size", "-1", "--output", dir + "/o.mp4"]), mentions: ["batch_size", "-1"]),
            Row(name: "16 --threads -2", args: generate(["--threads", "-2"]), mentions: ["--threads", "-2"]),
            Row(name: "16 --prompt '-a dog' is a prompt", args: ["generate", "--config", "configs/tiny.yaml", "--prompt", "-a dog", "--num-frames", "1",
                                                            "--output", dir + "/dash.png"], status: 0, mentions: ["wrote \(dir!)/dash.png"]),
            Row(name: "16 encode-text --max-length -5", args: ["encode-text"] + t5Args + ["--max-length", "-5", "x"], mentions: ["--max-length", "-5"]),
            Row(name: "2 vae reconstruct --resize 100000x100000", args: ["vae", "reconstruct", "--vae", "ae2d", "--weights", repoRoot + "/" + golden + "/v2_vae/ae2d_T1.weights.safetensors",
                                                                        "--resize", "100000x100000", "in.mp4", "-o", dir + "/r.mp4"], mentions: ["--resize", "100000x100000"]),
            Row(name: "16 --image-size -240 426", args: generate(["--image-size", "-240", "426", "--output", dir + "/o.mp4"]), mentions: ["image_size", "-240"]),
        ])
        for r in [try run(generate(["--num-frames", "-5"])).0] { XCTAssertFalse(r.stderr.contains("Missing value"), r.stderr) }
        // --image-size with no value is still the parser's "Missing value", not silently dropped.
        let noValue = try run(generate(["--image-size", "--output", dir + "/o.mp4"])).0
        XCTAssertNotEqual(noValue.status, 0)
        XCTAssertTrue(noValue.stderr.contains("Missing value for '--image-size"), noValue.stderr)
    }

    // 17: errors give the true reason.
    func testItem17TrueReasons() throws {
        let config = try promptlessConfig()
        let fifo = makeFIFO("prompts")
        let latin1 = dir + "/latin1.txt"
        try Data("caf".utf8 + [0xE9] + Data(" au lait\n".utf8)).write(to: URL(fileURLWithPath: latin1))
        func promptFile(_ path: String) -> [String] { ["generate", "--config", config, "--prompt-path", path, "--output", dir + "/o.mp4"] }
        try check([
            Row(name: "17 prompt file /dev/zero", args: promptFile("/dev/zero"), mentions: ["/dev/zero", "character device"]),
            Row(name: "17 prompt file FIFO", args: promptFile(fifo), mentions: [fifo, "FIFO"]),
            Row(name: "17 prompt file folder", args: promptFile(dir), mentions: [dir, "folder"]),
            Row(name: "17 prompt file not UTF-8", args: promptFile(latin1), mentions: [latin1, "UTF-8", "byte offset 3"]),
            Row(name: "17 weights /dev/zero", args: generate(["--config", try tinyConfig([("path: Tests/Fixtures/golden/stdit3.weights.safetensors", "path: /dev/zero")]), "--output", dir + "/o.mp4"]),
                mentions: ["/dev/zero", "character device"]),
            Row(name: "17 weights download, host unreachable",
                args: ["weights", "download", "--component", "vae-v1.2", "--dir", dir + "/w", "--endpoint", "http://127.0.0.1:9"],
                mentions: ["could not reach 127.0.0.1:9", "HF_ENDPOINT", "--endpoint"]),
        ])
        for r in [try run(promptFile("/dev/zero")).0, try run(promptFile(dir)).0] {
            XCTAssertFalse(r.stderr.contains("permission") || r.stderr.contains("NSCocoaErrorDomain"), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/w"), "a download that got nothing leaves nothing")
    }
}

/// Whether the timeout killed the process.
private final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func fire() { lock.lock(); value = true; lock.unlock() }
    var fired: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
