// The parts of ftfy.fix_text (default configuration) that change well-formed text:
// HTML entities (only when the text has no '<'), terminal escapes, Latin ligatures, fullwidth
// and halfwidth forms, curly quotes, line breaks, control characters, NFC.
// Not ported: mojibake repair (fix_encoding and its helpers), which guesses how UTF-8 text was
// mis-decoded; captions typed by a user do not need it.

import Foundation

public enum TextFixer {
    public static func fix(_ input: String) -> String {
        var s = input
        if !s.contains("<") { s = HTMLText.unescape(s) }
        s = terminalEscape.stringByReplacingMatches(in: s, range: CaptionCleaner.fullRange(s), withTemplate: "")
        var out = String.UnicodeScalarView()
        var previousWasCR = false
        for u in s.unicodeScalars {
            let v = u.value
            defer { previousWasCR = (v == 0x0D) }
            if let lig = ligatures[v] { out.append(contentsOf: lig.unicodeScalars); continue }
            if v == 0x3000 { out.append(" "); continue }
            if (0xFF01...0xFFEF).contains(v) {
                let nfkc = String(u).precomposedStringWithCompatibilityMapping
                out.append(contentsOf: nfkc.unicodeScalars); continue
            }
            switch v {
            case 0x02BC, 0x2018...0x201B: out.append("'"); continue
            case 0x201C...0x201F: out.append("\""); continue
            case 0x0A where previousWasCR: continue                     // \r\n -> \n (the \r became \n)
            case 0x0D, 0x2028, 0x2029, 0x85: out.append("\n"); continue
            case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: continue
            default: out.append(u)
            }
        }
        return String(out).precomposedStringWithCanonicalMapping
    }

    private static let terminalEscape = try! NSRegularExpression(pattern: #"\x1b\[((?:\d|;)*)([a-zA-Z])"#)

    private static let ligatures: [UInt32: String] = [
        0x0132: "IJ", 0x0133: "ij", 0x0149: "ʼn", 0x01F1: "DZ", 0x01F2: "Dz", 0x01F3: "dz", 0x01C4: "DŽ", 0x01C5: "Dž",
        0x01C6: "dž", 0x01C7: "LJ", 0x01C8: "Lj", 0x01C9: "lj", 0x01CA: "NJ", 0x01CB: "Nj", 0x01CC: "nj",
        0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "ſt", 0xFB06: "st",
    ]
}
