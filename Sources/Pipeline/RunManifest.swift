// A run's record of what it has finished, so that rerunning the same command (after a kill, a
// preempted Slurm task, a failed pod) makes only what is missing.
//
// JSON lines next to the outputs, `<stem>.manifest.jsonl` (a shard: `<stem>.manifest.shard-I-of-N.jsonl`,
// one file per writer, so shards on a shared file system never append to the same file):
//   {"event":"run",    "config_digest":..., "shard":"0/2", "videos":[...], ...}      at the start
//   {"event":"latent", "index":g, "file":..., "bytes":..., "sha256":..., ...}     --save-latents
//   {"event":"video",  "index":g, "prompt":..., "seed":..., "file":..., "bytes":..., "sha256":...,
//                      "seconds":{"text-encoder":..,"denoise":..,"decode":..,"write":..}, ...}
// A video is finished when a record under this config digest names its prompt and its output
// file, and the file has the recorded size and SHA-256; anything else is made again.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TensorCore
import Weights

public struct ManifestRecord: Codable, Equatable, Sendable {
    public var event: String
    public var configDigest: String
    public var index: Int?
    public var promptIndex: Int?
    public var sample: Int?
    public var prompt: String?
    public var seed: UInt64?
    /// The file's name, relative to the manifest's folder.
    public var file: String?
    public var bytes: Int?
    public var sha256: String?
    public var seconds: [String: Double]?
    public var shard: String?
    public var time: String?
    /// The engine version that wrote the record ("run" records): a video is not remade because
    /// another version resumes the run, but its record says which one made it.
    public var engine: String?

    enum CodingKeys: String, CodingKey {
        case event, configDigest = "config_digest", index, promptIndex = "prompt_index", sample, prompt, seed, file, bytes, sha256,
             seconds, shard, time, engine
    }

    public init(event: String, configDigest: String) {
        self.event = event
        self.configDigest = configDigest
    }
}

extension GenerationConfig {
    /// SHA-256 of everything that decides a video's bytes: the resolved config without the prompt
    /// list, the output name and `overwrite` (each video's prompt is recorded and checked apart).
    public var runDigest: String {
        var c = self
        c.prompts = []
        c.promptPath = nil
        c.output.path = ""
        c.output.overwrite = false
        var h = SHA256()
        h.update(Array(c.yamlText().utf8))
        return SHA256.hex(h.finalize())
    }
}

/// The finished work a folder's manifests record for one run, and this process's own manifest.
public final class RunManifest {
    public let config: GenerationConfig
    public let digest: String
    /// The manifest this process appends to.
    public let path: String
    let folder: String
    private var descriptor: Int32 = -1

    /// `<stem>.manifest.jsonl`, or `<stem>.manifest.shard-I-of-N.jsonl` for a shard.
    public init(config: GenerationConfig, shard: ShardSpec?) {
        self.config = config
        digest = config.runDigest
        let stem = config.outputStem
        path = stem + (shard.map { ".manifest.shard-\($0.index)-of-\($0.count).jsonl" } ?? ".manifest.jsonl")
        let dir = (stem as NSString).deletingLastPathComponent
        folder = dir.isEmpty ? "." : dir
    }

