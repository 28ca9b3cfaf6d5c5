import XCTest
import MMDiT
@testable import Pipeline

/// The memory estimate of Open-Sora 2.0 runs on the released models' shapes (MMDiTConfig.openSora2,
/// T5-XXL, HunyuanVideo's VAE): what fits in 24 GiB, per stage (docs/opensora-v2.md).
final class OpenSora2MemoryTests: XCTestCase {
    /// 256px 16:9 is 192 x 336, 768px is 576 x 1024 (OpenSora2Sizes); frames 4k+1.
    func estimate(height: Int, width: Int, frames: Int, bytesPerParameter: Double, branchesPerForward: Int = 3) -> OpenSora2MemoryEstimate {
        let t = (frames - 1) / 4 + 1
        return OpenSora2MemoryEstimate(
            mmdit: .openSora2, mmditBytesPerParameter: bytesPerParameter, batch: 1, branchesPerForward: branchesPerForward, videos: 1,
            latent: [16, t, height / 8, width / 8], patch: 2, frames: [frames, height, width], textLength: 512,
            t5: (bytes: 9.5e9, layers: 24, width: 4096, ffn: 10240, heads: 64),      // T5-XXL encoder, bf16
            vae: (bytes: 0.99e9, widest: 128, tilePixels: min(height, 256) * min(width, 256), tileFrames: frames))
    }

    func testWhatFitsIn24GiB() {
        let budget = 0.9 * 24 * 1_073_741_824.0
        XCTAssertEqual(OpenSora2Sizes.imageSize(resolution: "256px", aspectRatio: "16:9", compression: 16), [192, 336])
        XCTAssertEqual(OpenSora2Sizes.imageSize(resolution: "768px", aspectRatio: "16:9", compression: 16), [576, 1024])
        XCTAssertEqual(OpenSora2Sizes.imageSize(resolution: "256px", aspectRatio: "9:16", compression: 16), [336, 192])
        XCTAssertEqual(OpenSora2Sizes.imageSize(resolution: "768px", aspectRatio: "1:1", compression: 32), [768, 768])
        var rows: [String] = []
        for (name, h, w) in [("256px", 192, 336), ("768px", 576, 1024)] {
            for frames in [33, 129] {
                for (dtype, bpp) in [("bf16", 2.0), ("int8", 1.1)] {
                    let e = estimate(height: h, width: w, frames: frames, bytesPerParameter: bpp)
                    rows.append("\(name) \(frames) frames \(dtype): \(e)")
                    if name == "256px" { XCTAssertLessThan(e.peakBytes, budget, rows.last!) }
                    if name == "768px" && frames == 129 { XCTAssertGreaterThan(e.peakBytes, budget, rows.last!) }
                }
            }
        }
        // One branch per forward: a third of the activations.
        for (dtype, bpp) in [("bf16", 2.0), ("int8", 1.1)] {
            let e = estimate(height: 576, width: 1024, frames: 129, bytesPerParameter: bpp, branchesPerForward: 1)
            rows.append("768px 129 frames \(dtype), 1 branch per forward: \(e)")
            XCTAssertLessThan(e.peakBytes, budget, rows.last!)
        }
        print(rows.joined(separator: "\n"))
        // int8 halves the resident block, not the activations.
        let bf16 = estimate(height: 192, width: 336, frames: 129, bytesPerParameter: 2), int8 = estimate(height: 192, width: 336, frames: 129, bytesPerParameter: 1.1)
        XCTAssertLessThan(int8.denoiseBytes, bf16.denoiseBytes)
        XCTAssertEqual(int8.decodeBytes, bf16.decodeBytes)
    }

    /// `--quantize int8` over the bf16 file keeps the blocks' 8.6 B int8 weights in the heap:
    /// measured 10.99 GB at 256px square / 33 frames (`bench --component pipeline-v2`, docs/opensora-v2.md).
    func testQuantizingAtLoadHoldsTheInt8Weights() {
        func make(_ atLoad: Bool) -> OpenSora2MemoryEstimate {
            OpenSora2MemoryEstimate(
                mmdit: .openSora2, mmditBytesPerParameter: 1.1, quantizedAtLoad: atLoad, batch: 1, videos: 1,
                latent: [16, 9, 32, 32], patch: 2, frames: [33, 256, 256], textLength: 512,
                t5: (bytes: 9.5e9, layers: 24, width: 4096, ffn: 10240, heads: 64),
                vae: (bytes: 0.99e9, widest: 128, tilePixels: 256 * 256, tileFrames: 33))
        }
        let file = make(false), atLoad = make(true)
        XCTAssertEqual(atLoad.denoiseBytes - file.denoiseBytes, 8.61e9, accuracy: 0.01e9)
        XCTAssertEqual(atLoad.peakBytes, atLoad.denoiseBytes)
        XCTAssertGreaterThan(atLoad.peakBytes, 10.99e9 * 0.9, "an estimate errs high, not far below the measured peak")
        print("quantised at load, 256px square / 33 frames:", atLoad)
    }
}
