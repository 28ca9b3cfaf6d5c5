// The T5 tokenizer: SentencePiece ids + </s>, padded or truncated to a fixed length, exactly as
// transformers' slow `T5Tokenizer(legacy=True)` does it:
//   - special-token texts ("</s>", "<pad>", "<unk>", and "<extra_id_N>" when the tokenizer has
//     extra ids) inside the text become their ids; the text between them is SentencePiece-encoded;
//   - </s> is appended unless the ids already end with it;
//   - over-long input keeps its first maxLength-1 ids, then </s>;
//   - padding with the pad id (0) up to maxLength; the mask is 1 for ids and </s>, 0 for padding.
// Caption cleaning (Open-Sora's `text_preprocessing`) is separate: see CaptionCleaner.

import CSentencePiece
import TensorCore
import Foundation

public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case cannotLoad(path: String, reason: String)
    case encodingFailed(text: String)
    case badMaxLength(Int)

    public var description: String {
        switch self {
        case let .cannotLoad(p, r): return "\(p): cannot load the SentencePiece tokenizer model: \(r)"
        case let .encodingFailed(t): return "SentencePiece could not encode the text '\(t.prefix(60))'"
        case let .badMaxLength(n): return "tokenizer max length must be at least 1, got \(n)"
        }
    }
}

/// Token ids and attention mask of a batch of prompts, every row padded to the same length.
public struct TokenBatch: Sendable, Equatable {
    /// ids[b][l]
    public var ids: [[Int]]
    /// mask[b][l]: 1 for real tokens (including </s>), 0 for padding.
    public var mask: [[Int]]
    public init(ids: [[Int]], mask: [[Int]]) { self.ids = ids; self.mask = mask }
    public var batchSize: Int { ids.count }
    public var length: Int { ids.first?.count ?? 0 }
}

public final class T5Tokenizer: @unchecked Sendable {
    public let path: String
    public let padId: Int
    public let eosId: Int
    public let unkId: Int
    /// Pieces in the SentencePiece model (ids 0..<pieceCount); extra ids come after them.
    public let pieceCount: Int
    public let extraIds: Int
    /// The released T5 tokenizers have 100 sentinel tokens; far more is a mistake (each costs a
    /// special-token entry).
    public static let maxExtraIds = 1000
    /// T5's spiece.model is 792 KB; the largest SentencePiece models in use are a few MB.
    public static let maxModelBytes = 64 << 20
    /// Texts that map straight to one id, longest first (so "<extra_id_10>" wins over "<extra_id_1>").
    private let specialTokens: [(bytes: [UInt8], id: Int)]
    private let processor: OpaquePointer

