import XCTest

/// Open-Sora 2.0's MMDiT against the reference (Tests/Fixtures/golden/v2_mmdit, see its README):
/// packing, RoPE tables, every block's streams and the output at the cases' tolerances.
final class MMDiTGoldenTests: XCTestCase {
    /// 256px.py layout (patch 2, cond_embed), batch 2: an i2v_head item and a t2v (zero cond) item.
    func testMMDiTPatch2() { assertGoldenCase("v2_mmdit/mmdit") }
    /// high_compression.py layout: 128 latent channels, patch 1 (cond has 129 channels).
    func testMMDiTPatch1() { assertGoldenCase("v2_mmdit/mmdit_p1") }
}
