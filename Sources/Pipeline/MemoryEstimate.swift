// A request's memory, estimated before anything loads, so an impossible one (1,000,000 frames,
// 720p with a large batch) is refused up front with the figure instead of dying mid-run.
// The model is deliberately simple (weights as stored + the largest activations of each stage);
// it errs high, and is only used to refuse requests well beyond the machine.

import Foundation

public struct MemoryEstimate: Sendable, CustomStringConvertible {
    public private(set) var denoiseBytes: Double
    public let decodeBytes: Double
    /// The step cache's kept tensors at most (part of `denoiseBytes`; 0 without a cache).
    public let cacheBytes: Double
    public var peakBytes: Double { max(denoiseBytes, decodeBytes) }

    public init(config c: GenerationConfig, denoiserWeightBytes: Double, vaeWeightBytes: Double) {
        let lat = c.latentSize                                       // [T', h, w]
        let p = c.denoiser.patchSize
        let tokens = Double(lat[0] / max(p[0], 1)) * Double((lat[1] + p[1] - 1) / max(p[1], 1)) * Double((lat[2] + p[2] - 1) / max(p[2], 1))
        let rows = 2 * Double(max(1, c.batchSize))                   // CFG doubles the batch
        // Per token: the residual stream, q/k/v, attention output, the 4x MLP hidden and norms.
        let activations = rows * tokens * Double(c.denoiser.hiddenSize) * 4 * 14
        let weights = c.dtype == .fp32 ? denoiserWeightBytes : denoiserWeightBytes / 2
        // Step cache: tensors the size of the hidden states. TeaCache keeps 2; PAB one per
        // attention, cross-attention and listed MLP (STDiT3 has a spatial and a temporal stack).
        let hidden = rows * tokens * Double(c.denoiser.hiddenSize) * 4
        let stacks = c.denoiser.type == .stdit3 ? 2 : 1
        let depth = c.denoiser.depth
        switch c.cache.method {
        case .none: cacheBytes = 0
        case .teacache: cacheBytes = 2 * hidden
        case .pab:
            let mlps = Set(c.cache.pab.mlpBlocks.filter { (0..<depth).contains($0) }).count
            cacheBytes = Double(2 * stacks * depth + (stacks == 1 ? depth : 0) + stacks * mlps) * hidden
        }
        denoiseBytes = weights + activations + cacheBytes

        // Decode: the output video plus a micro-batch of full-resolution feature maps.
        let pixels = Double(c.decodedSize[0] * c.decodedSize[1])
        // With loops the whole video (every loop joined) is held; the VAE decodes and re-encodes
        // each loop beside the denoiser.
        let video = Double(max(1, c.batchSize)) * 3 * Double(c.totalFrames) * pixels * 4 * 2
        let widest = Double(c.vae.spatial.blockOutChannels.first ?? 128)
        let featureMaps = Double(c.vae.microBatchSize) * widest * pixels * 4 * 6
        decodeBytes = vaeWeightBytes + video + featureMaps
        if c.loop > 1 { denoiseBytes += decodeBytes }
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
