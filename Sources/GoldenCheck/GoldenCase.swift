// A reference case produced by the original PyTorch code (see Tests/Fixtures/golden/README.md):
// NAME.json describes the call, NAME.io.safetensors holds inputs/outputs/intermediates and
// NAME.weights.safetensors (or a file shared with another case) the state dict.

import Foundation
import TensorCore
import Weights

public enum GoldenError: Error, CustomStringConvertible {
    case notImplemented(kind: String)
    case badCase(path: String, detail: String)

    public var description: String {
        switch self {
        case let .notImplemented(k): return "not implemented: \(k)"
        case let .badCase(p, d): return "\(p): \(d)"
        }
    }
}

public final class GoldenCase: @unchecked Sendable {
    public let path: String
    public let directory: String
    public let name: String
    public let kind: String
    public let json: [String: Any]

    public init(path: String) throws {
        self.path = path
        directory = (path as NSString).deletingLastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GoldenError.badCase(path: path, detail: "cannot read the case file")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw GoldenError.badCase(path: path, detail: "not a JSON object")
        }
        json = obj
        guard let k = obj["kind"] as? String else { throw GoldenError.badCase(path: path, detail: "no 'kind' field") }
        kind = k
        name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    public var config: [String: Any] { json["config"] as? [String: Any] ?? [:] }

    /// Path of a file that sits beside the case.
    public func file(_ name: String) -> String { directory.isEmpty ? name : directory + "/" + name }

    private var ioStore: SafetensorsFile?
    /// The case's tensors (`io_file`, default NAME.io.safetensors).
    public func io() throws -> SafetensorsFile {
        if let s = ioStore { return s }
        let f = json["io_file"] as? String ?? name + ".io.safetensors"
        let s = try SafetensorsFile(path: file(f))
        ioStore = s
        return s
    }

    /// A float32 tensor from the io file.
    public func tensor(_ name: String) throws -> Tensor { try io().tensor(name) }

    /// The files named by `weights_file`, in order: "a.safetensors (model); b.safetensors; tokenizer.model".
    public var weightFiles: [String] {
        guard let w = json["weights_file"] as? String else { return [] }
        return w.split(separator: ";").map { part in
            var s = part.trimmingCharacters(in: .whitespaces)
            if let paren = s.firstIndex(of: "(") { s = String(s[..<paren]).trimmingCharacters(in: .whitespaces) }
            return s
        }.filter { !$0.isEmpty }
    }

    /// Opens the case's model weights: `override` if given, else the first safetensors named
    /// by `weights_file` (or NAME.weights.safetensors).
    public func modelWeights(override: String? = nil) throws -> WeightStore {
        if let override { return try Checkpoint.open(override) }
        let f = weightFiles.first { $0.hasSuffix(".safetensors") } ?? name + ".weights.safetensors"
        return try Checkpoint.open(file(f))
    }

    /// The weights file named `fileName` beside the case.
    public func weights(named fileName: String) throws -> WeightStore { try Checkpoint.open(file(fileName)) }

    /// Tolerance for T5 states made with the `t5_encoder` case's weights: that case's own
    /// (2e-5 on last_hidden_state), far tighter than a sampler case's tolerance on its samples.
    public func t5Tolerance() throws -> Float {
        try GoldenCase(path: file("t5_encoder.json")).tolerance(for: "last_hidden_state")
    }

    /// Tolerance for an output: `suggested_tolerance` when it is a number, else
    /// `suggested_tolerance["<output>_max_abs"]`, else `["max_abs"]`.
    public func tolerance(for output: String) -> Float {
        if let v = json["suggested_tolerance"] as? Double { return Float(v) }     // one number for every output (v2 cases)
        let tol = json["suggested_tolerance"] as? [String: Any] ?? [:]
        if let v = tol["\(output)_max_abs"] as? Double { return Float(v) }
        if let v = tol["max_abs"] as? Double { return Float(v) }
        return 1e-5
    }
}
