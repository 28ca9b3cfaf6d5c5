import XCTest
import TensorCore
import Weights

final class SafetensorsTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "st-tests-\(getpid())-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testRoundTripF32BF16F16() throws {
        let a = Tensor(shape: [2, 3], data: [1, -2, 3.5, 4, 5, 6])
        let path = dir + "/ok.safetensors"
        try SafetensorsWriter().write([
            SafetensorsWriter.item("a", a), SafetensorsWriter.item("b", a, as: .bf16), SafetensorsWriter.item("c", a, as: .f16),
        ], to: path, metadata: ["format": "pt"])
        let f = try SafetensorsFile(path: path)
        XCTAssertEqual(f.names, ["a", "b", "c"])
        XCTAssertEqual(f.metadata["format"], "pt")
        for n in ["a", "b", "c"] { XCTAssertEqual(try f.tensor(n).array, a.array, n) }
        XCTAssertEqual(f.info("b")?.dtype, .bf16)
        XCTAssertThrowsError(try f.weight("a", shape: [3, 2])) { XCTAssertEqual("\($0)", "\(path): tensor 'a' has shape [2, 3], expected [3, 2]") }
        XCTAssertThrowsError(try f.weight("zz")) { XCTAssertEqual("\($0)", "\(path): missing tensor 'zz'") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".partial-\(getpid())"))
    }

    /// Writes a file with the given header JSON and `dataBytes` bytes of data.
    func write(header: String, dataBytes: Int, lengthOverride: UInt64? = nil, name: String = "bad.safetensors") -> String {
        var d = Data()
        var len = (lengthOverride ?? UInt64(header.utf8.count)).littleEndian
        d.append(Data(bytes: &len, count: 8))
        d.append(Data(header.utf8))
        d.append(Data(repeating: 0, count: dataBytes))
        let p = dir + "/" + name
        FileManager.default.createFile(atPath: p, contents: d)
        return p
    }

    func assertError(_ path: String, contains fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains(fragment), "'\(s)' lacks '\(fragment)'", file: file, line: line)
            XCTAssertTrue(s.contains(path), "'\(s)' does not name the file", file: file, line: line)
        }
    }

    func testBrokenFilesGiveDistinctClearErrors() {
        let good = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        // 1. empty file
        FileManager.default.createFile(atPath: dir + "/empty.safetensors", contents: Data())
        assertError(dir + "/empty.safetensors", contains: "shorter than the 8-byte header length")
        // 2. header length past EOF
        assertError(write(header: good, dataBytes: 8, lengthOverride: 1 << 40), contains: "extends past the end of the file")
        // 3. not JSON
        assertError(write(header: "{not json}", dataBytes: 0), contains: "not valid JSON")
        // 4. JSON but not an object
        assertError(write(header: "[1, 2, 3]", dataBytes: 0), contains: "not a JSON object")
        // 5. unknown dtype
        assertError(write(header: #"{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, dataBytes: 2), contains: "unsupported dtype 'F8_E4M3'")
        // 6. offsets beyond the data section (truncated file)
        assertError(write(header: good, dataBytes: 4), contains: "ends at byte 8 of the data section, which has only 4 bytes")
        // 7. shape does not match byte count
        assertError(write(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8), contains: "needs 12 bytes but data_offsets span 8")
        // 8. overlapping tensors
        assertError(write(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, dataBytes: 12), contains: "overlap")
        // 9. reversed offsets
        assertError(write(header: #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, dataBytes: 8), contains: "reversed or negative")
        // 10. missing dtype
        assertError(write(header: #"{"w":{"shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8), contains: "missing 'dtype'")
        // 11. shape not integers
        assertError(write(header: #"{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}"#, dataBytes: 8), contains: "'shape' is missing or not a list of integers")
        // 12. negative dimension
        assertError(write(header: #"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, dataBytes: 8), contains: "negative dimension")
        // 13. shape overflow
        assertError(write(header: #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, dataBytes: 8), contains: "overflows")
        // 14. entry not an object
        assertError(write(header: #"{"w":5}"#, dataBytes: 0), contains: "entry is not an object")
        // 15. a directory
        XCTAssertThrowsError(try SafetensorsFile(path: dir)) { XCTAssertTrue("\($0)".contains("is a folder"), "\($0)") }
        // 16. missing file
        XCTAssertThrowsError(try SafetensorsFile(path: dir + "/nope.safetensors")) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
    }

    func testShardedIndexAndPrefixedStore() throws {
        let a = Tensor(shape: [2], data: [1, 2]), b = Tensor(shape: [1], data: [3])
        try SafetensorsWriter().write([SafetensorsWriter.item("enc.a", a)], to: dir + "/s1.safetensors")
        try SafetensorsWriter().write([SafetensorsWriter.item("enc.b", b)], to: dir + "/s2.safetensors")
        let idx = dir + "/model.safetensors.index.json"
        try Data(#"{"metadata":{},"weight_map":{"enc.a":"s1.safetensors","enc.b":"s2.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: idx))
        let s = try Checkpoint.open(dir)
        XCTAssertEqual(s.names, ["enc.a", "enc.b"])
        let p = PrefixedStore(s, prefix: "enc.")
        XCTAssertEqual(try p.tensor("b").array, [3])
        // An index naming a tensor its shard lacks, or a path outside the folder, is refused.
        try Data(#"{"weight_map":{"enc.c":"s1.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: idx))
        XCTAssertThrowsError(try Checkpoint.open(idx)) { XCTAssertTrue("\($0)".contains("does not hold it")) }
        try Data(#"{"weight_map":{"enc.a":"../s1.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: idx))
        XCTAssertThrowsError(try Checkpoint.open(idx)) { XCTAssertTrue("\($0)".contains("not a plain file name")) }
    }

    /// A file of another kind under a name without a checkpoint extension is called what it is
    /// not read as a safetensors header of absurd length; a real one is still sniffed.
    func testOtherFilesAreNotCheckpoints() throws {
        for (name, bytes) in [("prompts.txt", Data("a red ball\na cat\n".utf8)), ("clip.safetensors", Data("\0\0\0\u{1C}ftypisom....".utf8))] {
            let path = dir + "/" + name
            try bytes.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Checkpoint.open(path)) { e in
                XCTAssertTrue("\(e)".contains("\(path): ") && "\(e)".contains("not a safetensors file"), "\(e)")
            }
        }
        try SafetensorsWriter().write([SafetensorsWriter.item("w", Tensor(shape: [2], data: [1, 2]))], to: dir + "/weights.data")
        XCTAssertEqual(try Checkpoint.open(dir + "/weights.data").tensor("w").array, [1, 2])
    }

    func testHuggingFaceCacheLayout() throws {
        let snap = dir + "/hub/models--org--name/snapshots/abc123"
        try FileManager.default.createDirectory(atPath: snap, withIntermediateDirectories: true)
        try Data("abc123".utf8).write(to: URL(fileURLWithPath: dir + "/hub/models--org--name/refs-main"))
        try FileManager.default.createDirectory(atPath: dir + "/hub/models--org--name/refs", withIntermediateDirectories: true)
        try Data("abc123\n".utf8).write(to: URL(fileURLWithPath: dir + "/hub/models--org--name/refs/main"))
        XCTAssertEqual(HuggingFaceCache.snapshot(repo: "org/name", root: dir + "/hub"), snap)
        XCTAssertNil(HuggingFaceCache.snapshot(repo: "org/other", root: dir + "/hub"))
    }
}
