// 8-bit RGB pictures and clips, and the float <-> uint8 conversions Open-Sora uses at its edges.

import TensorCore

/// One picture: packed 8-bit RGB, rows top to bottom. `pixels`: [H, W, 3].
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else { throw VideoIOError(path: "<image>", "image size \(width) x \(height) must be positive") }
        guard pixels.count == width * height * 3 else {
            throw VideoIOError(path: "<image>", "\(width) x \(height) RGB needs \(width * height * 3) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// x: [3, H, W] in [-1, 1], quantized like torchvision's save_image(normalize=True, value_range=(-1, 1)).
    public init(tensor x: Tensor) throws {
        guard x.rank == 3, x.shape[0] == 3, x.shape[1] > 0, x.shape[2] > 0 else {
            throw VideoIOError(path: "<tensor>", "expected an image tensor [3, H, W], got \(x.shape)")
        }
        let video = try RGBVideo(tensor: x.reshaped([3, 1, x.shape[1], x.shape[2]]))
        try self.init(width: video.width, height: video.height, pixels: video.pixels)
    }

    /// [3, H, W] in [-1, 1] exactly as torchvision ToTensor + Normalize(0.5, 0.5) computes it in float32.
    public func tensor() -> Tensor {
        var out = Tensor(uninitialized: [3, height, width])
        let plane = width * height
        let dst = out.mutablePointer
        pixels.withUnsafeBufferPointer { src in
            for i in 0..<plane {
                for c in 0..<3 { dst[c * plane + i] = normalizeToUnitRange(src[i * 3 + c]) }
            }
        }
        return out
    }
}

/// A clip of 8-bit RGB frames. `pixels`: [T, H, W, 3].
public struct RGBVideo: Equatable, Sendable {
    public let frameCount: Int
    public let height: Int
    public let width: Int
    public var pixels: [UInt8]

    public init(frameCount: Int, height: Int, width: Int, pixels: [UInt8]) throws {
        guard frameCount > 0, width > 0, height > 0 else {
            throw VideoIOError(path: "<video>", "video size \(frameCount) frames of \(width) x \(height) must be positive")
        }
        guard pixels.count == frameCount * height * width * 3 else {
            throw VideoIOError(path: "<video>", "\(frameCount) frames of \(width) x \(height) RGB need \(frameCount * height * width * 3) bytes, got \(pixels.count)")
        }
        self.frameCount = frameCount
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    public init(frames: [RGBImage]) throws {
        guard let first = frames.first else { throw VideoIOError(path: "<video>", "a video needs at least one frame") }
        guard frames.allSatisfy({ $0.width == first.width && $0.height == first.height }) else {
            throw VideoIOError(path: "<video>", "frames differ in size")
        }
        try self.init(frameCount: frames.count, height: first.height, width: first.width, pixels: frames.flatMap(\.pixels))
    }

    /// x: [3, T, H, W] in [-1, 1] (a decoded sample), quantized as Open-Sora's save_sample does:
    /// clamp to [-1, 1], (x + 1) / 2, * 255 + 0.5, clamp to [0, 255], truncate to uint8 (all float32).
    /// NaN becomes 0.
    public init(tensor x: Tensor) throws {
        guard x.rank == 4, x.shape[0] == 3, x.shape[1] > 0, x.shape[2] > 0, x.shape[3] > 0 else {
            throw VideoIOError(path: "<tensor>", "expected a video tensor [3, T, H, W], got \(x.shape)")
        }
        let (t, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let plane = t * h * w
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        let src = x.pointer
        pixels.withUnsafeMutableBufferPointer { dst in
            for i in 0..<plane {
                for c in 0..<3 { dst[i * 3 + c] = quantizeFromUnitRange(src[c * plane + i]) }
            }
        }
        try self.init(frameCount: t, height: h, width: w, pixels: pixels)
    }

    /// Frame `index` of x: [3, T, H, W] in [-1, 1], quantized like `init(tensor:)`, without
    /// converting the whole clip (for streaming long videos into MP4Writer).
    public static func frame(ofTensor x: Tensor, _ index: Int) throws -> RGBImage {
        guard x.rank == 4, x.shape[0] == 3, x.shape[1] > 0, x.shape[2] > 0, x.shape[3] > 0 else {
            throw VideoIOError(path: "<tensor>", "expected a video tensor [3, T, H, W], got \(x.shape)")
        }
        let (t, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        guard (0..<t).contains(index) else { throw VideoIOError(path: "<tensor>", "frame \(index) of \(t)") }
        let plane = h * w, channel = t * plane
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        let src = x.pointer + index * plane
        pixels.withUnsafeMutableBufferPointer { dst in
            for i in 0..<plane {
                for c in 0..<3 { dst[i * 3 + c] = quantizeFromUnitRange(src[c * channel + i]) }
            }
        }
        return try RGBImage(width: w, height: h, pixels: pixels)
    }

    public func frame(_ index: Int) -> RGBImage {
        precondition(index >= 0 && index < frameCount, "frame \(index) of \(frameCount)")
        let size = height * width * 3
        // swiftlint:disable:next force_try
        return try! RGBImage(width: width, height: height, pixels: Array(pixels[(index * size)..<((index + 1) * size)]))
    }
}

/// Float sample in [-1, 1] to a byte, in save_sample's float32 order of operations.
@inline(__always)
func quantizeFromUnitRange(_ v: Float) -> UInt8 {
    if v.isNaN { return 0 }
    let clamped = Swift.min(Swift.max(v, -1), 1)
    let scaled = ((clamped + 1) / 2) * 255 + 0.5
    return UInt8(Swift.min(Swift.max(scaled, 0), 255))  // truncates like torch's .to(uint8)
}

/// Byte to [-1, 1]: (v / 255 - 0.5) / 0.5 in float32, as ToTensor then Normalize(0.5, 0.5).
@inline(__always)
func normalizeToUnitRange(_ v: UInt8) -> Float {
    (Float(v) / 255 - 0.5) / 0.5
}
