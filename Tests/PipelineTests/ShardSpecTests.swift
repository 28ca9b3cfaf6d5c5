import XCTest
@testable import Pipeline

final class ShardSpecTests: XCTestCase {
    func testExplicitSpecAndBalancedShares() throws {
        let shards = try (0..<3).map { try ShardSpec.parse("\($0)/3", environment: [:]) }
        XCTAssertEqual(shards.map { $0.range(of: 10) }, [0..<3, 3..<6, 6..<10])
        XCTAssertEqual(try ShardSpec.parse("4/5", environment: [:]).range(of: 2), 1..<2)
        XCTAssertEqual(try ShardSpec.parse("0/5", environment: [:]).range(of: 2), 0..<0)   // more shards than batches: some idle
    }

    func testAutoFromSlurmAndKubernetes() throws {
        let slurm = ["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "3", "SLURM_ARRAY_TASK_MAX": "6", "SLURM_ARRAY_TASK_COUNT": "4"]
        XCTAssertEqual(try ShardSpec.parse("auto", environment: slurm), try ShardSpec(index: 2, count: 4))
        XCTAssertThrowsError(try ShardSpec.parse("auto", environment: slurm.merging(["SLURM_ARRAY_TASK_MAX": "9"]) { $1 })) {
            XCTAssertTrue("\($0)".contains("contiguous --array"), "\($0)")
        }
        XCTAssertEqual(try ShardSpec.parse("auto/8", environment: ["JOB_COMPLETION_INDEX": "7"]), try ShardSpec(index: 7, count: 8))
        XCTAssertEqual(try ShardSpec.parse("auto", environment: ["JOB_COMPLETION_INDEX": "0", "OPENSORA_SHARD_COUNT": "2"]),
                       try ShardSpec(index: 0, count: 2))
        XCTAssertThrowsError(try ShardSpec.parse("auto", environment: ["JOB_COMPLETION_INDEX": "x", "OPENSORA_SHARD_COUNT": "2"]))
    }

    func testVideoSeedsFollowTheGlobalIndex() {
        var c = GenerationConfig.defaults
        c.seed = 42
        c.numSample = 2
        c.batchSize = 3
        let jobs = c.videoJobs(promptCount: 3)
        XCTAssertEqual(jobs.map(\.seed), [42, 43, 44, 45, 46, 47])
        XCTAssertEqual(jobs.map(\.promptIndex), [0, 0, 1, 1, 2, 2])
        XCTAssertEqual(c.videoBatches(promptCount: 3).map { $0.map(\.index) }, [[0, 1, 2], [3, 4, 5]])
        c.seed = -1
        XCTAssertEqual(c.videoSeed(index: 1), 0)
    }
}
