import XCTest
import Weights

struct ServerDidNotStart: Error, CustomStringConvertible { let description: String }

final class DownloaderTests: XCTestCase {
    var dir: String!
    var server: Process?

    override func setUp() {
        dir = NSTemporaryDirectory() + "dl-tests-\(getpid())-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir + "/srv", withIntermediateDirectories: true)
    }
    override func tearDown() {
        server?.terminate()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Starts the loopback Range server; returns its port.
    func startServer(cutFirst: Int? = nil) throws -> Int {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("range_server.py").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script, dir + "/srv", dir + "/port"] + (cutFirst.map { ["--cut-first", String($0)] } ?? [])
        try p.run()
        server = p
        for _ in 0..<100 {
            if let s = try? String(contentsOfFile: dir + "/port", encoding: .utf8), let port = Int(s) { return port }
            usleep(50_000)
        }
        // `make setup` installs python3; without the server the download paths go untested, so fail.
        throw ServerDidNotStart(description: "the python3 loopback server did not start within 5 s (is python3 installed? run `make setup`)")
    }

    func testSHA256KnownVectors() {
        var s = SHA256(); s.update(Array("abc".utf8))
        XCTAssertEqual(SHA256.hex(s.finalize()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var e = SHA256(); e.update([UInt8]())
        XCTAssertEqual(SHA256.hex(e.finalize()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var l = SHA256(); l.update(Array(repeating: UInt8(ascii: "a"), count: 1_000_000))
        XCTAssertEqual(SHA256.hex(l.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testDownloadResumesAfterADroppedConnectionAndVerifiesHash() throws {
        let payload = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try payload.write(to: URL(fileURLWithPath: dir + "/srv/model.safetensors"))
        let port = try startServer(cutFirst: 100_000)
        let url = URL(string: "http://127.0.0.1:\(port)/model.safetensors")!
        let dest = dir + "/out/model.safetensors"
        let d = Downloader()
        XCTAssertThrowsError(try d.download(url, to: dest))           // first attempt is cut short
        XCTAssertFalse(FileManager.default.fileExists(atPath: dest))
        let partial = (try FileManager.default.attributesOfItem(atPath: dest + ".partial")[.size] as? NSNumber)?.intValue ?? 0
        XCTAssertGreaterThan(partial, 0)
        let digest = try d.download(url, to: dest)                    // resumes with a Range request
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dest)), payload)
        XCTAssertEqual(digest, try SHA256.file(dir + "/srv/model.safetensors"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dest + ".partial"))
    }

    func testWrongHashIsRejectedAndNothingKept() throws {
        try Data(repeating: 7, count: 1000).write(to: URL(fileURLWithPath: dir + "/srv/a.bin"))
        let port = try startServer()
        let dest = dir + "/out/a.bin"
        XCTAssertThrowsError(try Downloader().download(URL(string: "http://127.0.0.1:\(port)/a.bin")!, to: dest, sha256: String(repeating: "0", count: 64))) {
            XCTAssertTrue("\($0)".contains("does not match"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dest))
        XCTAssertThrowsError(try Downloader().download(URL(string: "http://127.0.0.1:\(port)/missing.bin")!, to: dir + "/out/m.bin")) {
            XCTAssertTrue("\($0)".contains("HTTP 404"), "\($0)")
        }
    }
}
