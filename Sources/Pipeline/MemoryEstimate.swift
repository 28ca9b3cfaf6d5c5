// A request's memory, estimated before anything loads, so an impossible one (1,000,000 frames,
// 720p with a large batch) is refused up front with the figure instead of dying mid-run.
// The model is deliberately simple (weights as stored + the largest activations of each stage);
// it errs high, and is only used to refuse requests well beyond the machine.

import Foundation
import MMDiT

public struct MemoryEstimate: Sendable, CustomStringConvertible {
    public private(set) var denoiseBytes: Double
    public let decodeBytes: Double
    /// The step cache's kept tensors at most (part of `denoiseBytes`; 0 without a cache).
    public let cacheBytes: Double
    /// What every video of the run keeps until it ends (part of both stages).
    public let heldBytes: Double
    public var peakBytes: Double { max(denoiseBytes, decodeBytes) }

    /// `videos`: how many videos the run makes (prompts x num_sample, or a shard's share). Each keeps
    /// its text embedding, its latent and its decoded frames until the run ends; a batch is at most
    /// batch_size of them.
    /// `sizes`: the checkpoints' architecture (CheckpointSizes).
    public init(config c: GenerationConfig, videos: Int, sizes: CheckpointSizes, denoiserWeightBytes: Double, vaeWeightBytes: Double) {
        let lat = Array(sizes.latentShape.dropFirst())               // [T', h, w]
        let dit = sizes.denoiser
        let p = dit.patchSize
        let tokens = Double(lat[0] / max(p[0], 1)) * Double((lat[1] + p[1] - 1) / max(p[1], 1)) * Double((lat[2] + p[2] - 1) / max(p[2], 1))
        let videos = max(1, videos)
        let batch = Double(min(max(1, c.batchSize), videos))
        let rows = 2 * batch                                         // CFG doubles the batch
        // Per token: the residual stream, q/k/v, attention output, the 4x MLP hidden and norms.
        let activations = rows * tokens * Double(dit.hiddenSize) * 4 * 14
        let weights = c.dtype == .fp32 ? denoiserWeightBytes : denoiserWeightBytes / 2
        // Step cache: tensors the size of the hidden states. TeaCache keeps 2; PAB one per
        // attention, cross-attention and listed MLP (STDiT3 has a spatial and a temporal stack).
        let hidden = rows * tokens * Double(dit.hiddenSize) * 4
        let stacks = c.denoiser.type == .stdit3 ? 2 : 1
        let depth = dit.depth
        switch c.cache.method {
        case .none: cacheBytes = 0
        case .teacache: cacheBytes = 2 * hidden
        case .pab:
            let mlps = Set(c.cache.pab.mlpBlocks.filter { (0..<depth).contains($0) }).count
            cacheBytes = Double(2 * stacks * depth + (stacks == 1 ? depth : 0) + stacks * mlps) * hidden
        }
        // Held for the whole run, per video: text embedding, denoised latent, decoded frames.
        let pixels = Double(c.decodedSize[0] * c.decodedSize[1])
        let textBytes = Double(c.textEncoder.modelMaxLength * sizes.text.dModel) * 4
        let latentBytes = Double(sizes.latentShape.reduce(1, *)) * 4
        let frameBytes = 3 * Double(c.totalFrames) * pixels * 4    // every loop joined
        heldBytes = Double(videos) * (textBytes + latentBytes + frameBytes)
        denoiseBytes = weights + activations + cacheBytes + heldBytes

        // Decode: a batch's output video (and its copy) plus a micro-batch of full-resolution feature maps.
        let widest = Double(sizes.decoderWidth)
        let featureMaps = Double(c.vae.microBatchSize) * widest * pixels * 4 * 6
        decodeBytes = vaeWeightBytes + batch * frameBytes * 2 + featureMaps + heldBytes
        // With loops the VAE decodes and re-encodes each loop beside the denoiser.
        if c.loop > 1 { denoiseBytes += vaeWeightBytes + batch * frameBytes * 2 + featureMaps }
    }

    public var description: String {
        String(format: "about %.1f GiB (denoise %.1f GiB, decode %.1f GiB)", peakBytes / 1_073_741_824,
               denoiseBytes / 1_073_741_824, decodeBytes / 1_073_741_824)
    }

    /// Physical memory of this machine (MemTotal), or nil where unknown.
    public static var physicalMemoryBytes: Double? {
        guard let s = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            if let kb = Double(line.split(separator: " ").dropFirst().first ?? "") { return kb * 1024 }
        }
        return nil
    }
}

