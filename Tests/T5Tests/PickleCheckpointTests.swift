import XCTest
import Weights
import TensorCore

/// The restricted torch.save reader: the golden T5 as Hugging Face publishes it, and hostile or
/// damaged files built here byte by byte.
final class PickleCheckpointTests: XCTestCase {
    let binDir = goldenDir + "/t5_encoder_bin"

    func testShardedBinEqualsSafetensors() throws {
        let reference = try SafetensorsFile(path: goldenDir + "/t5_encoder.weights.safetensors")
        let bin = try Checkpoint.open(binDir + "/pytorch_model.bin.index.json")
        XCTAssertEqual(bin.names, reference.names)
        for n in reference.names {
            XCTAssertEqual(bin.info(n)?.dtype, .f32, n)
            XCTAssertEqual(try bin.tensor(n).array, try reference.tensor(n).array, n)
        }
    }

    func testBF16BinEqualsRoundedSafetensors() throws {
        let reference = try SafetensorsFile(path: goldenDir + "/t5_encoder.weights.safetensors")
        let bin = try Checkpoint.open(binDir + "/bf16_single.bin")
        XCTAssertTrue(bin is PickleCheckpoint)
        XCTAssertEqual(bin.names, reference.names)
        for n in reference.names {
            let w = try bin.weight(n)
            XCTAssertEqual(w.dtype, .bf16, n)
            let got = (0..<w.count).map { w.raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self) }
            XCTAssertEqual(got, try reference.tensor(n).array.map(floatToBF16), n)
        }
    }

    func testFolderWithBinIndexOpens() throws {
        let s = try Checkpoint.open(binDir)
        XCTAssertTrue(s is ShardedStore)
        XCTAssertTrue(s.contains("shared.weight") && s.contains("encoder.embed_tokens.weight"))
    }

    // MARK: hand-built archives

    func testMinimalStateDict() throws {
        let path = try write(zipEntries: [("archive/data.pkl", tensorPickle(size: [2, 3], stride: [3, 1])),
                                          ("archive/data/0", floats([1, 2, 3, 4, 5, 6])),
                                          ("archive/byteorder", Array("little".utf8))])
        let s = try PickleCheckpoint(path: path)
        XCTAssertEqual(s.names, ["w"])
        XCTAssertEqual(s.info("w"), TensorInfo(name: "w", dtype: .f32, shape: [2, 3]))
        XCTAssertEqual(try s.tensor("w").array, [1, 2, 3, 4, 5, 6])
    }

    func testZip64Archive() throws {
        let path = try write(zipEntries: [("archive/data.pkl", tensorPickle(size: [2, 3], stride: [3, 1])),
                                          ("archive/data/0", floats([1, 2, 3, 4, 5, 6]))], zip64: true)
        XCTAssertEqual(try PickleCheckpoint(path: path).tensor("w").array, [1, 2, 3, 4, 5, 6])
    }

    func testNonContiguousTensorIsCopied() throws {
        // A transposed view: size (3, 2), stride (1, 3) over [1...6] is [[1,4],[2,5],[3,6]].
        let path = try write(zipEntries: [("archive/data.pkl", tensorPickle(size: [3, 2], stride: [1, 3])),
                                          ("archive/data/0", floats([1, 2, 3, 4, 5, 6]))])
        XCTAssertEqual(try PickleCheckpoint(path: path).tensor("w").array, [1, 4, 2, 5, 3, 6])
    }

    func testOffsetAndNestedDict() throws {
        var p = Pickle()
        p.proto()
        p.emptyDict(); p.string("state_dict"); p.emptyDict()
        p.string("a"); p.tensor(storage: "0", numel: 6, offset: 2, size: [2], stride: [1]); p.op(0x73)   // SETITEM
        p.op(0x73)
        p.string("epoch"); p.op(0x4B, 7); p.op(0x73)
        p.op(0x2E)
        let path = try write(zipEntries: [("m/data.pkl", p.bytes), ("m/data/0", floats([1, 2, 3, 4, 5, 6]))])
        let s = try PickleCheckpoint(path: path)
        XCTAssertEqual(s.names, ["state_dict.a"])
        XCTAssertEqual(try s.tensor("state_dict.a").array, [3, 4])
    }

    func testUnknownGlobalIsRefusedByName() throws {
        var p = Pickle()
        p.proto(); p.global("os", "system"); p.string("echo pwned"); p.op(0x85); p.op(0x52); p.op(0x2E)
        try assertRefused(p.bytes, contains: "pickle refers to 'os.system'")
        var q = Pickle()
        q.proto(); q.string("builtins"); q.string("eval"); q.op(0x93); q.op(0x2E)        // STACK_GLOBAL
        try assertRefused(q.bytes, contains: "pickle refers to 'builtins.eval'")
        var r = Pickle()
        r.proto(); r.global("torch", "load"); r.op(0x2E)
        try assertRefused(r.bytes, contains: "pickle refers to 'torch.load'")
    }

    func testReduceOnAnythingElseIsRefused() throws {
        var p = Pickle()
        p.proto(); p.string("not callable"); p.op(0x29); p.op(0x52); p.op(0x2E)
        try assertRefused(p.bytes, contains: "REDUCE applies something that is not a known global")
        var q = Pickle()
        q.proto(); q.global("collections", "OrderedDict"); q.string("x"); q.op(0x85); q.op(0x52); q.op(0x2E)
        try assertRefused(q.bytes, contains: "OrderedDict(...) with arguments")
        var r = Pickle()
        r.proto(); r.global("torch", "FloatStorage"); r.op(0x29); r.op(0x52); r.op(0x2E)
        try assertRefused(r.bytes, contains: "a storage type is called directly")
        var s = Pickle()
        s.proto(); s.global("collections", "OrderedDict"); s.op(0x29); s.op(0x81); s.op(0x2E)   // NEWOBJ
        try assertRefused(s.bytes, contains: "object construction")
    }

    func testTruncatedPickleAndUnknownOpcode() throws {
        let full = tensorPickle(size: [2, 3], stride: [3, 1])
        try assertRefused(Array(full.prefix(full.count / 2)), contains: "pickle data ends unexpectedly")
        try assertRefused([0x80, 0x02, 0xFF], contains: "unsupported pickle opcode 0xff at byte 2")
    }

    func testTruncatedZip() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: binDir + "/bf16_single.bin"))
        let dir = try makeTemporaryDirectory("zip")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for keep in [10, 1000, original.count / 2, original.count - 30] {
            let path = dir + "/cut\(keep).bin"
            try original.prefix(keep).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Checkpoint.open(path), "kept \(keep) bytes") { e in
                XCTAssertTrue("\(e)".hasPrefix(path + ":"), "\(e)")
            }
        }
        // The central directory survives but a storage is cut short.
        let path = try write(zipEntries: [("archive/data.pkl", tensorPickle(size: [2, 3], stride: [3, 1])),
                                          ("archive/data/0", floats([1, 2, 3]))])
        XCTAssertThrowsError(try PickleCheckpoint(path: path)) { e in
            XCTAssertTrue("\(e)".contains("should hold 6 F32 elements but has 12 bytes"), "\(e)")
        }
    }

    func testTensorOutsideItsStorageIsRefused() throws {
        let path = try write(zipEntries: [("archive/data.pkl", tensorPickle(size: [3, 3], stride: [3, 1], numel: 6)),
                                          ("archive/data/0", floats([1, 2, 3, 4, 5, 6]))])
        XCTAssertThrowsError(try PickleCheckpoint(path: path)) { e in
            XCTAssertTrue("\(e)".contains("reach element 8 of a storage of 6"), "\(e)")
        }
    }

    func testBroadcastViewIsRefused() throws {
        // Stride 0 repeats one stored element; a tiny file would otherwise expand without bound.
        let path = try write(zipEntries: [("archive/data.pkl", tensorPickle(size: [1_000_000_000], stride: [0], numel: 1)),
                                          ("archive/data/0", floats([1]))])
        XCTAssertThrowsError(try PickleCheckpoint(path: path)) { e in
            XCTAssertTrue("\(e)".contains("more elements than its storage of 1"), "\(e)")
        }
    }

    func testMissingStorageAndCompressedEntries() throws {
        let noStorage = try write(zipEntries: [("archive/data.pkl", tensorPickle(size: [2], stride: [1]))])
        XCTAssertThrowsError(try PickleCheckpoint(path: noStorage)) { e in
            XCTAssertTrue("\(e)".contains("storage '0' of tensor 'w' is missing"), "\(e)")
        }
        let compressed = try write(zipEntries: [("archive/data.pkl", tensorPickle(size: [2], stride: [1]))], method: 8)
        XCTAssertThrowsError(try PickleCheckpoint(path: compressed)) { e in
            XCTAssertTrue("\(e)".contains("is compressed (method 8)"), "\(e)")
        }
    }

    func testLegacyAndForeignFiles() throws {
        let dir = try makeTemporaryDirectory("legacy")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let legacy = dir + "/old.pth"
        try Data([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]).write(to: URL(fileURLWithPath: legacy))
        XCTAssertThrowsError(try Checkpoint.open(legacy)) { e in XCTAssertTrue("\(e)".contains("legacy PyTorch serialization"), "\(e)") }
        let text = dir + "/notes.bin"
        try Data("hello world".utf8).write(to: URL(fileURLWithPath: text))
        XCTAssertThrowsError(try Checkpoint.open(text)) { e in XCTAssertTrue("\(e)".contains("not a PyTorch checkpoint"), "\(e)") }
        let noPkl = try write(zipEntries: [("archive/other.txt", [1, 2, 3])])
        XCTAssertThrowsError(try PickleCheckpoint(path: noPkl)) { e in XCTAssertTrue("\(e)".contains("has no data.pkl"), "\(e)") }
    }

    // MARK: helpers

    func assertRefused(_ pickle: [UInt8], contains text: String, line: UInt = #line) throws {
        let path = try write(zipEntries: [("archive/data.pkl", pickle), ("archive/data/0", floats([1, 2, 3, 4, 5, 6]))])
        XCTAssertThrowsError(try PickleCheckpoint(path: path), line: line) { e in
            XCTAssertTrue("\(e)".contains(text), "\(e)", line: line)
            XCTAssertTrue("\(e)".hasPrefix(path), "\(e)", line: line)
        }
    }

    /// {"w": _rebuild_tensor_v2(FloatStorage '0', offset 0, size, stride, False, OrderedDict())}
    func tensorPickle(size: [Int], stride: [Int], numel: Int = 6) -> [UInt8] {
        var p = Pickle()
        p.proto(); p.emptyDict(); p.string("w")
        p.tensor(storage: "0", numel: numel, offset: 0, size: size, stride: stride)
        p.op(0x73); p.op(0x2E)
        return p.bytes
    }

    func floats(_ v: [Float]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }

    var cleanup: [String] = []
    override func tearDown() { for d in cleanup { try? FileManager.default.removeItem(atPath: d) } }

    /// A zip archive as torch.save lays it out (stored entries; CRCs are not checked by the reader).
    /// With `zip64`, sizes and offsets sit in ZIP64 extra fields and a ZIP64 end record, as
    /// torch.save writes archives over 4 GB (T5-XXL's shards).
    func write(zipEntries: [(String, [UInt8])], method: UInt16 = 0, zip64: Bool = false) throws -> String {
        let dir = try makeTemporaryDirectory("pkl")
        cleanup.append(dir)
        var out: [UInt8] = [], central: [UInt8] = []
        func u16(_ v: Int, _ a: inout [UInt8]) { a += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int, _ a: inout [UInt8]) { u16(v & 0xFFFF, &a); u16(v >> 16 & 0xFFFF, &a) }
        func u64(_ v: Int, _ a: inout [UInt8]) { u32(v & 0xFFFF_FFFF, &a); u32(v >> 32 & 0xFFFF_FFFF, &a) }
        for (name, data) in zipEntries {
            let offset = out.count
            let n = Array(name.utf8)
            u32(0x0403_4B50, &out); u16(20, &out); u16(0, &out); u16(Int(method), &out); u16(0, &out); u16(0, &out)
            u32(0, &out); u32(data.count, &out); u32(data.count, &out); u16(n.count, &out); u16(0, &out)
            out += n + data
            u32(0x0201_4B50, &central); u16(20, &central); u16(20, &central); u16(0, &central); u16(Int(method), &central)
            u16(0, &central); u16(0, &central); u32(0, &central); u32(data.count, &central); u32(data.count, &central)
            u16(n.count, &central); u16(zip64 ? 28 : 0, &central); u16(0, &central); u16(0, &central); u16(0, &central); u32(0, &central)
            u32(zip64 ? 0xFFFF_FFFF : offset, &central)
            central += n
            if zip64 {
                // Patch the 32-bit sizes to 0xFFFFFFFF and give the real values in the extra field.
                let fixed = central.count - n.count - 46
                for k in 20..<28 { central[fixed + k] = 0xFF }
                u16(1, &central); u16(24, &central)
                u64(data.count, &central); u64(data.count, &central); u64(offset, &central)
            }
        }
        let cdOffset = out.count
        out += central
        if zip64 {
            let record = out.count
            u32(0x0606_4B50, &out); u64(44, &out); u16(45, &out); u16(45, &out); u32(0, &out); u32(0, &out)
            u64(zipEntries.count, &out); u64(zipEntries.count, &out); u64(central.count, &out); u64(cdOffset, &out)
            u32(0x0706_4B50, &out); u32(0, &out); u64(record, &out); u32(1, &out)
            u32(0x0605_4B50, &out); u16(0xFFFF, &out); u16(0xFFFF, &out); u16(0xFFFF, &out); u16(0xFFFF, &out)
            u32(0xFFFF_FFFF, &out); u32(0xFFFF_FFFF, &out); u16(0, &out)
        } else {
            u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out); u16(zipEntries.count, &out); u16(zipEntries.count, &out)
            u32(central.count, &out); u32(cdOffset, &out); u16(0, &out)
        }
        let path = dir + "/model.bin"
        try Data(out).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Emits pickle opcodes (protocol 2, as torch.save writes them).
