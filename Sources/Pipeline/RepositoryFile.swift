// Files shipped with the engine (configs, manifests, test fixtures), found wherever the command
// is run from.

import Foundation

public enum RepositoryFile {
    /// A file of the engine's repository: relative to the current folder or the executable.
    public static func locate(_ relative: String) -> String? {
        var candidates = [relative]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent(relative).path)
            dir = dir.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}
