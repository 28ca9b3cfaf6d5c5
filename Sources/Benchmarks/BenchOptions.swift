// Every `bench` option acts or is refused: an option given for a component that does not read it,
// or a count that would measure nothing, is an error before anything runs.

import TensorCore

extension Benchmark {
    /// The components each component-specific option applies to.
    static var optionComponents: [(flag: String, components: [String])] {
        let denoisers = BenchDenoiser.allCases.map(\.rawValue), pipelines = PipelineBench.allCases.map(\.rawValue)
        return [
            ("--shape", ["sgemm", "conv", "attention", "int8-gemm"]),
            ("--latent", denoisers + pipelines + ["vae-v1.2-decode", "vae-v1.2-numerics", "dit-xl2",
                          "hunyuan-vae-decode", "dc-ae-decode", "mmdit-v2"]),
            ("--batch", denoisers + ["dit-xl2"]),
            ("--caption-tokens", denoisers),
            ("--steps", pipelines + ["stdit3-xl2"]),
            ("--cache", pipelines + ["stdit3-xl2"]),
            ("--schedule-latent", ["stdit3-xl2"]),
            ("--conv", ["vae-v1.2-decode"]),
            ("--dtype", ["t5-xxl", "dit-xl2"]),
            ("--repeat", ["sgemm", "conv", "attention", "dit-xl2", "int8-gemm"] + denoisers),
            ("--sgemm-window", denoisers + ["mmdit-v2"]),
            ("--blocks", ["mmdit-v2"]),
            ("--quantize", denoisers + pipelines),
        ]
    }

    func checkOptionsApply() throws {
        guard Self.components.contains(component) else {
            throw BenchmarkError("unknown component '\(component)' (available: \(Self.components.joined(separator: ", ")))")
        }
        let given: [String: Bool] = [
            "--shape": shapeOption != nil, "--latent": latentOption != nil, "--batch": batchOption != nil,
            "--caption-tokens": captionTokens != nil, "--steps": stepsOption != nil, "--conv": convOption != nil,
            "--dtype": dtypeOption != nil, "--repeat": repeat_ != nil, "--quantize": quantizeOption != nil, "--sgemm-window": sgemmWindowOption != nil,
            "--cache": cacheOption != nil, "--schedule-latent": scheduleLatent != nil,
            "--blocks": blocks != nil,
        ]
        for (flag, components) in Self.optionComponents where given[flag] == true && !components.contains(component) {
            throw BenchmarkError("\(flag) does not apply to --component \(component) (it applies to \(components.joined(separator: ", ")))")
        }
        if let q = quantizeOption {
            for mode in q.split(separator: ",", omittingEmptySubsequences: false) { _ = try Quantization(option: String(mode)) }
        }
        if let r = repeat_, r < 1 { throw BenchmarkError("--repeat must be at least 1, got \(r)") }
        if let t = threads, t < 1 { throw BenchmarkError("--threads must be positive, got \(t)") }
        if let b = batchOption, b < 1 { throw BenchmarkError("--batch must be at least 1, got \(b)") }
        if let s = stepsOption, s < 1 { throw BenchmarkError("--steps must be at least 1, got \(s)") }
    }
}
