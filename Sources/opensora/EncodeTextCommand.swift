import ArgumentParser
import Foundation
import Pipeline
import T5
import TensorCore
import Weights

struct EncodeTextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode-text",
        abstract: "Encode prompts with the T5 encoder and print the embedding's shape and a checksum.",
        discussion: """
        Prompts are cleaned as Open-Sora cleans them (text_preprocessing) unless --no-clean is given, \
        then tokenized (ids + </s>, padded to --max-length) and encoded. --t5 takes a folder, a \
        .safetensors or .bin file, a *.index.json, or a Hugging Face repo id found in the local cache.
        """)

    @Option(help: "T5 encoder checkpoint: folder, file, index or cached Hugging Face repo id (e.g. DeepFloyd/t5-v1_1-xxl).")
    var t5: String
    @Option(help: "SentencePiece model (default: spiece.model in the --t5 folder).")
    var tokenizer: String?
    @Option(parsing: .unconditional, help: "Tokens per prompt, including </s>; shorter prompts are padded (1 ... 4096).")
    var maxLength: Int = 300
    @Option(parsing: .unconditional, help: "Sentinel tokens <extra_id_N> the tokenizer knows (the released T5 tokenizers have 100; at most 1000).")
    var extraIds: Int = 100
    @Flag(help: "Tokenize the prompts as given, without Open-Sora's caption cleaning.")
    var noClean = false
    @Flag(help: "Stop at the last real token: faster for short prompts; padded positions come out as zeros.")
    var skipPadding = false
    @Option(help: "Also write the embedding and mask to this .safetensors file.")
    var output: String?
    @Flag(help: "Replace an existing --output file.")
    var overwrite = false
    @OptionGroup var threads: ThreadsOption
    @Argument(help: "Prompts.")
    var prompts: [String]

    func run() throws {
        try runReportingErrors {
            try threads.apply()
            guard !prompts.isEmpty else { throw CLIError("give at least one prompt") }
            try InputLimits.require("--max-length", maxLength, in: 1...4096)
            try InputLimits.require("--extra-ids", extraIds, in: 0...T5Tokenizer.maxExtraIds)
            try InputLimits.require("the number of prompts", prompts.count, in: 1...1024)
            if let long = prompts.firstIndex(where: { $0.utf8.count > PromptFile.maxPromptBytes }) {
                throw CLIError("prompt \(long + 1) is \(prompts[long].utf8.count) bytes long; the limit is \(PromptFile.maxPromptBytes)")
            }
            let tokPath = try tokenizer ?? defaultTokenizerPath()
            if let output { try FileChecks.checkOutput(output, inputs: checkpointFiles(t5) + [tokPath], overwrite: overwrite, what: "--output") }
            let t0 = Date()
            let store = try Checkpoint.open(t5)
            let encoder = try T5Encoder(weights: store)
            // Hidden states, the feed-forward activations and one layer's attention scores.
            let c = encoder.config
            try InputLimits.requireMemory(4 * InputLimits.bytes([prompts.count, maxLength, c.dModel]) + InputLimits.bytes([prompts.count, maxLength, c.dFF])
                                          + InputLimits.bytes([prompts.count, c.heads, maxLength, maxLength]),
                                          for: "encoding \(prompts.count) prompts at --max-length \(maxLength)")
            let tok = try T5Tokenizer(modelPath: tokPath, extraIds: extraIds)
            let texts = noClean ? prompts : prompts.map(CaptionCleaner.preprocess)
            let batch = try tok.encode(texts, maxLength: maxLength)
            let loaded = Date()
            let y = try encoder.encode(batch, skipPadding: skipPadding)
            let done = Date()
            print("encoder: \(encoder.config)")
            for (i, text) in texts.enumerated() {
                print("prompt \(i): \(batch.mask[i].reduce(0, +)) tokens of \(maxLength): \(text.debugDescription)")
            }
            print("embedding: \(y.shape) float32")
            let (sum, absSum) = y.withData { d in d.reduce((0.0, 0.0)) { ($0.0 + Double($1), $0.1 + Double(abs($1))) } }
            print(String(format: "checksum: sum=%.6f mean_abs=%.6f", sum, absSum / Double(max(y.count, 1))))
            print(String(format: "time: load %.2f s, encode %.2f s", loaded.timeIntervalSince(t0), done.timeIntervalSince(loaded)))
            if let output {
                InterruptHandler.install()
                let mask = Tensor(shape: [batch.batchSize, maxLength], data: batch.mask.flatMap { $0.map(Float.init) })
                try SafetensorsWriter().write([SafetensorsWriter.item("y", y), SafetensorsWriter.item("mask", mask)], to: output)
                print("wrote \(output)")
            }
        }
    }

    private func defaultTokenizerPath() throws -> String {
        var isDir: ObjCBool = false
        let dir = FileManager.default.fileExists(atPath: t5, isDirectory: &isDir) && isDir.boolValue
            ? t5 : HuggingFaceCache.snapshot(repo: t5) ?? (t5 as NSString).deletingLastPathComponent
        let candidate = (dir.isEmpty ? "." : dir) + "/spiece.model"
        guard FileManager.default.fileExists(atPath: candidate) else {
            throw CLIError("no spiece.model beside \(t5); pass --tokenizer PATH")
        }
        return candidate
    }
}
