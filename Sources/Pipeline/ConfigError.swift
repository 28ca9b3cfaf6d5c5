// Errors in a generation config: each names the file (or "command line"), the line when known,
// and the key, e.g. `configs/x.yaml:12: scheduler.cfg_scale: must be 0 ... 50, got 70`.

public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public let source: String
    public let line: Int?
    public let key: String?
    public let message: String

    public init(source: String, line: Int? = nil, key: String?, _ message: String) {
        self.source = source
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        let place = line.map { "\(source):\($0)" } ?? source
        return key.map { "\(place): \($0): \(message)" } ?? "\(place): \(message)"
    }
}
