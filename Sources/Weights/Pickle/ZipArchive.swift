// The zip container of `torch.save` files, read from a memory map: the central directory
// (ZIP64 too: T5-XXL shards are 10 GB) and the byte range of each stored entry. Only stored
// (uncompressed) entries can be read, which is what torch.save writes.

import TensorCore

struct ZipArchive {
    struct Entry {
        let name: String
        let method: UInt16
        let flags: UInt16
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    let file: MappedFile
    /// Entries by name, in central-directory order.
    let entries: [String: Entry]
    let order: [String]

    static let maxEntries = 10_000_000

    init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        func truncated(_ d: String) -> WeightsError { .truncated(file: path, detail: d) }
        guard let base = file.base, file.size >= 22 else { throw truncated("\(file.size) bytes cannot hold a zip archive") }
        let size = file.size
        func u16(_ o: Int) -> Int { Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt16.self))) }
        func u32(_ o: Int) -> Int { Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt32.self))) }
        func u64(_ o: Int) throws -> Int {
            let v = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt64.self))
            guard v <= UInt64(Int.max) else { throw truncated("64-bit field \(v) at byte \(o) is out of range") }
            return Int(v)
        }

        // End of central directory: the last signature within the final 64 KiB + 22 bytes.
        var eocd = -1
        var p = size - 22
        let lowest = max(0, size - 22 - 65_535)
        while p >= lowest {
            if u32(p) == 0x0605_4B50 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else {
            throw truncated("no zip end-of-central-directory record (the file is cut short, or not a torch.save zip)")
        }
        var count = u16(eocd + 10)
        var cdSize = u32(eocd + 12)
        var cdOffset = u32(eocd + 16)
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the EOCD points at the ZIP64 end record.
            let loc = eocd - 20
            guard loc >= 0, u32(loc) == 0x0706_4B50 else { throw truncated("ZIP64 archive without its end-of-central-directory locator") }
            let rec = try u64(loc + 8)
            guard rec >= 0, rec + 56 <= size, u32(rec) == 0x0606_4B50 else { throw truncated("ZIP64 end record at byte \(rec) is missing or cut short") }
            count = try u64(rec + 32)
            cdSize = try u64(rec + 40)
            cdOffset = try u64(rec + 48)
        }
        guard count <= Self.maxEntries else { throw truncated("central directory claims \(count) entries") }
        guard cdOffset >= 0, cdSize >= 0, cdOffset <= size, cdSize <= size - cdOffset else {
            throw truncated("central directory (\(cdSize) bytes at \(cdOffset)) extends past the end of the file (\(size) bytes)")
        }

        var entries: [String: Entry] = [:]
        var order: [String] = []
        var q = cdOffset
        let cdEnd = cdOffset + cdSize
        for i in 0..<count {
            guard q + 46 <= cdEnd, u32(q) == 0x0201_4B50 else { throw truncated("central directory entry \(i) is cut short or corrupt") }
            let flags = UInt16(u16(q + 8)), method = UInt16(u16(q + 10))
            var compressed = u32(q + 20), uncompressed = u32(q + 24)
            let nameLen = u16(q + 28), extraLen = u16(q + 30), commentLen = u16(q + 32)
            var local = u32(q + 42)
            let next = q + 46 + nameLen + extraLen + commentLen
            guard next <= cdEnd else { throw truncated("central directory entry \(i) runs past the directory") }
            let name = String(decoding: UnsafeRawBufferPointer(start: base + q + 46, count: nameLen), as: UTF8.self)
            // ZIP64 extra field: the 64-bit values of the fields that read 0xFFFFFFFF, in order.
            var e = q + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = u16(e), len = u16(e + 2)
                guard e + 4 + len <= extraEnd else { break }
                if id == 0x0001 {
                    var f = e + 4
                    if uncompressed == 0xFFFF_FFFF, f + 8 <= e + 4 + len { uncompressed = try u64(f); f += 8 }
                    if compressed == 0xFFFF_FFFF, f + 8 <= e + 4 + len { compressed = try u64(f); f += 8 }
                    if local == 0xFFFF_FFFF, f + 8 <= e + 4 + len { local = try u64(f); f += 8 }
                }
                e += 4 + len
            }
            entries[name] = Entry(name: name, method: method, flags: flags, compressedSize: compressed, size: uncompressed, localHeaderOffset: local)
            order.append(name)
            q = next
        }
        self.entries = entries
        self.order = order
    }

    /// Byte offset of a stored entry's data, after checking it lies inside the file.
    func dataOffset(of e: Entry) throws -> Int {
        let path = file.path
        guard e.flags & 1 == 0 else { throw WeightsError.unsupportedFormat(file: path, detail: "zip entry '\(e.name)' is encrypted") }
        guard e.method == 0 else {
            throw WeightsError.unsupportedFormat(file: path, detail: "zip entry '\(e.name)' is compressed (method \(e.method)); torch.save writes stored entries, so re-save the checkpoint with torch.save")
        }
        guard let base = file.base, e.localHeaderOffset >= 0, e.localHeaderOffset + 30 <= file.size,
              UInt32(littleEndian: base.loadUnaligned(fromByteOffset: e.localHeaderOffset, as: UInt32.self)) == 0x0403_4B50 else {
            throw WeightsError.truncated(file: path, detail: "zip entry '\(e.name)': local header at byte \(e.localHeaderOffset) is missing")
        }
        let nameLen = Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: e.localHeaderOffset + 26, as: UInt16.self)))
        let extraLen = Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: e.localHeaderOffset + 28, as: UInt16.self)))
        let start = e.localHeaderOffset + 30 + nameLen + extraLen
        guard e.size == e.compressedSize, start <= file.size, e.size <= file.size - start else {
            throw WeightsError.truncated(file: path, detail: "zip entry '\(e.name)' (\(e.size) bytes at \(start)) extends past the end of the file (\(file.size) bytes)")
        }
        return start
    }

    /// The bytes of a stored entry (a view into the map).
    func bytes(of e: Entry) throws -> UnsafeRawBufferPointer {
        let start = try dataOffset(of: e)
        return UnsafeRawBufferPointer(start: e.size == 0 ? nil : file.base! + start, count: e.size)
    }
}
