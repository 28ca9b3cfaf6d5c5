// Reference images for image-to-video, prepared as Open-Sora prepares them.

import TensorCore

/// Reads a reference image for image-to-video the way Open-Sora does (read_from_path with
/// transform "resize_crop"): RGB, resize to fill height x width, center crop, then to [-1, 1].
/// Returns [3, height, width].
public func loadReferenceImage(path: String, height: Int, width: Int) throws -> Tensor {
    let image = try ImageReader.read(path: path)
    do {
        return try image.resizedToFill(height: height, width: width).tensor()
    } catch let e as VideoIOError {
        throw VideoIOError(path: path, e.reason)
    }
}
