import XCTest
@testable import TensorCore

/// Peak and current RSS come from /proc/self/status, whose kB column has no space before the
/// number once it reaches 8 digits (10 GB): a peak above 10 GB must not read as 0.
final class ResourceUsageTests: XCTestCase {
    func testStatusFiguresBelowAndAbove10GB() {
        let status = "Name:\topensora\nVmPeak:\t23456789 kB\nVmHWM:\t12345678 kB\nVmRSS:\t  987654 kB\n"
        XCTAssertEqual(ResourceUsage.kilobytes("VmHWM:", inStatus: status), 12_345_678)
        XCTAssertEqual(ResourceUsage.kilobytes("VmRSS:", inStatus: status), 987_654)
        XCTAssertEqual(ResourceUsage.kilobytes("VmSwap:", inStatus: status), 0)
    }

    func testThisProcessHasAPeak() {
        XCTAssertGreaterThan(ResourceUsage.peakRSSBytes(), 1 << 20)
        XCTAssertGreaterThan(ResourceUsage.currentRSSBytes(), 1 << 20)
    }
}
