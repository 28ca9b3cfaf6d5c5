// Errors the VAE throws for bad checkpoints or bad call arguments (never a crash).

public enum VAEError: Error, CustomStringConvertible, Equatable {
    /// The checkpoint's tensors do not describe a model this code knows (names the tensor).
    case badCheckpoint(source: String, tensor: String, detail: String)
    /// An input tensor has the wrong shape or size for the model.
    case badInput(String)

    public var description: String {
        switch self {
        case let .badCheckpoint(s, t, d): return "\(s): tensor '\(t)': \(d)"
        case let .badInput(d): return "VAE input: \(d)"
        }
    }
}
