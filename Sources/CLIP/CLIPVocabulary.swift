// CLIP's byte-level BPE vocabulary, read from either of the files it ships as:
// - OpenAI's `bpe_simple_vocab_16e6.txt.gz` (a header line, then merges "a b" by rank), from
//   which the 49,408 ids are built as the reference builds them: the 256 byte symbols, the same
//   with "</w>", one id per merge (48,894 of them), then <|startoftext|> and <|endoftext|>;
// - Hugging Face's `vocab.json` + `merges.txt` (openai/clip-vit-large-patch14), given as the
//   folder holding them or the path of either file.
// Both give the same ids (checked by the clip_tokenizer golden case on the .gz).

import CZlib
import Foundation
import TensorCore

public enum CLIPError: Error, CustomStringConvertible, Equatable {
    case vocabulary(path: String, detail: String)
    case badCheckpoint(source: String, detail: String)
    case badInput(String)

    public var description: String {
        switch self {
        case let .vocabulary(p, d): return "CLIP vocabulary \(p): \(d)"
        case let .badCheckpoint(s, d): return "CLIP text model \(s): \(d)"
        case let .badInput(d): return "CLIP: \(d)"
        }
    }
}

public struct CLIPVocabulary: Sendable {
    /// Symbol string -> id.
    public let ids: [String: Int]
    /// "a b" -> merge rank (lower merges first).
    let mergeRanks: [String: Int]
    public var count: Int { ids.count }

    /// The 48,894 merges OpenAI's tokenizer uses (49,408 ids - 512 byte symbols - 2 specials).
    static let mergeCount = 49152 - 256 - 2

    /// Limits on what is read: the files are 1.3 MB (.gz), 3.6 MB (.gz unpacked), 1.6 MB (vocab.json).
    static let maxFileBytes = 16 << 20, maxUnpackedBytes = 64 << 20

    public init(path: String) throws {
        do {
            try FileChecks.requireRegularFile(path, what: "CLIP vocabulary (bpe_simple_vocab_16e6.txt.gz, or vocab.json + merges.txt)",
                                              folderAllowed: true, maxBytes: Self.maxFileBytes)
        } catch let e as FileCheckError { throw CLIPError.vocabulary(path: path, detail: e.reason) }
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if isDirectory.boolValue {
            try self.init(vocabJSON: path + "/vocab.json", merges: path + "/merges.txt")
        } else if path.hasSuffix(".gz") {
            try self.init(openAIMerges: try Self.gunzip(path), path: path)
        } else if path.hasSuffix("vocab.json") || path.hasSuffix("merges.txt") {
            let folder = (path as NSString).deletingLastPathComponent
            try self.init(vocabJSON: (folder as NSString).appendingPathComponent("vocab.json"),
                          merges: (folder as NSString).appendingPathComponent("merges.txt"))
        } else {
            throw CLIPError.vocabulary(path: path, detail: "unknown format (expected a .gz merges file, vocab.json / merges.txt, or their folder)")
        }
    }

    /// OpenAI's layout: line 0 a header, lines 1...48894 the merges.
    init(openAIMerges text: String, path: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > Self.mergeCount else {
            throw CLIPError.vocabulary(path: path, detail: "\(lines.count) lines, expected at least \(Self.mergeCount + 1) (a header and \(Self.mergeCount) merges)")
        }
        let merges = try lines[1...Self.mergeCount].enumerated().map { i, line in try Self.mergePair(line, line: i + 2, path: path) }
        var symbols = ByteSymbols.table.map { String($0) }
        symbols += symbols.map { $0 + "</w>" }
        symbols += merges.map { $0.0 + $0.1 }
        symbols += ["<|startoftext|>", "<|endoftext|>"]
        var ids: [String: Int] = [:]
        for (i, s) in symbols.enumerated() { ids[s] = i }
        self.ids = ids
        mergeRanks = Self.ranks(merges)
    }

