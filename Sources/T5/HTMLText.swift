// The two HTML helpers clean_caption uses, approximated without an HTML library:
// - `extract`: BeautifulSoup(text, "html.parser").text — markup dropped, character references
//   decoded, following Python's html.parser scanning rules for what counts as a tag.
// - `unescape`: Python's html.unescape.
// The entity table holds the common named entities (Latin-1, punctuation, arrows, Greek), not
// all 2,231 of HTML5; an unknown name is left as written, as both Python functions do.

import Foundation

public enum HTMLText {
    /// Text content of `s` parsed as an HTML fragment.
    public static func extract(_ s: String) -> String {
        let c = Array(s.unicodeScalars)
        guard c.contains(where: { $0 == "<" || $0 == "&" }) else { return s }
        var out = String.UnicodeScalarView()
        var i = 0
        while i < c.count {
            let ch = c[i]
            if ch == "<" {
                if let end = markupEnd(c, from: i) {
                    if let cdata = cdataContent(c, from: i, to: end) { out.append(contentsOf: cdata) }
                    // <script> and <style> hold raw text up to their end tag; .text leaves it out.
                    if let element = rawTextElement(c, from: i, to: end) {
                        i = skipRawText(c, from: end, element: element)
                    } else {
                        i = end
                    }
                } else {
                    out.append(ch); i += 1      // a lone '<' (or an unfinished tag at the end) is text
                }
            } else if ch == "&" {
                let (text, next) = characterReference(c, at: i)
                out.append(contentsOf: text.unicodeScalars)
                i = next
            } else {
                out.append(ch); i += 1
            }
        }
        return String(out)
    }

    /// Index just past the markup starting at c[i] == "<", or nil if it is not markup.
    private static func markupEnd(_ c: [Unicode.Scalar], from i: Int) -> Int? {
        guard i + 1 < c.count else { return nil }
        let next = c[i + 1]
        func find(_ pattern: String, from j: Int) -> Int? {
            let p = Array(pattern.unicodeScalars)
            var k = j
            while k + p.count <= c.count {
                if Array(c[k..<(k + p.count)]) == p { return k + p.count }
                k += 1
            }
            return nil
        }
        if isASCIILetter(next) {
            // Start tag: up to '>' outside quoted attribute values.
            var k = i + 2
            var quote: Unicode.Scalar? = nil
            while k < c.count {
                if let q = quote { if c[k] == q { quote = nil } } else if c[k] == "\"" || c[k] == "'" { quote = c[k] } else if c[k] == ">" { return k + 1 }
                k += 1
            }
            return nil
        }
        if next == "/" { return find(">", from: i + 2) }
        if next == "?" { return find(">", from: i + 2) }
        if next == "!" {
            if hasPrefix(c, "<!--", at: i) { return find("-->", from: i + 4) }
            if hasPrefix(c, "<![", at: i) { return find("]]>", from: i + 3) }
            return find(">", from: i + 2)
        }
        return nil
    }

    /// "script" or "style" when c[i..<end] is the start tag of one (not self-closing).
    private static func rawTextElement(_ c: [Unicode.Scalar], from i: Int, to end: Int) -> String? {
        guard isASCIILetter(c[i + 1]), end >= 2, c[end - 2] != "/" else { return nil }
        var k = i + 1
        var name = ""
        while k < end, !" \t\n\r\u{0C}/>".unicodeScalars.contains(c[k]) { name.unicodeScalars.append(c[k]); k += 1 }
        let lower = name.lowercased()
        return lower == "script" || lower == "style" ? lower : nil
    }

    /// Index after the end tag `</element ...>` that closes raw text starting at `from`
    /// (the end of the input if it is never closed).
    private static func skipRawText(_ c: [Unicode.Scalar], from start: Int, element: String) -> Int {
        let close = Array(("</" + element).unicodeScalars)
        var k = start
        while k + close.count <= c.count {
            if zip(c[k..<(k + close.count)], close).allSatisfy({ String($0).lowercased() == String($1) }) {
                let after = k + close.count
                if after == c.count || " \t\n\r\u{0C}/>".unicodeScalars.contains(c[after]) {
                    var e = after
                    while e < c.count && c[e] != ">" { e += 1 }
                    return min(e + 1, c.count)
                }
            }
            k += 1
        }
        return c.count
    }

