// Comparing engine outputs with reference tensors.

import Foundation
import TensorCore

/// One compared output. The verdict follows the golden README: an output passes when its shape
/// is the reference's exactly and its max abs error (`suggested_tolerance.max_abs`, or
/// `<output>_max_abs`) is within the tolerance; a NaN anywhere fails. max_rel is reported only.
public struct OutputCheck: Sendable, CustomStringConvertible {
    public let name: String
    public let maxAbs: Float
    /// max_i |got_i - ref_i| / max(|ref_i|, 1e-3 * max|ref|): relative error that ignores
    /// entries far below the tensor's scale.
    public let maxRel: Float
    public let tolerance: Float
    public let shapeOK: Bool
    /// "got [2, 8] expected [2, 1, 8]" when the shapes differ.
    public let shapeNote: String
    /// ||got - ref||_2 / ||ref||_2 (0 for integer outputs).
    public private(set) var relativeL2: Float = 0
    /// FNV-1a over the engine output's float32 bits (nil for integer and list outputs): equal
    /// digests are equal bytes, so runs at other thread counts or on other machines compare with
    /// `opensora check --digests` (docs/configuration.md).
    public private(set) var digest: UInt64? = nil
    /// Set by `--quantize int8`: the output passes on relative L2 error within this bound instead
    /// of on max abs error (an approximation cannot meet the float32 tolerances).
    public private(set) var relativeL2Bound: Float? = nil
    public var passed: Bool {
        if let relativeL2Bound { return shapeOK && relativeL2 <= relativeL2Bound }
        return shapeOK && maxAbs <= tolerance
    }

    /// The same comparison judged on relative L2 error <= `bound`.
    public func judgedOnRelativeL2(_ bound: Float) -> OutputCheck {
        var c = self
        c.relativeL2Bound = bound
        return c
    }

    /// Shapes must be equal exactly (a checker whose layout differs from the reference's says so
    /// with an explicit reshape).
    public init(name: String, got: Tensor, expected: Tensor, tolerance: Float) {
        self.name = name
        self.tolerance = tolerance
        digest = Self.fnv1a(got)
        shapeOK = got.shape == expected.shape
        shapeNote = shapeOK ? "" : "got \(got.shape) expected \(expected.shape)"
        guard shapeOK else { maxAbs = .infinity; maxRel = .infinity; return }
        var ma: Float = 0, mr: Float = 0, scale: Float = 0
        let g = got.pointer, e = expected.pointer
        for i in 0..<expected.count { scale = max(scale, abs(e[i])) }
        let floor = max(scale * 1e-3, 1e-12)
        var nan = false
        var diff2 = 0.0, ref2 = 0.0
        for i in 0..<expected.count {
            let d = abs(g[i] - e[i])
            if d.isNaN { nan = true }
            ma = max(ma, d)
            mr = max(mr, d / max(abs(e[i]), floor))
            diff2 += Double(d) * Double(d)
            ref2 += Double(e[i]) * Double(e[i])
        }
        maxAbs = nan ? .nan : ma
        maxRel = nan ? .nan : mr
        relativeL2 = nan ? .nan : Float(ref2 > 0 ? (diff2 / ref2).squareRoot() : diff2.squareRoot())
    }

    /// For integer outputs (token ids): number of mismatches, tolerance 0.
    public init(name: String, mismatches: Int, total: Int) {
        self.name = name
        tolerance = 0
        shapeOK = true
        shapeNote = ""
        maxAbs = Float(mismatches)
        maxRel = total == 0 ? 0 : Float(mismatches) / Float(total)
    }

    /// For lists that must be equal (ids, masks, strings): positions that differ, plus the length
    /// difference, so a list cut short never passes.
    public init<T: Equatable>(name: String, got: [T], expected: [T]) {
        let differing = zip(got, expected).filter { $0 != $1 }.count + abs(got.count - expected.count)
        self.init(name: got.count == expected.count ? name : "\(name) (\(got.count) entries, expected \(expected.count))",
                  mismatches: differing, total: max(expected.count, 1))
    }

    /// FNV-1a (64-bit) over the float32 bit patterns of `t`, with its shape first.
    static func fnv1a(_ t: Tensor) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ word: UInt64, bytes: Int) {
            var w = word
            for _ in 0..<bytes { h = (h ^ (w & 0xff)) &* 0x0000_0100_0000_01b3; w >>= 8 }
        }
        for d in t.shape { mix(UInt64(d), bytes: 8) }
        let p = t.pointer
        for i in 0..<t.count { mix(UInt64(p[i].bitPattern), bytes: 4) }
        return h
    }

    /// The engine output's digest as printed: 16 hex digits, or "-" for outputs that have none.
    public var digestText: String { digest.map { String(format: "%016llx", $0) } ?? "-" }

    public var description: String {
        let status = passed ? "PASS" : "FAIL"
        if !shapeOK { return "  \(name.padding(toLength: max(24, name.count), withPad: " ", startingAt: 0)) shape mismatch: \(shapeNote)  FAIL" }
        let label = name.padding(toLength: max(24, name.count), withPad: " ", startingAt: 0)
        if let relativeL2Bound {
            return "  \(label) max_abs=\(fmt(maxAbs)) rel_l2=\(fmt(relativeL2)) bound=\(fmt(relativeL2Bound)) \(status)"
        }
        return "  \(label) max_abs=\(fmt(maxAbs)) max_rel=\(fmt(maxRel)) tol=\(fmt(tolerance)) \(status)"
    }

    private func fmt(_ v: Float) -> String { String(format: "%.3e", Double(v)) }
}

public struct CheckOptions: Sendable {
    /// Feed samplers the model outputs recorded in the case instead of running the model.
    public var replay = false
    /// Read model weights from here instead of the case's own file.
    public var weights: String?
    /// Run the model's block linears int8 (kinds in `GoldenRunner.quantizeKinds`); outputs are then
    /// judged on relative L2 error (`GoldenRunner.int8RelativeL2Bound`).
    public var quantization: Quantization = .none
    public init(replay: Bool = false, weights: String? = nil, quantization: Quantization = .none) {
        self.replay = replay; self.weights = weights; self.quantization = quantization
    }
}
