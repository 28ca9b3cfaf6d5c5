import Foundation
@testable import Pipeline
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
        var wanted = ["t5-v1_1-xxl"]
        wanted += DenoiserType.allCases.map { WeightLocator.component(for: $0) }
        wanted += VAEType.allCases.map { WeightLocator.component(for: $0) }
        for name in wanted { XCTAssertNotNil(manifest.components[name], "weights-manifest.json has no '\(name)'") }
    }
}
