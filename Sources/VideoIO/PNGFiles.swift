// PNG files through libpng's simplified API (png_image_*), which reports errors through
// return values and a message field instead of longjmp.

import CPNG
import Foundation

/// png.h's PNG_FORMAT_RGB and PNG_FORMAT_RGBA (macros built from macros do not import).
private let pngFormatRGB: UInt32 = 2
private let pngFormatRGBA: UInt32 = 3

public enum PNGWriter {
    /// Writes one 8-bit RGB PNG. Complete or not at all; an existing file is an error unless `overwrite`.
    public static func write(_ image: RGBImage, to path: String, overwrite: Bool = false) throws {
        let output = try AtomicOutput(path: path, overwrite: overwrite)
        do {
            try encode(image, to: output.tempPath, reportedAs: path)
            try output.commit()
        } catch {
            output.discard()
            throw error
        }
    }

    /// Frame file names: `<base>_0000.png`, `<base>_0001.png`, ... (more digits past 10000 frames).
    public static func framePaths(base: String, count: Int) -> [String] {
        let digits = Swift.max(4, String(Swift.max(count - 1, 0)).count)
        return (0..<count).map { i in
            let n = String(i)
            return base + "_" + String(repeating: "0", count: Swift.max(0, digits - n.count)) + n + ".png"
        }
    }

    /// Writes every frame of `video` as its own PNG (names from `framePaths`). All frames or none:
    /// on any error the frames written so far are removed. Returns the paths.
    @discardableResult
    public static func writeFrames(_ video: RGBVideo, base: String, overwrite: Bool = false) throws -> [String] {
        let paths = framePaths(base: base, count: video.frameCount)
        var pending: [AtomicOutput] = []
        do {
            // Encode everything first, then move into place: a late failure never leaves a short sequence.
            for (t, p) in paths.enumerated() {
                let out = try AtomicOutput(path: p, overwrite: overwrite)
                pending.append(out)
                try encode(video.frame(t), to: out.tempPath, reportedAs: p)
            }
        } catch {
            pending.forEach { $0.discard() }
            throw error
        }
        var committed: [String] = []
        for (i, out) in pending.enumerated() {
            do {
                try out.commit()
                committed.append(out.path)
            } catch {
                pending[(i + 1)...].forEach { $0.discard() }
                committed.forEach { unlink($0) }
                throw error
            }
        }
        return paths
    }

    private static func encode(_ image: RGBImage, to file: String, reportedAs path: String) throws {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = pngFormatRGB
        let ok = image.pixels.withUnsafeBufferPointer { buf in
            png_image_write_to_file(&png, file, 0, buf.baseAddress, Int32(image.width * 3), nil)
        }
        defer { png_image_free(&png) }
        guard ok != 0 else { throw VideoIOError(path: path, "writing PNG failed: \(message(of: &png))") }
    }
}

enum PNGReader {
    /// Decodes a PNG to 8-bit RGB. Any alpha channel is dropped (not composited), as PIL's
    /// convert("RGB") does; grey and palette images are expanded to RGB.
    static func read(path: String) throws -> RGBImage {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&png, path) != 0 else {
            let m = message(of: &png)
            png_image_free(&png)
            throw VideoIOError(path: path, "not a readable PNG: \(m)")
        }
        let (w, h) = (Int(png.width), Int(png.height))
        guard w > 0, h > 0, w <= ImageLimits.maxSide, h <= ImageLimits.maxSide, w * h <= ImageLimits.maxPixels else {
            png_image_free(&png)
            throw VideoIOError(path: path, "image is \(w) x \(h) pixels; the limit is \(ImageLimits.maxSide) per side and \(ImageLimits.maxPixels) pixels")
        }
        png.format = pngFormatRGBA
        png.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)  // 16-bit files without gAMA: treat as sRGB, not linear
        var rgba = [UInt8](repeating: 0, count: w * h * 4)
        let ok = rgba.withUnsafeMutableBufferPointer { buf in
            png_image_finish_read(&png, nil, buf.baseAddress, 0, nil)
        }
        guard ok != 0 else {
            let m = message(of: &png)
            png_image_free(&png)
            throw VideoIOError(path: path, "corrupt PNG: \(m)")
        }
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        for i in 0..<(w * h) {
            rgb[i * 3] = rgba[i * 4]
            rgb[i * 3 + 1] = rgba[i * 4 + 1]
            rgb[i * 3 + 2] = rgba[i * 4 + 2]
        }
        return try RGBImage(width: w, height: h, pixels: rgb)
    }
}

private func message(of png: inout png_image) -> String {
    withUnsafeBytes(of: &png.message) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}
