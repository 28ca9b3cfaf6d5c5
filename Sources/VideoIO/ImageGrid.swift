// The two ways DiT's scripts turn decoded images into bytes: sample.py's torchvision
// save_image grid, and sample_ddp.py's per-image conversion.

import TensorCore

extension RGBImage {
    /// torchvision `save_image(images, nrow: columns, normalize=True, value_range=(-1, 1))`:
    /// min(columns, N) tiles per row, `padding` black pixels around every tile (none at all for
    /// one image, as make_grid returns it alone), each value quantized like `RGBVideo(tensor:)`.
    /// images: [N, 3, H, W] in [-1, 1].
    public init(grid images: Tensor, columns: Int = 4, padding: Int = 2) throws {
        guard images.rank == 4, images.shape[1] == 3, images.shape.allSatisfy({ $0 > 0 }) else {
            throw VideoIOError(path: "<tensor>", "expected images [N, 3, H, W], got \(images.shape)")
        }
        guard columns > 0, padding >= 0 else { throw VideoIOError(path: "<grid>", "grid needs columns > 0 and padding >= 0") }
        let (n, h, w) = (images.shape[0], images.shape[2], images.shape[3])
        let pad = n == 1 ? 0 : padding
        let cols = min(columns, n), rows = (n + cols - 1) / cols
        let (gridW, gridH) = (cols * (w + pad) + pad, rows * (h + pad) + pad)
        var pixels = [UInt8](repeating: 0, count: gridW * gridH * 3)
        let src = images.pointer, plane = h * w
        for i in 0..<n {
            let (top, left) = ((i / cols) * (h + pad) + pad, (i % cols) * (w + pad) + pad)
            for y in 0..<h {
                for x in 0..<w {
                    let o = ((top + y) * gridW + left + x) * 3
                    for c in 0..<3 { pixels[o + c] = quantizeFromUnitRange(src[(i * 3 + c) * plane + y * w + x]) }
                }
            }
        }
        try self.init(width: gridW, height: gridH, pixels: pixels)
    }

    /// sample_ddp.py's bytes of one image: clamp(127.5 x + 128, 0, 255) truncated to uint8, in
    /// float32. Equal to save_image's rounding in exact arithmetic; 1 apart at some float32 ties.
    /// x: [3, H, W]
    public init(perImageTensor x: Tensor) throws {
        guard x.rank == 3, x.shape[0] == 3, x.shape[1] > 0, x.shape[2] > 0 else {
            throw VideoIOError(path: "<tensor>", "expected an image tensor [3, H, W], got \(x.shape)")
        }
        let (h, w) = (x.shape[1], x.shape[2])
        let plane = h * w
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        let src = x.pointer
        for i in 0..<plane {
            for c in 0..<3 {
                let v = src[c * plane + i]
                pixels[i * 3 + c] = v.isNaN ? 0 : UInt8(Swift.min(Swift.max(127.5 * v + 128, 0), 255))
            }
        }
        try self.init(width: w, height: h, pixels: pixels)
    }
}
