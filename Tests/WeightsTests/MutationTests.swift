import XCTest
import Weights

/// Deterministic mutation harness (the CI-sized companion of `make fuzz`): thousands of
/// corrupted variants of real fixture files must each parse or throw, never crash.
final class MutationTests: XCTestCase {
    struct LCG {
        var s: UInt64
        mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 33 }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    func mutate(_ seed: [UInt8], _ rng: inout LCG) -> [UInt8] {
        var b = seed
        for _ in 0..<(1 + rng.below(4)) {
            switch rng.below(6) {
            case 0 where !b.isEmpty: b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next())          // flip a byte
            case 1 where !b.isEmpty: b.removeSubrange(rng.below(b.count)..<b.count)                          // truncate
            case 2: b.insert(contentsOf: Array("{}[]\",:-0123456789e".utf8).shuffled().prefix(3), at: rng.below(b.count + 1))
            case 3 where b.count > 8:                                                                        // corrupt a digit in the header
                let i = 8 + rng.below(min(b.count - 8, 4096))
                if (48...57).contains(b[i]) { b[i] = UInt8(48 + rng.below(10)) }
            case 4 where b.count >= 8:                                                                       // rewrite the header length
                let v = UInt64(rng.next()) % UInt64(b.count * 2 + 1)
                for k in 0..<8 { b[k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            default: b.append(UInt8(truncatingIfNeeded: rng.next()))
            }
        }
        return b
    }

    func testSafetensorsParserSurvivesMutations() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/golden")
        var seeds: [[UInt8]] = []
        for name in ["torch_randn.io.safetensors", "t5_encoder.io.safetensors"] {
            let d = try Data(contentsOf: fixtures.appendingPathComponent(name))
            seeds.append(Array(d.prefix(16384)))
        }
        var rng = LCG(s: 42)
        var parsed = 0, rejected = 0
        for i in 0..<3000 {
            let bytes = mutate(seeds[i % seeds.count], &rng)
            bytes.withUnsafeBytes { raw in
                do { _ = try SafetensorsFile.validate(bytes: raw); parsed += 1 } catch { rejected += 1 }
            }
        }
        // Both outcomes occur: the mutations reach past the first check, and still break most files.
        XCTAssertGreaterThan(parsed, 0, "no mutated file parsed: the harness only exercises the first check")
        XCTAssertGreaterThan(rejected, 1000)
    }

    func testIndexParserSurvivesMutations() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/golden/t5_encoder_bin/pytorch_model.bin.index.json")
        let seed = Array(try Data(contentsOf: fixtures))
        var rng = LCG(s: 7)
        var parsed = 0, rejected = 0
        for _ in 0..<2000 {
            do {
                _ = try ShardedStore.parseIndex(Data(mutate(seed, &rng)), path: "<mutation>")
                parsed += 1
            } catch {
                rejected += 1
                XCTAssertTrue("\(error)".contains("<mutation>"), "the error does not name the file: \(error)")
            }
        }
        XCTAssertGreaterThan(parsed, 0, "no mutated index parsed: the harness only exercises the first check")
        XCTAssertGreaterThan(rejected, 500)
    }
}
