import Foundation
import XCTest
import Pipeline

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Open-Sora v1.2's inference defaults and size tables, dumped from the reference (a copy of
/// shared/checkpoints/opensora-v1.2-inference-defaults.json).
func referenceDefaults() throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/Tests/Fixtures/config/opensora-v1.2-inference-defaults.json"))
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
}

func parse(_ yaml: String) throws -> GenerationConfig {
    try GenerationConfig.parse(yaml: yaml, source: "test.yaml")
}

/// Asserts that parsing fails with a ConfigError whose text contains every fragment.
func assertConfigError(_ yaml: String, _ fragments: String..., file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try parse(yaml), file: file, line: line) { error in
        guard error is ConfigError else { return XCTFail("not a ConfigError: \(error)", file: file, line: line) }
        for f in fragments {
            XCTAssertTrue("\(error)".contains(f), "'\(error)' does not contain '\(f)'", file: file, line: line)
        }
    }
}