    /// The text of a CDATA section, any letter case (BeautifulSoup keeps it in .text; other
    /// marked sections are declarations and dropped).
    private static func cdataContent(_ c: [Unicode.Scalar], from i: Int, to end: Int) -> [Unicode.Scalar]? {
        guard end - 3 >= i + 9, String(String.UnicodeScalarView(c[i..<(i + 9)])).uppercased() == "<![CDATA[" else { return nil }
        return Array(c[(i + 9)..<(end - 3)])
    }

    private static func hasPrefix(_ c: [Unicode.Scalar], _ p: String, at i: Int) -> Bool {
        let ps = Array(p.unicodeScalars)
        return i + ps.count <= c.count && Array(c[i..<(i + ps.count)]) == ps
    }

    private static func isASCIILetter(_ s: Unicode.Scalar) -> Bool { (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") }
    private static func isASCIIAlnum(_ s: Unicode.Scalar) -> Bool { isASCIILetter(s) || (s >= "0" && s <= "9") }

    /// html.parser + BeautifulSoup on '&' at c[i]: "&name" or "&#N" followed by a terminator
    /// (';' is consumed, anything else is not) becomes the character; anything else is literal.
    private static func characterReference(_ c: [Unicode.Scalar], at i: Int) -> (String, Int) {
        var k = i + 1
        if k < c.count && c[k] == "#" {
            k += 1
            let hex = k < c.count && (c[k] == "x" || c[k] == "X")
            if hex { k += 1 }
            let start = k
            while k < c.count && (hex ? c[k].properties.isASCIIHexDigit : (c[k] >= "0" && c[k] <= "9")) { k += 1 }
            guard k > start, k < c.count, !c[k].properties.isASCIIHexDigit else { return ("&", i + 1) }
            let digits = String(String.UnicodeScalarView(c[start..<k]))
            let text = numericReference(digits, hex: hex)
            return (text, c[k] == ";" ? k + 1 : k)
        }
        guard k < c.count, isASCIILetter(c[k]) else { return ("&", i + 1) }
        while k < c.count && (isASCIIAlnum(c[k]) || c[k] == "-" || c[k] == ".") { k += 1 }
        guard k < c.count else { return ("&", i + 1) }   // no terminator: stays literal
        let name = String(String.UnicodeScalarView(c[(i + 1)..<k]))
        let next = c[k] == ";" ? k + 1 : k
        if let ch = entities[name] { return (ch, next) }
        return ("&" + name, next)
    }

    /// Python's html.unescape: named references (with ';', or the legacy ones without), numeric
    /// references with or without ';'.
    public static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        let c = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < c.count {
            guard c[i] == "&" else { out.append(c[i]); i += 1; continue }
            var k = i + 1
            if k < c.count && c[k] == "#" {
                k += 1
                let hex = k < c.count && (c[k] == "x" || c[k] == "X")
                if hex { k += 1 }
                let start = k
                while k < c.count && (hex ? c[k].properties.isASCIIHexDigit : (c[k] >= "0" && c[k] <= "9")) { k += 1 }
                if k > start {
                    out.append(contentsOf: numericReference(String(String.UnicodeScalarView(c[start..<k])), hex: hex).unicodeScalars)
                    i = (k < c.count && c[k] == ";") ? k + 1 : k
                    continue
                }
                out.append(c[i]); i += 1; continue
            }
            // Name: up to 32 characters other than whitespace, '<', '&', '#', ';'.
            while k < c.count && k - i <= 32 && !" \t\n\u{0C}<&#;".unicodeScalars.contains(c[k]) { k += 1 }
            let name = String(String.UnicodeScalarView(c[(i + 1)..<k]))
            if k < c.count && c[k] == ";", let ch = entities[name] {
                out.append(contentsOf: ch.unicodeScalars); i = k + 1; continue
            }
            // Longest legacy entity that prefixes the name (e.g. "&ampx" -> "&x").
            var matched = false
            for len in stride(from: min(name.count, 6), through: 2, by: -1) {
                let prefix = String(name.prefix(len))
                if legacyEntities.contains(prefix), let ch = entities[prefix] {
                    out.append(contentsOf: ch.unicodeScalars)
                    i += 1 + prefix.unicodeScalars.count
                    matched = true
                    break
                }
            }
            if !matched { out.append(c[i]); i += 1 }
        }
        return String(out)
    }

    /// A numeric character reference as Python's html module decodes it.
    private static func numericReference(_ digits: String, hex: Bool) -> String {
        let significant = digits.drop(while: { $0 == "0" })
        guard significant.count <= 8, let v = UInt32(significant.isEmpty ? "0" : String(significant), radix: hex ? 16 : 10) else {
            return "\u{FFFD}"
        }
        if let w = windows1252[v] { return w }
        if v == 0 || (0xD800...0xDFFF).contains(v) || v > 0x10FFFF { return "\u{FFFD}" }
        if (0x01...0x08).contains(v) || v == 0x0B || (0x0E...0x1F).contains(v) || (0x7F...0x9F).contains(v) ||
            (0xFDD0...0xFDEF).contains(v) || (v & 0xFFFE) == 0xFFFE { return "" }
        return String(Unicode.Scalar(v)!)
    }

    /// References 0x80-0x9F name Windows-1252 characters.
    private static let windows1252: [UInt32: String] = [
        0x80: "\u{20AC}", 0x81: "\u{81}", 0x82: "\u{201A}", 0x83: "\u{0192}", 0x84: "\u{201E}", 0x85: "\u{2026}",
        0x86: "\u{2020}", 0x87: "\u{2021}", 0x88: "\u{02C6}", 0x89: "\u{2030}", 0x8A: "\u{0160}", 0x8B: "\u{2039}",
        0x8C: "\u{0152}", 0x8D: "\u{8D}", 0x8E: "\u{017D}", 0x8F: "\u{8F}", 0x90: "\u{90}", 0x91: "\u{2018}",
        0x92: "\u{2019}", 0x93: "\u{201C}", 0x94: "\u{201D}", 0x95: "\u{2022}", 0x96: "\u{2013}", 0x97: "\u{2014}",
        0x98: "\u{02DC}", 0x99: "\u{2122}", 0x9A: "\u{0161}", 0x9B: "\u{203A}", 0x9C: "\u{0153}", 0x9D: "\u{9D}",
        0x9E: "\u{017E}", 0x9F: "\u{0178}",
    ]

    /// Entities HTML5 also accepts without the ';' (the Latin-1 set and amp, lt, gt, quot).
    private static let legacyEntities = Set<String>([
        "amp", "lt", "gt", "quot", "nbsp", "copy", "reg", "deg", "iexcl", "cent", "pound", "curren", "yen", "brvbar",
        "sect", "uml", "ordf", "laquo", "not", "shy", "macr", "plusmn", "sup2", "sup3", "acute", "micro", "para",
        "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest", "times", "divide",
        "AMP", "LT", "GT", "QUOT", "COPY", "REG",
    ]).union(latinLetters.keys)

    private static let latinLetters: [String: String] = [
        "Agrave": "À", "Aacute": "Á", "Acirc": "Â", "Atilde": "Ã", "Auml": "Ä", "Aring": "Å", "AElig": "Æ", "Ccedil": "Ç",
        "Egrave": "È", "Eacute": "É", "Ecirc": "Ê", "Euml": "Ë", "Igrave": "Ì", "Iacute": "Í", "Icirc": "Î", "Iuml": "Ï",
        "ETH": "Ð", "Ntilde": "Ñ", "Ograve": "Ò", "Oacute": "Ó", "Ocirc": "Ô", "Otilde": "Õ", "Ouml": "Ö", "Oslash": "Ø",
        "Ugrave": "Ù", "Uacute": "Ú", "Ucirc": "Û", "Uuml": "Ü", "Yacute": "Ý", "THORN": "Þ", "szlig": "ß",
        "agrave": "à", "aacute": "á", "acirc": "â", "atilde": "ã", "auml": "ä", "aring": "å", "aelig": "æ", "ccedil": "ç",
        "egrave": "è", "eacute": "é", "ecirc": "ê", "euml": "ë", "igrave": "ì", "iacute": "í", "icirc": "î", "iuml": "ï",
        "eth": "ð", "ntilde": "ñ", "ograve": "ò", "oacute": "ó", "ocirc": "ô", "otilde": "õ", "ouml": "ö", "oslash": "ø",
        "ugrave": "ù", "uacute": "ú", "ucirc": "û", "uuml": "ü", "yacute": "ý", "thorn": "þ", "yuml": "ÿ",
    ]

    static let entities: [String: String] = latinLetters.merging([
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "copy": "©", "reg": "®",
        "AMP": "&", "LT": "<", "GT": ">", "QUOT": "\"", "COPY": "©", "REG": "®",
        "deg": "°", "iexcl": "¡", "cent": "¢", "pound": "£", "curren": "¤", "yen": "¥", "brvbar": "¦", "sect": "§",
        "uml": "¨", "ordf": "ª", "laquo": "«", "not": "¬", "shy": "\u{AD}", "macr": "¯", "plusmn": "±", "sup2": "²",
        "sup3": "³", "acute": "´", "micro": "µ", "para": "¶", "middot": "·", "cedil": "¸", "sup1": "¹", "ordm": "º",
        "raquo": "»", "frac14": "¼", "frac12": "½", "frac34": "¾", "iquest": "¿", "times": "×", "divide": "÷",
        "ndash": "–", "mdash": "—", "lsquo": "‘", "rsquo": "’", "sbquo": "‚", "ldquo": "“", "rdquo": "”", "bdquo": "„",
        "dagger": "†", "Dagger": "‡", "bull": "•", "hellip": "…", "permil": "‰", "prime": "′", "Prime": "″",
        "lsaquo": "‹", "rsaquo": "›", "oline": "‾", "frasl": "⁄", "euro": "€", "trade": "™", "larr": "←", "uarr": "↑",
        "rarr": "→", "darr": "↓", "harr": "↔", "minus": "−", "infin": "∞", "ne": "≠", "le": "≤", "ge": "≥",
        "asymp": "≈", "ensp": "\u{2002}", "emsp": "\u{2003}", "thinsp": "\u{2009}", "zwnj": "\u{200C}", "zwj": "\u{200D}",
        "lrm": "\u{200E}", "rlm": "\u{200F}", "OElig": "Œ", "oelig": "œ", "Scaron": "Š", "scaron": "š", "Yuml": "Ÿ",
        "fnof": "ƒ", "circ": "ˆ", "tilde": "˜", "hearts": "♥", "spades": "♠", "clubs": "♣", "diams": "♦", "star": "☆",
        "Alpha": "Α", "Beta": "Β", "Gamma": "Γ", "Delta": "Δ", "Epsilon": "Ε", "Zeta": "Ζ", "Eta": "Η", "Theta": "Θ",
        "Iota": "Ι", "Kappa": "Κ", "Lambda": "Λ", "Mu": "Μ", "Nu": "Ν", "Xi": "Ξ", "Omicron": "Ο", "Pi": "Π", "Rho": "Ρ",
        "Sigma": "Σ", "Tau": "Τ", "Upsilon": "Υ", "Phi": "Φ", "Chi": "Χ", "Psi": "Ψ", "Omega": "Ω",
        "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η", "theta": "θ",
        "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "omicron": "ο", "pi": "π", "rho": "ρ",
        "sigmaf": "ς", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    ]) { a, _ in a }
}
