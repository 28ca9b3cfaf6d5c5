// What the pipeline reports while it runs: stage boundaries with time and memory, sampling steps.

import Foundation
import TensorCore

public struct StageReport: Sendable {
    public let name: String
    public let seconds: Double
    /// Peak resident memory of the process during the stage (VmHWM, reset at the stage's start).
    public let peakRSSBytes: Int
}

public enum GenerationEvent: Sendable {
    case stageStarted(String)
    case stageFinished(StageReport)
    /// One denoising step finished: step (1-based) of steps, for batch `batch` of `batches`.
    case samplingStep(step: Int, of: Int, batch: Int, batches: Int, elapsed: Double)
    case wroteOutput(path: String)
    case note(String)
}

/// Times a stage and measures its own memory peak.
func measureStage<R>(_ name: String, _ events: (GenerationEvent) -> Void, _ body: () throws -> R) rethrows -> (R, StageReport) {
    events(.stageStarted(name))
    ResourceUsage.resetPeak()
    let t0 = ResourceUsage.now()
    let r = try body()
    let report = StageReport(name: name, seconds: ResourceUsage.now() - t0, peakRSSBytes: ResourceUsage.peakRSSBytes())
    events(.stageFinished(report))
    return (r, report)
}
