import Foundation
import TensorCore
import XCTest
import VideoIO

final class ImageIOTests: XCTestCase {
    private func fixture(_ name: String) -> String { imageFixtures + "/" + name }

    func testPNGRoundTrip() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let image = try movingSquare(frames: 1, height: 19, width: 23).frame(0)
        let path = dir + "/frame.png"
        try PNGWriter.write(image, to: path)
        XCTAssertEqual(try ImageReader.read(path: path), image)
        XCTAssertEqual(listing(dir), ["frame.png"])
        assertThrowsVideoIOError(try PNGWriter.write(image, to: path), path: path, containing: "already exists")
        try PNGWriter.write(image, to: path, overwrite: true)
    }

    func testPNGFramesAreNumberedAndAllOrNothing() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let video = try movingSquare(frames: 3, height: 16, width: 20)
        let paths = try PNGWriter.writeFrames(video, base: dir + "/clip")
        XCTAssertEqual(paths, ["clip_0000.png", "clip_0001.png", "clip_0002.png"].map { dir + "/" + $0 })
        XCTAssertEqual(listing(dir), ["clip_0000.png", "clip_0001.png", "clip_0002.png"])
        for t in 0..<3 { XCTAssertEqual(try ImageReader.read(path: paths[t]), video.frame(t)) }
        XCTAssertEqual(PNGWriter.framePaths(base: "a", count: 10001).last, "a_10000.png")

        // One name taken: nothing new is written, the existing files stay as they were.
        try FileManager.default.removeItem(atPath: paths[0])
        try FileManager.default.removeItem(atPath: paths[1])
        assertThrowsVideoIOError(try PNGWriter.writeFrames(video, base: dir + "/clip"), path: paths[2], containing: "already exists")
        XCTAssertEqual(listing(dir), ["clip_0002.png"])
        XCTAssertEqual(try ImageReader.read(path: paths[2]), video.frame(2))
    }

    func testPNGWriteToMissingFolderFails() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let video = try movingSquare(frames: 2, height: 8, width: 8)
        let base = dir + "/missing/clip"
        assertThrowsVideoIOError(try PNGWriter.writeFrames(video, base: base), path: base + "_0000.png", containing: "does not exist")
        XCTAssertEqual(listing(dir), [])
    }

    func testPNGAlphaIsDroppedLikePIL() throws {
        let got = try ImageReader.read(path: fixture("rgba_9x7.png"))
        let want = try ImageReader.read(path: fixture("rgba_9x7.expected.png"))
        XCTAssertEqual(got, want)
    }

    func testJPEGDecodeMatchesPIL() throws {
        for name in ["photo_40x30", "gray_17x11"] {
            let got = try ImageReader.read(path: fixture(name + ".jpg"))
            let want = try ImageReader.read(path: fixture(name + ".expected.png"))
            XCTAssertEqual(got.width, want.width)
            XCTAssertEqual(got.height, want.height)
            let maxDiff = zip(got.pixels, want.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertEqual(maxDiff, 0, "\(name): libjpeg and PIL decodes differ by up to \(maxDiff)")
        }
    }

    func testResizeCropToFillMatchesPIL() throws {
        let cases: [(String, String, [(Int, Int)])] = [
            ("pattern_37x23", "png", [(16, 24), (32, 48), (20, 20), (23, 37), (9, 61)]),
            ("photo_40x30", "jpg", [(32, 48), (24, 16)]),
        ]
        for (name, ext, sizes) in cases {
            let source = try ImageReader.read(path: fixture("\(name).\(ext)"))
            for (h, w) in sizes {
                let got = try source.resizedToFill(height: h, width: w)
                let want = try ImageReader.read(path: fixture("\(name).fill_\(h)x\(w).png"))
                let maxDiff = zip(got.pixels, want.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
                XCTAssertEqual(got.width, w)
                XCTAssertEqual(got.height, h)
                XCTAssertEqual(maxDiff, 0, "\(name) -> \(h)x\(w): differs from PIL by up to \(maxDiff)")
            }
        }
    }

    func testReferenceImageTensor() throws {
        let x = try loadReferenceImage(path: fixture("photo_40x30.jpg"), height: 32, width: 48)
        XCTAssertEqual(x.shape, [3, 32, 48])
        let want = try ImageReader.read(path: fixture("photo_40x30.fill_32x48.png"))
        let plane = 32 * 48
        for i in [0, 77, plane - 1] {
            for c in 0..<3 {
                let expected: Float = (Float(want.pixels[i * 3 + c]) / 255 - 0.5) / 0.5
                XCTAssertEqual(x.pointer[c * plane + i], expected)
            }
        }
        var lo = Float.infinity, hi = -Float.infinity
        for i in 0..<x.count { lo = min(lo, x.pointer[i]); hi = max(hi, x.pointer[i]) }
        XCTAssertGreaterThanOrEqual(lo, -1)
        XCTAssertLessThanOrEqual(hi, 1)
    }

    func testBadImageFilesAreClearErrors() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let missing = dir + "/missing.png"
        assertThrowsVideoIOError(try ImageReader.read(path: missing), path: missing, containing: "no such file")
        assertThrowsVideoIOError(try ImageReader.read(path: dir), path: dir, containing: "folder")

        let empty = dir + "/empty.jpg"
        try Data().write(to: URL(fileURLWithPath: empty))
        assertThrowsVideoIOError(try ImageReader.read(path: empty), path: empty, containing: "empty")

        let text = dir + "/notes.png"
        try Data("hello, not an image".utf8).write(to: URL(fileURLWithPath: text))
        assertThrowsVideoIOError(try ImageReader.read(path: text), path: text, containing: "unsupported image format")

        let jpeg = try Data(contentsOf: URL(fileURLWithPath: fixture("photo_40x30.jpg")))
        let truncatedJPEG = dir + "/truncated.jpg"
        try jpeg.prefix(jpeg.count / 2).write(to: URL(fileURLWithPath: truncatedJPEG))
        assertThrowsVideoIOError(try ImageReader.read(path: truncatedJPEG), path: truncatedJPEG, containing: "JPEG")

        let png = try Data(contentsOf: URL(fileURLWithPath: fixture("pattern_37x23.png")))
        let truncatedPNG = dir + "/truncated.png"
        try png.prefix(png.count / 2).write(to: URL(fileURLWithPath: truncatedPNG))
        assertThrowsVideoIOError(try ImageReader.read(path: truncatedPNG), path: truncatedPNG, containing: "corrupt PNG")

        let headerOnly = dir + "/header.png"
        try png.prefix(12).write(to: URL(fileURLWithPath: headerOnly))
        assertThrowsVideoIOError(try ImageReader.read(path: headerOnly), path: headerOnly, containing: "PNG")
    }

    func testHugeImagesAreRefusedFromTheHeader() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // JPEG: rewrite the SOF0 frame size to 60000 x 60000.
        var jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("photo_40x30.jpg"))))
        let sof = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        jpeg[sof + 5] = 0xEA; jpeg[sof + 6] = 0x60; jpeg[sof + 7] = 0xEA; jpeg[sof + 8] = 0x60
        let bigJPEG = dir + "/big.jpg"
        try Data(jpeg).write(to: URL(fileURLWithPath: bigJPEG))
        assertThrowsVideoIOError(try ImageReader.read(path: bigJPEG), path: bigJPEG, containing: "60000 x 60000")

        // PNG: IHDR says 20000 x 10 (side limit) and 12000 x 12000 (pixel limit), CRC fixed up.
        for (w, h) in [(20000, 10), (12000, 12000)] {
            var png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("pattern_37x23.png"))))
            let be = { (v: Int) in [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
            png.replaceSubrange(16..<20, with: be(w))
            png.replaceSubrange(20..<24, with: be(h))
            png.replaceSubrange(29..<33, with: be(Int(crc32(png[12..<29]))))
            let bigPNG = dir + "/big\(w).png"
            try Data(png).write(to: URL(fileURLWithPath: bigPNG))
            assertThrowsVideoIOError(try ImageReader.read(path: bigPNG), path: bigPNG, containing: "\(w) x \(h)")
        }
    }
}

/// CRC-32 as PNG chunks use it.
private func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}
