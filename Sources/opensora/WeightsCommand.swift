import ArgumentParser
import Foundation
import TensorCore
import Weights

struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Inspect, verify and convert checkpoints.",
        subcommands: [Inspect.self, Verify.self, Download.self])

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

    struct Download: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download the real checkpoints listed in weights-manifest.json (resumable, size and sha256 checked).",
            discussion: "Files go to DIR/COMPONENT/. Set HF_TOKEN for gated repos and HF_ENDPOINT (or --endpoint) for a mirror.")
        @Option(name: .customLong("component"), help: "Component to fetch (repeatable). Default: the v1.2 set (t5-v1_1-xxl, stdit3-xl2-v1.2, vae-v1.2).")
        var components: [String] = []
        @Option(help: "Destination folder.")
        var dir: String = "weights"
        @Option(help: "Hub endpoint (default $HF_ENDPOINT or https://huggingface.co).")
        var endpoint: String?
        @Option(help: "Path of weights-manifest.json (default: found beside the engine).")
        var manifest: String?

        func run() throws {
            try runReportingErrors {
                guard let mpath = manifest ?? WeightsManifest.locateDefault() else { throw CLIError("weights-manifest.json not found; pass --manifest") }
                let m = try WeightsManifest(path: mpath)
                let wanted = components.isEmpty ? ["t5-v1_1-xxl", "stdit3-xl2-v1.2", "vae-v1.2"] : components
                let d = Downloader()
                let tty = isatty(STDERR_FILENO) != 0
                var last = 0.0
                d.progress = { name, got, total in
                    guard tty else { return }
                    let now = ResourceUsage.now()
                    if now - last < 0.5 { return }
                    last = now
                    let pct = total.map { String(format: " %5.1f%%", 100 * Double(got) / Double(max($0, 1))) } ?? ""
                    FileHandle.standardError.write(Data("\r\(name): \(got >> 20) MiB\(pct)   ".utf8))
                }
                for name in wanted {
                    guard let c = m.components[name] else {
                        throw CLIError("unknown component '\(name)'; known: \(m.components.keys.sorted().joined(separator: ", "))")
                    }
                    for f in c.files {
                        guard let url = Downloader.hubURL(repo: c.hfRepo, file: f, endpoint: endpoint) else { throw CLIError("bad URL for \(c.hfRepo)/\(f)") }
                        let dest = "\(dir)/\(name)/\(f)"
                        let digest = try d.download(url, to: dest, sha256: c.sha256[f] ?? nil)
                        if tty { FileHandle.standardError.write(Data("\n".utf8)) }
                        print("\(dest)  sha256=\(digest)")
                    }
                }
            }
        }
    }
}
