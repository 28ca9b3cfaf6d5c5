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
func runCLI(_ args: [String], interruptAfter: Double? = nil, environment: [String: String] = [:], standardInput: String? = nil) throws -> CommandResult {
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
    let input = Pipe()
    if standardInput != nil { p.standardInput = input }
    try p.run()
    if let standardInput {
        input.fileHandleForWriting.write(Data(standardInput.utf8))
        try input.fileHandleForWriting.close()
    }
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

/// Runs the CLI with stderr on a pseudo-terminal (so it prints progress as in a terminal) and
/// sends `signal` once stderr shows `marker`: a deterministic point, not a guess at timing.
/// Gives up (SIGKILL, status 137) if the marker has not appeared after `timeout` seconds.
func runCLI(_ args: [String], signal: Int32, whenStderrShows marker: String, timeout: Double = 120) throws -> CommandResult {
    let master = c_posix_openpt(O_RDWR | O_NOCTTY)
    guard master >= 0, c_grantpt(master) == 0, c_unlockpt(master) == 0, let name = c_ptsname(master) else {
        throw NSError(domain: "pty", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "cannot open a pseudo-terminal"])
    }
    defer { close(master) }
    guard let terminal = FileHandle(forWritingAtPath: String(cString: name)) else {
        throw NSError(domain: "pty", code: 0, userInfo: [NSLocalizedDescriptionKey: "cannot open \(String(cString: name))"])
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: opensoraBinary)
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: repoRoot)
    let out = Pipe()
    p.standardOutput = out
    p.standardError = terminal
    try p.run()
    try terminal.close()   // the child holds the only writer now: reads end (EIO) when it exits
    let watchdog = DispatchWorkItem { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    var err = Data(), sent = false
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(master, &buffer, buffer.count)
        if n <= 0 { break }
        err.append(contentsOf: buffer[0..<n])
        if !sent, String(decoding: err, as: UTF8.self).contains(marker) {
            kill(p.processIdentifier, signal)
            sent = true
        }
    }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    watchdog.cancel()
    return CommandResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
}

// glibc's pseudo-terminal calls (declared under _XOPEN_SOURCE, which Swift's Glibc module leaves out).
@_silgen_name("posix_openpt") private func c_posix_openpt(_ flags: Int32) -> Int32
@_silgen_name("grantpt") private func c_grantpt(_ fd: Int32) -> Int32
@_silgen_name("unlockpt") private func c_unlockpt(_ fd: Int32) -> Int32
@_silgen_name("ptsname") private func c_ptsname(_ fd: Int32) -> UnsafeMutablePointer<CChar>?
