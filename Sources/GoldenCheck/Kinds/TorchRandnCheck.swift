// Golden checker for kind 'torch_randn': torch.manual_seed(s); torch.randn(shape) on the CPU,
// matched bit for bit (tolerance 0) by Samplers.TorchNoise.

import Foundation
import Samplers

enum TorchRandnCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        guard let entries = c.json["entries"] as? [[String: Any]], !entries.isEmpty else {
            throw GoldenError.badCase(path: c.path, detail: "no 'entries'")
        }
        return try entries.map { e in
            guard let name = e["tensor"] as? String, let seed = (e["seed"] as? NSNumber)?.uint64Value,
                  let shape = (e["shape"] as? [NSNumber])?.map(\.intValue) else {
                throw GoldenError.badCase(path: c.path, detail: "entry needs tensor, seed and shape: \(e)")
            }
            let got = TorchNoise(seed: seed).standardNormal(shape)
            return OutputCheck(name: "\(name) seed \(seed) \(shape)", got: got, expected: try c.tensor(name), tolerance: 0)
        }
    }
}
