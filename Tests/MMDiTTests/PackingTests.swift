import MMDiT
import TensorCore
import XCTest

/// sampling.pack / unpack / prepare_ids: token and channel order, position ids, batch repeats.
final class PackingTests: XCTestCase {
    /// A latent whose every value encodes its own (b, c, t, h, w).
    func indexedLatent(_ s: [Int]) -> Tensor {
        var x = Tensor(uninitialized: s)
        var i = 0
        for b in 0..<s[0] { for c in 0..<s[1] { for t in 0..<s[2] { for h in 0..<s[3] { for w in 0..<s[4] {
            x.mutablePointer[i] = Float(b * 10000 + c * 1000 + t * 100 + h * 10 + w); i += 1
        } } } } }
        return x
    }

    func testPatch2OrderIsTokensTHWThenChannelsCPhPw() throws {
        let z = indexedLatent([2, 3, 2, 4, 6])
        let x = try Packing.pack(z, patchSize: 2)
        XCTAssertEqual(x.shape, [2, 2 * 2 * 3, 12])
        // Token (b 1, t 1, row 1, col 2), channel c 2, ph 1, pw 0 = latent (1, 2, 1, 3, 4).
        let token = (1 * 2 + 1) * 3 + 2, channel = 2 * 4 + 1 * 2 + 0
        XCTAssertEqual(x[flat: (1 * 12 + token) * 12 + channel], 10000 + 2000 + 100 + 30 + 4)
        XCTAssertEqual(try Packing.unpack(x, grid: (2, 2, 3), patchSize: 2).array, z.array)
    }

    func testPatch1IsChannelsLast() throws {
        let z = indexedLatent([1, 5, 2, 2, 3])
        let x = try Packing.pack(z, patchSize: 1)
        XCTAssertEqual(x.shape, [1, 12, 5])
        XCTAssertEqual(x[flat: 7 * 5 + 4], 4000 + 100 + 0 + 1)       // token 7 = (t 1, row 0, col 1), channel 4
        XCTAssertEqual(try Packing.unpack(x, grid: (2, 2, 3), patchSize: 1).array, z.array)
    }

    func testImageIdsAreTRowColAndTextIdsZero() throws {
        let ids = Packing.imageIds(batch: 2, grid: (2, 3, 4))
        XCTAssertEqual(ids.shape, [2, 24, 3])
        let token = (1 * 3 + 2) * 4 + 3
        XCTAssertEqual(Array(ids.array[(24 + token) * 3 ..< (24 + token) * 3 + 3]), [1, 2, 3])
        XCTAssertEqual(Packing.textIds(batch: 2, length: 5).array, [Float](repeating: 0, count: 30))
    }

    func testPrepareIdsRepeatsBatchOneEmbeddings() throws {
        let z = Tensor(zeros: [3, 16, 1, 4, 4])
        let t5 = Tensor(shape: [1, 2, 2], data: [1, 2, 3, 4]), clip = Tensor(shape: [1, 2], data: [5, 6])
        let p = try Packing.prepareIds(latent: z, t5: t5, clip: clip)
        XCTAssertEqual(p.img.shape, [3, 4, 64])
        XCTAssertEqual(p.txt.array, [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4])
        XCTAssertEqual(p.yVec.array, [5, 6, 5, 6, 5, 6])
        XCTAssertEqual(p.txtIds.shape, [3, 2, 3])
        XCTAssertThrowsError(try Packing.prepareIds(latent: z, t5: Tensor(zeros: [2, 2, 2]), clip: clip)) {
            XCTAssertTrue("\($0)".contains("T5 embedding"), "\($0)")
        }
    }

    func testConditionPutsTheMaskChannelsFirst() throws {
        let mask = Tensor(repeating: 1, shape: [1, 1, 1, 2, 2]), ref = Tensor(repeating: 7, shape: [1, 2, 1, 2, 2])
        let cond = try Packing.condition(mask: mask, maskedReference: ref, patchSize: 2)
        XCTAssertEqual(cond.shape, [1, 1, 12])
        XCTAssertEqual(cond.array, [1, 1, 1, 1, 7, 7, 7, 7, 7, 7, 7, 7])
    }

    func testOddLatentSizeIsRefused() {
        XCTAssertThrowsError(try Packing.pack(Tensor(zeros: [1, 16, 1, 5, 4]), patchSize: 2)) {
            XCTAssertTrue("\($0)".contains("5x4 is not a multiple of the patch size 2"), "\($0)")
        }
    }
}
