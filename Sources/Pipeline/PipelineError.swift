// Errors of the generation pipeline; each names the option, file or prompt at fault.

public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