    /// - Parameters:
    ///   - modelPath: a SentencePiece `spiece.model`.
    ///   - extraIds: T5 sentinel tokens `<extra_id_0>`... appended after the model's pieces
    ///     (the released T5 tokenizers use 100; `<extra_id_i>` has id pieceCount + extraIds - 1 - i).
    public init(modelPath: String, extraIds: Int = 0) throws {
        path = modelPath
        // libsentencepiece reads the whole file: a FIFO would block it and /dev/zero never ends.
        if let why = FileChecks.notRegularFile(modelPath) {
            let hint = why.hasPrefix("is a folder") ? " (pass the spiece.model file inside it)" : ""
            throw TokenizerError.cannotLoad(path: modelPath, reason: why + hint)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: modelPath)[.size] as? NSNumber)?.intValue ?? 0
        guard size <= Self.maxModelBytes else {
            throw TokenizerError.cannotLoad(path: modelPath, reason: "\(size) bytes is more than a SentencePiece model (limit \(Self.maxModelBytes))")
        }
        guard (0...Self.maxExtraIds).contains(extraIds) else {
            throw TokenizerError.cannotLoad(path: modelPath, reason: "extra id count must be 0 ... \(Self.maxExtraIds), got \(extraIds)")
        }
        var err = [CChar](repeating: 0, count: 512)
        guard let p = spm_load(modelPath, &err, err.count) else {
            let msg = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // libsentencepiece reports a file that is not its protobuf as a source-code location.
            let detail = msg.isEmpty || msg.contains("ParseFromArray") ? "its contents do not parse as a model" : msg
            throw TokenizerError.cannotLoad(path: modelPath, reason: "not a SentencePiece model (\(detail))")
        }
        guard spm_eos_id(p) >= 0 else {
            spm_free(p)
            throw TokenizerError.cannotLoad(path: modelPath, reason: "the model defines no end-of-sequence piece (T5 needs </s>)")
        }
        processor = p
        pieceCount = Int(spm_piece_size(p))
        padId = Int(spm_pad_id(p)); eosId = Int(spm_eos_id(p)); unkId = Int(spm_unk_id(p))
        self.extraIds = extraIds
        var specials: [(bytes: [UInt8], id: Int)] = []
        for id in [eosId, padId, unkId] where id >= 0 {
            var buf = [CChar](repeating: 0, count: 64)
            let n = Int(spm_id_to_piece(p, Int32(id), &buf, buf.count))
            if n > 0 && n <= buf.count { specials.append((buf.prefix(n).map { UInt8(bitPattern: $0) }, id)) }
        }
        for i in 0..<extraIds { specials.append((Array("<extra_id_\(i)>".utf8), pieceCount + extraIds - 1 - i)) }
        specialTokens = specials.sorted { $0.bytes.count > $1.bytes.count }
    }

    deinit { spm_free(processor) }

    /// Vocabulary size including extra ids (the embedding table may be larger, e.g. 32128).
    public var vocabularySize: Int { pieceCount + extraIds }

    /// Plain SentencePiece encoding of `text` (no special-token handling, no </s>).
    public func pieceIds(_ text: String) throws -> [Int] {
        try pieceIds(bytes: Array(text.utf8), text: text)
    }

    private func pieceIds(bytes: [UInt8], text: String) throws -> [Int] {
        if bytes.isEmpty { return [] }
        var cap = bytes.count * 2 + 8
        while true {
            var out = [Int32](repeating: 0, count: cap)
            let n = bytes.withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { spm_encode(processor, $0.baseAddress, $0.count, &out, Int32(cap)) }
            }
            if n < 0 { throw TokenizerError.encodingFailed(text: text) }
            if Int(n) <= cap { return out.prefix(Int(n)).map(Int.init) }
            cap = Int(n)
        }
    }

    /// The slow T5 tokenizer's `tokenize` + ids: special-token texts become their ids, the text
    /// between them is SentencePiece-encoded. No </s> is added.
    public func tokenize(_ text: String) throws -> [Int] {
        let bytes = Array(text.utf8)
        var ids: [Int] = []
        var segment: [UInt8] = []
        var i = 0
        func flush() throws {
            if segment.isEmpty { return }
            ids += try pieceIds(bytes: segment, text: text)
            segment.removeAll(keepingCapacity: true)
        }
        outer: while i < bytes.count {
            if bytes[i] == UInt8(ascii: "<") {
                for s in specialTokens where i + s.bytes.count <= bytes.count && bytes[i..<(i + s.bytes.count)].elementsEqual(s.bytes) {
                    try flush()
                    ids.append(s.id)
                    i += s.bytes.count
                    continue outer
                }
            }
            segment.append(bytes[i])
            i += 1
        }
        try flush()
        return ids
    }

    /// ids + </s>, truncated to `maxLength` (</s> kept last) and padded to it.
    public func encode(_ text: String, maxLength: Int) throws -> (ids: [Int], mask: [Int]) {
        guard maxLength >= 1 else { throw TokenizerError.badMaxLength(maxLength) }
        var ids = try tokenize(text)
        if ids.count > maxLength - 1 { ids.removeLast(ids.count - (maxLength - 1)) }
        if ids.last != eosId { ids.append(eosId) }
        let n = ids.count
        return (ids + [Int](repeating: padId, count: maxLength - n),
                [Int](repeating: 1, count: n) + [Int](repeating: 0, count: maxLength - n))
    }

    public func encode(_ texts: [String], maxLength: Int) throws -> TokenBatch {
        var batch = TokenBatch(ids: [], mask: [])
        for t in texts {
            let (ids, mask) = try encode(t, maxLength: maxLength)
            batch.ids.append(ids); batch.mask.append(mask)
        }
        return batch
    }

    /// The piece text of an id (for debugging and tests).
    public func piece(_ id: Int) -> String? {
        guard id >= 0 && id < pieceCount else { return nil }
        var buf = [CChar](repeating: 0, count: 256)
        let n = Int(spm_id_to_piece(processor, Int32(id), &buf, buf.count))
        guard n >= 0 && n <= buf.count else { return nil }
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
