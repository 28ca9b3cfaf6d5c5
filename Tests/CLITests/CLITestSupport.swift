import Foundation
import XCTest

/// The repository root (tests run the CLI from there, as a user would).
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The `opensora` executable SwiftPM built next to the test bundle.
var opensoraBinary: String {
    var dir = Bundle.main.bundleURL
    if dir.pathExtension == "xctest" { dir = dir.deletingLastPathComponent() }
    return dir.appendingPathComponent("opensora").path
}

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs the CLI with `args` in the repository root; optional SIGINT after `interruptAfter` seconds.
func runCLI(_ args: [String], interruptAfter: Double? = nil, environment: [String: String] = [:]) throws -> CommandResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: opensoraBinary)
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: repoRoot)
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    if let t = interruptAfter {
        DispatchQueue.global().asyncAfter(deadline: .now() + t) { if p.isRunning { kill(p.processIdentifier, SIGINT) } }
    }
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return CommandResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// ffprobe's view of a video's first stream: key=value pairs.
func probe(_ path: String) throws -> [String: String] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                   "stream=codec_name,width,height,r_frame_rate,nb_read_frames,pix_fmt", "-of", "default=nw=1", path]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let d = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    var r: [String: String] = [:]
    for line in String(decoding: d, as: UTF8.self).split(separator: "\n") {
        let kv = line.split(separator: "=", maxSplits: 1)
        if kv.count == 2 { r[String(kv[0])] = String(kv[1]) }
    }
    return r
}

/// A fresh scratch folder, removed by the caller's tearDown.
func scratchFolder(_ name: String) -> String {
    let d = NSTemporaryDirectory() + "opensora-cli-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// Files in a folder (hidden temporaries included).
func listing(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }
