// A read-only memory map that lives as long as the object. Pages are loaded on first touch and
// are clean page cache, so a mapped checkpoint costs RSS only for the parts in use.

import TensorCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class MappedFile: PageReleasable, @unchecked Sendable {
    public let path: String
    public let size: Int
    public let base: UnsafeRawPointer?

    public init(path: String) throws {
        self.path = path
        // A FIFO would block open() forever and /dev/zero maps as an empty file: name them instead.
        if let why = FileChecks.notRegularFile(path) { throw WeightsError.cannotOpen(file: path, reason: why) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw WeightsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw WeightsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw WeightsError.cannotOpen(file: path, reason: "is a directory") }
        size = Int(st.st_size)
        if size == 0 { base = nil; return }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        if p == nil || p == UnsafeMutableRawPointer(bitPattern: -1) {
            throw WeightsError.cannotOpen(file: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p!)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// Drops the resident pages wholly inside [start, start + byteCount) (page-aligned inwards).
    public func releasePages(_ start: UnsafeRawPointer, byteCount: Int) {
        guard let base, byteCount > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = max(Int(bitPattern: start), Int(bitPattern: base))
        let hi = min(Int(bitPattern: start) + byteCount, Int(bitPattern: base) + size)
        let alignedLo = (lo + page - 1) / page * page, alignedHi = hi / page * page
        guard alignedHi > alignedLo, let p = UnsafeMutableRawPointer(bitPattern: alignedLo) else { return }
        madvise(p, alignedHi - alignedLo, Int32(MADV_DONTNEED))
    }

    /// Tell the kernel these pages will not be needed soon (after a stage finishes).
    public func adviseDontNeed() {
        if let base { madvise(UnsafeMutableRawPointer(mutating: base), size, Int32(MADV_DONTNEED)) }
    }
}
