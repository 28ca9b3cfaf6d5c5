// Opening a checkpoint from whatever the user points at: a `.safetensors` file, a sharded
// `*.index.json`, a folder holding either, or a Hugging Face repo id found in the local cache.
// Pickled PyTorch files (`.bin`, `.pth`) are read by `PickleCheckpoint` (see Pickle/).

import Foundation
import TensorCore

public enum Checkpoint {
    /// Extra format readers, keyed by file extension (lower case, no dot). PyTorch's pickled
    /// `.bin` / `.pth` are read by `PickleCheckpoint`.
    nonisolated(unsafe) public static var readers: [String: (String) throws -> WeightStore] = [
        "bin": { try PickleCheckpoint(path: $0) },
        "pth": { try PickleCheckpoint(path: $0) },
    ]

    public static func open(_ path: String) throws -> WeightStore {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            if let snap = HuggingFaceCache.snapshot(repo: path) { return try open(snap) }
            throw WeightsError.cannotOpen(file: path, reason: "no such file or folder")
        }
        if isDir.boolValue { return try openDirectory(path) }
        if let why = FileChecks.notRegularFile(path) { throw WeightsError.cannotOpen(file: path, reason: why) }
        let lower = path.lowercased()
        if lower.hasSuffix(".index.json") {
            return try ShardedStore(indexPath: path) { try openFile($0) }
        }
        return try openFile(path)
    }

    static func openFile(_ path: String) throws -> WeightStore {
        let ext = (path as NSString).pathExtension.lowercased()
        if ext == "safetensors" { return try SafetensorsFile(path: path) }
        if let r = readers[ext] { return try r(path) }
        // Sniff: safetensors has no magic, but a zip (torch.save) starts with "PK".
        let f = try MappedFile(path: path)
        if f.size >= 2, let b = f.base, b.load(as: UInt8.self) == 0x50, b.load(fromByteOffset: 1, as: UInt8.self) == 0x4B {
            if let r = readers["bin"] { return try r(path) }
            throw WeightsError.unsupportedFormat(file: path, detail: "looks like a PyTorch zip checkpoint, which this build cannot read")
        }
        return try SafetensorsFile(path: path)
    }

    static func openDirectory(_ dir: String) throws -> WeightStore {
        let fm = FileManager.default
        let files = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        let preferred = ["model.safetensors", "diffusion_pytorch_model.safetensors"]
        for p in preferred where files.contains(p) { return try SafetensorsFile(path: dir + "/" + p) }
        if let idx = files.first(where: { $0.hasSuffix(".safetensors.index.json") }) { return try open(dir + "/" + idx) }
        let st = files.filter { $0.hasSuffix(".safetensors") }
        if st.count == 1 { return try SafetensorsFile(path: dir + "/" + st[0]) }
        if let idx = files.first(where: { $0.hasSuffix(".bin.index.json") }) { return try open(dir + "/" + idx) }
        if let bin = files.first(where: { $0.hasSuffix(".bin") || $0.hasSuffix(".pth") }) { return try openFile(dir + "/" + bin) }
        throw WeightsError.cannotOpen(file: dir, reason: "no checkpoint found in this folder (looked for model.safetensors, *.safetensors.index.json, *.safetensors, *.bin.index.json, *.bin, *.pth)")
    }
}

/// The Hugging Face hub cache: `$HF_HUB_CACHE`, `$HF_HOME/hub`, or `~/.cache/huggingface/hub`,
/// holding `models--ORG--NAME/snapshots/<revision>/`.
public enum HuggingFaceCache {
    public static var root: String {
        let env = ProcessInfo.processInfo.environment
        if let c = env["HF_HUB_CACHE"] { return c }
        if let h = env["HF_HOME"] { return h + "/hub" }
        return NSHomeDirectory() + "/.cache/huggingface/hub"
    }

    /// The snapshot folder for `repo` ("org/name"), preferring the revision `refs/main` names.
    public static func snapshot(repo: String, root: String = HuggingFaceCache.root) -> String? {
        let parts = repo.split(separator: "/")
        guard parts.count == 2, !repo.hasPrefix("/"), !repo.hasPrefix(".") else { return nil }
        let base = root + "/models--\(parts[0])--\(parts[1])"
        let fm = FileManager.default
        if let ref = try? String(contentsOfFile: base + "/refs/main", encoding: .utf8) {
            let dir = base + "/snapshots/" + ref.trimmingCharacters(in: .whitespacesAndNewlines)
            if fm.fileExists(atPath: dir) { return dir }
        }
        guard let snaps = try? fm.contentsOfDirectory(atPath: base + "/snapshots"), let first = snaps.sorted().first else { return nil }
        return base + "/snapshots/" + first
    }
}
