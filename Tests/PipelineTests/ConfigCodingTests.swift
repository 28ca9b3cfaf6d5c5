import XCTest
import Yams
@testable import Pipeline

/// A section declared only here: its keys come from its stored properties alone.
private struct ToySection: Codable, Equatable {
    var stepCount = 3
    var guidanceScale: Double? = 1.5
    var dKV = [1, 2]
    var label = "a"
}

private enum ToyFamily: String, ConfigName { case small, large; static let kind = "toy" }

private struct ToyFamilySection: FamilySection, Equatable {
    var type = ToyFamily.small
    var width = 8
    var depth = 2
    init() {}
    init(family: ToyFamily) { type = family; width = family == .large ? 64 : 8 }
    static let familyKeys: KeyValuePairs<String, [ToyFamily]> = ["depth": [.large]]
}

final class ConfigCodingTests: XCTestCase {
    private func section(_ yaml: String) throws -> YAMLSection {
        try YAMLSection(source: "toy.yaml", path: "toy", node: try Yams.compose(yaml: yaml))
    }

    private func read<T: Codable>(_ yaml: String, _ defaults: T) throws -> T {
        try ConfigCoding.decode(T.self, from: try section(yaml), defaults: defaults)
    }

    func testKeysAreThePropertiesInSnakeCase() {
        XCTAssertEqual(ConfigCoding.yamlKey("numSamplingSteps"), "num_sampling_steps")
        XCTAssertEqual(ConfigCoding.yamlKey("dKV"), "d_kv")
        XCTAssertEqual(ConfigCoding.yamlKey("saveFPS"), "save_fps")
        XCTAssertEqual(ConfigCoding.yamlKey("model.text_encoder"), "model.text_encoder")
    }

    func testReadingKeepsDefaultsAndNullUnsetsOnlyOptionals() throws {
        XCTAssertEqual(try read("step_count: 7\n", ToySection()), { var t = ToySection(); t.stepCount = 7; return t }())
        let nulls = try read("guidance_scale: null\nstep_count: null\n", ToySection())
        XCTAssertNil(nulls.guidanceScale)
        XCTAssertEqual(nulls.stepCount, 3, "null keeps the default of a key that cannot be unset")
        XCTAssertEqual(try read("d_kv: [4]\nlabel: b\n", ToySection()).dKV, [4])
    }

    func testErrorsNameFileLineAndKey() {
        XCTAssertThrowsError(try read("label: a\nstep_count: many\n", ToySection())) { e in
            XCTAssertEqual("\(e)", "toy.yaml:2: toy.step_count: expected an integer, got 'many'")
        }
        XCTAssertThrowsError(try read("stepcount: 1\n", ToySection())) { e in
            XCTAssertEqual("\(e)", "toy.yaml:1: toy.stepcount: unknown key (known here: d_kv, guidance_scale, label, step_count)")
        }
        XCTAssertThrowsError(try read("from_pretrained: x\n", ToySection())) { e in
            XCTAssertTrue("\(e)".contains("it is called 'path' here"), "\(e)")
        }
    }

    func testFamiliesStartFromTheirDefaultsAndRefuseOtherFamiliesKeys() throws {
        XCTAssertEqual(try read("type: LARGE\n", ToyFamilySection()).width, 64)
        XCTAssertEqual(try read("type: large\nwidth: 9\ndepth: 3\n", ToyFamilySection()).depth, 3)
        XCTAssertThrowsError(try read("depth: 3\n", ToyFamilySection())) { e in
            XCTAssertEqual("\(e)", "toy.yaml:1: toy.depth: applies only to large, not small")
        }
        XCTAssertThrowsError(try read("type: medium\n", ToyFamilySection())) { e in
            XCTAssertEqual("\(e)", "toy.yaml:1: toy.type: unknown toy 'medium' (known: small, large)")
        }
    }

    func testPrintingWritesEveryKeyAndNullAndReadsBack() throws {
        var t = ToySection()
        t.guidanceScale = nil
        let lines = ConfigCoding.yamlLines(t)
        XCTAssertEqual(lines, ["step_count: 3", "guidance_scale: null", "d_kv: [1, 2]", "label: \"a\""])
        XCTAssertEqual(try read(lines.joined(separator: "\n"), ToySection()), t)
        XCTAssertEqual(ConfigCoding.yamlLines(ToyFamilySection()), ["type: small", "width: 8"], "other families' keys are not printed")
    }
}
