import Foundation
import TensorCore
import XCTest
import VideoIO

final class MP4WriterTests: XCTestCase {
    func testH264SixteenFramesProbe() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/clip.mp4"
        let video = try movingSquare(frames: 16, height: 64, width: 64)
        let codec = try MP4Writer.write(video, to: path, options: .init(fps: 8, crf: 18))
        XCTAssertEqual(codec, "libx264")
        XCTAssertEqual(listing(dir), ["clip.mp4"], "temporary file left behind")

        let info = try probe(path)
        XCTAssertEqual(info["codec_name"], "h264")
        XCTAssertEqual(info["pix_fmt"], "yuv420p")
        XCTAssertEqual(info["width"], "64")
        XCTAssertEqual(info["height"], "64")
        XCTAssertEqual(info["nb_read_frames"], "16")
        XCTAssertEqual(info["r_frame_rate"], "8/1")
        XCTAssertEqual(info["avg_frame_rate"], "8/1")
        XCTAssertEqual(info["color_space"], "smpte170m")
        XCTAssertEqual(info["color_range"], "tv")
        XCTAssertEqual(Double(info["duration"] ?? "") ?? 0, 2.0, accuracy: 1e-6, "stream duration: \(info)")
        XCTAssertEqual(Double(info["format_duration"] ?? "") ?? 0, 2.0, accuracy: 1e-6, "container duration: \(info)")

