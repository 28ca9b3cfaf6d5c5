// `opensora bench --component pipeline-v1.2`: the whole v1.2 pipeline (T5-XXL, STDiT3-XL/2,
// VAE v1.2) through the same VideoGenerator as `generate`, with random bf16 weights of the real
// shapes written to a scratch folder (13 GB, removed afterwards) and the fixtures' tokenizer.
// Reports each stage's seconds and peak RSS; --steps sets the sampling steps (the reference's 30
// cost 30x the one-step denoise figure).

import Foundation
import Pipeline
import TensorCore
import Weights

enum PipelineBench {
    static func run(latentSpec: String, steps: Int) throws {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("opensora-pipeline-bench-\(getpid())").path
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: dir) }
        guard let tokenizer = DefaultWeights.locateRepoFile("Tests/Fixtures/golden/tokenizer.model") else {
            throw CLIError("Tests/Fixtures/golden/tokenizer.model not found (run from the repository root)")
        }
        for (file, manifest) in [("t5.safetensors", "t5-v1_1-xxl.json"), ("stdit3.safetensors", "stdit3-xl2-v1.2.json"), ("vae.safetensors", "vae-v1.2.json")] {
            FileHandle.standardError.write(Data("writing random bf16 \(manifest) to \(dir)/\(file)\n".utf8))
            let store = try RandomBF16Store(shapes: try STDiT3Bench.manifestShapes(manifest), seed: 7)
            try SafetensorsWriter().write(store.names.map { name in
                SafetensorsWriter.Item(name: name, dtype: .bf16, shape: store.info(name)!.shape) {
                    let w = try store.weight(name)
                    return Data(bytes: w.raw, count: w.count * 2)
                }
            }, to: "\(dir)/\(file)")
        }

        let dims = latentSpec.split(separator: "x").compactMap { Int($0) }
        guard dims.count == 3, dims.allSatisfy({ $0 > 0 }) else { throw CLIError("--latent must be TxHxW, got '\(latentSpec)'") }
        var config = GenerationConfig.defaults
        var o = ConfigOverrides()
        o.textEncoderPath = "\(dir)/t5.safetensors"
        o.tokenizer = tokenizer
        o.denoiserPath = "\(dir)/stdit3.safetensors"
        o.vaePath = "\(dir)/vae.safetensors"
        o.imageSize = [dims[1] * 8, dims[2] * 8]
        o.numFrames = String(dims[0] / 5 * 17)
        o.numSamplingSteps = steps
        o.outputPath = "\(dir)/out.mp4"
        try config.apply(overrides: o)
        let generator = try VideoGenerator(config: config)
        ResourceUsage.resetPeak()
        let t0 = ResourceUsage.now()
        _ = try generator.generate(prompts: ["a red panda eating bamboo in the snow"])
        let total = ResourceUsage.now() - t0
        let stages = generator.reports.map { #"{"stage":"\#($0.name)","seconds":\#($0.seconds),"peak_rss_bytes":\#($0.peakRSSBytes)}"# }
        let peak = generator.reports.map(\.peakRSSBytes).max() ?? 0
        print(#"{"component":"pipeline-v1.2","latent":[\#(dims[0]),\#(dims[1]),\#(dims[2])],"frames":\#(config.numFrames),"steps":\#(steps),"weights":"bf16","seconds":\#(total),"peak_rss_bytes":\#(peak),"stages":[\#(stages.joined(separator: ","))],"threads":\#(Runtime.threads)}"#)
    }
}
