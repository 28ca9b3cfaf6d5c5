import ArgumentParser
import Foundation
import TensorCore
import Weights

struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Inspect, verify and convert checkpoints.",
        subcommands: [Inspect.self, Verify.self, Convert.self, Download.self, Quantize.self])

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
        @Option(help: "Component in the manifest (t5-v1_1-xxl, stdit3-xl2-v1.2, vae-v1.2, stdit-xl2-v1.0, stdit2-xl2-v1.1, sd-vae-ft-ema). Guessed from the tensor names if omitted.")
        var component: String?
        @Option(help: "Path of weights-manifest.json (default: found beside the engine).")
        var manifest: String?

        func run() throws {
            try runReportingErrors {
                let m = try loadManifest(manifest)
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
                let m = try loadManifest(manifest)
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
        }    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write any readable checkpoint (.bin/.pth, sharded index, safetensors) as one .safetensors file.",
            discussion: "Tensors are converted and written one at a time, so memory stays near the largest tensor. Integer tensors are copied unchanged.")
        @Argument(help: "Input checkpoint: file, folder, *.index.json or cached Hugging Face repo id.")
        var input: String
        @Argument(help: "Output .safetensors file (written atomically).")
        var output: String
        @Option(help: "Floating-point dtype of the output: bf16, f16 or f32.")
        var dtype: String = "bf16"
        @Flag(help: "Replace an existing output file (never the input itself).")
        var overwrite = false

        func run() throws {
            try runReportingErrors {
                let target: DType
                switch dtype.lowercased() {
                case "bf16", "bfloat16": target = .bf16
                case "f16", "fp16", "float16": target = .f16
                case "f32", "fp32", "float32": target = .f32
                default: throw CLIError("--dtype must be bf16, f16 or f32, got '\(dtype)'")
                }
                try FileChecks.checkOutput(output, inputs: checkpointFiles(input), overwrite: overwrite)
                let store = try Checkpoint.open(input)
                var items: [SafetensorsWriter.Item] = []
                var total = 0
                for name in store.names {
                    guard let info = store.info(name) else { continue }
                    let outType = info.dtype.isFloatingPoint ? target : info.dtype
                    total += info.shape.reduce(1, *) * outType.byteSize
                    items.append(SafetensorsWriter.Item(name: name, dtype: outType, shape: info.shape) {
                        try Self.encode(store.weight(name), as: outType)
                    })
                }
                InterruptHandler.install()
                try SafetensorsWriter().write(items, to: output, metadata: ["format": "pt"])
                print("wrote \(output): \(items.count) tensors, \(total) bytes of data (\(target.rawValue))")
            }
        }

        /// The tensor's bytes in `dtype`, converted in chunks so no float32 copy of a whole
        /// large tensor is made.
        static func encode(_ w: WeightTensor, as dtype: DType) -> Data {
            let n = w.count
            if w.dtype == dtype { return Data(bytes: w.raw, count: n * dtype.byteSize) }
            var out = Data(count: n * dtype.byteSize)
            let chunk = 1 << 20
            let buf = UnsafeMutablePointer<Float>.allocate(capacity: min(max(n, 1), chunk))
            defer { buf.deallocate() }
            out.withUnsafeMutableBytes { raw in
                var start = 0
                while start < n {
                    let m = min(chunk, n - start)
                    convertToFloat(w.raw + start * w.dtype.byteSize, dtype: w.dtype, count: m, into: buf)
                    switch dtype {
                    case .bf16: let o = raw.bindMemory(to: UInt16.self); for i in 0..<m { o[start + i] = floatToBF16(buf[i]) }
                    case .f16: let o = raw.bindMemory(to: UInt16.self); for i in 0..<m { o[start + i] = floatToF16(buf[i]) }
                    default: let o = raw.bindMemory(to: Float.self); for i in 0..<m { o[start + i] = buf[i] }
                    }
                    start += m
                }
            }
            return out
        }
    }
}

/// weights-manifest.json from `--manifest` or beside the engine.
func loadManifest(_ path: String?) throws -> WeightsManifest {
    guard let p = path ?? WeightsManifest.locateDefault() else { throw CLIError("weights-manifest.json not found; pass --manifest") }
    return try WeightsManifest(path: p)
}

/// The files a checkpoint argument may read: the path itself and, for a folder or a sharded index,
/// every file beside it (an output must never be one of them).
func checkpointFiles(_ spec: String) -> [String] {
    let path = FileManager.default.fileExists(atPath: spec) ? spec : HuggingFaceCache.snapshot(repo: spec) ?? spec
    var isDir: ObjCBool = false
    let folderExists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
    let folder = folderExists && isDir.boolValue ? path
        : path.lowercased().hasSuffix(".index.json") ? (path as NSString).deletingLastPathComponent : nil
    guard let folder else { return [path] }
    let dir = folder.isEmpty ? "." : folder
    return [path] + ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).map { dir + "/" + $0 }
}
