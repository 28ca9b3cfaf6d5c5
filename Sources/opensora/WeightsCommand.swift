import ArgumentParser
import Foundation
import TensorCore
import Weights

struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Inspect, verify and convert checkpoints.",
        subcommands: [Inspect.self, Verify.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a checkpoint's tensors (name, dtype, shape).")
        @Argument(help: "A .safetensors file, a sharded *.index.json, a .bin/.pth, or a folder.")
        var path: String

        func run() throws {
            try runReportingErrors {
                let store = try Checkpoint.open(path)
                var total = 0
                for n in store.names {
                    guard let i = store.info(n) else { continue }
                    total += i.shape.reduce(1, *)
                    print("\(n)\t\(i.dtype.rawValue)\t\(i.shape)")
                }
                print("# \(store.names.count) tensors, \(total) elements")
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a checkpoint against weights-manifest.json: missing, unexpected and mis-shaped tensors.")
        @Argument(help: "Checkpoint file or folder.")
        var path: String
        @Option(help: "Component in the manifest (t5-v1_1-xxl, stdit3-xl2-v1.2, vae-v1.2, stdit-xl2-v1.0, stdit2-xl2-v1.1). Guessed from the tensor names if omitted.")
        var component: String?
        @Option(help: "Path of weights-manifest.json (default: found beside the engine).")
        var manifest: String?

        func run() throws {
            try runReportingErrors {
                guard let mpath = manifest ?? WeightsManifest.locateDefault() else { throw CLIError("weights-manifest.json not found; pass --manifest") }
                let m = try WeightsManifest(path: mpath)
                let store = try Checkpoint.open(path)
                let comp: WeightsManifest.Component
                if let component {
                    guard let c = m.components[component] else {
                        throw CLIError("unknown component '\(component)'; known: \(m.components.keys.sorted().joined(separator: ", "))")
                    }
                    comp = c
                } else {
                    // The component whose expected names overlap the store most.
                    let names = Set(store.names)
                    guard let best = m.components.values.max(by: { a, b in
                        a.tensors.filter { names.contains($0.name) }.count < b.tensors.filter { names.contains($0.name) }.count
                    }), best.tensors.contains(where: { names.contains($0.name) }) else {
                        throw CLIError("\(path): no tensor matches any manifest component; pass --component")
                    }
                    comp = best
                }
                let r = comp.verify(store)
                print("component: \(comp.name) (\(comp.model))")
                print("expected \(comp.tensors.count) tensors, found \(store.names.count)")
                for n in r.missing { print("missing: \(n)") }
                for x in r.misshaped { print("mis-shaped: \(x.name) expected \(x.expected) found \(x.found)") }
                for x in r.badDType { print("bad dtype: \(x.name) \(x.dtype)") }
                for n in r.unexpected { print("unexpected: \(n)") }
                print(r.ok ? "OK" : "FAILED: \(r.missing.count) missing, \(r.misshaped.count) mis-shaped, \(r.badDType.count) bad dtype")
                if !r.ok { throw ExitCode(1) }
            }
        }
    }
}
