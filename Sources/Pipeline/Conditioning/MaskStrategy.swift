// Open-Sora v1.2's conditioning bookkeeping (opensora/utils/inference_utils.py), as pure
// functions: the mask_strategy syntax, the placement of reference latent frames on the video's
// latent frames, and the strings the loop appends. Python's quirks are kept on purpose (they
// decide where frames land); docs/conditioning.md explains each.

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
    /// Parses one prompt's mask_strategy ("" = none) as the reference does (MaskStrategy.parse),
    /// and refuses what the reference would silently skip or misread: negative loop, reference
    /// index or length.
    public static func parseMaskStrategy(_ text: String) throws -> [MaskCondition] {
        let conditions: [MaskCondition]
        do { conditions = try MaskStrategy.parse(text) } catch let e as ConditioningError {
            throw ConfigError(source: "mask_strategy", key: nil, "'\(text)': \(e.message)")
        }
        if let bad = conditions.first(where: { $0.loop < 0 || $0.referenceIndex < 0 || $0.length < 0 }) {
            throw ConfigError(source: "mask_strategy", key: nil, "'\(text)': loop, ref_idx and length must not be negative (entry \(bad.loop),\(bad.referenceIndex),...,\(bad.length))")
        }
        return conditions
    }
}

/// A failure of one of the reference's functions, named by the Python exception it raises there
/// (the golden case `mask_parse` records exception types).
public struct ConditioningError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        case value = "ValueError", assertion = "AssertionError", runtime = "RuntimeError", index = "IndexError"
        case json = "JSONDecodeError"
    }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

public enum MaskStrategy {
    /// parse_mask_strategy: `loop,ref,ref_start,target_start,length,edit_ratio` groups separated by
    /// ';'; missing trailing fields come from 0,0,0,0,1,0. Accepts what Python's int() / float()
    /// accept (surrounding spaces, a sign); "" and nil give no entries.
    public static func parse(_ text: String?) throws -> [MaskCondition] {
        guard let text, !text.isEmpty else { return [] }
        return try text.split(separator: ";", omittingEmptySubsequences: false).map { group in
            let fields = group.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count <= 6 else { throw ConditioningError(.assertion, "Invalid mask strategy: \(group)") }
            let all = fields + ["0", "0", "0", "0", "1", "0"].dropFirst(fields.count)
            let ints = try all.prefix(5).map { f -> Int in
                guard let v = Int(f.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                    throw ConditioningError(.value, "'\(f)' is not an integer")
                }
                return v
            }
            guard let ratio = Double(all[5].trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw ConditioningError(.value, "'\(all[5])' is not a number")
            }
            return MaskCondition(loop: ints[0], referenceIndex: ints[1], referenceStart: ints[2], targetStart: ints[3],
                                 length: ints[4], editRatio: ratio)
        }
    }

    /// find_nearest_point: `value` down to a multiple of `point`, up only when the remainder is
    /// more than half (strictly) and that does not reach the last block of `maxValue`.
    public static func nearestPoint(_ value: Int, _ point: Int, _ maxValue: Int) -> Int {
        var t = floorDiv(value, point)
        if Double(floorMod(value, point)) > Double(point) / 2 && t < floorDiv(maxValue, point) - 1 { t += 1 }
        return t * point
    }

    /// Where one prompt's references land for one loop (apply_mask_strategy for one batch row).
    public struct Placement: Equatable, Sendable {
        /// Per latent frame: 1 = generated, edit_ratio where a reference frame was placed. [T]
        public var mask: [Float]
        /// Per latent frame: the reference and its latent frame copied there (nil = the noise stays).
        public var sources: [Source?]

        public struct Source: Equatable, Sendable {
            public var reference: Int
            public var frame: Int
        }
    }

    /// apply_mask_strategy for one prompt: `frames` latent frames of the video, `referenceFrames`
    /// the latent length of each reference. Entries of other loops are skipped; later entries
    /// overwrite earlier ones; starts resolve as Python indexes and slices do.
    public static func place(frames: Int, referenceFrames: [Int], conditions: [MaskCondition], loop: Int, align: Int?) throws -> Placement {
        var p = Placement(mask: [Float](repeating: 1, count: frames), sources: [Placement.Source?](repeating: nil, count: frames))
        for m in conditions where m.loop == loop {
            var id = m.referenceIndex
            if id < 0 { id += referenceFrames.count }                 // refs[i][m_id]: Python list indexing
            guard id >= 0, id < referenceFrames.count else { throw ConditioningError(.index, "list index out of range") }
            let tr = referenceFrames[id]
            var refStart = m.referenceStart < 0 ? tr + m.referenceStart : m.referenceStart
            var targetStart = m.targetStart < 0 ? frames + m.targetStart : m.targetStart
            if let align {
                refStart = nearestPoint(refStart, align, tr)
                targetStart = nearestPoint(targetStart, align, frames)
            }
            let length = min(m.length, frames - targetStart, tr - refStart)
            let target = pythonSlice(targetStart, targetStart + length, count: frames)
            let source = pythonSlice(refStart, refStart + length, count: tr)
            // z[i, :, target] = ref[:, source]: equal lengths, or one source frame broadcast.
            guard source.count == target.count || source.count == 1 else {
                throw ConditioningError(.runtime, "The expanded size of the tensor (\(target.count)) must match the existing size (\(source.count)) at non-singleton dimension 1")
            }
            for (k, f) in target.enumerated() {
                p.sources[f] = Placement.Source(reference: id, frame: source.count == 1 ? source.lowerBound : source.lowerBound + k)
                p.mask[f] = Float(m.editRatio)
            }
        }
        return p
    }

