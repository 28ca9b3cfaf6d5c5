// libFuzzer target: prompt files. Each line becomes a prompt as `generate --prompt-path` reads it,
// then goes through everything text meets before T5: the score/camera suffixes, Open-Sora's
// caption cleaning (HTML entities, URLs, mojibake repair, CJK and punctuation rules) and the
// SentencePiece tokenizer; and Open-Sora 2.0's path: the FPS / motion-score suffixes and the CLIP
// BPE tokenizer. Must never crash or hang on any bytes.
// Built only by `make fuzz` (OPENSORA_FUZZ=1, -sanitize=fuzzer,address); run from the repository
// root (it loads the fixture tokenizer).
import CLIP
import Foundation
import FuzzDriver
import Pipeline
import T5

private let config = GenerationConfig.defaults
private let tokenizer: T5Tokenizer = {
    do { return try T5Tokenizer(modelPath: "Tests/Fixtures/golden/tokenizer.model", extraIds: 100) } catch {
        fatalError("FuzzPrompt runs from the repository root: \(error)")
    }
}()

private let clipTokenizer: CLIPTokenizer = {
    do { return try CLIPTokenizer(vocabularyPath: "Tests/Fixtures/golden/v2_text/bpe_simple_vocab_16e6.txt.gz") } catch {
        fatalError("FuzzPrompt runs from the repository root: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Through the prompt-file reader itself (FileChecks.readText refuses non-UTF-8 before it).
    guard let text = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self),
          let prompts = try? PromptFile.prompts(in: text, file: "fuzz input") else { return 0 }
    for prompt in prompts.prefix(16) {
        let prepared = TextStage.preparePrompt(prompt, config: config)
        _ = try? tokenizer.encode(prepared, maxLength: 300)
        if let v2 = try? V2Prompt.conditioned(prompt, fps: 24, motionScore: "4") { _ = try? clipTokenizer.encode(v2) }
    }
    return 0
}

@_cdecl("FuzzPrompt_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    _ = tokenizer
    _ = clipTokenizer
    return runFuzzer(argc, argv, fuzzOne)
}
