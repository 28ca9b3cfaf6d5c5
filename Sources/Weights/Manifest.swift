// weights-manifest.json: which real checkpoints the engine loads and the tensors it expects.
// `verify` compares a store with a component's expected names and shapes.

import Foundation
import TensorCore

public struct WeightsManifest: Sendable {
    public struct Component: Sendable {
        public let name: String
        public let role: String
        public let model: String
        public let hfRepo: String
        public let files: [String]
        /// Known sha256 per file (nil where the manifest does not pin one).
        public let sha256: [String: String?]
        public let approxTotalBytes: Int?
        public let tensors: [(name: String, shape: [Int])]
        public let ignorePrefixes: [String]
        public let optionalTensors: Set<String>
        /// Older names a published file may use for a path segment ("to_q" -> "query"); a tensor
        /// found under such a name may also carry trailing 1-sized dims (a 1x1 conv for a Linear).
        public let nameAliases: [(modern: String, legacy: String)]
    }

    public let components: [String: Component]

    /// Loads `weights-manifest.json` and the per-component tensor files it names (relative to
    /// the manifest's folder).
    public init(path: String) throws {
        let root = (path as NSString).deletingLastPathComponent
        if let why = FileChecks.notRegularFile(path) { throw WeightsError.cannotOpen(file: path, reason: why) }
        guard let data = FileManager.default.contents(atPath: path),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let comps = obj["components"] as? [String: Any] else {
            throw WeightsError.other("\(path): not a readable weights manifest (expected a JSON object with 'components')")
        }
        var out: [String: Component] = [:]
        for (name, v) in comps {
            guard let c = v as? [String: Any], let tf = c["tensors_file"] as? String else {
                throw WeightsError.other("\(path): component '\(name)' has no 'tensors_file'")
            }
            let tpath = root.isEmpty ? tf : root + "/" + tf
            guard let td = FileManager.default.contents(atPath: tpath),
                  let tobj = try? JSONSerialization.jsonObject(with: td) as? [String: Any],
                  let list = tobj["tensors"] as? [[String: Any]] else {
                throw WeightsError.other("\(tpath): not a readable tensor list for component '\(name)'")
            }
            let tensors: [(String, [Int])] = list.compactMap { e in
                guard let n = e["name"] as? String, let s = e["shape"] as? [Int] else { return nil }
                return (n, s)
            }
            out[name] = Component(
                name: name, role: c["role"] as? String ?? "", model: c["model"] as? String ?? "",
                hfRepo: c["hf_repo"] as? String ?? "",
                files: (c["files"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String },
                sha256: Dictionary((c["files"] as? [[String: Any]] ?? []).compactMap { f in
                    (f["name"] as? String).map { ($0, f["sha256"] as? String) } }, uniquingKeysWith: { a, _ in a }),
                approxTotalBytes: c["approx_total_bytes"] as? Int,
                tensors: tensors,
                ignorePrefixes: c["ignore_prefixes"] as? [String] ?? [],
                optionalTensors: Set(c["optional_tensors"] as? [String] ?? []),
                nameAliases: (c["name_aliases"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
        components = out
    }

    /// The manifest shipped with the engine: next to the executable's package, or in the
    /// current folder, or at $OPENSORA_MANIFEST.
    public static func locateDefault() -> String? {
        let env = ProcessInfo.processInfo.environment
        if let p = env["OPENSORA_MANIFEST"], FileManager.default.fileExists(atPath: p) { return p }
        var candidates = [FileManager.default.currentDirectoryPath + "/weights-manifest.json"]
        // Walk up from the executable (…/.build/release/opensora -> repo root).
        var dir = (CommandLine.arguments.first.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } ?? "") as NSString
        for _ in 0..<6 {
            dir = dir.deletingLastPathComponent as NSString
            candidates.append((dir as String) + "/weights-manifest.json")
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}

public struct VerifyReport: Sendable {
    public var missing: [String] = []
    public var unexpected: [String] = []
    public var misshaped: [(name: String, expected: [Int], found: [Int])] = []
    public var badDType: [(name: String, dtype: String)] = []
    public var ok: Bool { missing.isEmpty && misshaped.isEmpty && badDType.isEmpty }
}

extension WeightsManifest.Component {
    public func verify(_ store: WeightStore) -> VerifyReport {
        var r = VerifyReport()
        var expected = Set<String>()
        for (name, shape) in tensors {
            expected.insert(name)
            var found = store.info(name).map { (name, $0, false) }
            for (modern, legacy) in nameAliases where found == nil {
                let alt = name.replacingOccurrences(of: ".\(modern).", with: ".\(legacy).")
                if alt != name, let i = store.info(alt) { found = (alt, i, true) }
            }
            guard let (stored, i, aliased) = found else {
                if !optionalTensors.contains(name) { r.missing.append(name) }
                continue
            }
            expected.insert(stored)
            let dropOnes = { (s: [Int]) in Array(s.reversed().drop { $0 == 1 }.reversed()) }
            if aliased ? dropOnes(i.shape) != dropOnes(shape) : i.shape != shape { r.misshaped.append((stored, shape, i.shape)) }
            if !i.dtype.isFloatingPoint { r.badDType.append((stored, i.dtype.rawValue)) }
        }
        for n in store.names where !expected.contains(n) && !ignorePrefixes.contains(where: { n.hasPrefix($0) }) {
            r.unexpected.append(n)
        }
        return r
    }
}
