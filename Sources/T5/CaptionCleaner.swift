// Open-Sora's caption cleaning (`text_preprocessing` in models/text_encoder/t5.py, from
// DeepFloyd IF / PixArt): `clean_caption` applied twice, before tokenization.
//
// Every regex step of clean_caption is ported in order. Its two library calls are approximated:
// - BeautifulSoup(caption, "html.parser").text -> `HTMLText.extract`: drops tags, comments,
//   declarations and processing instructions, decodes character references; contents of
//   <script>/<style> are kept as text.
// - ftfy.fix_text -> `TextFixer.fix`: NFC, fullwidth -> ASCII, ligatures, curly quotes, line
//   breaks, control and terminal-escape removal, HTML entities when the text has no '<'.
//   Not ported: ftfy's mojibake repair (text mis-decoded as Latin-1/cp1252 is left as it is).
// Regexes run on ICU (NSRegularExpression), whose \w, \d, \s and \b are Unicode-aware like
// Python's; they differ only on exotic characters (combining marks count as \w in ICU, a few
// C0 separators count as \s only in Python).

import Foundation

public enum CaptionCleaner {
    /// `text_preprocessing(text)`: clean_caption twice.
    public static func preprocess(_ text: String) -> String { cleanCaption(cleanCaption(text)) }

    /// One pass of `clean_caption`.
    public static func cleanCaption(_ input: String) -> String {
        var c = unquotePlus(input)
        c = c.trimmingPythonWhitespace().lowercased()
        c = c.replacingOccurrences(of: "<person>", with: "person")
        c = sub(R.url1, "", c)
        c = sub(R.url2, "", c)
        c = HTMLText.extract(c)
        c = sub(R.nickname, "", c)
        for r in R.cjk { c = sub(r, "", c) }
        c = sub(R.dashes, "-", c)
        c = sub(R.doubleQuotes, "\"", c)
        c = sub(R.singleQuotes, "'", c)
        c = sub(R.quotEntity, "", c)
        c = sub(R.ampEntity, "", c)
        c = sub(R.ipAddress, " ", c)
        c = sub(R.articleId, "", c)
        c = sub(R.literalNewline, " ", c)
        c = sub(R.hashShort, "", c)
        c = sub(R.hashLong, "", c)
        c = sub(R.longNumber, "", c)
        c = sub(R.fileName, "", c)
        c = sub(R.repeatedQuotes, "\"", c)
        c = sub(R.repeatedDots, " ", c)
        c = sub(R.badPunctuation, " ", c)
        c = sub(R.spacedDot, " ", c)
        // this-is-my-cute-cat / this_is_my_cute_cat
        if R.dashOrUnderscore.numberOfMatches(in: c, range: NSRange(location: 0, length: (c as NSString).length)) > 3 {
            c = sub(R.dashOrUnderscore, " ", c)
        }
        c = basicClean(c)
        c = sub(R.shortCode, "", c)
        c = sub(R.codeLettersDigitsLetters, "", c)
        c = sub(R.codeDigitsLettersDigits, "", c)
        c = sub(R.shipping, "", c)
        c = sub(R.download, "", c)
        c = sub(R.clickFor, "", c)
        c = sub(R.imageWords, "", c)
        c = sub(R.pageNumber, "", c)
        c = sub(R.mixedCode, " ", c)
        c = sub(R.dimensions, "", c)
        c = sub(R.spacedColon, ": ", c)
        c = R.punctuationBeforeWord.stringByReplacingMatches(in: c, range: fullRange(c), withTemplate: "$1 ")
        c = sub(R.whitespace, " ", c)
        c = R.quotedWhole.stringByReplacingMatches(in: c, range: fullRange(c), withTemplate: "$1")
        c = sub(R.leadingPunctuation, "", c)
        c = sub(R.trailingPunctuation, "", c)
        c = sub(R.dotWord, "", c)
        return c.trimmingPythonWhitespace()
    }

    /// `basic_clean`: ftfy.fix_text, html.unescape twice, strip.
    static func basicClean(_ s: String) -> String {
        HTMLText.unescape(HTMLText.unescape(TextFixer.fix(s))).trimmingPythonWhitespace()
    }

