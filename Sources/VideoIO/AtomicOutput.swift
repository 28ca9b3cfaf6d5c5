// Writing a file so that it appears complete or not at all.
//
// The data goes to a hidden temporary file in the destination's own folder (so the final step
// is a rename on one file system, never a copy); `commit` moves it into place, `discard` removes
// it. Without `overwrite` the move is a hard link, which fails atomically if the name is taken.

import Foundation
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

struct AtomicOutput {
    let path: String
    let tempPath: String
    let overwrite: Bool

    /// Checks the destination and creates the empty temporary file.
    init(path: String, overwrite: Bool) throws {
        guard !path.isEmpty else { throw VideoIOError(path: "<output>", "empty output path") }
        self.path = path
        self.overwrite = overwrite
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) else {
            throw VideoIOError(path: path, "cannot write: folder '\(dir)' does not exist")
        }
        guard isDir.boolValue else { throw VideoIOError(path: path, "cannot write: '\(dir)' is not a folder") }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { throw VideoIOError(path: path, "cannot write: a folder has this name") }
            if !overwrite { throw VideoIOError(path: path, "already exists (set overwrite to replace it)") }
        }
        // O_EXCL: never reuse someone else's file; the random part makes a clash unlikely anyway.
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let temp = dir + "/." + url.lastPathComponent + ".partial-\(getpid())-\(suffix)"
        // Registered before it exists, so a signal at any moment after creation removes it.
        PendingOutputs.register(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let e = errno
            PendingOutputs.unregister(temp)
            throw VideoIOError(path: path, "cannot write: \(systemError(e))")
        }
        close(fd)
        tempPath = temp
    }

    /// Moves the finished temporary file to `path`.
    func commit() throws {
        defer { PendingOutputs.unregister(tempPath) }
        if overwrite {
            guard rename(tempPath, path) == 0 else {
                let e = errno
                discard()
                throw VideoIOError(path: path, "cannot move the finished file into place: \(systemError(e))")
            }
            return
        }
        if link(tempPath, path) == 0 {
            discard()
            return
        }
        let e = errno
        if e == EEXIST {
            discard()
            throw VideoIOError(path: path, "already exists (set overwrite to replace it)")
        }
        // File systems without hard links: check, then rename (not atomic against a racing writer).
        if access(path, F_OK) == 0 {
            discard()
            throw VideoIOError(path: path, "already exists (set overwrite to replace it)")
        }
        guard rename(tempPath, path) == 0 else {
            let e2 = errno
            discard()
            throw VideoIOError(path: path, "cannot move the finished file into place: \(systemError(e2))")
        }
    }

    func discard() {
        unlink(tempPath)
        PendingOutputs.unregister(tempPath)
    }
}
