// Golden checker for kind 'mask_parse': v1.2's conditioning bookkeeping (mask_strategy parsing,
// placement, prompt JSON, loop prompts, append_generated, dframe_to_frame) row by row. Each table
// is compared as a list of rendered rows (a result, or the Python exception type for rows the
// reference refuses), so every row must match exactly.

import Foundation
import Pipeline

enum MaskParseCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        var checks: [OutputCheck] = []
        func table(_ key: String) throws -> [[String: Any]] {
            guard let rows = c.json[key] as? [[String: Any]], !rows.isEmpty else { throw GoldenError.badCase(path: c.path, detail: "no '\(key)' rows") }
            return rows
        }
        func compare(_ name: String, _ rows: [[String: Any]], _ got: ([String: Any]) throws -> String, _ expected: ([String: Any]) -> String) {
            checks.append(OutputCheck(name: "\(name) (\(rows.count) rows)",
                                      got: rows.map { row in outcome { try got(row) } }, expected: rows.map(expected)))
        }

        compare("parse_mask_strategy", try table("parse_mask_strategy"), { row in
            render(try MaskStrategy.parse(row["input"] as? String))
        }, { row in expectedOr(row) { render(conditions: $0 as? [[Any]] ?? []) } })

        compare("find_nearest_point", try table("find_nearest_point"), { row in
            "\(MaskStrategy.nearestPoint(int(row["value"]), int(row["point"]), int(row["max_value"])))"
        }, { row in expectedOr(row) { "\(int($0))" } })

        compare("apply_mask_strategy", try table("apply_mask_strategy"), { row in
            let refs = row["ref_T"] as? [[Int]] ?? []
            let strategies = row["strategies"] as? [String] ?? []
            let placements = try zip(refs, strategies).map { refFrames, s in
                try MaskStrategy.place(frames: int(row["zT"]), referenceFrames: refFrames, conditions: try MaskStrategy.parse(s),
                                       loop: int(row["loop_i"]), align: row["align"] as? Int)
            }
            // The reference returns no mask for an empty batch.
            let masks = placements.isEmpty ? "null" : placements.map { $0.mask.map { "\($0)" }.joined(separator: ",") }.joined(separator: " | ")
            let where_ = placements.map { $0.sources.map { $0.map { "\($0.reference):\($0.frame)" } ?? "-" }.joined(separator: ",") }
            return "mask \(masks) placement \(where_.joined(separator: " | "))"
        }, { row in expectedOr(row) { r in
            let result = r as? [String: Any] ?? [:]
            let masks = (result["mask"] as? [[Double]]).map { $0.map { $0.map { "\(Float($0))" }.joined(separator: ",") }.joined(separator: " | ") } ?? "null"
            let where_ = (result["placement"] as? [[Any]] ?? []).map { row in
                row.map { ($0 as? [Int]).map { "\($0[0]):\($0[1])" } ?? "-" }.joined(separator: ",")
            }
            return "mask \(masks) placement \(where_.joined(separator: " | "))"
        } })

        compare("extract_json_from_prompts", try table("extract_json_from_prompts"), { row in
            let e = try PromptOptions.extractJSON(row["input"] as? String ?? "")
            return [e.text, e.referencePath ?? (row["initial_reference_path"] as? String ?? ""),
                    e.maskStrategy ?? (row["initial_mask_strategy"] as? String ?? "")].joined(separator: " # ")
        }, { row in expectedOr(row) { r in
            let d = r as? [String: Any] ?? [:]
            return ["prompt", "reference_path", "mask_strategy"].map { d[$0] as? String ?? "?" }.joined(separator: " # ")
        } })

        var loopRows: [String] = [], loopExpected: [String] = []
        for row in try table("loop_prompts") {
            let input = row["input"] as? String ?? ""
            loopRows.append(outcome {
                let (texts, loops) = try PromptOptions.split(input)
                return "\(texts) \(loops.map { "\($0)" } ?? "nil") merged \(PromptOptions.merge(texts, loops: loops))"
            })
            let sp = row["split_prompt"] as? [String: Any] ?? [:]
            loopExpected.append("\(sp["text_list"] as? [String] ?? []) \((sp["loop_idx"] as? [Int]).map { "\($0)" } ?? "nil") merged \(row["merge_prompt"] as? String ?? "")")
            for (loop, value) in (row["extract_prompts_loop_by_loop"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                loopRows.append(outcome { "loop \(loop): " + (try PromptOptions.text(forLoop: Int(loop) ?? -1, of: input)) })
                loopExpected.append(expectedOr(value as? [String: Any] ?? [:]) { "loop \(loop): \($0 as? String ?? "?")" })
            }
        }
        checks.append(OutputCheck(name: "split/merge/extract_prompts_loop (\(loopRows.count) rows)", got: loopRows, expected: loopExpected))

        guard let chain = c.json["prompt_chain"] as? [String: Any], let chainRows = chain["rows"] as? [[String: Any]] else {
            throw GoldenError.badCase(path: c.path, detail: "no prompt_chain rows")
        }
        var config = GenerationConfig()
        config.aes = chain["aes"] as? Double
        config.flow = chain["flow"] as? Double
        compare("prompt chain", chainRows, { row in
            let e = try PromptOptions.extractJSON(row["input"] as? String ?? "")
            let loops = ((row["result"] as? [String: Any])?["per_loop"] as? [String])?.count ?? 3
            let perLoop = try PromptOptions.perLoopPrompts(e.text, loops: loops) { TextStage.preparePrompt($0, config: config) }
            return [e.text, e.referencePath ?? "", e.maskStrategy ?? ""].joined(separator: " # ") + " -> " + perLoop.joined(separator: " / ")
        }, { row in expectedOr(row) { r in
            let d = r as? [String: Any] ?? [:]
            return ["after_json", "reference_path", "mask_strategy"].map { d[$0] as? String ?? "?" }.joined(separator: " # ")
                + " -> " + (d["per_loop"] as? [String] ?? []).joined(separator: " / ")
        } })

        var appendRows: [String] = [], appendExpected: [String] = []
        for row in try table("append_generated") {
            var strategies = row["mask_strategy_before"] as? [String] ?? []
            var counts = row["n_refs_before"] as? [Int] ?? []
            let cfl = int(row["condition_frame_length"]), cfe = row["condition_frame_edit"] as? Double ?? 0
            for after in row["after"] as? [[String: Any]] ?? [] {
                let loop = int(after["loop_i"])
                for j in strategies.indices {
                    counts[j] += 1
                    strategies[j] = MaskStrategy.appendGenerated(strategies[j], loop: loop, referenceIndex: counts[j] - 1,
                                                                 conditionFrameLength: cfl, conditionFrameEdit: cfe)
                }
                appendRows.append("loop \(loop): \(strategies) \(counts)")
                appendExpected.append("loop \(loop): \(after["mask_strategy"] as? [String] ?? []) \(after["n_refs"] as? [Int] ?? [])")
            }
        }
        checks.append(OutputCheck(name: "append_generated (\(appendRows.count) rows)", got: appendRows, expected: appendExpected))

        compare("dframe_to_frame", try table("dframe_to_frame"), { row in
            "\(try MaskStrategy.pixelFrames(latentFrames: int(row["input"])))"
        }, { row in expectedOr(row) { "\(int($0))" } })
        return checks
    }

    /// A row's result rendered, or "error <PythonType>" for what the reference refuses.
    static func outcome(_ body: () throws -> String) -> String {
        do { return try body() } catch let e as ConditioningError { return "error \(e.kind.rawValue)" } catch { return "error \(error)" }
    }

    static func expectedOr(_ row: [String: Any], _ render: (Any) -> String) -> String {
        if let e = row["error"] as? String { return "error \(e)" }
        return render(row["result"] ?? NSNull())
    }

    static func int(_ v: Any?) -> Int { (v as? Int) ?? Int((v as? Double) ?? -999_999) }

    static func render(_ conditions: [MaskCondition]) -> String {
        conditions.map { "\($0.loop),\($0.referenceIndex),\($0.referenceStart),\($0.targetStart),\($0.length),\($0.editRatio)" }.joined(separator: ";")
    }

    static func render(conditions rows: [[Any]]) -> String {
        rows.map { r in (0..<5).map { "\(int(r[$0]))" }.joined(separator: ",") + ",\((r[5] as? Double) ?? Double(int(r[5])))" }.joined(separator: ";")
    }
}
