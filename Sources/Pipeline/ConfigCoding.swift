// Config sections read and printed from their declarations: a section is a Codable struct whose
// stored properties are its keys (camelCase in Swift, snake_case in YAML: `numSamplingSteps` is
// `num_sampling_steps`, `dKV` is `d_kv`). Reading goes through a YAMLSection, so every error keeps
// its `file:line: key` text and unknown keys are refused by `finish()`; a key the file leaves out
// (or sets to null, where the field cannot be unset) keeps the default's value. Printing writes
// every key, null included, and leaves out the keys that do not apply to the section's family.

import Foundation
import Yams

/// A config enum: read case-insensitively from its name, printed as its raw value.
protocol ConfigName: Codable, CaseIterable, Equatable, RawRepresentable where RawValue == String {
    /// What the values name, for "unknown scheduler 'euler' (known: rflow, iddpm, ddim)"; "" for
    /// "expected fp32, bf16 or fp16, got 'int8'".
    static var kind: String { get }
    init?(configName: String)
}

extension ConfigName {
    init?(configName: String) { self.init(rawValue: configName.lowercased()) }

    /// "unknown scheduler 'euler' (known: ...)", or for a nameless kind "expected auto, mp4 or png, got 'gif'".
    static func unknown(_ name: String) -> String {
        let names = allCases.map(\.rawValue)
        guard kind.isEmpty else { return "unknown \(kind) '\(name)' (known: \(names.joined(separator: ", ")))" }
        return "expected \(names.dropLast().joined(separator: ", ")) or \(names.last ?? ""), got '\(name)'"
    }
}

/// A section some of whose keys apply only to some model families: those are not printed.
protocol FamilyKeyed {
    var inapplicableKeys: Set<String> { get }
}

/// A section whose defaults and keys depend on its `type` (the scheduler, denoiser and VAE families).
protocol FamilySection: Codable, FamilyKeyed {
    associatedtype Family: ConfigName
    var type: Family { get }
    /// The defaults of that family's official config.
    init(family: Family)
    /// Keys that exist only for some families; elsewhere they are refused, and not printed.
    static var familyKeys: KeyValuePairs<String, [Family]> { get }
}

extension FamilySection {
    var inapplicableKeys: Set<String> { Set(Self.familyKeys.filter { !$0.value.contains(type) }.map(\.key)) }
}

enum ConfigCoding {
    /// Integer keys that also take names: `num_frames: 4s` (NUM_FRAMES_MAP).
    static let namedInts: [String: [String: Int]] = ["num_frames": OpenSoraTables.numFrames]

    /// The YAML key of a Swift property name.
    static func yamlKey(_ name: String) -> String {
        var out = ""
        let chars = Array(name)
        for (i, ch) in chars.enumerated() {
            if ch.isUppercase, i > 0 {
                let afterLower = chars[i - 1].isLowercase || chars[i - 1].isNumber
                let wordStart = chars[i - 1].isUppercase && i + 1 < chars.count && chars[i + 1].isLowercase
                if afterLower || wordStart { out += "_" }
            }
            out += ch.lowercased()
        }
        return out
    }

    /// Reads `T` from `section` (nil: absent from the file); what the file leaves out keeps `defaults`'
    /// value. A family section first reads its `type` and starts from that family's defaults.
    static func decode<T: Codable>(_ type: T.Type, from section: YAMLSection?, defaults: T) throws -> T {
        var start = defaults
        if let family = T.self as? any FamilySection.Type {
            start = try familyDefaults(family, section: section, defaults: defaults) as! T
        }
        guard let section else { return start }
        let decoder = SectionDecoder(section: section, defaults: tree(start, omitInapplicable: false))
        let value = try T(from: decoder)
        for inner in decoder.innerSections.values { try inner.finish() }
        try section.finish()
        return value
    }

    private static func familyDefaults<S: FamilySection>(_: S.Type, section: YAMLSection?, defaults: Any) throws -> S {
        var start = defaults as! S
        guard let section else { return start }
        if let name = try section.string("type").or(nil) {
            guard let family = S.Family(configName: name) else { throw section.error("type", S.Family.unknown(name)) }
            start = S(family: family)
        }
        for (key, families) in S.familyKeys where section.has(key) && !families.contains(start.type) {
            throw section.error(key, "applies only to \(families.map(\.rawValue).joined(separator: ", ")), not \(start.type.rawValue)")
        }
        return start
    }

