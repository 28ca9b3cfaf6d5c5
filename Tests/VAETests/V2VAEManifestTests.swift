import Foundation
import TensorCore
import VAE
import Weights
import XCTest

/// Open-Sora 2.0's autoencoders: `parameterShapes()` lists exactly the tensors of the reference
/// state dicts (checked on the golden cases' tiny checkpoints, configuration read back from
/// them), and configs/manifests/ lists exactly what the real configurations build.
/// OPENSORA_WRITE_MANIFESTS=1 rewrites the manifests from the configurations.
final class V2VAEManifestTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var golden: String { root.path + "/Tests/Fixtures/golden/v2_vae/" }

    func tensors(_ store: SafetensorsFile) throws -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: try store.names.map { ($0, try store.shape($0)) })
    }

    func testParameterShapesMatchReferenceStateDicts() throws {
        let ae = try SafetensorsFile(path: golden + "ae2d_T1.weights.safetensors")
        let aeConfig = try AutoencoderKLConfig.infer(from: ae)
        XCTAssertEqual(aeConfig.names, .ldm)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: aeConfig.parameterShapes()), try tensors(ae))

        let hy = try SafetensorsFile(path: golden + "hunyuan_vae_T9.weights.safetensors")
        let hyConfig = try HunyuanVAEConfig.infer(from: hy)
        XCTAssertEqual(hyConfig.blockOutChannels, [8, 16, 16, 16])
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: hyConfig.parameterShapes()), try tensors(hy))

        let dc = try SafetensorsFile(path: golden + "dc_ae_T8.weights.safetensors")
        let dcConfig = try VideoDCAEConfig.infer(from: dc)
        XCTAssertEqual(dcConfig.widths, [8, 16, 16, 32, 32, 32])
        XCTAssertEqual(dcConfig.latentChannels, 16)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: dcConfig.parameterShapes()), try tensors(dc))
    }

    func testManifestsMatchRealConfigurations() throws {
        let manifests: [(String, String, [(String, [Int])])] = [
            ("hunyuan-vae", "HunyuanVideo AutoencoderKLCausal3D (Open-Sora 2.0 hunyuan_vae.safetensors)",
             HunyuanVAEConfig.openSora2.parameterShapes()),
            ("dc-ae-f32t4c128", "Video DC-AE dc-ae-f32t4c128 (Open-Sora 2.0 high compression)",
             VideoDCAEConfig.openSora2.parameterShapes()),
            ("flux-ae", "Flux AutoEncoder (flux1-dev ae.safetensors, Open-Sora 2.0 autoencoder_2d)",
             AutoencoderKLConfig.flux.parameterShapes()),
        ]
        for (name, model, shapes) in manifests {
            let url = root.appendingPathComponent("configs/manifests/\(name).json")
            if ProcessInfo.processInfo.environment["OPENSORA_WRITE_MANIFESTS"] == "1" {
                let obj: [String: Any] = ["component": name, "model": model, "num_tensors": shapes.count,
                                          "tensors": shapes.map { ["name": $0.0, "shape": $0.1] as [String: Any] }]
                try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys]).write(to: url)
            }
            let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            let list = try XCTUnwrap(obj["tensors"] as? [[String: Any]])
            XCTAssertEqual(obj["num_tensors"] as? Int, shapes.count, name)
            XCTAssertEqual(list.map { $0["name"] as? String ?? "" }, shapes.map(\.0), name)
            XCTAssertEqual(list.map { $0["shape"] as? [Int] ?? [] }, shapes.map(\.1), name)
        }
    }
}
