// Checks on the files a user names, made before anything is opened or allocated: an input must
// be a regular file (a FIFO would block open() forever, /dev/zero never ends), of a bounded size,
// and an output must neither replace an existing file unasked nor be one of the inputs.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A named file that cannot be used; the message names the file and what it is instead.
public struct FileCheckError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let reason: String
    public init(path: String, _ reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

public enum FileChecks {
    /// What `path` is, when it is not a regular file (symbolic links followed); nil for a regular
    /// file. Uses stat(), which never blocks, so a FIFO is named rather than opened.
    public static func notRegularFile(_ path: String, folderAllowed: Bool = false) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return errno == ENOENT ? "no such file" : String(cString: strerror(errno)).lowercased() }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return folderAllowed ? nil : "is a folder, not a file"
        case S_IFIFO: return "is a FIFO (named pipe), not a regular file"
        case S_IFCHR: return "is a character device, not a regular file"
        case S_IFBLK: return "is a block device, not a regular file"
        case S_IFSOCK: return "is a socket, not a regular file"
        default: return "is not a regular file"
        }
    }

    /// Throws unless `path` is a regular file (or a folder, when `folderAllowed`) of at most
    /// `maxBytes`; returns its size. `what` says what the file is for ("prompt file").
    @discardableResult
    public static func requireRegularFile(_ path: String, what: String, folderAllowed: Bool = false, maxBytes: Int? = nil) throws -> Int {
        if let why = notRegularFile(path, folderAllowed: folderAllowed) {
            throw FileCheckError(path: path, "cannot read the \(what): \(why)")
        }
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileCheckError(path: path, "cannot read the \(what): \(String(cString: strerror(errno)))") }
        let size = Int(st.st_size)
        if let maxBytes, (st.st_mode & S_IFMT) == S_IFREG, size > maxBytes {
            throw FileCheckError(path: path, "the \(what) is \(size) bytes; the limit is \(maxBytes)")
        }
        return size
    }

    /// A regular file of at most `maxBytes` read as UTF-8 text. Invalid UTF-8 is reported with the
    /// byte offset of the first bad byte.
    public static func readText(_ path: String, what: String, maxBytes: Int) throws -> String {
        let size = try requireRegularFile(path, what: what, maxBytes: maxBytes)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw FileCheckError(path: path, "cannot read the \(what): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        return try readText(descriptor: fd, name: path, what: what, maxBytes: maxBytes, expectedSize: size)
    }

    /// UTF-8 text from standard input (a `-` path), at most `maxBytes`; errors name it "standard input".
    public static func readStandardInput(what: String, maxBytes: Int) throws -> String {
        try readText(descriptor: STDIN_FILENO, name: "standard input", what: what, maxBytes: maxBytes, expectedSize: 0)
    }

    private static func readText(descriptor fd: Int32, name path: String, what: String, maxBytes: Int, expectedSize size: Int) throws -> String {
        // Read at most one byte past the limit: a file that grew since stat() is still bounded.
        var bytes = [UInt8]()
        bytes.reserveCapacity(min(size, maxBytes) + 1)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while bytes.count <= maxBytes {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, min($0.count, maxBytes + 1 - bytes.count)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileCheckError(path: path, "cannot read the \(what): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += chunk.prefix(n)
        }
        if bytes.count > maxBytes { throw FileCheckError(path: path, "the \(what) is more than \(maxBytes) bytes; the limit is \(maxBytes)") }
        let data = bytes
        if let offset = firstInvalidUTF8(data) {
            throw FileCheckError(path: path, "the \(what) is not UTF-8 text (invalid byte 0x\(String(data[offset], radix: 16, uppercase: true)) at byte offset \(offset))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Offset of the first byte that does not start a valid UTF-8 sequence, or nil if all are valid.
    public static func firstInvalidUTF8<C: Collection>(_ bytes: C) -> Int? where C.Element == UInt8 {
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let s): offset += UTF8.width(s)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// Refuses to write `output` when it is one of `inputs` (the same file, through any name or
    /// link: always) or when it exists and `overwrite` is false. `what` names the option.
    public static func checkOutput(_ output: String, inputs: [String], overwrite: Bool, what: String = "output") throws {
        var out = stat()
        guard stat(output, &out) == 0 else { return }      // nothing there yet (dangling links are the writer's business)
        for input in inputs {
            var inp = stat()
            if stat(input, &inp) == 0 && inp.st_dev == out.st_dev && inp.st_ino == out.st_ino {
                throw FileCheckError(path: output, "the \(what) is the input '\(input)'; write to another file")
            }
        }
        if (out.st_mode & S_IFMT) == S_IFDIR { throw FileCheckError(path: output, "the \(what) is a folder; name a file") }
        if !overwrite { throw FileCheckError(path: output, "already exists (pass --overwrite to replace it)") }
    }
}
