import Foundation
import XCTest
import VideoIO

/// Tests/Fixtures/images
let imageFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/images").path

/// A fresh empty folder, removed by the caller's defer.
func makeTempDir(_ name: String = #function) throws -> String {
    let clean = name.filter { $0.isLetter || $0.isNumber }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("videoio-\(clean)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func listing(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
}

/// Runs a tool and returns its stdout; fails the test when it cannot run or exits non-zero.
func runTool(_ tool: String, _ args: [String]) throws -> Data {
    let candidates = ["/usr/bin/" + tool, "/usr/local/bin/" + tool, "/opt/homebrew/bin/" + tool]
    guard let exe = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        // `make setup` installs ffmpeg; a missing tool is a broken environment, so the test fails.
        throw ToolMissing(description: "\(tool) is not installed (run `make setup`); this test checks the output with it")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw NSError(domain: tool, code: Int(p.terminationStatus),
                      userInfo: [NSLocalizedDescriptionKey: String(decoding: errData, as: UTF8.self)])
    }
    return data
}

/// ffprobe's view of the first video stream and the container, as key=value pairs.
func probe(_ path: String) throws -> [String: String] {
    let data = try runTool("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0",
                                        "-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_frames,r_frame_rate,avg_frame_rate,duration,color_space,color_range:format=duration,format_name",
                                        "-of", "default=noprint_wrappers=1", path])
    var result: [String: String] = [:]
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
        guard let eq = line.firstIndex(of: "=") else { continue }
        let key = String(line[..<eq])
        // stream and format both have "duration": keep the first (stream) as duration, the second as format_duration
        if key == "duration", result["duration"] != nil { result["format_duration"] = String(line[line.index(after: eq)...]) } else {
            result[key] = String(line[line.index(after: eq)...])
        }
    }
    return result
}

/// Frame `index` of a video decoded by ffmpeg to packed RGB24.
func decodeFrame(_ path: String, index: Int) throws -> [UInt8] {
    [UInt8](try runTool("ffmpeg", ["-v", "error", "-i", path, "-vf", "select=eq(n\\,\(index))", "-frames:v", "1",
                                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]))
}

/// A test clip: a smooth gradient with a white square that moves one step per frame.
func movingSquare(frames: Int, height: Int, width: Int) throws -> RGBVideo {
    var px = [UInt8](repeating: 0, count: frames * height * width * 3)
    for t in 0..<frames {
        for y in 0..<height {
            for x in 0..<width {
                let i = ((t * height + y) * width + x) * 3
                let inSquare = x >= 2 * t && x < 2 * t + 12 && y >= height / 3 && y < height / 3 + 12
                px[i] = inSquare ? 255 : UInt8(x * 255 / max(width - 1, 1))
                px[i + 1] = inSquare ? 255 : UInt8(y * 255 / max(height - 1, 1))
                px[i + 2] = inSquare ? 255 : 96
            }
        }
    }
    return try RGBVideo(frameCount: frames, height: height, width: width, pixels: px)
}

func assertThrowsVideoIOError(_ expression: @autoclosure () throws -> some Any, path: String, containing text: String,
                              file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try expression(), file: file, line: line) { error in
        guard let e = error as? VideoIOError else { return XCTFail("not a VideoIOError: \(error)", file: file, line: line) }
        XCTAssertEqual(e.path, path, "error names another file: \(e)", file: file, line: line)
        XCTAssertTrue(e.description.contains(path), "message does not name the file: \(e)", file: file, line: line)
        XCTAssertTrue(e.reason.lowercased().contains(text.lowercased()), "'\(e)' does not mention '\(text)'", file: file, line: line)
    }
}

struct ToolMissing: Error, CustomStringConvertible { let description: String }

/// A soft blob drifting diagonally over horizontal stripes: smooth content with sub-pixel
/// motion, the kind that x264's B-frame search reads its reference borders for.
func driftingBlob(frames: Int, height: Int, width: Int) throws -> RGBVideo {
    var px = [UInt8](repeating: 0, count: frames * height * width * 3)
    for t in 0..<frames {
        for y in 0..<height {
            for x in 0..<width {
                let dx = Double(x) - 10 - 1.7 * Double(t), dy = Double(y) - 12 - 0.6 * Double(t)
                let blob = 120 * exp(-(dx * dx + dy * dy) / 40)
                for c in 0..<3 {
                    let v = 128 + blob * Double(c + 1) / 3 + 20 * sin(Double(y) / 3 + Double(c))
                    px[((t * height + y) * width + x) * 3 + c] = UInt8(max(0, min(255, v)))
                }
            }
        }
    }
    return try RGBVideo(frameCount: frames, height: height, width: width, pixels: px)
}

/// Allocates, fills with pseudo-random bytes and frees blocks of 1 KB ... 200 KB, so that later
/// allocations get memory holding that garbage (as in a process that has run a model).
func scribbleOnFreedHeap(seed: UInt64) {
    var state = seed
    func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    var blocks: [UnsafeMutableRawPointer] = []
    for _ in 0..<64 {
        let n = Int(next() % 200_000) + 1000
        guard let p = malloc(n) else { continue }
        let bytes = p.bindMemory(to: UInt8.self, capacity: n)
        for j in 0..<n { bytes[j] = UInt8(truncatingIfNeeded: next()) }
        blocks.append(p)
    }
    for p in blocks { free(p) }
}

@_silgen_name("mallopt") private func c_mallopt(_ param: Int32, _ value: Int32) -> Int32

/// glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD: at 1 GiB freed memory stays in the heap.
func setHeapThresholds(_ bytes: Int32) {
    _ = c_mallopt(-3, bytes)   // M_MMAP_THRESHOLD
    _ = c_mallopt(-1, bytes)   // M_TRIM_THRESHOLD
}
