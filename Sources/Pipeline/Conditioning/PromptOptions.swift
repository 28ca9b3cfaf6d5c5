// Prompts that carry their own conditioning and per-loop text, as v1.2's inference script reads
// them: `text{"reference_path": "a.png;b.mp4", "mask_strategy": "0"}` and `|0|text|2|other text`.

import Foundation

public enum PromptOptions {
    /// One prompt after extract_json_from_prompts: the text before the JSON, and the JSON's values
    /// (nil where the JSON does not set them: the config's values stay).
    public struct Extracted: Equatable, Sendable {
        public var text: String
        public var referencePath: String?
        public var maskStrategy: String?
    }

    /// extract_json_from_prompts for one prompt: splits before every '{' (so at most one JSON
    /// object, not nested, and no '{' in the text); keys other than reference_path / mask_strategy
    /// are refused; the text keeps everything before the '{' verbatim.
    public static func extractJSON(_ prompt: String) throws -> Extracted {
        let braces = prompt.indices.filter { prompt[$0] == "{" && $0 != prompt.startIndex }
        let starts = prompt.first == "{" ? [prompt.startIndex] + braces : braces
        // re.split(r"(?=[{])"): a split before each '{' (one at position 0 gives an empty first part).
        guard starts.count <= 1 else { throw ConditioningError(.assertion, "Invalid prompt: \(prompt)") }
        guard let start = starts.first else { return Extracted(text: prompt) }
        let json = String(prompt[start...])
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [])
        } catch {
            throw ConditioningError(.json, "not valid JSON: \(json)")
        }
        guard let dict = object as? [String: Any] else { throw ConditioningError(.json, "not a JSON object: \(json)") }
        var out = Extracted(text: String(prompt[..<start]))
        for key in dict.keys.sorted() {
            guard key == "reference_path" || key == "mask_strategy" else { throw ConditioningError(.assertion, "Invalid key: \(key)") }
            guard let value = dict[key] as? String else {
                throw ConditioningError(.value, "\(key) must be a string, got \(dict[key].map { "\($0)" } ?? "null")")
            }
            if key == "reference_path" { out.referencePath = value } else { out.maskStrategy = value }
        }
        return out
    }

    /// split_prompt: `|0|a|2|b` -> (["a", "b"], [0, 2]) with each text stripped; a prompt not
    /// starting with "|0|" is one segment without loop indexes.
    public static func split(_ prompt: String) throws -> (texts: [String], loops: [Int]?) {
        guard prompt.hasPrefix("|0|") else { return ([prompt], nil) }
        let parts = Array(prompt.split(separator: "|", omittingEmptySubsequences: false).dropFirst()).map(String.init)
        var texts: [String] = [], loops: [Int] = []
        for i in stride(from: 0, to: parts.count, by: 2) {
            loops.append(try pythonInt(parts[i]))
            guard i + 1 < parts.count else { throw ConditioningError(.index, "list index out of range") }
            texts.append(parts[i + 1].trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return (texts, loops)
    }

    /// merge_prompt: the inverse of `split` (after each segment was cleaned).
    public static func merge(_ texts: [String], loops: [Int]?) -> String {
        guard let loops else { return texts[0] }
        return zip(texts, loops).map { "|\($1)|\($0)" }.joined()
    }

    /// extract_prompts_loop for one prompt: the text of loop `loop`. Segment k covers loops
    /// [start_k, start_k+1) and the last one up to `loop`; out-of-order starts give empty ranges.
    public static func text(forLoop loop: Int, of prompt: String) throws -> String {
        guard prompt.hasPrefix("|0|") else { return prompt }
        let parts = Array(prompt.split(separator: "|", omittingEmptySubsequences: false).dropFirst()).map(String.init)
        var perLoop: [String] = []
        for i in stride(from: 0, to: parts.count, by: 2) {
            let start = try pythonInt(parts[i])
            guard i + 1 < parts.count else { throw ConditioningError(.index, "list index out of range") }
            let end = i + 2 < parts.count ? try pythonInt(parts[i + 2]) : loop + 1
            perLoop += [String](repeating: parts[i + 1], count: max(0, end - start))
        }
        let index = loop < 0 ? loop + perLoop.count : loop
        guard index >= 0, index < perLoop.count else { throw ConditioningError(.index, "list index out of range") }
        return perLoop[index]
    }

    /// The prompt v1.2 encodes for each loop: split into loop segments, each given the score
    /// suffixes and cleaned (`prepare`), merged back, then the loop's segment picked.
    public static func perLoopPrompts(_ text: String, loops: Int, prepare: (String) -> String) throws -> [String] {
        let (segments, indexes) = try split(text)
        let merged = merge(segments.map(prepare), loops: indexes)
        return try (0..<loops).map { try self.text(forLoop: $0, of: merged) }
    }

    static func pythonInt(_ s: String) throws -> Int {
        guard let v = Int(s.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ConditioningError(.value, "invalid literal for int() with base 10: '\(s)'")
        }
        return v
    }
}
