// STDiT v1.0's space_scale / time_scale: the engine uses the checkpoint's position tables, so the
// keys are checked against those tables instead of being accepted and ignored (issue 17, item 15).

import Foundation
import XCTest
@testable import Pipeline

final class PositionScaleTests: XCTestCase {
    func v10Config(_ extra: String) throws -> GenerationConfig {
        let golden = repoRoot + "/Tests/Fixtures/golden/"
        return try GenerationConfig.parse(yaml: """
        model:
          text_encoder:
            path: \(golden)t5_encoder.weights.safetensors
            model_max_length: 16
          denoiser:
            type: stdit
            path: \(golden)stdit.weights.safetensors
            num_heads: 4
        \(extra)
          vae:
            type: sd-vae
        scheduler:
          type: ddim
        dtype: fp32
        """, source: "<test>")
    }

    func testScalesTheTablesWereBuiltWithAreAccepted() throws {
        XCTAssertNoThrow(try STDiTV1Model(config: try v10Config("    space_scale: 1.0\n    time_scale: 1.0")))
    }

    func testOtherScalesAreRefusedNamingTheKey() throws {
        for (key, text) in [("space_scale", "pos_embed"), ("time_scale", "pos_embed_temporal")] {
            XCTAssertThrowsError(try STDiTV1Model(config: try v10Config("    \(key): 0.5"))) { e in
                XCTAssertTrue("\(e)".contains("model.denoiser.\(key): 0.5 does not match") && "\(e)".contains("its \(text) table"), "\(e)")
            }
        }
    }
}
