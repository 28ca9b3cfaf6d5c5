// libFuzzer target: the safetensors header parser must throw, never crash, on any bytes.
// Built only by `make fuzz` (OPENSORA_FUZZ=1, -sanitize=fuzzer,address).
import Foundation
import FuzzDriver
import Weights

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? SafetensorsFile.validate(bytes: UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_cdecl("FuzzSafetensors_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