    /// An error about `key` of the section `decoder` reads, with its file and line (a section's
    /// own check in its `init(from:)`).
    static func error(in decoder: Decoder, key: String, _ message: String) -> Error {
        (decoder as? SectionDecoder)?.section.error(key, message) ?? ConfigError(source: "config", key: key, message)
    }

    /// `value`'s keys as YAML lines, indented `level` steps (two spaces each).
    static func yamlLines<T: Encodable>(_ value: T, level: Int = 0) -> [String] {
        tree(value, omitInapplicable: true).lines(level: level)
    }

    /// `value` as YAML lines under `key`.
    static func yamlLines<T: Encodable>(_ value: T, key: String, level: Int) -> [String] {
        [String(repeating: "  ", count: level) + key + ":"] + yamlLines(value, level: level + 1)
    }

    static func tree(_ value: Any, omitInapplicable: Bool, skipAbsent: Bool = false) -> YAMLTree {
        let encoder = SectionEncoder()
        encoder.omitInapplicable = omitInapplicable
        encoder.skipAbsent = skipAbsent
        if omitInapplicable { encoder.omit = (value as? any FamilyKeyed)?.inapplicableKeys ?? [] }
        try? (value as? Encodable)?.encode(to: encoder)
        return encoder.tree
    }

    // MARK: - printing values

    /// A JSON string is a valid YAML double-quoted scalar.
    static func quoted(_ s: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(decoding: data, as: UTF8.self).dropFirst().dropLast().description
    }

    static func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(format: "%.1f", v) : "\(v)" }

    /// A scalar or list as printed; nil for a nested section.
    static func scalarText(_ value: Any) -> String? {
        // An empty array casts to any element type: tell lists by their exact type.
        if type(of: value) == [String].self, let v = value as? [String] {
            return v.isEmpty ? "null" : "[" + v.map(quoted).joined(separator: ", ") + "]"
        }
        switch value {
        case let v as Bool: return "\(v)"
        case let v as Int: return "\(v)"
        case let v as Double: return number(v)
        case let v as String: return quoted(v)
        case let v as any ConfigName: return v.rawValue
        case let v as [Int]: return "[" + v.map { "\($0)" }.joined(separator: ", ") + "]"
        case let v as [Bool]: return "[" + v.map { "\($0)" }.joined(separator: ", ") + "]"
        case let v as [Double]: return "[" + v.map { "\($0)" }.joined(separator: ", ") + "]"
        default: return nil
        }
    }
}

// MARK: - reading

extension YAMLSection {
    /// A ConfigName value; nil when absent or null.
    func name<N: ConfigName>(_ key: String, _: N.Type) throws -> N? {
        guard let text = try string(key).or(nil) else { return nil }
        guard let value = N(configName: text) else { throw error(key, N.unknown(text)) }
        return value
    }
}

private final class SectionDecoder: Decoder {
    let section: YAMLSection
    /// The defaults, encoded: the value of every key the file leaves out.
    let defaults: YAMLTree
    /// Sections named by dotted keys ("model" of "model.denoiser"), finished after the decode.
    var innerSections: [String: YAMLSection] = [:]
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(section: YAMLSection, defaults: YAMLTree) {
        self.section = section
        self.defaults = defaults
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(SectionReader<Key>(decoder: self))
    }
    func unkeyedContainer() throws -> UnkeyedDecodingContainer { throw section.error("", "expected a mapping of keys to values") }
    func singleValueContainer() throws -> SingleValueDecodingContainer { throw section.error("", "expected a mapping of keys to values") }

    /// The section holding a (possibly dotted) key and the key's last part; nil section if absent.
    func place(of name: String) throws -> (YAMLSection?, String) {
        var parts = name.split(separator: ".").map(String.init)
        let last = parts.removeLast()
        var current: YAMLSection? = section
        var path = ""
        for part in parts {
            path += (path.isEmpty ? "" : ".") + part
            if let known = innerSections[path] { current = known; continue }
            guard let next = try current?.section(part) else { current = nil; break }
            innerSections[path] = next
            current = next
        }
        return (current, last)
    }
}

