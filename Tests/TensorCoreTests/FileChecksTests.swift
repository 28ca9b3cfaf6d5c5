import Foundation
import TensorCore
import XCTest

final class FileChecksTests: XCTestCase {
    var dir: String!
    override func setUp() {
        dir = NSTemporaryDirectory() + "filechecks-\(getpid())-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testKindsThatAreNotRegularFiles() throws {
        let file = dir + "/f.txt", fifo = dir + "/fifo", link = dir + "/link"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        XCTAssertEqual(symlink(file, link), 0)
        XCTAssertNil(FileChecks.notRegularFile(file))
        XCTAssertNil(FileChecks.notRegularFile(link), "symbolic links are followed")
        XCTAssertEqual(FileChecks.notRegularFile(fifo), "is a FIFO (named pipe), not a regular file")
        XCTAssertEqual(FileChecks.notRegularFile("/dev/zero"), "is a character device, not a regular file")
        XCTAssertEqual(FileChecks.notRegularFile(dir), "is a folder, not a file")
        XCTAssertNil(FileChecks.notRegularFile(dir, folderAllowed: true))
        XCTAssertEqual(FileChecks.notRegularFile(dir + "/missing"), "no such file")
    }

    func testReadTextBoundsAndUTF8() throws {
        let path = dir + "/t.txt"
        try Data("héllo\n".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try FileChecks.readText(path, what: "prompt file", maxBytes: 100), "héllo\n")
        XCTAssertThrowsError(try FileChecks.readText(path, what: "prompt file", maxBytes: 3)) {
            XCTAssertEqual("\($0)", "\(path): the prompt file is 7 bytes; the limit is 3")
        }
        try Data([0x61, 0x62, 0xC3, 0xA9, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try FileChecks.readText(path, what: "prompt file", maxBytes: 100)) {
            XCTAssertEqual("\($0)", "\(path): the prompt file is not UTF-8 text (invalid byte 0xFF at byte offset 4)")
        }
        XCTAssertNil(FileChecks.firstInvalidUTF8(Array("a€😀".utf8)))
        XCTAssertEqual(FileChecks.firstInvalidUTF8([0x61, 0xE2, 0x82]), 1, "a truncated sequence is invalid where it starts")
        XCTAssertEqual(FileChecks.firstInvalidUTF8([0xC0, 0x80]), 0, "overlong encodings are invalid")
    }

    func testOutputThatIsAnInputOrExists() throws {
        let input = dir + "/in.bin", hard = dir + "/hard.bin", soft = dir + "/soft.bin", other = dir + "/other.bin"
        try Data("in".utf8).write(to: URL(fileURLWithPath: input))
        try Data("other".utf8).write(to: URL(fileURLWithPath: other))
        XCTAssertEqual(link(input, hard), 0)
        XCTAssertEqual(symlink(input, soft), 0)
        for same in [input, hard, soft, dir + "/./in.bin"] {
            XCTAssertThrowsError(try FileChecks.checkOutput(same, inputs: [input], overwrite: true)) {
                XCTAssertTrue("\($0)".contains("is the input"), "\($0)")
            }
        }
        XCTAssertThrowsError(try FileChecks.checkOutput(other, inputs: [input], overwrite: false)) {
            XCTAssertTrue("\($0)".contains("already exists"), "\($0)")
        }
        XCTAssertNoThrow(try FileChecks.checkOutput(other, inputs: [input], overwrite: true))
        XCTAssertNoThrow(try FileChecks.checkOutput(dir + "/new.bin", inputs: [input], overwrite: false))
        XCTAssertThrowsError(try FileChecks.checkOutput(dir, inputs: [input], overwrite: true))
    }

    func testFoldersMadeForOutputsGoWhileEmpty() throws {
        let keep = dir + "/a/b", drop = dir + "/c/d"
        try PendingOutputs.createFolder(keep)
        try PendingOutputs.createFolder(drop)
        try Data("done".utf8).write(to: URL(fileURLWithPath: keep + "/out.mp4"))
        PendingOutputs.removeEmptyFolders()
        XCTAssertTrue(FileManager.default.fileExists(atPath: keep + "/out.mp4"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["a"])
    }
}
