import Foundation
import VAE
import XCTest

/// configs/manifests/sd-vae-ft-ema.json (the v1.0/v1.1 2D VAE's tensors, used by the pipeline-v1.1
/// benchmark) lists exactly what AutoencoderKL builds for the Stable Diffusion configuration.
final class SDVAEManifestTests: XCTestCase {
    func testManifestMatchesStableDiffusionConfig() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("configs/manifests/sd-vae-ft-ema.json"))
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try XCTUnwrap(obj["tensors"] as? [[String: Any]])
        var listed: [String: [Int]] = [:]
        for e in list { listed[try XCTUnwrap(e["name"] as? String)] = try XCTUnwrap(e["shape"] as? [Int]) }
        let expected = Dictionary(uniqueKeysWithValues: AutoencoderKLConfig.stableDiffusion.parameterShapes())
        XCTAssertEqual(list.count, expected.count)
        XCTAssertEqual(obj["num_tensors"] as? Int, expected.count)
        XCTAssertEqual(listed, expected)
    }
}
