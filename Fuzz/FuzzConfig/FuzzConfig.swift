// libFuzzer target: YAML generation configs: parse and validate, never crash.
// Built only by `make fuzz` (OPENSORA_FUZZ=1, -sanitize=fuzzer,address).
import Foundation
import FuzzDriver
import Pipeline

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? GenerationConfig.parse(yaml: text, source: "<fuzz>")
    return 0
}

@_cdecl("FuzzConfig_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
