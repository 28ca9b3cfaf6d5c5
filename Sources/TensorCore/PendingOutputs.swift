// What a run has written but not finished: temporary files and the folders made for its outputs,
// so an interrupted run (SIGINT, SIGTERM, SIGHUP) or a failed one removes them before it exits
// and leaves nothing behind.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum PendingOutputs {
    nonisolated(unsafe) private static var paths = Set<String>()
    /// Folders in the order they were made (parents first).
    nonisolated(unsafe) private static var folders: [String] = []
    private static let lock = NSLock()

    public static func register(_ p: String) { lock.lock(); paths.insert(p); lock.unlock() }
    public static func unregister(_ p: String) { lock.lock(); paths.remove(p); lock.unlock() }

    /// Creates `folder` and any missing parents, remembering each one made, so `removeAll`
    /// can take them away again while they are empty.
    public static func createFolder(_ folder: String) throws {
        var missing: [String] = []
        var dir = folder
        while !dir.isEmpty && dir != "/" && dir != "." && !FileManager.default.fileExists(atPath: dir) {
            missing.append(dir)
            dir = (dir as NSString).deletingLastPathComponent
        }
        for d in missing.reversed() {
            if mkdir(d, 0o777) != 0 && errno != EEXIST {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: d, NSLocalizedDescriptionKey: String(cString: strerror(errno))])
            }
            lock.lock(); folders.append(d); lock.unlock()
        }
    }

    /// The outputs are complete: the folders made for them stay.
    public static func keepFolders() { lock.lock(); folders.removeAll(); lock.unlock() }

    /// Removes the folders made by `createFolder` that are still empty (deepest first): a folder
    /// holding a finished output stays.
    public static func removeEmptyFolders() {
        lock.lock(); defer { lock.unlock() }
        for d in folders.reversed() { rmdir(d) }
        folders.removeAll()
    }

    /// Deletes every pending temporary file, then the empty folders made for outputs.
    /// Safe to call from a signal-handling queue.
    public static func removeAll() {
        lock.lock()
        for p in paths { unlink(p) }
        paths.removeAll()
        lock.unlock()
        removeEmptyFolders()
    }

    public static var count: Int { lock.lock(); defer { lock.unlock() }; return paths.count }
}