    /// append_generated's entry for loop `loop`: the newest reference (`referenceIndex`, the
    /// previous loop re-encoded) at the start, its last `conditionFrameLength` latent frames.
    public static func appendGenerated(_ strategy: String, loop: Int, referenceIndex: Int, conditionFrameLength: Int, conditionFrameEdit: Double) -> String {
        (strategy.isEmpty ? "" : strategy + ";")
            + "\(loop),\(referenceIndex),-\(conditionFrameLength),0,\(conditionFrameLength),\(pythonFloat(conditionFrameEdit))"
    }

    /// dframe_to_frame: the pixel frames a later loop drops from its start, for `latentFrames`
    /// carried-over latent frames (n // 5 * 17, hard-coded for the v1.2 VAE's 17 frames per 5).
    public static func pixelFrames(latentFrames n: Int) throws -> Int {
        guard floorMod(n, 5) == 0 else { throw ConditioningError(.assertion, "Invalid num: \(n)") }
        return floorDiv(n, 5) * 17
    }

    /// The indexes `start ..< stop` selects of a sequence of `count`, as Python's slice does
    /// (negative bounds count from the end, then both are clipped to 0 ... count).
    static func pythonSlice(_ start: Int, _ stop: Int, count: Int) -> Range<Int> {
        func resolve(_ i: Int) -> Int { i < 0 ? max(0, i + count) : min(i, count) }
        let a = resolve(start), b = resolve(stop)
        return a..<max(a, b)
    }

    /// Python's str(float): "0.0", "0.25", "1e-05".
    static func pythonFloat(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e16 { return String(format: "%.1f", v) }
        return "\(v)"
    }
}

func floorDiv(_ a: Int, _ b: Int) -> Int { let q = a / b; return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q }
func floorMod(_ a: Int, _ b: Int) -> Int { a - floorDiv(a, b) * b }

/// Open-Sora's apply_mask_strategy for loop `loop`: copies reference latent frames into z where
/// MaskStrategy.place puts them and returns the frame mask (edit_ratio where placed, 1 elsewhere).
/// z: [B, C, T, H, W]; refs[b]: [C, Tr, H, W]. Returns the mask [B, T], or nil when no prompt has
/// a strategy (then the sampler draws nothing for conditioning; the reference would still pass
/// a mask of ones and draw unused noise each step).
func applyMaskStrategy(_ z: inout Tensor, references: [[Tensor]], strategies: [[MaskCondition]], loop: Int = 0, align: Int?) throws -> Tensor? {
    guard strategies.contains(where: { !$0.isEmpty }) else { return nil }
    let (b, c, t) = (z.shape[0], z.shape[1], z.shape[2])
    let plane = z.shape[3] * z.shape[4]
    var mask = Tensor(repeating: 1, shape: [b, t])
    let zp = z.mutablePointer
    for i in 0..<b {
        let placement: MaskStrategy.Placement
        do {
            placement = try MaskStrategy.place(frames: t, referenceFrames: references[i].map { $0.shape[1] }, conditions: strategies[i],
                                               loop: loop, align: align)
        } catch let e as ConditioningError where e.kind == .index {
            let bad = strategies[i].first { $0.loop == loop && !(0..<references[i].count).contains($0.referenceIndex) }
            throw PipelineError("mask_strategy of prompt \(i + 1) uses reference #\(bad?.referenceIndex ?? -1), but only \(references[i].count) reference(s) were given")
        } catch let e as ConditioningError {
            throw PipelineError("mask_strategy of prompt \(i + 1) (loop \(loop)): \(e.message) (\(references[i].count) reference(s), \(t) latent frames)")
        }
        for (f, source) in placement.sources.enumerated() {
            guard let source else { continue }
            let ref = references[i][source.reference]
            let tr = ref.shape[1], rp = ref.pointer
            for ch in 0..<c {
                (zp + ((i * c + ch) * t + f) * plane).update(from: rp + (ch * tr + source.frame) * plane, count: plane)
            }
        }
        for f in 0..<t { mask[flat: i * t + f] = placement.mask[f] }
    }
    return mask
}
