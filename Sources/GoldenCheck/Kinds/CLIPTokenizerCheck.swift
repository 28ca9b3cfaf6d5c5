// Golden checker for kind 'clip_tokenizer': CLIP ids for every prompt of config.prompts, padded /
// truncated to 77 as HFEmbedder asks (`input_ids`, `attention_mask`), and untruncated
// (`ids_untruncated` in the JSON). Ids must match exactly. `--weights` names another vocabulary
// (a .gz, vocab.json / merges.txt or their folder).

import CLIP
import Foundation

enum CLIPTokenizerCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let tokenizer = try CLIPTokenizer(vocabularyPath: options.weights ?? c.file(try vocabularyFile(c)))
        guard let prompts = c.config["prompts"] as? [String], !prompts.isEmpty else {
            throw GoldenError.badCase(path: c.path, detail: "config.prompts missing or empty")
        }
        let io = try c.io()
        let shape = try io.shape("input_ids")
        guard shape.count == 2, shape[0] == prompts.count else {
            throw GoldenError.badCase(path: c.path, detail: "input_ids is \(shape), expected [\(prompts.count), max_length]")
        }
        let length = shape[1]
        let ids = try io.integers("input_ids"), mask = try io.integers("attention_mask")
        let untruncated = c.json["ids_untruncated"] as? [[Int]] ?? []
        var results: [OutputCheck] = []
        for (i, prompt) in prompts.enumerated() {
            let got = try tokenizer.encode(prompt, maxLength: length)
            let rows = (i * length)..<((i + 1) * length)
            results.append(OutputCheck(name: "p\(i).input_ids", got: got.ids, expected: Array(ids[rows])))
            results.append(OutputCheck(name: "p\(i).attention_mask", got: got.mask, expected: Array(mask[rows])))
            if i < untruncated.count {
                results.append(OutputCheck(name: "p\(i).ids_untruncated", got: tokenizer.encodeUntruncated(prompt), expected: untruncated[i]))
            }
        }
        return results
    }

    /// config.vocab_file, or the `clip_vocab` entry of a dict-valued weights_file.
    static func vocabularyFile(_ c: GoldenCase) throws -> String {
        if let f = c.config["vocab_file"] as? String { return f }
        if let w = c.json["weights_file"] as? [String: Any], let f = w["clip_vocab"] as? String { return f }
        if let t = c.config["tokenizer"] as? [String: Any], let f = t["vocab"] as? String { return f }
        throw GoldenError.badCase(path: c.path, detail: "no CLIP vocabulary named (config.vocab_file or config.tokenizer.vocab)")
    }
}
