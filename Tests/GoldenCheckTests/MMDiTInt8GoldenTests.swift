import XCTest
import GoldenCheck

/// `opensora check --quantize int8` on Open-Sora 2.0's MMDiT golden cases: the double- and
/// single-stream blocks' projections and MLPs run int8, every recorded intermediate and the output
/// stay within the documented relative L2 bound (docs/quantization.md), and int8 really ran.
final class MMDiTInt8GoldenTests: XCTestCase {
    func testMMDiTPatch2Int8WithinBound() throws { try assertInt8GoldenCase("v2_mmdit/mmdit") }
    func testMMDiTPatch1Int8WithinBound() throws { try assertInt8GoldenCase("v2_mmdit/mmdit_p1") }
}
