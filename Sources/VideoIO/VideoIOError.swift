// Errors from reading and writing images and videos. Every message names the file it is about.

import Foundation

public struct VideoIOError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let reason: String

    public init(path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// Largest image the readers accept, checked from the file header before any pixel buffer is allocated.
public enum ImageLimits {
    public static let maxSide = 16_384
    public static let maxPixels = 100_000_000
}

/// strerror as a Swift string.
func systemError(_ code: Int32) -> String { String(cString: strerror(code)) }
