// libFuzzer target: PyTorch pickle checkpoints (.bin/.pth: zip archive, restricted unpickler,
// storages and strides) must throw, never crash or run away with memory, and every tensor that
// opens must read. The reader maps files, so each input is written to one scratch file first.
// Built only by `make fuzz` (OPENSORA_FUZZ=1, -sanitize=fuzzer,address).
import Foundation
import FuzzDriver
import Weights

private let scratch: String = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return dir + "/opensora-fuzz-pickle-\(getpid()).bin"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard FileManager.default.createFile(atPath: scratch, contents: Data(bytes: data, count: size)) else { return 0 }
    guard let store = try? PickleCheckpoint(path: scratch) else { return 0 }
    for name in store.names { _ = try? store.tensor(name) }
    return 0
}

@_cdecl("FuzzPickle_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    defer { unlink(scratch) }
    return runFuzzer(argc, argv, fuzzOne)
}
