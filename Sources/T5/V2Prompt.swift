// What Open-Sora 2.0's inference script does to a prompt before both text encoders see it
// (add_fps_info_to_text, add_motion_score_to_text in opensora/utils/inference.py):
//   strip, end with ".", append " {fps} FPS." unless it already ends in "<digits> FPS.",
//   then append " {motion_score} motion score."
// The empty negative prompts of the guidance branches get neither.

import Foundation

public enum V2Prompt {
    /// - Parameter motionScore: a number (the configs use 4 or 5); nil: none appended (a config
    ///   without `motion_score`); "dynamic" (asks OpenAI's API for a score in the reference) is refused.
    public static func conditioned(_ prompt: String, fps: Int, motionScore: String?) throws -> String {
        guard motionScore != "dynamic" else {
            throw T5Error.badInput("--motion-score dynamic needs the reference's OpenAI prompt refiner; give a number (e.g. 4)")
        }
        var s = prompt.trimmingCharacters(in: .whitespacesAndNewlines)
        if !s.hasSuffix(".") { s += "." }
        if !endsWithFPS(s) { s += " \(fps) FPS." }
        guard let motionScore else { return s }
        return s + " \(motionScore) motion score."
    }

    /// `re.search(r"\d+ FPS\.$", s)`.
    static func endsWithFPS(_ s: String) -> Bool {
        guard s.hasSuffix(" FPS.") else { return false }
        let head = s.dropLast(5)
        guard let last = head.unicodeScalars.last else { return false }
        return last.properties.numericType == .decimal
    }
}
