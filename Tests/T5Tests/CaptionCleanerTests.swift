import XCTest
import T5

final class CaptionCleanerTests: XCTestCase {
    /// Captions cleaned by the reference's text_preprocessing (see the file's "source").
    func testMatchesReferenceCleaning() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: t5FixturesDir + "/caption_cleaning.json"))
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try XCTUnwrap(obj["cases"] as? [[String: String]])
        XCTAssertGreaterThan(cases.count, 50)
        for c in cases {
            let text = try XCTUnwrap(c["text"]), expected = try XCTUnwrap(c["cleaned"])
            XCTAssertEqual(CaptionCleaner.preprocess(text), expected, "cleaning \(text.debugDescription)")
        }
    }

    func testUnquotePlus() {
        XCTAssertEqual(CaptionCleaner.unquotePlus("a+b%20c%zz%"), "a b c%zz%")
        XCTAssertEqual(CaptionCleaner.unquotePlus("%C3%A9t%C3%A9"), "été")
    }

    func testHTMLTextDropsMarkupKeepsText() {
        XCTAssertEqual(HTMLText.extract("<a href='x>y'>link</a> &amp; <!-- c --> end"), "link &  end")
        XCTAssertEqual(HTMLText.extract("x < y <3 <"), "x < y <3 <")
        XCTAssertEqual(HTMLText.extract("a<script>var x = '<b>';</script>b"), "ab")
    }

    func testUnescape() {
        XCTAssertEqual(HTMLText.unescape("&lt;&#65;&#x42;&ampc&unknown;"), "<AB&c&unknown;")
    }
}