    /// urllib.parse.unquote_plus: '+' -> ' ', then %XX escapes decoded as UTF-8 (invalid bytes
    /// become U+FFFD). Like Python, each run of ASCII characters is decoded on its own.
    public static func unquotePlus(_ s: String) -> String {
        let text = s.replacingOccurrences(of: "+", with: " ")
        guard text.contains("%") else { return text }
        var out = ""
        var run: [UInt8] = []
        func flushRun() {
            guard !run.isEmpty else { return }
            var bytes: [UInt8] = []
            var i = 0
            while i < run.count {
                if run[i] == UInt8(ascii: "%"), i + 2 < run.count, let h = hexValue(run[i + 1]), let l = hexValue(run[i + 2]) {
                    bytes.append(h << 4 | l); i += 3
                } else { bytes.append(run[i]); i += 1 }
            }
            out += String(decoding: bytes, as: UTF8.self)
            run.removeAll()
        }
        for scalar in text.unicodeScalars {
            if scalar.isASCII { run.append(UInt8(scalar.value)) } else { flushRun(); out.unicodeScalars.append(scalar) }
        }
        flushRun()
        return out
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func fullRange(_ s: String) -> NSRange { NSRange(location: 0, length: (s as NSString).length) }

    static func sub(_ r: NSRegularExpression, _ replacement: String, _ s: String) -> String {
        r.stringByReplacingMatches(in: s, range: fullRange(s), withTemplate: NSRegularExpression.escapedTemplate(for: replacement))
    }

    /// The patterns of clean_caption, compiled once (Python syntax is valid ICU syntax here).
    enum R {
        static func re(_ p: String) -> NSRegularExpression {
            // The patterns are constants: a failure here is a programming error, not user input.
            try! NSRegularExpression(pattern: p)
        }
        static let url1 = re(#"\b((?:https?:(?:\/{1,3}|[a-zA-Z0-9%])|[a-zA-Z0-9.\-]+[.](?:com|co|ru|net|org|edu|gov|it)[\w/-]*\b\/?(?!@)))"#)
        static let url2 = re(#"\b((?:www:(?:\/{1,3}|[a-zA-Z0-9%])|[a-zA-Z0-9.\-]+[.](?:com|co|ru|net|org|edu|gov|it)[\w/-]*\b\/?(?!@)))"#)
        static let nickname = re(#"@[\w\d]+\b"#)
        static let cjk = [#"[\u31c0-\u31ef]+"#, #"[\u31f0-\u31ff]+"#, #"[\u3200-\u32ff]+"#, #"[\u3300-\u33ff]+"#,
                          #"[\u3400-\u4dbf]+"#, #"[\u4dc0-\u4dff]+"#, #"[\u4e00-\u9fff]+"#].map(re)
        static let dashes = re(#"[\u002D\u058A\u05BE\u1400\u1806\u2010-\u2015\u2E17\u2E1A\u2E3A\u2E3B\u2E40\u301C\u3030\u30A0\uFE31\uFE32\uFE58\uFE63\uFF0D]+"#)
        static let doubleQuotes = re("[`´«»“”¨]")
        static let singleQuotes = re("[‘’]")
        static let quotEntity = re("&quot;?")
        static let ampEntity = re("&amp")
        static let ipAddress = re(#"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"#)
        static let articleId = re(#"\d:\d\d\s+$"#)
        static let literalNewline = re(#"\\n"#)
        static let hashShort = re(#"#\d{1,3}\b"#)
        static let hashLong = re(#"#\d{5,}\b"#)
        static let longNumber = re(#"\b\d{6,}\b"#)
        static let fileName = re(#"[\S]+\.(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)"#)
        static let repeatedQuotes = re(#"[\"\']{2,}"#)
        static let repeatedDots = re(#"[\.]{2,}"#)
        // BAD_PUNCT_REGEX: # ® • © ™ & @ · º ½ ¾ ¿ ¡ § ~ ) ( ] [ } { | \ / *
        static let badPunctuation = re(#"[#®•©™&@·º½¾¿¡§~\)\(\]\[\}\{\|\\\/\*]{1,}"#)
        static let spacedDot = re(#"\s+\.\s+"#)
        static let dashOrUnderscore = re(#"(?:\-|\_)"#)
        static let shortCode = re(#"\b[a-zA-Z]{1,3}\d{3,15}\b"#)
        static let codeLettersDigitsLetters = re(#"\b[a-zA-Z]+\d+[a-zA-Z]+\b"#)
        static let codeDigitsLettersDigits = re(#"\b\d+[a-zA-Z]+\d+\b"#)
        static let shipping = re(#"(worldwide\s+)?(free\s+)?shipping"#)
        static let download = re(#"(free\s)?download(\sfree)?"#)
        static let clickFor = re(#"\bclick\b\s(?:for|on)\s\w+"#)
        static let imageWords = re(#"\b(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)(\simage[s]?)?"#)
        static let pageNumber = re(#"\bpage\s+\d+\b"#)
        static let mixedCode = re(#"\b\d*[a-zA-Z]+\d+[a-zA-Z]+\d+[a-zA-Z\d]*\b"#)
        static let dimensions = re(#"\b\d+\.?\d*[xх×]\d+\.?\d*\b"#)
        static let spacedColon = re(#"\b\s+\:\s+"#)
        static let punctuationBeforeWord = re(#"(\D[,\./])\b"#)
        static let whitespace = re(#"\s+"#)
        static let quotedWhole = re(#"^[\"\']([\w\W]+)[\"\']$"#)
        static let leadingPunctuation = re(#"^[\'\_,\-\:;]"#)
        static let trailingPunctuation = re(#"[\'\_,\-\:\-\+]$"#)
        static let dotWord = re(#"^\.\S+$"#)
    }
}

extension String {
    /// Python's str.strip(): removes leading and trailing characters for which isspace() holds.
    func trimmingPythonWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.isPythonSpace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.isPythonSpace })!
        return String(scalars[first...last])
    }
}

extension Unicode.Scalar {
    /// Python's str.isspace() for one code point (bidi classes WS, B, S and category Zs).
    var isPythonSpace: Bool {
        switch value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }
}
