// Open-Sora 2.0's image / video condition (prepare_inference_condition in
// opensora/utils/inference.py): which latent frames are given, as a mask and a masked reference
// latent. The MMDiT sees cond = pack(cat(mask, masked_ref)) (1 + C channels before packing).
// The latent itself is never replaced during sampling; afterwards batch item 0's conditioning
// frames are overwritten with the reference (api_fn in opensora/utils/sampling.py).

import TensorCore

public enum V2ConditionType: String, Sendable, CaseIterable {
    case t2v
    case i2vHead = "i2v_head"
    case i2vTail = "i2v_tail"
    case i2vLoop = "i2v_loop"
    case v2vHead = "v2v_head"
    case v2vTail = "v2v_tail"
    case v2vHeadEasy = "v2v_head_easy"
    case v2vTailEasy = "v2v_tail_easy"

    /// Parses `--cond-type`; the names in the config comments that the code does not have are errors.
    public init(option: String) throws {
        guard let t = V2ConditionType(rawValue: option) else {
            // The reference config's comments name v2v_head_half / v2v_tail_half; its code has v2v_head / v2v_tail.
            let hint = option.hasSuffix("_half") ? " (the reference's code has no '\(option)', only its config comments: use \(option.dropLast(5)))" : ""
            throw SamplerError.invalidInput("--cond-type '\(option)': expected one of \(V2ConditionType.allCases.map(\.rawValue).joined(separator: ", "))\(hint)")
        }
        self = t
    }

    public var isImageToVideo: Bool { rawValue.hasPrefix("i2v") }

    /// Reference latents it needs per batch item (i2v_loop: first and last image).
    public var referenceCount: Int { self == .t2v ? 0 : (self == .i2vLoop ? 2 : 1) }

    /// Leading / trailing latent frames taken from the references ([first, last]).
    func conditionedFrames(latentFrames t: Int, causal: Bool) -> (head: Int, tail: Int) {
        let c = causal ? 1 : 0
        switch self {
        case .t2v: return (0, 0)
        case .i2vHead: return (1, 0)
        case .i2vTail: return (0, 1)
        case .i2vLoop: return (1, 1)
        case .v2vHead: return (min(t, 8 + c), 0)
        case .v2vTail: return (0, min(t, 8 + c))
        case .v2vHeadEasy: return (min(t, 16 + c), 0)
        case .v2vTailEasy: return (0, min(t, 16 + c))
        }
    }
}

public struct V2Condition: Sendable {
    public let type: V2ConditionType
    /// [B, 1, T, H, W]: 1 where a frame is given.
    public let masks: Tensor
    /// [B, C, T, H, W]: the given frames' latents, zeros elsewhere.
    public let maskedReference: Tensor
    /// Per batch item, the reference latents [C, T', H, W] (empty for t2v).
    public let references: [[Tensor]]

    /// True when no frame is given (t2v, or T = 1): the image-conditioned and unconditioned
    /// branches then get identical inputs.
    public var isEmpty: Bool { masks.withData { $0.allSatisfy { $0 == 0 } } }

    /// The model's cond input before packing: cat(mask, masked_ref) on channels. [B, 1 + C, T, H, W]
    public var modelInput: Tensor { concat([masks, maskedReference], axis: 1) }

    /// - Parameters:
    ///   - latentShape: [B, C, T, H, W] of the noise.
    ///   - references: per batch item, its reference latents [C, T', H, W]; a shorter list or an
    ///     empty item means no reference for it (as the reference code, that item is unconditioned).
    public init(_ type: V2ConditionType, latentShape: [Int], references: [[Tensor]], causal: Bool = true) throws {
        precondition(latentShape.count == 5, "latent shape must be [B, C, T, H, W]")
        let (b, c, t, h, w) = (latentShape[0], latentShape[1], latentShape[2], latentShape[3], latentShape[4])
        var masks = Tensor(repeating: 0, shape: [b, 1, t, h, w])
        var masked = Tensor(repeating: 0, shape: [b, c, t, h, w])
        let plane = h * w
        let (head, tail) = type.conditionedFrames(latentFrames: t, causal: causal)
        for i in 0..<min(b, references.count) where type != .t2v && t > 1 && !references[i].isEmpty {
            let refs = references[i]
            guard refs.count >= type.referenceCount else {
                throw SamplerError.invalidInput("--cond-type \(type.rawValue) needs \(type.referenceCount) references for video \(i), got \(refs.count)")
            }
            for r in refs where r.rank != 4 || r.shape[0] != c || r.shape[2] != h || r.shape[3] != w {
                throw SamplerError.invalidInput("reference latent for video \(i) is \(r.shape), expected [\(c), frames, \(h), \(w)]")
            }
            // (latent frame, reference, its frame) triples.
            var copies: [(Int, Tensor, Int)] = []
            switch type {
            case .i2vHead: copies = [(0, refs[0], 0)]
            case .i2vTail: copies = [(t - 1, refs[refs.count - 1], refs[refs.count - 1].shape[1] - 1)]
            case .i2vLoop: copies = [(0, refs[0], 0), (t - 1, refs[refs.count - 1], refs[refs.count - 1].shape[1] - 1)]
            case .v2vHead, .v2vHeadEasy, .v2vTail, .v2vTailEasy:
                let r = refs[0], frames = head + tail
                guard r.shape[1] >= frames else {
                    throw SamplerError.invalidInput("--cond-type \(type.rawValue) needs \(frames) reference latent frames for video \(i), the reference has \(r.shape[1])")
                }
                copies = head > 0 ? (0..<head).map { ($0, r, $0) } : (0..<tail).map { (t - tail + $0, r, r.shape[1] - tail + $0) }
            case .t2v: break
            }
            let mp = masks.mutablePointer, zp = masked.mutablePointer
            for (frame, ref, refFrame) in copies {
                let tr = ref.shape[1], rp = ref.pointer
                for j in 0..<plane { mp[((i * t) + frame) * plane + j] = 1 }
                for ch in 0..<c {
                    (zp + (((i * c) + ch) * t + frame) * plane).update(from: rp + ((ch * tr) + refFrame) * plane, count: plane)
                }
            }
        }
        self.type = type
        self.masks = masks
        maskedReference = masked
        self.references = references
    }

    /// api_fn's write-back after sampling: batch item 0 only, i2v types only (head: the first
    /// reference; tail: also the first reference, as api_fn writes references[0][0]; loop: first
    /// and second). x: [B, C, T, H, W]
    public func writeBack(into x: inout Tensor) {
        guard type.isImageToVideo, let refs = references.first, !refs.isEmpty, x.shape[2] > 1 else { return }
        let (c, t, plane) = (x.shape[1], x.shape[2], x.shape[3] * x.shape[4])
        let xp = x.mutablePointer
        func put(_ ref: Tensor, atFrame f: Int) {
            for ch in 0..<c { (xp + (ch * t + f) * plane).update(from: ref.pointer + ch * ref.shape[1] * plane, count: plane) }
        }
        switch type {
        case .i2vHead: put(refs[0], atFrame: 0)
        case .i2vTail: put(refs[0], atFrame: t - 1)
        case .i2vLoop: put(refs[0], atFrame: 0); put(refs[min(1, refs.count - 1)], atFrame: t - 1)
        default: break
        }
    }
}
