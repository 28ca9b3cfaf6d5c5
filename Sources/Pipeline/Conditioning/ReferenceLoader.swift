// Reference files for conditioning, read and resized exactly as v1.2's read_from_path does with
// transform "resize_crop": images through PIL's bicubic resize, videos through torch's bilinear
// interpolation (no antialias), each with its own rounding of the crop offset.

import Foundation
import TensorCore
import VideoIO

public enum ReferenceLoader {
    /// opensora/datasets/utils.py: VID_EXTENSIONS; anything else must be one of torchvision's IMG_EXTENSIONS.
    static let videoExtensions: Set<String> = ["mp4", "avi", "mov", "mkv"]
    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "ppm", "bmp", "pgm", "tif", "tiff", "webp"]

    public enum Kind { case image, video }

    /// What the extension makes of `path` (read_from_path decides by it alone), or nil if unsupported.
    public static func kind(of path: String) -> Kind? {
        let ext = (path as NSString).pathExtension.lowercased()
        if videoExtensions.contains(ext) { return .video }
        return imageExtensions.contains(ext) ? .image : nil
    }

    /// The frames the VAE encodes for one reference: [3, T, height, width] in [-1, 1] (T = 1 for
    /// an image, every decoded frame of a video). `decoded`: frames to use instead of decoding
    /// the video file.
    public static func load(path: String, height: Int, width: Int, decoded: RGBVideo? = nil) throws -> Tensor {
        switch kind(of: path) {
        case .image:
            return try loadReferenceImage(path: path, height: height, width: width).reshaped([3, 1, height, width])
        case .video:
            let video = try decoded ?? VideoReader.read(path).video
            return resizeCropToFill(video.tensor(), height: height, width: width)
        case nil:
            throw VideoIOError(path: path, "unsupported reference format '.\((path as NSString).pathExtension)' (images: \(imageExtensions.sorted().joined(separator: ", ")); videos: \(videoExtensions.sorted().joined(separator: ", ")))")
        }
    }

    /// video_transforms.resize_crop_to_fill on float frames [C, T, H, W]: bilinear resize so the
    /// clip covers height x width, then a crop at offset int(round(s - t) / 2.0) (the reference's
    /// parenthesis: an integer halved and truncated, unlike the image path's round-half-even).
    public static func resizeCropToFill(_ clip: Tensor, height th: Int, width tw: Int) -> Tensor {
        let (c, t, h, w) = (clip.shape[0], clip.shape[1], clip.shape[2], clip.shape[3])
        let rh = Double(th) / Double(h), rw = Double(tw) / Double(w)
        let (sh, sw, i, j): (Int, Int, Int, Int)
        if rh > rw {
            let s = Int((Double(w) * rh).rounded(.toNearestOrEven))
            (sh, sw, i, j) = (th, s, 0, (s - tw) / 2)
        } else {
            let s = Int((Double(h) * rw).rounded(.toNearestOrEven))
            (sh, sw, i, j) = (s, tw, (s - th) / 2, 0)
        }
        // F.interpolate(bilinear, align_corners=False): source = max(scale * (dst + 0.5) - 0.5, 0), scale = in / out (float32).
        func taps(_ inSize: Int, _ outSize: Int) -> [(Int, Int, Float, Float)] {
            let scale = Float(inSize) / Float(outSize)
            return (0..<outSize).map { d in
                let src = max(scale * (Float(d) + 0.5) - 0.5, 0)
                let i0 = Int(src)
                let i1 = i0 < inSize - 1 ? i0 + 1 : i0
                let l1 = src - Float(i0)
                return (i0, i1, 1 - l1, l1)
            }
        }
        let ys = taps(h, sh), xs = taps(w, sw)
        var out = Tensor(uninitialized: [c, t, th, tw])
        let src = clip.pointer, dst = out.mutablePointer
        for plane in 0..<(c * t) {
            let p = src + plane * h * w, q = dst + plane * th * tw
            for y in 0..<th {
                let (y0, y1, ly0, ly1) = ys[y + i]
                for x in 0..<tw {
                    let (x0, x1, lx0, lx1) = xs[x + j]
                    q[y * tw + x] = ly0 * (lx0 * p[y0 * w + x0] + lx1 * p[y0 * w + x1]) + ly1 * (lx0 * p[y1 * w + x0] + lx1 * p[y1 * w + x1])
                }
            }
        }
        return out
    }
}