private struct SectionReader<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: SectionDecoder

    var codingPath: [CodingKey] { [] }
    var allKeys: [Key] { [] }
    func contains(_ key: Key) -> Bool { (try? decoder.place(of: name(key)))?.0?.has(name(key).components(separatedBy: ".").last!) ?? false }
    func decodeNil(forKey key: Key) throws -> Bool { false }

    private func name(_ key: Key) -> String { ConfigCoding.yamlKey(key.stringValue) }

    /// The default's value of the key.
    private func fallback<T>(_ key: Key) -> T? { decoder.defaults.value(at: name(key)) as? T }

    /// The file's value: `.absent` or `.null` leave the choice to the caller.
    private func read<T: Decodable>(_: T.Type, _ key: Key) throws -> Setting<T> {
        let (found, name) = try decoder.place(of: name(key))
        guard let section = found else { return .absent }
        switch T.self {
        case is Int.Type: return try section.int(name, names: ConfigCoding.namedInts[section.qualified(name)]) as! Setting<T>
        case is Double.Type: return try section.double(name) as! Setting<T>
        case is Bool.Type: return try section.bool(name) as! Setting<T>
        case is String.Type: return try section.string(name) as! Setting<T>
        case is [Int].Type: return try section.ints(name) as! Setting<T>
        case is [Double].Type: return try section.doubles(name) as! Setting<T>
        case is [Bool].Type: return try section.bools(name) as! Setting<T>
        case is [String].Type: return try section.strings(name) as! Setting<T>
        case let named as any ConfigName.Type:
            return try section.string(name).map { text in
                guard let v = named.init(configName: text) else { throw section.error(name, named.unknown(text)) }
                return v as! T
            }
        case let nestedType as any Codable.Type:  // a nested section: null or absent keeps the default
            guard let nested = try section.section(name), let start: T = fallback(key) else { return .absent }
            return .value(try decodeSection(nestedType, nested, start) as! T)
        default:
            throw section.error(name, "is not a supported config value type")
        }
    }

    private func decodeSection<S: Codable>(_: S.Type, _ nested: YAMLSection, _ start: Any) throws -> S {
        try ConfigCoding.decode(S.self, from: nested, defaults: start as! S)
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        if case .value(let v) = try read(T.self, key) { return v }
        return fallback(key)!
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        switch try read(T.self, key) {
        case .value(let v): return v
        case .null: return nil
        case .absent: return fallback(key)
        }
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decode(type, forKey: key, generic: ()) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decode(type, forKey: key, generic: ()) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decode(type, forKey: key, generic: ()) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { throw unsupported(key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decode(type, forKey: key, generic: ()) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { throw unsupported(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { throw unsupported(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { throw unsupported(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { throw unsupported(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { throw unsupported(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { throw unsupported(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { throw unsupported(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { throw unsupported(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { throw unsupported(key) }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try decodeIfPresent(type, forKey: key, generic: ()) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try decodeIfPresent(type, forKey: key, generic: ()) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try decodeIfPresent(type, forKey: key, generic: ()) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try decodeIfPresent(type, forKey: key, generic: ()) }

    private func decode<T: Decodable>(_ type: T.Type, forKey key: Key, generic: Void) throws -> T { try decode(type, forKey: key) }
    private func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key, generic: Void) throws -> T? { try decodeIfPresent(type, forKey: key) }

    private func unsupported(_ key: Key) -> ConfigError {
        decoder.section.error(name(key), "is not a supported config value type")
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> { throw unsupported(key) }
    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { throw unsupported(key) }
    func superDecoder() throws -> Decoder { throw decoder.section.error("super", "is not a supported config value type") }
    func superDecoder(forKey key: Key) throws -> Decoder { throw unsupported(key) }
}

// MARK: - printing

/// Keys in declaration order, each a printed scalar or a nested section.
final class YAMLTree {
    enum Value { case scalar(String, Any?), section(YAMLTree, Any) }
    var entries: [(key: String, value: Value)] = []

    /// The Swift value of a (possibly dotted) key.
    func value(at name: String) -> Any? {
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        guard let entry = entries.first(where: { $0.key == parts[0] }) else { return nil }
        switch entry.value {
        case .scalar(_, let v): return parts.count == 1 ? v : nil
        case .section(let t, let v): return parts.count == 1 ? v : t.value(at: parts[1])
        }
    }

    /// Puts `other`'s keys over these (nested sections merged key by key); returns the dotted keys set.
    @discardableResult
    func overlay(_ other: YAMLTree, prefix: String = "") -> [String] {
        other.entries.flatMap { e -> [String] in
            let name = prefix + e.key
            if case .section(let t, _) = e.value { return subtree(e.key).overlay(t, prefix: name + ".") }
            set(e.key, e.value)
            return [name]
        }
    }

    func set(_ key: String, _ value: Value) {
        if let i = entries.firstIndex(where: { $0.key == key }) { entries[i].value = value } else { entries.append((key, value)) }
    }

    func remove(_ key: String) { entries.removeAll { $0.key == key } }

    func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    /// The nested tree of `key`, made if missing (for dotted keys).
    func subtree(_ key: String) -> YAMLTree {
        if let entry = entries.first(where: { $0.key == key }), case .section(let t, _) = entry.value { return t }
        let t = YAMLTree()
        entries.append((key, .section(t, t)))
        return t
    }

    func lines(level: Int) -> [String] {
        let indent = String(repeating: "  ", count: level)
        return entries.flatMap { e -> [String] in
            switch e.value {
            case .scalar(let s, _): return [indent + e.key + ": " + s]
            case .section(let t, _): return [indent + e.key + ":"] + t.lines(level: level + 1)
            }
        }
    }
}

private final class SectionEncoder: Encoder {
    var tree = YAMLTree()
    var omit: Set<String> = []
    /// Leave out the keys of other families (printing); the defaults for reading keep them all.
    var omitInapplicable = true
    /// Leave out nil optionals (a layer of overrides: nil = not given, `.some(nil)` = null).
    var skipAbsent = false
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(SectionWriter<Key>(encoder: self))
    }
    func unkeyedContainer() -> UnkeyedEncodingContainer { preconditionFailure("config sections are mappings") }
    func singleValueContainer() -> SingleValueEncodingContainer { preconditionFailure("config sections are mappings") }
}

private struct SectionWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: SectionEncoder
    var codingPath: [CodingKey] { [] }

    private func put(_ value: Any?, _ key: Key) {
        var name = ConfigCoding.yamlKey(key.stringValue)
        guard !encoder.omit.contains(name) else { return }
        var tree = encoder.tree
        while let dot = name.firstIndex(of: ".") {  // a dotted key goes in nested sections
            tree = tree.subtree(String(name[..<dot]))
            name = String(name[name.index(after: dot)...])
        }
        guard let value = value.flatMap(unwrapped) else { return tree.entries.append((name, .scalar("null", nil))) }
        if let text = ConfigCoding.scalarText(value) { return tree.entries.append((name, .scalar(text, value))) }
        tree.entries.append((name, .section(ConfigCoding.tree(value, omitInapplicable: encoder.omitInapplicable), value)))
    }

    /// The payload of an optional held in an Any (`Int??` given as `.some(nil)` is nil).
    private func unwrapped(_ v: Any) -> Any? {
        let m = Mirror(reflecting: v)
        guard m.displayStyle == .optional else { return v }
        return m.children.first.flatMap { unwrapped($0.value) }
    }

    private func given(_ value: Any?) -> Bool { !(encoder.skipAbsent && value == nil) }

    mutating func encodeNil(forKey key: Key) throws { put(nil, key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { put(value, key) }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { if given(value) { put(value, key) } }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { if given(value) { put(value, key) } }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { if given(value) { put(value, key) } }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { if given(value) { put(value, key) } }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { if given(value) { put(value, key) } }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(value, key) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(value, key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(value, key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(Double(value), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(Int(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(Int(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(Int(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(Int(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { put(Int(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(Int(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(Int(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(Int(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { put(Int(value), key) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        preconditionFailure("config sections encode nested sections as values")
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer { preconditionFailure("config lists are values") }
    mutating func superEncoder() -> Encoder { preconditionFailure("config sections have no superclass") }
    mutating func superEncoder(forKey key: Key) -> Encoder { preconditionFailure("config sections have no superclass") }
}
