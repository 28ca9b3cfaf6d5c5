// Every failure while reading weights names the file and, where there is one, the tensor.

public enum WeightsError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(file: String, reason: String)
    case truncated(file: String, detail: String)
    case badHeader(file: String, detail: String)
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case badTensorEntry(file: String, tensor: String, detail: String)
    case overlapping(file: String, first: String, second: String)
    case missingTensor(name: String, source: String)
    case shapeMismatch(name: String, source: String, expected: [Int], found: [Int])
    case dtypeMismatch(name: String, source: String, expected: String, found: String)
    case badIndex(file: String, detail: String)
    case unsupportedFormat(file: String, detail: String)
    case other(String)

    public var description: String {
        switch self {
        case let .cannotOpen(f, r): return "\(f): cannot open: \(r)"
        case let .truncated(f, d): return "\(f): file is truncated: \(d)"
        case let .badHeader(f, d): return "\(f): corrupt safetensors header: \(d)"
        case let .unsupportedDType(f, t, d): return "\(f): tensor '\(t)' has unsupported dtype '\(d)' (supported: F32, F16, BF16; I64/I32/F64 only for reference data)"
        case let .badTensorEntry(f, t, d): return "\(f): tensor '\(t)': \(d)"
        case let .overlapping(f, a, b): return "\(f): tensors '\(a)' and '\(b)' overlap in the data section"
        case let .missingTensor(n, s): return "\(s): missing tensor '\(n)'"
        case let .shapeMismatch(n, s, e, f): return "\(s): tensor '\(n)' has shape \(f), expected \(e)"
        case let .dtypeMismatch(n, s, e, f): return "\(s): tensor '\(n)' has dtype \(f), expected \(e)"
        case let .badIndex(f, d): return "\(f): bad checkpoint index: \(d)"
        case let .unsupportedFormat(f, d): return "\(f): \(d)"
        case let .other(m): return m
        }
    }
}
