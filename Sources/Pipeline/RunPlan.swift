// Which videos a run makes, with which seed, and which share of them a shard takes.
//
// A run's videos are its prompt list expanded by num_sample, prompt-major: video g is prompt
// g / num_sample, sample g % num_sample. Video g has its own generator seeded with seed + g, so
// its noise depends only on the run's seed and g, never on batching or on which other videos the
// process makes: N shards together write the same bytes as one process, and video g alone can be
// remade with `--seed <seed + g>` and its prompt (docs/scale-out.md).

import Foundation

/// One video of a run.
public struct VideoJob: Equatable, Sendable {
    /// Position in the expanded prompt list: promptIndex * num_sample + sample.
    public let index: Int
    public let promptIndex: Int
    public let sample: Int
    /// The seed of this video's generator: the run's seed + index.
    public let seed: UInt64
}

extension GenerationConfig {
    /// Every video of a run over `promptCount` prompts, in order.
    public func videoJobs(promptCount: Int) -> [VideoJob] {
        let samples = max(1, numSample)
        return (0..<(promptCount * samples)).map { g in
            VideoJob(index: g, promptIndex: g / samples, sample: g % samples, seed: videoSeed(index: g))
        }
    }

    /// The run's videos in batches of batch_size, in order (the last may be short).
    public func videoBatches(promptCount: Int) -> [[VideoJob]] {
        let jobs = videoJobs(promptCount: promptCount), size = max(1, batchSize)
        return stride(from: 0, to: jobs.count, by: size).map { Array(jobs[$0..<min($0 + size, jobs.count)]) }
    }

    /// The seed of video `index` (two's-complement wrap, as torch.manual_seed takes negative seeds).
    public func videoSeed(index: Int) -> UInt64 {
        UInt64(truncatingIfNeeded: seed) &+ UInt64(index)
    }
}

/// Shard I of N: a contiguous, balanced share of a run's batches (counts differ by at most one).
public struct ShardSpec: Equatable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1 else { throw PipelineError("--shard: the shard count must be at least 1, got \(count)") }
        guard index >= 0 && index < count else {
            throw PipelineError("--shard: shard index \(index) is out of range for \(count) shards (0...\(count - 1))")
        }
        self.index = index
        self.count = count
    }

    public var description: String { "\(index)/\(count)" }

    /// The indexes of `total` items (batches) this shard takes.
    public func range(of total: Int) -> Range<Int> {
        (index * total / count)..<((index + 1) * total / count)
    }

    /// Parses `I/N` (0-based I), `auto` or `auto/N`. `auto` reads the scheduler's array index:
    /// Slurm's SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) of SLURM_ARRAY_TASK_COUNT, or a
    /// Kubernetes Indexed Job's JOB_COMPLETION_INDEX of N (from `auto/N` or OPENSORA_SHARD_COUNT).
    public static func parse(_ text: String, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> ShardSpec {
        func number(_ s: Substring, _ what: String, source: String) throws -> Int {
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else {
                throw PipelineError("--shard: \(what) '\(s)' \(source) is not a whole number")
            }
            return v
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let head = parts.first, !head.isEmpty, parts.count == 1 || !parts[1].isEmpty else {
            throw PipelineError("--shard: expected I/N (0-based shard I of N), auto or auto/N, got '\(text)'")
        }
        if head != "auto" {
            guard parts.count == 2 else { throw PipelineError("--shard: expected I/N (0-based shard I of N), auto or auto/N, got '\(text)'") }
            return try ShardSpec(index: try number(parts[0], "shard index", source: "in '\(text)'"),
                                 count: try number(parts[1], "shard count", source: "in '\(text)'"))
        }
        let explicitCount = parts.count == 2 ? try number(parts[1], "shard count", source: "in '\(text)'") : nil
        if let id = env["SLURM_ARRAY_TASK_ID"] {
            let taskID = try number(Substring(id), "SLURM_ARRAY_TASK_ID", source: "from the environment")
            let minID = try env["SLURM_ARRAY_TASK_MIN"].map { try number(Substring($0), "SLURM_ARRAY_TASK_MIN", source: "from the environment") } ?? 0
            guard let countText = env["SLURM_ARRAY_TASK_COUNT"] ?? explicitCount.map(String.init) else {
                throw PipelineError("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard auto/N")
            }
            let count = try number(Substring(countText), "SLURM_ARRAY_TASK_COUNT", source: "from the environment")
            if let maxText = env["SLURM_ARRAY_TASK_MAX"] {
                let maxID = try number(Substring(maxText), "SLURM_ARRAY_TASK_MAX", source: "from the environment")
                guard maxID - minID + 1 == count else {
                    throw PipelineError("--shard auto: the Slurm array \(minID)-\(maxID) has \(count) tasks, not one per index; use a contiguous --array (e.g. 0-\(count - 1)) without a step")
                }
            }
            if let explicitCount, explicitCount != count {
                throw PipelineError("--shard auto/\(explicitCount): the Slurm array has \(count) tasks")
            }
            return try ShardSpec(index: taskID - minID, count: count)
        }
        if let id = env["JOB_COMPLETION_INDEX"] {
            let index = try number(Substring(id), "JOB_COMPLETION_INDEX", source: "from the environment")
            guard let count = try explicitCount ?? env["OPENSORA_SHARD_COUNT"].map({ try number(Substring($0), "OPENSORA_SHARD_COUNT", source: "from the environment") }) else {
                throw PipelineError("--shard auto: JOB_COMPLETION_INDEX is set but not the shard count; pass --shard auto/N or set OPENSORA_SHARD_COUNT to the Job's completions")
            }
            return try ShardSpec(index: index, count: count)
        }
        throw PipelineError("--shard auto: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set (not running in a Slurm array or a Kubernetes Indexed Job); pass --shard I/N")
    }
}
