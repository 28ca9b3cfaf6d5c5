import TensorCore
import VAE
import Weights
import XCTest

/// Open-Sora 2.0's autoencoders refuse what they cannot take, before compute, naming what they take.
final class V2VAEBadInputTests: XCTestCase {
    func tinyDCAE() throws -> VideoDCAE {
        var c = VideoDCAEConfig.openSora2
        c.widths = [8, 16, 16, 32, 32, 32]
        c.encoderDepths = [1, 1, 1, 1, 1, 1]
        c.decoderDepths = [1, 1, 1, 1, 1, 1]
        c.latentChannels = 16
        return try VideoDCAE(store: randomStore(c.parameterShapes()), config: c)
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    func testHunyuanFrameCountsAndChannels() throws {
        let vae = try tinyHunyuanVAE()
        XCTAssertTrue(message { try vae.checkVideo(frames: 6, height: 32, width: 32) }.contains("4k+1 frames (1, 5, 9, ...), got 6 (5 would fit)"))
        XCTAssertNoThrow(try vae.checkVideo(frames: 9, height: 32, width: 48))
        XCTAssertTrue(message { try vae.checkVideo(frames: 9, height: 30, width: 32) }.contains("multiples of 8"))
        XCTAssertTrue(message { _ = try vae.decode(Tensor(zeros: [1, 4, 2, 4, 4])) }.contains("[B, 16, t, h, w]"))
        XCTAssertTrue(message { _ = try vae.decode(Tensor(zeros: [1, 16, 2, 4, 4]), numFrames: 6) }.contains("decode to 5 frames"))
    }

    func testDCAEFrameCountsChannelsAndSampling() throws {
        let dc = try tinyDCAE()
        XCTAssertTrue(message { _ = try dc.encode(Tensor(zeros: [1, 3, 6, 32, 32])) }.contains("1 frame or a multiple of 4 frames"))
        XCTAssertTrue(message { _ = try dc.encode(Tensor(zeros: [1, 3, 4, 48, 32])) }.contains("multiples of 32"))
        XCTAssertTrue(message { _ = try dc.decode(Tensor(zeros: [1, 128, 1, 1, 1])) }.contains("[B, 16, t, h, w]"))
        let draw = LatentSampling.sample(noise: { Tensor(zeros: $0) })
        XCTAssertTrue(message { _ = try dc.encode(Tensor(zeros: [1, 3, 4, 32, 32]), sampling: draw) }.contains("deterministic"))
    }
}
