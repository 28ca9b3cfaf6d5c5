// Finds a component's weights on this machine. Nothing is downloaded at run time.
//
// A config `path` is either a file or folder (used as is), or a Hugging Face repo id. For a repo
// id the engine looks in ./weights/<component>/ (where `opensora weights download` puts files)
// and then in the Hugging Face cache.

import Foundation
import Weights

public enum WeightLocator {
    /// Local path for `spec` (a config `path`), or an error saying where it looked.
    public static func resolve(_ spec: String, component: String, option: String) throws -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: spec) { return spec }
        let local = "weights/\(component)"
        if fm.fileExists(atPath: local) { return local }
        if let snapshot = HuggingFaceCache.snapshot(repo: spec) { return snapshot }
        let looksLikeRepo = spec.split(separator: "/").count == 2 && !spec.hasPrefix("/") && !spec.hasPrefix(".")
        var msg = "\(option): weights for \(component) not found: '\(spec)' is not a file or folder, ./\(local)/ does not exist"
        msg += looksLikeRepo ? ", and the Hugging Face cache (\(HuggingFaceCache.root)) has no \(spec)." : "."
        msg += " Get them with: opensora weights download --component \(component)"
        throw PipelineError(msg)
    }

    /// The manifest component name for each model type.
    static func component(for denoiser: DenoiserType) -> String {
        switch denoiser {
        case .stdit3: return "stdit3-xl2-v1.2"
        case .stdit2: return "stdit2-xl2-v1.1"
        case .stdit: return "stdit-xl2-v1.0"
        case .mmdit: return "opensora-v2-mmdit"
        }
    }

    static func component(for vae: VAEType) -> String {
        switch vae {
        case .openSoraV12: return "vae-v1.2"
        case .sdVAE: return "sd-vae-ft-ema"
        case .hunyuanVAE: return "hunyuan-vae"
        case .dcAE: return "dc-ae-f32t4c128"
        }
    }
}
