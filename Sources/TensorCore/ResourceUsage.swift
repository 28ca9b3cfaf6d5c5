// Process resource figures for benchmarks and --verbose stage reports.

import Foundation

public enum ResourceUsage {
    /// Peak resident set size (VmHWM) in bytes, or 0 where /proc is unavailable.
    public static func peakRSSBytes() -> Int { procStatusKB("VmHWM:") * 1024 }
    /// Current resident set size (VmRSS) in bytes.
    public static func currentRSSBytes() -> Int { procStatusKB("VmRSS:") * 1024 }

    /// Resets the peak (VmHWM) to the current RSS, so a stage's own peak can be measured.
    public static func resetPeak() {
        // Writing "5" to clear_refs resets VmHWM (Linux >= 4.0).
        if let fh = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
            fh.write(Data("5".utf8))
            try? fh.close()
        }
    }

    private static func procStatusKB(_ key: String) -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        return kilobytes(key, inStatus: s)
    }

    /// The kB figure of `key` in a /proc status text. The kernel pads the number to 8 columns, so
    /// below 10 GB a tab and spaces precede it and from 10 GB on only the tab.
    static func kilobytes(_ key: String, inStatus s: String) -> Int {
        for line in s.split(separator: "\n") where line.hasPrefix(key) {
            return Int(line.dropFirst(key.count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "0") ?? 0
        }
        return 0
    }

    /// Wall-clock seconds since an arbitrary origin.
    public static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
