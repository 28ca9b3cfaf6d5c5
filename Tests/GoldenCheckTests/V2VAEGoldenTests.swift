import XCTest

/// Open-Sora 2.0's autoencoders against the reference (Tests/Fixtures/golden/v2_vae, see its README).
final class V2VAEGoldenTests: XCTestCase {
    // 2D AE (Flux): one frame x batch 2; three frames folded into the batch.
    func testAE2DOneFrameBatchOfTwo() { assertGoldenCase("v2_vae/ae2d_T1") }
    func testAE2DThreeFrames() { assertGoldenCase("v2_vae/ae2d_T3") }

    // HunyuanVideo causal 3D VAE: an image, a batch of 9-frame clips, spatial tiles with partial
    // edge tiles, and temporal tiles (with a short trailing tile) each spatially tiled.
    func testHunyuanOneFrame() { assertGoldenCase("v2_vae/hunyuan_vae_T1") }
    func testHunyuanNineFramesBatchOfTwo() { assertGoldenCase("v2_vae/hunyuan_vae_T9") }
    func testHunyuanSpatialTiles() { assertGoldenCase("v2_vae/hunyuan_vae_tiled_s_T5") }
    func testHunyuanSpatialAndTemporalTiles() { assertGoldenCase("v2_vae/hunyuan_vae_tiled_st_T33") }

    // Video DC-AE: an image with the training scaling factor, a batch of 8-frame clips, spatial
    // tiles (4 frames -> 1 latent -> 1 decoded frame), spatial + temporal tiles.
    func testDCAEImageScaled() { assertGoldenCase("v2_vae/dc_ae_T1_sf") }
    func testDCAEEightFramesBatchOfTwo() { assertGoldenCase("v2_vae/dc_ae_T8") }
    func testDCAESpatialTiles() { assertGoldenCase("v2_vae/dc_ae_tiled_s_T4") }
    func testDCAESpatialAndTemporalTiles() { assertGoldenCase("v2_vae/dc_ae_tiled_st_T20") }
}
