// libFuzzer target: sharded checkpoint index (`*.index.json`) parsing.
// Built only by `make fuzz` (OPENSORA_FUZZ=1, -sanitize=fuzzer,address).
import Foundation
import FuzzDriver
import Weights

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? ShardedStore.parseIndex(Data(bytes: data, count: size), path: "<fuzz>")
    return 0
}

@_cdecl("FuzzWeightIndex_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
