// embed CONFIG PROMPT OUTPUT: one video through the engine's library API, with progress.
import Foundation
import Pipeline

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: embed CONFIG PROMPT OUTPUT\n".utf8))
    exit(2)
}
do {
    var config = try GenerationConfig.load(path: arguments[1])
    var overrides = ConfigOverrides()
    overrides.outputPath = arguments[3]
    overrides.overwrite = true
    try config.apply(overrides: overrides)
    let generator = try VideoGenerator(config: config)
    let videos = try generator.generate(prompts: [arguments[2]]) { event in
        if case let .samplingStep(step, of, _, _, _) = event { print("step \(step)/\(of)") }
    }
    // frames: [3, T, H, W] in [-1, 1]; latent: [C, T', h, w]
    for video in videos {
        print("frames \(video.frames.shape), latent \(video.latent.shape), wrote \(video.outputPath ?? "-")")
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
