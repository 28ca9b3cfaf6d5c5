import Foundation
import CLIP
@testable import Pipeline
import TensorCore
import Weights
import XCTest

/// weights-manifest.json is what `opensora weights download/verify` read: every component must
/// load with its tensor list, and every model type the pipeline can run must have an entry (the
/// "weights not found" error tells the user to download that component).
final class WeightsManifestTests: XCTestCase {
    func testEveryComponentLoadsAndEveryModelTypeIsListed() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("weights-manifest.json").path
        let manifest = try WeightsManifest(path: path)
        let raw = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let declared = try XCTUnwrap(raw["components"] as? [String: [String: Any]])
        for (name, c) in manifest.components {
            XCTAssertEqual(c.tensors.count, declared[name]?["num_tensors"] as? Int, "\(name): num_tensors vs its tensors_file")
            XCTAssertFalse(c.files.isEmpty, "\(name): no files to download")
            XCTAssertFalse(c.hfRepo.isEmpty, "\(name): no hf_repo")
        }
        var wanted = ["t5-v1_1-xxl", "clip-vit-large-patch14"]
        wanted += DenoiserType.allCases.map { WeightLocator.component(for: $0) }
        wanted += VAEType.allCases.map { WeightLocator.component(for: $0) }
        for name in wanted { XCTAssertNotNil(manifest.components[name], "weights-manifest.json has no '\(name)'") }
    }

    /// A missing local path (Open-Sora 2.0's configs name `./ckpts/...`) says where the engine
    /// looked and how to get the files, as a missing repo id does.
    func testMissingWeightsSayHowToGetThem() {
        for spec in ["./ckpts/no-such-file.safetensors", "no-such-org/no-such-repo"] {
            XCTAssertThrowsError(try WeightLocator.resolve(spec, component: "opensora-v2-mmdit", option: "model.denoiser.path")) { e in
                let text = "\(e)"
                XCTAssertTrue(text.hasPrefix("model.denoiser.path: weights for opensora-v2-mmdit not found: '\(spec)'"), text)
                XCTAssertTrue(text.contains("./weights/opensora-v2-mmdit/ does not exist"), text)
                XCTAssertTrue(text.hasSuffix("Get them with: opensora weights download --component opensora-v2-mmdit"), text)
            }
        }
    }

    /// Open-Sora 2.0's pair: CLIP-L's text tower as its manifest lists it is what the engine infers
    /// (12 layers of 768, 12 heads, 77 positions), and its pooled width is the MMDiT's vector_in.
    func testCLIPManifestFitsTheMMDiTManifest() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let manifest = try WeightsManifest(path: root.appendingPathComponent("weights-manifest.json").path)
        let clip = try XCTUnwrap(manifest.components["clip-vit-large-patch14"])
        let config = try CLIPTextConfig.infer(from: ShapeOnlyStore(Dictionary(uniqueKeysWithValues: clip.tensors.map { ($0.name, $0.shape) })))
        XCTAssertEqual([config.vocabSize, config.hidden, config.layers, config.heads, config.intermediate, config.positions],
                       [49408, 768, 12, 12, 3072, 77])
        let mmdit = try XCTUnwrap(manifest.components["opensora-v2-mmdit"])
        XCTAssertEqual(mmdit.tensors.first { $0.name == "vector_in.in_layer.weight" }?.shape, [3072, config.hidden])
    }

    /// The published sd-vae-ft-ema file may use the legacy attention names (query, key, value,
    /// proj_attn, as 1x1 convs); `weights verify` accepts them and still reports what is wrong.
    func testVerifyAcceptsLegacyAttentionNames() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let component = try XCTUnwrap(try WeightsManifest(path: root.appendingPathComponent("weights-manifest.json").path).components["sd-vae-ft-ema"])
        var legacy: [String: [Int]] = [:]
        for (name, shape) in component.tensors {
            var n = name
            for (modern, old) in [("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn")] {
                n = n.replacingOccurrences(of: ".\(modern).", with: ".\(old).")
            }
            legacy[n] = n != name && shape.count == 2 ? shape + [1, 1] : shape
        }
        XCTAssertEqual(legacy.keys.filter { $0.contains(".query.") }.count, 4, "the SD VAE has 2 attention blocks (weight + bias each)")
        XCTAssertTrue(component.verify(ShapeOnlyStore(legacy)).ok)
        XCTAssertTrue(component.verify(ShapeOnlyStore(legacy)).unexpected.isEmpty)

        var broken = legacy
        broken["decoder.mid_block.attentions.0.query.weight"] = [512, 256, 1, 1]
        broken["decoder.mid_block.attentions.0.key.bias"] = nil
        let report = component.verify(ShapeOnlyStore(broken))
        XCTAssertEqual(report.misshaped.map(\.name), ["decoder.mid_block.attentions.0.query.weight"])
        XCTAssertEqual(report.missing, ["decoder.mid_block.attentions.0.to_k.bias"])
    }
}

/// Names and shapes only (verify never reads the data).
private final class ShapeOnlyStore: WeightStore, @unchecked Sendable {
    let shapes: [String: [Int]]
    init(_ shapes: [String: [Int]]) { self.shapes = shapes }
    var sourceDescription: String { "<shapes>" }
    var names: [String] { shapes.keys.sorted() }
    func info(_ name: String) -> TensorInfo? { shapes[name].map { TensorInfo(name: name, dtype: .bf16, shape: $0) } }
    func weight(_ name: String) throws -> WeightTensor { throw WeightsError.missingTensor(name: name, source: sourceDescription) }
}
