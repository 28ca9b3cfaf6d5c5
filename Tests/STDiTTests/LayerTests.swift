import XCTest
@testable import STDiT
import TensorCore
import Weights

func pseudoRandom(_ shape: [Int], seed: UInt64) -> Tensor {
    var s = seed &* 6364136223846793005 &+ 1442695040888963407
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, data: (0..<n).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: s >> 11) % 2_000_000) / 1_000_000 - 1
    })
}

final class LayerTests: XCTestCase {
    /// The MLP runs in row chunks; chunking changes nothing beyond GEMM rounding.
    func testChunkedMLPEqualsWholeMLP() throws {
        let store = MemoryStore(["fc1.weight": pseudoRandom([16, 8], seed: 1), "fc1.bias": pseudoRandom([16], seed: 2),
                                 "fc2.weight": pseudoRandom([8, 16], seed: 3), "fc2.bias": pseudoRandom([8], seed: 4)])
        let mlp = try MLP(ParameterScope(store), in: 8, hidden: 16, out: 8)
        let x = pseudoRandom([2, 1300, 8], seed: 5)                    // 2600 rows: 3 chunks
        var h = linear(x, weight: try store.weight("fc1.weight"), bias: try store.weight("fc1.bias"))
        geluInPlace(&h, approximation: .tanh)
        let expected = linear(h, weight: try store.weight("fc2.weight"), bias: try store.weight("fc2.bias"))
        let got = mlp(x)
        XCTAssertEqual(got.shape, [2, 1300, 8])
        XCTAssertLessThan(got.maxAbsDifference(expected), 1e-5)     // GEMM blocking may differ with M
    }

    /// Temporal attention rows: token (b, t, s) sits at row (b * S + s) * T + t.
    func testTemporalAttentionRowOrder() {
        let g = TokenGrid(batch: 2, frames: 3, spatial: 5)
        var seen = Set<Int>()
        for b in 0..<2 { for t in 0..<3 { for s in 0..<5 {
            let row = AttentionAxis.temporal.attentionRow((b * 3 + t) * 5 + s, g)
            XCTAssertEqual(row, (b * 5 + s) * 3 + t)
            seen.insert(row)
        } } }
        XCTAssertEqual(seen.count, g.tokens)
    }
}