        // The picture survives: first and last frames decode close to the source.
        for t in [0, 15] {
            let decoded = try decodeFrame(path, index: t)
            let source = video.frame(t).pixels
            XCTAssertEqual(decoded.count, source.count)
            let meanAbs = zip(decoded, source).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
            XCTAssertLessThan(Double(meanAbs) / Double(source.count), 4.0, "frame \(t) decodes far from its source")
        }
    }

    /// Same frames, same bytes, whatever the heap held before: x264's AVX-512 kernels read memory
    /// they never wrote, and `opensora generate` keeps freed memory in its heap (HeapTuning), so
    /// before the fix every run wrote different B-frames.
    func testSameFramesGiveSameBytesWhateverTheHeapHeld() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        setHeapThresholds(1 << 30)   // as HeapTuning.retainFreedMemory()
        defer { setHeapThresholds(128 << 10) }  // glibc's defaults
        // 60 frames: more than x264's 40-frame rc-lookahead, so mbtree propagates across windows.
        for frames in [17, 60] {
            let video = try driftingBlob(frames: frames, height: 32, width: 48)
            var files: [Data] = []
            for run in 0..<3 {
                scribbleOnFreedHeap(seed: UInt64(run + frames))
                let path = dir + "/run\(run).mp4"
                try MP4Writer.write(video, to: path, options: .init(fps: 24, overwrite: true))
                files.append(try Data(contentsOf: URL(fileURLWithPath: path)))
            }
            XCTAssertEqual(files[1], files[0], "\(frames) frames: run 2 differs from run 1")
            XCTAssertEqual(files[2], files[0], "\(frames) frames: run 3 differs from run 1")
        }
    }

    func testTensorStreamsToMP4() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // x: [3, T=17, H=32, W=48], a ramp in [-1, 1] as a decoded sample would be.
        let (t, h, w) = (17, 32, 48)
        var data = [Float](repeating: 0, count: 3 * t * h * w)
        for i in 0..<data.count { data[i] = Float(i % (h * w)) / Float(h * w) * 2 - 1 }
        let path = dir + "/sample.mp4"
        try MP4Writer.write(tensor: Tensor(shape: [3, t, h, w], data: data), to: path, options: .init(fps: 24))
        let info = try probe(path)
        XCTAssertEqual(info["nb_read_frames"], "17")
        XCTAssertEqual([info["width"], info["height"]], ["48", "32"])
        XCTAssertEqual(Double(info["format_duration"] ?? "") ?? 0, 17.0 / 24.0, accuracy: 1e-3)
    }

    func testOddSizeIsPaddedToEven() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/odd.mp4"
        let video = try movingSquare(frames: 5, height: 17, width: 33)
        let writer = try MP4Writer(path: path, width: 33, height: 17, options: .init(fps: 24))
        XCTAssertEqual(writer.encodedWidth, 34)
        XCTAssertEqual(writer.encodedHeight, 18)
        for t in 0..<5 { try writer.append(video.frame(t)) }
        try writer.finish()
        let info = try probe(path)
        XCTAssertEqual(info["width"], "34")
        XCTAssertEqual(info["height"], "18")
        XCTAssertEqual(info["nb_read_frames"], "5")
        // The padding repeats the last column: the decoded pixels there match their neighbours.
        let decoded = try decodeFrame(path, index: 0)
        let row = 5, last = (row * 34 + 33) * 3, prev = (row * 34 + 32) * 3
        for c in 0..<3 { XCTAssertLessThanOrEqual(abs(Int(decoded[last + c]) - Int(decoded[prev + c])), 12) }
    }

    func testMPEG4Encoder() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/clip.mp4"
        let codec = try MP4Writer.write(try movingSquare(frames: 16, height: 32, width: 48), to: path, options: .init(fps: 8, codec: .mpeg4))
        XCTAssertEqual(codec, "mpeg4")
        let info = try probe(path)
        XCTAssertEqual(info["codec_name"], "mpeg4")
        XCTAssertEqual(info["nb_read_frames"], "16")
        XCTAssertEqual(Double(info["format_duration"] ?? "") ?? 0, 2.0, accuracy: 1e-6)
    }

    func testExistingFileIsKeptUnlessOverwrite() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/clip.mp4"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
        let video = try movingSquare(frames: 2, height: 16, width: 16)
        assertThrowsVideoIOError(try MP4Writer.write(video, to: path), path: path, containing: "already exists")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "keep me")
        XCTAssertEqual(listing(dir), ["clip.mp4"])

        try MP4Writer.write(video, to: path, options: .init(overwrite: true))
        XCTAssertEqual(try probe(path)["nb_read_frames"], "2")
        XCTAssertEqual(listing(dir), ["clip.mp4"])
    }

    func testUnwritableLocationsAreClearErrors() throws {
        let dir = try makeTempDir()
        defer {
            chmod(dir, 0o755)
            try? FileManager.default.removeItem(atPath: dir)
        }
        let video = try movingSquare(frames: 2, height: 16, width: 16)

        let missing = dir + "/no/such/folder/clip.mp4"
        assertThrowsVideoIOError(try MP4Writer.write(video, to: missing), path: missing, containing: "does not exist")

        try Data().write(to: URL(fileURLWithPath: dir + "/file"))
        let underFile = dir + "/file/clip.mp4"
        assertThrowsVideoIOError(try MP4Writer.write(video, to: underFile), path: underFile, containing: "not a folder")

        // A folder we may not write to (root ignores mode bits, so use sysfs there).
        let locked = dir + "/locked"
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
        chmod(locked, 0o555)
        let denied = getuid() == 0 ? "/sys/opensora-videoio-test.mp4" : locked + "/clip.mp4"
        XCTAssertThrowsError(try MP4Writer.write(video, to: denied)) { error in
            XCTAssertTrue("\(error)".hasPrefix(denied + ": cannot write:"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: denied))
        XCTAssertEqual(listing(locked), [])
        XCTAssertEqual(listing(dir), ["file", "locked"])
    }

    func testNoFileLeftAfterErrorsOrCancel() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/clip.mp4"
        let video = try movingSquare(frames: 3, height: 16, width: 16)

        // A frame of the wrong size fails the writer and removes its temporary file.
        let w1 = try MP4Writer(path: path, width: 16, height: 16)
        try w1.append(video.frame(0))
        XCTAssertEqual(listing(dir).count, 1, "the temporary file exists while writing")
        assertThrowsVideoIOError(try w1.append(try RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: 0, count: 192))),
                                 path: path, containing: "8 x 8")
        XCTAssertThrowsError(try w1.finish())
        XCTAssertEqual(listing(dir), [])

        // Cancel, finishing with no frames, and dropping an unfinished writer all clean up.
        let w2 = try MP4Writer(path: path, width: 16, height: 16)
        try w2.append(video)
        w2.cancel()
        XCTAssertEqual(listing(dir), [])
        let w3 = try MP4Writer(path: path, width: 16, height: 16)
        assertThrowsVideoIOError(try w3.finish(), path: path, containing: "no frames")
        XCTAssertEqual(listing(dir), [])
        do {
            let w4 = try MP4Writer(path: path, width: 16, height: 16)
            try w4.append(video)
        }
        XCTAssertEqual(listing(dir), [])

        // Bad options are refused before anything is created.
        assertThrowsVideoIOError(try MP4Writer(path: path, width: 16, height: 16, options: .init(fps: 0)), path: path, containing: "fps")
        assertThrowsVideoIOError(try MP4Writer(path: path, width: 0, height: 16), path: path, containing: "frame size")
        XCTAssertEqual(listing(dir), [])
    }

    func testTensorQuantizationMatchesSaveSample() throws {
        // x: [3, T=2, H=1, W=4]; channel planes are interleaved into RGB bytes per pixel.
        let values: [Float] = [-1, 1, 0, 0.5, -2, 2, .nan, -0.5]
        var data: [Float] = []
        for c in 0..<3 { data += values.map { $0.isNaN ? $0 : $0 * (c == 2 ? -1 : 1) } }
        let video = try RGBVideo(tensor: Tensor(shape: [3, 2, 1, 4], data: data))
        XCTAssertEqual(video.frameCount, 2)
        XCTAssertEqual(video.width, 4)
        // (clamp(x) + 1) / 2 * 255 + 0.5, truncated: -1->0, 1->255, 0->128, 0.5->191, -0.5->64, NaN->0
        let red = stride(from: 0, to: video.pixels.count, by: 3).map { video.pixels[$0] }
        XCTAssertEqual(red, [0, 255, 128, 191, 0, 255, 0, 64])
        let blue = stride(from: 2, to: video.pixels.count, by: 3).map { video.pixels[$0] }
        XCTAssertEqual(blue, [255, 0, 128, 64, 255, 0, 0, 191])

        XCTAssertThrowsError(try RGBVideo(tensor: Tensor(zeros: [4, 1, 2, 2])))
        XCTAssertEqual(try RGBVideo.frame(ofTensor: Tensor(shape: [3, 2, 1, 4], data: data), 1), video.frame(1))
        let image = try RGBImage(tensor: Tensor(repeating: 0.25, shape: [3, 2, 3]))
        XCTAssertEqual(image.pixels, [UInt8](repeating: 159, count: 18))  // 1.25/2*255+0.5 = 159.875
    }
}