    /// Every manifest of this output stem in the folder (all shards'), in name order.
    public func existingManifests() -> [String] {
        let base = (config.outputStem as NSString).lastPathComponent + ".manifest"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasPrefix(base) && $0.hasSuffix(".jsonl") && ($0 == base + ".jsonl" || $0.hasPrefix(base + ".shard-")) }
        return names.sorted().map { (folder as NSString).appendingPathComponent($0) }
    }

    /// Records of every manifest of this stem; a line cut short by a kill is ignored.
    public func readRecords() throws -> [(manifest: String, record: ManifestRecord)] {
        var out: [(String, ManifestRecord)] = []
        let decoder = JSONDecoder()
        for m in existingManifests() {
            guard let data = FileManager.default.contents(atPath: m) else { throw PipelineError("\(m): cannot read the run manifest") }
            let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
            for (n, line) in lines.enumerated() {
                do { out.append((m, try decoder.decode(ManifestRecord.self, from: Data(line)))) } catch {
                    if n == lines.count - 1 && data.last != UInt8(ascii: "\n") { continue }   // the last write was interrupted
                    throw PipelineError("\(m):\(n + 1): not a run manifest record (\(error.localizedDescription)); is this file something else?")
                }
            }
        }
        return out
    }

    /// The manifest's path relative to its folder, for records.
    func relative(_ file: String) -> String { (file as NSString).lastPathComponent }
    func absolute(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }

    // MARK: writing

    /// Appends one line with one write(2) on an O_APPEND descriptor, so that two processes
    /// appending to the same manifest (a requeued task beside its old self) never interleave.
    public func append(_ record: ManifestRecord) throws {
        var r = record
        r.time = ISO8601DateFormatter().string(from: Date())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(r)
        line.append(UInt8(ascii: "\n"))
        if descriptor < 0 {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw PipelineError("\(path): cannot open the run manifest for appending: \(String(cString: strerror(errno)))")
            }
        }
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(descriptor) == 0 else {
            throw PipelineError("\(path): cannot append to the run manifest: \(written < 0 ? String(cString: strerror(errno)) : "short write")")
        }
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// The record of a written file: name, size and SHA-256.
    public func fileRecord(event: String, job: VideoJob, prompt: String, file: String) throws -> ManifestRecord {
        var r = ManifestRecord(event: event, configDigest: digest)
        r.index = job.index
        r.promptIndex = job.promptIndex
        r.sample = job.sample
        r.prompt = prompt
        r.seed = job.seed
        r.file = relative(file)
        (r.bytes, r.sha256) = try Self.fingerprint(file)
        return r
    }

    static func fingerprint(_ file: String) throws -> (Int, String) {
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? -1
        return (size, try SHA256.file(file))
    }

    /// Whether `record`'s file is there, complete and unchanged.
    func verifies(_ record: ManifestRecord) -> Bool {
        guard let name = record.file, let bytes = record.bytes, let sha = record.sha256 else { return false }
        let file = absolute(name)
        guard let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue, size == bytes else { return false }
        return (try? SHA256.file(file)) == sha
    }
}

/// What a rerun still has to do.
public struct ResumePlan {
    /// Global indexes of the videos whose output is finished and verified.
    public var finished: Set<Int> = []
    /// Saved, verified latent files by global index.
    public var latentFiles: [Int: String] = [:]
    /// Whether an earlier run of this config used this output name (its unrecorded files are partial).
    public var resumed = false
    public init() {}
}

extension RunManifest {
    /// Checks the folder's manifests against this run and lists what is already done.
    /// Records of another config (or of another prompt at an index) that no newer record of this
    /// run supersedes are an error, unless `discardOther`: then those videos are simply made again.
    public func plan(prompts: [String], outputPath: (VideoJob) -> String, discardOther: Bool) throws -> ResumePlan {
        var plan = ResumePlan()
        var lastVideo: [Int: (String, ManifestRecord)] = [:], lastLatent: [Int: (String, ManifestRecord)] = [:]
        var foreign: [(String, ManifestRecord)] = []
        for (manifest, r) in try readRecords() {
            guard r.configDigest == digest else { foreign.append((manifest, r)); continue }
            plan.resumed = true
            guard let g = r.index else { continue }
            if r.event == "video" { lastVideo[g] = (manifest, r) }
            if r.event == "latent" { lastLatent[g] = (manifest, r) }
        }
        func samePrompt(_ r: ManifestRecord) -> Bool {
            guard let p = r.prompt, let pi = r.promptIndex else { return false }
            return pi < prompts.count && prompts[pi] == p
        }
        for job in config.videoJobs(promptCount: prompts.count) {
            if let (_, r) = lastVideo[job.index], samePrompt(r), r.file == relative(outputPath(job)), verifies(r) { plan.finished.insert(job.index) }
            if let (_, r) = lastLatent[job.index], samePrompt(r), let name = r.file, verifies(r) { plan.latentFiles[job.index] = absolute(name) }
        }
        if discardOther { return plan }
        // Conflicts: what this run would replace that another run made.
        for (manifest, r) in lastVideo.values.sorted(by: { $0.1.index! < $1.1.index! }) + lastLatent.values.sorted(by: { $0.1.index! < $1.1.index! })
            where !samePrompt(r) {
            let pi = r.promptIndex ?? -1
            let now = pi >= 0 && pi < prompts.count ? "'\(prompts[pi])'" : "no prompt \(pi + 1)"
            throw PipelineError("\(manifest): video \(r.index!) was made from prompt \(pi + 1) '\(r.prompt ?? "?")', but this run has \(now); use another --output, or pass --discard-other-config to make it again")
        }
        for (manifest, r) in foreign {
            let superseded = r.index.map { plan.finished.contains($0) } ?? plan.resumed
            if !superseded {
                throw PipelineError("\(manifest): the outputs named '\(config.output.path)' were made with another config (digest \(r.configDigest.prefix(12)), this run \(digest.prefix(12))); use another --output, or pass --discard-other-config to make them again")
            }
        }
        return plan
    }
}
