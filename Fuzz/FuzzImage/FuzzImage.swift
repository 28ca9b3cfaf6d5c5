// libFuzzer target: PNG/JPEG decoding (the bytes go through a file, as the reader takes paths).
// Built only by `make fuzz` (OPENSORA_FUZZ=1, -sanitize=fuzzer,address).
import Foundation
import FuzzDriver
import VideoIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = "/dev/shm/opensora-fuzz-image-\(getpid())"
    FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    _ = try? ImageReader.read(path: path)
    return 0
}

@_cdecl("FuzzImage_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
