// CLIP's tokenizer as transformers' slow CLIPTokenizer runs it (with ftfy installed), and
// Open-Sora 2.0's HFEmbedder pads and truncates it:
//
//   split out typed <|startoftext|> / <|endoftext|>          (added tokens, matched exactly)
//   per remaining piece: ftfy fix_text -> whitespace runs to one space, strip -> lowercase
//   pre-tokenize: <|startoftext|> | <|endoftext|> | 's 't 're 've 'm 'll 'd | \p{L}+ | \p{N} | [^\s\p{L}\p{N}]+
//   each word: UTF-8 bytes -> byte symbols, "</w>" on the last, merges applied by rank
//   ids = <|startoftext|> + first (maxLength - 2) BPE ids + <|endoftext|>, padded with <|endoftext|>
//
// ftfy's fix_text is T5's TextFixer (the same port serves the T5 caption cleaner).

import Foundation
import T5

public final class CLIPTokenizer: @unchecked Sendable {
    public let vocabulary: CLIPVocabulary
    public let startOfText: Int
    public let endOfText: Int
    /// Pads with <|endoftext|>, as openai/clip-vit-large-patch14's tokenizer config says.
    public var padId: Int { endOfText }
    /// HFEmbedder's max_length for CLIP (and CLIP's 77 positions).
    public static let defaultMaxLength = 77

    private static let specials = ["<|startoftext|>", "<|endoftext|>"]
    private let lock = NSLock()
    private var cache: [String: [Int]] = [:]
    private static let cacheLimit = 1 << 16

    /// - Parameter vocabularyPath: bpe_simple_vocab_16e6.txt.gz, or vocab.json / merges.txt (or their folder).
    public init(vocabularyPath: String) throws {
        vocabulary = try CLIPVocabulary(path: vocabularyPath)
        startOfText = vocabulary.ids["<|startoftext|>"]!
        endOfText = vocabulary.ids["<|endoftext|>"]!
    }

    /// BPE ids of `text`, without <|startoftext|> / <|endoftext|> around them.
    public func tokenize(_ text: String) -> [Int] {
        var ids: [Int] = []
        for piece in Self.splitAddedTokens(text) {
            switch piece {
            case let .special(s): ids.append(vocabulary.ids[s]!)
            case let .text(t):
                let cleaned = Self.whitespaceClean(TextFixer.fix(t)).lowercased()
                for word in Self.preTokenize(cleaned) { ids += bpe(word) }
            }
        }
        return ids
    }

    /// <|startoftext|> + ids + <|endoftext|>, nothing cut or padded.
    public func encodeUntruncated(_ text: String) -> [Int] { [startOfText] + tokenize(text) + [endOfText] }

    /// As HFEmbedder calls the tokenizer (truncation=True, padding="max_length"): exactly
    /// `maxLength` ids. Also returns the tokenizer's mask (1 up to and including the first
    /// <|endoftext|>), which HFEmbedder does not pass on.
    public func encode(_ text: String, maxLength: Int = defaultMaxLength) throws -> (ids: [Int], mask: [Int]) {
        guard maxLength >= 2 else { throw CLIPError.badInput("max_length \(maxLength) leaves no room for <|startoftext|> and <|endoftext|>") }
        let body = tokenize(text).prefix(maxLength - 2)
        let ids = [startOfText] + body + [endOfText]
        return (ids + [Int](repeating: padId, count: maxLength - ids.count),
                [Int](repeating: 1, count: ids.count) + [Int](repeating: 0, count: maxLength - ids.count))
    }

    // MARK: pieces

    enum Piece: Equatable { case text(String), special(String) }

    /// The slow tokenizer's added-token split: exact (case-sensitive) occurrences of the two specials.
    static func splitAddedTokens(_ text: String) -> [Piece] {
        var pieces: [Piece] = []
        var rest = Substring(text)
        while let hit = specials.compactMap({ s in rest.range(of: s).map { (s, $0) } }).min(by: { $0.1.lowerBound < $1.1.lowerBound }) {
            if hit.1.lowerBound > rest.startIndex { pieces.append(.text(String(rest[..<hit.1.lowerBound]))) }
            pieces.append(.special(hit.0))
            rest = rest[hit.1.upperBound...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        return pieces
    }

    /// `re.sub(r"\s+", " ", text).strip()` with the `regex` module's \s (Unicode White_Space).
    static func whitespaceClean(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for u in text.unicodeScalars {
            if u.properties.isWhitespace { pendingSpace = true; continue }
            if pendingSpace && !out.isEmpty { out.append(" ") }
            pendingSpace = false
            out.append(u)
        }
        return String(out)
    }

    /// The words CLIP's pattern finds, in order (unmatched whitespace is skipped).
    static func preTokenize(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        var words: [String] = []
        var i = 0
        func isLetter(_ u: Unicode.Scalar) -> Bool {
            switch u.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
        func isNumber(_ u: Unicode.Scalar) -> Bool {
            switch u.properties.generalCategory {
            case .decimalNumber, .letterNumber, .otherNumber: return true
            default: return false
            }
        }
        func hasPrefix(_ p: String, at j: Int) -> Bool {
            let ps = Array(p.unicodeScalars)
            guard j + ps.count <= s.count else { return false }
            return (0..<ps.count).allSatisfy { s[j + $0] == ps[$0] }
        }
        func word(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(s[a..<b])) }
        scan: while i < s.count {
            let u = s[i]
            if u.properties.isWhitespace { i += 1; continue }
            for p in specials + ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"] where hasPrefix(p, at: i) {
                words.append(p); i += p.unicodeScalars.count; continue scan
            }
            var j = i + 1
            if isLetter(u) {
                while j < s.count && isLetter(s[j]) { j += 1 }
            } else if !isNumber(u) {
                while j < s.count && !isLetter(s[j]) && !isNumber(s[j]) && !s[j].properties.isWhitespace { j += 1 }
            }
            words.append(word(i, j))
            i = j
        }
        return words
    }

    // MARK: BPE

    /// Ids of one pre-token word: its bytes as symbols, "</w>" joined to the last, then the
    /// lowest-ranked adjacent pair merged until no pair has a rank.
    func bpe(_ word: String) -> [Int] {
        if let s = vocabulary.ids[word], Self.specials.contains(word) { return [s] }
        lock.lock()
        if let hit = cache[word] { lock.unlock(); return hit }
        lock.unlock()
        var symbols = Array(word.utf8).map { String(ByteSymbols.ofByte[Int($0)]) }
        symbols[symbols.count - 1] += "</w>"
        while symbols.count > 1 {
            var best: (rank: Int, at: Int)?
            for k in 0..<(symbols.count - 1) {
                if let r = vocabulary.mergeRanks[symbols[k] + " " + symbols[k + 1]], r < (best?.rank ?? .max) { best = (r, k) }
            }
            guard let (_, _) = best else { break }
            // Merge every occurrence of the winning pair, left to right (as the reference does).
            let first = symbols[best!.at], second = symbols[best!.at + 1]
            var merged: [String] = []
            var k = 0
            while k < symbols.count {
                if k + 1 < symbols.count && symbols[k] == first && symbols[k + 1] == second {
                    merged.append(first + second); k += 2
                } else {
                    merged.append(symbols[k]); k += 1
                }
            }
            symbols = merged
        }
        // Every byte symbol (with and without </w>) is in the vocabulary, so every symbol has an id.
        let ids = symbols.map { vocabulary.ids[$0]! }
        lock.lock()
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }   // bounded for endless prompt streams
        cache[word] = ids
        lock.unlock()
        return ids
    }
}
