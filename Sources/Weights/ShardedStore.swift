// Sharded checkpoints: `*.index.json` maps each tensor name to the shard file that holds it
// ({"weight_map": {name: file}}), as Hugging Face writes them.

import Foundation
import TensorCore

public final class ShardedStore: WeightStore, @unchecked Sendable {
    public let indexPath: String
    public let shards: [String: WeightStore]
    private let map: [String: String]
    public let names: [String]
    public var sourceDescription: String { indexPath }

    /// - Parameter openShard: opens one shard file (safetensors, or pickle for `.bin` indexes).
    public init(indexPath: String, openShard: (String) throws -> WeightStore) throws {
        self.indexPath = indexPath
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: indexPath)) } catch {
            throw WeightsError.cannotOpen(file: indexPath, reason: error.localizedDescription)
        }
        let m = try Self.parseIndex(data, path: indexPath)
        let dir = (indexPath as NSString).deletingLastPathComponent
        var opened: [String: WeightStore] = [:]
        for f in Set(m.values).sorted() {
            opened[f] = try openShard(dir.isEmpty ? f : dir + "/" + f)
        }
        for (k, f) in m where opened[f]?.info(k) == nil {
            throw WeightsError.badIndex(file: indexPath, detail: "tensor '\(k)' is listed in shard '\(f)' but that shard does not hold it")
        }
        shards = opened
        map = m
        names = m.keys.sorted()
    }

    /// Parses an index's weight map (tensor name -> shard file name), refusing paths that leave
    /// the index's folder. `path` is only used in error messages.
    public static func parseIndex(_ data: Data, path: String) throws -> [String: String] {
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw WeightsError.badIndex(file: path, detail: "not a JSON object")
        }
        guard let wm = obj["weight_map"] as? [String: Any] else { throw WeightsError.badIndex(file: path, detail: "no 'weight_map' object") }
        var m: [String: String] = [:]
        for (k, v) in wm {
            guard let f = v as? String else { throw WeightsError.badIndex(file: path, detail: "entry '\(k)' is not a file name") }
            if f.contains("/") || f.contains("\\") || f == ".." || f == "." || f.isEmpty {
                throw WeightsError.badIndex(file: path, detail: "entry '\(k)' names '\(f)', which is not a plain file name in the index's folder")
            }
            m[k] = f
        }
        return m
    }

    public func info(_ name: String) -> TensorInfo? {
        guard let f = map[name] else { return nil }
        return shards[f]?.info(name)
    }

    public func weight(_ name: String) throws -> WeightTensor {
        guard let f = map[name], let s = shards[f] else { throw WeightsError.missingTensor(name: name, source: indexPath) }
        return try s.weight(name)
    }
}
