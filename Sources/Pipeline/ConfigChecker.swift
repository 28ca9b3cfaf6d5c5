// Range checks that report errors against the key's origin: the config file and its line, or
// the command line when an override set the value.

import Foundation

struct ConfigChecker {
    let source: String
    let lines: [String: Int]
    let overridden: Set<String>

    func error(_ key: String, _ message: String) -> ConfigError {
        if overridden.contains(key) { return ConfigError(source: "command line", key: key, message) }
        return ConfigError(source: source, line: lines[key], key: key, message)
    }

    func range<T: Comparable>(_ key: String, _ value: T, _ allowed: ClosedRange<T>) throws {
        guard allowed.contains(value) else {
            throw error(key, "must be \(allowed.lowerBound) ... \(allowed.upperBound), got \(value)")
        }
    }

    func nonEmpty(_ key: String, _ value: String) throws {
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty else { throw error(key, "must not be empty") }
    }
}
