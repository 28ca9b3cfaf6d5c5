// Open-Sora's mask_strategy: where reference latents go in the noise and how much of them is
// kept (image-to-video, extension, editing). Parsing the text, then placing the frames.

import Foundation
import TensorCore

/// One entry of Open-Sora's mask_strategy: `loop,ref_idx,ref_start,target_start,length,edit_ratio`,
/// positions in latent frames, negative = from the end; missing trailing fields default to 0,0,0,0,1,0.
public struct MaskCondition: Equatable, Sendable {
    public var loop = 0
    public var referenceIndex = 0
    public var referenceStart = 0
    public var targetStart = 0
    public var length = 1
    public var editRatio = 0.0

    public init(loop: Int = 0, referenceIndex: Int = 0, referenceStart: Int = 0, targetStart: Int = 0, length: Int = 1, editRatio: Double = 0) {
        self.loop = loop
        self.referenceIndex = referenceIndex
        self.referenceStart = referenceStart
        self.targetStart = targetStart
        self.length = length
        self.editRatio = editRatio
    }
}

extension GenerationConfig {
    /// Parses one prompt's mask_strategy ("" = none).
    public static func parseMaskStrategy(_ text: String) throws -> [MaskCondition] {
        if text.isEmpty { return [] }
        return try text.split(separator: ";", omittingEmptySubsequences: false).map { group in
            let fields = group.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard (1...6).contains(fields.count) else {
                throw ConfigError(source: "mask_strategy", key: nil, "'\(group)' has \(fields.count) fields; expected 1 ... 6")
            }
            let all = fields + ["0", "0", "0", "0", "1", "0"].dropFirst(fields.count)
            let ints = try all.prefix(5).map { f -> Int in
                guard let v = Int(f) else { throw ConfigError(source: "mask_strategy", key: nil, "'\(group)': '\(f)' is not an integer") }
                return v
            }
            guard let ratio = Double(all[5]), ratio.isFinite else {
                throw ConfigError(source: "mask_strategy", key: nil, "'\(group)': '\(all[5])' is not a number")
            }
            guard ints[0] >= 0, ints[1] >= 0, ints[4] >= 0 else {
                throw ConfigError(source: "mask_strategy", key: nil, "'\(group)': loop, ref_idx and length must not be negative")
            }
            return MaskCondition(loop: ints[0], referenceIndex: ints[1], referenceStart: ints[2], targetStart: ints[3], length: ints[4], editRatio: ratio)
        }
    }
}

/// Open-Sora's apply_mask_strategy for loop 0: copies reference latent frames into z and marks
/// them in the frame mask (edit_ratio; 0 = kept clean). z: [B, C, T, H, W]; refs[b]: [C, Tr, H, W].
/// Returns the mask [B, T], or nil when no prompt has a strategy.
func applyMaskStrategy(_ z: inout Tensor, references: [[Tensor]], strategies: [[MaskCondition]], align: Int?) throws -> Tensor? {
    guard strategies.contains(where: { !$0.isEmpty }) else { return nil }
    let (b, c, t) = (z.shape[0], z.shape[1], z.shape[2])
    let plane = z.shape[3] * z.shape[4]
    var mask = Tensor(repeating: 1, shape: [b, t])
    let zp = z.mutablePointer
    for i in 0..<b {
        for m in strategies[i] where m.loop == 0 {
            guard m.referenceIndex < references[i].count else {
                throw PipelineError("mask_strategy of prompt \(i + 1) uses reference #\(m.referenceIndex), but only \(references[i].count) reference(s) were given")
            }
            let ref = references[i][m.referenceIndex]
            let tr = ref.shape[1]
            var refStart = m.referenceStart < 0 ? tr + m.referenceStart : m.referenceStart
            var targetStart = m.targetStart < 0 ? t + m.targetStart : m.targetStart
            if let align {
                refStart = nearestPoint(refStart, align, tr)
                targetStart = nearestPoint(targetStart, align, t)
            }
            let length = min(m.length, t - targetStart, tr - refStart)
            guard refStart >= 0, targetStart >= 0, length > 0 else { continue }
            let rp = ref.pointer
            for ch in 0..<c {
                for f in 0..<length {
                    let dst = zp + ((i * c + ch) * t + targetStart + f) * plane
                    let src = rp + (ch * tr + refStart + f) * plane
                    dst.update(from: src, count: plane)
                }
            }
            for f in 0..<length { mask[flat: i * t + targetStart + f] = Float(m.editRatio) }
        }
    }
    return mask
}

/// find_nearest_point: snap to a multiple of `point`, rounding up past the half, within max.
func nearestPoint(_ value: Int, _ point: Int, _ maxValue: Int) -> Int {
    var t = value / point
    if Double(value % point) > Double(point) / 2 && t < maxValue / point - 1 { t += 1 }
    return t * point
}
