// Every size typed on the command line is bounded before anything is allocated: a range per
// option, and for sizes that multiply into one buffer, the memory they would need.

import Foundation

public enum InputLimits {
    /// Threads for `--threads` (far beyond any machine's cores; each costs a stack).
    public static let threads = 1...1024
    /// `--latent` TxHxW of the benchmarks: each side, and their product. The largest standard run
    /// (stdit2-xl2 at 51x30x53) has 81,090 latent positions.
    public static let latentSide = 1...2048
    public static let latentPositions = 1 << 20

    /// `flag` must lie in `range`.
    public static func require<T: Comparable>(_ flag: String, _ value: T, in range: ClosedRange<T>) throws {
        guard range.contains(value) else {
            throw PipelineError("\(flag) must be \(range.lowerBound) ... \(range.upperBound), got \(value)")
        }
    }

    /// Refuses a request whose buffers (`bytes`) would not fit in 90% of the machine's memory.
    public static func requireMemory(_ bytes: Double, for what: String) throws {
        guard let total = MemoryEstimate.physicalMemoryBytes, bytes > total * 0.9 else { return }
        throw PipelineError(String(format: "%@ needs %.1f GiB but the machine has %.1f GiB", what, bytes / 1_073_741_824, total / 1_073_741_824))
    }

    /// Comma-separated positive integers (`--shape`), each at most `maxSide`, with a message naming the layout.
    public static func shape(_ text: String, count: Int, layout: String, maxSide: Int = 1 << 20) throws -> [Int] {
        let dims = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard dims.count == count, dims.allSatisfy({ $0 != nil && $0! > 0 }) else {
            throw PipelineError("--shape must be \(layout) with positive integers, got '\(text)'")
        }
        let values = dims.map { $0! }
        if let big = values.first(where: { $0 > maxSide }) {
            throw PipelineError("--shape \(layout): \(big) is more than the limit of \(maxSide) per dimension")
        }
        return values
    }

    /// Product of sizes in bytes, as a Double so that no product overflows.
    public static func bytes(_ dims: [Int], elementBytes: Int = 4) -> Double {
        dims.reduce(Double(elementBytes)) { $0 * Double($1) }
    }
}
