// Golden checker for kind 'tokenizer': for every recorded prompt, the SentencePiece ids, the
// slow T5 tokenizer's padded ids and mask at each recorded max length, Open-Sora's cleaned
// caption, and the ids of the cleaned caption. Ids must match exactly (tolerance 0).

import Foundation
import T5

enum TokenizerCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let modelFile = c.config["model_file"] as? String ?? "tokenizer.model"
        let tokenizer = try T5Tokenizer(modelPath: options.weights ?? c.file(modelFile))
        guard let prompts = c.json["prompts"] as? [[String: Any]], !prompts.isEmpty else {
            throw GoldenError.badCase(path: c.path, detail: "no 'prompts' list")
        }
        var results: [OutputCheck] = []
        for (i, p) in prompts.enumerated() {
            guard let text = p["text"] as? String else { throw GoldenError.badCase(path: c.path, detail: "prompt \(i) has no 'text'") }
            let tag = "p\(i)"
            if let expected = p["spm_encode_ids"] as? [Int] {
                results.append(compare("\(tag).spm_encode_ids", try tokenizer.pieceIds(text), expected))
            }
            // maxN: the slow tokenizer on the raw text (maxN_fast is informational only).
            for key in p.keys.sorted() where key.hasPrefix("max") && !key.hasSuffix("_fast") {
                guard let n = Int(key.dropFirst(3)), let rec = p[key] as? [String: Any] else { continue }
                results.append(try compareEncoding("\(tag).\(key)", tokenizer, text, n, rec))
            }
            if let cleanedExpected = p["text_preprocessing"] as? String {
                let cleaned = CaptionCleaner.preprocess(text)
                let ok = cleaned == cleanedExpected
                let name = ok ? "\(tag).text_preprocessing" : "\(tag).text_preprocessing got \(quote(cleaned)) expected \(quote(cleanedExpected))"
                results.append(OutputCheck(name: name, mismatches: ok ? 0 : 1, total: 1))
                for key in p.keys.sorted() where key.hasPrefix("text_preprocessing_max") {
                    guard let n = Int(key.dropFirst("text_preprocessing_max".count)), let rec = p[key] as? [String: Any] else { continue }
                    results.append(try compareEncoding("\(tag).\(key)", tokenizer, cleaned, n, rec))
                }
            }
        }
        return results
    }

    private static func compareEncoding(_ name: String, _ tok: T5Tokenizer, _ text: String, _ maxLength: Int,
                                        _ rec: [String: Any]) throws -> OutputCheck {
        guard let ids = rec["input_ids"] as? [Int], let mask = rec["attention_mask"] as? [Int] else {
            return OutputCheck(name: name + " (no input_ids/attention_mask recorded)", mismatches: 1, total: 1)
        }
        let got = try tok.encode(text, maxLength: maxLength)
        let a = compare(name, got.ids, ids), b = compare(name, got.mask, mask)
        return OutputCheck(name: name, mismatches: Int(a.maxAbs + b.maxAbs), total: ids.count + mask.count)
    }

    /// Positions that differ, plus the length difference.
    private static func compare(_ name: String, _ got: [Int], _ expected: [Int]) -> OutputCheck {
        OutputCheck(name: name, got: got, expected: expected)
    }

    private static func quote(_ s: String) -> String { "'" + (s.count > 80 ? String(s.prefix(80)) + "…" : s) + "'" }
}
