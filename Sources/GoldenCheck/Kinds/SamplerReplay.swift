// Shared by the sampler checkers (rflow, iddpm, ddim): replaying a case's recorded model calls,
// reading its noise draws and config.

import Foundation
import Samplers
import TensorCore

/// A denoiser that hands back the model outputs a case recorded, step by step, and checks the
/// inputs the sampler gave it against the recorded ones on the way.
final class ReplayedModel {
    let golden: GoldenCase
    /// Name of the recorded model input: "z_in" (rflow) or "x_in" (iddpm, ddim).
    let inputName: String
    let tolerance: Float
    private(set) var calls = 0
    private(set) var checks: [OutputCheck] = []

    init(_ golden: GoldenCase, inputName: String, tolerance: Float) {
        self.golden = golden
        self.inputName = inputName
        self.tolerance = tolerance
    }

    func callAsFunction(_ x: Tensor, _ t: [Float], _ frameMask: [Bool]?) throws -> Tensor {
        let step = "step\(calls)"
        guard SamplerCaseFields.has(golden, "\(step).model_out") else {
            throw GoldenError.badCase(path: golden.path, detail: "the sampler made more model calls than the \(calls) recorded")
        }
        calls += 1
        checks.append(OutputCheck(name: "\(step).\(inputName)", got: x, expected: try golden.tensor("\(step).\(inputName)"), tolerance: tolerance))
        checks.append(OutputCheck(name: "\(step).t_in", got: Tensor(shape: [t.count], data: t),
                                  expected: try golden.tensor("\(step).t_in"), tolerance: 0))
        if SamplerCaseFields.has(golden, "\(step).x_mask") {
            let expected = try golden.io().integers("\(step).x_mask").map { $0 != 0 }
            let got = frameMask ?? []
            let mismatches = got.count == expected.count ? zip(got, expected).filter { $0 != $1 }.count : max(got.count, expected.count)
            checks.append(OutputCheck(name: "\(step).x_mask", mismatches: mismatches, total: expected.count))
        } else if frameMask != nil {
            checks.append(OutputCheck(name: "\(step).x_mask (none recorded)", mismatches: 1, total: 1))
        }
        return try golden.tensor("\(step).model_out")
    }

    /// One more check: the sampler made exactly as many calls as were recorded.
    func callCountCheck() -> OutputCheck {
        var recorded = 0
        while SamplerCaseFields.has(golden, "step\(recorded).model_out") { recorded += 1 }
        return OutputCheck(name: "model calls (\(calls) of \(recorded))", mismatches: abs(recorded - calls), total: recorded)
    }
}

/// Reading a sampler case's tensors and config (a namespace, so that other checkers' helpers on
/// GoldenCase cannot collide with these names).
enum SamplerCaseFields {
    static func has(_ c: GoldenCase, _ tensorName: String) -> Bool { (try? c.io().contains(tensorName)) ?? false }

    /// `prefix0`, `prefix1`, ... for as long as they exist.
    static func numbered(_ c: GoldenCase, _ prefix: String) throws -> [Tensor] {
        var out: [Tensor] = []
        while has(c, "\(prefix)\(out.count)") { out.append(try c.tensor("\(prefix)\(out.count)")) }
        return out
    }

    static func int(_ c: GoldenCase, _ key: String) throws -> Int {
        guard let v = c.config[key] as? NSNumber else { throw GoldenError.badCase(path: c.path, detail: "config.\(key) missing or not a number") }
        return v.intValue
    }

    static func float(_ c: GoldenCase, _ key: String) throws -> Float {
        guard let v = c.config[key] as? NSNumber else { throw GoldenError.badCase(path: c.path, detail: "config.\(key) missing or not a number") }
        return v.floatValue
    }

    static func bool(_ c: GoldenCase, _ key: String, default d: Bool) -> Bool { (c.config[key] as? NSNumber)?.boolValue ?? d }

    /// Integer config value that may be null or absent.
    static func optionalInt(_ c: GoldenCase, _ key: String) -> Int? { (c.config[key] as? NSNumber)?.intValue }
}

/// Checks that compare `got` with the named tensor to within `ulps` units in the last place of
/// the tensor's largest value (for schedule arrays, where an absolute tolerance means nothing).
func scheduleArrayCheck(_ name: String, got: [Float], expected: Tensor, ulps: Float = 4) -> OutputCheck {
    let scale = expected.withData { $0.map(abs).max() ?? 0 }
    return OutputCheck(name: name, got: Tensor(shape: [got.count], data: got), expected: expected,
                       tolerance: ulps * scale.ulp)
}
