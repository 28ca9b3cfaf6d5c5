// The half of image-to-video the sampler golden case does not cover: placing the encoded
// reference latents into the initial noise and building the frame mask (Open-Sora v1.2's
// apply_mask_strategy, loop 0), against the reference's own tensors. Fixtures: the placement
// tensors of golden/mask/mask_i2v_connect and mask_v2v_extend_edit (Tests/Fixtures/placement, 17 KB).

import Foundation
import XCTest
@testable import Pipeline
import TensorCore
import Weights

final class ReferencePlacementTests: XCTestCase {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/placement").path

    func place(_ file: String, strategies: [String], references: [[String]], align: Int?) throws -> (z: Tensor, mask: Tensor?, io: SafetensorsFile) {
        let io = try SafetensorsFile(path: folder + "/" + file)
        var z = try io.tensor("loop0.z_randn")                                   // [B, C, T, H, W]
        let refs = try references.map { try $0.map { try io.tensor($0) } }      // [C, Tr, H, W] each
        let conditions = try strategies.map { try GenerationConfig.parseMaskStrategy($0) }
        let mask = try applyMaskStrategy(&z, references: refs, strategies: conditions, align: align)
        return (z, mask, io)
    }

    /// Two images on prompt 0 (first and last latent frame, "0;0,1,0,-1,1"), none on prompt 1.
    func testFirstAndLastFrameImagesMatchTheReference() throws {
        let (z, mask, io) = try place("mask_i2v_connect.placement.safetensors", strategies: ["0;0,1,0,-1,1", ""],
                                      references: [["ref0.latent", "ref1.latent"], []], align: nil)
        XCTAssertEqual(z.shape, try io.shape("loop0.z_masked"))
        XCTAssertEqual(z.array, try io.tensor("loop0.z_masked").array, "placed latents are copies: bit for bit")
        let m = try XCTUnwrap(mask)
        XCTAssertEqual(m.shape, try io.shape("loop0.mask"))
        XCTAssertEqual(m.array, try io.tensor("loop0.mask").array)
        XCTAssertEqual(m.array, [0, 1, 1, 1, 0, 1, 1, 1, 1, 1])
    }

    /// A 4-latent-frame video: extension from its end (ref_start -2, aligned to 5 -> 0) and an edit
    /// at target 5 with edit_ratio 0.4, later entries overwriting earlier ones.
    func testExtensionAndEditWithAlignMatchTheReference() throws {
        let (z, mask, io) = try place("mask_v2v_extend_edit.placement.safetensors", strategies: ["0,0,-2,0,2;0,0,0,5,3,0.4"],
                                      references: [["ref0.latent"]], align: 5)
        XCTAssertEqual(z.array, try io.tensor("loop0.z_masked").array)
        let m = try XCTUnwrap(mask)
        XCTAssertEqual(m.array, try io.tensor("loop0.mask").array)
    }

    func testAReferenceIndexWithoutItsImageIsAnError() throws {
        XCTAssertThrowsError(try place("mask_i2v_connect.placement.safetensors", strategies: ["0;0,1,0,-1,1", ""],
                                       references: [["ref0.latent"], []], align: nil)) { e in
            XCTAssertTrue("\(e)".contains("uses reference #1, but only 1 reference(s) were given"), "\(e)")
        }
    }
}