extension MemoryEstimate {
    /// Size of the files at a local weights path (a file, or every file in a folder).
    static func bytesOnDisk(_ path: String) -> Double {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { return 0 }
        if !isDir.boolValue { return Double((try? fm.attributesOfItem(atPath: path)[.size] as? NSNumber)??.int64Value ?? 0) }
        let files = (try? fm.contentsOfDirectory(atPath: path)) ?? []
        return files.filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".bin") || $0.hasSuffix(".pth") }
            .reduce(0) { $0 + bytesOnDisk(path + "/" + $1) }
    }
}

/// Open-Sora 2.0's stages, estimated the same way (weights as resident, largest activations).
/// Text: T5-XXL memory-mapped and released layer by layer (about two layers resident) with its
/// activations. Denoise: the MMDiT memory-mapped and released block by block (the largest block
/// resident, plus float32 copies of its two largest weights per GEMM) and the three guidance
/// branches' activations (`MMDiTConfig.activationBytes`; `branchesPerForward` of them at once). Decode: the VAE's weights, one tile of
/// feature maps at the widest decoder level (about four live tensors) and the decoded frames.
public struct OpenSora2MemoryEstimate: Sendable, CustomStringConvertible {
    public let textBytes: Double, denoiseBytes: Double, decodeBytes: Double
    public var peakBytes: Double { max(textBytes, denoiseBytes, decodeBytes) }

    /// - Parameters:
    ///   - mmditBytesPerParameter: 2 for bf16, 4 for float32, about 1 for int8.
    ///   - latent: [C, T, h, w] of one video; frames: [T, H, W] decoded.
    ///   - quantizedAtLoad: `--quantize int8` over a bf16 / float32 file: every block's int8
    ///     weights are made at load and stay in the heap for the whole denoise.
    public init(mmdit m: MMDiTConfig, mmditBytesPerParameter: Double, quantizedAtLoad: Bool = false, batch: Int, branchesPerForward: Int = 3,
                videos: Int, latent: [Int], patch p: Int,
                frames: [Int], textLength l: Int, t5: (bytes: Double, layers: Int, width: Int, ffn: Int, heads: Int),
                vae: (bytes: Double, widest: Int, tilePixels: Int, tileFrames: Int)) {
        let b = Double(max(1, batch)), videos = Double(max(1, videos))
        let textRow = Double(l * t5.width) * 4, clipRow = Double(m.vecInDim) * 4
        let held = videos * (textRow + clipRow + Double(latent.reduce(1, *)) * 4 + 3 * Double(frames.reduce(1, *)) * 4)
        // T5: two layers' weights and the embedding table resident; per row the stream, q/k/v, the
        // gated FFN's two halves and the attention scores.
        let t5Activations = b * (Double(l) * Double(8 * t5.width + 3 * t5.ffn) + Double(t5.heads * l * l)) * 4
        textBytes = 3 * t5.bytes / Double(max(1, t5.layers)) + t5Activations + held
        // MMDiT: the largest block's weights (+ embedders), float32 copies of its two largest weights.
        let shapes = m.parameterShapes()
        func params(_ prefix: String) -> [Int] { shapes.filter { $0.0.hasPrefix(prefix) }.map { $0.1.reduce(1, *) } }
        let double = params("double_blocks.0."), single = params("single_blocks.0.")
        let outside = shapes.filter { !$0.0.hasPrefix("double_blocks.") && !$0.0.hasPrefix("single_blocks.") }.map { $0.1.reduce(1, *) }
        let block = Double(max(double.reduce(0, +), single.reduce(0, +)) + outside.reduce(0, +)) * mmditBytesPerParameter
        let scratch = Double((double + single).sorted().suffix(2).reduce(0, +)) * 4
        let tokens = latent[1] * (latent[2] / p) * (latent[3] / p)
        // The blocks' Linear weights (all but the float modulation), one byte each.
        let int8Heap = quantizedAtLoad
            ? Double(shapes.filter { ($0.0.hasPrefix("double_blocks.") || $0.0.hasPrefix("single_blocks.")) && $0.1.count == 2 && !$0.0.contains("mod") }
                .map { $0.1.reduce(1, *) }.reduce(0, +))
            : 0
        denoiseBytes = block + scratch + int8Heap + m.activationBytes(batch: min(3, max(1, branchesPerForward)) * max(1, batch), imageTokens: tokens, textTokens: l) + held
        let tile = Double(vae.tileFrames * vae.tilePixels * vae.widest) * 4 * 4
        decodeBytes = vae.bytes + tile + b * 3 * Double(frames.reduce(1, *)) * 4 * 2 + held
    }

    public var description: String {
        String(format: "about %.1f GiB (text %.1f GiB, denoise %.1f GiB, decode %.1f GiB)", peakBytes / 1_073_741_824,
               textBytes / 1_073_741_824, denoiseBytes / 1_073_741_824, decodeBytes / 1_073_741_824)
    }
}
