// Prompt files (`prompt_path`, `--prompt-path`): one prompt per line, as Open-Sora's
// load_prompts reads them. Size and kind are checked before a byte is read.

import Foundation
import TensorCore

public enum PromptFile {
    /// Far above any real prompt list (Open-Sora's are a few KB), far below a memory problem.
    public static let maxBytes = 16 << 20
    /// Longest prompt, in UTF-8 bytes (the tokenizer keeps only the first few hundred tokens anyway).
    public static let maxPromptBytes = 100_000

    /// The non-blank lines of `path` (`-`: standard input), trimmed. A file without any is an error.
    public static func read(_ path: String) throws -> [String] {
        if path == "-" {
            return try prompts(in: try FileChecks.readStandardInput(what: "prompt list", maxBytes: maxBytes), file: "standard input (--prompt-path -)")
        }
        return try prompts(in: try FileChecks.readText(path, what: "prompt file", maxBytes: maxBytes), file: path)
    }

    /// The non-blank lines of a prompt file's text, trimmed; `file` names it in errors.
    public static func prompts(in text: String, file path: String) throws -> [String] {
        var prompts: [String] = []
        for (i, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            guard line.utf8.count <= maxPromptBytes else {
                throw PipelineError("\(path): line \(i + 1) is \(line.utf8.count) bytes long; the limit for a prompt is \(maxPromptBytes)")
            }
            let prompt = line.trimmingCharacters(in: .whitespaces)
            if !prompt.isEmpty { prompts.append(prompt) }
        }
        if prompts.isEmpty { throw PipelineError("\(path): the prompt file has no prompts") }
        return prompts
    }
}
