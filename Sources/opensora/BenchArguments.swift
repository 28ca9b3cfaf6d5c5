// `opensora bench`: its options, parsed here and run by the Benchmarks module (Benchmark.run).

import ArgumentParser
import Benchmarks

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark components with random weights of the real shapes; prints one JSON object per run.")

    @Option(help: "Component: \(Benchmark.componentNames.joined(separator: ", ")).")
    var component: String = "sgemm"
    @Option(name: .customLong("shape"), help: "sgemm: M,N,K (default 4500,1152,1152); conv: N,C,O,T,H,W,kt; attention: B,Nq,Nk,heads,headDim (default: STDiT3's spatial, temporal and cross attention at 144p and 240p).")
    var shapeOption: String?
    @Option(name: .customLong("latent"), help: ArgumentHelp("Latent size TxHxW (latent frames x height/8 x width/8) for stdit*-xl2, pipeline-*, vae-v1.2-* (default 15x18x32); SxS for dit-xl2 (default 32x32); T,H,W for hunyuan-vae-decode (default 33,32,32: 129 frames of 256px) and dc-ae-decode (default 33,8,8); T,H,W latent frames x latent height x width for mmdit-v2 (default 9,32,32: 33 frames of 256px).",
                               discussion: "Standard runs: stdit3-xl2 and pipeline-v1.2 15x18x32 (144p 2s), stdit2-xl2 and pipeline-v1.1 51x30x53 (240p 2s, 2D VAE: one latent frame per frame), pipeline-v2 9x32x32 (256px 33 frames, HunyuanVideo latent), stdit-xl2 16x64x64 (the v1.0 checkpoint's 16x512x512; its position tables are sized to the latent)."))
    var latentOption: String?
    @Option(name: .customLong("batch"), parsing: .unconditional, help: "stdit*-xl2: batch (default 2 = the guidance batch: cond + null caption); dit-xl2: images (the model runs on twice as many rows).")
    var batchOption: Int?
    @Option(parsing: .unconditional, help: "stdit*-xl2: real caption tokens per sample (default: all; 300 for stdit3, 200 for stdit2, 120 for stdit).")
    var captionTokens: Int?
    @Option(name: .customLong("steps"), parsing: .unconditional, help: "pipeline-*: sampling steps (default 1); stdit3-xl2: steps of a denoise-only sampling run (rectified flow, guidance batch) instead of one forward.")
    var stepsOption: Int?
    @Option(name: .customLong("cache"), help: "pipeline-*, stdit3-xl2 with --steps: step caching, none, teacache[:THRESHOLD] or pab (default none; docs/caching.md).")
    var cacheOption: String?
    @Option(help: "stdit3-xl2 with --steps: take the timesteps of this latent's video size (TxHxW) instead of --latent's.")
    var scheduleLatent: String?
    @Option(name: .customLong("conv"), help: "vae-v1.2-decode: convolution algorithm (auto, im2col, winograd2, winograd4; default auto).")
    var convOption: String?
    @Option(name: .customLong("dtype"), help: "t5-xxl: dtype of the random checkpoint it writes (bf16 or f32; default bf16); dit-xl2: of its random weights (f32, as published, or bf16; default f32).")
    var dtypeOption: String?
    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Repeats (best is reported; default 5 for sgemm and conv, 1 for models).")
    var repeat_: Int?
    @Option(name: .customLong("sgemm-window"), parsing: .unconditional, help: "stdit*-xl2, mmdit-v2: seconds of plain sgemm on the model's linear shapes measured before and after each forward (the reference rate; default 5).")
    var sgemmWindowOption: Double?
    @Option(parsing: .unconditional, help: "mmdit-v2: run N double + N single blocks of the real width and extrapolate the 19 + 38 (default: all).")
    var blocks: Int?
    @Option(name: .customLong("quantize"), help: "stdit*-xl2, mmdit-v2: the blocks' linears as none (float32, default) or int8; a comma list (none,int8) runs each in turn, one JSON line each (docs/quantization.md).")
    var quantizeOption: String?
    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?

    func run() throws {
        var b = Benchmark()
        b.component = component
        b.shapeOption = shapeOption
        b.latentOption = latentOption
        b.batchOption = batchOption
        b.captionTokens = captionTokens
        b.stepsOption = stepsOption
        b.cacheOption = cacheOption
        b.scheduleLatent = scheduleLatent
        b.convOption = convOption
        b.dtypeOption = dtypeOption
        b.repeat_ = repeat_
        b.sgemmWindowOption = sgemmWindowOption
        b.blocks = blocks
        b.quantizeOption = quantizeOption
        b.threads = threads
        try runReportingErrors { try b.run() }
    }
}
