import ArgumentParser
import Foundation
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
    @Option(help: "Tokens per prompt, including </s>; shorter prompts are padded.")
    var maxLength: Int = 300
    @Option(help: "Sentinel tokens <extra_id_N> the tokenizer knows (the released T5 tokenizers have 100).")
    var extraIds: Int = 100
    @Flag(help: "Tokenize the prompts as given, without Open-Sora's caption cleaning.")
    var noClean = false
    @Flag(help: "Stop at the last real token: faster for short prompts; padded positions come out as zeros.")
    var skipPadding = false
    @Option(help: "Also write the embedding and mask to this .safetensors file.")
    var output: String?
    @Argument(help: "Prompts.")
    var prompts: [String]

    func run() throws {
        try runReportingErrors {
            guard !prompts.isEmpty else { throw CLIError("give at least one prompt") }
            guard maxLength >= 1 else { throw CLIError("--max-length must be at least 1, got \(maxLength)") }
            let t0 = Date()
            let store = try Checkpoint.open(t5)
            let encoder = try T5Encoder(weights: store)
            let tokPath = try tokenizer ?? defaultTokenizerPath()
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
