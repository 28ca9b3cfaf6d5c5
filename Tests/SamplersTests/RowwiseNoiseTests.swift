import XCTest
import TensorCore
@testable import Samplers

final class RowwiseNoiseTests: XCTestCase {
    /// A video's draws do not depend on which videos share its batch: rows of a batched draw equal
    /// the draws of each video's own generator, for the latent [B, ...] and the CFG batch [2B, ...].
    func testRowsComeFromEachVideosGenerator() throws {
        let batched = RowwiseNoise([TorchNoise(seed: 7), TorchNoise(seed: 8)])
        let alone = [TorchNoise(seed: 7), TorchNoise(seed: 8)]
        let z = try batched.standardNormal([2, 3, 5])             // 15 elements: the scalar path
        let cfg = try batched.standardNormal([4, 3, 6])           // 18 elements per row: the 16-wide path
        for v in 0..<2 {
            XCTAssertEqual(z[v].array, alone[v].standardNormal([1, 3, 5]).array)
            let own = alone[v].standardNormal([2, 3, 6])          // one draw of both of its rows
            XCTAssertEqual(cfg[v].array, own[0].array)
            XCTAssertEqual(cfg[v + 2].array, own[1].array)
        }
        // One video: exactly its generator's draws of the full shape.
        XCTAssertEqual(try RowwiseNoise([TorchNoise(seed: 7)]).standardNormal([2, 9]).array, TorchNoise(seed: 7).standardNormal([2, 9]).array)
        XCTAssertThrowsError(try batched.standardNormal([3, 4]))
    }
}