struct Pickle {
    var bytes: [UInt8] = []
    mutating func op(_ code: UInt8, _ args: UInt8...) { bytes.append(code); bytes += args }
    mutating func proto() { op(0x80, 2) }
    mutating func emptyDict() { op(0x7D) }
    mutating func string(_ s: String) {
        let u = Array(s.utf8)
        op(0x58); bytes += withUnsafeBytes(of: UInt32(u.count).littleEndian) { Array($0) } + u
    }
    mutating func int(_ v: Int) { op(0x4A); bytes += withUnsafeBytes(of: Int32(v).littleEndian) { Array($0) } }
    mutating func global(_ module: String, _ name: String) { op(0x63); bytes += Array("\(module)\n\(name)\n".utf8) }
    mutating func tuple(_ vs: [Int]) { op(0x28); for v in vs { int(v) }; op(0x74) }
    mutating func tensor(storage key: String, numel: Int, offset: Int, size: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        op(0x28)                                                            // MARK (args)
        op(0x28); string("storage"); global("torch", "FloatStorage"); string(key); string("cpu"); int(numel); op(0x74)
        op(0x51)                                                            // BINPERSID
        int(offset); tuple(size); tuple(stride); op(0x89)                   // requires_grad False
        global("collections", "OrderedDict"); op(0x29); op(0x52)            // OrderedDict()
        op(0x74); op(0x52)                                                  // args tuple, REDUCE
    }
}
