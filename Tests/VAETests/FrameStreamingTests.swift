@testable import TensorCore
@testable import VAE
import XCTest

/// Frame-streamed decoding (FrameStreaming.swift) against the whole-tensor layers it replaces
/// above 128 MB: the same numbers, chunk by chunk, down to one frame per chunk.
final class FrameStreamingTests: XCTestCase {
    func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.array, b.array).map { abs($0 - $1) }.max() ?? 0
    }

    /// GroupNorm through its per-channel map is GroupNorm, bit for bit, applied whole or by frames.
    func testChannelAffineIsGroupNorm() throws {
        let x = randomTensor([2, 8, 5, 3, 4], seed: 3)
        let w = WeightTensor(randomTensor([8], seed: 4)), b = WeightTensor(randomTensor([8], seed: 5))
        let whole = groupNorm(x, groups: 4, weight: w, bias: b, eps: 1e-6, silu: true)
        let affine = groupNormAffine(x, groups: 4, weight: w, bias: b, eps: 1e-6)
        var piece = narrow(x, axis: 2, 1..<4)
        affine.apply(&piece, silu: true)
        XCTAssertEqual(piece.array, narrow(whole, axis: 2, 1..<4).array)
    }

    /// Any range of upsampled frames is that range of the whole upsampling (time doubled or not).
    func testUpsampledFrameRanges() throws {
        let x = randomTensor([1, 2, 4, 3, 5], seed: 6)
        for time in [false, true] {
            let whole = upsampleCausal(x, time: time)
            XCTAssertEqual(whole.shape, [1, 2, time ? 7 : 4, 6, 10])
            for r in [0..<1, 2..<4, 1..<whole.shape[2]] {
                XCTAssertEqual(upsampleCausal(x, time: time, frames: r).array, narrow(whole, axis: 2, r).array)
            }
        }
    }

    /// The decoder, whole and streamed at 1, 2 and 3 frames a chunk (every resnet, with and
    /// without a shortcut, and every upsampler), on a batch of two.
    func testStreamedDecodeMatchesWhole() throws {
        let vae = try tinyHunyuanVAE()
        let z = randomTensor([2, 16, 3, 4, 6], seed: 7)
        let whole = vae.decodeTile(z, chunkBytes: .max)
        XCTAssertEqual(whole.shape, [2, 3, 9, 32, 48])
        let scale = whole.array.map(abs).max() ?? 1
        for frames in [1, 2, 3] {
            // chunkBytes for `frames` frames of the smallest activation; bigger ones get fewer.
            let streamed = vae.decodeTile(z, chunkBytes: frames * 2 * 16 * 4 * 6 * 4)
            // Chunked GEMMs round differently: 1.6e-5-1.9e-5 of the output scale here.
            XCTAssertLessThanOrEqual(maxDifference(streamed, whole), 1e-4 * scale, "\(frames) frames a chunk")
        }
    }
}