    /// Hugging Face's layout: ids from vocab.json, merges from merges.txt after its "#version" line.
    init(vocabJSON: String, merges mergesPath: String) throws {
        func read(_ p: String, _ what: String) throws -> String {
            do { return try FileChecks.readText(p, what: what, maxBytes: Self.maxFileBytes) }
            catch let e as FileCheckError { throw CLIPError.vocabulary(path: p, detail: e.reason) }
        }
        let json = try read(vocabJSON, "CLIP vocabulary (vocab.json)"), text = try read(mergesPath, "CLIP merges (merges.txt)")
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw CLIPError.vocabulary(path: vocabJSON, detail: "not a JSON object of token -> id")
        }
        var ids: [String: Int] = [:]
        for (k, v) in object {
            guard let n = v as? NSNumber else { throw CLIPError.vocabulary(path: vocabJSON, detail: "id of '\(k)' is not a number") }
            ids[k] = n.intValue
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let body = lines.first?.hasPrefix("#version") == true ? lines.dropFirst() : lines[...]
        let merges = try body.enumerated().map { i, line in try Self.mergePair(line, line: i + 2, path: mergesPath) }
        // Every symbol BPE can produce must have an id (the tokenizer relies on it).
        let needed = ["<|startoftext|>", "<|endoftext|>"] + ByteSymbols.table.flatMap { [String($0), String($0) + "</w>"] }
            + merges.map { $0.0 + $0.1 }
        if let missing = needed.first(where: { ids[$0] == nil }) {
            throw CLIPError.vocabulary(path: vocabJSON, detail: "has no id for '\(missing)' (needed by \((mergesPath as NSString).lastPathComponent))")
        }
        self.ids = ids
        mergeRanks = Self.ranks(merges)
    }

    private static func mergePair(_ line: Substring, line number: Int, path: String) throws -> (String, String) {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw CLIPError.vocabulary(path: path, detail: "line \(number) is not a merge 'a b': '\(line.prefix(40))'")
        }
        return (String(parts[0]), String(parts[1]))
    }

    private static func ranks(_ merges: [(String, String)]) -> [String: Int] {
        var r: [String: Int] = [:]
        for (i, m) in merges.enumerated() where r[m.0 + " " + m.1] == nil { r[m.0 + " " + m.1] = i }
        return r
    }

    /// The whole of a gzip file, decoded as UTF-8 (zlib: Foundation on Linux cannot gunzip).
    static func gunzip(_ path: String) throws -> String {
        guard let compressed = FileManager.default.contents(atPath: path) else {     // a regular file of at most 16 MB (checked by init)
            throw CLIPError.vocabulary(path: path, detail: "not readable")
        }
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw CLIPError.vocabulary(path: path, detail: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var status: Int32 = Z_OK
        compressed.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(input.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    output.append(out.baseAddress!, count: out.count - Int(stream.avail_out))
                }
            } while status == Z_OK && output.count <= maxUnpackedBytes
        }
        guard output.count <= maxUnpackedBytes else {
            throw CLIPError.vocabulary(path: path, detail: "unpacks to more than \(maxUnpackedBytes) bytes; the vocabulary is about 3.6 MB")
        }
        guard status == Z_STREAM_END else {
            throw CLIPError.vocabulary(path: path, detail: "not a complete gzip stream (zlib status \(status))")
        }
        guard let text = String(data: output, encoding: .utf8) else {
            throw CLIPError.vocabulary(path: path, detail: "decompressed contents are not UTF-8")
        }
        return text
    }
}

/// GPT-2's bytes_to_unicode: every byte gets a printable stand-in character, so BPE works on
/// strings. Printable Latin-1 bytes map to themselves, the rest to U+0100 onward, in byte order.
enum ByteSymbols {
    /// table[i] is the i-th symbol in vocabulary order (printable bytes first, then the rest).
    static let table: [Character] = order.map { symbol(of: $0) }
    /// The symbol of each byte value.
    static let ofByte: [Character] = (0..<256).map { symbol(of: UInt8($0)) }

    private static let printable: [UInt8] = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
    private static let order: [UInt8] = printable + (0...255).map(UInt8.init).filter { !printable.contains($0) }

    private static func symbol(of byte: UInt8) -> Character {
        if printable.contains(byte) { return Character(Unicode.Scalar(byte)) }
        let n = (0...255).map(UInt8.init).filter { !printable.contains($0) }.firstIndex(of: byte)!
        return Character(Unicode.Scalar(UInt32(256 + n))!)
    }
}
