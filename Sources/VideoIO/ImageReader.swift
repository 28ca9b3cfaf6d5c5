// Reading a picture file (PNG or JPEG, told apart by content, not by name) into 8-bit RGB.

import CJPEGShim
import Foundation
import TensorCore

public enum ImageReader {
    /// Decodes `path` to RGB. Sizes above `ImageLimits` are refused before pixels are allocated;
    /// missing, empty, unknown-format and corrupt files are errors naming the file.
    public static func read(path: String) throws -> RGBImage {
        if let why = FileChecks.notRegularFile(path) { throw VideoIOError(path: path, "cannot read image: \(why)") }
        let magic = try leadingBytes(of: path, count: 8)
        if magic.isEmpty { throw VideoIOError(path: path, "image file is empty") }
        if magic.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return try PNGReader.read(path: path) }
        if magic.starts(with: [0xFF, 0xD8, 0xFF]) { return try JPEGReader.read(path: path) }
        throw VideoIOError(path: path, "unsupported image format (expected PNG or JPEG)")
    }
}

/// The first `count` bytes of a file (fewer if it is shorter).
private func leadingBytes(of path: String, count: Int) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw VideoIOError(path: path, "cannot read image: \(systemError(errno))") }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: count)
    let n = read(fd, &bytes, count)
    guard n >= 0 else { throw VideoIOError(path: path, "cannot read image: \(systemError(errno))") }
    return Array(bytes.prefix(n))
}

enum JPEGReader {
    static func read(path: String) throws -> RGBImage {
        var rgb: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let status = err.withUnsafeMutableBufferPointer { e in
            jpeg_shim_decode(path, Int32(ImageLimits.maxSide), Int64(ImageLimits.maxPixels), &rgb, &w, &h, e.baseAddress, e.count)
        }
        guard status == 0, let rgb else {
            let m = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw VideoIOError(path: path, "cannot decode JPEG: \(m)")
        }
        defer { jpeg_shim_free(rgb) }
        let count = Int(w) * Int(h) * 3
        return try RGBImage(width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: rgb, count: count)))
    }
}
